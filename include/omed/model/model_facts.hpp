// What omed knows about a model after parsing it: the facts that fill BaseModel specs, feed
// runtime selection and appear in `omed inspect-model`. Plain data, no parsing here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace omed::json {
class Value;
}

namespace omed::model {

// How a parameter count was obtained, from most to least trustworthy.
enum class CountSource {
  None,        // nothing to count from
  Weights,     // summed from tensor shapes in weight files (exact)
  Formula,     // an exact analytic formula for a known family, from config.json alone
  Estimate,    // a family-aware approximation (MoE, multimodal, generic fallback)
};

const char* count_source_name(CountSource s);

struct ModelFacts {
  std::string model_type;       // HF model_type ("llama"), or "diffusers"
  std::string architecture;     // architectures[0] ("LlamaForCausalLM") or pipeline class

  std::optional<uint64_t> parameter_count;
  CountSource parameter_source = CountSource::None;
  // Weights only: parameters per stored dtype ("BF16" -> n), as the files declare them.
  std::map<std::string, uint64_t> parameters_by_dtype;

  std::string format;           // safetensors, gguf, onnx, pytorch, tensorrt-llm, diffusers
  std::string format_version;   // "1.0.0" for safetensors, "3" for GGUF v3, opset for ONNX, ...
  std::string framework;        // transformers, diffusers, sentence-transformers, ...
  std::string framework_version;

  std::string dtype;            // torch_dtype / dtype from the config ("bfloat16")
  std::string quantization;     // fp8, awq, gptq, bitsandbytes, compressed-tensors, mxfp4, gguf:Q4_K_M, ...
  std::optional<int> quantization_bits;

  std::optional<int64_t> context_length;
  std::optional<int64_t> hidden_size;
  std::optional<int64_t> num_layers;
  std::optional<int64_t> num_attention_heads;
  std::optional<int64_t> num_kv_heads;
  std::optional<int64_t> num_experts;           // routed experts of an MoE, absent when dense
  std::optional<int64_t> num_experts_per_token;
  std::optional<int64_t> vocab_size;

  bool has_vision = false;
  bool is_embedding = false;
  bool is_rerank = false;
  // OME's vocabulary (BaseModel spec.modelCapabilities): TEXT_TO_TEXT, EMBEDDING, RERANK,
  // IMAGE_TEXT_TO_TEXT, TEXT_TO_IMAGE, AUDIO_TO_TEXT, ...
  std::vector<std::string> capabilities;

  uint64_t weight_bytes = 0;    // bytes of weight files found (0 when config only)
  // Things the user should know: "parameter count estimated (no weights, unknown family)".
  std::vector<std::string> notes;

  bool parameter_count_exact() const {
    return parameter_source == CountSource::Weights || parameter_source == CountSource::Formula;
  }
};

// The JSON shape `omed inspect-model -o json` prints (camelCase keys: modelType, architecture,
// parameterCount, parameterCountExact, format, dtype, quantization, contextLength, capabilities...).
json::Value facts_to_json(const ModelFacts& f);

}  // namespace omed::model
