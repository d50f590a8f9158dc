// The control loops a real cluster runs beside its API server, scaled down: CRD registration
// and cleanup, namespace termination, and garbage collection by ownerReferences.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "internal.hpp"
#include "omed/common/strings.hpp"
#include "omed/common/yaml.hpp"

namespace omed::apiserver {

namespace {

class QueueListener : public StoreListener {
public:
  explicit QueueListener(ApiServer::Impl* im) : im_(im) {}
  void on_event(const StoreEvent& ev) override {
    bool was_empty;
    {
      std::lock_guard<std::mutex> lk(im_->ctl_mu);
      was_empty = im_->ctl_queue.empty();
      im_->ctl_queue.push_back(ev);
    }
    // The controller drains the whole queue each time it wakes: one wake-up per batch is enough.
    if (was_empty)
      im_->ctl_cv.notify_one();
  }

private:
  ApiServer::Impl* im_;
};

std::string field(const StoredObject& o, const std::string& k) {
  for (auto& [key, v] : o.fields)
    if (key == k)
      return v;
  return "";
}

bool has_finalizer(const json::Value& obj, const std::string& f) {
  auto* fs = obj.at_path("metadata.finalizers");
  if (!fs || !fs->is_array())
    return false;
  for (auto& x : fs->as_array())
    if (x.is_string() && x.as_string() == f)
      return true;
  return false;
}

bool remove_finalizer(json::Value& obj, const std::string& f) {
  auto* fs = obj.get("metadata") ? obj["metadata"].get("finalizers") : nullptr;
  if (!fs || !fs->is_array())
    return false;
  json::Array kept;
  bool removed = false;
  for (auto& x : fs->as_array()) {
    if (x.is_string() && x.as_string() == f)
      removed = true;
    else
      kept.push_back(x);
  }
  if (removed)
    *fs = std::move(kept);
  return removed;
}

}  // namespace

void ApiServer::Impl::register_crd(const json::Value& crd) {
  std::string why;
  auto rt = resource_from_crd(crd, why);
  if (!rt) {
    log.warn("CRD not served").kv("crd", crd.at_path("metadata.name") ? crd.at_path("metadata.name")->as_string() : "")
      .kv("reason", why);
    return;
  }
  // A CRD being deleted stays served until its objects are gone.
  registry.add(std::move(*rt));
}

void ApiServer::Impl::start_controllers() {
  ctl_listener = std::make_unique<QueueListener>(this);
  // Seed the garbage collector's indexes with what storage already holds.
  for (auto& rt : registry.all()) {
    if (storage_type(*rt) != rt.get())
      continue;
    auto page = store->list(rt->id(), "", {}, 0);
    for (size_t i = 0; i < page.items.size(); ++i) {
      StoreEvent ev;
      ev.resource = rt->id();
      ev.key = page.keys[i];
      ev.type = EventType::Added;
      ev.object = page.items[i];
      gc_observe(ev);
      // Finish deletions that a restart interrupted.
      if (!field(page.items[i], "metadata.deletionTimestamp").empty()) {
        std::lock_guard<std::mutex> lk(ctl_mu);
        ev.type = EventType::Modified;
        ctl_queue.push_back(ev);
      }
    }
  }
  auto sub = store->subscribe("", ctl_listener.get(), std::nullopt);
  ctl_sub = sub ? sub->id : 0;
  controller = std::thread([this] { controller_loop(); });
}

void ApiServer::Impl::stop_controllers() {
  if (ctl_sub && store)
    store->unsubscribe(ctl_sub);
  ctl_cv.notify_all();
  if (controller.joinable())
    controller.join();
}

void ApiServer::Impl::controller_loop() {
  std::unique_lock<std::mutex> lk(ctl_mu);
  while (running) {
    ctl_cv.wait_for(lk, std::chrono::milliseconds(200), [&] { return !ctl_queue.empty() || !running; });
    if (!running)
      break;
    std::deque<StoreEvent> batch;
    batch.swap(ctl_queue);
    lk.unlock();
    for (auto& ev : batch) {
      try {
        gc_observe(ev);
        if (ev.resource == "apiextensions.k8s.io/v1/customresourcedefinitions")
          crd_handle(ev);
        else if (ev.resource == "v1/namespaces")
          namespace_handle(ev);
        gc_handle(ev);
        requeue_waiters(ev);
      } catch (const std::exception& e) {
        log.error("controller step failed").kv("resource", ev.resource).kv("key", ev.key).kv("error", e.what());
      }
    }
    lk.lock();
  }
}

// ------------------------------------------------------------------ CRDs

void ApiServer::Impl::crd_handle(const StoreEvent& ev) {
  if (ev.type == EventType::Deleted) {
    json::Value crd = json::parse(*ev.object.json);
    std::string why;
    if (auto rt = resource_from_crd(crd, why))
      registry.remove(rt->group, rt->version, rt->plural);
    return;
  }
  if (field(ev.object, "metadata.deletionTimestamp").empty())
    return;
  json::Value crd = json::parse(*ev.object.json);
  if (!has_finalizer(crd, "customresourcecleanup.apiextensions.k8s.io"))
    return;
  std::string why;
  auto rt = resource_from_crd(crd, why);
  if (rt) {
    // Delete every custom resource first; finalizers on them are honoured (they stay until their
    // controllers finish), and we come back on their deletion events.
    auto page = store->list(rt->id(), "", {}, 0);
    bool pending = false;
    for (auto& key : page.keys) {
      auto out = internal_delete(*rt, key, "Background");
      if (out.ok && !out.deleted)
        pending = true;
    }
    if (pending || store->count(rt->id()) > 0)
      return;
  }
  auto crd_rt = registry.find("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  internal_update(*crd_rt, ev.key, [](json::Value& obj) {
    return remove_finalizer(obj, "customresourcecleanup.apiextensions.k8s.io");
  });
}

