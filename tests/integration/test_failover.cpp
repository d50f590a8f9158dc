// Two `omed controller` processes against one `omed apiserver` process: exactly one of them
// writes; when the leader is paused (SIGSTOP, as a partition or a long stall looks to others) the
// standby takes over within the lease duration plus 2 s, and the paused one, once resumed, writes
// nothing after its renew deadline; when the new leader is killed the first takes over again.
// Who wrote what comes from the server's audit trail (/omed/audit), keyed by the User-Agent that
// carries each controller's identity.
#include <catch2/catch.hpp>

#include <time.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "../support/process.hpp"
#include "../support/raw_http.hpp"
#include "omed/k8s/api_error.hpp"
#include "omed/k8s/client.hpp"
#include "omed/k8s/config.hpp"
#include "omed/k8s/resource.hpp"
#include "omed/k8s/rest_client.hpp"

using namespace omed;
using namespace omed::testing;
namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

namespace {

constexpr auto kLease = std::chrono::seconds(4);
constexpr auto kRenewDeadline = std::chrono::seconds(3);

const k8s::ResourceInfo& cbm() { return *k8s::find_well_known("ome.io/v1beta1", "ClusterBaseModel"); }
const k8s::ResourceInfo& lease() { return *k8s::find_well_known("coordination.k8s.io/v1", "Lease"); }

template <class F>
bool eventually(F&& f, std::chrono::milliseconds limit = std::chrono::milliseconds(20000)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return f();
}

// "2026-11-28T06:01:02.123456Z" as a time point.
Clock::time_point parse_micro(const std::string& s) {
  std::tm tm{};
  int us = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &tm.tm_sec, &us) < 6)
    return {};
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return Clock::from_time_t(timegm(&tm)) + std::chrono::microseconds(us);
}

json::Value model(const std::string& name) {
  return json::Object{{"apiVersion", "ome.io/v1beta1"},
                      {"kind", "ClusterBaseModel"},
                      {"metadata", json::Object{{"name", name}}},
                      {"spec", json::Object{{"vendor", "meta"},
                                            {"modelFormat", json::Object{{"name", "safetensors"}}},
                                            {"storage", json::Object{{"storageUri", "hf://meta-llama/" + name}}}}}};
}

struct Write {
  std::string who, verb, uri;
  int code;
  Clock::time_point at;
};

class Failover {
public:
  Failover() {
    kubeconfig_ = dir_.path() / "data" / "kubeconfig";
    server_ = std::make_unique<Process>(
      std::vector<std::string>{omed_bin(), "apiserver", "--port", "0", "--data-dir", (dir_.path() / "data").string(),
                               "--crds", (source_root() / "deploy" / "crds").string(), "--http-addr", "127.0.0.1:0"},
      dir_.path() / "server.log");
    bool up = eventually([&] { return fs::exists(kubeconfig_) && server_->output().find("omed started") != std::string::npos; });
    INFO(server_->output());
    REQUIRE(up);
    k8s::KubeconfigOptions ko;
    ko.path = kubeconfig_.string();
    rest_ = std::make_unique<k8s::RestClient>(k8s::load_kubeconfig(ko));
    client_ = std::make_unique<k8s::Client>(*rest_);
  }
  ~Failover() {
    for (auto& [id, c] : controllers_) {
      c.proc->signal(SIGCONT);
      c.proc->signal(SIGTERM);
      c.proc->wait(8000);
    }
    server_->signal(SIGTERM);
    server_->wait(10000);
  }

  void start_controller(const std::string& id) {
    auto& c = controllers_[id];
    c.port_file = dir_.path() / (id + ".port");
    c.proc = std::make_unique<Process>(
      std::vector<std::string>{omed_bin(), "controller", "--kubeconfig", kubeconfig_.string(), "--identity", id,
                               "--lease-namespace", "default", "--lease-duration", "4s", "--renew-deadline", "3s",
                               "--retry-period", "500ms", "--http-addr", "127.0.0.1:0", "--port-file",
                               c.port_file.string()},
      dir_.path() / (id + ".log"));
    auto port = wait_for_file(c.port_file, 10000);
    REQUIRE_FALSE(port.empty());
    c.http_port = static_cast<uint16_t>(std::stoi(port));
  }
  Process& proc(const std::string& id) { return *controllers_.at(id).proc; }
  std::string readyz(const std::string& id) { return http_get(controllers_.at(id).http_port, "/readyz?verbose"); }
  std::string metrics(const std::string& id) { return http_get(controllers_.at(id).http_port, "/metrics"); }

  std::string holder() {
    auto l = client_->try_get(lease(), "default", "omed-controller");
    auto* h = l ? l->at_path("spec.holderIdentity") : nullptr;
    return h && h->is_string() ? h->as_string() : "";
  }

  // Accepted, finalizer on, status of the current generation: some leader reconciled it.
  bool settled(const std::string& name) {
    auto o = client_->try_get(cbm(), "", name);
    if (!o)
      return false;
    auto* og = o->at_path("status.observedGeneration");
    auto* f = o->at_path("metadata.finalizers");
    return og && og->as_int() == o->at_path("metadata.generation")->as_int() && f && f->is_array() &&
           f->as_array().size() == 1 && f->as_array()[0].as_string() == "ome.io/finalizer";
  }

