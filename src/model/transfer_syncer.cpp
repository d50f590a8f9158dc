// Durable checkpoints: keep writeback streaming, fdatasync each .part file outside every lock,
// then record the synced ranges (fsync'd) unless the file restarted meanwhile.
#include "transfer_syncer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "omed/log/logger.hpp"
#include "omed/model/transfer/durable_io.hpp"
#include "transfer_checkpointer.hpp"

namespace omed::model::transfer {

namespace {
// How often new data is handed to the disk. Without it the kernel would let gigabytes pile up
// in the page cache (until dirty_background_ratio) with the disk idle, and the final fdatasync
// would then wait for all of them: downloads would take network time plus disk time.
constexpr std::chrono::milliseconds kWritebackInterval{100};
}  // namespace

void Syncer::start_writeback(FileJob& job) {
  uint64_t written = 0;
  std::shared_ptr<PartFile> part;
  {
    std::lock_guard<std::mutex> lk(job.mu);
    written = job.written;
    part = job.part;
  }
  if (!part || written == job.writeback_started)
    return;
  job.writeback_started = written;
  // Starts writeback of every dirty page without waiting for it (it may wait for a slot in a
  // congested disk queue, which is fine on this thread).
  ::sync_file_range(part->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

void Syncer::sync(const std::shared_ptr<FileJob>& ref) {
  FileJob& job = *ref;
  uint64_t synced_before = 0;
  {
    std::lock_guard<std::mutex> sl(job.state_mu);
    if (job.retired || !job.persist)
      return;
    synced_before = job.synced_written;
  }
  RangeMap snap;
  uint64_t gen = 0, written = 0;
  std::shared_ptr<PartFile> part;
  {
    std::lock_guard<std::mutex> lk(job.mu);
    if (job.written == synced_before)
      return;
    snap = job.done;
    gen = job.generation;
    written = job.written;
    part = job.part;
  }
  if (!part)
    return;
  if (::fdatasync(part->fd) != 0) {
    int e = errno;
    events_.push({JobEvent::Kind::IoFailed, ref, "syncing " + job.part_path.string() + ": " + describe_errno(e), {}});
    return;
  }
  std::string text;
  uint64_t now_written = 0;
  {
    std::lock_guard<std::mutex> sl(job.state_mu);
    if (job.retired)
      return;
    {
      std::lock_guard<std::mutex> lk(job.mu);
      if (job.generation != gen)
        return;  // the content restarted while we synced: the snapshot describes old bytes
    }
    job.durable = std::move(snap);
    job.durable_generation = gen;
    job.synced_written = written;
    text = snapshot_state(job, now_written).encode();
    if (text == job.saved_state)
      return;
  }
  // The record's own fsync waits for the journal, behind gigabytes of writeback on ext4: done
  // outside state_mu, or the frequent same-boot checkpoints would stall behind it.
  std::filesystem::path tmp;
  if (auto err = write_temp_file(job.state_path, text, true, tmp); !err.empty()) {
    omed::log::Logger("transfer").warn("cannot save partial download state").kv("file", job.remote.path).kv("error", err);
    return;
  }
  std::lock_guard<std::mutex> sl(job.state_mu);
  bool current = !job.retired;
  if (current) {
    std::lock_guard<std::mutex> lk(job.mu);
    current = job.generation == gen;  // a reset meanwhile recorded the cleared state: keep it
  }
  if (!current || ::rename(tmp.c_str(), job.state_path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return;
  }
  job.saved_state = std::move(text);
  job.saved_written = now_written;
}

void Syncer::loop() {
  auto last_sync = std::chrono::steady_clock::now();
  for (;;) {
    auto round = thread_.next_round(
      std::min<std::chrono::milliseconds>(kWritebackInterval, opts_.durable_sync_interval), [] { return false; },
      [] {});
    for (auto& j : round.jobs)
      start_writeback(*j);
    auto now = std::chrono::steady_clock::now();
    if (round.stopping || now - last_sync >= opts_.durable_sync_interval) {
      last_sync = now;
      for (auto& j : round.jobs)
        sync(j);
    }
    thread_.drop_retired();
    if (round.stopping)
      return;
  }
}

}  // namespace omed::model::transfer
