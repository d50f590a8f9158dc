// The Kubernetes client against the embedded API server (TLS, token) and, for wire situations
// that server never produces, a scripted loopback server speaking the documented protocol
// (shared/reference/k8s-api.md §2). Items C3-C12, C18, C21, C22 of §4.2.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "omed/apiserver/server.hpp"
#include "omed/http/server.hpp"
#include "omed/k8s/client.hpp"
#include "omed/k8s/discovery.hpp"
#include "omed/metrics/registry.hpp"
#include "../support/test_env.hpp"

using namespace omed;
using namespace omed::k8s;
using namespace omed::testing;

namespace {

class FixedToken : public TokenSource {
public:
  explicit FixedToken(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {}
  std::string token() override {
    calls++;
    return tokens_[std::min(index_, tokens_.size() - 1)];
  }
  void invalidate() override {
    invalidations++;
    index_++;
  }
  int calls = 0;
  int invalidations = 0;

private:
  std::vector<std::string> tokens_;
  size_t index_ = 0;
};

struct Cluster {
  std::unique_ptr<apiserver::ApiServer> srv;
  std::unique_ptr<RestClient> rest;
  std::unique_ptr<Client> client;
  explicit Cluster(bool tls = true, ClientOptions co = fast()) {
    apiserver::ApiServerOptions o;
    o.tls = tls;
    o.token = "client-test-token";
    srv = std::make_unique<apiserver::ApiServer>(o);
    srv->start();
    rest = std::make_unique<RestClient>(config(), co);
    client = std::make_unique<Client>(*rest);
  }
  ~Cluster() { srv->stop(); }
  RestConfig config() const {
    RestConfig c;
    c.server = srv->url();
    c.ca_pem = srv->ca_pem();
    c.token = std::make_shared<FixedToken>(std::vector<std::string>{"client-test-token"});
    return c;
  }
  static ClientOptions fast() {
    ClientOptions co;
    co.qps = 0;  // unlimited: these tests are about semantics
    return co;
  }
};

const ResourceInfo& cm() { return *find_well_known("v1", "ConfigMap"); }

json::Value configmap(const std::string& name, const std::string& value = "1") {
  return json::Object{{"apiVersion", "v1"},
                      {"kind", "ConfigMap"},
                      {"metadata", json::Object{{"name", name}, {"namespace", "default"}}},
                      {"data", json::Object{{"a", value}}}};
}

json::Value widget_crd() {
  return json::parse(R"({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
    "metadata":{"name":"widgets.example.com"},
    "spec":{"group":"example.com","scope":"Namespaced",
      "names":{"plural":"widgets","singular":"widget","kind":"Widget"},
      "versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},
        "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}})");
}

// A loopback server answering from a script; records every request target.
struct Scripted {
  std::mutex mu;
  std::vector<std::string> targets;
  std::vector<std::string> auth;
  std::function<void(std::shared_ptr<http::Exchange>)> handle;
  std::unique_ptr<http::Server> srv;
  Scripted() {
    srv = std::make_unique<http::Server>(http::ServerOptions{}, [this](std::shared_ptr<http::Exchange> ex) {
      {
        std::lock_guard<std::mutex> lk(mu);
        targets.push_back(ex->request().method + " " + ex->request().target);
        auto* a = ex->request().header("Authorization");
        auth.push_back(a ? *a : "");
      }
      handle(ex);
    });
    srv->start();
  }
  ~Scripted() { srv->stop(); }
  RestConfig config() const {
    RestConfig c;
    c.server = "http://127.0.0.1:" + std::to_string(srv->port());
    return c;
  }
};

}  // namespace

TEST_CASE("C3: paths and percent-encoded queries", "[k8s-client]") {
  auto& bm = *find_well_known("ome.io/v1beta1", "BaseModel");
  auto& cbm = *find_well_known("ome.io/v1beta1", "ClusterBaseModel");
  CHECK(collection_path(cm(), "default") == "/api/v1/namespaces/default/configmaps");
  CHECK(collection_path(cm(), "") == "/api/v1/configmaps");
  CHECK(object_path(bm, "ns1", "llama", "status") == "/apis/ome.io/v1beta1/namespaces/ns1/basemodels/llama/status");
  CHECK(object_path(cbm, "ignored", "llama") == "/apis/ome.io/v1beta1/clusterbasemodels/llama");
  CHECK(query_string({{"fieldSelector", "metadata.name=x"}, {"labelSelector", "a in (b,c)"}}) ==
        "?fieldSelector=metadata.name%3Dx&labelSelector=a%20in%20%28b%2Cc%29");
  CHECK(query_string({}) == "");
  CHECK(bm.api_version() == "ome.io/v1beta1");
  CHECK(cm().api_version() == "v1");
}

TEST_CASE("C6: Status errors are typed; non-Status bodies still give an error", "[k8s-client]") {
  auto e = error_from_response(409, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
    "message":"configmaps \"a\" already exists","reason":"AlreadyExists","details":{"name":"a","kind":"configmaps"},"code":409})");
  CHECK(e.already_exists());
  CHECK_FALSE(e.conflict());
  CHECK(e.message() == "configmaps \"a\" already exists");
  auto c = error_from_response(409, R"({"kind":"Status","reason":"Conflict","message":"the object has been modified","code":409})");
  CHECK(c.conflict());
  auto inv = error_from_response(422, R"({"kind":"Status","reason":"Invalid","message":"bad","code":422,
    "details":{"causes":[{"reason":"FieldValueRequired","message":"Required value","field":"spec.size"}]}})");
  CHECK(inv.invalid());
  REQUIRE(inv.causes().size() == 1);
  CHECK(inv.causes()[0].field == "spec.size");
  CHECK(inv.causes()[0].type == "FieldValueRequired");
  auto gone = error_from_response(410, R"({"kind":"Status","reason":"Gone","code":410,"message":"too old"})");
  CHECK(gone.expired());
  auto throttled = error_from_response(429, R"({"kind":"Status","reason":"TooManyRequests","code":429,
    "details":{"retryAfterSeconds":4}})", "");
  CHECK(throttled.too_many_requests());
  CHECK(throttled.retry_after_seconds() == 4);
  CHECK(error_from_response(429, "", "7").retry_after_seconds() == 7);
  auto big = error_from_response(504, R"({"kind":"Status","reason":"Timeout","code":504,
    "details":{"causes":[{"reason":"ResourceVersionTooLarge"}],"retryAfterSeconds":1}})");
  CHECK(big.timeout());
  CHECK(big.retryable());
  auto proxy = error_from_response(502, "<html>Bad Gateway</html>");
  CHECK(proxy.code() == 502);
  CHECK(proxy.reason() == "InternalError");
  CHECK(std::string(proxy.what()).find("HTTP 502") != std::string::npos);
  CHECK(error_from_response(404, "").not_found());
}

