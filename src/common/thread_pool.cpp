// Worker threads sharing one queue; delayed tasks wait in a time-ordered map and move to the
// queue when due (any idle worker checks).
#include "omed/common/thread_pool.hpp"

#include <pthread.h>

namespace omed {

ThreadPool::ThreadPool(size_t threads, std::string name) : name_(std::move(name)) {
  for (size_t i = 0; i < std::max<size_t>(1, threads); ++i)
    workers_.emplace_back([this] { run(); });
}

ThreadPool::~ThreadPool() { stop(); }

void ThreadPool::post(Task t) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_)
      return;
    queue_.push_back(std::move(t));
  }
  cv_.notify_one();
}

void ThreadPool::post_after(std::chrono::milliseconds delay, Task t) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_)
      return;
    delayed_.emplace(std::chrono::steady_clock::now() + delay, std::move(t));
  }
  cv_.notify_one();
}

void ThreadPool::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_ && workers_.empty())
      return;
    stopping_ = true;
    delayed_.clear();
  }
  cv_.notify_all();
  for (auto& w : workers_)
    if (w.joinable())
      w.join();
  workers_.clear();
}

size_t ThreadPool::queued() const {
  std::lock_guard<std::mutex> lk(mu_);
  return queue_.size() + delayed_.size();
}

void ThreadPool::run() {
  pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
  std::unique_lock<std::mutex> lk(mu_);
  while (true) {
    auto now = std::chrono::steady_clock::now();
    while (!delayed_.empty() && delayed_.begin()->first <= now) {
      queue_.push_back(std::move(delayed_.begin()->second));
      delayed_.erase(delayed_.begin());
    }
    if (!queue_.empty()) {
      auto t = std::move(queue_.front());
      queue_.pop_front();
      lk.unlock();
      t();
      lk.lock();
      continue;
    }
    if (stopping_)
      return;
    if (delayed_.empty())
      cv_.wait(lk);
    else {
      // A copy: wait_until reads its deadline after reacquiring the lock, when stop() may have
      // cleared the map the reference would point into.
      const auto deadline = delayed_.begin()->first;
      cv_.wait_until(lk, deadline);
    }
  }
}

}  // namespace omed
