// PEFT adapters read without PEFT: the config by its documented keys, the weights by their
// safetensors header only. Every size and count an adapter declares is capped before it is held.
#include "omed/model/adapter_config.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "omed/common/json.hpp"
#include "omed/model/byte_source.hpp"
#include "omed/model/weight_formats.hpp"

namespace omed::model {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxRank = 1 << 20;
constexpr int64_t kMaxLayerIndex = 1 << 20;

std::optional<int64_t> integral(const json::Value& v) {
  if (v.is_int())
    return v.as_int();
  if (v.is_double()) {
    double d = v.as_double();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15)
      return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

bool string_list(const json::Value& v, const char* field, std::vector<std::string>& out, std::string& error) {
  if (v.is_null())
    return true;
  if (!v.is_array()) {
    error = std::string(field) + " must be a list of module names";
    return false;
  }
  if (v.as_array().size() > kMaxTargetModules) {
    error = std::string(field) + " lists " + std::to_string(v.as_array().size()) + " names (at most " +
            std::to_string(kMaxTargetModules) + ")";
    return false;
  }
  for (const auto& e : v.as_array()) {
    if (!e.is_string() || e.as_string().empty() || e.as_string().size() > kMaxModuleNameBytes) {
      error = std::string(field) + " holds an entry that is not a module name (a non-empty string of at most " +
              std::to_string(kMaxModuleNameBytes) + " bytes)";
      return false;
    }
    out.push_back(e.as_string());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return true;
}

bool optional_string(const json::Value& doc, const char* field, std::string& out, std::string& error) {
  const json::Value* v = doc.get(field);
  if (!v || v->is_null())
    return true;
  if (!v->is_string() || v->as_string().size() > 4096) {
    error = std::string(field) + " must be a string (of at most 4096 bytes)";
    return false;
  }
  out = v->as_string();
  return true;
}

bool optional_bool(const json::Value& doc, const char* field, bool& out, std::string& error) {
  const json::Value* v = doc.get(field);
  if (!v || v->is_null())
    return true;
  if (!v->is_bool()) {
    error = std::string(field) + " must be true or false";
    return false;
  }
  out = v->as_bool();
  return true;
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool read_small(const fs::path& p, uint64_t max, std::string& out, std::string& error) {
  std::error_code ec;
  auto size = fs::file_size(p, ec);
  if (ec) {
    error = "cannot read " + p.string() + ": " + ec.message();
    return false;
  }
  if (size > max) {
    error = p.filename().string() + " is " + std::to_string(size) + " bytes (at most " + std::to_string(max) + ")";
    return false;
  }
  std::ifstream f(p, std::ios::binary);
  std::ostringstream os;
  os << f.rdbuf();
  out = os.str();
  if (!f && !f.eof()) {
    error = "cannot read " + p.string();
    return false;
  }
  return true;
}

void merge_dim(int64_t& have, int64_t seen, bool& consistent) {
  if (seen <= 0)
    return;
  if (have == 0)
    have = seen;
  else if (have != seen)
    consistent = false;
}

}  // namespace

bool parse_adapter_config(std::string_view text, AdapterConfig& out, std::string& error) {
  if (text.size() > kMaxAdapterConfigBytes) {
    error = "adapter_config.json is " + std::to_string(text.size()) + " bytes (at most " +
            std::to_string(kMaxAdapterConfigBytes) + ")";
    return false;
  }
  json::ParseOptions po;
  po.max_depth = 32;  // PEFT configs are two levels deep; deeper is an attack, not a config
  po.allow_nan_inf = true;
  json::Value doc;
  std::string perr;
  if (!json::try_parse(text, doc, perr, po)) {
    error = "adapter_config.json is not JSON: " + perr;
    return false;
  }
  if (!doc.is_object()) {
    error = "adapter_config.json is not a JSON object";
    return false;
  }
  AdapterConfig c;
  if (!optional_string(doc, "peft_type", c.peft_type, error))
    return false;
  if (c.peft_type.empty()) {
    error = "adapter_config.json has no peft_type: not a PEFT adapter";
    return false;
  }
  if (const json::Value* r = doc.get("r"); r && !r->is_null()) {
    auto v = integral(*r);
    if (!v || *v <= 0 || *v > kMaxRank) {
      error = "r (the LoRA rank) must be a whole number between 1 and " + std::to_string(kMaxRank);
      return false;
    }
    c.rank = *v;
  }
  if (const json::Value* a = doc.get("lora_alpha"); a && !a->is_null()) {
    if (!a->is_number() || !std::isfinite(a->as_double()) || a->as_double() < 0) {
      error = "lora_alpha must be a non-negative number";
      return false;
    }
    c.alpha = a->as_double();
  }
  if (const json::Value* t = doc.get("target_modules"); t && !t->is_null()) {
    if (t->is_string()) {
      // PEFT: a string is a regex over full module names, except the "all-linear" shorthand.
      if (t->as_string().size() > kMaxModuleNameBytes * 16) {
        error = "target_modules is a string of " + std::to_string(t->as_string().size()) + " bytes (at most " +
                std::to_string(kMaxModuleNameBytes * 16) + ")";
        return false;
      }
      if (t->as_string() == "all-linear")
        c.target_modules.push_back("all-linear");
      else
        c.target_modules_regex = t->as_string();
    } else if (!string_list(*t, "target_modules", c.target_modules, error)) {
      return false;
    }
  }
  if (const json::Value* m = doc.get("modules_to_save"); m && !m->is_null())
    if (!string_list(*m, "modules_to_save", c.modules_to_save, error))
      return false;
  if (!optional_string(doc, "base_model_name_or_path", c.base_model, error) ||
      !optional_string(doc, "task_type", c.task_type, error) || !optional_bool(doc, "use_dora", c.use_dora, error) ||
      !optional_bool(doc, "use_rslora", c.use_rslora, error))
    return false;
  out = std::move(c);
  return true;
}

LoraTensorName parse_lora_tensor_name(std::string_view name) {
  LoraTensorName out;
  std::vector<std::string_view> seg;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('.', start);
    if (end == std::string_view::npos)
      end = name.size();
    seg.push_back(name.substr(start, end - start));
    start = end + 1;
  }
  for (size_t i = 0; i < seg.size(); ++i) {
    std::string_view s = seg[i];
    if (s.find("vision") != std::string_view::npos || s.find("visual") != std::string_view::npos)
      out.vision = true;
    bool layer_list = s == "layers" || s == "h" || s == "layer" || s == "blocks" || s == "block";
    if (layer_list && i + 1 < seg.size() && all_digits(seg[i + 1]) && !out.layer)
      out.layer = std::stoll(std::string(seg[i + 1]));
    bool a = s == "lora_A" || s == "lora_embedding_A";
    bool b = s == "lora_B" || s == "lora_embedding_B";
    if ((a || b) && i > 0 && out.matrix == 0) {
      out.matrix = a ? 'A' : 'B';
      out.module = std::string(seg[i - 1]);
    }
  }
  return out;
}

std::string summarize_adapter_weights(ByteSource& src, AdapterWeights& out) {
  WeightLimits lim;
  lim.keep_tensors = true;
  lim.max_tensors = 200'000;          // a 100-layer model with 16 modules has ~3,200 LoRA tensors
  lim.max_header_bytes = 32ull << 20;
  WeightSummary s;
  if (auto err = parse_weights(src, s, lim); !err.empty())
    return err;
  AdapterWeights w;
  w.tensor_count = s.tensor_count;
  w.parameter_count = s.parameter_count;
  std::map<std::string, std::string> conflicts;
  for (const auto& t : s.tensors) {
    LoraTensorName n = parse_lora_tensor_name(t.name);
    if (n.vision) {
      w.vision_tensors++;
      continue;  // a vision tower's widths are not the language model's
    }
    if (n.layer && *n.layer < kMaxLayerIndex)
      w.max_layer = std::max(w.max_layer.value_or(-1), *n.layer);
    if (n.matrix == 0 || n.module.empty() || n.module.size() > kMaxModuleNameBytes || t.shape.size() < 2)
      continue;
    if (w.modules.size() >= kMaxTargetModules && !w.modules.count(n.module))
      continue;
    auto& m = w.modules[n.module];
    auto dim = [&](size_t i) { return t.shape[i] > static_cast<uint64_t>(INT64_MAX) ? int64_t{-1} : static_cast<int64_t>(t.shape[i]); };
    if (n.matrix == 'A') {
      merge_dim(m.rank, dim(0), m.consistent);
      merge_dim(m.in_features, dim(1), m.consistent);
    } else {
      merge_dim(m.out_features, dim(0), m.consistent);
      merge_dim(m.rank, dim(1), m.consistent);
    }
  }
  for (const auto& [kind, m] : w.modules)
    if (!m.consistent)
      w.notes.push_back("the LoRA matrices of " + kind + " differ in shape from layer to layer");
  out = std::move(w);
  return {};
}

std::string inspect_adapter_dir(const fs::path& dir, AdapterFacts& out) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return dir.string() + " is not a directory";
  fs::path cfg_path = dir / "adapter_config.json";
  if (!fs::is_regular_file(cfg_path, ec)) {
    cfg_path.clear();
    // Repositories that hold several adapters keep each in a folder of its own: one is fine.
    size_t seen = 0;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end && seen < 1000; it.increment(ec), ++seen)
      if (it->is_directory(ec) && fs::is_regular_file(it->path() / "adapter_config.json", ec)) {
        if (!cfg_path.empty())
          return "more than one adapter_config.json under " + dir.string() + " (" +
                 cfg_path.parent_path().filename().string() + ", " + it->path().filename().string() +
                 "): point storageUri at one adapter";
        cfg_path = it->path() / "adapter_config.json";
      }
  }
  if (cfg_path.empty()) {
    if (fs::exists(dir / "config.json", ec))
      return "no adapter_config.json in " + dir.string() +
             ": it holds a config.json, so it looks like a full model (a BaseModel), not fine-tuned weights";
    return "no adapter_config.json in " + dir.string();
  }
  AdapterFacts f;
  std::string text, error;
  if (!read_small(cfg_path, kMaxAdapterConfigBytes, text, error))
    return error;
  if (!parse_adapter_config(text, f.config, error))
    return error;
  fs::path adapter_dir = cfg_path.parent_path();
  for (const char* name : {"adapter_model.safetensors", "adapter_model.bin"}) {
    fs::path p = adapter_dir / name;
    if (!fs::is_regular_file(p, ec))
      continue;
    auto src = FileByteSource::open(p.string(), error);
    if (!src)
      return error;
    if (auto err = summarize_adapter_weights(*src, f.weights); !err.empty())
      return std::string(name) + ": " + err;
    f.has_weights = true;
    f.weights_file = name;
    break;
  }
  if (f.has_weights && f.config.rank)
    for (const auto& [kind, m] : f.weights.modules)
      if (m.rank > 0 && m.rank != *f.config.rank) {
        f.weights.notes.push_back("the LoRA matrices of " + kind + " have rank " + std::to_string(m.rank) +
                                  " while adapter_config.json says r=" + std::to_string(*f.config.rank));
        break;
      }
  out = std::move(f);
  return {};
}

