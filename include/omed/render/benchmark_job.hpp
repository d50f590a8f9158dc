// BenchmarkJob rendering: the batch/v1 Job running genai-bench against an InferenceService or a
// URL (reference ome.md §6), with the served model name and API key OME hard-codes made real.
#pragma once

#include <string>
#include <vector>

#include "omed/common/json.hpp"

namespace omed::render {

// The pod OME's benchmarkjob-config ConfigMap describes (image, requests = limits).
struct BenchmarkSettings {
  std::string image = "ghcr.io/sgl-project/genai-bench:0.1.113";
  std::string cpu = "2";
  std::string memory = "2Gi";
};

// Annotation on a BenchmarkJob naming the Secret (and key, default API_KEY) holding the
// endpoint's API key: "NAME" or "NAME/KEY". The key reaches genai-bench through the environment.
inline constexpr const char* kApiKeySecretAnnotation = "ome.io/api-key-secret";

struct BenchmarkTarget {
  std::string api_base;        // scheme://host[:port]
  std::string api_backend;     // openai | oci-cohere | cohere
  std::string model_name;      // the name the server answers to
  std::string tokenizer_path;  // the model's node-local directory (mounted read-only), or ""
  std::string model_label;     // node label where the model is Ready (with tokenizer_path)
};

struct BenchmarkRender {
  json::Value job;                  // null when errors is not empty
  std::vector<std::string> errors;
};

// The genai-bench traffic scenarios a task accepts, and the defaults when none are given (OME's
// webhook rules, with its text-to-embeddings defaults fixed to match its own pattern).
std::vector<std::string> default_scenarios(const std::string& task);
bool scenario_valid(const std::string& task, const std::string& scenario);

// Validates the BenchmarkJob (endpoint, scenarios, request params, output location) and renders
// its Job for `target`.
BenchmarkRender render_benchmark_job(const json::Value& benchmark, const BenchmarkTarget& target,
                                     const BenchmarkSettings& settings = {});

}  // namespace omed::render
