// Tests for field ownership: server-side apply (create, re-apply pruning, conflicts, force,
// keyed lists, sets) and the Update bookkeeping of track_update, in kube's FieldsV1 encoding.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "omed/apiserver/apply.hpp"
#include "omed/common/json.hpp"

using namespace omed;
using apiserver::ApplyOptions;
using apiserver::ApplyResult;
using apiserver::PatchError;

namespace Catch {
template <>
struct StringMaker<json::Value> {
  static std::string convert(const json::Value& v) { return json::dump(v); }
};
}  // namespace Catch

namespace {

json::Value J(const std::string& text) { return json::parse(text); }

ApplyOptions opts(const std::string& manager, bool force = false, const std::string& time = "2024-01-01T00:00:00Z") {
  ApplyOptions o;
  o.manager = manager;
  o.force = force;
  o.api_version = "apps/v1";
  o.time = time;
  return o;
}

ApplyResult apply(const json::Value& live, const std::string& config, const ApplyOptions& o) {
  return apiserver::server_side_apply(live, J(config), o);
}

// The managedFields entry for (manager, operation), or null.
const json::Value* entry(const json::Value& obj, const std::string& manager, const std::string& op = "Apply") {
  const json::Value* mf = obj.at_path("metadata.managedFields");
  if (!mf || !mf->is_array())
    return nullptr;
  for (auto& e : mf->as_array())
    if (e.string_or("manager") == manager && e.string_or("operation") == op)
      return &e;
  return nullptr;
}

const json::Value& fields(const json::Value& obj, const std::string& manager, const std::string& op = "Apply") {
  static const json::Value none;
  const json::Value* e = entry(obj, manager, op);
  return e && e->get("fieldsV1") ? *e->get("fieldsV1") : none;
}

std::vector<std::string> managers(const json::Value& obj) {
  std::vector<std::string> out;
  if (auto* mf = obj.at_path("metadata.managedFields"))
    for (auto& e : mf->as_array())
      out.push_back(e.string_or("manager") + "/" + e.string_or("operation"));
  return out;
}

std::vector<std::string> conflict_list(const ApplyResult& r) {
  std::vector<std::string> out;
  for (auto& c : r.conflicts)
    out.push_back(c.manager + " " + c.field);
  return out;
}

const std::string kDeploy = R"({"apiVersion":"apps/v1","kind":"Deployment",
  "metadata":{"name":"web","namespace":"default","labels":{"app":"web","tier":"front"}},
  "spec":{"replicas":3,"template":{"spec":{"containers":[
    {"name":"app","image":"app:1","env":[{"name":"A","value":"1"}]}]}}}})";

}  // namespace

TEST_CASE("apply creates the object and records exactly the applied fields", "[apply]") {
  auto r = apply(nullptr, kDeploy, opts("kubectl"));
  REQUIRE(r.conflicts.empty());
  const auto& obj = r.object;
  CHECK(obj.string_or("kind") == "Deployment");
  CHECK(*obj.at_path("metadata.name") == J(R"("web")"));
  CHECK(*obj.at_path("metadata.namespace") == J(R"("default")"));
  CHECK(*obj.at_path("spec.replicas") == J("3"));
  const json::Value* e = entry(obj, "kubectl");
  REQUIRE(e);
  CHECK(e->string_or("apiVersion") == "apps/v1");
  CHECK(e->string_or("time") == "2024-01-01T00:00:00Z");
  CHECK(e->string_or("fieldsType") == "FieldsV1");
  CHECK_FALSE(e->get("subresource"));
  // Identity fields (apiVersion, kind, name, namespace) are not owned by anyone.
  CHECK(fields(obj, "kubectl") == J(R"({
    "f:metadata":{"f:labels":{"f:app":{},"f:tier":{}}},
    "f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{
      "k:{\"name\":\"app\"}":{".":{},"f:env":{"k:{\"name\":\"A\"}":{".":{},"f:name":{},"f:value":{}}},
                              "f:image":{},"f:name":{}}}}}}})"));
  // FieldsV1 is written with "." first and keys sorted.
  CHECK(json::dump(*e->get("fieldsV1")).rfind(R"({"f:metadata":{"f:labels":{"f:app":{},"f:tier":{}}},"f:spec":)", 0) == 0);
}

