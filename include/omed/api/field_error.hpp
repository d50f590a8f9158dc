// Field-level validation errors reported the way the Kubernetes API server reports them:
// "spec.engine.minReplicas: Invalid value: -1: must be greater than or equal to 0".
#pragma once

#include <string>
#include <vector>

#include "omed/common/json.hpp"

namespace omed::api {

enum class ErrorType { Required, Invalid, NotSupported, Forbidden, Duplicate, TooLong, NotFound };

struct FieldError {
  ErrorType type = ErrorType::Invalid;
  std::string field;    // "spec.engine.minReplicas"
  json::Value value;    // the offending value (Invalid, NotSupported, Duplicate)
  std::string detail;   // "must be greater than or equal to 0"

  std::string to_string() const;
  // The Kubernetes StatusCause reason: FieldValueRequired, FieldValueInvalid, ...
  const char* cause_reason() const;
};

using ErrorList = std::vector<FieldError>;

FieldError required(std::string field, std::string detail = {});
FieldError invalid(std::string field, json::Value value, std::string detail);
FieldError not_supported(std::string field, json::Value value, const std::vector<std::string>& allowed);
FieldError forbidden(std::string field, std::string detail);
FieldError duplicate(std::string field, json::Value value);
FieldError too_long(std::string field, json::Value value, size_t max);

// "BaseModel.ome.io \"llama\" is invalid: [spec.storage: Required value, ...]"
// (one error is printed without brackets, as the API server does).
std::string invalid_message(const std::string& kind_group, const std::string& name, const ErrorList& errs);

// Renders a value the way apimachinery prints it in messages (strings quoted, numbers bare).
std::string render_value(const json::Value& v);

}  // namespace omed::api
