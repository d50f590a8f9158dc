// Kubernetes Events about omed's objects, aggregated like client-go's event correlator: the same
// object, type, reason and message within the window updates one Event's count instead of adding one.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "omed/common/json.hpp"

namespace omed::k8s {

class Client;

// The object an event is about (core/v1 ObjectReference fields).
struct ObjectRef {
  std::string api_version;
  std::string kind;
  std::string ns;
  std::string name;
  std::string uid;
  std::string resource_version;
  static ObjectRef of(const json::Value& obj);
};

struct EventSpec {
  ObjectRef regarding;
  std::string type = "Normal";  // Normal | Warning
  std::string reason;           // UpperCamelCase, e.g. "ModelReady"
  std::string action;           // what omed did, e.g. "Reconcile"
  std::string message;          // human text; secrets are scrubbed before it leaves the process
};

struct EventRecorderOptions {
  std::string reporting_controller = "ome.io/omed";
  std::string reporting_instance;                       // the process identity
  std::chrono::minutes aggregation_window{10};
  size_t max_tracked = 4096;                            // correlator cache size (LRU-ish eviction)
  bool dry_run = false;
};

// Writes events through the client: a new events.k8s.io/v1 Event the first time, then a PATCH of
// that Event's series (count, lastObservedTime) for repeats inside the window. Thread-safe.
class EventRecorder {
public:
  EventRecorder(Client& client, EventRecorderOptions opts);

  // Returns the stored Event (after create or update). Throws ApiError/TransportError.
  json::Value record(const EventSpec& ev);

  // Test hook: the clock used for windows and timestamps.
  std::function<std::chrono::system_clock::time_point()> now = [] { return std::chrono::system_clock::now(); };

private:
  struct Seen {
    std::string name;       // the Event object's name
    std::string ns;
    int64_t count = 0;
    std::chrono::system_clock::time_point first, last;
  };
  Client& client_;
  EventRecorderOptions opts_;
  std::mutex mu_;
  std::map<std::string, Seen> seen_;  // key: regarding uid/kind/ns/name + type + reason + message
};

}  // namespace omed::k8s
