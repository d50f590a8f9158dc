// The simulated cluster's loop: list-then-watch informers over the in-process API, timers, the
// reconciliation order, failure injection and the /omed/sim admin surface.
#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "omed/apiserver/selectors.hpp"
#include "omed/apiserver/server.hpp"
#include "omed/apiserver/table.hpp"
#include "omed/common/strings.hpp"
#include "sim_impl.hpp"

namespace omed::apiserver::sim {

// ------------------------------------------------------------------ options

Millis parse_millis(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.'))
    ++i;
  if (i == 0)
    throw std::invalid_argument("\"" + s + "\" is not a duration (e.g. 500ms, 10s, 2m)");
  double n;
  try {
    n = std::stod(s.substr(0, i));
  } catch (...) {
    throw std::invalid_argument("\"" + s + "\" is not a duration (e.g. 500ms, 10s, 2m)");
  }
  auto unit = s.substr(i);
  double ms;
  if (unit == "ms")
    ms = n;
  else if (unit == "s" || unit.empty())
    ms = n * 1000;
  else if (unit == "m")
    ms = n * 60000;
  else if (unit == "h")
    ms = n * 3600000;
  else
    throw std::invalid_argument("\"" + s + "\": unknown duration unit \"" + unit + "\" (ms, s, m, h)");
  return Millis(static_cast<int64_t>(ms));
}

namespace {

const std::set<std::string>& failure_kinds() {
  static const std::set<std::string> k{"node-not-ready", "node-ready",  "gpu-lost", "gpu-restored",
                                       "crash-loop",     "image-pull-error", "pod-fail", "clear"};
  return k;
}

void check_failure(const Failure& f) {
  if (!failure_kinds().count(f.kind))
    throw std::invalid_argument("unknown failure kind \"" + f.kind +
                                "\" (node-not-ready, node-ready, gpu-lost, gpu-restored, crash-loop, "
                                "image-pull-error, pod-fail, clear)");
  bool node_kind = f.kind == "node-not-ready" || f.kind == "node-ready" || f.kind == "gpu-lost" || f.kind == "gpu-restored";
  if (node_kind && f.node.empty())
    throw std::invalid_argument(f.kind + " needs node=NAME (or node=random)");
  bool pod_kind = f.kind == "crash-loop" || f.kind == "image-pull-error" || f.kind == "pod-fail";
  if (pod_kind && f.pods.empty() && f.selector.empty() && f.image.empty())
    throw std::invalid_argument(f.kind + " needs pods=PREFIX, selector=LABELS or image=SUBSTRING");
  if (!f.selector.empty()) {
    std::string err;
    if (!LabelSelector::parse(f.selector, err))
      throw std::invalid_argument("selector \"" + f.selector + "\": " + err);
  }
  if (f.gpus < 1)
    throw std::invalid_argument("gpus must be at least 1");
}

}  // namespace

Failure parse_failure(const std::string& spec_in) {
  Failure f;
  std::string spec = spec_in;
  if (auto at = spec.rfind('@'); at != std::string::npos) {
    f.at = parse_millis(spec.substr(at + 1));
    spec = spec.substr(0, at);
  }
  auto colon = spec.find(':');
  f.kind = spec.substr(0, colon);
  if (colon != std::string::npos) {
    // Selectors contain commas too ("a=b,c in (d,e)"): selector= takes the rest of the spec.
    auto rest = spec.substr(colon + 1);
    while (!rest.empty()) {
      if (str::starts_with(rest, "selector=")) {
        f.selector = rest.substr(9);
        break;
      }
      auto comma = rest.find(',');
      auto item = rest.substr(0, comma);
      rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
      auto eq = item.find('=');
      if (eq == std::string::npos)
        throw std::invalid_argument("failure \"" + spec_in + "\": \"" + item + "\" is not key=value");
      auto k = item.substr(0, eq), v = item.substr(eq + 1);
      if (k == "node")
        f.node = v;
      else if (k == "pods")
        f.pods = v;
      else if (k == "image")
        f.image = v;
      else if (k == "gpus") {
        try {
          f.gpus = std::stoi(v);
        } catch (...) {
          throw std::invalid_argument("failure \"" + spec_in + "\": gpus must be a number");
        }
      } else
        throw std::invalid_argument("failure \"" + spec_in + "\": unknown key \"" + k +
                                    "\" (node, pods, selector, image, gpus)");
    }
  }
  try {
    check_failure(f);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("failure \"" + spec_in + "\": " + e.what());
  }
  return f;
}

Failure failure_from_json(const json::Value& v) {
  if (!v.is_object())
    throw std::invalid_argument("a failure must be an object with at least \"kind\"");
  Failure f;
  f.kind = v.string_or("kind");
  f.node = v.string_or("node");
  f.pods = v.string_or("pods");
  f.selector = v.string_or("selector");
  f.image = v.string_or("image");
  if (auto g = v.int_at("gpus"))
    f.gpus = static_cast<int>(*g);
  if (auto* at = v.get("at"))
    f.at = at->is_int() ? Millis(at->as_int() * 1000) : parse_millis(at->is_string() ? at->as_string() : "");
  check_failure(f);
  return f;
}

json::Value Failure::to_json() const {
  json::Object o{{"kind", kind}};
  for (auto& [k, v] : {std::pair{"node", &node}, {"pods", &pods}, {"selector", &selector}, {"image", &image}})
    if (!v->empty())
      o.set(k, *v);
  if (kind == "gpu-lost" || kind == "gpu-restored")
    o.set("gpus", gpus);
  if (at.count())
    o.set("at", std::to_string(at.count()) + "ms");
  return o;
}

void apply_scenario(const json::Value& doc, SimOptions& opts) {
  if (!doc.is_object())
    throw std::invalid_argument("a scenario must be a YAML mapping");
  if (doc.get("nodeGroups"))
    opts.profile = parse_cluster_profile(doc);
  if (auto s = doc.int_at("seed"))
    opts.seed = static_cast<uint64_t>(*s);
  if (auto* t = doc.get("timing")) {
    if (!t->is_object())
      throw std::invalid_argument("timing: must be a mapping");
    auto dur = [&](const char* k, Millis& out) {
      if (auto* v = t->get(k)) {
        try {
          out = parse_millis(v->is_string() ? v->as_string() : std::to_string(v->is_int() ? v->as_int() : -1));
        } catch (const std::invalid_argument& e) {
          throw std::invalid_argument(std::string("timing.") + k + ": " + e.what());
        }
      }
    };
    dur("startDelay", opts.start_delay);
    dur("readyDelay", opts.ready_delay);
    dur("jobDuration", opts.job_duration);
    dur("crashAfter", opts.crash_after);
    dur("backoffBase", opts.backoff_base);
    dur("stopDelay", opts.stop_delay);
    dur("heartbeat", opts.heartbeat);
    dur("statusReport", opts.status_report);
    dur("nodeMonitorGrace", opts.node_monitor_grace);
    if (auto* imgs = t->get("images")) {
      if (!imgs->is_object())
        throw std::invalid_argument("timing.images: must be a mapping of image substring to start delay");
      for (auto& m : imgs->as_object())
        opts.image_start_delays.emplace_back(m.key, parse_millis(m.value.is_string() ? m.value.as_string() : ""));
    }
  }
  if (auto* fs = doc.get("failures")) {
    if (!fs->is_array())
      throw std::invalid_argument("failures: must be a list");
    size_t i = 0;
    for (auto& f : fs->as_array()) {
      try {
        opts.failures.push_back(failure_from_json(f));
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument("failures[" + std::to_string(i) + "]: " + e.what());
      }
      ++i;
    }
  }
}

// ------------------------------------------------------------------ helpers

std::string now_rfc3339() { return format_rfc3339(std::chrono::system_clock::now()); }

namespace {
struct KindInfo {
  const char* prefix;  // API group path
  const char* plural;
  bool namespaced;
};
constexpr KindInfo kKinds[kKindCount] = {
    {"/api/v1", "nodes", false},
    {"/api/v1", "pods", true},
    {"/apis/apps/v1", "deployments", true},
    {"/apis/apps/v1", "replicasets", true},
    {"/apis/batch/v1", "jobs", true},
    {"/apis/leaderworkerset.x-k8s.io/v1", "leaderworkersets", true},
    {"/apis/autoscaling/v2", "horizontalpodautoscalers", true},
};
}  // namespace

std::string collection_path(Kind k, const std::string& ns) {
  auto& ki = kKinds[k];
  std::string p = ki.prefix;
  if (ki.namespaced && !ns.empty())
    p += "/namespaces/" + ns;
  return p + "/" + ki.plural;
}

std::string object_path(Kind k, const std::string& key, const std::string& sub) {
  auto slash = key.find('/');
  std::string ns = slash == std::string::npos ? "" : key.substr(0, slash);
  std::string name = slash == std::string::npos ? key : key.substr(slash + 1);
  return collection_path(k, ns) + "/" + name + (sub.empty() ? "" : "/" + sub);
}

std::string key_of(const json::Value& obj) {
  auto* md = obj.get("metadata");
  if (!md)
    return "";
  auto ns = md->string_or("namespace");
  return ns.empty() ? md->string_or("name") : ns + "/" + md->string_or("name");
}

uint64_t rv_of(const json::Value& obj) {
  auto* rv = obj.at_path("metadata.resourceVersion");
  return rv && rv->is_string() ? std::strtoull(rv->as_string().c_str(), nullptr, 10) : 0;
}

bool is_true_condition(const json::Value& obj, const std::string& type) {
  auto* cs = obj.at_path("status.conditions");
  if (!cs || !cs->is_array())
    return false;
  for (auto& c : cs->as_array())
    if (c.string_or("type") == type)
      return c.string_or("status") == "True";
  return false;
}

bool pod_ready(const json::Value& pod) { return is_true_condition(pod, "Ready"); }

bool pod_terminal(const json::Value& pod) {
  auto phase = pod.at_path("status.phase");
  return phase && phase->is_string() && (phase->as_string() == "Succeeded" || phase->as_string() == "Failed");
}

bool deleting(const json::Value& obj) { return obj.at_path("metadata.deletionTimestamp") != nullptr; }

std::string controller_uid(const json::Value& obj) {
  auto* refs = obj.at_path("metadata.ownerReferences");
  if (!refs || !refs->is_array())
    return "";
  for (auto& r : refs->as_array())
    if (auto* c = r.get("controller"); c && c->is_bool() && c->as_bool())
      return r.string_or("uid");
  return "";
}

json::Value owner_ref(const json::Value& owner, bool controller) {
  return json::Object{{"apiVersion", owner.string_or("apiVersion")},
                      {"kind", owner.string_or("kind")},
                      {"name", owner.at_path("metadata.name")->as_string()},
                      {"uid", owner.at_path("metadata.uid")->as_string()},
                      {"controller", controller},
                      {"blockOwnerDeletion", true}};
}

int64_t int_or(const json::Value& obj, const char* path, int64_t def) {
  auto* v = obj.at_path(path);
  return v && v->is_int() ? v->as_int() : def;
}

bool selector_matches(const std::string& selector, const json::Value& labels) {
  std::string err;
  auto sel = LabelSelector::parse(selector, err);
  if (!sel)
    return false;
  std::map<std::string, std::string> m;
  if (labels.is_object())
    for (auto& kv : labels.as_object())
      if (kv.value.is_string())
        m[kv.key] = kv.value.as_string();
  return sel->matches(m);
}

// ------------------------------------------------------------------ lifecycle

Simulation::Impl::Impl(ApiServer& s, SimOptions o)
  : server(s),
    opts(std::move(o)),
    controllers(s, "kube-controller-manager"),
    scheduler(s, "default-scheduler"),
    kubelet(s, "kubelet"),
    node_ctl(s, "node-controller"),
    rng(opts.seed) {
  const char* names[kKindCount] = {"nodes", "pods", "deployments", "replicasets", "jobs", "leaderworkersets",
                                   "horizontalpodautoscalers"};
  for (size_t k = 0; k < kKindCount; ++k) {
    inf[k].name = names[k];
    inf[k].list_path = collection_path(static_cast<Kind>(k), "");
  }
}

Simulation::Simulation(ApiServer& server, SimOptions opts)
  : impl_(std::make_shared<Impl>(server, std::move(opts))) {}

Simulation::~Simulation() { stop(); }

void Simulation::start() {
  auto& im = *impl_;
  if (im.running.exchange(true))
    return;
  im.started = Clock::now();
  std::weak_ptr<Impl> weak = impl_;
  im.server.add_admin_route("/omed/sim", [weak](const http::Request& req) -> http::Response {
    auto self = weak.lock();
    if (!self || !self->running)
      return http::Response::json(503, R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"the simulation is stopped","code":503})");
    if (req.path == "/omed/sim" && req.method == "GET") {
      std::lock_guard<std::mutex> lk(self->status_mu);
      return http::Response::json(200, json::dump(self->status_snapshot));
    }
    if (req.path == "/omed/sim/failures" && req.method == "POST") {
      json::Value v;
      std::string err;
      try {
        if (!json::try_parse(req.body, v, err))
          throw std::invalid_argument("body: " + err);
        auto f = failure_from_json(v);
        {
          std::lock_guard<std::mutex> lk(self->mu);
          self->injected.push_back(f);
        }
        self->cv.notify_one();
        return http::Response::json(202, json::dump(f.to_json()));
      } catch (const std::exception& e) {
        json::Object st{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
                        {"message", std::string("invalid failure: ") + e.what()}, {"reason", "BadRequest"}, {"code", 400}};
        return http::Response::json(400, json::dump(st));
      }
    }
    json::Object st{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
                    {"message", "GET /omed/sim or POST /omed/sim/failures"}, {"reason", "NotFound"}, {"code", 404}};
    return http::Response::json(404, json::dump(st));
  });
  im.event_writer = std::make_unique<ThreadPool>(1, "sim-events");
  if (!im.opts.pvc_root.empty())
    im.parse_pool = std::make_unique<ThreadPool>(2, "sim-parse");
  im.thread = std::thread([&im] { im.loop(); });
}

