// Runtime selection: which ServingRuntime or ClusterServingRuntime serves a model, by OME's
// compatibility rules and weighted scoring (reference ome.md §3.2), with the reason for every verdict.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "omed/common/json.hpp"

namespace omed::selection {

// "7B" -> 7e9, "8.03B", "1.5T", "500M", "1200" (a bare count); nullopt when unparsable.
std::optional<double> parse_model_size(std::string_view text);
// 70553706496 -> "70.55B" (two decimals at most, trailing zeros dropped; T, B, M, K or a bare count).
std::string format_model_size(double params);

// A [v]MAJOR[.MINOR[.PATCH[.devN]]][-pre][+build] version and OME's operators on it.
struct FormatVersion {
  bool v_prefix = false;
  int precision = 0;  // how many dotted numbers were given
  int64_t major = 0, minor = 0, patch = 0;
  std::string dev, pre, build;
  bool unofficial() const { return !dev.empty() || !pre.empty() || !build.empty(); }
  static std::optional<FormatVersion> parse(std::string_view text);
};
// OME's versionOK(supported, model) with op "Equal" | "GreaterThan" | "GreaterThanOrEqual" (empty = Equal).
bool version_ok(const std::string& supported, const std::string& op, const std::string& model);

// What selection needs to know about a model (BaseModel / ClusterBaseModel spec).
struct ModelFacts {
  std::string name;                              // for messages: "llama-3-1-8b" or "ns/name"
  std::string format, format_version;            // modelFormat.name / .version
  bool has_framework = false;
  std::string framework, framework_version;      // modelFramework.name / .version
  std::string architecture, quantization;
  std::optional<double> size;                    // modelParameterSize, parsed
  std::string size_text;                         // as written ("70.55B")
  json::Value diffusion_pipeline;                // spec.diffusionPipeline (null when absent)
  bool disabled = false;
  static ModelFacts from_object(const json::Value& model);
};

// The requirements an InferenceService adds (accelerator classes it names).
struct Requirements {
  std::vector<std::string> accelerator_classes;  // annotation ome.io/accelerator-class,
                                                 // acceleratorSelector, engine/decoder overrides
  std::string isvc_namespace;                    // metadata.namespace, for error messages
  static Requirements from_isvc(const json::Value& isvc);
};

// One supportedModelFormats entry, parsed once.
struct SupportedFormat {
  bool has_format = false;
  std::string format, format_version, format_operator;
  int64_t format_weight = 0;                     // 0 = unset (OME falls back to 10)
  bool has_framework = false;
  std::string framework, framework_version, framework_operator;
  int64_t framework_weight = 0;                  // 0 = unset (OME falls back to 5)
  std::string architecture, quantization;
  std::optional<bool> auto_select;
  int64_t priority = 1;
  json::Value diffusion_pipeline;
};

// A runtime parsed once from its object; the catalog keeps these so ranking does no JSON work.
struct RuntimeEntry {
  std::string kind;        // "ServingRuntime" | "ClusterServingRuntime"
  std::string ns;          // "" for cluster runtimes
  std::string name;
  std::string creation_timestamp;
  std::string resource_version;
  bool disabled = false;
  std::vector<SupportedFormat> formats;
  bool has_size_range = false;
  std::optional<double> size_min, size_max;      // a missing bound is open (OME dereferences nil)
  std::string size_min_text, size_max_text;
  std::vector<std::string> protocol_versions;
  std::vector<std::string> accelerator_classes;  // acceleratorRequirements.acceleratorClasses
  std::shared_ptr<const json::Value> object;
  bool cluster() const { return ns.empty(); }
  // "ClusterServingRuntime/name" or "ServingRuntime/ns/name": the catalog's key.
  std::string key() const;
  static std::string key_of(std::string_view kind, std::string_view ns, std::string_view name);
  // `kind` may be absent from list items; a namespace then means ServingRuntime.
  static RuntimeEntry from_object(const json::Value& runtime);
};

enum class Verdict {
  Selected,        // the winner
  Ranked,          // scored, lost to the winner
  NotAutoSelect,   // compatible, but no format entry has autoSelect: true
  ZeroScore,       // compatible, but scoring gave 0
  Incompatible,    // format, size or accelerator mismatch
  Disabled,
};
const char* to_string(Verdict v);

struct Candidate {
  std::string kind, ns, name;
  Verdict verdict = Verdict::Incompatible;
  std::string reason;        // why rejected, or "score 4 (safetensors x1 + transformers x1, priority 2)"
  int64_t score = 0;
  double size_distance = 0;  // |min-size| + |max-size|, the first tie-breaker
  int format_index = -1;     // the best-scoring format entry (for acceleratorConfig lookups)
};

struct Selection {
  const RuntimeEntry* chosen = nullptr;   // points into the runtimes given to select_runtime
  int format_index = -1;
  std::vector<Candidate> candidates;      // winner and ranked ones in rank order, then the rejected
  std::string error;                      // set when nothing was chosen (OME's wording, plus reasons)
  std::string subject;                    // the model as selection saw it ("safetensors LlamaForCausalLM 70.55B")
  size_t other_runtimes = 0;              // visible runtimes not evaluated: they serve other formats
                                          // or architectures (the catalog's index skipped them)
  // Owners of `chosen` and of the candidates when the selection came from a RuntimeCatalog.
  std::vector<std::shared_ptr<const RuntimeEntry>> keep;
  const Candidate* winner() const { return chosen && !candidates.empty() ? &candidates.front() : nullptr; }
  // One line for a condition message or an Event, at most `max_bytes` long
  // ("no runtime supports safetensors LlamaForCausalLM 70.55B: a: size 70.55B outside 7B-9B; ...").
  std::string summary(size_t max_bytes = 1024) const;
};

// OME's SelectRuntime: namespaced matches before cluster matches, each list ranked by score, then
// size distance, then name. `namespaced` and `cluster` are the runtimes visible to the isvc.
Selection select_runtime(const ModelFacts& model, const Requirements& req,
                         const std::vector<const RuntimeEntry*>& namespaced,
                         const std::vector<const RuntimeEntry*>& cluster);

// OME's ValidateRuntime for a runtime the user named: chosen when enabled and compatible
// (autoSelect not required); otherwise error says why. `rt` may be null (not found).
Selection validate_runtime(const ModelFacts& model, const Requirements& req, const RuntimeEntry* rt,
                           const std::string& name, const std::string& isvc_namespace);

}  // namespace omed::selection
