// Wiring of the controller role. Everything outliving individual actors (the HTTP client, the
// kind directory, the current elector) lives in Controller::Impl; actors reach it by pointer.
#include "omed/actors/controller.hpp"

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "omed/actors/applier.hpp"
#include "omed/actors/watch_stream.hpp"
#include "omed/api/kinds.hpp"
#include "omed/controller/admission.hpp"
#include "omed/k8s/client.hpp"
#include "omed/k8s/discovery.hpp"
#include "omed/k8s/event_recorder.hpp"
#include "omed/log/logger.hpp"
#include "omed/metrics/registry.hpp"
#include "omed/runtime/readiness.hpp"

namespace omed::actors {

std::vector<k8s::ResourceInfo> default_owned_resources() {
  std::vector<k8s::ResourceInfo> out;
  for (auto [api_version, kind] : std::vector<std::pair<const char*, const char*>>{
         {"apps/v1", "Deployment"}, {"v1", "Service"}, {"batch/v1", "Job"},
         {"autoscaling/v2", "HorizontalPodAutoscaler"}, {"policy/v1", "PodDisruptionBudget"},
         {"networking.k8s.io/v1", "Ingress"}, {"v1", "Pod"}})
    out.push_back(*k8s::find_well_known(api_version, kind));
  return out;
}

struct Controller::Impl {
  ControllerOptions opts;
  std::unique_ptr<k8s::RestClient> rest;
  std::unique_ptr<k8s::Client> client;
  std::unique_ptr<k8s::Discovery> discovery;
  std::unique_ptr<k8s::EventRecorder> events;
  KindDirectory directory;
  log::Logger log{"controller"};

  std::mutex applier_mu;
  applier_actor applier;

  // The elector of the current elector actor incarnation (replaced when it restarts).
  mutable std::mutex elector_mu;
  std::shared_ptr<k8s::LeaderElector> elector;
  metrics::Gauge* leader_gauge = nullptr;

  std::mutex synced_mu;
  std::set<std::string> unsynced;

