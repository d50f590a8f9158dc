// The applier: omed's only writer to the API server. Resource actors send it intents; it applies
// them with field manager "omed", re-reads on conflicts, gates on leadership and supports dry-run.
#pragma once

#include <functional>

#include "omed/actors/messages.hpp"

namespace omed::k8s {
class Client;
class Discovery;
class EventRecorder;
}  // namespace omed::k8s

namespace omed::metrics {
class Registry;
}

namespace omed::actors {

struct ApplierOptions {
  k8s::Client* client = nullptr;          // not owned; must outlive the actor
  k8s::Discovery* discovery = nullptr;    // optional: kinds beyond the well-known ones
  k8s::EventRecorder* events = nullptr;   // optional: without it events are only logged
  // Leadership gate, asked immediately before every write; empty: always allowed.
  std::function<bool()> may_write;
  bool dry_run = false;                   // every write with dryRun=All: nothing persists
  int conflict_retries = 5;               // re-read and retry finalizer edits this often
  metrics::Registry* metrics = nullptr;   // omed_applier_writes_total{op,result}
  // Writes run on this many dedicated threads; one object's writes always go to the same one,
  // so they keep their order.
  int workers = 4;
};

// The workers block on HTTP on their own threads, never on the scheduler's.
applier_actor spawn_applier(caf::actor_system& sys, ApplierOptions opts);
applier_actor spawn_applier(caf::local_actor* parent, ApplierOptions opts);

}  // namespace omed::actors
