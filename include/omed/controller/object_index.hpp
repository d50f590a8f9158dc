// The latest copy of objects one kind's reconcilers see, for reconcilers of another kind to read
// (fine-tuned weights read their base model). Thread-safe; values are immutable snapshots.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "omed/common/json.hpp"

namespace omed::controller {

class ObjectIndex {
public:
  // Stores `obj` under `key`; true when it differs from what was stored (by resourceVersion,
  // or by content when it has none): only then do readers need waking.
  bool put(const std::string& key, const json::Value& obj);
  // True when something was stored.
  bool remove(const std::string& key);
  std::shared_ptr<const json::Value> get(const std::string& key) const;
  // Every stored object, in key order.
  std::vector<std::shared_ptr<const json::Value>> all() const;

private:
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const json::Value>> objects_;
};

}  // namespace omed::controller
