// Fine-tuned adapters as PEFT writes them: adapter_config.json (peft type, rank, alpha, target
// modules, base model) and the shapes in adapter_model.safetensors. Bounded whatever the files say.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace omed::json {
class Value;
}

namespace omed::model {

class ByteSource;

struct AdapterConfig {
  std::string peft_type;                    // "LORA", "IA3", "ADALORA", ...
  std::optional<int64_t> rank;              // r
  std::optional<double> alpha;              // lora_alpha
  std::vector<std::string> target_modules;  // module names ("q_proj"), or "all-linear"
  std::string target_modules_regex;         // target_modules given as a regex string
  std::string base_model;                   // base_model_name_or_path ("" when absent)
  std::string task_type;                    // "CAUSAL_LM", ...
  std::vector<std::string> modules_to_save;
  bool use_dora = false;
  bool use_rslora = false;
};

// One module kind's LoRA matrices: lora_A is [rank, in_features], lora_B [out_features, rank].
struct AdapterModuleShape {
  int64_t in_features = 0;
  int64_t out_features = 0;
  int64_t rank = 0;
  bool consistent = true;  // false when layers disagree on a dimension
};

struct AdapterWeights {
  uint64_t tensor_count = 0;
  uint64_t parameter_count = 0;
  std::optional<int64_t> max_layer;                    // highest "layers.N" index seen
  std::map<std::string, AdapterModuleShape> modules;   // language-model modules, by kind ("q_proj")
  uint64_t vision_tensors = 0;                         // tensors of a vision tower (not shape-checked)
  std::vector<std::string> notes;
};

struct AdapterFacts {
  AdapterConfig config;
  bool has_weights = false;
  AdapterWeights weights;
  std::string weights_file;  // which file the weights came from
};

// Caps on what a hostile adapter_config.json may make us hold.
inline constexpr size_t kMaxAdapterConfigBytes = 1u << 20;
inline constexpr size_t kMaxTargetModules = 4096;
inline constexpr size_t kMaxModuleNameBytes = 256;

// Parses adapter_config.json. Returns false with a message naming the field when the document
// is not an adapter config a server could load; never throws.
bool parse_adapter_config(std::string_view text, AdapterConfig& out, std::string& error);

// Reads the header of adapter_model.safetensors (no tensor data) into `out`. Returns an error
// message, empty on success.
[[nodiscard]] std::string summarize_adapter_weights(ByteSource& src, AdapterWeights& out);

// The module kind and layer index a PEFT tensor name carries:
// "base_model.model.model.layers.31.self_attn.q_proj.lora_A.weight" -> ("q_proj", A, 31).
struct LoraTensorName {
  std::string module;
  char matrix = 0;  // 'A' or 'B'; 0 when the tensor is no LoRA matrix (magnitude vectors, ...)
  std::optional<int64_t> layer;
  bool vision = false;
};
LoraTensorName parse_lora_tensor_name(std::string_view name);

// An adapter directory: adapter_config.json at its root (or one level down), then
// adapter_model.safetensors next to it when present.
[[nodiscard]] std::string inspect_adapter_dir(const std::filesystem::path& dir, AdapterFacts& out);

// The JSON the agent reports and the controller reads back (camelCase: peftType, rank, alpha,
// targetModules, targetModulesRegex, baseModel, taskType, modulesToSave, useDora, useRslora,
// adapterParameterCount, adapterTensorCount, maxLayer, modules {kind: {inFeatures, outFeatures,
// rank}}).
json::Value adapter_facts_to_json(const AdapterFacts& f);
// Tolerant of missing fields; ignores what it does not know.
AdapterFacts adapter_facts_from_json(const json::Value& v);

}  // namespace omed::model
