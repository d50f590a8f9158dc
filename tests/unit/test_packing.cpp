// GPU bin-packing: every placement constraint, determinism, the node-emptying local search, the
// Kubernetes inventory, re-optimisation plans replayed move by move, and (tag [packing-cbc]) the
// packer's node count against CBC's proven optimum on 200 random instances.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "omed/common/json.hpp"
#include "omed/packing/cluster_state.hpp"
#include "omed/packing/default_scheduler.hpp"
#include "omed/packing/feasibility.hpp"
#include "omed/packing/kube_inventory.hpp"
#include "omed/packing/local_search.hpp"
#include "omed/packing/placement.hpp"
#include "omed/packing/reoptimize.hpp"

using namespace omed::packing;
namespace json = omed::json;

namespace {

constexpr int64_t Gi = int64_t{1} << 30;

Node gpu_node(const std::string& name, int64_t gpus, std::map<std::string, std::string> labels = {},
              const std::string& zone = "") {
  Node n;
  n.name = name;
  n.allocatable = {gpus, 96000, 1024 * Gi};
  n.free = n.allocatable;
  n.labels = std::move(labels);
  n.labels["kubernetes.io/hostname"] = name;
  n.domain = zone;
  return n;
}

Replica rep(const std::string& id, int64_t gpus, const std::string& owner = "") {
  Replica r;
  r.id = id;
  r.owner = owner.empty() ? id : owner;
  r.demand = {gpus, 1000 * gpus, 8 * Gi * gpus};
  return r;
}

Replica spread_rep(const std::string& id, int64_t gpus, const std::string& owner) {
  Replica r = rep(id, gpus, owner);
  r.spread = owner;
  return r;
}

std::map<std::string, std::string> where(const Inventory& inv, const Placement& p) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < inv.replicas.size(); ++i)
    out[inv.replicas[i].id] = p.node_of[i];
  return out;
}

std::string pending_reason(const Inventory& inv, const Placement& p, const std::string& id) {
  for (size_t i = 0; i < inv.replicas.size(); ++i)
    if (inv.replicas[i].id == id)
      return p.why_pending[i];
  return "?";
}

void apply(Inventory& inv, const Placement& p) {
  for (size_t i = 0; i < inv.replicas.size(); ++i)
    inv.replicas[i].node = p.node_of[i];
}

// An independent replay of a plan: every move checked against the plain feasibility functions
// with the replica still on its source, every wave against the owners' budgets and for fitting
// all at once. Returns the inventory after the plan.
Inventory replay(Inventory inv, const Plan& plan, const PlanOptions& opt) {
  std::map<std::string, size_t> node_ix, rep_ix;
  for (size_t i = 0; i < inv.nodes.size(); ++i)
    node_ix[inv.nodes[i].name] = i;
  for (size_t i = 0; i < inv.replicas.size(); ++i)
    rep_ix[inv.replicas[i].id] = i;
  std::map<std::string, int> owner_total;
  for (const Replica& r : inv.replicas)
    if (!r.node.empty())
      ++owner_total[r.owner];
  auto free_of = [&](const std::string& node) {
    Resources f = inv.nodes[node_ix.at(node)].free;
    for (const Replica& r : inv.replicas)
      if (r.node == node)
        f -= r.demand;
    return f;
  };
  auto same_spread = [&](const Replica& r, const std::string& node) {
    int c = 0;
    for (const Replica& o : inv.replicas)
      if (o.id != r.id && o.node == node && !r.spread.empty() && o.spread == r.spread)
        ++c;
    return c;
  };
  auto budget = [&](const std::string& owner) {
    auto it = opt.max_unavailable.find(owner);
    return it == opt.max_unavailable.end() ? opt.default_max_unavailable : it->second;
  };
  size_t i = 0;
  while (i < plan.moves.size()) {
    const int wave = plan.moves[i].wave;
    std::map<std::string, int> in_flight;
    std::map<std::string, Resources> added;
    size_t end = i;
    while (end < plan.moves.size() && plan.moves[end].wave == wave)
      ++end;
    // The wave all at once: targets hold every new pod with no source freed yet.
    for (size_t k = i; k < end; ++k) {
      const Move& m = plan.moves[k];
      const Replica& r = inv.replicas[rep_ix.at(m.replica)];
      ++in_flight[r.owner];
      added[m.to] += r.demand;
      CHECK(free_of(m.to).holds(added[m.to]));
    }
    for (const auto& [owner, n] : in_flight) {
      CHECK(n <= budget(owner));
      // Even if every moving replica of the wave were down, the owner keeps its minimum.
      CHECK(owner_total[owner] - n >= owner_total[owner] - budget(owner));
    }
    // Then one by one, make-before-break.
    for (size_t k = i; k < end; ++k) {
      const Move& m = plan.moves[k];
      Replica& r = inv.replicas[rep_ix.at(m.replica)];
      REQUIRE(r.node == m.from);
      REQUIRE(m.to != m.from);
      const Node& to = inv.nodes[node_ix.at(m.to)];
      CHECK(unfit_reason(r, to, free_of(m.to)).empty());
      CHECK(r.gang.empty());
      if (same_spread(r, m.from) == 0)
        CHECK(same_spread(r, m.to) == 0);
      r.node = m.to;
    }
    i = end;
  }
  return inv;
}

