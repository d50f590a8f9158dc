// Backoff arithmetic and the sliding intensity window.
#include "omed/runtime/restart_policy.hpp"

#include <algorithm>
#include <cmath>

namespace omed::runtime {

RestartTracker::RestartTracker(RestartPolicy p, uint64_t seed) : policy_(p), rng_state_(seed) {}

double RestartTracker::next_unit() {
  uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

void RestartTracker::expire(time_point now) {
  auto keep = std::find_if(failures_.begin(), failures_.end(), [&](time_point t) { return now - t < policy_.period; });
  failures_.erase(failures_.begin(), keep);
}

int RestartTracker::recent_failures(time_point now) {
  expire(now);
  return static_cast<int>(failures_.size());
}

std::chrono::milliseconds RestartTracker::base_delay(int attempt) const {
  double d = static_cast<double>(policy_.initial_backoff.count()) *
             std::pow(policy_.multiplier, std::max(0, attempt - 1));
  d = std::min(d, static_cast<double>(policy_.max_backoff.count()));
  return std::chrono::milliseconds(static_cast<int64_t>(d));
}

RestartDecision RestartTracker::on_failure(time_point now) {
  expire(now);
  failures_.push_back(now);
  RestartDecision out;
  out.attempt = static_cast<int>(failures_.size());
  if (out.attempt > policy_.max_restarts) {
    out.restart = false;
    return out;
  }
  double base = static_cast<double>(base_delay(out.attempt).count());
  double d = base * (1.0 - policy_.jitter + 2.0 * policy_.jitter * next_unit());
  d = std::min(d, static_cast<double>(policy_.max_backoff.count()));
  out.delay = std::chrono::milliseconds(std::max<int64_t>(1, static_cast<int64_t>(d)));
  out.restart = true;
  ++total_restarts_;
  return out;
}

}  // namespace omed::runtime
