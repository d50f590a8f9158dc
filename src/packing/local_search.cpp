// Node-emptying local search. Emptying is all or nothing per node: a half-emptied node frees no
// block, and moves cost disruption when the result becomes a re-optimisation plan.
#include "omed/packing/local_search.hpp"

#include <algorithm>
#include <tuple>

namespace omed::packing {

namespace {

struct Candidate {
  int64_t allocated;
  size_t replicas;
  int rank;
  int node;
  bool operator<(const Candidate& o) const {
    return std::tie(allocated, replicas, rank) < std::tie(o.allocated, o.replicas, o.rank);
  }
};

// Moves every replica off `n`, or none: returns false with the state restored.
bool empty_node(ClusterState& st, int n, const CompactOptions& opt, std::vector<MoveStep>& done) {
  std::vector<int> reps = st.on_node(n);
  if (opt.max_moves && done.size() + reps.size() > opt.max_moves)
    return false;
  for (int r : reps)
    if (opt.movable && !opt.movable(r))
      return false;
  std::sort(reps.begin(), reps.end(), [&](int a, int b) {
    const Resources &da = st.replica(a).demand, &db = st.replica(b).demand;
    return std::tie(db.gpus, db.milli_cpu, db.memory, a) < std::tie(da.gpus, da.milli_cpu, da.memory, b);
  });
  const size_t start = done.size();
  const int domain = st.domain(n);
  for (int r : reps) {
    const bool gang_member = st.gang(r) >= 0;
    NodeFilter allowed = [&](int m) {
      return m != n && st.used(m) && (!gang_member || st.domain(m) == domain);
    };
    FitRules rules;
    rules.open = false;
    // Never make spread worse: a replica alone among its owner's keeps that on its new node.
    rules.spread_hard = st.spread_ok(r, n);
    int to = st.best_fit(r, allowed, rules);
    if (to < 0) {
      for (size_t i = done.size(); i-- > start;)
        st.move(done[i].replica, done[i].from);
      done.resize(start);
      return false;
    }
    st.move(r, to);
    done.push_back({r, n, to});
  }
  return true;
}

}  // namespace

size_t compact(ClusterState& st, const CompactOptions& opt, std::vector<MoveStep>* steps) {
  std::vector<MoveStep> done;
  size_t emptied = 0;
  for (bool improved = true; improved;) {
    improved = false;
    std::vector<Candidate> order;
    for (int n = 0; n < st.nodes(); ++n)
      if (st.node(n).usable() && st.used(n) && !st.pinned_by_others(n) && !st.on_node(n).empty())
        order.push_back({st.node(n).allocatable.gpus - st.free(n).gpus, st.on_node(n).size(), st.rank(n), n});
    std::sort(order.begin(), order.end());
    for (const Candidate& c : order) {
      if (!st.used(c.node) || st.on_node(c.node).empty())
        continue;
      if (empty_node(st, c.node, opt, done)) {
        ++emptied;
        improved = true;
      }
    }
  }
  if (steps)
    *steps = std::move(done);
  return emptied;
}

}  // namespace omed::packing
