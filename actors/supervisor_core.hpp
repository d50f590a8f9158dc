// The restart machinery shared by every supervisor actor (root, kind supervisors): links
// children, restarts them with backoff, parks them after too many failures, drains on shutdown.
#pragma once

#include <chrono>
#include <functional>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "omed/actors/messages.hpp"
#include "omed/actors/supervision.hpp"
#include "omed/log/logger.hpp"
#include "omed/runtime/restart_policy.hpp"

namespace omed::actors {

class SupervisorCore {
public:
  // Spawns (or respawns) the child; called in the supervisor's context.
  using StartFn = std::function<caf::actor()>;
  using ParkedFn = std::function<void(const std::string& name, const std::string& error)>;
  using RestartedFn = std::function<void(const std::string& name, int attempt)>;

  SupervisorCore(caf::scheduled_actor* self, runtime::RestartPolicy policy, uint64_t seed,
                 log::Logger log);

  void start_child(const std::string& name, StartFn fn);
  // Stops a child for good (no restart); returns false if unknown.
  bool stop_child(const std::string& name, caf::error reason = caf::exit_reason::user_shutdown);
  // True if the exit came from one of our children (it is then ignored: see handle_down).
  bool handle_exit(const caf::exit_msg& msg);
  // True if the down message was about one of our children (and was handled).
  bool handle_down(const caf::down_msg& msg);
  // The backoff timer fired.
  void handle_restart(const std::string& name, uint64_t generation);

  // Stops every child (reverse start order); `done` runs once all have exited.
  void drain(std::function<void()> done);
  bool draining() const { return draining_; }

  caf::actor child(const std::string& name) const;
  bool has_child(const std::string& name) const { return children_.count(name) > 0; }
  std::vector<ChildInfo> snapshot() const;
  size_t size() const { return children_.size(); }
  size_t running() const;
  size_t parked() const;
  // Forgets a parked or stopped child entirely.
  void forget(const std::string& name);

  ParkedFn on_parked;
  RestartedFn on_restarted;

private:
  struct Child {
    std::string name;
    StartFn start;
    caf::actor handle;
    caf::actor_addr addr;
    std::string state = "running";
    std::string last_error;
    uint64_t generation = 0;
    uint64_t order = 0;
    std::chrono::steady_clock::time_point started;
    runtime::RestartTracker tracker;
  };

  void spawn(Child& c);
  void retire(const caf::actor_addr& addr);
  void check_drained();

  caf::scheduled_actor* self_;
  runtime::RestartPolicy policy_;
  uint64_t seed_;
  uint64_t next_order_ = 0;
  log::Logger log_;
  std::map<std::string, Child> children_;
  std::map<caf::actor_addr, std::string> by_addr_;
  std::set<caf::actor_addr> linked_;
  std::deque<caf::actor_addr> former_;
  bool draining_ = false;
  std::function<void()> drained_;
};

}  // namespace omed::actors
