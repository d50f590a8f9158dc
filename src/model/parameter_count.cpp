// Parameter counts from config.json: one function per model family, each adding up the tensors
// that family's reference implementation creates, with validated dimensions and checked arithmetic.
#include "omed/model/parameter_count.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "omed/common/json.hpp"

namespace omed::model {
namespace {

// Real dimensions are below 2^24; anything past 2^40 is a broken or hostile config, and keeping
// single factors this small leaves the overflow checks below to catch only absurd products.
constexpr uint64_t kMaxDim = uint64_t{1} << 40;

// An unsigned count that remembers overflow instead of wrapping, so that a config with huge
// dimensions yields "no count" rather than a silently wrong number.
class N {
public:
  constexpr N() = default;
  constexpr N(uint64_t v) : v_(v) {}  // NOLINT: implicit so formulas read like formulas
  static constexpr N bad() {
    N n;
    n.ok_ = false;
    return n;
  }
  constexpr bool ok() const { return ok_; }
  constexpr uint64_t value() const { return v_; }
  friend N operator+(N a, N b) {
    N r;
    r.ok_ = a.ok_ && b.ok_ && !__builtin_add_overflow(a.v_, b.v_, &r.v_);
    return r;
  }
  friend N operator*(N a, N b) {
    N r;
    r.ok_ = a.ok_ && b.ok_ && !__builtin_mul_overflow(a.v_, b.v_, &r.v_);
    return r;
  }
  N& operator+=(N b) { return *this = *this + b; }
  // Integer division as the reference code does it (head_dim = hidden / heads); by zero is bad.
  friend N operator/(N a, N b) {
    if (!a.ok_ || !b.ok_ || b.v_ == 0)
      return bad();
    return N(a.v_ / b.v_);
  }
  // Saturates at zero: only used where the config guarantees a <= b or a clamp is meant.
  friend N operator-(N a, N b) {
    if (!a.ok_ || !b.ok_)
      return bad();
    return N(a.v_ >= b.v_ ? a.v_ - b.v_ : 0);
  }

private:
  uint64_t v_ = 0;
  bool ok_ = true;
};

// Per-count state: the first validation error, whether the result is only an estimate, and notes.
struct Ctx {
  std::string error;
  bool estimate = false;
  std::vector<std::string> notes;

  void fail(std::string why) {
    if (error.empty())
      error = std::move(why);
  }
  void note(std::string s) {
    if (!s.empty() && std::find(notes.begin(), notes.end(), s) == notes.end())
      notes.push_back(std::move(s));
  }
  void approx(std::string why) {
    estimate = true;
    note(std::move(why));
  }
  // Core sizes a top-level config left out, filled from the family's config-class defaults.
  std::vector<std::string> defaulted;
};

// Read access to one config object (or a nested one such as text_config) with validation: a
// present field of the wrong type or out of range is an error, an absent or null one takes the
// family's default (the value transformers' config class would use).
class Cfg {
public:
  Cfg(const json::Value* obj, Ctx& ctx, std::string prefix = {})
    : obj_(obj && obj->is_object() ? obj : nullptr), ctx_(&ctx), prefix_(std::move(prefix)) {}

  bool present() const { return obj_ != nullptr; }
  Ctx& ctx() const { return *ctx_; }
  const json::Value* raw(std::string_view key) const { return obj_ ? obj_->get(key) : nullptr; }
  bool has(std::string_view key) const {
    const json::Value* v = raw(key);
    return v && !v->is_null();
  }
  std::string path(std::string_view key) const { return prefix_ + std::string(key); }

  std::string str(std::string_view key) const {
    const json::Value* v = raw(key);
    return v && v->is_string() ? v->as_string() : std::string();
  }

  // A nested object; present with another type it is an error, absent it reads as empty.
  Cfg sub(std::string_view key) const {
    const json::Value* v = raw(key);
    if (v && !v->is_null() && !v->is_object())
      ctx_->fail(path(key) + ": expected an object, got " + json::type_name(v->type()));
    return Cfg(v, *ctx_, path(key) + ".");
  }

  // A non-negative whole number; nullopt when absent, null or invalid (invalid also records an
  // error, which makes the whole count fail).
  std::optional<uint64_t> uint(std::string_view key) const {
    const json::Value* v = raw(key);
    if (!v || v->is_null())
      return std::nullopt;
    if (v->is_int()) {
      int64_t i = v->as_int();
      if (i < 0) {
        ctx_->fail(path(key) + " is negative (" + std::to_string(i) + ")");
        return std::nullopt;
      }
      if (static_cast<uint64_t>(i) > kMaxDim) {
        ctx_->fail(path(key) + " is implausibly large (" + std::to_string(i) + ")");
        return std::nullopt;
      }
      return static_cast<uint64_t>(i);
    }
    if (v->is_double()) {
      double d = v->as_double();
      if (!(d >= 0)) {
        ctx_->fail(path(key) + " is negative");
        return std::nullopt;
      }
      if (d > static_cast<double>(kMaxDim)) {
        ctx_->fail(path(key) + " is implausibly large");
        return std::nullopt;
      }
      if (d != std::floor(d)) {
        ctx_->fail(path(key) + " is not a whole number");
        return std::nullopt;
      }
      return static_cast<uint64_t>(d);
    }
    ctx_->fail(path(key) + ": expected an integer, got " + json::type_name(v->type()));
    return std::nullopt;
  }

  // A positive dimension; `fallback` 0 means the field is required.
  N dim(std::string_view key, uint64_t fallback = 0) const {
    if (!has(key)) {
      if (fallback) {
        // Nested configs (text_config, vision_config) rely on class defaults by design; a
        // top-level config missing its core sizes is suspicious enough to call an estimate.
        static constexpr std::string_view kCore[] = {"vocab_size", "hidden_size", "num_hidden_layers",
                                                     "intermediate_size", "num_attention_heads"};
        if (prefix_.empty() && std::find(std::begin(kCore), std::end(kCore), key) != std::end(kCore))
          ctx_->defaulted.push_back(std::string(key));
        return N(fallback);
      }
      ctx_->fail("missing " + path(key));
      return N::bad();
    }
    auto u = uint(key);
    if (!u)
      return N::bad();
    if (*u == 0) {
      ctx_->fail(path(key) + " must be positive");
      return N::bad();
    }
    return N(*u);
  }

  // The first present key of several spellings.
  N dim_any(std::initializer_list<std::string_view> keys, uint64_t fallback = 0) const {
    for (auto k : keys)
      if (has(k))
        return dim(k);
    if (fallback)
      return N(fallback);
    ctx_->fail("missing " + path(*keys.begin()));
    return N::bad();
  }
  bool has_any(std::initializer_list<std::string_view> keys) const {
    for (auto k : keys)
      if (has(k))
        return true;
    return false;
  }

  // A count that may legitimately be zero (shared experts, dense leading layers, lora ranks).
  N count(std::string_view key, uint64_t fallback = 0) const {
    if (!has(key))
      return N(fallback);
    auto u = uint(key);
    return u ? N(*u) : N::bad();
  }

  bool flag(std::string_view key, bool fallback) const {
    const json::Value* v = raw(key);
    if (!v || v->is_null())
      return fallback;
    if (v->is_bool())
      return v->as_bool();
    if (v->is_int() && (v->as_int() == 0 || v->as_int() == 1))  // a few old configs write 0/1
      return v->as_int() == 1;
    ctx_->fail(path(key) + ": expected a boolean, got " + json::type_name(v->type()));
    return fallback;
  }

  // A positive real number (mlp_ratio 3.7362, pixel_shuffle_ratio 0.5).
  double real(std::string_view key, double fallback) const {
    const json::Value* v = raw(key);
    if (!v || v->is_null())
      return fallback;
    if (!v->is_number()) {
      ctx_->fail(path(key) + ": expected a number, got " + json::type_name(v->type()));
      return fallback;
    }
    double d = v->as_double();
    if (!(d > 0) || d > static_cast<double>(kMaxDim)) {
      ctx_->fail(path(key) + " is out of range");
      return fallback;
    }
    return d;
  }

