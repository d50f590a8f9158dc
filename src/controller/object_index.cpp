// A small shared map of object snapshots. Comparing resourceVersions keeps a requeued reconcile of
// an unchanged object from waking every reader again.
#include "omed/controller/object_index.hpp"

namespace omed::controller {

namespace {

std::string resource_version(const json::Value& obj) {
  const json::Value* rv = obj.at_path("metadata.resourceVersion");
  return rv && rv->is_string() ? rv->as_string() : std::string();
}

}  // namespace

bool ObjectIndex::put(const std::string& key, const json::Value& obj) {
  std::lock_guard<std::mutex> lk(mu_);
  auto& slot = objects_[key];
  if (slot) {
    std::string have = resource_version(*slot), want = resource_version(obj);
    if (have.empty() || want.empty() ? *slot == obj : have == want)
      return false;
  }
  slot = std::make_shared<const json::Value>(obj);
  return true;
}

bool ObjectIndex::remove(const std::string& key) {
  std::lock_guard<std::mutex> lk(mu_);
  return objects_.erase(key) > 0;
}

std::shared_ptr<const json::Value> ObjectIndex::get(const std::string& key) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = objects_.find(key);
  return it == objects_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const json::Value>> ObjectIndex::all() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<std::shared_ptr<const json::Value>> out;
  out.reserve(objects_.size());
  for (auto& [k, v] : objects_)
    out.push_back(v);
  return out;
}

}  // namespace omed::controller
