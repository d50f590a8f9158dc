// The agent role: model resource actors decide (level-triggered) whether this node should hold a
// model; the downloader runs the jobs on detached workers; the reporter writes what happened.
#include "omed/actors/model_agent.hpp"

#include <deque>
#include <map>
#include <mutex>
#include <set>

#include "omed/actors/watch_stream.hpp"
#include "omed/agent/download_metrics.hpp"
#include "omed/common/base64.hpp"
#include "omed/k8s/client.hpp"
#include "omed/k8s/node_affinity.hpp"
#include "omed/k8s/resource.hpp"
#include "omed/k8s/rest_client.hpp"
#include "omed/log/logger.hpp"
#include "omed/metrics/registry.hpp"

namespace omed::actors {

namespace {

std::string uri_of(const json::Value& model) {
  const json::Value* u = model.at_path("spec.storage.storageUri");
  return u && u->is_string() ? u->as_string() : std::string();
}

std::string model_key(const json::Value& model) { return agent::model_ref(model).display(); }

}  // namespace

struct ModelAgent::Impl {
  ModelAgentOptions opts;
  std::unique_ptr<k8s::RestClient> rest;
  std::unique_ptr<k8s::Client> client;
  std::unique_ptr<Controller> watcher;
  log::Logger log{"agent"};

  std::mutex mu;
  std::shared_ptr<const json::Value> node;  // this node as last seen; null until the first event
  downloader_actor downloader;
  reporter_actor reporter;

  metrics::Counter* jobs_total = nullptr;
  metrics::Gauge* models_ready = nullptr;
  // Shared with the detached workers, which report progress into it from their own threads.
  std::shared_ptr<agent::DownloadMetrics> downloads;