void Simulation::stop() {
  auto& im = *impl_;
  if (!im.running.exchange(false))
    return;
  im.cv.notify_all();
  if (im.thread.joinable())
    im.thread.join();
  if (im.parse_pool)
    im.parse_pool->stop();  // children still running are killed (they see running == false)
  if (im.event_writer)
    im.event_writer->stop();  // what was recorded is written before the API server goes
  for (auto& i : im.inf)
    i.watch.reset();
}

void Simulation::inject(const Failure& f) {
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    impl_->injected.push_back(f);
  }
  impl_->cv.notify_one();
}

json::Value Simulation::status() const {
  std::lock_guard<std::mutex> lk(impl_->status_mu);
  return impl_->status_snapshot;
}

// ------------------------------------------------------------------ the loop

std::string Simulation::Impl::name_suffix() {
  static const char* alphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::string s;
  for (int i = 0; i < 5; ++i)
    s += alphabet[name_rng() % 27];
  return s;
}

void Simulation::Impl::post_line(Kind k, uint64_t gen, std::string text) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lk(mu);
    was_empty = lines.empty();
    lines.push_back({k, gen, std::move(text)});
  }
  if (was_empty)
    cv.notify_one();
}

void Simulation::Impl::after(Clock::duration d, std::function<void()> fn) {
  timers.push({Clock::now() + d, ++timer_seq, std::move(fn)});
}

