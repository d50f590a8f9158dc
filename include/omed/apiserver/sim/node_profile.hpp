// What the simulated cluster's nodes are: parsed from a `--sim-nodes` spec or a YAML cluster
// profile, and rendered as the Node objects a kubelet with NVIDIA GPU feature discovery registers.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "omed/common/json.hpp"

namespace omed::apiserver::sim {

// One row of the built-in GPU catalog (values as GPU feature discovery labels them).
struct GpuModel {
  std::string name;       // short name used in specs: "H100", "A100-40GB", "L4"
  std::string product;    // nvidia.com/gpu.product, e.g. "NVIDIA-H100-80GB-HBM3"
  int64_t memory_mib = 0; // nvidia.com/gpu.memory
  std::string family;     // nvidia.com/gpu.family: "hopper", "ampere", "ada-lovelace", ...
  int compute_major = 0;  // nvidia.com/gpu.compute.major / .minor
  int compute_minor = 0;
};

// Case-insensitive lookup by short name; nullptr when unknown.
const GpuModel* find_gpu_model(std::string_view name);
std::vector<std::string> gpu_model_names();

struct NodeTaint {
  std::string key;
  std::string value;
  std::string effect;  // NoSchedule | PreferNoSchedule | NoExecute
};

// `count` identical nodes.
struct NodeGroup {
  int count = 1;
  int gpus_per_node = 0;     // 0 with an empty `gpu`: CPU-only nodes
  std::string gpu;           // catalog short name
  std::string name_prefix;   // default "sim-<gpu in lower case>-" (or "sim-cpu-"); nodes get an index
  std::string instance_type; // default from the catalog, else "sim.<n>x<gpu>"
  int64_t cpu_millis = 0;    // capacity; 0 derives it from the GPU count
  int64_t memory_bytes = 0;  // capacity; 0 derives it from the GPU count
  int max_pods = 110;
  std::vector<std::string> zones;  // empty: the profile's zones
  std::map<std::string, std::string> labels;
  std::vector<NodeTaint> taints;
};

struct ClusterProfile {
  std::vector<NodeGroup> groups;
  std::vector<std::string> zones{"sim-zone-a", "sim-zone-b", "sim-zone-c"};
  std::string region = "sim-region";
  // Nodes that share an NVLink domain / rack carry the same value under this label.
  std::string rack_label = "nvidia.com/gpu.clique";
  int nodes_per_rack = 4;
};

// Parses "4x8xH100,2x8xA100-40GB,8x1xL4" (COUNTxGPUSxMODEL; "3xcpu" for CPU-only nodes).
// Throws std::invalid_argument naming the offending part.
ClusterProfile parse_node_spec(std::string_view spec);

// A YAML cluster profile:
//   zones: [a, b]            region: r            rackLabel: ...   nodesPerRack: 4
//   nodeGroups:
//   - {count: 4, gpu: H100, gpusPerNode: 8, namePrefix: ..., instanceType: ..., cpu: "192",
//      memory: "2Ti", maxPods: 110, zones: [...], labels: {...}, taints: [{key, value, effect}]}
// Other top-level keys are ignored here (the simulation reads its timing and failures from the
// same document). Throws std::invalid_argument with the path of the bad field.
ClusterProfile parse_cluster_profile(const json::Value& doc);

// The Node objects of a profile, named and labelled deterministically (same profile, same
// nodes), with status (capacity, allocatable, Ready conditions stamped `now`, addresses,
// nodeInfo) filled in as a kubelet registers it.
std::vector<json::Value> render_nodes(const ClusterProfile& profile, const std::string& now_rfc3339);

}  // namespace omed::apiserver::sim