json::Value adapter_facts_to_json(const AdapterFacts& f) {
  auto strings = [](const std::vector<std::string>& v) {
    json::Array a;
    for (const auto& s : v)
      a.emplace_back(s);
    return json::Value(std::move(a));
  };
  json::Object o;
  o.set("peftType", json::Value(f.config.peft_type));
  if (f.config.rank)
    o.set("rank", json::Value(*f.config.rank));
  if (f.config.alpha)
    o.set("alpha", json::Value(*f.config.alpha));
  o.set("targetModules", strings(f.config.target_modules));
  if (!f.config.target_modules_regex.empty())
    o.set("targetModulesRegex", json::Value(f.config.target_modules_regex));
  if (!f.config.base_model.empty())
    o.set("baseModel", json::Value(f.config.base_model));
  if (!f.config.task_type.empty())
    o.set("taskType", json::Value(f.config.task_type));
  if (!f.config.modules_to_save.empty())
    o.set("modulesToSave", strings(f.config.modules_to_save));
  if (f.config.use_dora)
    o.set("useDora", json::Value(true));
  if (f.config.use_rslora)
    o.set("useRslora", json::Value(true));
  if (f.has_weights) {
    o.set("adapterParameterCount", json::Value(static_cast<int64_t>(f.weights.parameter_count)));
    o.set("adapterTensorCount", json::Value(static_cast<int64_t>(f.weights.tensor_count)));
    if (f.weights.max_layer)
      o.set("maxLayer", json::Value(*f.weights.max_layer));
    json::Object mods;
    for (const auto& [kind, m] : f.weights.modules) {
      json::Object mo;
      if (m.in_features > 0)
        mo.set("inFeatures", json::Value(m.in_features));
      if (m.out_features > 0)
        mo.set("outFeatures", json::Value(m.out_features));
      if (m.rank > 0)
        mo.set("rank", json::Value(m.rank));
      if (!m.consistent)
        mo.set("consistent", json::Value(false));
      mods.set(kind, json::Value(std::move(mo)));
    }
    o.set("modules", json::Value(std::move(mods)));
    if (f.weights.vision_tensors)
      o.set("visionTensors", json::Value(static_cast<int64_t>(f.weights.vision_tensors)));
    if (!f.weights.notes.empty())
      o.set("notes", strings(f.weights.notes));
  }
  return json::Value(std::move(o));
}