void Simulation::Impl::loop() {
  log.info("simulated cluster starting").kv("node_groups", opts.profile.groups.size()).kv("seed", opts.seed);
  try {
    if (opts.install_lws_crd)
      install_lws_crd();
    register_nodes();
  } catch (const std::exception& e) {
    log.error("simulated cluster could not register its nodes").kv("error", e.what());
  }
  for (auto& f : opts.failures) {
    if (f.at.count() == 0)
      apply_failure(f);
    else
      after(f.at, [this, f] { apply_failure(f); });
  }
  next_tick = Clock::now();
  while (running) {
    std::deque<Line> batch;
    std::deque<Failure> fails;
    std::deque<std::function<void()>> work;
    {
      std::unique_lock<std::mutex> lk(mu);
      auto wake = next_tick;
      if (!timers.empty())
        wake = std::min(wake, timers.top().at);
      if (work_left())
        wake = Clock::now();
      cv.wait_until(lk, wake, [&] { return !running || !lines.empty() || !injected.empty() || !posted.empty(); });
      batch.swap(lines);
      fails.swap(injected);
      work.swap(posted);
    }
    if (!running)
      break;
    for (auto& l : batch)
      apply_line(l);
    for (auto& f : fails)
      apply_failure(f);
    for (auto& fn : work)
      fn();
    auto now = Clock::now();
    while (!timers.empty() && timers.top().at <= now) {
      auto fn = timers.top().fn;
      timers.pop();
      fn();
    }
    for (size_t k = 0; k < kKindCount; ++k)
      if (inf[k].need_relist && now >= inf[k].retry_at)
        relist(static_cast<Kind>(k));
    reconcile_dirty();
    if (Clock::now() >= next_tick) {
      node_tick();
      evict_tick();
      publish_status();
      next_tick = Clock::now() + std::min<Clock::duration>(std::chrono::milliseconds(250), opts.heartbeat / 2);
    }
  }
  log.info("simulated cluster stopped");
}

