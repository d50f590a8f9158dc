// How good a placement is: GPUs allocated and free, nodes used and fully free, a fragmentation
// index and what is still pending; the figures the packer optimises and exports.
#pragma once

#include <cstdint>

#include "omed/packing/cluster_state.hpp"

namespace omed::packing {

// Only usable nodes (Ready and not cordoned) count: GPUs elsewhere cannot be allocated anyway.
//
// Fragmentation index: F = 1 - (sum_n free_n^2 / cap_n) / (sum_n free_n), with free_n the free
// GPUs of node n and cap_n its allocatable GPUs. It is the expected fraction already allocated of
// the node a randomly chosen free GPU sits on: 0 when every free GPU is on a fully free node (any
// replica up to a node's size fits), towards 1 when free GPUs are scattered one per busy node (only
// 1-GPU replicas fit). It is the quadratic (Herfindahl-style) concentration of the free capacity,
// as allocators use for free-block fragmentation, but unlike "1 - largest block / total free" it
// still moves when a cluster has thousands of equal nodes. 0 when nothing is free.
struct Metrics {
  int64_t gpus_total = 0;
  int64_t gpus_allocated = 0;  // by replicas and by pods the packer does not move
  int64_t gpus_free = 0;
  int nodes = 0;             // usable nodes
  int nodes_used = 0;        // usable nodes with any GPU allocated
  int fully_free_nodes = 0;  // usable nodes with GPUs and none allocated
  double fragmentation = 0;
  int pending_replicas = 0;
  int64_t pending_gpus = 0;
};

Metrics measure(const ClusterState& state);

}  // namespace omed::packing
