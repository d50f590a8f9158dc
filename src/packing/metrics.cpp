// Metrics of a placement, from the state's per-node free amounts.
#include "omed/packing/metrics.hpp"

#include <algorithm>

namespace omed::packing {

Metrics measure(const ClusterState& st) {
  Metrics m;
  double weighted = 0;
  for (int n = 0; n < st.nodes(); ++n) {
    const Node& node = st.node(n);
    if (!node.usable() || node.allocatable.gpus <= 0)
      continue;
    const int64_t cap = node.allocatable.gpus;
    const int64_t free = std::max<int64_t>(st.free(n).gpus, 0);
    ++m.nodes;
    m.gpus_total += cap;
    m.gpus_free += free;
    if (free < cap)
      ++m.nodes_used;
    else
      ++m.fully_free_nodes;
    weighted += static_cast<double>(free) * static_cast<double>(free) / static_cast<double>(cap);
  }
  m.gpus_allocated = m.gpus_total - m.gpus_free;
  m.fragmentation = m.gpus_free > 0 ? 1.0 - weighted / static_cast<double>(m.gpus_free) : 0.0;
  for (int r = 0; r < st.replicas(); ++r)
    if (st.node_of(r) < 0) {
      ++m.pending_replicas;
      m.pending_gpus += st.replica(r).demand.gpus;
    }
  return m;
}

}  // namespace omed::packing
