// metav1.Status bodies: every error the API server returns, worded and coded like
// kube-apiserver's (apimachinery/pkg/api/errors).
#pragma once

#include <string>
#include <vector>

#include "omed/api/field_error.hpp"
#include "omed/common/json.hpp"

namespace omed::apiserver {

struct ApiError {
  int code = 500;
  std::string reason;   // NotFound, AlreadyExists, Conflict, Invalid, BadRequest, ...
  std::string message;
  json::Value details;  // null or {name, group, kind, causes, uid, retryAfterSeconds}
  int retry_after = 0;  // seconds, for 429/504 (also sent as Retry-After)

  json::Value to_status() const;
};

ApiError not_found(const std::string& qualified_resource, const std::string& group, const std::string& plural,
                   const std::string& name);
ApiError path_not_found();  // "the server could not find the requested resource"
ApiError already_exists(const std::string& qualified_resource, const std::string& group, const std::string& plural,
                        const std::string& name);
ApiError conflict(const std::string& qualified_resource, const std::string& group, const std::string& plural,
                  const std::string& name, const std::string& detail);
ApiError invalid(const std::string& kind, const std::string& group, const std::string& name,
                 const api::ErrorList& errs);
ApiError bad_request(const std::string& message);
ApiError method_not_allowed(const std::string& verb, const std::string& kind);
ApiError unsupported_media(const std::string& given, const std::vector<std::string>& accepted);
ApiError expired(const std::string& message);
ApiError too_many_requests(int retry_after);
ApiError internal(const std::string& message);
ApiError forbidden_error(const std::string& message, const std::string& group = "", const std::string& plural = "",
                         const std::string& name = "");
ApiError unauthorized();
ApiError too_large_rv(uint64_t asked, uint64_t current);
ApiError entity_too_large(size_t limit);

json::Value success_status(const std::string& name, const std::string& group, const std::string& plural,
                           const std::string& uid);

}  // namespace omed::apiserver
