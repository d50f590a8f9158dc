// The applier's protocol: one WriteRequest in, one WriteResult out. Finalizer edits re-read the
// object and PUT with its resourceVersion (never a blind overwrite); status is a PUT to /status
// with the resourceVersion the reconcile saw, so a stale view loses instead of clobbering.
#include "omed/actors/applier.hpp"

#include "omed/controller/plan.hpp"
#include "omed/k8s/client.hpp"
#include "omed/k8s/discovery.hpp"
#include "omed/k8s/event_recorder.hpp"
#include "omed/log/logger.hpp"
#include "omed/metrics/registry.hpp"
#include "omed/actors/supervision.hpp"

namespace omed::actors {

namespace {

struct ApplierState {
  ApplierOptions opts;
  log::Logger log{"applier"};
  metrics::Family<metrics::Counter>* writes = nullptr;
  static inline const char* name = "omed.applier";
};

using applier_ptr = applier_actor::stateful_pointer<ApplierState>;

WriteResult failed(int code, std::string reason, std::string message) {
  WriteResult r;
  r.code = code;
  r.reason = std::move(reason);
  r.message = std::move(message);
  return r;
}

WriteResult succeeded(json::Value obj) {
  WriteResult r;
  r.ok = true;
  r.object = std::make_shared<const json::Value>(std::move(obj));
  return r;
}

std::optional<k8s::ResourceInfo> resolve(ApplierState& st, const json::Value& obj) {
  auto api_version = obj.string_or("apiVersion");
  auto kind = obj.string_or("kind");
  if (auto* r = k8s::find_well_known(api_version, kind))
    return *r;
  if (st.opts.discovery)
    return st.opts.discovery->resolve(api_version, kind);
  return std::nullopt;
}

k8s::WriteOptions write_options(const ApplierState& st, bool force = false) {
  k8s::WriteOptions w;
  w.dry_run = st.opts.dry_run;
  w.field_manager = "omed";
  w.force = force;
  return w;
}

// Adds or removes our finalizer on the freshest copy of the object.
WriteResult edit_finalizer(ApplierState& st, const k8s::ResourceInfo& ri, const json::Value& target, bool add) {
  auto ns = k8s::namespace_of(target), name = k8s::name_of(target);
  for (int attempt = 0; attempt <= st.opts.conflict_retries; ++attempt) {
    auto fresh = st.opts.client->try_get(ri, ns, name);
    if (!fresh)
      return add ? failed(404, "NotFound", ri.resource + " \"" + name + "\" not found") : succeeded(json::Value());
    bool has = controller::has_finalizer(*fresh);
    if (add && (has || controller::is_deleting(*fresh)))
      return succeeded(std::move(*fresh));  // never add a finalizer to a deleting object
    if (!add && !has)
      return succeeded(std::move(*fresh));
    json::Array fins;
    if (auto* f = fresh->at_path("metadata.finalizers"); f && f->is_array())
      for (auto& v : f->as_array())
        if (add || !(v.is_string() && v.as_string() == controller::kFinalizer))
          fins.push_back(v);  // only ours goes; other controllers' finalizers stay
    if (add)
      fins.push_back(controller::kFinalizer);
    (*fresh)["metadata"]["finalizers"] = std::move(fins);
    try {
      return succeeded(st.opts.client->update(ri, *fresh, write_options(st)));
    } catch (const k8s::ApiError& e) {
      if (!e.conflict())
        throw;
      st.log.with_object(ns.empty() ? name : ns + "/" + name).debug("finalizer edit conflicted; re-reading");
    }
  }
  return failed(409, "Conflict", "gave up after " + std::to_string(st.opts.conflict_retries) + " conflicts");
}

WriteResult perform(ApplierState& st, const WriteRequest& w) {
  if (!w.target)
    return failed(0, "BadRequest", "write without a target object");
  const json::Value& target = *w.target;
  if (w.op == "event") {
    if (!st.opts.events) {
      st.log.with_object(object_key(target)).info("event").kv("type", w.event_type).kv("reason", w.reason).kv("message", w.message);
      return succeeded(json::Value());
    }
    k8s::EventSpec ev;
    ev.regarding = k8s::ObjectRef::of(target);
    ev.type = w.event_type;
    ev.reason = w.reason;
    ev.action = w.action;
    ev.message = w.message;
    return succeeded(st.opts.events->record(ev));
  }
  if (w.op == "apply") {
    if (!w.body)
      return failed(0, "BadRequest", "apply without a body");
    auto ri = resolve(st, *w.body);
    if (!ri)
      return failed(404, "NotFound", "the server does not serve " + w.body->string_or("apiVersion") + " " +
                                       w.body->string_or("kind"));
    // Controllers own what they render: force takes fields from other managers (kubectl edits).
    return succeeded(st.opts.client->apply(*ri, *w.body, write_options(st, true)));
  }
  if (w.op == "delete") {
    if (!w.body)
      return failed(0, "BadRequest", "delete without a body");
    auto ri = resolve(st, *w.body);
    if (!ri)
      return failed(404, "NotFound", "the server does not serve " + w.body->string_or("apiVersion") + " " +
                                       w.body->string_or("kind"));
    // Background propagation: what the object owns (ReplicaSets, Pods) goes with it.
    k8s::DeleteOptions d;
    d.dry_run = st.opts.dry_run;
    d.propagation = "Background";
    if (auto* uid = w.body->at_path("metadata.uid"); uid && uid->is_string())
      d.precondition_uid = uid->as_string();  // never a same-named object created since
    st.opts.client->remove(*ri, k8s::namespace_of(*w.body), k8s::name_of(*w.body), d);
    return succeeded(json::Value());
  }
  auto ri = resolve(st, target);
  if (!ri)
    return failed(404, "NotFound", "the server does not serve " + target.string_or("apiVersion") + " " +
                                     target.string_or("kind"));
  if (w.op == "add-finalizer" || w.op == "remove-finalizer")
    return edit_finalizer(st, *ri, target, w.op == "add-finalizer");
  if (w.op == "patch-spec") {
    // A merge patch carrying metadata.resourceVersion: the server refuses it (409) when the
    // object changed since we read it, so a user's concurrent edit is never overwritten.
    if (!w.body)
      return failed(0, "BadRequest", "patch-spec without a body");
    return succeeded(st.opts.client->patch(*ri, k8s::namespace_of(target), k8s::name_of(target),
                                           k8s::PatchType::Merge, json::dump(*w.body), write_options(st)));
  }
  if (w.op == "status") {
    if (!w.body)
      return failed(0, "BadRequest", "status without a body");
    json::Value obj = target;
    obj["status"] = *w.body;
    return succeeded(st.opts.client->update_status(*ri, obj, write_options(st)));
  }
  return failed(0, "BadRequest", "unknown write " + w.op);
}

applier_actor::behavior_type applier_fn(applier_ptr self, ApplierOptions opts) {
  auto& st = self->state;
  st.opts = std::move(opts);
  if (st.opts.metrics)
    st.writes = &st.opts.metrics->counter("omed_applier_writes_total", "Writes the applier performed, by outcome.",
                                          {"op", "result"});
  self->set_exception_handler(exception_to_error);
  return {
    [self](write_atom, WriteRequest& w) -> WriteResult {
      auto& st = self->state;
      WriteResult r;
      if (st.opts.may_write && !st.opts.may_write()) {
        r = failed(0, "NotLeader", "this replica does not hold the leader lease");
      } else {
        try {
          r = perform(st, w);
        } catch (const k8s::ApiError& e) {
          r = failed(e.code(), e.reason(), e.what());
        } catch (const std::exception& e) {
          r = failed(0, "TransportError", e.what());
        }
      }
      if (st.writes)
        st.writes->with({w.op, r.ok ? "ok" : r.reason}).inc();
      if (!r.ok && r.reason != "NotLeader" && r.reason != "Conflict")
        st.log.with_object(w.target ? object_key(*w.target) : "-")
          .warn("write failed")
          .kv("op", w.op)
          .kv("code", r.code)
          .kv("reason", r.reason)
          .kv("error", r.message);
      return r;
    },
  };
}

struct FrontState {
  std::vector<applier_actor> workers;
  static inline const char* name = "omed.applier_front";
};

// Shards writes over the workers by object key; a worker's crash takes the front down with it
// (linked), so the supervisor restarts the applier as a whole.
applier_actor::behavior_type front_fn(applier_actor::stateful_pointer<FrontState> self, ApplierOptions opts) {
  int n = std::max(1, opts.workers);
  for (int i = 0; i < n; ++i)
    self->state.workers.push_back(self->spawn<caf::detached + caf::linked>(applier_fn, opts));
  self->set_exception_handler(exception_to_error);
  return {
    [self](write_atom, WriteRequest& w) -> caf::delegated<WriteResult> {
      auto& ws = self->state.workers;
      std::string key = w.target ? object_key(*w.target) : std::string();
      size_t i = std::hash<std::string>{}(key) % ws.size();
      return self->delegate(ws[i], write_atom_v, std::move(w));
    },
  };
}

}  // namespace

applier_actor spawn_applier(caf::actor_system& sys, ApplierOptions opts) {
  return sys.spawn(front_fn, std::move(opts));
}

applier_actor spawn_applier(caf::local_actor* parent, ApplierOptions opts) {
  return parent->spawn(front_fn, std::move(opts));
}

}  // namespace omed::actors
