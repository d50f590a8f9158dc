// Typed calls on top of the transport: paths from ResourceInfo, bodies as JSON, every non-2xx
// answer as an ApiError, lists followed through their continue tokens.
#include "omed/k8s/client.hpp"

namespace omed::k8s {

const char* content_type(PatchType t) {
  switch (t) {
    case PatchType::Merge: return "application/merge-patch+json";
    case PatchType::Json: return "application/json-patch+json";
    case PatchType::Apply: return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

std::string namespace_of(const json::Value& obj) {
  auto* ns = obj.at_path("metadata.namespace");
  return ns && ns->is_string() ? ns->as_string() : std::string();
}

std::string name_of(const json::Value& obj) {
  auto* n = obj.at_path("metadata.name");
  return n && n->is_string() ? n->as_string() : std::string();
}

namespace {

Query write_query(const WriteOptions& w, bool apply) {
  Query q;
  if (w.dry_run)
    q.emplace_back("dryRun", "All");
  if (!w.field_manager.empty())
    q.emplace_back("fieldManager", w.field_manager);
  if (apply && w.force)
    q.emplace_back("force", "true");
  return q;
}

}  // namespace

json::Value Client::call(const std::string& method, const std::string& target, const std::string& body,
                         const std::string& ctype) {
  auto resp = rest_.request(method, target, body, ctype);
  if (resp.code < 200 || resp.code > 299)
    throw error_from_response(resp.code, resp.body, resp.header("retry-after"));
  json::Value v;
  std::string err;
  if (!json::try_parse(resp.body, v, err))
    throw ApiError(resp.code, "InternalError", method + " " + target + ": response is not JSON: " + err);
  return v;
}

json::Value Client::get(const ResourceInfo& r, const std::string& ns, const std::string& name,
                        const std::string& subresource) {
  return call("GET", object_path(r, ns, name, subresource), {}, {});
}

std::optional<json::Value> Client::try_get(const ResourceInfo& r, const std::string& ns, const std::string& name) {
  try {
    return get(r, ns, name);
  } catch (const ApiError& e) {
    if (e.not_found())
      return std::nullopt;
    throw;
  }
}

ListResult Client::list(const ResourceInfo& r, const std::string& ns, const ListOptions& opts) {
  for (int restart = 0;; ++restart) {
    ListResult out;
    std::string cont;
    try {
      do {
        Query q;
        if (!opts.label_selector.empty())
          q.emplace_back("labelSelector", opts.label_selector);
        if (!opts.field_selector.empty())
          q.emplace_back("fieldSelector", opts.field_selector);
        if (opts.limit > 0)
          q.emplace_back("limit", std::to_string(opts.limit));
        if (!cont.empty())
          q.emplace_back("continue", cont);
        else if (!opts.resource_version.empty()) {
          q.emplace_back("resourceVersion", opts.resource_version);
          if (!opts.resource_version_match.empty())
            q.emplace_back("resourceVersionMatch", opts.resource_version_match);
        }
        auto page = call("GET", collection_path(r, ns) + query_string(q), {}, {});
        out.resource_version = page.at_path("metadata.resourceVersion") &&
                                   page.at_path("metadata.resourceVersion")->is_string()
                                 ? page.at_path("metadata.resourceVersion")->as_string()
                                 : out.resource_version;
        auto* c = page.at_path("metadata.continue");
        cont = c && c->is_string() ? c->as_string() : std::string();
        if (auto* items = page.get("items"); items && items->is_array()) {
          for (auto& it : items->as_array()) {
            json::Value item = std::move(it);
            // Typed lists leave out each item's TypeMeta: restore it so the object stands alone.
            if (item.is_object()) {
              if (!item.get("apiVersion"))
                item["apiVersion"] = r.api_version();
              if (!item.get("kind"))
                item["kind"] = r.kind;
            }
            if (opts.transform)
              opts.transform(item);
            out.items.push_back(std::move(item));
          }
        }
      } while (!cont.empty());
      return out;
    } catch (const ApiError& e) {
      // The continue token outlived the server's history: one fresh list, then give up.
      if (e.expired() && !cont.empty() && restart == 0)
        continue;
      throw;
    }
  }
}

json::Value Client::create(const ResourceInfo& r, const json::Value& obj, const WriteOptions& w) {
  return call("POST", collection_path(r, namespace_of(obj)) + query_string(write_query(w, false)), json::dump(obj),
              "application/json");
}

json::Value Client::update(const ResourceInfo& r, const json::Value& obj, const WriteOptions& w) {
  return call("PUT", object_path(r, namespace_of(obj), name_of(obj)) + query_string(write_query(w, false)),
              json::dump(obj), "application/json");
}

json::Value Client::update_status(const ResourceInfo& r, const json::Value& obj, const WriteOptions& w) {
  return call("PUT", object_path(r, namespace_of(obj), name_of(obj), "status") + query_string(write_query(w, false)),
              json::dump(obj), "application/json");
}

json::Value Client::patch(const ResourceInfo& r, const std::string& ns, const std::string& name, PatchType type,
                          const std::string& body, const WriteOptions& w, const std::string& subresource) {
  return call("PATCH", object_path(r, ns, name, subresource) + query_string(write_query(w, type == PatchType::Apply)),
              body, content_type(type));
}

json::Value Client::apply(const ResourceInfo& r, const json::Value& obj, const WriteOptions& w) {
  WriteOptions aw = w;
  if (aw.field_manager.empty())
    aw.field_manager = "omed";  // apply without a manager is a 422; never send one without it
  return patch(r, namespace_of(obj), name_of(obj), PatchType::Apply, json::dump(obj), aw);
}

bool Client::remove(const ResourceInfo& r, const std::string& ns, const std::string& name, const DeleteOptions& d) {
  json::Object body{{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (!d.propagation.empty())
    body.set("propagationPolicy", d.propagation);
  if (!d.precondition_uid.empty() || !d.precondition_rv.empty()) {
    json::Object pre;
    if (!d.precondition_uid.empty())
      pre.set("uid", d.precondition_uid);
    if (!d.precondition_rv.empty())
      pre.set("resourceVersion", d.precondition_rv);
    body.set("preconditions", std::move(pre));
  }
  Query q;
  if (d.dry_run)
    q.emplace_back("dryRun", "All");
  auto resp = rest_.request("DELETE", object_path(r, ns, name) + query_string(q), json::dump(json::Value(body)),
                            "application/json");
  if (resp.code == 404)
    return true;
  if (resp.code < 200 || resp.code > 299)
    throw error_from_response(resp.code, resp.body, resp.header("retry-after"));
  return true;
}

}  // namespace omed::k8s
