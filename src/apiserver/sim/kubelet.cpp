// The simulated cluster's node side: the default scheduler's binding loop, one kubelet per
// simulated node (pod lifecycle, heartbeats) and the node lifecycle controller (NotReady, eviction).
#include <algorithm>

#include "omed/apiserver/selectors.hpp"
#include "omed/apiserver/server.hpp"
#include "omed/apiserver/table.hpp"
#include "omed/common/micro_time.hpp"
#include "omed/common/strings.hpp"
#include "sim_impl.hpp"

namespace omed::apiserver::sim {

namespace {

std::string node_of(const json::Value& pod) {
  auto* n = pod.at_path("spec.nodeName");
  return n && n->is_string() ? n->as_string() : "";
}

std::string name_of(const std::string& key) {
  auto s = key.find('/');
  return s == std::string::npos ? key : key.substr(s + 1);
}

// Deterministic stand-ins for runtime identifiers (container IDs, image digests).
std::string hex_id(const std::string& seed, size_t len) {
  uint64_t h = 1469598103934665603ull;
  std::string out;
  while (out.size() < len) {
    for (char c : seed)
      h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    h ^= out.size();
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    out += buf;
  }
  out.resize(len);
  return out;
}

const json::Value* find_condition(const json::Value& obj, const std::string& type) {
  auto* cs = obj.at_path("status.conditions");
  if (!cs || !cs->is_array())
    return nullptr;
  for (auto& c : cs->as_array())
    if (c.string_or("type") == type)
      return &c;
  return nullptr;
}

// A condition keeps its lastTransitionTime while its status stays the same.
json::Value condition(const json::Value& obj, const std::string& type, bool status, const std::string& reason = "",
                      const std::string& message = "") {
  std::string st = status ? "True" : "False";
  auto* prev = find_condition(obj, type);
  std::string since = prev && prev->string_or("status") == st ? prev->string_or("lastTransitionTime") : now_rfc3339();
  json::Object c{{"type", type}, {"status", st}, {"lastProbeTime", nullptr}, {"lastTransitionTime", since}};
  if (!reason.empty())
    c.set("reason", reason);
  if (!message.empty())
    c.set("message", message);
  return c;
}

std::string annotation(const json::Value& obj, const std::string& key) {
  auto* a = obj.at_path("metadata.annotations");
  if (!a || !a->is_object())
    return "";
  auto* v = a->get(key);
  return v && v->is_string() ? v->as_string() : "";
}

json::Value node_taints_without(const json::Value& node, const std::set<std::string>& keys) {
  json::Array kept;
  if (auto* ts = node.at_path("spec.taints"); ts && ts->is_array())
    for (auto& t : ts->as_array())
      if (!keys.count(t.string_or("key")))
        kept.push_back(t);
  return kept;
}

bool has_taint(const json::Value& node, const std::string& key) {
  if (auto* ts = node.at_path("spec.taints"); ts && ts->is_array())
    for (auto& t : ts->as_array())
      if (t.string_or("key") == key)
        return true;
  return false;
}

constexpr const char* kUnreachable = "node.kubernetes.io/unreachable";

}  // namespace

// ------------------------------------------------------------------ scheduler

void Simulation::Impl::sched_observe_node(const std::string& name, const json::Value* node) {
  auto it = sched_index.find(name);
  if (!node) {
    if (it == sched_index.end())
      return;
    size_t i = it->second;
    sched_index.erase(it);
    if (i != sched_nodes.size() - 1) {
      sched_nodes[i] = std::move(sched_nodes.back());
      sched_index[sched_nodes[i].name] = i;
    }
    sched_nodes.pop_back();
    return;
  }
  auto st = node_state(*node);
  if (it != sched_index.end())
    st.requested = std::move(sched_nodes[it->second].requested);
  cache_amounts(st);
  if (it == sched_index.end()) {
    sched_index[name] = sched_nodes.size();
    sched_nodes.push_back(std::move(st));
  } else {
    sched_nodes[it->second] = std::move(st);
  }
}

void Simulation::Impl::sched_observe_pod(const std::string& key, const json::Value* pod) {
  std::string node = pod ? node_of(*pod) : "";
  bool holds = pod && !node.empty() && !pod_terminal(*pod);
  auto it = pod_alloc.find(key);
  if (it != pod_alloc.end() && (!holds || it->second.first != node)) {
    if (auto n = sched_index.find(it->second.first); n != sched_index.end())
      add_requests(sched_nodes[n->second], it->second.second, -1);
    pod_alloc.erase(it);
    retry_unschedulable = true;
    it = pod_alloc.end();
  }
  if (holds && it == pod_alloc.end()) {
    auto req = pod_demand(*pod).requests;
    if (auto n = sched_index.find(node); n != sched_index.end())
      add_requests(sched_nodes[n->second], req, 1);
    pod_alloc.emplace(key, std::make_pair(node, std::move(req)));
  }
  bool pending = pod && node.empty() && !deleting(*pod) && !pod_terminal(*pod) &&
                 pod->at_path("spec.schedulerName") && pod->at_path("spec.schedulerName")->is_string() &&
                 pod->at_path("spec.schedulerName")->as_string() == "default-scheduler";
  if (pending) {
    if (!unschedulable.count(key))
      sched_queue.insert(key);
  } else {
    sched_queue.erase(key);
    unschedulable.erase(key);
    if (!pod)
      last_failed_message.erase(key);
  }
}

void Simulation::Impl::schedule_pending() {
  auto now = Clock::now();
  // Unschedulable pods are looked at again when the cluster changed, at most once a second
  // (the real scheduler's backoff queue does much the same).
  if (retry_unschedulable && !unschedulable.empty() && now - last_sched_retry >= std::chrono::seconds(1)) {
    sched_queue.insert(unschedulable.begin(), unschedulable.end());
    unschedulable.clear();
    retry_unschedulable = false;
    last_sched_retry = now;
  }
  if (sched_queue.empty())
    return;
  // A pass binds a bounded batch; the rest waits for the next pass.
  int n = 0;
  while (!sched_queue.empty() && n++ < kPodsPerPass) {
    auto key = *sched_queue.begin();
    sched_queue.erase(sched_queue.begin());
    schedule_one(key);
  }
}

bool Simulation::Impl::schedule_one(const std::string& key) {
  auto* pod = cached(kPods, key);
  if (!pod || !node_of(*pod).empty() || deleting(*pod))
    return true;
  auto demand = pod_demand(*pod);
  auto placed = schedule(demand, sched_nodes, rng, &sched_start);
  auto ns = pod->at_path("metadata.namespace")->as_string();
  auto name = name_of(key);
  if (placed.node.empty()) {
    unschedulable.insert(key);
    auto& last = last_failed_message[key];
    if (last != placed.message) {
      last = placed.message;
      json::Value status = json::Object{
          {"conditions", json::Array{condition(*pod, "PodScheduled", false, "Unschedulable", placed.message)}}};
      auto res = scheduler.merge_patch(object_path(kPods, key, "status"), json::Object{{"status", status}});
      ++writes;
      if (res.ok())
        remember(kPods, res.body);
      record_event(scheduler, "default-scheduler", *pod, "Warning", "FailedScheduling", placed.message);
      log.info("pod unschedulable").kv("pod", key).kv("reason", placed.message);
    }
    return false;
  }
  json::Object binding{{"apiVersion", "v1"},
                       {"kind", "Binding"},
                       {"metadata", json::Object{{"name", name}, {"namespace", ns}}},
                       {"target", json::Object{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", placed.node}}}};
  auto res = scheduler.create(object_path(kPods, key, "binding"), binding);
  ++writes;
  if (!res.ok()) {
    ++write_errors;
    log.warn("binding failed").kv("pod", key).kv("node", placed.node).kv("error", res.message());
    return false;
  }
  ++scheduled;
  // Account now: the watch event comes after the rest of this batch has been placed.
  json::Value bound = *pod;
  bound["spec"]["nodeName"] = placed.node;
  auto req = std::move(demand.requests);
  if (auto n = sched_index.find(placed.node); n != sched_index.end())
    add_requests(sched_nodes[n->second], req, 1);
  pod_alloc[key] = {placed.node, std::move(req)};
  last_failed_message.erase(key);
  record_event(scheduler, "default-scheduler", *pod, "Normal", "Scheduled",
               "Successfully assigned " + key + " to " + placed.node);
  return true;
}

// ------------------------------------------------------------------ nodes

void Simulation::Impl::register_nodes() {
  auto ns = controllers.create("/api/v1/namespaces",
                               json::Object{{"apiVersion", "v1"}, {"kind", "Namespace"},
                                            {"metadata", json::Object{{"name", "kube-node-lease"}}}});
  if (!ns.ok() && ns.code != 409)
    log.warn("cannot create kube-node-lease").kv("error", ns.message());
  auto rendered = render_nodes(opts.profile, now_rfc3339());
  size_t created = 0;
  for (auto& node : rendered) {
    auto name = node.at_path("metadata.name")->as_string();
    auto res = kubelet.create("/api/v1/nodes", node);
    ++writes;
    if (res.code == 409)
      res = kubelet.get("/api/v1/nodes/" + name);
    else if (res.ok())
      ++created;
    if (!res.ok()) {
      ++write_errors;
      log.error("node not registered").kv("node", name).kv("error", res.message());
      continue;
    }
    auto& rt = nodes[name];
    rt.node_uid = res.body.at_path("metadata.uid") ? res.body.at_path("metadata.uid")->as_string() : "";
    rt.last_heartbeat_seen = Clock::now();
    heartbeat(name);
    remember(kNodes, res.body);
  }
  log.info("simulated nodes registered").kv("nodes", rendered.size()).kv("created", created);
}

void Simulation::Impl::heartbeat(const std::string& name) {
  auto& rt = nodes[name];
  auto now = Clock::now();
  rt.last_lease = now;
  rt.last_heartbeat_seen = now;
  auto renew = format_micro_time(std::chrono::system_clock::now());
  auto path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/" + name;
  auto res = kubelet.merge_patch(path, json::Object{{"spec", json::Object{{"renewTime", renew}}}});
  ++writes;
  if (res.code == 404) {
    json::Object lease{
        {"apiVersion", "coordination.k8s.io/v1"},
        {"kind", "Lease"},
        {"metadata", json::Object{{"name", name},
                                  {"namespace", "kube-node-lease"},
                                  {"ownerReferences", json::Array{json::Object{{"apiVersion", "v1"},
                                                                               {"kind", "Node"},
                                                                               {"name", name},
                                                                               {"uid", rt.node_uid}}}}}},
        {"spec", json::Object{{"holderIdentity", name},
                              {"leaseDurationSeconds", std::max<int64_t>(1, opts.node_monitor_grace.count() / 1000)},
                              {"renewTime", renew}}}};
    res = kubelet.create("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease);
    ++writes;
  }
  if (!res.ok()) {
    ++write_errors;
    log.warn("lease renewal failed").kv("node", name).kv("error", res.message());
  }
}

namespace {

// The kubelet's own node conditions: all healthy, heartbeats stamped now.
json::Array healthy_conditions(const json::Value& node) {
  auto now = now_rfc3339();
  json::Array out;
  const std::tuple<const char*, const char*, const char*, const char*> rows[] = {
      {"MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"},
      {"DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
      {"PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"},
      {"Ready", "True", "KubeletReady", "kubelet is posting ready status"}};
  for (auto& [type, status, reason, message] : rows) {
    auto* prev = find_condition(node, type);
    std::string since = prev && prev->string_or("status") == status ? prev->string_or("lastTransitionTime") : now;
    out.push_back(json::Object{{"type", type}, {"status", status}, {"lastHeartbeatTime", now},
                               {"lastTransitionTime", since}, {"reason", reason}, {"message", message}});
  }
  return out;
}

}  // namespace

void Simulation::Impl::node_tick() {
  auto now = Clock::now();
  for (auto& [name, rt] : nodes) {
    auto* node = cached(kNodes, name);
    if (!node)
      continue;
    if (rt.kubelet_alive) {
      if (now - rt.last_lease >= opts.heartbeat)
        heartbeat(name);
      bool ready = is_true_condition(*node, "Ready");
      // Allocatable follows the GPUs the device plugin still reports healthy.
      json::Value alloc;
      if (auto* caps = node->at_path("status.capacity"); caps && caps->is_object())
        if (auto* g = caps->get("nvidia.com/gpu"); g && g->is_string()) {
          int64_t total = std::strtoll(g->as_string().c_str(), nullptr, 10);
          auto want = std::to_string(std::max<int64_t>(0, total - rt.gpus_lost));
          auto* have = node->at_path("status.allocatable");
          auto* hg = have && have->is_object() ? have->get("nvidia.com/gpu") : nullptr;
          if (!hg || !hg->is_string() || hg->as_string() != want)
            alloc = json::Object{{"nvidia.com/gpu", want}};
        }
      if (!ready || !alloc.is_null() || now - rt.last_status >= opts.status_report) {
        rt.last_status = now;
        json::Object status{{"conditions", healthy_conditions(*node)}};
        if (!alloc.is_null())
          status.set("allocatable", alloc);
        auto res = kubelet.merge_patch("/api/v1/nodes/" + name + "/status", json::Object{{"status", status}});
        ++writes;
        if (res.ok())
          remember(kNodes, res.body);
        else
          ++write_errors, log.warn("node status not written").kv("node", name).kv("error", res.message());
        if (!alloc.is_null())
          log.info("node allocatable GPUs changed").kv("node", name).kv("allocatable", alloc["nvidia.com/gpu"].as_string());
      }
      if (ready && has_taint(*node, kUnreachable))
        node_back(name);
    } else if (now - rt.last_heartbeat_seen > opts.node_monitor_grace) {
      auto* r = find_condition(*node, "Ready");
      if (!r || r->string_or("status") != "Unknown")
        node_lost(name);
    }
  }
}

// The node lifecycle controller's view of a node whose kubelet went silent.
void Simulation::Impl::node_lost(const std::string& name) {
  auto* node = cached(kNodes, name);
  if (!node)
    return;
  auto now = now_rfc3339();
  json::Array conds;
  if (auto* cs = node->at_path("status.conditions"); cs && cs->is_array())
    for (auto c : cs->as_array()) {
      c["status"] = "Unknown";
      c["reason"] = "NodeStatusUnknown";
      c["message"] = "Kubelet stopped posting node status.";
      c["lastTransitionTime"] = now;
      conds.push_back(std::move(c));
    }
  auto res = node_ctl.merge_patch("/api/v1/nodes/" + name + "/status",
                                  json::Object{{"status", json::Object{{"conditions", conds}}}});
  ++writes;
  if (res.ok())
    remember(kNodes, res.body);
  auto taints = node_taints_without(*cached(kNodes, name), {kUnreachable});
  taints.as_array().push_back(json::Object{{"key", kUnreachable}, {"effect", "NoSchedule"}, {"timeAdded", now}});
  taints.as_array().push_back(json::Object{{"key", kUnreachable}, {"effect", "NoExecute"}, {"timeAdded", now}});
  res = node_ctl.merge_patch("/api/v1/nodes/" + name, json::Object{{"spec", json::Object{{"taints", taints}}}});
  ++writes;
  if (res.ok())
    remember(kNodes, res.body);
  else
    ++write_errors;
  log.warn("node not ready: kubelet stopped posting status").kv("node", name);
  record_event(node_ctl, "node-controller", *cached(kNodes, name), "Normal", "NodeNotReady",
               "Node " + name + " status is now: NodeNotReady");
  // Pods on it are no longer ready (MarkPodsNotReady).
  std::vector<std::string> keys;
  for (auto& [key, pod] : inf[kPods].cache)
    if (node_of(pod) == name && !pod_terminal(pod))
      keys.push_back(key);
  for (auto& key : keys) {
    auto* pod = cached(kPods, key);
    json::Array conds2;
    if (auto* cs = pod->at_path("status.conditions"); cs && cs->is_array())
      for (auto& c : cs->as_array())
        conds2.push_back(c.string_or("type") == "Ready" ? condition(*pod, "Ready", false, "NodeNotReady", "") : c);
    auto pr = node_ctl.merge_patch(object_path(kPods, key, "status"),
                                   json::Object{{"status", json::Object{{"conditions", conds2}}}});
    ++writes;
    if (pr.ok()) {
      remember(kPods, pr.body);
      record_event(node_ctl, "node-controller", pr.body, "Warning", "NodeNotReady", "Node is not ready");
    }
  }
}

void Simulation::Impl::node_back(const std::string& name) {
  auto* node = cached(kNodes, name);
  if (!node)
    return;
  auto res = node_ctl.merge_patch("/api/v1/nodes/" + name,
                                  json::Object{{"spec", json::Object{{"taints", node_taints_without(*node, {kUnreachable})}}}});
  ++writes;
  if (res.ok())
    remember(kNodes, res.body);
  log.info("node ready again").kv("node", name);
  record_event(node_ctl, "node-controller", *cached(kNodes, name), "Normal", "NodeReady",
               "Node " + name + " status is now: NodeReady");
}

// Taint-based eviction: pods on a node with NoExecute taints they do not tolerate go at once;
// those that tolerate for tolerationSeconds go when that has passed since the taint was added.
void Simulation::Impl::evict_tick() {
  auto now = std::chrono::system_clock::now();
  std::map<std::string, std::vector<NodeTaintView>> tainted;  // node -> NoExecute taints
  std::map<std::string, std::map<std::string, std::string>> added;  // node -> key -> timeAdded
  for (auto& [name, node] : inf[kNodes].cache)
    if (auto* ts = node.at_path("spec.taints"); ts && ts->is_array())
      for (auto& t : ts->as_array())
        if (t.string_or("effect") == "NoExecute") {
          tainted[name].push_back({t.string_or("key"), t.string_or("value"), "NoExecute"});
          added[name][t.string_or("key")] = t.string_or("timeAdded");
        }
  if (tainted.empty())
    return;
  std::vector<std::string> victims;
  for (auto& [key, pod] : inf[kPods].cache) {
    auto node = node_of(pod);
    auto it = tainted.find(node);
    if (it == tainted.end() || deleting(pod) || pod_terminal(pod))
      continue;
    auto* tols = pod.at_path("spec.tolerations");
    json::Value none;
    bool evict = false;
    for (auto& taint : it->second) {
      if (!tolerates(tols ? *tols : none, taint)) {
        evict = true;
        break;
      }
      // The smallest tolerationSeconds of the matching tolerations bounds the stay.
      std::optional<int64_t> secs;
      bool forever = false;
      for (auto& t : tols->as_array()) {
        json::Value one = json::Array{t};
        if (!tolerates(one, taint))
          continue;
        if (auto s = t.int_at("tolerationSeconds"))
          secs = secs ? std::min(*secs, *s) : *s;
        else
          forever = true;
      }
      if (forever || !secs)
        continue;
      auto since = added[node][taint.key];
      auto t0 = since.empty() ? now : parse_rfc3339(since).value_or(now);
      if (now >= t0 + std::chrono::seconds(std::max<int64_t>(0, *secs))) {
        evict = true;
        break;
      }
    }
    if (evict)
      victims.push_back(key);
  }
  for (auto& key : victims) {
    auto pod = *cached(kPods, key);
    auto res = controllers.remove(object_path(kPods, key), -1, pod.at_path("metadata.uid")->as_string());
    ++writes;
    if (!res.ok() && res.code != 404) {
      ++write_errors;
      continue;
    }
    ++evicted;
    if (res.ok() && res.body.string_or("kind") == "Pod")
      remember(kPods, res.body);
    log.info("pod evicted by taint").kv("pod", key).kv("node", node_of(pod));
    record_event(controllers, "taint-eviction-controller", pod, "Normal", "TaintManagerEviction",
                 "Marking for deletion Pod " + key);
  }
}

// ------------------------------------------------------------------ failures

std::string Simulation::Impl::pick_node(const std::string& want) {
  if (want != "random")
    return nodes.count(want) ? want : "";
  std::vector<std::string> alive;
  for (auto& [name, rt] : nodes)
    if (rt.kubelet_alive)
      alive.push_back(name);
  if (alive.empty())
    return "";
  return alive[std::uniform_int_distribution<size_t>(0, alive.size() - 1)(rng)];
}

void Simulation::Impl::apply_failure(const Failure& f) {
  log.warn("failure injected").kv("failure", json::dump(f.to_json()));
  if (f.kind == "crash-loop" || f.kind == "image-pull-error" || f.kind == "pod-fail") {
    pod_failures.push_back(f);
    if (f.kind == "crash-loop")
      // Running containers of matching pods crash from now on.
      for (auto& [key, kp] : kpods)
        if (kp.stage == KubeletPod::Ready || kp.stage == KubeletPod::Running)
          if (auto* pod = cached(kPods, key); pod && failure_matches("crash-loop", *pod)) {
            auto epoch = ++kp.epoch;
            kp.stage = KubeletPod::Running;
            after(opts.crash_after, [this, key = key, epoch] { kubelet_crash(key, epoch); });
          }
    return;
  }
  if (f.kind == "clear") {
    pod_failures.clear();
    return;
  }
  auto node = pick_node(f.node);
  if (node.empty()) {
    log.warn("failure names no simulated node; ignored").kv("node", f.node);
    return;
  }
  auto& rt = nodes[node];
  if (f.kind == "node-not-ready") {
    rt.kubelet_alive = false;
  } else if (f.kind == "node-ready") {
    if (rt.kubelet_alive)
      return;
    rt.kubelet_alive = true;
    heartbeat(node);
    rt.last_status = {};  // report status at the next tick
    // The kubelet resyncs every pod bound to it.
    std::vector<std::string> keys;
    for (auto& [key, pod] : inf[kPods].cache)
      if (node_of(pod) == node)
        keys.push_back(key);
    for (auto& key : keys) {
      kpods.erase(key);
      kubelet_observe(key, cached(kPods, key));
    }
  } else if (f.kind == "gpu-lost") {
    rt.gpus_lost += f.gpus;
  } else if (f.kind == "gpu-restored") {
    rt.gpus_lost = std::max(0, rt.gpus_lost - f.gpus);
  }
  next_tick = Clock::now();
}

bool Simulation::Impl::failure_matches(const std::string& kind, const json::Value& pod) const {
  for (auto& f : pod_failures) {
    if (f.kind != kind)
      continue;
    if (!f.pods.empty() && !str::starts_with(pod.at_path("metadata.name")->as_string(), f.pods))
      continue;
    if (!f.selector.empty()) {
      auto* labels = pod.at_path("metadata.labels");
      if (!selector_matches(f.selector, labels ? *labels : json::Value(json::Object{})))
        continue;
    }
    if (!f.image.empty()) {
      bool any = false;
      if (auto* cs = pod.at_path("spec.containers"); cs && cs->is_array())
        for (auto& c : cs->as_array())
          any = any || c.string_or("image").find(f.image) != std::string::npos;
      if (!any)
        continue;
    }
    return true;
  }
  return false;
}

// ------------------------------------------------------------------ kubelet

Clock::duration Simulation::Impl::start_delay_for(const json::Value& pod) const {
  auto a = annotation(pod, "sim.omed.io/start-delay");
  if (!a.empty()) {
    try {
      return parse_millis(a);
    } catch (...) {
    }
  }
  if (auto* cs = pod.at_path("spec.containers"); cs && cs->is_array())
    for (auto& [needle, d] : opts.image_start_delays)
      for (auto& c : cs->as_array())
        if (c.string_or("image").find(needle) != std::string::npos)
          return d;
  return opts.start_delay;
}

Clock::duration Simulation::Impl::backoff(int n) const {
  auto d = opts.backoff_base * (int64_t{1} << std::min(n > 0 ? n - 1 : 0, 10));
  return std::min<Clock::duration>(d, std::max<Clock::duration>(opts.backoff_base, std::chrono::minutes(5)));
}

void Simulation::Impl::kubelet_observe(const std::string& key, const json::Value* pod) {
  if (!pod) {
    kpods.erase(key);
    return;
  }
  auto node = node_of(*pod);
  auto nit = nodes.find(node);
  if (nit == nodes.end() || !nit->second.kubelet_alive)
    return;
  auto uid = pod->at_path("metadata.uid")->as_string();
  auto it = kpods.find(key);
  if (it != kpods.end() && it->second.uid != uid) {
    kpods.erase(it);
    it = kpods.end();
  }
  if (deleting(*pod)) {
    if (it == kpods.end() || it->second.stage != KubeletPod::Stopping) {
      auto& kp = kpods[key];
      kp.uid = uid;
      kp.stage = KubeletPod::Stopping;
      auto epoch = ++kp.epoch;
      after(opts.stop_delay, [this, key, epoch] { kubelet_stop(key, epoch); });
    }
    return;
  }
  if (it == kpods.end())
    kubelet_begin(key, *pod);
}

json::Value Simulation::Impl::pod_status(const json::Value& pod, const KubeletPod& kp, const std::string& phase,
                                         const json::Value& state, bool ready) {
  auto node = node_of(pod);
  std::string host_ip;
  if (auto* n = cached(kNodes, node))
    if (auto* as = n->at_path("status.addresses"); as && as->is_array())
      for (auto& a : as->as_array())
        if (a.string_or("type") == "InternalIP")
          host_ip = a.string_or("address");
  bool running = phase == "Running";
  bool done = phase == "Succeeded" || phase == "Failed";
  json::Array statuses;
  if (auto* cs = pod.at_path("spec.containers"); cs && cs->is_array())
    for (auto& c : cs->as_array()) {
      auto name = c.string_or("name");
      bool started_state = state.get("running") != nullptr;
      json::Object s{{"name", name},
                     {"image", c.string_or("image")},
                     {"imageID", started_state || done ? "sim.omed.io/" + c.string_or("image") + "@sha256:" +
                                                             hex_id(c.string_or("image"), 64)
                                                       : ""},
                     {"ready", ready},
                     {"started", started_state},
                     {"restartCount", kp.restarts},
                     {"state", state}};
      if (started_state || done)
        s.set("containerID", "containerd://" + hex_id(kp.uid + name + std::to_string(kp.restarts), 64));
      s.set("lastState", kp.last_termination.empty() ? json::Value(json::Object{})
                                                      : json::Value(json::Object{{"terminated", json::parse(kp.last_termination)}}));
      statuses.push_back(std::move(s));
    }
  std::string not_ready = done ? "PodCompleted" : "ContainersNotReady";
  std::string nr_message;
  if (!ready && !done) {
    std::string names;
    if (auto* cs = pod.at_path("spec.containers"); cs && cs->is_array())
      for (auto& c : cs->as_array())
        names += (names.empty() ? "" : " ") + c.string_or("name");
    nr_message = "containers with unready status: [" + names + "]";
  }
  json::Array conds{condition(pod, "PodReadyToStartContainers", running || done),
                    condition(pod, "Initialized", true),
                    ready ? condition(pod, "Ready", true) : condition(pod, "Ready", false, not_ready, nr_message),
                    ready ? condition(pod, "ContainersReady", true)
                          : condition(pod, "ContainersReady", false, not_ready, nr_message),
                    condition(pod, "PodScheduled", true)};
  json::Object st{{"phase", phase}, {"conditions", conds}, {"hostIP", host_ip},
                  {"hostIPs", json::Array{json::Object{{"ip", host_ip}}}}, {"startTime", kp.started_at},
                  {"containerStatuses", statuses}};
  if (!kp.ip.empty() && !done) {
    st.set("podIP", kp.ip);
    st.set("podIPs", json::Array{json::Object{{"ip", kp.ip}}});
  }
  if (auto* q = pod.at_path("status.qosClass"))
    st.set("qosClass", *q);
  return st;
}

bool Simulation::Impl::write_pod_status(const std::string& key, json::Value status) {
  auto res = kubelet.merge_patch(object_path(kPods, key, "status"), json::Object{{"status", std::move(status)}});
  ++writes;
  if (!res.ok()) {
    if (res.code != 404)
      ++write_errors, log.warn("pod status not written").kv("pod", key).kv("error", res.message());
    return false;
  }
  remember(kPods, res.body);
  return true;
}

void Simulation::Impl::kubelet_begin(const std::string& key, const json::Value& pod) {
  auto& kp = kpods[key];
  kp.uid = pod.at_path("metadata.uid")->as_string();
  auto* phase = pod.at_path("status.phase");
  std::string ph = phase && phase->is_string() ? phase->as_string() : "Pending";
  if (ph == "Succeeded" || ph == "Failed") {
    kp.stage = KubeletPod::Finished;
    return;
  }
  auto epoch = ++kp.epoch;
  if (ph == "Running") {
    // Picked up again (a kubelet back from an outage): containers still run; readiness returns.
    if (auto* ip = pod.at_path("status.podIP"); ip && ip->is_string())
      kp.ip = ip->as_string();
    if (auto* st = pod.at_path("status.startTime"); st && st->is_string())
      kp.started_at = st->as_string();
    kp.container_started_at = kp.started_at;
    if (auto* cs = pod.at_path("status.containerStatuses"); cs && cs->is_array() && !cs->as_array().empty())
      kp.restarts = static_cast<int>(cs->as_array()[0].int_at("restartCount").value_or(0));
    kp.stage = KubeletPod::Running;
    after(opts.ready_delay, [this, key, epoch] { kubelet_ready(key, epoch); });
    return;
  }
  auto node = node_of(pod);
  auto& nrt = nodes[node];
  std::string cidr;
  if (auto* n = cached(kNodes, node))
    if (auto* c = n->at_path("spec.podCIDR"); c && c->is_string())
      cidr = c->as_string();
  auto dot = cidr.rfind('.');
  kp.ip = dot == std::string::npos ? "" : cidr.substr(0, dot + 1) + std::to_string(2 + nrt.next_ip++ % 250);
  kp.started_at = now_rfc3339();
  kp.stage = KubeletPod::Creating;
  json::Value waiting = json::Object{{"waiting", json::Object{{"reason", "ContainerCreating"}}}};
  write_pod_status(key, pod_status(pod, kp, "Pending", waiting, false));
  after(start_delay_for(pod), [this, key, epoch] { kubelet_start(key, epoch); });
}

namespace {
bool run_to_completion(const json::Value& pod) {
  auto* rp = pod.at_path("spec.restartPolicy");
  return rp && rp->is_string() && rp->as_string() != "Always";
}
}  // namespace

void Simulation::Impl::kubelet_start(const std::string& key, uint64_t epoch) {
  auto it = kpods.find(key);
  auto* pod = cached(kPods, key);
  if (it == kpods.end() || it->second.epoch != epoch || !pod || deleting(*pod) || !nodes[node_of(*pod)].kubelet_alive)
    return;
  auto& kp = it->second;
  auto first_image = [&] {
    auto* cs = pod->at_path("spec.containers");
    return cs && cs->is_array() && !cs->as_array().empty() ? cs->as_array()[0].string_or("image") : std::string();
  };
  auto first_name = [&] {
    auto* cs = pod->at_path("spec.containers");
    return cs && cs->is_array() && !cs->as_array().empty() ? cs->as_array()[0].string_or("name") : std::string();
  };
  if (failure_matches("image-pull-error", *pod)) {
    ++kp.pull_failures;
    bool first = kp.pull_failures == 1;
    auto image = first_image();
    std::string reason = kp.pull_failures % 2 == 1 ? "ErrImagePull" : "ImagePullBackOff";
    std::string message = reason == "ErrImagePull"
                              ? "failed to pull and unpack image \"" + image + "\": not found"
                              : "Back-off pulling image \"" + image + "\"";
    kp.stage = KubeletPod::PullBackOff;
    write_pod_status(key, pod_status(*pod, kp, "Pending",
                                     json::Object{{"waiting", json::Object{{"reason", reason}, {"message", message}}}}, false));
    if (first || reason == "ErrImagePull")
      record_event(kubelet, "kubelet", *cached(kPods, key), "Warning", "Failed",
                   "Failed to pull image \"" + image + "\": not found", node_of(*pod));
    auto e = ++kp.epoch;
    after(backoff(kp.pull_failures), [this, key, e] { kubelet_start(key, e); });
    return;
  }
  if (is_parse_pod(*pod))
    return parse_start(key, epoch);
  kp.stage = KubeletPod::Running;
  kp.container_started_at = now_rfc3339();
  bool first_start = kp.restarts == 0;
  write_pod_status(key, pod_status(*pod, kp, "Running",
                                   json::Object{{"running", json::Object{{"startedAt", kp.container_started_at}}}}, false));
  pod = cached(kPods, key);
  if (!pod)
    return;
  if (first_start) {
    ++started_pods;
    record_event(kubelet, "kubelet", *pod, "Normal", "Started", "Started container " + first_name(), node_of(*pod));
  }
  auto e = ++kp.epoch;
  if (run_to_completion(*pod)) {
    auto d = opts.job_duration;
    if (auto a = annotation(*pod, "sim.omed.io/run-duration"); !a.empty())
      try {
        d = parse_millis(a);
      } catch (...) {
      }
    int code = failure_matches("pod-fail", *pod) ? 1 : 0;
    if (auto a = annotation(*pod, "sim.omed.io/exit-code"); !a.empty())
      code = std::atoi(a.c_str());
    after(d, [this, key, e, code] { kubelet_finish(key, e, code); });
  } else if (failure_matches("crash-loop", *pod)) {
    after(opts.crash_after, [this, key, e] { kubelet_crash(key, e); });
  } else {
    after(opts.ready_delay, [this, key, e] { kubelet_ready(key, e); });
  }
}

void Simulation::Impl::kubelet_ready(const std::string& key, uint64_t epoch) {
  auto it = kpods.find(key);
  auto* pod = cached(kPods, key);
  if (it == kpods.end() || it->second.epoch != epoch || !pod || deleting(*pod) || !nodes[node_of(*pod)].kubelet_alive)
    return;
  auto& kp = it->second;
  kp.stage = KubeletPod::Ready;
  auto started = kp.container_started_at.empty() ? now_rfc3339() : kp.container_started_at;
  write_pod_status(key, pod_status(*pod, kp, "Running", json::Object{{"running", json::Object{{"startedAt", started}}}}, true));
}

void Simulation::Impl::kubelet_crash(const std::string& key, uint64_t epoch) {
  auto it = kpods.find(key);
  auto* pod = cached(kPods, key);
  if (it == kpods.end() || it->second.epoch != epoch || !pod || deleting(*pod) || !nodes[node_of(*pod)].kubelet_alive)
    return;
  auto& kp = it->second;
  ++kp.restarts;
  auto now = now_rfc3339();
  kp.last_termination = json::dump(json::Object{{"exitCode", 1}, {"reason", "Error"},
                                                {"startedAt", kp.container_started_at.empty() ? now : kp.container_started_at},
                                                {"finishedAt", now},
                                                {"containerID", "containerd://" + hex_id(kp.uid + std::to_string(kp.restarts), 64)}});
  kp.stage = KubeletPod::CrashBackOff;
  auto wait = backoff(kp.restarts);
  auto* cs = pod->at_path("spec.containers");
  auto cname = cs && cs->is_array() && !cs->as_array().empty() ? cs->as_array()[0].string_or("name") : std::string();
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(wait).count();
  std::string message = "back-off " + std::to_string(secs) + "s restarting failed container=" + cname + " pod=" +
                        name_of(key) + "_" + pod->at_path("metadata.namespace")->as_string() + "(" + kp.uid + ")";
  write_pod_status(key, pod_status(*pod, kp, "Running",
                                   json::Object{{"waiting", json::Object{{"reason", "CrashLoopBackOff"}, {"message", message}}}},
                                   false));
  if (auto* p = cached(kPods, key))
    record_event(kubelet, "kubelet", *p, "Warning", "BackOff",
                 "Back-off restarting failed container " + cname + " in pod " + name_of(key) + "_" +
                     p->at_path("metadata.namespace")->as_string() + "(" + kp.uid + ")",
                 node_of(*p));
  auto e = ++kp.epoch;
  after(wait, [this, key, e] { kubelet_start(key, e); });
}

void Simulation::Impl::kubelet_finish(const std::string& key, uint64_t epoch, int exit_code,
                                      const std::string& message, const std::string& reason) {
  auto it = kpods.find(key);
  auto* pod = cached(kPods, key);
  if (it == kpods.end() || it->second.epoch != epoch || !pod || deleting(*pod) || !nodes[node_of(*pod)].kubelet_alive)
    return;
  auto& kp = it->second;
  auto* rp = pod->at_path("spec.restartPolicy");
  if (exit_code != 0 && rp && rp->is_string() && rp->as_string() == "OnFailure") {
    kubelet_crash(key, epoch);  // restarted in place, with back-off
    return;
  }
  kp.stage = KubeletPod::Finished;
  auto now = now_rfc3339();
  json::Object terminated{{"exitCode", exit_code},
                          {"reason", !reason.empty() ? reason : exit_code == 0 ? "Completed" : "Error"},
                          {"startedAt", kp.container_started_at},
                          {"finishedAt", now},
                          {"containerID", "containerd://" + hex_id(kp.uid, 64)}};
  if (!message.empty())
    terminated.set("message", message);
  json::Value term = json::Object{{"terminated", std::move(terminated)}};
  write_pod_status(key, pod_status(*pod, kp, exit_code == 0 ? "Succeeded" : "Failed", term, false));
}

void Simulation::Impl::kubelet_stop(const std::string& key, uint64_t epoch) {
  auto it = kpods.find(key);
  auto* pod = cached(kPods, key);
  if (it == kpods.end() || it->second.epoch != epoch || !pod || !nodes[node_of(*pod)].kubelet_alive)
    return;
  // Containers stopped: the kubelet completes the graceful deletion.
  auto res = kubelet.remove(object_path(kPods, key), 0, it->second.uid);
  ++writes;
  if (res.ok() || res.code == 404 || res.code == 409)
    forget(kPods, key);
  else
    ++write_errors, log.warn("pod deletion not completed").kv("pod", key).kv("error", res.message());
}

}  // namespace omed::apiserver::sim