  // Length of an array field (cross_attention_layers, deepstack_visual_indexes); 0 if absent.
  uint64_t array_size(std::string_view key) const {
    const json::Value* v = raw(key);
    return v && v->is_array() ? v->as_array().size() : 0;
  }
  // Whole numbers of an array field, invalid entries ignored.
  std::vector<uint64_t> uint_array(std::string_view key) const {
    std::vector<uint64_t> out;
    const json::Value* v = raw(key);
    if (!v || !v->is_array())
      return out;
    for (const auto& e : v->as_array())
      if (e.is_int() && e.as_int() >= 0)
        out.push_back(static_cast<uint64_t>(e.as_int()));
    return out;
  }

private:
  const json::Value* obj_;
  Ctx* ctx_;
  std::string prefix_;
};

// a * r for a real ratio (mlp_ratio), bad when the product leaves the range a count can hold.
N scaled(N a, double r) {
  double p = static_cast<double>(a.value()) * r;
  if (!a.ok() || !(p >= 0) || p >= 9.0e18)
    return N::bad();
  return N(static_cast<uint64_t>(p));
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

std::string architecture_of(const json::Value& root) {
  const json::Value* a = root.get("architectures");
  if (a && a->is_array() && !a->as_array().empty() && a->as_array()[0].is_string())
    return a->as_array()[0].as_string();
  return {};
}

// What sits on top of the decoder stack, read from the architecture class name.
struct Head {
  enum class Kind { Lm, None, Score, Value } kind = Kind::Lm;
  N labels = 1;
  // tie_word_embeddings of an enclosing multimodal config, used when the text config is silent.
  std::optional<bool> tie_fallback;
};

uint64_t num_labels(const json::Value& root) {
  if (const json::Value* n = root.get("num_labels"); n && n->is_int() && n->as_int() > 0 &&
                                                        n->as_int() < (int64_t{1} << 32))
    return static_cast<uint64_t>(n->as_int());
  if (const json::Value* m = root.get("id2label"); m && m->is_object() && !m->as_object().empty())
    return m->as_object().size();
  return 2;  // transformers' default when a config names no labels
}

Head head_of(const json::Value& root, Ctx& ctx) {
  Head h;
  std::string arch = architecture_of(root);
  if (arch.empty())
    return h;
  if (ends_with(arch, "ForSequenceClassification")) {
    h.kind = Head::Kind::Score;
    h.labels = num_labels(root);
  } else if (ends_with(arch, "RewardModel")) {
    h.kind = Head::Kind::Value;
  } else if (ends_with(arch, "ForCausalLM") || ends_with(arch, "LMHeadModel") ||
             ends_with(arch, "ForConditionalGeneration") || ends_with(arch, "ForMaskedLM")) {
    h.kind = Head::Kind::Lm;
  } else if (ends_with(arch, "Model") || ends_with(arch, "ModelWithProjection")) {
    // A base class (MistralModel, Qwen2Model as used for embeddings): no output head stored.
    h.kind = Head::Kind::None;
  } else {
    ctx.approx("unrecognised head class " + arch + ": counted as a language-model head");
  }
  return h;
}

enum class Norm { Rms, Layer, LayerNoBias };

N norm(Norm k, N d) { return k == Norm::Layer ? 2 * d : d; }

// One transformer decoder stack in the shape most open models share. Families fill it from their
// own config keys; the arithmetic is then common.
struct Decoder {
  N vocab, hidden, layers, heads, kv_heads, head_dim, inter;
  bool qkv_bias = false, o_bias = false;
  bool mlp_gated = true, mlp_bias = false;
  Norm norm_kind = Norm::Rms;
  uint64_t norms_per_layer = 2;
  N q_norm = 0, k_norm = 0;  // per-layer q/k normalisation widths (0: none)
  Norm qk_norm_kind = Norm::Rms;
  N extra_per_layer = 0;     // e.g. attention sinks
  std::optional<N> attn;     // precomputed attention size (multi-head latent attention)
  bool tied = false;
  Head head;
  bool lm_head_bias = false;
  bool final_norm = true;
  N embed_rows = 0;          // embedding rows when they differ from vocab (0: vocab)
  // Mixture of experts: `moe_layers` of the layers route over `experts` MLPs of `moe_inter`.
  N experts = 0, moe_inter = 0, moe_layers = 0, shared_inter = 0;
  bool shared_gate = false, router_bias = false, expert_bias = false;
};

N mlp(N h, N i, bool gated, bool bias) {
  N w = (gated ? 3 : 2) * h * i;
  if (bias)
    w += gated ? 2 * i + h : i + h;
  return w;
}

N attention(const Decoder& d) {
  if (d.attn)
    return *d.attn;
  N q = d.heads * d.head_dim, kv = d.kv_heads * d.head_dim;
  N w = d.hidden * q + 2 * d.hidden * kv + q * d.hidden;
  if (d.qkv_bias)
    w += q + 2 * kv;
  if (d.o_bias)
    w += d.hidden;
  return w;
}

N layer_params(const Decoder& d, bool moe) {
  N w = attention(d) + d.norms_per_layer * norm(d.norm_kind, d.hidden) + d.extra_per_layer;
  if (d.q_norm.value())
    w += norm(d.qk_norm_kind, d.q_norm);
  if (d.k_norm.value())
    w += norm(d.qk_norm_kind, d.k_norm);
  if (!moe)
    return w + mlp(d.hidden, d.inter, d.mlp_gated, d.mlp_bias);
  w += d.hidden * d.experts;
  if (d.router_bias)
    w += d.experts;
  w += d.experts * mlp(d.hidden, d.moe_inter, d.mlp_gated, d.expert_bias);
  if (d.shared_inter.value())
    w += mlp(d.hidden, d.shared_inter, d.mlp_gated, false);
  if (d.shared_gate)
    w += d.hidden;
  return w;
}

N head_params(const Decoder& d) {
  switch (d.head.kind) {
    case Head::Kind::Lm: {
      if (d.tied)
        return d.lm_head_bias ? d.vocab : N(0);
      return d.vocab * d.hidden + (d.lm_head_bias ? d.vocab : N(0));
    }
    case Head::Kind::Score: return d.hidden * d.head.labels;
    case Head::Kind::Value: return d.hidden;
    case Head::Kind::None: return 0;
  }
  return 0;
}

N count_decoder(const Decoder& d) {
  N rows = d.embed_rows.value() ? d.embed_rows : d.vocab;
  N total = rows * d.hidden;
  N moe_layers = d.experts.value() ? d.moe_layers : N(0);
  if (moe_layers.value() > d.layers.value())
    moe_layers = d.layers;
  total += (d.layers - moe_layers) * layer_params(d, false);
  if (moe_layers.value())
    total += moe_layers * layer_params(d, true);
  if (d.final_norm)
    total += norm(d.norm_kind, d.hidden);
  return total + head_params(d);
}

// Defaults of a family's config class, for nested configs that leave fields out.
struct Defaults {
  uint64_t vocab = 0, hidden = 0, inter = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0;
  bool tie = false;
  // Families that spell these differently (EXAONE's num_layers, Phi-3-small's ff_intermediate_size).
  std::string_view layers_key = "num_hidden_layers", inter_key = "intermediate_size";
};

// The fields every Llama-descended config spells the same way.
Decoder base_decoder(const Cfg& c, const Head& head, const Defaults& def) {
  Decoder d;
  d.head = head;
  d.vocab = c.dim("vocab_size", def.vocab);
  d.hidden = c.dim("hidden_size", def.hidden);
  d.layers = c.dim(def.layers_key, def.layers);
  d.heads = c.dim("num_attention_heads", def.heads);
  d.kv_heads = c.has("num_key_value_heads") ? c.dim("num_key_value_heads")
                                            : (def.kv_heads ? N(def.kv_heads) : d.heads);
  d.head_dim = c.has("head_dim") ? c.dim("head_dim")
                                 : (def.head_dim ? N(def.head_dim) : d.hidden / d.heads);
  d.inter = c.dim(def.inter_key, def.inter);
  bool tie_default = head.tie_fallback.value_or(def.tie);
  d.tied = c.flag("tie_word_embeddings", tie_default);
  d.qkv_bias = d.o_bias = c.flag("attention_bias", false);
  d.mlp_bias = c.flag("mlp_bias", false);
  return d;
}

using Family = N (*)(const Cfg&, const Head&);

// ---- dense decoders --------------------------------------------------------------------------

N llama(const Cfg& c, const Head& h) {
  return count_decoder(base_decoder(c, h, {32000, 4096, 11008, 32, 32, 0, 0, false}));
}

N mistral(const Cfg& c, const Head& h) {
  return count_decoder(base_decoder(c, h, {32000, 4096, 14336, 32, 32, 8, 0, false}));
}

N qwen2(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {151936, 4096, 22016, 32, 32, 0, 0, false});
  d.qkv_bias = true;  // Qwen2 always biases q/k/v and never o
  d.o_bias = false;
  return count_decoder(d);
}

N qwen3(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {151936, 4096, 22016, 32, 32, 0, 128, false});
  d.q_norm = d.k_norm = d.head_dim;
  return count_decoder(d);
}

N gemma(const Cfg& c, const Head& h) {
  return count_decoder(base_decoder(c, h, {256000, 3072, 24576, 28, 16, 0, 256, true}));
}

N gemma2(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {256000, 2304, 9216, 26, 8, 4, 256, true});
  d.norms_per_layer = 4;  // pre/post norms around both attention and MLP
  return count_decoder(d);
}

