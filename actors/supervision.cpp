// The supervision tree: root supervisor (static children), kind supervisors (dynamic children,
// one per object key, restarted from the latest object) and resource actors.
#include "omed/actors/supervision.hpp"

#include "omed/controller/admission.hpp"
#include "omed/metrics/registry.hpp"
#include "supervisor_core.hpp"

namespace omed::actors {

caf::error exception_to_error(std::exception_ptr& eptr) {
  try {
    if (eptr)
      std::rethrow_exception(eptr);
  } catch (const std::exception& e) {
    return caf::make_error(caf::sec::runtime_error, std::string(e.what()));
  } catch (...) {
    return caf::make_error(caf::sec::runtime_error, std::string("unknown exception"));
  }
  return caf::make_error(caf::sec::runtime_error, std::string("unknown exception"));
}

std::string object_key(const json::Value& object) {
  auto* md = object.get("metadata");
  if (!md)
    return "";
  auto ns = md->string_or("namespace");
  auto name = md->string_or("name");
  return ns.empty() ? name : ns + "/" + name;
}

namespace {

struct Counters {
  metrics::Counter* restarts = nullptr;
  metrics::Gauge* parked = nullptr;
  metrics::Gauge* live = nullptr;
  metrics::Histogram* reconcile_seconds = nullptr;
  metrics::Counter* reconcile_errors = nullptr;
};

Counters counters_for(metrics::Registry* reg, const std::string& supervisor, const std::string& kind) {
  Counters c;
  if (!reg)
    return c;
  c.restarts = &reg->counter("omed_supervisor_restarts_total",
                             "Children restarted by a supervisor after a crash.", {"supervisor"})
                  .with({supervisor});
  c.parked = &reg->gauge("omed_supervisor_parked_children",
                         "Children parked as failed after exceeding the restart intensity.",
                         {"supervisor"})
                .with({supervisor});
  if (!kind.empty()) {
    c.live = &reg->gauge("omed_resource_actors", "Live resource actors per kind.", {"kind"})
                .with({kind});
    c.reconcile_seconds = &reg->histogram("omed_reconcile_duration_seconds",
                                          "Time from computing a reconcile's plan to its last write.", {"kind"},
                                          metrics::exponential_buckets(0.0005, 2, 16))
                             .with({kind});
    c.reconcile_errors = &reg->counter("omed_reconcile_errors_total",
                                       "Reconciles that threw or whose writes failed.", {"kind"})
                            .with({kind});
  }
  return c;
}

// ------------------------------------------------------------------ root supervisor

struct RootState {
  std::unique_ptr<SupervisorCore> core;
  static inline const char* name = "omed.root";
};

supervisor_actor::behavior_type root_fn(supervisor_actor::stateful_pointer<RootState> self,
                                        std::vector<ChildSpec> children, SupervisorOptions opts) {
  auto ctr = counters_for(opts.metrics, "root", "");
  self->state.core = std::make_unique<SupervisorCore>(self, opts.policy, opts.seed,
                                                      log::Logger("root"));
  auto& core = *self->state.core;
  core.on_restarted = [ctr](const std::string&, int) {
    if (ctr.restarts)
      ctr.restarts->inc();
  };
  core.on_parked = [ctr](const std::string&, const std::string&) {
    if (ctr.parked)
      ctr.parked->inc();
  };
  for (auto& spec : children) {
    auto start = spec.start;
    core.start_child(spec.name, [self, start] { return start(self); });
  }
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (self->state.core->handle_exit(msg))
      return;
    // An exit from outside (our parent, or a shutdown request): stop the children first.
    auto reason = msg.reason;
    self->state.core->drain([self, reason] { self->quit(reason); });
  });
  self->set_down_handler([self](caf::down_msg& msg) { self->state.core->handle_down(msg); });
  self->set_exception_handler(exception_to_error);
  return {
    [self](children_atom) { return self->state.core->snapshot(); },
    [self](drain_atom) -> caf::result<caf::ok_atom> {
      auto rp = self->make_response_promise<caf::ok_atom>();
      self->state.core->drain([self, rp]() mutable {
        rp.deliver(caf::ok_atom_v);
        self->quit();
      });
      return rp;
    },
    [self](restart_atom, const std::string& name, uint64_t gen) {
      self->state.core->handle_restart(name, gen);
    },
  };
}

