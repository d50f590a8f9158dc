// A fixed pool of worker threads with a FIFO queue and delayed tasks, for blocking work that
// must stay off I/O and actor scheduler threads (fsync, request handling, downloads).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace omed {

class ThreadPool {
public:
  using Task = std::function<void()>;

  explicit ThreadPool(size_t threads, std::string name = "pool");
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void post(Task t);
  // Runs `t` on a worker no earlier than `delay` from now.
  void post_after(std::chrono::milliseconds delay, Task t);
  // Stops taking tasks, runs what is queued (not delayed tasks), joins the workers.
  void stop();
  size_t queued() const;

private:
  void run();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  std::multimap<std::chrono::steady_clock::time_point, Task> delayed_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
  std::string name_;
};

}  // namespace omed
