// Internal to the transfer engine: the thread that waits on the disk, keeping writeback of
// partial downloads streaming and periodically making their progress durable.
#pragma once

#include <memory>

#include "omed/model/transfer.hpp"
#include "transfer_job.hpp"
#include "transfer_job_thread.hpp"

namespace omed::model::transfer {

class Syncer {
public:
  Syncer(const TransferOptions& opts, EventQueue& events) : opts_(opts), events_(events) {}
  Syncer(const Syncer&) = delete;
  Syncer& operator=(const Syncer&) = delete;

  void start() { thread_.start([this] { loop(); }); }
  // Syncs every job still registered one last time, then joins.
  void stop() { thread_.stop(); }
  void add(const std::shared_ptr<FileJob>& job) { thread_.add(job); }

private:
  void loop();
  void start_writeback(FileJob& job);
  void sync(const std::shared_ptr<FileJob>& job);

  const TransferOptions& opts_;
  EventQueue& events_;
  JobThread thread_;  // last: its thread stops before the members it uses go
};

}  // namespace omed::model::transfer
