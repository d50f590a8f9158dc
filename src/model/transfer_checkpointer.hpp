// Internal to the transfer engine: the thread that records download progress in the partial
// state file often and cheaply, so that a killed process resumes with little to refetch.
#pragma once

#include <atomic>
#include <memory>

#include "omed/model/transfer.hpp"
#include "omed/model/transfer/partial_state.hpp"
#include "transfer_job.hpp"
#include "transfer_job_thread.hpp"

namespace omed::model::transfer {

class Checkpointer {
public:
  Checkpointer(const TransferOptions& opts, SyncLedger& ledger) : opts_(opts), ledger_(ledger) {}
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  void start() { thread_.start([this] { loop(); }); }
  // Writes a last checkpoint for every job still registered, then joins.
  void stop() { thread_.stop(); }
  void add(const std::shared_ptr<FileJob>& job) { thread_.add(job); }
  // Enough new data arrived: checkpoint now instead of at the next interval.
  void kick();
  bool kick_pending() const { return kicked_.load(std::memory_order_relaxed); }

private:
  void loop();
  void checkpoint(FileJob& job);

  const TransferOptions& opts_;
  SyncLedger& ledger_;
  std::atomic<bool> kicked_{false};
  JobThread thread_;  // last: its thread stops before the members it uses go
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
