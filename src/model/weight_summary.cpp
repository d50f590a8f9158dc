// Weight summaries: format names, the checked tally every parser adds tensors through, merging
// shards, and how a summary fills ModelFacts.
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "omed/model/model_facts.hpp"
#include "omed/model/weight_formats.hpp"

#include "checked_math.hpp"
#include "weight_tally.hpp"

namespace omed::model {

const char* weight_format_name(WeightFormat f) {
  switch (f) {
    case WeightFormat::Unknown: return "unknown";
    case WeightFormat::Safetensors: return "safetensors";
    case WeightFormat::Gguf: return "gguf";
    case WeightFormat::Onnx: return "onnx";
    case WeightFormat::PytorchZip: return "pytorch";
    case WeightFormat::PytorchPickle: return "pytorch-legacy";
    case WeightFormat::TensorRTEngine: return "tensorrt";
  }
  return "unknown";
}

namespace detail {

bool shape_product(const std::vector<uint64_t>& shape, uint64_t& out) {
  out = 1;
  for (uint64_t d : shape)
    if (!checked_mul(out, d, out))
      return false;
  return true;
}

std::string tally_tensor(WeightSummary& s, const WeightLimits& lim, TensorInfo&& t) {
  if (s.tensor_count >= lim.max_tensors)
    return "more than " + std::to_string(lim.max_tensors) + " tensors";
  if (!checked_add(s.parameter_count, t.parameters, s.parameter_count))
    return "parameter count overflows 64 bits at tensor '" + printable(t.name, 128) + "'";
  if (!checked_add(s.tensor_bytes, t.bytes, s.tensor_bytes))
    return "tensor bytes overflow 64 bits at tensor '" + printable(t.name, 128) + "'";
  uint64_t& per = s.parameters_by_dtype[t.dtype];
  if (!checked_add(per, t.parameters, per))
    return "parameter count overflows 64 bits";
  ++s.tensor_count;
  if (lim.keep_tensors)
    s.tensors.push_back(std::move(t));
  return {};
}

std::string merge_summary(WeightSummary& into, WeightSummary&& from, const WeightLimits& lim) {
  if (!checked_add(into.tensor_count, from.tensor_count, into.tensor_count) || into.tensor_count > lim.max_tensors)
    return "more than " + std::to_string(lim.max_tensors) + " tensors over all shards";
  if (!checked_add(into.parameter_count, from.parameter_count, into.parameter_count) ||
      !checked_add(into.tensor_bytes, from.tensor_bytes, into.tensor_bytes) ||
      !checked_add(into.file_bytes, from.file_bytes, into.file_bytes))
    return "parameter or byte counts overflow 64 bits over all shards";
  for (auto& [dtype, n] : from.parameters_by_dtype) {
    uint64_t& per = into.parameters_by_dtype[dtype];
    if (!checked_add(per, n, per))
      return "parameter count overflows 64 bits over all shards";
  }
  into.files += from.files;
  for (auto& [k, v] : from.metadata)
    into.metadata.emplace(k, std::move(v));
  if (into.format_version.empty())
    into.format_version = from.format_version;
  if (into.architecture.empty())
    into.architecture = from.architecture;
  if (into.quantization.empty())
    into.quantization = from.quantization;
  for (auto& n : from.notes)
    into.notes.push_back(std::move(n));
  if (lim.keep_tensors)
    for (auto& t : from.tensors)
      into.tensors.push_back(std::move(t));
  return {};
}

std::string printable(std::string_view s, size_t max) {
  std::string out;
  out.reserve(std::min(s.size(), max) + 8);
  for (size_t i = 0; i < s.size(); ++i) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

}  // namespace detail

namespace {

std::optional<int64_t> meta_int(const WeightSummary& s, const std::string& key) {
  auto it = s.metadata.find(key);
  if (it == s.metadata.end() || it->second.empty())
    return std::nullopt;
  char* end = nullptr;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (end == nullptr || *end != '\0')
    return std::nullopt;
  return v;
}

}  // namespace

void apply_weight_summary(const WeightSummary& s, ModelFacts& facts) {
  switch (s.format) {
    case WeightFormat::PytorchZip:
    case WeightFormat::PytorchPickle: facts.format = "pytorch"; break;
    case WeightFormat::TensorRTEngine:
      facts.format = s.metadata.count("tensorrt_llm.version") || s.metadata.count("tensorrt_llm.layout")
                       ? "tensorrt-llm" : "tensorrt";
      break;
    default: facts.format = weight_format_name(s.format); break;
  }
  facts.format_version = s.format_version;
  facts.weight_bytes = s.file_bytes;
  // No tensors (an engine, a vocabulary-only GGUF) means "unknown", not "zero parameters".
  if (s.tensor_count > 0) {
    facts.parameter_count = s.parameter_count;
    facts.parameter_source = CountSource::Weights;
    facts.parameters_by_dtype = s.parameters_by_dtype;
  }
  // GGUF's general.architecture is a family name ("llama"), TensorRT-LLM's a class name.
  if (!s.architecture.empty()) {
    std::string& dst = s.format == WeightFormat::Gguf ? facts.model_type : facts.architecture;
    if (dst.empty())
      dst = s.architecture;
  }
  if (!s.quantization.empty() && facts.quantization.empty())
    facts.quantization = s.format == WeightFormat::Gguf ? "gguf:" + s.quantization : s.quantization;
  // GGUF keeps the model's shape under "<arch>.<key>"; fill what the config did not.
  if (s.format == WeightFormat::Gguf && !s.architecture.empty()) {
    const std::string a = s.architecture + ".";
    auto fill = [&](std::optional<int64_t>& dst, const char* key) {
      if (!dst)
        dst = meta_int(s, a + key);
    };
    fill(facts.context_length, "context_length");
    fill(facts.num_layers, "block_count");
    fill(facts.hidden_size, "embedding_length");
    fill(facts.num_attention_heads, "attention.head_count");
    fill(facts.num_kv_heads, "attention.head_count_kv");
    fill(facts.num_experts, "expert_count");
    fill(facts.num_experts_per_token, "expert_used_count");
    fill(facts.vocab_size, "vocab_size");
  }
  for (const auto& n : s.notes)
    facts.notes.push_back(n);
}

}  // namespace omed::model
