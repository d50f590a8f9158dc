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

// Per-node reports counted by state (nodes sorted), with the download progress of the nodes
// still fetching. Shared by every kind the agents fetch (models and fine-tuned weights).
struct ReportRollup {
  std::vector<std::string> ready, failed, updating;
  uint64_t total_bytes = 0, completed_bytes = 0;
  const NodeReport* first_ready = nullptr;  // the lowest-named Ready node (its facts are used)
  std::string first_failure;                // "<node>: <message>"
};
ReportRollup roll_up(const std::vector<NodeReport>& reports);
// "3 node(s)"-style helpers for condition messages.
std::string join_nodes(const std::vector<std::string>& nodes, size_t max);
std::string percent(uint64_t done, uint64_t total);
// status.progress while nodes download (null otherwise, which removes it).
json::Value progress_status(const ReportRollup& r);

// `reports`: this model's entries from the ConfigMaps of nodes that still exist. Builds on the
// admission plan (an invalid spec stays Failed with InvalidSpec). pvc:// models are parsed by a
// Job instead (see pvc_model.hpp); `pvc` says how, and what its pods reported.
Plan model_plan(const Input& in, const std::vector<NodeReport>& reports, const PvcModelContext& pvc = {});

// The spec fields facts may fill: only those the user left empty (the user's values win).
json::Object spec_fill_from(const json::Value& object, const json::Value& config);

}  // namespace omed::controller
