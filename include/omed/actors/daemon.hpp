// The omed daemon: builds the actor system and supervision tree for a role, serves metrics and
// probes, and shuts down in order on SIGTERM/SIGINT. CAF-free interface for src/main.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "omed/apiserver/server.hpp"

namespace omed::actors {

struct DaemonConfig {
  std::string role = "controller";  // controller | agent | standalone | apiserver
  std::string http_host = "127.0.0.1";
  uint16_t http_port = 8080;
  size_t threads = 2;  // CAF scheduler threads
  std::chrono::milliseconds shutdown_timeout{5000};
  uint64_t seed = 1;   // restart jitter
  // Written once the HTTP server listens (tests read the bound port from it); empty: none.
  std::string port_file;
  // standalone and apiserver roles: the embedded API server, and CRDs to load into it.
  std::optional<apiserver::ApiServerOptions> apiserver;
  std::string crds_dir;
};

// Runs until SIGTERM or SIGINT. Returns the process exit code.
int run_daemon(const DaemonConfig& cfg);

}  // namespace omed::actors