// ------------------------------------------------------------------ resource actor

struct ResourceState {
  ResourceActorArgs args;
  ObjectEvent latest;
  controller::Owned owned;
  bool requeue_pending = false;
  bool writing = false;   // a plan's writes are in flight
  bool dirty = false;     // something arrived meanwhile: reconcile again when they finish
  int failures = 0;
  std::chrono::steady_clock::time_point started;  // of the reconcile in progress
  log::Logger log;
  static inline const char* name = "omed.resource";
};

using resource_ptr = resource_actor::stateful_pointer<ResourceState>;

void run_reconcile(resource_ptr self);

void reconcile_done(ResourceState& st, bool ok) {
  if (st.args.reconcile_seconds)
    st.args.reconcile_seconds->observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - st.started).count());
  if (!ok && st.args.reconcile_errors)
    st.args.reconcile_errors->inc();
}

void schedule_requeue(resource_ptr self, std::chrono::milliseconds after) {
  if (after.count() <= 0 || self->state.requeue_pending)
    return;
  self->state.requeue_pending = true;
  self->delayed_send(self, after, requeue_atom_v);
}

WriteRequest request_for(const controller::Step& step, const std::shared_ptr<const json::Value>& target) {
  WriteRequest w;
  w.op = controller::to_string(step.op);
  w.target = target;
  if (step.op == controller::StepOp::Apply || step.op == controller::StepOp::Delete ||
      step.op == controller::StepOp::Status || step.op == controller::StepOp::PatchSpec)
    w.body = std::make_shared<const json::Value>(step.body);
  if (step.op == controller::StepOp::Event) {
    w.event_type = step.event.type;
    w.reason = step.event.reason;
    w.action = step.event.action;
    w.message = step.event.message;
  }
  return w;
}

// Sends the plan's writes one after another; the next only after the previous succeeded, so a
// finalizer is stored before anything it guards happens.
void execute(resource_ptr self, std::shared_ptr<std::vector<controller::Step>> steps, size_t i,
             std::shared_ptr<const json::Value> target, std::chrono::milliseconds requeue_after) {
  auto& st = self->state;
  if (i == steps->size()) {
    st.writing = false;
    st.failures = 0;
    reconcile_done(st, true);
    if (st.dirty) {
      st.dirty = false;
      run_reconcile(self);
    } else {
      schedule_requeue(self, requeue_after);
    }
    return;
  }
  auto fail = [self](const std::string& op, int code, const std::string& reason, const std::string& message) {
    auto& s = self->state;
    s.writing = false;
    if (reason == "NotLeader") {
      s.dirty = false;  // the elector's resync brings us back when we lead
      return;
    }
    bool stale = code == 409 || code == 404;  // our view was behind; the next event corrects it
    reconcile_done(s, stale);
    if (!stale)
      s.failures++;
    // A stale view (409/404) is routine optimistic concurrency: the next event corrects it.
    (stale ? s.log.debug("write failed; will retry") : s.log.warn("write failed; will retry"))
      .kv("op", op)
      .kv("code", code)
      .kv("reason", reason)
      .kv("error", message)
      .kv("failures", s.failures);
    if (s.dirty) {
      s.dirty = false;
      run_reconcile(self);
      return;
    }
    schedule_requeue(self, stale ? std::chrono::milliseconds(200) : controller::failure_backoff(s.failures));
  };
  auto req = request_for((*steps)[i], target);
  auto op = req.op;
  auto applier = st.args.applier ? st.args.applier() : applier_actor{};
  if (!applier)
    return fail(op, 0, "ApplierUnavailable", "no applier running");
  self->request(applier, st.args.write_timeout, write_atom_v, std::move(req))
    .then(
      [self, steps, i, target, requeue_after, fail, op](WriteResult& r) {
        if (!r.ok)
          return fail(op, r.code, r.reason, r.message);
        execute(self, steps, i + 1, target, requeue_after);
      },
      [fail, op](caf::error& err) { fail(op, 0, "ApplierUnavailable", describe(err)); });
}

