// Backoff arithmetic and the sliding intensity window.
#include "omed/runtime/restart_policy.hpp"

#include <algorithm>
#include <cmath>

namespace omed::runtime {

RestartTracker::RestartTracker(RestartPolicy p, uint64_t seed) : policy_(p), rng_(seed) {}

void RestartTracker::expire(time_point now) {
  while (!failures_.empty() && now - failures_.front() >= policy_.period)
    failures_.pop_front();
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
  std::uniform_real_distribution<double> dist(1.0 - policy_.jitter, 1.0 + policy_.jitter);
  double d = base * dist(rng_);
  d = std::min(d, static_cast<double>(policy_.max_backoff.count()));
  out.delay = std::chrono::milliseconds(std::max<int64_t>(1, static_cast<int64_t>(d)));
  out.restart = true;
  ++total_restarts_;
  return out;
}

}  // namespace omed::runtime
