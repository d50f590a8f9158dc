// Watch decoding and the reflector (k8s-api.md §4.2 C13-C16, C18, C24): the real recorded watch
// response split at every byte boundary, list-then-watch against the embedded API server with its
// fault injection, and a scripted loopback server for wire cases that server never produces.
#include <catch2/catch.hpp>

#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "omed/apiserver/server.hpp"
#include "omed/http/server.hpp"
#include "omed/k8s/client.hpp"
#include "omed/k8s/reflector.hpp"
#include "omed/k8s/watch_decoder.hpp"
#include "../support/test_env.hpp"

using namespace omed;
using namespace omed::k8s;
using namespace omed::testing;

namespace {

// The de-chunked body of a raw recorded HTTP/1.1 response.
std::string dechunk_http(const std::string& raw) {
  auto body_at = raw.find("\r\n\r\n");
  REQUIRE(body_at != std::string::npos);
  std::string in = raw.substr(body_at + 4), out;
  size_t pos = 0;
  while (pos < in.size()) {
    auto eol = in.find("\r\n", pos);
    REQUIRE(eol != std::string::npos);
    size_t n = std::stoul(in.substr(pos, eol - pos), nullptr, 16);
    if (n == 0)
      break;
    out += in.substr(eol + 2, n);
    pos = eol + 2 + n + 2;
  }
  return out;
}

std::vector<WatchEvent> decode_all(const std::vector<std::string_view>& pieces, std::vector<std::string>* errors = nullptr) {
  WatchDecoder dec;
  std::vector<WatchEvent> out;
  for (auto p : pieces)
    dec.feed(p, [&](WatchEvent&& e) { out.push_back(std::move(e)); },
             [&](const std::string& err, std::string_view) {
               if (errors)
                 errors->push_back(err);
             });
  return out;
}

const ResourceInfo& cm() { return *find_well_known("v1", "ConfigMap"); }

json::Value configmap(const std::string& ns, const std::string& name, const std::string& value = "1") {
  return json::Object{{"apiVersion", "v1"},
                      {"kind", "ConfigMap"},
                      {"metadata", json::Object{{"name", name}, {"namespace", ns}}},
                      {"data", json::Object{{"a", value}}}};
}

// Mirrors what the reflector reports, as a consumer (a kind supervisor) would hold it.
struct Mirror : ReflectorHandler {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<const json::Value>> objects;
  std::vector<std::pair<std::string, std::string>> events;  // type, key
  std::map<std::string, int> restarts;
  int synced = 0;
  void on_event(const std::string& type, const std::shared_ptr<const json::Value>& obj) override {
    std::lock_guard<std::mutex> lk(mu);
    auto key = cache_key(*obj);
    events.emplace_back(type, key);
    if (type == "DELETED")
      objects.erase(key);
    else
      objects[key] = obj;
  }
  void on_synced(const std::string&) override {
    std::lock_guard<std::mutex> lk(mu);
    synced++;
  }
  void on_restart(const std::string& reason, const std::string&) override {
    std::lock_guard<std::mutex> lk(mu);
    restarts[reason]++;
  }
  std::map<std::string, std::string> state() {  // key -> resourceVersion
    std::lock_guard<std::mutex> lk(mu);
    std::map<std::string, std::string> out;
    for (auto& [k, o] : objects)
      out[k] = o->at_path("metadata.resourceVersion")->as_string();
    return out;
  }
  int count(const std::string& type, const std::string& key) {
    std::lock_guard<std::mutex> lk(mu);
    return static_cast<int>(std::count(events.begin(), events.end(), std::make_pair(type, key)));
  }
  int restarts_of(const std::string& reason) {
    std::lock_guard<std::mutex> lk(mu);
    return restarts[reason];
  }
};

struct Running {
  Reflector r;
  std::thread t;
  Running(Client& c, ReflectorOptions o, ReflectorHandler& h) : r(c, std::move(o), h), t([this] { r.run(); }) {}
  ~Running() {
    r.stop();
    t.join();
  }
};

struct Cluster {
  std::unique_ptr<apiserver::ApiServer> srv;
  std::unique_ptr<RestClient> rest;
  std::unique_ptr<Client> client;
  explicit Cluster(apiserver::ApiServerOptions o = {}) {
    o.tls = false;
    o.token = "watch-test-token";
    srv = std::make_unique<apiserver::ApiServer>(o);
    srv->start();
    RestConfig c;
    c.server = srv->url();
    struct Tok : TokenSource {
      std::string token() override { return "watch-test-token"; }
    };
    c.token = std::make_shared<Tok>();
    ClientOptions co;
    co.qps = 0;
    rest = std::make_unique<RestClient>(c, co);
    client = std::make_unique<Client>(*rest);
  }
  ~Cluster() { srv->stop(); }
  std::map<std::string, std::string> state(const std::string& ns) {
    std::map<std::string, std::string> out;
    for (auto& it : client->list(cm(), ns).items)
      out[cache_key(it)] = it.at_path("metadata.resourceVersion")->as_string();
    return out;
  }
};

template <class F>
bool eventually(F&& f, std::chrono::milliseconds within = std::chrono::milliseconds(10000)) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return f();
}