TEST_CASE("CRUD over TLS with a bearer token (C5, C7, C8, C11)", "[k8s-client]") {
  Cluster c;
  auto& cl = *c.client;
  auto created = cl.create(cm(), configmap("one"));
  std::string rv = created.at_path("metadata.resourceVersion")->as_string();
  CHECK_FALSE(rv.empty());

  SECTION("get and try_get") {
    CHECK(cl.get(cm(), "default", "one").at_path("data.a")->as_string() == "1");
    CHECK_FALSE(cl.try_get(cm(), "default", "missing").has_value());
    try {
      cl.get(cm(), "default", "missing");
      FAIL("expected NotFound");
    } catch (const ApiError& e) {
      CHECK(e.not_found());
      CHECK(e.message() == "configmaps \"missing\" not found");
    }
  }
  SECTION("create of an existing name is AlreadyExists") {
    try {
      cl.create(cm(), configmap("one"));
      FAIL("expected AlreadyExists");
    } catch (const ApiError& e) {
      CHECK(e.already_exists());
    }
  }
  SECTION("update with the observed resourceVersion; a stale one is a Conflict") {
    auto fresh = created;
    fresh["data"]["a"] = "2";
    auto updated = cl.update(cm(), fresh);
    CHECK(updated.at_path("data.a")->as_string() == "2");
    CHECK(updated.at_path("metadata.resourceVersion")->as_string() != rv);
    auto stale = created;  // still carries the first resourceVersion
    stale["data"]["a"] = "3";
    try {
      cl.update(cm(), stale);
      FAIL("expected Conflict");
    } catch (const ApiError& e) {
      CHECK(e.conflict());
    }
    CHECK(cl.get(cm(), "default", "one").at_path("data.a")->as_string() == "2");  // never overwritten
  }
  SECTION("merge and JSON patches; dry run persists nothing") {
    cl.patch(cm(), "default", "one", PatchType::Merge, R"({"data":{"b":"x"}})");
    cl.patch(cm(), "default", "one", PatchType::Json, R"([{"op":"replace","path":"/data/a","value":"9"}])");
    auto got = cl.get(cm(), "default", "one");
    CHECK(got.at_path("data.a")->as_string() == "9");
    CHECK(got.at_path("data.b")->as_string() == "x");
    WriteOptions dry;
    dry.dry_run = true;
    auto would = cl.patch(cm(), "default", "one", PatchType::Merge, R"({"data":{"a":"dry"}})", dry);
    CHECK(would.at_path("data.a")->as_string() == "dry");
    CHECK(cl.get(cm(), "default", "one").at_path("data.a")->as_string() == "9");
  }
  SECTION("server-side apply with field manager omed creates and updates") {
    auto applied = cl.apply(cm(), configmap("applied", "v1"));
    CHECK(applied.at_path("data.a")->as_string() == "v1");
    auto& mf = applied.at_path("metadata.managedFields")->as_array();
    CHECK(mf[0].string_or("manager") == "omed");
    CHECK(mf[0].string_or("operation") == "Apply");
    CHECK(cl.apply(cm(), configmap("applied", "v2")).at_path("data.a")->as_string() == "v2");
  }
  SECTION("delete: Status or object responses, 404 counts as success") {
    CHECK(cl.remove(cm(), "default", "one"));
    CHECK_FALSE(cl.try_get(cm(), "default", "one").has_value());
    CHECK(cl.remove(cm(), "default", "one"));  // already gone
    auto f = configmap("held");
    f["metadata"]["finalizers"] = json::Array{"example.com/hold"};
    cl.create(cm(), f);
    CHECK(cl.remove(cm(), "default", "held"));  // 200 with the object: deletion pending
    auto held = cl.get(cm(), "default", "held");
    CHECK(held.at_path("metadata.deletionTimestamp"));
    DeleteOptions pre;
    pre.precondition_uid = "not-the-uid";
    auto other = cl.create(cm(), configmap("other"));
    CHECK_THROWS_AS(cl.remove(cm(), "default", "other", pre), ApiError);
    CHECK(cl.try_get(cm(), "default", "other").has_value());
  }
}

