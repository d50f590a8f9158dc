// Local search on a placement: empty the least-used nodes by moving their replicas into the other
// used nodes, every constraint kept, until a whole pass frees nothing more.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "omed/packing/cluster_state.hpp"

namespace omed::packing {

struct MoveStep {
  int replica = -1;
  int from = -1;
  int to = -1;
};

struct CompactOptions {
  std::function<bool(int replica)> movable;  // null: every placed replica
  size_t max_moves = 0;                      // 0: no limit; a node is emptied only within the limit
};

// Tries the used nodes from the least allocated up; a node is emptied only when all its replicas
// find room elsewhere (best fit among used nodes, the gang's topology domain kept, spread never
// made worse), otherwise it is left as it was. Each recorded step is feasible in the state left by
// the steps before it with the replica still on its source (make-before-break). Returns the number
// of nodes emptied.
size_t compact(ClusterState& state, const CompactOptions& options, std::vector<MoveStep>* steps);

}  // namespace omed::packing