N gemma3_text(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {262208, 2304, 9216, 26, 8, 4, 256, true});
  d.norms_per_layer = 4;
  d.q_norm = d.k_norm = d.head_dim;
  return count_decoder(d);
}

N phi3(const Cfg& c, const Head& h) {
  // Fused qkv_proj and gate_up_proj hold exactly the Llama matrices.
  return count_decoder(base_decoder(c, h, {32064, 3072, 8192, 32, 32, 0, 0, false}));
}

N stablelm(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {50304, 2560, 6912, 32, 32, 0, 0, false});
  d.norm_kind = Norm::Layer;
  d.qkv_bias = c.flag("use_qkv_bias", false);
  d.o_bias = false;
  d.norms_per_layer = c.flag("use_parallel_residual", false) ? 1 : 2;
  if (c.flag("qk_layernorm", false)) {
    // One bias-free LayerNorm per head.
    d.q_norm = d.heads * d.head_dim;
    d.k_norm = d.kv_heads * d.head_dim;
    d.qk_norm_kind = Norm::LayerNoBias;
  }
  return count_decoder(d);
}

N cohere(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {256000, 8192, 22528, 40, 64, 0, 0, true});
  d.norm_kind = Norm::LayerNoBias;  // CohereLayerNorm has no bias
  d.norms_per_layer = 1;            // attention and MLP run in parallel off one norm
  if (c.flag("use_qk_norm", false)) {
    d.q_norm = d.heads * d.head_dim;
    d.k_norm = d.kv_heads * d.head_dim;
    d.qk_norm_kind = Norm::LayerNoBias;
  }
  return count_decoder(d);
}

N internlm(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {103168, 4096, 11008, 32, 32, 0, 0, false});
  d.qkv_bias = d.o_bias = c.flag("bias", true);
  return count_decoder(d);
}

N internlm2(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {103168, 4096, 11008, 32, 32, 0, 0, false});
  d.qkv_bias = d.o_bias = c.flag("bias", true);  // wqkv and wo share the flag
  return count_decoder(d);
}

N plain_llama_untied(const Cfg& c, const Head& h) {
  // XVERSE, Baichuan and Granite: Llama's tensors under other names.
  return count_decoder(base_decoder(c, h, {32000, 4096, 11008, 32, 32, 0, 0, false}));
}

N minicpm(const Cfg& c, const Head& h) {
  return count_decoder(base_decoder(c, h, {122753, 2304, 5760, 40, 36, 0, 0, true}));
}

N exaone(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {102400, 4096, 14336, 32, 32, 0, 0, false,
                                  c.has("num_layers") ? "num_layers" : "num_hidden_layers"});
  return count_decoder(d);
}

N olmo2(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {50304, 4096, 11008, 32, 32, 0, 0, false});
  d.q_norm = d.heads * d.head_dim;  // whole-width q/k RMSNorms
  d.k_norm = d.kv_heads * d.head_dim;
  return count_decoder(d);
}

N starcoder2(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {49152, 3072, 12288, 30, 24, 2, 0, true});
  d.norm_kind = Norm::Layer;
  d.qkv_bias = d.o_bias = d.mlp_bias = c.flag("use_bias", true);
  d.mlp_gated = false;
  return count_decoder(d);
}

N phi(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {51200, 2048, 8192, 24, 32, 0, 0, false});
  d.norm_kind = Norm::Layer;
  d.norms_per_layer = 1;  // parallel attention and MLP
  d.qkv_bias = d.o_bias = true;
  d.mlp_gated = false;
  d.mlp_bias = true;
  d.lm_head_bias = true;
  if (c.flag("qk_layernorm", false)) {
    d.q_norm = d.k_norm = d.head_dim;
    d.qk_norm_kind = Norm::Layer;
  }
  return count_decoder(d);
}

N phi3small(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {100352, 4096, 14336, 32, 32, 8, 0, true, "num_hidden_layers",
                                  "ff_intermediate_size"});
  d.norm_kind = Norm::Layer;
  d.qkv_bias = d.o_bias = true;
  d.mlp_bias = true;  // up_proj (2 x ff) and down_proj, both biased
  return count_decoder(d);
}

N qwen_v1(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {151936, 4096, 22016, 32, 32, 0, 0, false});
  d.head_dim = c.dim("kv_channels", 128);
  d.inter = d.inter / 2;  // w1 and w2 are each intermediate_size / 2 wide
  bool no_bias = c.flag("no_bias", true);
  d.qkv_bias = true;  // c_attn is always biased
  d.o_bias = d.mlp_bias = !no_bias;
  return count_decoder(d);
}

N chatglm(const Cfg& c, const Head& h) {
  Decoder d;
  d.head = h;
  if (d.head.kind == Head::Kind::None)
    d.head.kind = Head::Kind::Lm;  // ChatGLMModel carries output_layer
  d.vocab = c.dim_any({"padded_vocab_size", "vocab_size"}, 65024);
  d.hidden = c.dim("hidden_size", 4096);
  d.layers = c.dim_any({"num_layers", "num_hidden_layers"}, 28);
  d.heads = c.dim("num_attention_heads", 32);
  d.kv_heads = c.flag("multi_query_attention", false) ? c.dim("multi_query_group_num", 1) : d.heads;
  d.head_dim = c.dim("kv_channels", 128);
  d.inter = c.dim("ffn_hidden_size", 13696);
  d.qkv_bias = c.flag("add_qkv_bias", false);
  d.o_bias = d.mlp_bias = c.flag("add_bias_linear", false);
  d.norm_kind = c.flag("rmsnorm", true) ? Norm::Rms : Norm::Layer;
  d.final_norm = c.flag("post_layer_norm", true);
  d.tied = c.flag("tie_word_embeddings", false);
  return count_decoder(d);
}

// ---- mixtures of experts ---------------------------------------------------------------------

N mixtral(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {32000, 4096, 14336, 32, 32, 8, 0, false});
  d.experts = c.dim("num_local_experts", 8);
  d.moe_inter = d.inter;
  d.moe_layers = d.layers;
  return count_decoder(d);
}

N phimoe(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {32064, 4096, 6400, 32, 32, 8, 0, false});
  d.norm_kind = Norm::Layer;
  d.lm_head_bias = c.flag("lm_head_bias", false);
  d.experts = c.dim("num_local_experts", 16);
  d.moe_inter = d.inter;
  d.moe_layers = d.layers;
  return count_decoder(d);
}

// Layers that route over experts in Qwen's MoE configs: every decoder_sparse_step-th layer that
// mlp_only_layers does not pin to a dense MLP.
N qwen_moe_layers(const Cfg& c, N layers) {
  N step = c.dim("decoder_sparse_step", 1);
  if (!layers.ok() || !step.ok())
    return N::bad();
  uint64_t sparse = layers.value() / step.value();
  std::set<uint64_t> pinned;
  for (uint64_t i : c.uint_array("mlp_only_layers"))
    if (i < layers.value() && (i + 1) % step.value() == 0)
      pinned.insert(i);
  return N(sparse - std::min<uint64_t>(sparse, pinned.size()));
}

