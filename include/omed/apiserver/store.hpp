// The API server's storage: one global, monotonic resourceVersion, objects kept as their JSON
// text, a bounded event history (older watches get 410), watch fan-out, and optional durability.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "omed/common/json.hpp"

namespace omed::apiserver {

class Journal;

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// What the store keeps per object: the JSON text (shared with history and watchers) plus the
// little the server filters on without parsing.
struct StoredObject {
  std::shared_ptr<const std::string> json;
  uint64_t rv = 0;
  KeyValues labels;  // metadata.labels
  KeyValues fields;  // metadata.name, metadata.namespace and the resource's selectable fields
};

enum class EventType { Added, Modified, Deleted };
const char* event_type_name(EventType t);

struct StoreEvent {
  uint64_t rv = 0;
  std::string resource;  // ResourceType::id()
  std::string key;       // "ns/name" or "name"
  EventType type = EventType::Added;
  StoredObject object;   // after the change (for deletes: the final state with the new RV)
  std::optional<StoredObject> previous;  // before the change (modifies and deletes)
};

// Receives events in resourceVersion order. Called with the store's lock held: implementations
// must only queue work, never block or call back into the store.
class StoreListener {
public:
  virtual ~StoreListener() = default;
  virtual void on_event(const StoreEvent& ev) = 0;
};

class Store {
public:
  struct Options {
    size_t history_limit = 200000;  // events kept for watches; older starting points get 410
    std::string data_dir;           // durable mode when set: journal + snapshots there
    uint64_t snapshot_bytes = 256ull << 20;  // snapshot when the journal grows past this
  };

  explicit Store(Options opts);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Durable mode: replays the journal, re-deriving each object's index with `index`, and starts
  // the journal thread. Returns the number of objects recovered.
  using RecoverIndexer = std::function<void(const std::string& resource, const json::Value& obj, StoredObject& out)>;
  size_t recover(const RecoverIndexer& index);
  bool durable() const { return journal_ != nullptr; }

  uint64_t current_rv() const;
  // The newest resourceVersion whose event every watcher has been handed (behind current_rv()
  // while durable writes wait for the journal): the only safe value for a watch bookmark.
  uint64_t published_rv() const;
  // The oldest resourceVersion a watch may start from (exclusive lower bound of the history).
  uint64_t compacted_rv() const;

  std::optional<StoredObject> get(const std::string& resource, const std::string& key) const;

  struct ListPage {
    uint64_t rv = 0;
    std::vector<StoredObject> items;
    std::vector<std::string> keys;
    bool more = false;          // a next page exists
    size_t remaining = 0;       // objects after this page (matching the filter)
    bool expired = false;       // at_rv is older than the history still held
  };
  // Objects of `resource` whose key starts with `key_prefix` ("ns/" for a namespace), in key
  // order, after `start_after`, matching `filter`, at most `limit` (0 = no limit).
  // With `at_rv` the page shows the objects as they were at that resourceVersion, rebuilt from
  // the event history: the pages of one paginated list form one consistent snapshot, so a
  // watch from the list's resourceVersion misses nothing that changed between pages.
  ListPage list(const std::string& resource, const std::string& key_prefix,
                const std::function<bool(const StoredObject&)>& filter, size_t limit,
                const std::string& start_after = {}, uint64_t at_rv = 0) const;
  size_t count(const std::string& resource) const;

  enum class Status { Ok, NotFound, Exists, Conflict, Unchanged };
  struct WriteResult {
    Status status = Status::Ok;
    StoredObject object;  // the stored state (the current one on Conflict/Exists/Unchanged)
  };
  // Index data for an object about to be stored (labels, selectable fields).
  using Indexer = std::function<void(const json::Value& obj, StoredObject& out)>;

  // Creates; Exists if the key is taken. Stamps metadata.resourceVersion.
  WriteResult create(const std::string& resource, const std::string& key, json::Value obj, const Indexer& idx);
  // Replaces when the stored rv equals `expected_rv`, else Conflict.
  WriteResult update(const std::string& resource, const std::string& key, uint64_t expected_rv, json::Value obj,
                     const Indexer& idx);
  // Deletes when the stored rv equals `expected_rv` (0: any); `final_obj` is what the DELETED
  // event carries (stamped with the delete's own resourceVersion).
  WriteResult remove(const std::string& resource, const std::string& key, uint64_t expected_rv, json::Value final_obj,
                     const Indexer& idx);

  // Registers a listener for one resource ("" for all). With `from_rv` set, history events after
  // it are delivered first (nullopt: only future events). Returns false (and registers nothing)
  // when `from_rv` is older than the history. `snapshot`, when given, receives the current
  // matching objects atomically with the registration (list-then-watch without gaps).
  struct Subscription {
    uint64_t id = 0;
    uint64_t start_rv = 0;  // events at or below are not delivered
  };
  std::optional<Subscription> subscribe(const std::string& resource, StoreListener* listener,
                                        std::optional<uint64_t> from_rv,
                                        const std::function<void(const StoredObject&, const std::string& key)>& snapshot = {});
  void unsubscribe(uint64_t id);
  size_t listeners() const;

  // Approximate bytes held by the store's bookkeeping beyond the JSON text itself.
  size_t overhead_bytes() const;
  size_t json_bytes() const;

private:
  struct Pending {
    uint64_t rv;
    StoreEvent event;
  };
  void publish_locked(StoreEvent ev);
  WriteResult commit_locked(std::unique_lock<std::mutex>& lk, StoreEvent ev, bool erase);
  void journal_loop();
  void wait_durable(uint64_t rv, std::unique_lock<std::mutex>& lk);

  Options opts_;
  mutable std::mutex mu_;
  uint64_t rv_ = 0;
  uint64_t published_rv_ = 0;
  std::unordered_map<std::string, std::map<std::string, StoredObject>> data_;
  std::deque<StoreEvent> history_;
  uint64_t compacted_rv_ = 0;
  struct Sub {
    std::string resource;
    StoreListener* listener;
    uint64_t start_rv;
  };
  std::map<uint64_t, Sub> subs_;
  uint64_t next_sub_ = 1;
  size_t json_bytes_ = 0;
  size_t objects_ = 0;

  // Durable mode.
  std::unique_ptr<Journal> journal_;
  std::deque<StoreEvent> unjournaled_;   // committed in memory, waiting for the journal thread
  uint64_t durable_rv_ = 0;
  std::string journal_error_;
  std::condition_variable journal_cv_;   // work for the journal thread
  std::condition_variable durable_cv_;   // writers waiting for their fsync
  bool stopping_ = false;
  std::thread journal_thread_;
};

}  // namespace omed::apiserver