ReflectorOptions options(const std::string& ns) {
  ReflectorOptions o;
  o.resource = cm();
  o.ns = ns;
  o.seed = 42;
  o.backoff_initial = std::chrono::milliseconds(50);
  o.backoff_max = std::chrono::milliseconds(400);
  return o;
}

}  // namespace

// ------------------------------------------------------------------ decoder

TEST_CASE("C13, C24: the recorded watch response decodes identically at every split", "[watch]") {
  if (!have_shared("testdata/k8s/client-go-golden"))
    return;
  auto body = dechunk_http(read_file(shared_dir() / "testdata/k8s/client-go-golden/TestGoldenResponse/responses/events"));
  auto whole = decode_all({body});
  REQUIRE(whole.size() == 2);
  CHECK(whole[0].type == "ADDED");
  CHECK(whole[0].object->at_path("metadata.name")->as_string() == "foobar");
  CHECK(whole[0].object->at_path("metadata.resourceVersion")->as_string() == "217");
  CHECK(whole[1].type == "BOOKMARK");
  CHECK(whole[1].object->at_path("metadata.resourceVersion")->as_string() == "964");
  CHECK(whole[1].object->at_path("metadata.annotations")->get("k8s.io/initial-events-end")->as_string() == "true");
  for (size_t i = 0; i <= body.size(); ++i) {
    std::string_view b(body);
    auto split = decode_all({b.substr(0, i), b.substr(i)});
    REQUIRE(split.size() == 2);
    CHECK(*split[0].object == *whole[0].object);
    CHECK(*split[1].object == *whole[1].object);
    for (size_t j = i; j <= body.size(); j += 37) {  // and three pieces
      auto three = decode_all({b.substr(0, i), b.substr(i, j - i), b.substr(j)});
      REQUIRE(three.size() == 2);
      CHECK(three[1].type == "BOOKMARK");
    }
  }
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < body.size(); ++i)
    bytes.push_back(std::string_view(body).substr(i, 1));
  auto byte_by_byte = decode_all(bytes);
  REQUIRE(byte_by_byte.size() == 2);
  CHECK(*byte_by_byte[0].object == *whole[0].object);
}

TEST_CASE("C24: recorded list and get bodies parse; typed list items lack TypeMeta", "[watch]") {
  if (!have_shared("testdata/k8s/client-go-golden"))
    return;
  auto dir = shared_dir() / "testdata/k8s/client-go-golden/TestGoldenResponse/responses";
  auto list_raw = read_file(dir / "list");
  auto body = list_raw.substr(list_raw.find("\r\n\r\n") + 4);
  if (list_raw.find("Transfer-Encoding: chunked") != std::string::npos)
    body = dechunk_http(list_raw);
  auto list = json::parse(body);
  CHECK(list.string_or("kind") == "ServiceAccountList");
  auto& items = list.get("items")->as_array();
  REQUIRE_FALSE(items.empty());
  CHECK(items[0].get("kind") == nullptr);
  CHECK(cache_key(items[0]) == "default/" + items[0].at_path("metadata.name")->as_string());
  auto get_raw = read_file(dir / "nonlist");
  auto get_body = get_raw.substr(get_raw.find("\r\n\r\n") + 4);
  if (get_raw.find("Transfer-Encoding: chunked") != std::string::npos)
    get_body = dechunk_http(get_raw);
  CHECK(json::parse(get_body).string_or("kind") == "ServiceAccount");
}

