// Model metadata files into ModelFacts: which file it is, the model's identity and shape, its
// quantization, context length and OME capabilities, and the analytic parameter count.
#include "omed/model/config_parser.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <initializer_list>

#include "omed/common/json.hpp"
#include "omed/model/parameter_count.hpp"

namespace omed::model {
namespace {

constexpr int64_t kMaxDim = int64_t{1} << 40;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

bool contains_any(std::string_view s, std::initializer_list<std::string_view> parts) {
  for (auto p : parts)
    if (contains(s, p))
      return true;
  return false;
}

const json::Value* object_at(const json::Value* v, std::string_view key) {
  const json::Value* o = v ? v->get(key) : nullptr;
  return o && o->is_object() ? o : nullptr;
}

std::string string_at(const json::Value* v, std::string_view key) {
  const json::Value* s = v ? v->get(key) : nullptr;
  return s && s->is_string() ? s->as_string() : std::string();
}

void add_unique(std::vector<std::string>& v, std::string s) {
  if (std::find(v.begin(), v.end(), s) == v.end())
    v.push_back(std::move(s));
}

// Strict reading of the integer fields that land in ModelFacts: a present field of the wrong
// type, negative or absurdly large is an error naming the field.
class Fields {
public:
  Fields(std::vector<const json::Value*> scopes, std::string& error)
    : scopes_(std::move(scopes)), error_(error) {}

  // The first of `keys` present (non-null) in the first scope holding any of them.
  const json::Value* find(std::initializer_list<std::string_view> keys, std::string* name = nullptr) const {
    for (const json::Value* s : scopes_) {
      if (!s)
        continue;
      for (auto k : keys) {
        const json::Value* v = s->get(k);
        if (v && !v->is_null()) {
          if (name)
            *name = std::string(k);
          return v;
        }
      }
    }
    return nullptr;
  }

  // Positive dimension; false on a malformed value (error set).
  bool dim(std::initializer_list<std::string_view> keys, std::optional<int64_t>& out) const {
    std::string name;
    const json::Value* v = find(keys, &name);
    if (!v)
      return true;
    int64_t n = 0;
    if (!whole(*v, name, n))
      return false;
    if (n <= 0) {
      error_ = name + " must be positive, got " + std::to_string(n);
      return false;
    }
    if (n > kMaxDim) {
      error_ = name + " is implausibly large (" + std::to_string(n) + ")";
      return false;
    }
    out = n;
    return true;
  }