// ------------------------------------------------------------------ namespaces

void ApiServer::Impl::namespace_handle(const StoreEvent& ev) {
  if (ev.type == EventType::Deleted || field(ev.object, "metadata.deletionTimestamp").empty())
    return;
  const std::string& ns = ev.key;
  bool remaining = false;
  for (auto& rt : registry.all()) {
    if (!rt->namespaced || storage_type(*rt) != rt.get())
      continue;
    auto page = store->list(rt->id(), ns + "/", {}, 0);
    for (auto& key : page.keys) {
      auto out = internal_delete(*rt, key, "Background");
      if (!out.deleted)
        remaining = true;
    }
  }
  if (remaining)
    return;  // objects with finalizers: we are called again when they go
  auto ns_rt = registry.find("", "v1", "namespaces");
  internal_update(*ns_rt, ns, [](json::Value& obj) {
    auto* f = obj.at_path("spec.finalizers");
    if (!f || !f->is_array() || f->as_array().empty())
      return false;
    obj["spec"]["finalizers"] = json::Array{};
    return true;
  });
}

// ------------------------------------------------------------------ garbage collection

void ApiServer::Impl::gc_observe(const StoreEvent& ev) {
  auto uid = field(ev.object, "metadata.uid");
  auto owners = field(ev.object, "ownerReferences.uid");
  auto forget_dependent = [&](const StoredObject& o) {
    for (auto& ou : str::split(field(o, "ownerReferences.uid"), ','))
      if (!ou.empty()) {
        auto it = gc_dependents.find(ou);
        if (it != gc_dependents.end()) {
          it->second.erase({ev.resource, ev.key});
          if (it->second.empty())
            gc_dependents.erase(it);
        }
      }
  };
  if (ev.previous)
    forget_dependent(*ev.previous);
  if (ev.type == EventType::Deleted) {
    if (!uid.empty())
      gc_objects.erase(uid);
    return;
  }
  if (!uid.empty())
    gc_objects[uid] = {ev.resource, ev.key};
  for (auto& ou : str::split(owners, ','))
    if (!ou.empty())
      gc_dependents[ou].insert({ev.resource, ev.key});
}

