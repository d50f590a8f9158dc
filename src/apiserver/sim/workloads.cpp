// The simulated cluster's workload controllers, as kube-controller-manager and the LWS
// controller run them: Deployment -> ReplicaSet -> Pods, Job -> Pods, LeaderWorkerSet -> groups
// of a leader and workers, and HorizontalPodAutoscaler status. Each reconcile is level-triggered.
#include <algorithm>
#include <cmath>

#include "omed/apiserver/server.hpp"
#include "omed/apiserver/table.hpp"
#include "omed/common/strings.hpp"
#include "sim_impl.hpp"

namespace omed::apiserver::sim {

namespace {

std::string ns_of(const std::string& key) { return key.substr(0, key.find('/')); }

uint32_t fnv32(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s)
    h = (h ^ c) * 16777619u;
  return h;
}

// A template hash spelled with the alphabet Kubernetes uses for generated names (no vowels,
// no look-alike digits), so it reads like a real pod-template-hash.
std::string safe_hash(const json::Value& v, int64_t collisions = 0) {
  static const char* alphabet = "bcdfghjklmnpqrstvwxz2456789";
  auto digits = std::to_string(fnv32(json::dump(v) + (collisions ? std::to_string(collisions) : "")));
  std::string out;
  for (char d : digits)
    out += alphabet[static_cast<unsigned char>(d) % 27];
  return out;
}

// int-or-string ("25%" or 2) resolved against `total`, rounding up or down as the field asks.
int64_t scaled_value(const json::Value* v, int64_t total, bool round_up, int64_t def) {
  if (!v || v->is_null())
    return def;
  if (v->is_int())
    return v->as_int();
  if (v->is_string() && str::ends_with(v->as_string(), "%")) {
    double pct = std::atof(v->as_string().c_str());
    double x = pct * static_cast<double>(total) / 100.0;
    return static_cast<int64_t>(round_up ? std::ceil(x) : std::floor(x));
  }
  if (v->is_string())
    return std::atoll(v->as_string().c_str());
  return def;
}

bool pod_available(const json::Value& pod, int64_t min_ready_seconds) {
  if (!pod_ready(pod))
    return false;
  if (min_ready_seconds <= 0)
    return true;
  if (auto* cs = pod.at_path("status.conditions"); cs && cs->is_array())
    for (auto& c : cs->as_array())
      if (c.string_or("type") == "Ready")
        if (auto t = parse_rfc3339(c.string_or("lastTransitionTime")))
          return std::chrono::system_clock::now() >= *t + std::chrono::seconds(min_ready_seconds);
  return false;
}

// A pod made from a template, owned by `owner`.
json::Value pod_from_template(const json::Value& tmpl, const json::Value& owner, const std::string& ns) {
  json::Value pod = json::Object{{"apiVersion", "v1"}, {"kind", "Pod"}};
  json::Object md;
  if (auto* l = tmpl.at_path("metadata.labels"))
    md.set("labels", *l);
  else
    md.set("labels", json::Object{});
  if (auto* a = tmpl.at_path("metadata.annotations"))
    md.set("annotations", *a);
  md.set("namespace", ns);
  md.set("ownerReferences", json::Array{owner_ref(owner)});
  pod["metadata"] = std::move(md);
  pod["spec"] = tmpl.get("spec") ? *tmpl.get("spec") : json::Value(json::Object{});
  return pod;
}

json::Value with_condition(const json::Value& obj, json::Array conds, const std::string& type, const std::string& status,
                           const std::string& reason, const std::string& message, bool update_time = true) {
  auto now = now_rfc3339();
  const json::Value* prev = nullptr;
  if (auto* cs = obj.at_path("status.conditions"); cs && cs->is_array())
    for (auto& c : cs->as_array())
      if (c.string_or("type") == type)
        prev = &c;
  std::string since = prev && prev->string_or("status") == status ? prev->string_or("lastTransitionTime") : now;
  std::string updated = prev && !update_time && prev->string_or("reason") == reason ? prev->string_or("lastUpdateTime", now) : now;
  json::Object c{{"type", type}, {"status", status}, {"reason", reason}, {"message", message},
                 {"lastTransitionTime", since}};
  if (obj.string_or("kind") == "Deployment")
    c.set("lastUpdateTime", updated);
  conds.push_back(std::move(c));
  return conds;
}

// Status writes only when something changed: a no-op patch still costs a request.
bool status_differs(const json::Value& obj, const json::Value& status) {
  auto* cur = obj.get("status");
  if (!cur || !cur->is_object())
    return true;
  for (auto& m : status.as_object()) {
    auto* v = cur->get(m.key);
    if (!v || !(*v == m.value))
      return true;
  }
  return false;
}

}  // namespace

// A drawn name that is taken is drawn again, as the API server does for generateName.
ApiResult Simulation::Impl::create_named(json::Value& pod, const std::string& prefix) {
  ApiResult res;
  auto path = collection_path(kPods, pod.at_path("metadata.namespace")->as_string());
  for (int attempt = 0; attempt < 8; ++attempt) {
    pod["metadata"]["name"] = prefix + name_suffix();
    res = controllers.create(path, pod);
    ++writes;
    if (res.code != 409)
      break;
  }
  return res;
}

// ------------------------------------------------------------------ ReplicaSet

