// Writes PEFT-shaped LoRA adapters for tests: adapter_config.json and adapter_model.safetensors
// with lora_A [r, in] / lora_B [out, r] per layer and module, as PEFT saves them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "weight_writers.hpp"

namespace omed::testing {

struct LoraAdapter {
  std::string base_model = "org/base";
  std::string peft_type = "LORA";
  int64_t rank = 8;
  int64_t alpha = 16;
  std::vector<std::string> targets{"q_proj", "v_proj"};
  int64_t layers = 2;
  int64_t in_features = 32;   // what lora_A takes: the base's hidden size when the adapter fits
  int64_t out_features = 32;
  std::string layer_prefix = "base_model.model.model.layers.";
};

inline std::string lora_config_json(const LoraAdapter& a) {
  std::string t;
  for (size_t i = 0; i < a.targets.size(); ++i)
    t += (i ? ", \"" : "\"") + a.targets[i] + "\"";
  return "{\n  \"base_model_name_or_path\": \"" + a.base_model + "\",\n  \"bias\": \"none\",\n"
         "  \"fan_in_fan_out\": false,\n  \"inference_mode\": true,\n  \"lora_alpha\": " + std::to_string(a.alpha) +
         ",\n  \"lora_dropout\": 0.05,\n  \"modules_to_save\": null,\n  \"peft_type\": \"" + a.peft_type +
         "\",\n  \"r\": " + std::to_string(a.rank) + ",\n  \"target_modules\": [" + t +
         "],\n  \"task_type\": \"CAUSAL_LM\",\n  \"use_dora\": false,\n  \"use_rslora\": false\n}\n";
}

inline std::string lora_safetensors(const LoraAdapter& a) {
  std::vector<StTensor> ts;
  for (int64_t l = 0; l < a.layers; ++l)
    for (const auto& m : a.targets) {
      std::string base = a.layer_prefix + std::to_string(l) + ".self_attn." + m;
      ts.push_back({base + ".lora_A.weight", "F32", {uint64_t(a.rank), uint64_t(a.in_features)}, 4});
      ts.push_back({base + ".lora_B.weight", "F32", {uint64_t(a.out_features), uint64_t(a.rank)}, 4});
    }
  return safetensors_file(ts);
}

// Parameters lora_safetensors() declares.
inline uint64_t lora_parameters(const LoraAdapter& a) {
  return uint64_t(a.layers) * a.targets.size() * uint64_t(a.rank) * uint64_t(a.in_features + a.out_features);
}

}  // namespace omed::testing
