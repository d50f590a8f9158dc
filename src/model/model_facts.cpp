// Model facts as JSON: the shape `omed inspect-model` prints and the agent reports.
#include "omed/model/model_facts.hpp"

#include "omed/common/json.hpp"
#include "omed/model/storage_uri.hpp"

namespace omed::model {

const char* count_source_name(CountSource s) {
  switch (s) {
    case CountSource::None: return "none";
    case CountSource::Weights: return "weights";
    case CountSource::Formula: return "formula";
    case CountSource::Estimate: return "estimate";
  }
  return "none";
}

namespace {

void put_opt(json::Object& o, const char* key, const std::optional<int64_t>& v) {
  if (v) o.set(key, json::Value(*v));
}

void put_str(json::Object& o, const char* key, const std::string& v) {
  if (!v.empty()) o.set(key, json::Value(v));
}

}  // namespace

json::Value facts_to_json(const ModelFacts& f) {
  json::Object o;
  put_str(o, "modelType", f.model_type);
  put_str(o, "architecture", f.architecture);
  if (f.parameter_count) {
    o.set("parameterCount", json::Value(static_cast<int64_t>(*f.parameter_count)));
    o.set("parameterSize", json::Value(format_parameter_count(static_cast<double>(*f.parameter_count))));
  } else {
    o.set("parameterCount", json::Value(nullptr));
  }
  o.set("parameterCountExact", json::Value(f.parameter_count_exact()));
  o.set("parameterCountSource", json::Value(count_source_name(f.parameter_source)));
  if (!f.parameters_by_dtype.empty()) {
    json::Object by;
    for (const auto& [dtype, n] : f.parameters_by_dtype) by.set(dtype, json::Value(static_cast<int64_t>(n)));
    o.set("parametersByDtype", json::Value(std::move(by)));
  }
  put_str(o, "format", f.format);
  put_str(o, "formatVersion", f.format_version);
  put_str(o, "framework", f.framework);
  put_str(o, "frameworkVersion", f.framework_version);
  put_str(o, "dtype", f.dtype);
  o.set("quantization", f.quantization.empty() ? json::Value(nullptr) : json::Value(f.quantization));
  if (f.quantization_bits) o.set("quantizationBits", json::Value(*f.quantization_bits));
  put_opt(o, "contextLength", f.context_length);
  put_opt(o, "hiddenSize", f.hidden_size);
  put_opt(o, "numLayers", f.num_layers);
  put_opt(o, "numAttentionHeads", f.num_attention_heads);
  put_opt(o, "numKeyValueHeads", f.num_kv_heads);
  put_opt(o, "numExperts", f.num_experts);
  put_opt(o, "numExpertsPerToken", f.num_experts_per_token);
  put_opt(o, "vocabSize", f.vocab_size);
  json::Array caps;
  for (const auto& c : f.capabilities) caps.emplace_back(c);
  o.set("capabilities", json::Value(std::move(caps)));
  o.set("hasVision", json::Value(f.has_vision));
  o.set("isEmbedding", json::Value(f.is_embedding));
  if (f.weight_bytes) o.set("weightBytes", json::Value(static_cast<int64_t>(f.weight_bytes)));
  if (!f.notes.empty()) {
    json::Array notes;
    for (const auto& n : f.notes) notes.emplace_back(n);
    o.set("notes", json::Value(std::move(notes)));
  }
  return json::Value(std::move(o));
}

}  // namespace omed::model
