// Durable storage for the embedded API server: a write-ahead journal with group commit and
// periodic snapshots, so that no acknowledged write is lost after kill -9.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace omed::apiserver {

// One storage mutation. `object` is the object's JSON text after the write (empty for deletes).
struct JournalRecord {
  uint64_t rv = 0;          // the global resourceVersion the write produced
  std::string resource;     // "apps/v1/deployments", "v1/configmaps", "ome.io/v1beta1/basemodels"
  std::string key;          // "namespace/name" or "name"
  bool deleted = false;
  std::string object;
};

class Journal {
public:
  // Opens (creating) DIR/journal and DIR/snapshot. Throws std::runtime_error with the path on
  // failure.
  static std::unique_ptr<Journal> open(const std::string& dir);
  virtual ~Journal() = default;

  // Recovery: calls `from_snapshot` for every record of the latest snapshot, then `from_journal`
  // for every journal record written after it, in write order. A torn or corrupt tail (a crash
  // in the middle of a write) is truncated; corruption before the tail is an error (throws).
  virtual void replay(const std::function<void(const JournalRecord&)>& from_snapshot,
                      const std::function<void(const JournalRecord&)>& from_journal) = 0;
  // The global resourceVersion the latest snapshot was taken at (0 without one); valid after
  // replay().
  virtual uint64_t snapshot_rv() const = 0;

  // Appends records and returns once they are durable (fsync). Concurrent callers share one
  // fsync (group commit). Throws on I/O error (the caller must then fail the write).
  virtual void append(const std::vector<JournalRecord>& records) = 0;

  // Writes a snapshot of the whole state (every live object, latest version) and starts a new
  // journal; `rv` is the global resourceVersion at the snapshot. Safe against crashes at any
  // point: either the old snapshot+journal or the new ones are complete.
  virtual void snapshot(uint64_t rv, const std::function<void(const std::function<void(const JournalRecord&)>&)>& each) = 0;

  // Bytes in the current journal (the caller snapshots when it grows past a threshold).
  virtual uint64_t journal_bytes() const = 0;
};

}  // namespace omed::apiserver