N qwen2_moe(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {151936, 2048, 5632, 24, 16, 0, 0, false});
  d.qkv_bias = true;
  d.o_bias = false;
  d.experts = c.dim("num_experts", 60);
  d.moe_inter = c.dim("moe_intermediate_size", 1408);
  d.shared_inter = c.count("shared_expert_intermediate_size", 5632);
  d.shared_gate = d.shared_inter.value() != 0;
  d.moe_layers = qwen_moe_layers(c, d.layers);
  return count_decoder(d);
}

N qwen3_moe(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {151936, 2048, 6144, 24, 32, 4, 128, false});
  d.q_norm = d.k_norm = d.head_dim;
  d.experts = c.dim("num_experts", 128);
  d.moe_inter = c.dim("moe_intermediate_size", 768);
  d.moe_layers = qwen_moe_layers(c, d.layers);
  return count_decoder(d);
}

N gpt_oss(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {201088, 2880, 2880, 36, 64, 8, 64, false});
  d.qkv_bias = d.o_bias = c.flag("attention_bias", true);
  d.extra_per_layer = d.heads;  // one learned attention sink per head
  d.experts = c.dim_any({"num_local_experts", "num_experts"}, 128);
  d.moe_inter = d.inter;
  d.moe_layers = d.layers;
  d.router_bias = d.expert_bias = true;
  return count_decoder(d);
}

N llama4_text(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {202048, 5120, 8192, 48, 40, 8, 128, false});
  d.inter = c.dim("intermediate_size_mlp", 16384);  // dense layers
  d.moe_inter = c.dim("intermediate_size", 8192);    // routed and shared experts
  d.shared_inter = d.moe_inter;
  d.experts = c.dim("num_local_experts", 16);
  N step = c.dim("interleave_moe_layer_step", 1);
  d.moe_layers = d.layers / step;  // layers step-1, 2*step-1, ...
  // use_qk_norm is a weightless L2 norm.
  return count_decoder(d);
}

N dbrx(const Cfg& c, const Head& h) {
  Cfg attn = c.sub("attn_config"), ffn = c.sub("ffn_config");
  Decoder d;
  d.head = h;
  d.vocab = c.dim("vocab_size", 100352);
  d.hidden = c.dim("d_model", 6144);
  d.layers = c.dim("n_layers", 40);
  d.heads = c.dim("n_heads", 48);
  d.kv_heads = attn.dim("kv_n_heads", 8);
  d.head_dim = d.hidden / d.heads;
  d.norm_kind = Norm::LayerNoBias;
  d.tied = c.flag("tie_word_embeddings", false);
  d.experts = ffn.dim("moe_num_experts", 16);
  d.moe_inter = ffn.dim("ffn_hidden_size", 10752);
  d.moe_layers = d.layers;
  return count_decoder(d);
}

// Multi-head latent attention (DeepSeek-V2/V3, Kimi-K2, MiniCPM3): low-rank q and kv projections.
N mla_attention(const Cfg& c, N hidden, N heads, N v_head_default) {
  N q_lora = c.count("q_lora_rank"), kv_lora = c.count("kv_lora_rank");
  N nope = c.count("qk_nope_head_dim", 128), rope = c.count("qk_rope_head_dim", 64);
  N v = c.has("v_head_dim") ? c.count("v_head_dim") : v_head_default;
  N qk = nope + rope;
  bool bias = c.flag("attention_bias", false);
  N w = q_lora.value() ? hidden * q_lora + q_lora + q_lora * heads * qk : hidden * heads * qk;
  if (bias && q_lora.value())
    w += q_lora;
  w += hidden * (kv_lora + rope) + kv_lora + kv_lora * heads * (nope + v);
  if (bias)
    w += kv_lora + rope + hidden;
  return w + heads * v * hidden;
}

N deepseek(const Cfg& c, const Head& h, bool v3) {
  Decoder d = base_decoder(c, h, {v3 ? 129280u : 102400u, v3 ? 7168u : 4096u, v3 ? 18432u : 11008u,
                                  v3 ? 61u : 30u, v3 ? 128u : 32u, 0, 0, false});
  // Checkpoints such as DeepSeek-VL2-Tiny switch latent attention off and use plain MHA.
  bool mla = c.flag("use_mla", true) && c.count("kv_lora_rank").value() != 0;
  if (mla)
    d.attn = mla_attention(c, d.hidden, d.heads, 128);
  d.experts = c.count("n_routed_experts");
  if (d.experts.value()) {
    d.moe_inter = c.dim("moe_intermediate_size");
    d.shared_inter = c.count("n_shared_experts") * d.moe_inter;
    // V3's router carries a per-expert score-correction bias.
    d.router_bias = c.str("topk_method") == "noaux_tc" || (v3 && !c.has("topk_method"));
    N first = c.count("first_k_dense_replace"), freq = c.dim("moe_layer_freq", 1);
    if (d.layers.ok() && first.ok() && freq.ok()) {
      uint64_t n = 0, L = d.layers.value(), f = freq.value();
      uint64_t start = std::min(first.value(), L);
      // Layers i in [first, L) with i % freq == 0.
      uint64_t first_multiple = (start + f - 1) / f * f;
      if (first_multiple < L)
        n = (L - 1 - first_multiple) / f + 1;
      d.moe_layers = N(n);
    } else {
      d.moe_layers = N::bad();
    }
  }
  N total = count_decoder(d);
  // Multi-token-prediction modules ship in the checkpoint (DeepSeek-V3's "685B" = 671B + 14B).
  N mtp = c.count("num_nextn_predict_layers");
  if (mtp.value()) {
    N one = layer_params(d, d.experts.value() != 0) + 3 * d.hidden + 2 * d.hidden * d.hidden +
            2 * d.vocab * d.hidden;
    total += mtp * one;
    c.ctx().note("includes " + std::to_string(mtp.value()) +
                 " multi-token-prediction layer(s) stored with the weights");
  }
  return total;
}

N deepseek_v2(const Cfg& c, const Head& h) { return deepseek(c, h, false); }
N deepseek_v3(const Cfg& c, const Head& h) { return deepseek(c, h, true); }

N minicpm3(const Cfg& c, const Head& h) {
  Decoder d = base_decoder(c, h, {73448, 2560, 6400, 62, 40, 0, 0, true});
  d.attn = mla_attention(c, d.hidden, d.heads, (d.hidden / d.heads).value());
  return count_decoder(d);
}

// ---- encoders --------------------------------------------------------------------------------

// A pre-LayerNorm/post-LayerNorm transformer block with biases everywhere (BERT, CLIP, SigLIP,
// ViT): q/k/v/o, two LayerNorms, fc1/fc2.
N vit_block(N h, N i) { return 4 * h * h + 4 * h + 2 * 2 * h + h * i + i + i * h + h; }

N bert_like(const Cfg& c, const Head& h, bool roberta) {
  N V = c.dim("vocab_size", roberta ? 50265 : 30522), H = c.dim("hidden_size", 768);
  N L = c.dim("num_hidden_layers", 12), I = c.dim("intermediate_size", 3072);
  N pos = c.dim("max_position_embeddings", roberta ? 514 : 512);
  N types = c.count("type_vocab_size", roberta ? 1 : 2);
  N total = V * H + pos * H + types * H + 2 * H + L * vit_block(H, I);
  N pooler = H * H + H;
  switch (h.kind) {
    case Head::Kind::None: return total + pooler;
    case Head::Kind::Score:
      // BERT classifies off the pooler; RoBERTa-likes drop the pooler for a dense + out_proj head
      // of the same size.
      return total + pooler + H * h.labels + h.labels;
    case Head::Kind::Lm:
      // Masked-LM head: transform dense + LayerNorm + output bias (decoder weight is tied).
      return total + H * H + H + 2 * H + V;
    case Head::Kind::Value: return total + pooler + H;
  }
  return total;
}

N bert(const Cfg& c, const Head& h) { return bert_like(c, h, false); }
N roberta(const Cfg& c, const Head& h) { return bert_like(c, h, true); }

