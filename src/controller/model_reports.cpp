// Per-node report index. Entries stay as text until read: most updates touch one key, and a
// roll-up parses only its own model's entries.
#include "omed/controller/model_reports.hpp"

#include <algorithm>

namespace omed::controller {

std::string report_node(const json::Value& configmap) {
  if (const json::Value* l = configmap.at_path("metadata.labels"); l && l->is_object())
    if (const json::Value* n = l->get("node"); n && n->is_string() && !n->as_string().empty())
      return n->as_string();
  const json::Value* name = configmap.at_path("metadata.name");
  return name && name->is_string() ? name->as_string() : std::string();
}

std::vector<std::string> ModelReports::update(const std::string& node, const json::Value& configmap) {
  std::map<std::string, std::string> next;
  if (const json::Value* data = configmap.get("data"); data && data->is_object())
    for (const auto& m : data->as_object())
      if (m.value.is_string())
        next.emplace(m.key, m.value.as_string());
  std::lock_guard<std::mutex> lk(mu_);
  auto& cur = by_node_[node];
  std::vector<std::string> changed;
  for (const auto& [k, v] : next) {
    auto it = cur.find(k);
    if (it == cur.end() || it->second != v)
      changed.push_back(k);
  }
  for (const auto& [k, v] : cur)
    if (!next.count(k))
      changed.push_back(k);
  cur = std::move(next);
  return changed;
}

std::vector<std::string> ModelReports::remove_node(const std::string& node) {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::string> changed;
  auto it = by_node_.find(node);
  if (it == by_node_.end())
    return changed;
  for (const auto& [k, v] : it->second)
    changed.push_back(k);
  by_node_.erase(it);
  return changed;
}

std::vector<NodeReport> ModelReports::reports_for(const std::string& cm_key) const {
  std::vector<NodeReport> out;
  std::lock_guard<std::mutex> lk(mu_);
  for (const auto& [node, entries] : by_node_) {
    auto it = entries.find(cm_key);
    if (it == entries.end())
      continue;
    json::Value v;
    std::string err;
    if (!json::try_parse(it->second, v, err))
      continue;  // a garbled entry is no report (the agent rewrites it)
    if (auto e = agent::entry_from_json(v))
      out.push_back({node, std::move(*e)});
  }
  return out;  // by_node_ is ordered: sorted by node
}

void ModelReports::subscribe(const std::string& cm_key, const std::string& kind, const std::string& key) {
  std::lock_guard<std::mutex> lk(mu_);
  subscribers_[cm_key].insert({kind, key});
}

void ModelReports::unsubscribe(const std::string& kind, const std::string& key) {
  std::lock_guard<std::mutex> lk(mu_);
  for (auto it = subscribers_.begin(); it != subscribers_.end();) {
    it->second.erase({kind, key});
    it = it->second.empty() ? subscribers_.erase(it) : std::next(it);
  }
}

std::vector<std::pair<std::string, std::string>> ModelReports::subscribers(
  const std::vector<std::string>& cm_keys) const {
  std::set<std::pair<std::string, std::string>> out;
  std::lock_guard<std::mutex> lk(mu_);
  for (const auto& k : cm_keys)
    if (auto it = subscribers_.find(k); it != subscribers_.end())
      out.insert(it->second.begin(), it->second.end());
  return {out.begin(), out.end()};
}

}  // namespace omed::controller
