// Daemon wiring: metrics and readiness first, then the actor system and its supervision tree,
// then the HTTP server. Shutdown reverses it: stop taking work, drain actors, stop HTTP.
#include "omed/actors/daemon.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <pthread.h>
#include <thread>

#include "omed/actors/controller.hpp"
#include "omed/apiserver/tls.hpp"
#include "omed/actors/serving.hpp"
#include "omed/actors/demo.hpp"
#include "omed/actors/model_agent.hpp"
#include "omed/agent/node_report.hpp"
#include "omed/controller/admission.hpp"
#include "omed/controller/fine_tuned_status.hpp"
#include "omed/controller/model_reports.hpp"
#include "omed/controller/object_index.hpp"
#include "omed/controller/parse_pods.hpp"
#include "omed/k8s/client.hpp"
#include "omed/k8s/resource.hpp"
#include "omed/k8s/rest_client.hpp"
#include "omed/actors/supervision.hpp"
#include "omed/k8s/config.hpp"
#include "omed/api/kinds.hpp"
#include "omed/http/router.hpp"
#include "omed/http/server.hpp"
#include "omed/log/logger.hpp"
#include "omed/metrics/registry.hpp"
#include "omed/runtime/readiness.hpp"
#include "webhook.hpp"

namespace omed::actors {

namespace {

struct SystemConfig : caf::actor_system_config {
  explicit SystemConfig(size_t threads) {
    set("scheduler.max-threads", threads);
    // One shared queue instead of work stealing: idle stealing workers spin and, on a small
    // machine, starve the thread that spawns tens of thousands of resource actors at start
    // (bench-actors: cold start 5.9 s with stealing, 1.7 s with sharing).
    set("scheduler.policy", caf::atom("sharing"));
    add_message_types<caf::id_block::omed>();
  }
};

// How the controller reaches its API server: the embedded one in standalone, else kubeconfig or
// the pod's service account.
k8s::RestConfig rest_config_for(const DaemonConfig& cfg, const apiserver::ApiServer* api) {
  if (api) {
    k8s::RestConfig rc;
    rc.server = api->url();
    rc.ca_pem = api->ca_pem();
    struct Fixed : k8s::TokenSource {
      explicit Fixed(std::string t) : t_(std::move(t)) {}
      std::string token() override { return t_; }
      std::string t_;
    };
    rc.token = std::make_shared<Fixed>(api->token());
    rc.context = "embedded";
    return rc;
  }
  k8s::KubeconfigOptions ko;
  ko.path = cfg.kubeconfig;
  ko.context = cfg.context;
  return k8s::load_config(ko);
}

using ExplainFn = std::function<json::Value(const std::string& ns, const std::string& name)>;

std::unique_ptr<Controller> make_controller(const DaemonConfig& cfg, const apiserver::ApiServer* api,
                                            metrics::Registry& reg, runtime::Readiness& ready, ExplainFn& explain) {
  ControllerOptions co;
  co.rest = rest_config_for(cfg, api);
  co.client.qps = cfg.qps;
  co.client.burst = cfg.burst;
  co.leader_election = cfg.leader_election;
  co.election.lease_namespace = cfg.lease_namespace.empty() ? co.rest.namespace_ : cfg.lease_namespace;
  co.election.lease_name = cfg.lease_name;
  co.election.identity = cfg.identity;
  co.election.lease_duration = cfg.lease_duration;
  co.election.renew_deadline = cfg.renew_deadline;
  co.election.retry_period = cfg.retry_period;
  co.dry_run = cfg.dry_run;
  co.watch_namespace = cfg.watch_namespace;
  co.owned = default_owned_resources();
  co.supervision.seed = cfg.seed;
  co.metrics = &reg;
  co.readiness = &ready;

  // Model roll-up: the agents' per-node ConfigMaps feed an index; a changed entry wakes exactly
  // the model actors that read it.
  auto reports = std::make_shared<controller::ModelReports>();
  auto self_slot = std::make_shared<Controller*>(nullptr);
  auto wake = [reports, self_slot](const std::vector<std::string>& changed) {
    if (!*self_slot || changed.empty())
      return;
    for (auto& [kind, key] : reports->subscribers(changed))
      (*self_slot)->requeue(kind, key);
  };
  ObservedKind cms;
  cms.resource = *k8s::find_well_known("v1", "ConfigMap");
  cms.ns = agent::kReportNamespace;
  cms.label_selector = std::string(agent::kReportLabel) + "=true";
  cms.on_object = [reports, wake](const json::Value& cm) { wake(reports->update(controller::report_node(cm), cm)); };
  cms.on_deleted = [reports, wake](const std::string&, const json::Value& last) {
    wake(reports->remove_node(controller::report_node(last)));
  };
  co.observed.push_back(std::move(cms));
  // A deleted node's reports no longer count (its files went with it).
  co.watch_nodes = false;
  // (serving's accelerator classes learn of removed nodes too; set once serving is wired below)
  auto node_gone = std::make_shared<std::function<void(const std::string&)>>([](const std::string&) {});
  ObservedKind nodes;
  nodes.resource = *k8s::find_well_known("v1", "Node");
  nodes.on_deleted = [reports, wake, node_gone](const std::string& key, const json::Value&) {
    wake(reports->remove_node(key));
    (*node_gone)(key);
  };
  co.observed.push_back(std::move(nodes));
  size_t node_observation = co.observed.size() - 1;
  // pvc:// models: their parse Jobs' pods carry the facts; a pod that changes wakes its model.
  auto parse_pods = std::make_shared<controller::ParsePods>();
  auto wake_model = [self_slot](const controller::ParsePods::Wake& w) {
    if (*self_slot && w)
      (*self_slot)->requeue(w->first, w->second);
  };
  ObservedKind pods;
  pods.resource = *k8s::find_well_known("v1", "Pod");
  pods.label_selector = std::string(controller::kParseRoleLabel) + "=" + controller::kParseRoleValue;
  pods.on_object = [parse_pods, wake_model](const json::Value& pod) { wake_model(parse_pods->update(pod)); };
  pods.on_deleted = [parse_pods, wake_model](const std::string&, const json::Value& last) {
    wake_model(parse_pods->remove(last));
  };
  co.observed.push_back(std::move(pods));
  controller::ParseJobSettings parse_settings;
  parse_settings.image = cfg.parse_image.empty() ? std::string("ghcr.io/omed/omed:" OMED_VERSION) : cfg.parse_image;
  // Fine-tuned weights read their base model: the model reconcilers keep the latest copy of each
  // base here and wake the weights that read it ("object:" keys in the same subscription table).
  auto bases = std::make_shared<controller::ObjectIndex>();
  auto base_changed = [bases, reports, self_slot](const agent::ModelRef& ref, const json::Value* obj) {
    bool changed = obj ? bases->put(ref.display(), *obj) : bases->remove(ref.display());
    if (changed && *self_slot)
      for (auto& [kind, key] : reports->subscribers({"object:" + ref.display()}))
        (*self_slot)->requeue(kind, key);
  };
  auto model_reconciler = [reports, parse_pods, parse_settings, bases, base_changed](
                            const std::string& kind, const std::string& key) -> Reconciler {
    if (kind == "FineTunedWeight")
      return [reports, bases, kind, key](const controller::Input& in) {
        auto cm_key = agent::configmap_key(agent::model_ref(in.object));
        reports->subscribe(cm_key, kind, key);
        controller::BaseModelView base;
        base.ref = controller::base_model_ref(in.object);
        if (!base.ref.name.empty()) {
          auto base_cm_key = agent::configmap_key(base.ref);
          reports->subscribe("object:" + base.ref.display(), kind, key);
          reports->subscribe(base_cm_key, kind, key);
          base.object = bases->get(base.ref.display());
          base.reports = reports->reports_for(base_cm_key);
        }
        return controller::fine_tuned_plan(in, reports->reports_for(cm_key), base);
      };
    if (kind == "BaseModel" || kind == "ClusterBaseModel")
      return [reports, parse_pods, parse_settings, base_changed, kind, key](const controller::Input& in) {
        auto ref = agent::model_ref(in.object);
        base_changed(ref, &in.object);
        auto cm_key = agent::configmap_key(ref);
        reports->subscribe(cm_key, kind, key);
        controller::PvcModelContext pvc{parse_settings, {}};
        if (controller::is_pvc_model(in.object)) {
          auto target = controller::parse_job_target(in.object);
          if (target.error.empty())
            pvc.pods = parse_pods->for_job(target.ns, controller::parse_job_name(in.object));
        }
        return controller::model_plan(in, reports->reports_for(cm_key), pvc);
      };
    return [](const controller::Input& in) { return controller::admission_plan(in); };
  };
  // Serving: runtimes, accelerator classes, nodes and adapters indexed for InferenceServices.
  ServingWiring serving;
  serving.models = bases;
  serving.reports = reports;
  serving.controller = self_slot;
  serving.settings = cfg.render;
  serving.caches_synced = [&ready] { return ready.is_open("watches"); };
  add_serving_owned(co, serving.settings);
  auto hooks = serving_hooks(serving);
  explain = hooks.explain;
  co.make_reconciler = [hooks, model_reconciler](const std::string& kind, const std::string& key) -> Reconciler {
    return hooks.make_reconciler(kind, key, [&] { return model_reconciler(kind, key); });
  };
  co.observed[node_observation].on_object = hooks.on_node;
  co.shared_children.push_back(hooks.scorer);
  *node_gone = hooks.on_node_deleted;
  co.on_deleted = [reports, base_changed, hooks](const std::string& kind, const std::string& key,
                                                 const json::Value& last) {
    reports->unsubscribe(kind, key);
    hooks.on_deleted(kind, key, last);
    if (kind == "BaseModel" || kind == "ClusterBaseModel")
      base_changed(agent::model_ref(last), nullptr);
  };
  auto c = std::make_unique<Controller>(std::move(co));
  *self_slot = c.get();
  return c;
}

std::unique_ptr<ModelAgent> make_agent(const DaemonConfig& cfg, const apiserver::ApiServer* api,
                                       const std::string& node, bool prefixed, metrics::Registry& reg) {
  ModelAgentOptions ao;
  ao.rest = rest_config_for(cfg, api);
  ao.client.qps = cfg.qps;
  ao.client.burst = cfg.burst;
  ao.settings.node_name = node;
  std::filesystem::path root = cfg.models_root.empty() ? std::string("/mnt/data/models") : cfg.models_root;
  ao.settings.models_root = prefixed ? root / node : root;
  // One content store for every agent of a standalone process: a model is fetched once and
  // hard-linked into each simulated node's directory.
  ao.settings.blob_dir = root / ".omed-blobs";
  ao.settings.reroot_storage_paths = prefixed;
  ao.settings.hf_endpoint = cfg.hf_endpoint;
  ao.settings.s3_endpoint = cfg.s3_endpoint;
  ao.workers = cfg.download_workers;
  ao.supervision.seed = cfg.seed;
  ao.metrics = &reg;
  ao.name_prefix = prefixed ? node + "/" : "";
  return std::make_unique<ModelAgent>(std::move(ao));
}

// The namespace the agents' report ConfigMaps live in; an installation creates it, the
// embedded API server gets it here.
void ensure_report_namespace(const DaemonConfig& cfg, const apiserver::ApiServer* api, log::Logger& lg) {
  try {
    k8s::RestClient rest(rest_config_for(cfg, api), k8s::ClientOptions{});
    k8s::Client client(rest);
    const auto& ns = *k8s::find_well_known("v1", "Namespace");
    if (!client.try_get(ns, "", agent::kReportNamespace))
      client.create(ns, json::Value(json::Object{
                          {"apiVersion", json::Value("v1")},
                          {"kind", json::Value("Namespace")},
                          {"metadata", json::Value(json::Object{{"name", json::Value(agent::kReportNamespace)}})}}));
  } catch (const std::exception& e) {
    lg.warn("cannot create the report namespace").kv("namespace", agent::kReportNamespace).kv("error", e.what());
  }
}

}  // namespace

int run_daemon(const DaemonConfig& cfg) {
  log::Logger lg("daemon");
  // Signals are taken by sigwait on this thread only: block them before any thread exists.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  // Webhook certificates are checked before anything starts: a missing Secret mount is a
  // configuration error, not something a restart fixes.
  webhook::ServerOptions webhook_opts;
  if (cfg.webhook) {
    std::string err;
    if (!prepare_webhook(cfg, webhook_opts, err)) {
      lg.error("cannot serve the admission webhooks").kv("error", err);
      return 2;
    }
  }

  metrics::Registry reg;
  reg.add_process_metrics();
  reg.gauge("omed_build_info", "omed build information; always 1.", {"version", "role"})
    .with({OMED_VERSION, cfg.role})
    .set(1);
  runtime::Readiness ready;
  ready.add("actors", "supervision tree not started");
  reg.gauge_fn("omed_ready", "1 when every readiness gate is open.", [&ready] { return ready.ready() ? 1.0 : 0.0; });

  // The embedded API server comes first: the roles talk to it.
  std::unique_ptr<apiserver::ApiServer> api;
  if (cfg.apiserver) {
    ready.add("apiserver", "not started");
    auto ao = *cfg.apiserver;
    ao.metrics = &reg;
    try {
      api = std::make_unique<apiserver::ApiServer>(ao);
      api->start();
      if (!cfg.crds_dir.empty()) {
        auto n = api->load_crds(cfg.crds_dir);
        lg.info("CRDs loaded").kv("dir", cfg.crds_dir).kv("count", n);
      }
    } catch (const std::exception& e) {
      lg.error("cannot start the API server").kv("error", e.what());
      return 1;
    }
    ready.open("apiserver");
  }
  // The simulated cluster acts on the API server like kubelets and kube-controller-manager do.
  std::unique_ptr<apiserver::sim::Simulation> sim;
  if (api && cfg.sim) {
    sim = std::make_unique<apiserver::sim::Simulation>(*api, *cfg.sim);
    sim->start();
  }

  // The controller's long-lived pieces (client, directory) must outlive every actor.
  std::unique_ptr<Controller> controller;
  ExplainFn explain;
  if (cfg.role == "controller" || cfg.role == "standalone") {
    try {
      controller = make_controller(cfg, api.get(), reg, ready, explain);
    } catch (const std::exception& e) {
      lg.error("cannot configure the controller").kv("error", e.what());
      if (sim)
        sim->stop();
      if (api)
        api->stop();
      return 2;  // a configuration error, like a bad flag: restarting will not help
    }
    auto& rc = controller->options().rest;
    lg.info("controller configured")
      .kv("server", rc.server)
      .kv("context", rc.context)
      .kv("leader_election", cfg.leader_election)
      .kv("identity", controller->options().election.identity);
  }

  // Agents: one for this node (agent role), or one per simulated node (standalone).
  std::vector<std::unique_ptr<ModelAgent>> agents;
  if (cfg.role == "agent" || (cfg.role == "standalone" && !cfg.agent_nodes.empty())) {
    if (api)
      ensure_report_namespace(cfg, api.get(), lg);
    try {
      if (cfg.role == "agent") {
        agents.push_back(make_agent(cfg, api.get(), cfg.node_name, false, reg));
      } else {
        for (const auto& node : cfg.agent_nodes)
          agents.push_back(make_agent(cfg, api.get(), node, true, reg));
      }
    } catch (const std::exception& e) {
      lg.error("cannot configure the agent").kv("error", e.what());
      if (sim)
        sim->stop();
      if (api)
        api->stop();
      return 2;
    }
    lg.info("agent configured").kv("nodes", agents.size()).kv("models_root", cfg.models_root);
  }

  SystemConfig syscfg(cfg.threads);
  auto sys = std::make_unique<caf::actor_system>(syscfg);
  auto* sysp = sys.get();
  reg.gauge_fn("omed_actors_running", "Actors currently running in the actor system.",
               [sysp] { return static_cast<double>(sysp->registry().running()); });

  SupervisorOptions so;
  so.metrics = &reg;
  so.seed = cfg.seed;
  std::vector<ChildSpec> children = controller ? controller->children() : std::vector<ChildSpec>{};
  for (auto& a : agents)
    for (auto& c : a->children())
      children.push_back(std::move(c));
  auto root = spawn_root_supervisor(*sys, std::move(children), so);

  http::Router router(&reg);
  router.add("GET", "/metrics", "metrics", [&reg](std::shared_ptr<http::Exchange> ex) {
    ex->respond(http::Response::text(200, reg.expose(), "text/plain; version=0.0.4; charset=utf-8"));
  });
  router.add("GET", "/healthz", "healthz", [](std::shared_ptr<http::Exchange> ex) {
    ex->respond(http::Response::text(200, "ok\n"));
  });
  router.add("GET", "/livez", "livez", [](std::shared_ptr<http::Exchange> ex) {
    ex->respond(http::Response::text(200, "ok\n"));
  });
  router.add("GET", "/readyz", "readyz", [&ready](std::shared_ptr<http::Exchange> ex) {
    bool ok = ready.ready();
    bool verbose = ex->request().query.find("verbose") != std::string::npos;
    ex->respond(http::Response::text(ok ? 200 : 503, verbose ? ready.verbose() : (ok ? "ok\n" : ready.verbose())));
  });
  // The admin API: a bearer token from a file (standalone makes one beside its kubeconfig).
  std::string admin_token;
  std::string admin_dir = cfg.apiserver ? cfg.apiserver->data_dir : std::string();
  try {
    if (!cfg.admin_token_file.empty()) {
      std::ifstream in(cfg.admin_token_file);
      if (!in || !std::getline(in, admin_token) || admin_token.empty())
        throw std::runtime_error("cannot read a token from " + cfg.admin_token_file);
    } else if (cfg.role == "standalone" && !admin_dir.empty()) {
      admin_token = apiserver::generate_token();
      apiserver::write_private_file((std::filesystem::path(admin_dir) / "admin-token").string(), admin_token + "\n");
    }
  } catch (const std::exception& e) {
    lg.error("cannot set up the admin API token").kv("error", e.what());
    caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
    if (sim)
      sim->stop();
    if (api)
      api->stop();
    return 2;
  }
  if (!admin_token.empty() && cfg.http_host != "127.0.0.1" && cfg.http_host != "::1" && cfg.http_host != "localhost") {
    // A token sent in clear across a network is a token given away.
    lg.error("the admin API needs a loopback --http-addr (it has no TLS yet)").kv("http", cfg.http_host);
    caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
    if (sim)
      sim->stop();
    if (api)
      api->stop();
    return 2;
  }
  router.add("", "/admin/*", "admin", [&admin_token, &explain](std::shared_ptr<http::Exchange> ex) {
    const auto& rq = ex->request();
    auto fail = [&](int code, const std::string& reason, const std::string& msg) {
      ex->respond(http::Response::json(code, json::dump(json::Value(json::Object{{"status", code}, {"reason", reason}, {"error", msg}}))));
    };
    if (admin_token.empty())
      return fail(404, "Disabled", "the admin API is off: start omed with --admin-token-file");
    const std::string* auth = rq.header("Authorization");
    std::string want = "Bearer " + admin_token;
    // Compared in full whatever the first difference, so timing says nothing about the token.
    bool ok = auth && auth->size() == want.size();
    unsigned diff = 0;
    for (size_t i = 0; ok && i < want.size(); ++i)
      diff |= static_cast<unsigned char>((*auth)[i] ^ want[i]);
    if (!ok || diff != 0)
      return fail(401, "Unauthorized", "a valid bearer token is required (the admin token file)");
    const std::string prefix = "/admin/v1/explain/";
    if (rq.method == "GET" && rq.path.rfind(prefix, 0) == 0) {
      std::string rest = rq.path.substr(prefix.size());
      auto slash = rest.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 >= rest.size())
        return fail(400, "BadRequest", "use /admin/v1/explain/NAMESPACE/NAME");
      if (!explain)
        return fail(404, "NotFound", "this process runs no controller");
      auto out = explain(rest.substr(0, slash), rest.substr(slash + 1));
      int code = out.get("status") && out.get("status")->is_int() ? static_cast<int>(out.get("status")->as_int()) : 200;
      return ex->respond(http::Response::json(code, json::pretty(out)));
    }
    fail(404, "NotFound", "no admin endpoint " + rq.method + " " + rq.path);
  });
  http::ServerOptions ho;
  ho.host = cfg.http_host;
  ho.port = cfg.http_port;
  http::Server server(ho, router.handler());
  try {
    server.start();
  } catch (const std::exception& e) {
    lg.error("cannot start the HTTP server").kv("error", e.what());
    caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
    if (sim)
      sim->stop();
    if (api)
      api->stop();
    return 1;
  }
  std::unique_ptr<webhook::WebhookServer> webhooks;
  if (cfg.webhook) {
    try {
      webhooks = start_webhook(std::move(webhook_opts), rest_config_for(cfg, api.get()));
    } catch (const std::exception& e) {
      lg.error("cannot start the admission webhook server").kv("error", e.what());
      server.stop();
      caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
      if (sim)
        sim->stop();
      if (api)
        api->stop();
      return 1;
    }
  }
  if (!cfg.port_file.empty()) {
    std::ofstream pf(cfg.port_file);
    pf << server.port() << "\n";
  }
  if (!admin_token.empty() && !admin_dir.empty() && cfg.role == "standalone") {
    // omectl --data-dir finds the daemon here.
    std::ofstream au(std::filesystem::path(admin_dir) / "admin-url");
    au << "http://" << (cfg.http_host == "0.0.0.0" ? std::string("127.0.0.1") : cfg.http_host) << ":" << server.port() << "\n";
  }
  lg.info("omed started")
    .kv("version", OMED_VERSION)
    .kv("role", cfg.role)
    .kv("http", cfg.http_host + ":" + std::to_string(server.port()))
    .kv("threads", cfg.threads);
  if (api && !api->kubeconfig_path().empty()) {
    // Humans start here: say where the cluster is and how to reach it.
    std::fprintf(stdout,
                 "\nomed API server: %s\nkubeconfig:      %s\ntry:             kubectl --kubeconfig %s get nodes,crds\n\n",
                 api->url().c_str(), api->kubeconfig_path().c_str(), api->kubeconfig_path().c_str());
    std::fflush(stdout);
  }

