// The default scheduler's filters and scoring as plain functions: which nodes can take a pod,
// and why the others cannot, in the words kube-scheduler uses in FailedScheduling events.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "omed/common/json.hpp"

namespace omed::apiserver::sim {

// Resource amounts in base units: "cpu" in millicores, everything else (memory, nvidia.com/gpu,
// pods, ephemeral-storage, ...) in whole units (bytes, devices, pods).
using ResourceList = std::map<std::string, int64_t>;

// A Kubernetes quantity ("500m", "2", "1.5", "80Gi", "1e3", "128974848") in base units; for cpu
// (`milli`) in thousandths, rounded up as Kubernetes does. nullopt when malformed.
std::optional<int64_t> parse_quantity(std::string_view q, bool milli = false);
// A resources map ({"cpu": "2", "memory": "8Gi"}) in base units; malformed entries are skipped.
ResourceList parse_resource_list(const json::Value* map);

// What a pod asks the scheduler for: effective requests (sum of containers, at least the
// largest init container, plus spec.overhead; limits stand in for missing requests as the API
// server defaults them), node selector, required node affinity and tolerations.
struct PodDemand {
  ResourceList requests;   // always includes "pods": 1
  std::map<std::string, std::string> node_selector;
  json::Value required_affinity;  // spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution, or null
  json::Value tolerations;        // spec.tolerations, or null
};
PodDemand pod_demand(const json::Value& pod);

struct NodeTaintView {
  std::string key, value, effect;
};

// The parts of a resource list every fit check and score reads.
struct CoreAmounts {
  int64_t cpu = 0, memory = 0, ephemeral = 0, pods = 0;
};

// What the scheduler knows of a node.
struct NodeState {
  std::string name;
  std::map<std::string, std::string> labels;
  std::vector<NodeTaintView> taints;
  ResourceList allocatable;  // status.allocatable
  ResourceList requested;    // sum of pod_demand(...).requests of the pods bound to it and not finished
  bool unschedulable = false;  // spec.unschedulable
  // The core parts of the two maps, for callers that keep them in step with cache_amounts() and
  // add_requests() (the simulation): the scheduler then need not walk the maps for every node.
  bool amounts_cached = false;
  CoreAmounts alloc_amounts, used_amounts;
};
// Fills the cached amounts from the maps and marks them valid.
void cache_amounts(NodeState& node);
// Adds (sign 1) or removes (sign -1) a pod's requests on a node, cached amounts included.
void add_requests(NodeState& node, const ResourceList& requests, int sign);
NodeState node_state(const json::Value& node);

// True when `tolerations` (a pod's spec.tolerations) tolerate `taint` (operators Equal/Exists,
// empty key with Exists matches all, empty effect matches all effects).
bool tolerates(const json::Value& tolerations, const NodeTaintView& taint);

// Why `node` cannot take the pod, one reason per failed filter, worded as kube-scheduler does:
// "node(s) were unschedulable", "node(s) didn't match Pod's node affinity/selector",
// "node(s) had untolerated taint {key: value}", "Insufficient nvidia.com/gpu", "Too many pods".
// Empty when the pod fits. PreferNoSchedule taints never filter.
std::vector<std::string> unfit_reasons(const PodDemand& pod, const NodeState& node);

struct Placement {
  std::string node;     // empty when no node fits
  std::string message;  // when empty node: the FailedScheduling message, e.g.
                        // "0/4 nodes are available: 4 Insufficient nvidia.com/gpu. preemption: 0/4 nodes are
                        //  available: 4 No preemption victims found for incoming pod."
};
// Filters nodes, then scores the feasible ones as the default profile does (NodeResourcesFit
// LeastAllocated over cpu and memory, plus NodeResourcesBalancedAllocation), breaking ties with
// `rng` (deterministic for a seed). Without `next_start` every node is looked at; with it, the
// search stops after as many feasible nodes as kube-scheduler's adaptive percentageOfNodesToScore
// asks for (all of them below 100 nodes; 34% at 2,000), starting where the last search ended.
Placement schedule(const PodDemand& pod, const std::vector<NodeState>& nodes, std::mt19937_64& rng,
                   size_t* next_start = nullptr);
// How many feasible nodes kube-scheduler looks for among `all` before it stops filtering.
size_t feasible_nodes_to_find(size_t all);

}  // namespace omed::apiserver::sim