N whisper(const Cfg& c, const Head&) {
  N d = c.dim("d_model", 384), V = c.dim("vocab_size", 51865), mel = c.dim("num_mel_bins", 80);
  N enc_l = c.dim("encoder_layers", 4), dec_l = c.dim("decoder_layers", 4);
  N enc_f = c.dim("encoder_ffn_dim", 1536), dec_f = c.dim("decoder_ffn_dim", 1536);
  N src = c.dim("max_source_positions", 1500), tgt = c.dim("max_target_positions", 448);
  N attn = 4 * d * d + 3 * d;  // k_proj has no bias
  N enc = mel * d * 3 + d + d * d * 3 + d + src * d +
          enc_l * (attn + 2 * d + d * enc_f + enc_f + enc_f * d + d + 2 * d) + 2 * d;
  N dec = V * d + tgt * d + dec_l * (2 * attn + 3 * 2 * d + d * dec_f + dec_f + dec_f * d + d) + 2 * d;
  N total = enc + dec;
  if (!c.flag("tie_word_embeddings", true))
    total += V * d;
  return total;
}

// ---- vision towers ---------------------------------------------------------------------------

struct VisionDefaults {
  uint64_t hidden, inter, layers, image, patch;
};

N patches(const Cfg& v, uint64_t image_def, uint64_t patch_def) {
  N img = v.dim("image_size", image_def), p = v.dim("patch_size", patch_def);
  N side = img / p;
  return side * side;
}

// CLIPVisionModel: class token, bias-free patch conv, learned positions, pre/post LayerNorms.
N clip_vision(const Cfg& v, const VisionDefaults& def) {
  N h = v.dim("hidden_size", def.hidden), i = v.dim("intermediate_size", def.inter);
  N L = v.dim("num_hidden_layers", def.layers), ch = v.dim("num_channels", 3);
  N p = v.dim("patch_size", def.patch);
  N np = patches(v, def.image, def.patch);
  return h + ch * p * p * h + (np + 1) * h + 2 * h + L * vit_block(h, i) + 2 * h;
}

// SiglipVisionModel: biased patch conv, no class token, post LayerNorm, optional pooling head.
N siglip_vision(const Cfg& v, const VisionDefaults& def) {
  N h = v.dim("hidden_size", def.hidden), i = v.dim("intermediate_size", def.inter);
  N L = v.dim("num_hidden_layers", def.layers), ch = v.dim("num_channels", 3);
  N p = v.dim("patch_size", def.patch);
  N np = patches(v, def.image, def.patch);
  N w = ch * p * p * h + h + np * h + L * vit_block(h, i) + 2 * h;
  if (v.flag("vision_use_head", true))
    w += h + 3 * h * h + 3 * h + h * h + h + 2 * h + h * i + i + i * h + h;
  return w;
}

N clip_text(const Cfg& t) {
  N V = t.dim("vocab_size", 49408), h = t.dim("hidden_size", 512), i = t.dim("intermediate_size", 2048);
  N L = t.dim("num_hidden_layers", 12), pos = t.dim("max_position_embeddings", 77);
  return V * h + pos * h + L * vit_block(h, i) + 2 * h;
}

constexpr VisionDefaults kClipVision{768, 3072, 12, 224, 32};
constexpr VisionDefaults kSiglipVision{768, 3072, 12, 224, 16};

N clip(const Cfg& c, const Head&) {
  Cfg t = c.sub("text_config"), v = c.sub("vision_config");
  N proj = c.dim("projection_dim", 512);
  N th = t.dim("hidden_size", 512), vh = v.dim("hidden_size", 768);
  return clip_text(t) + clip_vision(v, kClipVision) + th * proj + vh * proj + 1;  // + logit_scale
}

N clip_vision_model(const Cfg& c, const Head&) { return clip_vision(c, kClipVision); }

N siglip(const Cfg& c, const Head&) {
  Cfg t = c.sub("text_config"), v = c.sub("vision_config");
  N V = t.dim("vocab_size", 32000), h = t.dim("hidden_size", 768), i = t.dim("intermediate_size", 3072);
  N L = t.dim("num_hidden_layers", 12), pos = t.dim("max_position_embeddings", 64);
  N text = V * h + pos * h + L * vit_block(h, i) + 2 * h + h * h + h;  // + text head
  return text + siglip_vision(v, kSiglipVision) + 2;                   // + logit scale and bias
}

N siglip_vision_model(const Cfg& c, const Head&) { return siglip_vision(c, kSiglipVision); }

// ---- multimodal ------------------------------------------------------------------------------

Family family_for(std::string_view model_type);

// The language model inside a multimodal config, counted with its own family's formula.
N text_part(const Cfg& t, std::string_view default_type, Head head) {
  std::string type = t.str("model_type");
  if (type.empty())
    type = std::string(default_type);
  Family f = family_for(type);
  if (!f) {
    t.ctx().approx("language model type '" + type + "' unknown: counted as Llama");
    f = llama;
  }
  return f(t, head);
}

Head lm_head_with_tie(const Cfg& root) {
  Head h;
  if (root.has("tie_word_embeddings"))
    h.tie_fallback = root.flag("tie_word_embeddings", false);
  return h;
}

N llava(const Cfg& c, const Head&) {
  if (!c.has("text_config")) {
    // Original LLaVA checkpoints (LlavaLlamaForCausalLM): language model plus mm_projector; the
    // vision tower is downloaded separately from mm_vision_tower.
    Head h;
    N text = llama(c, h);
    N h_dim = c.dim("hidden_size", 4096), mm = c.dim("mm_hidden_size", 1024);
    std::string type = c.str("mm_projector_type");
    N proj = mm * h_dim + h_dim;
    if (type.rfind("mlp", 0) == 0 && ends_with(type, "x_gelu")) {
      uint64_t depth = 0;
      for (char ch : type.substr(3, type.size() - 9))
        depth = ch >= '0' && ch <= '9' ? depth * 10 + static_cast<uint64_t>(ch - '0') : 0;
      if (depth > 1 && depth < 64)
        proj += (depth - 1) * (h_dim * h_dim + h_dim);
    } else if (type == "identity") {
      proj = 0;
    }
    std::string tower = c.str("mm_vision_tower");
    c.ctx().approx("vision tower" + (tower.empty() ? std::string() : " " + tower) +
                   " is not stored with these weights and not counted");
    return text + proj;
  }
  Cfg t = c.sub("text_config"), v = c.sub("vision_config");
  N text = text_part(t, "llama", lm_head_with_tie(c));
  std::string vtype = v.str("model_type");
  N vision = vtype == "siglip_vision_model" ? siglip_vision(v, kSiglipVision)
                                            : clip_vision(v, {1024, 4096, 24, 336, 14});
  N vh = v.dim("hidden_size", 1024), th = t.dim("hidden_size", 4096);
  const json::Value* layer = c.raw("vision_feature_layer");
  N feature_layers = layer && layer->is_array() ? N(std::max<uint64_t>(1, layer->as_array().size())) : N(1);
  bool bias = c.flag("multimodal_projector_bias", true);
  N proj = feature_layers * vh * th + th * th + (bias ? 2 * th : N(0));
  N total = text + vision + proj;
  std::string type = c.str("model_type");
  if (type == "llava_next" || type == "llava_onevision" || type == "llava_next_video")
    total += th;  // image_newline
  return total;
}

N gemma3(const Cfg& c, const Head&) {
  Cfg t = c.sub("text_config"), v = c.sub("vision_config");
  Head h = lm_head_with_tie(c);
  N text = gemma3_text(t, h);
  N vision = siglip_vision(v, {1152, 4304, 27, 896, 14});
  N vh = v.dim("hidden_size", 1152), th = t.dim("hidden_size", 2304);
  return text + vision + vh * th + vh;  // mm_input_projection + mm_soft_emb_norm
}

