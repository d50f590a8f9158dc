// The HTTPS server the API server calls the admission webhooks on (controller-runtime's
// conventions: port 9443, tls.crt and tls.key in a mounted certificate directory).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "omed/webhook/admission.hpp"

namespace omed::http {
class Server;
}

namespace omed {
class ThreadPool;
}

namespace omed::webhook {

struct ServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 9443;  // 0 picks a free port
  std::string cert_pem;  // serving certificate chain (PEM text)
  std::string key_pem;
  Context context;
  size_t workers = 2;    // reviews may block on list_runtimes: they run off the I/O thread
};

// Reads DIR/tls.crt and DIR/tls.key into `opts`. False with a message naming the file when
// either is missing, unreadable or not PEM.
bool load_cert_dir(const std::string& dir, ServerOptions& opts, std::string& error);

class WebhookServer {
public:
  explicit WebhookServer(ServerOptions opts);
  ~WebhookServer();
  WebhookServer(const WebhookServer&) = delete;
  WebhookServer& operator=(const WebhookServer&) = delete;

  // Binds and serves. Throws std::runtime_error when the address or the certificate is unusable.
  void start();
  void stop();
  uint16_t port() const;

private:
  ServerOptions opts_;
  std::shared_ptr<ThreadPool> pool_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace omed::webhook
