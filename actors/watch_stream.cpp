// watch_stream: a reflector on a dedicated thread (HTTP blocks; scheduler threads must not) whose
// events become anon_sends to kind supervisors looked up in the directory at delivery time.
#include "omed/actors/watch_stream.hpp"

#include <thread>

#include "omed/actors/supervision.hpp"
#include "omed/controller/plan.hpp"
#include "omed/k8s/client.hpp"
#include "omed/log/logger.hpp"
#include "omed/metrics/registry.hpp"

namespace omed::actors {

void KindDirectory::put(const std::string& kind, kind_supervisor_actor handle, bool namespaced) {
  std::vector<std::function<void()>> notify;
  {
    std::lock_guard<std::mutex> lk(mu_);
    entries_[kind] = Entry{std::move(handle), namespaced};
    for (auto& [id, l] : listeners_)
      if (l.first == kind)
        notify.push_back(l.second);
  }
  for (auto& fn : notify)
    fn();
}

std::optional<KindDirectory::Entry> KindDirectory::get(const std::string& kind) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = entries_.find(kind);
  if (it == entries_.end())
    return std::nullopt;
  return it->second;
}

std::vector<kind_supervisor_actor> KindDirectory::all() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<kind_supervisor_actor> out;
  for (auto& [k, e] : entries_)
    out.push_back(e.handle);
  return out;
}

size_t KindDirectory::listen(const std::string& kind, std::function<void()> fn) {
  std::lock_guard<std::mutex> lk(mu_);
  size_t id = next_id_++;
  listeners_[id] = {kind, std::move(fn)};
  return id;
}

void KindDirectory::unlisten(size_t id) {
  std::lock_guard<std::mutex> lk(mu_);
  listeners_.erase(id);
}

namespace {

class Router : public k8s::ReflectorHandler {
public:
  Router(const WatchStreamOptions& o) : opts_(o), log_("watch_stream", o.reflector.resource.kind) {
    if (o.metrics) {
      events_ = &o.metrics->counter("omed_watch_events_total", "Watch events received, by kind and type.",
                                    {"kind", "type"});
      restarts_ = &o.metrics->counter("omed_watch_restarts_total", "Watches restarted, by kind and reason.",
                                      {"kind", "reason"});
    }
  }

  void on_event(const std::string& type, const std::shared_ptr<const json::Value>& obj) override {
    auto& kind = opts_.reflector.resource.kind;
    if (events_)
      events_->with({kind, type}).inc();
    ObjectEvent ev{type, obj};
    if (!opts_.route_by_owner) {
      if (auto e = opts_.directory->get(kind))
        caf::anon_send(e->handle, event_atom_v, std::move(ev));
      return;
    }
    auto owner = controller::controller_of(*obj);
    if (owner.kind.empty())
      return;
    for (auto& k : opts_.owner_kinds)
      if (k == owner.kind) {
        if (auto e = opts_.directory->get(k))
          caf::anon_send(e->handle, owned_atom_v, std::move(ev), controller::owner_key(*obj, owner, e->namespaced));
        return;
      }
  }

  void on_synced(const std::string& rv) override {
    if (!synced_)
      log_.info("synced").kv("objects", reflector_size ? reflector_size() : 0).kv("resourceVersion", rv);
    synced_ = true;
    if (opts_.on_synced)
      opts_.on_synced(rv);
  }

  void on_restart(const std::string& reason, const std::string& detail) override {
    if (restarts_)
      restarts_->with({opts_.reflector.resource.kind, reason}).inc();
    if (reason != "timeout")
      log_.debug("watch restarting").kv("reason", reason).kv("detail", detail);
  }

  std::function<size_t()> reflector_size;

private:
  const WatchStreamOptions& opts_;
  log::Logger log_;
  metrics::Family<metrics::Counter>* events_ = nullptr;
  metrics::Family<metrics::Counter>* restarts_ = nullptr;
  bool synced_ = false;
};

struct WatchStreamState {
  WatchStreamOptions opts;
  std::unique_ptr<Router> router;
  std::unique_ptr<k8s::Reflector> reflector;
  std::thread thread;
  std::vector<size_t> listeners;
  static inline const char* name = "omed.watch_stream";

  ~WatchStreamState() {
    for (auto id : listeners)
      opts.directory->unlisten(id);
    if (reflector)
      reflector->stop();
    if (thread.joinable())
      thread.join();
  }
};

caf::behavior watch_stream_fn(caf::stateful_actor<WatchStreamState>* self, WatchStreamOptions opts) {
  auto& st = self->state;
  st.opts = std::move(opts);
  st.router = std::make_unique<Router>(st.opts);
  st.reflector = std::make_unique<k8s::Reflector>(*st.opts.client, st.opts.reflector, *st.router);
  auto* refl = st.reflector.get();
  st.router->reflector_size = [refl] { return refl->size(); };
  // A kind supervisor that restarted holds nothing: give it everything we know again.
  std::vector<std::string> targets = st.opts.route_by_owner ? st.opts.owner_kinds
                                                            : std::vector<std::string>{st.opts.reflector.resource.kind};
  for (auto& k : targets)
    st.listeners.push_back(st.opts.directory->listen(k, [refl] { refl->request_replay(); }));
  st.thread = std::thread([refl] { refl->run(); });
  self->set_exception_handler(exception_to_error);
  return {
    [self](caf::get_atom) -> std::string {
      auto& r = *self->state.reflector;
      return json::dump(json::Value(json::Object{{"kind", self->state.opts.reflector.resource.kind},
                                                 {"objects", static_cast<int64_t>(r.size())},
                                                 {"resourceVersion", r.last_resource_version()},
                                                 {"lists", static_cast<int64_t>(r.lists())},
                                                 {"watches", static_cast<int64_t>(r.watches())}}));
    },
  };
}

}  // namespace

caf::actor spawn_watch_stream(caf::local_actor* parent, WatchStreamOptions opts) {
  return parent->spawn(watch_stream_fn, std::move(opts));
}

}  // namespace omed::actors
