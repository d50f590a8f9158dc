// OpenAPI v3 structural-schema validation as the Kubernetes API server applies it to custom
// resources: types, required, enums, bounds, patterns, int-or-string, pruning and defaulting.
#pragma once

#include <string>
#include <vector>

#include "omed/api/field_error.hpp"
#include "omed/common/json.hpp"

namespace omed::schema {

struct Options {
  bool prune = true;           // drop fields the schema does not declare
  bool apply_defaults = true;  // fill `default` values for absent properties
  // Skip the root's apiVersion/kind/metadata (the server validates those itself).
  bool root_is_object = true;
};

// A value of the wrong JSON type. Built-in kinds are decoded into Go structs by a real
// server, so there such a value is a 400 decoding error rather than a 422 field error.
struct TypeMismatch {
  std::string path;     // "spec.replicas"
  std::string got;      // JSON type: string, number, bool, object, array
  std::string want;     // schema type with its format: int32, int64, string, ...
};

struct Result {
  api::ErrorList errors;
  std::vector<TypeMismatch> type_mismatches;  // also reported in `errors`
  std::vector<std::string> unknown_fields;  // "spec.foo" (reported for fieldValidation=Strict/Warn)
  bool ok() const { return errors.empty(); }
};

// Validates `value` against `schema`, pruning and defaulting it in place per `opts`.
Result validate(json::Value& value, const json::Value& schema, const Options& opts = {});

// Checks that a schema is structural in apiextensions' sense: every node typed (or
// int-or-string / preserve-unknown), no properties beside additionalProperties, arrays with
// items, anyOf/allOf only for value validation, list-map keys required or defaulted.
api::ErrorList check_structural(const json::Value& schema, const std::string& path = "openAPIV3Schema");

// True if `json_path` (a printer-column path like .status.conditions[?(@.type=='Ready')].status)
// names fields that exist in `schema`.
bool json_path_in_schema(const std::string& json_path, const json::Value& schema, std::string& why);

}  // namespace omed::schema