void Simulation::Impl::reconcile_replicaset(const std::string& key) {
  auto* rs = cached(kReplicaSets, key);
  if (!rs || deleting(*rs))
    return;
  auto ns = ns_of(key);
  auto uid = rs->at_path("metadata.uid")->as_string();
  int64_t want = int_or(*rs, "spec.replicas", 1);
  std::vector<const json::Value*> active;
  for (auto* p : owned_pods(ns, uid))
    if (!deleting(*p) && !pod_terminal(*p))
      active.push_back(p);
  int64_t diff = static_cast<int64_t>(active.size()) - want;
  auto rs_name = rs->at_path("metadata.name")->as_string();
  if (diff < 0) {
    auto tmpl = rs->at_path("spec.template") ? *rs->at_path("spec.template") : json::Value(json::Object{});
    // Bursts are bounded as the real controller's slow start is; the next pass makes the rest.
    int64_t n = std::min<int64_t>(-diff, std::max(0, create_budget));
    if (n < -diff)
      after(std::chrono::milliseconds(0), [this, key] { dirty[kReplicaSets].insert(key); });
    for (int64_t i = 0; i < n; ++i) {
      auto pod = pod_from_template(tmpl, *rs, ns);
      auto res = create_named(pod, rs_name + "-");
      if (!res.ok()) {
        ++write_errors;
        log.warn("pod not created").kv("replicaset", key).kv("error", res.message());
        record_event(controllers, "replicaset-controller", *cached(kReplicaSets, key), "Warning", "FailedCreate",
                     "Error creating: " + res.message());
        break;
      }
      --create_budget;
      remember(kPods, res.body);
      record_event(controllers, "replicaset-controller", *cached(kReplicaSets, key), "Normal", "SuccessfulCreate",
                   "Created pod: " + res.body.at_path("metadata.name")->as_string());
    }
  } else if (diff > 0) {
    // Which pods go first: unscheduled, then pending, then not ready, then the youngest.
    std::sort(active.begin(), active.end(), [](const json::Value* a, const json::Value* b) {
      auto rank = [](const json::Value* p) {
        auto* n = p->at_path("spec.nodeName");
        bool bound = n && n->is_string() && !n->as_string().empty();
        auto* ph = p->at_path("status.phase");
        bool running = ph && ph->is_string() && ph->as_string() == "Running";
        return std::tuple<int, int, int>(bound, running, pod_ready(*p));
      };
      auto ra = rank(a), rb = rank(b);
      if (ra != rb)
        return ra < rb;
      return a->at_path("metadata.creationTimestamp")->as_string() > b->at_path("metadata.creationTimestamp")->as_string();
    });
    std::vector<std::pair<std::string, std::string>> victims;
    for (int64_t i = 0; i < diff && i < static_cast<int64_t>(active.size()); ++i)
      victims.emplace_back(key_of(*active[i]), active[i]->at_path("metadata.uid")->as_string());
    for (auto& [pkey, puid] : victims) {
      auto res = controllers.remove(object_path(kPods, pkey), -1, puid);
      ++writes;
      if (res.ok() && res.body.string_or("kind") == "Pod")
        remember(kPods, res.body);
      else if (res.ok())
        forget(kPods, pkey);
      if (auto* cur = cached(kReplicaSets, key))
        record_event(controllers, "replicaset-controller", *cur, "Normal", "SuccessfulDelete",
                     "Deleted pod: " + pkey.substr(pkey.find('/') + 1));
    }
  }
  rs = cached(kReplicaSets, key);
  if (!rs)
    return;
  int64_t min_ready = int_or(*rs, "spec.minReadySeconds", 0);
  int64_t replicas = 0, ready = 0, available = 0, labeled = 0;
  bool pending_availability = false;
  for (auto* p : owned_pods(ns, uid)) {
    if (deleting(*p) || pod_terminal(*p))
      continue;
    ++replicas;
    ++labeled;
    if (pod_ready(*p)) {
      ++ready;
      if (pod_available(*p, min_ready))
        ++available;
      else
        pending_availability = true;
    }
  }
  if (pending_availability)
    after(std::chrono::seconds(1), [this, key] { dirty[kReplicaSets].insert(key); });
  json::Object status{{"replicas", replicas},
                      {"fullyLabeledReplicas", labeled},
                      {"readyReplicas", ready},
                      {"availableReplicas", available},
                      {"observedGeneration", int_or(*rs, "metadata.generation", 1)}};
  if (status_differs(*rs, status)) {
    auto res = controllers.merge_patch(object_path(kReplicaSets, key, "status"), json::Object{{"status", status}});
    ++writes;
    if (res.ok())
      remember(kReplicaSets, res.body);
  }
}

// ------------------------------------------------------------------ Deployment