bool Simulation::Impl::work_left() const {
  for (auto& d : dirty)
    if (!d.empty())
      return true;
  return !sched_queue.empty();
}

void Simulation::Impl::reconcile_dirty() {
  create_budget = kPodsPerPass;
  // Owners before what they own: a Deployment's decision shows up in its ReplicaSets' dirt.
  auto drain = [&](Kind k, auto fn) {
    auto keys = std::move(dirty[k]);
    dirty[k].clear();
    for (auto& key : keys)
      (this->*fn)(key);
  };
  drain(kDeployments, &Impl::reconcile_deployment);
  drain(kReplicaSets, &Impl::reconcile_replicaset);
  drain(kJobs, &Impl::reconcile_job);
  drain(kLws, &Impl::reconcile_lws);
  if (hpas_dirty) {
    hpas_dirty = false;
    reconcile_hpas();
  }
  schedule_pending();
}

// ------------------------------------------------------------------ informers

void Simulation::Impl::relist(Kind k) {
  auto& in = inf[k];
  in.watch.reset();
  auto res = controllers.get(in.list_path);
  if (!res.ok()) {
    // LeaderWorkerSets are only there once their CRD is: keep asking, quietly.
    if (!(k == kLws && res.code == 404))
      log.warn("list failed; retrying").kv("resource", in.name).kv("error", res.message());
    in.retry_at = Clock::now() + std::chrono::seconds(k == kLws ? 2 : 1);
    return;
  }
  ++in.generation;
  std::map<std::string, json::Value> fresh;
  if (auto* items = res.body.get("items"); items && items->is_array()) {
    auto api = res.body.string_or("apiVersion");
    auto kind = res.body.string_or("kind");
    if (str::ends_with(kind, "List"))
      kind.resize(kind.size() - 4);
    for (auto& it : items->as_array()) {
      json::Value o = it;
      o["apiVersion"] = api;
      o["kind"] = kind;
      fresh.emplace(key_of(o), std::move(o));
    }
  }
  // What vanished while we were not watching is a deletion; the rest is an add or an update.
  auto old = std::move(in.cache);
  in.cache.clear();
  for (auto& [key, obj] : old)
    if (!fresh.count(key))
      observe(k, key, &obj, nullptr);
  for (auto& [key, obj] : fresh) {
    auto it = old.find(key);
    in.cache[key] = obj;
    observe(k, key, it == old.end() ? nullptr : &it->second, &in.cache[key]);
  }
  auto rv = res.body.at_path("metadata.resourceVersion");
  auto gen = in.generation;
  std::string q = in.list_path + "?watch=true&allowWatchBookmarks=true&resourceVersion=" +
                  (rv && rv->is_string() ? rv->as_string() : std::string("0"));
  in.watch = controllers.watch(
      q, [this, k, gen](std::string line) { post_line(k, gen, std::move(line)); },
      [this, k, gen] { post_line(k, gen, ""); });
  in.need_relist = false;
  in.synced = true;
}

