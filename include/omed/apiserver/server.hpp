// The embedded Kubernetes-compatible API server: what kubectl, client-go style clients and
// omed itself talk to in standalone mode and in tests. Beast and CAF stay behind this header.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <functional>

#include "omed/common/json.hpp"
#include "omed/http/server.hpp"

namespace omed::metrics {
class Registry;
}

namespace omed::apiserver {

// Deterministic fault injection (tests switch it on by flags or POST /omed/faults).
struct FaultOptions {
  uint64_t seed = 1;
  double drop_watch = 0;        // probability per watch event that the connection is dropped
  double too_many_requests = 0; // probability of 429 with Retry-After per non-watch request
  int retry_after_seconds = 1;
  double internal_error = 0;    // probability of 500 per non-watch request
  double watch_expired = 0;     // probability that a watch starting from a resourceVersion gets 410
  int latency_ms = 0;           // added to every request
  bool enabled() const {
    return drop_watch > 0 || too_many_requests > 0 || internal_error > 0 || watch_expired > 0 || latency_ms > 0;
  }
};

struct ApiServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;              // 0 picks a free port
  bool tls = true;                // https with a generated CA (written into the kubeconfig)
  std::string data_dir;           // durable storage and the kubeconfig live here; empty: in memory
  std::string kubeconfig_path;    // default DATA_DIR/kubeconfig when data_dir is set
  std::string token;              // bearer token; generated when empty
  std::string builtin_schemas_dir;  // OpenAPI v3 documents to validate built-in kinds against
  size_t max_body_bytes = 3 * 1024 * 1024;
  size_t history_limit = 200000;
  int io_threads = 0;             // 0: half the cores (at least one); requests run on these threads
  std::chrono::milliseconds bookmark_interval{60000};
  // Added to every new pod as tolerations of node.kubernetes.io/not-ready and /unreachable
  // (NoExecute), as the DefaultTolerationSeconds admission plugin does; negative: none.
  int64_t default_toleration_seconds = 300;
  FaultOptions faults;
  metrics::Registry* metrics = nullptr;
};

class ApiServer {
public:
  explicit ApiServer(ApiServerOptions opts);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Recovers storage, bootstraps namespaces, starts listening. Throws on failure.
  void start();
  void stop();

  uint16_t port() const;
  std::string url() const;             // "https://127.0.0.1:PORT"
  const std::string& token() const;
  const std::string& ca_pem() const;   // empty without TLS
  std::string kubeconfig_path() const;
  uint64_t current_rv() const;

  // Loads every CustomResourceDefinition document from the YAML/JSON files of `dir` (like
  // `kubectl apply --server-side -f dir`). Returns how many were applied.
  size_t load_crds(const std::string& dir);
  // In-process write access for the simulated cluster and bootstrap (no HTTP, no auth). Returns
  // the stored object; throws std::runtime_error with the Status message on failure.
  json::Value create(const json::Value& obj);

  void set_faults(const FaultOptions& f);

  // Serves a request made inside this process through the same path as one from the network
  // (authentication, admission, audit, watch): the simulated cluster's components use it, so
  // they act through the API as real ones do, without a socket.
  void serve_local(std::shared_ptr<http::Exchange> ex);
  // Answers authenticated requests whose path starts with `prefix` (under /omed/) with `handler`,
  // which runs on an I/O thread and must not block.
  using AdminHandler = std::function<http::Response(const http::Request&)>;
  void add_admin_route(std::string prefix, AdminHandler handler);

  struct Impl;

private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace omed::apiserver
