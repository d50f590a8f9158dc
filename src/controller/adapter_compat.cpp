// The base-model check for fine-tuned weights. Module names per family follow the transformers
// implementations; a family omed does not know is reported as unchecked, never as a mismatch.
#include "omed/controller/adapter_compat.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace omed::controller {

namespace {

using Names = std::vector<std::string>;

const Names kLlamaAttn{"q_proj", "k_proj", "v_proj", "o_proj"};
const Names kLlamaMlp{"gate_proj", "up_proj", "down_proj"};
const Names kMlaAttn{"q_proj", "q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"};
const Names kNeoxLike{"query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"};
const Names kGpt2Like{"c_attn", "c_proj", "c_fc"};
const Names kBertLike{"query", "key", "value", "dense"};
const Names kVisionTower{"q_proj", "k_proj", "v_proj", "out_proj", "qkv", "proj", "fc1", "fc2", "linear_1", "linear_2"};
// Embeddings and heads: every family has them under one of these names; PEFT can adapt them.
const Names kEverywhere{"embed_tokens", "lm_head", "wte", "word_embeddings", "embed_in", "embed_out", "tok_embeddings",
                        "output"};

// Modules whose input is the residual stream: their lora_A must take hidden_size inputs.
const std::set<std::string> kTakesHidden{"q_proj",   "k_proj",   "v_proj",      "qkv_proj", "query_key_value",
                                         "c_attn",   "Wqkv",     "wqkv",        "query",    "key",
                                         "value",    "q_a_proj", "kv_a_proj_with_mqa",      "gate_proj",
                                         "up_proj",  "gate_up_proj", "fc1",     "c_fc",     "dense_h_to_4h",
                                         "w1",       "w3"};

Names cat(std::initializer_list<const Names*> parts, Names extra = {}) {
  Names out;
  for (const Names* p : parts)
    out.insert(out.end(), p->begin(), p->end());
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// model_type from an architecture class when the config's model_type is unknown.
std::string type_from_architecture(std::string_view arch) {
  static const std::pair<const char*, const char*> kPrefixes[] = {
    {"llava", "llava"},       {"mllama", "mllama"},     {"llama4", "llama4"},   {"llama", "llama"},
    {"mixtral", "mixtral"},   {"mistral", "mistral"},   {"qwen3moe", "qwen3_moe"}, {"qwen3", "qwen3"},
    {"qwen2moe", "qwen2_moe"}, {"qwen2vl", "qwen2_vl"}, {"qwen2", "qwen2"},     {"qwen", "qwen"},
    {"gemma3", "gemma3"},     {"gemma2", "gemma2"},     {"gemma", "gemma"},     {"phi3small", "phi3small"},
    {"phimoe", "phimoe"},     {"phi3", "phi3"},         {"phi", "phi"},         {"falcon", "falcon"},
    {"gptneox", "gpt_neox"},  {"gptbigcode", "gpt_bigcode"}, {"gpt2", "gpt2"}, {"bloom", "bloom"},
    {"chatglm", "chatglm"},   {"internlm2", "internlm2"}, {"internlm", "internlm"}, {"dbrx", "dbrx"},
    {"mpt", "mpt"},           {"deepseekv3", "deepseek_v3"}, {"deepseekv2", "deepseek_v2"},
    {"cohere", "cohere"},     {"stablelm", "stablelm"}, {"starcoder2", "starcoder2"}, {"bert", "bert"},
    {"xlmroberta", "xlm-roberta"}, {"roberta", "roberta"}, {"clip", "clip_vision_model"}};
  std::string a = lower(arch);
  for (auto& [prefix, type] : kPrefixes)
    if (a.rfind(prefix, 0) == 0)
      return type;
  return {};
}

// "org/name" from an adapter's base_model_name_or_path; "" for local paths.
std::string repo_of(std::string_view s) {
  std::string r = lower(s);
  if (auto at = r.find('@'); at != std::string::npos)
    r.resize(at);
  while (!r.empty() && r.back() == '/')
    r.pop_back();
  if (r.rfind("hf://", 0) == 0)
    r = r.substr(5);
  if (r.empty() || r[0] == '/' || r[0] == '.' || r[0] == '~' || std::count(r.begin(), r.end(), '/') != 1)
    return {};
  return r;
}

std::string last_segment(const std::string& s) {
  auto dot = s.rfind('.');
  return dot == std::string::npos ? s : s.substr(dot + 1);
}

std::string join(const std::vector<std::string>& v, size_t max = 12) {
  std::string out;
  for (size_t i = 0; i < v.size() && i < max; ++i)
    out += (i ? ", " : "") + v[i];
  if (v.size() > max)
    out += ", ...";
  return out;
}

}  // namespace

std::vector<std::string> family_modules(std::string_view model_type, std::string_view architecture) {
  std::string t = lower(model_type);
  if (t.empty())
    t = type_from_architecture(architecture);
  static const std::set<std::string> kLlamaLike{"llama",      "mistral",  "qwen2",     "qwen3",  "gemma",
                                                "gemma2",     "gemma3_text", "cohere", "cohere2", "stablelm",
                                                "internlm",   "xverse",   "yi",        "olmo",   "olmo2",
                                                "granite",    "minicpm",  "exaone",    "e5_mistral", "qwen3_next"};
  static const std::set<std::string> kMultimodalLlama{"llava",      "llava_next", "mllama", "qwen2_vl", "qwen2_5_vl",
                                                      "qwen3_vl",   "gemma3",     "llava_onevision", "idefics3",
                                                      "janus",      "deepseek_vl_v2", "qwen3_vl_moe", "llama4"};
  if (kLlamaLike.count(t))
    return cat({&kLlamaAttn, &kLlamaMlp});
  if (kMultimodalLlama.count(t))
    return cat({&kLlamaAttn, &kLlamaMlp, &kVisionTower}, {"router", "gate", "multi_modal_projector"});
  if (t == "mixtral" || t == "phimoe")
    return cat({&kLlamaAttn}, {"w1", "w2", "w3", "gate"});
  if (t == "qwen2_moe" || t == "qwen3_moe")
    return cat({&kLlamaAttn, &kLlamaMlp}, {"gate", "shared_expert_gate"});
  if (t == "deepseek_v2" || t == "deepseek_v3")
    return cat({&kMlaAttn, &kLlamaMlp}, {"gate"});
  if (t == "minicpm3")
    return cat({&kMlaAttn, &kLlamaMlp});
  if (t == "gpt_oss")
    return cat({&kLlamaAttn}, {"router", "gate_up_proj", "down_proj"});
  if (t == "starcoder2")
    return cat({&kLlamaAttn}, {"c_fc", "c_proj"});
  if (t == "phi")
    return {"q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"};
  if (t == "phi3")
    return {"qkv_proj", "o_proj", "gate_up_proj", "down_proj"};
  if (t == "phi3_v")
    return cat({&kVisionTower}, {"qkv_proj", "o_proj", "gate_up_proj", "down_proj", "img_projection"});
  if (t == "phi3small")
    return {"query_key_value", "dense", "up_proj", "down_proj"};
  if (t == "falcon" || t == "gpt_neox" || t == "bloom" || t == "chatglm")
    return kNeoxLike;
  if (t == "gpt2" || t == "gpt_bigcode")
    return kGpt2Like;
  if (t == "qwen")
    return {"c_attn", "c_proj", "w1", "w2"};
  if (t == "internlm2")
    return {"wqkv", "wo", "w1", "w2", "w3"};
  if (t == "dbrx")
    return {"Wqkv", "out_proj", "w1", "v1", "w2", "layer"};
  if (t == "mpt")
    return {"Wqkv", "out_proj", "up_proj", "down_proj"};
  if (t == "bert" || t == "roberta" || t == "xlm-roberta" || t == "new")
    return kBertLike;
  if (t == "clip_vision_model" || t == "siglip_vision_model")
    return kVisionTower;
  return {};
}

AdapterCompatibility check_adapter_against_base(const model::AdapterFacts& adapter, const model::ModelFacts& base,
                                                std::string_view base_repo) {
  AdapterCompatibility out;
  const std::string family = base.model_type.empty() ? base.architecture : base.model_type;
  Names known = family_modules(base.model_type, base.architecture);
  if (known.empty()) {
    out.warnings.push_back("target modules not checked: omed does not know the module names of " +
                           (family.empty() ? std::string("the base (no model_type or architecture known)")
                                           : "model_type " + family));
  } else {
    std::set<std::string> have(known.begin(), known.end());
    have.insert(kEverywhere.begin(), kEverywhere.end());
    std::set<std::string> missing;
    for (const auto& t : adapter.config.target_modules)
      if (t != "all-linear" && !have.count(last_segment(t)))
        missing.insert(last_segment(t));
    // The weights say what was really adapted, also when target_modules was a regex.
    for (const auto& [kind, m] : adapter.weights.modules)
      if (!have.count(kind))
        missing.insert(kind);
    if (!missing.empty())
      out.mismatches.push_back("target modules " + join({missing.begin(), missing.end()}) + " do not exist in " +
                               family + " models (they have " + join(known) + ")");
  }
  if (adapter.has_weights && !adapter.weights.modules.empty()) {
    if (!base.hidden_size) {
      out.warnings.push_back("input widths not checked: the base's hidden size is unknown");
    } else {
      for (const auto& [kind, m] : adapter.weights.modules)
        if (kTakesHidden.count(kind) && m.in_features > 0 && m.in_features != *base.hidden_size)
          out.mismatches.push_back("lora_A of " + kind + " takes " + std::to_string(m.in_features) +
                                   " inputs but the base's hidden size is " + std::to_string(*base.hidden_size));
    }
  }
  if (adapter.weights.max_layer) {
    if (!base.num_layers)
      out.warnings.push_back("layer indices not checked: the base's layer count is unknown");
    else if (*adapter.weights.max_layer >= *base.num_layers)
      out.mismatches.push_back("the adapter has weights for layer " + std::to_string(*adapter.weights.max_layer) +
                               " but the base has " + std::to_string(*base.num_layers) + " layers (0.." +
                               std::to_string(*base.num_layers - 1) + ")");
  }
  std::string want = repo_of(adapter.config.base_model), have = repo_of(base_repo);
  if (!want.empty() && !have.empty() && want != have)
    out.warnings.push_back("adapter_config.json names base model " + adapter.config.base_model +
                           " but the base model's storage is hf://" + std::string(base_repo));
  for (const auto& n : adapter.weights.notes)
    out.warnings.push_back(n);
  return out;
}

}  // namespace omed::controller
