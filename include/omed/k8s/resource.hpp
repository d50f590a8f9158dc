// Naming a Kubernetes resource on the wire: group/version/plural/scope and the URL paths and
// query strings built from them (core under /api/v1, groups under /apis/g/v).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace omed::k8s {

struct ResourceInfo {
  std::string group;     // "" for core
  std::string version;   // "v1beta1"
  std::string resource;  // plural: "inferenceservices"
  std::string kind;      // "InferenceService"
  bool namespaced = true;

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  bool operator==(const ResourceInfo& o) const {
    return group == o.group && version == o.version && resource == o.resource;
  }
};

// "/apis/ome.io/v1beta1/namespaces/ns/basemodels" (ns ignored for cluster-scoped resources;
// empty ns on a namespaced resource means all namespaces).
std::string collection_path(const ResourceInfo& r, const std::string& ns);
// ".../basemodels/name[/subresource]"
std::string object_path(const ResourceInfo& r, const std::string& ns, const std::string& name,
                        const std::string& subresource = {});

using Query = std::vector<std::pair<std::string, std::string>>;
// "?a=b&c=d" with values percent-encoded ("metadata.name=x" -> "metadata.name%3Dx"); "" when empty.
std::string query_string(const Query& q);

// The ome.io/v1beta1 kinds and the built-ins omed watches or writes, without asking discovery.
const std::vector<ResourceInfo>& well_known_resources();
const ResourceInfo* find_well_known(const std::string& api_version, const std::string& kind);

}  // namespace omed::k8s
