// libFuzzer target for everything a client controls in a list or table request: labelSelector,
// fieldSelector and printer-column JSONPath (compiled and evaluated), plus RFC 3339 parsing.
//
// Build and run (C++17 because clang 14 with libstdc++ 12 rejects json.hpp in C++20 mode; the
// sources involved compile either way):
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -I include
//     tests/fuzz/fuzz_selectors.cpp src/apiserver/selectors.cpp src/apiserver/table.cpp
//     src/common/json.cpp -o /tmp/fuzz_sel && /tmp/fuzz_sel -max_total_time=60
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "omed/apiserver/selectors.hpp"
#include "omed/apiserver/table.hpp"
#include "omed/common/json.hpp"

using namespace omed;
using namespace omed::apiserver;

namespace {

// Real selectors and column paths are short; 4 KiB keeps every iteration cheap while still far
// beyond anything legitimate.
constexpr size_t kMaxInput = 4096;

// Built from values rather than parsed: the fuzzer should exercise selectors and paths, not
// report RapidJSON's own null-pointer arithmetic (stack.h) that json::parse trips under UBSan.
json::Value make_document() {
  using json::Array;
  using json::Object;
  auto condition = [](const char* type, const char* status, json::Value n) {
    return json::Value(Object{{"type", type}, {"status", status}, {"n", std::move(n)}});
  };
  Object metadata{
    {"name", "llama"},
    {"labels", Object{{"app", "web"}, {"ome.io/model", "llama"}}},
    {"annotations", Object{{"ome.io/x", "1"}}},
    {"creationTimestamp", "2026-11-28T02:10:56Z"}};
  Object spec{
    {"containers", Array{Object{{"name", "a"}, {"ports", Array{1, 2}}}, Object{{"name", "b"}}}},
    {"flag", true}};
  Object status{
    {"conditions", Array{condition("Ready", "True", 1.5), condition("Scheduled", "False", -3)}},
    {"traffic", Array{Object{{"percent", 80}, {"latestRevision", false}},
                      Object{{"percent", 20}, {"latestRevision", true}}}},
    {"nested", Array{Array{1, Array{2, Array{3}}}, Object{{"a", Object{{"b", nullptr}}}}}}};
  return Object{{"metadata", std::move(metadata)}, {"spec", std::move(spec)},
                {"status", std::move(status)}};
}

const json::Value& document() {
  static const json::Value doc = make_document();
  return doc;
}

const std::map<std::string, std::string>& labels() {
  static const std::map<std::string, std::string> l{
    {"app", "web"}, {"env", ""}, {"ome.io/model", "llama"}};
  return l;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInput)
    return 0;
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string error;

  if (auto sel = LabelSelector::parse(input, error)) {
    (void)sel->matches(labels());
    (void)sel->matches({});
  }

  error.clear();
  if (auto sel = FieldSelector::parse(input, error))
    (void)sel->matches([](const std::string& f) { return f == "metadata.name" ? "llama" : ""; });

  try {
    auto path = JsonPath::compile(input);
    auto values = path.eval(document());
    auto now = std::chrono::system_clock::now();
    for (const char* type : {"string", "integer", "number", "boolean", "date"})
      (void)table_cell(type, values, now);
  } catch (const JsonPathError&) {
    // Rejecting the expression is a fine outcome; anything else escaping is a finding.
  }

  if (auto t = parse_rfc3339(input)) {
    (void)format_rfc3339(*t);
    (void)format_rfc3339_micro(*t);
  }
  (void)table_cell("date", {json::Value(input)}, std::chrono::system_clock::now());
  return 0;
}
