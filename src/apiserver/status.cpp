// Status bodies in apimachinery's words; clients parse reason and code, humans read message.
#include "omed/apiserver/status.hpp"

namespace omed::apiserver {

json::Value ApiError::to_status() const {
  json::Object o{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::Object{}}, {"status", "Failure"},
                 {"message", message}, {"reason", reason}};
  if (!details.is_null())
    o.set("details", details);
  o.set("code", code);
  return o;
}

namespace {

json::Value name_details(const std::string& name, const std::string& group, const std::string& plural) {
  json::Object d{{"name", name}, {"group", group}, {"kind", plural}};
  return d;
}

}  // namespace

ApiError not_found(const std::string& qualified, const std::string& group, const std::string& plural,
                   const std::string& name) {
  return ApiError{404, "NotFound", qualified + " \"" + name + "\" not found", name_details(name, group, plural), 0};
}

ApiError path_not_found() {
  return ApiError{404, "NotFound", "the server could not find the requested resource", json::Object{}, 0};
}

ApiError already_exists(const std::string& qualified, const std::string& group, const std::string& plural,
                        const std::string& name) {
  return ApiError{409, "AlreadyExists", qualified + " \"" + name + "\" already exists",
                  name_details(name, group, plural), 0};
}

ApiError conflict(const std::string& qualified, const std::string& group, const std::string& plural,
                  const std::string& name, const std::string& detail) {
  return ApiError{409, "Conflict", "Operation cannot be fulfilled on " + qualified + " \"" + name + "\": " + detail,
                  name_details(name, group, plural), 0};
}

ApiError invalid(const std::string& kind, const std::string& group, const std::string& name,
                 const api::ErrorList& errs) {
  std::string kg = group.empty() ? kind : kind + "." + group;
  json::Array causes;
  for (auto& e : errs) {
    json::Object c{{"reason", e.cause_reason()}, {"message", e.to_string().substr(e.field.size() + 2)},
                   {"field", e.field}};
    causes.push_back(std::move(c));
  }
  json::Object d{{"name", name}, {"group", group}, {"kind", kind}, {"causes", std::move(causes)}};
  return ApiError{422, "Invalid", api::invalid_message(kg, name, errs), d, 0};
}

ApiError bad_request(const std::string& message) { return ApiError{400, "BadRequest", message, {}, 0}; }

ApiError method_not_allowed(const std::string& verb, const std::string& kind) {
  return ApiError{405, "MethodNotAllowed", verb + " is not supported on resources of kind \"" + kind + "\"",
                  json::Object{}, 0};
}

ApiError unsupported_media(const std::string& given, const std::vector<std::string>& accepted) {
  std::string list;
  for (size_t i = 0; i < accepted.size(); ++i)
    list += (i ? ", " : "") + accepted[i];
  return ApiError{415, "UnsupportedMediaType",
                  "the body of the request was in an unknown format - accepted media types include: " + list,
                  json::Object{}, 0};
  (void)given;
}

ApiError expired(const std::string& message) { return ApiError{410, "Expired", message, {}, 0}; }

ApiError too_many_requests(int retry_after) {
  json::Object d{{"retryAfterSeconds", retry_after}};
  return ApiError{429, "TooManyRequests", "Too many requests, please try again later.", d, retry_after};
}

ApiError internal(const std::string& message) {
  json::Object d{{"causes", json::Array{json::Object{{"message", message}}}}};
  return ApiError{500, "InternalError", "Internal error occurred: " + message, d, 0};
}

ApiError forbidden_error(const std::string& message, const std::string& group, const std::string& plural,
                         const std::string& name) {
  json::Value d;
  if (!plural.empty())
    d = name_details(name, group, plural);
  return ApiError{403, "Forbidden", message, d, 0};
}

ApiError unauthorized() { return ApiError{401, "Unauthorized", "Unauthorized", {}, 0}; }

ApiError too_large_rv(uint64_t asked, uint64_t current) {
  json::Object d{{"causes", json::Array{json::Object{{"reason", "ResourceVersionTooLarge"},
                                                     {"message", "Too large resource version"}}}},
                 {"retryAfterSeconds", 1}};
  return ApiError{504, "Timeout",
                  "Timeout: Too large resource version: " + std::to_string(asked) + ", current: " + std::to_string(current),
                  d, 1};
}

ApiError entity_too_large(size_t limit) {
  return ApiError{413, "RequestEntityTooLarge", "Request entity too large: limit is " + std::to_string(limit),
                  json::Object{}, 0};
}

json::Value success_status(const std::string& name, const std::string& group, const std::string& plural,
                           const std::string& uid) {
  json::Object d{{"name", name}, {"group", group}, {"kind", plural}, {"uid", uid}};
  return json::Object{{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::Object{}}, {"status", "Success"},
                      {"details", d}};
}

}  // namespace omed::apiserver
