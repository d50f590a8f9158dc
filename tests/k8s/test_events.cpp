// The event recorder (k8s-api.md §4.2 C19) against the embedded API server: required fields, the
// core/v1 view, client-go style aggregation into series, expiry, scrubbing and the cache bound.
#include <catch2/catch.hpp>

#include <atomic>
#include <regex>
#include <thread>

#include "omed/apiserver/server.hpp"
#include "omed/k8s/client.hpp"
#include "omed/k8s/event_recorder.hpp"
#include "omed/log/logger.hpp"

using namespace omed;
using namespace omed::k8s;
using namespace std::chrono_literals;

namespace {

const char* const kToken = "events-test-token";

struct Cluster {
  std::unique_ptr<apiserver::ApiServer> srv;
  std::unique_ptr<RestClient> rest;
  std::unique_ptr<Client> client;
  Cluster() {
    apiserver::ApiServerOptions o;
    o.tls = false;
    o.token = kToken;
    srv = std::make_unique<apiserver::ApiServer>(o);
    srv->start();
    RestConfig c;
    c.server = srv->url();
    struct Tok : TokenSource {
      std::string token() override { return kToken; }
    };
    c.token = std::make_shared<Tok>();
    ClientOptions co;
    co.qps = 0;
    rest = std::make_unique<RestClient>(c, co);
    client = std::make_unique<Client>(*rest);
  }
  ~Cluster() { srv->stop(); }

  json::Value configmap(const std::string& name) {
    return client->create(*find_well_known("v1", "ConfigMap"),
                          json::Object{{"apiVersion", "v1"},
                                       {"kind", "ConfigMap"},
                                       {"metadata", json::Object{{"name", name}, {"namespace", "default"}}},
                                       {"data", json::Object{{"a", "1"}}}});
  }
  // events.k8s.io/v1 Events about the object `name` in `ns`.
  std::vector<json::Value> events_about(const std::string& ns, const std::string& name) {
    std::vector<json::Value> out;
    for (auto& e : client->list(events_v1(), ns).items)
      if (auto* n = e.at_path("regarding.name"); n && n->is_string() && n->as_string() == name)
        out.push_back(e);
    return out;
  }
  static const ResourceInfo& events_v1() { return *find_well_known("events.k8s.io/v1", "Event"); }
  static const ResourceInfo& core_events() { return *find_well_known("v1", "Event"); }
};

EventSpec spec_for(const json::Value& obj, std::string message, std::string reason = "ModelNotReady") {
  EventSpec ev;
  ev.regarding = ObjectRef::of(obj);
  ev.type = "Warning";
  ev.reason = std::move(reason);
  ev.action = "Reconcile";
  ev.message = std::move(message);
  return ev;
}

EventRecorderOptions options() {
  EventRecorderOptions o;
  o.reporting_instance = "omed-test-0";
  return o;
}

// A clock the test moves by hand (seconds after a fixed start).
struct FakeClock {
  std::chrono::system_clock::time_point base = std::chrono::system_clock::now();
  std::atomic<int64_t> offset_s{0};
  void attach(EventRecorder& r) {
    r.now = [this] { return base + std::chrono::seconds(offset_s.load()); };
  }
};

const std::regex& micro_time() {
  static const std::regex re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)");
  return re;
}

int64_t series_count(const json::Value& ev) {
  auto* c = ev.at_path("series.count");
  return c && c->is_int() ? c->as_int() : 0;
}

std::string str(const json::Value& v, const char* path) {
  auto* p = v.at_path(path);
  return p && p->is_string() ? p->as_string() : std::string("<absent>");
}

}  // namespace

