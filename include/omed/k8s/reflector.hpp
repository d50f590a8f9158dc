// List-then-watch of one resource, as client-go's reflector does it: paginated list, watch from
// the list's resourceVersion with bookmarks, re-watch after a clean end, relist on 410 with
// synthetic deletes for vanished objects, backoff with jitter on errors, Retry-After on 429.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "omed/common/json.hpp"
#include "omed/k8s/resource.hpp"

namespace omed::k8s {

class Client;

struct ReflectorOptions {
  ResourceInfo resource;
  std::string ns;                 // "" = all namespaces
  std::string label_selector;
  std::string field_selector;
  int page_size = 500;
  std::chrono::milliseconds backoff_initial{800};
  std::chrono::milliseconds backoff_max{30000};
  int watch_timeout_min_s = 300;  // randomized timeoutSeconds per watch, like client-go
  int watch_timeout_max_s = 600;
  uint64_t seed = 0;              // 0: random
  // Cached objects leave out metadata.managedFields (often half an object's bytes), as
  // controller-runtime's cache transform does: reconcilers never read it, and writes are
  // PUTs that keep the server's copy or server-side applies that ignore the one sent.
  bool drop_managed_fields = true;
};

// Receives the reflector's view of the world. Called on the reflector's thread.
class ReflectorHandler {
public:
  virtual ~ReflectorHandler() = default;
  // ADDED, MODIFIED or DELETED; after a relist, differences from the previous state are replayed
  // this way (DELETED carries the last object known).
  virtual void on_event(const std::string& type, const std::shared_ptr<const json::Value>& object) = 0;
  // A list completed: every object now present has been delivered.
  virtual void on_synced(const std::string& resource_version) { (void)resource_version; }
  // The watch is being restarted, and why: "timeout" (clean end), "dropped", "expired", "error".
  virtual void on_restart(const std::string& reason, const std::string& detail) { (void)reason, (void)detail; }
};

class Reflector {
public:
  Reflector(Client& client, ReflectorOptions opts, ReflectorHandler& handler);
  ~Reflector();

  // Runs until stop(); never throws (errors are retried with backoff and reported to on_restart).
  void run();
  // Thread-safe; wakes run() out of any wait or stream.
  void stop();
  // Thread-safe: soon (within ~100 ms, on run()'s thread, so never interleaved with live events)
  // every cached object is delivered again as ADDED. For consumers that restarted empty.
  void request_replay();

  std::string last_resource_version() const;
  size_t size() const;
  uint64_t lists() const { return lists_; }
  uint64_t watches() const { return watches_; }

private:
  struct Entry {
    std::string rv;
    std::shared_ptr<const json::Value> object;
  };
  bool list_and_replace(const std::string& rv);
  void watch_once();
  void backoff_wait(std::chrono::milliseconds extra = std::chrono::milliseconds(0));
  void apply_event(const std::string& type, const std::shared_ptr<const json::Value>& obj);
  void replay_if_requested();

  Client& client_;
  ReflectorOptions opts_;
  ReflectorHandler& handler_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> replay_{false};
  bool synced_once_ = false;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string rv_;
  std::unordered_map<std::string, Entry> cache_;
  std::chrono::milliseconds backoff_{0};
  uint64_t rng_state_;
  std::atomic<uint64_t> lists_{0}, watches_{0};
};

// "namespace/name" or "name": the reflector's and kind supervisors' key for an object.
std::string cache_key(const json::Value& obj);

}  // namespace omed::k8s
