// Placement state with incremental indexes: a move updates one node's bucket, so best fit over
// thousands of nodes costs a walk over a few buckets instead of a scan of the cluster.
#include "omed/packing/cluster_state.hpp"

#include <algorithm>
#include <map>
#include <numeric>

#include "omed/packing/feasibility.hpp"

namespace omed::packing {

namespace {

// Replicas with the same selector, affinity and tolerations pass the same static filters.
std::string constraint_key(const Replica& r) {
  std::string k;
  for (const auto& [key, value] : r.node_selector)
    k += key + '=' + value + ';';
  k += '|';
  for (const SelectorTerm& term : r.affinity) {
    for (const Requirement& req : term) {
      k += req.key + (req.field ? "#" : "") + ':' + std::to_string(static_cast<int>(req.op)) + ':';
      for (const std::string& v : req.values)
        k += v + ',';
      k += ';';
    }
    k += '/';
  }
  k += '|';
  for (const Toleration& t : r.tolerations)
    k += t.key + ':' + t.op + ':' + t.value + ':' + t.effect + ';';
  return k;
}

int intern(std::map<std::string, int>& ids, const std::string& s) {
  if (s.empty())
    return -1;
  return ids.emplace(s, static_cast<int>(ids.size())).first->second;
}

size_t bucket_of(int64_t free_gpus, size_t buckets) {
  return static_cast<size_t>(std::clamp<int64_t>(free_gpus, 0, static_cast<int64_t>(buckets) - 1));
}

}  // namespace

ClusterState::ClusterState(const Inventory& inventory, bool from_current) : inv_(&inventory) {
  const size_t n_nodes = inventory.nodes.size(), n_reps = inventory.replicas.size();
  free_.resize(n_nodes);
  on_node_.resize(n_nodes);
  rank_.resize(n_nodes);
  by_rank_.resize(n_nodes);
  std::iota(by_rank_.begin(), by_rank_.end(), 0);
  std::sort(by_rank_.begin(), by_rank_.end(), [&](int a, int b) {
    return inventory.nodes[static_cast<size_t>(a)].name < inventory.nodes[static_cast<size_t>(b)].name;
  });
  for (size_t i = 0; i < n_nodes; ++i)
    rank_[static_cast<size_t>(by_rank_[i])] = static_cast<int>(i);

  std::map<std::string, int> domains;
  for (const Node& n : inventory.nodes)
    domains.emplace(n.domain, 0);
  for (auto& [name, id] : domains) {
    id = static_cast<int>(domain_names_.size());
    domain_names_.push_back(name);
  }
  int64_t max_gpus = 0;
  for (size_t i = 0; i < n_nodes; ++i) {
    free_[i] = inventory.nodes[i].free;
    domain_.push_back(domains[inventory.nodes[i].domain]);
    max_gpus = std::max(max_gpus, inventory.nodes[i].allocatable.gpus);
  }
  buckets_.resize(static_cast<size_t>(max_gpus) + 1);

  std::map<std::string, int> classes, spreads, gangs;
  where_.assign(n_reps, -1);
  for (size_t r = 0; r < n_reps; ++r) {
    const Replica& rep = inventory.replicas[r];
    auto [it, added] = classes.emplace(constraint_key(rep), static_cast<int>(classes.size()));
    if (added) {
      std::vector<char> row(n_nodes);
      for (size_t n = 0; n < n_nodes; ++n)
        row[n] = eligible(rep, inventory.nodes[n]) ? 1 : 0;
      eligible_.push_back(std::move(row));
    }
    class_.push_back(it->second);
    spread_.push_back(intern(spreads, rep.spread));
    int g = intern(gangs, rep.gang);
    gang_.push_back(g);
    if (g >= 0) {
      if (static_cast<size_t>(g) == gang_members_.size()) {
        gang_members_.emplace_back();
        gang_size_.push_back(0);
      }
      gang_members_[static_cast<size_t>(g)].push_back(static_cast<int>(r));
      gang_size_[static_cast<size_t>(g)] = std::max(gang_size_[static_cast<size_t>(g)], rep.gang_size);
    }
  }
  for (size_t g = 0; g < gang_members_.size(); ++g)
    if (gang_size_[g] <= 0)
      gang_size_[g] = static_cast<int>(gang_members_[g].size());

  for (size_t n = 0; n < n_nodes; ++n)
    index(static_cast<int>(n));
  if (!from_current)
    return;
  std::map<std::string, int> by_name;
  for (size_t n = 0; n < n_nodes; ++n)
    by_name.emplace(inventory.nodes[n].name, static_cast<int>(n));
  for (size_t r = 0; r < n_reps; ++r) {
    const std::string& at = inventory.replicas[r].node;
    if (auto it = by_name.find(at); !at.empty() && it != by_name.end())
      assign(static_cast<int>(r), it->second);  // where it runs, even over capacity: it is there
  }
}

void ClusterState::unindex(int n) {
  if (node(n).usable())
    buckets_[bucket_of(free(n).gpus, buckets_.size())].erase(key(n));
}

void ClusterState::index(int n) {
  if (node(n).usable())
    buckets_[bucket_of(free(n).gpus, buckets_.size())].insert(key(n));
}

bool ClusterState::fits(int r, int n) const {
  return eligible_[static_cast<size_t>(class_[static_cast<size_t>(r)])][static_cast<size_t>(n)] &&
         free(n).holds(replica(r).demand);
}

bool ClusterState::spread_ok(int r, int n) const {
  const int s = spread_[static_cast<size_t>(r)];
  if (s < 0)
    return true;
  const int g = gang(r);
  for (int other : on_node(n))
    if (other != r && spread_[static_cast<size_t>(other)] == s && (g < 0 || gang(other) != g))
      return false;
  return true;
}

void ClusterState::assign(int r, int n) {
  unindex(n);
  free_[static_cast<size_t>(n)] -= replica(r).demand;
  on_node_[static_cast<size_t>(n)].push_back(r);
  where_[static_cast<size_t>(r)] = n;
  index(n);
}

void ClusterState::unassign(int r) {
  const int n = node_of(r);
  if (n < 0)
    return;
  unindex(n);
  free_[static_cast<size_t>(n)] += replica(r).demand;
  auto& list = on_node_[static_cast<size_t>(n)];
  list.erase(std::find(list.begin(), list.end(), r));
  where_[static_cast<size_t>(r)] = -1;
  index(n);
}

int ClusterState::best_fit(int r, const NodeFilter& allowed, const FitRules& rules) const {
  const int64_t need = std::max<int64_t>(replica(r).demand.gpus, 0);
  const int total = nodes();
  auto ok = [&](int n) { return (!allowed || allowed(n)) && can_host(r, n, rules.spread_hard); };
  // Used nodes first: the fewest GPUs left after placing r, ties by name.
  for (size_t f = static_cast<size_t>(need); f < buckets_.size(); ++f)
    for (int k : buckets_[f]) {
      if (k >= total)
        break;
      if (int n = by_rank_[static_cast<size_t>(k)]; ok(n))
        return n;
    }
  if (!rules.open)
    return -1;
  int largest = -1;
  for (size_t f = static_cast<size_t>(need); f < buckets_.size(); ++f)
    for (auto it = buckets_[f].lower_bound(total); it != buckets_[f].end(); ++it) {
      int n = by_rank_[static_cast<size_t>(*it - total)];
      if (!ok(n))
        continue;
      if (static_cast<int64_t>(f) >= rules.remaining_gpus)
        return n;
      largest = n;  // buckets ascend: the last feasible bucket's first node
      break;
    }
  return largest;
}

int ClusterState::best_fit_spread(int r, const NodeFilter& allowed, FitRules rules) const {
  rules.spread_hard = true;
  int n = best_fit(r, allowed, rules);
  if (n < 0 && spread_[static_cast<size_t>(r)] >= 0) {
    rules.spread_hard = false;
    n = best_fit(r, allowed, rules);
  }
  return n;
}

}  // namespace omed::packing
