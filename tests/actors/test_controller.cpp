// The controller role end to end against the embedded API server: watch streams feed kind
// supervisors, one resource actor per object, every write through the applier (finalizer,
// status, events), a poisoned object parked, and convergence under injected faults.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <thread>

#include "omed/actors/controller.hpp"
#include "omed/actors/watch_stream.hpp"
#include "omed/apiserver/server.hpp"
#include "omed/controller/admission.hpp"
#include "omed/k8s/client.hpp"
#include "omed/metrics/registry.hpp"
#include "omed/runtime/readiness.hpp"
#include "../support/test_env.hpp"

using namespace omed;
using namespace omed::actors;
using namespace omed::testing;

namespace {

struct SysConfig : caf::actor_system_config {
  SysConfig() {
    set("scheduler.max-threads", 2);
    add_message_types<caf::id_block::omed>();
  }
};

struct Tok : k8s::TokenSource {
  std::string token() override { return "controller-test"; }
};

template <class F>
bool eventually(F&& f, std::chrono::milliseconds within = std::chrono::milliseconds(15000)) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return f();
}

const k8s::ResourceInfo& cbm() { return *k8s::find_well_known("ome.io/v1beta1", "ClusterBaseModel"); }
const k8s::ResourceInfo& bm() { return *k8s::find_well_known("ome.io/v1beta1", "BaseModel"); }

json::Value model(const std::string& kind, const std::string& name, const std::string& vendor = "meta") {
  json::Value m = json::Object{{"apiVersion", "ome.io/v1beta1"}, {"kind", kind},
                               {"metadata", json::Object{{"name", name}}},
                               {"spec", json::Object{{"vendor", vendor},
                                                     {"storage", json::Object{{"storageUri", "hf://meta-llama/Llama-3.1-8B"}}}}}};
  if (kind == "BaseModel")
    m["metadata"]["namespace"] = "default";
  return m;
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

struct Env {
  std::unique_ptr<apiserver::ApiServer> srv;
  std::unique_ptr<k8s::RestClient> rest;
  std::unique_ptr<k8s::Client> client;
  metrics::Registry reg;
  runtime::Readiness ready;
  std::unique_ptr<Controller> ctl;
  std::unique_ptr<SysConfig> cfg;
  std::unique_ptr<caf::actor_system> sys;
  supervisor_actor root;

  explicit Env(apiserver::ApiServerOptions so = {}) {
    so.tls = false;
    so.token = "controller-test";
    srv = std::make_unique<apiserver::ApiServer>(so);
    srv->start();
    REQUIRE(srv->load_crds((source_root() / "deploy/crds").string()) == 8);
    k8s::ClientOptions co;
    co.qps = 0;
    rest = std::make_unique<k8s::RestClient>(rest_config(), co);
    client = std::make_unique<k8s::Client>(*rest);
  }

  k8s::RestConfig rest_config() const {
    k8s::RestConfig rc;
    rc.server = srv->url();
    rc.token = std::make_shared<Tok>();
    return rc;
  }

  void start(ControllerOptions co) {
    co.rest = rest_config();
    co.client.qps = 0;
    co.leader_election = false;
    co.metrics = &reg;
    co.readiness = &ready;
    co.watch_backoff_initial = std::chrono::milliseconds(100);
    ctl = std::make_unique<Controller>(std::move(co));
    cfg = std::make_unique<SysConfig>();
    sys = std::make_unique<caf::actor_system>(*cfg);
    SupervisorOptions so;
    so.metrics = &reg;
    root = spawn_root_supervisor(*sys, ctl->children(), so);
  }

  ~Env() {
    if (sys) {
      caf::scoped_actor self{*sys};
      self->request(root, std::chrono::seconds(10), drain_atom_v).receive([](caf::ok_atom) {}, [](caf::error&) {});
      root = nullptr;
    }
    sys.reset();
    ctl.reset();
    srv->stop();
  }

  // What every live resource actor of `kind` holds: key -> resourceVersion.
  std::map<std::string, std::string> held(const std::string& kind) {
    std::map<std::string, std::string> out;
    auto e = ctl->directory().get(kind);
    if (!e)
      return out;
    caf::scoped_actor self{*sys};
    self->request(e->handle, std::chrono::seconds(10), held_atom_v)
      .receive(
        [&](std::vector<HeldObject>& hs) {
          for (auto& h : hs)
            out[h.key] = h.resource_version;
        },
        [&](caf::error& err) { FAIL("held: " << describe(err)); });
    return out;
  }

  std::map<std::string, std::string> server_state(const k8s::ResourceInfo& r) {
    std::map<std::string, std::string> out;
    for (auto& it : client->list(r, "").items)
      out[k8s::cache_key(it)] = it.at_path("metadata.resourceVersion")->as_string();
    return out;
  }

  double gauge(const std::string& needle) {
    auto text = reg.expose();
    auto at = text.find(needle);
    if (at == std::string::npos)
      return -1;
    return std::stod(text.substr(at + needle.size() + 1, text.find('\n', at) - at - needle.size() - 1));
  }
};

}  // namespace

