// Lease-based leader election as client-go runs it: GET, then POST or PUT carrying the observed
// resourceVersion; another holder's lease expires by when we saw it change, never by its timestamps.
#include "omed/k8s/leader_election.hpp"

#include "omed/common/micro_time.hpp"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <optional>
#include <random>
#include <stdexcept>

#include "omed/k8s/client.hpp"
#include "omed/log/logger.hpp"

namespace omed::k8s {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;


const ResourceInfo& lease_resource() {
  static const ResourceInfo* r = find_well_known("coordination.k8s.io/v1", "Lease");
  return *r;
}

std::string holder_of(const json::Value& spec) {
  return spec.is_object() ? spec.string_or("holderIdentity") : std::string();
}

}  // namespace

// State only the election loop touches; it lives on run()'s stack, so the header needs no pointer.
struct LeaderElector::Impl {
  explicit Impl(LeaderElector& e)
    : le(e), log(log::Logger("leader-election").with_object(e.opts_.lease_namespace + "/" + e.opts_.lease_name)),
      rng(std::random_device{}()) {}

  LeaderElector& le;
  log::Logger log;
  std::optional<json::Value> lease;  // the last object read or written: its resourceVersion guards the next PUT
  json::Value observed;              // the last spec seen, to notice changes
  Clock::time_point observed_at{};   // when we (locally) saw that spec appear
  std::optional<std::string> reported;
  std::mt19937_64 rng;

  // Whole seconds on the wire: rounding up keeps the promise to others at least as long as configured.
  int64_t duration_seconds() const {
    auto ms = le.opts_.lease_duration.count();
    return std::max<int64_t>(1, (ms + 999) / 1000);
  }

  // Others honour the duration the holder wrote, counted from our own observation of the change.
  bool lease_valid(Clock::time_point now) const {
    auto secs = observed.is_object() ? observed.int_at("leaseDurationSeconds").value_or(0) : 0;
    return observed_at + std::chrono::seconds(secs) > now;
  }

  bool we_hold() const { return holder_of(observed) == le.opts_.identity; }

  void observe(const json::Value& spec) {
    observed = spec;
    observed_at = Clock::now();
    std::string h = holder_of(spec);
    {
      std::lock_guard<std::mutex> lk(le.mu_);
      le.holder_ = h;
    }
    if (reported && *reported == h)
      return;
    reported = h;
    log.info("observed lease holder").kv("holder", h.empty() ? "<none>" : h);
    invoke("on_new_leader", [&] {
      if (le.on_new_leader)
        le.on_new_leader(h);
    });
  }

  void adopt(json::Value stored) {
    json::Value spec = stored.get("spec") ? *stored.get("spec") : json::Value(json::Object{});
    lease = std::move(stored);
    observe(spec);
  }

