// Benchmark of the actor layer at scale: with N (default 20,000) settled ClusterBaseModels in the
// embedded API server, the controller's cold start (watch synced, one resource actor per object,
// every first reconcile done), its RSS, the memory per resource actor beyond the cached object,
// and the latency of 1,000 updates/s from the write to the resource actor's reconcile.
//
// The parent process hosts the API server and fills it; the measured parts run in child processes
// (this binary re-executed with --child) so that the server's memory never counts:
//   --child reflector   only a k8s::Reflector listing and watching the objects (the cache alone)
//   --child controller  the full Controller (admission reconciler) under a root supervisor, on
//                       CAF's "sharing" scheduler as the daemon runs it
//   --child controller-stealing  the same cold start with CAF's default work stealing (a
//                       comparison row; no update phase)
// Each child prints "RESULT key=value ..." lines; the parent prints a table and a last line
// "BENCH actors key=value ...". OMED_BENCH_OBJECTS scales the object count down for quick runs.
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "omed/actors/controller.hpp"
#include "omed/apiserver/server.hpp"
#include "omed/controller/admission.hpp"
#include "omed/k8s/client.hpp"
#include "omed/k8s/reflector.hpp"
#include "omed/log/logger.hpp"
#include "omed/metrics/registry.hpp"
#include "omed/runtime/readiness.hpp"
#include "../support/raw_http.hpp"
#include "../support/test_env.hpp"

using namespace omed;
using namespace omed::testing;
using Clock = std::chrono::steady_clock;

namespace {

const char* kToken = "bench-actors-token";
const char* kAnnotation = "bench/sent-ns";
const double kClientQps = 5000;
const int kClientBurst = 10000;
const int kUpdateRate = 1000;       // updates per second
const int kUpdateSeconds = 10;
const int kUpdateThreads = 4;
const int kSchedulerThreads = 2;    // the daemon's default (DaemonConfig::threads)

// ------------------------------------------------------------------ process figures

double status_kib(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  size_t n = std::strlen(field);
  while (std::getline(f, line))
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':')
      return std::stod(line.substr(n + 1));
  return 0;
}
double rss_mib() { return status_kib("VmRSS") / 1024.0; }
int thread_count() { return static_cast<int>(status_kib("Threads")); }
// Bytes the allocator has handed out and not got back (all arenas, mmapped chunks included).
double heap_mib() {
  auto mi = mallinfo2();
  return static_cast<double>(mi.uordblks + mi.hblkhd) / (1024.0 * 1024.0);
}

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int objects_from_env() {
  if (const char* e = std::getenv("OMED_BENCH_OBJECTS")) {
    int n = std::atoi(e);
    if (n > 0)
      return n;
  }
  return 20000;
}

std::string object_name(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "model-%05d", i);
  return buf;
}

const char* kPath = "/apis/ome.io/v1beta1/clusterbasemodels";

// ------------------------------------------------------------------ keep-alive HTTP

struct Conn : KeepAliveClient {
  Conn(uint16_t port, std::string agent) : KeepAliveClient(port, kToken, std::move(agent)) {}
};

// ------------------------------------------------------------------ children

struct Args {
  std::string mode;
  uint16_t port = 0;
  int objects = 0;
};

struct Tok : k8s::TokenSource {
  std::string token() override { return kToken; }
};

k8s::RestConfig rest_config(uint16_t port) {
  k8s::RestConfig rc;
  rc.server = "http://127.0.0.1:" + std::to_string(port);
  rc.token = std::make_shared<Tok>();
  return rc;
}

k8s::ClientOptions client_options() {
  k8s::ClientOptions co;
  co.qps = kClientQps;
  co.burst = kClientBurst;
  return co;
}

const k8s::ResourceInfo& cbm() { return *k8s::find_well_known("ome.io/v1beta1", "ClusterBaseModel"); }

void result(const std::string& kv) {
  std::printf("RESULT %s\n", kv.c_str());
  std::fflush(stdout);
}

