// Spawning omed's supervision tree: the root supervisor, kind supervisors (one resource actor per
// live object) and resource actors running a level-triggered reconcile.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "omed/actors/messages.hpp"
#include "omed/controller/plan.hpp"
#include "omed/runtime/restart_policy.hpp"

namespace omed::metrics {
class Registry;
class Counter;
class Histogram;
}

namespace omed::actors {

// Starts one named child of the root supervisor, in the supervisor's context.
struct ChildSpec {
  std::string name;
  std::function<caf::actor(caf::local_actor* parent)> start;
};

struct SupervisorOptions {
  runtime::RestartPolicy policy;
  uint64_t seed = 1;
  metrics::Registry* metrics = nullptr;  // optional: restart and parked counters
};

supervisor_actor spawn_root_supervisor(caf::actor_system& sys, std::vector<ChildSpec> children,
                                       SupervisorOptions opts);

// What a resource actor does with the latest object it holds: compute a Plan (no side effects).
// It may throw: the actor then crashes and its kind supervisor restarts it (with backoff) from the
// latest object; after the restart-intensity limit the object is parked as failed.
using ReconcileOutcome = controller::Plan;
using Reconciler = std::function<controller::Plan(const controller::Input& in)>;

struct KindOptions {
  std::string kind;  // e.g. "InferenceService"; used in names, logs and metrics
  SupervisorOptions supervision;
  // Builds the reconciler for one object key; called on every (re)start of its actor.
  std::function<Reconciler(const std::string& key)> make_reconciler;
  // The applier that carries out the plans' writes, looked up at each write (it may have been
  // restarted). Empty, or returning an invalid handle: plans are computed, only requeues honoured.
  std::function<applier_actor()> applier;
  // Called in the new supervisor's context on every (re)start (the kind directory hooks in here).
  std::function<void(kind_supervisor_actor self)> on_started;
  // Called when an object is gone from the API (its actor is stopped): cleanup of outside effects
  // that cannot wait for a finalizer (the agent's files when nobody held one).
  std::function<void(const std::string& key, const json::Value& last)> on_deleted;
  // Called when a resource actor is parked as failed (after the status/Event writes are sent).
  std::function<void(const std::string& key, const std::string& error)> on_parked;
  std::chrono::milliseconds write_timeout{30000};
};

// The key a kind supervisor files an object under: "namespace/name" or "name".
std::string object_key(const json::Value& object);

kind_supervisor_actor spawn_kind_supervisor(caf::local_actor* parent, KindOptions opts);
kind_supervisor_actor spawn_kind_supervisor(caf::actor_system& sys, KindOptions opts);

struct ResourceActorArgs {
  std::string kind;
  std::string key;
  ObjectEvent initial;
  controller::Owned owned;
  Reconciler reconcile;
  std::function<applier_actor()> applier;
  std::chrono::milliseconds write_timeout{30000};
  // Optional, per kind: a reconcile's time from the plan to its last write, and its failures
  // (a thrown reconcile or a write refused for a reason other than a stale view).
  metrics::Histogram* reconcile_seconds = nullptr;
  metrics::Counter* reconcile_errors = nullptr;
};

resource_actor spawn_resource_actor(caf::local_actor* parent, ResourceActorArgs args);

// Human-readable text of a CAF error (the context string when there is one).
std::string describe(const caf::error& err);

// Exception handler used by omed's actors: the exception text becomes the exit reason.
caf::error exception_to_error(std::exception_ptr& eptr);

}  // namespace omed::actors
