// Message types, atoms and typed interfaces of omed's actors, declared once for every actor.
// Only the actor layer includes this header: src/ never sees CAF.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "omed/common/json.hpp"

namespace omed::actors {

// One supervised child as its supervisor sees it (omectl and /readyz read these).
struct ChildInfo {
  std::string name;
  std::string state;  // "running", "restarting", "failed", "stopped"
  int32_t restarts = 0;
  std::string last_error;
  int64_t uptime_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ChildInfo& x) {
  return f(caf::meta::type_name("omed.ChildInfo"), x.name, x.state, x.restarts, x.last_error,
           x.uptime_ms);
}

// A watch event about one Kubernetes object. The object is shared and immutable: fan-out to
// many actors costs a pointer copy, never a deep copy.
struct ObjectEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, SYNC
  std::shared_ptr<const json::Value> object;
};

// Serialized (for traces and remote inspection) as the event type plus the object as JSON text.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ObjectEvent& x) {
  std::string text = x.object ? json::dump(*x.object) : std::string();
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x.object = std::make_shared<const json::Value>(json::parse(text));
    return caf::none;
  });
  return f(caf::meta::type_name("omed.ObjectEvent"), x.type, text, load);
}

// One write a resource actor asks the applier for. `target` is the resource's object as the
// actor last saw it (identity, uid, resourceVersion); `body` is what to write.
struct WriteRequest {
  std::string op;  // add-finalizer, remove-finalizer, apply, status, event
  std::shared_ptr<const json::Value> target;
  std::shared_ptr<const json::Value> body;
  std::string event_type, reason, action, message;  // op == event
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, WriteRequest& x) {
  std::string target = x.target ? json::dump(*x.target) : std::string();
  std::string body = x.body ? json::dump(*x.body) : std::string();
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x.target = target.empty() ? nullptr : std::make_shared<const json::Value>(json::parse(target));
    x.body = body.empty() ? nullptr : std::make_shared<const json::Value>(json::parse(body));
    return caf::none;
  });
  return f(caf::meta::type_name("omed.WriteRequest"), x.op, target, body, x.event_type, x.reason, x.action,
           x.message, load);
}

struct WriteResult {
  bool ok = false;
  int32_t code = 0;       // HTTP code of the failure (0: no answer or refused locally)
  std::string reason;     // Conflict, NotFound, NotLeader, ...
  std::string message;
  std::shared_ptr<const json::Value> object;  // the stored object after the write, when known
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, WriteResult& x) {
  std::string obj = x.object ? json::dump(*x.object) : std::string();
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x.object = obj.empty() ? nullptr : std::make_shared<const json::Value>(json::parse(obj));
    return caf::none;
  });
  return f(caf::meta::type_name("omed.WriteResult"), x.ok, x.code, x.reason, x.message, obj, load);
}

// A resource actor's view of itself, for omectl and the tests: key, the resourceVersion and
// generation of the object it holds, how many owned objects it tracks.
struct HeldObject {
  std::string key;
  std::string resource_version;
  int64_t generation = 0;
  int32_t owned = 0;
  int32_t failures = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, HeldObject& x) {
  return f(caf::meta::type_name("omed.HeldObject"), x.key, x.resource_version, x.generation, x.owned, x.failures);
}

}  // namespace omed::actors

