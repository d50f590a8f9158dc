// Internal to the storage sources: a small blocking libcurl GET with bounded bodies, timeouts,
// manual redirects (credentials never cross to another origin), retries on 429/503, URL helpers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "omed/model/remote_file.hpp"

namespace omed::model::net {

// An absolute http(s) URL split into the parts signing and redirects need. `path` and `query`
// stay exactly as they appear in the URL (still percent-encoded).
struct Url {
  std::string scheme;  // "http" or "https", lowercase
  std::string host;    // lowercase; IPv6 without brackets
  std::string port;    // empty when absent
  std::string path;    // "/..." (at least "/")
  std::string query;   // without '?'
  // scheme://host[:port] with the default port dropped, so equal origins compare equal.
  std::string origin() const;
  // The Host header value: host plus the port when it is not the scheme's default.
  std::string host_header() const;
  std::string target() const { return query.empty() ? path : path + "?" + query; }
};

std::optional<Url> parse_url(std::string_view url);
bool same_origin(std::string_view a, std::string_view b);
// Resolves a Location / Link reference against the URL it came from (absolute, "//host/..",
// "/path", or relative). Returns empty when the result is not an http(s) URL.
std::string resolve_reference(std::string_view base, std::string_view ref);
// Percent-encodes every byte outside RFC 3986 "unreserved", keeping '/' (object keys, repo paths).
std::string encode_path(std::string_view path);
// Percent-encodes every byte outside "unreserved" (query values, single segments).
std::string encode_component(std::string_view s);

struct Request {
  std::string method = "GET";  // GET or HEAD
  std::string url;
  HeaderList headers;          // not secret: sent on every hop
  // Secret headers come from here, asked again for each hop; they are dropped entirely when a
  // redirect leaves the original request's origin (a token must not follow a 302 to a CDN).
  const RequestAuthorizer* auth = nullptr;
  size_t max_body = 16u << 20;
  // When the body exceeds max_body: stop reading and report `truncated` (a probe that only wants
  // headers) instead of failing.
  bool truncate_ok = false;
  bool follow_redirects = true;
  int max_redirects = 5;
  bool accept_compressed = false;
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds timeout{60000};
};

struct Response {
  bool transport_ok = false;
  std::string transport_error;  // curl's message, no URL query strings, no headers
  int status = 0;
  HeaderList headers;           // of the final response
  std::string body;
  std::string url;              // the final URL after redirects
  bool truncated = false;
  const std::string* header(std::string_view name) const;
};

Response perform(const Request& req);

// The calling thread's cancellation flag (see omed::model::ScopedCancel), or null.
const std::atomic<bool>* thread_cancel_flag();

struct RetryPolicy {
  int max_retries = 4;
  // A server that asks for a longer pause than this is not waited for: the caller reports it.
  std::chrono::seconds max_wait{60};
};

// How long the server asks us to wait: Retry-After (delta-seconds or an HTTP-date, RFC 9110
// 10.2.3), else the IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers: `t=` in
// RateLimit, or the older `reset=` / RateLimit-Reset), which the Hugging Face Hub sends.
std::optional<std::chrono::seconds> retry_after_of(const Response& r);

// perform() again on 429, 503 and transport errors, sleeping what the server asks (or an
// exponential back-off), at most policy.max_retries times. `retry_after` gets the last wait
// the server asked for, also when it was too long to honour.
Response perform_with_retry(const Request& req, const RetryPolicy& policy,
                            std::optional<std::chrono::seconds>& retry_after);

// Server-provided text made safe for a user-facing message: printable, single line, bounded.
std::string sanitize_server_text(std::string_view s, size_t max = 300);

// "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 IMF-fixdate) and "20130524T000000Z" (ISO 8601 basic).
std::string http_date(std::time_t t);
std::string amz_date(std::time_t t);

std::string sha256_hex(std::string_view data);
std::string to_hex(const unsigned char* p, size_t n);

std::string user_agent();

}  // namespace omed::model::net
