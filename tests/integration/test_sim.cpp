// The simulated cluster against the embedded API server, in one process: workload controllers,
// scheduling, kubelets and failures observed through the API, with the real schemas enforced.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <thread>

#include "../support/api_client.hpp"
#include "../support/test_env.hpp"
#include "omed/api/kinds.hpp"
#include "omed/apiserver/server.hpp"
#include "omed/apiserver/sim/simulation.hpp"
#include "omed/common/yaml.hpp"
#include "omed/schema/validator.hpp"

using namespace omed;
using namespace omed::testing;
using namespace std::chrono_literals;
namespace sim = omed::apiserver::sim;

namespace {

const char* kToken = "sim-test-token";

// Fast clocks: what takes seconds on a cluster takes a fraction of one here.
sim::SimOptions fast_options(const std::string& nodes, uint64_t seed = 1) {
  sim::SimOptions o;
  o.profile = sim::parse_node_spec(nodes);
  o.seed = seed;
  o.start_delay = 100ms;
  o.ready_delay = 100ms;
  o.job_duration = 300ms;
  o.crash_after = 150ms;
  o.backoff_base = 300ms;
  o.stop_delay = 50ms;
  o.heartbeat = 200ms;
  o.status_report = 1000ms;
  o.node_monitor_grace = 1000ms;
  return o;
}

struct Cluster {
  std::unique_ptr<apiserver::ApiServer> srv;
  std::unique_ptr<sim::Simulation> simulation;
  std::unique_ptr<ApiClient> c;

  explicit Cluster(const sim::SimOptions& so, int64_t toleration_seconds = 300) {
    apiserver::ApiServerOptions o;
    o.tls = false;
    o.token = kToken;
    o.default_toleration_seconds = toleration_seconds;
    // Real schemas where the data is here: a malformed write by the simulation fails loudly.
    if (have_shared("testdata/k8s/openapi-v3"))
      o.builtin_schemas_dir = (shared_dir() / "testdata" / "k8s" / "openapi-v3").string();
    srv = std::make_unique<apiserver::ApiServer>(o);
    srv->start();
    if (have_shared("testdata/k8s/crds"))
      srv->load_crds((shared_dir() / "testdata" / "k8s" / "crds").string());
    c = std::make_unique<ApiClient>(srv->port(), kToken);
    simulation = std::make_unique<sim::Simulation>(*srv, so);
    simulation->start();
    REQUIRE(eventually([&] { return ready_nodes() == static_cast<int64_t>(node_count(so)); }, 15s));
  }
  ~Cluster() {
    simulation->stop();
    srv->stop();
  }

  static size_t node_count(const sim::SimOptions& so) {
    size_t n = 0;
    for (auto& g : so.profile.groups)
      n += static_cast<size_t>(g.count);
    return n;
  }

  static bool eventually(const std::function<bool()>& f, std::chrono::milliseconds timeout = 20s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (f())
        return true;
      std::this_thread::sleep_for(25ms);
    }
    return f();
  }

  json::Value get(const std::string& path) {
    auto r = c->get(path);
    return r.status == 200 ? r.json() : json::Value();
  }
  json::Value create(const std::string& collection, const std::string& yaml_text) {
    auto r = c->post(collection, yaml::parse_one(yaml_text));
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json();
  }
  std::vector<json::Value> items(const std::string& path) {
    std::vector<json::Value> out;
    auto l = get(path);
    if (auto* it = l.get("items"); it && it->is_array())
      for (auto& x : it->as_array())
        out.push_back(x);
    return out;
  }
  std::vector<json::Value> pods(const std::string& selector = "") {
    return items("/api/v1/namespaces/default/pods" + (selector.empty() ? "" : "?labelSelector=" + selector));
  }
  int64_t ready_nodes() {
    int64_t n = 0;
    for (auto& node : items("/api/v1/nodes"))
      n += condition_status(node, "Ready") == "True";
    return n;
  }
  std::vector<json::Value> events(const std::string& reason) {
    return items("/api/v1/events?fieldSelector=reason%3D" + reason);
  }
  json::Value status() { return get("/omed/sim"); }
  bool inject(const std::string& body) { return c->request("POST", "/omed/sim/failures", body).status == 202; }

  static std::string condition_status(const json::Value& obj, const std::string& type) {
    if (auto* cs = obj.at_path("status.conditions"); cs && cs->is_array())
      for (auto& c : cs->as_array())
        if (c.string_or("type") == type)
          return c.string_or("status");
    return "";
  }
  static std::string condition_reason(const json::Value& obj, const std::string& type) {
    if (auto* cs = obj.at_path("status.conditions"); cs && cs->is_array())
      for (auto& c : cs->as_array())
        if (c.string_or("type") == type)
          return c.string_or("reason");
    return "";
  }
};

int64_t num(const json::Value& v, const char* path) {
  auto* x = v.at_path(path);
  return x && x->is_int() ? x->as_int() : -1;
}
std::string text(const json::Value& v, const char* path) {
  auto* x = v.at_path(path);
  return x && x->is_string() ? x->as_string() : "";
}
// The first container's status, or an empty object before the kubelet reported one.
json::Value container0(const json::Value& pod) {
  auto* cs = pod.at_path("status.containerStatuses");
  return cs && cs->is_array() && !cs->as_array().empty() ? cs->as_array()[0] : json::Value(json::Object{});
}
bool is_ready(const json::Value& pod) { return Cluster::condition_status(pod, "Ready") == "True"; }
bool terminating(const json::Value& obj) { return obj.at_path("metadata.deletionTimestamp") != nullptr; }
std::string label(const json::Value& obj, const std::string& k) {
  auto* l = obj.at_path("metadata.labels");
  auto* v = l && l->is_object() ? l->get(k) : nullptr;
  return v && v->is_string() ? v->as_string() : "";
}
std::string env_of(const json::Value& pod, const std::string& name) {
  if (auto* env = pod.at_path("spec.containers") ? &pod.at_path("spec.containers")->as_array()[0] : nullptr)
    if (auto* e = env->get("env"); e && e->is_array())
      for (auto& x : e->as_array())
        if (x.string_or("name") == name)
          return x.string_or("value");
  return "";
}

