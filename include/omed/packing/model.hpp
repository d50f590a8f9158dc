// The packer's view of a cluster: GPU nodes with what is left on them, and the GPU replicas (one
// pod each) to place, with every constraint that decides where a replica may run.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace omed::packing {

// Amounts in base units: whole GPUs, CPU in millicores, memory in bytes.
struct Resources {
  int64_t gpus = 0;
  int64_t milli_cpu = 0;
  int64_t memory = 0;

  Resources& operator+=(const Resources& o);
  Resources& operator-=(const Resources& o);
  friend Resources operator+(Resources a, const Resources& b) { return a += b; }
  friend Resources operator-(Resources a, const Resources& b) { return a -= b; }
  friend bool operator==(const Resources&, const Resources&) = default;
  // Every amount of `demand` is at most the matching amount here.
  bool holds(const Resources& demand) const;
};

struct Taint {
  std::string key, value, effect;  // effect: NoSchedule, PreferNoSchedule or NoExecute
};

struct Toleration {
  std::string key;
  std::string op = "Equal";  // Equal or Exists
  std::string value;
  std::string effect;  // empty: every effect
};

enum class SelectorOp { In, NotIn, Exists, DoesNotExist, Gt, Lt };

// One requirement of a nodeSelectorTerm. `field` marks matchFields (only metadata.name exists).
struct Requirement {
  std::string key;
  SelectorOp op = SelectorOp::In;
  std::vector<std::string> values;
  bool field = false;
};
// The requirements of one term are ANDed; the terms of a required node affinity are ORed.
using SelectorTerm = std::vector<Requirement>;

struct Node {
  std::string name;
  Resources allocatable;  // status.allocatable
  // allocatable minus the requests of the pods bound to the node that are not replicas of the
  // inventory (those the packer cannot move): what the packer's replicas may use.
  Resources free;
  std::string gpu_product;     // nvidia.com/gpu.product
  int64_t gpu_memory_mib = 0;  // nvidia.com/gpu.memory
  std::map<std::string, std::string> labels;
  std::vector<Taint> taints;
  std::string domain;  // topology domain for gangs (zone, rack or NVLink domain label); may be empty
  bool ready = true;
  bool schedulable = true;  // !spec.unschedulable

  bool usable() const { return ready && schedulable; }
};

// One pod asking for GPUs. A tensor-parallel replica is one pod, so all its GPUs are on one node;
// a multi-node replica (a LeaderWorkerSet group) is a gang of pods sharing `gang`.
struct Replica {
  std::string id;     // namespace/name of the pod
  std::string owner;  // the InferenceService key (namespace/name); availability budgets are per owner
  Resources demand;
  std::map<std::string, std::string> node_selector;
  std::vector<SelectorTerm> affinity;  // requiredDuringSchedulingIgnoredDuringExecution; empty: any node
  std::vector<Toleration> tolerations;
  // All pods of a gang are placed together or none, all inside one topology domain.
  std::string gang;   // empty: not part of a gang
  int gang_size = 0;  // pods the gang needs; 0: as many as the inventory holds
  // Replicas sharing a non-empty spread key go to distinct nodes when that is feasible (members of
  // one gang are exempt from each other).
  std::string spread;
  std::string node;  // where it runs now; empty when pending
};

struct Inventory {
  std::vector<Node> nodes;
  std::vector<Replica> replicas;
};

}  // namespace omed::packing
