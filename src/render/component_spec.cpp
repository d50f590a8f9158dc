// Component specs: the runtime's engineConfig/decoderConfig/routerConfig merged with the
// InferenceService's, the deployment mode each component runs in, and object skeletons.
#include <set>

#include "internal.hpp"
#include "omed/apiserver/patch.hpp"

namespace omed::render::detail {

namespace {

using Path = std::vector<std::string>;

// Strategic-merge list keys for a component spec: PodSpec fields at the root, in leader/worker,
// and a Container under runner (also leader.runner, worker.runner).
apiserver::ListStrategy component_strategy(const Path& path) {
  Path p = path;
  if (!p.empty() && (p[0] == "leader" || p[0] == "worker"))
    p.erase(p.begin());
  Path pod{"spec"};
  if (!p.empty() && p[0] == "runner") {
    pod = {"spec", "containers", "[]"};
    p.erase(p.begin());
  }
  pod.insert(pod.end(), p.begin(), p.end());
  return apiserver::builtin_list_strategy("Pod", pod);
}

}  // namespace

bool is_extension_field(const std::string& key) {
  static const std::set<std::string> fields = {
    "runner", "leader", "worker", "acceleratorOverride", "minReplicas", "maxReplicas", "scaleTarget",
    "scaleMetric", "containerConcurrency", "timeoutSeconds", "canaryTrafficPercent", "labels", "annotations",
    "minAvailable", "maxUnavailable", "deploymentStrategy", "kedaConfig", "config", "size"};
  return fields.count(key) > 0;
}

json::Value merge_component(const json::Value* runtime_config, const json::Value* isvc_config) {
  json::Value base = runtime_config && runtime_config->is_object() ? *runtime_config : json::Value(json::Object{});
  if (!isvc_config || !isvc_config->is_object())
    return base;
  return apiserver::strategic_merge_patch(base, *isvc_config, component_strategy);
}

std::string text(const json::Value& v, const char* path) {
  auto* x = v.at_path(path);
  return x && x->is_string() ? x->as_string() : std::string();
}

int64_t min_replicas(const json::Value& merged, int64_t fallback) {
  auto* v = merged.get("minReplicas");
  return v && v->is_int() ? v->as_int() : fallback;
}

int64_t max_replicas(const json::Value& merged, int64_t min) {
  auto* v = merged.get("maxReplicas");
  int64_t m = v && v->is_int() ? v->as_int() : 0;
  return std::max(m, min);
}

std::string component_mode(const std::string& component, const json::Value& merged, bool has_decoder,
                           const RenderSettings& settings, std::string& error) {
  static const std::set<std::string> known = {"RawDeployment", "MultiNode", "Serverless"};
  std::string annotated;
  if (auto* a = merged.at_path("annotations"); a && a->is_object())
    annotated = a->string_or("ome.io/deploymentMode");
  bool leader_worker = merged.get("leader") || merged.get("worker");
  std::string mode;
  if (!annotated.empty() && component != "router") {
    if (!known.count(annotated)) {
      error = component + ": deployment mode \"" + annotated +
              "\" is not supported (RawDeployment, MultiNode or Serverless)";
      return "";
    }
    mode = annotated;
  } else if (leader_worker && component != "router") {
    mode = "MultiNode";
  } else if (min_replicas(merged) == 0 && component != "decoder") {
    mode = "Serverless";
  } else {
    mode = "RawDeployment";
  }
  // Prefill-decode pairs need both sides always up: scale-to-zero would strand the other half.
  if (mode == "Serverless" && has_decoder && component == "engine")
    mode = "RawDeployment";
  if (mode == "MultiNode" && !settings.lws) {
    error = component + ": MultiNode needs LeaderWorkerSet, which this cluster does not serve";
    return "";
  }
  if (mode == "MultiNode") {
    auto* size = merged.at_path("worker.size");
    if (!size || !size->is_int() || size->as_int() < 1) {
      error = component + ": MultiNode needs worker.size of at least 1";
      return "";
    }
  }
  if (mode == "Serverless" && !settings.knative) {
    error = component + ": minReplicas 0 asks for Serverless, but Knative Serving is not installed";
    return "";
  }
  return mode;
}

json::Object owner_reference(const json::Value& isvc) {
  return json::Object{{"apiVersion", isvc.string_or("apiVersion", "ome.io/v1beta1")},
                      {"kind", "InferenceService"},
                      {"name", text(isvc, "metadata.name")},
                      {"uid", text(isvc, "metadata.uid")},
                      {"controller", true},
                      {"blockOwnerDeletion", true}};
}

json::Object component_labels(const json::Value& isvc, const std::string& component) {
  json::Object l{{kManagedByLabel, "omed"}, {kIsvcLabel, text(isvc, "metadata.name")}};
  if (!component.empty())
    l.set(kComponentLabel, component);
  return l;
}

json::Object object_meta(const json::Value& isvc, const std::string& name, json::Object labels,
                         json::Object annotations) {
  json::Object m{{"name", name}, {"namespace", text(isvc, "metadata.namespace")}, {"labels", std::move(labels)}};
  if (!annotations.empty())
    m.set("annotations", std::move(annotations));
  m.set("ownerReferences", json::Array{owner_reference(isvc)});
  return m;
}

bool is_pod_only_annotation(const std::string& key) {
  static const char* prefixes[] = {"k8s.grafana.com/", "loki.grafana.com/", "prometheus.io/", "networking.gke.io/",
                                   "rdma.ome.io/", "ome.io/inject-model-init", "ome.io/inject-fine-tuned-adapter",
                                   "ome.io/inject-serving-sidecar"};
  for (auto* p : prefixes)
    if (key.rfind(p, 0) == 0)
      return true;
  return false;
}

}  // namespace omed::render::detail