TEST_CASE("apply with the same configuration is a no-op that keeps the entry's time", "[apply]") {
  auto first = apply(nullptr, kDeploy, opts("kubectl", false, "2024-01-01T00:00:00Z")).object;
  auto again = apply(first, kDeploy, opts("kubectl", false, "2024-06-01T00:00:00Z"));
  CHECK(again.conflicts.empty());
  CHECK(again.object == first);
  CHECK(entry(again.object, "kubectl")->string_or("time") == "2024-01-01T00:00:00Z");
}

TEST_CASE("re-applying without a field removes it when nobody else owns it", "[apply]") {
  auto live = apply(nullptr, kDeploy, opts("kubectl")).object;
  auto r = apply(live, R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default",
      "labels":{"app":"web"}},"spec":{"template":{"spec":{"containers":[{"name":"app","image":"app:2"}]}}}})",
                 opts("kubectl", false, "2024-01-02T00:00:00Z"));
  REQUIRE(r.conflicts.empty());
  CHECK(*r.object.at_path("metadata.labels") == J(R"({"app":"web"})"));
  CHECK_FALSE(r.object.at_path("spec.replicas"));
  // The env list existed only for A; the whole list goes, not just the element.
  CHECK(*r.object.at_path("spec.template.spec.containers") == J(R"([{"name":"app","image":"app:2"}])"));
  CHECK(fields(r.object, "kubectl") == J(R"({"f:metadata":{"f:labels":{"f:app":{}}},
    "f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{},"f:name":{}}}}}}})"));
  CHECK(entry(r.object, "kubectl")->string_or("time") == "2024-01-02T00:00:00Z");
}

TEST_CASE("re-applying without a nested map removes the map that only held it", "[apply]") {
  auto live = apply(nullptr, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},
                                 "data":{"a":"1"},"extra":{"deep":{"x":1}}})", opts("m")).object;
  auto r = apply(live, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"1"}})", opts("m"));
  CHECK(r.object == J(R"({"apiVersion":"v1","kind":"ConfigMap","data":{"a":"1"},"metadata":{"name":"c",
     "managedFields":[{"manager":"m","operation":"Apply","apiVersion":"apps/v1","time":"2024-01-01T00:00:00Z",
                       "fieldsType":"FieldsV1","fieldsV1":{"f:data":{"f:a":{}}}}]}})"));
  // Fields nobody applied (set by an update) survive a re-apply.
  auto updated = live;
  updated["data"]["b"] = "2";
  updated = apiserver::track_update(live, updated, "editor", "v1", "2024-01-01T00:00:01Z", "");
  r = apply(updated, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}})", opts("m"));
  CHECK(*r.object.get("data") == J(R"({"b":"2"})"));
  CHECK(managers(r.object) == std::vector<std::string>{"editor/Update"});
}

TEST_CASE("shared ownership: equal values do not conflict and survive one owner leaving", "[apply]") {
  auto live = apply(nullptr, kDeploy, opts("alice")).object;
  auto r = apply(live, R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":3}})",
                 opts("bob"));
  REQUIRE(r.conflicts.empty());
  CHECK(fields(r.object, "bob") == J(R"({"f:spec":{"f:replicas":{}}})"));
  CHECK(fields(r.object, "alice").at_path("f:spec.f:replicas"));
  // Alice stops applying replicas: Bob still owns it, so the value stays.
  auto dropped = apply(r.object, R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
      "spec":{"template":{"spec":{"containers":[{"name":"app","image":"app:1"}]}}}})", opts("alice"));
  REQUIRE(dropped.conflicts.empty());
  CHECK(*dropped.object.at_path("spec.replicas") == J("3"));
  CHECK_FALSE(dropped.object.at_path("metadata.labels"));
}

