// omed's command line: argument parsing and wiring only. Roles run the daemon; tool commands
// (validate, version) answer and exit.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.hpp"
#include "omed/actors/daemon.hpp"
#include "omed/apiserver/sim/node_profile.hpp"
#include "omed/api/validation.hpp"
#include "omed/common/strings.hpp"
#include "omed/common/yaml.hpp"
#include "omed/config/options.hpp"
#include "omed/http/server.hpp"
#include "omed/log/logger.hpp"

using namespace omed;

namespace {

const char* kUsage = R"(omed - an LLM-serving operator for Kubernetes (ome.io/v1beta1)

Usage:
  omed <command> [flags]

Commands:
  controller    run the controller role (watches ome.io resources, renders workloads)
  agent         run the node agent role (downloads and parses models on this node)
  standalone    run everything in one process, for a laptop or CI (embedded API server included)
  apiserver     run only the embedded Kubernetes-compatible API server
  validate      check manifests offline: omed validate -f FILE [-f FILE...]
  inspect-model print what omed learns about a model: omed inspect-model PATH|URI [-o json|yaml|table]
  parse-model   a pvc:// model's parse Job: omed parse-model --dir DIR (facts to the termination log)
  version       print the version

Run 'omed <command> --help' for the flags of a command.
)";

// Data shipped with omed (CRDs, samples): beside the binary in a build tree (build/actors/omed ->
// ../../deploy/...), in an installed share directory, or under the working directory.
std::string find_data_dir(const std::string& rel) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates;
  if (!ec) {
    candidates.push_back(exe.parent_path() / ".." / ".." / rel);
    candidates.push_back(exe.parent_path() / ".." / "share" / "omed" / fs::path(rel).filename());
  }
  candidates.push_back(fs::path("/usr/share/omed") / fs::path(rel).filename());
  candidates.push_back(fs::current_path(ec) / rel);
  for (auto& c : candidates)
    if (fs::is_directory(c, ec))
      return fs::weakly_canonical(c, ec).string();
  return {};
}

