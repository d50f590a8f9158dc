// The controller's reconcile of BaseModel / ClusterBaseModel: per-node reports rolled up into
// status (state, nodesReady, nodesFailed, conditions, progress) and facts filled into an empty spec.
#pragma once

#include <string>
#include <vector>

#include "omed/agent/node_report.hpp"
#include "omed/controller/plan.hpp"
#include "omed/controller/pvc_model.hpp"

namespace omed::controller {

struct NodeReport {
  std::string node;
  agent::ModelEntry entry;
};

// `reports`: this model's entries from the ConfigMaps of nodes that still exist. Builds on the
// admission plan (an invalid spec stays Failed with InvalidSpec). pvc:// models are parsed by a
// Job instead (see pvc_model.hpp); `pvc` says how, and what its pods reported.
Plan model_plan(const Input& in, const std::vector<NodeReport>& reports, const PvcModelContext& pvc = {});

// The spec fields facts may fill: only those the user left empty (the user's values win).
json::Object spec_fill_from(const json::Value& object, const json::Value& config);

}  // namespace omed::controller