void Simulation::Impl::apply_line(const Line& l) {
  auto& in = inf[l.kind];
  if (l.generation != in.generation)
    return;
  if (l.text.empty()) {
    in.need_relist = true;  // closed: resume by relisting (cheap here, and never misses a deletion)
    in.retry_at = Clock::now() + std::chrono::milliseconds(100);
    return;
  }
  json::Value ev;
  std::string err;
  if (!json::try_parse(l.text, ev, err)) {
    log.warn("unreadable watch event").kv("resource", in.name).kv("error", err);
    return;
  }
  auto type = ev.string_or("type");
  auto* obj = ev.get("object");
  if (!obj)
    return;
  if (type == "BOOKMARK")
    return;
  if (type == "ERROR") {
    in.need_relist = true;
    in.retry_at = Clock::now();
    return;
  }
  auto key = key_of(*obj);
  auto rv = rv_of(*obj);
  auto it = in.cache.find(key);
  if (type == "DELETED") {
    if (it == in.cache.end() || rv_of(it->second) > rv)
      return;
    auto before = std::move(it->second);
    in.cache.erase(it);
    observe(l.kind, key, &before, nullptr);
    return;
  }
  if (it != in.cache.end() && rv_of(it->second) >= rv)
    return;  // our own write, already applied
  json::Value before;
  bool had = it != in.cache.end();
  if (had)
    before = std::move(it->second);
  auto& slot = in.cache[key];
  slot = std::move(*obj);
  observe(l.kind, key, had ? &before : nullptr, &slot);
}

