// The simulated cluster that runs beside the embedded API server (in the spirit of KWOK): GPU
// nodes, workload controllers, a scheduler and kubelets, acting through the API as real ones do.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "omed/apiserver/sim/node_profile.hpp"
#include "omed/common/json.hpp"

namespace omed::apiserver {
class ApiServer;
}

namespace omed::apiserver::sim {

using Millis = std::chrono::milliseconds;

// A failure to inject, now or `at` after the simulation starts.
struct Failure {
  // node-not-ready: the node's kubelet stops (no heartbeats, no pod updates) until node-ready.
  // node-ready:     the kubelet comes back.
  // gpu-lost:       `gpus` GPUs of the node go unhealthy (allocatable drops); gpu-restored undoes it.
  // crash-loop:     matching pods' containers exit with code 1 shortly after each start.
  // image-pull-error: matching pods cannot pull their image.
  // pod-fail:       matching run-to-completion pods (Jobs) exit with code 1.
  // clear:          every pod-level failure (crash-loop, image-pull-error, pod-fail) is lifted.
  std::string kind;
  std::string node;     // node name, or "random" (a Ready node drawn with the seed)
  std::string pods;     // pod name prefix
  std::string selector; // pod label selector ("app=x,tier in (a,b)")
  std::string image;    // substring of a container image
  int gpus = 1;
  Millis at{0};

  json::Value to_json() const;
};

// "node-not-ready:node=sim-h100-0@10s", "crash-loop:pods=web-", "gpu-lost:node=random,gpus=2".
// Throws std::invalid_argument with the reason.
Failure parse_failure(const std::string& spec);
Failure failure_from_json(const json::Value& v);  // {"kind": ..., "node": ..., "at": "10s"}

struct SimOptions {
  ClusterProfile profile;
  uint64_t seed = 1;
  // Kubelet timing: bound pod -> containers running (image pull and start) -> Ready.
  Millis start_delay{1000};
  Millis ready_delay{1000};
  // Start delays by image substring (a 70B model takes longer to load): first match wins.
  std::vector<std::pair<std::string, Millis>> image_start_delays;
  Millis job_duration{2000};        // run time of run-to-completion pods
  Millis crash_after{500};          // a crash-looping container exits this long after it starts
  Millis backoff_base{10000};       // crash-loop / image-pull back-off: base, doubling, capped at 5 min
  Millis stop_delay{100};           // a deleted pod's containers take this long to stop
  // Node health.
  Millis heartbeat{10000};          // node Lease renewals
  Millis status_report{60000};      // Node status (conditions' lastHeartbeatTime) refreshes
  Millis node_monitor_grace{40000}; // no heartbeat for this long: the node is NotReady (Unknown)
  std::vector<Failure> failures;    // from flags and the scenario
  bool install_lws_crd = true;      // serve LeaderWorkerSets even without the real CRD loaded
  // Volumes: claim NAMESPACE/NAME is the directory pvc_root/NAMESPACE/NAME. With it set, the
  // kubelets run omed's own parse Jobs for real (this binary, the claim's directory in place of
  // the mount); every other pod stays simulated. Empty: parse Jobs are simulated like the rest.
  std::string pvc_root;
  std::string parse_binary = "/proc/self/exe";
  Millis parse_timeout{120000};     // a parse that takes longer is killed (the Job's deadline)
};

// Reads a YAML scenario / cluster profile: the node profile (see parse_cluster_profile), plus
//   seed: 7
//   timing: {startDelay: 1s, readyDelay: 2s, jobDuration: 5s, heartbeat: 10s, nodeMonitorGrace: 40s,
//            crashAfter: 500ms, backoffBase: 10s, images: {"llama-70b": 60s}}
//   failures: [{at: 30s, kind: node-not-ready, node: sim-h100-0}, ...]
// into `opts` (fields absent from the document keep their values). Throws std::invalid_argument.
void apply_scenario(const json::Value& doc, SimOptions& opts);
// "10s", "250ms", "2m", "1h"; throws std::invalid_argument.
Millis parse_millis(const std::string& s);

class Simulation {
public:
  Simulation(ApiServer& server, SimOptions opts);
  ~Simulation();
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  // Registers the nodes, starts the control loops and serves /omed/sim on the API server.
  void start();
  void stop();

  // Thread-safe; takes effect on the simulation's thread.
  void inject(const Failure& f);
  // A snapshot of what the simulation holds (nodes, pods by phase, active failures, counters).
  json::Value status() const;

  struct Impl;

private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace omed::apiserver::sim
