// kube-scheduler's default scoring, for comparison only; the packer never uses it.
#include "omed/packing/default_scheduler.hpp"

#include <cmath>
#include <random>

#include "omed/packing/cluster_state.hpp"

namespace omed::packing {

namespace {

double fraction(int64_t requested, int64_t allocatable) {
  return allocatable > 0 ? std::min(1.0, static_cast<double>(requested) / static_cast<double>(allocatable)) : 0.0;
}

// Both plugins score 0..100 (integers in kube-scheduler); their default weights are 1 each.
int64_t score(const Node& node, const Resources& free_after) {
  const double cpu = fraction(node.allocatable.milli_cpu - free_after.milli_cpu, node.allocatable.milli_cpu);
  const double mem = fraction(node.allocatable.memory - free_after.memory, node.allocatable.memory);
  const auto least = static_cast<int64_t>(((1 - cpu) * 100 + (1 - mem) * 100) / 2);
  const double mean = (cpu + mem) / 2;
  const double deviation = std::sqrt(((cpu - mean) * (cpu - mean) + (mem - mean) * (mem - mean)) / 2);
  const auto balanced = static_cast<int64_t>((1 - deviation) * 100);
  return least + balanced;
}

}  // namespace

Placement place_least_allocated(const Inventory& inv, uint64_t seed) {
  ClusterState st(inv, false);
  std::mt19937_64 rng(seed);
  for (int r = 0; r < st.replicas(); ++r) {
    int best = -1;
    int64_t best_score = -1;
    uint64_t ties = 0;
    for (int n = 0; n < st.nodes(); ++n) {
      if (!st.fits(r, n))
        continue;
      const int64_t s = score(st.node(n), st.free(n) - st.replica(r).demand);
      if (s > best_score) {
        best = n, best_score = s, ties = 1;
      } else if (s == best_score && rng() % ++ties == 0) {
        best = n;  // reservoir sampling: each tied node equally likely
      }
    }
    if (best >= 0)
      st.assign(r, best);
  }
  Placement out;
  out.node_of.resize(inv.replicas.size());
  out.why_pending.resize(inv.replicas.size());
  for (int r = 0; r < st.replicas(); ++r) {
    if (int n = st.node_of(r); n >= 0)
      out.node_of[static_cast<size_t>(r)] = st.node(n).name;
    else
      out.why_pending[static_cast<size_t>(r)] = "no feasible node";
  }
  out.metrics = measure(st);
  return out;
}

}  // namespace omed::packing
