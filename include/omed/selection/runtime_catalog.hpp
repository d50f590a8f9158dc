// The runtimes the controller knows, parsed once and indexed by format and architecture so that
// ranking costs microseconds, and runtime edits name exactly the InferenceServices to re-rank.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "omed/common/json.hpp"
#include "omed/selection/runtime_selector.hpp"

namespace omed::selection {

class RuntimeCatalog {
public:
  // What a put or remove did. Converts to bool (true when the catalog changed) so that
  // `if (catalog.put(obj))` reads naturally.
  struct Change {
    bool changed = false;
    // InferenceService keys (as given to subscribe) whose selection may now differ: those whose
    // model format is among the runtime's old or new formats, and those that chose this runtime.
    std::vector<std::string> affected;
    operator bool() const { return changed; }  // NOLINT(google-explicit-constructor): intended
  };

  // Adds or replaces a ServingRuntime / ClusterServingRuntime object. Unchanged when the
  // resourceVersion is the one stored, or when the spec is identical (metadata-only edits).
  Change put(const json::Value& runtime_object);
  Change remove(const std::string& kind, const std::string& ns, const std::string& name);

  // OME's fetcher order: the ServingRuntime in the isvc's namespace, then the ClusterServingRuntime.
  std::shared_ptr<const RuntimeEntry> find(const std::string& isvc_ns, const std::string& name) const;
  std::shared_ptr<const RuntimeEntry> get(const std::string& kind, const std::string& ns,
                                          const std::string& name) const;

  // select_runtime over the runtimes visible from isvc_ns, evaluating only those that serve the
  // model's format and architecture (the others cannot match: OME's "both or neither" rule).
  // When nothing matches, every runtime sharing the format name is explained. The result's
  // `keep` owns `chosen` and the evaluated entries.
  Selection select(const ModelFacts& model, const Requirements& req, const std::string& isvc_ns) const;
  // validate_runtime for a runtime the InferenceService names (found as find() does).
  Selection validate(const ModelFacts& model, const Requirements& req, const std::string& isvc_ns,
                     const std::string& runtime_name) const;

  // Re-ranking: remember which format an InferenceService's model has and which runtime it chose
  // (RuntimeEntry::key(), empty when none), so put/remove can name it in Change::affected.
  void subscribe(const std::string& isvc_key, const std::string& format_name, const std::string& chosen_key);
  void unsubscribe(const std::string& isvc_key);

  size_t size() const;
  // Every entry, ordered by key.
  std::vector<std::shared_ptr<const RuntimeEntry>> snapshot() const;

private:
  using Entry = std::shared_ptr<const RuntimeEntry>;
  using ByKey = std::map<std::string, Entry>;  // ordered: deterministic candidate order
  struct Bucket {
    ByKey all;                                      // every runtime with this format name
    std::unordered_map<std::string, ByKey> by_arch;  // ... split by modelArchitecture ("" = none)
  };
  struct Subscription {
    std::string format, chosen;
  };

  void index(const Entry& e);
  void unindex(const Entry& e);
  void unsubscribe_locked(const std::string& isvc_key);
  std::vector<std::string> affected_locked(const RuntimeEntry* before, const RuntimeEntry* after) const;
  Selection rank_locked(const ModelFacts& model, const Requirements& req, const std::string& isvc_ns,
                        const ByKey* subset) const;

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::unordered_map<std::string, Bucket> by_format_;
  size_t cluster_count_ = 0;
  std::unordered_map<std::string, size_t> namespaced_count_;
  std::unordered_map<std::string, Subscription> subs_;
  std::unordered_map<std::string, std::set<std::string>> subs_by_format_, subs_by_chosen_;
};

}  // namespace omed::selection
