// The resource verbs: get, list, create, update, patch (merge, JSON, strategic, apply),
// delete with finalizers and propagation, deletecollection and pods/binding.
#include <thread>

#include "internal.hpp"
#include "omed/apiserver/apply.hpp"
#include "omed/apiserver/patch.hpp"
#include "omed/apiserver/protobuf.hpp"
#include "omed/apiserver/selectors.hpp"
#include "omed/apiserver/table.hpp"
#include "omed/common/strings.hpp"
#include "omed/common/yaml.hpp"
#include "omed/metrics/registry.hpp"

namespace omed::apiserver {

namespace {

constexpr int kMaxConflictRetries = 8;

std::string content_type(const ApiRequest& r) {
  auto* ct = r.http().header("Content-Type");
  if (!ct)
    return "application/json";
  auto v = *ct;
  auto semi = v.find(';');
  if (semi != std::string::npos)
    v = v.substr(0, semi);
  return std::string(str::trim(v));
}

std::optional<ApiError> parse_body(const ApiRequest& r, json::Value& out, bool allow_yaml) {
  auto& body = r.http().body;
  if (body.empty())
    return bad_request("the request body is empty");
  auto ct = content_type(r);
  std::string err;
  // kubectl's typed generators (create configmap|secret|namespace|deployment ...) send protobuf.
  if (ct == "application/vnd.kubernetes.protobuf") {
    ProtobufFailure why;
    if (decode_k8s_protobuf(body, out, err, &why))
      return std::nullopt;
    if (why == ProtobufFailure::unsupported)
      return ApiError{415, "UnsupportedMediaType", err, json::Object{}, 0};
    return bad_request("the body of the request is not valid Kubernetes protobuf: " + err);
  }
  // CBOR is not decoded: say so with the real server's 415 rather than failing to read it as YAML.
  if (ct == "application/cbor")
    return unsupported_media(ct, {"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"});
  if (ct == "application/yaml" || ct == "application/apply-patch+yaml" || (allow_yaml && body[0] != '{' && body[0] != '[')) {
    try {
      out = yaml::parse_one(body);
      return std::nullopt;
    } catch (const std::exception& e) {
      return bad_request(std::string("error decoding YAML: ") + e.what());
    }
  }
  if (!json::try_parse(body, out, err))
    return bad_request("the request body is not valid JSON: " + err);
  return std::nullopt;
}

json::Value parse_stored(const StoredObject& o) { return json::parse(*o.json); }

std::string rv_string(const json::Value& obj) {
  auto* v = obj.at_path("metadata.resourceVersion");
  return v && v->is_string() ? v->as_string() : "";
}

bool parse_u64(const std::string& s, uint64_t& out) {
  if (s.empty() || s.size() > 19)
    return false;
  for (char c : s)
    if (c < '0' || c > '9')
      return false;
  out = std::stoull(s);
  return true;
}

std::string manager_for(const ApiRequest& r) {
  if (!r.field_manager.empty())
    return r.field_manager;
  // Kubernetes derives the manager from the user agent's program name.
  auto ua = r.user_agent;
  auto slash = ua.find('/');
  return ua.empty() ? std::string("unknown") : ua.substr(0, slash);
}

std::string b64url(const std::string& in) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  while (i + 2 < in.size()) {
    uint32_t n = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    out += tbl[(n >> 18) & 63];
    out += tbl[(n >> 12) & 63];
    out += tbl[(n >> 6) & 63];
    out += tbl[n & 63];
    i += 3;
  }
  if (i + 1 == in.size()) {
    uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    out += tbl[(n >> 18) & 63];
    out += tbl[(n >> 12) & 63];
  } else if (i + 2 == in.size()) {
    uint32_t n = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
    out += tbl[(n >> 18) & 63];
    out += tbl[(n >> 12) & 63];
    out += tbl[(n >> 6) & 63];
  }
  return out;
}

bool b64url_decode(const std::string& in, std::string& out) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-' || c == '+') return 62;
    if (c == '_' || c == '/') return 63;
    return -1;
  };
  out.clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=')
      break;
    int v = val(c);
    if (v < 0)
      return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

void add_warnings(std::vector<http::Header>& h, const std::vector<std::string>& warnings) {
  for (auto& w : warnings) {
    std::string q;
    json::quote_to(w, q);
    h.push_back({"Warning", "299 - " + q});
  }
}

}  // namespace

// ------------------------------------------------------------------ dispatch

void ApiServer::Impl::dispatch(ApiRequest& r) {
  auto& rt = *r.rt;
  if (rt.namespaced && r.ns.empty() && !r.name.empty())
    return respond_error(r.ex, path_not_found());
  if (!rt.namespaced && !r.ns.empty())
    return respond_error(r.ex, path_not_found());
  if (!r.sub.empty() && !(r.sub == "status" && rt.has_status) && !(r.sub == "binding" && rt.has_binding) &&
      !(r.sub == "finalize" && rt.kind == "Namespace") && !(r.sub == "scale" && rt.scale))
    return respond_error(r.ex, path_not_found());
  try {
    if (r.sub == "scale")
      return do_scale(r);
    if (r.verb == "get")
      return do_get(r);
    if (r.verb == "list")
      return do_list(r);
    if (r.verb == "watch")
      return do_watch(r);
    if (r.verb == "create")
      return do_create(r);
    if (r.verb == "binding")
      return do_binding(r);
    if (r.verb == "update")
      return do_update(r);
    if (r.verb == "patch")
      return do_patch(r);
    if (r.verb == "delete")
      return do_delete(r);
    if (r.verb == "deletecollection")
      return do_delete_collection(r);
    return respond_error(r.ex, method_not_allowed(r.http().method, rt.kind));
  } catch (const json::ParseError& e) {
    return respond_error(r.ex, internal(std::string("stored object is unreadable: ") + e.what()));
  } catch (const std::exception& e) {
    log.error("request failed").kv("verb", r.verb).kv("resource", rt.id()).kv("error", e.what());
    return respond_error(r.ex, internal(e.what()));
  }
}

// ------------------------------------------------------------------ get

void ApiServer::Impl::do_get(ApiRequest& r) {
  auto& rt = *r.rt;
  auto* st = storage_type(rt);
  auto cur = store->get(st->id(), r.key());
  if (!cur)
    return respond_error(r.ex, not_found(rt.qualified(), rt.group, rt.plural, r.name));
  bool events_view = st != r.rt.get();
  if (r.table) {
    auto obj = parse_stored(*cur);
    return respond(r, 200, to_table(*st, {obj}, true, std::to_string(cur->rv), ""));
  }
  if (events_view)
    return respond(r, 200, event_to_events_v1(parse_stored(*cur)));
  if (r.pretty)
    return respond(r, 200, parse_stored(*cur));
  http::Response resp;
  resp.status = 200;
  resp.body = *cur->json + "\n";
  resp.headers.push_back({"Content-Type", "application/json"});
  resp.headers.push_back({"Cache-Control", "no-cache, private"});
  r.ex->respond(std::move(resp));
}

