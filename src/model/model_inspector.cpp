// A model directory to facts: config first (what the model is), weights second (how many
// parameters exactly), the analytic formula only when no weights are present.
#include "omed/model/model_inspector.hpp"

#include <fstream>
#include <sstream>

#include "omed/common/json.hpp"
#include "omed/model/byte_source.hpp"
#include "omed/model/config_parser.hpp"
#include "omed/model/parameter_count.hpp"
#include "omed/model/weight_formats.hpp"

namespace omed::model {

namespace fs = std::filesystem;

namespace {

// Config files are small; anything bigger is not one (and must not be read whole).
constexpr uintmax_t kMaxConfigBytes = 16u << 20;

std::string read_small(const fs::path& p, std::string& err) {
  std::error_code ec;
  auto size = fs::file_size(p, ec);
  if (ec) {
    err = "cannot read " + p.string() + ": " + ec.message();
    return {};
  }
  if (size > kMaxConfigBytes) {
    err = p.string() + " is " + std::to_string(size) + " bytes; a config is at most 16 MiB";
    return {};
  }
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) {
    err = "cannot read " + p.string();
    return {};
  }
  return ss.str();
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// The weights next to the config decide the count; without any, the config's formula does.
void add_weights(const fs::path& dir, ModelFacts& out) {
  WeightSummary ws;
  std::string err = summarize_weight_dir(dir.string(), ws);
  if (!err.empty()) {
    out.notes.push_back("weights not counted: " + err);
    return;
  }
  if (ws.files == 0)
    return;
  apply_weight_summary(ws, out);
}

void add_formula(const json::Value& config, ModelFacts& out) {
  if (out.parameter_source != CountSource::None)
    return;  // the config parser (or the weights) already counted
  ParameterEstimate est = count_parameters(config);
  if (est.source == CountSource::None)
    return;
  out.parameter_count = est.count;
  out.parameter_source = est.source;
  if (!est.note.empty())
    out.notes.push_back(est.note);
}

// `in_model_dir`: the config sits in a model directory, so its siblings (the sentence-transformers
// marker) describe the same model; a lone config.json given by path stands alone.
std::string inspect_config_file(const fs::path& config_path, ModelFacts& out, bool in_model_dir) {
  std::string err;
  std::string text = read_small(config_path, err);
  if (!err.empty())
    return err;
  if (config_path.filename() == "model_index.json")
    return parse_diffusers_index(text, out, err) ? std::string() : config_path.string() + ": " + err;
  if (!parse_model_config(text, out, err))
    return config_path.string() + ": " + err;
  // sentence-transformers ships its own marker next to config.json.
  fs::path st = config_path.parent_path() / "config_sentence_transformers.json";
  if (in_model_dir && is_file(st)) {
    std::string st_err;
    std::string st_text = read_small(st, st_err);
    if (st_err.empty() && !parse_sentence_transformers_config(st_text, out, st_err))
      out.notes.push_back("config_sentence_transformers.json ignored: " + st_err);
  }
  json::Value config;
  json::ParseOptions po;
  po.allow_nan_inf = true;
  if (json::try_parse(text, config, err, po))
    add_formula(config, out);
  return {};
}

}  // namespace

fs::path find_model_config(const fs::path& dir) {
  for (const char* name : {"model_index.json", "config.json"})
    if (is_file(dir / name))
      return dir / name;
  for (const char* sub : {"safetensors", "pytorch_model", "model"})
    if (is_file(dir / sub / "config.json"))
      return dir / sub / "config.json";
  // Bounded walk: three levels, a few thousand entries, symlinks not followed.
  std::error_code ec;
  size_t seen = 0;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (++seen > 5000)
      break;
    if (it.depth() >= 3) {
      it.disable_recursion_pending();
      continue;
    }
    const auto& p = it->path();
    if (p.filename().string().rfind(".omed", 0) == 0) {
      it.disable_recursion_pending();
      continue;
    }
    if (p.filename() == "config.json" && it->is_regular_file(ec))
      return p;
  }
  return {};
}

std::string inspect_model_dir(const fs::path& path, ModelFacts& out) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    return path.string() + " does not exist";
  if (fs::is_regular_file(path, ec)) {
    // A lone file: a config (JSON) or a single weight file.
    std::string err;
    auto src = FileByteSource::open(path.string(), err);
    if (!src)
      return err;
    std::string head;
    uint64_t n = std::min<uint64_t>(src->size(), kDetectBytes);
    if (n > 0 && !src->read(0, n, head).empty())
      return "cannot read " + path.string();
    if (detect_weight_format(head, src->size()) != WeightFormat::Unknown) {
      WeightSummary ws;
      err = parse_weights(*src, ws);
      if (!err.empty())
        return path.string() + ": " + err;
      apply_weight_summary(ws, out);
      return {};
    }
    return inspect_config_file(path, out, false);
  }
  if (!fs::is_directory(path, ec))
    return path.string() + " is neither a file nor a directory";
  fs::path config = find_model_config(path);
  if (config.empty()) {
    // GGUF and ONNX models carry their facts inside the weights.
    add_weights(path, out);
    if (out.parameter_source != CountSource::Weights)
      return "no config.json or model_index.json in " + path.string() + " and no weight file omed can read";
    return {};
  }
  std::string err = inspect_config_file(config, out, true);
  if (!err.empty())
    return err;
  add_weights(config.parent_path(), out);
  // OME's convention for the safetensors format version (runtimes match modelFormat.version).
  if (out.format == "safetensors" && out.format_version.empty())
    out.format_version = "1.0.0";
  return {};
}

}  // namespace omed::model
