// Lease-based leader election (coordination.k8s.io/v1) as client-go's leaderelection does it:
// acquire or renew with GET then PUT/POST carrying the resourceVersion; expiry judged by local time.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

namespace omed::k8s {

class Client;

struct LeaderElectionOptions {
  std::string lease_namespace = "ome";
  std::string lease_name = "omed-controller";
  std::string identity;                                 // unique per process (hostname_pid_random)
  std::chrono::milliseconds lease_duration{15000};      // how long others wait after the last renew they saw
  std::chrono::milliseconds renew_deadline{10000};      // the leader gives up if it cannot renew within this
  std::chrono::milliseconds retry_period{2000};         // between attempts
  bool release_on_cancel = true;                        // on stop(), clear holderIdentity so others need not wait
};

// Runs the election loop on the calling thread (run() blocks until stop()).
class LeaderElector {
public:
  LeaderElector(Client& client, LeaderElectionOptions opts);
  ~LeaderElector();

  // Called on the elector's thread when leadership starts or ends (also at stop()).
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  // Called whenever the observed holder changes (including to someone else).
  std::function<void(const std::string& holder)> on_new_leader;

  void run();
  void stop();

  // True while this process holds the lease AND its last successful renew is younger than the
  // renew deadline, judged now. Writers check this immediately before every write, so a leader
  // that was paused (SIGSTOP, a long GC) stops writing even before its loop notices.
  bool is_leader() const;
  std::string holder() const;
  const LeaderElectionOptions& options() const { return opts_; }

private:
  struct Impl;
  Client& client_;
  LeaderElectionOptions opts_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string holder_;
  bool leading_ = false;
  std::chrono::steady_clock::time_point last_renew_{};
};

// "hostname_pid_xxxxxx": what omed uses as identity unless told otherwise.
std::string default_identity();

}  // namespace omed::k8s