void Simulation::Impl::remember(Kind k, const json::Value& obj) {
  auto key = key_of(obj);
  if (key.empty())
    return;
  auto& in = inf[k];
  auto it = in.cache.find(key);
  if (it != in.cache.end() && rv_of(it->second) >= rv_of(obj))
    return;
  json::Value before;
  bool had = it != in.cache.end();
  if (had)
    before = std::move(it->second);
  auto& slot = in.cache[key];
  slot = obj;
  observe(k, key, had ? &before : nullptr, &slot);
}

void Simulation::Impl::forget(Kind k, const std::string& key) {
  auto& in = inf[k];
  auto it = in.cache.find(key);
  if (it == in.cache.end())
    return;
  auto before = std::move(it->second);
  in.cache.erase(it);
  observe(k, key, &before, nullptr);
}

const json::Value* Simulation::Impl::cached(Kind k, const std::string& key) const {
  auto it = inf[k].cache.find(key);
  return it == inf[k].cache.end() ? nullptr : &it->second;
}

namespace {
std::string ns_of(const std::string& key) {
  auto s = key.find('/');
  return s == std::string::npos ? "" : key.substr(0, s);
}
}  // namespace

// Routes a change to whoever must look again: owners, the scheduler, the kubelet.
void Simulation::Impl::observe(Kind k, const std::string& key, const json::Value* before, const json::Value* after) {
  const json::Value* cur = after ? after : before;
  auto mark_owner = [&](const json::Value& obj) {
    auto* refs = obj.at_path("metadata.ownerReferences");
    if (!refs || !refs->is_array())
      return;
    for (auto& r : refs->as_array()) {
      auto kind = r.string_or("kind");
      auto okey = ns_of(key) + "/" + r.string_or("name");
      if (kind == "ReplicaSet")
        dirty[kReplicaSets].insert(okey);
      else if (kind == "Deployment")
        dirty[kDeployments].insert(okey);
      else if (kind == "Job")
        dirty[kJobs].insert(okey);
      else if (kind == "LeaderWorkerSet")
        dirty[kLws].insert(okey);
    }
  };
  switch (k) {
    case kNodes:
      sched_observe_node(key, after);
      retry_unschedulable = true;
      break;
    case kPods: {
      auto uid_before = before ? controller_uid(*before) : "";
      auto uid_after = after ? controller_uid(*after) : "";
      if (!uid_before.empty() && uid_before != uid_after) {
        auto it = pods_by_owner.find(uid_before);
        if (it != pods_by_owner.end() && (it->second.erase(key), it->second.empty()))
          pods_by_owner.erase(it);
      }
      if (!uid_after.empty())
        pods_by_owner[uid_after].insert(key);
      sched_observe_pod(key, after);
      kubelet_observe(key, after);
      mark_owner(*cur);
      if (before)
        mark_owner(*before);
      // Worker pods of a LeaderWorkerSet belong to their leader pod; the set looks at both.
      if (auto* lws = cur->at_path("metadata.labels"); lws && lws->is_object())
        if (auto* n = lws->get("leaderworkerset.sigs.k8s.io/name"); n && n->is_string())
          dirty[kLws].insert(ns_of(key) + "/" + n->as_string());
      hpas_dirty = hpas_dirty || !before || !after;
      break;
    }
    case kDeployments:
    case kJobs:
    case kLws:
      dirty[k].insert(key);
      hpas_dirty = true;
      break;
    case kReplicaSets:
      dirty[k].insert(key);
      mark_owner(*cur);
      break;
    case kHpas:
      hpas_dirty = true;
      break;
    default:
      break;
  }
}

