// Durable storage under kill -9: every acknowledged write survives with its resourceVersion,
// and watches resume from resourceVersions handed out before the crash.
#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "../support/api_client.hpp"
#include "../support/process.hpp"
#include "omed/common/yaml.hpp"

using namespace omed;
using namespace omed::testing;

namespace {

struct Endpoint {
  uint16_t port = 0;
  std::string token;
};

// The kubeconfig omed writes tells us the port and the token.
Endpoint wait_endpoint(const std::filesystem::path& kubeconfig, const std::filesystem::path& log) {
  for (int i = 0; i < 300; ++i) {
    if (std::filesystem::exists(kubeconfig)) {
      try {
        auto kc = yaml::parse_one(read_file(kubeconfig));
        auto server = kc.get("clusters")->as_array()[0].at_path("cluster.server")->as_string();
        auto token = kc.get("users")->as_array()[0].at_path("user.token")->as_string();
        auto port = static_cast<uint16_t>(std::stoi(server.substr(server.rfind(':') + 1)));
        // The file may be from the previous run: check the server answers with this token.
        ApiClient c(port, token);
        if (c.get("/api/v1/namespaces/default").status == 200)
          return {port, token};
      } catch (...) {
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  FAIL("omed apiserver did not come up: " << read_file(log));
  return {};
}

std::vector<std::string> server_args(const std::filesystem::path& dir) {
  return {omed_bin(), "apiserver", "--tls=false", "--port", "0", "--http-addr", "127.0.0.1:0",
          "--data-dir", dir.string(), "--crds", ""};
}

}  // namespace

TEST_CASE("durable mode: kill -9 loses no acknowledged write; watches resume", "[durable]") {
  TempDir dir;
  auto data = dir.path() / "data";
  std::map<std::string, std::string> acked;  // name -> resourceVersion from the 201 answer
  std::mutex mu;
  const int total = 10000;
  uint64_t seed = 20261128;
  std::mt19937_64 rng(seed);
  int kill_at = 2000 + static_cast<int>(rng() % 5000);  // somewhere in the middle, deterministic
  {
    Process p(server_args(data), dir.path() / "log1");
    auto ep = wait_endpoint(data / "kubeconfig", dir.path() / "log1");
    std::atomic<int> next{0}, done{0};
    std::atomic<bool> killed{false};
    std::vector<std::thread> writers;
    for (int t = 0; t < 8; ++t)
      writers.emplace_back([&] {
        ApiClient c(ep.port, ep.token);
        while (!killed) {
          int i = next++;
          if (i >= total)
            break;
          auto name = "cm-" + std::to_string(i);
          json::Value cm = json::Object{{"apiVersion", "v1"}, {"kind", "ConfigMap"},
                                        {"metadata", json::Object{{"name", name}}},
                                        {"data", json::Object{{"i", std::to_string(i)}, {"pad", std::string(200, 'x')}}}};
          HttpResult r;
          try {
            r = c.post("/api/v1/namespaces/default/configmaps", cm);
          } catch (...) {
            break;  // the server is gone
          }
          if (r.status == 201) {
            std::lock_guard<std::mutex> lk(mu);
            acked[name] = r.json().at_path("metadata.resourceVersion")->as_string();
            ++done;
          }
        }
      });
    while (done < kill_at)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    p.signal(SIGKILL);
    killed = true;
    for (auto& w : writers)
      w.join();
    REQUIRE(p.wait(5000));
  }
  INFO("killed after " << acked.size() << " acknowledged writes");
  REQUIRE(acked.size() >= static_cast<size_t>(kill_at));
  // Restart on the same data directory.
  Process p(server_args(data), dir.path() / "log2");
  auto ep = wait_endpoint(data / "kubeconfig", dir.path() / "log2");
  ApiClient c(ep.port, ep.token);
  auto list = c.get("/api/v1/namespaces/default/configmaps").json();
  std::map<std::string, std::string> found;
  for (auto& it : list.get("items")->as_array())
    found[it.at_path("metadata.name")->as_string()] = it.at_path("metadata.resourceVersion")->as_string();
  size_t missing = 0, changed = 0;
  for (auto& [name, rv] : acked) {
    auto f = found.find(name);
    if (f == found.end())
      ++missing;
    else if (f->second != rv)
      ++changed;
  }
  CHECK(missing == 0);
  CHECK(changed == 0);
  // Writes acknowledged before the crash can be watched from: pick a resourceVersion in the
  // middle and expect exactly the later acknowledged objects, in order.
  std::vector<uint64_t> rvs;
  for (auto& [_, rv] : acked)
    rvs.push_back(std::stoull(rv));
  std::sort(rvs.begin(), rvs.end());
  uint64_t from = rvs[rvs.size() / 2];
  WatchReader w(ep.port, ep.token, "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=" + std::to_string(from));
  REQUIRE(w.status == 200);
  size_t expected = static_cast<size_t>(std::count_if(rvs.begin(), rvs.end(), [&](uint64_t r) { return r > from; }));
  size_t seen = 0;
  uint64_t last = from;
  bool ordered = true;
  while (seen < expected) {
    auto e = w.next(5000);
    if (!e)
      break;
    REQUIRE(e->string_or("type") != "ERROR");
    auto rv = std::stoull(e->at_path("object.metadata.resourceVersion")->as_string());
    ordered = ordered && rv > last;
    last = rv;
    ++seen;
  }
  CHECK(seen >= expected);
  CHECK(ordered);
  // The rest of the 10,000 go in after the restart, continuing the resourceVersion sequence.
  auto after = c.post("/api/v1/namespaces/default/configmaps",
                      json::Object{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", json::Object{{"name", "after"}}}});
  REQUIRE(after.status == 201);
  CHECK(std::stoull(after.json().at_path("metadata.resourceVersion")->as_string()) > rvs.back());
  p.signal(SIGTERM);
  CHECK(p.wait(6000));
}