TEST_CASE("C13, C18: escapes, null timestamps, unknown fields and types, junk lines", "[watch]") {
  std::vector<std::string> errors;
  std::string s =
    "{\"type\":\"ADDED\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\\u003cb\\u0026\","
    "\"creationTimestamp\":null,\"resourceVersion\":\"x1\"},\"futureField\":{\"deep\":[1,2]}},\"extra\":true}\n"
    "\r\n"
    "not json at all\n"
    "{\"type\":\"ADDED\"}\n"
    "{\"object\":{},\"type\":\"SOMETHING_NEW\"}\r\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"z\",\"resourceVersion\":\"x2\"}}}";
  auto events = decode_all({s}, &errors);
  REQUIRE(events.size() == 2);  // the last line is still incomplete
  CHECK(events[0].object->at_path("metadata.name")->as_string() == "a<b&");
  CHECK(events[0].object->at_path("metadata.creationTimestamp")->is_null());
  CHECK(events[1].type == "SOMETHING_NEW");  // passed on; the reflector logs and ignores it
  CHECK(errors.size() == 2);
  WatchDecoder dec;
  std::vector<WatchEvent> got;
  auto sink = [&](WatchEvent&& e) { got.push_back(std::move(e)); };
  dec.feed(s, sink);
  CHECK(dec.pending() > 0);
  dec.feed("\n", sink);
  CHECK(got.back().type == "DELETED");
  CHECK(dec.pending() == 0);
}

TEST_CASE("an over-long event is skipped without growing the buffer", "[watch]") {
  WatchDecoder dec(1024);
  std::vector<WatchEvent> got;
  std::vector<std::string> errors;
  auto sink = [&](WatchEvent&& e) { got.push_back(std::move(e)); };
  auto err = [&](const std::string& e, std::string_view) { errors.push_back(e); };
  std::string huge = "{\"type\":\"ADDED\",\"object\":{\"data\":\"" + std::string(4000, 'x');
  for (size_t i = 0; i < huge.size(); i += 100)
    dec.feed(std::string_view(huge).substr(i, 100), sink, err);
  CHECK(dec.pending() <= 1024);
  dec.feed("\"}}\n{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"ok\"}}}\n", sink, err);
  REQUIRE(got.size() == 1);
  CHECK(got[0].object->at_path("metadata.name")->as_string() == "ok");
  CHECK(errors.size() == 1);
}

// ------------------------------------------------------------------ reflector

TEST_CASE("C12, C14: list then watch; bookmarks move the resourceVersion; re-watch without relist", "[reflector]") {
  apiserver::ApiServerOptions so;
  so.bookmark_interval = std::chrono::milliseconds(200);
  Cluster c(so);
  for (int i = 0; i < 30; ++i)
    c.srv->create(configmap("default", "pre-" + std::to_string(i)));
  Mirror m;
  auto o = options("default");
  o.page_size = 7;  // several pages
  o.watch_timeout_min_s = o.watch_timeout_max_s = 1;
  Running run(*c.client, o, m);
  REQUIRE(eventually([&] { return m.synced >= 1; }));
  CHECK(m.state().size() == 30);
  c.client->create(cm(), configmap("default", "live"));
  auto upd = c.client->get(cm(), "default", "pre-0");
  upd["data"]["a"] = "2";
  c.client->update(cm(), upd);
  c.client->remove(cm(), "default", "pre-1");
  REQUIRE(eventually([&] { return m.state() == c.state("default"); }));
  CHECK(m.count("ADDED", "default/live") == 1);
  CHECK(m.count("MODIFIED", "default/pre-0") == 1);
  CHECK(m.count("DELETED", "default/pre-1") == 1);

  // Writes elsewhere move the global resourceVersion; bookmarks carry it to this watch.
  auto before = run.r.last_resource_version();
  for (int i = 0; i < 5; ++i)
    c.srv->create(configmap("kube-system", "elsewhere-" + std::to_string(i)));
  auto target = std::to_string(c.srv->current_rv());
  CHECK(eventually([&] { return run.r.last_resource_version() == target; }));
  CHECK(before != target);

  // Watches time out after a second and resume from the last resourceVersion: no relist.
  REQUIRE(eventually([&] { return run.r.watches() >= 3; }, std::chrono::milliseconds(6000)));
  CHECK(run.r.lists() == 1);
  CHECK(m.restarts_of("timeout") >= 2);
  c.client->create(cm(), configmap("default", "after-rewatch"));
  REQUIRE(eventually([&] { return m.state() == c.state("default"); }));
  CHECK(m.count("ADDED", "default/after-rewatch") == 1);
}

