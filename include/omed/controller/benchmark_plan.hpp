// The controller's reconcile of BenchmarkJob: wait for the InferenceService, render the
// genai-bench Job once, then follow the Job to Completed or Failed.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "omed/controller/plan.hpp"
#include "omed/render/benchmark_job.hpp"

namespace omed::controller {

struct BenchmarkLookups {
  std::function<std::shared_ptr<const json::Value>(const std::string& ns, const std::string& name)> inference_service;
  // By "ClusterBaseModel/name" or "BaseModel/ns/name" (the InferenceService's status says which).
  std::function<std::shared_ptr<const json::Value>(const std::string& key)> model;
  render::BenchmarkSettings settings;
};

// Annotation the InferenceService reconcile writes in status.annotations: the model name the
// engine answers to (its --served-model-name, else its model path, as SGLang and vLLM do).
inline constexpr const char* kServedModelNameAnnotation = "omed.io/served-model-name";

Plan benchmark_plan(const Input& in, const BenchmarkLookups& lookups);

}  // namespace omed::controller
