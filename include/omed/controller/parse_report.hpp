// The parse Job's report: OME's config object as compact JSON in the container's termination
// message, written by `omed parse-model` and read back by the controller, both bounded to 4096 bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "omed/common/json.hpp"

namespace omed::controller {

// Kubernetes keeps at most this much of a termination message (the kubelet truncates the rest).
inline constexpr size_t kTerminationMessageLimit = 4096;

// The report for `config` (facts_to_config's object), compact. Optional parts (the artifact,
// then capabilities) are dropped when the whole would not fit; empty when even the rest does not.
std::string encode_parse_report(const json::Value& config);

// A failure as the container says it: one line, printable, short enough to fit.
std::string failure_line(std::string_view message);

struct ParseReport {
  json::Value config;  // only the fields spec fill and status use, each with its expected type
  std::string error;   // why the message is not a report (set: config is null)
};

// Reads a successful container's termination message. Oversized, malformed or mistyped input
// is an error, never an exception; unknown fields are dropped so nothing unvetted reaches the spec.
ParseReport decode_parse_report(std::string_view message);

}  // namespace omed::controller