void ApiServer::Impl::gc_handle(const StoreEvent& ev) {
  auto uid = field(ev.object, "metadata.uid");
  // A dependent whose owners are all gone is collected (it may have been created after them).
  if (ev.type != EventType::Deleted) {
    auto owners = str::split(field(ev.object, "ownerReferences.uid"), ',');
    bool any_owner = false, all_gone = true;
    for (auto& ou : owners) {
      if (ou.empty())
        continue;
      any_owner = true;
      if (gc_objects.count(ou))
        all_gone = false;
    }
    if (any_owner && all_gone && field(ev.object, "metadata.deletionTimestamp").empty())
      if (auto rt = registry.find_by_id(ev.resource))
        internal_delete(*rt, ev.key, "Background");
  }
  if (uid.empty())
    return;
  auto deps_it = gc_dependents.find(uid);
  if (ev.type == EventType::Deleted) {
    if (deps_it == gc_dependents.end())
      return;
    auto deps = deps_it->second;
    for (auto& [res, key] : deps) {
      auto cur = store->get(res, key);
      if (!cur)
        continue;
      bool other_owner = false;
      for (auto& ou : str::split(field(*cur, "ownerReferences.uid"), ','))
        if (!ou.empty() && ou != uid && gc_objects.count(ou))
          other_owner = true;
      if (!other_owner)
        if (auto rt = registry.find_by_id(res))
          internal_delete(*rt, key, "Background");
    }
    return;
  }
  if (field(ev.object, "metadata.deletionTimestamp").empty())
    return;
  json::Value obj = json::parse(*ev.object.json);
  auto rt = registry.find_by_id(ev.resource);
  if (!rt)
    return;
  if (has_finalizer(obj, "orphan")) {
    // Orphan: strip our ownerReference from every dependent, then let the owner go.
    if (deps_it != gc_dependents.end()) {
      auto deps = deps_it->second;
      for (auto& [res, key] : deps)
        if (auto drt = registry.find_by_id(res))
          internal_update(*drt, key, [&](json::Value& d) {
            auto* refs = d.at_path("metadata.ownerReferences");
            if (!refs || !refs->is_array())
              return false;
            json::Array kept;
            for (auto& ref : refs->as_array())
              if (ref.string_or("uid") != uid)
                kept.push_back(ref);
            if (kept.size() == refs->as_array().size())
              return false;
            if (kept.empty())
              d["metadata"].as_object().erase("ownerReferences");
            else
              d["metadata"]["ownerReferences"] = std::move(kept);
            return true;
          });
    }
    internal_update(*rt, ev.key, [](json::Value& o) { return remove_finalizer(o, "orphan"); });
    return;
  }
  if (has_finalizer(obj, "foregroundDeletion")) {
    // Foreground: dependents first; the owner stays until none is left.
    bool left = false;
    if (deps_it != gc_dependents.end()) {
      auto deps = deps_it->second;
      for (auto& [res, key] : deps)
        if (auto drt = registry.find_by_id(res)) {
          auto cur = store->get(res, key);
          if (!cur)
            continue;
          left = true;
          if (field(*cur, "metadata.deletionTimestamp").empty())
            internal_delete(*drt, key, "Foreground");
        }
    }
    if (!left)
      internal_update(*rt, ev.key, [](json::Value& o) { return remove_finalizer(o, "foregroundDeletion"); });
  }
}