TEST_CASE("C15: a 410 relists from the last resourceVersion and reports what vanished", "[reflector]") {
  Cluster c;
  for (const char* n : {"a", "b", "c", "d"})
    c.srv->create(configmap("default", n));
  Mirror m;
  Running run(*c.client, options("default"), m);
  REQUIRE(eventually([&] { return m.synced == 1 && m.state().size() == 4; }));

  // The watch is dropped after its next event and every resumed watch is told 410: b's and c's
  // deletions are never seen as watch events, only through the relist.
  apiserver::FaultOptions f;
  f.drop_watch = 1;
  f.watch_expired = 1;
  c.srv->set_faults(f);
  c.client->remove(cm(), "default", "a");
  c.client->remove(cm(), "default", "b");
  c.client->remove(cm(), "default", "c");
  REQUIRE(eventually([&] { return m.restarts_of("expired") >= 1 && m.state() == c.state("default"); }));
  c.srv->set_faults({});
  CHECK(m.count("DELETED", "default/a") == 1);
  CHECK(m.count("DELETED", "default/b") == 1);
  CHECK(m.count("DELETED", "default/c") == 1);
  CHECK(run.r.lists() >= 2);
  {
    std::lock_guard<std::mutex> lk(m.mu);
    CHECK(m.objects.count("default/d") == 1);
  }
  c.client->create(cm(), configmap("default", "e"));
  REQUIRE(eventually([&] { return m.state() == c.state("default"); }));
  CHECK(m.count("ADDED", "default/e") == 1);
}

