// TensorRT engines: an engine file is opaque (its layout is NVIDIA's and changes per release), so
// only its tag and size are read; the facts come from a TensorRT-LLM engine directory's
// config.json (0.8+ pretrained_config/build_config, or the older builder_config layout).
#include "omed/common/json.hpp"
#include "omed/model/weight_formats.hpp"

#include "weight_tally.hpp"

namespace omed::model {

using detail::printable;

namespace {

// The tag serialized engines of TensorRT 8 and later are reported to start with. NVIDIA documents
// no format and no engine could be inspected here: the tag is a hint, the engine directory's
// config.json is the evidence (summarize_weight_dir trusts the directory, not the tag).
constexpr std::string_view kEngineTag = "ftrt";

void put(WeightSummary& out, const std::string& key, const json::Value* v) {
  if (!v)
    return;
  if (v->is_string())
    out.metadata[key] = printable(v->as_string(), 256);
  else if (v->is_int() || v->is_double() || v->is_bool())
    out.metadata[key] = json::dump(*v);
}

}  // namespace

std::string parse_tensorrt_engine(ByteSource& src, WeightSummary& out, const WeightLimits&) {
  out = WeightSummary{};
  out.format = WeightFormat::TensorRTEngine;
  out.file_bytes = src.size();
  out.files = 1;
  if (src.size() < kEngineTag.size())
    return src.name() + ": too small for a TensorRT engine";
  std::string head;
  if (auto err = src.read(0, kEngineTag.size(), head); !err.empty())
    return err;
  if (head != kEngineTag)
    return src.name() + ": no TensorRT engine tag ('ftrt') at the start";
  out.notes.push_back("a TensorRT engine does not expose tensor shapes: no parameter count from it");
  return {};
}

bool parse_tensorrt_llm_config(std::string_view config_json, WeightSummary& out) {
  json::Value doc;
  std::string err;
  json::ParseOptions opts;
  opts.max_depth = 64;
  if (config_json.size() > (16u << 20) || !json::try_parse(config_json, doc, err, opts) || !doc.is_object())
    return false;
  const json::Value* pc = doc.get("pretrained_config");
  const json::Value* bc = doc.get("build_config");
  const json::Value* old = doc.get("builder_config");
  WeightSummary s;
  s.format = WeightFormat::TensorRTEngine;
  if (pc && pc->is_object() && bc && bc->is_object()) {
    s.metadata["tensorrt_llm.layout"] = "pretrained_config";
    put(s, "tensorrt_llm.version", doc.get("version"));
    if (const json::Value* a = pc->get("architecture"); a && a->is_string())
      s.architecture = printable(a->as_string(), 128);
    put(s, "architecture", pc->get("architecture"));
    put(s, "dtype", pc->get("dtype"));
    put(s, "num_hidden_layers", pc->get("num_hidden_layers"));
    put(s, "num_attention_heads", pc->get("num_attention_heads"));
    put(s, "num_key_value_heads", pc->get("num_key_value_heads"));
    put(s, "hidden_size", pc->get("hidden_size"));
    put(s, "vocab_size", pc->get("vocab_size"));
    put(s, "max_position_embeddings", pc->get("max_position_embeddings"));
    if (const json::Value* q = pc->get("quantization"); q && q->is_object()) {
      put(s, "quant_algo", q->get("quant_algo"));
      put(s, "kv_cache_quant_algo", q->get("kv_cache_quant_algo"));
      if (const json::Value* qa = q->get("quant_algo"); qa && qa->is_string())
        s.quantization = printable(qa->as_string(), 64);
    }
    if (const json::Value* mp = pc->get("mapping"); mp && mp->is_object()) {
      put(s, "world_size", mp->get("world_size"));
      put(s, "tp_size", mp->get("tp_size"));
      put(s, "pp_size", mp->get("pp_size"));
    }
    put(s, "max_batch_size", bc->get("max_batch_size"));
    put(s, "max_input_len", bc->get("max_input_len"));
    put(s, "max_seq_len", bc->get("max_seq_len"));
    put(s, "max_num_tokens", bc->get("max_num_tokens"));
  } else if (old && old->is_object() && (old->get("name") || old->get("precision"))) {
    s.metadata["tensorrt_llm.layout"] = "builder_config";
    put(s, "tensorrt_llm.version", old->get("tensorrt"));
    if (const json::Value* a = old->get("name"); a && a->is_string())
      s.architecture = printable(a->as_string(), 128);
    put(s, "architecture", old->get("name"));
    put(s, "dtype", old->get("precision"));
    put(s, "num_hidden_layers", old->get("num_layers"));
    put(s, "num_attention_heads", old->get("num_heads"));
    put(s, "hidden_size", old->get("hidden_size"));
    put(s, "vocab_size", old->get("vocab_size"));
    put(s, "max_position_embeddings", old->get("max_position_embeddings"));
    put(s, "tp_size", old->get("tensor_parallel"));
    put(s, "pp_size", old->get("pipeline_parallel"));
    put(s, "max_batch_size", old->get("max_batch_size"));
    put(s, "max_input_len", old->get("max_input_len"));
    put(s, "max_output_len", old->get("max_output_len"));
    put(s, "quant_mode", old->get("quant_mode"));
  } else {
    return false;
  }
  s.format_version = s.metadata.count("tensorrt_llm.version") ? s.metadata["tensorrt_llm.version"] : "";
  out = std::move(s);
  return true;
}

}  // namespace omed::model
