// Spawning omed's supervision tree: the root supervisor, kind supervisors (one resource actor per
// live object) and resource actors running a level-triggered reconcile.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "omed/actors/messages.hpp"
#include "omed/runtime/restart_policy.hpp"

namespace omed::metrics {
class Registry;
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

// What a resource actor does with the latest object it holds. It may throw: the actor then
// crashes and its kind supervisor restarts it (with backoff) from the latest object.
struct ReconcileOutcome {
  // Ask to be called again after this delay (0 = no requeue).
  std::chrono::milliseconds requeue_after{0};
};
using Reconciler = std::function<ReconcileOutcome(const json::Value& object)>;

struct KindOptions {
  std::string kind;  // e.g. "InferenceService"; used in names, logs and metrics
  SupervisorOptions supervision;
  // Builds the reconciler for one object key; called on every (re)start of its actor.
  std::function<Reconciler(const std::string& key)> make_reconciler;
  // Called when a resource actor is parked as failed (status/Event writers hook in here).
  std::function<void(const std::string& key, const std::string& error)> on_parked;
};

// The key a kind supervisor files an object under: "namespace/name" or "name".
std::string object_key(const json::Value& object);

kind_supervisor_actor spawn_kind_supervisor(caf::local_actor* parent, KindOptions opts);
kind_supervisor_actor spawn_kind_supervisor(caf::actor_system& sys, KindOptions opts);

resource_actor spawn_resource_actor(caf::local_actor* parent, std::string kind, std::string key,
                                    ObjectEvent initial, Reconciler reconcile);

// Human-readable text of a CAF error (the context string when there is one).
std::string describe(const caf::error& err);

// Exception handler used by omed's actors: the exception text becomes the exit reason.
caf::error exception_to_error(std::exception_ptr& eptr);

}  // namespace omed::actors