int fully_free(const Inventory& inv) {
  std::set<std::string> used;
  for (const Replica& r : inv.replicas)
    if (!r.node.empty() && r.demand.gpus > 0)
      used.insert(r.node);
  int n = 0;
  for (const Node& node : inv.nodes)
    if (node.usable() && !used.count(node.name) && node.free.gpus == node.allocatable.gpus)
      ++n;
  return n;
}

}  // namespace

TEST_CASE("GPU count: a replica's GPUs all on one node, best fit", "[packing]") {
  Inventory inv;
  inv.nodes = {gpu_node("a", 4), gpu_node("b", 8), gpu_node("c", 8)};
  inv.replicas = {rep("big", 8), rep("six", 6), rep("three", 3), rep("two", 2)};
  Placement p = place(inv);
  auto w = where(inv, p);
  CHECK(w["big"] == "b");
  CHECK(w["six"] == "c");
  CHECK(w["two"] == "c");  // the used node left with exactly 2
  CHECK(w["three"] == "a");
  CHECK(p.metrics.pending_replicas == 0);
  CHECK(p.metrics.gpus_free == 1);

  inv.replicas = {rep("nine", 9)};
  p = place(inv);
  CHECK(p.node_of[0].empty());
  CHECK(pending_reason(inv, p, "nine") == "no node fits: insufficient nvidia.com/gpu");
  CHECK(p.metrics.pending_gpus == 9);
}

TEST_CASE("GPU product and memory through the selector and affinity", "[packing]") {
  Inventory inv;
  inv.nodes = {gpu_node("a100", 8, {{"nvidia.com/gpu.product", "NVIDIA-A100-SXM4-40GB"}, {"nvidia.com/gpu.memory", "40960"}}),
               gpu_node("h100", 8, {{"nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3"}, {"nvidia.com/gpu.memory", "81559"}})};
  Replica by_product = rep("p", 2);
  by_product.node_selector = {{"nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3"}};
  Replica by_memory = rep("m", 4);
  by_memory.affinity = {{{"nvidia.com/gpu.memory", SelectorOp::Gt, {"50000"}}}};
  Replica small = rep("s", 1);
  small.affinity = {{{"nvidia.com/gpu.memory", SelectorOp::Lt, {"50000"}}}};
  inv.replicas = {by_product, by_memory, small};
  auto w = where(inv, place(inv));
  CHECK(w["p"] == "h100");
  CHECK(w["m"] == "h100");
  CHECK(w["s"] == "a100");

  Replica nowhere = rep("x", 1);
  nowhere.node_selector = {{"nvidia.com/gpu.product", "Tesla-T4"}};
  inv.replicas = {nowhere};
  Placement p = place(inv);
  CHECK(pending_reason(inv, p, "x") == "no node fits: node affinity/selector mismatch");
}

