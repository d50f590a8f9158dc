// HTTP transport to one API server over libcurl: authentication, TLS, client-side rate limiting,
// per-request timeouts and streaming responses. Thread-safe; callers block (never on actor threads).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "omed/k8s/config.hpp"

namespace omed::metrics {
class Registry;
}

namespace omed::k8s {

struct HttpResponse {
  int code = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string header(const std::string& lower) const {
    auto it = headers.find(lower);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct ClientOptions {
  double qps = 5;                              // client-side token bucket (client-go's defaults)
  int burst = 10;
  std::chrono::milliseconds timeout{30000};    // whole request, non-streaming calls
  std::chrono::milliseconds connect_timeout{5000};
  std::string user_agent = "omed";
  metrics::Registry* metrics = nullptr;        // omed_api_requests_total{verb,code}
};

class RestClient {
public:
  RestClient(RestConfig config, ClientOptions opts = {});
  ~RestClient();
  RestClient(const RestClient&) = delete;
  RestClient& operator=(const RestClient&) = delete;

  // One request; `target` is the path with its query. Waits for the rate limiter. A 401 drops the
  // cached token and retries once. Throws TransportError when no response arrived.
  HttpResponse request(const std::string& method, const std::string& target, const std::string& body = {},
                       const std::string& content_type = "application/json",
                       const std::vector<std::pair<std::string, std::string>>& headers = {});

  // A streaming GET (watch). Headers arrive first through `on_head` (status code; return false to
  // stop), then each de-chunked piece through `on_data` (return false to stop). Returns when the
  // server ends the stream, a callback stops it, `cancel` becomes true, or nothing arrives for
  // `idle_timeout`. Throws TransportError on connection failure; a mid-stream break returns normally
  // with `broken` set.
  struct StreamEnd {
    int code = 0;
    bool broken = false;      // the connection failed mid-stream (no clean end)
    bool cancelled = false;
    std::string error_body;   // the body of a non-200 answer
    std::string retry_after;
  };
  // `on_tick`, when given, runs on the calling thread about every 100 ms while the stream waits.
  StreamEnd stream(const std::string& target, const std::function<bool(std::string_view)>& on_data,
                   const std::atomic<bool>* cancel, std::chrono::milliseconds idle_timeout,
                   const std::function<void()>& on_tick = {});

  const RestConfig& config() const { return config_; }
  // Requests that waited for the rate limiter, and for how long in total (tests and metrics).
  uint64_t throttled_requests() const;

private:
  struct Impl;
  RestConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace omed::k8s
