// URL paths for resources (core /api/v1, named groups /apis/g/v, namespaced or cluster-scoped)
// and the resources omed knows without asking discovery.
#include "omed/k8s/resource.hpp"

#include "omed/http/server.hpp"

namespace omed::k8s {

std::string collection_path(const ResourceInfo& r, const std::string& ns) {
  std::string p = r.group.empty() ? "/api/" + r.version : "/apis/" + r.group + "/" + r.version;
  if (r.namespaced && !ns.empty())
    p += "/namespaces/" + http::url_encode(ns);
  return p + "/" + r.resource;
}

std::string object_path(const ResourceInfo& r, const std::string& ns, const std::string& name,
                        const std::string& subresource) {
  std::string p = collection_path(r, ns) + "/" + http::url_encode(name);
  if (!subresource.empty())
    p += "/" + subresource;
  return p;
}

std::string query_string(const Query& q) {
  std::string out;
  for (auto& [k, v] : q) {
    out += out.empty() ? '?' : '&';
    out += http::url_encode(k);
    out += '=';
    out += http::url_encode(v);
  }
  return out;
}

const std::vector<ResourceInfo>& well_known_resources() {
  static const std::vector<ResourceInfo> all = {
    {"ome.io", "v1beta1", "basemodels", "BaseModel", true},
    {"ome.io", "v1beta1", "clusterbasemodels", "ClusterBaseModel", false},
    {"ome.io", "v1beta1", "finetunedweights", "FineTunedWeight", false},
    {"ome.io", "v1beta1", "servingruntimes", "ServingRuntime", true},
    {"ome.io", "v1beta1", "clusterservingruntimes", "ClusterServingRuntime", false},
    {"ome.io", "v1beta1", "inferenceservices", "InferenceService", true},
    {"ome.io", "v1beta1", "acceleratorclasses", "AcceleratorClass", false},
    {"ome.io", "v1beta1", "benchmarkjobs", "BenchmarkJob", true},
    {"", "v1", "nodes", "Node", false},
    {"", "v1", "namespaces", "Namespace", false},
    {"", "v1", "pods", "Pod", true},
    {"", "v1", "services", "Service", true},
    {"", "v1", "configmaps", "ConfigMap", true},
    {"", "v1", "secrets", "Secret", true},
    {"", "v1", "serviceaccounts", "ServiceAccount", true},
    {"", "v1", "events", "Event", true},
    {"events.k8s.io", "v1", "events", "Event", true},
    {"coordination.k8s.io", "v1", "leases", "Lease", true},
    {"apps", "v1", "deployments", "Deployment", true},
    {"batch", "v1", "jobs", "Job", true},
    {"autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true},
    {"policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true},
    {"networking.k8s.io", "v1", "ingresses", "Ingress", true},
    {"rbac.authorization.k8s.io", "v1", "roles", "Role", true},
    {"rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true},
    {"apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false},
    {"leaderworkerset.x-k8s.io", "v1", "leaderworkersets", "LeaderWorkerSet", true},
    {"keda.sh", "v1alpha1", "scaledobjects", "ScaledObject", true},
    {"gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute", true},
    {"inference.networking.x-k8s.io", "v1alpha2", "inferencepools", "InferencePool", true},
  };
  return all;
}

const ResourceInfo* find_well_known(const std::string& api_version, const std::string& kind) {
  for (auto& r : well_known_resources())
    if (r.kind == kind && r.api_version() == api_version)
      return &r;
  return nullptr;
}

}  // namespace omed::k8s
