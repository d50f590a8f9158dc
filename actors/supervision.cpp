// The supervision tree: root supervisor (static children), kind supervisors (dynamic children,
// one per object key, restarted from the latest object) and resource actors.
#include "omed/actors/supervision.hpp"

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
  if (!kind.empty())
    c.live = &reg->gauge("omed_resource_actors", "Live resource actors per kind.", {"kind"})
                .with({kind});
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
  std::string kind;
  std::string key;
  ObjectEvent latest;
  Reconciler reconcile;
  bool requeue_pending = false;
  static inline const char* name = "omed.resource";
};

void run_reconcile(resource_actor::stateful_pointer<ResourceState> self) {
  auto& st = self->state;
  if (!st.latest.object || st.latest.type == "DELETED")
    return;
  auto out = st.reconcile(*st.latest.object);  // may throw: the supervisor handles the crash
  if (out.requeue_after.count() > 0 && !st.requeue_pending) {
    st.requeue_pending = true;
    self->delayed_send(self, out.requeue_after, requeue_atom_v);
  }
}

resource_actor::behavior_type resource_fn(resource_actor::stateful_pointer<ResourceState> self,
                                          std::string kind, std::string key, ObjectEvent initial,
                                          Reconciler reconcile) {
  self->state.kind = std::move(kind);
  self->state.key = std::move(key);
  self->state.latest = std::move(initial);
  self->state.reconcile = std::move(reconcile);
  self->set_exception_handler(exception_to_error);
  // The first reconcile runs as a message so that a crash on start is an ordinary exit.
  self->send(self, requeue_atom_v);
  return {
    [self](event_atom, ObjectEvent& ev) {
      self->state.latest = std::move(ev);
      run_reconcile(self);
    },
    [self](latest_atom) { return self->state.latest; },
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
  // Generation at which a child was parked: only a spec change (new generation) retries it.
  std::map<std::string, int64_t> parked_generation;
  Counters ctr;
  static inline const char* name = "omed.kind_supervisor";
};

using kind_ptr = kind_supervisor_actor::stateful_pointer<KindState>;

int64_t generation_of(const ObjectEvent& ev) {
  if (!ev.object)
    return 0;
  auto* md = ev.object->get("metadata");
  return md ? md->int_at("generation").value_or(0) : 0;
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
    auto h = spawn_resource_actor(self, s.opts.kind, key, it->second, s.opts.make_reconciler(key));
    return caf::actor_cast<caf::actor>(h);
  });
  update_live(self);
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
  return {
    [self](event_atom, ObjectEvent& ev) {
      auto& s = self->state;
      if (!ev.object)
        return;
      auto key = object_key(*ev.object);
      if (key.empty())
        return;
      if (ev.type == "DELETED") {
        s.core->stop_child(key);
        s.core->forget(key);
        s.latest.erase(key);
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
    [self](latest_atom, const std::string& key) -> caf::result<ObjectEvent> {
      auto it = self->state.latest.find(key);
      if (it == self->state.latest.end())
        return caf::make_error(caf::sec::invalid_argument, "no object " + key);
      return it->second;
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

resource_actor spawn_resource_actor(caf::local_actor* parent, std::string kind, std::string key,
                                    ObjectEvent initial, Reconciler reconcile) {
  return parent->spawn(resource_fn, std::move(kind), std::move(key), std::move(initial),
                       std::move(reconcile));
}

}  // namespace omed::actors
