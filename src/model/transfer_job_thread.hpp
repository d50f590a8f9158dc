// Internal to the transfer engine: what its helper threads (checkpointer, syncer) share, a
// registry of jobs visited in rounds by one thread that stops on request.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "transfer_job.hpp"

namespace omed::model::transfer {

class JobThread {
public:
  JobThread() = default;
  ~JobThread() { stop(); }
  JobThread(const JobThread&) = delete;
  JobThread& operator=(const JobThread&) = delete;

  void start(std::function<void()> loop) { thread_ = std::thread(std::move(loop)); }
  // Ends the current wait; the loop sees `stopping` in its next round and returns. Joins.
  void stop() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable())
      thread_.join();
  }
  void add(const std::shared_ptr<FileJob>& job) {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& j : jobs_)
      if (j == job)
        return;
    jobs_.push_back(job);
  }
  // Wakes the thread early (its `wake` predicate decides whether that starts a round).
  void notify() {
    std::lock_guard<std::mutex> lk(mu_);
    cv_.notify_one();
  }

  struct Round {
    std::vector<std::shared_ptr<FileJob>> jobs;
    bool stopping = false;
  };
  // Waits up to `timeout` (less when stopping or `wake()`), runs `under_lock` with the registry's
  // lock held, and returns the jobs to visit.
  template <class Wake, class UnderLock>
  Round next_round(std::chrono::milliseconds timeout, Wake wake, UnderLock under_lock) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_for(lk, timeout, [&] { return stop_ || wake(); });
    under_lock();
    return Round{jobs_, stop_};
  }
  // Forgets finished jobs (after a round, so the last one still saw them).
  void drop_retired() {
    std::lock_guard<std::mutex> lk(mu_);
    std::erase_if(jobs_, [](const std::shared_ptr<FileJob>& j) {
      std::lock_guard<std::mutex> sl(j->state_mu);
      return j->retired;
    });
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<FileJob>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace omed::model::transfer
