// Retry timing and HTTP status classification for the transfer engine. The messages here are
// what a user sees in a model's status, so they say what to check, not just the number.
#include "omed/model/transfer/retry_policy.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <random>

namespace omed::model::transfer {

using std::chrono::milliseconds;

milliseconds RetryPolicy::backoff(int attempt) const {
  if (attempt < 1)
    attempt = 1;
  // Doubling saturates long before 2^30; the cap applies anyway.
  int shift = std::min(attempt - 1, 30);
  long double window = static_cast<long double>(base_.count()) * static_cast<long double>(1ull << shift);
  long double limit = std::min<long double>(window, static_cast<long double>(cap_.count()));
  if (limit <= 0)
    return milliseconds(0);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<long long> dist(0, static_cast<long long>(limit));
  return milliseconds(dist(rng));
}

milliseconds RetryPolicy::delay(int attempt, std::optional<milliseconds> retry_after) const {
  if (retry_after)
    return std::clamp(*retry_after, milliseconds(0), retry_after_cap_);
  return backoff(attempt);
}

bool RetryPolicy::retryable_status(long status) {
  return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

std::optional<milliseconds> parse_retry_after(std::string_view value,
                                              std::chrono::system_clock::time_point now) {
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front())))
    value.remove_prefix(1);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back())))
    value.remove_suffix(1);
  if (value.empty())
    return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    uint64_t secs = 0;
    auto r = std::from_chars(value.data(), value.data() + value.size(), secs);
    if (r.ec != std::errc())
      secs = UINT32_MAX;  // absurdly large: the cap decides
    secs = std::min<uint64_t>(secs, UINT32_MAX);
    return milliseconds(static_cast<int64_t>(secs) * 1000);
  }
  // libcurl's date parser accepts all three HTTP-date forms (IMF-fixdate, RFC 850, asctime).
  std::string text(value);
  time_t when = curl_getdate(text.c_str(), nullptr);
  if (when == -1)
    return std::nullopt;
  auto target = std::chrono::system_clock::from_time_t(when);
  if (target <= now)
    return milliseconds(0);
  return std::chrono::duration_cast<milliseconds>(target - now);
}

std::string describe_http_failure(long status, const std::string& file, const std::string& where) {
  std::string code = "HTTP " + std::to_string(status);
  std::string at = "'" + file + "' from " + where;
  switch (status) {
    case 401:
      return "access denied (" + code + ") fetching " + at +
             ": credentials are missing or invalid; check the token or keys for this source";
    case 403:
      return "access denied (" + code + ") fetching " + at +
             ": the credentials lack permission (gated or private model, or an expired signed URL)";
    case 404:
    case 410:
      return "not found (" + code + "): " + at + " does not exist; check the model name, revision and file list";
    case 416:
      return "the server rejected the byte range (" + code + ") for " + at +
             ": the remote file is smaller than listed";
    case 429:
      return "rate limited (" + code + ") fetching " + at + " and retries are exhausted";
    default:
      if (status >= 500)
        return "server error (" + code + ") fetching " + at + " and retries are exhausted";
      return "request refused (" + code + ") fetching " + at;
  }
}

}  // namespace omed::model::transfer
