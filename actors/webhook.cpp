// Daemon wiring of the admission webhook server (see webhook.hpp).
#include "webhook.hpp"

#include "omed/actors/daemon.hpp"
#include "omed/k8s/client.hpp"
#include "omed/k8s/resource.hpp"

namespace omed::actors {

bool prepare_webhook(const DaemonConfig& cfg, webhook::ServerOptions& out, std::string& error) {
  out.host = cfg.webhook_host;
  out.port = cfg.webhook_port;
  return webhook::load_cert_dir(cfg.webhook_cert_dir, out, error);
}

std::unique_ptr<webhook::WebhookServer> start_webhook(webhook::ServerOptions opts, const k8s::RestConfig& rest) {
  // Its own client: reviews must not queue behind the controller's rate limit, and the API
  // server waits for the webhook (10 s by default) while we list.
  k8s::ClientOptions co;
  co.qps = 50;
  co.burst = 100;
  co.timeout = std::chrono::milliseconds(8000);
  auto client = std::make_shared<k8s::RestClient>(rest, co);
  opts.context.list_runtimes = [client](const std::string& kind, const std::string& ns) {
    const k8s::ResourceInfo* ri = k8s::find_well_known("ome.io/v1beta1", kind);
    if (!ri)
      return std::vector<json::Value>{};
    k8s::Client c(*client);
    return c.list(*ri, ns).items;
  };
  auto server = std::make_unique<webhook::WebhookServer>(std::move(opts));
  server->start();
  return server;
}

}  // namespace omed::actors
