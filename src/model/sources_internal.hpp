// Internal to the storage sources: each source's entry point and the helpers they share
// (failure results, request defaults, messages that point at the credentials Secret).
#pragma once

#include <string>

#include "http_get.hpp"
#include "omed/model/sources.hpp"

namespace omed::model::detail {

ListResult list_hf(const StorageUri& uri, const SourceConfig& cfg);
ListResult list_s3(const StorageUri& uri, const SourceConfig& cfg);
ListResult list_oci(const StorageUri& uri, const SourceConfig& cfg);
ListResult list_http(const StorageUri& uri, const SourceConfig& cfg);

inline ListResult fail(std::string reason, std::string error, int status = 0) {
  ListResult r;
  r.reason = std::move(reason);
  r.error = std::move(error);
  r.http_status = status;
  return r;
}

// "the Secret 'hf-token' (storage.key)" or a generic phrase when the name is unknown.
inline std::string secret_phrase(const SourceConfig& cfg) {
  if (cfg.secret_name.empty())
    return "the Secret named by the model's storage.key";
  return "the Secret '" + cfg.secret_name + "' (storage.key)";
}

inline net::Request base_request(const SourceConfig& cfg, std::string url, const RequestAuthorizer* auth) {
  net::Request r;
  r.url = std::move(url);
  r.auth = auth;
  r.connect_timeout = cfg.connect_timeout;
  r.timeout = cfg.request_timeout;
  return r;
}

inline net::RetryPolicy retry_policy(const SourceConfig& cfg) {
  net::RetryPolicy p;
  p.max_retries = cfg.max_retries < 0 ? 0 : cfg.max_retries;
  p.max_wait = cfg.max_retry_wait;
  return p;
}

// Transport failures as the user sees them: which host, what happened, no query strings.
inline std::string transport_message(const net::Response& r, std::string_view what) {
  std::string host;
  if (auto u = net::parse_url(r.url))
    host = u->origin();
  return std::string(what) + ": cannot reach " + host + " (" + r.transport_error +
         "); check the endpoint and the node's network access";
}

inline std::string rate_limited_message(std::string_view service, const std::optional<std::chrono::seconds>& wait) {
  std::string m = std::string(service) + " rate limit reached (HTTP 429)";
  if (wait)
    m += "; the server asks to retry in " + std::to_string(wait->count()) + "s";
  return m;
}

}  // namespace omed::model::detail