// When an object goes, whatever waited for it (a foreground owner, a terminating namespace, a
// CRD being deleted) is looked at again.
void ApiServer::Impl::requeue_waiters(const StoreEvent& ev) {
  if (ev.type != EventType::Deleted)
    return;
  auto requeue = [&](const std::string& resource, const std::string& key) {
    auto cur = store->get(resource, key);
    if (!cur || field(*cur, "metadata.deletionTimestamp").empty())
      return;
    StoreEvent again;
    again.rv = cur->rv;
    again.resource = resource;
    again.key = key;
    again.type = EventType::Modified;
    again.object = *cur;
    std::lock_guard<std::mutex> lk(ctl_mu);
    ctl_queue.push_back(std::move(again));
  };
  for (auto& ou : str::split(field(ev.object, "ownerReferences.uid"), ','))
    if (auto it = gc_objects.find(ou); !ou.empty() && it != gc_objects.end())
      requeue(it->second.first, it->second.second);
  auto slash = ev.key.find('/');
  if (slash != std::string::npos)
    requeue("v1/namespaces", ev.key.substr(0, slash));
  if (auto rt = registry.find_by_id(ev.resource); rt && !rt->crd_name.empty())
    requeue("apiextensions.k8s.io/v1/customresourcedefinitions", rt->crd_name);
}

// ------------------------------------------------------------------ in-process access

size_t ApiServer::load_crds(const std::string& dir) {
  auto& im = *impl_;
  auto crd_rt = im.registry.find("apiextensions.k8s.io", "v1", "customresourcedefinitions");
  size_t n = 0;
  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file() && (e.path().extension() == ".yaml" || e.path().extension() == ".yml" ||
                                e.path().extension() == ".json"))
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    for (auto& doc : yaml::parse_all(ss.str())) {
      if (doc.string_or("kind") != "CustomResourceDefinition")
        continue;
      auto name = doc.at_path("metadata.name") ? doc.at_path("metadata.name")->as_string() : "";
      std::vector<std::string> warnings;
      if (auto e = im.admit(*crd_rt, doc, nullptr, nullptr, warnings))
        throw std::runtime_error(f.string() + ": " + e->message);
      if (auto cur = im.store->get(crd_rt->id(), name)) {
        // Already there (durable restart): update the spec, keep identity.
        auto spec = *doc.get("spec");
        im.internal_update(*crd_rt, name, [&](json::Value& obj) {
          if (*obj.get("spec") == spec)
            return false;
          obj["spec"] = spec;
          obj["metadata"]["generation"] = obj.at_path("metadata.generation")->as_int() + 1;
          return true;
        });
      } else {
        im.prepare_create(*crd_rt, doc);
        auto res = im.store->create(crd_rt->id(), name, doc, im.indexer(*crd_rt));
        (void)res;
      }
      if (auto cur = im.store->get(crd_rt->id(), name))
        im.register_crd(json::parse(*cur->json));
      ++n;
    }
  }
  return n;
}

json::Value ApiServer::create(const json::Value& obj_in) {
  auto& im = *impl_;
  auto api = obj_in.string_or("apiVersion");
  auto kind = obj_in.string_or("kind");
  auto slash = api.find('/');
  std::string group = slash == std::string::npos ? "" : api.substr(0, slash);
  auto rt = im.registry.find_kind(group, kind);
  if (!rt)
    throw std::runtime_error("no resource for " + api + " " + kind);
  json::Value obj = obj_in;
  std::vector<std::string> warnings;
  if (auto e = im.admit(*rt, obj, nullptr, nullptr, warnings))
    throw std::runtime_error(e->message);
  auto ns = obj.at_path("metadata.namespace") ? obj.at_path("metadata.namespace")->as_string() : "";
  if (rt->namespaced && ns.empty())
    ns = "default";
  if (auto e = im.check_namespace(*rt, ns, true))
    throw std::runtime_error(e->message);
  if (rt->namespaced)
    obj["metadata"]["namespace"] = ns;
  im.prepare_create(*rt, obj);
  auto name = obj.at_path("metadata.name")->as_string();
  auto res = im.store->create(rt->id(), rt->namespaced ? ns + "/" + name : name, obj, im.indexer(*rt));
  if (res.status == Store::Status::Exists)
    throw std::runtime_error(rt->qualified() + " \"" + name + "\" already exists");
  return json::parse(*res.object.json);
}

}  // namespace omed::apiserver