TEST_CASE("two appliers: a different value conflicts (409), force takes the field over", "[apply]") {
  auto live = apply(nullptr, kDeploy, opts("alice")).object;
  const std::string mine = R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":5}})";
  auto refused = apply(live, mine, opts("bob"));
  CHECK(conflict_list(refused) == std::vector<std::string>{"alice .spec.replicas"});
  CHECK(refused.object == live);

  auto forced = apply(live, mine, opts("bob", true, "2024-01-03T00:00:00Z"));
  CHECK(forced.conflicts.empty());
  CHECK(*forced.object.at_path("spec.replicas") == J("5"));
  CHECK(fields(forced.object, "bob") == J(R"({"f:spec":{"f:replicas":{}}})"));
  CHECK_FALSE(fields(forced.object, "alice").at_path("f:spec.f:replicas"));
  CHECK(fields(forced.object, "alice").at_path("f:metadata.f:labels"));
  // Alice still has replicas: 3 in her configuration, and now conflicts with Bob.
  auto back = apply(forced.object, kDeploy, opts("alice"));
  CHECK(conflict_list(back) == std::vector<std::string>{"bob .spec.replicas"});
}

TEST_CASE("an update manager's field conflicts with an applier until forced", "[apply]") {
  auto live = apply(nullptr, kDeploy, opts("kubectl")).object;
  // An autoscaler PUTs replicas: 7.
  auto scaled = live;
  scaled["spec"]["replicas"] = 7;
  scaled = apiserver::track_update(live, scaled, "hpa", "apps/v1", "2024-01-02T00:00:00Z", "");
  CHECK(fields(scaled, "hpa", "Update") == J(R"({"f:spec":{"f:replicas":{}}})"));
  CHECK_FALSE(fields(scaled, "kubectl").at_path("f:spec.f:replicas"));

  auto refused = apply(scaled, kDeploy, opts("kubectl"));
  CHECK(conflict_list(refused) == std::vector<std::string>{"hpa .spec.replicas"});
  // Leaving replicas out of the configuration is how an applier hands the field over.
  auto handed = apply(scaled, R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default",
      "labels":{"app":"web","tier":"front"}},"spec":{"template":{"spec":{"containers":[
      {"name":"app","image":"app:1","env":[{"name":"A","value":"1"}]}]}}}})", opts("kubectl"));
  REQUIRE(handed.conflicts.empty());
  CHECK(*handed.object.at_path("spec.replicas") == J("7"));
  // Forcing takes it back and leaves the updater with nothing, so its entry disappears.
  auto forced = apply(scaled, kDeploy, opts("kubectl", true));
  CHECK(*forced.object.at_path("spec.replicas") == J("3"));
  CHECK_FALSE(entry(forced.object, "hpa", "Update"));
}

TEST_CASE("keyed lists: containers are owned per element and conflicts name the element", "[apply]") {
  auto live = apply(nullptr, kDeploy, opts("alice")).object;
  auto r = apply(live, R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
      "spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"side:1"}]}}}})", opts("bob"));
  REQUIRE(r.conflicts.empty());
  auto& cs = r.object.at_path("spec.template.spec.containers")->as_array();
  REQUIRE(cs.size() == 2);
  CHECK(cs[0].string_or("name") == "app");
  CHECK(cs[1].string_or("name") == "sidecar");
  CHECK(fields(r.object, "bob") == J(R"({"f:spec":{"f:template":{"f:spec":{"f:containers":{
      "k:{\"name\":\"sidecar\"}":{".":{},"f:image":{},"f:name":{}}}}}}})"));

  auto clash = apply(r.object, R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
      "spec":{"template":{"spec":{"containers":[{"name":"app","image":"app:9","env":[{"name":"A","value":"2"}]}]}}}})",
                     opts("bob"));
  CHECK(conflict_list(clash) == std::vector<std::string>{
                                    R"(alice .spec.template.spec.containers[name="app"].env[name="A"].value)",
                                    R"(alice .spec.template.spec.containers[name="app"].image)"});
  // Bob drops his sidecar: the element goes; Alice's container is untouched.
  auto gone = apply(r.object, R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"paused":true}})",
                    opts("bob"));
  REQUIRE(gone.conflicts.empty());
  CHECK(gone.object.at_path("spec.template.spec.containers")->as_array().size() == 1);
  CHECK(*gone.object.at_path("spec.paused") == J("true"));
}

