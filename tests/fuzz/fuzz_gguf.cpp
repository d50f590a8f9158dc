// libFuzzer target for GGUF: hostile headers (counts, strings, arrays, tensor infos) must be
// refused with an error, never crash, hang or allocate what a count claims.
//
// Build and run (from the project root): tests/fuzz/run.sh, or by hand
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I include tests/fuzz/fuzz_gguf.cpp
//     src/model/{byte_source,byte_cursor,...}.cpp src/common/json.cpp (the list is in run.sh) -o /tmp/fuzz_gguf && /tmp/fuzz_gguf tests/fuzz/corpus/gguf
//
// Input layout: the whole file. Inputs not starting with the magic get it prepended, so that
// mutations spend their time past the first four bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "omed/model/weight_formats.hpp"

using namespace omed::model;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  if (in.compare(0, 4, "GGUF") != 0)
    in = "GGUF" + in;
  MemoryByteSource src(in, "fuzz.gguf");
  WeightLimits lim;
  lim.keep_tensors = size % 2 == 0;
  lim.min_read_window = 16 + size % 64;  // vary the read-ahead so window edges get crossed
  lim.max_read_window = 256;
  WeightSummary s;
  (void)parse_gguf(src, s, lim);
  (void)detect_weight_format(in, in.size());
  return 0;
}