TEST_CASE("CPU and memory count as well as GPUs", "[packing]") {
  Inventory inv;
  inv.nodes = {gpu_node("a", 8), gpu_node("b", 8)};
  inv.nodes[0].free.milli_cpu = 2000;  // taken by pods the packer does not move
  inv.nodes[1].free.memory = 4 * Gi;
  Replica cpu_heavy = rep("cpu", 1);
  cpu_heavy.demand.milli_cpu = 4000;
  cpu_heavy.demand.memory = Gi;
  Replica mem_heavy = rep("mem", 1);
  mem_heavy.demand.milli_cpu = 500;
  mem_heavy.demand.memory = 16 * Gi;
  inv.replicas = {cpu_heavy, mem_heavy};
  auto w = where(inv, place(inv));
  CHECK(w["cpu"] == "b");
  CHECK(w["mem"] == "a");
  cpu_heavy.demand.memory = 16 * Gi;
  inv.replicas = {cpu_heavy};
  Placement p = place(inv);
  CHECK(p.node_of[0].empty());
}

TEST_CASE("taints: NoSchedule and NoExecute filter unless tolerated, PreferNoSchedule never", "[packing]") {
  Inventory inv;
  inv.nodes = {gpu_node("tainted", 8), gpu_node("soft", 4)};
  inv.nodes[0].taints = {{"nvidia.com/gpu", "present", "NoSchedule"}};
  inv.nodes[1].taints = {{"spot", "true", "PreferNoSchedule"}};
  inv.replicas = {rep("r", 8)};
  Placement p = place(inv);
  CHECK(p.node_of[0].empty());
  CHECK(pending_reason(inv, p, "r") == "no node fits: untolerated taint");

  inv.replicas[0].tolerations = {{"nvidia.com/gpu", "Equal", "present", "NoSchedule"}};
  CHECK(place(inv).node_of[0] == "tainted");
  inv.replicas[0].tolerations = {{"nvidia.com/gpu", "Equal", "absent", "NoSchedule"}};
  CHECK(place(inv).node_of[0].empty());
  inv.replicas[0].tolerations = {{"nvidia.com/gpu", "Exists", "", ""}};
  CHECK(place(inv).node_of[0] == "tainted");
  inv.replicas[0].tolerations = {{"", "Exists", "", ""}};
  CHECK(place(inv).node_of[0] == "tainted");
  inv.nodes[0].taints = {{"maintenance", "", "NoExecute"}};
  inv.replicas[0].tolerations = {{"maintenance", "Exists", "", "NoSchedule"}};
  CHECK(place(inv).node_of[0].empty());

  inv.replicas = {rep("small", 4)};
  CHECK(place(inv).node_of[0] == "soft");  // PreferNoSchedule only scores

  inv.nodes[1].ready = false;
  CHECK(place(inv).node_of[0].empty());
  inv.nodes[1].ready = true;
  inv.nodes[1].schedulable = false;
  CHECK(place(inv).node_of[0].empty());
}

TEST_CASE("required node affinity: In, NotIn, Exists, DoesNotExist; terms ORed", "[packing]") {
  Inventory inv;
  inv.nodes = {gpu_node("a", 8, {{"pool", "serving"}, {"models.ome.io/llama", "Ready"}}),
               gpu_node("b", 8, {{"pool", "batch"}}), gpu_node("c", 8, {{"pool", "serving"}})};
  auto only = [&](std::vector<SelectorTerm> terms) {
    std::set<std::string> out;
    Replica r = rep("r", 1);
    r.affinity = std::move(terms);
    for (const Node& n : inv.nodes)
      if (eligible(r, n))
        out.insert(n.name);
    return out;
  };
  using S = std::set<std::string>;
  CHECK(only({{{"pool", SelectorOp::In, {"serving"}}}}) == S{"a", "c"});
  CHECK(only({{{"pool", SelectorOp::NotIn, {"serving"}}}}) == S{"b"});
  CHECK(only({{{"models.ome.io/llama", SelectorOp::Exists, {}}}}) == S{"a"});
  CHECK(only({{{"models.ome.io/llama", SelectorOp::DoesNotExist, {}}}}) == S{"b", "c"});
  CHECK(only({{{"pool", SelectorOp::In, {"serving"}}, {"models.ome.io/llama", SelectorOp::DoesNotExist, {}}}}) == S{"c"});
  CHECK(only({{{"pool", SelectorOp::In, {"batch"}}}, {{"models.ome.io/llama", SelectorOp::Exists, {}}}}) == S{"a", "b"});
  CHECK(only({{}}) == S{});  // an empty term matches nothing
  CHECK(only({{{"metadata.name", SelectorOp::In, {"b"}, true}}}) == S{"b"});

  Replica r = rep("r", 2);
  r.affinity = {{{"pool", SelectorOp::In, {"serving"}}, {"models.ome.io/llama", SelectorOp::DoesNotExist, {}}}};
  inv.replicas = {r};
  CHECK(place(inv).node_of[0] == "c");
}

