// The omed daemon: builds the actor system and supervision tree for a role, serves metrics and
// probes, and shuts down in order on SIGTERM/SIGINT. CAF-free interface for src/main.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "omed/apiserver/server.hpp"
#include "omed/apiserver/sim/simulation.hpp"
#include "omed/render/inference_service.hpp"

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
  std::string samples_dir;  // standalone: the demo's manifests; empty: no demo
  // The simulated cluster beside the embedded API server (nodes, controllers, scheduler, kubelets).
  std::optional<apiserver::sim::SimOptions> sim;

  // controller role: how to reach the API server (standalone uses its embedded one).
  std::string kubeconfig;            // explicit file; else in-cluster, else $KUBECONFIG / ~/.kube/config
  std::string context;
  bool leader_election = true;       // standalone turns it off: one process, nobody to elect
  std::string lease_namespace;       // default: the kubeconfig context's (or the pod's) namespace
  std::string lease_name = "omed-controller";
  std::string identity;              // default hostname_pid_random
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  bool dry_run = false;
  std::string watch_namespace;       // "" = all
  double qps = 20;                   // client-side rate limit toward the API server
  int burst = 40;
  std::string parse_image;           // the image of pvc:// models' parse Jobs
  render::RenderSettings render;     // how InferenceServices are exposed (ingress, routes, pools, Kueue)
  // The admin API (/admin/v1/...) on the HTTP server answers only with this file's bearer token;
  // empty: off, except standalone, which writes one to DATA_DIR/admin-token (and DATA_DIR/admin-url).
  std::string admin_token_file;
  // Admission webhooks over HTTPS (controller-runtime's layout: CERT_DIR/tls.crt and tls.key).
  bool webhook = false;
  std::string webhook_host;
  uint16_t webhook_port = 9443;
  std::string webhook_cert_dir = "/tmp/k8s-webhook-server/serving-certs";

  // agent role: this node (NODE_NAME) and where its models go. standalone: one agent per
  // simulated node (agent_nodes), each with its own models root under models_root/<node>.
  std::string node_name;
  std::vector<std::string> agent_nodes;
  std::string models_root;
  std::string hf_endpoint;           // "" = $HF_ENDPOINT or the public Hub
  std::string s3_endpoint;           // an S3-compatible store
  size_t download_workers = 2;
};

// Runs until SIGTERM or SIGINT. Returns the process exit code.
int run_daemon(const DaemonConfig& cfg);

}  // namespace omed::actors