TEST_CASE("C8: status goes to /status and spec writes leave it alone", "[k8s-client]") {
  Cluster c;
  auto& cl = *c.client;
  cl.create(*find_well_known("apiextensions.k8s.io/v1", "CustomResourceDefinition"), widget_crd());
  Discovery disco(*c.rest, std::chrono::seconds(0));
  std::optional<ResourceInfo> w;
  for (int i = 0; i < 50 && !w; ++i) {
    w = disco.resolve("example.com/v1", "Widget");
    if (!w)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(w);
  auto obj = json::parse(R"({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"default"},
                             "spec":{"size":1},"status":{"phase":"ignored"}})");
  auto created = cl.create(*w, obj);
  CHECK(created.get("status") == nullptr);  // POST ignores status
  created["status"] = json::Object{{"phase", "Ready"}, {"observedGeneration", 1}};
  auto st = cl.update_status(*w, created);
  CHECK(st.at_path("status.phase")->as_string() == "Ready");
  cl.patch(*w, "default", "w", PatchType::Merge, R"({"status":{"phase":"Failed"},"spec":{"size":2}})");
  auto now = cl.get(*w, "default", "w");
  CHECK(now.at_path("status.phase")->as_string() == "Ready");
  CHECK(now.at_path("spec.size")->as_int() == 2);
  cl.patch(*w, "default", "w", PatchType::Merge, R"({"status":{"phase":"Serving"}})", {}, "status");
  CHECK(cl.get(*w, "default", "w").at_path("status.phase")->as_string() == "Serving");
}