void Simulation::Impl::reconcile_deployment(const std::string& key) {
  auto* d = cached(kDeployments, key);
  if (!d || deleting(*d))
    return;
  auto ns = ns_of(key);
  auto uid = d->at_path("metadata.uid")->as_string();
  auto name = d->at_path("metadata.name")->as_string();
  int64_t want = int_or(*d, "spec.replicas", 1);
  auto tmpl = d->at_path("spec.template") ? *d->at_path("spec.template") : json::Value(json::Object{});
  auto hash = safe_hash(tmpl, int_or(*d, "status.collisionCount", 0));

  // Owned ReplicaSets: the one for the current template, and the old ones (oldest first).
  std::vector<std::string> old_keys;
  std::string new_key;
  int64_t max_revision = 0;
  for (auto& [rkey, rs] : inf[kReplicaSets].cache) {
    if (ns_of(rkey) != ns || controller_uid(rs) != uid)
      continue;
    auto* lbl = rs.at_path("metadata.labels");
    std::string rhash;
    if (lbl && lbl->is_object())
      if (auto* v = lbl->get("pod-template-hash"); v && v->is_string())
        rhash = v->as_string();
    max_revision = std::max<int64_t>(
        max_revision, std::atoll(rs.at_path("metadata.annotations") && rs.at_path("metadata.annotations")->get("deployment.kubernetes.io/revision")
                                     ? rs.at_path("metadata.annotations")->get("deployment.kubernetes.io/revision")->as_string().c_str()
                                     : "0"));
    if (rhash == hash && !deleting(rs))
      new_key = rkey;
    else
      old_keys.push_back(rkey);
  }
  std::sort(old_keys.begin(), old_keys.end(), [&](const std::string& a, const std::string& b) {
    return cached(kReplicaSets, a)->at_path("metadata.creationTimestamp")->as_string() <
           cached(kReplicaSets, b)->at_path("metadata.creationTimestamp")->as_string();
  });
  auto spec_replicas = [&](const std::string& k) { return int_or(*cached(kReplicaSets, k), "spec.replicas", 0); };
  auto status_of = [&](const std::string& k, const char* f) {
    auto* rs = cached(kReplicaSets, k);
    return rs ? int_or(*rs, (std::string("status.") + f).c_str(), 0) : 0;
  };
  auto scale = [&](const std::string& k, int64_t to) {
    int64_t from = spec_replicas(k);
    if (from == to)
      return;
    auto res = controllers.merge_patch(object_path(kReplicaSets, k), json::Object{{"spec", json::Object{{"replicas", to}}}});
    ++writes;
    if (!res.ok()) {
      ++write_errors;
      return;
    }
    remember(kReplicaSets, res.body);
    record_event(controllers, "deployment-controller", *cached(kDeployments, key), "Normal", "ScalingReplicaSet",
                 std::string(to > from ? "Scaled up" : "Scaled down") + " replica set " + k.substr(k.find('/') + 1) +
                     " from " + std::to_string(from) + " to " + std::to_string(to));
  };

  std::string strategy = d->at_path("spec.strategy.type") && d->at_path("spec.strategy.type")->is_string()
                             ? d->at_path("spec.strategy.type")->as_string()
                             : "RollingUpdate";
  int64_t surge = scaled_value(d->at_path("spec.strategy.rollingUpdate.maxSurge"), want, true, (want * 25 + 99) / 100);
  int64_t unavailable = scaled_value(d->at_path("spec.strategy.rollingUpdate.maxUnavailable"), want, false, want * 25 / 100);
  if (surge == 0 && unavailable == 0)
    unavailable = 1;
  bool paused = d->at_path("spec.paused") && d->at_path("spec.paused")->is_bool() && d->at_path("spec.paused")->as_bool();

  if (!paused) {
    int64_t old_total = 0;
    for (auto& k : old_keys)
      old_total += spec_replicas(k);
    if (new_key.empty()) {
      int64_t initial = strategy == "Recreate" ? 0 : std::max<int64_t>(0, std::min(want, want + surge - old_total));
      if (old_total == 0)
        initial = want;
      json::Value rs = json::Object{{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}};
      auto labels = tmpl.at_path("metadata.labels") ? *tmpl.at_path("metadata.labels") : json::Value(json::Object{});
      labels["pod-template-hash"] = hash;
      auto sel = d->at_path("spec.selector") ? *d->at_path("spec.selector") : json::Value(json::Object{});
      sel["matchLabels"]["pod-template-hash"] = hash;
      auto rtmpl = tmpl;
      rtmpl["metadata"]["labels"] = labels;
      json::Object ann{{"deployment.kubernetes.io/revision", std::to_string(max_revision + 1)},
                       {"deployment.kubernetes.io/desired-replicas", std::to_string(want)},
                       {"deployment.kubernetes.io/max-replicas", std::to_string(want + surge)}};
      rs["metadata"] = json::Object{{"name", name + "-" + hash}, {"namespace", ns}, {"labels", labels},
                                    {"annotations", ann}, {"ownerReferences", json::Array{owner_ref(*d)}}};
      rs["spec"] = json::Object{{"replicas", initial}, {"selector", sel}, {"template", rtmpl},
                                {"minReadySeconds", int_or(*d, "spec.minReadySeconds", 0)}};
      auto res = controllers.create(collection_path(kReplicaSets, ns), rs);
      ++writes;
      if (!res.ok()) {
        ++write_errors;
        log.warn("replicaset not created").kv("deployment", key).kv("error", res.message());
        return;
      }
      remember(kReplicaSets, res.body);
      new_key = key_of(res.body);
      d = cached(kDeployments, key);
      record_event(controllers, "deployment-controller", *d, "Normal", "ScalingReplicaSet",
                   "Scaled up replica set " + name + "-" + hash + " from 0 to " + std::to_string(initial));
      // The Deployment carries the revision of its newest ReplicaSet.
      auto pr = controllers.merge_patch(object_path(kDeployments, key),
                                        json::Object{{"metadata", json::Object{{"annotations", json::Object{{"deployment.kubernetes.io/revision", std::to_string(max_revision + 1)}}}}}});
      ++writes;
      if (pr.ok())
        remember(kDeployments, pr.body);
    } else if (strategy == "Recreate") {
      bool old_pods = false;
      for (auto& k : old_keys) {
        scale(k, 0);
        old_pods = old_pods || status_of(k, "replicas") > 0;
      }
      if (!old_pods)
        scale(new_key, want);
    } else {
      // Rolling update: grow the new set within maxSurge, shrink old ones within maxUnavailable.
      int64_t total = old_total + spec_replicas(new_key);
      int64_t cur_new = spec_replicas(new_key);
      if (old_keys.empty() || old_total == 0) {
        scale(new_key, want);
      } else {
        int64_t up = std::min(want, cur_new + std::max<int64_t>(0, want + surge - total));
        if (up > cur_new)
          scale(new_key, up);
        int64_t available = status_of(new_key, "availableReplicas");
        for (auto& k : old_keys)
          available += status_of(k, "availableReplicas");
        int64_t new_unavailable = spec_replicas(new_key) - status_of(new_key, "availableReplicas");
        int64_t budget = available - (want - unavailable) - std::max<int64_t>(0, new_unavailable);
        // Unhealthy old replicas go first: removing them costs no availability.
        for (auto& k : old_keys) {
          int64_t r = spec_replicas(k);
          int64_t unhealthy = std::max<int64_t>(0, r - status_of(k, "availableReplicas"));
          int64_t total_now = 0;
          for (auto& kk : old_keys)
            total_now += spec_replicas(kk);
          total_now += spec_replicas(new_key);
          int64_t cleanup = std::min(unhealthy, std::max<int64_t>(0, total_now - (want - unavailable) - std::max<int64_t>(0, new_unavailable)));
          if (cleanup > 0)
            scale(k, r - cleanup);
        }
        for (auto& k : old_keys) {
          if (budget <= 0)
            break;
          int64_t r = spec_replicas(k);
          int64_t down = std::min(r, budget);
          if (down > 0) {
            scale(k, r - down);
            budget -= down;
          }
        }
      }
    }
    // Old, empty ReplicaSets beyond revisionHistoryLimit are removed.
    int64_t limit = int_or(*cached(kDeployments, key), "spec.revisionHistoryLimit", 10);
    std::vector<std::string> empty_old;
    for (auto& k : old_keys)
      if (cached(kReplicaSets, k) && spec_replicas(k) == 0 && status_of(k, "replicas") == 0)
        empty_old.push_back(k);
    for (size_t i = 0; static_cast<int64_t>(empty_old.size() - i) > limit; ++i) {
      auto res = controllers.remove(object_path(kReplicaSets, empty_old[i]));
      ++writes;
      if (res.ok())
        forget(kReplicaSets, empty_old[i]);
    }
  }

  // Status from the ReplicaSets.
  d = cached(kDeployments, key);
  if (!d)
    return;
  int64_t replicas = 0, ready = 0, available = 0, updated = 0;
  std::vector<std::string> all = old_keys;
  if (!new_key.empty())
    all.push_back(new_key);
  for (auto& k : all) {
    if (!cached(kReplicaSets, k))
      continue;
    replicas += status_of(k, "replicas");
    ready += status_of(k, "readyReplicas");
    available += status_of(k, "availableReplicas");
  }
  if (!new_key.empty())
    updated = status_of(new_key, "replicas");
  auto rs_name = new_key.empty() ? std::string() : new_key.substr(new_key.find('/') + 1);
  json::Array conds;
  if (auto* cs = d->at_path("status.conditions"); cs && cs->is_array())
    for (auto& c : cs->as_array())
      if (c.string_or("type") != "Available" && c.string_or("type") != "Progressing")
        conds.push_back(c);
  bool min_available = available >= want - unavailable;
  conds = with_condition(*d, conds, "Available", min_available ? "True" : "False",
                         min_available ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                         min_available ? "Deployment has minimum availability." : "Deployment does not have minimum availability.",
                         false).as_array();
  bool complete = updated == want && replicas == want && available == want;
  // Progress stalls when nothing moved for progressDeadlineSeconds.
  int64_t deadline = int_or(*d, "spec.progressDeadlineSeconds", 600);
  auto* prev_status = d->at_path("status");
  bool moved = !prev_status || int_or(*d, "status.updatedReplicas", -1) != updated ||
               int_or(*d, "status.availableReplicas", -1) != available || int_or(*d, "status.readyReplicas", -1) != ready ||
               int_or(*d, "status.observedGeneration", 0) != int_or(*d, "metadata.generation", 1);
  std::string last_progress;
  if (auto* cs = d->at_path("status.conditions"); cs && cs->is_array())
    for (auto& c : cs->as_array())
      if (c.string_or("type") == "Progressing")
        last_progress = c.string_or("lastUpdateTime");
  bool stalled = false;
  if (!complete && !moved && !last_progress.empty())
    if (auto t = parse_rfc3339(last_progress))
      stalled = std::chrono::system_clock::now() > *t + std::chrono::seconds(deadline);
  if (complete)
    conds = with_condition(*d, conds, "Progressing", "True", "NewReplicaSetAvailable",
                           "ReplicaSet \"" + rs_name + "\" has successfully progressed.", false).as_array();
  else if (stalled)
    conds = with_condition(*d, conds, "Progressing", "False", "ProgressDeadlineExceeded",
                           "ReplicaSet \"" + rs_name + "\" has timed out progressing.", false).as_array();
  else
    conds = with_condition(*d, conds, "Progressing", "True", "ReplicaSetUpdated",
                           "ReplicaSet \"" + rs_name + "\" is progressing.", moved).as_array();
  if (!complete)
    after(std::chrono::seconds(std::max<int64_t>(1, std::min<int64_t>(deadline, 5))), [this, key] { dirty[kDeployments].insert(key); });
  json::Object status{{"observedGeneration", int_or(*d, "metadata.generation", 1)},
                      {"replicas", replicas},
                      {"updatedReplicas", updated},
                      {"readyReplicas", ready},
                      {"availableReplicas", available},
                      {"unavailableReplicas", std::max<int64_t>(0, want - available)},
                      {"conditions", conds}};
  json::Value sv = status;
  // Conditions carry times: compare without them so an idle Deployment is not rewritten.
  auto strip_times = [](json::Value v) {
    if (auto* cs = v.get("conditions"); cs && cs->is_array())
      for (auto& c : cs->as_array()) {
        c.as_object().erase("lastUpdateTime");
        c.as_object().erase("lastTransitionTime");
      }
    return v;
  };
  json::Value cur = d->get("status") ? *d->get("status") : json::Value(json::Object{});
  if (!cur.is_object() || !(strip_times(cur) == strip_times(sv)) || status_differs(*d, sv)) {
    bool same_but_times = cur.is_object() && strip_times(cur) == strip_times(sv);
    if (!same_but_times) {
      auto res = controllers.merge_patch(object_path(kDeployments, key, "status"), json::Object{{"status", sv}});
      ++writes;
      if (res.ok())
        remember(kDeployments, res.body);
    }
  }
}

