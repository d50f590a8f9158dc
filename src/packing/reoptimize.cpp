// Re-optimisation plans: compaction from the current placement, the threshold, then waves that
// respect owners' budgets and fit concurrently.
#include "omed/packing/reoptimize.hpp"

#include <algorithm>
#include <sstream>

#include "omed/packing/cluster_state.hpp"
#include "omed/packing/local_search.hpp"

namespace omed::packing {

namespace {

int budget(const PlanOptions& opt, const std::string& owner) {
  auto it = opt.max_unavailable.find(owner);
  return it == opt.max_unavailable.end() ? opt.default_max_unavailable : it->second;
}

// Groups the steps, kept in order, into waves: a step joins the current wave when its owner has
// budget left there and its target holds it on top of everything the wave already adds (sources
// are not credited, they are only freed when the wave ends).
std::vector<int> waves(const Inventory& inv, const std::vector<MoveStep>& steps, const PlanOptions& opt) {
  ClusterState base(inv, true);
  std::vector<int> wave_of;
  std::map<std::string, int> in_flight;
  std::map<int, Resources> added;
  std::vector<const MoveStep*> open;
  int wave = 0;
  auto close = [&] {
    for (const MoveStep* s : open)
      base.move(s->replica, s->to);
    open.clear();
    in_flight.clear();
    added.clear();
    ++wave;
  };
  for (const MoveStep& s : steps) {
    const Replica& r = base.replica(s.replica);
    // A replica moved twice (onto a node the plan empties later) waits for its first move.
    const bool again = std::any_of(open.begin(), open.end(), [&](const MoveStep* o) { return o->replica == s.replica; });
    const bool joins = !open.empty() && !again && in_flight[r.owner] < budget(opt, r.owner) &&
                       (base.free(s.to) - added[s.to]).holds(r.demand);
    if (!open.empty() && !joins)
      close();
    open.push_back(&s);
    ++in_flight[r.owner];
    added[s.to] += r.demand;
    wave_of.push_back(wave);
  }
  return wave_of;
}

}  // namespace

Plan plan_reoptimization(const Inventory& inv, const PlanOptions& opt) {
  Plan plan;
  ClusterState st(inv, true);
  plan.before = measure(st);
  CompactOptions c;
  c.max_moves = opt.max_moves;
  c.movable = [&](int r) {
    return st.gang(r) < 0 && budget(opt, st.replica(r).owner) > 0;
  };
  std::vector<MoveStep> steps;
  compact(st, c, &steps);
  plan.after = measure(st);
  plan.freed_nodes = plan.after.fully_free_nodes - plan.before.fully_free_nodes;
  const double gain = plan.before.fragmentation - plan.after.fragmentation;
  std::ostringstream why;
  if (steps.empty()) {
    why << "no move frees a node";
  } else if (plan.freed_nodes >= opt.min_freed_nodes && plan.freed_nodes > 0) {
    plan.worthwhile = true;
    why << steps.size() << " moves free " << plan.freed_nodes << " whole nodes";
  } else if (gain > opt.min_fragmentation_gain) {
    plan.worthwhile = true;
    why << steps.size() << " moves cut fragmentation by " << gain;
  } else {
    why << "below threshold: frees " << plan.freed_nodes << " nodes, fragmentation gain " << gain;
  }
  plan.reason = why.str();
  if (!plan.worthwhile) {
    plan.after = plan.before;
    return plan;
  }
  std::vector<int> wave_of = waves(inv, steps, opt);
  for (size_t i = 0; i < steps.size(); ++i) {
    const MoveStep& s = steps[i];
    const Replica& r = inv.replicas[static_cast<size_t>(s.replica)];
    plan.moves.push_back({r.id, r.owner, inv.nodes[static_cast<size_t>(s.from)].name,
                          inv.nodes[static_cast<size_t>(s.to)].name, wave_of[i]});
  }
  return plan;
}

}  // namespace omed::packing
