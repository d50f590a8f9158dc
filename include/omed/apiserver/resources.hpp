// What the embedded API server serves: one ResourceType per group/version/resource, built-in
// or from a CustomResourceDefinition, and a thread-safe registry used by discovery and routing.
#pragma once

#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "omed/common/json.hpp"

namespace omed::apiserver {

struct Column {
  std::string name, type, json_path, description, format;
  int priority = 0;
};

struct ResourceType {
  std::string group;  // "" for the core group
  std::string version;
  std::string kind;
  std::string plural;
  std::string singular;
  std::string list_kind;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  bool namespaced = true;
  bool has_status = false;         // a /status subresource
  bool has_binding = false;        // pods/binding
  bool has_generation = false;     // metadata.generation maintained by the server
  bool builtin = true;             // strategic merge patch allowed; unconditional updates allowed
  bool return_deleted_object = false;  // DELETE answers with the object instead of a Status
  // Structural schema (openAPIV3Schema) for custom resources; null for built-ins.
  json::Value schema;
  // The OpenAPI component describing a built-in kind ("io.k8s.api.core.v1.Pod"), if known.
  std::string openapi_component;
  std::vector<Column> columns;     // CRD printer columns
  // Extra field-selector fields beyond metadata.name/metadata.namespace.
  std::vector<std::string> field_selectors;
  std::string crd_name;            // the CRD that defines it ("basemodels.ome.io")
  // A /scale subresource: JSON paths (".spec.replicas") of the replica counts and the selector.
  struct Scale {
    std::string spec_replicas, status_replicas, label_selector;
  };
  std::optional<Scale> scale;

  std::string group_version() const { return group.empty() ? version : group + "/" + version; }
  // Identity in storage and the journal: "v1/configmaps", "apps/v1/deployments".
  std::string id() const { return group_version() + "/" + plural; }
  // "basemodels.ome.io" / "configmaps": the resource name Status messages use.
  std::string qualified() const { return group.empty() ? plural : plural + "." + group; }
};

using ResourcePtr = std::shared_ptr<const ResourceType>;

class Registry {
public:
  // Adds or replaces (same group/version/plural).
  void add(ResourceType rt);
  void remove(const std::string& group, const std::string& version, const std::string& plural);
  ResourcePtr find(const std::string& group, const std::string& version, const std::string& plural) const;
  ResourcePtr find_by_id(const std::string& id) const;
  ResourcePtr find_kind(const std::string& group, const std::string& kind) const;
  std::vector<ResourcePtr> all() const;
  // Incremented on every change: discovery and OpenAPI documents are cached per generation.
  uint64_t generation() const;

private:
  mutable std::shared_mutex mu_;
  std::vector<ResourcePtr> types_;
  uint64_t generation_ = 0;
};

// The built-in kinds an LLM operator needs (namespaces, configmaps, secrets, services,
// serviceaccounts, pods, nodes, events, leases, deployments, jobs, HPAs, PDBs, ingresses,
// roles, rolebindings, CRDs, ...).
std::vector<ResourceType> builtin_resources();

// A ResourceType from a CustomResourceDefinition (the served storage version). Returns nullopt
// and a reason when the CRD has no usable version.
std::optional<ResourceType> resource_from_crd(const json::Value& crd, std::string& why);

}  // namespace omed::apiserver