TEST_CASE("the reflector converges under dropped watches, 410s, 429s, 500s and latency", "[reflector]") {
  apiserver::ApiServerOptions so;
  so.bookmark_interval = std::chrono::milliseconds(300);
  Cluster c(so);
  Mirror m;
  auto o = options("chaos");
  o.watch_timeout_min_s = 1;
  o.watch_timeout_max_s = 3;
  c.client->create(*find_well_known("v1", "Namespace"),
                   json::Object{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", json::Object{{"name", "chaos"}}}});
  Running run(*c.client, o, m);
  apiserver::FaultOptions f;
  f.seed = 7;
  f.drop_watch = 0.01;
  f.watch_expired = 0.3;
  f.too_many_requests = 0.05;
  f.internal_error = 0.05;
  f.latency_ms = 2;
  c.srv->set_faults(f);
  // The test's own writes meet the same faults: retry them as any client would.
  auto retrying = [](auto&& fn) {
    for (int attempt = 0;; ++attempt) {
      try {
        return fn();
      } catch (const ApiError& e) {
        if (!e.retryable() || attempt > 50)
          throw;
      }
    }
  };
  std::mt19937 rng(1234);
  std::vector<std::string> live;
  for (int op = 0; op < 1500; ++op) {
    int what = live.size() < 50 ? 0 : static_cast<int>(rng() % 3);
    if (what == 0) {
      std::string name = "o" + std::to_string(op);
      c.srv->create(configmap("chaos", name));
      live.push_back(name);
    } else {
      size_t i = rng() % live.size();
      if (what == 1) {
        retrying([&] {
          return c.client->patch(cm(), "chaos", live[i], PatchType::Merge,
                                 "{\"data\":{\"a\":\"" + std::to_string(op) + "\"}}");
        });
      } else {
        retrying([&] { return c.client->remove(cm(), "chaos", live[i]); });
        live.erase(live.begin() + static_cast<long>(i));
      }
    }
  }
  c.srv->set_faults({});
  REQUIRE(eventually([&] { return m.state() == c.state("chaos"); }, std::chrono::milliseconds(30000)));
  CHECK(m.state().size() == live.size());
  std::lock_guard<std::mutex> lk(m.mu);
  CAPTURE(m.restarts["expired"], m.restarts["dropped"], m.restarts["error"]);
  CHECK(m.restarts["expired"] + m.restarts["dropped"] + m.restarts["error"] > 0);
}

namespace {

// A scripted API server for the reflector: one list response, then scripted watch answers.
struct ScriptedWatch {
  std::mutex mu;
  std::vector<std::string> targets;
  std::function<void(std::shared_ptr<http::Exchange>, int watch_no)> on_watch;
  std::string list_body = R"({"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"L1"},"items":[
    {"metadata":{"name":"x","namespace":"default","resourceVersion":"r-x"}},
    {"metadata":{"name":"y","namespace":"default","resourceVersion":"r-y"}}]})";
  int watches = 0;
  std::unique_ptr<http::Server> srv;
  ScriptedWatch() {
    srv = std::make_unique<http::Server>(http::ServerOptions{}, [this](std::shared_ptr<http::Exchange> ex) {
      int n;
      std::string body;
      {
        std::lock_guard<std::mutex> lk(mu);
        targets.push_back(ex->request().target);
        n = watches;
        body = list_body;
        if (ex->request().query.find("watch=1") != std::string::npos)
          watches++;
      }
      if (ex->request().query.find("watch=1") != std::string::npos)
        on_watch(ex, n);
      else
        ex->respond(http::Response::json(200, body));
    });
    srv->start();
  }
  ~ScriptedWatch() { srv->stop(); }
  std::unique_ptr<RestClient> rest() {
    RestConfig c;
    c.server = "http://127.0.0.1:" + std::to_string(srv->port());
    ClientOptions co;
    co.qps = 0;
    return std::make_unique<RestClient>(c, co);
  }
  std::vector<std::string> seen() {
    std::lock_guard<std::mutex> lk(mu);
    return targets;
  }
};

}  // namespace

TEST_CASE("C16: watches ask for bookmarks and a random 300-600 s timeout", "[reflector]") {
  ScriptedWatch s;
  s.on_watch = [](std::shared_ptr<http::Exchange> ex, int) {
    auto st = ex->stream(200, {{"Content-Type", "application/json"}});
    st->end();  // an immediate clean end: the reflector must back off, not spin
  };
  auto rest = s.rest();
  Client cl(*rest);
  Mirror m;
  ReflectorOptions o = options("default");
  o.seed = 0;
  Running run(cl, o, m);
  REQUIRE(eventually([&] { return run.r.watches() >= 4; }));
  std::set<int> timeouts;
  int watch_requests = 0;
  for (auto& t : s.seen()) {
    if (t.find("watch=1") == std::string::npos) {
      CHECK(t.find("limit=500") != std::string::npos);
      continue;
    }
    watch_requests++;
    CHECK(t.find("allowWatchBookmarks=true") != std::string::npos);
    CHECK(t.find("resourceVersion=L1") != std::string::npos);  // the list's RV, opaque (C5)
    auto q = http::parse_query(t.substr(t.find('?') + 1));
    for (auto& [k, v] : q)
      if (k == "timeoutSeconds") {
        int to = std::stoi(v);
        CHECK(to >= 300);
        CHECK(to <= 600);
        timeouts.insert(to);
      }
  }
  CHECK(watch_requests >= 4);
  CHECK(timeouts.size() >= 2);
  CHECK(run.r.lists() == 1);
  CHECK(m.state().size() == 2);
}

