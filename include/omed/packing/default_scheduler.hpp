// The Kubernetes default behaviour the packer is measured against: kube-scheduler's default
// profile placing pods one at a time in arrival order, spreading them by least allocation.
#pragma once

#include <cstdint>

#include "omed/packing/placement.hpp"

namespace omed::packing {

// Each replica, in inventory order, goes to the feasible node (static filters and resources; no
// spread or gang rules, which the default scheduler does not have) with the highest score, the sum
// of NodeResourcesFit's LeastAllocated and NodeResourcesBalancedAllocation over cpu and memory
// (their default weights and resources: GPUs are not scored). Ties are broken at random, as
// kube-scheduler does, with a generator seeded by `seed`. Every node is scored (no
// percentageOfNodesToScore sampling).
Placement place_least_allocated(const Inventory& inventory, uint64_t seed = 1);

}  // namespace omed::packing