config::Options daemon_options(const std::string& role) {
  config::Options o;
  o.add("config", config::OptionKind::String, "", "YAML file with option values (flags override it)")
    .add("http-addr", config::OptionKind::String, "127.0.0.1:8080",
         "HOST:PORT for /metrics, /healthz and /readyz (the in-cluster manifests use 0.0.0.0:8080)")
    .add("log-level", config::OptionKind::String, "info", "debug, info, warn or error")
    .add("log-format", config::OptionKind::String, "logfmt", "logfmt or json")
    .add("threads", config::OptionKind::Int, "2", "actor scheduler threads")
    .add("shutdown-timeout", config::OptionKind::Duration, "5s", "time allowed for an orderly shutdown")
    .add("seed", config::OptionKind::Int, "1", "seed for restart jitter (deterministic runs)")
    .add("port-file", config::OptionKind::String, "", "write the bound HTTP port to this file")
    .add("help", config::OptionKind::Bool, "false", "show this help");
  if (role == "controller") {
    o.add("kubeconfig", config::OptionKind::String, "",
          "kubeconfig file (default: in-cluster service account, else $KUBECONFIG or ~/.kube/config)")
      .add("context", config::OptionKind::String, "", "kubeconfig context (default: current-context)")
      .add("leader-elect", config::OptionKind::Bool, "true", "elect a leader through a Lease; only it writes")
      .add("lease-namespace", config::OptionKind::String, "", "namespace of the Lease (default: the context's)")
      .add("lease-name", config::OptionKind::String, "omed-controller", "name of the Lease")
      .add("identity", config::OptionKind::String, "", "holder identity in the Lease (default hostname_pid_random)")
      .add("lease-duration", config::OptionKind::Duration, "15s", "how long standbys wait after the last renewal")
      .add("renew-deadline", config::OptionKind::Duration, "10s", "the leader stops writing if it cannot renew within this")
      .add("retry-period", config::OptionKind::Duration, "2s", "between election attempts")
      .add("namespace", config::OptionKind::String, "", "watch only this namespace (default: all)")
      .add("qps", config::OptionKind::String, "20", "requests per second to the API server (client-side limit)")
      .add("burst", config::OptionKind::Int, "40", "burst above --qps")
      .add("dry-run", config::OptionKind::Bool, "false", "compute and log every write, persist none (dryRun=All)");
  }
  if (role == "agent") {
    const char* node = std::getenv("NODE_NAME");
    o.add("kubeconfig", config::OptionKind::String, "",
          "kubeconfig file (default: in-cluster service account, else $KUBECONFIG or ~/.kube/config)")
      .add("context", config::OptionKind::String, "", "kubeconfig context (default: current-context)")
      .add("node-name", config::OptionKind::String, node ? node : "", "this node (default $NODE_NAME)")
      .add("qps", config::OptionKind::String, "20", "requests per second to the API server (client-side limit)")
      .add("burst", config::OptionKind::Int, "40", "burst above --qps");
  }
  if (role == "agent" || role == "standalone") {
    o.add("models-root", config::OptionKind::String, role == "agent" ? "/mnt/data/models" : "",
          role == "agent" ? "where models are written on this node"
                          : "where the simulated nodes' models are written (default DATA_DIR/models)")
      .add("hf-endpoint", config::OptionKind::String, "",
           "Hugging Face Hub endpoint (default $HF_ENDPOINT, else https://huggingface.co)")
      .add("s3-endpoint", config::OptionKind::String, "", "S3-compatible endpoint for s3:// models (default AWS)")
      .add("download-workers", config::OptionKind::Int, "2", "models fetched at the same time per node");
  }
  if (role == "controller" || role == "standalone")
    o.add("parse-image", config::OptionKind::String, "ghcr.io/omed/omed:" OMED_VERSION,
          "image of the Jobs that read pvc:// models (runs `omed parse-model`; standalone runs the "
          "command itself, whatever the image)")
      .add("ingress", config::OptionKind::String, "none",
           "how InferenceServices are exposed beyond the in-cluster Service: none, ingress, or gateway "
           "(Gateway API HTTPRoutes)")
      .add("ingress-domain", config::OptionKind::String, "example.com",
           "hosts are NAME.NAMESPACE.DOMAIN for Ingresses and HTTPRoutes")
      .add("ingress-class", config::OptionKind::String, "", "ingressClassName of rendered Ingresses")
      .add("gateway", config::OptionKind::String, "",
           "parent Gateways of rendered HTTPRoutes (comma-separated NAMESPACE/NAME)")
      .add("inference-pool", config::OptionKind::Bool, "false",
           "render a Gateway API Inference Extension InferencePool over each InferenceService's engine pods")
      .add("admin-token-file", config::OptionKind::String, "",
           "serve the admin API (/admin/v1/..., e.g. omectl explain) to holders of the bearer token in this file "
           "(standalone writes one to DATA_DIR/admin-token when not given)")
      .add("kueue-queue", config::OptionKind::String, "",
           "label workloads with this Kueue LocalQueue (an InferenceService's kueue.x-k8s.io/queue-name "
           "annotation wins)");
  if (role == "controller" || role == "standalone")
    o.add("webhook-addr", config::OptionKind::String, "",
          "HOST:PORT to serve the admission webhooks on, over HTTPS (OME's is :9443; default: none)")
      .add("webhook-cert-dir", config::OptionKind::String, "/tmp/k8s-webhook-server/serving-certs",
           "directory holding the webhook serving certificate as tls.crt and tls.key (a mounted Secret)");
  if (role == "standalone")
    o.add("pvc-root", config::OptionKind::String, "",
          "the simulated cluster's volumes: claim NAMESPACE/NAME is the directory PVC_ROOT/NAMESPACE/NAME "
          "(default DATA_DIR/pvc)")
      .add("agent-nodes", config::OptionKind::String, "all",
          "run a model agent for these simulated nodes (comma-separated names, \"all\", or \"none\")")
      .add("samples", config::OptionKind::String, "",
          "apply the manifests under this directory at start and report what omed made of them (default: "
          "deploy/samples, found like --crds; \"none\" skips the demo)");
  if (role == "standalone" || role == "apiserver") {
    bool standalone = role == "standalone";
    o.add("data-dir", config::OptionKind::String, standalone ? ".omed" : "",
          "durable storage and the kubeconfig go here (empty: in memory)")
      .add("host", config::OptionKind::String, "127.0.0.1", "API server listen address")
      .add("port", config::OptionKind::Int, standalone ? "6443" : "0", "API server port (0 picks a free one)")
      .add("tls", config::OptionKind::Bool, "true", "serve https with a generated CA (written into the kubeconfig)")
      .add("kubeconfig", config::OptionKind::String, "", "where to write the kubeconfig (default DATA_DIR/kubeconfig)")
      .add("crds", config::OptionKind::String, "",
           standalone ? "load the CustomResourceDefinitions in this directory at start (default: the repository's "
                        "deploy/crds beside the binary, else /usr/share/omed/crds, else ./deploy/crds)"
                      : "load the CustomResourceDefinitions in this directory at start")
      .add("builtin-schemas", config::OptionKind::String, "",
           "validate built-in kinds against the OpenAPI v3 documents in this directory")
      .add("history-limit", config::OptionKind::Int, "200000", "watch events kept; older starting points get 410")
      .add("bookmark-interval", config::OptionKind::Duration, "60s", "how often watches with bookmarks get one")
      .add("fault-seed", config::OptionKind::Int, "1", "seed of the fault injector")
      .add("fault-drop-watch", config::OptionKind::String, "0", "probability per watch event of dropping the stream")
      .add("fault-429", config::OptionKind::String, "0", "probability of 429 Too Many Requests per request")
      .add("fault-500", config::OptionKind::String, "0", "probability of 500 per request")
      .add("fault-watch-410", config::OptionKind::String, "0", "probability that a resumed watch gets 410 Expired")
      .add("fault-latency", config::OptionKind::Duration, "0ms", "latency added to every request")
      .add("default-not-ready-toleration-seconds", config::OptionKind::Int, "300",
           "tolerationSeconds given to new pods for node.kubernetes.io/not-ready and /unreachable (-1: none)")
      .add("sim-nodes", config::OptionKind::String, standalone ? "2x8xH100,1x8xA100-80GB,2x1xL4" : "",
           "simulate a cluster of these nodes, e.g. 4x8xH100,2x8xA100-40GB,8x1xL4 (\"none\": no simulation)")
      .add("sim-profile", config::OptionKind::String, "",
           "YAML cluster profile / scenario: nodeGroups, timing, failures, seed (overrides --sim-nodes)")
      .add("sim-seed", config::OptionKind::Int, "1", "seed of the simulation (scheduling ties, random failures)")
      .add("sim-start-delay", config::OptionKind::Duration, "1s", "bound pod to running containers (image pull, start)")
      .add("sim-ready-delay", config::OptionKind::Duration, "1s", "running containers to Ready (startup/readiness probes)")
      .add("sim-image-delay", config::OptionKind::String, "",
           "start delays by image substring, e.g. \"llama-70b=60s,sglang=5s\" (first match wins)")
      .add("sim-job-duration", config::OptionKind::Duration, "2s", "how long run-to-completion (Job) pods run")
      .add("sim-heartbeat", config::OptionKind::Duration, "10s", "node Lease renewal interval")
      .add("sim-node-monitor-grace", config::OptionKind::Duration, "40s",
           "a node without heartbeats for this long is marked NotReady (Unknown) and tainted")
      .add("sim-backoff", config::OptionKind::Duration, "10s", "crash-loop and image-pull back-off base (doubles, max 5m)")
      .add("sim-fail", config::OptionKind::String, "",
           "failures to inject, separated by ';': node-not-ready:node=N[@10s], node-ready:node=N, "
           "gpu-lost:node=N,gpus=2, crash-loop:pods=PREFIX, image-pull-error:image=SUBSTR, pod-fail:selector=app=x");
  }
  return o;
}