  std::shared_ptr<const json::Value> node_snapshot() {
    std::lock_guard<std::mutex> lk(mu);
    return node;
  }
  downloader_actor downloader_handle() {
    std::lock_guard<std::mutex> lk(mu);
    return downloader;
  }
  reporter_actor reporter_handle() {
    std::lock_guard<std::mutex> lk(mu);
    return reporter;
  }
};

namespace {

using Impl = ModelAgent::Impl;

// ------------------------------------------------------------------ reporter

struct Pending {
  std::string label_key;
  std::string entry;  // "" removes the entry and the label
  bool urgent = false;
};

struct ReporterState {
  std::shared_ptr<Impl> impl;
  bool loaded = false;
  bool cm_exists = false;
  std::map<std::string, Pending> dirty;                 // by ConfigMap key
  std::map<std::string, std::string> written;           // ConfigMap key -> entry text
  std::map<std::string, std::string> labels;            // label key -> value
  std::map<std::string, std::chrono::steady_clock::time_point> last_write;
  bool tick_scheduled = false;
  caf::actor_addr me;
  log::Logger log{"agent.reporter"};
  static inline const char* name = "omed.reporter";
  // A detached actor's thread waits until no handle is left: Impl must not keep ours alive.
  ~ReporterState() {
    if (!impl)
      return;
    std::lock_guard<std::mutex> lk(impl->mu);
    if (impl->reporter && impl->reporter.address() == me)
      impl->reporter = reporter_actor{};
  }
};

const k8s::ResourceInfo& configmaps() {
  static const k8s::ResourceInfo ri = *k8s::find_well_known("v1", "ConfigMap");
  return ri;
}

const k8s::ResourceInfo& nodes() {
  static const k8s::ResourceInfo ri = *k8s::find_well_known("v1", "Node");
  return ri;
}

std::string label_value(const std::string& entry_text) {
  if (entry_text.empty())
    return {};
  json::Value v;
  std::string err;
  if (!json::try_parse(entry_text, v, err))
    return {};
  auto e = agent::entry_from_json(v);
  if (!e || e->state == agent::NodeModelState::Deleted)
    return {};
  return agent::state_name(e->state);
}

// Reads what this node's ConfigMap and labels say now, so a restarted agent writes only changes.
void load_written(ReporterState& st) {
  auto& im = *st.impl;
  const std::string& node = im.opts.settings.node_name;
  st.written.clear();
  st.labels.clear();
  if (auto cm = im.client->try_get(configmaps(), agent::kReportNamespace, node)) {
    st.cm_exists = true;
    if (const json::Value* data = cm->get("data"); data && data->is_object())
      for (const auto& m : data->as_object())
        if (m.value.is_string())
          st.written[m.key] = m.value.as_string();
  } else {
    st.cm_exists = false;
  }
  if (auto n = im.client->try_get(nodes(), "", node))
    for (const auto& [k, v] : k8s::node_labels(*n))
      if (k.rfind(agent::kLabelPrefix, 0) == 0)
        st.labels[k] = v;
  st.loaded = true;
}

json::Value configmap_for(const std::string& node, json::Object data) {
  return json::Value(json::Object{
    {"apiVersion", json::Value("v1")},
    {"kind", json::Value("ConfigMap")},
    {"metadata", json::Value(json::Object{
                   {"name", json::Value(node)},
                   {"namespace", json::Value(agent::kReportNamespace)},
                   {"labels", json::Value(json::Object{{agent::kReportLabel, json::Value("true")},
                                                       {"node", json::Value(node)}})},
                   {"annotations", json::Value(json::Object{{"models.ome.io/node-name", json::Value(node)},
                                                            {"models.ome.io/managed-by", json::Value("omed-agent")}})},
                 })},
    {"data", json::Value(std::move(data))},
  });
}

// Writes the due entries: urgent ones now, progress at most once per interval per model.
void flush(ReporterState& st) {
  auto& im = *st.impl;
  const std::string& node = im.opts.settings.node_name;
  if (!st.loaded)
    load_written(st);
  auto now = std::chrono::steady_clock::now();
  json::Object data_patch, label_patch;
  std::vector<std::string> due;
  for (auto& [key, p] : st.dirty) {
    auto lw = st.last_write.find(key);
    bool throttled = !p.urgent && lw != st.last_write.end() && now - lw->second < im.opts.progress_interval;
    if (throttled)
      continue;
    due.push_back(key);
    auto w = st.written.find(key);
    if (p.entry.empty() ? w != st.written.end() : (w == st.written.end() || w->second != p.entry))
      data_patch.set(key, p.entry.empty() ? json::Value(nullptr) : json::Value(p.entry));
    std::string want = label_value(p.entry);
    auto l = st.labels.find(p.label_key);
    std::string have = l == st.labels.end() ? std::string() : l->second;
    if (want != have)
      label_patch.set(p.label_key, want.empty() ? json::Value(nullptr) : json::Value(want));
  }
  if (due.empty())
    return;
  try {
    if (!data_patch.empty()) {
      if (!st.cm_exists) {
        json::Object data;
        for (auto& [k, v] : st.written)
          data.set(k, json::Value(v));
        for (auto& m : data_patch)
          if (m.value.is_null())
            data.erase(m.key);
          else
            data.set(m.key, m.value);
        try {
          im.client->create(configmaps(), configmap_for(node, std::move(data)));
        } catch (const k8s::ApiError& e) {
          if (e.code() != 409)
            throw;
          st.loaded = false;  // someone created it meanwhile: re-read and patch next tick
          return;
        }
        st.cm_exists = true;
      } else {
        json::Value patch(json::Object{{"data", json::Value(data_patch)}});
        try {
          im.client->patch(configmaps(), agent::kReportNamespace, node, k8s::PatchType::Merge, json::dump(patch));
        } catch (const k8s::ApiError& e) {
          if (e.code() != 404)
            throw;
          st.cm_exists = false;  // deleted under us (the node's entry cleanup): recreate next tick
          return;
        }
      }
      for (auto& m : data_patch)
        if (m.value.is_null())
          st.written.erase(m.key);
        else
          st.written[m.key] = m.value.as_string();
    }
    if (!label_patch.empty()) {
      json::Value patch(json::Object{{"metadata", json::Value(json::Object{{"labels", json::Value(label_patch)}})}});
      im.client->patch(nodes(), "", node, k8s::PatchType::Merge, json::dump(patch));
      for (auto& m : label_patch)
        if (m.value.is_null())
          st.labels.erase(m.key);
        else
          st.labels[m.key] = m.value.as_string();
    }
    for (auto& k : due) {
      st.dirty.erase(k);
      st.last_write[k] = now;
    }
  } catch (const std::exception& e) {
    // Kept dirty: the next tick tries again (a dead API server must not lose a report).
    st.log.warn("cannot write the node's model report; will retry").kv("node", node).kv("error", e.what());
  }
}

reporter_actor::behavior_type reporter_fn(reporter_actor::stateful_pointer<ReporterState> self,
                                          std::shared_ptr<Impl> impl) {
  self->state.impl = impl;
  self->state.me = self->address();
  self->set_exception_handler(exception_to_error);
  auto schedule = [self] {
    if (self->state.tick_scheduled)
      return;
    self->state.tick_scheduled = true;
    self->delayed_send(self, std::chrono::seconds(1), flush_atom_v);
  };
  return {
    [self, schedule](report_atom, const std::string& cm_key, const std::string& label_key, const std::string& entry,
                     bool urgent) {
      auto& p = self->state.dirty[cm_key];
      p.label_key = label_key;
      p.entry = entry;
      p.urgent = p.urgent || urgent;
      if (urgent)
        flush(self->state);
      if (!self->state.dirty.empty())
        schedule();
    },
    [self, schedule](flush_atom) {
      self->state.tick_scheduled = false;
      flush(self->state);
      if (!self->state.dirty.empty())
        schedule();
    },
  };
}

// ------------------------------------------------------------------ downloader

struct Job {
  std::string fingerprint;
  std::shared_ptr<const json::Value> model;
  std::string cm_key, label_key;
  std::filesystem::path dir;
  enum class Phase { Queued, Running, Ready, Failed, Removing } phase = Phase::Queued;
  std::shared_ptr<std::atomic<bool>> cancel;
  int failures = 0;
  bool remove_after = false;  // forget arrived while the worker still ran
};

struct DownloaderState {
  std::shared_ptr<Impl> impl;
  std::map<std::string, Job> jobs;
  std::deque<std::string> queue;
  size_t running = 0;
  log::Logger log{"agent.downloader"};
  static inline const char* name = "omed.downloader";
  caf::actor_addr me;
  // Stopping (shutdown or restart): every worker stops soon; partial downloads stay resumable.
  ~DownloaderState() {
    for (auto& [key, job] : jobs)
      if (job.cancel)
        job.cancel->store(true);
    if (!impl)
      return;
    std::lock_guard<std::mutex> lk(impl->mu);
    if (impl->downloader && impl->downloader.address() == me)
      impl->downloader = downloader_actor{};
  }
};

using downloader_ptr = downloader_actor::stateful_pointer<DownloaderState>;

void report(downloader_ptr self, const Job& job, const std::string& entry, bool urgent) {
  if (auto r = self->state.impl->reporter_handle())
    self->send(r, report_atom_v, job.cm_key, job.label_key, entry, urgent);
}

void start_next(downloader_ptr self);

// A worker: a detached actor (its own thread) that runs one blocking job and reports back.
void start_worker(downloader_ptr self, const std::string& key, Job& job) {
  auto& st = self->state;
  job.phase = Job::Phase::Running;
  job.cancel = std::make_shared<std::atomic<bool>>(false);
  st.running++;
  if (st.impl->jobs_total)
    st.impl->jobs_total->inc();
  auto settings = st.impl->opts.settings;
  auto interval = st.impl->opts.progress_interval;
  auto model = job.model;
  auto fp = job.fingerprint;
  auto cancel = job.cancel;
  auto downloads = st.impl->downloads;
  auto name = agent::model_ref(*model).name;
  auto parent = caf::actor_cast<downloader_actor>(self);
  self->spawn<caf::detached>([=](caf::event_based_actor* w) {
    auto last = std::chrono::steady_clock::now() - interval;
    auto progress = [&](const agent::Progress& p) {
      auto now = std::chrono::steady_clock::now();
      if (now - last < interval / 5)
        return;  // the reporter throttles the writes; this only bounds the messages
      last = now;
      if (downloads)
        downloads->progress(key, p);
      agent::ModelEntry e;
      e.name = name;
      e.state = agent::NodeModelState::Updating;
      e.progress = p;
      w->send(parent, progress_atom_v, key, fp, json::dump(agent::entry_to_json(e)), false);
    };
    agent::JobResult r;
    try {
      r = agent::run_model_job(*model, settings, *cancel, progress);
    } catch (const std::exception& ex) {
      r.state = agent::NodeModelState::Failed;
      r.message = std::string("internal error: ") + ex.what();
    }
    if (downloads)
      downloads->finished(key, r.state == agent::NodeModelState::Ready);
    agent::ModelEntry e;
    e.name = name;
    e.state = r.state;
    e.config = r.config;
    e.message = r.message;
    json::Value v = agent::entry_to_json(e);
    if (!r.retryable)
      v["_noRetry"] = true;  // for the downloader only; stripped before the report
    w->send(parent, progress_atom_v, key, fp, json::dump(v), true);
    w->quit();
  });
}

void start_next(downloader_ptr self) {
  auto& st = self->state;
  while (st.running < std::max<size_t>(1, st.impl->opts.workers) && !st.queue.empty()) {
    auto key = st.queue.front();
    st.queue.pop_front();
    auto it = st.jobs.find(key);
    if (it == st.jobs.end() || it->second.phase != Job::Phase::Queued)
      continue;
    start_worker(self, key, it->second);
  }
}

bool dir_shared(const DownloaderState& st, const std::string& key, const std::filesystem::path& dir) {
  for (const auto& [k, j] : st.jobs)
    if (k != key && j.dir == dir && j.phase != Job::Phase::Removing)
      return true;
  return false;
}

// Removes the files (unless kept or shared), then the report entry and label.
void remove_job(downloader_ptr self, const std::string& key) {
  auto& st = self->state;
  auto it = st.jobs.find(key);
  if (it == st.jobs.end())
    return;
  Job& job = it->second;
  job.phase = Job::Phase::Removing;
  if (st.impl->downloads)
    st.impl->downloads->forget(key);
  bool delete_files = !agent::files_are_kept(*job.model) && !dir_shared(st, key, job.dir);
  auto dir = job.dir;
  auto parent = caf::actor_cast<downloader_actor>(self);
  std::string fp = job.fingerprint;
  self->spawn<caf::detached>([=](caf::event_based_actor* w) {
    std::string outcome;
    if (delete_files) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
      if (ec)
        outcome = "cannot remove " + dir.string() + ": " + ec.message();
    }
    w->send(parent, progress_atom_v, key, "removed:" + fp, outcome, true);
    w->quit();
  });
  st.log.with_object(key).info("removing model from node").kv("dir", dir.string()).kv("delete_files", delete_files);
}

downloader_actor::behavior_type downloader_fn(downloader_ptr self, std::shared_ptr<Impl> impl) {
  self->state.impl = impl;
  self->state.me = self->address();
  self->set_exception_handler(exception_to_error);
  return {
    [self](ensure_atom, const std::string& key, ObjectEvent& ev) {
      auto& st = self->state;
      if (!ev.object)
        return;
      auto fp = agent::job_fingerprint(*ev.object);
      auto it = st.jobs.find(key);
      if (it != st.jobs.end()) {
        Job& j = it->second;
        if (j.phase == Job::Phase::Removing) {
          j.remove_after = false;
          return;  // comes back through a fresh ensure once removal finished
        }
        j.model = ev.object;
        if (j.fingerprint == fp) {
          bool retry_now = j.phase == Job::Phase::Failed && ev.type == "RETRY";
          if (!retry_now)
            return;  // level-triggered: the same wish again changes nothing
        } else if (j.phase == Job::Phase::Running) {
          j.cancel->store(true);  // the storage changed: the old transfer stops, a new one starts
          st.log.with_object(key).info("storage changed; restarting the download");
        }
        j.fingerprint = fp;
        if (j.phase != Job::Phase::Running) {
          j.phase = Job::Phase::Queued;
          st.queue.push_back(key);
        }
      } else {
        Job j;
        j.fingerprint = fp;
        j.model = ev.object;
        auto ref = agent::model_ref(*ev.object);
        j.cm_key = agent::configmap_key(ref);
        j.label_key = agent::node_label_key(ref);
        j.dir = agent::model_dir(*ev.object, st.impl->opts.settings);
        st.jobs.emplace(key, std::move(j));
        st.queue.push_back(key);
        st.log.with_object(key).info("model targets this node").kv("uri", uri_of(*ev.object));
      }
      Job& j = st.jobs[key];
      // A retry keeps showing the failure until it gets somewhere; new work shows "Scanning".
      if (j.phase == Job::Phase::Queued && ev.type != "RETRY") {
        agent::ModelEntry e;
        e.name = agent::model_ref(*ev.object).name;
        e.state = agent::NodeModelState::Updating;
        e.progress = agent::Progress{"Scanning", 0, 0, 0, 0, 0, ""};
        report(self, j, json::dump(agent::entry_to_json(e)), true);
      }
      start_next(self);
    },
    [self](forget_atom, const std::string& key, ObjectEvent& ev) {
      auto& st = self->state;
      auto it = st.jobs.find(key);
      if (it == st.jobs.end()) {
        // Not ours now, but a previous incarnation may have reported it: remove the entry.
        if (!ev.object)
          return;
        auto ref = agent::model_ref(*ev.object);
        if (auto r = st.impl->reporter_handle())
          self->send(r, report_atom_v, agent::configmap_key(ref), agent::node_label_key(ref), std::string(), true);
        return;
      }
      Job& j = it->second;
      if (ev.object)
        j.model = ev.object;
      if (j.phase == Job::Phase::Removing)
        return;
      if (j.phase == Job::Phase::Running) {
        j.cancel->store(true);
        j.remove_after = true;  // once the worker has stopped writing
        return;
      }
      remove_job(self, key);
    },
    [self](progress_atom, const std::string& key, const std::string& fp, const std::string& entry, bool final) {
      auto& st = self->state;
      auto it = st.jobs.find(key);
      if (it == st.jobs.end())
        return;
      Job& j = it->second;
      if (fp.rfind("removed:", 0) == 0) {
        if (!entry.empty())
          st.log.with_object(key).warn("model files not fully removed").kv("error", entry);
        report(self, j, std::string(), true);
        st.jobs.erase(it);
        return;
      }
      if (final && j.phase == Job::Phase::Running) {
        st.running--;
        start_next(self);
      }
      if (j.remove_after && final) {
        remove_job(self, key);
        return;
      }
      if (fp != j.fingerprint) {
        if (final && j.phase == Job::Phase::Running) {
          j.phase = Job::Phase::Queued;  // the restart asked for when the storage changed
          st.queue.push_back(key);
          start_next(self);
        }
        return;  // a stale worker's words
      }
      if (!final) {
        report(self, j, entry, false);
        return;
      }
      json::Value v;
      std::string err;
      if (!json::try_parse(entry, v, err))
        return;
      bool no_retry = v.get("_noRetry") != nullptr;
      v.as_object().erase("_noRetry");
      auto e = agent::entry_from_json(v);
      if (e && e->state == agent::NodeModelState::Ready) {
        j.phase = Job::Phase::Ready;
        j.failures = 0;
        auto line = st.log.with_object(key).info("model ready on this node");
        line.kv("dir", j.dir.string());
        if (!e->message.empty())
          line.kv("note", e->message);  // e.g. reused while the source was unreachable
      } else {
        j.phase = Job::Phase::Failed;
        j.failures++;
        auto delay = controller::failure_backoff(j.failures + 4);  // 8 s, 16 s, ... 5 min
        st.log.with_object(key)
          .warn("model failed on this node")
          .kv("error", e ? e->message : std::string("?"))
          .kv("retry", no_retry ? std::string("on change only") : std::to_string(delay.count() / 1000) + "s");
        if (!no_retry)
          self->delayed_send(self, delay, ensure_atom_v, key, ObjectEvent{"RETRY", j.model});
      }
      report(self, j, json::dump(v), true);
    },
  };
}

}  // namespace