TEST_CASE("keyed lists: an element another manager co-owns is kept when one owner drops it", "[apply]") {
  auto live = apply(nullptr, kDeploy, opts("alice")).object;
  auto both = apply(live, R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
      "spec":{"template":{"spec":{"containers":[{"name":"app","resources":{"limits":{"cpu":"1"}}}]}}}})", opts("bob"));
  REQUIRE(both.conflicts.empty());
  auto r = apply(both.object, R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":3}})",
                 opts("alice"));
  REQUIRE(r.conflicts.empty());
  // Bob owns the element (and its name); Alice's image and env go away.
  CHECK(*r.object.at_path("spec.template.spec.containers") == J(R"([{"name":"app","resources":{"limits":{"cpu":"1"}}}])"));
}

TEST_CASE("atomic lists are owned and compared as a whole", "[apply]") {
  const std::string a = R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
      "spec":{"template":{"spec":{"tolerations":[{"key":"a","operator":"Exists"}]}}}})";
  auto live = apply(nullptr, a, opts("alice")).object;
  CHECK(fields(live, "alice") == J(R"({"f:spec":{"f:template":{"f:spec":{"f:tolerations":{}}}}})"));
  auto r = apply(live, R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
      "spec":{"template":{"spec":{"tolerations":[{"key":"b","operator":"Exists"}]}}}})", opts("bob"));
  CHECK(conflict_list(r) == std::vector<std::string>{"alice .spec.template.spec.tolerations"});
  auto same = apply(live, a, opts("bob"));
  CHECK(same.conflicts.empty());
}

TEST_CASE("set lists: finalizers merge as members, each owned by who added it", "[apply]") {
  auto live = apply(nullptr, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","finalizers":["a.io/x"]}})",
                    opts("alice")).object;
  auto r = apply(live, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","finalizers":["b.io/y"]}})",
                 opts("bob"));
  REQUIRE(r.conflicts.empty());
  CHECK(*r.object.at_path("metadata.finalizers") == J(R"(["a.io/x","b.io/y"])"));
  CHECK(fields(r.object, "alice") == J(R"({"f:metadata":{"f:finalizers":{"v:\"a.io/x\"":{}}}})"));
  CHECK(fields(r.object, "bob") == J(R"({"f:metadata":{"f:finalizers":{"v:\"b.io/y\"":{}}}})"));
  auto dropped = apply(r.object, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"l":"1"}}})",
                       opts("alice"));
  CHECK(*dropped.object.at_path("metadata.finalizers") == J(R"(["b.io/y"])"));
}

TEST_CASE("apply uses the caller's list semantics for custom resources", "[apply]") {
  ApplyOptions o = opts("op");
  o.lists = [](const std::vector<std::string>& path) {
    apiserver::ListStrategy s;
    if (path == std::vector<std::string>{"spec", "workers"})
      s.merge_key = "id";
    return s;
  };
  auto live = apiserver::server_side_apply(nullptr, J(R"({"apiVersion":"x.io/v1","kind":"Pool","metadata":{"name":"p"},
      "spec":{"workers":[{"id":1,"gpu":"a"},{"id":2,"gpu":"b"}]}})"), o).object;
  CHECK(fields(live, "op") == J(R"({"f:spec":{"f:workers":{"k:{\"id\":1}":{".":{},"f:gpu":{},"f:id":{}},
                                                          "k:{\"id\":2}":{".":{},"f:gpu":{},"f:id":{}}}}})"));
  // A controller edits one worker with a plain update: no lookup is passed, yet the change is
  // recorded per element because the applier's entry says the list is keyed by "id".
  auto edited = live;
  edited["spec"]["workers"].as_array()[1]["gpu"] = "c";
  edited = apiserver::track_update(live, edited, "ctrl", "x.io/v1", "2024-01-02T00:00:00Z", "");
  CHECK(fields(edited, "ctrl", "Update") == J(R"({"f:spec":{"f:workers":{"k:{\"id\":2}":{"f:gpu":{}}}}})"));
  CHECK(fields(edited, "op") == J(R"({"f:spec":{"f:workers":{"k:{\"id\":1}":{".":{},"f:gpu":{},"f:id":{}},
                                                            "k:{\"id\":2}":{".":{},"f:id":{}}}}})"));
  auto clash = apiserver::server_side_apply(edited, J(R"({"apiVersion":"x.io/v1","kind":"Pool","metadata":{"name":"p"},
      "spec":{"workers":[{"id":1,"gpu":"a"},{"id":2,"gpu":"b"}]}})"), o);
  CHECK(conflict_list(clash) == std::vector<std::string>{"ctrl .spec.workers[id=2].gpu"});
}