void run_reconcile(resource_ptr self) {
  auto& st = self->state;
  if (!st.latest.object || st.latest.type == "DELETED")
    return;
  if (st.writing) {
    st.dirty = true;
    return;
  }
  auto target = st.latest.object;
  st.started = std::chrono::steady_clock::now();
  controller::Plan plan;
  try {
    plan = st.args.reconcile(controller::Input{*target, st.owned});
  } catch (...) {
    reconcile_done(st, false);
    throw;  // the supervisor restarts us with backoff, then parks us
  }
  if (!st.args.applier) {
    reconcile_done(st, true);
    schedule_requeue(self, plan.requeue_after);
    return;
  }
  auto steps = std::make_shared<std::vector<controller::Step>>(
    controller::steps_for(*target, plan, st.owned, std::chrono::system_clock::now()));
  if (steps->empty()) {
    st.failures = 0;
    reconcile_done(st, true);
    schedule_requeue(self, plan.requeue_after);
    return;
  }
  st.writing = true;
  execute(self, steps, 0, target, plan.requeue_after);
}

resource_actor::behavior_type resource_fn(resource_ptr self, ResourceActorArgs args) {
  auto& st = self->state;
  st.latest = std::move(args.initial);
  st.owned = std::move(args.owned);
  st.log = log::Logger(args.kind, args.key);
  st.args = std::move(args);
  self->set_exception_handler(exception_to_error);
  // The first reconcile runs as a message so that a crash on start is an ordinary exit.
  self->send(self, requeue_atom_v);
  return {
    [self](event_atom, ObjectEvent& ev) {
      self->state.latest = std::move(ev);
      run_reconcile(self);
    },
    [self](owned_atom, ObjectEvent& ev) {
      if (!ev.object)
        return;
      auto key = controller::owned_key(*ev.object);
      if (ev.type == "DELETED")
        self->state.owned.erase(key);
      else
        self->state.owned[key] = ev.object;
      run_reconcile(self);
    },
    [self](latest_atom) { return self->state.latest; },
    [self](held_atom) {
      auto& s = self->state;
      HeldObject h;
      h.key = s.args.key;
      if (s.latest.object) {
        auto* rv = s.latest.object->at_path("metadata.resourceVersion");
        h.resource_version = rv && rv->is_string() ? rv->as_string() : "";
        h.generation = controller::generation_of(*s.latest.object);
      }
      h.owned = static_cast<int32_t>(s.owned.size());
      h.failures = s.failures;
      return h;
    },
    [self](requeue_atom) {
      self->state.requeue_pending = false;
      run_reconcile(self);
    },
  };
}

// ------------------------------------------------------------------ kind supervisor

struct KindState {
  KindOptions opts;
  std::unique_ptr<SupervisorCore> core;
  std::map<std::string, ObjectEvent> latest;
  // Objects owned by each key (by their controller ownerReference), kept even before the owner's
  // actor exists so that a (re)started actor sees them at once.
  std::map<std::string, controller::Owned> owned;
  // Generation at which a child was parked: only a spec change (new generation) retries it.
  std::map<std::string, int64_t> parked_generation;
  Counters ctr;
  static inline const char* name = "omed.kind_supervisor";
};

using kind_ptr = kind_supervisor_actor::stateful_pointer<KindState>;

int64_t generation_of(const ObjectEvent& ev) {
  return ev.object ? controller::generation_of(*ev.object) : 0;
}

void update_live(kind_ptr self) {
  if (self->state.ctr.live)
    self->state.ctr.live->set(static_cast<double>(self->state.core->running()));
}

void start_resource(kind_ptr self, const std::string& key) {
  auto& st = self->state;
  st.core->start_child(key, [self, key]() -> caf::actor {
    auto& s = self->state;
    auto it = s.latest.find(key);
    if (it == s.latest.end())
      return caf::actor{};
    // A restart starts from the latest object the supervisor was sent, not the first one.
    ResourceActorArgs a;
    a.kind = s.opts.kind;
    a.key = key;
    a.initial = it->second;
    if (auto o = s.owned.find(key); o != s.owned.end())
      a.owned = o->second;
    a.reconcile = s.opts.make_reconciler(key);
    a.applier = s.opts.applier;
    a.write_timeout = s.opts.write_timeout;
    a.reconcile_seconds = s.ctr.reconcile_seconds;
    a.reconcile_errors = s.ctr.reconcile_errors;
    return caf::actor_cast<caf::actor>(spawn_resource_actor(self, std::move(a)));
  });
  update_live(self);
}

