// The standalone demo: applies the sample manifests to the embedded API server as any client
// would, then reports what the controller made of each, so a newcomer sees the pipeline run.
#pragma once

#include <atomic>
#include <string>

#include "omed/k8s/config.hpp"

namespace omed::actors {

struct DemoOptions {
  k8s::RestConfig rest;        // the embedded server
  std::string samples_dir;     // searched recursively for *.yaml
  std::string kubeconfig;      // for the kubectl hint
  int settle_seconds = 20;     // how long to wait for every object's status
  // When set (standalone with model agents): a tiny Llama-shaped model is written here and
  // served as ClusterBaseModel "demo-tiny-llama" (local://), so the model pipeline runs offline.
  std::string demo_model_dir;
};

// Blocks until every sample has been applied and has a status (or the wait ran out, or `stop`).
// Returns the number of samples that settled. Never throws: problems are logged.
int run_demo(const DemoOptions& opts, const std::atomic<bool>& stop);

}  // namespace omed::actors
