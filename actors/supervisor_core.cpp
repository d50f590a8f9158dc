// Supervision bookkeeping on top of CAF links. Exits are trapped by the owning actor and handed
// here; restarts are timer messages to the owner so that backoff never blocks a scheduler thread.
#include "supervisor_core.hpp"

#include <algorithm>

namespace omed::actors {

std::string describe(const caf::error& err) {
  if (!err)
    return "";
  const auto& ctx = err.context();
  if (ctx.match_elements<std::string>())
    return ctx.get_as<std::string>(0);
  if (err == caf::exit_reason::user_shutdown)
    return "shutdown";
  if (err == caf::exit_reason::kill)
    return "killed";
  return caf::to_string(err);
}

SupervisorCore::SupervisorCore(caf::scheduled_actor* self, runtime::RestartPolicy policy,
                               uint64_t seed, log::Logger log)
  : self_(self), policy_(policy), seed_(seed), log_(std::move(log)) {}

void SupervisorCore::spawn(Child& c) {
  ++c.generation;
  c.started = self_->clock().now();
  c.state = "running";
  try {
    c.handle = c.start();
  } catch (const std::exception& e) {
    c.handle = caf::actor{};
    c.last_error = std::string("start failed: ") + e.what();
  }
  if (!c.handle) {
    // Treat a failed start like a crash so backoff and the intensity limit apply.
    if (c.last_error.empty())
      c.last_error = "start failed";
    auto decision = c.tracker.on_failure(self_->clock().now());
    if (!decision.restart) {
      c.state = "failed";
      if (on_parked)
        on_parked(c.name, c.last_error);
      return;
    }
    c.state = "restarting";
    self_->clock().schedule_message(
      self_->clock().now() + decision.delay, caf::actor_cast<caf::strong_actor_ptr>(self_),
      caf::make_mailbox_element(nullptr, caf::make_message_id(), {}, restart_atom_v, c.name,
                                c.generation));
    return;
  }
  c.addr = c.handle.address();
  by_addr_[c.addr] = c.name;
  // Linked: children die with their supervisor. Monitored: we always learn how they died.
  self_->link_to(c.handle);
  self_->monitor(c.handle);
  linked_.insert(c.addr);
}

void SupervisorCore::start_child(const std::string& name, StartFn fn) {
  if (draining_)
    return;
  auto it = children_.find(name);
  if (it != children_.end() && (it->second.state == "running" || it->second.state == "restarting"))
    return;  // already supervised
  if (it != children_.end())
    children_.erase(it);
  uint64_t seed = seed_ ^ std::hash<std::string>{}(name);
  auto [pos, _] = children_.emplace(name, Child{name, std::move(fn), {}, {}, "running", {}, 0,
                                                next_order_++, {},
                                                runtime::RestartTracker(policy_, seed)});
  spawn(pos->second);
}

bool SupervisorCore::stop_child(const std::string& name, caf::error reason) {
  auto it = children_.find(name);
  if (it == children_.end())
    return false;
  auto& c = it->second;
  if (c.state == "running" && c.handle) {
    c.state = "stopping";
    self_->send_exit(c.handle, std::move(reason));
  } else {
    c.state = "stopped";  // a pending restart timer will see the state and do nothing
  }
  return true;
}

bool SupervisorCore::handle_exit(const caf::exit_msg& msg) {
  // Linked children's exits are also reported as down messages (monitors survive the unlink
  // CAF performs when we are the one sending the exit); bookkeeping happens there. Here we only
  // tell our children's exits apart from a shutdown request by our parent.
  if (linked_.erase(msg.source) > 0)
    return true;
  return std::find(former_.begin(), former_.end(), msg.source) != former_.end();
}

void SupervisorCore::retire(const caf::actor_addr& addr) {
  // We caused this exit (stop or drain): CAF unlinked the child when it received our exit
  // message, so no exit message will come back. Remember it briefly in case one raced ours.
  if (linked_.erase(addr) == 0)
    return;
  former_.push_back(addr);
  if (former_.size() > 1024)
    former_.pop_front();
}

bool SupervisorCore::handle_down(const caf::down_msg& msg) {
  auto a = by_addr_.find(msg.source);
  if (a == by_addr_.end())
    return false;
  auto name = a->second;
  by_addr_.erase(a);
  auto it = children_.find(name);
  if (it == children_.end() || it->second.addr != msg.source) {
    retire(msg.source);  // an earlier incarnation under a reused name
    return true;
  }
  auto& c = it->second;
  c.handle = caf::actor{};
  if (c.state == "stopping") {
    // Stopped on purpose (object deleted): nothing to remember.
    retire(msg.source);
    children_.erase(it);
    check_drained();
    return true;
  }
  bool normal = !msg.reason || msg.reason == caf::exit_reason::normal;
  if (draining_)
    retire(msg.source);
  if (draining_ || normal) {
    c.state = "stopped";
    if (!normal && !draining_)
      c.last_error = describe(msg.reason);
    check_drained();
    return true;
  }
  c.last_error = describe(msg.reason);
  auto decision = c.tracker.on_failure(self_->clock().now());
  if (!decision.restart) {
    c.state = "failed";
    log_.error("child parked after too many restarts")
      .kv("child", name)
      .kv("restarts", c.tracker.total_restarts())
      .kv("window", std::to_string(policy_.period.count()) + "ms")
      .kv("error", c.last_error);
    if (on_parked)
      on_parked(name, c.last_error);
    return true;
  }
  c.state = "restarting";
  log_.warn("child crashed; restarting after backoff")
    .kv("child", name)
    .kv("attempt", decision.attempt)
    .kv("delay_ms", decision.delay.count())
    .kv("error", c.last_error);
  self_->clock().schedule_message(
    self_->clock().now() + decision.delay, caf::actor_cast<caf::strong_actor_ptr>(self_),
    caf::make_mailbox_element(nullptr, caf::make_message_id(), {}, restart_atom_v, name,
                              c.generation));
  return true;
}

void SupervisorCore::handle_restart(const std::string& name, uint64_t generation) {
  auto it = children_.find(name);
  if (it == children_.end() || draining_)
    return;
  auto& c = it->second;
  if (c.generation != generation || c.state != "restarting")
    return;  // stale timer: the child was stopped or restarted meanwhile
  spawn(c);
  if (on_restarted)
    on_restarted(name, c.tracker.total_restarts());
}

void SupervisorCore::drain(std::function<void()> done) {
  draining_ = true;
  drained_ = std::move(done);
  std::vector<Child*> order;
  for (auto& [_, c] : children_)
    order.push_back(&c);
  // Reverse start order: later children may depend on earlier ones.
  std::sort(order.begin(), order.end(), [](Child* a, Child* b) { return a->order > b->order; });
  for (auto* c : order) {
    if (c->state == "running" && c->handle)
      self_->send_exit(c->handle, caf::exit_reason::user_shutdown);
    else if (c->state != "stopping")
      c->state = "stopped";
  }
  check_drained();
}

void SupervisorCore::check_drained() {
  if (draining_ && by_addr_.empty() && drained_) {
    auto f = std::move(drained_);
    drained_ = nullptr;
    f();
  }
}

caf::actor SupervisorCore::child(const std::string& name) const {
  auto it = children_.find(name);
  return it == children_.end() ? caf::actor{} : it->second.handle;
}

std::vector<ChildInfo> SupervisorCore::snapshot() const {
  std::vector<ChildInfo> out;
  auto now = self_->clock().now();
  for (auto& [name, c] : children_) {
    ChildInfo ci;
    ci.name = name;
    ci.state = c.state;
    ci.restarts = c.tracker.total_restarts();
    ci.last_error = c.last_error;
    if (c.state == "running")
      ci.uptime_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - c.started).count();
    out.push_back(std::move(ci));
  }
  return out;
}

size_t SupervisorCore::running() const { return by_addr_.size(); }

size_t SupervisorCore::parked() const {
  size_t n = 0;
  for (auto& [_, c] : children_)
    if (c.state == "failed")
      ++n;
  return n;
}

void SupervisorCore::forget(const std::string& name) {
  auto it = children_.find(name);
  if (it == children_.end())
    return;
  if (it->second.state == "running" && it->second.handle)
    return;  // still alive: stop it first
  children_.erase(it);
}

}  // namespace omed::actors
