// A placement being built or improved: which node each replica is on, what is left on every node,
// and the indexes (nodes by free GPUs, static eligibility per constraint class) that keep best fit fast.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "omed/packing/model.hpp"

namespace omed::packing {

// Node and replica handles are indexes into the inventory's vectors.
using NodeFilter = std::function<bool(int node)>;

struct FitRules {
  bool open = true;          // may pick a node no GPU is allocated on yet
  bool spread_hard = true;   // refuse nodes holding a replica with the same spread key
  // GPUs still to place (this replica's included): a new node is opened as the smallest one that
  // holds them all, else the largest; this keeps large nodes whole for the demand that needs them.
  int64_t remaining_gpus = 0;
};

class ClusterState {
 public:
  // `from_current`: replicas start on the node they name (unknown names: pending); otherwise all
  // start pending. `inventory` must outlive the state.
  ClusterState(const Inventory& inventory, bool from_current);

  const Inventory& inventory() const { return *inv_; }
  int nodes() const { return static_cast<int>(free_.size()); }
  int replicas() const { return static_cast<int>(where_.size()); }
  const Node& node(int n) const { return inv_->nodes[static_cast<size_t>(n)]; }
  const Replica& replica(int r) const { return inv_->replicas[static_cast<size_t>(r)]; }

  int node_of(int r) const { return where_[static_cast<size_t>(r)]; }
  const std::vector<int>& on_node(int n) const { return on_node_[static_cast<size_t>(n)]; }
  const Resources& free(int n) const { return free_[static_cast<size_t>(n)]; }
  // Some GPU of the node is allocated (by a replica or by a pod the packer does not move).
  bool used(int n) const { return free(n).gpus < node(n).allocatable.gpus; }
  // Pods outside the inventory hold GPUs here, so the node can never become fully free.
  bool pinned_by_others(int n) const { return node(n).free.gpus < node(n).allocatable.gpus; }
  int rank(int n) const { return rank_[static_cast<size_t>(n)]; }  // position by name
  int domain(int n) const { return domain_[static_cast<size_t>(n)]; }
  const std::vector<std::string>& domain_names() const { return domain_names_; }
  int gang(int r) const { return gang_[static_cast<size_t>(r)]; }  // -1: none
  const std::vector<std::vector<int>>& gangs() const { return gang_members_; }
  int gang_size(int g) const { return gang_size_[static_cast<size_t>(g)]; }

  // The static filters (cached per constraint class) and the resources.
  bool fits(int r, int n) const;
  // No other replica with r's spread key on n (members of r's gang excepted).
  bool spread_ok(int r, int n) const;
  bool can_host(int r, int n, bool spread_hard) const { return fits(r, n) && (!spread_hard || spread_ok(r, n)); }

  void assign(int r, int n);
  void unassign(int r);
  void move(int r, int n) {
    unassign(r);
    assign(r, n);
  }

  // The node leaving the fewest free GPUs after r, used nodes before unused ones, then by name;
  // -1 when none passes `allowed` (null: every node) and the rules.
  int best_fit(int r, const NodeFilter& allowed, const FitRules& rules) const;
  // best_fit with the spread rule hard, then soft when no node allows it.
  int best_fit_spread(int r, const NodeFilter& allowed, FitRules rules) const;

 private:
  int key(int n) const { return (used(n) ? 0 : nodes()) + rank(n); }
  void unindex(int n);
  void index(int n);

  const Inventory* inv_;
  std::vector<Resources> free_;
  std::vector<int> where_;
  std::vector<std::vector<int>> on_node_;
  std::vector<int> rank_, by_rank_;
  std::vector<int> domain_;
  std::vector<std::string> domain_names_;
  std::vector<int> class_;                 // replica -> constraint class
  std::vector<std::vector<char>> eligible_;  // class -> node -> passes the static filters
  std::vector<int> spread_, gang_;         // interned keys, -1 for none
  std::vector<std::vector<int>> gang_members_;
  std::vector<int> gang_size_;
  // Usable nodes by free GPUs (clamped to [0, max]); the key orders used nodes first, then by name.
  std::vector<std::set<int>> buckets_;
};

}  // namespace omed::packing
