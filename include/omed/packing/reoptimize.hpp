// A re-optimisation plan: from where the replicas run now, a better packing and the ordered moves
// that reach it without taking any InferenceService below its availability budget.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "omed/packing/metrics.hpp"
#include "omed/packing/model.hpp"

namespace omed::packing {

struct PlanOptions {
  // Replicas of an owner (InferenceService key) that may be in flight at once: its
  // PodDisruptionBudget's maxUnavailable (replicas - minAvailable). 0 keeps the owner still.
  std::map<std::string, int> max_unavailable;
  int default_max_unavailable = 1;
  size_t max_moves = 20;  // rate limit per plan; 0: no limit
  // Threshold: a plan is worth running when it frees at least this many whole nodes, or when it
  // cuts the fragmentation index by more than min_fragmentation_gain.
  int min_freed_nodes = 1;
  double min_fragmentation_gain = 0.05;
};

// One replica moved make-before-break: the new pod starts on `to` and must be Ready before the old
// one on `from` is deleted.
struct Move {
  std::string replica, owner, from, to;
  int wave = 0;  // moves of one wave may run concurrently; a wave starts when the one before ended
};

struct Plan {
  std::vector<Move> moves;  // empty when not worthwhile
  Metrics before, after;    // `after`: once every move of the plan is done
  int freed_nodes = 0;      // fully free nodes gained
  bool worthwhile = false;
  std::string reason;  // why the plan is (not) worth running, for the dry-run log
};

// Pure: the actor executes the moves wave by wave. Guarantees, checked by the tests:
// - each move is feasible (every constraint, the spread never made worse) in the state left by the
//   moves before it in the list, with the moved replica still on its source (make-before-break);
// - within a wave the moves also fit all at once, counting no resources freed by the wave itself;
// - within a wave no owner has more replicas moving than its max_unavailable, so even a move that
//   had to break before making leaves every InferenceService at its minimum available;
// - replicas of gangs (LeaderWorkerSet groups) never move: their controller restarts the whole
//   group on the loss of any pod; pending replicas are the scheduler's, not the plan's.
// The target is reached by emptying the least-used nodes into other used nodes (see compact()).
Plan plan_reoptimization(const Inventory& inventory, const PlanOptions& options = {});

}  // namespace omed::packing
