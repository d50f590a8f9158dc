// Discovery (aggregated v2 by content negotiation, and the legacy documents) and the OpenAPI v3
// documents kubectl needs for apply and explain, generated from the registry.
#include <algorithm>
#include <map>

#include "internal.hpp"
#include "omed/common/strings.hpp"

namespace omed::apiserver {

namespace {

constexpr const char* kAggregatedType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

std::vector<std::string> verbs_for(const ResourceType& rt) {
  if (rt.kind == "Binding")
    return {"create"};
  return {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
}

json::Array to_array(const std::vector<std::string>& xs) {
  json::Array a;
  for (auto& x : xs)
    a.push_back(x);
  return a;
}

// Kubernetes version priority: GA > beta > alpha, higher numbers first.
int version_rank(const std::string& v, int& major, int& minor) {
  major = 0;
  minor = 0;
  if (v.size() < 2 || v[0] != 'v')
    return -1;
  size_t i = 1;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i])))
    major = major * 10 + (v[i++] - '0');
  if (i == v.size())
    return 3;
  int kind = str::starts_with(v.substr(i), "beta") ? 2 : str::starts_with(v.substr(i), "alpha") ? 1 : -1;
  i += kind == 2 ? 4 : 5;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i])))
    minor = minor * 10 + (v[i++] - '0');
  return kind;
}

bool version_before(const std::string& a, const std::string& b) {
  int am, an, bm, bn;
  int ra = version_rank(a, am, an), rb = version_rank(b, bm, bn);
  if (ra != rb)
    return ra > rb;
  if (am != bm)
    return am > bm;
  if (an != bn)
    return an > bn;
  return a < b;
}

}  // namespace

json::Value ApiServer::Impl::aggregated_discovery(bool core) const {
  // group -> version -> resources
  std::map<std::string, std::map<std::string, std::vector<ResourcePtr>>> groups;
  std::vector<std::string> group_order;
  for (auto& rt : registry.all()) {
    if (core != rt->group.empty())
      continue;
    if (!groups.count(rt->group))
      group_order.push_back(rt->group);
    groups[rt->group][rt->version].push_back(rt);
  }
  json::Array items;
  for (auto& g : group_order) {
    std::vector<std::string> versions;
    for (auto& [v, _] : groups[g])
      versions.push_back(v);
    std::sort(versions.begin(), versions.end(), version_before);
    json::Array vs;
    for (auto& v : versions) {
      json::Array res;
      auto list = groups[g][v];
      std::sort(list.begin(), list.end(), [](auto& a, auto& b) { return a->plural < b->plural; });
      for (auto& rt : list) {
        json::Object r{{"resource", rt->plural},
                       {"responseKind", json::Object{{"group", ""}, {"version", ""}, {"kind", rt->kind}}},
                       {"scope", rt->namespaced ? "Namespaced" : "Cluster"},
                       {"singularResource", rt->singular},
                       {"verbs", to_array(verbs_for(*rt))}};
        if (!rt->short_names.empty())
          r.set("shortNames", to_array(rt->short_names));
        if (!rt->categories.empty())
          r.set("categories", to_array(rt->categories));
        json::Array subs;
        if (rt->has_status)
          subs.push_back(json::Object{{"subresource", "status"},
                                      {"responseKind", json::Object{{"group", ""}, {"version", ""}, {"kind", rt->kind}}},
                                      {"verbs", json::Array{"get", "patch", "update"}}});
        if (rt->scale)
          subs.push_back(json::Object{{"subresource", "scale"},
                                      {"responseKind", json::Object{{"group", "autoscaling"}, {"version", "v1"}, {"kind", "Scale"}}},
                                      {"verbs", json::Array{"get", "patch", "update"}}});
        if (rt->has_binding)
          subs.push_back(json::Object{{"subresource", "binding"},
                                      {"responseKind", json::Object{{"group", ""}, {"version", ""}, {"kind", "Binding"}}},
                                      {"verbs", json::Array{"create"}}});
        if (!subs.empty())
          r.set("subresources", std::move(subs));
        res.push_back(std::move(r));
      }
      vs.push_back(json::Object{{"version", v}, {"resources", std::move(res)}, {"freshness", "Current"}});
    }
    items.push_back(json::Object{{"metadata", json::Object{{"name", g}, {"creationTimestamp", json::Value{}}}},
                                 {"versions", std::move(vs)}});
  }
  return json::Object{{"kind", "APIGroupDiscoveryList"}, {"apiVersion", "apidiscovery.k8s.io/v2"},
                      {"metadata", json::Object{}}, {"items", std::move(items)}};
}

