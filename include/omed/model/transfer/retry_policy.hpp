// When a failed request is tried again and after how long: exponential backoff with full
// jitter, a server's Retry-After honoured up to a cap, and which HTTP statuses are final.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace omed::model::transfer {

class RetryPolicy {
public:
  RetryPolicy(std::chrono::milliseconds base, std::chrono::milliseconds cap,
              std::chrono::milliseconds retry_after_cap, int max_attempts)
    : base_(base), cap_(cap), retry_after_cap_(retry_after_cap), max_attempts_(max_attempts) {}

  // Uniform in [0, min(cap, base * 2^(attempt-1))] for attempt >= 1: spreading clients over the
  // whole window keeps a recovering server from seeing them return in lockstep.
  std::chrono::milliseconds backoff(int attempt) const;
  // The server's wish when it gave one (capped), else backoff(attempt).
  std::chrono::milliseconds delay(int attempt, std::optional<std::chrono::milliseconds> retry_after) const;
  bool exhausted(int attempts) const { return attempts >= max_attempts_; }
  int max_attempts() const { return max_attempts_; }

  // 408, 429 and 5xx are worth another try; other 4xx mean the request itself is wrong.
  static bool retryable_status(long status);

private:
  std::chrono::milliseconds base_, cap_, retry_after_cap_;
  int max_attempts_;
};

// Retry-After as delta-seconds or an HTTP-date (then relative to `now`; a past date is 0).
std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

// The user-facing explanation of a final HTTP status for one file (`where` is a redacted URL).
std::string describe_http_failure(long status, const std::string& file, const std::string& where);

}  // namespace omed::model::transfer