  // Every mutating request the server answered, attributed to a controller by its User-Agent.
  std::vector<Write> writes() {
    auto r = rest_->request("GET", "/omed/audit");
    REQUIRE(r.code == 200);
    std::vector<Write> out;
    auto doc = json::parse(r.body);  // named: a range-for over a temporary's member would dangle
    for (auto& e : doc.get("items")->as_array()) {
      auto ua = e.string_or("userAgent");
      std::string who;
      for (auto& [id, c] : controllers_)
        if (ua.find("(" + id + ")") != std::string::npos)
          who = id;
      if (who.empty())
        continue;  // the test's own client
      out.push_back(Write{who, e.string_or("verb"), e.string_or("requestURI"),
                          static_cast<int>(e.at_path("responseStatus.code")->as_int()),
                          parse_micro(e.string_or("requestReceivedTimestamp"))});
    }
    return out;
  }

  k8s::Client& client() { return *client_; }
  std::string log_of(const std::string& id) { return proc(id).output(); }

private:
  struct Ctl {
    std::unique_ptr<Process> proc;
    fs::path port_file;
    uint16_t http_port = 0;
  };
  TempDir dir_;
  fs::path kubeconfig_;
  std::unique_ptr<Process> server_;
  std::unique_ptr<k8s::RestClient> rest_;
  std::unique_ptr<k8s::Client> client_;
  std::map<std::string, Ctl> controllers_;
};

size_t count(const std::vector<Write>& ws, const std::string& who) {
  size_t n = 0;
  for (auto& w : ws)
    n += w.who == who;
  return n;
}

}  // namespace

TEST_CASE("two controllers: one writer, takeover within the lease, a paused leader is fenced", "[ha]") {
  Failover f;
  for (int i = 0; i < 3; ++i)
    f.client().create(cbm(), model("m" + std::to_string(i)));

  f.start_controller("ctl-a");
  REQUIRE(eventually([&] { return f.holder() == "ctl-a"; }));
  f.start_controller("ctl-b");
  REQUIRE(eventually([&] { return f.readyz("ctl-b").find("[+]watches ok") != std::string::npos; }));
  CHECK_THAT(f.readyz("ctl-b"), Catch::StartsWith("HTTP/1.1 503") && Catch::Contains("[-]leader failed"));
  CHECK_THAT(f.readyz("ctl-a"), Catch::StartsWith("HTTP/1.1 200"));
  CHECK_THAT(f.metrics("ctl-a"), Catch::Contains("\nomed_leader 1\n"));
  CHECK_THAT(f.metrics("ctl-b"), Catch::Contains("\nomed_leader 0\n"));

  // Both see every object; only the leader writes.
  for (int i = 3; i < 6; ++i)
    f.client().create(cbm(), model("m" + std::to_string(i)));
  REQUIRE(eventually([&] {
    for (int i = 0; i < 6; ++i)
      if (!f.settled("m" + std::to_string(i)))
        return false;
    return true;
  }));
  auto before = f.writes();
  CHECK(count(before, "ctl-a") > 6);
  CHECK(count(before, "ctl-b") == 0);

  // Pause the leader. Its lease runs out; the standby takes over.
  auto paused_at = Clock::now();
  f.proc("ctl-a").signal(SIGSTOP);
  REQUIRE(eventually([&] { return f.holder() == "ctl-b"; }, std::chrono::seconds(15)));
  auto takeover = Clock::now() - paused_at;
  INFO("takeover after " << std::chrono::duration_cast<std::chrono::milliseconds>(takeover).count() << " ms");
  CHECK(takeover <= kLease + std::chrono::seconds(2));
  f.client().create(cbm(), model("m6"));
  REQUIRE(eventually([&] { return f.settled("m6"); }));
  REQUIRE(eventually([&] { return f.readyz("ctl-b").find("HTTP/1.1 200") == 0; }));

  // Resume the old leader and give its actors something to do: it must not write, it must say
  // it is not ready, and the new leader does the work.
  f.proc("ctl-a").signal(SIGCONT);
  f.client().patch(cbm(), "", "m0", k8s::PatchType::Merge, R"({"spec":{"vendor":"meta-llama"}})");
  f.client().create(cbm(), model("m7"));
  REQUIRE(eventually([&] { return f.settled("m0") && f.settled("m7"); }));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // time for any stray write of ctl-a to land
  CHECK(eventually([&] { return f.readyz("ctl-a").find("HTTP/1.1 503") == 0; }));
  CHECK_THAT(f.readyz("ctl-a"), Catch::Contains("[-]leader failed"));
  CHECK_THAT(f.metrics("ctl-a"), Catch::Contains("\nomed_leader 0\n"));
  auto during = f.writes();
  for (auto& w : during) {
    if (w.who != "ctl-a")
      continue;
    INFO(w.verb << " " << w.uri << " " << w.code);
    CHECK(w.at <= paused_at + kRenewDeadline);
  }
  CHECK(count(during, "ctl-b") > 0);

  // Kill the new leader outright: the first one takes over again and carries on.
  auto killed_at = Clock::now();
  f.proc("ctl-b").signal(SIGKILL);
  REQUIRE(eventually([&] { return f.holder() == "ctl-a"; }, std::chrono::seconds(15)));
  auto second = Clock::now() - killed_at;
  INFO("second takeover after " << std::chrono::duration_cast<std::chrono::milliseconds>(second).count() << " ms");
  CHECK(second <= kLease + std::chrono::seconds(2));
  f.client().create(cbm(), model("m8"));
  CHECK(eventually([&] { return f.settled("m8"); }));
  CHECK_THAT(f.log_of("ctl-a"), !Catch::Contains("level=error"));
}
