// Admission rules for the ome.io kinds (OME's webhooks, minus their bugs): defaulting, schema
// validation and semantic checks, with errors worded like the Kubernetes API server's.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "omed/api/field_error.hpp"
#include "omed/api/types.hpp"
#include "omed/common/json.hpp"

namespace omed::api {

// Cross-object lookups. Every member is optional: without it the related checks are skipped
// (they run again in reconcile, where the answers are known).
struct ValidationContext {
  std::function<bool(const std::string& name)> accelerator_class_exists;
  // Other runtimes of the same scope, for the priority-conflict rule.
  std::function<std::vector<ServingRuntime>(const std::string& kind, const std::string& ns)> runtimes_in_scope;
};

struct ValidationResult {
  ErrorList errors;
  std::vector<std::string> warnings;
  bool ok() const { return errors.empty(); }
};

// Full admission of one manifest: kind known, apiVersion right, metadata valid, the CRD schema
// (types, required, enums, bounds), then the kind's semantic rules. `obj` is not modified.
ValidationResult validate_object(const json::Value& obj, const ValidationContext* ctx = nullptr);

// Mutating admission: OME's defaults (deployment mode, replica defaults, predictor migration)
// plus the CRD schema defaults. Returns the defaulted object.
json::Value default_object(const json::Value& obj);

// Kind-specific rules on decoded objects (exposed for reconcilers and tests).
ValidationResult validate_inference_service(const InferenceService& isvc);
ValidationResult validate_serving_runtime(const ServingRuntime& rt, const ValidationContext* ctx);
ValidationResult validate_benchmark_job(const BenchmarkJob& job);
ValidationResult validate_model_spec(const BaseModelSpec& spec);
ValidationResult validate_fine_tuned_weight(const FineTunedWeight& ftw);
ValidationResult validate_accelerator_class(const AcceleratorClass& ac);

// The label-value rule (63 chars, alphanumerics with -_. inside).
bool is_label_value(const std::string& v);
bool is_qualified_name(const std::string& v);

// Deployment modes omed understands (OME's plus PDDisaggregated, which OME's own webhook
// writes but its controller then rejects).
const std::vector<std::string>& deployment_modes();

}  // namespace omed::api