N mllama(const Cfg& c, const Head&) {
  Cfg t = c.sub("text_config"), v = c.sub("vision_config");
  // Text: self-attention layers plus gated cross-attention layers with q/k norms.
  Decoder d = base_decoder(t, Head{}, {128256, 4096, 14336, 40, 32, 8, 0, false});
  d.embed_rows = d.vocab + 8;  // eight extra rows for the image special tokens
  uint64_t cross = t.has("cross_attention_layers") ? t.array_size("cross_attention_layers") : 8;
  N C = N(std::min<uint64_t>(cross, d.layers.ok() ? d.layers.value() : 0));
  N text = count_decoder(d) + C * (2 * d.head_dim + 2);
  // Vision: tiled ViT with gated positional and tile embeddings and a gated global encoder.
  N h = v.dim("hidden_size", 1280), i = v.dim("intermediate_size", 5120);
  N L = v.dim("num_hidden_layers", 32), G = v.dim("num_global_layers", 8);
  N ch = v.dim("num_channels", 3), p = v.dim("patch_size", 14), tiles = v.dim("max_num_tiles", 4);
  N np = patches(v, 448, 14) + 1;
  uint64_t ratios = v.has("supported_aspect_ratios") ? v.array_size("supported_aspect_ratios") : 8;
  N ratio_rows = N(ratios) + 1;
  N layer = 4 * h * h + h * i + i + i * h + h + 2 * 2 * h;
  N vision = ch * p * p * h + h + (np * h + 1) + ratio_rows * tiles * np * h +
             2 * (ratio_rows * tiles * h + 1) + 2 * 2 * h + L * layer + G * (layer + 2);
  N out = v.dim("vision_output_dim", 7680);
  N th = t.dim("hidden_size", 4096);
  return text + vision + out * th + th;
}

N phi3_v(const Cfg& c, const Head& h) {
  N text = phi3(c, h);
  Cfg img = c.sub("img_processor"), emb = c.sub("embd_layer");
  N dim_out = img.dim("image_dim_out", 1024);
  std::string name = img.str("model_name");
  N vision;
  if (name.empty() || contains(name, "clip-vit-large-patch14-336")) {
    vision = clip_vision(img, {1024, 4096, 24, 336, 14});
  } else {
    c.ctx().approx("image encoder " + name + " is not known: counted as CLIP ViT-L/14");
    vision = clip_vision(img, {1024, 4096, 24, 336, 14});
  }
  N th = c.dim("hidden_size", 3072);
  bool hd = emb.flag("use_hd_transform", true);
  N in = hd ? 4 * dim_out : dim_out;
  N proj = emb.str("projection_cls") == "linear" ? in * th + th : in * th + th + th * th + th;
  N separators = hd ? 2 * 4 * dim_out : N(0);  // glb_GN and sub_GN
  return text + vision + proj + separators;
}

N qwen2_vl_vision(const Cfg& v) {
  N embed = v.dim("embed_dim", 1280), depth = v.dim("depth", 32);
  N in = v.dim_any({"in_chans", "in_channels"}, 3), p = v.dim("patch_size", 14);
  N t = v.dim("temporal_patch_size", 2), m = v.dim("spatial_merge_size", 2);
  N out = v.dim("hidden_size", 3584);
  N mlp_hidden = scaled(embed, v.real("mlp_ratio", 4));
  N merged = embed * m * m;
  return in * t * p * p * embed + depth * vit_block(embed, mlp_hidden) + 2 * embed + merged * merged +
         merged + merged * out + out;
}

N qwen25_vl_vision(const Cfg& v) {
  N h = v.dim("hidden_size", 1280), i = v.dim("intermediate_size", 3420), depth = v.dim("depth", 32);
  N in = v.dim_any({"in_chans", "in_channels"}, 3), p = v.dim("patch_size", 14);
  N t = v.dim("temporal_patch_size", 2), m = v.dim("spatial_merge_size", 2);
  N out = v.dim("out_hidden_size", 3584);
  N block = 2 * h + 3 * h * h + 3 * h + h * h + h + mlp(h, i, true, true);  // RMSNorms, gated MLP
  N merged = h * m * m;
  return in * t * p * p * h + depth * block + h + merged * merged + merged + merged * out + out;
}

N qwen3_vl_vision(const Cfg& v, bool deepstack) {
  N h = v.dim("hidden_size", 1152), i = v.dim("intermediate_size", 4304), depth = v.dim("depth", 27);
  N in = v.dim_any({"in_channels", "in_chans"}, 3), p = v.dim("patch_size", 16);
  N t = v.dim("temporal_patch_size", 2), m = v.dim("spatial_merge_size", 2);
  N out = v.dim("out_hidden_size", 3584), pos = v.count("num_position_embeddings", 2304);
  N merged = h * m * m;
  N merger_mlp = merged * merged + merged + merged * out + out;
  N w = in * t * p * p * h + h + pos * h + depth * vit_block(h, i) + 2 * h + merger_mlp;
  if (deepstack)
    w += N(v.array_size("deepstack_visual_indexes")) * (2 * merged + merger_mlp);
  return w;
}

// Qwen2-VL and Qwen2.5-VL keep the language model's fields at the top level (older releases)
// or in text_config (newer transformers).
Cfg qwen_vl_text(const Cfg& c) { return c.has("text_config") ? c.sub("text_config") : c; }

N qwen2_vl(const Cfg& c, const Head&) {
  return qwen2(qwen_vl_text(c), lm_head_with_tie(c)) + qwen2_vl_vision(c.sub("vision_config"));
}

N qwen2_5_vl(const Cfg& c, const Head&) {
  return qwen2(qwen_vl_text(c), lm_head_with_tie(c)) + qwen25_vl_vision(c.sub("vision_config"));
}

N qwen3_vl(const Cfg& c, const Head&) {
  return qwen3(c.sub("text_config"), lm_head_with_tie(c)) + qwen3_vl_vision(c.sub("vision_config"), true);
}

N qwen3_vl_moe(const Cfg& c, const Head&) {
  return qwen3_moe(c.sub("text_config"), lm_head_with_tie(c)) +
         qwen3_vl_vision(c.sub("vision_config"), true);
}

N qwen3_5(const Cfg& c, const Head&) {
  c.ctx().approx("Qwen3.5 mixes linear-attention layers this config does not describe: every layer "
                 "counted as full attention");
  Cfg t = c.sub("text_config");
  bool moe = t.has("num_experts");
  N text = moe ? qwen3_moe(t, lm_head_with_tie(c)) : qwen3(t, lm_head_with_tie(c));
  return text + qwen3_vl_vision(c.sub("vision_config"), false);
}

N llama4(const Cfg& c, const Head&) {
  Cfg t = c.sub("text_config"), v = c.sub("vision_config");
  N text = llama4_text(t, lm_head_with_tie(c));
  N h = v.dim("hidden_size", 1408), i = v.dim("intermediate_size", 5632), L = v.dim("num_hidden_layers", 34);
  N ch = v.dim("num_channels", 3), p = v.dim("patch_size", 14);
  N np = patches(v, 336, 14);
  N proj_in = v.dim("projector_input_dim", 4096), proj_out = v.dim("projector_output_dim", 4096);
  N vision = ch * p * p * h + h + (np + 1) * h + 2 * 2 * h + L * vit_block(h, i) +
             i * proj_in + proj_out * proj_out;  // pixel-shuffle MLP, bias-free
  N th = t.dim("hidden_size", 5120), out = v.dim("vision_output_dim", 4096);
  return text + vision + out * th;
}

// SigLIP sizes from timm model names such as "siglip_so400m_patch14_384".
VisionDefaults timm_siglip(std::string_view name) {
  VisionDefaults d{768, 3072, 12, 224, 16};
  if (contains(name, "so400m"))
    d = {1152, 4304, 27, 384, 14};
  else if (contains(name, "large"))
    d = {1024, 4096, 24, 384, 16};
  if (contains(name, "_224"))
    d.image = 224;
  else if (contains(name, "_256"))
    d.image = 256;
  else if (contains(name, "_384"))
    d.image = 384;
  else if (contains(name, "_512"))
    d.image = 512;
  return d;
}

// timm SigLIP towers with their attention-pooling head.
N timm_siglip_tower(const VisionDefaults& d) {
  N h = d.hidden, i = d.inter, side = N(d.image) / N(d.patch);
  N pool = h + h * h + h + 2 * h * h + 2 * h + h * h + h + 2 * h + h * i + i + i * h + h;
  return 3 * N(d.patch) * N(d.patch) * h + h + side * side * h + N(d.layers) * vit_block(h, i) + 2 * h + pool;
}