TEST_CASE("gangs: all pods or none, all in one topology domain", "[packing]") {
  Inventory inv;
  inv.nodes = {gpu_node("a1", 8, {}, "zone-a"), gpu_node("b1", 8, {}, "zone-b"), gpu_node("b2", 8, {}, "zone-b"),
               gpu_node("b3", 8, {}, "zone-b")};
  auto member = [](const std::string& id, const std::string& gang, int size) {
    Replica r = spread_rep(id, 8, "ns/big");
    r.gang = gang;
    r.gang_size = size;
    return r;
  };
  inv.replicas = {member("g0-0", "g0", 2), member("g0-1", "g0", 2)};
  auto w = where(inv, place(inv));
  CHECK(w["g0-0"].starts_with("b"));
  CHECK(w["g0-1"].starts_with("b"));
  CHECK(w["g0-0"] != w["g0-1"]);

  // Three pods of 8 GPUs fit in zone b only; with zone b half taken, nowhere: none is placed.
  inv.replicas = {member("g1-0", "g1", 3), member("g1-1", "g1", 3), member("g1-2", "g1", 3)};
  w = where(inv, place(inv));
  CHECK((w["g1-0"].starts_with("b") && w["g1-1"].starts_with("b") && w["g1-2"].starts_with("b")));
  inv.nodes[3].free.gpus = 4;
  Placement p = place(inv);
  for (const std::string& n : p.node_of)
    CHECK(n.empty());
  CHECK(pending_reason(inv, p, "g1-0") == "gang does not fit whole in any topology domain");
  CHECK(p.metrics.pending_replicas == 3);

  // A gang whose pods are not all created yet waits whole.
  inv.nodes[3].free.gpus = 8;
  inv.replicas = {member("g2-0", "g2", 3), member("g2-1", "g2", 3)};
  p = place(inv);
  CHECK(p.node_of[0].empty());
  CHECK(p.node_of[1].empty());
  CHECK(pending_reason(inv, p, "g2-0") == "gang incomplete: waiting for all its pods");

  // Smaller pods of one gang may share a node (the spread rule exempts a gang's own pods).
  inv.replicas = {member("g3-0", "g3", 2), member("g3-1", "g3", 2)};
  inv.replicas[0].demand.gpus = inv.replicas[1].demand.gpus = 4;
  w = where(inv, place(inv));
  CHECK(w["g3-0"] == w["g3-1"]);
}

TEST_CASE("spread: one InferenceService's replicas on distinct nodes when feasible", "[packing]") {
  Inventory inv;
  inv.nodes = {gpu_node("a", 8), gpu_node("b", 8), gpu_node("c", 8)};
  inv.replicas = {spread_rep("x0", 2, "ns/x"), spread_rep("x1", 2, "ns/x"), spread_rep("x2", 2, "ns/x")};
  auto w = where(inv, place(inv));
  CHECK(std::set<std::string>{w["x0"], w["x1"], w["x2"]}.size() == 3);

  // Soft when not feasible: two nodes, three replicas; all placed.
  inv.nodes.pop_back();
  Placement p = place(inv);
  CHECK(p.metrics.pending_replicas == 0);
  w = where(inv, p);
  CHECK(std::set<std::string>{w["x0"], w["x1"], w["x2"]}.size() == 2);

  // Without a spread key they pack onto one node.
  for (Replica& r : inv.replicas)
    r.spread.clear();
  w = where(inv, place(inv));
  CHECK(std::set<std::string>{w["x0"], w["x1"], w["x2"]}.size() == 1);
}

TEST_CASE("placement is deterministic whatever the order of the nodes", "[packing]") {
  std::mt19937_64 rng(7);
  Inventory inv;
  for (int i = 0; i < 30; ++i)
    inv.nodes.push_back(gpu_node("node-" + std::to_string(100 + i), i % 3 ? 8 : 4));
  const int64_t sizes[] = {1, 2, 4, 8};
  for (int i = 0; i < 60; ++i)
    inv.replicas.push_back(spread_rep("r" + std::to_string(i), sizes[rng() % 3], "ns/o" + std::to_string(i % 13)));
  Placement first = place(inv);
  for (int k = 0; k < 5; ++k) {
    Inventory shuffled = inv;
    std::shuffle(shuffled.nodes.begin(), shuffled.nodes.end(), rng);
    CHECK(place(shuffled).node_of == first.node_of);
  }
  CHECK(place(inv).node_of == first.node_of);
}