// The simulated cluster from --sim-* flags and --sim-profile; nullopt (and no error) when off.
std::optional<apiserver::sim::SimOptions> sim_options(const config::Options& opts, const std::string& role,
                                                      std::string& err) {
  namespace sim = apiserver::sim;
  auto nodes = opts.str("sim-nodes");
  auto profile = opts.str("sim-profile");
  if ((nodes.empty() || nodes == "none") && profile.empty())
    return std::nullopt;
  sim::SimOptions so;
  try {
    if (!nodes.empty() && nodes != "none")
      so.profile = sim::parse_node_spec(nodes);
    so.seed = static_cast<uint64_t>(opts.integer("sim-seed"));
    so.start_delay = opts.duration("sim-start-delay");
    so.ready_delay = opts.duration("sim-ready-delay");
    so.job_duration = opts.duration("sim-job-duration");
    so.heartbeat = opts.duration("sim-heartbeat");
    so.node_monitor_grace = opts.duration("sim-node-monitor-grace");
    so.backoff_base = opts.duration("sim-backoff");
    so.status_report = std::max(so.heartbeat * 6, std::chrono::milliseconds(1000));
    for (auto& item : str::split(opts.str("sim-image-delay"), ',')) {
      if (item.empty())
        continue;
      auto eq = item.find('=');
      if (eq == std::string::npos)
        throw std::invalid_argument("--sim-image-delay: \"" + item + "\" is not IMAGE=DURATION");
      so.image_start_delays.emplace_back(item.substr(0, eq), sim::parse_millis(item.substr(eq + 1)));
    }
    for (auto& spec : str::split(opts.str("sim-fail"), ';'))
      if (!spec.empty())
        so.failures.push_back(sim::parse_failure(spec));
    if (!profile.empty()) {
      std::ifstream f(profile);
      if (!f)
        throw std::invalid_argument("--sim-profile: cannot read " + profile);
      std::stringstream ss;
      ss << f.rdbuf();
      sim::apply_scenario(yaml::parse_one(ss.str()), so);
    }
    if (so.profile.groups.empty())
      throw std::invalid_argument("the simulation has no nodes (--sim-nodes or nodeGroups in --sim-profile)");
  } catch (const std::exception& e) {
    err = std::string("simulation: ") + e.what();
    return std::nullopt;
  }
  (void)role;
  return so;
}

