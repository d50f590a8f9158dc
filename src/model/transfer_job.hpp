// Internal to the transfer engine: one file being fetched, as shared by the network thread and
// its helper threads (checkpointer, syncer, finisher), and the channel the helpers report on.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "omed/model/remote_file.hpp"
#include "omed/model/transfer.hpp"
#include "omed/model/transfer/file_verifier.hpp"
#include "omed/model/transfer/range_map.hpp"
#include "omed/model/transfer/url.hpp"

namespace omed::model::transfer {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kUnknownEnd = UINT64_MAX;

// The open .part file. Shared ownership: whichever thread uses the descriptor last closes it,
// so a reader can never pread from a number that was closed and reused meanwhile.
struct PartFile {
  explicit PartFile(int f) : fd(f) {}
  ~PartFile() {
    if (fd >= 0)
      ::close(fd);
  }
  PartFile(const PartFile&) = delete;
  PartFile& operator=(const PartFile&) = delete;
  int fd;
};

// A byte span waiting to be requested.
struct PendingSpan {
  uint64_t begin = 0;
  uint64_t end = kUnknownEnd;
  int attempts = 0;                // consecutive failures without progress
  Clock::time_point not_before{};  // backoff
};

struct FileJob {
  size_t index = 0;                // in the listing and the report
  RemoteFile remote;               // digests lowercased
  std::filesystem::path final_path, part_path, state_path;
  std::filesystem::path fast_state_path;  // same-boot record on a tmpfs (empty: use state_path)
  UrlOrigin origin;                // of remote.url: the only origin that gets credentials
  bool need_digest = false;        // sha256 or md5 to check
  bool persist = false;            // size known: partial state is checkpointed for resume

  // ---- network thread only ----
  std::optional<uint64_t> size;    // known from the listing or learned from the first response
  std::string start_url;           // remote.url, or where it last redirected to
  std::string start_host;          // origin of start_url (per-host connection limit)
  bool resume = false;             // `done` holds durable bytes from an earlier run
  bool slot = false;               // counts against parallel_files
  bool ranges_ok = true;           // false once the server answered a Range with the whole file
  std::deque<PendingSpan> pending;
  int active = 0;                  // requests in flight
  bool terminal = false;           // finalized or failed
  bool failed = false;
  int verify_restarts = 0;         // a digest mismatch is refetched from scratch once
  int restarts = 0;                // the remote changed under us
  uint64_t bytes_fetched = 0;
  uint64_t bytes_resumed = 0;
  std::string last_error;

  // ---- shared (guarded by mu) ----
  std::mutex mu;
  std::shared_ptr<PartFile> part;
  RangeMap done;                   // bytes written to the .part file
  std::string server_etag;         // strong validator the server sent (If-Range)
  uint64_t generation = 0;         // bumped when the content restarts from scratch
  uint64_t written = 0;            // monotonic count of bytes written (for sync accounting)

  // ---- checkpoint coordination (guarded by state_mu, taken before mu) ----
  std::mutex state_mu;
  bool retired = false;            // finalized or discarded: no more checkpoints
  RangeMap durable;                // bytes the last fdatasync covered
  uint64_t durable_generation = 0; // generation `durable` belongs to
  uint64_t saved_written = 0;      // `written` when the state file was last written
  uint64_t synced_written = 0;     // `written` when the last fdatasync started
  std::string saved_state;         // last text written to state_path (skip identical rewrites)
  std::string saved_fast;          // last text written to fast_state_path

  uint64_t size_for_finisher = 0;  // final size, published by network_done
  Digests final_digests;           // set when the finisher reports the file in place
  std::atomic<bool> network_done{false};  // every byte is in `done`; set by the network thread
  std::atomic<bool> abandoned{false};     // failed: helpers drop it

  // ---- syncer only ----
  uint64_t writeback_started = 0;  // `written` when writeback was last kicked

  // ---- finisher only ----
  std::optional<StreamingDigest> digest;
  uint64_t hashed = 0;
  uint64_t digest_generation = UINT64_MAX;

  std::shared_ptr<PartFile> part_ref() {
    std::lock_guard<std::mutex> lk(mu);
    return part;
  }
};

// Bytes written since the checkpointer last recorded them, over all jobs: past a threshold
// the network thread asks for a checkpoint before the interval is up.
struct SyncLedger {
  std::atomic<uint64_t> unsaved{0};
};

struct JobEvent {
  enum class Kind { Finalized, VerifyFailed, IoFailed };
  Kind kind;
  std::shared_ptr<FileJob> job;
  std::string message;
  Digests digests;
};

// Helper threads -> network thread. `wake` interrupts the network thread's poll.
class EventQueue {
public:
  // Cleared before the network thread frees what `wake` touches; the lock makes sure no
  // helper is inside it at that moment.
  void set_wake(std::function<void()> wake) {
    std::lock_guard<std::mutex> lk(mu_);
    wake_ = std::move(wake);
  }
  void push(JobEvent ev) {
    std::lock_guard<std::mutex> lk(mu_);
    events_.push_back(std::move(ev));
    if (wake_)
      wake_();
  }
  std::vector<JobEvent> drain() {
    std::lock_guard<std::mutex> lk(mu_);
    std::vector<JobEvent> out;
    out.swap(events_);
    return out;
  }
  void wake() {
    std::lock_guard<std::mutex> lk(mu_);
    if (wake_)
      wake_();
  }

private:
  std::mutex mu_;
  std::vector<JobEvent> events_;
  std::function<void()> wake_;
};

}  // namespace omed::model::transfer