TEST_CASE("local search empties the least-used node into the others", "[packing]") {
  Inventory inv;
  inv.nodes = {gpu_node("a", 8), gpu_node("b", 8), gpu_node("c", 8)};
  inv.replicas = {rep("a1", 4), rep("a2", 2), rep("b1", 4), rep("b2", 1), rep("c1", 1), rep("c2", 2)};
  for (Replica& r : inv.replicas)
    r.node = r.id.substr(0, 1);
  ClusterState st(inv, true);
  std::vector<MoveStep> steps;
  CHECK(compact(st, {}, &steps) == 1);
  CHECK(st.on_node(2).empty());  // c held the least
  REQUIRE(steps.size() == 2);
  CHECK(st.free(0).gpus == 0);  // c2 (2 GPUs) filled a exactly
  CHECK(st.free(1).gpus == 2);
  CHECK(measure(st).fully_free_nodes == 1);

  // Replicas that may not move keep their node: c stays, b is emptied instead (into c, 5 GPUs free).
  ClusterState pinned(inv, true);
  CompactOptions opt;
  opt.movable = [](int r) { return r < 4; };
  CHECK(compact(pinned, opt, nullptr) == 1);
  CHECK(pinned.on_node(2).size() == 4);  // b1 then b2, which fills what b1 left on c exactly
  CHECK(pinned.on_node(1).empty());
  ClusterState frozen(inv, true);
  opt.movable = [](int) { return false; };
  CHECK(compact(frozen, opt, nullptr) == 0);
}

TEST_CASE("fragmentation index", "[packing]") {
  Inventory inv;
  inv.nodes = {gpu_node("a", 8), gpu_node("b", 8)};
  inv.replicas = {rep("r1", 4), rep("r2", 4)};
  inv.replicas[0].node = "a";
  inv.replicas[1].node = "b";
  Metrics spread = measure(ClusterState(inv, true));
  CHECK(spread.gpus_free == 8);
  CHECK(spread.fragmentation == Approx(0.5));  // each free GPU sits on a half-used node
  inv.replicas[1].node = "a";
  Metrics packed = measure(ClusterState(inv, true));
  CHECK(packed.fragmentation == Approx(0.0));
  CHECK(packed.fully_free_nodes == 1);
  CHECK(packed.nodes_used == 1);
  CHECK(packed.gpus_allocated == 8);
}