CAF_BEGIN_TYPE_ID_BLOCK(omed, caf::first_custom_type_id)
  CAF_ADD_TYPE_ID(omed, (omed::actors::ChildInfo))
  CAF_ADD_TYPE_ID(omed, (std::vector<omed::actors::ChildInfo>))
  CAF_ADD_TYPE_ID(omed, (omed::actors::ObjectEvent))
  CAF_ADD_TYPE_ID(omed, (omed::actors::WriteRequest))
  CAF_ADD_TYPE_ID(omed, (omed::actors::WriteResult))
  CAF_ADD_TYPE_ID(omed, (omed::actors::HeldObject))
  CAF_ADD_TYPE_ID(omed, (std::vector<omed::actors::HeldObject>))
  // 0.17 atoms: at most 10 characters, no type IDs consumed.
  CAF_ADD_ATOM(omed, omed::actors, restart_atom, "restart")
  CAF_ADD_ATOM(omed, omed::actors, children_atom, "children")
  CAF_ADD_ATOM(omed, omed::actors, drain_atom, "drain")
  CAF_ADD_ATOM(omed, omed::actors, event_atom, "event")
  CAF_ADD_ATOM(omed, omed::actors, latest_atom, "latest")
  CAF_ADD_ATOM(omed, omed::actors, requeue_atom, "requeue")
  CAF_ADD_ATOM(omed, omed::actors, parked_atom, "parked")
  CAF_ADD_ATOM(omed, omed::actors, write_atom, "write")
  CAF_ADD_ATOM(omed, omed::actors, owned_atom, "owned")
  CAF_ADD_ATOM(omed, omed::actors, resync_atom, "resync")
  CAF_ADD_ATOM(omed, omed::actors, held_atom, "held")
  CAF_ADD_ATOM(omed, omed::actors, ensure_atom, "ensure")
  CAF_ADD_ATOM(omed, omed::actors, forget_atom, "forget")
  CAF_ADD_ATOM(omed, omed::actors, progress_atom, "progress")
  CAF_ADD_ATOM(omed, omed::actors, report_atom, "report")
  CAF_ADD_ATOM(omed, omed::actors, flush_atom, "flush")
CAF_END_TYPE_ID_BLOCK(omed)

namespace omed::actors {

// Any supervisor: lists its children; drains (stops every child, then itself) on request.
// (restart_atom, child, generation) is the supervisor's own backoff timer.
using supervisor_actor = caf::typed_actor<
  caf::replies_to<children_atom>::with<std::vector<ChildInfo>>,
  caf::replies_to<drain_atom>::with<caf::ok_atom>,
  caf::reacts_to<restart_atom, std::string, uint64_t>>;

// A kind supervisor additionally takes watch events and routes them to resource actors: its own
// kind's objects by key, objects they own by the key of their controller owner (owned_atom).
// resync asks every resource actor to reconcile (leadership gained), requeue one of them (what
// it depends on outside its object changed); held reports what each live resource actor holds.
using kind_supervisor_actor = supervisor_actor::extend<
  caf::reacts_to<event_atom, ObjectEvent>,
  caf::reacts_to<owned_atom, ObjectEvent, std::string>,
  caf::replies_to<latest_atom, std::string>::with<ObjectEvent>,
  caf::reacts_to<resync_atom>,
  caf::reacts_to<requeue_atom, std::string>,
  caf::replies_to<held_atom>::with<std::vector<HeldObject>>>;

// A resource actor: one per live object; every event leads to the same level-triggered reconcile.
using resource_actor = caf::typed_actor<
  caf::reacts_to<event_atom, ObjectEvent>,
  caf::reacts_to<owned_atom, ObjectEvent>,
  caf::replies_to<latest_atom>::with<ObjectEvent>,
  caf::replies_to<held_atom>::with<HeldObject>,
  caf::reacts_to<requeue_atom>>;

// The only writer to the API server. Every answer is a WriteResult (failures included), so a
// resource actor's request never ends in an error it did not expect.
using applier_actor = caf::typed_actor<caf::replies_to<write_atom, WriteRequest>::with<WriteResult>>;

// The scorer keeps the runtime catalog: a ServingRuntime or ClusterServingRuntime that changed
// (ADDED/MODIFIED) or went (DELETED) is indexed, and the InferenceServices whose choice it may
// change are told to re-rank. Rankings read the index directly (a shared lock, microseconds).
using scorer_actor = caf::typed_actor<caf::reacts_to<event_atom, ObjectEvent>>;

// The agent's downloader: ensure (key, model) is level-triggered and idempotent; forget stops
// the work and removes the files. Workers report (key, fingerprint, entry JSON, final).
using downloader_actor = caf::typed_actor<
  caf::reacts_to<ensure_atom, std::string, ObjectEvent>,
  caf::reacts_to<forget_atom, std::string, ObjectEvent>,
  caf::reacts_to<progress_atom, std::string, std::string, std::string, bool>>;

// The agent's node reporter, the single writer of this node's model labels and ConfigMap:
// (configmap key, label key, entry JSON or "" to remove, urgent). flush is its own timer.
using reporter_actor = caf::typed_actor<
  caf::reacts_to<report_atom, std::string, std::string, std::string, bool>,
  caf::reacts_to<flush_atom>>;

}  // namespace omed::actors
