// The workload objects of one component, per deployment mode (reference ome.md §4.2):
// RawDeployment, MultiNode (LeaderWorkerSet) and Serverless (Knative Service).
#include "workloads.hpp"

#include <algorithm>

namespace omed::render::detail {

namespace {

json::Object selector_labels(const std::string& name) { return json::Object{{"app", name}}; }

std::string annotation(const json::Value& isvc, const json::Value& merged, const char* key) {
  if (auto* a = merged.get("annotations"); a && a->is_object() && a->get(key))
    return a->string_or(key);
  if (auto* a = isvc.at_path("metadata.annotations"); a && a->is_object())
    return a->string_or(key);
  return "";
}

json::Object service_annotations(const json::Value& pod_metadata) {
  json::Object out;
  if (auto* a = pod_metadata.get("annotations"); a && a->is_object())
    for (auto& kv : a->as_object())
      if (!is_pod_only_annotation(kv.key))
        out.set(kv.key, kv.value);
  return out;
}

// Kueue admits pod-template workloads by the queue-name label.
void add_kueue_label(const ComponentContext& c, json::Object& labels) {
  std::string queue;
  if (auto* a = c.in.isvc.at_path("metadata.annotations"); a && a->is_object())
    queue = a->string_or("kueue.x-k8s.io/queue-name");
  if (queue.empty())
    queue = c.in.settings.kueue_queue;
  if (!queue.empty())
    labels.set("kueue.x-k8s.io/queue-name", queue);
}

json::Value component_service(const ComponentContext& c, const PodTemplate& t, json::Object selector) {
  json::Object labels = component_labels(c.in.isvc, c.component);
  return json::Object{
    {"apiVersion", "v1"},
    {"kind", "Service"},
    {"metadata", object_meta(c.in.isvc, c.name, labels, service_annotations(t.metadata))},
    {"spec", json::Object{{"type", "ClusterIP"},
                          {"selector", std::move(selector)},
                          {"ports", json::Array{json::Object{{"name", "http"},
                                                             {"port", t.port},
                                                             {"targetPort", t.port},
                                                             {"protocol", "TCP"}}}}}},
  };
}

}  // namespace

void render_raw(const ComponentContext& c, std::vector<json::Value>& out, ComponentRender& info) {
  PodTemplate t = pod_template(c, "");
  info.port = t.port;
  int64_t lo = std::max<int64_t>(min_replicas(c.merged), 1);
  int64_t hi = max_replicas(c.merged, lo);
  std::string autoscaler = annotation(c.in.isvc, c.merged, "ome.io/autoscalerClass");
  if (autoscaler.empty())
    autoscaler = "hpa";
  bool scaled = hi > lo && autoscaler != "external";
  json::Object labels = component_labels(c.in.isvc, c.component);
  json::Value pod_meta = t.metadata;
  json::Object pod_labels = pod_meta["labels"].as_object();
  add_kueue_label(c, pod_labels);
  pod_meta["labels"] = pod_labels;
  json::Value strategy = c.merged.get("deploymentStrategy") && c.merged.get("deploymentStrategy")->is_object()
                           ? *c.merged.get("deploymentStrategy")
                           : json::Value(json::Object{{"type", "RollingUpdate"},
                                                      {"rollingUpdate", json::Object{{"maxUnavailable", 0},
                                                                                     {"maxSurge", 1}}}});
  json::Object spec{{"selector", json::Object{{"matchLabels", selector_labels(c.name)}}},
                    {"strategy", std::move(strategy)},
                    {"revisionHistoryLimit", 10},
                    {"progressDeadlineSeconds", 600},
                    {"template", json::Object{{"metadata", pod_meta}, {"spec", t.spec}}}};
  // With an autoscaler (ours or an external one) the replica count is its to set; a fixed size
  // is ours. Applying replicas under an external autoscaler would undo its every decision.
  if (hi <= lo)
    spec.set("replicas", lo);
  out.push_back(json::Object{{"apiVersion", "apps/v1"},
                             {"kind", "Deployment"},
                             {"metadata", object_meta(c.in.isvc, c.name, labels)},
                             {"spec", std::move(spec)}});
  info.workload_kind = "Deployment";
  info.workload_name = c.name;
  out.push_back(component_service(c, t, selector_labels(c.name)));
  info.service_name = c.name;

  if (scaled && autoscaler == "keda") {
    std::string address = annotation(c.in.isvc, c.merged, "autoscaling.keda.sh/prometheus-address");
    std::string query = annotation(c.in.isvc, c.merged, "autoscaling.keda.sh/query");
    std::string threshold = annotation(c.in.isvc, c.merged, "autoscaling.keda.sh/threshold");
    std::string op = annotation(c.in.isvc, c.merged, "autoscaling.keda.sh/operator");
    auto* keda = c.merged.get("kedaConfig");
    if (!keda || !keda->is_object())
      keda = c.in.isvc.at_path("spec.kedaConfig");
    if (keda && keda->is_object()) {
      if (address.empty())
        address = keda->string_or("promServerAddress");
      if (query.empty())
        query = keda->string_or("customPromQuery");
      if (threshold.empty())
        threshold = keda->string_or("scalingThreshold");
      if (op.empty())
        op = keda->string_or("scalingOperator");
    }
    if (address.empty())
      address = "http://prometheus-operated.monitoring.svc.cluster.local:9090";
    if (query.empty())
      // Requests in flight per engine pod: SGLang and vLLM both export a running-requests gauge.
      query = "sum(sglang:num_running_reqs{ome_io_inferenceservice=\"" + text(c.in.isvc, "metadata.name") +
              "\"}) or sum(vllm:num_requests_running{ome_io_inferenceservice=\"" +
              text(c.in.isvc, "metadata.name") + "\"})";
    if (threshold.empty())
      threshold = "10";
    json::Object meta{{"serverAddress", address}, {"query", query}, {"threshold", threshold}};
    if (!op.empty())
      meta.set("operator", op);
    json::Object trigger{{"type", "prometheus"}, {"metadata", std::move(meta)}};
    if (keda && keda->is_object())
      if (auto* auth = keda->get("authenticationRef"); auth && auth->is_object())
        trigger.set("authenticationRef", *auth);
    out.push_back(json::Object{
      {"apiVersion", "keda.sh/v1alpha1"},
      {"kind", "ScaledObject"},
      {"metadata", object_meta(c.in.isvc, bounded_name("scaledobject-" + c.name), labels)},
      {"spec", json::Object{{"scaleTargetRef", json::Object{{"apiVersion", "apps/v1"}, {"kind", "Deployment"},
                                                            {"name", c.name}}},
                            {"minReplicaCount", lo},
                            {"maxReplicaCount", hi},
                            {"triggers", json::Array{std::move(trigger)}}}}});
  } else if (scaled) {
    std::string metric = c.merged.string_or("scaleMetric", "cpu");
    if (metric != "cpu" && metric != "memory")
      metric = "cpu";  // concurrency and rps need Knative; a Deployment's HPA has only resources
    int64_t target = 80;
    if (auto* st = c.merged.get("scaleTarget"); st && st->is_int())
      target = st->as_int();
    std::string ann = annotation(c.in.isvc, c.merged, "ome.io/targetUtilizationPercentage");
    if (!ann.empty())
      try {
        target = std::stoll(ann);
      } catch (...) {
      }
    out.push_back(json::Object{
      {"apiVersion", "autoscaling/v2"},
      {"kind", "HorizontalPodAutoscaler"},
      {"metadata", object_meta(c.in.isvc, c.name, labels)},
      {"spec", json::Object{
                 {"scaleTargetRef", json::Object{{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", c.name}}},
                 {"minReplicas", lo},
                 {"maxReplicas", hi},
                 {"metrics", json::Array{json::Object{
                               {"type", "Resource"},
                               {"resource", json::Object{{"name", metric},
                                                         {"target", json::Object{{"type", "Utilization"},
                                                                                 {"averageUtilization", target}}}}}}}}}}});
  }

  json::Object pdb_spec{{"selector", json::Object{{"matchLabels", selector_labels(c.name)}}}};
  if (auto* v = c.merged.get("minAvailable"))
    pdb_spec.set("minAvailable", *v);
  else if (auto* u = c.merged.get("maxUnavailable"))
    pdb_spec.set("maxUnavailable", *u);
  else
    pdb_spec.set("maxUnavailable", 1);
  out.push_back(json::Object{{"apiVersion", "policy/v1"},
                             {"kind", "PodDisruptionBudget"},
                             {"metadata", object_meta(c.in.isvc, c.name, labels)},
                             {"spec", std::move(pdb_spec)}});
}

void render_multi_node(const ComponentContext& c, std::vector<json::Value>& out, ComponentRender& info) {
  PodTemplate leader = pod_template(c, "leader");
  PodTemplate worker = pod_template(c, "worker");
  info.port = leader.port;
  int64_t size = c.merged.at_path("worker.size")->as_int() + 1;
  int64_t replicas = std::max<int64_t>(min_replicas(c.merged), 1);
  json::Object labels = component_labels(c.in.isvc, c.component);
  // Kueue admits a LeaderWorkerSet's groups as gangs when the set carries the queue label.
  json::Object lws_labels = labels;
  add_kueue_label(c, lws_labels);
  std::string name = bounded_name("lws-" + c.name);
  out.push_back(json::Object{
    {"apiVersion", "leaderworkerset.x-k8s.io/v1"},
    {"kind", "LeaderWorkerSet"},
    {"metadata", object_meta(c.in.isvc, name, lws_labels)},
    {"spec", json::Object{
               {"replicas", replicas},
               {"startupPolicy", "LeaderCreated"},
               {"networkConfig", json::Object{{"subdomainPolicy", "Shared"}}},
               {"rolloutStrategy", json::Object{{"type", "RollingUpdate"},
                                                {"rollingUpdateConfiguration",
                                                 json::Object{{"maxUnavailable", 1}, {"maxSurge", 1}}}}},
               {"leaderWorkerTemplate",
                json::Object{{"size", size},
                             {"restartPolicy", "RecreateGroupOnPodRestart"},
                             {"leaderTemplate", json::Object{{"metadata", leader.metadata}, {"spec", leader.spec}}},
                             {"workerTemplate", json::Object{{"metadata", worker.metadata}, {"spec", worker.spec}}}}}}}});
  info.workload_kind = "LeaderWorkerSet";
  info.workload_name = name;
  // Only this component's leaders: OME selects every head pod in the namespace.
  out.push_back(component_service(c, leader, json::Object{{"app", c.name},
                                                          {"leaderworkerset.sigs.k8s.io/worker-index", "0"}}));
  info.service_name = c.name;
}

void render_serverless(const ComponentContext& c, std::vector<json::Value>& out, ComponentRender& info) {
  PodTemplate t = pod_template(c, "");
  info.port = t.port;
  int64_t lo = min_replicas(c.merged, 0);
  int64_t hi = max_replicas(c.merged, std::max<int64_t>(lo, 1));
  json::Value meta = t.metadata;
  meta["annotations"]["autoscaling.knative.dev/min-scale"] = std::to_string(lo);
  meta["annotations"]["autoscaling.knative.dev/max-scale"] = std::to_string(hi);
  // Knative routes by port name; its containers take one port.
  json::Value spec = t.spec;
  if (auto* cs = spec.get("containers"); cs && cs->is_array())
    for (auto& ctr : cs->as_array())
      if (auto* ports = ctr.get("ports"); ports && ports->is_array() && ports->as_array().size() > 1)
        ports->as_array().resize(1);
  if (auto* cc = c.merged.get("containerConcurrency"); cc && cc->is_int())
    spec["containerConcurrency"] = *cc;
  if (auto* ts = c.merged.get("timeoutSeconds"); ts && ts->is_int())
    spec["timeoutSeconds"] = *ts;
  out.push_back(json::Object{{"apiVersion", "serving.knative.dev/v1"},
                             {"kind", "Service"},
                             {"metadata", object_meta(c.in.isvc, c.name, component_labels(c.in.isvc, c.component))},
                             {"spec", json::Object{{"template", json::Object{{"metadata", meta}, {"spec", spec}}}}}});
  info.workload_kind = "Service";
  info.workload_name = c.name;
  info.service_name = c.name;
}

}  // namespace omed::render::detail