N deepseek_vl_v2(const Cfg& c, const Head&) {
  c.ctx().approx("DeepSeek-VL2 vision tower sized from its timm name; projector from defaults");
  Cfg t = c.sub("language_config"), v = c.sub("vision_config"), pc = c.sub("projector_config");
  N text = deepseek_v2(t, Head{});
  VisionDefaults vd = timm_siglip(v.str("model_name"));
  vd.hidden = v.dim("width", vd.hidden).value();
  vd.layers = v.dim("layers", vd.layers).value();
  vd.patch = v.dim("patch_size", vd.patch).value();
  N inter = scaled(N(vd.hidden), v.real("mlp_ratio", 3.7362));
  vd.inter = inter.value();
  N vision = inter.ok() ? timm_siglip_tower(vd) : N::bad();
  N n = pc.dim("n_embed", 1280), in = pc.dim("input_dim", vd.hidden), r = pc.dim("downsample_ratio", 2);
  N depth = pc.dim("depth", 2);
  N proj = in * r * r * n + n + (depth - 1) * (n * n + n);
  return text + vision + proj + 2 * n;  // + image_newline and view_seperator
}

// Janus (model_type multi_modality): Llama language model, SigLIP understanding encoder, VQ image
// tokenizer and the generation head and aligners.
N multi_modality(const Cfg& c, const Head&) {
  c.ctx().approx("Janus VQ image tokenizer not described by the config: taken as 72M parameters");
  Cfg t = c.sub("language_config");
  N text = llama(t, Head{});
  VisionDefaults vd = timm_siglip(c.sub("vision_config").sub("params").str("model_name"));
  N vision = timm_siglip_tower(vd) - (N(vd.hidden) + 3 * N(vd.hidden) * N(vd.hidden));  // no pool probe
  auto aligner = [&](std::string_view key) {
    Cfg p = c.sub(key).sub("params");
    N in = p.dim("input_dim", 1024), n = p.dim("n_embed", 2048), depth = p.dim("depth", 2);
    return in * n + n + (depth - 1) * (n * n + n);
  };
  Cfg gh = c.sub("gen_head_config").sub("params");
  N n = gh.dim("n_embed", 2048), tok_embed = gh.dim("image_token_embed", 2048);
  N tok = gh.dim("image_token_size", 16384);
  N gen_head = n * tok_embed + tok_embed + tok_embed * tok + tok;
  N gen_embed = tok * c.sub("gen_vision_config").sub("params").dim("n_embed", 8);
  return text + vision + aligner("aligner_config") + aligner("gen_aligner_config") + gen_head + gen_embed +
         N(72'000'000);
}

// Janus as transformers ships it (model_type janus): the same parts as multi_modality under
// text_config / vision_config / vq_config.
N janus(const Cfg& c, const Head&) {
  c.ctx().approx("Janus VQ image tokenizer not described by the config: taken as 72M parameters");
  Cfg t = c.sub("text_config"), v = c.sub("vision_config"), vq = c.sub("vq_config");
  N text = llama(t, Head{});
  N vision = siglip_vision(v, {1024, 4096, 24, 384, 16});
  N th = t.dim("hidden_size", 2048), vh = v.dim("hidden_size", 1024);
  N code_dim = vq.dim("embed_dim", 8), codes = vq.dim("num_embeddings", 16384);
  N aligners = vh * th + th + th * th + th + code_dim * th + th + th * th + th;
  N gen_head = th * th + th + th * codes + codes;
  return text + vision + aligners + gen_head + codes * code_dim + N(72'000'000);
}

// ---- fallback --------------------------------------------------------------------------------

// Llama-shaped estimate from whatever sizes a config of an unknown family states.
N generic(const Cfg& root, const Head& head) {
  Cfg c = root;
  for (std::string_view k : {"text_config", "llm_config", "language_config"})
    if (root.sub(k).present()) {
      c = root.sub(k);
      break;
    }
  N h = c.dim_any({"hidden_size", "d_model", "n_embd", "model_dim", "dim"});
  N L = c.dim_any({"num_hidden_layers", "num_layers", "n_layers", "n_layer"});
  N V = c.dim_any({"vocab_size", "padded_vocab_size", "n_vocab"});
  if (!c.ctx().error.empty())
    return N::bad();
  Decoder d;
  d.head = head;
  d.vocab = V;
  d.hidden = h;
  d.layers = L;
  d.heads = c.dim_any({"num_attention_heads", "n_heads", "n_head", "num_heads"},
                      std::max<uint64_t>(1, h.value() / 128));
  std::initializer_list<std::string_view> kv_keys = {"num_key_value_heads", "num_kv_heads", "n_head_kv",
                                                     "n_kv_heads", "multi_query_group_num"};
  if (c.has_any(kv_keys))
    d.kv_heads = c.dim_any(kv_keys);
  else
    d.kv_heads = c.flag("multi_query", false) ? N(1) : d.heads;
  d.head_dim = c.has("head_dim") ? c.dim("head_dim") : h / d.heads;
  std::initializer_list<std::string_view> inter_keys = {"intermediate_size", "ffn_hidden_size", "ffn_dim",
                                                        "n_inner", "d_ff"};
  std::string act = c.str("hidden_act");
  if (c.has_any(inter_keys)) {
    d.inter = c.dim_any(inter_keys);
    d.mlp_gated = act.empty() || contains(act, "silu") || contains(act, "swi") || contains(act, "glu");
  } else {
    // GPT-style configs leave the MLP implicit: one 4x up and one down projection.
    d.inter = 4 * h;
    d.mlp_gated = contains(act, "silu") || contains(act, "glu");
  }
  d.tied = c.flag("tie_word_embeddings", true);
  d.experts = c.count(c.has("num_local_experts") ? "num_local_experts"
                      : c.has("n_routed_experts") ? "n_routed_experts" : "num_experts");
  if (d.experts.value() > 1) {
    d.moe_inter = c.has("moe_intermediate_size") ? c.dim("moe_intermediate_size") : d.inter;
    d.shared_inter = c.count("n_shared_experts") * d.moe_inter;
    d.moe_layers = d.layers;
  } else {
    d.experts = 0;
  }
  N total = count_decoder(d);
  Cfg v = root.sub("vision_config");
  if (v.present() && v.has_any({"hidden_size", "width", "embed_dim"}) &&
      v.has_any({"num_hidden_layers", "depth", "layers"})) {
    N vh = v.dim_any({"hidden_size", "width", "embed_dim"});
    N vl = v.dim_any({"num_hidden_layers", "depth", "layers"});
    N vi = v.dim("intermediate_size", (4 * vh).ok() ? (4 * vh).value() : 0);
    total += vl * vit_block(vh, vi) + vh * h;
  }
  return total;
}

struct Entry {
  std::string_view type;
  Family fn;
};

// model_type -> family. Every key OME registers is here, plus common relatives.
constexpr Entry kFamilies[] = {
  {"llama", llama},
  {"mistral", mistral},
  {"mixtral", mixtral},
  {"qwen", qwen_v1},
  {"qwen2", qwen2},
  {"qwen2_moe", qwen2_moe},
  {"qwen3", qwen3},
  {"qwen3_moe", qwen3_moe},
  {"gemma", gemma},
  {"gemma2", gemma2},
  {"gemma3_text", gemma3_text},
  {"gemma3", gemma3},
  {"phi", phi},
  {"phi3", phi3},
  {"phi3small", phi3small},
  {"phimoe", phimoe},
  {"phi3_v", phi3_v},
  {"stablelm", stablelm},
  {"cohere", cohere},
  {"command-r", cohere},
  {"internlm", internlm},
  {"internlm2", internlm2},
  {"xverse", plain_llama_untied},
  {"baichuan", plain_llama_untied},
  {"granite", plain_llama_untied},
  {"exaone", exaone},
  {"minicpm", minicpm},
  {"minicpm3", minicpm3},
  {"olmo2", olmo2},
  {"starcoder2", starcoder2},
  {"chatglm", chatglm},
  {"dbrx", dbrx},
  {"deepseek_v2", deepseek_v2},
  {"deepseek_v3", deepseek_v3},
  {"kimi_k2", deepseek_v3},
  {"gpt_oss", gpt_oss},
  {"llama4_text", llama4_text},
  {"llama4", llama4},
  {"llava", llava},
  {"llava_next", llava},
  {"llava_onevision", llava},
  {"mllama", mllama},
  {"qwen2_vl", qwen2_vl},
  {"qwen2_5_vl", qwen2_5_vl},
  {"qwen3_vl", qwen3_vl},
  {"qwen3_vl_text", qwen3},
  {"qwen3_vl_moe", qwen3_vl_moe},
  {"qwen3_vl_moe_text", qwen3_moe},
  {"qwen3_5", qwen3_5},
  {"qwen3_5_moe", qwen3_5},
  {"deepseek_vl_v2", deepseek_vl_v2},
  {"multi_modality", multi_modality},
  {"janus", janus},
  {"bert", bert},
  {"roberta", roberta},
  {"xlm-roberta", roberta},
  {"camembert", roberta},
  {"whisper", whisper},
  {"clip", clip},
  {"clip_vision_model", clip_vision_model},
  {"siglip", siglip},
  {"siglip_vision_model", siglip_vision_model},
};

