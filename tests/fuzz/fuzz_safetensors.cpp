// libFuzzer target for safetensors headers and shard indexes: any bytes must parse or be refused
// with an error, never crash, hang or allocate beyond the header's size.
//
// Build and run (from the project root): tests/fuzz/run.sh, or by hand
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I include tests/fuzz/fuzz_safetensors.cpp
//     src/model/{byte_source,byte_cursor,...}.cpp src/common/json.cpp (the list is in run.sh) -o /tmp/fuzz_st && /tmp/fuzz_st tests/fuzz/corpus/safetensors
//
// Input layout: "J" + JSON is a header given the right length prefix and 4 KiB of data (so that
// mutations exercise the entry checks rather than the length), "I" + JSON is an index whose
// shards are a fixed valid file, anything else is a whole file.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "omed/model/weight_formats.hpp"

using namespace omed::model;

namespace {

std::string le64(uint64_t v) {
  std::string out;
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

const std::string& shard() {
  static const std::string s = [] {
    std::string h = R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
                    R"("b":{"dtype":"BF16","shape":[4],"data_offsets":[16,24]}})";
    return le64(h.size()) + h + std::string(24, '\0');
  }();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  WeightSummary s;
  WeightLimits lim;
  lim.keep_tensors = size % 2 == 0;
  if (!in.empty() && in[0] == 'J') {
    std::string header = in.substr(1);
    MemoryByteSource src(le64(header.size()) + header + std::string(4096, '\0'));
    (void)parse_safetensors(src, s, lim);
  } else if (!in.empty() && in[0] == 'I') {
    (void)parse_safetensors_index(in.substr(1), [](const std::string&, std::unique_ptr<ByteSource>& out) {
      out = std::make_unique<MemoryByteSource>(shard(), "shard");
      return std::string();
    }, s, lim);
  } else {
    MemoryByteSource src(in);
    (void)detect_weight_format(in, in.size());
    (void)parse_safetensors(src, s, lim);
    std::vector<ByteSource*> shards{&src, &src};
    (void)parse_safetensors_shards(shards, s, lim);
  }
  return 0;
}