const char* kDeployment = R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: server
        image: example.io/web:1
        resources: {requests: {cpu: "1", memory: 1Gi, nvidia.com/gpu: "1"}, limits: {nvidia.com/gpu: "1"}}
)";

}  // namespace

// ------------------------------------------------------------------ options and scenarios

TEST_CASE("failure specs and scenarios parse, and bad ones are refused with the reason", "[sim-options]") {
  auto f = sim::parse_failure("node-not-ready:node=sim-h100-0@10s");
  CHECK(f.kind == "node-not-ready");
  CHECK(f.node == "sim-h100-0");
  CHECK(f.at == 10000ms);
  f = sim::parse_failure("gpu-lost:node=random,gpus=2");
  CHECK(f.gpus == 2);
  CHECK(f.node == "random");
  f = sim::parse_failure("crash-loop:pods=web-,selector=app in (a,b),tier=x");
  CHECK(f.pods == "web-");
  CHECK(f.selector == "app in (a,b),tier=x");
  CHECK(sim::parse_millis("250ms") == 250ms);
  CHECK(sim::parse_millis("1.5s") == 1500ms);
  CHECK(sim::parse_millis("2m") == 120000ms);

  auto refused = [](const std::string& spec, const std::string& why) {
    try {
      sim::parse_failure(spec);
      FAIL("accepted: " << spec);
    } catch (const std::invalid_argument& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(why) != std::string::npos);
    }
  };
  refused("node-on-fire:node=a", "unknown failure kind \"node-on-fire\"");
  refused("node-not-ready", "needs node=NAME");
  refused("crash-loop", "needs pods=PREFIX, selector=LABELS or image=SUBSTRING");
  refused("crash-loop:selector=app in (", "selector \"app in (\"");
  refused("gpu-lost:node=a,gpus=0", "gpus must be at least 1");
  refused("gpu-lost:node=a,colour=red", "unknown key \"colour\"");
  refused("node-ready:node=a@soon", "is not a duration");

  sim::SimOptions so;
  sim::apply_scenario(yaml::parse_one(R"(
seed: 7
nodeGroups:
- {count: 2, gpu: H100, gpusPerNode: 8}
timing: {startDelay: 2s, readyDelay: 500ms, jobDuration: 1m, nodeMonitorGrace: 5s, images: {llama-70b: 90s}}
failures:
- {at: 30s, kind: node-not-ready, node: sim-h100-1}
- {kind: image-pull-error, image: broken.io/}
)"),
                      so);
  CHECK(so.seed == 7);
  REQUIRE(so.profile.groups.size() == 1);
  CHECK(so.profile.groups[0].count == 2);
  CHECK(so.start_delay == 2000ms);
  CHECK(so.ready_delay == 500ms);
  CHECK(so.job_duration == 60000ms);
  CHECK(so.node_monitor_grace == 5000ms);
  REQUIRE(so.image_start_delays.size() == 1);
  CHECK(so.image_start_delays[0] == std::pair<std::string, std::chrono::milliseconds>{"llama-70b", 90000ms});
  REQUIRE(so.failures.size() == 2);
  CHECK(so.failures[0].at == 30000ms);
  CHECK(so.failures[1].image == "broken.io/");
  try {
    sim::apply_scenario(yaml::parse_one("failures: [{kind: crash-loop}]"), so);
    FAIL("accepted a failure without a target");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("failures[0]: crash-loop needs") != std::string::npos);
  }
  try {
    sim::apply_scenario(yaml::parse_one("timing: {startDelay: soon}"), so);
    FAIL("accepted a bad duration");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("timing.startDelay") != std::string::npos);
  }
}

// ------------------------------------------------------------------ workloads