// ------------------------------------------------------------------ list

namespace {

// Field names of the events.k8s.io view map onto the stored core/v1 fields.
std::string storage_field(const ResourceType& rt, const std::string& f) {
  if (rt.group != "events.k8s.io")
    return f;
  if (str::starts_with(f, "regarding."))
    return "involvedObject." + f.substr(10);
  if (f == "reportingController")
    return "reportingComponent";
  return f;
}

}  // namespace

void ApiServer::Impl::do_list(ApiRequest& r) {
  auto& rt = *r.rt;
  auto* st = storage_type(rt);
  bool events_view = st != r.rt.get();
  if (r.has("sendInitialEvents"))
    return respond_error(r.ex, invalid("ListOptions", "meta.k8s.io", "",
                                       {api::forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list")}));
  auto rv_param = r.param("resourceVersion");
  auto match = r.param("resourceVersionMatch");
  auto cont = r.param("continue");
  if (!match.empty()) {
    if (rv_param.empty())
      return respond_error(r.ex, invalid("ListOptions", "meta.k8s.io", "",
                                         {api::forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided")}));
    if (!cont.empty())
      return respond_error(r.ex, invalid("ListOptions", "meta.k8s.io", "",
                                         {api::forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided")}));
    if (match != "Exact" && match != "NotOlderThan")
      return respond_error(r.ex, invalid("ListOptions", "meta.k8s.io", "",
                                         {api::not_supported("resourceVersionMatch", match, {"Exact", "NotOlderThan"})}));
  }
  if (!cont.empty() && !rv_param.empty() && rv_param != "0")
    return respond_error(r.ex, bad_request("specifying resource version is not allowed when using continue"));
  std::string label_text = r.param("labelSelector"), field_text = r.param("fieldSelector");
  std::string err;
  auto ls = LabelSelector::parse(label_text, err);
  if (!ls)
    return respond_error(r.ex, bad_request("unable to parse requirement: " + err));
  auto fs = FieldSelector::parse(field_text, err);
  if (!fs)
    return respond_error(r.ex, bad_request(err));
  for (auto& req : fs->requirements()) {
    auto f = storage_field(rt, req.field);
    bool known = f == "metadata.name" || (rt.namespaced && f == "metadata.namespace");
    for (auto& sf : st->field_selectors)
      known = known || sf == f;
    if (!known)
      return respond_error(r.ex, bad_request("field label not supported: " + req.field));
  }
  uint64_t limit = 0;
  if (r.has("limit") && !parse_u64(r.param("limit"), limit))
    return respond_error(r.ex, bad_request("limit must be a non-negative integer"));
  // resourceVersion semantics: "not older than N" is served from the latest state once N has
  // been reached; "exactly N" is rebuilt from the event history while N is still held.
  uint64_t cur_rv = store->current_rv();
  uint64_t at_rv = 0;
  if (!rv_param.empty() && rv_param != "0" && cont.empty()) {
    uint64_t want;
    if (!parse_u64(rv_param, want))
      return respond_error(r.ex, bad_request("invalid resourceVersion: " + rv_param));
    if (want > cur_rv) {
      // Wait briefly for the store to catch up, as the watch cache does.
      for (int i = 0; i < 30 && store->current_rv() < want; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      cur_rv = store->current_rv();
      if (want > cur_rv)
        return respond_error(r.ex, too_large_rv(want, cur_rv));
    }
    bool exact = match == "Exact" || (match.empty() && limit > 0);
    if (exact && want != cur_rv)
      at_rv = want;
  }
  std::string start_after;
  if (!cont.empty()) {
    std::string raw;
    json::Value tok;
    if (!b64url_decode(cont, raw) || !json::try_parse(raw, tok, err) || !tok.get("start") || !tok.get("rv"))
      return respond_error(r.ex, bad_request("continue key is not valid: " + cont));
    uint64_t tok_rv = tok.get("rv")->is_int() ? static_cast<uint64_t>(tok.get("rv")->as_int()) : 0;
    if (tok_rv < store->compacted_rv())
      return respond_error(r.ex, expired("The provided continue parameter is too old to display a consistent list "
                                         "result. You can start a new list without the continue parameter, or use the "
                                         "continue token in this response to retrieve the remainder of the results. "
                                         "Continuing with the provided token results in an inconsistent list - objects "
                                         "that were created, modified, or deleted between the time the first chunk was "
                                         "returned and now may show up in the list."));
    start_after = tok.get("start")->as_string();
    at_rv = tok_rv;  // every page shows the first page's snapshot
  }
  std::vector<std::string> fields_wanted;
  auto filter = [&](const StoredObject& o) {
    if (!ls->empty()) {
      std::map<std::string, std::string> labels(o.labels.begin(), o.labels.end());
      if (!ls->matches(labels))
        return false;
    }
    if (!fs->empty()) {
      return fs->matches([&](const std::string& f) {
        auto sf = storage_field(rt, f);
        for (auto& [k, v] : o.fields)
          if (k == sf)
            return v;
        return std::string();
      });
    }
    return true;
  };
  auto page = store->list(st->id(), r.ns.empty() ? "" : r.ns + "/", filter, limit, start_after, at_rv);
  if (page.expired)
    return respond_error(r.ex, cont.empty() ? expired("The resourceVersion for the provided list is too old.")
                                            : expired("The provided continue parameter is too old to display a "
                                                      "consistent list result. You can start a new list without the "
                                                      "continue parameter."));
  std::string next;
  if (page.more && !page.keys.empty()) {
    json::Object tok{{"v", "meta.k8s.io/v1"}, {"rv", static_cast<int64_t>(page.rv)}, {"start", page.keys.back()}};
    next = b64url(json::dump(tok));
  }
  auto rvs = std::to_string(page.rv);
  if (r.table || events_view || r.pretty) {
    std::vector<json::Value> objs;
    objs.reserve(page.items.size());
    for (auto& o : page.items)
      objs.push_back(events_view ? event_to_events_v1(parse_stored(o)) : parse_stored(o));
    if (r.table)
      return respond(r, 200, to_table(*st, objs, true, rvs, next));
    json::Object md{{"resourceVersion", rvs}};
    if (!next.empty()) {
      md.set("continue", next);
      md.set("remainingItemCount", static_cast<int64_t>(page.remaining));
    }
    json::Array items;
    for (auto& o : objs)
      items.push_back(std::move(o));
    return respond(r, 200, json::Object{{"kind", rt.list_kind}, {"apiVersion", rt.group_version()}, {"metadata", md},
                                        {"items", std::move(items)}});
  }
  // The common case builds the list from stored JSON text without parsing anything.
  std::string body;
  size_t total = 64;
  for (auto& o : page.items)
    total += o.json->size() + 1;
  body.reserve(total + 128);
  body += "{\"kind\":\"" + rt.list_kind + "\",\"apiVersion\":\"" + rt.group_version() + "\",\"metadata\":{\"resourceVersion\":\"" + rvs + "\"";
  if (!next.empty())
    body += ",\"continue\":\"" + next + "\",\"remainingItemCount\":" + std::to_string(page.remaining);
  body += "},\"items\":[";
  for (size_t i = 0; i < page.items.size(); ++i) {
    if (i)
      body.push_back(',');
    body += *page.items[i].json;
  }
  body += "]}\n";
  http::Response resp;
  resp.status = 200;
  resp.body = std::move(body);
  resp.headers.push_back({"Content-Type", "application/json"});
  resp.headers.push_back({"Cache-Control", "no-cache, private"});
  r.ex->respond(std::move(resp));
}

// ------------------------------------------------------------------ create

void ApiServer::Impl::do_create(ApiRequest& r) {
  auto& rt = *r.rt;
  auto* st = storage_type(rt);
  json::Value obj;
  if (auto e = parse_body(r, obj, true))
    return respond_error(r.ex, *e);
  if (!obj.is_object())
    return respond_error(r.ex, bad_request("the request body must be a JSON object"));
  auto api_version = obj.string_or("apiVersion");
  auto kind = obj.string_or("kind");
  if (!api_version.empty() && api_version != rt.group_version())
    return respond_error(r.ex, bad_request("the API version in the data (" + api_version +
                                           ") does not match the expected API version (" + rt.group_version() + ")"));
  if (!kind.empty() && kind != rt.kind)
    return respond_error(r.ex, bad_request("the kind in the data (" + kind + ") does not match the expected kind (" + rt.kind + ")"));
  obj["apiVersion"] = rt.group_version();
  obj["kind"] = rt.kind;
  auto& md = obj["metadata"];
  if (!md.is_object())
    return respond_error(r.ex, bad_request("metadata must be an object"));
  auto body_ns = md.string_or("namespace");
  if (rt.namespaced) {
    if (!body_ns.empty() && body_ns != r.ns)
      return respond_error(r.ex, bad_request("the namespace of the provided object does not match the namespace sent on the request"));
    md["namespace"] = r.ns;
  } else {
    md.as_object().erase("namespace");
  }
  bool generated = md.string_or("name").empty() && !md.string_or("generateName").empty();
  if (generated)
    md["name"] = md.string_or("generateName") + random_suffix(5);
  if (auto e = check_namespace(rt, r.ns, true))
    return respond_error(r.ex, *e);
  if (events_is_v1(rt))
    obj = event_from_events_v1(obj);
  std::vector<std::string> warnings;
  if (auto e = admit(*st, obj, nullptr, &r, warnings))
    return respond_error(r.ex, *e);
  prepare_create(*st, obj);
  obj["metadata"].as_object().erase("managedFields");
  auto tracked = track_update(json::Value{}, obj, manager_for(r), rt.group_version(), now_rfc3339(), "");
  auto name = obj.at_path("metadata.name")->as_string();
  std::string key = rt.namespaced ? r.ns + "/" + name : name;
  std::vector<http::Header> hdr;
  add_warnings(hdr, warnings);
  if (r.dry_run)
    return respond_json(r.ex, 201, events_is_v1(rt) ? event_to_events_v1(tracked) : tracked, r.pretty, hdr);
  auto res = store->create(st->id(), key, tracked, indexer(*st));
  // A generated name that is taken is drawn again, as Kubernetes 1.32 does (RetryGenerateName).
  for (int attempt = 0; generated && res.status == Store::Status::Exists && attempt < 7; ++attempt) {
    name = tracked.at_path("metadata.generateName")->as_string() + random_suffix(5);
    tracked["metadata"]["name"] = name;
    key = rt.namespaced ? r.ns + "/" + name : name;
    res = store->create(st->id(), key, tracked, indexer(*st));
  }
  if (res.status == Store::Status::Exists)
    return respond_error(r.ex, already_exists(rt.qualified(), rt.group, rt.plural, name));
  if (rt.kind == "CustomResourceDefinition")
    register_crd(parse_stored(res.object));
  if (events_is_v1(rt))
    return respond_json(r.ex, 201, event_to_events_v1(parse_stored(res.object)), r.pretty, hdr);
  http::Response resp;
  resp.status = 201;
  resp.body = *res.object.json + "\n";
  resp.headers.push_back({"Content-Type", "application/json"});
  resp.headers.push_back({"Cache-Control", "no-cache, private"});
  for (auto& h : hdr)
    resp.headers.push_back(h);
  r.ex->respond(std::move(resp));
}

bool ApiServer::Impl::events_is_v1(const ResourceType& rt) const { return rt.group == "events.k8s.io"; }

// ------------------------------------------------------------------ update & patch

// Shared tail of PUT and PATCH: server-owned fields, finalizer rules, validation, generation,
// no-op detection, storage with compare-and-swap. Returns false on a storage conflict so the
// caller can retry from a fresh read when its request was unconditional.
bool ApiServer::Impl::finish_update(ApiRequest& r, const ResourceType& st, const StoredObject& cur, const json::Value& old,
                                    json::Value obj, const std::string& manager, bool apply_managed) {
  auto& rt = *r.rt;
  // TypeMeta first: adding keys to `obj` may move its members, so `md` is taken afterwards.
  obj["apiVersion"] = old.string_or("apiVersion");
  obj["kind"] = old.string_or("kind");
  auto& md = obj["metadata"];
  const auto& omd = *old.get("metadata");
  // Immutable and server-owned metadata.
  for (const char* k : {"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"}) {
    if (auto* v = omd.get(k))
      md[k] = *v;
    else
      md.as_object().erase(k);
  }
  md["name"] = omd.string_or("name");
  if (st.namespaced)
    md["namespace"] = omd.string_or("namespace");
  bool deleting = omd.get("deletionTimestamp") != nullptr;
  // Finalizers: none may be added to an object being deleted.
  if (deleting) {
    std::set<std::string> before;
    if (auto* f = omd.get("finalizers"); f && f->is_array())
      for (auto& x : f->as_array())
        if (x.is_string())
          before.insert(x.as_string());
    std::vector<std::string> added;
    if (auto* f = md.get("finalizers"); f && f->is_array())
      for (auto& x : f->as_array())
        if (x.is_string() && !before.count(x.as_string()))
          added.push_back(x.as_string());
    if (!added.empty()) {
      respond_error(r.ex, invalid(st.kind, st.group, md.string_or("name"),
                                  {api::forbidden("metadata.finalizers",
                                                  "no new finalizers can be added if the object is being deleted, found "
                                                  "new finalizers []string{\"" + str::join(added, "\", \"") + "\"}")}));
      return true;
    }
  }
  std::vector<std::string> warnings;
  if (auto e = admit(st, obj, &old, &r, warnings)) {
    respond_error(r.ex, *e);
    return true;
  }
  if (st.has_generation && spec_changed(st, old, obj))
    md["generation"] = omd.int_at("generation").value_or(0) + 1;
  // No-op: nothing but server-owned fields differ.
  {
    json::Value a = old, b = obj;
    for (auto* x : {&a, &b}) {
      (*x)["metadata"].as_object().erase("resourceVersion");
      (*x)["metadata"].as_object().erase("managedFields");
    }
    if (a == b) {
      http::Response resp;
      resp.status = 200;
      resp.body = (events_is_v1(rt) ? json::dump(event_to_events_v1(old)) : *cur.json) + "\n";
      resp.headers.push_back({"Content-Type", "application/json"});
      resp.headers.push_back({"Cache-Control", "no-cache, private"});
      r.ex->respond(std::move(resp));
      return true;
    }
  }
  if (!apply_managed)
    obj = track_update(old, obj, manager, rt.group_version(), now_rfc3339(), r.sub == "status" ? "status" : "");
  std::vector<http::Header> hdr;
  add_warnings(hdr, warnings);
  // Removing the last finalizer of an object being deleted deletes it.
  // (`md` refers into the object replaced just above: read the new one.)
  const auto* fins = obj.at_path("metadata.finalizers");
  bool finalize = deleting && (!fins || !fins->is_array() || fins->as_array().empty()) &&
                  !(st.kind == "Namespace" && obj.at_path("spec.finalizers") &&
                    !obj.at_path("spec.finalizers")->as_array().empty());
  if (r.dry_run) {
    respond_json(r.ex, 200, events_is_v1(rt) ? event_to_events_v1(obj) : obj, r.pretty, hdr);
    return true;
  }
  auto key = r.key();
  auto res = finalize ? store->remove(st.id(), key, cur.rv, obj, indexer(st)) : store->update(st.id(), key, cur.rv, obj, indexer(st));
  if (res.status == Store::Status::Conflict)
    return false;
  if (res.status == Store::Status::NotFound) {
    respond_error(r.ex, not_found(rt.qualified(), rt.group, rt.plural, r.name));
    return true;
  }
  if (st.kind == "CustomResourceDefinition" && !finalize)
    register_crd(parse_stored(res.object));
  http::Response resp;
  resp.status = 200;
  resp.body = (events_is_v1(rt) ? json::dump(event_to_events_v1(parse_stored(res.object))) : *res.object.json) + "\n";
  resp.headers.push_back({"Content-Type", "application/json"});
  resp.headers.push_back({"Cache-Control", "no-cache, private"});
  for (auto& h : hdr)
    resp.headers.push_back(h);
  r.ex->respond(std::move(resp));
  return true;
}

namespace {

// For /status writes only status changes; for the main endpoint status stays as it was when
// the resource has a status subresource.
json::Value compose(const ResourceType& st, const json::Value& old, const json::Value& incoming, bool status_sub) {
  if (status_sub) {
    json::Value out = old;
    if (auto* s = incoming.get("status"))
      out["status"] = *s;
    else
      out.as_object().erase("status");
    return out;
  }
  json::Value out = incoming;
  if (st.has_status) {
    if (auto* s = old.get("status"))
      out["status"] = *s;
    else
      out.as_object().erase("status");
  }
  return out;
}

}  // namespace

void ApiServer::Impl::do_update(ApiRequest& r) {
  auto& rt = *r.rt;
  auto* st = storage_type(rt);
  json::Value body;
  if (auto e = parse_body(r, body, true))
    return respond_error(r.ex, *e);
  if (!body.is_object() || !body.get("metadata") || !body.get("metadata")->is_object())
    return respond_error(r.ex, bad_request("the request body must be an object with metadata"));
  if (events_is_v1(rt))
    body = event_from_events_v1(body);
  auto body_name = body.at_path("metadata.name") && body.at_path("metadata.name")->is_string()
                     ? body.at_path("metadata.name")->as_string() : "";
  if (!body_name.empty() && body_name != r.name)
    return respond_error(r.ex, bad_request("the name of the object (" + body_name +
                                           ") does not match the name on the URL (" + r.name + ")"));
  auto body_ns = body.at_path("metadata.namespace") && body.at_path("metadata.namespace")->is_string()
                   ? body.at_path("metadata.namespace")->as_string() : "";
  if (st->namespaced && !body_ns.empty() && body_ns != r.ns)
    return respond_error(r.ex, bad_request("the namespace of the provided object does not match the namespace sent on the request"));
  auto body_rv = rv_string(body);
  if (body_rv.empty() && !st->builtin)
  {
    // Worded as kube-apiserver words it: the resource (not the kind) and a bare 0x0.
    json::Object cause{{"reason", "FieldValueInvalid"}, {"message", "Invalid value: 0x0: must be specified for an update"},
                       {"field", "metadata.resourceVersion"}};
    ApiError e{422, "Invalid",
               rt.qualified() + " \"" + r.name + "\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be "
               "specified for an update",
               json::Object{{"name", r.name}, {"group", rt.group}, {"kind", rt.plural}, {"causes", json::Array{cause}}}, 0};
    return respond_error(r.ex, e);
  }
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    auto cur = store->get(st->id(), r.key());
    if (!cur)
      return respond_error(r.ex, not_found(rt.qualified(), rt.group, rt.plural, r.name));
    if (!body_rv.empty() && body_rv != std::to_string(cur->rv))
      return respond_error(r.ex, conflict(rt.qualified(), rt.group, rt.plural, r.name,
                                          "the object has been modified; please apply your changes to the latest version and try again"));
    auto old = parse_stored(*cur);
    auto next = compose(*st, old, body, r.sub == "status");
    if (finish_update(r, *st, *cur, old, std::move(next), manager_for(r), false))
      return;
    if (!body_rv.empty())
      return respond_error(r.ex, conflict(rt.qualified(), rt.group, rt.plural, r.name,
                                          "the object has been modified; please apply your changes to the latest version and try again"));
  }
  respond_error(r.ex, conflict(rt.qualified(), rt.group, rt.plural, r.name, "too many concurrent writers; try again"));
}

void ApiServer::Impl::do_patch(ApiRequest& r) {
  auto& rt = *r.rt;
  auto* st = storage_type(rt);
  auto ct = content_type(r);
  static const std::vector<std::string> cr_types = {"application/json-patch+json", "application/merge-patch+json",
                                                    "application/apply-patch+yaml"};
  static const std::vector<std::string> all_types = {"application/json-patch+json", "application/merge-patch+json",
                                                     "application/strategic-merge-patch+json",
                                                     "application/apply-patch+yaml"};
  bool smp = ct == "application/strategic-merge-patch+json";
  bool apply = ct == "application/apply-patch+yaml" || ct == "application/apply-patch+json";
  bool merge = ct == "application/merge-patch+json";
  bool jsonp = ct == "application/json-patch+json";
  if (!(smp || apply || merge || jsonp) || (smp && !st->builtin))
    return respond_error(r.ex, unsupported_media(ct, st->builtin ? all_types : cr_types));
  if (r.has("force") && !apply)
    return respond_error(r.ex, invalid("PatchOptions", "meta.k8s.io", "",
                                       {api::forbidden("force", "may not be specified for non-apply patch")}));
  if (apply && r.field_manager.empty())
    return respond_error(r.ex, invalid("PatchOptions", "meta.k8s.io", "",
                                       {api::required("fieldManager", "is required for apply patch")}));
  json::Value patch;
  if (auto e = parse_body(r, patch, apply))
    return respond_error(r.ex, *e);
  bool force = r.param("force") == "true";
  auto manager = manager_for(r);
  bool rv_precondition = false;
  if (jsonp && patch.is_array()) {
    for (auto& op : patch.as_array())
      if (op.is_object() && op.string_or("path") == "/metadata/resourceVersion")
        rv_precondition = true;
  } else if (auto* rv = patch.at_path("metadata.resourceVersion"); rv && !rv->is_null()) {
    rv_precondition = true;
  }
  StrategyLookup lists = [kind = st->kind](const std::vector<std::string>& path) {
    return builtin_list_strategy(kind, path);
  };
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    auto cur = store->get(st->id(), r.key());
    if (!cur && !apply)
      return respond_error(r.ex, not_found(rt.qualified(), rt.group, rt.plural, r.name));
    if (!cur) {
      // Server-side apply creates what does not exist yet.
      if (r.sub == "status")
        return respond_error(r.ex, not_found(rt.qualified(), rt.group, rt.plural, r.name));
      if (!patch.is_object())
        return respond_error(r.ex, bad_request("the applied configuration must be an object"));
      if (auto e = check_namespace(rt, r.ns, true))
        return respond_error(r.ex, *e);
      ApplyOptions ao{manager, force, rt.group_version(), now_rfc3339(), "", lists};
      auto res = server_side_apply(json::Value{}, patch, ao);
      json::Value obj = res.object;
      obj["apiVersion"] = rt.group_version();
      obj["kind"] = rt.kind;
      obj["metadata"]["name"] = r.name;
      if (rt.namespaced)
        obj["metadata"]["namespace"] = r.ns;
      std::vector<std::string> warnings;
      if (auto e = admit(*st, obj, nullptr, &r, warnings))
        return respond_error(r.ex, *e);
      auto managed = obj.at_path("metadata.managedFields") ? *obj.at_path("metadata.managedFields") : json::Value{};
      prepare_create(*st, obj);
      if (!managed.is_null())
        obj["metadata"]["managedFields"] = managed;
      if (r.dry_run)
        return respond(r, 201, obj);
      auto sres = store->create(st->id(), r.key(), obj, indexer(*st));
      if (sres.status == Store::Status::Exists)
        continue;  // lost a race with a create: apply to the existing object
      if (st->kind == "CustomResourceDefinition")
        register_crd(parse_stored(sres.object));
      http::Response resp;
      resp.status = 201;
      resp.body = *sres.object.json + "\n";
      resp.headers.push_back({"Content-Type", "application/json"});
      resp.headers.push_back({"Cache-Control", "no-cache, private"});
      return r.ex->respond(std::move(resp));
    }
    auto old = parse_stored(*cur);
    // A patch names fields of the API it was sent to: events.k8s.io's "note" is core's "message".
    const bool ev_view = events_is_v1(rt);
    json::Value ev_base;
    const json::Value& base = ev_view ? (ev_base = event_to_events_v1(old)) : old;
    json::Value next;
    try {
      if (merge)
        next = merge_patch(base, patch);
      else if (jsonp)
        next = json_patch(base, patch);
      else if (smp)
        next = strategic_merge_patch(base, patch, lists);
      else {
        ApplyOptions ao{manager, force, rt.group_version(), now_rfc3339(), r.sub == "status" ? "status" : "", lists};
        auto res = server_side_apply(base, patch, ao);
        if (!res.conflicts.empty()) {
          std::string msg = "Apply failed with " + std::to_string(res.conflicts.size()) + " conflict" +
                            (res.conflicts.size() == 1 ? "" : "s") + ": ";
          json::Array causes;
          for (size_t i = 0; i < res.conflicts.size(); ++i) {
            auto& c = res.conflicts[i];
            std::string one = "conflict with \"" + c.manager + "\": " + c.field;
            msg += (i ? "\n" : "") + one;
            causes.push_back(json::Object{{"reason", "FieldManagerConflict"}, {"message", one}, {"field", c.field}});
          }
          ApiError e{409, "Conflict", msg, json::Object{{"causes", causes}}, 0};
          return respond_error(r.ex, e);
        }
        next = res.object;
      }
      if (ev_view && next.is_object())
        next = event_from_events_v1(next);
    } catch (const PatchError& e) {
      ApiError err = e.code() == 400   ? bad_request(e.what())
                     : e.code() == 413 ? ApiError{413, "RequestEntityTooLarge", e.what(), json::Object{}, 0}
                                       : ApiError{422, "Invalid", e.what(), json::Object{}, 0};
      return respond_error(r.ex, err);
    }
    if (!next.is_object() || !next.get("metadata") || !next.get("metadata")->is_object())
      return respond_error(r.ex, ApiError{422, "Invalid", "the patch removed the object's metadata", json::Object{}, 0});
    auto patched_rv = rv_string(next);
    if (!patched_rv.empty() && patched_rv != std::to_string(cur->rv))
      return respond_error(r.ex, conflict(rt.qualified(), rt.group, rt.plural, r.name,
                                          "the object has been modified; please apply your changes to the latest version and try again"));
    auto composed = compose(*st, old, next, r.sub == "status");
    if (apply && r.sub != "status")
      if (auto* mf = next.at_path("metadata.managedFields"))
        composed["metadata"]["managedFields"] = *mf;
    if (finish_update(r, *st, *cur, old, std::move(composed), manager, apply))
      return;
    // Someone wrote in between. Only a patch that itself names a resourceVersion is a
    // precondition; any other patch is simply applied again to the new object.
    if (rv_precondition)
      return respond_error(r.ex, conflict(rt.qualified(), rt.group, rt.plural, r.name,
                                          "the object has been modified; please apply your changes to the latest version and try again"));
  }
  respond_error(r.ex, conflict(rt.qualified(), rt.group, rt.plural, r.name, "too many concurrent writers; try again"));
}

// ------------------------------------------------------------------ delete

namespace {

struct DeleteOpts {
  std::string propagation;  // Background | Foreground | Orphan | ""
  std::optional<int64_t> grace;
  std::string uid, rv;      // preconditions
  bool dry_run = false;     // DeleteOptions.dryRun ["All"] in the body (client-go sends it there)
};

std::optional<ApiError> delete_opts(const ApiRequest& r, DeleteOpts& o) {
  o.propagation = r.param("propagationPolicy");
  if (r.has("gracePeriodSeconds")) {
    try {
      o.grace = std::stoll(r.param("gracePeriodSeconds"));
    } catch (...) {
      return bad_request("gracePeriodSeconds must be an integer");
    }
  }
  if (r.param("orphanDependents") == "true" && o.propagation.empty())
    o.propagation = "Orphan";
  auto& body = r.http().body;
  if (!body.empty()) {
    json::Value v;
    std::string err;
    if (!json::try_parse(body, v, err) || !v.is_object())
      return bad_request("DeleteOptions body is not valid JSON: " + err);
    if (auto p = v.string_or("propagationPolicy"); !p.empty())
      o.propagation = p;
    if (auto g = v.int_at("gracePeriodSeconds"))
      o.grace = *g;
    if (auto* od = v.get("orphanDependents"); od && od->is_bool() && o.propagation.empty())
      o.propagation = od->as_bool() ? "Orphan" : "Background";
    if (auto* pre = v.get("preconditions"); pre && pre->is_object()) {
      o.uid = pre->string_or("uid");
      o.rv = pre->string_or("resourceVersion");
    }
    if (auto* dr = v.get("dryRun"); dr && dr->is_array())
      for (auto& x : dr->as_array()) {
        if (x.is_string() && x.as_string() != "All")
          return bad_request("dryRun: Unsupported value: \"" + x.as_string() + "\": supported values: \"All\"");
        o.dry_run = o.dry_run || x.is_string();
      }
  }
  if (!o.propagation.empty() && o.propagation != "Background" && o.propagation != "Foreground" && o.propagation != "Orphan")
    return ApiError{422, "Invalid", "propagationPolicy: Unsupported value: \"" + o.propagation +
                                        "\": supported values: \"Orphan\", \"Foreground\", \"Background\"",
                    json::Object{}, 0};
  return std::nullopt;
}

}  // namespace

ApiServer::Impl::WriteOutcome ApiServer::Impl::delete_object(const ResourceType& rt, const std::string& key,
                                                              const std::string& propagation, std::optional<int64_t> grace,
                                                              const std::string& pre_uid, const std::string& pre_rv,
                                                              bool dry_run) {
  WriteOutcome out;
  auto* st = storage_type(rt);
  auto name = key.substr(key.find('/') == std::string::npos ? 0 : key.find('/') + 1);
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    auto cur = store->get(st->id(), key);
    if (!cur) {
      out.error = not_found(rt.qualified(), rt.group, rt.plural, name);
      return out;
    }
    auto obj = parse_stored(*cur);
    auto& md = obj["metadata"];
    if (!pre_uid.empty() && pre_uid != md.string_or("uid")) {
      out.error = conflict(rt.qualified(), rt.group, rt.plural, name,
                           "Precondition failed: UID in precondition: " + pre_uid + ", UID in object meta: " + md.string_or("uid"));
      return out;
    }
    if (!pre_rv.empty() && pre_rv != std::to_string(cur->rv)) {
      out.error = conflict(rt.qualified(), rt.group, rt.plural, name,
                           "Precondition failed: ResourceVersion in precondition: " + pre_rv +
                             ", ResourceVersion in object meta: " + std::to_string(cur->rv));
      return out;
    }
    bool deleting = md.get("deletionTimestamp") != nullptr;
    std::vector<std::string> fins;
    if (auto* f = md.get("finalizers"); f && f->is_array())
      for (auto& x : f->as_array())
        if (x.is_string())
          fins.push_back(x.as_string());
    auto has = [&](const std::string& f) { return std::find(fins.begin(), fins.end(), f) != fins.end(); };
    bool changed = false;
    if (!deleting) {
      if (propagation == "Orphan" && !has("orphan")) {
        fins.push_back("orphan");
        changed = true;
      } else if (propagation == "Foreground" && !has("foregroundDeletion")) {
        fins.push_back("foregroundDeletion");
        changed = true;
      }
      if (st->kind == "CustomResourceDefinition" && !has("customresourcecleanup.apiextensions.k8s.io")) {
        fins.push_back("customresourcecleanup.apiextensions.k8s.io");
        changed = true;
      }
    }
    bool ns_pending = st->kind == "Namespace" && obj.at_path("spec.finalizers") &&
                      obj.at_path("spec.finalizers")->is_array() && !obj.at_path("spec.finalizers")->as_array().empty();
    // Bound pods terminate gracefully: the kubelet finishes the deletion.
    bool graceful_pod = st->kind == "Pod" && obj.at_path("spec.nodeName") && grace.value_or(30) > 0 &&
                        obj.at_path("status.phase") &&
                        obj.at_path("status.phase")->as_string() != "Succeeded" &&
                        obj.at_path("status.phase")->as_string() != "Failed";
    if (fins.empty() && !ns_pending && !graceful_pod) {
      if (dry_run) {  // answered like the real deletion (a Status for most kinds), nothing removed
        out.ok = true;
        out.object = obj;
        out.deleted = true;
        return out;
      }
      auto res = store->remove(st->id(), key, cur->rv, obj, indexer(*st));
      if (res.status == Store::Status::Conflict)
        continue;
      if (res.status == Store::Status::NotFound) {
        out.error = not_found(rt.qualified(), rt.group, rt.plural, name);
        return out;
      }
      out.ok = true;
      out.object = parse_stored(res.object);
      out.deleted = true;
      return out;
    }
    if (deleting && !changed) {
      out.ok = true;
      out.object = obj;
      return out;  // repeated DELETEs change nothing
    }
    json::Array fa;
    for (auto& f : fins)
      fa.push_back(f);
    if (!fa.empty())
      md["finalizers"] = std::move(fa);
    if (!deleting) {
      auto now = std::chrono::system_clock::now();
      int64_t g = graceful_pod ? grace.value_or(30) : 0;
      md["deletionTimestamp"] = format_rfc3339(now + std::chrono::seconds(g));
      md["deletionGracePeriodSeconds"] = g;
      if (st->has_generation)
        md["generation"] = md.int_at("generation").value_or(0) + 1;
      if (st->kind == "Namespace")
        obj["status"]["phase"] = "Terminating";
    }
    if (dry_run) {
      out.ok = true;
      out.object = obj;
      return out;
    }
    auto res = store->update(st->id(), key, cur->rv, obj, indexer(*st));
    if (res.status == Store::Status::Conflict)
      continue;
    out.ok = true;
    out.object = parse_stored(res.object);
    return out;
  }
  out.error = conflict(rt.qualified(), rt.group, rt.plural, name, "too many concurrent writers; try again");
  return out;
}

void ApiServer::Impl::do_delete(ApiRequest& r) {
  auto& rt = *r.rt;
  DeleteOpts o;
  if (auto e = delete_opts(r, o))
    return respond_error(r.ex, *e);
  auto out = delete_object(rt, r.key(), o.propagation, o.grace, o.uid, o.rv, r.dry_run || o.dry_run);
  if (!out.ok)
    return respond_error(r.ex, out.error);
  auto* st = storage_type(rt);
  if (!out.deleted)
    return respond(r, 200, events_is_v1(rt) ? event_to_events_v1(out.object) : out.object);
  if (st->return_deleted_object)
    return respond(r, 200, out.object);
  respond(r, 200, success_status(r.name, rt.group, rt.plural, out.object.at_path("metadata.uid")
                                                                 ? out.object.at_path("metadata.uid")->as_string()
                                                                 : ""));
}

void ApiServer::Impl::do_delete_collection(ApiRequest& r) {
  auto& rt = *r.rt;
  auto* st = storage_type(rt);
  DeleteOpts o;
  if (auto e = delete_opts(r, o))
    return respond_error(r.ex, *e);
  std::string err;
  auto ls = LabelSelector::parse(r.param("labelSelector"), err);
  if (!ls)
    return respond_error(r.ex, bad_request("unable to parse requirement: " + err));
  auto page = store->list(st->id(), r.ns.empty() ? "" : r.ns + "/",
                          [&](const StoredObject& so) {
                            std::map<std::string, std::string> labels(so.labels.begin(), so.labels.end());
                            return ls->matches(labels);
                          },
                          0);
  json::Array deleted;
  for (auto& key : page.keys) {
    auto out = delete_object(rt, key, o.propagation, o.grace, "", "", r.dry_run || o.dry_run);
    if (out.ok)
      deleted.push_back(out.object);
  }
  respond(r, 200, json::Object{{"kind", rt.list_kind}, {"apiVersion", rt.group_version()},
                               {"metadata", json::Object{{"resourceVersion", std::to_string(store->current_rv())}}},
                               {"items", std::move(deleted)}});
}

// ------------------------------------------------------------------ pods/binding

void ApiServer::Impl::do_binding(ApiRequest& r) {
  auto& rt = *r.rt;
  json::Value binding;
  if (auto e = parse_body(r, binding, false))
    return respond_error(r.ex, *e);
  auto node = binding.at_path("target.name");
  if (!node || !node->is_string() || node->as_string().empty())
    return respond_error(r.ex, invalid("Binding", "", r.name, {api::required("target.name")}));
  auto node_name = node->as_string();
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    auto cur = store->get(rt.id(), r.key());
    if (!cur)
      return respond_error(r.ex, not_found(rt.qualified(), rt.group, rt.plural, r.name));
    auto pod = parse_stored(*cur);
    if (auto* nn = pod.at_path("spec.nodeName"); nn && nn->is_string() && !nn->as_string().empty())
      return respond_error(r.ex, conflict(rt.qualified(), rt.group, rt.plural, r.name,
                                          "pod " + r.name + " is already assigned to node \"" + nn->as_string() + "\""));
    if (pod.at_path("metadata.deletionTimestamp"))
      return respond_error(r.ex, conflict(rt.qualified(), rt.group, rt.plural, r.name, "pod " + r.name + " is being deleted, cannot be assigned to a host"));
    pod["spec"]["nodeName"] = node_name;
    auto& conds = pod["status"]["conditions"];
    if (!conds.is_array())
      conds = json::Array{};
    json::Array kept;
    for (auto& c : conds.as_array())
      if (c.string_or("type") != "PodScheduled")
        kept.push_back(c);
    kept.push_back(json::Object{{"type", "PodScheduled"}, {"status", "True"}, {"lastProbeTime", json::Value{}},
                                {"lastTransitionTime", now_rfc3339()}});
    conds = std::move(kept);
    if (r.dry_run)
      return respond(r, 201, success_status(r.name, "", "pods", pod.at_path("metadata.uid")->as_string()));
    auto res = store->update(rt.id(), r.key(), cur->rv, pod, indexer(rt));
    if (res.status == Store::Status::Conflict)
      continue;
    json::Object ok{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::Object{}}, {"status", "Success"}, {"code", 201}};
    return respond(r, 201, ok);
  }
  respond_error(r.ex, conflict(rt.qualified(), rt.group, rt.plural, r.name, "too many concurrent writers; try again"));
}

// ------------------------------------------------------------------ internal writes

ApiServer::Impl::WriteOutcome ApiServer::Impl::internal_update(const ResourceType& rt, const std::string& key,
                                                                const std::function<bool(json::Value&)>& mutate) {
  WriteOutcome out;
  auto* st = storage_type(rt);
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    auto cur = store->get(st->id(), key);
    if (!cur) {
      out.error = not_found(rt.qualified(), rt.group, rt.plural, key);
      return out;
    }
    auto obj = parse_stored(*cur);
    if (!mutate(obj)) {
      out.ok = true;
      out.object = obj;
      return out;
    }
    bool deleting = obj.at_path("metadata.deletionTimestamp") != nullptr;
    auto* fins = obj.at_path("metadata.finalizers");
    bool finalize = deleting && (!fins || !fins->is_array() || fins->as_array().empty()) &&
                    !(st->kind == "Namespace" && obj.at_path("spec.finalizers") &&
                      obj.at_path("spec.finalizers")->is_array() && !obj.at_path("spec.finalizers")->as_array().empty());
    auto res = finalize ? store->remove(st->id(), key, cur->rv, obj, indexer(*st))
                        : store->update(st->id(), key, cur->rv, obj, indexer(*st));
    if (res.status == Store::Status::Conflict)
      continue;
    if (res.status == Store::Status::NotFound) {
      out.error = not_found(rt.qualified(), rt.group, rt.plural, key);
      return out;
    }
    out.ok = true;
    out.deleted = finalize;
    out.object = parse_stored(res.object);
    return out;
  }
  out.error = conflict(rt.qualified(), rt.group, rt.plural, key, "too many concurrent writers");
  return out;
}

ApiServer::Impl::WriteOutcome ApiServer::Impl::internal_delete(const ResourceType& rt, const std::string& key,
                                                                const std::string& propagation) {
  return delete_object(rt, key, propagation, 0, "", "", false);
}

}  // namespace omed::apiserver

// ------------------------------------------------------------------ scale subresource

namespace omed::apiserver {

namespace {

// ".spec.replicas" -> the value there (nullptr when absent).
const json::Value* at_json_path(const json::Value& obj, const std::string& path) {
  return path.size() > 1 && path[0] == '.' ? obj.at_path(path.substr(1)) : nullptr;
}

// A label selector object as the string form Scale.status.selector carries.
std::string selector_string(const json::Value& sel) {
  std::vector<std::string> parts;
  if (auto* ml = sel.get("matchLabels"); ml && ml->is_object())
    for (auto& m : ml->as_object())
      if (m.value.is_string())
        parts.push_back(m.key + "=" + m.value.as_string());
  if (auto* me = sel.get("matchExpressions"); me && me->is_array())
    for (auto& e : me->as_array()) {
      auto op = e.string_or("operator");
      auto key = e.string_or("key");
      std::vector<std::string> vals;
      if (auto* vs = e.get("values"); vs && vs->is_array())
        for (auto& v : vs->as_array())
          if (v.is_string())
            vals.push_back(v.as_string());
      if (op == "Exists")
        parts.push_back(key);
      else if (op == "DoesNotExist")
        parts.push_back("!" + key);
      else
        parts.push_back(key + (op == "In" ? " in (" : " notin (") + str::join(vals, ",") + ")");
    }
  std::sort(parts.begin(), parts.end());
  return str::join(parts, ",");
}

}  // namespace

void ApiServer::Impl::do_scale(ApiRequest& r) {
  auto& rt = *r.rt;
  auto& sc = *rt.scale;
  auto to_scale = [&](const json::Value& obj) {
    auto& md = *obj.get("metadata");
    json::Object meta{{"name", md.string_or("name")}, {"uid", md.string_or("uid")},
                      {"resourceVersion", md.string_or("resourceVersion")},
                      {"creationTimestamp", md.string_or("creationTimestamp")}};
    if (rt.namespaced)
      meta.set("namespace", md.string_or("namespace"));
    auto* sr = at_json_path(obj, sc.spec_replicas);
    auto* str_ = at_json_path(obj, sc.status_replicas);
    json::Object status{{"replicas", str_ && str_->is_int() ? str_->as_int() : 0}};
    if (sc.label_selector.empty()) {
      if (auto* sel = obj.at_path("spec.selector"); sel && sel->is_object())
        status.set("selector", selector_string(*sel));
    } else if (auto* sel = at_json_path(obj, sc.label_selector); sel && sel->is_string()) {
      status.set("selector", sel->as_string());
    }
    return json::Value(json::Object{{"kind", "Scale"}, {"apiVersion", "autoscaling/v1"}, {"metadata", meta},
                                    {"spec", json::Object{{"replicas", sr && sr->is_int() ? sr->as_int() : 0}}},
                                    {"status", status}});
  };
  if (r.verb == "get") {
    auto cur = store->get(rt.id(), r.key());
    if (!cur)
      return respond_error(r.ex, not_found(rt.qualified(), rt.group, rt.plural, r.name));
    return respond(r, 200, to_scale(parse_stored(*cur)));
  }
  if (r.verb != "update" && r.verb != "patch")
    return respond_error(r.ex, method_not_allowed(r.http().method, "Scale"));
  json::Value body;
  if (auto e = parse_body(r, body, false))
    return respond_error(r.ex, *e);
  auto ct = content_type(r);
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    auto cur = store->get(rt.id(), r.key());
    if (!cur)
      return respond_error(r.ex, not_found(rt.qualified(), rt.group, rt.plural, r.name));
    auto obj = parse_stored(*cur);
    auto scale = to_scale(obj);
    json::Value next;
    if (r.verb == "update")
      next = body;
    else if (ct == "application/json-patch+json")
      next = json_patch(scale, body);
    else if (ct == "application/merge-patch+json" || ct == "application/strategic-merge-patch+json")
      next = merge_patch(scale, body);
    else
      return respond_error(r.ex, unsupported_media(ct, {"application/json-patch+json", "application/merge-patch+json",
                                                        "application/strategic-merge-patch+json"}));
    auto want_rv = next.at_path("metadata.resourceVersion");
    if (r.verb == "update" && want_rv && want_rv->is_string() && !want_rv->as_string().empty() &&
        want_rv->as_string() != std::to_string(cur->rv))
      return respond_error(r.ex, conflict(rt.qualified(), rt.group, rt.plural, r.name,
                                          "the object has been modified; please apply your changes to the latest "
                                          "version and try again"));
    auto* reps = next.at_path("spec.replicas");
    if (!reps || !reps->is_int() || reps->as_int() < 0)
      return respond_error(r.ex, invalid("Scale", "autoscaling", r.name,
                                         {api::invalid("spec.replicas", reps ? *reps : json::Value(),
                                                             "must be greater than or equal to 0")}));
    // Write the count where the resource keeps it, as a spec change (generation moves).
    auto path = sc.spec_replicas.substr(1);
    auto dot = path.rfind('.');
    json::Value* parent = &obj;
    for (auto& part : str::split(dot == std::string::npos ? "" : path.substr(0, dot), '.'))
      if (!part.empty())
        parent = &(*parent)[part];
    auto leaf = dot == std::string::npos ? path : path.substr(dot + 1);
    if (auto* old = parent->get(leaf); old && *old == *reps)
      return respond(r, 200, scale);
    (*parent)[leaf] = reps->as_int();
    if (rt.has_generation || !rt.builtin)
      obj["metadata"]["generation"] = obj.at_path("metadata.generation") ? obj.at_path("metadata.generation")->as_int() + 1 : 1;
    if (r.dry_run)
      return respond(r, 200, to_scale(obj));
    auto res = store->update(rt.id(), r.key(), cur->rv, obj, indexer(rt));
    if (res.status == Store::Status::Conflict)
      continue;
    return respond(r, 200, to_scale(parse_stored(res.object)));
  }
  respond_error(r.ex, conflict(rt.qualified(), rt.group, rt.plural, r.name, "too many concurrent writers; try again"));
}

}  // namespace omed::apiserver
