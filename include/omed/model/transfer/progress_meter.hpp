// Progress of one transfer run, reported through the caller's callback no more often than a
// configured interval: bytes and files done, the network rate since the last report, and ETA.
#pragma once

#include <chrono>
#include <cstdint>

#include "omed/model/transfer.hpp"

namespace omed::model::transfer {

class ProgressMeter {
public:
  using Clock = std::chrono::steady_clock;

  ProgressMeter(std::chrono::milliseconds interval, ProgressCallback callback,
                Clock::time_point start = Clock::now());

  void set_totals(uint64_t bytes_total, size_t files_total);
  void add_total_bytes(uint64_t n) { total_ += n; }
  // Bytes placed at their destination (kept, linked, resumed or fetched); negative when a file
  // restarts from scratch and its bytes no longer count.
  void add_done(int64_t delta);
  void add_network(uint64_t n) { network_ += n; }
  void file_done() { ++files_done_; }

  // Reports when the interval has passed since the previous report.
  void maybe_report(Clock::time_point now = Clock::now());
  void final_report(Clock::time_point now = Clock::now());
  TransferProgress snapshot(Clock::time_point now) const;

private:
  std::chrono::milliseconds interval_;
  ProgressCallback cb_;
  uint64_t total_ = 0;
  uint64_t done_ = 0;
  uint64_t network_ = 0;
  size_t files_total_ = 0;
  size_t files_done_ = 0;
  Clock::time_point last_time_;
  uint64_t last_network_ = 0;
};

}  // namespace omed::model::transfer
