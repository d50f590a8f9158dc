// Model metadata files read into ModelFacts: Hugging Face config.json, diffusers model_index.json,
// sentence-transformers config and TensorRT-LLM engine config.json. Text in, facts out; no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "omed/model/model_facts.hpp"

namespace omed::json {
class Value;
}

namespace omed::model {

// Which metadata file a JSON document is, judged by its content rather than its file name.
enum class ConfigKind {
  HuggingFace,           // transformers config.json
  Diffusers,             // model_index.json (_class_name + _diffusers_version)
  SentenceTransformers,  // config_sentence_transformers.json
  TensorRtLlm,           // engine config.json (pretrained_config + build_config, or builder_config)
};

const char* config_kind_name(ConfigKind k);
// Nullopt when the document is not a JSON object.
std::optional<ConfigKind> detect_config_kind(const json::Value& doc);

// Parses any of the files above, detecting which one it is, and fills `out`: identity
// (model_type, architecture), framework, dtype, quantization, context length, shape, capabilities
// and an analytic parameter count. Fields the document says nothing about are left as they were,
// and a parameter count already taken from weight files is never replaced. On failure returns
// false, leaves `out` untouched and says why in `error`; never throws.
bool parse_model_config(std::string_view text, ModelFacts& out, std::string& error);
// The same for an already parsed document.
bool parse_model_config_json(const json::Value& doc, ModelFacts& out, std::string& error);

// model_index.json of a diffusers pipeline: model_type "diffusers", architecture = pipeline
// class, framework and format "diffusers" at `_diffusers_version`, capabilities by pipeline class.
bool parse_diffusers_index(std::string_view text, ModelFacts& out, std::string& error);

// config_sentence_transformers.json. Applied on top of the facts from the same directory's
// config.json: the model is an embedding model served through sentence-transformers whatever its
// architecture says (Qwen3-Embedding declares Qwen3ForCausalLM, for instance).
bool parse_sentence_transformers_config(std::string_view text, ModelFacts& out, std::string& error);

// How a TensorRT-LLM engine was partitioned when it was built; the engine only runs that way.
struct EngineMapping {
  int world_size = 1;
  int tp_size = 1;
  int pp_size = 1;
};

// TensorRT-LLM engine config.json (format "tensorrt-llm"): architecture, dtype, quantization
// (quant_algo), context limit from build_config, and the tp/pp mapping.
bool parse_tensorrt_llm_config(std::string_view text, ModelFacts& out, std::string& error,
                               EngineMapping* mapping = nullptr);

// OME capability names for a diffusers pipeline class (TEXT_TO_IMAGE, IMAGE_TEXT_TO_IMAGE,
// TEXT_TO_VIDEO, IMAGE_TEXT_TO_VIDEO, TEXT_TO_AUDIO).
std::vector<std::string> diffusers_capabilities(std::string_view pipeline_class);

}  // namespace omed::model
