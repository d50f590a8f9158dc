// Kubernetes JSON to the packer's model. Requests and quantities come from the simulated
// cluster's scheduler code so that both agree on what a pod asks for.
#include "omed/packing/kube_inventory.hpp"

#include <charconv>
#include <map>

#include "omed/apiserver/sim/scheduling.hpp"

namespace omed::packing {

namespace sim = apiserver::sim;

namespace {

const std::string& text(const json::Value* obj, std::string_view key) {
  static const std::string empty;
  if (!obj)
    return empty;
  const json::Value* v = obj->get(key);
  return v && v->is_string() ? v->as_string() : empty;
}

int64_t amount(const sim::ResourceList& list, const std::string& name) {
  auto it = list.find(name);
  return it == list.end() ? 0 : it->second;
}

Resources resources(const sim::ResourceList& list, const KubeOptions& opt) {
  return {amount(list, opt.gpu_resource), amount(list, "cpu"), amount(list, "memory")};
}

SelectorOp op_of(const std::string& s) {
  if (s == "NotIn")
    return SelectorOp::NotIn;
  if (s == "Exists")
    return SelectorOp::Exists;
  if (s == "DoesNotExist")
    return SelectorOp::DoesNotExist;
  if (s == "Gt")
    return SelectorOp::Gt;
  if (s == "Lt")
    return SelectorOp::Lt;
  return SelectorOp::In;
}

void add_requirements(const json::Value* list, bool field, SelectorTerm& term) {
  if (!list || !list->is_array())
    return;
  for (const json::Value& e : list->as_array()) {
    Requirement req{text(&e, "key"), op_of(text(&e, "operator")), {}, field};
    const std::string& op = text(&e, "operator");
    if (op != "In" && op != "NotIn" && op != "Exists" && op != "DoesNotExist" && op != "Gt" && op != "Lt")
      req.key = "\x01invalid";  // an unknown operator fails its term, as in Kubernetes
    if (const json::Value* values = e.get("values"); values && values->is_array())
      for (const json::Value& v : values->as_array())
        if (v.is_string())
          req.values.push_back(v.as_string());
    term.push_back(std::move(req));
  }
}

}  // namespace

Node node_from_json(const json::Value& obj, const KubeOptions& opt) {
  const sim::NodeState s = sim::node_state(obj);
  Node n;
  n.name = s.name;
  n.labels = s.labels;
  n.allocatable = resources(s.allocatable, opt);
  n.free = n.allocatable;
  n.schedulable = !s.unschedulable;
  for (const sim::NodeTaintView& t : s.taints)
    n.taints.push_back({t.key, t.value, t.effect});
  if (auto it = n.labels.find("nvidia.com/gpu.product"); it != n.labels.end())
    n.gpu_product = it->second;
  if (auto it = n.labels.find("nvidia.com/gpu.memory"); it != n.labels.end())
    std::from_chars(it->second.data(), it->second.data() + it->second.size(), n.gpu_memory_mib);
  if (auto it = n.labels.find(opt.topology_label); it != n.labels.end())
    n.domain = it->second;
  n.ready = false;  // a node that reports no Ready condition is not ready
  if (const json::Value* conds = obj.at_path("status.conditions"); conds && conds->is_array())
    for (const json::Value& c : conds->as_array())
      if (text(&c, "type") == "Ready")
        n.ready = text(&c, "status") == "True";
  return n;
}

Replica replica_from_pod(const json::Value& pod, const KubeOptions& opt) {
  const sim::PodDemand d = sim::pod_demand(pod);
  const json::Value* md = pod.get("metadata");
  const json::Value* labels = md ? md->get("labels") : nullptr;
  const json::Value* annotations = md ? md->get("annotations") : nullptr;
  const std::string& ns = text(md, "namespace");
  Replica r;
  r.id = ns + "/" + text(md, "name");
  const std::string& isvc = text(labels, opt.owner_label);
  r.owner = isvc.empty() ? r.id : ns + "/" + isvc;
  r.demand = resources(d.requests, opt);
  r.node_selector = d.node_selector;
  if (const json::Value* terms = d.required_affinity.get("nodeSelectorTerms"); terms && terms->is_array())
    for (const json::Value& t : terms->as_array()) {
      SelectorTerm term;
      add_requirements(t.get("matchExpressions"), false, term);
      add_requirements(t.get("matchFields"), true, term);
      r.affinity.push_back(std::move(term));
    }
  if (d.tolerations.is_array())
    for (const json::Value& t : d.tolerations.as_array())
      r.tolerations.push_back({text(&t, "key"), text(&t, "operator").empty() ? "Equal" : text(&t, "operator"),
                               text(&t, "value"), text(&t, "effect")});
  if (const std::string& group = text(labels, opt.gang_label); !group.empty()) {
    r.gang = ns + "/" + group;
    const std::string& size = text(annotations, opt.gang_size_annotation);
    std::from_chars(size.data(), size.data() + size.size(), r.gang_size);
  }
  r.spread = r.owner;
  r.node = text(pod.get("spec"), "nodeName");
  return r;
}

bool pod_holds_resources(const json::Value& pod) {
  const std::string& phase = text(pod.get("status"), "phase");
  return !text(pod.get("spec"), "nodeName").empty() && phase != "Succeeded" && phase != "Failed";
}

Inventory inventory_from_objects(const json::Value& nodes, const json::Value& pods, const KubeOptions& opt,
                                 const std::function<bool(const json::Value&)>& is_replica) {
  Inventory inv;
  std::map<std::string, size_t> by_name;
  if (nodes.is_array())
    for (const json::Value& n : nodes.as_array()) {
      inv.nodes.push_back(node_from_json(n, opt));
      by_name.emplace(inv.nodes.back().name, inv.nodes.size() - 1);
    }
  if (!pods.is_array())
    return inv;
  std::map<std::string, int> gang_sizes;
  for (const json::Value& p : pods.as_array()) {
    const std::string& phase = text(p.get("status"), "phase");
    if (phase == "Succeeded" || phase == "Failed")
      continue;
    bool replica = is_replica ? is_replica(p)
                              : amount(sim::pod_demand(p).requests, opt.gpu_resource) > 0;
    if (replica) {
      inv.replicas.push_back(replica_from_pod(p, opt));
      const Replica& r = inv.replicas.back();
      if (!r.gang.empty())
        gang_sizes[r.gang] = std::max(gang_sizes[r.gang], r.gang_size);
      continue;
    }
    if (!pod_holds_resources(p))
      continue;
    if (auto it = by_name.find(text(p.get("spec"), "nodeName")); it != by_name.end())
      inv.nodes[it->second].free -= resources(sim::pod_demand(p).requests, opt);
  }
  for (Replica& r : inv.replicas)
    if (!r.gang.empty())
      r.gang_size = gang_sizes[r.gang];
  return inv;
}

}  // namespace omed::packing
