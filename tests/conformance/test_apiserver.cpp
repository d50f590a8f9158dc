// The embedded API server against the conformance checklist (shared/reference/k8s-api.md §4.1,
// S1-S54), over loopback HTTP with real requests. kubectl-driven items live in
// tests/integration/test_kubectl.cpp.
#include <catch2/catch.hpp>

#include <map>
#include <sstream>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "omed/apiserver/server.hpp"
#include "../support/api_client.hpp"
#include "../support/test_env.hpp"

using namespace omed;
using namespace omed::testing;

namespace {

const char* kToken = "conformance-test-token";

struct Server {
  std::unique_ptr<apiserver::ApiServer> srv;
  std::unique_ptr<ApiClient> c;
  explicit Server(size_t history = 200000, std::chrono::milliseconds bookmarks = std::chrono::milliseconds(60000)) {
    apiserver::ApiServerOptions o;
    o.tls = false;
    o.token = kToken;
    o.history_limit = history;
    o.bookmark_interval = bookmarks;
    srv = std::make_unique<apiserver::ApiServer>(o);
    srv->start();
    c = std::make_unique<ApiClient>(srv->port(), kToken);
  }
  explicit Server(apiserver::ApiServerOptions o) {
    o.tls = false;
    o.token = kToken;
    srv = std::make_unique<apiserver::ApiServer>(o);
    srv->start();
    c = std::make_unique<ApiClient>(srv->port(), kToken);
  }
  ~Server() { srv->stop(); }
  ApiClient& cl() { return *c; }
  WatchReader watch(const std::string& target, std::vector<std::pair<std::string, std::string>> h = {}) {
    return WatchReader(srv->port(), kToken, target, h);
  }
};

// A small CRD like the captures' basemodels.ome.io: namespaced, status subresource, two columns.
json::Value widget_crd(bool status = true) {
  auto crd = json::parse(R"({
    "apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
    "metadata":{"name":"widgets.example.com"},
    "spec":{"group":"example.com","scope":"Namespaced",
      "names":{"plural":"widgets","singular":"widget","kind":"Widget","shortNames":["wd"]},
      "versions":[{"name":"v1","served":true,"storage":true,
        "additionalPrinterColumns":[{"name":"Size","type":"integer","jsonPath":".spec.size"},
                                    {"name":"Phase","type":"string","jsonPath":".status.phase"}],
        "schema":{"openAPIV3Schema":{"type":"object","properties":{
          "spec":{"type":"object","required":["size"],"properties":{
            "size":{"type":"integer","minimum":0},
            "color":{"type":"string","enum":["red","blue"],"default":"red"},
            "tags":{"type":"array","items":{"type":"string"}},
            "labels":{"type":"object","additionalProperties":{"type":"string"}}}},
          "status":{"type":"object","properties":{"phase":{"type":"string"}}}}}}}]}})");
  if (!status)
    crd["spec"]["versions"].as_array()[0].as_object().erase("subresources");
  else
    crd["spec"]["versions"].as_array()[0]["subresources"] = json::Object{{"status", json::Object{}}};
  return crd;
}

void install_crd(Server& s, bool status = true) {
  auto r = s.cl().post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", widget_crd(status));
  REQUIRE(r.status == 201);
}

json::Value widget(const std::string& name, int size) {
  return json::Object{{"apiVersion", "example.com/v1"}, {"kind", "Widget"},
                      {"metadata", json::Object{{"name", name}}}, {"spec", json::Object{{"size", size}}}};
}

json::Value configmap(const std::string& name, json::Object data = {{"a", "1"}}) {
  return json::Object{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", json::Object{{"name", name}}},
                      {"data", data}};
}

const std::string W = "/apis/example.com/v1/namespaces/default/widgets";
const std::string CM = "/api/v1/namespaces/default/configmaps";

std::string rv_of(const json::Value& v) { return v.at_path("metadata.resourceVersion")->as_string(); }

void check_status(const HttpResult& r, int code, const std::string& reason) {
  INFO(r.body);
  CHECK(r.status == code);
  auto v = r.json();
  CHECK(v.string_or("kind") == "Status");
  CHECK(v.string_or("apiVersion") == "v1");
  CHECK(v.string_or("status") == "Failure");
  CHECK(v.string_or("reason") == reason);
  CHECK(v.int_at("code") == code);
  CHECK(r.header("content-type") == "application/json");
}

}  // namespace

// ------------------------------------------------------------------ discovery

TEST_CASE("S1: /version claims 1.32 and is public", "[apiserver]") {
  Server s;
  auto r = s.cl().request("GET", "/version", "", "", {}, false);
  REQUIRE(r.status == 200);
  auto v = r.json();
  CHECK(v.string_or("major") == "1");
  CHECK(v.string_or("minor") == "32");
  CHECK(v.string_or("gitVersion").rfind("v1.32", 0) == 0);
  CHECK(v.string_or("platform") == "linux/amd64");
}