// ------------------------------------------------------------------ Job

void Simulation::Impl::reconcile_job(const std::string& key) {
  auto* job = cached(kJobs, key);
  if (!job || deleting(*job))
    return;
  auto ns = ns_of(key);
  auto uid = job->at_path("metadata.uid")->as_string();
  auto name = job->at_path("metadata.name")->as_string();
  bool finished = is_true_condition(*job, "Complete") || is_true_condition(*job, "Failed");
  if (finished)
    return;
  int64_t completions = int_or(*job, "spec.completions", 1);
  int64_t parallelism = int_or(*job, "spec.parallelism", 1);
  int64_t backoff_limit = int_or(*job, "spec.backoffLimit", 6);
  bool suspended = job->at_path("spec.suspend") && job->at_path("spec.suspend")->is_bool() && job->at_path("spec.suspend")->as_bool();
  bool on_failure = job->at_path("spec.template.spec.restartPolicy") &&
                    job->at_path("spec.template.spec.restartPolicy")->as_string() == "OnFailure";
  int64_t active = 0, ready = 0, succeeded = 0, failed = 0;
  std::vector<std::pair<std::string, std::string>> active_pods;
  for (auto* p : owned_pods(ns, uid)) {
    auto* ph = p->at_path("status.phase");
    std::string phase = ph && ph->is_string() ? ph->as_string() : "";
    if (phase == "Succeeded")
      ++succeeded;
    else if (phase == "Failed")
      ++failed;
    else if (!deleting(*p)) {
      ++active;
      ready += pod_ready(*p);
      active_pods.emplace_back(key_of(*p), p->at_path("metadata.uid")->as_string());
    }
    if (on_failure)
      if (auto* cs = p->at_path("status.containerStatuses"); cs && cs->is_array())
        for (auto& c : cs->as_array())
          failed += c.int_at("restartCount").value_or(0);
  }
  // Counts only grow, even when finished pods are removed by someone else.
  succeeded = std::max(succeeded, int_or(*job, "status.succeeded", 0));
  failed = std::max(failed, int_or(*job, "status.failed", 0));
  auto now = now_rfc3339();
  json::Array conds;
  std::string completion_time;
  if (succeeded >= completions) {
    conds.push_back(json::Object{{"type", "SuccessCriteriaMet"}, {"status", "True"}, {"reason", "CompletionsReached"},
                                 {"message", "Reached expected number of succeeded pods"}, {"lastProbeTime", now},
                                 {"lastTransitionTime", now}});
    conds.push_back(json::Object{{"type", "Complete"}, {"status", "True"}, {"reason", "CompletionsReached"},
                                 {"message", "Reached expected number of succeeded pods"}, {"lastProbeTime", now},
                                 {"lastTransitionTime", now}});
    completion_time = now;
  } else if (failed > backoff_limit) {
    conds.push_back(json::Object{{"type", "FailureTarget"}, {"status", "True"}, {"reason", "BackoffLimitExceeded"},
                                 {"message", "Job has reached the specified backoff limit"}, {"lastProbeTime", now},
                                 {"lastTransitionTime", now}});
    conds.push_back(json::Object{{"type", "Failed"}, {"status", "True"}, {"reason", "BackoffLimitExceeded"},
                                 {"message", "Job has reached the specified backoff limit"}, {"lastProbeTime", now},
                                 {"lastTransitionTime", now}});
    for (auto& [pkey, puid] : active_pods) {
      auto res = controllers.remove(object_path(kPods, pkey), -1, puid);
      ++writes;
    }
    active = 0;
    ready = 0;
    record_event(controllers, "job-controller", *job, "Warning", "BackoffLimitExceeded",
                 "Job has reached the specified backoff limit");
  } else if (!suspended) {
    int64_t want_active = std::min(parallelism, completions - succeeded);
    auto tmpl = job->at_path("spec.template") ? *job->at_path("spec.template") : json::Value(json::Object{});
    for (int64_t i = active; i < want_active; ++i) {
      auto pod = pod_from_template(tmpl, *job, ns);
      auto& labels = pod["metadata"]["labels"];
      labels["batch.kubernetes.io/controller-uid"] = uid;
      labels["batch.kubernetes.io/job-name"] = name;
      labels["controller-uid"] = uid;
      labels["job-name"] = name;
      auto res = create_named(pod, name + "-");
      if (!res.ok()) {
        ++write_errors;
        record_event(controllers, "job-controller", *cached(kJobs, key), "Warning", "FailedCreate",
                     "Error creating: " + res.message());
        break;
      }
      remember(kPods, res.body);
      ++active;
      record_event(controllers, "job-controller", *cached(kJobs, key), "Normal", "SuccessfulCreate",
                   "Created pod: " + res.body.at_path("metadata.name")->as_string());
    }
  }
  job = cached(kJobs, key);
  if (!job)
    return;
  json::Object status{{"active", active}, {"ready", ready}, {"succeeded", succeeded}, {"failed", failed},
                      {"terminating", 0}, {"uncountedTerminatedPods", json::Object{}}};
  status.set("startTime", job->at_path("status.startTime") ? *job->at_path("status.startTime") : json::Value(now));
  if (!conds.empty()) {
    status.set("conditions", conds);
    if (!completion_time.empty())
      status.set("completionTime", completion_time);
    record_event(controllers, "job-controller", *job, "Normal", completion_time.empty() ? "Failed" : "Completed",
                 completion_time.empty() ? "Job failed" : "Job completed");
  }
  if (status_differs(*job, status)) {
    auto res = controllers.merge_patch(object_path(kJobs, key, "status"), json::Object{{"status", status}});
    ++writes;
    if (res.ok())
      remember(kJobs, res.body);
    else
      ++write_errors, log.warn("job status not written").kv("job", key).kv("error", res.message());
  }
}