  bool is_leader() const {
    if (!opts.leader_election)
      return true;
    std::lock_guard<std::mutex> lk(elector_mu);
    return elector && elector->is_leader();
  }
};

namespace {

struct ElectorState {
  std::shared_ptr<Controller::Impl> impl;
  std::shared_ptr<k8s::LeaderElector> elector;
  std::thread thread;
  static inline const char* name = "omed.elector";
  ~ElectorState() {
    if (elector)
      elector->stop();  // releases the lease so a standby takes over at once
    if (thread.joinable())
      thread.join();
  }
};

// The elector actor: the election loop runs on its own thread; leadership changes become
// readiness, a metric, and a resync of every resource actor when we start leading.
caf::behavior elector_fn(caf::stateful_actor<ElectorState>* self, std::shared_ptr<Controller::Impl> impl) {
  auto& st = self->state;
  st.impl = impl;
  st.elector = std::make_shared<k8s::LeaderElector>(*impl->client, impl->opts.election);
  std::weak_ptr<Controller::Impl> weak = impl;
  st.elector->on_started_leading = [weak] {
    auto im = weak.lock();
    if (!im)
      return;
    im->log.info("started leading").kv("identity", im->opts.election.identity);
    if (im->leader_gauge)
      im->leader_gauge->set(1);
    if (im->opts.readiness)
      im->opts.readiness->open("leader");
    for (auto& ks : im->directory.all())
      caf::anon_send(ks, resync_atom_v);  // reconcile everything now that our writes count
  };
  st.elector->on_stopped_leading = [weak] {
    auto im = weak.lock();
    if (!im)
      return;
    im->log.warn("stopped leading").kv("identity", im->opts.election.identity);
    if (im->leader_gauge)
      im->leader_gauge->set(0);
    if (im->opts.readiness)
      im->opts.readiness->close("leader", "not the leader (standby)");
  };
  st.elector->on_new_leader = [weak](const std::string& holder) {
    if (auto im = weak.lock())
      im->log.info("leader observed").kv("holder", holder.empty() ? "<none>" : holder);
  };
  {
    std::lock_guard<std::mutex> lk(impl->elector_mu);
    impl->elector = st.elector;
  }
  auto el = st.elector;
  st.thread = std::thread([el] { el->run(); });
  return {[](caf::get_atom) { return std::string("elector"); }};
}

Reconciler admission_reconciler(const std::string&, const std::string&) {
  return [](const controller::Input& in) { return controller::admission_plan(in); };
}

}  // namespace

Controller::Controller(ControllerOptions opts) : impl_(std::make_shared<Impl>()) {
  auto& im = *impl_;
  im.opts = std::move(opts);
  if (im.opts.kinds.empty())
    for (auto& k : api::all_kinds())
      im.opts.kinds.push_back(k.kind);
  if (im.opts.election.identity.empty())
    im.opts.election.identity = k8s::default_identity();
  if (!im.opts.make_reconciler)
    im.opts.make_reconciler = admission_reconciler;
  auto co = im.opts.client;
  co.metrics = im.opts.metrics;
  co.user_agent = "omed/" OMED_VERSION " (" + im.opts.election.identity + ")";
  im.rest = std::make_unique<k8s::RestClient>(im.opts.rest, co);
  im.client = std::make_unique<k8s::Client>(*im.rest);
  im.discovery = std::make_unique<k8s::Discovery>(*im.rest);
  k8s::EventRecorderOptions eo;
  eo.reporting_instance = im.opts.election.identity;
  eo.dry_run = im.opts.dry_run;
  im.events = std::make_unique<k8s::EventRecorder>(*im.client, eo);
  if (im.opts.metrics) {
    im.leader_gauge = &im.opts.metrics->gauge("omed_leader", "1 while this replica holds the leader lease.").get();
    im.leader_gauge->set(im.opts.leader_election ? 0 : 1);
  }
  if (im.opts.readiness) {
    im.opts.readiness->add("watches", "watch streams have not listed yet");
    if (im.opts.leader_election)
      im.opts.readiness->add("leader", "not the leader (standby)");
  }
}

Controller::~Controller() = default;

bool Controller::is_leader() const { return impl_->is_leader(); }

void Controller::requeue(const std::string& kind, const std::string& key) {
  if (auto e = impl_->directory.get(kind))
    caf::anon_send(e->handle, requeue_atom_v, key);
}

void Controller::resync(const std::string& kind) {
  if (auto e = impl_->directory.get(kind))
    caf::anon_send(e->handle, resync_atom_v);
}
KindDirectory& Controller::directory() { return impl_->directory; }
const ControllerOptions& Controller::options() const { return impl_->opts; }

std::vector<ChildSpec> Controller::children() {
  auto impl = impl_;
  auto& im = *impl_;
  std::vector<ChildSpec> out;

  const std::string& pre = im.opts.name_prefix;
  out.push_back({pre + "applier", [impl](caf::local_actor* parent) {
                   ApplierOptions ao;
                   ao.client = impl->client.get();
                   ao.discovery = impl->discovery.get();
                   ao.events = impl->events.get();
                   ao.dry_run = impl->opts.dry_run;
                   ao.metrics = impl->opts.metrics;
                   std::weak_ptr<Impl> weak = impl;
                   ao.may_write = [weak] {
                     auto i = weak.lock();
                     return i && i->is_leader();
                   };
                   auto h = spawn_applier(parent, std::move(ao));
                   std::lock_guard<std::mutex> lk(impl->applier_mu);
                   impl->applier = h;
                   return caf::actor_cast<caf::actor>(h);
                 }});

  if (im.opts.leader_election)
    out.push_back({pre + "elector", [impl](caf::local_actor* parent) { return parent->spawn(elector_fn, impl); }});

  for (auto& c : im.opts.shared_children)
    out.push_back({pre + c.name, c.start});

  auto applier_ref = [weak = std::weak_ptr<Impl>(impl)]() -> applier_actor {
    auto i = weak.lock();
    if (!i)
      return {};
    std::lock_guard<std::mutex> lk(i->applier_mu);
    return i->applier;
  };

  for (auto& kind : im.opts.kinds) {
    auto* info = api::find_kind(kind);
    KindOptions ko;
    ko.kind = kind;
    ko.supervision = im.opts.supervision;
    ko.supervision.metrics = im.opts.metrics;
    ko.applier = applier_ref;
    ko.make_reconciler = [impl, kind](const std::string& key) { return impl->opts.make_reconciler(kind, key); };
    bool namespaced = info ? info->namespaced : true;
    ko.on_started = [impl, kind, namespaced](kind_supervisor_actor h) { impl->directory.put(kind, h, namespaced); };
    if (im.opts.on_deleted)
      ko.on_deleted = [impl, kind](const std::string& key, const json::Value& last) {
        impl->opts.on_deleted(kind, key, last);
      };
    out.push_back({pre + "kind/" + kind, [ko](caf::local_actor* p) {
                     return caf::actor_cast<caf::actor>(spawn_kind_supervisor(p, ko));
                   }});
  }

  // Observed kinds: an actor per object that plans no writes and tells the hooks what it saw.
  auto observe = [&](const std::string& kind, std::function<void(const json::Value&)> on_object,
                     std::function<void(const std::string&, const json::Value&)> on_deleted) {
    KindOptions ko;
    ko.kind = kind;
    ko.supervision = im.opts.supervision;
    ko.supervision.metrics = im.opts.metrics;
    ko.make_reconciler = [on_object](const std::string&) -> Reconciler {
      return [on_object](const controller::Input& in) {
        if (on_object)
          on_object(in.object);
        controller::Plan p;
        p.wants_finalizer = false;
        p.write_status = false;
        return p;
      };
    };
    ko.on_deleted = std::move(on_deleted);
    ko.on_started = [impl, kind](kind_supervisor_actor h) { impl->directory.put(kind, h, false); };
    out.push_back({pre + "kind/" + kind, [ko](caf::local_actor* p) {
                     return caf::actor_cast<caf::actor>(spawn_kind_supervisor(p, ko));
                   }});
  };
  // The Node actors hold each node as the cluster reports it: the GPU inventory placement reads.
  if (im.opts.watch_nodes)
    observe("Node", nullptr, nullptr);
  for (auto& ok : im.opts.observed)
    observe(ok.resource.kind, ok.on_object, ok.on_deleted);

  // Watch streams last: their first events find every kind supervisor registered.
  auto add_stream = [&](const k8s::ResourceInfo& ri, bool by_owner, const std::string& ns = "",
                        const std::string& labels = "", const std::string& fields = "",
                        const std::string& tag = "") {
    WatchStreamOptions wo;
    wo.client = im.client.get();
    wo.reflector.resource = ri;
    wo.reflector.ns = ri.namespaced ? (ns.empty() ? im.opts.watch_namespace : ns) : "";
    wo.reflector.label_selector = labels;
    wo.reflector.field_selector = fields;
    wo.reflector.backoff_initial = im.opts.watch_backoff_initial;
    wo.reflector.seed = im.opts.supervision.seed;
    wo.directory = &im.directory;
    wo.metrics = im.opts.metrics;
    wo.route_by_owner = by_owner;
    if (by_owner) {
      wo.reflector.label_selector = im.opts.owned_selector;
      wo.owner_kinds = im.opts.kinds;
    }
    // A kind both owned and observed (Pods) gets two streams: their names must differ.
    std::string name = pre + "watch/" + (ri.group.empty() ? ri.resource : ri.resource + "." + ri.group) + tag;
    {
      std::lock_guard<std::mutex> lk(im.synced_mu);
      im.unsynced.insert(name);
    }
    std::weak_ptr<Impl> weak = impl;
    wo.on_synced = [weak, name](const std::string&) {
      auto i = weak.lock();
      if (!i)
        return;
      std::lock_guard<std::mutex> lk(i->synced_mu);
      if (i->unsynced.erase(name) && i->unsynced.empty() && i->opts.readiness)
        i->opts.readiness->open("watches");
    };
    out.push_back({name, [wo](caf::local_actor* p) { return spawn_watch_stream(p, wo); }});
  };
  for (auto& kind : im.opts.kinds) {
    auto* info = api::find_kind(kind);
    if (!info)
      continue;
    add_stream(k8s::ResourceInfo{"ome.io", "v1beta1", info->plural, info->kind, info->namespaced}, false);
  }
  if (im.opts.watch_nodes)
    add_stream(*k8s::find_well_known("v1", "Node"), false);
  for (auto& ok : im.opts.observed)
    add_stream(ok.resource, false, ok.ns, ok.label_selector, ok.field_selector,
               std::any_of(im.opts.owned.begin(), im.opts.owned.end(),
                           [&](const k8s::ResourceInfo& o) { return o.kind == ok.resource.kind && o.group == ok.resource.group; })
                 ? "(observed)"
                 : "");
  for (auto& ri : im.opts.owned)
    add_stream(ri, true);
  return out;
}

}  // namespace omed::actors
