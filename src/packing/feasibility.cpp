// Static filters and resource fit for one replica on one node.
#include "omed/packing/feasibility.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

namespace omed::packing {

namespace {

bool filters(const std::string& effect) { return effect == "NoSchedule" || effect == "NoExecute"; }

std::optional<int64_t> integer(const std::string& s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size())
    return std::nullopt;
  return v;
}

}  // namespace

bool tolerates(const Toleration& t, const Taint& taint) {
  if (!t.effect.empty() && t.effect != taint.effect)
    return false;
  if (t.op == "Exists")
    return t.key.empty() || t.key == taint.key;
  if (t.op.empty() || t.op == "Equal")
    return t.key == taint.key && t.value == taint.value;
  return false;
}

bool tolerates_taints(const Replica& replica, const Node& node) {
  for (const Taint& taint : node.taints) {
    if (!filters(taint.effect))
      continue;
    if (std::none_of(replica.tolerations.begin(), replica.tolerations.end(),
                     [&](const Toleration& t) { return tolerates(t, taint); }))
      return false;
  }
  return true;
}

bool requirement_matches(const Requirement& req, const Node& node) {
  const std::string* value = nullptr;
  if (req.field) {
    if (req.key != "metadata.name")
      return false;
    value = &node.name;
  } else if (auto it = node.labels.find(req.key); it != node.labels.end()) {
    value = &it->second;
  }
  auto listed = [&] {
    return value && std::find(req.values.begin(), req.values.end(), *value) != req.values.end();
  };
  switch (req.op) {
    case SelectorOp::In:
      return listed();
    case SelectorOp::NotIn:
      return !listed();
    case SelectorOp::Exists:
      return value != nullptr;
    case SelectorOp::DoesNotExist:
      return value == nullptr;
    case SelectorOp::Gt:
    case SelectorOp::Lt: {
      if (!value || req.values.size() != 1)
        return false;
      auto have = integer(*value), want = integer(req.values[0]);
      if (!have || !want)
        return false;
      return req.op == SelectorOp::Gt ? *have > *want : *have < *want;
    }
  }
  return false;
}

bool selector_matches(const Replica& replica, const Node& node) {
  for (const auto& [key, value] : replica.node_selector) {
    auto it = node.labels.find(key);
    if (it == node.labels.end() || it->second != value)
      return false;
  }
  if (replica.affinity.empty())
    return true;
  return std::any_of(replica.affinity.begin(), replica.affinity.end(), [&](const SelectorTerm& term) {
    return !term.empty() && std::all_of(term.begin(), term.end(),
                                        [&](const Requirement& r) { return requirement_matches(r, node); });
  });
}

bool eligible(const Replica& replica, const Node& node) {
  return node.usable() && tolerates_taints(replica, node) && selector_matches(replica, node);
}

std::string unfit_reason(const Replica& replica, const Node& node, const Resources& free) {
  if (!node.ready)
    return "node not ready";
  if (!node.schedulable)
    return "node unschedulable";
  if (!tolerates_taints(replica, node))
    return "untolerated taint";
  if (!selector_matches(replica, node))
    return "node affinity/selector mismatch";
  if (replica.demand.gpus > free.gpus)
    return "insufficient nvidia.com/gpu";
  if (replica.demand.milli_cpu > free.milli_cpu)
    return "insufficient cpu";
  if (replica.demand.memory > free.memory)
    return "insufficient memory";
  return {};
}

}  // namespace omed::packing