TEST_CASE("inventory from Kubernetes Nodes and Pods", "[packing]") {
  json::Value nodes = json::parse(R"([
    {"metadata":{"name":"gpu-1","labels":{"nvidia.com/gpu.product":"NVIDIA-H100-80GB-HBM3","nvidia.com/gpu.memory":"81559",
      "topology.kubernetes.io/zone":"z1"}},
     "spec":{"taints":[{"key":"nvidia.com/gpu","value":"present","effect":"NoSchedule"}]},
     "status":{"allocatable":{"nvidia.com/gpu":"8","cpu":"96","memory":"1Ti"},"conditions":[{"type":"Ready","status":"True"}]}},
    {"metadata":{"name":"gpu-2","labels":{}},"spec":{"unschedulable":true},
     "status":{"allocatable":{"nvidia.com/gpu":"4","cpu":"32500m","memory":"256Gi"},"conditions":[{"type":"Ready","status":"False"}]}}
  ])");
  json::Value pods = json::parse(R"([
    {"metadata":{"name":"llama-0","namespace":"ml","labels":{"ome.io/inferenceservice":"llama"}},
     "spec":{"nodeName":"gpu-1","nodeSelector":{"models.ome.io/ml.basemodel.llama":"Ready"},
       "tolerations":[{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"}],
       "affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[
         {"matchExpressions":[{"key":"nvidia.com/gpu.product","operator":"In","values":["NVIDIA-H100-80GB-HBM3"]}]}]}}},
       "containers":[{"name":"engine","resources":{"requests":{"nvidia.com/gpu":"4","cpu":"8","memory":"64Gi"}}},
                     {"name":"sidecar","resources":{"limits":{"cpu":"500m","memory":"1Gi"}}}]},
     "status":{"phase":"Running"}},
    {"metadata":{"name":"ds","namespace":"kube-system"},
     "spec":{"nodeName":"gpu-1","containers":[{"name":"c","resources":{"requests":{"cpu":"1","memory":"2Gi","nvidia.com/gpu":"0"}}}]},
     "status":{"phase":"Running"}},
    {"metadata":{"name":"done","namespace":"kube-system"},
     "spec":{"nodeName":"gpu-1","containers":[{"name":"c","resources":{"requests":{"cpu":"50"}}}]},"status":{"phase":"Succeeded"}},
    {"metadata":{"name":"big-0","namespace":"ml","labels":{"ome.io/inferenceservice":"big",
       "leaderworkerset.sigs.k8s.io/group-key":"abc"},"annotations":{"leaderworkerset.sigs.k8s.io/size":"2"}},
     "spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu":"8"}}}]}},
    {"metadata":{"name":"big-0-1","namespace":"ml","labels":{"ome.io/inferenceservice":"big",
       "leaderworkerset.sigs.k8s.io/group-key":"abc"}},
     "spec":{"containers":[{"name":"c","resources":{"limits":{"nvidia.com/gpu":"8"}}}]}}
  ])");
  Inventory inv = inventory_from_objects(nodes, pods);
  REQUIRE(inv.nodes.size() == 2);
  const Node& n1 = inv.nodes[0];
  CHECK(n1.allocatable == Resources{8, 96000, 1024 * Gi});
  CHECK(n1.free == Resources{8, 95000, 1022 * Gi});  // the DaemonSet pod; the finished pod holds nothing
  CHECK(n1.gpu_product == "NVIDIA-H100-80GB-HBM3");
  CHECK(n1.gpu_memory_mib == 81559);
  CHECK(n1.domain == "z1");
  CHECK(n1.usable());
  REQUIRE(n1.taints.size() == 1);
  CHECK(n1.taints[0].effect == "NoSchedule");
  CHECK(inv.nodes[1].allocatable == Resources{4, 32500, 256 * Gi});
  CHECK_FALSE(inv.nodes[1].ready);
  CHECK_FALSE(inv.nodes[1].schedulable);

  REQUIRE(inv.replicas.size() == 3);
  const Replica& llama = inv.replicas[0];
  CHECK(llama.id == "ml/llama-0");
  CHECK(llama.owner == "ml/llama");
  CHECK(llama.spread == "ml/llama");
  CHECK(llama.demand == Resources{4, 8500, 65 * Gi});
  CHECK(llama.node == "gpu-1");
  CHECK(llama.node_selector.at("models.ome.io/ml.basemodel.llama") == "Ready");
  REQUIRE(llama.affinity.size() == 1);
  CHECK(llama.affinity[0][0].op == SelectorOp::In);
  REQUIRE(llama.tolerations.size() == 1);
  CHECK(llama.tolerations[0].op == "Exists");
  CHECK(inv.replicas[1].gang == "ml/abc");
  CHECK(inv.replicas[1].gang_size == 2);
  CHECK(inv.replicas[2].gang_size == 2);  // the leader's size, given to the worker
  CHECK(inv.replicas[2].demand.gpus == 8);
  CHECK(inv.replicas[2].node.empty());
  // The bound replica is where it runs: its model label is missing there, so it is not eligible anew.
  CHECK_FALSE(eligible(llama, n1));
  inv.nodes[0].labels["models.ome.io/ml.basemodel.llama"] = "Ready";
  CHECK(eligible(llama, inv.nodes[0]));
}

namespace {

// A cluster spread by the default scheduler: owners of 1 to 4 replicas of 1, 2 or 4 GPUs.
Inventory spread_cluster(int nodes, int replicas, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Inventory inv;
  for (int i = 0; i < nodes; ++i)
    inv.nodes.push_back(gpu_node("n" + std::to_string(10 + i), 8));
  const int64_t sizes[] = {1, 1, 2, 2, 4};
  int owner = 0;
  while (static_cast<int>(inv.replicas.size()) < replicas) {
    const int count = 1 + static_cast<int>(rng() % 4);
    const int64_t g = sizes[rng() % 5];
    for (int k = 0; k < count && static_cast<int>(inv.replicas.size()) < replicas; ++k)
      inv.replicas.push_back(spread_rep("ns/o" + std::to_string(owner) + "-" + std::to_string(k), g,
                                        "ns/o" + std::to_string(owner)));
    ++owner;
  }
  apply(inv, place_least_allocated(inv, seed));
  return inv;
}

}  // namespace

