// Restart decisions for supervised children: exponential backoff with jitter, and a
// restart-intensity limit after which a child is parked instead of crash-looping.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace omed::runtime {

struct RestartPolicy {
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{30000};
  double multiplier = 2.0;
  // Each delay is scaled by a factor drawn from [1 - jitter, 1 + jitter]; 0.2 keeps successive
  // delays strictly growing with a multiplier of 2 while still spreading thundering herds.
  double jitter = 0.2;
  // More than `max_restarts` failures within `period` parks the child.
  int max_restarts = 5;
  std::chrono::milliseconds period{60000};
};

struct RestartDecision {
  bool restart = false;              // false: park the child as failed
  std::chrono::milliseconds delay{0};
  int attempt = 0;                   // 1 for the first restart in the current window
};

// Per-child bookkeeping. Time is passed in, so the logic is deterministic under test clocks.
class RestartTracker {
public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit RestartTracker(RestartPolicy p = {}, uint64_t seed = 0x6f6d6564);

  RestartDecision on_failure(time_point now);
  // Failures currently inside the intensity window.
  int recent_failures(time_point now);
  int total_restarts() const { return total_restarts_; }
  const RestartPolicy& policy() const { return policy_; }

  // The deterministic delay for attempt n (1-based) before jitter.
  std::chrono::milliseconds base_delay(int attempt) const;

private:
  void expire(time_point now);

  // One tracker per supervised child, and a kind supervisor may hold tens of thousands: the
  // jitter source is 8 bytes of splitmix64 state, and the window allocates only on a failure.
  double next_unit();  // uniform in [0, 1)

  RestartPolicy policy_;
  uint64_t rng_state_;
  std::vector<time_point> failures_;
  int total_restarts_ = 0;
};

}  // namespace omed::runtime
