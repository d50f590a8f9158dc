// The controller's reconcile of InferenceService: model and runtime resolved, accelerator classes
// chosen, workloads rendered, and status followed from what the workloads report.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "omed/controller/plan.hpp"
#include "omed/render/inference_service.hpp"
#include "omed/selection/runtime_selector.hpp"

namespace omed::controller {

// What an InferenceService reads besides itself, looked up by the caller (indexes kept by the
// model, runtime and accelerator-class reconcilers).
struct ServingLookups {
  // BaseModel ns/name, or ClusterBaseModel name when ns is empty; null when absent.
  std::function<std::shared_ptr<const json::Value>(const std::string& ns, const std::string& name)> model;
  // Auto-selection over the runtimes visible from the namespace.
  std::function<selection::Selection(const selection::ModelFacts&, const selection::Requirements&,
                                     const std::string& ns)>
    select_runtime;
  // A named runtime: ServingRuntime in ns first, then ClusterServingRuntime (OME's order).
  std::function<selection::Selection(const selection::ModelFacts&, const selection::Requirements&,
                                     const std::string& ns, const std::string& name)>
    named_runtime;
  // The AcceleratorClass chosen for a component (engine | decoder) of this InferenceService with
  // that runtime; null object and empty error when none applies.
  struct AcceleratorPick {
    std::shared_ptr<const json::Value> object;
    std::string reason;
    std::string error;
  };
  std::function<AcceleratorPick(const json::Value& isvc, const std::string& component,
                                const selection::RuntimeEntry& runtime)>
    accelerator;
  std::function<std::shared_ptr<const json::Value>(const std::string& name)> fine_tuned;
  render::RenderSettings settings;
};

// What the reconcile resolved, for callers that keep indexes (re-ranking on runtime changes).
struct ServingResolution {
  std::string model_key;      // "ClusterBaseModel/name" or "BaseModel/ns/name" ("" when not found)
  std::string model_format;   // the model's format name (runtimes of that format may re-rank it)
  std::string runtime;        // "Kind/ns/name" of the chosen runtime ("" when none)
};

Plan inference_service_plan(const Input& in, const ServingLookups& lookups, ServingResolution* resolved = nullptr);

}  // namespace omed::controller