TEST_CASE("a Deployment becomes available, rolls with surge, scales to zero and is collected", "[sim-workloads]") {
  Cluster k(fast_options("4x8xH100"));
  k.create("/apis/apps/v1/namespaces/default/deployments", kDeployment);
  REQUIRE(Cluster::eventually([&] { return num(k.get("/apis/apps/v1/namespaces/default/deployments/web"), "status.availableReplicas") == 3; }));
  auto d = k.get("/apis/apps/v1/namespaces/default/deployments/web");
  CHECK(num(d, "status.observedGeneration") == 1);
  CHECK(num(d, "status.readyReplicas") == 3);
  CHECK(num(d, "status.updatedReplicas") == 3);
  CHECK(Cluster::condition_status(d, "Available") == "True");
  CHECK(Cluster::condition_reason(d, "Available") == "MinimumReplicasAvailable");
  REQUIRE(Cluster::eventually([&] {
    return Cluster::condition_reason(k.get("/apis/apps/v1/namespaces/default/deployments/web"), "Progressing") ==
           "NewReplicaSetAvailable";
  }));
  auto rss = k.items("/apis/apps/v1/namespaces/default/replicasets");
  REQUIRE(rss.size() == 1);
  auto hash = label(rss[0], "pod-template-hash");
  CHECK(!hash.empty());
  CHECK(rss[0].at_path("metadata.ownerReferences")->as_array()[0].string_or("name") == "web");
  for (auto& p : k.pods("app%3Dweb")) {
    CHECK(label(p, "pod-template-hash") == hash);
    CHECK(text(p, "status.phase") == "Running");
    CHECK(!text(p, "status.podIP").empty());
    CHECK(!text(p, "spec.nodeName").empty());
    CHECK(text(p, "status.qosClass") == "Burstable");
    CHECK(p.at_path("metadata.ownerReferences")->as_array()[0].string_or("kind") == "ReplicaSet");
    auto cs = container0(p);
    CHECK(cs.at_path("state.running.startedAt") != nullptr);
    CHECK(cs.get("ready") != nullptr);
    CHECK((cs.get("ready") && cs.get("ready")->as_bool()));
  }

  // Rolling update: never more than replicas + maxSurge pods, never fewer than replicas ready.
  std::atomic<bool> watching{true};
  std::atomic<int> most{0}, fewest_ready{100};
  std::thread watcher([&] {
    ApiClient c(k.srv->port(), kToken);
    while (watching) {
      auto l = c.get("/api/v1/namespaces/default/pods?labelSelector=app%3Dweb").json();
      int live = 0, ready = 0;
      if (auto* it = l.get("items"); it && it->is_array())
        for (auto& p : it->as_array())
          if (!terminating(p)) {
            ++live;
            ready += is_ready(p);
          }
      most = std::max(most.load(), live);
      fewest_ready = std::min(fewest_ready.load(), ready);
      std::this_thread::sleep_for(10ms);
    }
  });
  auto r = k.c->patch("/apis/apps/v1/namespaces/default/deployments/web",
                      R"({"spec":{"template":{"spec":{"containers":[{"name":"server","image":"example.io/web:2"}]}}}})",
                      "application/strategic-merge-patch+json");
  REQUIRE(r.status == 200);
  bool rolled = Cluster::eventually([&] {
    auto d = k.get("/apis/apps/v1/namespaces/default/deployments/web");
    return num(d, "status.observedGeneration") == 2 && num(d, "status.updatedReplicas") == 3 &&
           num(d, "status.availableReplicas") == 3 && num(d, "status.replicas") == 3;
  });
  watching = false;
  watcher.join();
  REQUIRE(rolled);
  CHECK(most.load() == 4);         // the surge was used, and never exceeded
  CHECK(fewest_ready.load() >= 3);  // maxUnavailable 0
  REQUIRE(Cluster::eventually([&] {
    auto ps = k.pods("app%3Dweb");
    size_t live = 0;
    for (auto& p : ps)
      live += !terminating(p) && p.at_path("spec.containers")->as_array()[0].string_or("image") == "example.io/web:2";
    return ps.size() == 3 && live == 3;
  }));
  rss = k.items("/apis/apps/v1/namespaces/default/replicasets");
  REQUIRE(rss.size() == 2);
  int64_t total = 0;
  for (auto& rs : rss)
    total += num(rs, "spec.replicas");
  CHECK(total == 3);
  CHECK(k.events("ScalingReplicaSet").size() >= 3);

  // Scale to zero through the scale subresource, as kubectl scale and the HPA do.
  auto sc = k.get("/apis/apps/v1/namespaces/default/deployments/web/scale");
  CHECK(sc.string_or("kind") == "Scale");
  CHECK(num(sc, "spec.replicas") == 3);
  CHECK(text(sc, "status.selector") == "app=web");
  REQUIRE(k.c->patch("/apis/apps/v1/namespaces/default/deployments/web/scale", R"({"spec":{"replicas":0}})",
                     "application/merge-patch+json")
              .status == 200);
  REQUIRE(Cluster::eventually([&] { return k.pods("app%3Dweb").empty(); }));
  CHECK(Cluster::eventually([&] { return num(k.get("/apis/apps/v1/namespaces/default/deployments/web"), "status.replicas") == 0; }, 5s));

  // Back to two, then delete: the ReplicaSets and pods go with it.
  REQUIRE(k.c->patch("/apis/apps/v1/namespaces/default/deployments/web/scale", R"({"spec":{"replicas":2}})",
                     "application/merge-patch+json")
              .status == 200);
  REQUIRE(Cluster::eventually([&] { return num(k.get("/apis/apps/v1/namespaces/default/deployments/web"), "status.availableReplicas") == 2; }));
  REQUIRE(k.c->del("/apis/apps/v1/namespaces/default/deployments/web").status == 200);
  REQUIRE(Cluster::eventually([&] {
    return k.pods("app%3Dweb").empty() && k.items("/apis/apps/v1/namespaces/default/replicasets").empty();
  }));
  CHECK(num(k.status(), "writeErrors") == 0);
}