ModelAgent::ModelAgent(ModelAgentOptions opts) : impl_(std::make_shared<Impl>()) {
  auto& im = *impl_;
  im.opts = std::move(opts);
  if (im.opts.settings.blob_dir.empty())
    im.opts.settings.blob_dir = im.opts.settings.models_root / ".omed-blobs";
  auto co = im.opts.client;
  co.metrics = im.opts.metrics;
  co.user_agent = "omed-agent/" OMED_VERSION " (" + im.opts.settings.node_name + ")";
  im.rest = std::make_unique<k8s::RestClient>(im.opts.rest, co);
  im.client = std::make_unique<k8s::Client>(*im.rest);
  if (!im.opts.settings.read_secret) {
    k8s::Client* client = im.client.get();
    im.opts.settings.read_secret = [client](const std::string& ns, const std::string& name,
                                            const std::string& key) -> std::optional<std::string> {
      auto s = client->try_get(*k8s::find_well_known("v1", "Secret"), ns, name);
      if (!s)
        return std::nullopt;
      if (key.empty())
        return std::string();  // the Secret exists
      if (const json::Value* d = s->at_path("stringData." + key); d && d->is_string())
        return d->as_string();
      const json::Value* d = s->get("data") ? s->get("data")->get(key) : nullptr;
      if (!d || !d->is_string())
        return std::nullopt;
      std::string out;
      if (!common::base64_decode(d->as_string(), out))
        return std::nullopt;
      return out;
    };
  }
  im.downloads = std::make_shared<agent::DownloadMetrics>(im.opts.metrics, im.opts.settings.node_name);
  im.opts.settings.counters = im.downloads->counters();
  if (im.opts.metrics) {
    im.jobs_total = &im.opts.metrics->counter("omed_agent_model_jobs_total", "Model download/parse jobs started.").get();
  }

  std::weak_ptr<Impl> weak = impl_;
  ControllerOptions wo;
  wo.rest = im.opts.rest;
  wo.client = im.opts.client;
  wo.leader_election = false;
  wo.kinds = {"BaseModel", "ClusterBaseModel", "FineTunedWeight"};  // adapters are fetched like models
  wo.owned = {};
  wo.watch_nodes = false;
  wo.supervision = im.opts.supervision;
  wo.metrics = nullptr;  // the controller's metrics are the controller role's
  wo.name_prefix = im.opts.name_prefix + "agent/";
  ObservedKind node_kind;
  node_kind.resource = *k8s::find_well_known("v1", "Node");
  node_kind.field_selector = "metadata.name=" + im.opts.settings.node_name;
  auto watcher_slot = std::make_shared<Controller*>(nullptr);
  node_kind.on_object = [weak, watcher_slot](const json::Value& node) {
    auto i = weak.lock();
    if (!i)
      return;
    {
      std::lock_guard<std::mutex> lk(i->mu);
      if (i->node && *i->node == node)
        return;
      i->node = std::make_shared<const json::Value>(node);
    }
    // Labels may have changed which models target this node: every model actor looks again.
    if (*watcher_slot) {
      (*watcher_slot)->resync("BaseModel");
      (*watcher_slot)->resync("ClusterBaseModel");
      (*watcher_slot)->resync("FineTunedWeight");
    }
  };
  wo.observed.push_back(node_kind);
  wo.make_reconciler = [weak](const std::string&, const std::string&) -> Reconciler {
    return [weak](const controller::Input& in) {
      controller::Plan p;
      p.wants_finalizer = false;  // the controller holds the finalizer; the agent only reports
      p.write_status = false;
      auto i = weak.lock();
      if (!i)
        return p;
      auto node = i->node_snapshot();
      auto d = i->downloader_handle();
      if (!node || !d)
        return p;  // the node's first event resyncs every model
      auto obj = std::make_shared<const json::Value>(in.object);
      std::string uri = uri_of(in.object);
      bool wanted = !controller::is_deleting(in.object) && agent::storage_targets_node(in.object, *node) &&
                    uri.rfind("pvc://", 0) != 0;
      if (wanted)
        caf::anon_send(d, ensure_atom_v, model_key(in.object), ObjectEvent{"SYNC", obj});
      else
        caf::anon_send(d, forget_atom_v, model_key(in.object), ObjectEvent{"SYNC", obj});
      return p;
    };
  };
  wo.on_deleted = [weak](const std::string&, const std::string&, const json::Value& last) {
    auto i = weak.lock();
    if (!i)
      return;
    if (auto d = i->downloader_handle())
      caf::anon_send(d, forget_atom_v, model_key(last),
                     ObjectEvent{"DELETED", std::make_shared<const json::Value>(last)});
  };
  im.watcher = std::make_unique<Controller>(std::move(wo));
  *watcher_slot = im.watcher.get();
}

