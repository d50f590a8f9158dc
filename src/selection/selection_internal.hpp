// Pieces of runtime selection shared by select_runtime and the catalog's indexed ranking.
// Not installed: the catalog is the only other caller.
#pragma once

#include "omed/selection/runtime_selector.hpp"

namespace omed::selection::detail {

// How many runtimes were visible to the InferenceService in total: the error names them all even
// when only an indexed subset was evaluated.
struct Scope {
  size_t namespaced_total = 0;
  size_t cluster_total = 0;
};

Selection rank(const ModelFacts& model, const Requirements& req, const std::vector<const RuntimeEntry*>& namespaced,
               const std::vector<const RuntimeEntry*>& cluster, const Scope& scope);

// "safetensors LlamaForCausalLM 70.55B"
std::string describe_model(const ModelFacts& model);

}  // namespace omed::selection::detail