TEST_CASE("C4: discovery resolves kinds and re-discovers a new CRD", "[k8s-client]") {
  Cluster c;
  Discovery disco(*c.rest, std::chrono::seconds(0));
  auto cmr = disco.resolve("v1", "ConfigMap");
  REQUIRE(cmr);
  CHECK(cmr->resource == "configmaps");
  CHECK(cmr->namespaced);
  auto node = disco.resolve("v1", "Node");
  REQUIRE(node);
  CHECK_FALSE(node->namespaced);
  auto dep = disco.resolve("apps/v1", "Deployment");
  REQUIRE(dep);
  CHECK(dep->resource == "deployments");
  CHECK(disco.last_format() == "aggregated");
  CHECK_FALSE(disco.resolve("example.com/v1", "Widget"));
  c.client->create(*find_well_known("apiextensions.k8s.io/v1", "CustomResourceDefinition"), widget_crd());
  std::optional<ResourceInfo> w;
  for (int i = 0; i < 50 && !w; ++i) {
    w = disco.resolve("example.com/v1", "Widget");  // a miss refreshes
    if (!w)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(w);
  CHECK(w->resource == "widgets");
  CHECK(w->namespaced);
}

TEST_CASE("C4: legacy discovery when aggregated documents are not offered", "[k8s-client]") {
  Scripted s;
  s.handle = [](std::shared_ptr<http::Exchange> ex) {
    auto& p = ex->request().path;
    if (p == "/api")
      ex->respond(http::Response::json(200, R"({"kind":"APIVersions","versions":["v1"]})"));
    else if (p == "/apis")
      ex->respond(http::Response::json(200, R"({"kind":"APIGroupList","groups":[{"name":"ome.io",
        "versions":[{"groupVersion":"ome.io/v1beta1","version":"v1beta1"}]}]})"));
    else if (p == "/api/v1")
      ex->respond(http::Response::json(200, R"({"kind":"APIResourceList","groupVersion":"v1","resources":[
        {"name":"pods","namespaced":true,"kind":"Pod"},{"name":"pods/status","namespaced":true,"kind":"Pod"},
        {"name":"nodes","namespaced":false,"kind":"Node"}]})"));
    else if (p == "/apis/ome.io/v1beta1")
      ex->respond(http::Response::json(200, R"({"kind":"APIResourceList","groupVersion":"ome.io/v1beta1","resources":[
        {"name":"basemodels","namespaced":true,"kind":"BaseModel","verbs":["get"]}]})"));
    else
      ex->respond(http::Response::json(404, R"({"kind":"Status","code":404,"reason":"NotFound"})"));
  };
  RestClient rest(s.config(), Cluster::fast());
  Discovery disco(rest);
  auto bm = disco.resolve("ome.io/v1beta1", "BaseModel");
  REQUIRE(bm);
  CHECK(bm->resource == "basemodels");
  CHECK(disco.last_format() == "legacy");
  auto all = disco.resources();
  CHECK(all.size() == 3);  // pods/status is a subresource, not a resource
  CHECK_FALSE(disco.resolve("v1", "Secret"));
}

TEST_CASE("C12: list follows continue tokens and restores item TypeMeta", "[k8s-client]") {
  Cluster c(false);
  for (int i = 0; i < 1203; ++i)
    c.srv->create(configmap("cm-" + std::to_string(i)));
  ListOptions lo;
  lo.limit = 500;
  auto res = c.client->list(cm(), "default", lo);
  CHECK(res.items.size() == 1203);
  std::set<std::string> names;
  for (auto& it : res.items) {
    names.insert(name_of(it));
    CHECK(it.string_or("kind") == "ConfigMap");
    CHECK(it.string_or("apiVersion") == "v1");
  }
  CHECK(names.size() == 1203);
  CHECK(res.resource_version == std::to_string(c.srv->current_rv()));
  lo.label_selector = "nothing=here";
  CHECK(c.client->list(cm(), "default", lo).items.empty());
}

TEST_CASE("C12: a list whose continue token expired restarts from scratch", "[k8s-client]") {
  Scripted s;
  std::atomic<int> lists{0};
  s.handle = [&](std::shared_ptr<http::Exchange> ex) {
    auto q = http::parse_query(ex->request().query);
    bool cont = std::any_of(q.begin(), q.end(), [](auto& kv) { return kv.first == "continue"; });
    int n = lists++;
    if (n == 0)  // first page, no kind/apiVersion on items as typed lists send them
      ex->respond(http::Response::json(200, R"({"kind":"ConfigMapList","apiVersion":"v1",
        "metadata":{"resourceVersion":"a1","continue":"tok"},"items":[{"metadata":{"name":"x","resourceVersion":"opaque-1"}}]})"));
    else if (cont)
      ex->respond(http::Response::json(410, R"({"kind":"Status","code":410,"reason":"Expired","message":"continue too old"})"));
    else
      ex->respond(http::Response::json(200, R"({"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"b2"},
        "items":[{"metadata":{"name":"x","resourceVersion":"opaque-2"}},{"metadata":{"name":"y","resourceVersion":"opaque-3"}}]})"));
  };
  RestClient rest(s.config(), Cluster::fast());
  Client cl(rest);
  auto res = cl.list(cm(), "default");
  CHECK(res.resource_version == "b2");  // C5: resourceVersions are opaque strings
  REQUIRE(res.items.size() == 2);
  CHECK(res.items[0].string_or("kind") == "ConfigMap");
  CHECK(lists.load() == 3);
}

