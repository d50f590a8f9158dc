// The watch_stream actor: one per watched kind. It runs a reflector (list, watch, relist on 410)
// on its own thread and turns Kubernetes events into messages for the kind supervisors.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "omed/actors/messages.hpp"
#include "omed/k8s/reflector.hpp"

namespace omed::k8s {
class Client;
}
namespace omed::metrics {
class Registry;
}

namespace omed::actors {

// Where each kind's supervisor currently is. Kind supervisors register on every (re)start;
// listeners (the watch streams feeding that kind) then replay their cache into the new one.
class KindDirectory {
public:
  struct Entry {
    kind_supervisor_actor handle;
    bool namespaced = true;
  };
  void put(const std::string& kind, kind_supervisor_actor handle, bool namespaced);
  std::optional<Entry> get(const std::string& kind) const;
  std::vector<kind_supervisor_actor> all() const;
  // Runs `fn` whenever `kind`'s supervisor is (re)registered. Returns an id for unlisten.
  size_t listen(const std::string& kind, std::function<void()> fn);
  void unlisten(size_t id);

private:
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
  std::map<size_t, std::pair<std::string, std::function<void()>>> listeners_;
  size_t next_id_ = 1;
};

struct WatchStreamOptions {
  k8s::Client* client = nullptr;   // not owned
  k8s::ReflectorOptions reflector;
  KindDirectory* directory = nullptr;
  // Objects of an ome.io kind go to that kind's supervisor. Objects omed owns (Deployments, ...)
  // go to the supervisor of their controller owner's kind (owned_atom), if it is one of these.
  bool route_by_owner = false;
  std::vector<std::string> owner_kinds;
  metrics::Registry* metrics = nullptr;
  // Called (on the reflector's thread) after each successful list: readiness gates hook in here.
  std::function<void(const std::string& resource_version)> on_synced;
};

caf::actor spawn_watch_stream(caf::local_actor* parent, WatchStreamOptions opts);

}  // namespace omed::actors
