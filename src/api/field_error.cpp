// Rendering of field errors in apimachinery's wording (field/errors.go).
#include "omed/api/field_error.hpp"

namespace omed::api {

std::string render_value(const json::Value& v) {
  if (v.is_string()) {
    std::string out;
    json::quote_to(v.as_string(), out);
    return out;
  }
  if (v.is_null())
    return "null";
  return json::dump(v);
}

std::string FieldError::to_string() const {
  std::string out = field + ": ";
  switch (type) {
    case ErrorType::Required:
      out += "Required value";
      break;
    case ErrorType::Invalid:
      out += "Invalid value: " + render_value(value);
      break;
    case ErrorType::NotSupported:
      out += "Unsupported value: " + render_value(value);
      break;
    case ErrorType::Forbidden:
      out += "Forbidden";
      break;
    case ErrorType::Duplicate:
      out += "Duplicate value: " + render_value(value);
      break;
    case ErrorType::TooLong:
      out += "Too long";
      break;
    case ErrorType::NotFound:
      out += "Not found: " + render_value(value);
      break;
  }
  if (!detail.empty())
    out += ": " + detail;
  return out;
}

const char* FieldError::cause_reason() const {
  switch (type) {
    case ErrorType::Required: return "FieldValueRequired";
    case ErrorType::Invalid: return "FieldValueInvalid";
    case ErrorType::NotSupported: return "FieldValueNotSupported";
    case ErrorType::Forbidden: return "FieldValueForbidden";
    case ErrorType::Duplicate: return "FieldValueDuplicate";
    case ErrorType::TooLong: return "FieldValueTooLong";
    case ErrorType::NotFound: return "FieldValueNotFound";
  }
  return "FieldValueInvalid";
}

FieldError required(std::string field, std::string detail) {
  return FieldError{ErrorType::Required, std::move(field), {}, std::move(detail)};
}

FieldError invalid(std::string field, json::Value value, std::string detail) {
  return FieldError{ErrorType::Invalid, std::move(field), std::move(value), std::move(detail)};
}

FieldError not_supported(std::string field, json::Value value, const std::vector<std::string>& allowed) {
  std::string detail = "supported values: ";
  for (size_t i = 0; i < allowed.size(); ++i) {
    if (i)
      detail += ", ";
    json::quote_to(allowed[i], detail);
  }
  return FieldError{ErrorType::NotSupported, std::move(field), std::move(value), std::move(detail)};
}

FieldError forbidden(std::string field, std::string detail) {
  return FieldError{ErrorType::Forbidden, std::move(field), {}, std::move(detail)};
}

FieldError duplicate(std::string field, json::Value value) {
  return FieldError{ErrorType::Duplicate, std::move(field), std::move(value), {}};
}

FieldError too_long(std::string field, json::Value value, size_t max) {
  return FieldError{ErrorType::TooLong, std::move(field), std::move(value),
                    "may not be more than " + std::to_string(max) + " bytes"};
}

std::string invalid_message(const std::string& kind_group, const std::string& name, const ErrorList& errs) {
  std::string out = kind_group + " \"" + name + "\" is invalid: ";
  if (errs.size() == 1)
    return out + errs[0].to_string();
  out += "[";
  for (size_t i = 0; i < errs.size(); ++i) {
    if (i)
      out += ", ";
    out += errs[i].to_string();
  }
  return out + "]";
}

}  // namespace omed::api
