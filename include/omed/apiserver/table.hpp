// Server-side printing: the JSONPath subset printer columns use, and meta.k8s.io/v1 Table
// cells (strings, numbers, booleans, and "date" columns as ages like 5m or 3d4h).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "omed/common/json.hpp"

namespace omed::apiserver {

class JsonPathError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// A compiled printer-column JSONPath: ".a.b", ".a[0]", ".a[*].b", ".a[?(@.type=='Ready')].status",
// "{.a.b}" (braces optional), filters with == and != on strings, numbers and booleans.
class JsonPath {
public:
  static JsonPath compile(const std::string& expr);  // throws JsonPathError
  // Every value the path selects, in document order.
  std::vector<json::Value> eval(const json::Value& root) const;

  struct Step;

private:
  std::vector<std::shared_ptr<Step>> steps_;
};

// kubectl's duration style: "45s", "5m", "5m30s" (under 10 min), "3h", "3h12m" (under 8 h),
// "2d", "2d3h" (under 3 d? as apimachinery's HumanDuration), "300d", "2y".
std::string human_duration(std::chrono::seconds d);

// The cell for a printer column of `type` ("string", "integer", "number", "boolean", "date")
// from the values the JSONPath selected: null when nothing matched; several values are joined
// with ',' for strings; dates print as the age relative to `now` (RFC 3339 input).
json::Value table_cell(const std::string& type, const std::vector<json::Value>& values,
                       std::chrono::system_clock::time_point now);

// RFC 3339 ("2026-11-28T02:10:56Z", fractional seconds allowed) to a time point.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& s);
std::string format_rfc3339(std::chrono::system_clock::time_point t);           // seconds
std::string format_rfc3339_micro(std::chrono::system_clock::time_point t);     // MicroTime

}  // namespace omed::apiserver