// A parked object gets the reason in its status and a Warning Event, so `kubectl describe`
// says why nothing happens to it.
void report_parked(kind_ptr self, const std::string& key, const std::string& err) {
  auto& s = self->state;
  auto it = s.latest.find(key);
  auto applier = s.opts.applier ? s.opts.applier() : applier_actor{};
  if (!applier || it == s.latest.end() || !it->second.object)
    return;
  controller::Plan plan;
  plan.wants_finalizer = false;
  plan.write_status = s.opts.kind != "ServingRuntime" && s.opts.kind != "ClusterServingRuntime";
  std::string msg = "reconcile failed repeatedly and is suspended until the object changes: " + err;
  if (const char* state = controller::required_state(s.opts.kind, false))
    plan.status.set("state", state);
  plan.conditions.push_back({"Ready", "False", "ReconcileFailed", msg});
  plan.events.push_back({"Warning", "ReconcileFailed", "Reconcile", msg});
  auto target = it->second.object;
  for (auto& step : controller::steps_for(*target, plan, {}, std::chrono::system_clock::now())) {
    WriteRequest w;
    w.op = controller::to_string(step.op);
    w.target = target;
    if (step.op == controller::StepOp::Status)
      w.body = std::make_shared<const json::Value>(step.body);
    w.event_type = step.event.type;
    w.reason = step.event.reason;
    w.action = step.event.action;
    w.message = step.event.message;
    self->request(applier, s.opts.write_timeout, write_atom_v, std::move(w))
      .then(
        [self, key](WriteResult& r) {
          if (!r.ok)
            log::Logger("kind_supervisor/" + self->state.opts.kind, key)
              .warn("could not report the parked object")
              .kv("reason", r.reason)
              .kv("error", r.message);
        },
        [](caf::error&) {});
  }
}

