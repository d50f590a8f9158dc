// An AcceleratorClass's status from the Nodes: which nodes carry the class and how many of its
// devices they have. GPU memory is compared with GPU memory (OME compares it with host RAM).
#include <algorithm>
#include <cmath>

#include "omed/k8s/node_affinity.hpp"
#include "omed/selection/accelerator_selector.hpp"

namespace omed::selection {

namespace {

bool ready(const json::Value& node) {
  const json::Value* conds = node.at_path("status.conditions");
  if (!conds || !conds->is_array())
    return false;
  for (const json::Value& c : conds->as_array())
    if (c.string_or("type") == "Ready")
      return c.string_or("status") == "True";
  return false;
}

int64_t count_of(const json::Value& node, const char* list, const std::string& resource) {
  const json::Value* map = node.at_path(std::string("status.") + list);
  const json::Value* v = map ? map->get(resource) : nullptr;
  auto q = v ? quantity_value(*v) : std::nullopt;
  return q && *q > 0 ? static_cast<int64_t>(std::floor(*q)) : 0;
}

bool memory_ok(const AcceleratorClassInfo& c, const std::map<std::string, std::string>& labels) {
  if (!c.memory_bytes)
    return true;
  auto it = labels.find("nvidia.com/gpu.memory");
  if (it == labels.end())
    return false;  // unknown GPU memory cannot prove a memory requirement
  auto mib = quantity_value(std::string_view(it->second));
  return mib && *mib * 0x1p20 >= *c.memory_bytes * kReportedMemoryShare;
}

}  // namespace

json::Object accelerator_class_status(const json::Value& accelerator_class,
                                      const std::vector<std::shared_ptr<const json::Value>>& nodes) {
  const AcceleratorClassInfo c = AcceleratorClassInfo::from_object(accelerator_class);
  const json::Value* required = c.affinity.at_path("nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution");
  std::vector<std::string> names;
  int64_t total = 0, available = 0, available_nodes = 0;
  for (const auto& node : nodes) {
    if (!node)
      continue;
    const int64_t capacity = count_of(*node, "capacity", c.resource_name);
    if (capacity <= 0)
      continue;  // a node without the device is not one of the class's nodes, whatever its labels
    const auto labels = k8s::node_labels(*node);
    const json::Value* meta = node->get("metadata");
    const std::string name = meta ? meta->string_or("name") : std::string();
    if (!k8s::node_selector_matches(c.node_selector, labels))
      continue;
    if (required && !required->is_null() && !k8s::node_selector_terms_match(*required, labels, name))
      continue;
    if (!memory_ok(c, labels))
      continue;
    names.push_back(name);
    total += capacity;
    if (ready(*node)) {
      ++available_nodes;
      available += count_of(*node, "allocatable", c.resource_name);
    }
  }
  std::sort(names.begin(), names.end());
  json::Array list;
  for (std::string& n : names)
    list.emplace_back(std::move(n));
  return json::Object{{"nodes", std::move(list)},
                      {"totalAccelerators", total},
                      {"availableAccelerators", available},
                      {"availableNodes", available_nodes}};
}

}  // namespace omed::selection
