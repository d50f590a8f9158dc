// The runtime catalog: an index over parsed runtimes and the subscriptions that turn a runtime
// edit into the list of InferenceServices to re-rank.
#include "omed/selection/runtime_catalog.hpp"

#include <algorithm>
#include <mutex>

#include "selection_internal.hpp"

namespace omed::selection {

namespace {

const json::Value* spec_of(const RuntimeEntry& e) { return e.object ? e.object->get("spec") : nullptr; }

bool same_spec(const RuntimeEntry& a, const RuntimeEntry& b) {
  const json::Value* sa = spec_of(a);
  const json::Value* sb = spec_of(b);
  if (!sa || !sb)
    return sa == sb;
  return *sa == *sb;
}

// Each (format, architecture) a runtime serves once, even when two entries repeat it.
std::set<std::pair<std::string, std::string>> served(const RuntimeEntry& e) {
  std::set<std::pair<std::string, std::string>> out;
  for (const SupportedFormat& f : e.formats)
    if (f.has_format)
      out.emplace(f.format, f.architecture);
  return out;
}

}  // namespace

void RuntimeCatalog::index(const Entry& e) {
  const std::string key = e->key();
  for (const auto& [format, arch] : served(*e)) {
    Bucket& b = by_format_[format];
    b.all[key] = e;
    b.by_arch[arch][key] = e;
  }
  if (e->cluster())
    ++cluster_count_;
  else
    ++namespaced_count_[e->ns];
}

void RuntimeCatalog::unindex(const Entry& e) {
  const std::string key = e->key();
  for (const auto& [format, arch] : served(*e)) {
    auto b = by_format_.find(format);
    if (b == by_format_.end())
      continue;
    b->second.all.erase(key);
    if (auto a = b->second.by_arch.find(arch); a != b->second.by_arch.end()) {
      a->second.erase(key);
      if (a->second.empty())
        b->second.by_arch.erase(a);
    }
    if (b->second.all.empty())
      by_format_.erase(b);
  }
  if (e->cluster()) {
    --cluster_count_;
  } else if (auto n = namespaced_count_.find(e->ns); n != namespaced_count_.end() && --n->second == 0) {
    namespaced_count_.erase(n);
  }
}

std::vector<std::string> RuntimeCatalog::affected_locked(const RuntimeEntry* before, const RuntimeEntry* after) const {
  std::set<std::string> keys;
  std::set<std::string> formats;
  for (const RuntimeEntry* e : {before, after})
    if (e)
      for (const SupportedFormat& f : e->formats)
        if (f.has_format)
          formats.insert(f.format);
  for (const std::string& f : formats)
    if (auto it = subs_by_format_.find(f); it != subs_by_format_.end())
      keys.insert(it->second.begin(), it->second.end());
  const RuntimeEntry* any = after ? after : before;
  if (any)
    if (auto it = subs_by_chosen_.find(any->key()); it != subs_by_chosen_.end())
      keys.insert(it->second.begin(), it->second.end());
  return {keys.begin(), keys.end()};
}

RuntimeCatalog::Change RuntimeCatalog::put(const json::Value& runtime_object) {
  // Parse outside the lock: readers keep ranking meanwhile.
  auto entry = std::make_shared<const RuntimeEntry>(RuntimeEntry::from_object(runtime_object));
  if (entry->name.empty())
    return {};
  const std::string key = entry->key();
  std::unique_lock lock(mu_);
  Entry old;
  if (auto it = entries_.find(key); it != entries_.end()) {
    old = it->second;
    if (!old->resource_version.empty() && old->resource_version == entry->resource_version)
      return {};
  }
  const bool changed = !old || !same_spec(*old, *entry);
  if (old)
    unindex(old);
  index(entry);
  entries_[key] = entry;  // fresh metadata even when the spec did not change
  if (!changed)
    return {};
  return {true, affected_locked(old.get(), entry.get())};
}

RuntimeCatalog::Change RuntimeCatalog::remove(const std::string& kind, const std::string& ns,
                                              const std::string& name) {
  const std::string key = RuntimeEntry::key_of(kind, kind == "ClusterServingRuntime" ? "" : ns, name);
  std::unique_lock lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end())
    return {};
  Entry old = it->second;
  entries_.erase(it);
  unindex(old);
  return {true, affected_locked(old.get(), nullptr)};
}