  // The tree is up once the root answers with every child running.
  {
    caf::scoped_actor self{*sys};
    self->request(root, std::chrono::seconds(10), children_atom_v)
      .receive(
        [&](std::vector<ChildInfo>& kids) {
          bool all = true;
          for (auto& k : kids)
            all = all && k.state == "running";
          if (all)
            ready.open("actors");
          else
            ready.close("actors", "some supervised children are not running");
        },
        [&](caf::error& err) { ready.close("actors", "root supervisor did not answer: " + describe(err)); });
  }

  // The demo is a client like any other: on its own thread, stopped and joined at shutdown.
  std::atomic<bool> demo_stop{false};
  std::thread demo;
  if (api && controller && !cfg.samples_dir.empty()) {
    DemoOptions dopt;
    dopt.rest = rest_config_for(cfg, api.get());
    dopt.samples_dir = cfg.samples_dir;
    if (!agents.empty())
      dopt.demo_model_dir = (std::filesystem::path(cfg.models_root) / "demo" / "tiny-llama").string();
    dopt.kubeconfig = api->kubeconfig_path();
    demo = std::thread([dopt, &demo_stop] { run_demo(dopt, demo_stop); });
  }

  int sig = 0;
  sigwait(&sigs, &sig);
  demo_stop = true;
  if (demo.joinable())
    demo.join();
  auto t0 = std::chrono::steady_clock::now();
  lg.info("shutting down").kv("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  ready.close("actors", "shutting down");

  // A hard deadline: if anything hangs, exit non-zero rather than linger.
  std::thread([deadline = cfg.shutdown_timeout + std::chrono::milliseconds(2000)] {
    std::this_thread::sleep_for(deadline);
    log::Logger("daemon").error("shutdown did not finish in time; exiting");
    std::_Exit(3);
  }).detach();

  {
    caf::scoped_actor self{*sys};
    auto budget = cfg.shutdown_timeout - std::chrono::milliseconds(1000);
    bool drained = false;
    self->monitor(root);
    self->request(root, budget, drain_atom_v)
      .receive([&](caf::ok_atom) { drained = true; },
               [&](caf::error& err) { lg.warn("drain incomplete; killing actors").kv("error", describe(err)); });
    if (!drained)
      self->send_exit(root, caf::exit_reason::kill);
    // The root answers before it quits: wait for it to be gone so the count below is final.
    self->receive([](const caf::down_msg&) {}, caf::after(std::chrono::seconds(1)) >> [] {});
  }
  if (webhooks)
    webhooks->stop();
  server.stop();
  if (sim)
    sim->stop();
  if (api)
    api->stop();
  // Our own scoped actors are gone by now; anything still running would be a leak.
  auto still_running = sysp->registry().running();
  sys.reset();  // joins the scheduler once every actor has terminated
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  lg.info("stopped").kv("shutdown_ms", ms).kv("actors_running", still_running);
  return 0;
}

}  // namespace omed::actors
