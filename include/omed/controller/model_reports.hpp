// The controller's index of per-node model reports: every node's ConfigMap entries, by model
// key, and which model actors read which key (to wake exactly them when a report changes).
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "omed/controller/model_status.hpp"

namespace omed::controller {

class ModelReports {
public:
  // The node's report ConfigMap as last seen. Returns the ConfigMap keys whose entries changed.
  std::vector<std::string> update(const std::string& node, const json::Value& configmap);
  // The ConfigMap (or its node) is gone: its entries no longer count.
  std::vector<std::string> remove_node(const std::string& node);
  // This model's entries on every reporting node, sorted by node.
  std::vector<NodeReport> reports_for(const std::string& cm_key) const;

  // The model actor kind/key reads cm_key (recorded on each reconcile).
  void subscribe(const std::string& cm_key, const std::string& kind, const std::string& key);
  void unsubscribe(const std::string& kind, const std::string& key);
  std::vector<std::pair<std::string, std::string>> subscribers(const std::vector<std::string>& cm_keys) const;

private:
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, std::string>> by_node_;  // node -> cm key -> entry text
  std::map<std::string, std::set<std::pair<std::string, std::string>>> subscribers_;
};

// The node a report ConfigMap belongs to: its "node" label, else its name (OME names them so).
std::string report_node(const json::Value& configmap);

}  // namespace omed::controller
