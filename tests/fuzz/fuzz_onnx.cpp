// libFuzzer target for ONNX ModelProto walking: hostile protobuf (lengths, varints, nesting,
// dims) must be refused with an error, never crash or hang.
//
// Build and run (from the project root): tests/fuzz/run.sh, or by hand
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I include tests/fuzz/fuzz_onnx.cpp
//     src/model/{byte_source,byte_cursor,...}.cpp src/common/json.cpp (the list is in run.sh) -o /tmp/fuzz_onnx && /tmp/fuzz_onnx tests/fuzz/corpus/onnx
//
// Input layout: the whole file.
#include <cstddef>
#include <cstdint>
#include <string>

#include "omed/model/weight_formats.hpp"

using namespace omed::model;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  MemoryByteSource src(in, "fuzz.onnx");
  WeightLimits lim;
  lim.keep_tensors = size % 2 == 0;
  lim.min_read_window = 16 + size % 64;
  lim.max_read_window = 512;
  WeightSummary s;
  (void)parse_onnx(src, s, lim);
  (void)detect_weight_format(in, in.size());
  return 0;
}
