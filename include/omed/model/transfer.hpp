// The model transfer engine: fetches the files of a remote listing into a model directory with
// parallel (ranged) HTTP requests, crash-safe resume, verification and hard-link deduplication.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "omed/model/remote_file.hpp"

namespace omed::model {

// Live counters a metrics endpoint can read while transfers run. Shared by every run that is
// given the same instance; the engine only ever adds to them.
struct TransferCounters {
  std::atomic<uint64_t> bytes_fetched{0};   // body bytes written to disk from the network
  std::atomic<uint64_t> bytes_reused{0};    // bytes kept, resumed or hard-linked instead of fetched
  std::atomic<uint64_t> files_fetched{0};
  std::atomic<uint64_t> files_reused{0};
  std::atomic<uint64_t> retries{0};         // requests that failed and were tried again
  std::atomic<uint64_t> failures{0};        // files that could not be transferred
};

struct TransferOptions {
  int max_connections = 16;         // concurrent requests over all hosts
  int max_per_host = 8;             // concurrent requests to one scheme://host:port
  int parallel_files = 4;           // files receiving bytes at the same time
  // Files above single_stream_max_bytes are fetched as parallel byte ranges of at most
  // range_chunk_bytes (smaller when that leaves connections idle, never below min_range_bytes).
  uint64_t single_stream_max_bytes = 16ull << 20;
  uint64_t range_chunk_bytes = 64ull << 20;
  uint64_t min_range_bytes = 8ull << 20;
  // A request that receives no byte for this long is aborted and retried.
  std::chrono::milliseconds stall_timeout{30000};
  int max_attempts = 6;             // consecutive failed attempts (without progress) per range
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_cap{30000};
  std::chrono::milliseconds retry_after_cap{120000};  // upper bound for a server's Retry-After
  std::chrono::milliseconds progress_interval{5000};
  // Crash safety. The partial state file is rewritten (atomically, without fsync) after
  // checkpoint_bytes of new data or checkpoint_interval; those ranges are trusted after a
  // process crash in the same boot. Every durable_sync_interval the .part file is fdatasync'd
  // and the state (now fsync'd too) marks the synced ranges as durable: they survive a power cut.
  uint64_t checkpoint_bytes = 8ull << 20;
  std::chrono::milliseconds checkpoint_interval{1000};
  std::chrono::milliseconds durable_sync_interval{2000};
  // Where those frequent same-boot records go: a tmpfs has no journal, so a checkpoint never
  // waits behind the commit of gigabytes of file data (on ext4 that wait reaches seconds).
  // Empty or unusable: next to the .part file.
  std::filesystem::path fast_state_dir = "/dev/shm/omed-transfer";
  uint64_t disk_margin_bytes = 256ull << 20;  // free space left over after all downloads
  long receive_buffer_bytes = 512 * 1024;     // libcurl receive buffer per transfer
  // Verified files are hard-linked into <content_store_dir>/sha256/<hex>, and files whose sha256
  // is already there are linked instead of downloaded. Empty: no store (duplicates within one
  // listing are still linked to their first copy). Must be on the same filesystem as dest.
  std::filesystem::path content_store_dir;
  // Off: files get into the store (for later runs) but this run links none out of it, so every
  // byte not already in dest comes from the source (downloadPolicy AlwaysDownload).
  bool link_from_store = true;
  bool fail_fast = true;            // a file that cannot be fetched stops the whole run
  bool durable = true;              // fsync data, partial state and directories (off: page cache only)
  std::string user_agent = "omed-transfer/1";
  std::string ca_file;              // extra CA bundle for https (empty: system default)
  TransferCounters* counters = nullptr;
};

struct TransferProgress {
  uint64_t bytes_done = 0;          // present, resumed, linked or fetched so far
  uint64_t bytes_total = 0;         // sum of known sizes
  double bytes_per_second = 0;      // network rate since the previous report
  double eta_seconds = -1;          // -1 while unknown
  size_t files_done = 0;
  size_t files_total = 0;
  bool final = false;               // the last report of a run
};
using ProgressCallback = std::function<void(const TransferProgress&)>;

enum class FileAction {
  Fetched,     // downloaded (fully or after resuming a partial download)
  Present,     // the final file was already there and matched
  Linked,      // hard-linked from the content store or from a duplicate in the listing
  Failed,
  NotStarted,  // the run stopped before this file was handled
};
const char* file_action_name(FileAction a);

struct FileOutcome {
  std::string path;
  FileAction action = FileAction::NotStarted;
  bool verified = false;            // a digest (sha256 or md5) was checked, not only the size
  uint64_t size = 0;
  uint64_t bytes_fetched = 0;       // network bytes written for this file (retries included)
  uint64_t bytes_resumed = 0;       // bytes a previous run had already stored
  std::string sha256;               // known or computed digest (lowercase hex), when any
  std::string error;
};

struct TransferReport {
  bool ok = false;
  std::string error;                // user-facing reason when !ok (the first fatal error)
  std::vector<FileOutcome> files;   // in listing order
  uint64_t bytes_fetched = 0;
  uint64_t bytes_reused = 0;        // present + linked + resumed
  uint64_t retries = 0;
  double seconds = 0;
};

class TransferEngine {
public:
  explicit TransferEngine(TransferOptions opts = {});

  // Blocks until every file is in place under dest_dir (or the run failed or was cancelled).
  // Nothing is written when a remote path is unsafe. `authorizer` is asked for headers of every
  // request to the listing's own origin and never for a host a redirect leads to. `cancel` is
  // polled; partial downloads stay resumable. Progress arrives on the calling thread's behalf
  // from the engine's network thread, at most every progress_interval, plus a final report.
  TransferReport run(const std::vector<RemoteFile>& files, const std::filesystem::path& dest_dir,
                     const RequestAuthorizer* authorizer = nullptr,
                     const std::atomic<bool>* cancel = nullptr,
                     const ProgressCallback& progress = {}) const;

  const TransferOptions& options() const { return opts_; }

  // Where a partial download of `path` is kept while incomplete (and its persisted state).
  static std::filesystem::path partial_path(const std::filesystem::path& dest_dir, const std::string& path);
  static std::filesystem::path partial_state_path(const std::filesystem::path& dest_dir,
                                                  const std::string& path);

private:
  TransferOptions opts_;
};

}  // namespace omed::model
