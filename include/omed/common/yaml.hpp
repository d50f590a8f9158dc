// YAML input for manifests and config files: converts YAML (1.1 scalars, as kubectl reads them)
// into omed::json values, and writes JSON values back out as block YAML for humans.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "omed/common/json.hpp"

namespace omed::yaml {

class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Parses every document of a (possibly multi-document) YAML stream. Empty documents are skipped.
// Throws yaml::Error with line and column on malformed input.
std::vector<json::Value> parse_all(std::string_view text);
// Parses exactly one document (an empty stream yields null).
json::Value parse_one(std::string_view text);

// Block-style YAML rendering of a JSON value (as `kubectl get -o yaml` prints).
std::string dump(const json::Value& v);

}  // namespace omed::yaml
