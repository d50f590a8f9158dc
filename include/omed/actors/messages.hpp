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

}  // namespace omed::actors

CAF_BEGIN_TYPE_ID_BLOCK(omed, caf::first_custom_type_id)
  CAF_ADD_TYPE_ID(omed, (omed::actors::ChildInfo))
  CAF_ADD_TYPE_ID(omed, (std::vector<omed::actors::ChildInfo>))
  CAF_ADD_TYPE_ID(omed, (omed::actors::ObjectEvent))
  // 0.17 atoms: at most 10 characters, no type IDs consumed.
  CAF_ADD_ATOM(omed, omed::actors, restart_atom, "restart")
  CAF_ADD_ATOM(omed, omed::actors, children_atom, "children")
  CAF_ADD_ATOM(omed, omed::actors, drain_atom, "drain")
  CAF_ADD_ATOM(omed, omed::actors, event_atom, "event")
  CAF_ADD_ATOM(omed, omed::actors, latest_atom, "latest")
  CAF_ADD_ATOM(omed, omed::actors, requeue_atom, "requeue")
  CAF_ADD_ATOM(omed, omed::actors, parked_atom, "parked")
CAF_END_TYPE_ID_BLOCK(omed)

namespace omed::actors {

// Any supervisor: lists its children; drains (stops every child, then itself) on request.
// (restart_atom, child, generation) is the supervisor's own backoff timer.
using supervisor_actor = caf::typed_actor<
  caf::replies_to<children_atom>::with<std::vector<ChildInfo>>,
  caf::replies_to<drain_atom>::with<caf::ok_atom>,
  caf::reacts_to<restart_atom, std::string, uint64_t>>;

// A kind supervisor additionally takes watch events and routes them to resource actors.
using kind_supervisor_actor = supervisor_actor::extend<
  caf::reacts_to<event_atom, ObjectEvent>,
  caf::replies_to<latest_atom, std::string>::with<ObjectEvent>>;

// A resource actor: one per live object; every event leads to the same level-triggered reconcile.
using resource_actor = caf::typed_actor<
  caf::reacts_to<event_atom, ObjectEvent>,
  caf::replies_to<latest_atom>::with<ObjectEvent>,
  caf::reacts_to<requeue_atom>>;

}  // namespace omed::actors
