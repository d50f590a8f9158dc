// The packer's inventory from real Kubernetes objects: Nodes as GPU feature discovery labels them,
// Pods with their requests, selectors, affinity, tolerations and LeaderWorkerSet group labels.
#pragma once

#include <functional>
#include <string>

#include "omed/common/json.hpp"
#include "omed/packing/model.hpp"

namespace omed::packing {

struct KubeOptions {
  std::string gpu_resource = "nvidia.com/gpu";
  // Gangs must fit inside one value of this label (a zone, a rack or an NVLink domain label).
  std::string topology_label = "topology.kubernetes.io/zone";
  // Pods carrying this label belong to that InferenceService (namespace/value); others own themselves.
  std::string owner_label = "ome.io/inferenceservice";
  // LeaderWorkerSet: every pod of a group has the group key; the leader carries the group size.
  std::string gang_label = "leaderworkerset.sigs.k8s.io/group-key";
  std::string gang_size_annotation = "leaderworkerset.sigs.k8s.io/size";
};

// Quantities are parsed by the simulated cluster's parser (apiserver/sim/scheduling, the same
// rounding as Kubernetes), and requests summed as the scheduler sums them (containers, the
// largest init container, overhead; limits stand in for missing requests). `free` is set to
// allocatable; inventory_from_objects subtracts the pods that are not replicas.
Node node_from_json(const json::Value& node, const KubeOptions& options = {});
Replica replica_from_pod(const json::Value& pod, const KubeOptions& options = {});

// Pods that hold resources on a node: bound (spec.nodeName) and not Succeeded or Failed.
bool pod_holds_resources(const json::Value& pod);

// Builds the inventory from Node and Pod lists (arrays of objects). Pods for which `is_replica` is
// true (default: they request GPUs and are not finished) become replicas, where they run now
// kept in Replica::node; every other pod holding resources reduces its node's `free`. A gang's size
// found on one pod (the leader) is given to all its pods.
Inventory inventory_from_objects(const json::Value& nodes, const json::Value& pods, const KubeOptions& options = {},
                                 const std::function<bool(const json::Value& pod)>& is_replica = nullptr);

}  // namespace omed::packing