TEST_CASE("S2, S4: /api aggregated and legacy", "[apiserver]") {
  Server s;
  auto agg = s.cl().get("/api", {{"Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"}});
  REQUIRE(agg.status == 200);
  CHECK(agg.header("content-type") == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
  auto v = agg.json();
  CHECK(v.string_or("kind") == "APIGroupDiscoveryList");
  auto& g = v.get("items")->as_array()[0];
  CHECK(g.at_path("metadata.name")->as_string() == "");
  CHECK(g.get("versions")->as_array()[0].string_or("version") == "v1");
  bool pods_binding = false;
  for (auto& res : g.get("versions")->as_array()[0].get("resources")->as_array())
    if (res.string_or("resource") == "pods")
      for (auto& sub : res.get("subresources")->as_array())
        pods_binding = pods_binding || sub.string_or("subresource") == "binding";
  CHECK(pods_binding);
  auto legacy = s.cl().get("/api", {{"Accept", "application/json"}});
  REQUIRE(legacy.status == 200);
  auto l = legacy.json();
  CHECK(l.string_or("kind") == "APIVersions");
  CHECK(l.get("versions")->as_array()[0].as_string() == "v1");
  CHECK(l.get("serverAddressByClientCIDRs")->as_array().size() == 1);
}

TEST_CASE("S3: /apis aggregated and legacy with preferredVersion, CRDs included", "[apiserver]") {
  Server s;
  install_crd(s);
  auto agg = s.cl().get("/apis", {{"Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"}}).json();
  std::set<std::string> groups;
  for (auto& g : agg.get("items")->as_array())
    groups.insert(g.at_path("metadata.name")->as_string());
  CHECK(groups.count("apiextensions.k8s.io"));
  CHECK(groups.count("apps"));
  CHECK(groups.count("example.com"));
  auto legacy = s.cl().get("/apis").json();
  CHECK(legacy.string_or("kind") == "APIGroupList");
  bool found = false;
  for (auto& g : legacy.get("groups")->as_array())
    if (g.string_or("name") == "example.com") {
      found = true;
      CHECK(g.at_path("preferredVersion.groupVersion")->as_string() == "example.com/v1");
    }
  CHECK(found);
}

TEST_CASE("S5: APIResourceList per group-version, status entries, unknown GV 404", "[apiserver]") {
  Server s;
  auto v = s.cl().get("/api/v1").json();
  CHECK(v.string_or("kind") == "APIResourceList");
  CHECK(v.string_or("groupVersion") == "v1");
  std::set<std::string> names;
  for (auto& r : v.get("resources")->as_array()) {
    names.insert(r.string_or("name"));
    if (r.string_or("name") == "configmaps") {
      CHECK(r.string_or("singularName") == "configmap");
      CHECK(r.get("namespaced")->as_bool());
      CHECK(r.string_or("kind") == "ConfigMap");
      CHECK(r.get("shortNames")->as_array()[0].as_string() == "cm");
      CHECK(r.get("verbs")->as_array().size() == 8);
    }
  }
  CHECK(names.count("pods/status"));
  CHECK(names.count("pods/binding"));
  CHECK(s.cl().get("/apis/apps/v1").json().string_or("groupVersion") == "apps/v1");
  check_status(s.cl().get("/apis/nope.example.com/v9"), 404, "NotFound");
}

TEST_CASE("S6: a created CRD is served at once; deleting it removes it", "[apiserver]") {
  Server s;
  auto r = s.cl().post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", widget_crd());
  REQUIRE(r.status == 201);
  auto crd = r.json();
  bool established = false;
  for (auto& c : crd.at_path("status.conditions")->as_array())
    established = established || (c.string_or("type") == "Established" && c.string_or("status") == "True");
  CHECK(established);
  CHECK(s.cl().get(W).status == 200);
  CHECK(s.cl().get("/apis/example.com/v1").status == 200);
  REQUIRE(s.cl().post(W, widget("w1", 1)).status == 201);
  auto d = s.cl().del("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com");
  REQUIRE(d.status == 200);
  for (int i = 0; i < 100 && s.cl().get(W).status == 200; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  check_status(s.cl().get(W), 404, "NotFound");
  CHECK(s.cl().get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com").status == 404);
}

TEST_CASE("S8: OpenAPI v3 root and per-group documents with patch operations", "[apiserver]") {
  Server s;
  install_crd(s);
  auto root = s.cl().get("/openapi/v3").json();
  auto* core = root.at_path("paths")->get("api/v1");
  REQUIRE(core);
  auto url = core->string_or("serverRelativeURL");
  CHECK(url.rfind("/openapi/v3/api/v1?hash=", 0) == 0);
  REQUIRE(root.at_path("paths")->get("apis/example.com/v1"));
  auto doc = s.cl().get(url).json();
  auto* cm = doc.at_path("paths")->get("/api/v1/namespaces/{namespace}/configmaps/{name}");
  REQUIRE(cm);
  CHECK(cm->at_path("patch.x-kubernetes-group-version-kind.kind")->as_string() == "ConfigMap");
  bool fv = false;
  for (auto& p : cm->at_path("patch.parameters")->as_array())
    fv = fv || p.string_or("name") == "fieldValidation";
  CHECK(fv);
  auto wdoc = s.cl().get("/openapi/v3/apis/example.com/v1").json();
  CHECK(wdoc.at_path("components.schemas")->get("com.example.v1.Widget"));
}

TEST_CASE("S9, S53: unknown paths and every error are Status objects", "[apiserver]") {
  Server s;
  auto r = s.cl().get("/apis/nope/v1/things");
  check_status(r, 404, "NotFound");
  CHECK(r.json().string_or("message") == "the server could not find the requested resource");
  check_status(s.cl().get("/api/v1/namespaces/default/configmaps/missing"), 404, "NotFound");
  check_status(s.cl().request("GET", "/api/v1/namespaces", "", "", {}, false), 401, "Unauthorized");
  check_status(s.cl().request("GET", "/api/v1/namespaces", "", "", {{"Authorization", "Bearer wrong"}}, false), 401, "Unauthorized");
  check_status(s.cl().request("POST", CM, "{not json"), 400, "BadRequest");
  {
    // The server refuses a too-large body as soon as it sees Content-Length.
    RawConn c(s.srv->port());
    c.send("POST " + CM + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(kToken) +
           "\r\nContent-Type: application/json\r\nContent-Length: 4194304\r\n\r\n{");
    check_status(ApiClient::parse(c.read_response()), 413, "RequestEntityTooLarge");
  }
}

// ------------------------------------------------------------------ CRUD

TEST_CASE("S10: create sets uid, creationTimestamp, resourceVersion, generation where due", "[apiserver]") {
  Server s;
  install_crd(s);
  auto w = s.cl().post(W, widget("w1", 3));
  REQUIRE(w.status == 201);
  auto o = w.json();
  auto uid = o.at_path("metadata.uid")->as_string();
  CHECK(uid.size() == 36);
  CHECK(uid[14] == '4');
  auto ts = o.at_path("metadata.creationTimestamp")->as_string();
  CHECK(ts.size() == 20);
  CHECK(ts.back() == 'Z');
  CHECK(std::stoull(rv_of(o)) > 0);
  CHECK(o.at_path("metadata.generation")->as_int() == 1);
  CHECK(o.at_path("spec.color")->as_string() == "red");  // schema default applied
  auto cm = s.cl().post(CM, configmap("c1")).json();
  CHECK_FALSE(cm.at_path("metadata.generation"));
}

TEST_CASE("S11, S12, S13, S14: conflicts, namespaces, generateName, not found", "[apiserver]") {
  Server s;
  install_crd(s);
  REQUIRE(s.cl().post(W, widget("w1", 1)).status == 201);
  auto dup = s.cl().post(W, widget("w1", 1));
  check_status(dup, 409, "AlreadyExists");
  CHECK(dup.json().at_path("details.kind")->as_string() == "widgets");
  CHECK(dup.json().string_or("message") == "widgets.example.com \"w1\" already exists");
  for (auto ns : {"default", "kube-system", "kube-public", "kube-node-lease"})
    CHECK(s.cl().get(std::string("/api/v1/namespaces/") + ns).status == 200);
  auto nons = s.cl().post("/api/v1/namespaces/nowhere/configmaps", configmap("x"));
  check_status(nons, 404, "NotFound");
  CHECK(nons.json().string_or("message") == "namespaces \"nowhere\" not found");
  auto gen = configmap("");
  gen["metadata"] = json::Object{{"generateName", "cfg-"}};
  auto g = s.cl().post(CM, gen).json();
  auto name = g.at_path("metadata.name")->as_string();
  CHECK(name.rfind("cfg-", 0) == 0);
  CHECK(name.size() == 9);
  auto nf = s.cl().get(W + "/missing");
  check_status(nf, 404, "NotFound");
  CHECK(nf.json().string_or("message") == "widgets.example.com \"missing\" not found");
  CHECK(nf.json().at_path("details.name")->as_string() == "missing");
  CHECK(nf.json().at_path("details.group")->as_string() == "example.com");
  CHECK(s.cl().get(CM + "/missing").json().string_or("message") == "configmaps \"missing\" not found");
}

TEST_CASE("S15, S16, S17: updates with optimistic concurrency", "[apiserver]") {
  Server s;
  install_crd(s);
  auto w = s.cl().post(W, widget("w1", 1)).json();
  auto stale = w;
  w["spec"]["size"] = 2;
  auto ok = s.cl().put(W + "/w1", w);
  REQUIRE(ok.status == 200);
  stale["spec"]["size"] = 5;
  auto c = s.cl().put(W + "/w1", stale);
  check_status(c, 409, "Conflict");
  CHECK(c.json().string_or("message") ==
        "Operation cannot be fulfilled on widgets.example.com \"w1\": the object has been modified; please apply your "
        "changes to the latest version and try again");
  auto norv = ok.json();
  norv["metadata"].as_object().erase("resourceVersion");
  auto inv = s.cl().put(W + "/w1", norv);
  check_status(inv, 422, "Invalid");
  CHECK(inv.json().string_or("message") ==
        "widgets.example.com \"w1\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update");
  auto cm = s.cl().post(CM, configmap("c1")).json();
  cm["metadata"].as_object().erase("resourceVersion");
  cm["data"]["b"] = "2";
  CHECK(s.cl().put(CM + "/c1", cm).status == 200);
  check_status(s.cl().put(CM + "/missing", configmap("missing")), 404, "NotFound");
  check_status(s.cl().patch(CM + "/missing", "{}", "application/merge-patch+json"), 404, "NotFound");
}

TEST_CASE("S18: merge patch follows RFC 7386", "[apiserver]") {
  Server s;
  install_crd(s);
  auto w = widget("w1", 1);
  w["spec"]["tags"] = json::Array{"a", "b"};
  w["spec"]["labels"] = json::Object{{"x", "1"}, {"y", "2"}};
  s.cl().post(W, w);
  auto r = s.cl().patch(W + "/w1", R"({"spec":{"tags":["c"],"labels":{"x":null,"z":"3"},"color":"blue"}})",
                        "application/merge-patch+json");
  REQUIRE(r.status == 200);
  auto o = r.json();
  CHECK(json::dump(*o.at_path("spec.tags")) == R"(["c"])");
  CHECK(json::dump(json::sorted(*o.at_path("spec.labels"))) == R"({"y":"2","z":"3"})");
  CHECK(o.at_path("spec.color")->as_string() == "blue");
}

TEST_CASE("S19: JSON patch follows RFC 6902; a failed test leaves the object alone", "[apiserver]") {
  Server s;
  install_crd(s);
  auto before = s.cl().post(W, widget("w1", 1)).json();
  auto r = s.cl().patch(W + "/w1", R"([{"op":"add","path":"/spec/tags","value":["t"]},{"op":"replace","path":"/spec/size","value":4}])",
                        "application/json-patch+json");
  REQUIRE(r.status == 200);
  CHECK(r.json().at_path("spec.size")->as_int() == 4);
  auto bad = s.cl().patch(W + "/w1", R"([{"op":"test","path":"/spec/size","value":99},{"op":"replace","path":"/spec/size","value":7}])",
                          "application/json-patch+json");
  check_status(bad, 422, "Invalid");
  CHECK(s.cl().get(W + "/w1").json().at_path("spec.size")->as_int() == 4);
  auto badpath = s.cl().patch(W + "/w1", R"([{"op":"remove","path":"/spec/nothere"}])", "application/json-patch+json");
  check_status(badpath, 422, "Invalid");
}

TEST_CASE("S20: strategic merge patch for built-ins, 415 for custom resources", "[apiserver]") {
  Server s;
  install_crd(s);
  s.cl().post(CM, configmap("c1", {{"a", "1"}, {"b", "2"}}));
  auto r = s.cl().patch(CM + "/c1", R"({"data":{"b":null,"c":"3"}})", "application/strategic-merge-patch+json");
  REQUIRE(r.status == 200);
  CHECK(json::dump(json::sorted(*r.json().get("data"))) == R"({"a":"1","c":"3"})");
  s.cl().post(W, widget("w1", 1));
  auto u = s.cl().patch(W + "/w1", R"({"spec":{"size":2}})", "application/strategic-merge-patch+json");
  check_status(u, 415, "UnsupportedMediaType");
  CHECK(u.json().string_or("message").find("application/merge-patch+json") != std::string::npos);
}

TEST_CASE("S21: a patch carrying a stale resourceVersion conflicts", "[apiserver]") {
  Server s;
  s.cl().post(CM, configmap("c1"));
  auto r = s.cl().patch(CM + "/c1", R"({"metadata":{"resourceVersion":"1"},"data":{"a":"2"}})",
                        "application/merge-patch+json");
  check_status(r, 409, "Conflict");
}

TEST_CASE("S21: concurrent patches without a resourceVersion all land; none conflicts", "[apiserver]") {
  Server s;
  s.cl().post(CM, configmap("c1"));
  std::atomic<int> conflicts{0}, ok{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      ApiClient c(s.srv->port(), kToken);
      for (int i = 0; i < 50; ++i) {
        auto r = c.patch(CM + "/c1", "{\"data\":{\"t" + std::to_string(t) + "\":\"" + std::to_string(i) + "\"}}",
                         "application/merge-patch+json");
        (r.status == 200 ? ok : conflicts)++;
      }
    });
  for (auto& t : ts)
    t.join();
  CHECK(conflicts == 0);
  CHECK(ok == 200);
  auto cm = s.cl().get(CM + "/c1").json();
  for (int t = 0; t < 4; ++t)
    CHECK(cm.at_path("data.t" + std::to_string(t))->as_string() == "49");
}

TEST_CASE("S22: apply patches create and update; fieldManager and force rules", "[apiserver]") {
  Server s;
  install_crd(s);
  std::string body = R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1"},"spec":{"size":1}})";
  auto c = s.cl().request("PATCH", W + "/w1?fieldManager=kubectl&force=false", body, "application/apply-patch+yaml");
  REQUIRE(c.status == 201);
  auto u = s.cl().request("PATCH", W + "/w1?fieldManager=kubectl", R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1"},"spec":{"size":2}})",
                          "application/apply-patch+yaml");
  REQUIRE(u.status == 200);
  CHECK(u.json().at_path("spec.size")->as_int() == 2);
  auto nofm = s.cl().request("PATCH", W + "/w1", body, "application/apply-patch+yaml");
  check_status(nofm, 422, "Invalid");
  CHECK(nofm.json().string_or("message").find("fieldManager: Required value: is required for apply patch") != std::string::npos);
  auto force = s.cl().request("PATCH", W + "/w1?force=true", R"({"spec":{"size":3}})", "application/merge-patch+json");
  check_status(force, 422, "Invalid");
  // Another manager changing a field the first one applied conflicts.
  auto other = s.cl().request("PATCH", W + "/w1?fieldManager=other", R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1"},"spec":{"size":9}})",
                              "application/apply-patch+yaml");
  CHECK(other.status == 409);
  CHECK(other.json().at_path("details.causes")->as_array()[0].string_or("reason") == "FieldManagerConflict");
  auto forced = s.cl().request("PATCH", W + "/w1?fieldManager=other&force=true", R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1"},"spec":{"size":9}})",
                               "application/apply-patch+yaml");
  CHECK(forced.status == 200);
  CHECK(forced.json().at_path("spec.size")->as_int() == 9);
}

TEST_CASE("S23, S24: immutable metadata and no-op updates", "[apiserver]") {
  Server s;
  auto cm = s.cl().post(CM, configmap("c1")).json();
  auto uid = cm.at_path("metadata.uid")->as_string();
  auto ts = cm.at_path("metadata.creationTimestamp")->as_string();
  auto w = s.watch(CM + "?watch=true&resourceVersion=" + rv_of(cm));
  REQUIRE(w.status == 200);
  auto edit = cm;
  edit["metadata"]["uid"] = "00000000-0000-4000-8000-000000000000";
  edit["metadata"]["creationTimestamp"] = "2000-01-01T00:00:00Z";
  auto r = s.cl().put(CM + "/c1", edit);
  REQUIRE(r.status == 200);
  CHECK(r.json().at_path("metadata.uid")->as_string() == uid);
  CHECK(r.json().at_path("metadata.creationTimestamp")->as_string() == ts);
  CHECK(rv_of(r.json()) == rv_of(cm));  // nothing changed: same RV
  CHECK_FALSE(w.next(500));            // and no event
  auto n = s.cl().put(CM + "/other-name", cm);
  check_status(n, 400, "BadRequest");
}

TEST_CASE("S25, S26, S27: status subresource and generation", "[apiserver]") {
  Server s;
  install_crd(s);
  auto w = widget("w1", 1);
  w["status"] = json::Object{{"phase", "Ignored"}};
  auto c = s.cl().post(W, w).json();
  CHECK_FALSE(c.get("status"));  // dropped on create
  auto st = s.cl().patch(W + "/w1/status", R"({"status":{"phase":"Ready"},"spec":{"size":100},"metadata":{"labels":{"x":"y"}}})",
                         "application/merge-patch+json").json();
  CHECK(st.at_path("status.phase")->as_string() == "Ready");
  CHECK(st.at_path("spec.size")->as_int() == 1);
  CHECK_FALSE(st.at_path("metadata.labels"));
  CHECK(st.at_path("metadata.generation")->as_int() == 1);  // status-only: no bump
  auto main = s.cl().patch(W + "/w1", R"({"spec":{"size":2},"status":{"phase":"Hacked"}})", "application/merge-patch+json").json();
  CHECK(main.at_path("status.phase")->as_string() == "Ready");
  CHECK(main.at_path("metadata.generation")->as_int() == 2);
  auto meta = s.cl().patch(W + "/w1", R"({"metadata":{"labels":{"a":"b"}}})", "application/merge-patch+json").json();
  CHECK(meta.at_path("metadata.generation")->as_int() == 2);  // metadata-only: no bump
  auto whole = s.cl().get(W + "/w1/status").json();
  CHECK(whole.at_path("spec.size")->as_int() == 2);
  CHECK(whole.at_path("status.phase")->as_string() == "Ready");
  // Without a status subresource, status changes bump the generation.
  Server s2;
  install_crd(s2, false);
  s2.cl().post(W, widget("w2", 1));
  auto ns = s2.cl().patch(W + "/w2", R"({"status":{"phase":"X"}})", "application/merge-patch+json").json();
  CHECK(ns.at_path("status.phase")->as_string() == "X");
  CHECK(ns.at_path("metadata.generation")->as_int() == 2);
}

// ------------------------------------------------------------------ deletion

TEST_CASE("S28: delete without finalizers", "[apiserver]") {
  Server s;
  install_crd(s);
  auto o = s.cl().post(W, widget("w1", 1)).json();
  auto w = s.watch(W + "?watch=true&resourceVersion=" + rv_of(o));
  auto d = s.cl().del(W + "/w1", R"({"propagationPolicy":"Background"})");
  REQUIRE(d.status == 200);
  auto st = d.json();
  CHECK(st.string_or("kind") == "Status");
  CHECK(st.string_or("status") == "Success");
  CHECK(st.at_path("details.name")->as_string() == "w1");
  CHECK(st.at_path("details.kind")->as_string() == "widgets");
  CHECK(st.at_path("details.uid")->as_string() == o.at_path("metadata.uid")->as_string());
  auto ev = w.next();
  REQUIRE(ev);
  CHECK(ev->string_or("type") == "DELETED");
  CHECK(std::stoull(rv_of(*ev->get("object"))) > std::stoull(rv_of(o)));
  CHECK(s.cl().get(W + "/w1").status == 404);
}

TEST_CASE("S29, S30: finalizers hold deletion; none may be added; removing the last deletes", "[apiserver]") {
  Server s;
  install_crd(s);
  auto w = widget("w1", 1);
  w["metadata"]["finalizers"] = json::Array{"example.com/hold"};
  auto o = s.cl().post(W, w).json();
  auto watch = s.watch(W + "?watch=true&resourceVersion=" + rv_of(o));
  auto d = s.cl().del(W + "/w1");
  REQUIRE(d.status == 200);
  auto obj = d.json();
  auto dt = obj.at_path("metadata.deletionTimestamp")->as_string();
  CHECK(dt.size() == 20);
  CHECK(obj.at_path("metadata.deletionGracePeriodSeconds")->as_int() == 0);
  CHECK(obj.at_path("metadata.generation")->as_int() == 2);
  CHECK(watch.next()->string_or("type") == "MODIFIED");
  auto again = s.cl().del(W + "/w1").json();
  CHECK(rv_of(again) == rv_of(obj));  // a second DELETE changes nothing
  auto add = s.cl().patch(W + "/w1", R"({"metadata":{"finalizers":["example.com/hold","example.com/more"]}})",
                          "application/merge-patch+json");
  check_status(add, 422, "Invalid");
  CHECK(add.json().string_or("message").find("no new finalizers can be added if the object is being deleted") != std::string::npos);
  auto rm = s.cl().patch(W + "/w1", R"({"metadata":{"finalizers":null}})", "application/merge-patch+json");
  REQUIRE(rm.status == 200);
  CHECK(watch.next()->string_or("type") == "DELETED");
  CHECK(s.cl().get(W + "/w1").status == 404);
}

TEST_CASE("S31: propagation policies add GC finalizers; preconditions", "[apiserver]") {
  Server s;
  s.cl().post(CM, configmap("c1"));
  s.cl().post(CM, configmap("c2"));
  auto pre = s.cl().del(CM + "/c1", R"({"preconditions":{"uid":"not-the-uid"}})");
  check_status(pre, 409, "Conflict");
  auto pre2 = s.cl().del(CM + "/c1", R"({"preconditions":{"resourceVersion":"1"}})");
  check_status(pre2, 409, "Conflict");
  // With no dependents the GC lets the objects go at once; the finalizer is visible on the way.
  auto o = s.cl().del(CM + "/c1?propagationPolicy=Orphan");
  REQUIRE(o.status == 200);
  CHECK(json::dump(*o.json().at_path("metadata.finalizers")) == R"(["orphan"])");
  auto f = s.cl().del(CM + "/c2", R"({"propagationPolicy":"Foreground"})");
  CHECK(json::dump(*f.json().at_path("metadata.finalizers")) == R"(["foregroundDeletion"])");
  for (int i = 0; i < 100 && (s.cl().get(CM + "/c1").status == 200 || s.cl().get(CM + "/c2").status == 200); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(s.cl().get(CM + "/c1").status == 404);
  CHECK(s.cl().get(CM + "/c2").status == 404);
}

TEST_CASE("S32: garbage collection by ownerReferences (background, foreground, orphan)", "[apiserver]") {
  Server s;
  auto owner_of = [&](const std::string& name) {
    auto o = s.cl().post(CM, configmap(name)).json();
    return json::Object{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", name},
                        {"uid", o.at_path("metadata.uid")->as_string()}, {"controller", true}};
  };
  auto dep = [&](const std::string& name, const json::Object& owner) {
    auto d = configmap(name);
    d["metadata"]["ownerReferences"] = json::Array{owner};
    REQUIRE(s.cl().post(CM, d).status == 201);
  };
  auto gone = [&](const std::string& name) {
    for (int i = 0; i < 150 && s.cl().get(CM + "/" + name).status == 200; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return s.cl().get(CM + "/" + name).status == 404;
  };
  auto bg = owner_of("bg-owner");
  dep("bg-dep", bg);
  s.cl().del(CM + "/bg-owner");
  CHECK(gone("bg-dep"));
  auto fg = owner_of("fg-owner");
  dep("fg-dep", fg);
  auto d = s.cl().del(CM + "/fg-owner?propagationPolicy=Foreground");
  CHECK(d.json().at_path("metadata.deletionTimestamp"));
  CHECK(gone("fg-dep"));
  CHECK(gone("fg-owner"));
  auto orph = owner_of("or-owner");
  dep("or-dep", orph);
  s.cl().del(CM + "/or-owner?propagationPolicy=Orphan");
  CHECK(gone("or-owner"));
  auto kept = s.cl().get(CM + "/or-dep");
  REQUIRE(kept.status == 200);
  CHECK_FALSE(kept.json().at_path("metadata.ownerReferences"));
}

TEST_CASE("S33: deleting a CRD deletes its objects first", "[apiserver]") {
  Server s;
  install_crd(s);
  for (int i = 0; i < 5; ++i)
    s.cl().post(W, widget("w" + std::to_string(i), i));
  auto held = widget("held", 1);
  held["metadata"]["finalizers"] = json::Array{"example.com/hold"};
  s.cl().post(W, held);
  auto d = s.cl().del("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com").json();
  CHECK(json::dump(*d.at_path("metadata.finalizers")).find("customresourcecleanup.apiextensions.k8s.io") != std::string::npos);
  for (int i = 0; i < 100 && s.cl().get(W + "/w0").status == 200; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(s.cl().get(W + "/w0").status == 404);
  // The CRD waits for the object with a finalizer...
  CHECK(s.cl().get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com").status == 200);
  s.cl().patch(W + "/held", R"({"metadata":{"finalizers":null}})", "application/merge-patch+json");
  for (int i = 0; i < 100 && s.cl().get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com").status == 200; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // ...then goes.
  CHECK(s.cl().get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com").status == 404);
}

// ------------------------------------------------------------------ list

TEST_CASE("S34, S38: lists, empty lists, namespaced and cluster-wide", "[apiserver]") {
  Server s;
  install_crd(s);
  auto empty = s.cl().get(W).json();
  CHECK(empty.string_or("kind") == "WidgetList");
  CHECK(empty.string_or("apiVersion") == "example.com/v1");
  CHECK(empty.get("items")->is_array());
  CHECK(empty.get("items")->as_array().empty());
  s.cl().post("/api/v1/namespaces", json::Object{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", json::Object{{"name", "other"}}}});
  s.cl().post(W, widget("a", 1));
  s.cl().post("/apis/example.com/v1/namespaces/other/widgets", widget("b", 1));
  auto l = s.cl().get(W).json();
  REQUIRE(l.get("items")->as_array().size() == 1);
  uint64_t list_rv = std::stoull(l.at_path("metadata.resourceVersion")->as_string());
  for (auto& it : l.get("items")->as_array())
    CHECK(std::stoull(rv_of(it)) <= list_rv);
  CHECK(s.cl().get("/apis/example.com/v1/widgets").json().get("items")->as_array().size() == 2);
}

TEST_CASE("S35, S36: pagination visits every object once; stale tokens expire", "[apiserver]") {
  Server s(1000);
  for (int i = 0; i < 23; ++i)
    s.cl().post(CM, configmap("c" + std::to_string(100 + i)));
  std::set<std::string> seen;
  std::string cont;
  int pages = 0;
  do {
    auto page = s.cl().get(CM + "?limit=5" + (cont.empty() ? "" : "&continue=" + cont)).json();
    auto& items = page.get("items")->as_array();
    CHECK(items.size() <= 5);
    for (auto& it : items)
      CHECK(seen.insert(it.at_path("metadata.name")->as_string()).second);
    cont = page.at_path("metadata.continue") ? page.at_path("metadata.continue")->as_string() : "";
    if (!cont.empty())
      CHECK(page.at_path("metadata.remainingItemCount")->as_int() == 23 - static_cast<int>(seen.size()));
    ++pages;
  } while (!cont.empty() && pages < 10);
  CHECK(seen.size() == 23);
  CHECK(pages == 5);
  auto first = s.cl().get(CM + "?limit=5").json();
  auto token = first.at_path("metadata.continue")->as_string();
  for (int i = 0; i < 1100; ++i)
    s.cl().patch(CM + "/c100", "{\"data\":{\"n\":\"" + std::to_string(i) + "\"}}", "application/merge-patch+json");
  check_status(s.cl().get(CM + "?limit=5&continue=" + token), 410, "Expired");
  check_status(s.cl().get(CM + "?limit=5&continue=garbage!"), 400, "BadRequest");
}

TEST_CASE("S35: the pages of one list are one snapshot; exact resourceVersions are served from history",
          "[apiserver]") {
  Server s(1000);
  for (int i = 0; i < 20; ++i)
    s.cl().post(CM, configmap("c" + std::to_string(100 + i)));
  auto first = s.cl().get(CM + "?limit=5").json();
  auto list_rv = first.at_path("metadata.resourceVersion")->as_string();
  auto token = first.at_path("metadata.continue")->as_string();
  // Between pages: one later object changes, one is deleted, one is created, one earlier object
  // changes. A watch from the list's resourceVersion must see each of these exactly once, so the
  // later pages must not already show them.
  s.cl().patch(CM + "/c110", R"({"data":{"k":"changed"}})", "application/merge-patch+json");
  s.cl().del(CM + "/c115");
  s.cl().post(CM, configmap("c112a"));
  s.cl().patch(CM + "/c101", R"({"data":{"k":"changed"}})", "application/merge-patch+json");
  std::map<std::string, json::Value> seen;
  for (auto& it : first.get("items")->as_array())
    seen[it.at_path("metadata.name")->as_string()] = it;
  std::string cont = token;
  while (!cont.empty()) {
    auto page = s.cl().get(CM + "?limit=5&continue=" + cont).json();
    CHECK(page.at_path("metadata.resourceVersion")->as_string() == list_rv);
    for (auto& it : page.get("items")->as_array())
      CHECK(seen.emplace(it.at_path("metadata.name")->as_string(), it).second);
    cont = page.at_path("metadata.continue") ? page.at_path("metadata.continue")->as_string() : "";
  }
  CHECK(seen.size() == 20);
  CHECK(seen.count("c115") == 1);
  CHECK(seen.count("c112a") == 0);
  CHECK(seen["c110"].at_path("data.k") == nullptr);
  for (auto& [name, obj] : seen)
    CHECK(std::stoull(rv_of(obj)) <= std::stoull(list_rv));

  // An exact list at the old version shows the same snapshot in one go; the latest shows the changes.
  auto exact = s.cl().get(CM + "?resourceVersion=" + list_rv + "&resourceVersionMatch=Exact").json();
  CHECK(exact.at_path("metadata.resourceVersion")->as_string() == list_rv);
  std::set<std::string> exact_names;
  for (auto& it : exact.get("items")->as_array())
    exact_names.insert(it.at_path("metadata.name")->as_string());
  CHECK(exact_names.size() == 20);
  CHECK(exact_names.count("c115") == 1);
  auto now = s.cl().get(CM).json();
  CHECK(now.get("items")->as_array().size() == 20);  // one deleted, one created

  // Watching from the list's version delivers exactly the four changes.
  auto w = s.watch(CM + "?watch=true&resourceVersion=" + list_rv);
  REQUIRE(w.status == 200);
  std::vector<std::string> events;
  while (auto ev = w.next(1000))
    events.push_back(ev->get("type")->as_string() + " " + ev->at_path("object.metadata.name")->as_string());
  CHECK(events == std::vector<std::string>{"MODIFIED c110", "DELETED c115", "ADDED c112a", "MODIFIED c101"});
}

TEST_CASE("S37: label and field selectors", "[apiserver]") {
  Server s;
  auto mk = [&](const std::string& n, json::Object labels) {
    auto c = configmap(n);
    c["metadata"]["labels"] = labels;
    s.cl().post(CM, c);
  };
  mk("a", {{"app", "x"}, {"tier", "web"}});
  mk("b", {{"app", "y"}});
  mk("c", {{"tier", "db"}});
  auto names = [&](const std::string& q) {
    std::set<std::string> out;
    auto r = s.cl().get(CM + "?" + q);
    INFO(q << " -> " << r.body);
    REQUIRE(r.status == 200);
    auto list = r.json();
    for (auto& it : list.get("items")->as_array())
      out.insert(it.at_path("metadata.name")->as_string());
    return out;
  };
  using S = std::set<std::string>;
  CHECK(names("labelSelector=app%3Dx") == S{"a"});
  CHECK(names("labelSelector=app%3D%3Dy") == S{"b"});
  CHECK(names("labelSelector=app!%3Dx") == S{"b", "c"});
  CHECK(names("labelSelector=app+in+(x,y)") == S{"a", "b"});
  CHECK(names("labelSelector=app%20notin%20(x)") == S{"b", "c"});
  CHECK(names("labelSelector=tier") == S{"a", "c"});
  CHECK(names("labelSelector=!tier") == S{"b"});
  CHECK(names("labelSelector=app,tier%3Dweb") == S{"a"});
  CHECK(names("fieldSelector=metadata.name%3Db") == S{"b"});
  CHECK(names("fieldSelector=metadata.name!%3Db,metadata.namespace%3Ddefault") == S{"a", "c"});
  auto bad = s.cl().get(CM + "?fieldSelector=spec.color%3Dred");
  check_status(bad, 400, "BadRequest");
  CHECK(bad.json().string_or("message") == "field label not supported: spec.color");
  check_status(s.cl().get(CM + "?labelSelector=a%20in%20(b"), 400, "BadRequest");
  // core events select on involvedObject fields.
  s.cl().post("/api/v1/namespaces/default/events",
              json::Object{{"apiVersion", "v1"}, {"kind", "Event"}, {"metadata", json::Object{{"name", "e1"}}},
                           {"involvedObject", json::Object{{"kind", "Widget"}, {"name", "w1"}, {"namespace", "default"}}},
                           {"reason", "Testing"}, {"message", "hello"}, {"type", "Normal"}});
  auto evs = s.cl().get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.kind%3DWidget,involvedObject.name%3Dw1,reason%3DTesting").json();
  CHECK(evs.get("items")->as_array().size() == 1);
}

TEST_CASE("S39: resourceVersion rules for lists", "[apiserver]") {
  Server s;
  auto cm = s.cl().post(CM, configmap("c1")).json();
  auto cur = std::stoull(rv_of(cm));
  auto big = s.cl().get(CM + "?resourceVersion=" + std::to_string(cur + 1000));
  check_status(big, 504, "Timeout");
  CHECK(big.json().at_path("details.causes")->as_array()[0].string_or("reason") == "ResourceVersionTooLarge");
  check_status(s.cl().get(CM + "?resourceVersionMatch=Exact"), 422, "Invalid");
  CHECK(s.cl().get(CM + "?resourceVersion=" + std::to_string(cur) + "&resourceVersionMatch=NotOlderThan").status == 200);
  CHECK(s.cl().get(CM + "?resourceVersion=0").status == 200);
  // Exact versions are rebuilt from history: before c1 existed the list was empty.
  auto before = s.cl().get(CM + "?resourceVersion=" + std::to_string(cur - 1) + "&resourceVersionMatch=Exact");
  REQUIRE(before.status == 200);
  CHECK(before.json().get("items")->as_array().empty());
  CHECK(before.json().at_path("metadata.resourceVersion")->as_string() == std::to_string(cur - 1));
  check_status(s.cl().get(CM + "?sendInitialEvents=true"), 422, "Invalid");
  // Once history has moved past a version, an exact list of it is 410 Expired.
  Server small(10);
  auto c = small.cl().post(CM, configmap("c1")).json();
  for (int i = 0; i < 20; ++i)
    small.cl().patch(CM + "/c1", "{\"data\":{\"n\":\"" + std::to_string(i) + "\"}}", "application/merge-patch+json");
  check_status(small.cl().get(CM + "?resourceVersion=" + rv_of(c) + "&resourceVersionMatch=Exact"), 410, "Expired");
  CHECK(small.cl().get(CM + "?resourceVersion=" + rv_of(c) + "&resourceVersionMatch=NotOlderThan").status == 200);
}

TEST_CASE("S40: Table output with printer columns", "[apiserver]") {
  Server s;
  install_crd(s);
  s.cl().post(W, widget("w1", 7));
  auto t = s.cl().get(W, {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"}}).json();
  CHECK(t.string_or("kind") == "Table");
  CHECK(t.string_or("apiVersion") == "meta.k8s.io/v1");
  auto& cols = t.get("columnDefinitions")->as_array();
  REQUIRE(cols.size() == 3);
  CHECK(cols[0].string_or("name") == "Name");
  CHECK(cols[1].string_or("name") == "Size");
  CHECK(cols[2].string_or("name") == "Phase");
  auto& row = t.get("rows")->as_array()[0];
  CHECK(json::dump(*row.get("cells")) == R"(["w1",7,null])");
  CHECK(row.at_path("object.kind")->as_string() == "PartialObjectMetadata");
  // Without declared columns: Name and Age.
  auto crd = widget_crd();
  crd["metadata"]["name"] = "gadgets.example.com";
  crd["spec"]["names"] = json::Object{{"plural", "gadgets"}, {"singular", "gadget"}, {"kind", "Gadget"}};
  crd["spec"]["versions"].as_array()[0].as_object().erase("additionalPrinterColumns");
  REQUIRE(s.cl().post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).status == 201);
  auto g = s.cl().get("/apis/example.com/v1/namespaces/default/gadgets", {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io"}}).json();
  CHECK(g.get("columnDefinitions")->as_array().size() == 2);
  CHECK(g.get("columnDefinitions")->as_array()[1].string_or("name") == "Age");
}

// ------------------------------------------------------------------ watch

TEST_CASE("S41, S42, S43: watch framing, start points, order", "[apiserver]") {
  Server s;
  auto c1 = s.cl().post(CM, configmap("c1")).json();
  auto w = s.watch(CM + "?watch=true");
  REQUIRE(w.status == 200);
  CHECK(w.head.find("Content-Type: application/json") != std::string::npos);
  CHECK(w.chunked);
  auto first = w.next();
  REQUIRE(first);
  CHECK(first->string_or("type") == "ADDED");
  CHECK(first->at_path("object.metadata.name")->as_string() == "c1");
  auto c2 = s.cl().post(CM, configmap("c2")).json();
  s.cl().patch(CM + "/c1", R"({"data":{"x":"y"}})", "application/merge-patch+json");
  s.cl().del(CM + "/c2");
  std::vector<std::string> types;
  for (int i = 0; i < 3; ++i)
    if (auto e = w.next())
      types.push_back(e->string_or("type"));
  CHECK(types == std::vector<std::string>{"ADDED", "MODIFIED", "DELETED"});
  // From a resourceVersion: exactly the later changes, in order, nothing missing.
  auto from = s.watch(CM + "?watch=true&resourceVersion=" + rv_of(c1));
  std::vector<uint64_t> rvs;
  for (int i = 0; i < 3; ++i)
    if (auto e = from.next())
      rvs.push_back(std::stoull(rv_of(*e->get("object"))));
  REQUIRE(rvs.size() == 3);
  CHECK(rvs[0] == std::stoull(rv_of(c2)));
  CHECK(rvs[0] < rvs[1]);
  CHECK(rvs[1] < rvs[2]);
  CHECK_FALSE(from.next(300));
  auto zero = s.watch(CM + "?watch=true&resourceVersion=0");
  CHECK(zero.next()->string_or("type") == "ADDED");
}

TEST_CASE("S44: a compacted resourceVersion gets an ERROR 410 event", "[apiserver]") {
  Server s(1000);
  auto first = s.cl().post(CM, configmap("c1")).json();
  for (int i = 0; i < 1200; ++i)
    s.cl().patch(CM + "/c1", "{\"data\":{\"n\":\"" + std::to_string(i) + "\"}}", "application/merge-patch+json");
  auto w = s.watch(CM + "?watch=true&resourceVersion=" + rv_of(first));
  CHECK(w.status == 200);
  auto e = w.next();
  REQUIRE(e);
  CHECK(e->string_or("type") == "ERROR");
  CHECK(e->at_path("object.code")->as_int() == 410);
  CHECK(e->at_path("object.reason")->as_string() == "Expired");
  CHECK(e->at_path("object.kind")->as_string() == "Status");
  CHECK(w.ended());
}

TEST_CASE("S45, S46: timeouts end streams cleanly; bookmarks only on request", "[apiserver]") {
  Server s(200000, std::chrono::milliseconds(300));
  auto t0 = std::chrono::steady_clock::now();
  auto w = s.watch(CM + "?watch=true&timeoutSeconds=1");
  while (!w.dechunk_.done && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(4))
    w.next(200);
  CHECK(w.dechunk_.done);  // terminal zero-length chunk seen
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took >= std::chrono::milliseconds(900));
  CHECK(took < std::chrono::milliseconds(2500));
  auto b = s.watch(CM + "?watch=true&allowWatchBookmarks=true&resourceVersion=" + std::to_string(s.srv->current_rv()));
  auto bm = b.next(2000);
  REQUIRE(bm);
  CHECK(bm->string_or("type") == "BOOKMARK");
  CHECK(bm->at_path("object.kind")->as_string() == "ConfigMap");
  CHECK(bm->at_path("object.apiVersion")->as_string() == "v1");
  CHECK(bm->at_path("object.metadata.resourceVersion")->as_string() == std::to_string(s.srv->current_rv()));
  auto nb = s.watch(CM + "?watch=true&resourceVersion=" + std::to_string(s.srv->current_rv()));
  CHECK_FALSE(nb.next(1000));
}

TEST_CASE("S47: selector watches see objects enter and leave", "[apiserver]") {
  Server s;
  auto c = configmap("c1");
  c["metadata"]["labels"] = json::Object{{"app", "x"}};
  auto o = s.cl().post(CM, c).json();
  auto w = s.watch(CM + "?watch=true&labelSelector=app%3Dx&resourceVersion=" + rv_of(o));
  s.cl().patch(CM + "/c1", R"({"metadata":{"labels":{"app":"y"}}})", "application/merge-patch+json");
  auto e1 = w.next();
  REQUIRE(e1);
  CHECK(e1->string_or("type") == "DELETED");
  s.cl().patch(CM + "/c1", R"({"metadata":{"labels":{"app":"x"}}})", "application/merge-patch+json");
  auto e2 = w.next();
  REQUIRE(e2);
  CHECK(e2->string_or("type") == "ADDED");
}

TEST_CASE("S48: sendInitialEvents streams the state, then the initial-events-end bookmark", "[apiserver]") {
  Server s;
  s.cl().post(CM, configmap("c1"));
  s.cl().post(CM, configmap("c2"));
  auto rej = s.cl().get(CM + "?watch=true&sendInitialEvents=true");
  check_status(rej, 422, "Invalid");
  auto w = s.watch(CM + "?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true");
  REQUIRE(w.status == 200);
  CHECK(w.next()->string_or("type") == "ADDED");
  CHECK(w.next()->string_or("type") == "ADDED");
  auto bm = w.next();
  REQUIRE(bm);
  CHECK(bm->string_or("type") == "BOOKMARK");
  CHECK(bm->at_path("object.metadata.annotations")->string_or("k8s.io/initial-events-end") == "true");
  s.cl().post(CM, configmap("c3"));
  CHECK(w.next()->at_path("object.metadata.name")->as_string() == "c3");
}

TEST_CASE("S49: Table watches carry column definitions in the first event only", "[apiserver]") {
  Server s;
  install_crd(s);
  s.cl().post(W, widget("w1", 1));
  auto w = s.watch(W + "?watch=true", {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io"}});
  auto e1 = w.next();
  REQUIRE(e1);
  CHECK(e1->at_path("object.kind")->as_string() == "Table");
  CHECK(e1->at_path("object.columnDefinitions")->as_array().size() == 3);
  s.cl().patch(W + "/w1", R"({"spec":{"size":5}})", "application/merge-patch+json");
  auto e2 = w.next();
  REQUIRE(e2);
  CHECK(e2->at_path("object.columnDefinitions")->is_null());
  CHECK(e2->at_path("object.rows")->as_array()[0].get("cells")->as_array()[1].as_int() == 5);
}

TEST_CASE("S50: closed watches release their subscriptions", "[apiserver]") {
  Server s;
  auto base = [&] {
    auto m = s.cl().get("/api/v1/namespaces");  // any request: subscription count is internal
    (void)m;
  };
  base();
  for (int i = 0; i < 1000; ++i) {
    auto w = s.watch(CM + "?watch=true&resourceVersion=" + std::to_string(s.srv->current_rv()));
    REQUIRE(w.status == 200);
    w.close();
  }
  // After the clients left, writes still succeed fast and the server is healthy.
  for (int i = 0; i < 100; ++i)
    s.cl().post(CM, configmap("after-" + std::to_string(i)));
  auto fd_count = [] {
    size_t n = 0;
    for (auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
      (void)e, ++n;
    return n;
  };
  size_t fds = fd_count();
  CHECK(fds < 200);
}

// ------------------------------------------------------------------ misc

TEST_CASE("S51: events.k8s.io/v1 and core/v1 events share storage", "[apiserver]") {
  Server s;
  auto ev = json::parse(R"({"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"e1"},
    "eventTime":"2026-11-28T02:10:56.123456Z","reportingController":"ome.io/omed","reportingInstance":"omed-0",
    "action":"Reconcile","reason":"Ready","type":"Normal","note":"all good",
    "regarding":{"kind":"InferenceService","name":"llama","namespace":"default","uid":"u-1","apiVersion":"ome.io/v1beta1"}})");
  auto c = s.cl().post("/apis/events.k8s.io/v1/namespaces/default/events", ev);
  REQUIRE(c.status == 201);
  CHECK(c.json().at_path("regarding.name")->as_string() == "llama");
  auto core = s.cl().get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.kind%3DInferenceService,involvedObject.uid%3Du-1").json();
  REQUIRE(core.get("items")->as_array().size() == 1);
  auto& ce = core.get("items")->as_array()[0];
  CHECK(ce.at_path("involvedObject.name")->as_string() == "llama");
  CHECK(ce.string_or("message") == "all good");
  CHECK(ce.string_or("reportingComponent") == "ome.io/omed");
  CHECK(s.cl().get("/apis/events.k8s.io/v1/namespaces/default/events/e1").json().string_or("note") == "all good");
}

TEST_CASE("S52: leases with optimistic concurrency and MicroTime", "[apiserver]") {
  Server s;
  const std::string L = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases";
  auto lease = json::parse(R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"omed"},
    "spec":{"holderIdentity":"a","leaseDurationSeconds":15,"acquireTime":"2026-11-28T02:10:56.123456Z",
            "renewTime":"2026-11-28T02:10:56.654321Z","leaseTransitions":0}})");
  auto c = s.cl().post(L, lease);
  REQUIRE(c.status == 201);
  auto got = s.cl().get(L + "/omed").json();
  CHECK(got.at_path("spec.renewTime")->as_string() == "2026-11-28T02:10:56.654321Z");
  auto mine = got;
  mine["spec"]["holderIdentity"] = "b";
  CHECK(s.cl().put(L + "/omed", mine).status == 200);
  auto stale = got;
  stale["spec"]["holderIdentity"] = "c";
  check_status(s.cl().put(L + "/omed", stale), 409, "Conflict");
}

TEST_CASE("S54: dryRun=All persists nothing", "[apiserver]") {
  Server s;
  auto rv0 = s.srv->current_rv();
  auto c = s.cl().request("POST", CM + "?dryRun=All", json::dump(configmap("dry")));
  CHECK(c.status == 201);
  CHECK(s.cl().get(CM + "/dry").status == 404);
  CHECK(s.srv->current_rv() == rv0);
  s.cl().post(CM, configmap("real"));
  auto rv1 = s.srv->current_rv();
  CHECK(s.cl().request("PATCH", CM + "/real?dryRun=All", R"({"data":{"z":"1"}})", "application/merge-patch+json").status == 200);
  CHECK(s.cl().request("DELETE", CM + "/real?dryRun=All").status == 200);
  CHECK(s.cl().get(CM + "/real").status == 200);
  CHECK_FALSE(s.cl().get(CM + "/real").json().at_path("data.z"));
  CHECK(s.srv->current_rv() == rv1);
  check_status(s.cl().request("POST", CM + "?dryRun=Some", json::dump(configmap("x"))), 422, "Invalid");
}

TEST_CASE("pods/binding assigns a node once", "[apiserver]") {
  Server s;
  auto pod = json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p1"},
    "spec":{"containers":[{"name":"c","image":"x"}]}})");
  auto c = s.cl().post("/api/v1/namespaces/default/pods", pod).json();
  CHECK(c.at_path("status.phase")->as_string() == "Pending");
  CHECK(c.at_path("spec.schedulerName")->as_string() == "default-scheduler");
  auto b = s.cl().post("/api/v1/namespaces/default/pods/p1/binding",
                       json::parse(R"({"apiVersion":"v1","kind":"Binding","metadata":{"name":"p1"},"target":{"kind":"Node","name":"n1"}})"));
  CHECK(b.status == 201);
  auto p = s.cl().get("/api/v1/namespaces/default/pods/p1").json();
  CHECK(p.at_path("spec.nodeName")->as_string() == "n1");
  auto again = s.cl().post("/api/v1/namespaces/default/pods/p1/binding",
                           json::parse(R"({"apiVersion":"v1","kind":"Binding","metadata":{"name":"p1"},"target":{"kind":"Node","name":"n2"}})"));
  check_status(again, 409, "Conflict");
}

TEST_CASE("custom resources are validated against their schema; Strict reports unknown fields", "[apiserver]") {
  Server s;
  install_crd(s);
  auto bad = widget("w1", -1);
  bad["spec"]["color"] = "green";
  auto r = s.cl().post(W, bad);
  check_status(r, 422, "Invalid");
  auto msg = r.json().string_or("message");
  CHECK(msg.find("spec.size: Invalid value: -1: spec.size in body should be greater than or equal to 0") != std::string::npos);
  CHECK(msg.find("spec.color: Unsupported value: \"green\": supported values: \"red\", \"blue\"") != std::string::npos);
  CHECK(r.json().at_path("details.causes")->as_array().size() == 2);
  auto req = widget("w2", 1);
  req["spec"].as_object().erase("size");
  check_status(s.cl().post(W, req), 422, "Invalid");
  auto unk = widget("w3", 1);
  unk["spec"]["surprise"] = true;
  auto strict = s.cl().request("POST", W + "?fieldValidation=Strict", json::dump(unk));
  check_status(strict, 400, "BadRequest");
  CHECK(strict.json().string_or("message").find("strict decoding error: unknown field \"spec.surprise\"") != std::string::npos);
  auto warn = s.cl().request("POST", W + "?fieldValidation=Warn", json::dump(unk));
  CHECK(warn.status == 201);
  CHECK(warn.header("warning").find("unknown field \\\"spec.surprise\\\"") != std::string::npos);
  CHECK_FALSE(warn.json().at_path("spec.surprise"));  // pruned
}

// ------------------------------------------------------------------ built-in schemas

TEST_CASE("--builtin-schemas: built-ins are checked against the real OpenAPI documents", "[apiserver]") {
  if (!have_shared("testdata/k8s/openapi-v3"))
    return;
  apiserver::ApiServerOptions o;
  o.builtin_schemas_dir = (shared_dir() / "testdata/k8s/openapi-v3").string();
  Server s(o);
  const std::string D = "/apis/apps/v1/namespaces/default/deployments";
  auto deployment = [](json::Value replicas) {
    return json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
      "spec":{"replicas":)" + json::dump(replicas) + R"(,"selector":{"matchLabels":{"app":"web"}},
      "template":{"metadata":{"labels":{"app":"web"}},
        "spec":{"containers":[{"name":"c","image":"nginx","ports":[{"containerPort":80}]}]}}}})");
  };

  SECTION("a wrong type is a decoding error, as from a real server") {
    auto r = s.cl().post(D, deployment("three"));
    check_status(r, 400, "BadRequest");
    CHECK(r.json().string_or("message") ==
          "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go "
          "struct field Deployment.spec.replicas of type int32");
  }
  SECTION("a missing required field is Invalid with the field named") {
    auto d = deployment(2);
    d["spec"].as_object().erase("selector");
    auto r = s.cl().post(D, d);
    check_status(r, 422, "Invalid");
    CHECK(r.json().string_or("message").find("spec.selector: Required value") != std::string::npos);
    auto c = deployment(2);
    c["spec"]["template"]["spec"]["containers"].as_array()[0].as_object().erase("name");
    auto r2 = s.cl().post(D, c);
    check_status(r2, 422, "Invalid");
    CHECK(r2.json().string_or("message").find("spec.template.spec.containers[0].name: Required value") !=
          std::string::npos);
  }
  SECTION("Strict rejects unknown fields; the default drops them with a warning") {
    auto d = deployment(2);
    d["spec"]["replicaz"] = 3;
    auto strict = s.cl().post(D + "?fieldValidation=Strict", d);
    check_status(strict, 400, "BadRequest");
    CHECK(strict.json().string_or("message").find("unknown field \"spec.replicaz\"") != std::string::npos);
    auto lax = s.cl().post(D, d);
    REQUIRE(lax.status == 201);
    CHECK(lax.header("warning") == R"(299 - "unknown field \"spec.replicaz\"")");
    CHECK(lax.json().at_path("spec.replicaz") == nullptr);
  }
  SECTION("a well-formed Deployment is stored and a bad one never was") {
    REQUIRE(s.cl().post(D, deployment("x")).status == 400);
    auto ok = s.cl().post(D, deployment(3));
    REQUIRE(ok.status == 201);
    CHECK(ok.json().at_path("spec.replicas")->as_int() == 3);
    CHECK(s.cl().get(D).json().get("items")->as_array().size() == 1);
  }
}

TEST_CASE("without --builtin-schemas built-ins are stored as given", "[apiserver]") {
  Server s;
  auto d = json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},
    "spec":{"replicas":"three"}})");
  CHECK(s.cl().post("/apis/apps/v1/namespaces/default/deployments", d).status == 201);
}

// ------------------------------------------------------------------ fault injection

namespace {

std::vector<int> codes_of(Server& s, int n) {
  std::vector<int> codes;
  for (int i = 0; i < n; ++i)
    codes.push_back(s.cl().get(CM).status);
  return codes;
}

}  // namespace

TEST_CASE("fault injection is deterministic from its seed and switched by the admin call", "[apiserver]") {
  Server s;
  REQUIRE(s.cl().post(CM, configmap("c1")).status == 201);

  SECTION("429 with Retry-After, the same sequence for the same seed") {
    auto set = s.cl().post("/omed/faults", json::parse(R"({"seed":7,"tooManyRequests":0.5,"retryAfterSeconds":3})"));
    REQUIRE(set.status == 200);
    auto first = codes_of(s, 40);
    CHECK(std::count(first.begin(), first.end(), 429) > 5);
    CHECK(std::count(first.begin(), first.end(), 200) > 5);
    CHECK(std::count(first.begin(), first.end(), 429) + std::count(first.begin(), first.end(), 200) == 40);
    REQUIRE(s.cl().post("/omed/faults", json::parse(R"({"seed":7})")).status == 200);  // reseeds
    CHECK(codes_of(s, 40) == first);
    HttpResult limited;
    for (int i = 0; i < 40 && limited.status != 429; ++i)
      limited = s.cl().get(CM);
    check_status(limited, 429, "TooManyRequests");
    CHECK(limited.header("retry-after") == "3");
    CHECK(limited.json().at_path("details.retryAfterSeconds")->as_int() == 3);
  }
  SECTION("500 on every request, and the admin call still works to switch it off") {
    REQUIRE(s.cl().post("/omed/faults", json::parse(R"({"internalError":1})")).status == 200);
    check_status(s.cl().get(CM), 500, "InternalError");
    CHECK(s.cl().get("/omed/faults").json().get("internalError")->as_double() == 1.0);
    REQUIRE(s.cl().post("/omed/faults", json::parse(R"({"internalError":0})")).status == 200);
    CHECK(s.cl().get(CM).status == 200);
  }
  SECTION("added latency") {
    REQUIRE(s.cl().post("/omed/faults", json::parse(R"({"latencyMs":300})")).status == 200);
    auto t0 = std::chrono::steady_clock::now();
    CHECK(s.cl().get(CM).status == 200);
    CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(300));
  }
  SECTION("a resumed watch gets 410 Expired") {
    auto rv = rv_of(s.cl().get(CM).json());
    REQUIRE(s.cl().post("/omed/faults", json::parse(R"({"watchExpired":1})")).status == 200);
    auto w = s.watch(CM + "?watch=true&resourceVersion=" + rv);
    REQUIRE(w.status == 200);
    auto ev = w.next();
    REQUIRE(ev);
    CHECK(ev->string_or("type") == "ERROR");
    CHECK(ev->at_path("object.code")->as_int() == 410);
    CHECK(ev->at_path("object.reason")->as_string() == "Expired");
    CHECK(w.ended());
  }
  SECTION("a watch is dropped without the terminal chunk") {
    auto rv = rv_of(s.cl().get(CM).json());
    REQUIRE(s.cl().post("/omed/faults", json::parse(R"({"dropWatch":1})")).status == 200);
    auto w = s.watch(CM + "?watch=true&resourceVersion=" + rv);
    REQUIRE(w.status == 200);
    REQUIRE(s.cl().post(CM, configmap("c2")).status == 201);
    auto ev = w.next();
    REQUIRE(ev);
    CHECK(ev->string_or("type") == "ADDED");
    CHECK(w.ended());
    CHECK_FALSE(w.dechunk_.done);  // an abrupt close, not a clean end of stream
  }
  SECTION("bad settings are refused and change nothing") {
    auto r = s.cl().post("/omed/faults", json::parse(R"({"tooManyRequests":2})"));
    check_status(r, 400, "BadRequest");
    CHECK(r.json().string_or("message").find("tooManyRequests must be a probability") != std::string::npos);
    check_status(s.cl().post("/omed/faults", json::parse(R"({"explode":true})")), 400, "BadRequest");
    CHECK(s.cl().get("/omed/faults").json().get("tooManyRequests")->as_double() == 0.0);
  }
  SECTION("the admin call needs the token") {
    CHECK(s.cl().request("POST", "/omed/faults", R"({"internalError":1})", "application/json", {}, false).status == 401);
  }
}
