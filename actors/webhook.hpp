// Daemon wiring of the admission webhook server: certificates read before anything starts, and
// the runtime listing the ServingRuntime rules need, served by the controller's API server.
#pragma once

#include <memory>
#include <string>

#include "omed/k8s/rest_client.hpp"
#include "omed/webhook/server.hpp"

namespace omed::actors {

struct DaemonConfig;

// Reads the certificate directory. False with a message naming what is missing.
bool prepare_webhook(const DaemonConfig& cfg, webhook::ServerOptions& out, std::string& error);

// Starts the server with runtimes listed through `rest`. Throws std::runtime_error.
std::unique_ptr<webhook::WebhookServer> start_webhook(webhook::ServerOptions opts, const k8s::RestConfig& rest);

}  // namespace omed::actors
