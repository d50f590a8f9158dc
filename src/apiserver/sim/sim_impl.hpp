// Internals of the simulated cluster shared by its translation units: the loop and informers
// (simulation.cpp), the scheduler glue, kubelets and node lifecycle (kubelet.cpp) and the workload
// controllers (workloads.cpp). Everything here runs on the simulation's one thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <queue>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "local_client.hpp"
#include "omed/common/thread_pool.hpp"
#include "omed/apiserver/sim/scheduling.hpp"
#include "omed/apiserver/sim/simulation.hpp"
#include "omed/log/logger.hpp"

namespace omed::apiserver::sim {

using Clock = std::chrono::steady_clock;

// What the simulation watches. The order is the order of reconciliation after a batch of events.
enum Kind : size_t { kNodes, kPods, kDeployments, kReplicaSets, kJobs, kLws, kHpas, kKindCount };

struct Informer {
  std::string name;        // for logs
  std::string list_path;   // collection URL across namespaces
  std::map<std::string, json::Value> cache;  // key "ns/name" (or "name")
  std::unique_ptr<LocalWatch> watch;
  uint64_t generation = 0;  // bumped per (re)list so lines of an old watch are ignored
  bool synced = false;
  bool need_relist = true;
  Clock::time_point retry_at{};
};

// A kubelet's view of one pod it runs.
struct KubeletPod {
  enum Stage { Creating, PullBackOff, Starting, Running, Ready, CrashBackOff, Finished, Stopping };
  std::string uid;
  Stage stage = Creating;
  int restarts = 0;
  int pull_failures = 0;
  uint64_t epoch = 0;      // timers carry the epoch they were set in; a stale one does nothing
  std::string ip;
  std::string started_at;  // RFC 3339: first start of the pod
  std::string container_started_at;
  std::string last_termination;  // JSON of lastState.terminated, "" if none
};

struct NodeRuntime {
  bool kubelet_alive = true;
  int gpus_lost = 0;
  Clock::time_point last_lease{};
  Clock::time_point last_status{};
  Clock::time_point last_heartbeat_seen{};  // what the node lifecycle controller goes by
  uint32_t next_ip = 0;
  std::string node_uid;
};

struct Timer {
  Clock::time_point at;
  uint64_t seq;
  std::function<void()> fn;
  bool operator>(const Timer& o) const { return at != o.at ? at > o.at : seq > o.seq; }
};

struct Simulation::Impl {
  Impl(ApiServer& server, SimOptions opts);

  ApiServer& server;
  SimOptions opts;
  log::Logger log{"sim"};
  LocalClient controllers;  // kube-controller-manager
  LocalClient scheduler;    // default-scheduler
  LocalClient kubelet;
  LocalClient node_ctl;     // node lifecycle controller (a part of kube-controller-manager)
  std::mt19937_64 rng;
  // Pod name suffixes: drawn apart from the seeded stream so a restarted simulation does not
  // pick names its last run already used.
  std::mt19937_64 name_rng{std::random_device{}()};
  std::string name_suffix();
  ApiResult create_named(json::Value& pod, const std::string& prefix);
  Clock::time_point started{};

  // ---- thread and inbox
  std::thread thread;
  std::atomic<bool> running{false};
  std::mutex mu;
  std::condition_variable cv;
  struct Line {
    Kind kind;
    uint64_t generation;
    std::string text;  // empty: the watch closed
  };
  std::deque<Line> lines;
  std::deque<Failure> injected;
  void loop();
  void post_line(Kind k, uint64_t gen, std::string text);

  // ---- informers
  std::array<Informer, kKindCount> inf;
  void relist(Kind k);
  void apply_line(const Line& l);
  void observe(Kind k, const std::string& key, const json::Value* before, const json::Value* after);
  // Write-through: a write's answer is the newest state; the watch event that follows is a no-op.
  void remember(Kind k, const json::Value& obj);
  void forget(Kind k, const std::string& key);
  const json::Value* cached(Kind k, const std::string& key) const;

  // ---- timers
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers;
  uint64_t timer_seq = 0;
  void after(Clock::duration d, std::function<void()> fn);
  Clock::time_point next_tick{};

  // ---- reconciliation queues
  std::set<std::string> dirty[kKindCount];
  bool hpas_dirty = false;
  void reconcile_dirty();

  // ---- events (core/v1), written by each component's client
  uint64_t event_seq = 0;
  void record_event(LocalClient& c, const std::string& component, const json::Value& obj, const std::string& type,
                    const std::string& reason, const std::string& message, const std::string& host = "");