TEST_CASE("C19: an Event carries every required field and shows in the core/v1 view", "[events]") {
  Cluster c;
  auto cm = c.configmap("model-config");
  EventRecorder rec(*c.client, options());
  auto ret = rec.record(spec_for(cm, "weights are still downloading"));

  std::string name = name_of(ret);
  CHECK(std::regex_match(name, std::regex(R"(model-config\.[0-9a-f]{16})")));
  auto ev = c.client->get(Cluster::events_v1(), "default", name);
  CHECK(str(ev, "metadata.namespace") == "default");
  CHECK(std::regex_match(str(ev, "eventTime"), micro_time()));
  CHECK(str(ev, "reportingController") == "ome.io/omed");
  CHECK(str(ev, "reportingInstance") == "omed-test-0");
  CHECK(str(ev, "action") == "Reconcile");
  CHECK(str(ev, "reason") == "ModelNotReady");
  CHECK(str(ev, "type") == "Warning");
  CHECK(str(ev, "note") == "weights are still downloading");
  CHECK(str(ev, "regarding.apiVersion") == "v1");
  CHECK(str(ev, "regarding.kind") == "ConfigMap");
  CHECK(str(ev, "regarding.namespace") == "default");
  CHECK(str(ev, "regarding.name") == "model-config");
  CHECK(str(ev, "regarding.uid") == str(cm, "metadata.uid"));
  CHECK(str(ev, "regarding.uid") != "<absent>");
  CHECK(str(ev, "regarding.resourceVersion") == str(cm, "metadata.resourceVersion"));
  CHECK(series_count(ev) == 0);

  // `kubectl describe` reads the core/v1 view of the same storage.
  ListOptions lo;
  lo.field_selector = "involvedObject.name=model-config";
  auto core = c.client->list(Cluster::core_events(), "default", lo).items;
  REQUIRE(core.size() == 1);
  CHECK(str(core[0], "metadata.name") == name);
  CHECK(str(core[0], "involvedObject.kind") == "ConfigMap");
  CHECK(str(core[0], "involvedObject.uid") == str(cm, "metadata.uid"));
  CHECK(str(core[0], "message") == "weights are still downloading");
  CHECK(str(core[0], "reason") == "ModelNotReady");
  CHECK(str(core[0], "type") == "Warning");
  CHECK(str(core[0], "reportingComponent") == "ome.io/omed");
}

TEST_CASE("C19: repeats become one Event's series; other messages and reasons new Events", "[events]") {
  Cluster c;
  auto cm = c.configmap("llama");
  EventRecorder rec(*c.client, options());
  auto first = rec.record(spec_for(cm, "pull failed"));
  auto second = rec.record(spec_for(cm, "pull failed"));
  auto third = rec.record(spec_for(cm, "pull failed"));
  CHECK(name_of(second) == name_of(first));
  CHECK(series_count(second) == 2);
  CHECK(series_count(third) == 3);
  CHECK(std::regex_match(str(third, "series.lastObservedTime"), micro_time()));
  CHECK(str(third, "eventTime") == str(first, "eventTime"));

  auto stored = c.events_about("default", "llama");
  REQUIRE(stored.size() == 1);
  CHECK(series_count(stored[0]) == 3);
  auto core = c.client->get(Cluster::core_events(), "default", name_of(first));
  // core/v1 shows the same series (kubectl's "x3 over" reads it); count is the deprecated field.
  CHECK(series_count(core) == 3);
  CHECK(str(core, "message") == "pull failed");

  auto other = rec.record(spec_for(cm, "pull failed: disk full"));
  CHECK(name_of(other) != name_of(first));
  auto reason = rec.record(spec_for(cm, "pull failed", "DownloadFailed"));
  CHECK(name_of(reason) != name_of(first));
  CHECK(c.events_about("default", "llama").size() == 3);
  // The original series carries on beside them.
  CHECK(series_count(rec.record(spec_for(cm, "pull failed"))) == 4);
  CHECK(c.events_about("default", "llama").size() == 3);
}

TEST_CASE("C19: after the aggregation window a repeat is a new Event", "[events]") {
  Cluster c;
  auto cm = c.configmap("qwen");
  EventRecorder rec(*c.client, options());
  FakeClock clock;
  clock.attach(rec);

  auto first = rec.record(spec_for(cm, "scaled to zero"));
  clock.offset_s = 9 * 60;  // inside the ten minutes
  CHECK(series_count(rec.record(spec_for(cm, "scaled to zero"))) == 2);
  clock.offset_s = 9 * 60 + 10 * 60 + 1;  // ten minutes after the last occurrence
  auto later = rec.record(spec_for(cm, "scaled to zero"));
  CHECK(name_of(later) != name_of(first));
  CHECK(series_count(later) == 0);
  CHECK(str(later, "eventTime") != str(first, "eventTime"));
  auto stored = c.events_about("default", "qwen");
  REQUIRE(stored.size() == 2);
  auto old = c.client->get(Cluster::events_v1(), "default", name_of(first));
  CHECK(series_count(old) == 2);
}