TEST_CASE("a LeaderWorkerSet makes groups of a leader and workers with LWS labels and env", "[sim-workloads]") {
  Cluster k(fast_options("8x8xH100"));
  if (!have_shared("testdata/k8s/crds"))
    WARN("SKIPPING the real LeaderWorkerSet CRD: ../shared/testdata/k8s/crds is absent; the simulation serves its own");
  k.create("/apis/leaderworkerset.x-k8s.io/v1/namespaces/default/leaderworkersets", R"(
apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
metadata: {name: big, namespace: default}
spec:
  replicas: 2
  leaderWorkerTemplate:
    size: 4
    workerTemplate:
      metadata: {labels: {app: big}}
      spec:
        containers:
        - name: engine
          image: lmsysorg/sglang:latest
          env: [{name: MODEL, value: llama}]
          resources: {limits: {nvidia.com/gpu: "8"}}
)");
  auto lws_path = "/apis/leaderworkerset.x-k8s.io/v1/namespaces/default/leaderworkersets/big";
  REQUIRE(Cluster::eventually([&] { return num(k.get(lws_path), "status.readyReplicas") == 2; }));
  auto lws = k.get(lws_path);
  CHECK(num(lws, "status.replicas") == 2);
  CHECK(num(lws, "status.updatedReplicas") == 2);
  CHECK(Cluster::condition_status(lws, "Available") == "True");
  CHECK(text(lws, "status.hpaPodSelector") ==
        "leaderworkerset.sigs.k8s.io/name=big,leaderworkerset.sigs.k8s.io/worker-index=0");
  auto pods = k.pods("leaderworkerset.sigs.k8s.io%2Fname%3Dbig");
  REQUIRE(pods.size() == 8);
  std::set<std::string> names, nodes, group_keys[2];
  for (auto& p : pods) {
    auto name = text(p, "metadata.name");
    names.insert(name);
    nodes.insert(text(p, "spec.nodeName"));
    auto g = label(p, "leaderworkerset.sigs.k8s.io/group-index");
    auto w = label(p, "leaderworkerset.sigs.k8s.io/worker-index");
    group_keys[std::stoi(g)].insert(label(p, "leaderworkerset.sigs.k8s.io/group-key"));
    CHECK(label(p, "app") == "big");
    CHECK(!label(p, "leaderworkerset.sigs.k8s.io/template-revision-hash").empty());
    CHECK(env_of(p, "LWS_LEADER_ADDRESS") == "big-" + g + ".big.default");
    CHECK(env_of(p, "LWS_GROUP_SIZE") == "4");
    CHECK(env_of(p, "LWS_WORKER_INDEX") == w);
    CHECK(env_of(p, "MODEL") == "llama");
    CHECK(text(p, "spec.subdomain") == "big");
    auto& owner = p.at_path("metadata.ownerReferences")->as_array()[0];
    if (w == "0") {
      CHECK(name == "big-" + g);
      CHECK(owner.string_or("kind") == "LeaderWorkerSet");
    } else {
      CHECK(name == "big-" + g + "-" + w);
      CHECK(owner.string_or("kind") == "Pod");  // workers belong to their leader
      CHECK(owner.string_or("name") == "big-" + g);
    }
    CHECK(is_ready(p));
  }
  CHECK(names.count("big-0") == 1);
  CHECK(names.count("big-1-3") == 1);
  CHECK(nodes.size() == 8);  // 8 GPUs each: one per node
  CHECK(group_keys[0].size() == 1);
  CHECK(group_keys[1].size() == 1);
  CHECK(*group_keys[0].begin() != *group_keys[1].begin());
  CHECK(!k.get("/api/v1/namespaces/default/services/big").is_null());

  // Losing a worker restarts the whole group (RecreateGroupOnPodRestart).
  auto old_leader_uid = text(k.get("/api/v1/namespaces/default/pods/big-1"), "metadata.uid");
  REQUIRE(k.c->del("/api/v1/namespaces/default/pods/big-1-2").status == 200);
  REQUIRE(Cluster::eventually([&] {
    auto leader = k.get("/api/v1/namespaces/default/pods/big-1");
    return !leader.is_null() && text(leader, "metadata.uid") != old_leader_uid && is_ready(leader) &&
           num(k.get(lws_path), "status.readyReplicas") == 2 &&
           k.pods("leaderworkerset.sigs.k8s.io%2Fname%3Dbig").size() == 8;
  }, 30s));
  CHECK(num(k.status(), "writeErrors") == 0);
}

TEST_CASE("Jobs complete or fail, and an HPA holds its target within bounds", "[sim-workloads]") {
  Cluster k(fast_options("2x8xH100"));
  k.create("/apis/batch/v1/namespaces/default/jobs", R"(
apiVersion: batch/v1
kind: Job
metadata: {name: bench, namespace: default}
spec:
  completions: 2
  parallelism: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: run, image: example.io/bench:1}]
)");
  auto job_path = "/apis/batch/v1/namespaces/default/jobs/bench";
  REQUIRE(Cluster::eventually([&] { return Cluster::condition_status(k.get(job_path), "Complete") == "True"; }));
  auto job = k.get(job_path);
  CHECK(num(job, "status.succeeded") == 2);
  CHECK(num(job, "status.active") == 0);
  CHECK(Cluster::condition_status(job, "SuccessCriteriaMet") == "True");
  CHECK(!text(job, "status.completionTime").empty());
  CHECK(!text(job, "status.startTime").empty());
  auto jp = k.pods("job-name%3Dbench");
  REQUIRE(jp.size() == 2);
  for (auto& p : jp) {
    CHECK(text(p, "status.phase") == "Succeeded");
    auto cs = container0(p);
    CHECK(num(cs, "state.terminated.exitCode") == 0);
    CHECK(text(cs, "state.terminated.reason") == "Completed");
    CHECK(label(p, "batch.kubernetes.io/job-name") == "bench");
  }

  // A job whose pods fail goes Failed once backoffLimit is passed.
  REQUIRE(k.inject(R"({"kind":"pod-fail","selector":"batch.kubernetes.io/job-name=doomed"})"));
  k.create("/apis/batch/v1/namespaces/default/jobs", R"(
apiVersion: batch/v1
kind: Job
metadata: {name: doomed, namespace: default}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: run, image: example.io/bench:1}]
)");
  REQUIRE(Cluster::eventually([&] {
    return Cluster::condition_status(k.get("/apis/batch/v1/namespaces/default/jobs/doomed"), "Failed") == "True";
  }));
  job = k.get("/apis/batch/v1/namespaces/default/jobs/doomed");
  CHECK(Cluster::condition_reason(job, "Failed") == "BackoffLimitExceeded");
  CHECK(num(job, "status.failed") == 2);
  for (auto& p : k.pods("job-name%3Ddoomed")) {
    CHECK(text(p, "status.phase") == "Failed");
    CHECK(num(container0(p), "state.terminated.exitCode") == 1);
  }

  // HPA: no metrics here, so it holds the target within [min, max] and says why it cannot do more.
  auto dep = yaml::parse_one(kDeployment);
  dep["spec"]["replicas"] = 1;
  REQUIRE(k.c->post("/apis/apps/v1/namespaces/default/deployments", dep).status == 201);
  k.create("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers", R"(
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: default}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 4
)");
  REQUIRE(Cluster::eventually([&] {
    auto h = k.get("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web");
    return num(h, "status.desiredReplicas") == 2 && num(h, "status.currentReplicas") == 2;
  }));
  CHECK(num(k.get("/apis/apps/v1/namespaces/default/deployments/web"), "spec.replicas") == 2);
  auto h = k.get("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web");
  CHECK(Cluster::condition_status(h, "AbleToScale") == "True");
  CHECK(Cluster::condition_status(h, "ScalingActive") == "False");
  CHECK(!text(h, "status.lastScaleTime").empty());
  CHECK(!k.events("SuccessfulRescale").empty());
  CHECK(num(k.status(), "writeErrors") == 0);
}