std::shared_ptr<const RuntimeEntry> RuntimeCatalog::get(const std::string& kind, const std::string& ns,
                                                        const std::string& name) const {
  const std::string key = RuntimeEntry::key_of(kind, kind == "ClusterServingRuntime" ? "" : ns, name);
  std::shared_lock lock(mu_);
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : it->second;
}

std::shared_ptr<const RuntimeEntry> RuntimeCatalog::find(const std::string& isvc_ns, const std::string& name) const {
  if (auto e = get("ServingRuntime", isvc_ns, name))
    return e;
  return get("ClusterServingRuntime", "", name);
}

Selection RuntimeCatalog::rank_locked(const ModelFacts& model, const Requirements& req, const std::string& isvc_ns,
                                      const ByKey* subset) const {
  std::vector<const RuntimeEntry*> namespaced, cluster;
  std::vector<Entry> keep;
  if (subset) {
    keep.reserve(subset->size());
    for (const auto& [key, e] : *subset) {
      if (e->cluster())
        cluster.push_back(e.get());
      else if (e->ns == isvc_ns)
        namespaced.push_back(e.get());
      else
        continue;  // another namespace's runtime is invisible here
      keep.push_back(e);
    }
  }
  detail::Scope scope;
  scope.cluster_total = cluster_count_;
  if (auto n = namespaced_count_.find(isvc_ns); n != namespaced_count_.end())
    scope.namespaced_total = n->second;
  Selection sel = detail::rank(model, req, namespaced, cluster, scope);
  sel.keep = std::move(keep);
  return sel;
}

Selection RuntimeCatalog::select(const ModelFacts& model, const Requirements& req, const std::string& isvc_ns) const {
  Requirements scoped = req;
  if (scoped.isvc_namespace.empty())
    scoped.isvc_namespace = isvc_ns;
  std::shared_lock lock(mu_);
  const Bucket* bucket = nullptr;
  if (auto b = by_format_.find(model.format); b != by_format_.end())
    bucket = &b->second;
  const ByKey* narrow = nullptr;
  if (bucket)
    if (auto a = bucket->by_arch.find(model.architecture); a != bucket->by_arch.end())
      narrow = &a->second;
  Selection sel = rank_locked(model, scoped, isvc_ns, narrow);
  // Nothing served this format and architecture: explain with everything sharing the format.
  if (!sel.chosen && bucket && !model.format.empty() && bucket->all.size() != (narrow ? narrow->size() : 0))
    sel = rank_locked(model, scoped, isvc_ns, &bucket->all);
  return sel;
}

Selection RuntimeCatalog::validate(const ModelFacts& model, const Requirements& req, const std::string& isvc_ns,
                                   const std::string& runtime_name) const {
  Entry e = find(isvc_ns, runtime_name);
  Selection sel = validate_runtime(model, req, e.get(), runtime_name, isvc_ns);
  if (e)
    sel.keep.push_back(std::move(e));
  return sel;
}

void RuntimeCatalog::subscribe(const std::string& isvc_key, const std::string& format_name,
                               const std::string& chosen_key) {
  std::unique_lock lock(mu_);
  unsubscribe_locked(isvc_key);
  subs_[isvc_key] = {format_name, chosen_key};
  subs_by_format_[format_name].insert(isvc_key);
  if (!chosen_key.empty())
    subs_by_chosen_[chosen_key].insert(isvc_key);
}

void RuntimeCatalog::unsubscribe(const std::string& isvc_key) {
  std::unique_lock lock(mu_);
  unsubscribe_locked(isvc_key);
}

void RuntimeCatalog::unsubscribe_locked(const std::string& isvc_key) {
  auto it = subs_.find(isvc_key);
  if (it == subs_.end())
    return;
  auto drop = [&](std::unordered_map<std::string, std::set<std::string>>& index, const std::string& k) {
    if (auto s = index.find(k); s != index.end()) {
      s->second.erase(isvc_key);
      if (s->second.empty())
        index.erase(s);
    }
  };
  drop(subs_by_format_, it->second.format);
  drop(subs_by_chosen_, it->second.chosen);
  subs_.erase(it);
}

size_t RuntimeCatalog::size() const {
  std::shared_lock lock(mu_);
  return entries_.size();
}

std::vector<std::shared_ptr<const RuntimeEntry>> RuntimeCatalog::snapshot() const {
  std::shared_lock lock(mu_);
  std::vector<Entry> out;
  out.reserve(entries_.size());
  for (const auto& [key, e] : entries_)
    out.push_back(e);
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a->key() < b->key(); });
  return out;
}

}  // namespace omed::selection
