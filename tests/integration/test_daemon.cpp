// omed as a process: metrics that promtool accepts, probes, flags and config files, and an
// orderly exit on SIGTERM.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "../support/process.hpp"
#include "../support/raw_http.hpp"

using namespace omed::testing;

namespace {

std::string body_of(const std::string& resp) {
  auto p = resp.find("\r\n\r\n");
  return p == std::string::npos ? "" : resp.substr(p + 4);
}

bool have_promtool() { return std::system("command -v promtool >/dev/null 2>&1") == 0; }

}  // namespace

TEST_CASE("metrics from a running omed pass promtool check metrics", "[daemon]") {
  TempDir dir;
  Process p({omed_bin(), "apiserver", "--port", "0", "--http-addr", "127.0.0.1:0", "--port-file", (dir.path() / "port").string()},
            dir.path() / "log");
  auto port = wait_for_file(dir.path() / "port", 10000);
  REQUIRE_FALSE(port.empty());
  auto text = body_of(http_get(static_cast<uint16_t>(std::stoi(port)), "/metrics"));
  CHECK_THAT(text, Catch::Contains("# TYPE omed_actors_running gauge"));
  CHECK_THAT(text, Catch::Contains("omed_build_info{version=\"" OMED_VERSION "\",role=\"apiserver\"} 1"));
  CHECK_THAT(text, Catch::Contains("process_resident_memory_bytes"));
  write_file(dir.path() / "metrics.txt", text);
  if (have_promtool()) {
    auto cmd = "promtool check metrics < " + (dir.path() / "metrics.txt").string() + " > " +
               (dir.path() / "promtool.out").string() + " 2>&1";
    int rc = std::system(cmd.c_str());
    INFO(read_file(dir.path() / "promtool.out"));
    CHECK(rc == 0);
  } else {
    WARN("*** promtool not installed (Debian package 'prometheus'): the lint half of this test was SKIPPED ***");
  }
  p.signal(SIGTERM);
  REQUIRE(p.wait(6000));
}

