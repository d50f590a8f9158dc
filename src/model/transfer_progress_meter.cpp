// Rate-limited progress reporting for the transfer engine. The rate covers only the window since
// the previous report so that a stall shows up at once instead of being averaged away.
#include "omed/model/transfer/progress_meter.hpp"

namespace omed::model::transfer {

ProgressMeter::ProgressMeter(std::chrono::milliseconds interval, ProgressCallback callback,
                             Clock::time_point start)
  : interval_(interval), cb_(std::move(callback)), last_time_(start) {}

void ProgressMeter::set_totals(uint64_t bytes_total, size_t files_total) {
  total_ = bytes_total;
  files_total_ = files_total;
}

void ProgressMeter::add_done(int64_t delta) {
  if (delta < 0 && static_cast<uint64_t>(-delta) > done_)
    done_ = 0;
  else
    done_ = static_cast<uint64_t>(static_cast<int64_t>(done_) + delta);
}

TransferProgress ProgressMeter::snapshot(Clock::time_point now) const {
  TransferProgress p;
  p.bytes_done = std::min(done_, total_ ? total_ : done_);
  p.bytes_total = total_;
  p.files_done = files_done_;
  p.files_total = files_total_;
  double secs = std::chrono::duration<double>(now - last_time_).count();
  if (secs > 0)
    p.bytes_per_second = static_cast<double>(network_ - last_network_) / secs;
  if (p.bytes_per_second > 0 && total_ >= p.bytes_done)
    p.eta_seconds = static_cast<double>(total_ - p.bytes_done) / p.bytes_per_second;
  return p;
}

void ProgressMeter::maybe_report(Clock::time_point now) {
  if (!cb_ || now - last_time_ < interval_)
    return;
  auto p = snapshot(now);
  last_time_ = now;
  last_network_ = network_;
  cb_(p);
}

void ProgressMeter::final_report(Clock::time_point now) {
  if (!cb_)
    return;
  auto p = snapshot(now);
  p.final = true;
  p.eta_seconds = 0;
  last_time_ = now;
  last_network_ = network_;
  cb_(p);
}

}  // namespace omed::model::transfer