TEST_CASE("401 drops the cached credential and retries once; a wrong token surfaces as Unauthorized", "[k8s-client]") {
  Cluster c;
  auto cfg = c.config();
  auto tok = std::make_shared<FixedToken>(std::vector<std::string>{"expired-token", "client-test-token"});
  cfg.token = tok;
  RestClient rest(cfg, Cluster::fast());
  Client cl(rest);
  CHECK(cl.list(cm(), "default").items.empty());
  CHECK(tok->invalidations == 1);
  auto bad = c.config();
  bad.token = std::make_shared<FixedToken>(std::vector<std::string>{"nope"});
  RestClient rest2(bad, Cluster::fast());
  Client cl2(rest2);
  try {
    cl2.list(cm(), "default");
    FAIL("expected 401");
  } catch (const ApiError& e) {
    CHECK(e.code() == 401);
  }
}

TEST_CASE("TLS is verified: a wrong CA or name fails, insecure skips the check", "[k8s-client]") {
  Cluster c;
  auto cfg = c.config();
  cfg.ca_pem = "";  // the system roots do not know the server's own CA
  RestClient untrusted(cfg, Cluster::fast());
  CHECK_THROWS_AS(untrusted.request("GET", "/version"), TransportError);
  cfg.insecure_skip_tls_verify = true;
  RestClient insecure(cfg, Cluster::fast());
  CHECK(insecure.request("GET", "/version").code == 200);
  auto named = c.config();
  named.tls_server_name = "omed-apiserver";  // one of the serving certificate's names
  RestClient by_name(named, Cluster::fast());
  CHECK(by_name.request("GET", "/version").code == 200);
  named.tls_server_name = "evil.example.com";
  RestClient wrong_name(named, Cluster::fast());
  CHECK_THROWS_AS(wrong_name.request("GET", "/version"), TransportError);
}

TEST_CASE("C21: client-side rate limiting and request timeouts", "[k8s-client]") {
  Cluster c(false);
  ClientOptions co;
  co.qps = 50;
  co.burst = 5;
  RestClient limited(c.config(), co);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 30; ++i)
    REQUIRE(limited.request("GET", "/api/v1/namespaces/default/configmaps").code == 200);
  auto took = std::chrono::steady_clock::now() - t0;
  // 5 from the burst, 25 more at 50/s: at least half a second.
  CHECK(took >= std::chrono::milliseconds(480));
  CHECK(limited.throttled_requests() >= 20);

  apiserver::FaultOptions slow;
  slow.latency_ms = 1500;
  c.srv->set_faults(slow);
  ClientOptions quick = Cluster::fast();
  quick.timeout = std::chrono::milliseconds(300);
  RestClient impatient(c.config(), quick);
  auto t1 = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(impatient.request("GET", "/api/v1/namespaces/default/configmaps"), TransportError);
  CHECK(std::chrono::steady_clock::now() - t1 < std::chrono::milliseconds(1400));
}

TEST_CASE("a dead API server is a TransportError, not a hang", "[k8s-client]") {
  RestConfig cfg;
  {
    Scripted s;  // bind a port, then free it so nothing listens there
    cfg.server = s.config().server;
  }
  ClientOptions co = Cluster::fast();
  co.connect_timeout = std::chrono::milliseconds(500);
  RestClient rest(cfg, co);
  Client cl(rest);
  try {
    cl.list(cm(), "default");
    FAIL("expected a transport error");
  } catch (const TransportError& e) {
    CHECK(std::string(e.what()).find("/api/v1/namespaces/default/configmaps") != std::string::npos);
  }
}

TEST_CASE("metrics count requests by verb and code; tokens never reach error text", "[k8s-client]") {
  Cluster c;
  metrics::Registry reg;
  ClientOptions co = Cluster::fast();
  co.metrics = &reg;
  RestClient rest(c.config(), co);
  Client cl(rest);
  cl.create(cm(), configmap("m"));
  cl.try_get(cm(), "default", "absent");
  auto text = reg.expose();
  CHECK(text.find("omed_api_requests_total{verb=\"POST\",code=\"201\"} 1") != std::string::npos);
  CHECK(text.find("omed_api_requests_total{verb=\"GET\",code=\"404\"} 1") != std::string::npos);
  try {
    cl.get(cm(), "default", "absent");
  } catch (const ApiError& e) {
    CHECK(std::string(e.what()).find("client-test-token") == std::string::npos);
  }
}
