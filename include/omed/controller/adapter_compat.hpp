// Whether fine-tuned weights fit their base model: target modules the base's family has, LoRA
// input widths equal to the base's hidden size, layer indices within the base's depth.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "omed/model/adapter_config.hpp"
#include "omed/model/model_facts.hpp"

namespace omed::controller {

struct AdapterCompatibility {
  std::vector<std::string> mismatches;  // each makes the adapter unusable on this base
  std::vector<std::string> warnings;    // worth saying, not worth failing for
  bool compatible() const { return mismatches.empty(); }
};

// The linear module names a base of this model_type / architecture has ("q_proj", ...), or an
// empty list when omed does not know the family (then target modules are not checked).
std::vector<std::string> family_modules(std::string_view model_type, std::string_view architecture);

// `base_repo`: "org/name" when the base's storage is hf:// (compared with the adapter's
// base_model_name_or_path: a different repo is a warning only, since fine-tunes of fine-tunes
// and renamed mirrors are common). Checks only what both sides know.
AdapterCompatibility check_adapter_against_base(const model::AdapterFacts& adapter, const model::ModelFacts& base,
                                                std::string_view base_repo = {});

}  // namespace omed::controller
