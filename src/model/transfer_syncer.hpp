// Internal to the transfer engine: the thread that waits on the disk, keeping writeback of
// partial downloads streaming and periodically making their progress durable.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "omed/model/transfer.hpp"
#include "transfer_job.hpp"

namespace omed::model::transfer {

class Syncer {
public:
  Syncer(const TransferOptions& opts, EventQueue& events);
  ~Syncer();
  Syncer(const Syncer&) = delete;
  Syncer& operator=(const Syncer&) = delete;

  void start();
  // Syncs every job still registered one last time, then joins.
  void stop();
  void add(const std::shared_ptr<FileJob>& job);

private:
  void loop();
  void start_writeback(FileJob& job);
  void sync(const std::shared_ptr<FileJob>& job);

  const TransferOptions& opts_;
  EventQueue& events_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<FileJob>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace omed::model::transfer
