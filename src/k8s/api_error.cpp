// Turning API server error responses into ApiError: the metav1.Status fields when the body is
// one, the HTTP code's standard reason when it is not (proxies, load balancers, empty bodies).
#include "omed/k8s/api_error.hpp"

#include <cstdlib>

#include "omed/common/json.hpp"

namespace omed::k8s {

ApiError::ApiError(int code, std::string reason, std::string message, std::vector<StatusCause> causes,
                   int retry_after_seconds)
  : std::runtime_error(message.empty() ? reason : message),
    code_(code),
    reason_(std::move(reason)),
    message_(std::move(message)),
    causes_(std::move(causes)),
    retry_after_(retry_after_seconds) {}

namespace {

// apimachinery's reasonForCode (apimachinery/pkg/api/errors/errors.go).
std::string reason_for_code(int code) {
  switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 406: return "NotAcceptable";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 500: return "InternalError";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return code >= 500 ? "InternalError" : "Unknown";
  }
}

int parse_retry_after(std::string_view h) {
  // Only delta-seconds: the API server never sends an HTTP date here.
  if (h.empty())
    return 0;
  char* end = nullptr;
  std::string s(h);
  long v = std::strtol(s.c_str(), &end, 10);
  return (end && *end == '\0' && v > 0 && v < 86400) ? static_cast<int>(v) : 0;
}

}  // namespace

ApiError error_from_response(int code, std::string_view body, std::string_view retry_after_header) {
  int retry_after = parse_retry_after(retry_after_header);
  json::Value v;
  std::string err;
  if (!body.empty() && json::try_parse(body, v, err) && v.is_object() && v.string_or("kind") == "Status") {
    std::vector<StatusCause> causes;
    if (auto* d = v.get("details"); d && d->is_object()) {
      if (auto* cs = d->get("causes"); cs && cs->is_array())
        for (auto& c : cs->as_array())
          if (c.is_object())
            causes.push_back({c.string_or("reason"), c.string_or("field"), c.string_or("message")});
      if (auto ra = d->int_at("retryAfterSeconds"); ra && retry_after == 0)
        retry_after = static_cast<int>(*ra);
    }
    std::string reason = v.string_or("reason");
    if (reason.empty())
      reason = reason_for_code(code);
    std::string message = v.string_or("message");
    if (message.empty())
      message = reason;
    return ApiError(code, std::move(reason), std::move(message), std::move(causes), retry_after);
  }
  std::string snippet(body.substr(0, 200));
  std::string message = "the server responded with HTTP " + std::to_string(code);
  if (!snippet.empty())
    message += ": " + snippet;
  return ApiError(code, reason_for_code(code), std::move(message), {}, retry_after);
}

}  // namespace omed::k8s