TEST_CASE("C15: HTTP 410 and ERROR Gone (old servers) both relist; unknown events are ignored", "[reflector]") {
  ScriptedWatch s;
  s.on_watch = [&](std::shared_ptr<http::Exchange> ex, int n) {
    if (n == 0) {  // a proxy answering 410 before any stream
      ex->respond(http::Response::json(410, R"({"kind":"Status","code":410,"reason":"Gone","message":"gone"})"));
      return;
    }
    auto st = ex->stream(200, {{"Content-Type", "application/json"}});
    if (n == 1) {
      {
        std::lock_guard<std::mutex> lk(s.mu);  // y vanishes while the reflector is not watching
        s.list_body = R"({"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"L2"},"items":[
          {"metadata":{"name":"x","namespace":"default","resourceVersion":"r-x2"}}]})";
      }
      st->write(R"({"type":"SURPRISE","object":{}})" "\n");
      st->write(R"J({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (2)","reason":"Gone","code":410}})J" "\n");
      return;  // the server keeps the stream open; the reflector must end it itself
    }
    st->write(R"({"type":"ADDED","object":{"metadata":{"name":"z","namespace":"default","resourceVersion":"r-z"}}})" "\n");
  };
  auto rest = s.rest();
  Client cl(*rest);
  Mirror m;
  Running run(cl, options("default"), m);
  REQUIRE(eventually([&] { return m.count("ADDED", "default/z") == 1; }));
  CHECK(run.r.lists() == 3);  // initial, after HTTP 410, after ERROR Gone
  CHECK(m.count("DELETED", "default/y") == 1);
  CHECK(m.count("MODIFIED", "default/x") == 1);
  CHECK(m.restarts_of("expired") == 2);
  auto targets = s.seen();
  // Relists ask for "not older than" the last RV seen.
  CHECK(std::count_if(targets.begin(), targets.end(), [](auto& t) {
          return t.find("watch=1") == std::string::npos && t.find("resourceVersion=L1") != std::string::npos;
        }) >= 1);
  CHECK(m.state() == std::map<std::string, std::string>{{"default/x", "r-x2"}, {"default/z", "r-z"}});
}

TEST_CASE("events split across transport chunks of every size reach the reflector intact", "[reflector]") {
  std::string stream_body;
  for (int i = 0; i < 20; ++i)
    stream_body += R"({"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"n)" + std::to_string(i) +
                   R"(","namespace":"default","resourceVersion":"s)" + std::to_string(i) + R"("},"data":{"k":"\u00e9\n"}}})" + "\n";
  for (size_t piece : {1, 2, 3, 7, 64, 4096}) {
    ScriptedWatch s;
    s.list_body = R"({"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"L0"},"items":[]})";
    s.on_watch = [&](std::shared_ptr<http::Exchange> ex, int n) {
      auto st = ex->stream(200, {{"Content-Type", "application/json"}});
      if (n > 0)
        return;
      for (size_t i = 0; i < stream_body.size(); i += piece)
        st->write(stream_body.substr(i, piece));
    };
    auto rest = s.rest();
    Client cl(*rest);
    Mirror m;
    Running run(cl, options("default"), m);
    REQUIRE(eventually([&] { return m.state().size() == 20; }));
    std::lock_guard<std::mutex> lk(m.mu);
    CHECK(m.objects["default/n7"]->at_path("data")->get("k")->as_string() == "\xc3\xa9\n");
  }
}

TEST_CASE("stop() ends a reflector promptly, mid-watch or mid-backoff", "[reflector]") {
  ScriptedWatch s;
  s.on_watch = [](std::shared_ptr<http::Exchange> ex, int) { ex->stream(200, {{"Content-Type", "application/json"}}); };
  auto rest = s.rest();
  Client cl(*rest);
  Mirror m;
  auto r = std::make_unique<Running>(cl, options("default"), m);
  REQUIRE(eventually([&] { return r->r.watches() == 1; }));
  auto t0 = std::chrono::steady_clock::now();
  r.reset();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(1000));

  RestConfig dead;
  {
    ScriptedWatch gone;
    dead.server = "http://127.0.0.1:" + std::to_string(gone.srv->port());
  }
  RestClient dead_rest(dead);
  Client dead_client(dead_rest);
  auto o = options("default");
  o.backoff_initial = std::chrono::milliseconds(5000);
  auto r2 = std::make_unique<Running>(dead_client, o, m);
  REQUIRE(eventually([&] { return m.restarts_of("error") >= 1; }));
  auto t1 = std::chrono::steady_clock::now();
  r2.reset();
  CHECK(std::chrono::steady_clock::now() - t1 < std::chrono::milliseconds(1000));
}
