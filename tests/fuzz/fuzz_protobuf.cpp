// libFuzzer target for Kubernetes protobuf request bodies: hostile bytes must decode or be refused
// (400/415), never crash, hang or allocate without bound, and what decodes must be valid JSON.
//
// Build and run (from the project root):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I include
//     tests/fuzz/fuzz_protobuf.cpp src/apiserver/protobuf.cpp src/common/json.cpp -o /tmp/fuzz_pb
//   /tmp/fuzz_pb -max_total_time=60 tests/fuzz/corpus/protobuf
//
// Input layout: a body starting with "k8s\0" is decoded as sent. Anything else is the raw object
// of a kind picked by its first byte, wrapped in a valid runtime.Unknown envelope, so that
// mutations spend their time in the object tables rather than dying at the magic prefix.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "omed/apiserver/protobuf.hpp"
#include "omed/common/json.hpp"

using namespace omed;
using namespace omed::apiserver;

namespace {

// Far above any object kubectl sends, small enough for quick iterations.
constexpr size_t kMaxInput = 256 * 1024;

void append_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void append_bytes(std::string& out, unsigned field, std::string_view s) {
  append_varint(out, field << 3 | 2);
  append_varint(out, s.size());
  out.append(s);
}

std::string wrap(std::string_view api_version, std::string_view kind, std::string_view raw) {
  std::string type_meta;
  append_bytes(type_meta, 1, api_version);
  append_bytes(type_meta, 2, kind);
  std::string body("k8s\0", 4);
  append_bytes(body, 1, type_meta);
  append_bytes(body, 2, raw);
  return body;
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<uint8_t>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size())
      return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<uint8_t>(s[i + k]) & 0xc0) != 0x80)
        return false;
    i += n;
  }
  return true;
}

// Every string the decoder produced (keys too) must be UTF-8: the store keeps it as JSON text.
void check_strings(const json::Value& v) {
  if (v.is_string() && !valid_utf8(v.as_string()))
    std::abort();
  if (v.is_array())
    for (auto& e : v.as_array())
      check_strings(e);
  if (v.is_object())
    for (auto& m : v.as_object()) {
      if (!valid_utf8(m.key))
        std::abort();
      check_strings(m.value);
    }
}

void run(std::string_view body) {
  json::Value out;
  std::string error;
  ProtobufFailure why = ProtobufFailure::none;
  if (!decode_k8s_protobuf(body, out, error, &why)) {
    if (why == ProtobufFailure::none || error.empty())
      std::abort();
    return;
  }
  if (!out.is_object() || out.string_or("kind").empty() || out.string_or("apiVersion").empty())
    std::abort();
  check_strings(out);
  // What the API server stores is the dump; it must read back as the same document.
  if (json::parse(json::dump(out)) != out)
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInput)
    return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (input.substr(0, 4) == std::string_view("k8s\0", 4)) {
    run(input);
    return 0;
  }
  static const auto kinds = protobuf_kinds();
  if (input.empty() || kinds.empty())
    return 0;
  const auto& k = kinds[static_cast<uint8_t>(input[0]) % kinds.size()];
  auto slash = k.rfind('/');
  run(wrap(k.substr(0, slash), k.substr(slash + 1), input.substr(1)));
  return 0;
}