  template <class F>
  void invoke(const char* what, F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      log.error("leader election callback threw").kv("callback", what).kv("error", e.what());
    } catch (...) {
      log.error("leader election callback threw").kv("callback", what);
    }
  }

  json::Value fresh_lease(const std::string& wall) const {
    return json::Object{
      {"apiVersion", "coordination.k8s.io/v1"},
      {"kind", "Lease"},
      {"metadata", json::Object{{"name", le.opts_.lease_name}, {"namespace", le.opts_.lease_namespace}}},
      {"spec", json::Object{{"holderIdentity", le.opts_.identity},
                            {"leaseDurationSeconds", duration_seconds()},
                            {"acquireTime", wall},
                            {"renewTime", wall},
                            {"leaseTransitions", 0}}}};
  }

  // Our record on top of `base` (which carries the resourceVersion and any fields we do not own).
  json::Value claim(const json::Value& base, const std::string& wall) const {
    json::Value obj = base;
    json::Value& spec = obj["spec"];
    if (!spec.is_object())
      spec = json::Object{};
    std::string prev = holder_of(spec);
    int64_t transitions = spec.int_at("leaseTransitions").value_or(0);
    if (prev == le.opts_.identity) {
      if (!spec.get("acquireTime") || !spec.get("acquireTime")->is_string())
        spec["acquireTime"] = wall;
    } else {
      spec["acquireTime"] = wall;
      transitions++;
    }
    spec["holderIdentity"] = le.opts_.identity;
    spec["leaseDurationSeconds"] = duration_seconds();
    spec["renewTime"] = wall;
    spec["leaseTransitions"] = transitions;
    return obj;
  }

  void log_failure(const char* what, const std::exception& e) {
    if (auto* api = dynamic_cast<const ApiError*>(&e); api && (api->conflict() || api->already_exists()))
      log.debug(what).kv("error", e.what()).kv("why", "another candidate wrote the lease first");
    else if (++failures == 1 || failures % 10 == 0)  // a dead API server must not flood the log
      log.warn(what).kv("error", e.what()).kv("failures", failures);
    else
      log.debug(what).kv("error", e.what()).kv("failures", failures);
  }
  int failures = 0;  // consecutive failed attempts, for log rate limiting

  // One attempt; true when this process holds the lease afterwards. Never throws.
  bool try_acquire_or_renew() {
    const auto& rt = lease_resource();
    const std::string wall = format_micro_time(std::chrono::system_clock::now());
    try {
      // Fast path: the leader writes over its own last object; a conflict means someone else wrote
      // since, and the slow path below reads what happened.
      if (lease && we_hold() && lease_valid(Clock::now())) {
        try {
          adopt(le.client_.update(rt, claim(*lease, wall)));
          failures = 0;
          return true;
        } catch (const ApiError& e) {
          log_failure("optimistic lease renew failed", e);
          if (!e.conflict())
            return false;
        }
      }

      auto cur = le.client_.try_get(rt, le.opts_.lease_namespace, le.opts_.lease_name);
      if (!cur) {
        try {
          adopt(le.client_.create(rt, fresh_lease(wall)));
          return true;
        } catch (const ApiError& e) {
          log_failure("creating the lease failed", e);
          return false;
        }
      }
      json::Value spec = cur->get("spec") ? *cur->get("spec") : json::Value(json::Object{});
      lease = *cur;
      if (spec != observed)
        observe(spec);
      std::string h = holder_of(spec);
      if (!h.empty() && h != le.opts_.identity && lease_valid(Clock::now())) {
        log.debug("lease held by another candidate").kv("holder", h);
        return false;
      }
      adopt(le.client_.update(rt, claim(*cur, wall)));
      failures = 0;
      return true;
    } catch (const std::exception& e) {
      log_failure("acquiring or renewing the lease failed", e);
      return false;
    }
  }

  // Empty holder and a one-second duration: waiting candidates take over at their next attempt.
  void release() {
    if (!lease || !we_hold())
      return;
    try {
      json::Value obj = *lease;
      json::Value& spec = obj["spec"];
      const std::string wall = format_micro_time(std::chrono::system_clock::now());
      spec["holderIdentity"] = "";
      spec["leaseDurationSeconds"] = 1;
      spec["acquireTime"] = wall;
      spec["renewTime"] = wall;
      adopt(le.client_.update(lease_resource(), obj));
      log.info("released the lease");
    } catch (const std::exception& e) {
      log_failure("releasing the lease failed", e);
    }
  }

  // False when stop() ended the wait.
  bool sleep_until(Clock::time_point t) {
    std::unique_lock<std::mutex> lk(le.mu_);
    return !le.cv_.wait_until(lk, t, [&] { return le.stop_.load(); });
  }

  milliseconds jittered(milliseconds base) {
    // client-go's JitterFactor 1.2: candidates that lost a race do not retry in lockstep.
    std::uniform_real_distribution<double> d(0.0, 1.2);
    return milliseconds(base.count() + static_cast<int64_t>(base.count() * d(rng)));
  }

  void set_leading(bool on, Clock::time_point renewed) {
    std::lock_guard<std::mutex> lk(le.mu_);
    le.leading_ = on;
    if (on)
      le.last_renew_ = renewed;
  }

  void loop() {
    const auto& o = le.opts_;
    log.info("leader election starting").kv("identity", o.identity);
    while (!le.stop_) {
      // Acquire. A success counts only if it completed inside the renew deadline: the renew time we
      // keep is when the attempt started, because others may have seen our write as early as that.
      std::optional<Clock::time_point> acquired;
      while (!le.stop_) {
        auto started = Clock::now();
        if (try_acquire_or_renew() && Clock::now() - started < o.renew_deadline) {
          acquired = started;
          break;
        }
        if (!sleep_until(Clock::now() + jittered(o.retry_period)))
          break;
      }
      if (!acquired || le.stop_)
        break;
      set_leading(true, *acquired);
      log.info("became leader").kv("identity", o.identity);
      invoke("on_started_leading", [&] {
        if (le.on_started_leading)
          le.on_started_leading();
      });

      // Renew every retry period; give up once no attempt has succeeded within the renew deadline.
      Clock::time_point last = *acquired;
      Clock::time_point next = Clock::now() + o.retry_period;
      bool lost = false;
      while (!lost) {
        auto deadline = last + o.renew_deadline;
        if (!sleep_until(std::min(next, deadline)))
          break;
        if (Clock::now() >= deadline) {
          lost = true;
          break;
        }
        auto started = Clock::now();
        if (try_acquire_or_renew()) {
          last = started;
          set_leading(true, last);
        }
        lost = Clock::now() >= last + o.renew_deadline;
        next = Clock::now() + o.retry_period;
      }
      if (!lost)
        break;  // stop() while leading: the exit path below releases and reports
      set_leading(false, {});
      log.warn("lost leadership: no successful renew within the deadline")
        .kv("renew_deadline_ms", o.renew_deadline.count());
      invoke("on_stopped_leading", [&] {
        if (le.on_stopped_leading)
          le.on_stopped_leading();
      });
    }

    bool was_leading;
    {
      std::lock_guard<std::mutex> lk(le.mu_);
      was_leading = le.leading_;
      le.leading_ = false;
    }
    if (o.release_on_cancel)
      release();
    if (was_leading) {
      log.info("stopped leading").kv("identity", o.identity);
      invoke("on_stopped_leading", [&] {
        if (le.on_stopped_leading)
          le.on_stopped_leading();
      });
    }
    log.info("leader election stopped");
  }
};