TEST_CASE("apply rejects configurations it cannot track", "[apply]") {
  auto code = [](const json::Value& live, const std::string& cfg) {
    try {
      apiserver::server_side_apply(live, J(cfg), opts("m"));
    } catch (const PatchError& e) {
      return e.code();
    }
    return 0;
  };
  CHECK(code(nullptr, "[1]") == 400);
  CHECK(code(J("[]"), R"({"kind":"Pod"})") == 422);
  CHECK(code(nullptr, R"({"kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"image":"x"}]}})") == 422);
  CHECK(code(nullptr, R"({"kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a"},{"name":"a"}]}})") ==
        422);
  CHECK(code(nullptr, R"({"kind":"Pod","metadata":{"name":"p"},"spec":{"containers":["a"]}})") == 422);
}

TEST_CASE("apply ignores server-set metadata and nulls in the configuration", "[apply]") {
  auto r = apply(nullptr, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","uid":"u","generation":4,
      "managedFields":[{"manager":"evil","operation":"Apply","fieldsV1":{"f:data":{}}}]},"data":{"a":"1","b":null}})",
                 opts("m"));
  CHECK_FALSE(r.object.at_path("metadata.uid"));
  CHECK_FALSE(r.object.at_path("metadata.generation"));
  CHECK(*r.object.get("data") == J(R"({"a":"1"})"));
  CHECK(managers(r.object) == std::vector<std::string>{"m/Apply"});
  CHECK(fields(r.object, "m") == J(R"({"f:data":{"f:a":{}}})"));
  // resourceVersion passes through, untracked, for the caller to check as a precondition.
  auto live = r.object;
  live["metadata"]["resourceVersion"] = "7";
  auto stale = apply(live, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","resourceVersion":"5"}})", opts("m"));
  CHECK(*stale.object.at_path("metadata.resourceVersion") == J(R"("5")"));
  CHECK(fields(stale.object, "m") == J("null"));
}

TEST_CASE("apply to the status subresource records a separate entry", "[apply]") {
  auto live = apply(nullptr, kDeploy, opts("kubectl")).object;
  ApplyOptions o = opts("kubectl");
  o.subresource = "status";
  auto r = apiserver::server_side_apply(live, J(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
      "status":{"conditions":[{"type":"Available","status":"True"}]}})"), o);
  REQUIRE(r.conflicts.empty());
  auto* mf = r.object.at_path("metadata.managedFields");
  REQUIRE(mf->as_array().size() == 2);
  const json::Value& status_entry = mf->as_array()[1];
  CHECK(status_entry.string_or("subresource") == "status");
  CHECK(*status_entry.get("fieldsV1") == J(R"({"f:status":{"f:conditions":{"k:{\"type\":\"Available\"}":
      {".":{},"f:status":{},"f:type":{}}}}})"));
  // The main-resource entry still owns the spec.
  CHECK(mf->as_array()[0].at_path("fieldsV1.f:spec"));
}

TEST_CASE("managedFields are ordered: Apply before Update, then by time and manager", "[apply]") {
  auto live = apply(nullptr, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"z":"1"}})",
                    opts("zed", false, "2024-01-01T00:00:05Z")).object;
  live = apply(live, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"y":"1"}})",
               opts("amy", false, "2024-01-01T00:00:05Z")).object;
  auto edited = live;
  edited["data"]["x"] = "1";
  edited = apiserver::track_update(live, edited, "early", "v1", "2024-01-01T00:00:01Z", "");
  live = apply(edited, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"w":"1"}})",
               opts("bea", false, "2024-01-01T00:00:02Z")).object;
  CHECK(managers(live) == std::vector<std::string>{"bea/Apply", "amy/Apply", "zed/Apply", "early/Update"});
}