namespace {

json::Value resource_list(const std::string& gv, const std::vector<ResourcePtr>& types) {
  json::Array res;
  for (auto& rt : types) {
    json::Object r{{"name", rt->plural}, {"singularName", rt->singular}, {"namespaced", rt->namespaced},
                   {"kind", rt->kind}, {"verbs", to_array(verbs_for(*rt))}};
    if (!rt->short_names.empty())
      r.set("shortNames", to_array(rt->short_names));
    if (!rt->categories.empty())
      r.set("categories", to_array(rt->categories));
    res.push_back(std::move(r));
    if (rt->has_status)
      res.push_back(json::Object{{"name", rt->plural + "/status"}, {"singularName", ""}, {"namespaced", rt->namespaced},
                                 {"kind", rt->kind}, {"verbs", json::Array{"get", "patch", "update"}}});
    if (rt->scale)
      res.push_back(json::Object{{"name", rt->plural + "/scale"}, {"singularName", ""}, {"namespaced", rt->namespaced},
                                 {"group", "autoscaling"}, {"version", "v1"}, {"kind", "Scale"},
                                 {"verbs", json::Array{"get", "patch", "update"}}});
    if (rt->has_binding)
      res.push_back(json::Object{{"name", rt->plural + "/binding"}, {"singularName", ""}, {"namespaced", rt->namespaced},
                                 {"kind", "Binding"}, {"verbs", json::Array{"create"}}});
  }
  return json::Object{{"kind", "APIResourceList"}, {"apiVersion", "v1"}, {"groupVersion", gv}, {"resources", std::move(res)}};
}

}  // namespace

json::Value ApiServer::Impl::openapi_root() const {
  std::set<std::string> gvs;
  for (auto& rt : registry.all())
    gvs.insert(rt->group.empty() ? "api/" + rt->version : "apis/" + rt->group + "/" + rt->version);
  auto hash = "G" + std::to_string(registry.generation());
  json::Object paths;
  for (auto& gv : gvs)
    paths.set(gv, json::Object{{"serverRelativeURL", "/openapi/v3/" + gv + "?hash=" + hash}});
  return json::Object{{"paths", std::move(paths)}};
}