LeaderElector::LeaderElector(Client& client, LeaderElectionOptions opts) : client_(client), opts_(std::move(opts)) {
  if (opts_.identity.empty())
    opts_.identity = default_identity();
  if (opts_.lease_name.empty() || opts_.lease_namespace.empty())
    throw std::invalid_argument("leader election: lease name and namespace are required");
  // The safety argument: a leader gives up (renew_deadline) before any other candidate may take
  // over (lease_duration after it last saw a renew), and it retries more than once in between.
  if (opts_.retry_period.count() <= 0 || opts_.renew_deadline <= opts_.retry_period ||
      opts_.lease_duration <= opts_.renew_deadline)
    throw std::invalid_argument("leader election: need lease_duration > renew_deadline > retry_period > 0");
}

LeaderElector::~LeaderElector() { stop(); }

void LeaderElector::run() {
  if (stop_)
    return;
  Impl im(*this);
  try {
    im.loop();
  } catch (const std::exception& e) {
    // Only a bug gets here; leadership must not outlive the loop that renews it.
    im.log.error("leader election loop failed").kv("error", e.what());
    bool was_leading;
    {
      std::lock_guard<std::mutex> lk(mu_);
      was_leading = leading_;
      leading_ = false;
    }
    if (was_leading)
      im.invoke("on_stopped_leading", [&] {
        if (on_stopped_leading)
          on_stopped_leading();
      });
  }
}

void LeaderElector::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

bool LeaderElector::is_leader() const {
  std::lock_guard<std::mutex> lk(mu_);
  return leading_ && !stop_ && Clock::now() - last_renew_ < opts_.renew_deadline;
}

std::string LeaderElector::holder() const {
  std::lock_guard<std::mutex> lk(mu_);
  return holder_;
}

std::string default_identity() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0')
    std::snprintf(host, sizeof host, "unknown");
  std::random_device rd;
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%06x", static_cast<unsigned>(rd()) & 0xffffffu);
  return std::string(host) + "_" + std::to_string(getpid()) + "_" + suffix;
}

}  // namespace omed::k8s
