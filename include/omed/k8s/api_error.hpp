// Failures of calls to the API server as typed values: the metav1.Status of an error response
// (code, reason, message, causes, Retry-After) or a transport failure that never got one.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace omed::k8s {

struct StatusCause {
  std::string type;     // "FieldValueInvalid"
  std::string field;    // "spec.replicas"
  std::string message;
};

class ApiError : public std::runtime_error {
public:
  ApiError(int code, std::string reason, std::string message, std::vector<StatusCause> causes = {},
           int retry_after_seconds = 0);

  int code() const { return code_; }
  const std::string& reason() const { return reason_; }
  const std::string& message() const { return message_; }
  const std::vector<StatusCause>& causes() const { return causes_; }
  // From the Retry-After header or details.retryAfterSeconds; 0 when absent.
  int retry_after_seconds() const { return retry_after_; }

  bool not_found() const { return code_ == 404; }
  bool already_exists() const { return code_ == 409 && reason_ == "AlreadyExists"; }
  bool conflict() const { return code_ == 409 && reason_ != "AlreadyExists"; }
  bool expired() const { return code_ == 410 || reason_ == "Expired" || reason_ == "Gone"; }
  bool invalid() const { return code_ == 422; }
  bool too_many_requests() const { return code_ == 429; }
  bool timeout() const { return code_ == 504 || reason_ == "Timeout"; }
  // Worth retrying the same request later: throttled, server errors, timeouts.
  bool retryable() const { return code_ == 429 || code_ >= 500 || timeout(); }

private:
  int code_;
  std::string reason_;
  std::string message_;
  std::vector<StatusCause> causes_;
  int retry_after_;
};

// Builds the error of a non-2xx response. Bodies that are not a Status (a proxy's HTML, an empty
// body) still give a usable error with the HTTP code's standard reason.
ApiError error_from_response(int code, std::string_view body, std::string_view retry_after_header = {});

// The connection failed, timed out or broke before a response arrived.
class TransportError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

}  // namespace omed::k8s