ModelAgent::~ModelAgent() = default;

const ModelAgentOptions& ModelAgent::options() const { return impl_->opts; }

std::vector<ChildSpec> ModelAgent::children() {
  auto impl = impl_;
  std::vector<ChildSpec> out;
  const std::string& pre = impl->opts.name_prefix;
  // Reporter and downloader first: the model actors send to them from their first reconcile.
  out.push_back({pre + "agent/reporter", [impl](caf::local_actor* parent) {
                   auto h = parent->spawn<caf::detached>(reporter_fn, impl);
                   std::lock_guard<std::mutex> lk(impl->mu);
                   impl->reporter = h;
                   return caf::actor_cast<caf::actor>(h);
                 }});
  out.push_back({pre + "agent/downloader", [impl](caf::local_actor* parent) {
                   auto h = parent->spawn(downloader_fn, impl);
                   {
                     std::lock_guard<std::mutex> lk(impl->mu);
                     impl->downloader = h;
                   }
                   // A restarted downloader knows no job: every model actor says again what it wants.
                   impl->watcher->resync("BaseModel");
                   impl->watcher->resync("ClusterBaseModel");
                   impl->watcher->resync("FineTunedWeight");
                   return caf::actor_cast<caf::actor>(h);
                 }});
  for (auto& c : impl->watcher->children())
    out.push_back(std::move(c));
  return out;
}

}  // namespace omed::actors