TEST_CASE("re-optimisation plan: feasible at every step, budgets kept, whole nodes freed", "[packing]") {
  for (uint64_t seed : {1, 2, 3}) {
    Inventory inv = spread_cluster(12, 30, seed);
    const int before = fully_free(inv);
    PlanOptions opt;
    opt.max_moves = 0;
    opt.max_unavailable["ns/o0"] = 0;  // never moved
    opt.max_unavailable["ns/o1"] = 2;
    Plan plan = plan_reoptimization(inv, opt);
    INFO("seed " << seed << ": " << plan.reason);
    REQUIRE(plan.worthwhile);
    CHECK(plan.freed_nodes >= 1);
    for (const Move& m : plan.moves)
      CHECK(m.owner != "ns/o0");
    Inventory after = replay(inv, plan, opt);
    CHECK(fully_free(after) == before + plan.freed_nodes);
    CHECK(plan.after.fully_free_nodes == fully_free(after));
    CHECK(plan.after.fragmentation < plan.before.fragmentation);
    CHECK(plan.after.pending_replicas == 0);
    // Waves are numbered from 0 without gaps.
    for (size_t i = 1; i < plan.moves.size(); ++i)
      CHECK((plan.moves[i].wave == plan.moves[i - 1].wave || plan.moves[i].wave == plan.moves[i - 1].wave + 1));
  }
}

TEST_CASE("re-optimisation plan: threshold, rate limit, gangs stay", "[packing]") {
  Inventory inv = spread_cluster(12, 30, 4);
  PlanOptions limited;
  limited.max_moves = 3;
  Plan plan = plan_reoptimization(inv, limited);
  CHECK(plan.moves.size() <= 3);
  if (!plan.moves.empty())
    replay(inv, plan, limited);

  // Already packed: nothing worth doing.
  Inventory packed = inv;
  apply(packed, place(packed));
  Plan none = plan_reoptimization(packed);
  CHECK_FALSE(none.worthwhile);
  CHECK(none.moves.empty());
  CHECK(none.after.fully_free_nodes == none.before.fully_free_nodes);

  // A node holding a gang member is never emptied.
  Inventory g;
  g.nodes = {gpu_node("a", 8), gpu_node("b", 8)};
  g.replicas = {rep("g0", 2), rep("g1", 2)};
  g.replicas[0].gang = g.replicas[1].gang = "gang";
  g.replicas[0].node = "a";
  g.replicas[1].node = "b";
  CHECK(plan_reoptimization(g).moves.empty());
  g.replicas[0].gang.clear();
  g.replicas[1].gang.clear();
  Plan p = plan_reoptimization(g);
  CHECK(p.moves.size() == 1);
  CHECK(p.freed_nodes == 1);
}

// ---------------------------------------------------------------------------------------------
// Quality against an exact solver.