// ------------------------------------------------------------------ LeaderWorkerSet

void Simulation::Impl::reconcile_lws(const std::string& key) {
  auto* lws = cached(kLws, key);
  if (!lws || deleting(*lws))
    return;
  auto ns = ns_of(key);
  auto name = lws->at_path("metadata.name")->as_string();
  auto uid = lws->at_path("metadata.uid")->as_string();
  int64_t groups = int_or(*lws, "spec.replicas", 1);
  int64_t size = int_or(*lws, "spec.leaderWorkerTemplate.size", 1);
  auto* wt = lws->at_path("spec.leaderWorkerTemplate.workerTemplate");
  auto* lt = lws->at_path("spec.leaderWorkerTemplate.leaderTemplate");
  json::Value worker_tmpl = wt ? *wt : json::Value(json::Object{});
  json::Value leader_tmpl = lt ? *lt : worker_tmpl;
  auto revision = safe_hash(*lws->at_path("spec.leaderWorkerTemplate"));
  std::string startup = lws->at_path("spec.startupPolicy") && lws->at_path("spec.startupPolicy")->is_string()
                            ? lws->at_path("spec.startupPolicy")->as_string()
                            : "LeaderCreated";
  int64_t max_unavailable =
      scaled_value(lws->at_path("spec.rolloutStrategy.rollingUpdateConfiguration.maxUnavailable"), groups, false, 1);
  if (max_unavailable < 1)
    max_unavailable = 1;

  // The headless Service that gives leaders their stable address.
  auto svc_path = "/api/v1/namespaces/" + ns + "/services/" + name;
  if (!lws_services.count(key)) {
    json::Object svc{{"apiVersion", "v1"},
                     {"kind", "Service"},
                     {"metadata", json::Object{{"name", name}, {"namespace", ns},
                                               {"ownerReferences", json::Array{owner_ref(*lws)}}}},
                     {"spec", json::Object{{"clusterIP", "None"},
                                           {"publishNotReadyAddresses", true},
                                           {"selector", json::Object{{"leaderworkerset.sigs.k8s.io/name", name}}}}}};
    auto res = controllers.create("/api/v1/namespaces/" + ns + "/services", svc);
    ++writes;
    if (res.ok() || res.code == 409)
      lws_services.insert(key);
  }

  // Pods of this set by group.
  struct Group {
    const json::Value* leader = nullptr;
    std::vector<const json::Value*> workers;
  };
  std::map<int64_t, Group> by_group;
  for (auto& [pkey, pod] : inf[kPods].cache) {
    if (ns_of(pkey) != ns)
      continue;
    auto* labels = pod.at_path("metadata.labels");
    if (!labels || !labels->is_object())
      continue;
    auto* n = labels->get("leaderworkerset.sigs.k8s.io/name");
    if (!n || !n->is_string() || n->as_string() != name)
      continue;
    auto* gi = labels->get("leaderworkerset.sigs.k8s.io/group-index");
    auto* wi = labels->get("leaderworkerset.sigs.k8s.io/worker-index");
    if (!gi || !wi)
      continue;
    auto g = std::atoll(gi->as_string().c_str());
    if (wi->as_string() == "0") {
      if (controller_uid(pod) == uid)
        by_group[g].leader = &pod;
    } else {
      by_group[g].workers.push_back(&pod);
    }
  }

  auto make_pod = [&](const json::Value& tmpl, const json::Value& owner, int64_t g, int64_t w) {
    auto pod = pod_from_template(tmpl, owner, ns);
    auto pname = w == 0 ? name + "-" + std::to_string(g) : name + "-" + std::to_string(g) + "-" + std::to_string(w);
    auto& md = pod["metadata"];
    md["name"] = pname;
    auto& labels = md["labels"];
    labels["leaderworkerset.sigs.k8s.io/name"] = name;
    labels["leaderworkerset.sigs.k8s.io/group-index"] = std::to_string(g);
    labels["leaderworkerset.sigs.k8s.io/worker-index"] = std::to_string(w);
    labels["leaderworkerset.sigs.k8s.io/template-revision-hash"] = revision;
    // The group key is the same for every pod of a group (a SHA-1 in the real controller).
    char gk[41];
    std::snprintf(gk, sizeof gk, "%08x%08x%08x%08x%08x", fnv32(ns + "/" + name + "-" + std::to_string(g)),
                  fnv32("a" + name + std::to_string(g)), fnv32("b" + ns), fnv32("c" + std::to_string(g)), fnv32(uid));
    labels["leaderworkerset.sigs.k8s.io/group-key"] = std::string(gk);
    if (w == 0)
      md["annotations"]["leaderworkerset.sigs.k8s.io/size"] = std::to_string(size);
    else
      md["annotations"]["leaderworkerset.sigs.k8s.io/leader-name"] = name + "-" + std::to_string(g);
    auto& spec = pod["spec"];
    spec["hostname"] = pname;
    spec["subdomain"] = name;
    std::string leader_addr = name + "-" + std::to_string(g) + "." + name + "." + ns;
    for (const char* list : {"containers", "initContainers"}) {
      auto* cs = spec.get(list);
      if (!cs || !cs->is_array())
        continue;
      for (auto& c : cs->as_array()) {
        auto& env = c["env"];
        if (!env.is_array())
          env = json::Array{};
        json::Array fresh{json::Object{{"name", "LWS_LEADER_ADDRESS"}, {"value", leader_addr}},
                          json::Object{{"name", "LWS_GROUP_SIZE"}, {"value", std::to_string(size)}},
                          json::Object{{"name", "LWS_WORKER_INDEX"}, {"value", std::to_string(w)}}};
        // LWS's variables come first so the user's can refer to them with $(VAR).
        for (auto& e : env.as_array())
          if (!str::starts_with(e.string_or("name"), "LWS_"))
            fresh.push_back(e);
        env = std::move(fresh);
      }
    }
    return pod;
  };

  int64_t groups_ready = 0, groups_updated = 0, groups_present = 0;
  int64_t unavailable_groups = 0;
  std::vector<int64_t> outdated;
  for (int64_t g = 0; g < groups; ++g) {
    auto& grp = by_group[g];
    bool group_ready = grp.leader && pod_ready(*grp.leader) && static_cast<int64_t>(grp.workers.size()) == size - 1;
    for (auto* w : grp.workers)
      group_ready = group_ready && pod_ready(*w);
    if (grp.leader)
      ++groups_present;
    if (group_ready)
      ++groups_ready;
    else
      ++unavailable_groups;
    if (grp.leader) {
      auto* h = grp.leader->at_path("metadata.labels")->get("leaderworkerset.sigs.k8s.io/template-revision-hash");
      if (h && h->is_string() && h->as_string() == revision)
        ++groups_updated;
      else
        outdated.push_back(g);
    }
  }
  for (int64_t g = 0; g < groups; ++g) {
    auto& grp = by_group[g];
    if (!grp.leader) {
      // No leader (never made, or the group is being recreated): wait until its old pods are gone.
      bool old_left = false;
      for (auto& [pkey, pod] : inf[kPods].cache)
        if (ns_of(pkey) == ns && pkey.substr(ns.size() + 1) == name + "-" + std::to_string(g))
          old_left = true;
      if (old_left)
        continue;
      auto res = controllers.create(collection_path(kPods, ns), make_pod(leader_tmpl, *lws, g, 0));
      ++writes;
      if (!res.ok()) {
        ++write_errors;
        log.warn("leader pod not created").kv("lws", key).kv("error", res.message());
        continue;
      }
      remember(kPods, res.body);
      lws = cached(kLws, key);
      continue;
    }
    // Workers belong to their leader pod, so a leader's deletion takes its group with it.
    bool leader_ok = startup != "LeaderReady" || pod_ready(*grp.leader);
    if (deleting(*grp.leader) || !leader_ok)
      continue;
    std::set<int64_t> have;
    for (auto* w : grp.workers)
      have.insert(std::atoll(w->at_path("metadata.labels")->get("leaderworkerset.sigs.k8s.io/worker-index")->as_string().c_str()));
    json::Value leader = *grp.leader;
    for (int64_t w = 1; w < size; ++w) {
      if (have.count(w))
        continue;
      auto res = controllers.create(collection_path(kPods, ns), make_pod(worker_tmpl, leader, g, w));
      ++writes;
      if (res.ok())
        remember(kPods, res.body);
      else if (res.code != 409)
        ++write_errors, log.warn("worker pod not created").kv("lws", key).kv("error", res.message());
    }
    // A failed or deleted member restarts the whole group (RecreateGroupOnPodRestart).
    bool broken = false;
    for (auto* w : by_group[g].workers)
      broken = broken || deleting(*w) || pod_terminal(*w);
    auto* rp = lws->at_path("spec.leaderWorkerTemplate.restartPolicy");
    bool recreate = !rp || !rp->is_string() || rp->as_string() != "None";
    if (broken && recreate) {
      auto res = controllers.remove(object_path(kPods, key_of(leader)), -1, leader.at_path("metadata.uid")->as_string());
      ++writes;
      if (res.ok() && res.body.string_or("kind") == "Pod")
        remember(kPods, res.body);
    }
  }
  // Scale down: groups past the replica count go, highest first.
  for (auto& [g, grp] : by_group)
    if (g >= groups && grp.leader && !deleting(*grp.leader)) {
      auto res = controllers.remove(object_path(kPods, key_of(*grp.leader)), -1,
                                    grp.leader->at_path("metadata.uid")->as_string());
      ++writes;
      if (res.ok() && res.body.string_or("kind") == "Pod")
        remember(kPods, res.body);
    }
  // Rolling update: recreate outdated groups, the highest index first, within maxUnavailable.
  lws = cached(kLws, key);
  if (!lws)
    return;
  std::sort(outdated.rbegin(), outdated.rend());
  int64_t budget = max_unavailable - unavailable_groups;
  for (auto g : outdated) {
    if (budget <= 0)
      break;
    auto* leader = by_group[g].leader;
    if (!leader || deleting(*leader))
      continue;
    auto res = controllers.remove(object_path(kPods, key_of(*leader)), -1, leader->at_path("metadata.uid")->as_string());
    ++writes;
    --budget;
    if (res.ok() && res.body.string_or("kind") == "Pod")
      remember(kPods, res.body);
  }
  lws = cached(kLws, key);
  if (!lws)
    return;
  bool all_ready = groups_ready == groups;
  bool updating = groups_updated < groups;
  json::Array conds;
  auto now = now_rfc3339();
  auto cond = [&](const char* type, bool status, const char* reason, const char* message) {
    std::string st = status ? "True" : "False";
    std::string since = now;
    if (auto* cs = lws->at_path("status.conditions"); cs && cs->is_array())
      for (auto& c : cs->as_array())
        if (c.string_or("type") == type && c.string_or("status") == st)
          since = c.string_or("lastTransitionTime", now);
    conds.push_back(json::Object{{"type", type}, {"status", st}, {"reason", reason}, {"message", message},
                                 {"lastTransitionTime", since}});
  };
  cond("Available", all_ready, all_ready ? "AllGroupsReady" : "GroupsNotReady",
       all_ready ? "All replicas are ready" : "Not all replicas are ready");
  cond("Progressing", !all_ready, all_ready ? "Ready" : "GroupsProgressing",
       all_ready ? "All replicas are ready" : "Replicas are progressing");
  cond("UpdateInProgress", updating, updating ? "GroupsUpdating" : "UpdatesDone",
       updating ? "Rolling Upgrade is in progress" : "Rolling Upgrade is done");
  json::Object status{{"observedGeneration", int_or(*lws, "metadata.generation", 1)},
                      {"replicas", groups_present},
                      {"readyReplicas", groups_ready},
                      {"updatedReplicas", groups_updated},
                      {"hpaPodSelector", "leaderworkerset.sigs.k8s.io/name=" + name + ",leaderworkerset.sigs.k8s.io/worker-index=0"},
                      {"conditions", conds}};
  json::Value sv = status;
  json::Value cur = lws->get("status") ? *lws->get("status") : json::Value();
  auto strip = [](json::Value v) {
    if (v.is_object())
      if (auto* cs = v.get("conditions"); cs && cs->is_array())
        for (auto& c : cs->as_array())
          c.as_object().erase("lastTransitionTime");
    return v;
  };
  if (!cur.is_object() || !(strip(cur) == strip(sv))) {
    auto res = controllers.merge_patch(object_path(kLws, key, "status"), json::Object{{"status", sv}});
    ++writes;
    if (res.ok())
      remember(kLws, res.body);
    else
      ++write_errors, log.warn("leaderworkerset status not written").kv("lws", key).kv("error", res.message());
  }
}

