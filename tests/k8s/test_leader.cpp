// Lease leader election (k8s-api.md §4.2 C20) against the embedded API server: one leader at a
// time, hand-over on release and on expiry, giving up when renewals fail or stall.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <regex>
#include <thread>

#include "omed/apiserver/server.hpp"
#include "omed/k8s/client.hpp"
#include "omed/k8s/leader_election.hpp"

using namespace omed;
using namespace omed::k8s;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

const char* const kToken = "leader-test-token";
const char* const kLeaseNs = "kube-node-lease";
const char* const kLeaseName = "omed-test";

struct Cluster {
  std::unique_ptr<apiserver::ApiServer> srv;
  std::unique_ptr<RestClient> rest;
  std::unique_ptr<Client> client;
  Cluster() {
    apiserver::ApiServerOptions o;
    o.tls = false;
    o.token = kToken;
    srv = std::make_unique<apiserver::ApiServer>(o);
    srv->start();
    rest = connect();
    client = std::make_unique<Client>(*rest);
  }
  ~Cluster() { srv->stop(); }
  std::unique_ptr<RestClient> connect() const {
    RestConfig c;
    c.server = srv->url();
    struct Tok : TokenSource {
      std::string token() override { return kToken; }
    };
    c.token = std::make_shared<Tok>();
    ClientOptions co;
    co.qps = 0;
    return std::make_unique<RestClient>(c, co);
  }
  json::Value lease() { return client->get(*find_well_known("coordination.k8s.io/v1", "Lease"), kLeaseNs, kLeaseName); }
};

LeaderElectionOptions options(const std::string& id, bool release) {
  LeaderElectionOptions o;
  o.lease_namespace = kLeaseNs;
  o.lease_name = kLeaseName;
  o.identity = id;
  o.lease_duration = 1500ms;
  o.renew_deadline = 1000ms;
  o.retry_period = 200ms;
  o.release_on_cancel = release;
  return o;
}

// One candidate process: its own connection and elector, run() on its own thread.
struct Candidate {
  std::string id;
  std::unique_ptr<RestClient> rest;
  std::unique_ptr<Client> client;
  std::unique_ptr<LeaderElector> elector;
  std::thread thread;
  std::atomic<int> started{0}, stopped{0};
  std::mutex mu;
  std::vector<std::string> seen;  // on_new_leader, in order

  Candidate(Cluster& c, std::string ident, bool release = true) : id(std::move(ident)) {
    rest = c.connect();
    client = std::make_unique<Client>(*rest);
    elector = std::make_unique<LeaderElector>(*client, options(id, release));
    elector->on_started_leading = [this] { started++; };
    elector->on_stopped_leading = [this] { stopped++; };
    elector->on_new_leader = [this](const std::string& h) {
      std::lock_guard<std::mutex> lk(mu);
      seen.push_back(h);
    };
    thread = std::thread([this] { elector->run(); });
  }
  ~Candidate() { kill(); }
  void kill() {
    elector->stop();
    if (thread.joinable())
      thread.join();
  }
  bool leads() const { return elector->is_leader(); }
  bool saw(const std::string& h) {
    std::lock_guard<std::mutex> lk(mu);
    return std::find(seen.begin(), seen.end(), h) != seen.end();
  }
};

template <class F>
bool eventually(F&& f, milliseconds within = 10000ms) {
  auto deadline = Clock::now() + within;
  while (Clock::now() < deadline) {
    if (f())
      return true;
    std::this_thread::sleep_for(5ms);
  }
  return f();
}

long ms_since(Clock::time_point t) {
  return static_cast<long>(std::chrono::duration_cast<milliseconds>(Clock::now() - t).count());
}

const std::regex& micro_time() {
  static const std::regex re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)");
  return re;
}

}  // namespace

TEST_CASE("C20: two candidates, exactly one leads at any time", "[leader]") {
  Cluster c;
  Candidate a(c, "cand-a"), b(c, "cand-b");
  REQUIRE(eventually([&] { return a.leads() || b.leads(); }, 5000ms));

  // Longer than a lease: the follower keeps seeing renewals and never takes over.
  int both = 0, none = 0, samples = 0;
  auto until = Clock::now() + 2500ms;
  while (Clock::now() < until) {
    bool x = a.leads(), y = b.leads();
    both += x && y;
    none += !x && !y;
    samples++;
    std::this_thread::sleep_for(2ms);
  }
  CHECK(samples > 300);
  CHECK(both == 0);
  CHECK(none == 0);
  Candidate& leader = a.leads() ? a : b;
  Candidate& follower = a.leads() ? b : a;
  CHECK(leader.started == 1);
  CHECK(follower.started == 0);
  CHECK(a.stopped + b.stopped == 0);
  CHECK(follower.elector->holder() == leader.id);
  CHECK(follower.saw(leader.id));

  auto l1 = c.lease();
  CHECK(l1.at_path("spec.holderIdentity")->as_string() == leader.id);
  CHECK(l1.at_path("spec.leaseDurationSeconds")->as_int() == 2);  // 1.5 s rounded up, never down
  CHECK(l1.at_path("spec.leaseTransitions")->as_int() == 0);
  std::string renew1 = l1.at_path("spec.renewTime")->as_string();
  CHECK(std::regex_match(renew1, micro_time()));
  CHECK(std::regex_match(l1.at_path("spec.acquireTime")->as_string(), micro_time()));
  std::this_thread::sleep_for(500ms);
  auto l2 = c.lease();
  CHECK(l2.at_path("spec.renewTime")->as_string() != renew1);
  CHECK(l2.at_path("spec.acquireTime")->as_string() == l1.at_path("spec.acquireTime")->as_string());

  // A follower's stop() and run() end promptly: the loop waits on the condition variable.
  auto t = Clock::now();
  follower.kill();
  CHECK(ms_since(t) < 500);
  CHECK(follower.stopped == 0);
}