AdapterFacts adapter_facts_from_json(const json::Value& v) {
  AdapterFacts f;
  if (!v.is_object())
    return f;
  auto strings = [&](const char* key, std::vector<std::string>& out) {
    if (const json::Value* a = v.get(key); a && a->is_array())
      for (const auto& e : a->as_array())
        if (e.is_string())
          out.push_back(e.as_string());
  };
  auto int_of = [](const json::Value* x) -> std::optional<int64_t> {
    return x && x->is_int() ? std::optional<int64_t>(x->as_int()) : std::nullopt;
  };
  f.config.peft_type = v.string_or("peftType");
  f.config.rank = int_of(v.get("rank"));
  if (const json::Value* a = v.get("alpha"); a && a->is_number())
    f.config.alpha = a->as_double();
  strings("targetModules", f.config.target_modules);
  f.config.target_modules_regex = v.string_or("targetModulesRegex");
  f.config.base_model = v.string_or("baseModel");
  f.config.task_type = v.string_or("taskType");
  strings("modulesToSave", f.config.modules_to_save);
  f.config.use_dora = v.get("useDora") && v.get("useDora")->is_bool() && v.get("useDora")->as_bool();
  f.config.use_rslora = v.get("useRslora") && v.get("useRslora")->is_bool() && v.get("useRslora")->as_bool();
  if (auto n = int_of(v.get("adapterParameterCount"))) {
    f.has_weights = true;
    f.weights.parameter_count = static_cast<uint64_t>(std::max<int64_t>(0, *n));
    f.weights.tensor_count = static_cast<uint64_t>(std::max<int64_t>(0, int_of(v.get("adapterTensorCount")).value_or(0)));
    f.weights.max_layer = int_of(v.get("maxLayer"));
    if (const json::Value* mods = v.get("modules"); mods && mods->is_object())
      for (const auto& m : mods->as_object()) {
        AdapterModuleShape s;
        s.in_features = int_of(m.value.get("inFeatures")).value_or(0);
        s.out_features = int_of(m.value.get("outFeatures")).value_or(0);
        s.rank = int_of(m.value.get("rank")).value_or(0);
        const json::Value* c = m.value.get("consistent");
        s.consistent = !(c && c->is_bool() && !c->as_bool());
        f.weights.modules.emplace(m.key, s);
      }
    f.weights.vision_tensors = static_cast<uint64_t>(std::max<int64_t>(0, int_of(v.get("visionTensors")).value_or(0)));
    strings("notes", f.weights.notes);
  }
  return f;
}

}  // namespace omed::model
