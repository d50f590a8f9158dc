// The controller's reconcile of BaseModel / ClusterBaseModel: per-node reports rolled up into
// status (state, nodesReady, nodesFailed, conditions, progress) and facts filled into an empty spec.
#pragma once

#include <string>
#include <vector>

#include "omed/agent/node_report.hpp"
#include "omed/controller/plan.hpp"

namespace omed::controller {

struct NodeReport {
  std::string node;
  agent::ModelEntry entry;
};

// `reports`: this model's entries from the ConfigMaps of nodes that still exist. Builds on the
// admission plan (an invalid spec stays Failed with InvalidSpec).
Plan model_plan(const Input& in, const std::vector<NodeReport>& reports);

// The spec fields facts may fill: only those the user left empty (the user's values win).
json::Object spec_fill_from(const json::Value& object, const json::Value& config);

}  // namespace omed::controller