std::vector<const json::Value*> Simulation::Impl::owned_pods(const std::string& ns, const std::string& owner_uid) const {
  std::vector<const json::Value*> out;
  auto it = pods_by_owner.find(owner_uid);
  if (it == pods_by_owner.end())
    return out;
  for (auto& key : it->second)
    if (ns_of(key) == ns)
      if (auto* p = cached(kPods, key))
        out.push_back(p);
  return out;
}

// ------------------------------------------------------------------ events

void Simulation::Impl::record_event(LocalClient& c, const std::string& component, const json::Value& obj,
                                    const std::string& type, const std::string& reason, const std::string& message,
                                    const std::string& host) {
  auto* md = obj.get("metadata");
  if (!md)
    return;
  auto ns = md->string_or("namespace", "default");
  auto name = md->string_or("name");
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%016llx", static_cast<unsigned long long>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count() +
      static_cast<int64_t>(++event_seq)));
  auto now = now_rfc3339();
  json::Object source{{"component", component}};
  if (!host.empty())
    source.set("host", host);
  json::Object ev{
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", json::Object{{"name", name + suffix}, {"namespace", ns}}},
      {"involvedObject", json::Object{{"apiVersion", obj.string_or("apiVersion")},
                                      {"kind", obj.string_or("kind")},
                                      {"name", name},
                                      {"namespace", md->string_or("namespace")},
                                      {"uid", md->string_or("uid")},
                                      {"resourceVersion", md->string_or("resourceVersion")}}},
      {"reason", reason},
      {"message", message},
      {"type", type},
      {"source", source},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1},
      {"reportingComponent", component},
      {"reportingInstance", host.empty() ? component : host}};
  if (md->string_or("namespace").empty())
    ev["involvedObject"].as_object().erase("namespace");
  auto write = [this, &c, ns, ev = json::Value(std::move(ev)), reason] {
    auto res = c.create("/api/v1/namespaces/" + ns + "/events", ev);
    ++writes;
    if (!res.ok()) {
      ++write_errors;
      log.debug("event not recorded").kv("reason", reason).kv("error", res.message());
    }
  };
  if (event_writer)
    event_writer->post(std::move(write));
  else
    write();
}

// ------------------------------------------------------------------ status

void Simulation::Impl::publish_status() {
  std::map<std::string, int64_t> phases;
  int64_t ready = 0;
  for (auto& [key, p] : inf[kPods].cache) {
    auto* ph = p.at_path("status.phase");
    phases[ph && ph->is_string() ? ph->as_string() : "Unknown"]++;
    if (pod_ready(p))
      ++ready;
  }
  json::Object ph;
  for (auto& [k, v] : phases)
    ph.set(k, v);
  json::Array node_list;
  int64_t nodes_ready = 0;
  for (auto& [name, rt] : nodes) {
    auto* n = cached(kNodes, name);
    bool r = n && is_true_condition(*n, "Ready");
    nodes_ready += r;
    if (!rt.kubelet_alive || rt.gpus_lost > 0)
      node_list.push_back(json::Object{{"name", name}, {"kubelet", rt.kubelet_alive ? "running" : "stopped"},
                                       {"ready", r}, {"gpusLost", rt.gpus_lost}});
  }
  json::Array fails;
  for (auto& f : pod_failures)
    fails.push_back(f.to_json());
  json::Object st{{"nodes", static_cast<int64_t>(nodes.size())},
                  {"nodesReady", nodes_ready},
                  {"impairedNodes", node_list},
                  {"pods", static_cast<int64_t>(inf[kPods].cache.size())},
                  {"podsReady", ready},
                  {"podPhases", ph},
                  {"pendingScheduling", static_cast<int64_t>(sched_queue.size() + unschedulable.size())},
                  {"podFailures", fails},
                  {"scheduled", static_cast<int64_t>(scheduled)},
                  {"evicted", static_cast<int64_t>(evicted)},
                  {"writes", static_cast<int64_t>(writes)},
                  {"writeErrors", static_cast<int64_t>(write_errors)},
                  {"seed", static_cast<int64_t>(opts.seed)}};
  std::lock_guard<std::mutex> lk(status_mu);
  status_snapshot = std::move(st);
}

}  // namespace omed::apiserver::sim