  bool whole(const json::Value& v, const std::string& name, int64_t& out) const {
    if (v.is_int()) {
      out = v.as_int();
      return true;
    }
    if (v.is_double()) {
      double d = v.as_double();
      if (d != std::floor(d)) {
        error_ = name + " is not a whole number";
        return false;
      }
      if (d > 9e18 || d < -9e18) {
        error_ = name + " is implausibly large";
        return false;
      }
      out = static_cast<int64_t>(d);
      return true;
    }
    error_ = name + ": expected an integer, got " + json::type_name(v.type());
    return false;
  }

private:
  std::vector<const json::Value*> scopes_;
  std::string& error_;
};

// The language model's own config inside a multimodal one.
const json::Value* language_config(const json::Value& root) {
  for (std::string_view k : {"text_config", "llm_config", "language_config"})
    if (const json::Value* o = object_at(&root, k))
      return o;
  if (const json::Value* thinker = object_at(&root, "thinker_config"))  // Qwen2.5-Omni
    return object_at(thinker, "text_config");
  return nullptr;
}

bool is_base_model_class(std::string_view arch) {
  return ends_with(arch, "Model") && !ends_with(arch, "LMHeadModel") && !ends_with(arch, "RewardModel") &&
         !ends_with(arch, "PreTrainedModel");
}

// ChatGLM ships as "ChatGLMModel" yet maps AutoModel to a generating class.
bool auto_map_generates(const json::Value& root) {
  const json::Value* m = object_at(&root, "auto_map");
  if (!m)
    return false;
  std::string target = string_at(m, "AutoModel");
  return contains(target, "ForConditionalGeneration") || contains(target, "ForCausalLM") ||
         contains(target, "LMHeadModel");
}

constexpr std::string_view kBertLike[] = {"bert", "roberta", "xlm-roberta", "camembert", "distilbert",
                                          "mpnet", "deberta", "deberta-v2", "electra", "nomic_bert",
                                          "new", "modernbert", "albert", "xlm", "jina_bert"};
constexpr std::string_view kAudio[] = {"whisper", "wav2vec2", "wav2vec2-conformer", "hubert", "wavlm",
                                       "speech_to_text", "speecht5", "seamless_m4t", "seamless_m4t_v2",
                                       "qwen2_audio", "moonshine", "data2vec-audio", "unispeech"};

bool in(std::string_view s, const std::string_view* begin, const std::string_view* end) {
  return std::find(begin, end, s) != end;
}

struct Traits {
  bool vision = false, audio = false, omni = false, embedding = false, rerank = false;
  std::vector<std::string> notes;
};

Traits traits_of(const json::Value& root, std::string_view model_type, std::string_view arch) {
  Traits t;
  std::string type = lower(model_type), la = lower(arch);
  t.vision = object_at(&root, "vision_config") || object_at(&root, "img_processor") ||
             object_at(&root, "vision_tower") || !string_at(&root, "mm_vision_tower").empty() ||
             (contains_any(type, {"vision", "_vl", "llava", "mllama", "clip", "siglip", "pixtral",
                                  "multi_modality", "janus", "idefics", "paligemma", "internvl"}) &&
              !contains(type, "text"));
  t.audio = in(type, std::begin(kAudio), std::end(kAudio)) || object_at(&root, "audio_config") ||
            contains_any(la, {"forctc", "forspeechseq2seq", "speechtotext", "whisper", "foraudio"});
  t.omni = contains(la, "omni") || contains(type, "omni");
  t.rerank = ends_with(arch, "ForSequenceClassification") || ends_with(arch, "RewardModel");
  if (t.rerank) {
    t.notes.push_back(ends_with(arch, "RewardModel") || contains(la, "reward")
                        ? "reward model: scores a (prompt, response) pair, listed as RERANK"
                        : "sequence-classification head: a scorer, listed as RERANK");
    return t;
  }
  const json::Value* causal = root.get("is_causal");
  if (causal && causal->is_bool() && !causal->as_bool()) {
    t.embedding = true;
    t.notes.push_back("is_causal=false: bidirectional attention, an embedding model");
  } else if (contains_any(la, {"embedding", "sentencetransformer"}) ||
             in(type, std::begin(kBertLike), std::end(kBertLike)) ||
             contains_any(type, {"clip", "siglip"})) {
    t.embedding = !t.audio;
  } else if (is_base_model_class(arch) && !auto_map_generates(root) && !t.audio) {
    t.embedding = true;
    t.notes.push_back(std::string(arch) + " is a base model without a language-model head: an embedding model");
  }
  return t;
}

std::vector<std::string> capabilities_of(const Traits& t, std::string_view model_type) {
  std::vector<std::string> caps;
  std::string type = lower(model_type);
  if (contains_any(type, {"nemotronh_nano", "nemotron_h_nano"}))
    return {"IMAGE_TEXT_TO_TEXT", "TEXT_TO_TEXT", "AUDIO_TO_TEXT"};
  if (t.omni) {
    caps = {"TEXT_TO_TEXT", "AUDIO_TO_TEXT", "TEXT_TO_AUDIO", "AUDIO_TO_AUDIO"};
    if (t.vision) {
      caps.insert(caps.begin() + 1, "IMAGE_TEXT_TO_TEXT");
      caps.push_back("IMAGE_TEXT_TO_AUDIO");
      caps.push_back("VIDEO_TEXT_TO_AUDIO");
    }
    return caps;
  }
  if (t.rerank)
    return {"RERANK"};
  if (t.embedding)
    return {"EMBEDDING"};
  if (t.audio) {
    caps.push_back("AUDIO_TO_TEXT");
    if (type == "qwen2_audio")  // a chat model that also hears
      caps.push_back("TEXT_TO_TEXT");
    return caps;
  }
  if (t.vision)
    return {"IMAGE_TEXT_TO_TEXT", "TEXT_TO_TEXT"};
  return {"TEXT_TO_TEXT"};
}

int rank(CountSource s) {
  switch (s) {
    case CountSource::Weights: return 3;
    case CountSource::Formula: return 2;
    case CountSource::Estimate: return 1;
    case CountSource::None: return 0;
  }
  return 0;
}

// A count from weight files is the truth; a config never replaces it.
void apply_count(ModelFacts& f, const ParameterEstimate& est) {
  if (est.source == CountSource::None) {
    if (!est.note.empty() && f.parameter_source == CountSource::None)
      add_unique(f.notes, "no parameter count: " + est.note);
    return;
  }
  if (f.parameter_source == CountSource::Weights || rank(est.source) < rank(f.parameter_source))
    return;
  f.parameter_count = est.count;
  f.parameter_source = est.source;
  if (!est.note.empty())
    add_unique(f.notes, "parameter count: " + est.note);
}

// Embedding checkpoints declared as *ForCausalLM differ on whether they store the LM head
// (gte-Qwen2 does, Qwen3-Embedding does not), so the config cannot settle the count.
void downgrade_embedding_count(ModelFacts& f) {
  if (f.parameter_source != CountSource::Formula)
    return;
  if (!ends_with(f.architecture, "ForCausalLM") && !ends_with(f.architecture, "LMHeadModel"))
    return;
  f.parameter_source = CountSource::Estimate;
  add_unique(f.notes, "embedding model declared as " + f.architecture +
                        ": count includes the LM head, which some embedding checkpoints do not store");
}

// quantization_config's quant_method, kept as the real method name, and the weight bit width.
void read_quantization(const json::Value& root, const json::Value* lang, ModelFacts& f) {
  const json::Value* q = object_at(&root, "quantization_config");
  if (!q && lang)
    q = object_at(lang, "quantization_config");
  if (!q) {
    // mlx-lm writes a bare "quantization": {"group_size": 64, "bits": 4}.
    const json::Value* mlx = object_at(&root, "quantization");
    if (mlx && mlx->get("bits") && mlx->get("bits")->is_int()) {
      f.quantization = "mlx";
      f.quantization_bits = static_cast<int>(std::clamp<int64_t>(mlx->get("bits")->as_int(), 1, 64));
    }
    return;
  }
  auto flag = [&](std::string_view k) {
    const json::Value* v = q->get(k);
    return v && v->is_bool() && v->as_bool();
  };
  auto small_int = [&](const json::Value* v) -> std::optional<int> {
    if (v && v->is_int() && v->as_int() > 0 && v->as_int() <= 64)
      return static_cast<int>(v->as_int());
    return std::nullopt;
  };
  std::string method = lower(string_at(q, "quant_method"));
  if (method.empty()) {
    if (flag("load_in_4bit") || flag("load_in_8bit") || flag("_load_in_4bit") || flag("_load_in_8bit"))
      method = "bitsandbytes";
    else if (q->get("quant_algo"))
      method = "modelopt";
    else
      method = "unknown";
  }
  f.quantization = method;
  std::optional<int> bits;
  for (std::string_view k : {"bits", "w_bit", "weight_bits", "nbits", "num_bits"})
    if (!bits)
      bits = small_int(q->get(k));
  if (method == "bitsandbytes") {
    if (flag("load_in_4bit") || flag("_load_in_4bit"))
      bits = 4;
    else if (flag("load_in_8bit") || flag("_load_in_8bit"))
      bits = 8;
  } else if (method == "compressed-tensors") {
    if (const json::Value* groups = object_at(q, "config_groups")) {
      for (const auto& [name, group] : groups->as_object()) {
        const json::Value* w = object_at(&group, "weights");
        if (auto b = small_int(w ? w->get("num_bits") : nullptr)) {
          bits = bits ? std::min(*bits, *b) : *b;
          std::string type = string_at(w, "type");
          if (!type.empty())
            add_unique(f.notes, "compressed-tensors weights: " + std::to_string(*b) + "-bit " + type);
        }
      }
    }
  } else if (method == "modelopt") {
    std::string algo = lower(string_at(q, "quant_algo"));
    if (contains(algo, "fp4"))
      bits = 4;
    else if (contains(algo, "fp8"))
      bits = 8;
    if (!algo.empty())
      add_unique(f.notes, "modelopt quant_algo " + algo);
  }
  if (!bits) {
    if (contains(method, "fp8") || method == "eetq" || method == "fbgemm_fp8")
      bits = 8;
    else if (contains(method, "fp4") || method == "mxfp4")
      bits = 4;
  }
  f.quantization_bits = bits;
}

// OME's capability vocabulary for a diffusers pipeline class.
bool is_video_family(std::string_view c) {
  return contains_any(c, {"video", "t2v", "animatediff", "mochi", "allegro", "latte", "skyreels",
                          "easyanimate", "consisid"}) ||
         starts_with(c, "wan") || starts_with(c, "ltx");
}

bool read_dims(const json::Value& root, const json::Value* lang, ModelFacts& f, std::string& error) {
  std::vector<const json::Value*> scopes;
  if (lang)
    scopes.push_back(lang);
  scopes.push_back(&root);
  const json::Value* attn = object_at(&root, "attn_config");
  const json::Value* ffn = object_at(&root, "ffn_config");
  Fields fields(scopes, error);
  ModelFacts t = f;
  if (!fields.dim({"hidden_size", "d_model", "n_embd"}, t.hidden_size) ||
      !fields.dim({"num_hidden_layers", "num_layers", "n_layers", "n_layer"}, t.num_layers) ||
      !fields.dim({"num_attention_heads", "n_heads", "n_head"}, t.num_attention_heads) ||
      !fields.dim({"vocab_size", "padded_vocab_size", "n_vocab"}, t.vocab_size))
    return false;
  // Key-value heads: explicit, DBRX's attn_config, or ChatGLM's multi-query groups.
  std::vector<const json::Value*> kv_scopes = scopes;
  if (attn)
    kv_scopes.push_back(attn);
  Fields kv(kv_scopes, error);
  if (!kv.dim({"num_key_value_heads", "num_kv_heads", "n_head_kv", "n_kv_heads", "kv_n_heads"}, t.num_kv_heads))
    return false;
  if (!t.num_kv_heads) {
    const json::Value* mqa = fields.find({"multi_query_attention"});
    const json::Value* single = fields.find({"multi_query"});  // Falcon: one shared kv head
    if (mqa && mqa->is_bool() && mqa->as_bool()) {
      if (!fields.dim({"multi_query_group_num"}, t.num_kv_heads))
        return false;
    } else if (single && single->is_bool() && single->as_bool()) {
      t.num_kv_heads = 1;
    } else if (t.num_attention_heads) {
      t.num_kv_heads = t.num_attention_heads;  // plain multi-head attention
    }
  }
  std::vector<const json::Value*> moe_scopes = scopes;
  if (ffn)
    moe_scopes.push_back(ffn);
  Fields moe(moe_scopes, error);
  std::optional<int64_t> experts, top_k;
  if (!moe.dim({"num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts"}, experts) ||
      !moe.dim({"num_experts_per_tok", "experts_per_token", "num_experts_per_token", "moe_top_k"}, top_k))
    return false;
  if (experts && *experts > 1) {
    t.num_experts = experts;
    t.num_experts_per_token = top_k;
  }
  // Context: the position table, whatever rope scaling adds on top at serving time. The top
  // level wins; multimodal configs keep it in their language config.
  std::string cname;
  const json::Value* cv = Fields({&root, lang}, error)
                            .find({"max_position_embeddings", "max_sequence_length", "seq_length",
                                   "n_positions", "max_seq_len", "max_target_positions"},
                                  &cname);
  if (cv) {
    int64_t n = 0;
    if (!fields.whole(*cv, cname, n))
      return false;
    if (n < 0) {
      error = cname + " is negative (" + std::to_string(n) + ")";
      return false;
    }
    if (n == 0 || n > kMaxDim)
      add_unique(t.notes, "ignored implausible " + cname + " " + std::to_string(n));
    else
      t.context_length = n;
  } else if (t.model_type == "gemma3" || t.model_type == "gemma3_text") {
    t.context_length = 131072;  // Gemma3TextConfig's default when the field is left out
  }
  f = std::move(t);
  return true;
}

bool parse_hf(const json::Value& root, ModelFacts& f, std::string& error) {
  const json::Value* mt = root.get("model_type");
  if (mt && !mt->is_null() && !mt->is_string()) {
    error = std::string("model_type: expected a string, got ") + json::type_name(mt->type());
    return false;
  }
  const json::Value* archs = root.get("architectures");
  std::string arch;
  if (archs && !archs->is_null()) {
    if (archs->is_string()) {
      arch = archs->as_string();
    } else if (!archs->is_array()) {
      error = std::string("architectures: expected an array of strings, got ") + json::type_name(archs->type());
      return false;
    } else if (!archs->as_array().empty()) {
      if (!archs->as_array()[0].is_string()) {
        error = "architectures[0]: expected a string";
        return false;
      }
      arch = archs->as_array()[0].as_string();
    }
  }
  const json::Value* lang = language_config(root);
  const ModelFacts before = f;
  if (mt && mt->is_string())
    f.model_type = mt->as_string();
  if (!arch.empty())
    f.architecture = arch;
  if (!(mt && mt->is_string()) && arch.empty() && !root.get("hidden_size") && !root.get("d_model") &&
      !root.get("n_embd") && !lang) {
    error = "not a model config: no model_type, architectures or model dimensions";
    return false;
  }
  if (!read_dims(root, lang, f, error))
    return false;

  std::string dtype = string_at(&root, "torch_dtype");
  if (dtype.empty())
    dtype = string_at(&root, "dtype");
  if (dtype.empty() && lang)
    dtype = !string_at(lang, "torch_dtype").empty() ? string_at(lang, "torch_dtype") : string_at(lang, "dtype");
  if (!dtype.empty())
    f.dtype = dtype;

  f.framework = "transformers";
  std::string version = string_at(&root, "transformers_version");
  if (version.empty() && lang)
    version = string_at(lang, "transformers_version");
  if (!version.empty())
    f.framework_version = version;

  read_quantization(root, lang, f);

  Traits t = traits_of(root, f.model_type, f.architecture);
  f.has_vision = t.vision;
  f.is_embedding = t.embedding;
  f.is_rerank = t.rerank;
  f.capabilities = capabilities_of(t, f.model_type);
  for (auto& n : t.notes)
    add_unique(f.notes, std::move(n));

  apply_count(f, count_parameters(root));
  // config_sentence_transformers.json read first still decides what the model is for.
  if (before.framework == "sentence-transformers") {
    f.framework = before.framework;
    f.framework_version = before.framework_version;
    f.is_embedding = before.is_embedding;
    f.is_rerank = before.is_rerank;
    f.capabilities = before.capabilities;
  }
  if (f.is_embedding)
    downgrade_embedding_count(f);
  return true;
}

bool parse_diffusers(const json::Value& root, ModelFacts& f, std::string& error) {
  const json::Value* cls = root.get("_class_name");
  if (!cls || !cls->is_string() || cls->as_string().empty()) {
    error = "model_index.json: _class_name must be a non-empty string";
    return false;
  }
  f.model_type = "diffusers";
  f.architecture = cls->as_string();
  f.framework = "diffusers";
  f.format = "diffusers";
  std::string version = string_at(&root, "_diffusers_version");
  f.framework_version = version;
  f.format_version = version;
  f.capabilities = diffusers_capabilities(f.architecture);
  f.has_vision = std::any_of(f.capabilities.begin(), f.capabilities.end(),
                             [](const std::string& c) { return starts_with(c, "IMAGE_"); });
  f.is_embedding = f.is_rerank = false;
  // Components are [library, class] pairs; record them for diffusionPipeline.
  std::string parts;
  for (const auto& [name, value] : root.as_object()) {
    if (name.empty() || name[0] == '_' || !value.is_array() || value.as_array().size() != 2)
      continue;
    const auto& pair = value.as_array();
    if (!pair[0].is_string() || !pair[1].is_string())
      continue;
    parts += (parts.empty() ? "" : ", ") + name + "=" + pair[1].as_string() + " (" + pair[0].as_string() + ")";
  }
  if (!parts.empty())
    add_unique(f.notes, "pipeline components: " + parts);
  if (f.parameter_source == CountSource::None)
    add_unique(f.notes, "no parameter count: a diffusers pipeline's parameters are in its components' weights");
  return true;
}

bool looks_like_sentence_transformers(const json::Value& root) {
  if (root.get("model_type") && root.get("model_type")->is_string() &&
      contains_any(root.get("model_type")->as_string(), {"SentenceTransformer", "CrossEncoder", "SparseEncoder"}))
    return true;
  if (root.get("architectures") || root.get("hidden_size"))
    return false;
  const json::Value* v = object_at(&root, "__version__");
  return (v && v->get("sentence_transformers")) || root.get("similarity_fn_name") ||
         (root.get("prompts") && root.get("default_prompt_name"));
}

bool parse_sentence_transformers(const json::Value& root, ModelFacts& f, std::string& error) {
  const json::Value* p = root.get("prompts");
  if (p && !p->is_null() && !p->is_object()) {
    error = "config_sentence_transformers.json: prompts must be an object";
    return false;
  }
  f.framework = "sentence-transformers";
  if (const json::Value* v = object_at(&root, "__version__"))
    f.framework_version = string_at(v, "sentence_transformers");
  std::string kind = string_at(&root, "model_type");
  if (kind == "CrossEncoder") {
    f.is_rerank = true;
    f.is_embedding = false;
    f.capabilities = {"RERANK"};
    return true;
  }
  f.is_embedding = true;
  f.is_rerank = false;
  f.capabilities = {"EMBEDDING"};
  std::string sim = string_at(&root, "similarity_fn_name");
  if (!sim.empty())
    add_unique(f.notes, "sentence-transformers similarity: " + sim);
  downgrade_embedding_count(f);
  return true;
}

std::string type_from_engine_architecture(std::string_view arch) {
  std::string base(arch);
  for (std::string_view suffix : {"ForCausalLM", "ForConditionalGeneration", "LMHeadModel", "Model"})
    if (ends_with(base, suffix)) {
      base.resize(base.size() - suffix.size());
      break;
    }
  std::string t = lower(base);
  if (t == "deepseekv3")
    return "deepseek_v3";
  if (t == "deepseekv2")
    return "deepseek_v2";
  if (t == "qwen3moe")
    return "qwen3_moe";
  if (t == "qwen2moe")
    return "qwen2_moe";
  return t;
}

std::optional<int> positive_small(const json::Value* o, std::string_view key) {
  const json::Value* v = o ? o->get(key) : nullptr;
  if (v && v->is_int() && v->as_int() > 0 && v->as_int() <= 1'000'000)
    return static_cast<int>(v->as_int());
  return std::nullopt;
}

bool parse_engine(const json::Value& root, ModelFacts& f, std::string& error, EngineMapping* mapping) {
  const json::Value* pc = object_at(&root, "pretrained_config");
  const json::Value* legacy = object_at(&root, "builder_config");
  if (!pc && !legacy) {
    error = "TensorRT-LLM config: neither pretrained_config nor builder_config is an object";
    return false;
  }
  ModelFacts t = f;
  t.format = "tensorrt-llm";
  t.framework = "tensorrt-llm";
  std::string version = string_at(&root, "version");
  if (version.empty() && legacy)
    version = string_at(legacy, "trt_llm_version");
  t.format_version = t.framework_version = version;
  EngineMapping m;
  if (pc) {
    std::string arch = string_at(pc, "architecture");
    if (arch.empty()) {
      error = "TensorRT-LLM config: pretrained_config.architecture must be a string";
      return false;
    }
    t.architecture = arch;
    t.model_type = type_from_engine_architecture(arch);
    if (!string_at(pc, "dtype").empty())
      t.dtype = string_at(pc, "dtype");
    Fields fields({pc}, error);
    if (!fields.dim({"hidden_size"}, t.hidden_size) || !fields.dim({"num_hidden_layers"}, t.num_layers) ||
        !fields.dim({"num_attention_heads"}, t.num_attention_heads) ||
        !fields.dim({"num_key_value_heads"}, t.num_kv_heads) || !fields.dim({"vocab_size"}, t.vocab_size) ||
        !fields.dim({"max_position_embeddings"}, t.context_length))
      return false;
    if (!t.num_kv_heads)
      t.num_kv_heads = t.num_attention_heads;
    if (const json::Value* q = object_at(pc, "quantization")) {
      std::string algo = lower(string_at(q, "quant_algo"));
      if (!algo.empty()) {
        t.quantization = algo;
        if (contains_any(algo, {"w4", "int4", "fp4", "awq", "gptq"}))
          t.quantization_bits = 4;
        else if (contains_any(algo, {"fp8", "w8", "int8", "sq"}))
          t.quantization_bits = 8;
      } else {
        t.quantization.clear();
        t.quantization_bits.reset();
      }
      std::string kv = lower(string_at(q, "kv_cache_quant_algo"));
      if (!kv.empty())
        add_unique(t.notes, "KV cache quantized: " + kv);
    }
    const json::Value* mp = object_at(pc, "mapping");
    m.world_size = positive_small(mp, "world_size").value_or(1);
    m.tp_size = positive_small(mp, "tp_size").value_or(1);
    m.pp_size = positive_small(mp, "pp_size").value_or(1);
  } else {
    t.model_type = string_at(legacy, "name");
    t.architecture = t.model_type;
    if (!string_at(legacy, "precision").empty())
      t.dtype = string_at(legacy, "precision");
    Fields fields({legacy}, error);
    if (!fields.dim({"hidden_size"}, t.hidden_size) || !fields.dim({"num_layers"}, t.num_layers) ||
        !fields.dim({"num_heads"}, t.num_attention_heads) || !fields.dim({"num_kv_heads"}, t.num_kv_heads) ||
        !fields.dim({"vocab_size"}, t.vocab_size) || !fields.dim({"max_position_embeddings"}, t.context_length))
      return false;
    m.tp_size = positive_small(legacy, "tensor_parallel").value_or(1);
    m.pp_size = positive_small(legacy, "pipeline_parallel").value_or(1);
    m.world_size = m.tp_size * m.pp_size;
  }
  // The engine was compiled for a maximum sequence length; it cannot serve more.
  if (const json::Value* bc = object_at(&root, "build_config")) {
    std::optional<int64_t> max_seq;
    Fields fields({bc}, error);
    if (!fields.dim({"max_seq_len"}, max_seq))
      return false;
    if (max_seq)
      t.context_length = max_seq;
  }
  add_unique(t.notes, "engine built for tp=" + std::to_string(m.tp_size) + " pp=" + std::to_string(m.pp_size) +
                        " (world size " + std::to_string(m.world_size) + ")");
  Traits tr = traits_of(json::Value(json::Object{}), t.model_type, t.architecture);
  t.has_vision = tr.vision;
  t.is_embedding = tr.embedding;
  t.is_rerank = tr.rerank;
  t.capabilities = capabilities_of(tr, t.model_type);
  if (pc)
    apply_count(t, count_parameters(root));
  if (mapping)
    *mapping = m;
  f = std::move(t);
  return true;
}

bool parse_text(std::string_view text, json::Value& doc, std::string& error) {
  json::ParseOptions opts;
  opts.allow_nan_inf = true;  // Hugging Face configs carry NaN and Infinity
  std::string err;
  if (!json::try_parse(text, doc, err, opts)) {
    error = "not valid JSON: " + err;
    return false;
  }
  if (!doc.is_object()) {
    error = std::string("expected a JSON object, got ") + json::type_name(doc.type());
    return false;
  }
  return true;
}

// Runs a parser on a copy so that `out` is untouched on failure, and keeps exceptions inside.
template <typename Fn>
bool transactional(ModelFacts& out, std::string& error, Fn&& fn) {
  try {
    ModelFacts work = out;
    std::string err;
    if (!fn(work, err)) {
      error = err.empty() ? "invalid config" : err;
      return false;
    }
    out = std::move(work);
    return true;
  } catch (const std::exception& e) {
    error = std::string("config parsing failed: ") + e.what();
    return false;
  }
}

}  // namespace

const char* config_kind_name(ConfigKind k) {
  switch (k) {
    case ConfigKind::HuggingFace: return "huggingface";
    case ConfigKind::Diffusers: return "diffusers";
    case ConfigKind::SentenceTransformers: return "sentence-transformers";
    case ConfigKind::TensorRtLlm: return "tensorrt-llm";
  }
  return "huggingface";
}

std::optional<ConfigKind> detect_config_kind(const json::Value& doc) {
  if (!doc.is_object())
    return std::nullopt;
  const json::Value* cls = doc.get("_class_name");
  if (cls && cls->is_string() && (doc.get("_diffusers_version") || !doc.get("model_type")))
    return ConfigKind::Diffusers;
  if (object_at(&doc, "pretrained_config") || object_at(&doc, "builder_config"))
    return ConfigKind::TensorRtLlm;
  if (looks_like_sentence_transformers(doc))
    return ConfigKind::SentenceTransformers;
  return ConfigKind::HuggingFace;
}

std::vector<std::string> diffusers_capabilities(std::string_view pipeline_class) {
  std::string c = lower(pipeline_class);
  if (contains_any(c, {"audioldm", "musicldm", "stableaudio", "audio"}))
    return {"TEXT_TO_AUDIO"};
  if (contains_any(c, {"imagetovideo", "image2video", "img2vid", "i2v", "stablevideodiffusion", "videotovideo",
                       "video2video"}))
    return {"IMAGE_TEXT_TO_VIDEO"};
  if (is_video_family(c))
    return {"TEXT_TO_VIDEO"};
  if (contains_any(c, {"img2img", "image2image", "imagetoimage", "inpaint", "pix2pix", "edit", "kontext",
                       "controlnet", "redux", "variation", "upscale", "depth2img", "superresolution"}))
    return {"IMAGE_TEXT_TO_IMAGE"};
  return {"TEXT_TO_IMAGE"};
}

bool parse_model_config_json(const json::Value& doc, ModelFacts& out, std::string& error) {
  return transactional(out, error, [&](ModelFacts& f, std::string& err) {
    auto kind = detect_config_kind(doc);
    if (!kind) {
      err = std::string("expected a JSON object, got ") + json::type_name(doc.type());
      return false;
    }
    switch (*kind) {
      case ConfigKind::Diffusers: return parse_diffusers(doc, f, err);
      case ConfigKind::SentenceTransformers: return parse_sentence_transformers(doc, f, err);
      case ConfigKind::TensorRtLlm: return parse_engine(doc, f, err, nullptr);
      case ConfigKind::HuggingFace: return parse_hf(doc, f, err);
    }
    return false;
  });
}

bool parse_model_config(std::string_view text, ModelFacts& out, std::string& error) {
  json::Value doc;
  if (!parse_text(text, doc, error))
    return false;
  return parse_model_config_json(doc, out, error);
}

bool parse_diffusers_index(std::string_view text, ModelFacts& out, std::string& error) {
  json::Value doc;
  if (!parse_text(text, doc, error))
    return false;
  return transactional(out, error, [&](ModelFacts& f, std::string& err) { return parse_diffusers(doc, f, err); });
}

bool parse_sentence_transformers_config(std::string_view text, ModelFacts& out, std::string& error) {
  json::Value doc;
  if (!parse_text(text, doc, error))
    return false;
  return transactional(out, error,
                       [&](ModelFacts& f, std::string& err) { return parse_sentence_transformers(doc, f, err); });
}

bool parse_tensorrt_llm_config(std::string_view text, ModelFacts& out, std::string& error,
                               EngineMapping* mapping) {
  json::Value doc;
  if (!parse_text(text, doc, error))
    return false;
  return transactional(out, error,
                       [&](ModelFacts& f, std::string& err) { return parse_engine(doc, f, err, mapping); });
}

}  // namespace omed::model