  // ---- scheduler (kubelet.cpp)
  std::vector<NodeState> sched_nodes;
  std::unordered_map<std::string, size_t> sched_index;
  std::unordered_map<std::string, std::pair<std::string, ResourceList>> pod_alloc;  // pod key -> node, requests
  std::set<std::string> sched_queue;
  std::set<std::string> unschedulable;
  std::map<std::string, std::string> last_failed_message;  // pod key -> last FailedScheduling message
  bool retry_unschedulable = false;
  size_t sched_start = 0;  // where the next search over nodes begins (kube-scheduler rotates too)
  // Work one pass of the loop may do, so heartbeats and status keep their pace under load.
  static constexpr int kPodsPerPass = 500;
  int create_budget = kPodsPerPass;
  bool work_left() const;
  Clock::time_point last_sched_retry{};
  void sched_observe_node(const std::string& name, const json::Value* node);
  void sched_observe_pod(const std::string& key, const json::Value* pod);
  void schedule_pending();
  bool schedule_one(const std::string& key);

  // ---- kubelets and node lifecycle (kubelet.cpp)
  std::map<std::string, NodeRuntime> nodes;  // simulated nodes by name
  std::unordered_map<std::string, KubeletPod> kpods;  // by pod key
  std::vector<Failure> pod_failures;  // active crash-loop / image-pull-error / pod-fail
  void register_nodes();
  void kubelet_observe(const std::string& key, const json::Value* pod);
  void kubelet_begin(const std::string& key, const json::Value& pod);
  void kubelet_start(const std::string& key, uint64_t epoch);
  void kubelet_ready(const std::string& key, uint64_t epoch);
  void kubelet_crash(const std::string& key, uint64_t epoch);
  // `message`: the container's termination message; `reason`: default Completed / Error.
  void kubelet_finish(const std::string& key, uint64_t epoch, int exit_code, const std::string& message = "",
                      const std::string& reason = "");
  void kubelet_stop(const std::string& key, uint64_t epoch);
  bool write_pod_status(const std::string& key, json::Value status);
  json::Value pod_status(const json::Value& pod, const KubeletPod& kp, const std::string& phase,
                         const json::Value& container_state, bool ready);
  bool failure_matches(const std::string& kind, const json::Value& pod) const;
  Clock::duration start_delay_for(const json::Value& pod) const;
  Clock::duration backoff(int n) const;
  void node_tick();
  void heartbeat(const std::string& node);
  void node_lost(const std::string& node);
  void node_back(const std::string& node);
  void evict_tick();
  void apply_failure(const Failure& f);
  std::string pick_node(const std::string& want);

  // ---- omed's parse Jobs, run for real (parse_runner.cpp)
  bool is_parse_pod(const json::Value& pod) const;
  void parse_start(const std::string& key, uint64_t epoch);
  std::unique_ptr<ThreadPool> parse_pool;  // waits on the child processes, off the loop
  // Work handed to the loop by other threads (a finished child).
  std::deque<std::function<void()>> posted;
  void post(std::function<void()> fn);

  // ---- workload controllers (workloads.cpp)
  void reconcile_deployment(const std::string& key);
  void reconcile_replicaset(const std::string& key);
  void reconcile_job(const std::string& key);
  void reconcile_lws(const std::string& key);
  void reconcile_hpas();
  std::vector<const json::Value*> owned_pods(const std::string& ns, const std::string& owner_uid) const;
  std::unordered_map<std::string, std::set<std::string>> pods_by_owner;  // owner uid -> pod keys
  void install_lws_crd();
  std::set<std::string> lws_services;  // sets whose headless Service exists

  // ---- admin surface
  mutable std::mutex status_mu;
  json::Value status_snapshot;
  void publish_status();
  // Written by the loop and by the event writer.
  std::atomic<uint64_t> writes{0}, write_errors{0};
  // Events are written on their own thread: nothing in the simulation reads them back, and it
  // lets the API server's work for them use the second core.
  std::unique_ptr<ThreadPool> event_writer;
  uint64_t scheduled = 0, evicted = 0, started_pods = 0;
};

// Helpers shared by the translation units.
std::string now_rfc3339();
std::string collection_path(Kind k, const std::string& ns);
std::string object_path(Kind k, const std::string& key, const std::string& sub = "");
std::string key_of(const json::Value& obj);
uint64_t rv_of(const json::Value& obj);
bool is_true_condition(const json::Value& obj, const std::string& type);
bool pod_ready(const json::Value& pod);
bool pod_terminal(const json::Value& pod);
bool deleting(const json::Value& obj);
std::string controller_uid(const json::Value& obj);  // uid of the controlling ownerReference
json::Value owner_ref(const json::Value& owner, bool controller = true);
int64_t int_or(const json::Value& obj, const char* path, int64_t def);
bool selector_matches(const std::string& selector, const json::Value& labels);

}  // namespace omed::apiserver::sim