TEST_CASE("objects in, one actor each: finalizer, Accepted status, observedGeneration, clean deletion",
          "[controller]") {
  Env env;
  ControllerOptions co;
  co.kinds = {"ClusterBaseModel", "BaseModel"};
  env.start(co);
  REQUIRE(eventually([&] { return env.ready.ready(); }));

  env.client->create(cbm(), model("ClusterBaseModel", "llama"));
  env.client->create(bm(), model("BaseModel", "qwen"));
  auto settled = [&](const k8s::ResourceInfo& r, const std::string& ns, const std::string& name, int64_t gen) {
    auto o = env.client->try_get(r, ns, name);
    if (!o)
      return false;
    auto* c = condition(*o, "Accepted");
    auto* og = o->at_path("status.observedGeneration");
    auto* f = o->at_path("metadata.finalizers");
    return c && c->string_or("status") == "True" && og && og->as_int() == gen && f && f->as_array().size() == 1 &&
           f->as_array()[0].as_string() == "ome.io/finalizer";
  };
  REQUIRE(eventually([&] { return settled(cbm(), "", "llama", 1) && settled(bm(), "default", "qwen", 1); }));
  auto held = env.held("ClusterBaseModel");
  REQUIRE(held.size() == 1);
  REQUIRE(eventually([&] { return env.held("ClusterBaseModel") == env.server_state(cbm()); }));
  CHECK(env.gauge("omed_resource_actors{kind=\"ClusterBaseModel\"}") == 1);

  // A spec change: generation 2 is observed.
  env.client->patch(cbm(), "", "llama", k8s::PatchType::Merge, R"({"spec":{"vendor":"meta-llama"}})");
  REQUIRE(eventually([&] { return settled(cbm(), "", "llama", 2); }));
  auto llama = env.client->get(cbm(), "", "llama");
  auto* accepted = condition(llama, "Accepted");
  CHECK(accepted->string_or("reason") == "Valid");
  CHECK(accepted->int_at("observedGeneration") == 2);

  // Level-triggered: a status-only write from elsewhere is corrected back, nothing else changes.
  auto before = env.client->get(cbm(), "", "llama");
  // Deletion: the actor removes its finalizer, the object goes, and so does the actor.
  env.client->remove(cbm(), "", "llama");
  REQUIRE(eventually([&] { return !env.client->try_get(cbm(), "", "llama"); }));
  REQUIRE(eventually([&] { return env.held("ClusterBaseModel").empty(); }));
  CHECK(eventually([&] { return env.gauge("omed_resource_actors{kind=\"ClusterBaseModel\"}") == 0; }));
  CHECK(env.gauge("omed_watch_events_total{kind=\"ClusterBaseModel\",type=\"DELETED\"}") >= 1);
  (void)before;
}

