// Serving the admission webhooks: TLS only (the API server calls webhooks over HTTPS), each
// review on a worker thread so a slow runtime listing never stalls the I/O thread.
#include "omed/webhook/server.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "omed/common/thread_pool.hpp"
#include "omed/http/server.hpp"
#include "omed/log/logger.hpp"

namespace omed::webhook {

namespace {

bool read_pem(const std::string& path, const char* what, std::string& out, std::string& error) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    error = "cannot read the webhook " + std::string(what) + " " + path +
            " (mount the serving certificate Secret there, or pass --webhook-cert-dir)";
    return false;
  }
  std::ostringstream os;
  os << f.rdbuf();
  out = os.str();
  if (out.find("-----BEGIN ") == std::string::npos) {
    error = "the webhook " + std::string(what) + " " + path + " is not PEM";
    return false;
  }
  return true;
}

}  // namespace

bool load_cert_dir(const std::string& dir, ServerOptions& opts, std::string& error) {
  std::string base = dir.empty() || dir.back() == '/' ? dir : dir + "/";
  return read_pem(base + "tls.crt", "certificate", opts.cert_pem, error) &&
         read_pem(base + "tls.key", "private key", opts.key_pem, error);
}

WebhookServer::WebhookServer(ServerOptions opts) : opts_(std::move(opts)) {}

WebhookServer::~WebhookServer() { stop(); }

void WebhookServer::start() {
  if (opts_.cert_pem.empty() || opts_.key_pem.empty())
    throw std::runtime_error("the webhook server needs a serving certificate and key");
  pool_ = std::make_shared<ThreadPool>(std::max<size_t>(opts_.workers, 1), "webhook");
  http::ServerOptions ho;
  ho.host = opts_.host;
  ho.port = opts_.port;
  ho.tls = http::TlsOptions{opts_.cert_pem, opts_.key_pem};
  // The API server sends at most the object and its old version; its own limit is 3 MiB each.
  ho.max_body_bytes = 8 * 1024 * 1024;
  std::weak_ptr<ThreadPool> pool = pool_;
  auto ctx = opts_.context;
  server_ = std::make_unique<http::Server>(ho, [pool, ctx](std::shared_ptr<http::Exchange> ex) {
    auto p = pool.lock();
    if (!p) {
      ex->respond(http::Response::text(503, "shutting down\n"));
      return;
    }
    p->post([ex, ctx] {
      const auto& rq = ex->request();
      auto a = handle_http(rq.method, rq.path, rq.body, ctx);
      http::Response resp;
      resp.status = a.status;
      resp.body = std::move(a.body);
      resp.header("Content-Type", a.content_type);
      if (a.status == 405)
        resp.header("Allow", "POST");
      ex->respond(std::move(resp));
    });
  });
  try {
    server_->start();
  } catch (...) {
    server_.reset();
    pool_->stop();
    pool_.reset();
    throw;
  }
  log::Logger("webhook")
    .info("admission webhooks serving")
    .kv("addr", opts_.host + ":" + std::to_string(server_->port()))
    .kv("paths", endpoints().size());
}

void WebhookServer::stop() {
  // Connections first (no new reviews), then the reviews already queued.
  if (server_)
    server_->stop();
  if (pool_)
    pool_->stop();
  server_.reset();
  pool_.reset();
}

uint16_t WebhookServer::port() const { return server_ ? server_->port() : 0; }

}  // namespace omed::webhook