// ------------------------------------------------------------------ HorizontalPodAutoscaler

void Simulation::Impl::reconcile_hpas() {
  std::vector<std::string> keys;
  for (auto& [k, v] : inf[kHpas].cache)
    keys.push_back(k);
  for (auto& key : keys) {
    auto* hpa = cached(kHpas, key);
    if (!hpa || deleting(*hpa))
      continue;
    auto ns = ns_of(key);
    auto kind = hpa->at_path("spec.scaleTargetRef.kind") ? hpa->at_path("spec.scaleTargetRef.kind")->as_string() : "";
    auto tname = hpa->at_path("spec.scaleTargetRef.name") ? hpa->at_path("spec.scaleTargetRef.name")->as_string() : "";
    Kind tk = kind == "Deployment" ? kDeployments : kind == "LeaderWorkerSet" ? kLws : kKindCount;
    const json::Value* target = tk == kKindCount ? nullptr : cached(tk, ns + "/" + tname);
    int64_t lo = int_or(*hpa, "spec.minReplicas", 1), hi = int_or(*hpa, "spec.maxReplicas", 1);
    json::Array conds;
    auto now = now_rfc3339();
    auto cond = [&](const char* type, const char* status, const char* reason, const std::string& message) {
      std::string since = now;
      if (auto* cs = hpa->at_path("status.conditions"); cs && cs->is_array())
        for (auto& c : cs->as_array())
          if (c.string_or("type") == type && c.string_or("status") == status)
            since = c.string_or("lastTransitionTime", now);
      conds.push_back(json::Object{{"type", type}, {"status", status}, {"reason", reason}, {"message", message},
                                   {"lastTransitionTime", since}});
    };
    json::Object status;
    if (!target) {
      cond("AbleToScale", "False", "FailedGetScale",
           "the HPA controller was unable to get the target's current scale: " + str::lower(kind) + " \"" + tname +
               "\" not found");
      status.set("currentReplicas", 0);
      status.set("desiredReplicas", 0);
    } else {
      int64_t spec_replicas = int_or(*target, "spec.replicas", 1);
      int64_t current = int_or(*target, "status.replicas", 0);
      int64_t desired = std::clamp(spec_replicas, lo, std::max(lo, hi));
      if (desired != spec_replicas) {
        auto res = controllers.merge_patch(object_path(tk, ns + "/" + tname),
                                           json::Object{{"spec", json::Object{{"replicas", desired}}}});
        ++writes;
        if (res.ok()) {
          remember(tk, res.body);
          status.set("lastScaleTime", now);
          record_event(controllers, "horizontal-pod-autoscaler", *cached(kHpas, key), "Normal", "SuccessfulRescale",
                       "New size: " + std::to_string(desired) + "; reason: Current number of replicas " +
                           (desired < spec_replicas ? "above Spec.MaxReplicas" : "below Spec.MinReplicas"));
        }
        hpa = cached(kHpas, key);
      } else if (auto* t = hpa->at_path("status.lastScaleTime")) {
        status.set("lastScaleTime", *t);
      }
      cond("AbleToScale", "True", "SucceededGetScale", "the HPA controller was able to get the target's current scale");
      cond("ScalingActive", "False", "FailedGetResourceMetric",
           "the HPA was unable to compute the replica count: the simulated cluster serves no metrics API");
      cond("ScalingLimited", desired != spec_replicas ? "True" : "False",
           desired != spec_replicas ? (desired > spec_replicas ? "TooFewReplicas" : "TooManyReplicas") : "DesiredWithinRange",
           desired != spec_replicas ? "the desired replica count is outside the allowed range"
                                    : "the desired count is within the acceptable range");
      status.set("currentReplicas", current);
      status.set("desiredReplicas", desired);
    }
    status.set("conditions", conds);
    json::Value sv = status;
    auto strip = [](json::Value v) {
      if (v.is_object())
        if (auto* cs = v.get("conditions"); cs && cs->is_array())
          for (auto& c : cs->as_array())
            c.as_object().erase("lastTransitionTime");
      return v;
    };
    json::Value cur = hpa->get("status") ? *hpa->get("status") : json::Value();
    if (!cur.is_object() || !(strip(cur) == strip(sv))) {
      auto res = controllers.merge_patch(object_path(kHpas, key, "status"), json::Object{{"status", sv}});
      ++writes;
      if (res.ok())
        remember(kHpas, res.body);
    }
  }
}