TEST_CASE("probes: healthz, readyz with reasons, unknown paths", "[daemon]") {
  TempDir dir;
  Process p({omed_bin(), "apiserver", "--port", "0", "--http-addr", "127.0.0.1:0", "--port-file", (dir.path() / "port").string()},
            dir.path() / "log");
  auto port = static_cast<uint16_t>(std::stoi(wait_for_file(dir.path() / "port", 10000)));
  CHECK_THAT(http_get(port, "/healthz"), Catch::StartsWith("HTTP/1.1 200"));
  std::string ready;
  for (int i = 0; i < 100; ++i) {
    ready = http_get(port, "/readyz?verbose");
    if (ready.find("HTTP/1.1 200") == 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK_THAT(ready, Catch::StartsWith("HTTP/1.1 200"));
  CHECK_THAT(body_of(ready), Catch::Contains("[+]actors ok"));
  CHECK_THAT(http_get(port, "/nope"), Catch::StartsWith("HTTP/1.1 404"));
  {
    RawConn c(port);
    c.send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    CHECK_THAT(c.read_response(), Catch::StartsWith("HTTP/1.1 405"));
  }
  p.signal(SIGINT);
  REQUIRE(p.wait(6000));
  CHECK(p.exit_code() == 0);
}

TEST_CASE("omed exits 0 within 5 s of SIGTERM with every actor stopped", "[daemon]") {
  TempDir dir;
  Process p({omed_bin(), "apiserver", "--port", "0", "--http-addr", "127.0.0.1:0", "--port-file", (dir.path() / "port").string(),
             "--log-format", "json"},
            dir.path() / "log");
  REQUIRE_FALSE(wait_for_file(dir.path() / "port", 10000).empty());
  auto t0 = std::chrono::steady_clock::now();
  p.signal(SIGTERM);
  REQUIRE(p.wait(5000));
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  CHECK(took < 5000);
  CHECK(p.exit_code() == 0);
  auto out = p.output();
  INFO(out);
  CHECK_THAT(out, Catch::Contains("\"msg\":\"shutting down\",\"signal\":\"SIGTERM\""));
  CHECK_THAT(out, Catch::Contains("\"msg\":\"stopped\""));
  CHECK_THAT(out, Catch::Contains("\"actors_running\":\"0\""));
  CHECK_THAT(out, !Catch::Contains("killing actors"));
}

TEST_CASE("flags and config file: --help, --version, bad values, file overridden by flags", "[daemon]") {
  TempDir dir;
  {
    Process p({omed_bin(), "--version"}, dir.path() / "v");
    REQUIRE(p.wait(5000));
    CHECK(p.exit_code() == 0);
    CHECK(p.output() == "omed " OMED_VERSION "\n");
  }
  {
    Process p({omed_bin(), "controller", "--threads", "zero"}, dir.path() / "bad");
    REQUIRE(p.wait(5000));
    CHECK(p.exit_code() == 2);
    CHECK_THAT(p.output(), Catch::Contains("--threads: invalid integer 'zero'"));
  }
  {
    Process p({omed_bin(), "agent", "--http-addr", "nowhere"}, dir.path() / "bad2");
    REQUIRE(p.wait(5000));
    CHECK(p.exit_code() == 2);
    CHECK_THAT(p.output(), Catch::Contains("--http-addr must be HOST:PORT"));
  }
  {
    // An agent must know its node: the DaemonSet passes NODE_NAME from spec.nodeName.
    Process p({omed_bin(), "agent", "--http-addr", "127.0.0.1:0"}, dir.path() / "bad4", {"NODE_NAME="});
    REQUIRE(p.wait(5000));
    CHECK(p.exit_code() == 2);
    CHECK_THAT(p.output(), Catch::Contains("the node is unknown: set NODE_NAME"));
  }
  {
    Process p({omed_bin(), "frobnicate"}, dir.path() / "bad3");
    REQUIRE(p.wait(5000));
    CHECK(p.exit_code() == 2);
    CHECK_THAT(p.output(), Catch::Contains("unknown command 'frobnicate'"));
  }
  // The config file sets JSON logs and a port file; the flag overrides the log format.
  write_file(dir.path() / "omed.yaml", "log-format: json\nhttp-addr: 127.0.0.1:0\nport-file: " +
                                           (dir.path() / "port").string() + "\nlog-level: debug\n");
  Process p({omed_bin(), "apiserver", "--port", "0", "--config", (dir.path() / "omed.yaml").string(), "--log-format", "logfmt"},
            dir.path() / "log");
  REQUIRE_FALSE(wait_for_file(dir.path() / "port", 10000).empty());
  p.signal(SIGTERM);
  REQUIRE(p.wait(6000));
  auto out = p.output();
  CHECK_THAT(out, Catch::Contains("level=info actor=daemon object=- msg=\"omed started\""));
  CHECK_THAT(out, !Catch::Contains("{\"ts\""));
}

TEST_CASE("the controller: no cluster configured is exit 2; a dead API server keeps it up and not ready", "[daemon]") {
  TempDir dir;
  {
    // Empty KUBECONFIG counts as unset; HOME has no .kube; not in a pod.
    Process p({omed_bin(), "controller", "--http-addr", "127.0.0.1:0"}, dir.path() / "none",
              {"KUBECONFIG=", "HOME=" + dir.path().string()});
    REQUIRE(p.wait(5000));
    CHECK(p.exit_code() == 2);
    CHECK_THAT(p.output(), Catch::Contains("cannot configure the controller") && Catch::Contains("kubeconfig"));
  }
  // Port 1 on loopback: nothing listens there, every request is refused at once.
  write_file(dir.path() / "kc", "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "
                                "\"http://127.0.0.1:1\"}\nusers:\n- name: u\n  user: {token: dead-server-token-x9}\n"
                                "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n");
  Process p({omed_bin(), "controller", "--kubeconfig", (dir.path() / "kc").string(), "--http-addr", "127.0.0.1:0",
             "--port-file", (dir.path() / "port").string()},
            dir.path() / "log");
  auto port_s = wait_for_file(dir.path() / "port", 10000);
  REQUIRE_FALSE(port_s.empty());
  auto port = static_cast<uint16_t>(std::stoi(port_s));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  auto ready = http_get(port, "/readyz?verbose");
  CHECK_THAT(ready, Catch::StartsWith("HTTP/1.1 503"));
  CHECK_THAT(body_of(ready), Catch::Contains("[-]watches failed") && Catch::Contains("[-]leader failed"));
  CHECK_THAT(http_get(port, "/healthz"), Catch::StartsWith("HTTP/1.1 200"));
  CHECK_THAT(body_of(http_get(port, "/metrics")),
             Catch::Contains("omed_leader 0") && Catch::Contains("omed_watch_restarts_total{kind=\"ClusterBaseModel\",reason=\"error\"}"));
  p.signal(SIGTERM);
  REQUIRE(p.wait(6000));
  CHECK(p.exit_code() == 0);
  auto out = p.output();
  CHECK_THAT(out, Catch::Contains("list failed; retrying") && Catch::Contains("Couldn't connect to server"));
  CHECK_THAT(out, !Catch::Contains("dead-server-token-x9"));
  // Retries are rate limited in the log: at most the first and every tenth failure per watch are
  // warnings, so three seconds of a dead server stay a screenful.
  size_t warns = 0;
  for (size_t at = out.find("msg=\"list failed; retrying\""); at != std::string::npos;
       at = out.find("msg=\"list failed; retrying\"", at + 1))
    warns++;
  CHECK(warns <= 2 * 20);
}

TEST_CASE("a busy port is a clear error, not a crash", "[daemon]") {
  TempDir dir;
  Process first({omed_bin(), "apiserver", "--port", "0", "--http-addr", "127.0.0.1:0", "--port-file", (dir.path() / "port").string()},
                dir.path() / "log1");
  auto port = wait_for_file(dir.path() / "port", 10000);
  REQUIRE_FALSE(port.empty());
  port.pop_back();
  Process second({omed_bin(), "apiserver", "--port", "0", "--http-addr", "127.0.0.1:" + port}, dir.path() / "log2");
  REQUIRE(second.wait(5000));
  CHECK(second.exit_code() == 1);
  CHECK_THAT(second.output(), Catch::Contains("cannot start the HTTP server"));
  CHECK_THAT(second.output(), Catch::Contains("Address already in use"));
  first.signal(SIGTERM);
  REQUIRE(first.wait(6000));
}

TEST_CASE("omed validate reports admission errors like the API server", "[daemon]") {
  TempDir dir;
  write_file(dir.path() / "m.yaml", R"(apiVersion: ome.io/v1beta1
kind: InferenceService
metadata: {name: ok}
spec: {model: {name: m}, engine: {}}
---
apiVersion: ome.io/v1beta1
kind: InferenceService
metadata: {name: bad}
spec: {model: {name: m}, engine: {minReplicas: -1}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other}
)");
  Process p({omed_bin(), "validate", "-f", (dir.path() / "m.yaml").string()}, dir.path() / "out");
  REQUIRE(p.wait(5000));
  CHECK(p.exit_code() == 1);
  auto out = p.output();
  CHECK_THAT(out, Catch::Contains("InferenceService ok: valid"));
  CHECK_THAT(out, Catch::Contains("InferenceService.ome.io \"bad\" is invalid: spec.engine.minReplicas: Invalid value: "
                                  "-1: must be greater than or equal to 0"));
  CHECK_THAT(out, Catch::Contains("ConfigMap other: skipped"));
}

TEST_CASE("omed standalone finds its CRDs and samples from any directory and runs the demo", "[daemon]") {
  TempDir dir;
  // Run from the temp dir: the binary must find deploy/ beside itself, not under the cwd.
  Process p({omed_bin(), "standalone", "--data-dir", (dir.path() / "data").string(), "--port", "0", "--http-addr",
             "127.0.0.1:0"},
            dir.path() / "log");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  while (std::chrono::steady_clock::now() < deadline && p.output().find("demo ready") == std::string::npos &&
         !p.wait(0))
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto out = p.output();
  INFO(out);
  CHECK_THAT(out, Catch::Contains("msg=\"CRDs loaded\"") && Catch::Contains("count=8"));
  CHECK_THAT(out, Catch::Contains("msg=\"demo ready\" samples=9 reconciled=9"));
  // The model pipeline ran offline: agents on the simulated nodes parsed the demo model.
  CHECK_THAT(out, Catch::Contains("msg=\"demo model ready\" name=demo-tiny-llama architecture=LlamaForCausalLM"));
  CHECK_THAT(out, Catch::Contains("kind=InferenceService name=default/llama-3-2-1b-instruct accepted=True reason=Valid"));
  CHECK_THAT(out, Catch::Contains("kind=ClusterServingRuntime name=srt-llama-3-2-1b-instruct accepted=True"));
  CHECK_THAT(out, !Catch::Contains("level=error"));
  p.signal(SIGTERM);
  REQUIRE(p.wait(8000));
  CHECK(p.exit_code() == 0);
  // Durable: a restart finds the samples already there and leaves them alone.
  Process again({omed_bin(), "standalone", "--data-dir", (dir.path() / "data").string(), "--port", "0",
                 "--http-addr", "127.0.0.1:0"},
                dir.path() / "log2");
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  while (std::chrono::steady_clock::now() < deadline && again.output().find("demo ready") == std::string::npos &&
         !again.wait(0))
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_THAT(again.output(), Catch::Contains("msg=\"sample already present\"") &&
                                 Catch::Contains("msg=\"demo ready\" samples=9 reconciled=9"));
  again.signal(SIGTERM);
  REQUIRE(again.wait(8000));
}