namespace {

struct Instance {
  Inventory inv;
};

// A feasible instance by construction: a random packing into a random subset of the nodes, then
// the replicas shuffled so the packer does not see it.
Instance random_instance(std::mt19937_64& rng) {
  Instance in;
  const int nodes = 3 + static_cast<int>(rng() % 10);
  for (int i = 0; i < nodes; ++i)
    in.inv.nodes.push_back(gpu_node("n" + std::to_string(10 + i), rng() % 4 == 0 ? 4 : 8));
  const int64_t sizes[] = {1, 2, 4, 8};
  const double fill = 0.4 + 0.6 * static_cast<double>(rng() % 1000) / 1000.0;
  int id = 0;
  for (const Node& n : in.inv.nodes) {
    int64_t left = n.allocatable.gpus;
    while (left > 0) {
      if (static_cast<double>(rng() % 1000) / 1000.0 > fill)
        break;
      int64_t g = sizes[rng() % 4];
      while (g > left)
        g /= 2;
      in.inv.replicas.push_back(rep("r" + std::to_string(id++), g));
      left -= g;
    }
  }
  std::shuffle(in.inv.replicas.begin(), in.inv.replicas.end(), rng);
  return in;
}

void write_lp(const Instance& in, const std::string& path) {
  std::ofstream f(path);
  const auto& nodes = in.inv.nodes;
  const auto& reps = in.inv.replicas;
  f << "Minimize\n obj:";
  for (size_t n = 0; n < nodes.size(); ++n)
    f << " + y" << n;
  f << "\nSubject To\n";
  for (size_t r = 0; r < reps.size(); ++r) {
    f << " a" << r << ":";
    for (size_t n = 0; n < nodes.size(); ++n)
      if (reps[r].demand.gpus <= nodes[n].allocatable.gpus)
        f << " + x" << r << "_" << n;
    f << " = 1\n";
  }
  for (size_t n = 0; n < nodes.size(); ++n) {
    f << " c" << n << ":";
    for (size_t r = 0; r < reps.size(); ++r)
      if (reps[r].demand.gpus <= nodes[n].allocatable.gpus)
        f << " + " << reps[r].demand.gpus << " x" << r << "_" << n;
    f << " - " << nodes[n].allocatable.gpus << " y" << n << " <= 0\n";
  }
  f << "Binary\n";
  for (size_t n = 0; n < nodes.size(); ++n)
    f << " y" << n << "\n";
  for (size_t r = 0; r < reps.size(); ++r)
    for (size_t n = 0; n < nodes.size(); ++n)
      if (reps[r].demand.gpus <= nodes[n].allocatable.gpus)
        f << " x" << r << "_" << n << "\n";
  f << "End\n";
}

// CBC's optimum, or -1 when it did not prove one (time limit, infeasible, error).
int cbc_optimum(const std::string& lp, const std::string& solution) {
  std::filesystem::remove(solution);
  const std::string cmd = "cbc " + lp + " sec 10 solve solu " + solution + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0)
    return -1;
  std::ifstream f(solution);
  std::string line;
  if (!std::getline(f, line) || !line.starts_with("Optimal"))
    return -1;
  auto at = line.find("objective value");
  if (at == std::string::npos)
    return -1;
  return static_cast<int>(std::lround(std::stod(line.substr(at + 15))));
}

}  // namespace

TEST_CASE("the packer against CBC's optimum on 200 random instances", "[packing-cbc]") {
  if (std::system("command -v cbc >/dev/null 2>&1") != 0) {
    WARN("cbc not found (Debian package coinor-cbc): the exact-solver comparison is SKIPPED");
    return;
  }
  const auto dir = std::filesystem::temp_directory_path() / ("omed-packing-cbc-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::mt19937_64 rng(20240807);
  int instances = 0, solved = 0, matches = 0, unproven = 0, worst_gap = 0, pending = 0, replicas = 0;
  for (int i = 0; i < 200; ++i) {
    Instance in = random_instance(rng);
    ++instances;
    replicas += static_cast<int>(in.inv.replicas.size());
    Placement p = place(in.inv);
    pending += p.metrics.pending_replicas;
    const std::string lp = (dir / ("i" + std::to_string(i) + ".lp")).string();
    write_lp(in, lp);
    const int opt = cbc_optimum(lp, (dir / ("i" + std::to_string(i) + ".sol")).string());
    if (opt < 0) {
      ++unproven;
      continue;
    }
    ++solved;
    const int gap = p.metrics.pending_replicas ? 1000 : p.metrics.nodes_used - opt;
    CHECK(gap >= 0);
    worst_gap = std::max(worst_gap, gap);
    if (gap == 0)
      ++matches;
    else
      UNSCOPED_INFO("instance " << i << ": packer " << p.metrics.nodes_used << " nodes, optimum " << opt);
  }
  std::filesystem::remove_all(dir);
  std::printf("packing-cbc: %d instances (%d replicas), %d solved to optimality by CBC, %d unproven (excluded); "
              "packer matches the optimum on %d/%d, worst gap %d node(s), pending replicas %d\n",
              instances, replicas, solved, unproven, matches, solved, worst_gap, pending);
  CHECK(pending == 0);
  REQUIRE(solved > 0);
  CHECK(matches * 100 >= 95 * solved);
  CHECK(worst_gap <= 1);
}