kind_supervisor_actor::behavior_type kind_fn(kind_ptr self, KindOptions opts) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.ctr = counters_for(st.opts.supervision.metrics, "kind/" + st.opts.kind, st.opts.kind);
  st.core = std::make_unique<SupervisorCore>(self, st.opts.supervision.policy,
                                             st.opts.supervision.seed,
                                             log::Logger("kind_supervisor/" + st.opts.kind));
  st.core->on_restarted = [self](const std::string&, int) {
    if (self->state.ctr.restarts)
      self->state.ctr.restarts->inc();
    update_live(self);
  };
  st.core->on_parked = [self](const std::string& key, const std::string& err) {
    auto& s = self->state;
    auto it = s.latest.find(key);
    s.parked_generation[key] = it == s.latest.end() ? 0 : generation_of(it->second);
    if (s.ctr.parked)
      s.ctr.parked->set(static_cast<double>(s.core->parked()));
    update_live(self);
    report_parked(self, key, err);
    if (s.opts.on_parked)
      s.opts.on_parked(key, err);
  };
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (self->state.core->handle_exit(msg))
      return;
    auto reason = msg.reason;
    self->state.core->drain([self, reason] { self->quit(reason); });
  });
  self->set_down_handler([self](caf::down_msg& msg) {
    if (self->state.core->handle_down(msg))
      update_live(self);
  });
  self->set_exception_handler(exception_to_error);
  if (st.opts.on_started)
    st.opts.on_started(caf::actor_cast<kind_supervisor_actor>(self));
  return {
    [self](event_atom, ObjectEvent& ev) {
      auto& s = self->state;
      if (!ev.object)
        return;
      auto key = object_key(*ev.object);
      if (key.empty())
        return;
      if (ev.type == "DELETED") {
        // Deletion is complete (finalizers are gone): the actor has nothing left to do.
        if (s.opts.on_deleted)
          s.opts.on_deleted(key, *ev.object);
        s.core->stop_child(key);
        s.core->forget(key);
        s.latest.erase(key);
        s.owned.erase(key);
        s.parked_generation.erase(key);
        update_live(self);
        return;
      }
      s.latest[key] = ev;
      auto pg = s.parked_generation.find(key);
      if (pg != s.parked_generation.end()) {
        if (generation_of(ev) == pg->second)
          return;  // still the object that poisoned the actor
        s.parked_generation.erase(pg);
        s.core->forget(key);
        if (s.ctr.parked)
          s.ctr.parked->set(static_cast<double>(s.core->parked()));
      }
      if (auto child = s.core->child(key)) {
        self->send(caf::actor_cast<resource_actor>(child), event_atom_v, std::move(ev));
        return;
      }
      if (!s.core->has_child(key))
        start_resource(self, key);
      // else: restarting; the restart picks up latest[key].
    },
    [self](owned_atom, ObjectEvent& ev, const std::string& owner) {
      auto& s = self->state;
      if (!ev.object || owner.empty())
        return;
      auto okey = controller::owned_key(*ev.object);
      if (ev.type == "DELETED") {
        auto it = s.owned.find(owner);
        if (it != s.owned.end()) {
          it->second.erase(okey);
          if (it->second.empty())
            s.owned.erase(it);
        }
      } else {
        s.owned[owner][okey] = ev.object;
      }
      if (auto child = s.core->child(owner))
        self->send(caf::actor_cast<resource_actor>(child), owned_atom_v, std::move(ev));
    },
    [self](latest_atom, const std::string& key) -> caf::result<ObjectEvent> {
      auto it = self->state.latest.find(key);
      if (it == self->state.latest.end())
        return caf::make_error(caf::sec::invalid_argument, "no object " + key);
      return it->second;
    },
    [self](requeue_atom, const std::string& key) {
      if (auto child = self->state.core->child(key))
        self->send(caf::actor_cast<resource_actor>(child), requeue_atom_v);
    },
    [self](resync_atom) {
      for (auto& c : self->state.core->snapshot())
        if (auto child = self->state.core->child(c.name))
          self->send(caf::actor_cast<resource_actor>(child), requeue_atom_v);
    },
    [self](held_atom) -> caf::result<std::vector<HeldObject>> {
      auto rp = self->make_response_promise<std::vector<HeldObject>>();
      std::vector<caf::actor> kids;
      for (auto& c : self->state.core->snapshot())
        if (auto child = self->state.core->child(c.name))
          kids.push_back(child);
      if (kids.empty()) {
        rp.deliver(std::vector<HeldObject>{});
        return rp;
      }
      auto acc = std::make_shared<std::vector<HeldObject>>();
      auto pending = std::make_shared<size_t>(kids.size());
      for (auto& k : kids) {
        self->request(caf::actor_cast<resource_actor>(k), std::chrono::seconds(10), held_atom_v)
          .then(
            [acc, pending, rp](HeldObject& h) mutable {
              acc->push_back(std::move(h));
              if (--*pending == 0)
                rp.deliver(std::move(*acc));
            },
            [acc, pending, rp](caf::error&) mutable {
              if (--*pending == 0)
                rp.deliver(std::move(*acc));
            });
      }
      return rp;
    },
    [self](children_atom) { return self->state.core->snapshot(); },
    [self](drain_atom) -> caf::result<caf::ok_atom> {
      auto rp = self->make_response_promise<caf::ok_atom>();
      self->state.core->drain([self, rp]() mutable {
        rp.deliver(caf::ok_atom_v);
        self->quit();
      });
      return rp;
    },
    [self](restart_atom, const std::string& name, uint64_t gen) {
      self->state.core->handle_restart(name, gen);
      update_live(self);
    },
  };
}

}  // namespace

supervisor_actor spawn_root_supervisor(caf::actor_system& sys, std::vector<ChildSpec> children,
                                       SupervisorOptions opts) {
  return sys.spawn(root_fn, std::move(children), std::move(opts));
}

kind_supervisor_actor spawn_kind_supervisor(caf::local_actor* parent, KindOptions opts) {
  return parent->spawn(kind_fn, std::move(opts));
}

kind_supervisor_actor spawn_kind_supervisor(caf::actor_system& sys, KindOptions opts) {
  return sys.spawn(kind_fn, std::move(opts));
}

resource_actor spawn_resource_actor(caf::local_actor* parent, ResourceActorArgs args) {
  return parent->spawn(resource_fn, std::move(args));
}

}  // namespace omed::actors
