// Where every GPU replica should run: best-fit decreasing with gangs as units, then the
// node-emptying local search. Objective: fewest nodes used, then the largest free blocks.
#pragma once

#include <string>
#include <vector>

#include "omed/packing/metrics.hpp"
#include "omed/packing/model.hpp"

namespace omed::packing {

struct PackOptions {
  // Replicas already on a node stay there (the live scheduler: bound pods are not moved by
  // placement, only by a re-optimisation plan); otherwise everything is placed afresh.
  bool keep_bound = false;
  bool local_search = true;
};

struct Placement {
  std::vector<std::string> node_of;  // per replica of the inventory; empty when pending
  std::vector<std::string> why_pending;  // per replica; empty unless pending
  Metrics metrics;
};

// Deterministic: the same inventory gives the same placement whatever the order of its nodes.
//
// Units (a single replica, or all pods of a gang) go largest GPU demand first. A replica goes to
// the used node leaving the fewest free GPUs (ties by name); when no used node can take it a node
// is opened: the smallest that holds all the GPUs still to place, else the largest. A gang is tried
// in every topology domain and goes where it opens the fewest nodes and leaves the fewest free GPUs
// on the nodes it touches; a gang with fewer pods than its size, or that fits in no domain, waits
// whole.
//
// Spread (replicas sharing a spread key, i.e. of one InferenceService): hard when feasible, soft
// otherwise. A replica first looks only at nodes without a replica of the same key, even if that
// opens a node; only when no such node can take it does it share one. This keeps an
// InferenceService's replicas on distinct nodes whenever the cluster allows it, at the price of
// packing slightly less tightly, and never leaves a replica pending for spread alone.
Placement place(const Inventory& inventory, const PackOptions& options = {});

}  // namespace omed::packing
