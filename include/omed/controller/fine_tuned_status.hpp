// The controller's reconcile of FineTunedWeight (OME has none): per-node adapter reports rolled
// up like a model's, and the adapter checked against the base model its baseModelRef names.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "omed/controller/model_status.hpp"
#include "omed/model/model_facts.hpp"

namespace omed::controller {

// baseModelRef with a namespace names a BaseModel there; without one, a ClusterBaseModel.
agent::ModelRef base_model_ref(const json::Value& ftw);

// What the controller sees of that base model.
struct BaseModelView {
  agent::ModelRef ref;
  std::shared_ptr<const json::Value> object;  // null when it does not exist
  std::vector<NodeReport> reports;            // its per-node entries
};

// The base's shape for the adapter check: its Ready nodes' parsed facts first (the files are the
// truth), then what its spec says.
model::ModelFacts base_facts(const json::Value& base, const std::vector<NodeReport>& reports);

// status: state (In_Transit / Ready / Failed), nodesReady, nodesFailed, progress; conditions
// Ready and BaseModelCompatible (BaseModelNotFound, BaseModelNotReady, WaitingForAdapter,
// ArchitectureMismatch, Compatible).
Plan fine_tuned_plan(const Input& in, const std::vector<NodeReport>& reports, const BaseModelView& base);

}  // namespace omed::controller
