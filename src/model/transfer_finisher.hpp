// Internal to the transfer engine: the thread that hashes downloaded bytes as they become
// contiguous, then verifies, syncs and renames each finished file into place.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "omed/model/transfer.hpp"
#include "omed/model/transfer/content_store.hpp"
#include "transfer_job.hpp"

namespace omed::model::transfer {

class Finisher {
public:
  Finisher(const TransferOptions& opts, EventQueue& events, const ContentStore& store);
  ~Finisher();
  Finisher(const Finisher&) = delete;
  Finisher& operator=(const Finisher&) = delete;

  void start();
  void stop();
  void add(const std::shared_ptr<FileJob>& job);
  void kick();

private:
  void loop();
  // Hashes what is available; finalizes when everything is. True when done with the job.
  bool work_on(const std::shared_ptr<FileJob>& job, bool& progressed);
  void finalize(const std::shared_ptr<FileJob>& job);

  const TransferOptions& opts_;
  EventQueue& events_;
  const ContentStore& store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<FileJob>> jobs_;
  bool kicked_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<unsigned char> buf_;
};

}  // namespace omed::model::transfer
