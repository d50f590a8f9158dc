// How traffic reaches an InferenceService (reference ome.md §4.5): the in-cluster Service
// <isvc>, an Ingress or a Gateway API HTTPRoute, an InferencePool, and the router's RBAC.
#include "workloads.hpp"

namespace omed::render::detail {

namespace {

const ComponentRender* find_component(const RenderResult& r, const std::string& name) {
  for (auto& c : r.components)
    if (c.component == name)
      return &c;
  return nullptr;
}

std::string with_port(const std::string& base, int port) {
  return port == 80 ? base : base + ":" + std::to_string(port);
}

}  // namespace

void render_router_rbac(const RenderInput& in, std::vector<json::Value>& out) {
  std::string name = bounded_name(text(in.isvc, "metadata.name") + "-router");
  json::Object labels = component_labels(in.isvc, "router");
  out.push_back(json::Object{{"apiVersion", "v1"}, {"kind", "ServiceAccount"},
                             {"metadata", object_meta(in.isvc, name, labels)}});
  out.push_back(json::Object{
    {"apiVersion", "rbac.authorization.k8s.io/v1"},
    {"kind", "Role"},
    {"metadata", object_meta(in.isvc, name, labels)},
    {"rules", json::Array{json::Object{{"apiGroups", json::Array{""}},
                                       {"resources", json::Array{"pods"}},
                                       {"verbs", json::Array{"get", "list", "watch"}}}}}});
  out.push_back(json::Object{
    {"apiVersion", "rbac.authorization.k8s.io/v1"},
    {"kind", "RoleBinding"},
    {"metadata", object_meta(in.isvc, name, labels)},
    {"roleRef", json::Object{{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", name}}},
    {"subjects", json::Array{json::Object{{"kind", "ServiceAccount"}, {"name", name},
                                          {"namespace", text(in.isvc, "metadata.namespace")}}}}});
}

void render_traffic(const RenderInput& in, RenderResult& r) {
  const ComponentRender* entry = find_component(r, r.entry_component);
  if (!entry)
    return;
  const RenderSettings& s = in.settings;
  std::string isvc = text(in.isvc, "metadata.name");
  std::string ns = text(in.isvc, "metadata.namespace");
  json::Object labels = component_labels(in.isvc, "");

  // The in-cluster entry point, selecting the entry component's pods (leaders only for MultiNode).
  // A Knative component is reached through its route on port 80: selecting its pods directly
  // would bypass the activator and find no endpoints while it is scaled to zero.
  bool knative = entry->mode == "Serverless";
  int entry_port = knative ? 80 : entry->port;
  json::Object selector{{kIsvcLabel, isvc}, {kComponentLabel, entry->component}};
  if (entry->mode == "MultiNode")
    selector.set("leaderworkerset.sigs.k8s.io/worker-index", "0");
  json::Object entry_spec{{"type", "ClusterIP"},
                          {"selector", std::move(selector)},
                          {"ports", json::Array{json::Object{{"name", "http"},
                                                             {"port", entry_port},
                                                             {"targetPort", entry_port},
                                                             {"protocol", "TCP"}}}}};
  if (knative)
    entry_spec = json::Object{{"type", "ExternalName"},
                              {"externalName", entry->service_name + "." + ns + ".svc.cluster.local"},
                              {"ports", json::Array{json::Object{{"name", "http"}, {"port", entry_port},
                                                                 {"protocol", "TCP"}}}}};
  r.objects.push_back(json::Object{{"apiVersion", "v1"},
                                   {"kind", "Service"},
                                   {"metadata", object_meta(in.isvc, isvc, labels)},
                                   {"spec", std::move(entry_spec)}});
  std::string in_cluster = with_port("http://" + isvc + "." + ns + ".svc.cluster.local", entry_port);
  r.address_url = in_cluster;
  r.url = in_cluster;

  std::string host = isvc + "." + ns + "." + s.ingress_domain;
  const ComponentRender* engine = find_component(r, "engine");
  if (s.inference_pool && engine) {
    r.objects.push_back(json::Object{
      {"apiVersion", "inference.networking.k8s.io/v1"},
      {"kind", "InferencePool"},
      {"metadata", object_meta(in.isvc, isvc, labels)},
      {"spec", json::Object{
                 {"selector", json::Object{{"matchLabels", json::Object{{kIsvcLabel, isvc}, {kComponentLabel, "engine"}}}}},
                 {"targetPorts", json::Array{json::Object{{"number", engine->port}}}},
                 {"endpointPickerRef", json::Object{{"name", bounded_name(isvc + s.endpoint_picker_suffix)},
                                                    {"port", json::Object{{"number", 9002}}}}}}}});
  }
  if (s.gateway_api) {
    json::Array parents;
    for (auto& p : s.gateway_parents) {
      auto slash = p.find('/');
      json::Object ref{{"group", "gateway.networking.k8s.io"}, {"kind", "Gateway"},
                       {"name", slash == std::string::npos ? p : p.substr(slash + 1)}};
      if (slash != std::string::npos)
        ref.set("namespace", p.substr(0, slash));
      parents.push_back(std::move(ref));
    }
    // With a pool and no router, the pool's endpoint picker chooses among engine pods.
    json::Object backend;
    if (s.inference_pool && engine && r.entry_component == "engine") {
      backend.set("group", "inference.networking.k8s.io");
      backend.set("kind", "InferencePool");
      backend.set("name", isvc);
      backend.set("port", engine->port);
    } else {
      backend.set("kind", "Service");
      backend.set("name", entry->service_name);
      backend.set("port", entry_port);
    }
    r.objects.push_back(json::Object{
      {"apiVersion", "gateway.networking.k8s.io/v1"},
      {"kind", "HTTPRoute"},
      {"metadata", object_meta(in.isvc, isvc, labels)},
      {"spec", json::Object{
                 {"parentRefs", std::move(parents)},
                 {"hostnames", json::Array{host}},
                 {"rules", json::Array{json::Object{
                             {"matches", json::Array{json::Object{
                                           {"path", json::Object{{"type", "PathPrefix"}, {"value", "/"}}}}}},
                             {"filters", json::Array{json::Object{
                                           {"type", "RequestHeaderModifier"},
                                           {"requestHeaderModifier",
                                            json::Object{{"set", json::Array{
                                                                   json::Object{{"name", "OME-Isvc-Name"}, {"value", isvc}},
                                                                   json::Object{{"name", "OME-Isvc-Namespace"}, {"value", ns}}}}}}}}},
                             {"backendRefs", json::Array{std::move(backend)}}}}}}}});
    r.url = s.url_scheme + "://" + host;
  } else if (s.ingress_creation) {
    json::Object port{{"number", entry_port}};
    json::Object service{{"name", entry->service_name}, {"port", std::move(port)}};
    json::Object path{{"path", "/"}, {"pathType", "Prefix"}, {"backend", json::Object{{"service", std::move(service)}}}};
    json::Object rule{{"host", host}, {"http", json::Object{{"paths", json::Array{std::move(path)}}}}};
    json::Object spec{{"rules", json::Array{std::move(rule)}}};
    if (!s.ingress_class_name.empty())
      spec.set("ingressClassName", s.ingress_class_name);
    r.objects.push_back(json::Object{{"apiVersion", "networking.k8s.io/v1"},
                                     {"kind", "Ingress"},
                                     {"metadata", object_meta(in.isvc, isvc, labels)},
                                     {"spec", std::move(spec)}});
    r.url = s.url_scheme + "://" + host;
  }
}

}  // namespace omed::render::detail
