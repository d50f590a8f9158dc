// A local model directory summarized from its weight files: the safetensors index when there is
// one, else the files whose content is a weight format; TensorRT-LLM engine directories by their
// config.json.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "omed/model/weight_formats.hpp"

#include "weight_tally.hpp"

namespace omed::model {

namespace fs = std::filesystem;

namespace {

bool read_small(const fs::path& p, uint64_t max, std::string& out) {
  std::error_code ec;
  auto size = fs::file_size(p, ec);
  if (ec || size > max)
    return false;
  std::ifstream f(p, std::ios::binary);
  std::ostringstream os;
  os << f.rdbuf();
  out = os.str();
  return static_cast<bool>(f) || f.eof();
}

// Lower numbers win when a directory holds several formats (HF repos often ship both).
int preference(WeightFormat f) {
  switch (f) {
    case WeightFormat::Safetensors: return 0;
    case WeightFormat::Gguf: return 1;
    case WeightFormat::PytorchZip: return 2;
    case WeightFormat::PytorchPickle: return 3;
    case WeightFormat::Onnx: return 4;
    case WeightFormat::TensorRTEngine: return 5;
    case WeightFormat::Unknown: break;
  }
  return 99;
}

std::string parse_one(WeightFormat f, ByteSource& src, WeightSummary& out, const WeightLimits& lim) {
  switch (f) {
    case WeightFormat::Gguf: return parse_gguf(src, out, lim);
    case WeightFormat::Onnx: return parse_onnx(src, out, lim);
    case WeightFormat::PytorchZip: return parse_pytorch_zip(src, out, lim);
    case WeightFormat::PytorchPickle: return parse_pytorch_pickle(src, out, lim);
    case WeightFormat::TensorRTEngine: return parse_tensorrt_engine(src, out, lim);
    default: return parse_safetensors(src, out, lim);
  }
}

}  // namespace

std::string summarize_weight_dir(const std::string& dir, WeightSummary& out, const WeightLimits& lim) {
  out = WeightSummary{};
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return dir + ": not a directory";
  std::vector<fs::path> files;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec))
      files.push_back(it->path());
    if (files.size() > lim.max_shards)
      return dir + ": more than " + std::to_string(lim.max_shards) + " files";
  }
  if (ec)
    return dir + ": " + ec.message();
  std::sort(files.begin(), files.end());

  // TensorRT-LLM: the engine directory's config.json says what the opaque engines are.
  std::string config;
  if (read_small(fs::path(dir) / "config.json", 16u << 20, config) && parse_tensorrt_llm_config(config, out)) {
    for (const auto& p : files) {
      if (p.extension() != ".engine")
        continue;
      uint64_t size = fs::file_size(p, ec);
      if (ec)
        return p.string() + ": " + ec.message();
      out.files += 1;
      out.file_bytes += size;
    }
    if (out.files == 0)
      return dir + ": TensorRT-LLM config.json but no .engine files";
    out.notes.push_back("TensorRT engines do not expose tensor shapes: no parameter count from them");
    return {};
  }

  SourceOpener opener = [&](const std::string& rel, std::unique_ptr<ByteSource>& src) {
    std::string err;
    src = FileByteSource::open((fs::path(dir) / rel).string(), err);
    return err;
  };
  for (const auto& p : files) {
    std::string name = p.filename().string();
    const std::string suffix = ".safetensors.index.json";
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      std::string text;
      if (!read_small(p, lim.max_header_bytes, text))
        return p.string() + ": cannot read the index";
      return parse_safetensors_index(text, opener, out, lim);
    }
  }

  // No index: every file is judged by its content.
  std::map<WeightFormat, std::vector<std::unique_ptr<ByteSource>>> by_format;
  for (const auto& p : files) {
    std::string err;
    auto src = FileByteSource::open(p.string(), err);
    if (!src)
      continue;
    WeightFormat f = detect_weight_format(*src);
    if (f != WeightFormat::Unknown)
      by_format[f].push_back(std::move(src));
  }
  if (by_format.empty())
    return dir + ": no weight files found";
  WeightFormat best = by_format.begin()->first;
  for (const auto& [f, v] : by_format)
    if (preference(f) < preference(best))
      best = f;
  auto& chosen = by_format[best];
  if (best == WeightFormat::Safetensors) {
    std::vector<ByteSource*> shards;
    for (auto& s : chosen)
      shards.push_back(s.get());
    if (auto err = parse_safetensors_shards(shards, out, lim); !err.empty())
      return err;
  } else {
    out.format = best;
    for (auto& s : chosen) {
      WeightSummary one;
      if (auto err = parse_one(best, *s, one, lim); !err.empty())
        return err;
      if (auto err = detail::merge_summary(out, std::move(one), lim); !err.empty())
        return err;
    }
  }
  for (const auto& [f, v] : by_format)
    if (f != best)
      out.notes.push_back(std::to_string(v.size()) + " " + weight_format_name(f) + " file(s) ignored in favour of " +
                          weight_format_name(best));
  return {};
}

}  // namespace omed::model
