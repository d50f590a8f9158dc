// Internal to the transfer engine: the thread that records download progress in the partial
// state file often and cheaply, so that a killed process resumes with little to refetch.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "omed/model/transfer.hpp"
#include "omed/model/transfer/partial_state.hpp"
#include "transfer_job.hpp"

namespace omed::model::transfer {

class Checkpointer {
public:
  Checkpointer(const TransferOptions& opts, SyncLedger& ledger);
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  void start();
  // Writes a last checkpoint for every job still registered, then joins.
  void stop();
  void add(const std::shared_ptr<FileJob>& job);
  // Enough new data arrived: checkpoint now instead of at the next interval.
  void kick();
  bool kick_pending() const { return kicked_.load(std::memory_order_relaxed); }

private:
  void loop();
  void checkpoint(FileJob& job);

  const TransferOptions& opts_;
  SyncLedger& ledger_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<FileJob>> jobs_;
  bool stop_ = false;
  std::atomic<bool> kicked_{false};
  std::thread thread_;
};

// The state of `job` as of now: `written` from its live ranges, `durable` from the last sync.
// Caller holds job.state_mu; `written_total` receives the job's write counter of the snapshot.
PartialState snapshot_state(FileJob& job, uint64_t& written_total);

// Replaces the state file next to the .part file when its content changed (fsync'd when
// `durable`). Caller holds job.state_mu.
void save_state(FileJob& job, const PartialState& st, bool durable);
// Records `st` where a restart in the same boot finds it: the fast (tmpfs) path when there is
// one, else the regular state file without fsync. Caller holds job.state_mu.
void save_fast_state(FileJob& job, const PartialState& st);
// Forgets every record of the job's progress (its .part content is starting over or is gone).
void remove_states(FileJob& job);

}  // namespace omed::model::transfer
