// Deterministic supervision tests on CAF's test coordinator: simulated time, no threads.
#include <catch2/catch.hpp>

#include <caf/scheduler/test_coordinator.hpp>

#include "omed/actors/supervision.hpp"

using namespace omed;
using namespace omed::actors;
using namespace std::chrono_literals;

namespace {

struct TestConfig : caf::actor_system_config {
  TestConfig() {
    set("scheduler.policy", caf::atom("testing"));
    set("logger.inline-output", true);
    add_message_types<caf::id_block::omed>();
  }
};

struct Fixture {
  TestConfig cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched =
    dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  caf::scoped_actor self{sys};

  // A failed REQUIRE leaves actors alive; do not wait for them forever.
  ~Fixture() {
    sched.run();
    sys.await_actors_before_shutdown(false);
  }

  // Asks an actor and runs the scheduler until the answer is there.
  template <class T, class Handle, class... Ts>
  T ask(const Handle& h, Ts&&... xs) {
    auto rh = self->request(h, caf::infinite, std::forward<Ts>(xs)...);
    sched.run();
    T out{};
    rh.receive([&](T& x) { out = std::move(x); }, [&](caf::error& e) { FAIL(describe(e)); });
    return out;
  }

  // Time until the next scheduled timeout (restart timer), or -1 when there is none.
  int64_t next_timeout_ms() {
    auto& sch = sched.clock().schedule();
    if (sch.empty())
      return -1;
    return std::chrono::duration_cast<std::chrono::milliseconds>(sch.begin()->first - sched.clock().now())
      .count();
  }

  ChildInfo child_info(const supervisor_actor& sup, const std::string& name) {
    for (auto& c : ask<std::vector<ChildInfo>>(sup, children_atom_v))
      if (c.name == name)
        return c;
    FAIL("no child " << name);
    return {};
  }
};

struct Crasher {
  int starts = 0;
  caf::actor current;
};

caf::behavior crasher_fn(caf::event_based_actor* self, Crasher* c) {
  ++c->starts;
  c->current = caf::actor_cast<caf::actor>(self);
  self->set_exception_handler(exception_to_error);
  return {
    [](caf::get_atom) -> int { throw std::runtime_error("crash requested"); },
  };
}

// Spawned with an argument: CAF 0.17 binds a null reference for argument-less function actors
// (caf/detail/init_fun_factory.hpp), which UBSan reports.
caf::behavior idle_fn(caf::event_based_actor*, int) {
  return {[](caf::get_atom) { return 1; }};
}

ObjectEvent make_event(const std::string& type, const std::string& name, int rv, int gen,
                       bool poison = false) {
  json::Value obj = json::Object{};
  obj["apiVersion"] = "ome.io/v1beta1";
  obj["kind"] = "InferenceService";
  obj["metadata"]["name"] = name;
  obj["metadata"]["namespace"] = "default";
  obj["metadata"]["resourceVersion"] = std::to_string(rv);
  obj["metadata"]["generation"] = gen;
  if (poison)
    obj["metadata"]["annotations"]["omed.test/poison"] = "true";
  return ObjectEvent{type, std::make_shared<const json::Value>(std::move(obj))};
}

}  // namespace

TEST_CASE_METHOD(Fixture, "a crashing child is restarted with growing delays, then parked",
                 "[actors][supervision]") {
  Crasher c;
  SupervisorOptions opts;  // defaults: 100ms..30s, 5 restarts in 60s
  auto root = spawn_root_supervisor(
    sys, {{"worker", [&c](caf::local_actor* p) { return p->spawn(crasher_fn, &c); }}}, opts);
  sched.run();
  REQUIRE(c.starts == 1);

  int64_t last_delay = 0;
  for (int i = 1; i <= 5; ++i) {
    self->send(c.current, caf::get_atom_v);
    sched.run();
    // Crashed: not restarted yet, a backoff timer is pending.
    CHECK(c.starts == i);
    auto delay = next_timeout_ms();
    REQUIRE(delay > 0);
    CHECK(delay > last_delay);  // delays grow
    CHECK(delay >= 80 * (1 << (i - 1)));
    CHECK(delay <= 120 * (1 << (i - 1)));
    last_delay = delay;
    CHECK(child_info(root, "worker").state == "restarting");
    // Not a millisecond early...
    sched.advance_time(std::chrono::milliseconds(delay - 1));
    sched.run();
    CHECK(c.starts == i);
    // ...and right on time.
    sched.advance_time(1ms);
    sched.run();
    CHECK(c.starts == i + 1);
    CHECK(child_info(root, "worker").state == "running");
  }

  // The sixth crash inside the 60 s window parks the child with its last error.
  self->send(c.current, caf::get_atom_v);
  sched.run();
  CHECK(next_timeout_ms() == -1);
  auto info = child_info(root, "worker");
  CHECK(info.state == "failed");
  CHECK(info.last_error == "crash requested");
  CHECK(info.restarts == 5);
  sched.advance_time(10min);
  sched.run();
  CHECK(c.starts == 6);  // never restarted in a tight loop
  self->send_exit(root, caf::exit_reason::user_shutdown);
  sched.run();
}

TEST_CASE_METHOD(Fixture, "drain stops every child in reverse order, then the supervisor",
                 "[actors][supervision]") {
  std::vector<std::string> exits;
  auto child = [&exits](std::string name) {
    return ChildSpec{name, [&exits, name](caf::local_actor* p) {
      auto a = p->spawn(idle_fn, 0);
      a->attach_functor([&exits, name](const caf::error&) { exits.push_back(name); });
      return a;
    }};
  };
  auto root = spawn_root_supervisor(sys, {child("a"), child("b"), child("c")}, {});
  sched.run();
  bool root_down = false;
  caf::actor_cast<caf::actor>(root)->attach_functor([&](const caf::error&) { root_down = true; });
  auto ok = ask<caf::ok_atom>(root, drain_atom_v);
  (void)ok;
  sched.run();
  CHECK(exits == std::vector<std::string>{"c", "b", "a"});
  CHECK(root_down);
}

