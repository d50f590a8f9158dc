// Runs a libFuzzer target without libFuzzer (g++ builds, the default test run): every seed in
// the corpus directories, then deterministic mutations of them for a time budget. Real
// coverage-guided fuzzing uses tests/fuzz/run.sh with clang.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  std::vector<std::string> seeds;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path p(argv[i]);
    if (!std::filesystem::exists(p))
      continue;
    auto add = [&](const std::filesystem::path& f) {
      std::ifstream in(f, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      seeds.push_back(ss.str());
    };
    if (std::filesystem::is_directory(p)) {
      std::vector<std::filesystem::path> files;
      for (auto& e : std::filesystem::directory_iterator(p))
        if (e.is_regular_file())
          files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (auto& f : files)
        add(f);
    } else {
      add(p);
    }
  }
  if (seeds.empty())
    seeds.push_back("");
  for (auto& s : seeds)
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  double budget = std::getenv("FUZZ_SECONDS") ? std::atof(std::getenv("FUZZ_SECONDS")) : 3.0;
  std::mt19937_64 rng(std::getenv("FUZZ_SEED") ? std::strtoull(std::getenv("FUZZ_SEED"), nullptr, 10) : 1);
  static const char* tokens[] = {"{", "}", "[", "]", "\"", ":", ",", "null", "\\u0000", "$patch", "..", "/",
                                 "%00", "\n", "k8s", "1e999", "-", "=", "!", "(", ")", "in", "@", "*"};
  auto t0 = std::chrono::steady_clock::now();
  size_t runs = seeds.size();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < budget) {
    std::string s = seeds[rng() % seeds.size()];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
      switch (rng() % 6) {
        case 0: if (!s.empty() && pos < s.size()) s[pos] = static_cast<char>(s[pos] ^ (1 << (rng() % 8))); break;
        case 1: s.insert(pos, 1, static_cast<char>(rng() % 256)); break;
        case 2: if (pos < s.size()) s.erase(pos, 1 + rng() % 8); break;
        case 3: s.insert(pos, tokens[rng() % (sizeof tokens / sizeof *tokens)]); break;
        case 4: { auto& o = seeds[rng() % seeds.size()]; if (!o.empty()) s.insert(pos, o.substr(rng() % o.size(), 16)); } break;
        case 5: if (pos < s.size()) s.insert(pos, s.substr(pos, 1 + rng() % 32)); break;
      }
    }
    if (s.size() > 65536)
      s.resize(65536);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
    ++runs;
  }
  std::printf("fuzz driver: %zu inputs (%zu seeds) in %.1f s, no crash\n", runs, seeds.size(), budget);
  return 0;
}