TEST_CASE("nodes heartbeat through Leases and status, and slow images start slowly", "[sim-workloads]") {
  auto so = fast_options("2x8xH100");
  so.image_start_delays.emplace_back("llama-70b", 1500ms);
  Cluster k(so);
  auto lease_path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/sim-h100-0";
  auto lease = k.get(lease_path);
  REQUIRE(!lease.is_null());
  CHECK(text(lease, "spec.holderIdentity") == "sim-h100-0");
  CHECK(lease.at_path("metadata.ownerReferences")->as_array()[0].string_or("kind") == "Node");
  auto first = text(lease, "spec.renewTime");
  REQUIRE(Cluster::eventually([&] { return text(k.get(lease_path), "spec.renewTime") != first; }, 5s));
  auto beat = [&] {
    auto node = k.get("/api/v1/nodes/sim-h100-0");
    for (auto& c : node.at_path("status.conditions")->as_array())
      if (c.string_or("type") == "Ready")
        return c.string_or("lastHeartbeatTime");
    return std::string();
  };
  auto hb = beat();
  REQUIRE(Cluster::eventually([&] { return beat() != hb; }, 5s));

  for (auto [name, image] : {std::pair{"big-model", "example.io/llama-70b:1"}, std::pair{"small-model", "example.io/tiny:1"}})
    k.create("/api/v1/namespaces/default/pods", std::string("apiVersion: v1\nkind: Pod\nmetadata: {name: ") + name +
                                                    "}\nspec:\n  containers: [{name: c, image: \"" + image + "\"}]\n");
  REQUIRE(Cluster::eventually([&] { return is_ready(k.get("/api/v1/namespaces/default/pods/small-model")); }));
  auto big = k.get("/api/v1/namespaces/default/pods/big-model");
  CHECK(text(big, "status.phase") == "Pending");
  CHECK(text(container0(big), "state.waiting.reason") == "ContainerCreating");
  REQUIRE(Cluster::eventually([&] { return is_ready(k.get("/api/v1/namespaces/default/pods/big-model")); }, 10s));
}

// ------------------------------------------------------------------ scheduling

TEST_CASE("the scheduler honours selectors, affinity, taints and GPU capacity, and says why not", "[sim-scheduler]") {
  auto so = fast_options("2x8xH100,2x1xL4");
  so.profile.groups[1].taints.push_back({"dedicated", "l4", "NoSchedule"});
  Cluster k(so);
  auto node_of = [&](const std::string& pod) { return text(k.get("/api/v1/namespaces/default/pods/" + pod), "spec.nodeName"); };
  auto make_pod = [&](const std::string& name, const std::string& extra_spec, int gpus) {
    auto y = "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + ", namespace: default}\nspec:\n" + extra_spec +
             "  containers:\n  - name: c\n    image: example.io/x:1\n    resources: {limits: {nvidia.com/gpu: \"" +
             std::to_string(gpus) + "\"}}\n";
    k.create("/api/v1/namespaces/default/pods", y);
  };
  auto failed_message = [&](const std::string& pod) {
    std::string msg;
    for (auto& e : k.events("FailedScheduling"))
      if (text(e, "involvedObject.name") == pod)
        msg = e.string_or("message");
    return msg;
  };

  // nodeSelector + toleration: an L4 node.
  make_pod("on-l4", "  nodeSelector: {nvidia.com/gpu.product: NVIDIA-L4}\n"
                    "  tolerations: [{key: dedicated, operator: Equal, value: l4, effect: NoSchedule}]\n", 1);
  REQUIRE(Cluster::eventually([&] { return node_of("on-l4").rfind("sim-l4-", 0) == 0; }));
  // The same without the toleration: nowhere, and the event says why, as kube-scheduler does.
  make_pod("no-toleration", "  nodeSelector: {nvidia.com/gpu.product: NVIDIA-L4}\n", 1);
  REQUIRE(Cluster::eventually([&] { return !failed_message("no-toleration").empty(); }));
  auto msg = failed_message("no-toleration");
  INFO(msg);
  CHECK(msg.rfind("0/4 nodes are available: ", 0) == 0);
  CHECK(msg.find("2 node(s) didn't match Pod's node affinity/selector") != std::string::npos);
  CHECK(msg.find("2 node(s) had untolerated taint {dedicated: l4}") != std::string::npos);
  auto pending = k.get("/api/v1/namespaces/default/pods/no-toleration");
  CHECK(text(pending, "status.phase") == "Pending");
  CHECK(Cluster::condition_reason(pending, "PodScheduled") == "Unschedulable");
  // Required node affinity (NotIn): away from H100s.
  make_pod("not-h100",
           "  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: "
           "[{matchExpressions: [{key: nvidia.com/gpu.product, operator: NotIn, values: [NVIDIA-H100-80GB-HBM3]}]}]}}}\n"
           "  tolerations: [{key: dedicated, operator: Exists}]\n",
           1);
  REQUIRE(Cluster::eventually([&] { return node_of("not-h100").rfind("sim-l4-", 0) == 0; }));
  CHECK(node_of("not-h100") != node_of("on-l4"));  // one GPU each: the other L4

  // GPU capacity: two 8-GPU pods fill the H100s; a third waits, then runs when one goes.
  make_pod("full-a", "", 8);
  make_pod("full-b", "", 8);
  REQUIRE(Cluster::eventually([&] { return !node_of("full-a").empty() && !node_of("full-b").empty(); }));
  CHECK(node_of("full-a") != node_of("full-b"));
  make_pod("waits", "", 8);
  REQUIRE(Cluster::eventually([&] { return !failed_message("waits").empty(); }));
  msg = failed_message("waits");
  INFO(msg);
  CHECK(msg.find("2 Insufficient nvidia.com/gpu") != std::string::npos);
  CHECK(msg.find("preemption: 0/4 nodes are available") != std::string::npos);
  CHECK(node_of("waits").empty());
  REQUIRE(k.c->del("/api/v1/namespaces/default/pods/full-a").status == 200);
  REQUIRE(Cluster::eventually([&] { return is_ready(k.get("/api/v1/namespaces/default/pods/waits")); }));

  // Another scheduler's pods are left alone (omed's packer binds those).
  k.create("/api/v1/namespaces/default/pods", R"(
apiVersion: v1
kind: Pod
metadata: {name: for-packer, namespace: default}
spec:
  schedulerName: omed-packer
  containers: [{name: c, image: example.io/x:1}]
)");
  std::this_thread::sleep_for(500ms);
  CHECK(node_of("for-packer").empty());
  CHECK(failed_message("for-packer").empty());
  // Bound by someone else, it is run by the kubelet all the same.
  REQUIRE(k.c->post("/api/v1/namespaces/default/pods/for-packer/binding",
                    json::parse(R"({"apiVersion":"v1","kind":"Binding","metadata":{"name":"for-packer"},"target":{"kind":"Node","name":"sim-h100-0"}})"))
              .status == 201);
  REQUIRE(Cluster::eventually([&] { return is_ready(k.get("/api/v1/namespaces/default/pods/for-packer")); }));
  CHECK(num(k.status(), "writeErrors") == 0);
}