TEST_CASE("C20: a leader that releases on stop hands over at once", "[leader]") {
  Cluster c;
  Candidate a(c, "cand-a");
  REQUIRE(eventually([&] { return a.leads(); }, 5000ms));
  Candidate b(c, "cand-b");
  REQUIRE(eventually([&] { return b.elector->holder() == "cand-a"; }, 5000ms));
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(b.leads());

  auto t0 = Clock::now();
  a.elector->stop();
  CHECK(ms_since(t0) < 50);
  CHECK_FALSE(a.leads());  // stop() ends leadership for writers before the loop even wakes
  a.thread.join();
  CHECK(a.stopped == 1);
  REQUIRE(eventually([&] { return b.leads(); }, 3000ms));
  long took = ms_since(t0);
  INFO("takeover after release took " << took << " ms");
  CHECK(took < 1000);  // well within the 1.5 s lease: nobody waited for it to expire

  auto l = c.lease();
  CHECK(l.at_path("spec.holderIdentity")->as_string() == "cand-b");
  CHECK(l.at_path("spec.leaseTransitions")->as_int() == 1);
  CHECK(b.saw("cand-b"));
  CHECK(b.started == 1);
}

TEST_CASE("C20: a leader that dies without releasing is replaced after the lease, not before", "[leader]") {
  Cluster c;
  Candidate a(c, "cand-a", /*release=*/false);
  REQUIRE(eventually([&] { return a.leads(); }, 5000ms));
  Candidate b(c, "cand-b");
  REQUIRE(eventually([&] { return b.elector->holder() == "cand-a"; }, 5000ms));
  std::this_thread::sleep_for(300ms);

  auto t_kill = Clock::now();
  a.kill();
  CHECK(a.stopped == 1);
  CHECK(c.lease().at_path("spec.holderIdentity")->as_string() == "cand-a");  // not released

  long took = -1;
  while (ms_since(t_kill) < 5000) {
    if (b.leads()) {
      took = ms_since(t_kill);
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  INFO("takeover after a silent death took " << took << " ms");
  REQUIRE(took >= 0);
  CHECK(took >= 1500);  // the follower waited out the lease as it observed it
  CHECK(took <= 3500);
  auto l = c.lease();
  CHECK(l.at_path("spec.holderIdentity")->as_string() == "cand-b");
  CHECK(l.at_path("spec.leaseTransitions")->as_int() == 1);
}

TEST_CASE("C20: a leader whose renewals fail gives up within the renew deadline", "[leader]") {
  Cluster c;
  Candidate a(c, "cand-a");
  REQUIRE(eventually([&] { return a.leads(); }, 5000ms));

  apiserver::FaultOptions f;
  f.internal_error = 1;
  auto t_f = Clock::now();
  c.srv->set_faults(f);
  REQUIRE(eventually([&] { return !a.leads(); }, 3000ms));
  long lost = ms_since(t_f);
  REQUIRE(eventually([&] { return a.stopped == 1; }, 3000ms));
  long reported = ms_since(t_f);
  INFO("is_leader() false after " << lost << " ms, on_stopped_leading after " << reported << " ms");
  CHECK(lost <= 1000 + 150);
  CHECK(reported <= 1000 + 300);

  // Once the server answers again the lease (still ours) is renewed and leadership resumes.
  c.srv->set_faults(apiserver::FaultOptions{});
  REQUIRE(eventually([&] { return a.leads(); }, 5000ms));
  CHECK(a.started == 2);
  CHECK(c.lease().at_path("spec.leaseTransitions")->as_int() == 0);
}

TEST_CASE("C20: is_leader() turns false at the renew deadline even while the loop is stuck", "[leader]") {
  Cluster c;
  Candidate a(c, "cand-a");
  REQUIRE(eventually([&] { return a.leads(); }, 5000ms));

  // Every request now takes longer than the renew deadline: the loop sits inside one.
  apiserver::FaultOptions f;
  f.latency_ms = 1800;
  auto t_f = Clock::now();
  c.srv->set_faults(f);
  REQUIRE(eventually([&] { return !a.leads(); }, 3000ms));
  long lost = ms_since(t_f);
  INFO("is_leader() false after " << lost << " ms");
  CHECK(lost <= 1000 + 150);
  CHECK(a.stopped == 0);  // the loop has not noticed yet; the answer came from the clock

  auto t = Clock::now();
  a.elector->stop();
  CHECK(ms_since(t) < 50);
  c.srv->set_faults(apiserver::FaultOptions{});
  a.thread.join();
  CHECK(a.stopped == 1);
  CHECK_FALSE(a.leads());
}

TEST_CASE("C20: identities and option checks", "[leader]") {
  auto id = default_identity();
  CHECK(std::regex_match(id, std::regex(R"(.+_\d+_[0-9a-f]{6})")));
  CHECK(id != default_identity());

  Cluster c;
  LeaderElectionOptions o = options("", true);
  LeaderElector e(*c.client, o);
  CHECK_FALSE(e.options().identity.empty());
  CHECK_FALSE(e.is_leader());
  e.stop();
  e.run();  // returns at once after stop()

  o.renew_deadline = o.lease_duration;
  CHECK_THROWS_AS(LeaderElector(*c.client, o), std::invalid_argument);
  o = options("x", true);
  o.retry_period = o.renew_deadline;
  CHECK_THROWS_AS(LeaderElector(*c.client, o), std::invalid_argument);
}
