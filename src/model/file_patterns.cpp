// Include/exclude globs for remote listings, and the default selection of what a serving runtime
// needs from a Hugging Face repo (duplicate weight copies in other formats are left behind).
#include <string>
#include <string_view>
#include <vector>

#include "omed/common/strings.hpp"
#include "omed/model/sources.hpp"

namespace omed::model {
namespace {

// Matches one bracket expression at p[i] ('[' already seen). Sets `next` past ']'. Returns
// nullopt-like -1 when the class is malformed (then '[' is taken literally, as fnmatch does).
int match_class(std::string_view p, size_t i, char c, size_t& next) {
  size_t j = i + 1;
  bool negate = j < p.size() && (p[j] == '!' || p[j] == '^');
  if (negate)
    ++j;
  bool matched = false;
  bool first = true;
  while (j < p.size() && (p[j] != ']' || first)) {
    first = false;
    char lo = p[j];
    if (j + 2 < p.size() && p[j + 1] == '-' && p[j + 2] != ']') {
      char hi = p[j + 2];
      if (lo <= c && c <= hi)
        matched = true;
      j += 3;
    } else {
      if (lo == c)
        matched = true;
      ++j;
    }
  }
  if (j >= p.size())
    return -1;
  next = j + 1;
  return matched != negate ? 1 : 0;
}

bool glob(std::string_view p, std::string_view s) {
  size_t pi = 0, si = 0;
  size_t star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size()) {
      char pc = p[pi];
      if (pc == '*') {
        while (pi < p.size() && p[pi] == '*')
          ++pi;  // "**" is the same as "*": '*' already crosses '/'
        star_p = pi;
        star_s = si;
        continue;
      }
      if (pc == '?') {
        ++pi;
        ++si;
        continue;
      }
      if (pc == '[') {
        size_t next = 0;
        int m = match_class(p, pi, s[si], next);
        if (m == 1) {
          pi = next;
          ++si;
          continue;
        }
        if (m == -1 && s[si] == '[') {
          ++pi;
          ++si;
          continue;
        }
      } else if (pc == s[si]) {
        ++pi;
        ++si;
        continue;
      }
    }
    if (star_p == std::string_view::npos)
      return false;
    pi = star_p;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '*')
    ++pi;
  return pi == p.size();
}

bool matches_any(const std::vector<std::string>& patterns, std::string_view path) {
  for (auto& p : patterns)
    if (glob_match(p, path))
      return true;
  return false;
}

std::string_view basename(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string extension(std::string_view path) {
  auto base = basename(path);
  auto dot = base.rfind('.');
  return dot == std::string_view::npos ? std::string() : str::lower(base.substr(dot + 1));
}

// Weight formats by preference: a runtime loads safetensors when present, then PyTorch pickles,
// then GGUF; TensorFlow/Flax/ONNX/other copies are what is left. 0: not a weight file.
int weight_rank(std::string_view path) {
  auto ext = extension(path);
  if (ext == "safetensors")
    return 1;
  if (ext == "bin" || ext == "pt" || ext == "pth")
    return 2;
  if (ext == "gguf")
    return 3;
  if (ext == "h5" || ext == "msgpack" || ext == "onnx" || ext == "onnx_data" || ext == "ckpt" || ext == "tflite" ||
      ext == "ot")
    return 4;
  return 0;
}

// Meta's original checkpoint and Mistral's consolidated files repeat the weights in another layout.
bool duplicate_copy(std::string_view path) {
  return str::starts_with(path, "original/") || str::starts_with(basename(path), "consolidated");
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view path) {
  if (!pattern.empty() && pattern.back() == '/') {
    std::string dir(pattern);
    dir += '*';
    return glob(dir, path);
  }
  return glob(pattern, path);
}

const std::vector<std::string>& default_include_patterns() {
  static const std::vector<std::string> patterns = {
    // configs, generation config, safetensors indexes, tokenizer.json and friends
    "*.json",
    // tokenizers: SentencePiece, tiktoken, BPE merges/vocab text, chat templates
    "*.model", "*.tiktoken", "*.txt", "*.vocab", "*.jinja", "tokenizer*", "*/tokenizer*",
    // remote code for trust_remote_code
    "*.py",
    // weights (duplicates pruned by select_files)
    "*.safetensors", "*.bin", "*.pt", "*.pth", "*.gguf", "*.h5", "*.msgpack", "*.onnx", "*.onnx_data", "*.ckpt",
  };
  return patterns;
}

std::vector<RemoteFile> select_files(std::vector<RemoteFile> files, const std::vector<std::string>& include,
                                     const std::vector<std::string>& exclude, bool runtime_defaults) {
  bool defaults = runtime_defaults && include.empty();
  const auto& inc = defaults ? default_include_patterns() : include;

  int best_primary = 0, best_any = 0;
  if (defaults) {
    for (auto& f : files) {
      int r = weight_rank(f.path);
      if (!r)
        continue;
      if (!duplicate_copy(f.path) && (!best_primary || r < best_primary))
        best_primary = r;
      if (!best_any || r < best_any)
        best_any = r;
    }
  }
  int best = best_primary ? best_primary : best_any;

  std::vector<RemoteFile> out;
  out.reserve(files.size());
  for (auto& f : files) {
    if (!inc.empty() && !matches_any(inc, f.path))
      continue;
    if (matches_any(exclude, f.path))
      continue;
    if (defaults) {
      if (best_primary && duplicate_copy(f.path))
        continue;
      int r = weight_rank(f.path);
      if (r && r != best)
        continue;
    }
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace omed::model