TEST_CASE("track_update: creation gives every field to the creator", "[apply]") {
  auto created = apiserver::track_update(nullptr, J(kDeploy), "kubectl-create", "apps/v1", "2024-01-01T00:00:00Z", "");
  const json::Value* e = entry(created, "kubectl-create", "Update");
  REQUIRE(e);
  CHECK(e->string_or("time") == "2024-01-01T00:00:00Z");
  CHECK(*e->get("fieldsV1") == J(R"({
    "f:metadata":{"f:labels":{"f:app":{},"f:tier":{}}},
    "f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{
      "k:{\"name\":\"app\"}":{".":{},"f:env":{"k:{\"name\":\"A\"}":{".":{},"f:name":{},"f:value":{}}},
                              "f:image":{},"f:name":{}}}}}}})"));
  // The object itself is unchanged apart from managedFields.
  auto plain = created;
  plain["metadata"].as_object().erase("managedFields");
  CHECK(plain == J(kDeploy));
}

TEST_CASE("track_update: changed fields move to the updater, removed ones leave every entry", "[apply]") {
  auto live = apply(nullptr, kDeploy, opts("kubectl")).object;
  auto next = live;
  auto& c = next["spec"]["template"]["spec"]["containers"].as_array()[0];
  c["image"] = "app:2";
  c.as_object().erase("env");
  next["metadata"]["labels"].as_object().erase("tier");
  next["metadata"]["annotations"]["note"] = "x";
  auto out = apiserver::track_update(live, next, "ctrl", "apps/v1", "2024-02-01T00:00:00Z", "");
  CHECK(fields(out, "ctrl", "Update") == J(R"({"f:metadata":{"f:annotations":{"f:note":{}}},
    "f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{"f:image":{}}}}}}})"));
  CHECK(fields(out, "kubectl") == J(R"({"f:metadata":{"f:labels":{"f:app":{}}},
    "f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:name":{}}}}}}})"));
  // A second update by the same manager merges into its entry.
  auto again = out;
  again["spec"]["replicas"] = 4;
  again = apiserver::track_update(out, again, "ctrl", "apps/v1", "2024-02-02T00:00:00Z", "");
  CHECK(fields(again, "ctrl", "Update").at_path("f:metadata.f:annotations.f:note"));
  CHECK(fields(again, "ctrl", "Update").at_path("f:spec.f:replicas"));
  CHECK(entry(again, "ctrl", "Update")->string_or("time") == "2024-02-02T00:00:00Z");
  CHECK_FALSE(fields(again, "kubectl").at_path("f:spec.f:replicas"));
}

TEST_CASE("track_update: no change records nothing; replaced subtrees lose their owners", "[apply]") {
  auto live = apply(nullptr, kDeploy, opts("kubectl")).object;
  CHECK(apiserver::track_update(live, live, "noop", "apps/v1", "t", "") == live);
  // Echoed managedFields and omitted managedFields both mean "unchanged".
  auto stripped = live;
  stripped["metadata"].as_object().erase("managedFields");
  CHECK(apiserver::track_update(live, stripped, "noop", "apps/v1", "t", "") == live);
  // A map replaced by a scalar takes everything owned inside it away from its owners.
  auto next = live;
  next["spec"]["template"] = "gone";
  auto out = apiserver::track_update(live, next, "vandal", "apps/v1", "t", "status");
  CHECK(fields(out, "kubectl") == J(R"({"f:metadata":{"f:labels":{"f:app":{},"f:tier":{}}},"f:spec":{"f:replicas":{}}})"));
  CHECK(fields(out, "vandal", "Update") == J(R"({"f:spec":{"f:template":{}}})"));
  CHECK(entry(out, "vandal", "Update")->string_or("subresource") == "status");
}

TEST_CASE("track_update: a client rewriting managedFields replaces them", "[apply]") {
  auto live = apply(nullptr, kDeploy, opts("kubectl")).object;
  auto next = live;
  next["metadata"]["managedFields"] = J(R"([{"manager":"imported","operation":"Apply","apiVersion":"apps/v1",
      "fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:replicas":{}}}}])");
  auto out = apiserver::track_update(live, next, "kubectl-edit", "apps/v1", "t", "");
  CHECK(managers(out) == std::vector<std::string>{"imported/Apply"});
}