TEST_CASE("scheduling is deterministic for a seed", "[sim-scheduler]") {
  auto placements = [](uint64_t seed) {
    Cluster k(fast_options("6x8xH100", seed));
    std::vector<std::string> out;
    for (int i = 0; i < 8; ++i) {
      auto name = "p" + std::to_string(i);
      k.create("/api/v1/namespaces/default/pods",
               "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name +
                   "}\nspec:\n  containers: [{name: c, image: x, resources: {requests: {cpu: '1', memory: 1Gi}}}]\n");
      std::string node;
      REQUIRE(Cluster::eventually([&] {
        node = text(k.get("/api/v1/namespaces/default/pods/" + name), "spec.nodeName");
        return !node.empty();
      }));
      out.push_back(node);
    }
    return out;
  };
  auto a = placements(42);
  auto b = placements(42);
  CHECK(a == b);
  std::set<std::string> distinct(a.begin(), a.end());
  CHECK(distinct.size() == 6);  // least-allocated spreads before it doubles up
}

// ------------------------------------------------------------------ failures

TEST_CASE("a node that stops reporting goes NotReady, its pods are evicted and replaced, and it recovers",
          "[sim-failures]") {
  Cluster k(fast_options("3x8xH100"), /*toleration_seconds=*/1);
  auto dep = yaml::parse_one(kDeployment);
  dep["spec"]["template"]["spec"]["containers"].as_array()[0]["resources"] =
      yaml::parse_one("{limits: {nvidia.com/gpu: '8'}}");
  REQUIRE(k.c->post("/apis/apps/v1/namespaces/default/deployments", dep).status == 201);
  REQUIRE(Cluster::eventually([&] { return num(k.get("/apis/apps/v1/namespaces/default/deployments/web"), "status.availableReplicas") == 3; }));
  // New pods got the default not-ready/unreachable tolerations (DefaultTolerationSeconds).
  auto victim = k.pods("app%3Dweb")[0];
  bool tolerates_unreachable = false;
  for (auto& t : victim.at_path("spec.tolerations")->as_array())
    tolerates_unreachable = tolerates_unreachable || (t.string_or("key") == "node.kubernetes.io/unreachable" &&
                                                      num(t, "tolerationSeconds") == 1);
  CHECK(tolerates_unreachable);
  auto node = text(victim, "spec.nodeName");
  auto victim_name = text(victim, "metadata.name");
  REQUIRE(k.inject(R"({"kind":"node-not-ready","node":")" + node + "\"}"));

  // The condition and the taints are two writes, as in the real node lifecycle controller.
  REQUIRE(Cluster::eventually([&] {
    auto nn = k.get("/api/v1/nodes/" + node);
    return Cluster::condition_status(nn, "Ready") == "Unknown" && nn.at_path("spec.taints") != nullptr;
  }));
  auto n = k.get("/api/v1/nodes/" + node);
  CHECK(Cluster::condition_reason(n, "Ready") == "NodeStatusUnknown");
  std::set<std::string> effects;
  for (auto& t : n.at_path("spec.taints")->as_array())
    if (t.string_or("key") == "node.kubernetes.io/unreachable")
      effects.insert(t.string_or("effect"));
  CHECK(effects == std::set<std::string>{"NoExecute", "NoSchedule"});
  // Evicted after its toleration; it stays Terminating (its kubelet is gone) while a replacement waits.
  REQUIRE(Cluster::eventually([&] {
    return terminating(k.get("/api/v1/namespaces/default/pods/" + victim_name));
  }));
  auto gone = k.get("/api/v1/namespaces/default/pods/" + victim_name);
  CHECK(Cluster::condition_status(gone, "Ready") == "False");
  // Events follow the writes they report.
  CHECK(Cluster::eventually([&] { return !k.events("TaintManagerEviction").empty(); }, 5s));
  CHECK(!k.events("NodeNotReady").empty());
  REQUIRE(Cluster::eventually([&] {
    for (auto& p : k.pods("app%3Dweb"))
      if (!terminating(p) && text(p, "spec.nodeName").empty() &&
          Cluster::condition_reason(p, "PodScheduled") == "Unschedulable")
        return true;
    return false;
  }));
  CHECK(Cluster::eventually([&] {
    auto d = k.get("/apis/apps/v1/namespaces/default/deployments/web");
    return num(d, "status.availableReplicas") == 2 && Cluster::condition_status(d, "Available") == "False";  // maxUnavailable 0
  }, 5s));

  // The kubelet returns: the node is Ready and untainted, the old pod is gone, the new one runs there.
  REQUIRE(k.inject(R"({"kind":"node-ready","node":")" + node + "\"}"));
  REQUIRE(Cluster::eventually([&] {
    auto nn = k.get("/api/v1/nodes/" + node);
    auto* taints = nn.at_path("spec.taints");
    return Cluster::condition_status(nn, "Ready") == "True" && (!taints || taints->as_array().empty()) &&
           k.get("/api/v1/namespaces/default/pods/" + victim_name).is_null();
  }));
  REQUIRE(Cluster::eventually([&] { return num(k.get("/apis/apps/v1/namespaces/default/deployments/web"), "status.availableReplicas") == 3; }));
  int on_node = 0;
  for (auto& p : k.pods("app%3Dweb"))
    on_node += text(p, "spec.nodeName") == node;
  CHECK(on_node == 1);
  CHECK(num(k.status(), "writeErrors") == 0);
}

