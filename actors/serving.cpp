// Serving wiring: the runtime catalog, accelerator classes, nodes and fine-tuned weights as
// indexes the InferenceService reconciler reads, and the wake-ups that keep it level-triggered.
#include "omed/actors/serving.hpp"

#include <mutex>

#include <atomic>
#include <chrono>
#include <ctime>

#include "omed/api/codec.hpp"
#include "omed/api/validation.hpp"
#include "omed/controller/admission.hpp"
#include "omed/controller/benchmark_plan.hpp"
#include "omed/controller/inference_service_plan.hpp"
#include "omed/controller/model_reports.hpp"
#include "omed/controller/object_index.hpp"
#include "omed/render/predictor_migration.hpp"
#include "omed/actors/messages.hpp"
#include "omed/k8s/discovery.hpp"
#include "omed/k8s/rest_client.hpp"
#include "omed/log/logger.hpp"
#include "omed/selection/accelerator_selector.hpp"
#include "omed/selection/runtime_catalog.hpp"

namespace omed::actors {

namespace {

constexpr const char* kIsvc = "InferenceService";

std::string text(const json::Value& v, const char* path) {
  auto* x = v.at_path(path);
  return x && x->is_string() ? x->as_string() : std::string();
}

std::string now_rfc3339() {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

struct Shared {
  ServingWiring w;
  selection::RuntimeCatalog catalog;
  controller::ObjectIndex classes;  // "AcceleratorClass/name"
  controller::ObjectIndex fine_tuned;  // "FineTunedWeight/name"
  controller::ObjectIndex nodes;    // node name
  controller::ObjectIndex isvcs;    // "InferenceService/ns/name", as last seen (BenchmarkJobs read them)
  log::Logger log{"serving"};
  std::mutex scorer_mu;
  scorer_actor scorer;  // the current incarnation (replaced when it restarts)
  std::chrono::steady_clock::time_point born = std::chrono::steady_clock::now();
  std::atomic<bool> sync_wait_over{false};

  // Waits for every watch to list, but not forever: one watch that cannot list (RBAC, a CRD gone)
  // must not stop serving; /readyz names it meanwhile.
  bool wait_for_caches() {
    if (sync_wait_over || !w.caches_synced || w.caches_synced()) {
      sync_wait_over = true;
      return false;
    }
    if (std::chrono::steady_clock::now() - born > std::chrono::seconds(30)) {
      if (!sync_wait_over.exchange(true))
        log.warn("not every watch has listed after 30 s; reconciling InferenceServices anyway (see /readyz)");
      return false;
    }
    return true;
  }

  void requeue_isvcs(const std::vector<std::string>& keys) {
    if (!*w.controller)
      return;
    for (auto& k : keys)
      (*w.controller)->requeue(kIsvc, k);
  }
  void wake_object(const std::string& object_key) {
    if (!*w.controller)
      return;
    for (auto& [kind, key] : w.reports->subscribers({"object:" + object_key}))
      (*w.controller)->requeue(kind, key);
  }
};

struct ScorerState {
  std::shared_ptr<Shared> shared;
  static inline const char* name = "omed.scorer";
  // The handle in Shared must not keep a stopped scorer's memory (or the system's shutdown) waiting.
  ~ScorerState() {
    if (!shared)
      return;
    std::lock_guard<std::mutex> lk(shared->scorer_mu);
    shared->scorer = nullptr;
  }
};

// The scorer: the one writer of the runtime catalog, and who tells InferenceServices to re-rank.
scorer_actor::behavior_type scorer_fn(scorer_actor::stateful_pointer<ScorerState> self, std::shared_ptr<Shared> s) {
  self->state.shared = s;
  {
    std::lock_guard<std::mutex> lk(s->scorer_mu);
    s->scorer = self;
  }
  return {
    [s](event_atom, ObjectEvent& ev) {
      if (!ev.object)
        return;
      const json::Value& rt = *ev.object;
      auto change = ev.type == "DELETED"
                      ? s->catalog.remove(rt.string_or("kind"), text(rt, "metadata.namespace"), text(rt, "metadata.name"))
                      : s->catalog.put(rt);
      if (!change.affected.empty())
        s->log.with_object(rt.string_or("kind") + "/" + text(rt, "metadata.name"))
          .info("runtime catalog changed; re-ranking")
          .kv("inferenceServices", change.affected.size());
      s->requeue_isvcs(change.affected);
    },
  };
}

void tell_scorer(Shared& s, std::string type, const json::Value& runtime) {
  scorer_actor h;
  {
    std::lock_guard<std::mutex> lk(s.scorer_mu);
    h = s.scorer;
  }
  ObjectEvent ev{std::move(type), std::make_shared<const json::Value>(runtime)};
  if (h) {
    caf::anon_send(h, event_atom_v, std::move(ev));
    return;
  }
  // Before the scorer runs (it starts ahead of the kinds, so only in a restart's gap): index here.
  auto change = ev.type == "DELETED" ? s.catalog.remove(runtime.string_or("kind"), text(runtime, "metadata.namespace"),
                                                         text(runtime, "metadata.name"))
                                      : s.catalog.put(runtime);
  s.requeue_isvcs(change.affected);
}

// OME's webhook refuses a runtime whose auto-selected format has the same priority as another
// runtime's; reconcile cannot refuse a stored object, and excluding both would serve neither. It
// keeps serving (ties go to the name) and says so.
void warn_priority_conflicts(Shared& s, const json::Value& rt, controller::Plan& p) {
  std::string kind = rt.string_or("kind");
  std::string ns = text(rt, "metadata.namespace");
  api::ValidationContext vctx;
  vctx.runtimes_in_scope = [&s, &kind, &ns](const std::string&, const std::string&) {
    std::vector<api::ServingRuntime> out;
    for (auto& e : s.catalog.snapshot())
      if (e->kind == kind && e->ns == ns && e->object) {
        api::ErrorList ignored;
        out.push_back(api::decode<api::ServingRuntime>(*e->object, ignored));
      }
    return out;
  };
  auto vr = api::validate_object(rt, &vctx);
  if (vr.ok())
    return;
  std::string msg;
  for (auto& e : vr.errors)
    msg += (msg.empty() ? "" : "; ") + e.to_string();
  p.events.push_back({"Warning", "PriorityConflict", "Validate",
                      msg + " (both stay selectable; equal scores go to the first name)"});
}

json::Value explain_selection(Shared& s, const std::string& ns, const std::string& name) {
  auto fail = [](int status, const std::string& msg) {
    return json::Value(json::Object{{"status", status}, {"error", msg}});
  };
  auto stored = s.isvcs.get("InferenceService/" + ns + "/" + name);
  if (!stored)
    return fail(404, "no InferenceService " + ns + "/" + name + " is known to this controller");
  json::Value isvc = render::migrate_predictor(*stored);
  std::string model_name = text(isvc, "spec.model.name");
  auto model = s.w.models->get("BaseModel/" + ns + "/" + model_name);
  if (!model)
    model = s.w.models->get("ClusterBaseModel/" + model_name);
  if (!model)
    return fail(404, "the model " + model_name + " of " + ns + "/" + name + " is neither a BaseModel in " + ns +
                       " nor a ClusterBaseModel");
  auto facts = selection::ModelFacts::from_object(*model);
  auto req = selection::Requirements::from_isvc(isvc);
  std::string named = text(isvc, "spec.runtime.name");
  // Every visible runtime, not the catalog's format index: an explanation names them all.
  auto entries = s.catalog.snapshot();
  std::vector<const selection::RuntimeEntry*> namespaced, cluster;
  for (auto& e : entries) {
    if (e->cluster())
      cluster.push_back(e.get());
    else if (e->ns == ns)
      namespaced.push_back(e.get());
  }
  selection::Selection sel;
  if (named.empty()) {
    sel = selection::select_runtime(facts, req, namespaced, cluster);
  } else {
    auto e = s.catalog.find(ns, named);
    sel = selection::validate_runtime(facts, req, e.get(), named, ns);
    if (e)
      sel.keep.push_back(e);
  }
  json::Array candidates;
  for (auto& c : sel.candidates)
    candidates.push_back(json::Object{{"kind", c.kind},
                                      {"namespace", c.ns},
                                      {"name", c.name},
                                      {"verdict", selection::to_string(c.verdict)},
                                      {"score", c.score},
                                      {"sizeDistance", c.size_distance},
                                      {"reason", c.reason}});
  json::Object m{{"key", model->string_or("kind") + "/" + (text(*model, "metadata.namespace").empty()
                                                             ? std::string()
                                                             : text(*model, "metadata.namespace") + "/") +
                           model_name},
                 {"format", facts.format},
                 {"formatVersion", facts.format_version},
                 {"framework", facts.framework},
                 {"frameworkVersion", facts.framework_version},
                 {"architecture", facts.architecture},
                 {"quantization", facts.quantization},
                 {"size", facts.size_text}};
  json::Array classes;
  for (auto& c : req.accelerator_classes)
    classes.push_back(c);
  json::Object out{{"inferenceService", ns + "/" + name},
                   {"mode", named.empty() ? "auto-select" : "named"},
                   {"model", std::move(m)},
                   {"acceleratorClasses", std::move(classes)},
                   {"summary", sel.summary(4096)},
                   {"candidates", std::move(candidates)}};
  if (sel.chosen)
    out.set("chosen", json::Object{{"kind", sel.chosen->kind}, {"namespace", sel.chosen->ns}, {"name", sel.chosen->name}});
  if (!sel.error.empty())
    out.set("error", sel.error);
  return out;
}

// Only a spec change of a class can change a choice; status churn (node counts) cannot.
bool spec_changed(const std::shared_ptr<const json::Value>& before, const json::Value& after) {
  if (!before)
    return true;
  auto* a = before->get("spec");
  auto* b = after.get("spec");
  return !a || !b ? a != b : !(*a == *b);
}

controller::Plan accelerator_class_plan(Shared& s, const controller::Input& in) {
  auto p = controller::admission_plan(in);
  if (!controller::accepted(p))
    return p;
  json::Object st = selection::accelerator_class_status(in.object, s.nodes.all());
  // lastUpdated moves only when what the status says moves: a node heartbeat is not news.
  bool same = true;
  for (auto& m : st) {
    auto* cur = in.object.at_path(("status." + m.key).c_str());
    if (!cur || !(*cur == m.value))
      same = false;
  }
  auto* last = in.object.at_path("status.lastUpdated");
  st.set("lastUpdated", same && last && last->is_string() ? last->as_string() : now_rfc3339());
  int64_t nodes = st.find("availableNodes") && st.find("availableNodes")->is_int() ? st.find("availableNodes")->as_int() : 0;
  int64_t gpus = st.find("availableAccelerators") && st.find("availableAccelerators")->is_int()
                   ? st.find("availableAccelerators")->as_int()
                   : 0;
  for (auto& m : st)
    p.status.set(m.key, m.value);
  if (nodes > 0)
    p.conditions.push_back({"Available", "True", "NodesMatched",
                            std::to_string(nodes) + " ready node(s) with " + std::to_string(gpus) + " accelerator(s)"});
  else
    p.conditions.push_back({"Available", "False", "NoMatchingNodes", "no ready node matches this class"});
  return p;
}

}  // namespace

ServingHooks serving_hooks(ServingWiring wiring) {
  auto s = std::make_shared<Shared>();
  s->w = std::move(wiring);
  ServingHooks h;

  h.make_reconciler = [s](const std::string& kind, const std::string& key,
                          std::function<Reconciler()> fallback) -> Reconciler {
    if (kind == "ServingRuntime" || kind == "ClusterServingRuntime")
      return [s](const controller::Input& in) {
        auto p = controller::admission_plan(in);
        if (controller::accepted(p)) {
          tell_scorer(*s, "MODIFIED", in.object);
          warn_priority_conflicts(*s, in.object, p);
        }
        return p;
      };
    if (kind == "AcceleratorClass")
      return [s](const controller::Input& in) {
        std::string name = text(in.object, "metadata.name");
        auto before = s->classes.get("AcceleratorClass/" + name);
        s->classes.put("AcceleratorClass/" + name, in.object);
        if (spec_changed(before, in.object) && *s->w.controller)
          (*s->w.controller)->resync(kIsvc);
        return accelerator_class_plan(*s, in);
      };
    if (kind == "BenchmarkJob")
      return [s, key](const controller::Input& in) {
        std::string ins = text(in.object, "spec.endpoint.inferenceService.namespace");
        if (ins.empty())
          ins = text(in.object, "metadata.namespace");
        std::string iname = text(in.object, "spec.endpoint.inferenceService.name");
        s->w.reports->unsubscribe("BenchmarkJob", key);
        if (!iname.empty())
          s->w.reports->subscribe("object:InferenceService/" + ins + "/" + iname, "BenchmarkJob", key);
        controller::BenchmarkLookups l;
        l.inference_service = [s](const std::string& n, const std::string& name) {
          return s->isvcs.get("InferenceService/" + n + "/" + name);
        };
        l.model = [s](const std::string& k) { return s->w.models->get(k); };
        return controller::benchmark_plan(in, l);
      };
    if (kind == kIsvc)
      return [s, key](const controller::Input& in) {
        if (s->wait_for_caches()) {
          controller::Plan wait;
          wait.wants_finalizer = false;
          wait.write_status = false;
          wait.requeue_after = std::chrono::milliseconds(500);
          return wait;
        }
        std::string ns = text(in.object, "metadata.namespace");
        std::string self_key = "InferenceService/" + ns + "/" + text(in.object, "metadata.name");
        if (s->isvcs.put(self_key, in.object))
          s->wake_object(self_key);
        std::string model = text(in.object, "spec.model.name");
        // Woken when either model it may resolve to, or an adapter it names, appears or changes.
        s->w.reports->unsubscribe(kIsvc, key);
        s->w.reports->subscribe("object:BaseModel/" + ns + "/" + model, kIsvc, key);
        s->w.reports->subscribe("object:ClusterBaseModel/" + model, kIsvc, key);
        if (auto* f = in.object.at_path("spec.model.fineTunedWeights"); f && f->is_array())
          for (auto& n : f->as_array())
            if (n.is_string())
              s->w.reports->subscribe("object:FineTunedWeight/" + n.as_string(), kIsvc, key);
        controller::ServingLookups l;
        l.model = [s](const std::string& mns, const std::string& name) {
          return s->w.models->get(mns.empty() ? "ClusterBaseModel/" + name : "BaseModel/" + mns + "/" + name);
        };
        // Subscribed before the catalog is read: a runtime indexed after the read wakes us, one
        // indexed before it is seen by it; no change falls in between.
        l.select_runtime = [s, key](const selection::ModelFacts& m, const selection::Requirements& r,
                                    const std::string& n) {
          s->catalog.subscribe(key, m.format, "");
          return s->catalog.select(m, r, n);
        };
        l.named_runtime = [s, key](const selection::ModelFacts& m, const selection::Requirements& r,
                                   const std::string& n, const std::string& name) {
          s->catalog.subscribe(key, m.format, "");
          return s->catalog.validate(m, r, n, name);
        };
        l.accelerator = [s](const json::Value& isvc, const std::string& component, const selection::RuntimeEntry& rt) {
          auto c = selection::choose_accelerator(isvc, component, rt, [s](const std::string& name) {
            return s->classes.get("AcceleratorClass/" + name);
          });
          return controller::ServingLookups::AcceleratorPick{c.object, c.reason, c.error};
        };
        l.fine_tuned = [s](const std::string& name) { return s->fine_tuned.get("FineTunedWeight/" + name); };
        l.settings = s->w.settings;
        controller::ServingResolution res;
        auto p = controller::inference_service_plan(in, l, &res);
        s->catalog.subscribe(key, res.model_format, res.runtime);
        return p;
      };
    if (kind == "FineTunedWeight") {
      auto inner = fallback();
      return [s, inner](const controller::Input& in) {
        std::string k = "FineTunedWeight/" + text(in.object, "metadata.name");
        if (s->fine_tuned.put(k, in.object))
          s->wake_object(k);
        return inner(in);
      };
    }
    return fallback();
  };

  h.on_deleted = [s](const std::string& kind, const std::string& key, const json::Value& last) {
    if (kind == "ServingRuntime" || kind == "ClusterServingRuntime") {
      json::Value gone = last;
      gone["kind"] = kind;
      tell_scorer(*s, "DELETED", gone);
    } else if (kind == "AcceleratorClass") {
      if (s->classes.remove("AcceleratorClass/" + text(last, "metadata.name")) && *s->w.controller)
        (*s->w.controller)->resync(kIsvc);
    } else if (kind == "FineTunedWeight") {
      std::string k = "FineTunedWeight/" + text(last, "metadata.name");
      if (s->fine_tuned.remove(k))
        s->wake_object(k);
    } else if (kind == kIsvc) {
      s->catalog.unsubscribe(key);
      std::string k = "InferenceService/" + text(last, "metadata.namespace") + "/" + text(last, "metadata.name");
      if (s->isvcs.remove(k))
        s->wake_object(k);
    }
  };
  h.scorer = ChildSpec{"scorer", [s](caf::local_actor* parent) {
                         return caf::actor_cast<caf::actor>(parent->spawn(scorer_fn, s));
                       }};
  h.explain = [s](const std::string& ns, const std::string& name) { return explain_selection(*s, ns, name); };
  h.on_node = [s](const json::Value& node) {
    if (s->nodes.put(text(node, "metadata.name"), node) && *s->w.controller)
      (*s->w.controller)->resync("AcceleratorClass");
  };
  h.on_node_deleted = [s](const std::string& key) {
    if (s->nodes.remove(key) && *s->w.controller)
      (*s->w.controller)->resync("AcceleratorClass");
  };
  return h;
}

void add_serving_owned(ControllerOptions& co, render::RenderSettings& settings) {
  for (auto [api_version, kind] : std::vector<std::pair<const char*, const char*>>{
         {"v1", "ServiceAccount"}, {"rbac.authorization.k8s.io/v1", "Role"},
         {"rbac.authorization.k8s.io/v1", "RoleBinding"}})
    if (auto* ri = k8s::find_well_known(api_version, kind))
      co.owned.push_back(*ri);
  log::Logger lg("serving");
  try {
    k8s::RestClient rest(co.rest, co.client);
    k8s::Discovery discovery(rest);
    struct Optional {
      const char* api_version;
      const char* kind;
      bool* flag;
    };
    bool gateway = false, pool = false;
    for (auto o : {Optional{"leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet", &settings.lws},
                   Optional{"keda.sh/v1alpha1", "ScaledObject", &settings.keda},
                   Optional{"serving.knative.dev/v1", "Service", &settings.knative},
                   Optional{"gateway.networking.k8s.io/v1", "HTTPRoute", &gateway},
                   Optional{"inference.networking.k8s.io/v1", "InferencePool", &pool}}) {
      auto ri = discovery.resolve(o.api_version, o.kind);
      *o.flag = ri.has_value();
      if (ri)
        co.owned.push_back(*ri);
      lg.info(ri ? "serving can render this kind" : "this cluster does not serve this kind; not rendered")
        .kv("apiVersion", o.api_version)
        .kv("kind", o.kind);
    }
    // Routes and pools are opt-in (they need a Gateway); only refuse them when their CRD is missing.
    if (settings.gateway_api && !gateway) {
      lg.warn("HTTPRoutes asked for, but Gateway API is not installed; using the in-cluster Service");
      settings.gateway_api = false;
    }
    if (settings.inference_pool && !pool) {
      lg.warn("InferencePools asked for, but the Inference Extension is not installed");
      settings.inference_pool = false;
    }
  } catch (const std::exception& e) {
    lg.warn("cannot discover optional kinds; rendering without them").kv("error", e.what());
    settings.lws = settings.keda = settings.knative = false;
  }
}

}  // namespace omed::actors
