// libFuzzer target for PyTorch checkpoints: the pickle opcode machine, the zip central directory
// and the legacy storage walk must refuse hostile bytes with an error, never execute, crash,
// hang or allocate without bound.
//
// Build and run (from the project root): tests/fuzz/run.sh, or by hand
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I include tests/fuzz/fuzz_pytorch.cpp
//     src/model/{byte_source,byte_cursor,...}.cpp src/common/json.cpp (the list is in run.sh) -o /tmp/fuzz_pt && /tmp/fuzz_pt tests/fuzz/corpus/pytorch
//
// Input layout: "Z" + pickle is data.pkl inside a valid stored zip that also holds storages 0-3
// of 64 bytes (mutations then reach the opcode machine and the storage checks); anything else is
// parsed whole as a zip and as a legacy checkpoint.
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "omed/model/weight_formats.hpp"

#include "../support/weight_writers.hpp"

using namespace omed::model;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  WeightLimits lim;
  lim.keep_tensors = size % 2 == 0;
  // Small caps keep iterations fast; they are the same code paths as the defaults.
  lim.max_pickle_ops = 200000;
  lim.max_pickle_stack = 10000;
  lim.max_pickle_values = 200000;
  WeightSummary s;
  if (!in.empty() && in[0] == 'Z') {
    std::vector<std::pair<std::string, std::string>> entries = {{"archive/data.pkl", in.substr(1)}};
    for (const char* k : {"0", "1", "2", "3"})
      entries.push_back({std::string("archive/data/") + k, std::string(64, '\0')});
    entries.push_back({"archive/version", "3\n"});
    MemoryByteSource src(omed::testing::zip_stored(entries), "fuzz.pt");
    (void)parse_pytorch_zip(src, s, lim);
  } else {
    MemoryByteSource src(in, "fuzz.bin");
    (void)parse_pytorch_zip(src, s, lim);
    (void)parse_pytorch_pickle(src, s, lim);
    (void)detect_weight_format(src);
  }
  return 0;
}