TEST_CASE("Nodes get one observe-only actor each; omed never writes to them", "[controller]") {
  Env env;
  ControllerOptions co;
  co.kinds = {"ClusterBaseModel"};
  env.start(co);
  REQUIRE(eventually([&] { return env.ready.ready(); }));
  const auto& node = *k8s::find_well_known("v1", "Node");
  auto mk = [&](const std::string& name, int gpus) {
    json::Value n = json::Object{{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", json::Object{{"name", name}}}};
    auto created = env.client->create(node, n);
    created["status"] = json::Object{{"allocatable", json::Object{{"nvidia.com/gpu", std::to_string(gpus)}}}};
    return env.client->update_status(node, created);
  };
  auto a = mk("gpu-a", 8);
  auto b = mk("gpu-b", 4);
  std::map<std::string, std::string> want{{"gpu-a", a.at_path("metadata.resourceVersion")->as_string()},
                                          {"gpu-b", b.at_path("metadata.resourceVersion")->as_string()}};
  REQUIRE(eventually([&] { return env.held("Node") == want; }));
  CHECK(env.gauge("omed_resource_actors{kind=\"Node\"}") == 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto again = env.client->get(node, "", "gpu-a");
  CHECK(again.at_path("metadata.resourceVersion")->as_string() == want["gpu-a"]);
  CHECK(again.at_path("metadata.finalizers") == nullptr);
  env.client->remove(node, "", "gpu-b");
  want.erase("gpu-b");
  REQUIRE(eventually([&] { return env.held("Node") == want; }));
  CHECK(eventually([&] { return env.gauge("omed_resource_actors{kind=\"Node\"}") == 1; }));
}

TEST_CASE("dry-run: every write is sent with dryRun=All and nothing is persisted", "[controller]") {
  Env env;
  ControllerOptions co;
  co.kinds = {"ClusterBaseModel"};
  co.dry_run = true;
  co.watch_nodes = false;
  env.start(co);
  REQUIRE(eventually([&] { return env.ready.ready(); }));
  auto created = env.client->create(cbm(), model("ClusterBaseModel", "dry"));
  // The actor computes its writes and the server validates them...
  REQUIRE(eventually([&] { return env.gauge("omed_applier_writes_total{op=\"add-finalizer\",result=\"ok\"}") >= 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  // ...but the object is exactly as created: no finalizer, no status, the same resourceVersion.
  auto now = env.client->get(cbm(), "", "dry");
  CHECK(now.at_path("metadata.resourceVersion")->as_string() == created.at_path("metadata.resourceVersion")->as_string());
  CHECK(now.at_path("metadata.finalizers") == nullptr);
  CHECK(now.at_path("status") == nullptr);
}

TEST_CASE("an invalid object is rejected in status with an Event, without a finalizer", "[controller]") {
  Env env;
  ControllerOptions co;
  co.kinds = {"ClusterBaseModel"};
  env.start(co);
  // The embedded server enforces the CRD schema only; omed's semantic rules run in reconcile.
  auto bad = model("ClusterBaseModel", "bad");
  bad["spec"]["storage"]["storageUri"] = "ftp://nowhere/model";
  env.client->create(cbm(), bad);
  REQUIRE(eventually([&] {
    auto o = env.client->try_get(cbm(), "", "bad");
    auto* c = o ? condition(*o, "Accepted") : nullptr;
    return c && c->string_or("status") == "False";
  }));
  auto o = env.client->get(cbm(), "", "bad");
  auto* c = condition(o, "Accepted");
  CHECK(c->string_or("reason") == "InvalidSpec");
  CHECK(c->string_or("message").find("spec.storage.storageUri") != std::string::npos);
  CHECK(o.at_path("metadata.finalizers") == nullptr);
  REQUIRE(eventually([&] {
    auto evs = env.client->list(*k8s::find_well_known("v1", "Event"), "default").items;
    for (auto& e : evs)
      if (e.string_or("reason") == "InvalidSpec" && e.at_path("involvedObject.name")->as_string() == "bad")
        return e.string_or("type") == "Warning";
    return false;
  }));
}

TEST_CASE("a poisoned object is restarted with backoff, parked with status and Event; others unaffected",
          "[controller]") {
  Env env;
  ControllerOptions co;
  co.kinds = {"ClusterBaseModel"};
  co.supervision.policy.initial_backoff = std::chrono::milliseconds(50);
  co.supervision.policy.max_backoff = std::chrono::milliseconds(200);
  std::atomic<int> poisoned_runs{0};
  co.make_reconciler = [&](const std::string&, const std::string&) {
    return Reconciler([&](const controller::Input& in) {
      auto* ann = in.object.at_path("metadata.annotations");
      if (ann && ann->get("test.omed.io/poison")) {
        poisoned_runs++;
        throw std::runtime_error("cannot parse this model's config");
      }
      return controller::admission_plan(in);
    });
  };
  env.start(co);
  auto poison = model("ClusterBaseModel", "poison");
  poison["metadata"]["annotations"] = json::Object{{"test.omed.io/poison", "1"}};
  env.client->create(cbm(), poison);
  env.client->create(cbm(), model("ClusterBaseModel", "healthy"));
  REQUIRE(eventually([&] {
    auto o = env.client->try_get(cbm(), "", "poison");
    auto* c = o ? condition(*o, "Ready") : nullptr;
    return c && c->string_or("reason") == "ReconcileFailed";
  }));
  auto o = env.client->get(cbm(), "", "poison");
  CHECK(condition(o, "Ready")->string_or("message").find("cannot parse this model's config") != std::string::npos);
  CHECK(poisoned_runs.load() == 6);  // the first run and five restarts, then parked
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  CHECK(poisoned_runs.load() == 6);  // parked: no tight loop
  bool event_seen = false;
  for (auto& e : env.client->list(*k8s::find_well_known("v1", "Event"), "default").items)
    event_seen = event_seen || (e.string_or("reason") == "ReconcileFailed" && e.string_or("type") == "Warning");
  CHECK(event_seen);
  auto h = env.client->get(cbm(), "", "healthy");
  CHECK(condition(h, "Accepted"));
  CHECK(env.gauge("omed_supervisor_parked_children{supervisor=\"kind/ClusterBaseModel\"}") == 1);
  // A spec change (new generation) gets a fresh chance.
  env.client->patch(cbm(), "", "poison", k8s::PatchType::Merge,
                    R"({"metadata":{"annotations":{"test.omed.io/poison":null}},"spec":{"vendor":"fixed"}})");
  REQUIRE(eventually([&] {
    auto p = env.client->get(cbm(), "", "poison");
    auto* c = condition(p, "Accepted");
    return c && c->string_or("status") == "True" && p.at_path("status.observedGeneration")->as_int() == 2;
  }));
}

TEST_CASE("actors match the server exactly after thousands of operations under injected faults",
          "[controller][faults]") {
  int objects = 2000, ops = 20000;
  if (const char* s = std::getenv("OMED_FAULT_TEST_SCALE")) {  // for quick local runs
    objects = std::max(50, objects * std::atoi(s) / 100);
    ops = std::max(500, ops * std::atoi(s) / 100);
  }
  apiserver::ApiServerOptions so;
  so.bookmark_interval = std::chrono::milliseconds(500);
  Env env(so);
  ControllerOptions co;
  co.kinds = {"ClusterBaseModel", "BaseModel"};
  env.start(co);
  REQUIRE(eventually([&] { return env.ready.ready(); }));

  apiserver::FaultOptions f;
  f.seed = 99;
  f.drop_watch = 0.002;  // at a few hundred events per second: a dropped watch about every second
  f.watch_expired = 0.2;
  f.too_many_requests = 0.02;
  f.retry_after_seconds = 1;
  f.internal_error = 0.02;
  f.latency_ms = 1;
  env.srv->set_faults(f);

  auto retrying = [](auto&& fn) {
    for (int attempt = 0;; ++attempt) {
      try {
        return fn();
      } catch (const k8s::ApiError& e) {
        if (!e.retryable() || attempt > 100)
          throw;
      }
    }
  };
  // Four writers, each with its own names, as independent clients would be.
  std::vector<std::thread> writers;
  std::atomic<int> done_ops{0};
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937 rng(1000 + w);
      std::vector<std::pair<bool, std::string>> live;  // (namespaced, name)
      int next = 0;
      auto create = [&] {
        bool ns = rng() % 2;
        std::string name = "w" + std::to_string(w) + "-" + std::to_string(next++);
        auto obj = model(ns ? "BaseModel" : "ClusterBaseModel", name);
        try {
          retrying([&] { return env.client->create(ns ? bm() : cbm(), obj); });
        } catch (const k8s::ApiError& e) {
          if (!e.already_exists())  // a retried create whose first attempt landed
            throw;
        }
        live.emplace_back(ns, name);
      };
      for (int i = 0; i < objects / 4; ++i)
        create();
      for (int i = 0; i < ops / 4; ++i) {
        int what = static_cast<int>(rng() % 10);
        if (live.empty() || what < 2) {
          create();
        } else if (what < 8) {
          auto& [ns, name] = live[rng() % live.size()];
          auto body = R"({"spec":{"vendor":"v)" + std::to_string(rng() % 1000) + R"("}})";
          try {
            retrying([&] {
              return env.client->patch(ns ? bm() : cbm(), ns ? "default" : "", name, k8s::PatchType::Merge, body);
            });
          } catch (const k8s::ApiError& e) {
            if (!e.not_found())
              throw;
          }
        } else {
          size_t idx = rng() % live.size();
          auto [ns, name] = live[idx];
          retrying([&] { return env.client->remove(ns ? bm() : cbm(), ns ? "default" : "", name); });
          live.erase(live.begin() + static_cast<long>(idx));
        }
        done_ops++;
      }
    });
  }
  for (auto& t : writers)
    t.join();
  env.srv->set_faults({});

  // Quiescence: deleting objects lose their finalizers, the controller's writes stop, and then
  // every actor holds exactly the server's latest object.
  auto settled_all = [&] {
    for (auto* r : {&cbm(), &bm()})
      for (auto& it : env.client->list(*r, "").items)
        if (it.at_path("metadata.deletionTimestamp") || !it.at_path("status.observedGeneration") ||
            it.at_path("status.observedGeneration")->as_int() != it.at_path("metadata.generation")->as_int())
          return false;
    return true;
  };
  auto matches = [&] {
    if (!settled_all())
      return false;
    auto srv_c = env.server_state(cbm()), srv_b = env.server_state(bm());
    return env.held("ClusterBaseModel") == srv_c && env.held("BaseModel") == srv_b;
  };
  bool converged = eventually(matches, std::chrono::milliseconds(120000));
  auto srv_c = env.server_state(cbm()), srv_b = env.server_state(bm());
  auto held_c = env.held("ClusterBaseModel"), held_b = env.held("BaseModel");
  CAPTURE(srv_c.size(), held_c.size(), srv_b.size(), held_b.size(), done_ops.load());
  REQUIRE(converged);
  CHECK(env.gauge("omed_resource_actors{kind=\"ClusterBaseModel\"}") == static_cast<double>(srv_c.size()));
  CHECK(env.gauge("omed_resource_actors{kind=\"BaseModel\"}") == static_cast<double>(srv_b.size()));
  // Every object the writers left is reconciled: finalizer and status of its latest generation.
  for (auto& it : env.client->list(bm(), "").items) {
    INFO(k8s::cache_key(it));
    CHECK(it.at_path("status.observedGeneration")->as_int() == it.at_path("metadata.generation")->as_int());
    CHECK(it.at_path("metadata.deletionTimestamp") == nullptr);
  }
  // The faults really happened.
  auto text = env.reg.expose();
  CHECK(text.find("omed_watch_restarts_total{kind=\"BaseModel\",reason=\"expired\"}") != std::string::npos);
  CHECK(text.find("omed_watch_restarts_total{kind=\"BaseModel\",reason=\"dropped\"}") != std::string::npos);
}