// Families whose formula has been checked against a published safetensors total or whose layout
// is the plain Llama/BERT one; the rest are labelled estimates.
constexpr std::string_view kEstimated[] = {"dbrx", "qwen3_5", "qwen3_5_moe", "deepseek_vl_v2",
                                           "multi_modality", "janus", "siglip"};

Family family_for(std::string_view model_type) {
  for (const auto& e : kFamilies)
    if (e.type == model_type)
      return e.fn;
  return nullptr;
}

// Families for configs without model_type, by architecture class prefix.
std::string type_from_architecture(std::string_view arch) {
  struct Map {
    std::string_view prefix, type;
  };
  static constexpr Map kMap[] = {
    {"Llama4", "llama4"}, {"Llama", "llama"}, {"Mistral", "mistral"}, {"Mixtral", "mixtral"},
    {"Qwen3Moe", "qwen3_moe"}, {"Qwen3", "qwen3"}, {"Qwen2Moe", "qwen2_moe"}, {"Qwen2", "qwen2"},
    {"Gemma3", "gemma3_text"}, {"Gemma2", "gemma2"}, {"Gemma", "gemma"}, {"Phi3", "phi3"},
    {"PhiMoE", "phimoe"}, {"Phi", "phi"}, {"Cohere", "cohere"}, {"StableLm", "stablelm"},
    {"InternLM2", "internlm2"}, {"Xverse", "xverse"}, {"Baichuan", "baichuan"},
    {"DeepseekV3", "deepseek_v3"}, {"DeepseekV2", "deepseek_v2"}, {"GptOss", "gpt_oss"},
    {"Granite", "granite"}, {"Starcoder2", "starcoder2"}, {"Olmo2", "olmo2"},
    {"Bert", "bert"}, {"XLMRoberta", "xlm-roberta"}, {"Roberta", "roberta"},
  };
  for (const auto& m : kMap)
    if (arch.substr(0, m.prefix.size()) == m.prefix)
      return std::string(m.type);
  return {};
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty())
      out += "; ";
    out += p;
  }
  return out;
}

// TensorRT-LLM engines describe the network in pretrained_config with HF-like names.
json::Value hf_view_of_engine(const json::Value& pc) {
  json::Object o;
  std::string arch = pc.string_or("architecture");
  std::string type = type_from_architecture(arch);
  if (!type.empty())
    o.set("model_type", json::Value(type));
  json::Array archs;
  archs.emplace_back(arch);
  o.set("architectures", json::Value(std::move(archs)));
  static constexpr std::string_view kSame[] = {"vocab_size", "hidden_size", "num_hidden_layers",
                                               "num_attention_heads", "num_key_value_heads",
                                               "intermediate_size", "max_position_embeddings",
                                               "tie_word_embeddings"};
  for (auto k : kSame)
    if (const json::Value* v = pc.get(k))
      o.set(std::string(k), *v);
  if (const json::Value* v = pc.get("head_size"))
    o.set("head_dim", *v);
  if (const json::Value* v = pc.get("attn_bias"))
    o.set("attention_bias", *v);
  if (const json::Value* v = pc.get("mlp_bias"))
    o.set("mlp_bias", *v);
  if (const json::Value* moe = pc.get("moe"); moe && moe->is_object()) {
    if (const json::Value* n = moe->get("num_experts"); n && n->is_int() && n->as_int() > 0)
      o.set(type == "qwen2_moe" || type == "qwen3_moe" ? "num_experts" : "num_local_experts", *n);
  }
  return json::Value(std::move(o));
}

N dispatch(const json::Value& root, Ctx& ctx);

N count_engine(const json::Value& root, Ctx& ctx) {
  const json::Value* pc = root.get("pretrained_config");
  json::Value view = hf_view_of_engine(*pc);
  ctx.approx("TensorRT-LLM engine: counted from pretrained_config, which may not record weight tying");
  return dispatch(view, ctx);
}

N dispatch(const json::Value& root, Ctx& ctx) {
  if (!root.is_object()) {
    ctx.fail(std::string("config is a JSON ") + json::type_name(root.type()) + ", not an object");
    return N::bad();
  }
  if (const json::Value* pc = root.get("pretrained_config"); pc && pc->is_object())
    return count_engine(root, ctx);
  if (root.get("_class_name") && root.get("_diffusers_version")) {
    ctx.fail("diffusers pipeline: parameters live in the component folders' weights");
    return N::bad();
  }
  Cfg c(&root, ctx);
  Head head = head_of(root, ctx);
  std::string type = c.str("model_type");
  std::string arch = architecture_of(root);
  if (type.empty())
    type = type_from_architecture(arch);
  if (type.empty() && !c.has_any({"hidden_size", "d_model", "n_embd", "text_config", "llm_config",
                                  "language_config"})) {
    ctx.fail("config has no model_type and no model dimensions");
    return N::bad();
  }
  Family f = family_for(type);
  if (!f) {
    ctx.approx("model_type '" + type + "' has no exact formula: Llama-shaped estimate from its sizes");
    return generic(c, head);
  }
  for (auto e : kEstimated)
    if (e == type)
      ctx.estimate = true;
  if (type == "clip_vision_model" && contains(arch, "WithProjection"))
    return f(c, head) + c.dim("hidden_size", 768) * c.dim("projection_dim", 512);
  return f(c, head);
}

bool has_quantization(const json::Value& root) {
  for (const json::Value* cfg : {&root, root.get("text_config")}) {
    if (!cfg)
      continue;
    const json::Value* q = cfg->get("quantization_config");
    if (q && q->is_object())
      return true;
  }
  if (const json::Value* pc = root.get("pretrained_config"))
    if (const json::Value* q = pc->get("quantization"); q && q->is_object()) {
      const json::Value* algo = q->get("quant_algo");
      return algo && algo->is_string();
    }
  return false;
}

}  // namespace

ParameterEstimate count_parameters(const json::Value& config) {
  ParameterEstimate out;
  try {
    Ctx ctx;
    N n = dispatch(config, ctx);
    if (!ctx.error.empty()) {
      out.note = ctx.error;
      return out;
    }
    if (!n.ok()) {
      out.note = "parameter count overflows 64 bits: the config's dimensions are implausible";
      return out;
    }
    if (n.value() == 0) {
      out.note = "config describes no parameters";
      return out;
    }
    if (!ctx.defaulted.empty()) {
      std::string keys;
      for (const auto& k : ctx.defaulted)
        keys += (keys.empty() ? "" : ", ") + k;
      ctx.approx("config omits " + keys + ": the family's defaults were assumed");
    }
    if (has_quantization(config))
      ctx.note("logical parameters; quantized weight files hold packed values and scales instead");
    out.count = n.value();
    out.source = ctx.estimate ? CountSource::Estimate : CountSource::Formula;
    out.note = join(ctx.notes);
  } catch (const std::exception& e) {
    out = ParameterEstimate{};
    out.note = std::string("parameter count failed: ") + e.what();
  }
  return out;
}

}  // namespace omed::model