TEST_CASE_METHOD(Fixture, "an exit request to the root stops all children first",
                 "[actors][supervision]") {
  int stopped = 0;
  std::vector<ChildSpec> specs;
  for (auto n : {"x", "y"})
    specs.push_back({n, [&stopped](caf::local_actor* p) {
      auto a = p->spawn(idle_fn, 0);
      a->attach_functor([&stopped](const caf::error&) { ++stopped; });
      return a;
    }});
  auto root = spawn_root_supervisor(sys, std::move(specs), {});
  sched.run();
  self->send_exit(root, caf::exit_reason::user_shutdown);
  sched.run();
  CHECK(stopped == 2);
}

TEST_CASE_METHOD(Fixture, "a restarted resource actor starts again from the latest object",
                 "[actors][supervision]") {
  std::vector<std::string> seen;  // resourceVersions reconciled, in order
  bool crashed_once = false;
  KindOptions ko;
  ko.kind = "InferenceService";
  ko.make_reconciler = [&](const std::string&) {
    return Reconciler([&](const controller::Input& in) {
      auto& obj = in.object;
      auto rv = obj.at_path("metadata.resourceVersion")->as_string();
      seen.push_back(rv);
      if (rv == "2" && !crashed_once) {
        crashed_once = true;
        throw std::runtime_error("transient failure on rv 2");
      }
      return ReconcileOutcome{};
    });
  };
  auto ks = spawn_kind_supervisor(sys, ko);
  sched.run();
  self->send(ks, event_atom_v, make_event("ADDED", "llama", 1, 1));
  sched.run();
  self->send(ks, event_atom_v, make_event("MODIFIED", "llama", 2, 2));
  sched.run();
  REQUIRE(seen == std::vector<std::string>{"1", "2"});
  // While the actor waits for its backoff, a newer object arrives.
  self->send(ks, event_atom_v, make_event("MODIFIED", "llama", 3, 3));
  sched.run();
  CHECK(seen.size() == 2);
  auto latest = ask<ObjectEvent>(ks, latest_atom_v, std::string("default/llama"));
  CHECK(latest.object->at_path("metadata.resourceVersion")->as_string() == "3");
  sched.advance_time(200ms);
  sched.run();
  // The restart reconciled the latest object (rv 3), not the first (rv 1) nor the crashing one.
  CHECK(seen == std::vector<std::string>{"1", "2", "3"});
  auto kids = ask<std::vector<ChildInfo>>(ks, children_atom_v);
  REQUIRE(kids.size() == 1);
  CHECK(kids[0].name == "default/llama");
  CHECK(kids[0].state == "running");
  CHECK(kids[0].restarts == 1);
  CHECK(kids[0].last_error == "transient failure on rv 2");
  self->send_exit(ks, caf::exit_reason::user_shutdown);
  sched.run();
}

TEST_CASE_METHOD(Fixture, "a poisoned object is parked, reported, and retried only on a new generation",
                 "[actors][supervision]") {
  int attempts = 0;
  std::vector<std::pair<std::string, std::string>> parked;
  KindOptions ko;
  ko.kind = "BaseModel";
  ko.on_parked = [&](const std::string& key, const std::string& err) { parked.emplace_back(key, err); };
  ko.make_reconciler = [&](const std::string&) {
    return Reconciler([&](const controller::Input& in) {
      auto& obj = in.object;
      ++attempts;
      auto* ann = obj.at_path("metadata.annotations");
      if (ann && ann->get("omed.test/poison"))
        throw std::runtime_error("cannot reconcile poisoned object");
      return ReconcileOutcome{};
    });
  };
  auto ks = spawn_kind_supervisor(sys, ko);
  sched.run();
  // A healthy neighbour must be unaffected.
  self->send(ks, event_atom_v, make_event("ADDED", "healthy", 1, 1));
  self->send(ks, event_atom_v, make_event("ADDED", "bad", 2, 1, true));
  sched.run();
  // Let every backoff timer fire (5 restarts take 0.1+0.2+0.4+0.8+1.6 s, well inside 60 s).
  for (int i = 0; i < 10; ++i) {
    sched.trigger_timeouts();
    sched.run();
  }
  REQUIRE(parked.size() == 1);
  CHECK(parked[0].first == "default/bad");
  CHECK(parked[0].second == "cannot reconcile poisoned object");
  int after_park = attempts;
  // A status-only change (same generation) does not wake it up.
  self->send(ks, event_atom_v, make_event("MODIFIED", "bad", 3, 1, true));
  sched.run();
  CHECK(attempts == after_park);
  // A fixed spec (new generation) does.
  self->send(ks, event_atom_v, make_event("MODIFIED", "bad", 4, 2, false));
  sched.run();
  CHECK(attempts == after_park + 1);
  auto kids = ask<std::vector<ChildInfo>>(ks, children_atom_v);
  REQUIRE(kids.size() == 2);
  for (auto& k : kids)
    CHECK(k.state == "running");
  // Deleting removes the actor entirely.
  self->send(ks, event_atom_v, make_event("DELETED", "bad", 5, 2));
  sched.run();
  CHECK(ask<std::vector<ChildInfo>>(ks, children_atom_v).size() == 1);
  self->send_exit(ks, caf::exit_reason::user_shutdown);
  sched.run();
}