std::optional<json::Value> ApiServer::Impl::openapi_doc(const std::string& gv) const {
  std::vector<ResourcePtr> types;
  for (auto& rt : registry.all()) {
    auto name = rt->group.empty() ? "api/" + rt->version : "apis/" + rt->group + "/" + rt->version;
    if (name == gv)
      types.push_back(rt);
  }
  if (types.empty())
    return std::nullopt;
  json::Object paths, schemas;
  auto param = [](const char* name) {
    return json::Object{{"name", name}, {"in", "query"}, {"schema", json::Object{{"type", "string"}, {"uniqueItems", true}}}};
  };
  for (auto& rt : types) {
    std::string base = (rt->group.empty() ? "/api/" : "/apis/" + rt->group + "/") + rt->version;
    std::string coll = base + (rt->namespaced ? "/namespaces/{namespace}/" : "/") + rt->plural;
    json::Object gvk{{"group", rt->group}, {"version", rt->version}, {"kind", rt->kind}};
    json::Object body_types;
    for (const char* t : {"application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"})
      body_types.set(t, json::Object{{"schema", json::Object{{"type", "object"}}}});
    if (rt->builtin)
      body_types.set("application/strategic-merge-patch+json", json::Object{{"schema", json::Object{{"type", "object"}}}});
    json::Object patch{{"x-kubernetes-group-version-kind", gvk},
                       {"x-kubernetes-action", "patch"},
                       {"parameters", json::Array{param("fieldValidation"), param("fieldManager"), param("dryRun"),
                                                  param("force")}},
                       {"requestBody", json::Object{{"required", true}, {"content", body_types}}},
                       {"responses", json::Object{{"200", json::Object{{"description", "OK"}}}}}};
    paths.set(coll + "/{name}", json::Object{{"patch", patch}});
    // The kind's schema, so that `kubectl explain` has something to explain.
    std::string comp = rt->builtin ? rt->openapi_component
                                   : [&] {
                                       auto parts = str::split(rt->group, '.');
                                       std::reverse(parts.begin(), parts.end());
                                       return str::join(parts, ".") + "." + rt->version + "." + rt->kind;
                                     }();
    json::Value schema;
    bool real = true;
    if (!rt->builtin && !rt->schema.is_null()) {
      schema = rt->schema;
    } else if (rt->builtin && builtin_schemas && builtin_schemas->has(comp)) {
      schema = *builtin_schemas->component(comp);
    } else {
      schema = json::Object{{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
      real = false;
    }
    // kubectl apply computes a strategic merge patch from the component tagged with the kind's
    // GVK and warns ("unable to find api field") when it lacks the fields; an untagged
    // placeholder makes it fall back to its compiled-in types silently, as with no schema.
    if (real)
      schema["x-kubernetes-group-version-kind"] = json::Array{gvk};
    schemas.set(comp, std::move(schema));
  }
  // The built-in components refer to others (ObjectMeta, ...): kubectl resolves those $refs
  // within this document, so every component reachable from the ones above comes along.
  if (builtin_schemas) {
    std::vector<const json::Value*> todo;
    for (auto& m : schemas)
      todo.push_back(&m.value);
    std::vector<std::string> wanted;
    const std::string prefix = "#/components/schemas/";
    while (!todo.empty() || !wanted.empty()) {
      while (!todo.empty()) {
        const json::Value* v = todo.back();
        todo.pop_back();
        if (v->is_array()) {
          for (auto& x : v->as_array())
            todo.push_back(&x);
        } else if (v->is_object()) {
          for (auto& m : v->as_object()) {
            if (m.key == "$ref" && m.value.is_string() && str::starts_with(m.value.as_string(), prefix))
              wanted.push_back(m.value.as_string().substr(prefix.size()));
            else
              todo.push_back(&m.value);
          }
        }
      }
      // Adding members may move the others: collect first, then insert and rescan the copies.
      std::vector<std::string> added;
      for (auto& name : wanted)
        if (!schemas.contains(name) && builtin_schemas->has(name)) {
          schemas.set(name, *builtin_schemas->component(name));
          added.push_back(name);
        }
      wanted.clear();
      for (auto& name : added)
        todo.push_back(schemas.find(name));
    }
  }
  return json::Value(json::Object{{"openapi", "3.0.0"},
                                  {"info", json::Object{{"title", "Kubernetes"}, {"version", "v1.32.0"}}},
                                  {"paths", std::move(paths)},
                                  {"components", json::Object{{"schemas", std::move(schemas)}}}});
}

bool ApiServer::Impl::serve_discovery(const std::shared_ptr<http::Exchange>& ex) {
  auto& req = ex->request();
  if (req.method != "GET")
    return false;
  auto path = req.path;
  while (path.size() > 1 && path.back() == '/')
    path.pop_back();
  auto* accept = req.header("Accept");
  bool aggregated = accept && accept->find("as=APIGroupDiscoveryList") != std::string::npos &&
                    accept->find("v=v2") != std::string::npos;
  auto send = [&](const json::Value& v, const char* ctype) {
    http::Response r;
    r.status = 200;
    r.body = json::dump(v) + "\n";
    r.headers.push_back({"Content-Type", ctype});
    r.headers.push_back({"Cache-Control", "no-cache, private"});
    ex->respond(std::move(r));
  };
  if (path == "/api") {
    if (aggregated)
      send(aggregated_discovery(true), kAggregatedType);
    else
      send(json::Object{{"kind", "APIVersions"}, {"versions", json::Array{"v1"}},
                        {"serverAddressByClientCIDRs",
                         json::Array{json::Object{{"clientCIDR", "0.0.0.0/0"},
                                                  {"serverAddress", opts.host + ":" + std::to_string(http->port())}}}}},
           "application/json");
    return true;
  }
  if (path == "/apis") {
    if (aggregated) {
      send(aggregated_discovery(false), kAggregatedType);
      return true;
    }
    std::map<std::string, std::set<std::string>> groups;
    std::vector<std::string> order;
    for (auto& rt : registry.all())
      if (!rt->group.empty()) {
        if (!groups.count(rt->group))
          order.push_back(rt->group);
        groups[rt->group].insert(rt->version);
      }
    json::Array gl;
    for (auto& g : order) {
      std::vector<std::string> vs(groups[g].begin(), groups[g].end());
      std::sort(vs.begin(), vs.end(), version_before);
      json::Array va;
      for (auto& v : vs)
        va.push_back(json::Object{{"groupVersion", g + "/" + v}, {"version", v}});
      gl.push_back(json::Object{{"name", g}, {"versions", va},
                                {"preferredVersion", json::Object{{"groupVersion", g + "/" + vs[0]}, {"version", vs[0]}}}});
    }
    send(json::Object{{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", std::move(gl)}}, "application/json");
    return true;
  }
  if (path == "/openapi/v3") {
    send(openapi_root(), "application/json");
    return true;
  }
  if (str::starts_with(path, "/openapi/v3/")) {
    auto doc = openapi_doc(path.substr(12));
    if (!doc) {
      respond_error(ex, path_not_found());
      return true;
    }
    send(*doc, "application/json");
    return true;
  }
  if (path == "/openapi/v2") {
    respond_error(ex, path_not_found());
    return true;
  }
  // Legacy per-group-version documents: /api/v1 and /apis/GROUP/VERSION; and /apis/GROUP.
  auto parts = str::split(path, '/');
  if (parts.size() == 3 && parts[1] == "api") {
    std::vector<ResourcePtr> types;
    for (auto& rt : registry.all())
      if (rt->group.empty() && rt->version == parts[2])
        types.push_back(rt);
    if (types.empty())
      return false;
    send(resource_list(parts[2], types), "application/json");
    return true;
  }
  if (parts.size() == 4 && parts[1] == "apis") {
    std::vector<ResourcePtr> types;
    for (auto& rt : registry.all())
      if (rt->group == parts[2] && rt->version == parts[3])
        types.push_back(rt);
    if (types.empty())
      return false;
    send(resource_list(parts[2] + "/" + parts[3], types), "application/json");
    return true;
  }
  if (parts.size() == 3 && parts[1] == "apis") {
    std::set<std::string> vs;
    for (auto& rt : registry.all())
      if (rt->group == parts[2])
        vs.insert(rt->version);
    if (vs.empty())
      return false;
    std::vector<std::string> sorted(vs.begin(), vs.end());
    std::sort(sorted.begin(), sorted.end(), version_before);
    json::Array va;
    for (auto& v : sorted)
      va.push_back(json::Object{{"groupVersion", parts[2] + "/" + v}, {"version", v}});
    send(json::Object{{"kind", "APIGroup"}, {"apiVersion", "v1"}, {"name", parts[2]}, {"versions", va},
                      {"preferredVersion", json::Object{{"groupVersion", parts[2] + "/" + sorted[0]}, {"version", sorted[0]}}}},
         "application/json");
    return true;
  }
  return false;
}

}  // namespace omed::apiserver