TEST_CASE("C19: a repeat of an Event that is gone creates a new one", "[events]") {
  Cluster c;
  auto cm = c.configmap("mistral");
  EventRecorder rec(*c.client, options());
  auto first = rec.record(spec_for(cm, "ready"));
  REQUIRE(c.client->remove(Cluster::events_v1(), "default", name_of(first)));
  auto again = rec.record(spec_for(cm, "ready"));
  CHECK(name_of(again) != name_of(first));
  CHECK(series_count(again) == 0);
  CHECK(series_count(rec.record(spec_for(cm, "ready"))) == 2);
  CHECK(c.events_about("default", "mistral").size() == 1);
}

TEST_CASE("C19: registered secrets never reach the API server; notes are cut at 1024 bytes", "[events]") {
  Cluster c;
  auto cm = c.configmap("secretive");
  log::register_secret("s3cr3t-token-value");
  EventRecorder rec(*c.client, options());
  auto ret = rec.record(spec_for(cm, "registry rejected s3cr3t-token-value for the pull"));
  rec.record(spec_for(cm, "registry rejected s3cr3t-token-value for the pull"));
  CHECK(str(ret, "note").find("s3cr3t") == std::string::npos);
  CHECK(str(ret, "note").find("[redacted]") != std::string::npos);
  auto raw = c.rest->request("GET", "/api/v1/events");
  REQUIRE(raw.code == 200);
  CHECK(raw.body.find("s3cr3t-token-value") == std::string::npos);
  CHECK(raw.body.find("registry rejected") != std::string::npos);

  // Two-byte characters from byte 1 on: the cut at 1024 lands inside one and backs off to 1023.
  std::string big = "x";
  for (int i = 0; i < 1500; ++i)
    big += "\xc3\xa9";
  auto cut = rec.record(spec_for(cm, big, "Huge"));
  std::string note = str(cut, "note");
  CHECK(note.size() == 1023);
  CHECK(note == big.substr(0, 1023));
}

TEST_CASE("C19: events about cluster-scoped objects go to namespace default", "[events]") {
  Cluster c;
  auto node = c.client->create(*find_well_known("v1", "Node"),
                               json::Object{{"apiVersion", "v1"}, {"kind", "Node"},
                                            {"metadata", json::Object{{"name", "gpu-node-1"}}}});
  EventRecorder rec(*c.client, options());
  EventSpec ev = spec_for(node, "8 GPUs became allocatable", "GPUsReady");
  ev.type = "Normal";
  CHECK(ev.regarding.ns.empty());
  auto ret = rec.record(ev);
  CHECK(str(ret, "metadata.namespace") == "default");
  auto stored = c.client->get(Cluster::events_v1(), "default", name_of(ret));
  CHECK(str(stored, "regarding.kind") == "Node");
  CHECK(str(stored, "regarding.name") == "gpu-node-1");
  CHECK(str(stored, "regarding.namespace") == "<absent>");
  CHECK(str(stored, "type") == "Normal");
  CHECK(series_count(rec.record(ev)) == 2);
}

TEST_CASE("C19: dry run persists nothing; the correlator cache stays bounded", "[events]") {
  Cluster c;
  auto cm = c.configmap("bounded");
  {
    auto o = options();
    o.dry_run = true;
    EventRecorder dry(*c.client, o);
    auto ret = dry.record(spec_for(cm, "would say this"));
    CHECK(str(ret, "note") == "would say this");
    dry.record(spec_for(cm, "would say this"));
    CHECK(c.events_about("default", "bounded").empty());
  }

  auto o = options();
  o.max_tracked = 2;
  EventRecorder rec(*c.client, o);
  FakeClock clock;
  clock.attach(rec);
  for (auto m : {"m1", "m2", "m3"}) {
    rec.record(spec_for(cm, m));
    clock.offset_s++;
  }
  // m1 was forgotten to make room for m3, so its repeat is a new Event; m3's is a series.
  CHECK(series_count(rec.record(spec_for(cm, "m1"))) == 0);
  clock.offset_s++;
  CHECK(series_count(rec.record(spec_for(cm, "m3"))) == 2);
  CHECK(c.events_about("default", "bounded").size() == 4);
}

TEST_CASE("C19: concurrent repeats from many threads make one Event with the full count", "[events]") {
  Cluster c;
  auto cm = c.configmap("busy");
  EventRecorder rec(*c.client, options());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        try {
          rec.record(spec_for(cm, "queue is full"));
        } catch (const std::exception&) {
          failures++;
        }
      }
    });
  for (auto& t : threads)
    t.join();
  CHECK(failures == 0);
  auto stored = c.events_about("default", "busy");
  REQUIRE(stored.size() == 1);
  CHECK(series_count(stored[0]) == 20);
}