// ------------------------------------------------------------------ the LWS API

// LeaderWorkerSets are a CRD. When none is installed (standalone without the real one), serve a
// minimal structural definition of our own so rendered multi-node workloads have somewhere to go.
void Simulation::Impl::install_lws_crd() {
  const std::string crd_name = "leaderworkersets.leaderworkerset.x-k8s.io";
  auto got = controllers.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" + crd_name);
  if (got.ok())
    return;
  json::Value open = json::Object{{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
  json::Object schema{{"type", "object"},
                      {"properties", json::Object{{"apiVersion", json::Object{{"type", "string"}}},
                                                  {"kind", json::Object{{"type", "string"}}},
                                                  {"metadata", json::Object{{"type", "object"}}},
                                                  {"spec", open},
                                                  {"status", open}}}};
  json::Object version{
      {"name", "v1"},
      {"served", true},
      {"storage", true},
      {"schema", json::Object{{"openAPIV3Schema", schema}}},
      {"subresources", json::Object{{"status", json::Object{}},
                                    {"scale", json::Object{{"specReplicasPath", ".spec.replicas"},
                                                           {"statusReplicasPath", ".status.replicas"},
                                                           {"labelSelectorPath", ".status.hpaPodSelector"}}}}}};
  json::Object crd{{"apiVersion", "apiextensions.k8s.io/v1"},
                   {"kind", "CustomResourceDefinition"},
                   {"metadata", json::Object{{"name", crd_name},
                                             {"annotations", json::Object{{"omed.io/simulated", "true"}}}}},
                   {"spec", json::Object{{"group", "leaderworkerset.x-k8s.io"},
                                         {"scope", "Namespaced"},
                                         {"names", json::Object{{"plural", "leaderworkersets"},
                                                                {"singular", "leaderworkerset"},
                                                                {"kind", "LeaderWorkerSet"},
                                                                {"listKind", "LeaderWorkerSetList"},
                                                                {"shortNames", json::Array{"lws"}}}},
                                         {"versions", json::Array{version}}}}};
  auto res = controllers.create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd);
  ++writes;
  if (res.ok())
    log.info("served a minimal LeaderWorkerSet CRD (the real one was not installed)");
  else if (res.code != 409)
    log.warn("could not install the LeaderWorkerSet CRD").kv("error", res.message());
}

}  // namespace omed::apiserver::sim
