// Object-level rules of the API server: what is indexed for selectors, admission (metadata,
// schemas, CRD checks), server-set fields on create, Table rows, and the two Event views.
#include <algorithm>

#include "internal.hpp"
#include "omed/api/validation.hpp"
#include "omed/apiserver/table.hpp"
#include "omed/common/strings.hpp"
#include "omed/model/storage_uri.hpp"
#include "omed/schema/validator.hpp"

namespace omed::apiserver {

namespace {

std::string field_value(const json::Value& obj, const std::string& path) {
  if (path == "source") {
    auto* s = obj.at_path("source.component");
    return s && s->is_string() ? s->as_string() : "";
  }
  auto* v = obj.at_path(path);
  if (!v)
    return "";
  if (v->is_string())
    return v->as_string();
  if (v->is_bool())
    return v->as_bool() ? "true" : "false";
  if (v->is_int())
    return std::to_string(v->as_int());
  return "";
}

}  // namespace

void ApiServer::Impl::index_object(const ResourceType& rt, const json::Value& obj, StoredObject& out) const {
  out.labels.clear();
  out.fields.clear();
  if (auto* labels = obj.at_path("metadata.labels"); labels && labels->is_object()) {
    out.labels.reserve(labels->as_object().size());
    for (auto& m : labels->as_object())
      if (m.value.is_string())
        out.labels.emplace_back(m.key, m.value.as_string());
  }
  out.fields.emplace_back("metadata.name", field_value(obj, "metadata.name"));
  if (rt.namespaced)
    out.fields.emplace_back("metadata.namespace", field_value(obj, "metadata.namespace"));
  for (auto& f : rt.field_selectors)
    out.fields.emplace_back(f, field_value(obj, f));
  // For the garbage collector: who owns this object, and its own uid.
  out.fields.emplace_back("metadata.uid", field_value(obj, "metadata.uid"));
  if (auto* refs = obj.at_path("metadata.ownerReferences"); refs && refs->is_array() && !refs->as_array().empty()) {
    std::string uids;
    for (auto& ref : refs->as_array()) {
      if (!uids.empty())
        uids.push_back(',');
      uids += ref.string_or("uid");
    }
    out.fields.emplace_back("ownerReferences.uid", uids);
  }
  if (auto* dt = obj.at_path("metadata.deletionTimestamp"); dt && dt->is_string())
    out.fields.emplace_back("metadata.deletionTimestamp", dt->as_string());
}

Store::Indexer ApiServer::Impl::indexer(const ResourceType& rt) const {
  auto rtp = std::make_shared<ResourceType>(rt);
  return [this, rtp](const json::Value& obj, StoredObject& out) { index_object(*rtp, obj, out); };
}

const ResourceType* ApiServer::Impl::storage_type(const ResourceType& rt) const {
  if (rt.group == "events.k8s.io" && core_events)
    return core_events.get();
  return &rt;
}

const json::Value* ApiServer::Impl::builtin_schema(const ResourceType& rt) const {
  if (!builtin_schemas || rt.openapi_component.empty() || !builtin_schemas->has(rt.openapi_component))
    return nullptr;
  std::lock_guard<std::mutex> lk(schema_mu);
  auto it = builtin_schema_cache.find(rt.openapi_component);
  if (it == builtin_schema_cache.end())
    it = builtin_schema_cache.emplace(rt.openapi_component, builtin_schemas->resolve(rt.openapi_component)).first;
  return &it->second;
}

std::optional<ApiError> ApiServer::Impl::check_namespace(const ResourceType& rt, const std::string& ns, bool creating) {
  if (!rt.namespaced)
    return std::nullopt;
  auto ns_rt = registry.find("", "v1", "namespaces");
  auto cur = store->get(ns_rt->id(), ns);
  if (!cur)
    return not_found("namespaces", "", "namespaces", ns);
  if (creating && cur->json->find("\"deletionTimestamp\"") != std::string::npos) {
    json::Value nsobj;
    std::string err;
    if (json::try_parse(*cur->json, nsobj, err) && nsobj.at_path("metadata.deletionTimestamp"))
      return forbidden_error("unable to create new content in namespace " + ns + " because it is being terminated",
                             "", rt.plural, "");
  }
  return std::nullopt;
}

namespace {

void check_meta(const ResourceType& rt, const json::Value& obj, api::ErrorList& errs) {
  auto* md = obj.get("metadata");
  if (!md || !md->is_object()) {
    errs.push_back(api::required("metadata.name", "name or generateName is required"));
    return;
  }
  auto name = md->string_or("name");
  if (name.empty()) {
    errs.push_back(api::required("metadata.name", "name or generateName is required"));
  } else {
    bool label_names = rt.kind == "Namespace" || rt.kind == "Service";
    bool ok = label_names ? model::is_dns_label(name) : model::is_dns_subdomain(name);
    if (rt.kind == "Event" || rt.kind == "Lease" || rt.group == "rbac.authorization.k8s.io")
      ok = !name.empty() && name.size() <= 253 && name.find('/') == std::string::npos && name != "." && name != "..";
    if (!ok)
      errs.push_back(api::invalid(
        "metadata.name", name,
        label_names ? "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                      "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                      "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
                    : "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                      "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                      "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"));
  }
  if (auto* labels = md->get("labels"); labels && !labels->is_null()) {
    if (!labels->is_object()) {
      errs.push_back(api::invalid("metadata.labels", *labels, "must be an object of strings"));
    } else {
      for (auto& m : labels->as_object()) {
        if (!api::is_qualified_name(m.key))
          errs.push_back(api::invalid("metadata.labels", m.key,
                                      "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
                                      "start and end with an alphanumeric character"));
        if (!m.value.is_string() || !api::is_label_value(m.value.as_string()))
          errs.push_back(api::invalid("metadata.labels", m.value,
                                      "a valid label must be an empty string or consist of alphanumeric characters, "
                                      "'-', '_' or '.', and must start and end with an alphanumeric character"));
      }
    }
  }
  if (auto* ann = md->get("annotations"); ann && !ann->is_null()) {
    if (!ann->is_object()) {
      errs.push_back(api::invalid("metadata.annotations", *ann, "must be an object of strings"));
    } else {
      size_t total = 0;
      for (auto& m : ann->as_object()) {
        if (!api::is_qualified_name(m.key))
          errs.push_back(api::invalid("metadata.annotations", m.key, "name part must consist of alphanumeric "
                                                                     "characters, '-', '_' or '.'"));
        if (!m.value.is_string())
          errs.push_back(api::invalid("metadata.annotations", m.value, "must be a string"));
        else
          total += m.key.size() + m.value.as_string().size();
      }
      if (total > 262144)
        errs.push_back(api::too_long("metadata.annotations", "", 262144));
    }
  }
  if (auto* fins = md->get("finalizers"); fins && !fins->is_null()) {
    if (!fins->is_array())
      errs.push_back(api::invalid("metadata.finalizers", *fins, "must be a list of strings"));
    else
      for (size_t i = 0; i < fins->as_array().size(); ++i) {
        auto& f = fins->as_array()[i];
        if (!f.is_string() || !api::is_qualified_name(f.as_string()))
          errs.push_back(api::invalid("metadata.finalizers[" + std::to_string(i) + "]", f,
                                      "name part must consist of alphanumeric characters, '-', '_' or '.'"));
      }
  }
  if (auto* refs = md->get("ownerReferences"); refs && !refs->is_null()) {
    if (!refs->is_array()) {
      errs.push_back(api::invalid("metadata.ownerReferences", *refs, "must be a list"));
    } else {
      int controllers = 0;
      for (size_t i = 0; i < refs->as_array().size(); ++i) {
        auto& ref = refs->as_array()[i];
        std::string p = "metadata.ownerReferences[" + std::to_string(i) + "]";
        for (const char* k : {"apiVersion", "kind", "name", "uid"})
          if (ref.string_or(k).empty())
            errs.push_back(api::invalid(p + "." + k, ref.get(k) ? *ref.get(k) : json::Value(""), "must not be empty"));
        if (auto* c = ref.get("controller"); c && c->is_bool() && c->as_bool())
          ++controllers;
      }
      if (controllers > 1)
        errs.push_back(api::invalid("metadata.ownerReferences", *refs, "Only one reference can have Controller set to true"));
    }
  }
}

void check_crd(const json::Value& crd, api::ErrorList& errs) {
  auto* spec = crd.get("spec");
  if (!spec || !spec->is_object()) {
    errs.push_back(api::required("spec"));
    return;
  }
  auto group = spec->string_or("group");
  auto plural = spec->at_path("names.plural") ? spec->at_path("names.plural")->as_string() : "";
  auto kind = spec->at_path("names.kind") ? spec->at_path("names.kind")->as_string() : "";
  if (group.empty() || group.find('.') == std::string::npos)
    errs.push_back(api::invalid("spec.group", group, "should be a domain with at least one dot"));
  if (plural.empty())
    errs.push_back(api::required("spec.names.plural"));
  if (kind.empty())
    errs.push_back(api::required("spec.names.kind"));
  auto name = crd.at_path("metadata.name") ? crd.at_path("metadata.name")->as_string() : "";
  if (!plural.empty() && !group.empty() && name != plural + "." + group)
    errs.push_back(api::invalid("metadata.name", name, "must be spec.names.plural+\".\"+spec.group"));
  auto scope = spec->string_or("scope");
  if (scope != "Namespaced" && scope != "Cluster")
    errs.push_back(api::not_supported("spec.scope", scope, {"Cluster", "Namespaced"}));
  auto* versions = spec->get("versions");
  if (!versions || !versions->is_array() || versions->as_array().empty()) {
    errs.push_back(api::invalid("spec.versions", versions ? *versions : json::Value{}, "must have exactly one version marked as storage version"));
    return;
  }
  int storage = 0;
  for (size_t i = 0; i < versions->as_array().size(); ++i) {
    auto& v = versions->as_array()[i];
    std::string p = "spec.versions[" + std::to_string(i) + "]";
    if (auto* s = v.get("storage"); s && s->is_bool() && s->as_bool())
      ++storage;
    if (auto* schema = v.at_path("schema.openAPIV3Schema")) {
      for (auto& e : schema::check_structural(*schema, p + ".schema.openAPIV3Schema"))
        errs.push_back(e);
    } else {
      errs.push_back(api::required(p + ".schema.openAPIV3Schema", "schemas are required"));
    }
  }
  if (storage != 1)
    errs.push_back(api::invalid("spec.versions", static_cast<int64_t>(storage),
                                "must have exactly one version marked as storage version"));
}

}  // namespace

std::optional<ApiError> ApiServer::Impl::admit(const ResourceType& rt, json::Value& obj, const json::Value* old,
                                                ApiRequest* r, std::vector<std::string>& warnings) {
  (void)old;
  api::ErrorList errs;
  std::string name = obj.at_path("metadata.name") && obj.at_path("metadata.name")->is_string()
                       ? obj.at_path("metadata.name")->as_string()
                       : "";
  check_meta(rt, obj, errs);
  const json::Value* schema = rt.builtin ? builtin_schema(rt) : (rt.schema.is_null() ? nullptr : &rt.schema);
  if (schema) {
    schema::Options so;
    so.prune = true;
    so.apply_defaults = !rt.builtin;  // built-in defaults are the real server's code, not the schema's
    // The metadata of built-ins is checked above; their schema's ObjectMeta adds nothing new.
    auto res = schema::validate(obj, *schema, so);
    if (rt.builtin && !res.type_mismatches.empty()) {
      // A real server fails to decode the body into its Go struct before any validation runs.
      auto& m = res.type_mismatches.front();
      return bad_request(rt.kind + " in version \"" + rt.version + "\" cannot be handled as a " + rt.kind +
                         ": json: cannot unmarshal " + m.got + " into Go struct field " + rt.kind + "." + m.path +
                         " of type " + m.want);
    }
    for (auto& e : res.errors)
      errs.push_back(e);
    if (!res.unknown_fields.empty() && r) {
      if (r->field_validation == "Strict") {
        std::string msg;
        for (auto& u : res.unknown_fields)
          msg += (msg.empty() ? "" : ", ") + std::string("unknown field \"") + u + "\"";
        return bad_request(rt.kind + " in version \"" + rt.version + "\" cannot be handled as a " + rt.kind +
                           ": strict decoding error: " + msg);
      }
      if (r->field_validation == "Warn")
        for (auto& u : res.unknown_fields)
          warnings.push_back("unknown field \"" + u + "\"");
    }
  }
  if (rt.kind == "CustomResourceDefinition")
    check_crd(obj, errs);
  if (!errs.empty())
    return invalid(rt.kind, rt.group, name, errs);
  return std::nullopt;
}

namespace {

// The QoS class the API server stamps on a new pod: Guaranteed when every container's cpu and
// memory limits equal its requests (a missing request defaults to the limit), BestEffort when
// nothing asks for anything, Burstable otherwise.
std::string pod_qos_class(const json::Value& pod) {
  bool any = false, guaranteed = true;
  for (const char* list : {"spec.containers", "spec.initContainers"}) {
    auto* cs = pod.at_path(list);
    if (!cs || !cs->is_array())
      continue;
    for (auto& c : cs->as_array()) {
      auto* req = c.at_path("resources.requests");
      auto* lim = c.at_path("resources.limits");
      bool has_req = req && req->is_object() && !req->as_object().empty();
      bool has_lim = lim && lim->is_object() && !lim->as_object().empty();
      any = any || has_req || has_lim;
      for (const char* r : {"cpu", "memory"}) {
        auto* l = has_lim ? lim->get(r) : nullptr;
        auto* q = has_req ? req->get(r) : nullptr;
        if (!l || (q && !(*q == *l)))
          guaranteed = false;
      }
    }
  }
  if (!any)
    return "BestEffort";
  return guaranteed ? "Guaranteed" : "Burstable";
}

// DefaultTolerationSeconds: pods ride out a short node outage before they are evicted.
void add_default_tolerations(json::Value& pod, int64_t seconds) {
  if (seconds < 0)
    return;
  auto& tol = pod["spec"]["tolerations"];
  if (!tol.is_array())
    tol = json::Array{};
  for (const char* key : {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}) {
    bool present = false;
    for (auto& t : tol.as_array())
      if (t.string_or("key") == key && (t.string_or("effect").empty() || t.string_or("effect") == "NoExecute"))
        present = true;
    if (!present)
      tol.as_array().push_back(json::Object{
          {"key", key}, {"operator", "Exists"}, {"effect", "NoExecute"}, {"tolerationSeconds", seconds}});
  }
}

}  // namespace

void ApiServer::Impl::prepare_create(const ResourceType& rt, json::Value& obj) {
  auto& md = obj["metadata"];
  md.as_object().erase("resourceVersion");
  md.as_object().erase("deletionTimestamp");
  md.as_object().erase("deletionGracePeriodSeconds");
  md.as_object().erase("selfLink");
  md["uid"] = new_uid();
  md["creationTimestamp"] = now_rfc3339();
  if (rt.has_generation)
    md["generation"] = 1;
  else
    md.as_object().erase("generation");
  if (rt.has_status && !rt.builtin)
    obj.as_object().erase("status");
  if (rt.builtin) {
    if (rt.kind == "Namespace") {
      if (!obj.at_path("spec.finalizers"))
        obj["spec"]["finalizers"] = json::Array{"kubernetes"};
      obj["status"] = json::Object{{"phase", "Active"}};
    } else if (rt.kind == "Pod") {
      obj["status"] = json::Object{{"phase", "Pending"}, {"qosClass", pod_qos_class(obj)}};
      if (!obj.at_path("spec.schedulerName"))
        obj["spec"]["schedulerName"] = "default-scheduler";
      add_default_tolerations(obj, opts.default_toleration_seconds);
    } else if (rt.kind == "Service") {
      auto type = obj.at_path("spec.type") ? obj.at_path("spec.type")->as_string() : std::string("ClusterIP");
      obj["spec"]["type"] = type;
      if (!obj.at_path("spec.clusterIP") && type != "ExternalName") {
        uint32_t n = next_cluster_ip++;
        obj["spec"]["clusterIP"] = "10.96." + std::to_string((n >> 8) & 0xff) + "." + std::to_string(n & 0xff);
      }
      obj["status"] = json::Object{{"loadBalancer", json::Object{}}};
    } else if (rt.kind == "CustomResourceDefinition") {
      auto names = obj.at_path("spec.names") ? *obj.at_path("spec.names") : json::Value(json::Object{});
      if (!names.get("singular") && names.get("kind"))
        names["singular"] = str::lower(names["kind"].as_string());
      if (!names.get("listKind") && names.get("kind"))
        names["listKind"] = names["kind"].as_string() + "List";
      json::Array stored;
      if (auto* vs = obj.at_path("spec.versions"); vs && vs->is_array())
        for (auto& v : vs->as_array())
          if (auto* s = v.get("storage"); s && s->is_bool() && s->as_bool())
            stored.push_back(v.string_or("name"));
      auto now = now_rfc3339();
      obj["status"] = json::Object{
        {"acceptedNames", names},
        {"conditions", json::Array{json::Object{{"type", "NamesAccepted"}, {"status", "True"}, {"reason", "NoConflicts"},
                                                {"message", "no conflicts found"}, {"lastTransitionTime", now}},
                                   json::Object{{"type", "Established"}, {"status", "True"}, {"reason", "InitialNamesAccepted"},
                                                {"message", "the initial names have been accepted"},
                                                {"lastTransitionTime", now}}}},
        {"storedVersions", stored}};
    } else if (rt.has_status && rt.kind != "Node") {
      obj.as_object().erase("status");
    }
  }
}

bool ApiServer::Impl::spec_changed(const ResourceType& rt, const json::Value& a, const json::Value& b) const {
  auto strip = [&](const json::Value& v) {
    json::Value c = v;
    c.as_object().erase("metadata");
    if (rt.has_status)
      c.as_object().erase("status");
    return c;
  };
  return !(strip(a) == strip(b));
}

// ------------------------------------------------------------------ events: two views

json::Value ApiServer::Impl::event_to_events_v1(const json::Value& core) const {
  json::Object out{{"kind", "Event"}, {"apiVersion", "events.k8s.io/v1"}};
  out.set("metadata", core.get("metadata") ? *core.get("metadata") : json::Value(json::Object{}));
  auto copy = [&](const char* from, const char* to) {
    if (auto* v = core.get(from); v && !v->is_null())
      out.set(to, *v);
  };
  copy("eventTime", "eventTime");
  if (!out.contains("eventTime"))
    out.set("eventTime", json::Value{});
  copy("series", "series");
  copy("reportingComponent", "reportingController");
  copy("reportingInstance", "reportingInstance");
  copy("action", "action");
  copy("reason", "reason");
  copy("involvedObject", "regarding");
  copy("related", "related");
  copy("message", "note");
  copy("type", "type");
  copy("source", "deprecatedSource");
  copy("firstTimestamp", "deprecatedFirstTimestamp");
  copy("lastTimestamp", "deprecatedLastTimestamp");
  copy("count", "deprecatedCount");
  return out;
}

json::Value ApiServer::Impl::event_from_events_v1(const json::Value& ev) const {
  json::Object out{{"kind", "Event"}, {"apiVersion", "v1"}};
  out.set("metadata", ev.get("metadata") ? *ev.get("metadata") : json::Value(json::Object{}));
  auto copy = [&](const char* from, const char* to) {
    if (auto* v = ev.get(from); v && !v->is_null())
      out.set(to, *v);
  };
  copy("regarding", "involvedObject");
  copy("related", "related");
  copy("note", "message");
  copy("reason", "reason");
  copy("type", "type");
  copy("eventTime", "eventTime");
  copy("series", "series");
  copy("reportingController", "reportingComponent");
  copy("reportingInstance", "reportingInstance");
  copy("action", "action");
  copy("deprecatedSource", "source");
  copy("deprecatedFirstTimestamp", "firstTimestamp");
  copy("deprecatedLastTimestamp", "lastTimestamp");
  copy("deprecatedCount", "count");
  if (!out.contains("involvedObject"))
    out.set("involvedObject", json::Object{});
  if (auto* series = ev.get("series"); series && series->is_object() && !out.contains("count"))
    out.set("count", series->int_at("count").value_or(1));
  return out;
}

// ------------------------------------------------------------------ tables

namespace {

json::Value coldef(const char* name, const char* type, const char* desc, int priority = 0, const char* format = "") {
  json::Object c{{"name", name}, {"type", type}, {"format", format}, {"description", desc}, {"priority", priority}};
  return c;
}

std::string age_of(const json::Value& obj, std::chrono::system_clock::time_point now) {
  auto* ts = obj.at_path("metadata.creationTimestamp");
  if (!ts || !ts->is_string())
    return "<unknown>";
  auto t = parse_rfc3339(ts->as_string());
  if (!t)
    return "<unknown>";
  return human_duration(std::chrono::duration_cast<std::chrono::seconds>(now - *t));
}

const json::Value* condition(const json::Value& obj, const std::string& type) {
  auto* cs = obj.at_path("status.conditions");
  if (!cs || !cs->is_array())
    return nullptr;
  for (auto& c : cs->as_array())
    if (c.string_or("type") == type)
      return &c;
  return nullptr;
}

int64_t int_at_path(const json::Value& obj, const std::string& p) {
  auto* v = obj.at_path(p);
  return v && v->is_int() ? v->as_int() : 0;
}

}  // namespace

json::Value ApiServer::Impl::to_table(const ResourceType& rt, const std::vector<json::Value>& objs, bool headers,
                                      const std::string& rv, const std::string& cont) const {
  auto now = std::chrono::system_clock::now();
  json::Array defs;
  using CellFn = std::function<json::Array(const json::Value&)>;
  CellFn cells;
  auto name_of = [](const json::Value& o) { return o.at_path("metadata.name") ? *o.at_path("metadata.name") : json::Value(""); };
  auto name_def = coldef("Name", "string", "Name must be unique within a namespace.", 0, "name");
  if (!rt.builtin) {
    defs.push_back(name_def);
    std::vector<std::pair<Column, std::shared_ptr<JsonPath>>> cols;
    for (auto& c : rt.columns) {
      std::shared_ptr<JsonPath> jp;
      try {
        jp = std::make_shared<JsonPath>(JsonPath::compile(c.json_path));
      } catch (const std::exception&) {
      }
      cols.emplace_back(c, jp);
      defs.push_back(coldef(c.name.c_str(), c.type.c_str(), c.description.c_str(), c.priority, c.format.c_str()));
    }
    if (rt.columns.empty())
      defs.push_back(coldef("Age", "date", "Time since creation."));
    cells = [=](const json::Value& o) {
      json::Array row{name_of(o)};
      for (auto& [c, jp] : cols)
        row.push_back(jp ? table_cell(c.type, jp->eval(o), now) : json::Value{});
      if (cols.empty())
        row.push_back(age_of(o, now));
      return row;
    };
  } else if (rt.kind == "Pod") {
    for (auto d : {name_def, coldef("Ready", "string", "Ready containers"), coldef("Status", "string", "Phase or reason"),
                   coldef("Restarts", "string", "Container restarts"), coldef("Age", "string", "Age"),
                   coldef("IP", "string", "Pod IP", 1), coldef("Node", "string", "Node", 1)})
      defs.push_back(d);
    cells = [=](const json::Value& o) {
      int64_t total = 0, ready = 0, restarts = 0;
      if (auto* cs = o.at_path("spec.containers"); cs && cs->is_array())
        total = static_cast<int64_t>(cs->as_array().size());
      if (auto* st = o.at_path("status.containerStatuses"); st && st->is_array())
        for (auto& c : st->as_array()) {
          if (c.get("ready") && c.get("ready")->is_bool() && c.get("ready")->as_bool())
            ++ready;
          restarts += c.int_at("restartCount").value_or(0);
        }
      // As kubectl's printer: the pod's reason, else the last container's waiting or
      // terminated reason ("ContainerCreating", "CrashLoopBackOff", "Completed"), else the phase.
      std::string status = o.at_path("status.phase") ? o.at_path("status.phase")->as_string() : "Pending";
      if (auto* rs = o.at_path("status.reason"); rs && rs->is_string() && !rs->as_string().empty())
        status = rs->as_string();
      else if (auto* st = o.at_path("status.containerStatuses"); st && st->is_array())
        for (auto& c : st->as_array()) {
          if (auto* w = c.at_path("state.waiting.reason"); w && w->is_string() && !w->as_string().empty())
            status = w->as_string();
          else if (auto* t = c.at_path("state.terminated.reason"); t && t->is_string() && !t->as_string().empty())
            status = t->as_string();
        }
      if (o.at_path("metadata.deletionTimestamp"))
        status = "Terminating";
      auto ip = o.at_path("status.podIP") ? *o.at_path("status.podIP") : json::Value("<none>");
      auto node = o.at_path("spec.nodeName") ? *o.at_path("spec.nodeName") : json::Value("<none>");
      return json::Array{name_of(o), std::to_string(ready) + "/" + std::to_string(total), status,
                         std::to_string(restarts), age_of(o, now), ip, node};
    };
  } else if (rt.kind == "ReplicaSet") {
    for (auto d : {name_def, coldef("Desired", "integer", "Desired replicas"), coldef("Current", "integer", "Current replicas"),
                   coldef("Ready", "integer", "Ready replicas"), coldef("Age", "string", "Age")})
      defs.push_back(d);
    cells = [=](const json::Value& o) {
      int64_t want = o.at_path("spec.replicas") ? int_at_path(o, "spec.replicas") : 1;
      return json::Array{name_of(o), want, int_at_path(o, "status.replicas"), int_at_path(o, "status.readyReplicas"),
                         age_of(o, now)};
    };
  } else if (rt.kind == "Deployment" || rt.kind == "StatefulSet") {
    for (auto d : {name_def, coldef("Ready", "string", "Ready replicas"), coldef("Up-to-date", "integer", "Updated"),
                   coldef("Available", "integer", "Available"), coldef("Age", "string", "Age")})
      defs.push_back(d);
    cells = [=](const json::Value& o) {
      int64_t want = o.at_path("spec.replicas") ? int_at_path(o, "spec.replicas") : 1;
      return json::Array{name_of(o), std::to_string(int_at_path(o, "status.readyReplicas")) + "/" + std::to_string(want),
                         int_at_path(o, "status.updatedReplicas"), int_at_path(o, "status.availableReplicas"),
                         age_of(o, now)};
    };
  } else if (rt.kind == "Node") {
    for (auto d : {name_def, coldef("Status", "string", "Ready condition"), coldef("Roles", "string", "Roles"),
                   coldef("Age", "string", "Age"), coldef("Version", "string", "Kubelet version")})
      defs.push_back(d);
    cells = [=](const json::Value& o) {
      auto* c = condition(o, "Ready");
      std::string st = c && c->string_or("status") == "True" ? "Ready" : (c ? "NotReady" : "Unknown");
      if (auto* u = o.at_path("spec.unschedulable"); u && u->is_bool() && u->as_bool())
        st += ",SchedulingDisabled";
      auto ver = o.at_path("status.nodeInfo.kubeletVersion") ? *o.at_path("status.nodeInfo.kubeletVersion") : json::Value("");
      return json::Array{name_of(o), st, "<none>", age_of(o, now), ver};
    };
  } else if (rt.kind == "Namespace") {
    for (auto d : {name_def, coldef("Status", "string", "Phase"), coldef("Age", "string", "Age")})
      defs.push_back(d);
    cells = [=](const json::Value& o) {
      auto ph = o.at_path("status.phase") ? *o.at_path("status.phase") : json::Value("Active");
      return json::Array{name_of(o), ph, age_of(o, now)};
    };
  } else if (rt.kind == "ConfigMap" || rt.kind == "Secret") {
    defs.push_back(name_def);
    if (rt.kind == "Secret")
      defs.push_back(coldef("Type", "string", "Secret type"));
    defs.push_back(coldef("Data", "string", "Entries"));
    defs.push_back(coldef("Age", "string", "Age"));
    bool secret = rt.kind == "Secret";
    cells = [=](const json::Value& o) {
      int64_t n = 0;
      for (const char* f : {"data", "binaryData", "stringData"})
        if (auto* d = o.get(f); d && d->is_object())
          n += static_cast<int64_t>(d->as_object().size());
      json::Array row{name_of(o)};
      if (secret)
        row.push_back(o.string_or("type", "Opaque"));
      row.push_back(std::to_string(n));
      row.push_back(age_of(o, now));
      return row;
    };
  } else if (rt.kind == "Service") {
    for (auto d : {name_def, coldef("Type", "string", "Type"), coldef("Cluster-IP", "string", "Cluster IP"),
                   coldef("External-IP", "string", "External IPs"), coldef("Port(s)", "string", "Ports"),
                   coldef("Age", "string", "Age")})
      defs.push_back(d);
    cells = [=](const json::Value& o) {
      std::string ports;
      if (auto* ps = o.at_path("spec.ports"); ps && ps->is_array())
        for (auto& p : ps->as_array()) {
          if (!ports.empty())
            ports += ",";
          ports += std::to_string(p.int_at("port").value_or(0)) + "/" + p.string_or("protocol", "TCP");
        }
      return json::Array{name_of(o), o.at_path("spec.type") ? *o.at_path("spec.type") : json::Value("ClusterIP"),
                         o.at_path("spec.clusterIP") ? *o.at_path("spec.clusterIP") : json::Value("<none>"), "<none>",
                         ports.empty() ? "<none>" : ports, age_of(o, now)};
    };
  } else if (rt.kind == "Job") {
    for (auto d : {name_def, coldef("Completions", "string", "Succeeded/desired"), coldef("Age", "string", "Age")})
      defs.push_back(d);
    cells = [=](const json::Value& o) {
      int64_t want = o.at_path("spec.completions") ? int_at_path(o, "spec.completions") : 1;
      return json::Array{name_of(o), std::to_string(int_at_path(o, "status.succeeded")) + "/" + std::to_string(want),
                         age_of(o, now)};
    };
  } else if (rt.kind == "Event") {
    for (auto d : {coldef("Last Seen", "string", "Last seen"), coldef("Type", "string", "Type"),
                   coldef("Reason", "string", "Reason"), coldef("Object", "string", "Object"),
                   coldef("Message", "string", "Message")})
      defs.push_back(d);
    cells = [=](const json::Value& o) {
      std::string obj = (o.at_path("involvedObject.kind") ? str::lower(o.at_path("involvedObject.kind")->as_string()) : "") +
                        "/" + (o.at_path("involvedObject.name") ? o.at_path("involvedObject.name")->as_string() : "");
      std::string seen = "<unknown>";
      for (const char* f : {"lastTimestamp", "eventTime", "firstTimestamp"})
        if (auto* t = o.get(f); t && t->is_string())
          if (auto tp = parse_rfc3339(t->as_string())) {
            seen = human_duration(std::chrono::duration_cast<std::chrono::seconds>(now - *tp));
            break;
          }
      return json::Array{seen, o.string_or("type"), o.string_or("reason"), obj, o.string_or("message")};
    };
  } else if (rt.kind == "Lease") {
    for (auto d : {name_def, coldef("Holder", "string", "Holder"), coldef("Age", "string", "Age")})
      defs.push_back(d);
    cells = [=](const json::Value& o) {
      return json::Array{name_of(o), o.at_path("spec.holderIdentity") ? *o.at_path("spec.holderIdentity") : json::Value(""),
                         age_of(o, now)};
    };
  } else if (rt.kind == "CustomResourceDefinition") {
    for (auto d : {name_def, coldef("Created At", "date", "Creation time")})
      defs.push_back(d);
    cells = [=](const json::Value& o) {
      return json::Array{name_of(o), o.at_path("metadata.creationTimestamp") ? *o.at_path("metadata.creationTimestamp")
                                                                            : json::Value{}};
    };
  } else {
    defs.push_back(name_def);
    defs.push_back(coldef("Age", "string", "Age"));
    cells = [=](const json::Value& o) { return json::Array{name_of(o), age_of(o, now)}; };
  }
  json::Array rows;
  for (auto& o : objs) {
    json::Object md;
    if (auto* m = o.get("metadata"))
      md = m->as_object();
    md.erase("managedFields");
    json::Object partial{{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", md}};
    rows.push_back(json::Object{{"cells", cells(o)}, {"object", partial}});
  }
  json::Object meta{{"resourceVersion", rv}};
  if (!cont.empty())
    meta.set("continue", cont);
  json::Object table{{"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", meta}};
  if (headers)
    table.set("columnDefinitions", std::move(defs));
  else
    table.set("columnDefinitions", json::Value{});
  table.set("rows", std::move(rows));
  return table;
}

}  // namespace omed::apiserver