int run_role(const std::string& role, int argc, char** argv) {
  auto opts = daemon_options(role);
  std::vector<std::string> pos;
  std::string err;
  if (!opts.parse_args(argc, argv, 2, pos, err)) {
    std::cerr << "omed " << role << ": " << err << "\n";
    return 2;
  }
  if (opts.boolean("help")) {
    std::cout << "Usage: omed " << role << " [flags]\n\nFlags:\n" << opts.help_text();
    return 0;
  }
  if (!pos.empty()) {
    std::cerr << "omed " << role << ": unexpected argument '" << pos[0] << "'\n";
    return 2;
  }
  if (auto file = opts.str("config"); !file.empty()) {
    std::ifstream f(file);
    if (!f) {
      std::cerr << "omed " << role << ": cannot read config file " << file << "\n";
      return 2;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    try {
      if (!opts.load_file_values(yaml::parse_one(ss.str()), err)) {
        std::cerr << "omed " << role << ": " << file << ": " << err << "\n";
        return 2;
      }
    } catch (const std::exception& e) {
      std::cerr << "omed " << role << ": " << file << ": " << e.what() << "\n";
      return 2;
    }
  }
  log::Level lvl;
  log::Format fmt;
  if (!log::parse_level(opts.str("log-level"), lvl)) {
    std::cerr << "omed " << role << ": --log-level must be debug, info, warn or error\n";
    return 2;
  }
  if (!log::parse_format(opts.str("log-format"), fmt)) {
    std::cerr << "omed " << role << ": --log-format must be logfmt or json\n";
    return 2;
  }
  log::configure(lvl, fmt);
  actors::DaemonConfig dc;
  dc.role = role;
  if (!http::split_host_port(opts.str("http-addr"), dc.http_host, dc.http_port)) {
    std::cerr << "omed " << role << ": --http-addr must be HOST:PORT, got '" << opts.str("http-addr") << "'\n";
    return 2;
  }
  if (opts.integer("threads") < 1 || opts.integer("threads") > 256) {
    std::cerr << "omed " << role << ": --threads must be between 1 and 256\n";
    return 2;
  }
  dc.threads = static_cast<size_t>(opts.integer("threads"));
  dc.shutdown_timeout = opts.duration("shutdown-timeout");
  if (dc.shutdown_timeout < std::chrono::milliseconds(1500)) {
    std::cerr << "omed " << role << ": --shutdown-timeout must be at least 1500ms\n";
    return 2;
  }
  dc.seed = static_cast<uint64_t>(opts.integer("seed"));
  dc.port_file = opts.str("port-file");
  if (role == "controller") {
    dc.kubeconfig = opts.str("kubeconfig");
    dc.context = opts.str("context");
    dc.leader_election = opts.boolean("leader-elect");
    dc.lease_namespace = opts.str("lease-namespace");
    dc.lease_name = opts.str("lease-name");
    dc.identity = opts.str("identity");
    dc.lease_duration = opts.duration("lease-duration");
    dc.renew_deadline = opts.duration("renew-deadline");
    dc.retry_period = opts.duration("retry-period");
    if (!(dc.retry_period < dc.renew_deadline && dc.renew_deadline < dc.lease_duration)) {
      std::cerr << "omed controller: need --retry-period < --renew-deadline < --lease-duration\n";
      return 2;
    }
    dc.watch_namespace = opts.str("namespace");
    dc.dry_run = opts.boolean("dry-run");
    try {
      dc.qps = std::stod(opts.str("qps"));
    } catch (...) {
      dc.qps = -1;
    }
    if (dc.qps <= 0 || opts.integer("burst") < 1) {
      std::cerr << "omed controller: --qps must be a positive number and --burst at least 1\n";
      return 2;
    }
    dc.burst = static_cast<int>(opts.integer("burst"));
  }
  if (role == "agent") {
    dc.kubeconfig = opts.str("kubeconfig");
    dc.context = opts.str("context");
    dc.node_name = opts.str("node-name");
    if (dc.node_name.empty()) {
      std::cerr << "omed agent: the node is unknown: set NODE_NAME (the DaemonSet passes spec.nodeName) or "
                   "--node-name\n";
      return 2;
    }
    try {
      dc.qps = std::stod(opts.str("qps"));
    } catch (...) {
      dc.qps = -1;
    }
    if (dc.qps <= 0 || opts.integer("burst") < 1) {
      std::cerr << "omed agent: --qps must be a positive number and --burst at least 1\n";
      return 2;
    }
    dc.burst = static_cast<int>(opts.integer("burst"));
  }
  if (role == "agent" || role == "standalone") {
    dc.models_root = opts.str("models-root");
    dc.hf_endpoint = opts.str("hf-endpoint");
    dc.s3_endpoint = opts.str("s3-endpoint");
    if (opts.integer("download-workers") < 1 || opts.integer("download-workers") > 64) {
      std::cerr << "omed " << role << ": --download-workers must be between 1 and 64\n";
      return 2;
    }
    dc.download_workers = static_cast<size_t>(opts.integer("download-workers"));
  }
  if (role == "controller" || role == "standalone") {
    dc.parse_image = opts.str("parse-image");
    if (dc.parse_image.empty()) {
      std::cerr << "omed " << role << ": --parse-image must name an image\n";
      return 2;
    }
    std::string ingress = opts.str("ingress");
    if (ingress != "none" && ingress != "ingress" && ingress != "gateway") {
      std::cerr << "omed " << role << ": --ingress must be none, ingress or gateway (got \"" << ingress << "\")\n";
      return 2;
    }
    dc.render.ingress_creation = ingress == "ingress";
    dc.render.gateway_api = ingress == "gateway";
    dc.render.ingress_domain = opts.str("ingress-domain");
    dc.render.ingress_class_name = opts.str("ingress-class");
    for (size_t b = 0, e; b < opts.str("gateway").size(); b = e + 1) {
      e = opts.str("gateway").find(',', b);
      if (e == std::string::npos)
        e = opts.str("gateway").size();
      if (e > b)
        dc.render.gateway_parents.push_back(opts.str("gateway").substr(b, e - b));
    }
    if (dc.render.gateway_api && dc.render.gateway_parents.empty()) {
      std::cerr << "omed " << role << ": --ingress gateway needs --gateway NAMESPACE/NAME\n";
      return 2;
    }
    if (auto addr = opts.str("webhook-addr"); !addr.empty()) {
      if (!http::split_host_port(addr, dc.webhook_host, dc.webhook_port)) {
        std::cerr << "omed " << role << ": --webhook-addr must be HOST:PORT, got '" << addr << "'\n";
        return 2;
      }
      if (dc.webhook_host.empty())
        dc.webhook_host = "0.0.0.0";  // ":9443", as controller-runtime takes it: every interface
      dc.webhook = true;
      dc.webhook_cert_dir = opts.str("webhook-cert-dir");
    }
    dc.render.inference_pool = opts.boolean("inference-pool");
    dc.render.kueue_queue = opts.str("kueue-queue");
    dc.admin_token_file = opts.str("admin-token-file");
  }
  if (role == "standalone")
    dc.leader_election = false;  // one process: nobody to elect
  if (role == "standalone" || role == "apiserver") {
    apiserver::ApiServerOptions ao;
    ao.host = opts.str("host");
    if (opts.integer("port") < 0 || opts.integer("port") > 65535) {
      std::cerr << "omed " << role << ": --port must be between 0 and 65535\n";
      return 2;
    }
    ao.port = static_cast<uint16_t>(opts.integer("port"));
    ao.tls = opts.boolean("tls");
    ao.data_dir = opts.str("data-dir");
    ao.kubeconfig_path = opts.str("kubeconfig");
    ao.builtin_schemas_dir = opts.str("builtin-schemas");
    ao.history_limit = static_cast<size_t>(std::max<int64_t>(1000, opts.integer("history-limit")));
    ao.bookmark_interval = opts.duration("bookmark-interval");
    auto prob = [&](const char* name, double& out) {
      try {
        out = std::stod(opts.str(name));
      } catch (...) {
        out = -1;
      }
      if (out < 0 || out > 1) {
        std::cerr << "omed " << role << ": --" << name << " must be a probability between 0 and 1\n";
        return false;
      }
      return true;
    };
    ao.faults.seed = static_cast<uint64_t>(opts.integer("fault-seed"));
    if (!prob("fault-drop-watch", ao.faults.drop_watch) || !prob("fault-429", ao.faults.too_many_requests) ||
        !prob("fault-500", ao.faults.internal_error) || !prob("fault-watch-410", ao.faults.watch_expired))
      return 2;
    ao.faults.latency_ms = static_cast<int>(opts.duration("fault-latency").count());
    if (ao.faults.enabled())
      std::cerr << "omed " << role << ": fault injection is ON (seed " << ao.faults.seed << ")\n";
    ao.default_toleration_seconds = opts.integer("default-not-ready-toleration-seconds");
    dc.apiserver = ao;
    if (auto sim = sim_options(opts, role, err)) {
      dc.sim = *sim;
      if (role == "standalone") {
        // Model agents for the simulated nodes: their names as the simulation registers them.
        std::string which = opts.str("agent-nodes");
        std::vector<std::string> names;
        for (auto& n : apiserver::sim::render_nodes(dc.sim->profile, "1970-01-01T00:00:00Z"))
          names.push_back(n.at_path("metadata.name")->as_string());
        if (which == "all") {
          dc.agent_nodes = names;
        } else if (which != "none" && !which.empty()) {
          for (auto& n : str::split(which, ','))
            if (std::find(names.begin(), names.end(), n) == names.end()) {
              std::cerr << "omed standalone: --agent-nodes: no simulated node named '" << n << "'\n";
              return 2;
            } else {
              dc.agent_nodes.push_back(n);
            }
        }
        if (dc.models_root.empty())
          dc.models_root = (std::filesystem::path(ao.data_dir.empty() ? ".omed" : ao.data_dir) / "models").string();
        // The kubelet runs parse Jobs for real, reading claims from here.
        std::string pvc_root = opts.str("pvc-root");
        if (pvc_root.empty())
          pvc_root = (std::filesystem::path(ao.data_dir.empty() ? ".omed" : ao.data_dir) / "pvc").string();
        std::error_code ec;
        dc.sim->pvc_root = std::filesystem::absolute(pvc_root, ec).string();
      }
    } else if (!err.empty()) {
      std::cerr << "omed " << role << ": " << err << "\n";
      return 2;
    }
    dc.crds_dir = opts.str("crds");
    if (role == "standalone") {
      if (dc.crds_dir.empty())
        dc.crds_dir = find_data_dir("deploy/crds");
      if (dc.crds_dir.empty()) {
        std::cerr << "omed standalone: cannot find the CRDs (deploy/crds); pass --crds DIR\n";
        return 2;
      }
      dc.samples_dir = opts.str("samples");
      if (dc.samples_dir.empty())
        dc.samples_dir = find_data_dir("deploy/samples");
      else if (dc.samples_dir == "none")
        dc.samples_dir.clear();
    }
  }
  return actors::run_daemon(dc);
}

int run_validate(int argc, char** argv) {
  std::vector<std::string> files;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << "Usage: omed validate -f FILE [-f FILE...]\n\n"
                   "Applies omed's admission (defaults, the CRD schema, and OME's webhook rules) to every\n"
                   "ome.io document in the files and prints each error as the API server would.\n"
                   "Exit code: 0 all valid, 1 some invalid, 2 unreadable input.\n";
      return 0;
    }
    if ((a == "-f" || a == "--filename") && i + 1 < argc)
      files.push_back(argv[++i]);
    else if (str::starts_with(a, "--filename="))
      files.push_back(a.substr(11));
    else {
      std::cerr << "omed validate: unexpected argument '" << a << "' (use -f FILE)\n";
      return 2;
    }
  }
  if (files.empty()) {
    std::cerr << "omed validate: give at least one -f FILE\n";
    return 2;
  }
  int bad = 0;
  for (auto& f : files) {
    std::ifstream in(f);
    if (!in) {
      std::cerr << "omed validate: cannot read " << f << "\n";
      return 2;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::vector<json::Value> docs;
    try {
      docs = yaml::parse_all(ss.str());
    } catch (const std::exception& e) {
      std::cerr << f << ": " << e.what() << "\n";
      return 2;
    }
    for (auto& d : docs) {
      auto kind = d.string_or("kind");
      auto name = d.at_path("metadata.name") && d.at_path("metadata.name")->is_string()
                    ? d.at_path("metadata.name")->as_string()
                    : std::string("<unnamed>");
      if (d.string_or("apiVersion").rfind("ome.io/", 0) != 0) {
        std::cout << f << ": " << kind << " " << name << ": skipped (not an ome.io object)\n";
        continue;
      }
      auto r = api::validate_object(api::default_object(d));
      for (auto& w : r.warnings)
        std::cout << f << ": " << kind << " " << name << ": warning: " << w << "\n";
      if (r.ok()) {
        std::cout << f << ": " << kind << " " << name << ": valid\n";
      } else {
        ++bad;
        std::cout << f << ": " << api::invalid_message(kind + ".ome.io", name, r.errors) << "\n";
      }
    }
  }
  return bad ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (cmd == "--version" || cmd == "version") {
    std::cout << "omed " << OMED_VERSION << "\n";
    return 0;
  }
  if (cmd == "controller" || cmd == "agent" || cmd == "standalone" || cmd == "apiserver")
    return run_role(cmd, argc, argv);
  if (cmd == "validate")
    return run_validate(argc, argv);
  if (cmd == "inspect-model")
    return cli::run_inspect_model(argc, argv);
  if (cmd == "parse-model")
    return cli::run_parse_model(argc, argv);
  std::cerr << "omed: unknown command '" << cmd << "'\n\n" << kUsage;
  return 2;
}
