// Best-fit decreasing over units, gangs tried per topology domain, then local search.
#include "omed/packing/placement.hpp"

#include <algorithm>
#include <tuple>

#include "omed/packing/feasibility.hpp"
#include "omed/packing/local_search.hpp"

namespace omed::packing {

namespace {

struct Unit {
  std::vector<int> members;  // largest first
  int64_t largest = 0, total = 0, cpu = 0, memory = 0;
  std::string id;
};

void sort_members(const ClusterState& st, std::vector<int>& members) {
  std::sort(members.begin(), members.end(), [&](int a, int b) {
    const Replica &ra = st.replica(a), &rb = st.replica(b);
    return std::tie(rb.demand.gpus, rb.demand.milli_cpu, rb.demand.memory, ra.id) <
           std::tie(ra.demand.gpus, ra.demand.milli_cpu, ra.demand.memory, rb.id);
  });
}

struct GangTry {
  bool ok = false;
  int opened = 0;
  int64_t left = 0;
  std::vector<int> nodes;
};

// Places the gang's members inside domain `d`, measures, and undoes it.
GangTry try_gang(ClusterState& st, const Unit& u, int d) {
  GangTry t;
  int64_t remaining = u.total;
  for (int r : u.members) {
    FitRules rules;
    rules.remaining_gpus = remaining;
    int n = st.best_fit_spread(r, [&](int m) { return st.domain(m) == d; }, rules);
    if (n < 0)
      break;
    if (!st.used(n))
      ++t.opened;
    st.assign(r, n);
    t.nodes.push_back(n);
    remaining -= st.replica(r).demand.gpus;
  }
  t.ok = t.nodes.size() == u.members.size();
  std::vector<int> touched = t.nodes;
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (int n : touched)
    t.left += st.free(n).gpus;
  for (size_t i = t.nodes.size(); i-- > 0;)
    st.unassign(u.members[i]);
  return t;
}

std::string pending_reason(const ClusterState& st, int r) {
  const Replica& rep = st.replica(r);
  if (st.gang(r) >= 0 && static_cast<int>(st.gangs()[static_cast<size_t>(st.gang(r))].size()) < st.gang_size(st.gang(r)))
    return "gang incomplete: waiting for all its pods";
  std::string first;
  for (int n = 0; n < st.nodes(); ++n) {
    std::string why = unfit_reason(rep, st.node(n), st.free(n));
    if (why.empty())
      return st.gang(r) >= 0 ? "gang does not fit whole in any topology domain" : "no node left after spread";
    if (first.empty())
      first = why;
  }
  if (st.gang(r) >= 0)
    return "gang does not fit whole in any topology domain";
  return st.nodes() == 0 ? "no nodes" : "no node fits: " + first;
}

}  // namespace

Placement place(const Inventory& inv, const PackOptions& opt) {
  ClusterState st(inv, opt.keep_bound);
  std::vector<char> pinned(inv.replicas.size(), 0);
  for (int r = 0; r < st.replicas(); ++r)
    pinned[static_cast<size_t>(r)] = st.node_of(r) >= 0;

  std::vector<Unit> units;
  for (size_t g = 0; g < st.gangs().size(); ++g) {
    Unit u;
    for (int r : st.gangs()[g])
      if (st.node_of(r) < 0)
        u.members.push_back(r);
    if (u.members.empty() || u.members.size() < st.gangs()[g].size())
      continue;  // a gang partly bound already is the workload controller's to restart
    if (static_cast<int>(u.members.size()) < st.gang_size(static_cast<int>(g)))
      continue;  // incomplete: waits whole
    units.push_back(std::move(u));
  }
  for (int r = 0; r < st.replicas(); ++r)
    if (st.gang(r) < 0 && st.node_of(r) < 0)
    {
      Unit u;
      u.members = {r};
      units.push_back(std::move(u));
    }
  int64_t remaining = 0;
  for (Unit& u : units) {
    sort_members(st, u.members);
    u.largest = st.replica(u.members.front()).demand.gpus;
    for (int r : u.members) {
      const Resources& d = st.replica(r).demand;
      u.total += d.gpus;
      u.cpu += d.milli_cpu;
      u.memory += d.memory;
    }
    u.id = st.replica(u.members.front()).id;
    remaining += u.total;
  }
  std::sort(units.begin(), units.end(), [](const Unit& a, const Unit& b) {
    return std::tie(b.largest, b.total, b.cpu, b.memory, a.id) < std::tie(a.largest, a.total, a.cpu, a.memory, b.id);
  });

  for (const Unit& u : units) {
    if (u.members.size() == 1 && st.gang(u.members[0]) < 0) {
      FitRules rules;
      rules.remaining_gpus = remaining;
      if (int n = st.best_fit_spread(u.members[0], nullptr, rules); n >= 0)
        st.assign(u.members[0], n);
    } else {
      int best = -1;
      GangTry chosen;
      for (int d = 0; d < static_cast<int>(st.domain_names().size()); ++d) {
        GangTry t = try_gang(st, u, d);
        if (t.ok && (best < 0 || std::tie(t.opened, t.left) < std::tie(chosen.opened, chosen.left))) {
          best = d;
          chosen = std::move(t);
        }
      }
      if (best >= 0)
        for (size_t i = 0; i < u.members.size(); ++i)
          st.assign(u.members[i], chosen.nodes[i]);
    }
    remaining -= u.total;
  }

  if (opt.local_search) {
    CompactOptions c;
    c.movable = [&](int r) { return !pinned[static_cast<size_t>(r)]; };
    compact(st, c, nullptr);
  }

  Placement out;
  out.node_of.resize(inv.replicas.size());
  out.why_pending.resize(inv.replicas.size());
  for (int r = 0; r < st.replicas(); ++r) {
    if (int n = st.node_of(r); n >= 0)
      out.node_of[static_cast<size_t>(r)] = st.node(n).name;
    else
      out.why_pending[static_cast<size_t>(r)] = pending_reason(st, r);
  }
  out.metrics = measure(st);
  return out;
}

}  // namespace omed::packing
