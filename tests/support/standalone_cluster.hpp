// `omed standalone` as a fixture for end-to-end tests: started on free loopback ports in a
// temporary data directory, driven with the real kubectl through the kubeconfig it writes.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "kubectl_runner.hpp"
#include "process.hpp"
#include "test_env.hpp"
#include "omed/common/json.hpp"

namespace omed::testing {

class StandaloneCluster {
public:
  // `sim_nodes` as --sim-nodes takes it ("1x8xH100,1x1xL4"); `extra` more flags.
  explicit StandaloneCluster(const std::string& sim_nodes, std::vector<std::string> extra = {}) {
    kubeconfig_ = dir_.path() / "data" / "kubeconfig";
    args_ = {omed_bin(), "standalone", "--port", "0", "--data-dir", data_dir().string(),
             "--http-addr", "127.0.0.1:0", "--samples", "none", "--sim-nodes", sim_nodes};
    args_.insert(args_.end(), extra.begin(), extra.end());
    start();
  }
  ~StandaloneCluster() {
    server_->signal(SIGTERM);
    server_->wait(10000);
  }
  StandaloneCluster(const StandaloneCluster&) = delete;
  StandaloneCluster& operator=(const StandaloneCluster&) = delete;

  // SIGKILL (no shutdown code runs), then the same command on the same data directory.
  void kill_and_restart() {
    server_->signal(SIGKILL);
    server_->wait(10000);
    std::filesystem::remove(kubeconfig_);
    start();
  }

  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path data_dir() const { return dir_.path() / "data"; }
  std::filesystem::path models_root() const { return data_dir() / "models"; }
  // Standalone's volume behind claim ns/name.
  std::filesystem::path claim_dir(const std::string& ns, const std::string& claim) const {
    return data_dir() / "pvc" / ns / claim;
  }
  std::string log() const { return server_->output(); }
  // The last kubectl that failed in get_json (for INFO).
  const std::string& last_error() const { return last_error_; }

  Run kubectl(std::vector<std::string> args, int timeout_ms = 60000) const {
    args.insert(args.begin(), {"kubectl", "--cache-dir=" + (dir_.path() / "kube-cache").string()});
    return run(args, {{"KUBECONFIG", kubeconfig_.string()}}, dir_.path(), timeout_ms);
  }
  // `kubectl get WHAT -o json`; null when kubectl failed.
  json::Value get_json(const std::vector<std::string>& what) const {
    std::vector<std::string> args{"get"};
    args.insert(args.end(), what.begin(), what.end());
    args.push_back("-o");
    args.push_back("json");
    auto r = kubectl(args);
    json::Value v;
    std::string err;
    if (r.rc != 0 || !json::try_parse(r.out, v, err)) {
      last_error_ = r.describe();
      return json::Value();
    }
    return v;
  }
  // `kubectl apply` of `yaml` (kept as NAME.yaml in the test directory); requires success.
  std::string apply(const std::string& name, const std::string& yaml) const {
    auto p = dir_.path() / (name + ".yaml");
    write_file(p, yaml);
    auto r = kubectl({"apply", "-f", p.string()});
    INFO(r.describe());
    REQUIRE(r.rc == 0);
    return p.string();
  }
  // Polls `pred` over the object (as JSON) until it holds; returns the last object seen.
  template <class Pred>
  json::Value await(const std::vector<std::string>& what, Pred pred, int ms = 60000) const {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    json::Value v;
    do {
      v = get_json(what);
      if (pred(v))
        return v;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    } while (std::chrono::steady_clock::now() < deadline);
    return v;
  }

private:
  void start() {
    server_ = std::make_unique<Process>(args_, dir_.path() / ("server-" + std::to_string(starts_++) + ".log"));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (std::filesystem::exists(kubeconfig_) && server_->output().find("omed started") != std::string::npos)
        break;
      if (server_->wait(0))
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    INFO(server_->output());
    REQUIRE(std::filesystem::exists(kubeconfig_));
  }

  TempDir dir_;
  std::vector<std::string> args_;
  int starts_ = 0;
  std::filesystem::path kubeconfig_;
  std::unique_ptr<Process> server_;
  mutable std::string last_error_;
};

}  // namespace omed::testing