TEST_CASE("crash loops, image pull errors and lost GPUs show as a real cluster shows them", "[sim-failures]") {
  Cluster k(fast_options("2x8xH100"));
  // Crash loop: restarts climb, the container waits in CrashLoopBackOff, the Deployment is unavailable.
  REQUIRE(k.inject(R"({"kind":"crash-loop","pods":"web-"})"));
  auto dep = yaml::parse_one(kDeployment);
  dep["spec"]["replicas"] = 1;
  REQUIRE(k.c->post("/apis/apps/v1/namespaces/default/deployments", dep).status == 201);
  REQUIRE(Cluster::eventually([&] {
    auto ps = k.pods("app%3Dweb");
    return ps.size() == 1 && num(container0(ps[0]), "restartCount") >= 2;
  }));
  auto p = k.pods("app%3Dweb")[0];
  auto cs = container0(p);
  CHECK(text(p, "status.phase") == "Running");
  CHECK(!is_ready(p));
  CHECK(num(cs, "lastState.terminated.exitCode") == 1);
  CHECK(text(cs, "lastState.terminated.reason") == "Error");
  REQUIRE(Cluster::eventually([&] {
    auto pp = k.pods("app%3Dweb")[0];
    return text(container0(pp), "state.waiting.reason") == "CrashLoopBackOff";
  }));
  CHECK(Cluster::eventually([&] { return !k.events("BackOff").empty(); }, 5s));
  CHECK(Cluster::eventually([&] {
    auto d = k.get("/apis/apps/v1/namespaces/default/deployments/web");
    return num(d, "status.availableReplicas") == 0 && Cluster::condition_status(d, "Available") == "False";
  }, 5s));
  // Fixed: the next start sticks.
  REQUIRE(k.inject(R"({"kind":"clear"})"));
  REQUIRE(Cluster::eventually([&] { return num(k.get("/apis/apps/v1/namespaces/default/deployments/web"), "status.availableReplicas") == 1; }));

  // Image pull error: Pending, ErrImagePull / ImagePullBackOff, a Failed event.
  REQUIRE(k.inject(R"({"kind":"image-pull-error","image":"broken.io/"})"));
  k.create("/api/v1/namespaces/default/pods", R"(
apiVersion: v1
kind: Pod
metadata: {name: unpullable, namespace: default}
spec:
  containers: [{name: c, image: broken.io/model:1}]
)");
  REQUIRE(Cluster::eventually([&] {
    auto pp = k.get("/api/v1/namespaces/default/pods/unpullable");
    auto* st = pp.at_path("status.containerStatuses");
    if (!st || !st->is_array() || st->as_array().empty())
      return false;
    auto reason = text(st->as_array()[0], "state.waiting.reason");
    return reason == "ErrImagePull" || reason == "ImagePullBackOff";
  }));
  CHECK(text(k.get("/api/v1/namespaces/default/pods/unpullable"), "status.phase") == "Pending");
  CHECK(Cluster::eventually([&] {
    for (auto& e : k.events("Failed"))
      if (e.string_or("message").find("Failed to pull image \"broken.io/model:1\"") != std::string::npos)
        return true;
    return false;
  }, 5s));

  // A GPU gone: allocatable drops, and a pod that needs them waits until they are back.
  REQUIRE(k.inject(R"({"kind":"gpu-lost","node":"sim-h100-1","gpus":3})"));
  REQUIRE(Cluster::eventually([&] {
    auto node = k.get("/api/v1/nodes/sim-h100-1");
    auto* a = node.at_path("status.allocatable");
    return a && a->get("nvidia.com/gpu") && a->get("nvidia.com/gpu")->as_string() == "5";
  }));
  auto h1 = k.get("/api/v1/nodes/sim-h100-1");
  CHECK(h1.at_path("status.capacity")->get("nvidia.com/gpu")->as_string() == "8");
  k.create("/api/v1/namespaces/default/pods", R"(
apiVersion: v1
kind: Pod
metadata: {name: needs-six, namespace: default}
spec:
  nodeSelector: {kubernetes.io/hostname: sim-h100-1}
  containers: [{name: c, image: example.io/x:1, resources: {limits: {nvidia.com/gpu: "6"}}}]
)");
  REQUIRE(Cluster::eventually([&] {
    return Cluster::condition_reason(k.get("/api/v1/namespaces/default/pods/needs-six"), "PodScheduled") == "Unschedulable";
  }));
  REQUIRE(k.inject(R"({"kind":"gpu-restored","node":"sim-h100-1","gpus":3})"));
  REQUIRE(Cluster::eventually([&] { return is_ready(k.get("/api/v1/namespaces/default/pods/needs-six")); }));
  auto st = k.status();
  CHECK(num(st, "writeErrors") == 0);
}