// Mode "reflector": the object cache alone, as the controller's watch stream holds it.
int child_reflector(const Args& a, Clock::time_point t0) {
  double rss0 = rss_mib(), heap0 = heap_mib();
  k8s::RestClient rest(rest_config(a.port), client_options());
  k8s::Client client(rest);
  struct Handler : k8s::ReflectorHandler {
    std::atomic<size_t> events{0};
    std::atomic<bool> synced{false};
    void on_event(const std::string&, const std::shared_ptr<const json::Value>&) override { ++events; }
    void on_synced(const std::string&) override { synced = true; }
  } handler;
  k8s::ReflectorOptions ro;
  ro.resource = cbm();
  ro.seed = 1;
  k8s::Reflector refl(client, ro, handler);
  std::thread th([&] { refl.run(); });
  auto deadline = Clock::now() + std::chrono::seconds(120);
  while (!handler.synced && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  double synced_s = since(t0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // same settling as the controller
  double rss = rss_mib(), heap = heap_mib();
  int threads = thread_count();
  malloc_trim(0);
  double rss_trim = rss_mib();
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "synced=%d objects=%zu synced_s=%.3f rss0_mib=%.2f heap0_mib=%.2f rss_mib=%.2f heap_mib=%.2f "
                "rss_trim_mib=%.2f threads=%d",
                handler.synced.load() ? 1 : 0, refl.size(), synced_s, rss0, heap0, rss, heap, rss_trim, threads);
  result(buf);
  refl.stop();
  th.join();
  return handler.synced && refl.size() == static_cast<size_t>(a.objects) ? 0 : 1;
}

struct SysConfig : caf::actor_system_config {
  explicit SysConfig(bool sharing) {
    set("scheduler.max-threads", kSchedulerThreads);
    if (sharing)
      set("scheduler.policy", caf::atom("sharing"));
    add_message_types<caf::id_block::omed>();
  }
};

// What the resource actors saw of the update phase: receipt - send, once per sent value.
struct Receipts {
  std::mutex mu;
  bool armed = false;
  std::unordered_set<int64_t> seen;
  std::vector<double> latency_ms;
};
Receipts g_receipts;

void note_receipt(const json::Value& obj) {
  auto* ann = obj.at_path("metadata.annotations");
  auto* v = ann ? ann->get(kAnnotation) : nullptr;
  if (!v || !v->is_string())
    return;
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
  int64_t sent = std::strtoll(v->as_string().c_str(), nullptr, 10);
  std::lock_guard<std::mutex> lk(g_receipts.mu);
  if (!g_receipts.armed || !g_receipts.seen.insert(sent).second)
    return;
  g_receipts.latency_ms.push_back(static_cast<double>(now - sent) / 1e6);
}

// The default admission reconciler, plus a look at the bench annotation. Captures nothing, so it
// costs a resource actor what the default reconciler costs (no allocation in std::function).
actors::Reconciler bench_reconciler(const std::string&, const std::string&) {
  return [](const controller::Input& in) {
    note_receipt(in.object);
    return controller::admission_plan(in);
  };
}

double applier_writes(metrics::Registry& reg) {
  double total = 0;
  reg.counter("omed_applier_writes_total", "Writes the applier performed, by outcome.", {"op", "result"})
    .for_each([&](const metrics::Labels&, const metrics::Counter& c) { total += c.value(); });
  return total;
}

// Mode "controller": the whole controller role for one kind, cold start then sustained updates.
int child_controller(const Args& a, Clock::time_point t0, bool sharing) {
  double rss0 = rss_mib(), heap0 = heap_mib();
  metrics::Registry reg;
  runtime::Readiness ready;
  actors::ControllerOptions co;
  co.rest = rest_config(a.port);
  co.client = client_options();
  co.leader_election = false;
  co.kinds = {"ClusterBaseModel"};
  co.owned = {};
  co.make_reconciler = bench_reconciler;
  co.metrics = &reg;
  co.readiness = &ready;
  auto& live = reg.gauge("omed_resource_actors", "Live resource actors per kind.", {"kind"}).with({"ClusterBaseModel"});
  auto& reconciles = reg.histogram("omed_reconcile_duration_seconds",
                                   "Time from computing a reconcile's plan to its last write.", {"kind"},
                                   metrics::exponential_buckets(0.0005, 2, 16))
                       .with({"ClusterBaseModel"});
  auto ctl = std::make_unique<actors::Controller>(std::move(co));
  SysConfig cfg(sharing);
  auto sys = std::make_unique<caf::actor_system>(cfg);
  actors::SupervisorOptions so;
  so.metrics = &reg;
  auto root = actors::spawn_root_supervisor(*sys, ctl->children(), so);

  // Cold start: the watch stream synced, then every actor spawned and done with its first reconcile.
  const double n = a.objects;
  double synced_s = -1, ready_s = -1;
  auto deadline = Clock::now() + std::chrono::seconds(150);
  while (Clock::now() < deadline) {
    if (synced_s < 0 && ready.ready())
      synced_s = since(t0);
    if (synced_s >= 0 && live.value() >= n && static_cast<double>(reconciles.count()) >= n) {
      ready_s = since(t0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  double writes_at_start = applier_writes(reg);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // same settling as the reflector
  double rss = rss_mib(), heap = heap_mib();
  int threads = thread_count();
  malloc_trim(0);
  double rss_trim = rss_mib(), heap_trim = heap_mib();
  {
    char buf[640];
    std::snprintf(buf, sizeof buf,
                  "synced_s=%.3f ready_s=%.3f actors=%.0f reconciles=%llu writes_at_start=%.0f rss0_mib=%.2f "
                  "heap0_mib=%.2f rss_mib=%.2f heap_mib=%.2f rss_trim_mib=%.2f heap_trim_mib=%.2f threads=%d",
                  synced_s, ready_s, live.value(), static_cast<unsigned long long>(reconciles.count()), writes_at_start,
                  rss0, heap0, rss, heap, rss_trim, heap_trim, threads);
    result(buf);
  }
  if (ready_s < 0) {
    std::fprintf(stderr, "controller did not settle: actors=%.0f reconciles=%llu\n", live.value(),
                 static_cast<unsigned long long>(reconciles.count()));
    std::_Exit(1);
  }
  if (!sharing)
    std::_Exit(0);  // the comparison run stops after the cold start

  // Sustained updates: merge patches of one annotation (generation unchanged, nothing to write),
  // paced to kUpdateRate from kUpdateThreads keep-alive connections, over random objects.
  {
    std::lock_guard<std::mutex> lk(g_receipts.mu);
    g_receipts.armed = true;
  }
  const int total = kUpdateRate * kUpdateSeconds;
  std::atomic<int> next{0}, ok{0};
  std::mutex rtt_mu;
  std::vector<double> rtt_ms;
  auto begin = Clock::now();
  std::vector<std::thread> senders;
  for (int t = 0; t < kUpdateThreads; ++t)
    senders.emplace_back([&, t] {
      Conn c(a.port, "omed-bench-updater");
      std::mt19937 rng(static_cast<unsigned>(1234 + t));
      std::uniform_int_distribution<int> pick(0, a.objects - 1);
      std::vector<double> mine;
      while (true) {
        int k = next++;
        if (k >= total)
          break;
        std::this_thread::sleep_until(begin + std::chrono::microseconds(static_cast<int64_t>(k) * 1000000 / kUpdateRate));
        auto sent = Clock::now();
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(sent.time_since_epoch()).count();
        std::string body = std::string("{\"metadata\":{\"annotations\":{\"") + kAnnotation + "\":\"" +
                           std::to_string(ns) + "\"}}}";
        int code = c.request("PATCH", std::string(kPath) + "/" + object_name(pick(rng)), body,
                             "application/merge-patch+json");
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
        if (code == 200)
          ++ok;
      }
      std::lock_guard<std::mutex> lk(rtt_mu);
      rtt_ms.insert(rtt_ms.end(), mine.begin(), mine.end());
    });
  for (auto& s : senders)
    s.join();
  double send_s = since(begin);
  // Stragglers: wait until every acknowledged update has been seen (or 5 s).
  auto wait_until = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < wait_until) {
    {
      std::lock_guard<std::mutex> lk(g_receipts.mu);
      if (g_receipts.latency_ms.size() >= static_cast<size_t>(ok.load()))
        break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::vector<double> lat;
  {
    std::lock_guard<std::mutex> lk(g_receipts.mu);
    lat = g_receipts.latency_ms;
  }
  double writes_total = applier_writes(reg);
  {
    char buf[640];
    std::snprintf(buf, sizeof buf,
                  "updates_sent=%d updates_ok=%d received=%zu send_s=%.3f updates_per_s=%.1f lat_p50_ms=%.3f "
                  "lat_p99_ms=%.3f lat_max_ms=%.3f rtt_p50_ms=%.3f rtt_p99_ms=%.3f writes_total=%.0f",
                  total, ok.load(), lat.size(), send_s, ok.load() / send_s, percentile(lat, 0.5),
                  percentile(lat, 0.99), lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end()),
                  percentile(rtt_ms, 0.5), percentile(rtt_ms, 0.99), writes_total);
    result(buf);
  }

  {
    caf::scoped_actor self{*sys};
    self->request(root, std::chrono::seconds(10), actors::drain_atom_v)
      .receive([](caf::ok_atom) {}, [](caf::error&) {});
  }
  root = nullptr;
  sys.reset();
  ctl.reset();
  return 0;
}

// ------------------------------------------------------------------ parent

std::string model_json(int i) {
  auto name = object_name(i);
  return "{\"apiVersion\":\"ome.io/v1beta1\",\"kind\":\"ClusterBaseModel\",\"metadata\":{\"name\":\"" + name +
         "\",\"labels\":{\"app.kubernetes.io/part-of\":\"bench\"},\"finalizers\":[\"ome.io/finalizer\"]},"
         "\"spec\":{\"vendor\":\"meta\",\"displayName\":\"meta." + name + "\",\"version\":\"1.0.0\",\"disabled\":false,"
         "\"modelCapabilities\":[\"TEXT_TO_TEXT\"],\"storage\":{\"storageUri\":\"hf://meta-llama/Llama-3.2-1B-Instruct\","
         "\"path\":\"/raid/models/meta/" + name + "\",\"key\":\"hf-token\"}}}";
}

// Exactly what the admission reconciler stores for a valid model at generation 1 (see
// controller::admission_plan and controller::desired_status): the reconciler keeps a condition's
// lastTransitionTime when its status did not flip, so a restart finds nothing to write.
std::string settled_status(const std::string& transition) {
  return "{\"status\":{\"state\":\"Creating\",\"conditions\":[{\"type\":\"Accepted\",\"status\":\"True\","
         "\"reason\":\"Valid\",\"message\":\"the specification passed validation\",\"lastTransitionTime\":\"" +
         transition + "\",\"observedGeneration\":1}],\"observedGeneration\":1}}";
}

std::string rfc3339_now() {
  std::time_t tt = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

struct Populated {
  double seconds = 0;
  int created = 0;
  int settled = 0;
};

Populated populate(uint16_t port, int n, int threads) {
  std::atomic<int> next{0}, created{0}, settled{0};
  auto transition = rfc3339_now();
  auto t0 = Clock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      Conn c(port, "omed-bench-setup");
      while (true) {
        int i = next++;
        if (i >= n)
          break;
        std::string out;
        int code = c.request("POST", kPath, model_json(i), "application/json", &out);
        if (code != 201) {
          std::fprintf(stderr, "create %s: %d %s\n", object_name(i).c_str(), code, out.substr(0, 400).c_str());
          continue;
        }
        ++created;
        code = c.request("PATCH", std::string(kPath) + "/" + object_name(i) + "/status", settled_status(transition),
                         "application/merge-patch+json", &out);
        if (code == 200)
          ++settled;
        else
          std::fprintf(stderr, "status %s: %d %s\n", object_name(i).c_str(), code, out.substr(0, 400).c_str());
      }
    });
  for (auto& t : ts)
    t.join();
  return {since(t0), created.load(), settled.load()};
}

std::string self_exe() {
  char buf[4096];
  auto n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0)
    return "";
  buf[n] = 0;
  return buf;
}

// Runs this binary as a child and collects its RESULT key=value pairs.
struct ChildRun {
  int status = -1;
  double seconds = 0;
  std::map<std::string, double> v;
  double get(const std::string& k) const {
    auto it = v.find(k);
    return it == v.end() ? -1 : it->second;
  }
};

ChildRun run_child(const std::string& exe, const std::string& mode, uint16_t port, int objects) {
  ChildRun r;
  std::string cmd = "'" + exe + "' --child " + mode + " " + std::to_string(port) + " " + std::to_string(objects);
  auto t0 = Clock::now();
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p)
    return r;
  char line[4096];
  while (std::fgets(line, sizeof line, p)) {
    std::string s(line);
    if (s.rfind("RESULT ", 0) != 0) {
      std::fputs(line, stderr);
      continue;
    }
    std::istringstream in(s.substr(7));
    std::string kv;
    while (in >> kv) {
      auto eq = kv.find('=');
      if (eq != std::string::npos)
        r.v[kv.substr(0, eq)] = std::atof(kv.substr(eq + 1).c_str());
    }
  }
  r.status = ::pclose(p);
  r.seconds = since(t0);
  return r;
}

// Mutating requests the controller made (its user agent is "omed/VERSION (identity)").
struct AuditCount {
  uint64_t last_seq = 0;
  int controller_writes = 0;
  std::map<std::string, int> by_verb;
};

AuditCount audit_since(uint16_t port, uint64_t since_seq) {
  AuditCount a;
  Conn c(port, "omed-bench-audit");
  std::string raw;
  c.request("GET", "/omed/audit?since=" + std::to_string(since_seq), "", "", &raw);
  auto body = raw.substr(std::min(raw.size(), raw.find("\r\n\r\n") + 4));
  json::Value v;
  std::string err;
  if (!json::try_parse(body, v, err))
    return a;
  a.last_seq = std::strtoull(v.at_path("metadata.resourceVersion") ? v.at_path("metadata.resourceVersion")->as_string().c_str() : "0",
                             nullptr, 10);
  if (auto* items = v.get("items"); items && items->is_array())
    for (auto& e : items->as_array())
      if (e.string_or("userAgent").rfind("omed/", 0) == 0) {
        a.controller_writes++;
        a.by_verb[e.string_or("verb") + " " + e.string_or("requestURI").substr(0, 60)]++;
      }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  auto t0 = Clock::now();
  log::configure(log::Level::Warn, log::Format::Logfmt);
  if (argc >= 5 && std::string(argv[1]) == "--child") {
    Args a{argv[2], static_cast<uint16_t>(std::atoi(argv[3])), std::atoi(argv[4])};
    if (a.mode == "reflector")
      return child_reflector(a, t0);
    if (a.mode == "controller" || a.mode == "controller-stealing")
      return child_controller(a, t0, a.mode == "controller");  // the daemon shares one queue
    std::fprintf(stderr, "unknown child mode %s\n", a.mode.c_str());
    return 2;
  }

  const int n = objects_from_env();
  apiserver::ApiServerOptions o;
  o.tls = false;
  o.token = kToken;
  apiserver::ApiServer srv(o);
  srv.start();
  if (srv.load_crds((source_root() / "deploy/crds").string()) != 8) {
    std::fprintf(stderr, "could not load the CRDs from %s\n", (source_root() / "deploy/crds").string().c_str());
    return 1;
  }
  std::fprintf(stderr, "populating %d settled ClusterBaseModels...\n", n);
  auto pop = populate(srv.port(), n, 8);
  std::fprintf(stderr, "  %d created, %d settled in %.1f s\n", pop.created, pop.settled, pop.seconds);
  auto before = audit_since(srv.port(), 0);
  // The size of one object as the watch serves it (what the cache holds), and its managedFields.
  size_t json_bytes = 0, managed_bytes = 0;
  {
    Conn c(srv.port(), "omed-bench-setup");
    std::string raw;
    c.request("GET", std::string(kPath) + "/" + object_name(0), "", "", &raw);
    json::Value obj;
    std::string err;
    if (json::try_parse(raw.substr(std::min(raw.size(), raw.find("\r\n\r\n") + 4)), obj, err)) {
      json_bytes = json::dump(obj).size();
      if (auto* mf = obj.at_path("metadata.managedFields"))
        managed_bytes = json::dump(*mf).size();
    }
  }

  auto exe = self_exe();
  std::fprintf(stderr, "child: reflector only...\n");
  auto refl = run_child(exe, "reflector", srv.port(), n);
  std::fprintf(stderr, "child: controller...\n");
  auto ctl = run_child(exe, "controller", srv.port(), n);
  std::fprintf(stderr, "child: controller, CAF work-stealing scheduler (cold start only)...\n");
  auto shr = run_child(exe, "controller-stealing", srv.port(), n);
  auto audit = audit_since(srv.port(), before.last_seq);
  srv.stop();

  double cold_start = ctl.get("ready_s");
  double rss = ctl.get("rss_mib");
  double refl_rss = refl.get("rss_mib");
  double per_actor = (rss - refl_rss) * 1024 * 1024 / n;
  double per_actor_heap = (ctl.get("heap_mib") - refl.get("heap_mib")) * 1024 * 1024 / n;
  double per_actor_trim = (ctl.get("rss_trim_mib") - refl.get("rss_trim_mib")) * 1024 * 1024 / n;
  double per_object_cache = (refl_rss - refl.get("rss0_mib")) * 1024 * 1024 / n;
  double per_object_cache_heap = (refl.get("heap_mib") - refl.get("heap0_mib")) * 1024 * 1024 / n;
  double p50 = ctl.get("lat_p50_ms"), p99 = ctl.get("lat_p99_ms");
  double ups = ctl.get("updates_per_s");
  double writes_at_start = ctl.get("writes_at_start");
  const double go_kib_per_object = 32;  // external-dns: 8,209 pods ≈ 290 MiB (peers.md: ≈ 32 KiB per object)
  double go_mib = go_kib_per_object * n / 1024;

  auto pass = [](bool b) { return b ? "yes" : "NO"; };
  char buf[64];
  std::printf("\nactor layer benchmark: %d settled ClusterBaseModels in the embedded API server (loopback HTTP, "
              "parent process);\ncontroller in a child process (kinds=ClusterBaseModel, no owned watches, no leader "
              "election,\n%d CAF scheduler threads, one shared queue as the daemon, client qps=%.0f burst=%d); %d CPUs\n\n",
              n, kSchedulerThreads, kClientQps, kClientBurst, static_cast<int>(std::thread::hardware_concurrency()));
  std::printf("%-48s %12s %12s %18s %5s\n", "measure", "omed", "target", "Go informer (peer)", "met");
  std::printf("%-48s %12.2f %12s %18s %5s\n", "cold start: watch synced (s)", ctl.get("synced_s"), "", "", "");
  std::printf("%-48s %12.2f %12s %18s %5s\n", "cold start: all actors spawned + reconciled (s)", cold_start, "< 10", "",
              pass(cold_start >= 0 && cold_start < 10));
  std::printf("%-48s %12.2f %12s %18s %5s\n", "  same, CAF scheduler.policy=stealing (s)", shr.get("ready_s"), "", "", "");
  std::snprintf(buf, sizeof buf, "~%.0f", go_mib);
  std::printf("%-48s %12.1f %12s %18s %5s\n", "RSS after cold start (MiB)", rss, "< 143 (150MB)", buf,
              pass(rss > 0 && rss * 1.048576 < 150));
  std::printf("%-48s %12.1f %12s %18s %5s\n", "  same, CAF scheduler.policy=stealing (MiB)", shr.get("rss_mib"), "", "", "");
  std::printf("%-48s %12.1f %12s %18s %5s\n", "  same, after malloc_trim (MiB)", ctl.get("rss_trim_mib"), "", "", "");
  std::printf("%-48s %12.1f %12s %18s %5s\n", "RSS, reflector cache only (MiB)", refl_rss, "", "", "");
  std::printf("%-48s %12.1f %12s %18s %5s\n", "  same, after malloc_trim (MiB)", refl.get("rss_trim_mib"), "", "", "");
  std::snprintf(buf, sizeof buf, "~%.0f", go_kib_per_object * 1024);
  std::printf("%-48s %12.0f %12s %18s %5s\n", "cache per object, reflector (bytes)", per_object_cache, "", buf, "");
  std::printf("%-48s %12.0f %12s %18s %5s\n", "  same, heap in use (mallinfo2) (bytes)", per_object_cache_heap, "", "", "");
  std::printf("%-48s %12zu %12s %18s %5s\n", "  object JSON as served (bytes)", json_bytes, "", "", "");
  std::printf("%-48s %12zu %12s %18s %5s\n", "  of which metadata.managedFields (bytes)", managed_bytes, "", "", "");
  std::printf("%-48s %12.0f %12s %18s %5s\n", "memory per resource actor, RSS (bytes)", per_actor, "< 4096", "",
              pass(per_actor < 4096));
  std::printf("%-48s %12.0f %12s %18s %5s\n", "  same, heap in use (mallinfo2) (bytes)", per_actor_heap, "", "", "");
  std::printf("%-48s %12.0f %12s %18s %5s\n", "  same, RSS after malloc_trim (bytes)", per_actor_trim, "", "", "");
  std::printf("%-48s %12.0f %12s %18s %5s\n", "controller writes at start (applier)", writes_at_start, "~0", "",
              pass(writes_at_start >= 0 && writes_at_start <= n / 1000.0));
  std::printf("%-48s %12d %12s %18s %5s\n", "controller writes, whole run (server audit)", audit.controller_writes, "",
              "", "");
  std::printf("%-48s %12.0f %12s %18s %5s\n", "updates per second achieved", ups, "1000", "", "");
  std::printf("%-48s %12.0f %12s %18s %5s\n", "updates seen by resource actors", ctl.get("received"), "", "", "");
  std::printf("%-48s %12.2f %12s %18s %5s\n", "update latency write->actor p50 (ms)", p50, "", "", "");
  std::printf("%-48s %12.2f %12s %18s %5s\n", "update latency write->actor p99 (ms)", p99, "< 20", "",
              pass(p99 >= 0 && p99 < 20));
  std::printf("%-48s %12.2f %12s %18s %5s\n", "update latency write->actor max (ms)", ctl.get("lat_max_ms"), "", "", "");
  std::printf("%-48s %12.2f %12s %18s %5s\n", "  patch response time p50 (ms)", ctl.get("rtt_p50_ms"), "", "", "");
  std::printf("%-48s %12.2f %12s %18s %5s\n", "  patch response time p99 (ms)", ctl.get("rtt_p99_ms"), "", "", "");
  std::printf("%-48s %12.0f %12s %18s %5s\n", "controller threads", ctl.get("threads"), "", "", "");
  std::printf("%-48s %12.1f %12s %18s %5s\n", "setup: create + settle objects (s)", pop.seconds, "", "", "");
  std::printf("\nGo informer (peer): external-dns cluster-wide Pod informer, 8,209 pods ~ 290 MiB, ~32 KiB per cached\n"
              "object (reference/peers.md), scaled to %d objects; pods are larger objects than these models.\n",
              n);
  for (auto& [what, count] : audit.by_verb)
    std::printf("  controller write: %s x%d\n", what.c_str(), count);
  std::printf("\nBENCH actors cold_start_s=%.2f rss_mib=%.1f reflector_rss_mib=%.1f per_actor_bytes=%.0f "
              "update_p50_ms=%.2f update_p99_ms=%.2f updates_per_s=%.0f objects=%d writes_at_start=%.0f\n",
              cold_start, rss, refl_rss, per_actor, p50, p99, ups, n, writes_at_start);
  bool ok = pop.created == n && pop.settled == n && refl.status == 0 && ctl.status == 0 && cold_start > 0 &&
            ctl.get("received") > 0;
  return ok ? 0 : 1;
}
