// Frequent, cheap checkpoints of partial downloads: same-boot records without fsync, so that a
// killed process resumes with only a few MiB to refetch (the Syncer makes ranges durable).
#include "transfer_checkpointer.hpp"

#include <unistd.h>

#include "omed/log/logger.hpp"
#include "omed/model/transfer/durable_io.hpp"

namespace omed::model::transfer {

PartialState snapshot_state(FileJob& job, uint64_t& written_total) {
  PartialState st;
  uint64_t gen = 0;
  {
    std::lock_guard<std::mutex> lk(job.mu);
    st.written = job.done;
    st.server_etag = job.server_etag;
    written_total = job.written;
    gen = job.generation;
  }
  st.size = job.remote.size.value_or(0);
  st.sha256 = job.remote.sha256;
  st.listing_etag = job.remote.etag;
  st.boot_id = current_boot_id();
  if (job.durable_generation == gen)
    st.durable = job.durable;
  return st;
}

namespace {
void write_state(FileJob& job, const std::filesystem::path& path, std::string& saved, const PartialState& st,
                 bool durable) {
  std::string text = st.encode();
  if (text == saved)
    return;
  auto err = write_file_atomically(path, text, durable);
  if (!err.empty()) {
    // Losing resume information costs a refetch after a crash, not correctness: keep going.
    omed::log::Logger("transfer").warn("cannot save partial download state").kv("file", job.remote.path).kv("error", err);
    return;
  }
  saved = std::move(text);
}
}  // namespace

void save_state(FileJob& job, const PartialState& st, bool durable) {
  write_state(job, job.state_path, job.saved_state, st, durable);
}

void save_fast_state(FileJob& job, const PartialState& st) {
  if (job.fast_state_path.empty())
    return write_state(job, job.state_path, job.saved_state, st, false);
  write_state(job, job.fast_state_path, job.saved_fast, st, false);
}

void remove_states(FileJob& job) {
  ::unlink(job.state_path.c_str());
  if (!job.fast_state_path.empty())
    ::unlink(job.fast_state_path.c_str());
  job.saved_state.clear();
  job.saved_fast.clear();
}

void Checkpointer::kick() {
  if (kicked_.exchange(true))
    return;
  thread_.notify();
}

void Checkpointer::checkpoint(FileJob& job) {
  std::lock_guard<std::mutex> sl(job.state_mu);
  if (job.retired || !job.persist)
    return;
  uint64_t written = 0;
  PartialState st = snapshot_state(job, written);
  // Nothing here may wait for the disk (the Syncer does): a checkpoint stuck behind a busy
  // disk would leave the state far behind what a restart could reuse.
  save_fast_state(job, st);
  job.saved_written = written;
}

void Checkpointer::loop() {
  for (;;) {
    auto round = thread_.next_round(
      opts_.checkpoint_interval, [&] { return kicked_.load(); },
      [&] {
        kicked_ = false;
        ledger_.unsaved = 0;
      });
    for (auto& j : round.jobs)
      checkpoint(*j);
    thread_.drop_retired();
    if (round.stopping)
      return;
  }
}

}  // namespace omed::model::transfer