TEST_CASE("scheduled failures fire at their time, and a random node is drawn from the seed", "[sim-failures]") {
  auto so = fast_options("4x8xH100", 9);
  so.failures.push_back(sim::parse_failure("node-not-ready:node=random@600ms"));
  Cluster k(so);
  CHECK(k.ready_nodes() == 4);
  REQUIRE(Cluster::eventually([&] { return k.ready_nodes() == 3; }));
  auto st = k.status();
  REQUIRE(st.get("impairedNodes")->as_array().size() == 1);
  auto first = st.get("impairedNodes")->as_array()[0].string_or("name");
  // Same seed, same draw.
  Cluster k2(so);
  REQUIRE(Cluster::eventually([&] { return k2.ready_nodes() == 3; }));
  CHECK(k2.status().get("impairedNodes")->as_array()[0].string_or("name") == first);
}

// ------------------------------------------------------------------ schemas

TEST_CASE("every object the simulation writes validates against the real Kubernetes schemas", "[sim-schemas]") {
  if (!have_shared("testdata/k8s/openapi-v3") || !have_shared("testdata/k8s/crds")) {
    WARN("SKIPPED: ../shared/testdata/k8s (OpenAPI v3 documents and CRDs) is absent");
    return;
  }
  auto schemas = api::K8sSchemas::load_dir((shared_dir() / "testdata" / "k8s" / "openapi-v3").string());
  json::Value lws_schema;
  for (auto& doc : yaml::parse_all(read_file(shared_dir() / "testdata" / "k8s" / "crds" / "leaderworkerset.x-k8s.io_leaderworkersets.yaml")))
    lws_schema = *doc.at_path("spec.versions")->as_array()[0].at_path("schema.openAPIV3Schema");

  Cluster k(fast_options("3x8xH100,2x1xL4"), 1);
  k.create("/apis/apps/v1/namespaces/default/deployments", kDeployment);
  k.create("/apis/batch/v1/namespaces/default/jobs", R"(
apiVersion: batch/v1
kind: Job
metadata: {name: once, namespace: default}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: run, image: example.io/bench:1}]
)");
  k.create("/apis/leaderworkerset.x-k8s.io/v1/namespaces/default/leaderworkersets", R"(
apiVersion: leaderworkerset.x-k8s.io/v1
kind: LeaderWorkerSet
metadata: {name: duo, namespace: default}
spec:
  replicas: 1
  leaderWorkerTemplate:
    size: 2
    workerTemplate:
      spec:
        containers: [{name: engine, image: example.io/engine:1, resources: {limits: {nvidia.com/gpu: "4"}}}]
)");
  k.create("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers", R"(
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: default}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
)");
  REQUIRE(k.inject(R"({"kind":"crash-loop","pods":"crashy"})"));
  k.create("/api/v1/namespaces/default/pods", R"(
apiVersion: v1
kind: Pod
metadata: {name: crashy, namespace: default}
spec:
  containers: [{name: c, image: example.io/x:1}]
)");
  k.create("/api/v1/namespaces/default/pods", R"(
apiVersion: v1
kind: Pod
metadata: {name: too-big, namespace: default}
spec:
  containers: [{name: c, image: example.io/x:1, resources: {limits: {nvidia.com/gpu: "16"}}}]
)");
  REQUIRE(k.inject(R"({"kind":"gpu-lost","node":"sim-l4-1"})"));
  REQUIRE(k.inject(R"({"kind":"node-not-ready","node":"sim-l4-0"})"));
  REQUIRE(Cluster::eventually([&] {
    return num(k.get("/apis/apps/v1/namespaces/default/deployments/web"), "status.availableReplicas") == 3 &&
           Cluster::condition_status(k.get("/apis/batch/v1/namespaces/default/jobs/once"), "Complete") == "True" &&
           num(k.get("/apis/leaderworkerset.x-k8s.io/v1/namespaces/default/leaderworkersets/duo"), "status.readyReplicas") == 1 &&
           Cluster::condition_status(k.get("/api/v1/nodes/sim-l4-0"), "Ready") == "Unknown" &&
           !k.events("BackOff").empty() && !k.events("FailedScheduling").empty();
  }, 30s));

  struct Check {
    const char* list;
    const char* component;  // empty: the LWS CRD schema
  };
  const Check checks[] = {
      {"/api/v1/nodes", "io.k8s.api.core.v1.Node"},
      {"/api/v1/pods", "io.k8s.api.core.v1.Pod"},
      {"/api/v1/events", "io.k8s.api.core.v1.Event"},
      {"/api/v1/services", "io.k8s.api.core.v1.Service"},
      {"/apis/apps/v1/deployments", "io.k8s.api.apps.v1.Deployment"},
      {"/apis/apps/v1/replicasets", "io.k8s.api.apps.v1.ReplicaSet"},
      {"/apis/batch/v1/jobs", "io.k8s.api.batch.v1.Job"},
      {"/apis/autoscaling/v2/horizontalpodautoscalers", "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"},
      {"/apis/leaderworkerset.x-k8s.io/v1/leaderworkersets", ""},
  };
  size_t validated = 0;
  for (auto& c : checks) {
    json::Value schema = *c.component ? schemas.resolve(c.component) : lws_schema;
    auto list = k.get(c.list);
    REQUIRE(list.get("items"));
    INFO(c.list);
    CHECK(!list.get("items")->as_array().empty());
    for (auto item : list.get("items")->as_array()) {
      schema::Options so;
      so.prune = true;
      so.apply_defaults = false;
      auto res = schema::validate(item, schema, so);
      std::string problems;
      for (auto& e : res.errors)
        problems += e.to_string() + "; ";
      for (auto& u : res.unknown_fields)
        problems += "unknown field " + u + "; ";
      INFO(text(item, "metadata.name") << ": " << problems);
      CHECK(problems.empty());
      ++validated;
    }
  }
  CHECK(validated > 40);
  CHECK(num(k.status(), "writeErrors") == 0);
}
