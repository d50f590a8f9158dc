// Tests for kubeconfig and in-cluster loading: merging, paths, TLS material, token files, exec
// credential plugins (real /bin/sh scripts) and the embedded API server's own kubeconfig.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "omed/apiserver/server.hpp"
#include "omed/common/json.hpp"
#include "omed/k8s/config.hpp"
#include "../support/test_env.hpp"

using namespace omed;
using namespace omed::k8s;
using omed::testing::read_file;
using omed::testing::TempDir;
using omed::testing::write_file;
namespace fs = std::filesystem;

namespace {

// Every variable the loaders read, saved and cleared for the test and restored afterwards, so
// that neither the developer's own kubeconfig nor a CI pod's service account leaks in.
class EnvGuard {
public:
  EnvGuard() {
    for (const char* name : {"KUBECONFIG", "HOME", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"}) {
      const char* v = std::getenv(name);
      saved_[name] = v ? std::optional<std::string>(v) : std::nullopt;
      ::unsetenv(name);
    }
  }
  ~EnvGuard() {
    for (auto& [name, v] : saved_) {
      if (v)
        ::setenv(name.c_str(), v->c_str(), 1);
      else
        ::unsetenv(name.c_str());
    }
  }
  void set(const char* name, const std::string& value) { ::setenv(name, value.c_str(), 1); }

private:
  std::map<std::string, std::optional<std::string>> saved_;
};

KubeconfigOptions kc(std::string path, std::string context = "",
                     std::chrono::seconds reread = std::chrono::seconds(60)) {
  KubeconfigOptions o;
  o.path = std::move(path);
  o.context = std::move(context);
  o.token_reread = reread;
  return o;
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  FAIL("expected a ConfigError");
  return {};
}

std::string b64(const std::string& in) {
  static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned n = (unsigned(uint8_t(in[i])) << 16) | (unsigned(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    out += {t[(n >> 18) & 63], t[(n >> 12) & 63], t[(n >> 6) & 63], t[n & 63]};
  }
  if (in.size() - i == 1) {
    unsigned n = unsigned(uint8_t(in[i])) << 16;
    out += {t[(n >> 18) & 63], t[(n >> 12) & 63], '=', '='};
  } else if (in.size() - i == 2) {
    unsigned n = (unsigned(uint8_t(in[i])) << 16) | (unsigned(uint8_t(in[i + 1])) << 8);
    out += {t[(n >> 18) & 63], t[(n >> 12) & 63], t[(n >> 6) & 63], '='};
  }
  return out;
}

std::string rfc3339(std::chrono::system_clock::time_point tp) {
  time_t t = std::chrono::system_clock::to_time_t(tp);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void write_script(const fs::path& p, const std::string& body) {
  write_file(p, "#!/bin/sh\n" + body);
  ::chmod(p.c_str(), 0755);
}

const char* kCaPem = "-----BEGIN CERTIFICATE-----\nMIIBfakeCA\n-----END CERTIFICATE-----\n";
const char* kCertPem = "-----BEGIN CERTIFICATE-----\nMIIBfakeClient\n-----END CERTIFICATE-----\n";
const char* kKeyPem = "-----BEGIN PRIVATE KEY-----\nMIIBfakeKey\n-----END PRIVATE KEY-----\n";

// A kubeconfig with one context, cluster and user; `cluster` and `user` are the indented bodies.
std::string single(const std::string& cluster, const std::string& user, const std::string& ctx_extra = "") {
  return "apiVersion: v1\nkind: Config\n"
         "clusters:\n- name: c\n  cluster:\n" + cluster +
         "users:\n- name: u\n  user:\n" + user +
         "contexts:\n- name: ctx\n  context:\n    cluster: c\n    user: u\n" + ctx_extra +
         "current-context: ctx\n";
}

}  // namespace

TEST_CASE("C1 kubeconfig: KUBECONFIG files merge, the first to define a name wins", "[kubeconfig]") {
  EnvGuard env;
  TempDir tmp;
  auto a = tmp.path() / "a.yaml", b = tmp.path() / "b.yaml";
  write_file(a, R"SH(apiVersion: v1
kind: Config
clusters:
- name: shared
  cluster:
    server: https://a.example:6443/
users:
- name: alice
  user:
    token: token-from-a
contexts:
- name: ctx-a
  context:
    cluster: shared
    user: alice
    namespace: team-a
)SH");
  write_file(b, R"SH(apiVersion: v1
kind: Config
clusters:
- name: shared
  cluster:
    server: https://b.example:6443
- name: only-b
  cluster:
    server: https://only-b.example
users:
- name: alice
  user:
    token: token-from-b
- name: bob
  user:
    token: bob-token
contexts:
- name: ctx-a
  context:
    cluster: only-b
    user: bob
- name: ctx-b
  context:
    cluster: only-b
    user: bob
current-context: ctx-b
)SH");

  SECTION("current-context comes from the first file that sets it") {
    env.set("KUBECONFIG", a.string() + ":" + (tmp.path() / "missing.yaml").string() + "::" + b.string());
    auto rc = load_kubeconfig();
    CHECK(rc.context == "ctx-b");
    CHECK(rc.server == "https://only-b.example");
    CHECK(rc.namespace_ == "default");
    REQUIRE(rc.token);
    CHECK(rc.token->token() == "bob-token");
  }
  SECTION("names defined in both files keep the first file's value") {
    env.set("KUBECONFIG", a.string() + ":" + b.string());
    auto rc = load_kubeconfig(kc("", "ctx-a"));
    CHECK(rc.context == "ctx-a");
    CHECK(rc.server == "https://a.example:6443");  // trailing '/' stripped
    CHECK(rc.namespace_ == "team-a");
    CHECK(rc.token->token() == "token-from-a");
  }
  SECTION("the order of KUBECONFIG decides") {
    env.set("KUBECONFIG", b.string() + ":" + a.string());
    auto rc = load_kubeconfig(kc("", "ctx-a"));
    CHECK(rc.server == "https://only-b.example");
    CHECK(rc.token->token() == "bob-token");
  }
  SECTION("a file earlier in the list that sets current-context wins") {
    auto c = tmp.path() / "c.yaml";
    write_file(c, "current-context: ctx-a\n");
    env.set("KUBECONFIG", c.string() + ":" + a.string() + ":" + b.string());
    CHECK(load_kubeconfig().context == "ctx-a");
  }
  SECTION("an explicit path ignores KUBECONFIG") {
    env.set("KUBECONFIG", b.string());
    auto rc = load_kubeconfig(kc(a.string(), "ctx-a"));
    CHECK(rc.server == "https://a.example:6443");
    // a.yaml alone has no current-context.
    auto msg = error_of([&] { load_kubeconfig(kc(a.string())); });
    CHECK_THAT(msg, Catch::Contains(a.string()) && Catch::Contains("no current-context"));
  }
  SECTION("an unknown context is named with the files searched") {
    env.set("KUBECONFIG", a.string() + ":" + b.string());
    auto msg = error_of([&] { load_kubeconfig(kc("", "foo")); });
    CHECK(msg == "kubeconfig " + a.string() + ":" + b.string() + ": context \"foo\" not found");
  }
  SECTION("KUBECONFIG naming only missing files") {
    env.set("KUBECONFIG", (tmp.path() / "nope").string());
    CHECK_THAT(error_of([] { load_kubeconfig(); }), Catch::Contains("no kubeconfig found"));
  }
}

TEST_CASE("C1 kubeconfig: ~/.kube/config is the default, and its absence is explained", "[kubeconfig]") {
  EnvGuard env;
  TempDir tmp;
  env.set("HOME", tmp.path().string());
  CHECK(error_of([] { load_kubeconfig(); }) == "no kubeconfig found: set KUBECONFIG or --kubeconfig");
  write_file(tmp.path() / ".kube/config", single("    server: https://home.example\n", "    token: t-home\n"));
  auto rc = load_kubeconfig();
  CHECK(rc.server == "https://home.example");
  CHECK(rc.token->token() == "t-home");
  CHECK(rc.context == "ctx");
}

TEST_CASE("C1 kubeconfig: JSON documents load too", "[kubeconfig]") {
  EnvGuard env;
  TempDir tmp;
  auto p = tmp.path() / "config.json";
  write_file(p, R"SH({"apiVersion":"v1","kind":"Config",
    "clusters":[{"name":"c","cluster":{"server":"https://json.example","insecure-skip-tls-verify":true,
                                      "tls-server-name":"api.internal"}}],
    "users":[{"name":"u","user":{"token":"json-token"}}],
    "contexts":[{"name":"ctx","context":{"cluster":"c","user":"u","namespace":"ns1"}}],
    "current-context":"ctx"})SH");
  auto rc = load_kubeconfig(kc(p.string()));
  CHECK(rc.server == "https://json.example");
  CHECK(rc.insecure_skip_tls_verify);
  CHECK(rc.tls_server_name == "api.internal");
  CHECK(rc.namespace_ == "ns1");
  CHECK(rc.ca_pem.empty());
  CHECK(rc.token->token() == "json-token");

  // A YAML flow mapping also starts with '{' but is not JSON.
  write_file(p, "{clusters: [{name: c, cluster: {server: 'https://flow.example'}}],\n"
                " contexts: [{name: ctx, context: {cluster: c}}], current-context: ctx}\n");
  CHECK(load_kubeconfig(kc(p.string())).server == "https://flow.example");
}

TEST_CASE("C1 kubeconfig: relative paths resolve against the defining file's directory", "[kubeconfig]") {
  EnvGuard env;
  TempDir tmp;
  auto dir = tmp.path() / "conf";
  write_file(dir / "pki/ca.crt", kCaPem);
  write_file(dir / "pki/client.crt", kCertPem);
  write_file(dir / "pki/client.key", kKeyPem);
  write_file(dir / "kubeconfig", single("    server: https://rel.example\n    certificate-authority: pki/ca.crt\n",
                                        "    client-certificate: pki/client.crt\n    client-key: ./pki/client.key\n"));
  // A second file elsewhere with the same relative names must not be consulted.
  env.set("KUBECONFIG", (dir / "kubeconfig").string());
  auto rc = load_kubeconfig();
  CHECK(rc.ca_pem == kCaPem);
  CHECK(rc.client_cert_pem == kCertPem);
  CHECK(rc.client_key_pem == kKeyPem);
  CHECK_FALSE(rc.token);

  SECTION("a missing referenced file is named") {
    fs::remove(dir / "pki/ca.crt");
    auto msg = error_of([] { load_kubeconfig(); });
    CHECK_THAT(msg, Catch::Contains((dir / "pki/ca.crt").string()) && Catch::Contains("certificate-authority") &&
                        Catch::Contains("cluster \"c\""));
  }
}

TEST_CASE("C1 kubeconfig: certificate data wins over files and must be base64", "[kubeconfig]") {
  EnvGuard env;
  TempDir tmp;
  auto p = tmp.path() / "config";
  write_file(tmp.path() / "other-ca.crt", "not this one");

  SECTION("data wins") {
    write_file(p, single("    server: https://x\n    certificate-authority: other-ca.crt\n"
                         "    certificate-authority-data: " + b64(kCaPem) + "\n",
                         "    client-certificate-data: " + b64(kCertPem) + "\n    client-key-data: " + b64(kKeyPem) + "\n"));
    auto rc = load_kubeconfig(kc(p.string()));
    CHECK(rc.ca_pem == kCaPem);
    CHECK(rc.client_cert_pem == kCertPem);
    CHECK(rc.client_key_pem == kKeyPem);
  }
  SECTION("the file is used without data") {
    write_file(p, single("    server: https://x\n    certificate-authority: other-ca.crt\n", "    token: t\n"));
    CHECK(load_kubeconfig(kc(p.string())).ca_pem == "not this one");
  }
  SECTION("bad base64 names the field") {
    write_file(p, single("    server: https://x\n    certificate-authority-data: '@@not base64@@'\n", "    token: t\n"));
    auto msg = error_of([&] { load_kubeconfig(kc(p.string())); });
    CHECK_THAT(msg, Catch::Contains(p.string()) && Catch::Contains("certificate-authority-data is not valid base64"));
  }
  SECTION("a certificate without a key is refused") {
    write_file(p, single("    server: https://x\n", "    client-certificate-data: " + b64(kCertPem) + "\n"));
    CHECK_THAT(error_of([&] { load_kubeconfig(kc(p.string())); }),
               Catch::Contains("user \"u\"") && Catch::Contains("no client key"));
  }
  SECTION("insecure-skip-tls-verify with a CA is contradictory") {
    write_file(p, single("    server: https://x\n    insecure-skip-tls-verify: true\n    certificate-authority-data: " +
                             b64(kCaPem) + "\n",
                         "    token: t\n"));
    CHECK_THAT(error_of([&] { load_kubeconfig(kc(p.string())); }),
               Catch::Contains("insecure-skip-tls-verify"));
  }
}

TEST_CASE("C1 kubeconfig: missing or broken pieces give clear errors", "[kubeconfig]") {
  EnvGuard env;
  TempDir tmp;
  auto p = tmp.path() / "config";
  auto load = [&] { return error_of([&] { load_kubeconfig(kc(p.string())); }); };

  SECTION("explicit file missing") {
    CHECK_THAT(load(), Catch::Contains("kubeconfig " + p.string() + ": cannot read"));
  }
  SECTION("cluster without server") {
    write_file(p, single("    insecure-skip-tls-verify: true\n", "    token: secret-token-value\n"));
    CHECK(load() == "kubeconfig " + p.string() + ": cluster \"c\" has no server");
  }
  SECTION("context names an undefined cluster or user") {
    write_file(p, "clusters: []\nusers: []\ncontexts:\n- name: ctx\n  context: {cluster: nowhere, user: nobody}\n"
                  "current-context: ctx\n");
    CHECK_THAT(load(), Catch::Contains("context \"ctx\"") && Catch::Contains("cluster \"nowhere\" not found"));
    write_file(p, "clusters:\n- name: c\n  cluster: {server: 'https://x'}\ncontexts:\n- name: ctx\n"
                  "  context: {cluster: c, user: nobody}\ncurrent-context: ctx\n");
    CHECK_THAT(load(), Catch::Contains("user \"nobody\" not found"));
  }
  SECTION("a context without a user is anonymous") {
    write_file(p, "clusters:\n- name: c\n  cluster: {server: 'https://x'}\ncontexts:\n- name: ctx\n"
                  "  context: {cluster: c}\ncurrent-context: ctx\n");
    auto rc = load_kubeconfig(kc(p.string()));
    CHECK(rc.server == "https://x");
    CHECK_FALSE(rc.token);
  }
  SECTION("malformed YAML names the file") {
    write_file(p, "clusters: [\n  - {name: c\n");
    CHECK_THAT(load(), Catch::StartsWith("kubeconfig " + p.string() + ": "));
  }
  SECTION("an unreadable tokenFile is named, the token is not") {
    write_file(p, single("    server: https://x\n", "    tokenFile: missing-token\n"));
    auto msg = load();
    CHECK_THAT(msg, Catch::Contains((tmp.path() / "missing-token").string()) && Catch::Contains("user \"u\""));
  }
  SECTION("unsupported exec apiVersion") {
    write_file(p, single("    server: https://x\n",
                         "    exec:\n      apiVersion: client.authentication.k8s.io/v1alpha1\n      command: x\n"));
    CHECK_THAT(load(), Catch::Contains("v1alpha1") && Catch::Contains("not supported"));
  }
}

TEST_CASE("C1 kubeconfig: tokenFile is re-read as it rotates", "[kubeconfig]") {
  EnvGuard env;
  TempDir tmp;
  auto p = tmp.path() / "config";
  auto tf = tmp.path() / "token";
  write_file(tf, "first-token\n");

  SECTION("the file wins over token; a rotation shows after invalidate()") {
    write_file(p, single("    server: https://x\n", "    token: static-token\n    tokenFile: token\n"));
    auto rc = load_kubeconfig(kc(p.string()));
    REQUIRE(rc.token);
    CHECK(rc.token->token() == "first-token");
    write_file(tf, "second-token\n");
    CHECK(rc.token->token() == "first-token");  // within the re-read period
    rc.token->invalidate();
    CHECK(rc.token->token() == "second-token");
    // A vanished file falls back to the last good token, then to the static one after a 401.
    fs::remove(tf);
    rc.token->invalidate();
    CHECK(rc.token->token() == "static-token");
  }
  SECTION("the re-read period applies") {
    write_file(p, single("    server: https://x\n", "    tokenFile: token\n"));
    auto rc = load_kubeconfig(kc(p.string(), "", std::chrono::seconds(1)));
    CHECK(rc.token->token() == "first-token");
    write_file(tf, "second-token");
    CHECK(rc.token->token() == "first-token");
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    CHECK(rc.token->token() == "second-token");
  }
  SECTION("period zero re-reads every time") {
    write_file(p, single("    server: https://x\n", "    tokenFile: token\n"));
    auto rc = load_kubeconfig(kc(p.string(), "", std::chrono::seconds(0)));
    CHECK(rc.token->token() == "first-token");
    write_file(tf, "second-token");
    CHECK(rc.token->token() == "second-token");
  }
  SECTION("a plain token is static") {
    write_file(p, single("    server: https://x\n", "    token: static-token\n"));
    auto rc = load_kubeconfig(kc(p.string()));
    CHECK(rc.token->token() == "static-token");
    rc.token->invalidate();
    CHECK(rc.token->token() == "static-token");
  }
}

namespace {

// Records each run (count, args, environment, KUBERNETES_EXEC_INFO) in $STATE and prints an
// ExecCredential whose token carries the run number.
const char* kPlugin = R"SH(
n=$(cat "$STATE/count" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$STATE/count"
for a in "$@"; do printf '%s\n' "$a"; done > "$STATE/args"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$STATE/info"
printf '%s' "$GREETING" > "$STATE/greeting"
if [ -n "$EXPIRY" ]; then exp=",\"expirationTimestamp\":\"$EXPIRY\""; else exp=""; fi
printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"exec-token-%s"%s}}\n' "$API" "$n" "$exp"
)SH";

struct PluginFixture {
  TempDir tmp;
  fs::path cfg = tmp.path() / "kube/config";
  fs::path state = tmp.path() / "state";

  PluginFixture() {
    fs::create_directories(state);
    write_script(tmp.path() / "kube/bin/plugin.sh", kPlugin);
  }
  int runs() const {
    return fs::exists(state / "count") ? std::stoi(read_file(state / "count")) : 0;
  }
  void write(const std::string& api, const std::string& expiry, const std::string& extra = "",
             const std::string& cluster_extra = "") {
    std::string user = "    exec:\n"
                       "      apiVersion: " + api + "\n"
                       "      command: bin/plugin.sh\n"
                       "      args: [--cluster, prod, 'two words']\n"
                       "      env:\n"
                       "      - {name: STATE, value: '" + state.string() + "'}\n"
                       "      - {name: GREETING, value: hello}\n"
                       "      - {name: API, value: " + api + "}\n"
                       "      - {name: EXPIRY, value: '" + expiry + "'}\n" + extra;
    write_file(cfg, single("    server: https://exec.example:6443\n" + cluster_extra, user));
  }
  RestConfig load() { return load_kubeconfig(kc(cfg.string())); }
};

}  // namespace

TEST_CASE("C1 kubeconfig: exec plugins get args, env and KUBERNETES_EXEC_INFO", "[kubeconfig]") {
  EnvGuard env;
  PluginFixture f;

  SECTION("v1 without cluster info") {
    f.write("client.authentication.k8s.io/v1", "", "      interactiveMode: Never\n");
    auto rc = f.load();
    REQUIRE(rc.token);
    CHECK(f.runs() == 0);  // the plugin runs on first use, not at load
    CHECK(rc.token->token() == "exec-token-1");
    CHECK(read_file(f.state / "args") == "--cluster\nprod\ntwo words\n");
    CHECK(read_file(f.state / "greeting") == "hello");
    auto info = json::parse(read_file(f.state / "info"));
    CHECK(info.string_or("kind") == "ExecCredential");
    CHECK(info.string_or("apiVersion") == "client.authentication.k8s.io/v1");
    REQUIRE(info.at_path("spec.interactive"));
    CHECK(*info.at_path("spec.interactive") == json::Value(false));
    CHECK_FALSE(info.at_path("spec.cluster"));
  }
  SECTION("v1beta1 with provideClusterInfo, interactiveMode defaulted") {
    std::string cluster_extra = "    certificate-authority-data: " + b64(kCaPem) + "\n"
                                "    tls-server-name: api.internal\n"
                                "    extensions:\n"
                                "    - name: client.authentication.k8s.io/exec\n"
                                "      extension: {audience: prod}\n";
    f.write("client.authentication.k8s.io/v1beta1", "", "      provideClusterInfo: true\n", cluster_extra);
    auto rc = f.load();
    CHECK(rc.token->token() == "exec-token-1");
    auto info = json::parse(read_file(f.state / "info"));
    CHECK(info.string_or("apiVersion") == "client.authentication.k8s.io/v1beta1");
    REQUIRE(info.at_path("spec.cluster"));
    CHECK(info.at_path("spec.cluster")->string_or("server") == "https://exec.example:6443");
    CHECK(info.at_path("spec.cluster")->string_or("tls-server-name") == "api.internal");
    CHECK(info.at_path("spec.cluster")->string_or("certificate-authority-data") == b64(kCaPem));
    CHECK(info.at_path("spec.cluster.config")->string_or("audience") == "prod");
    CHECK(*info.at_path("spec.interactive") == json::Value(false));
  }
  SECTION("a bare command is looked up on PATH") {
    write_file(f.cfg, single("    server: https://x\n", "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                                                          "      command: sh\n      args: ['-c', 'echo \"{\\\"status\\\":{\\\"token\\\":\\\"from-path\\\"}}\"']\n"));
    CHECK(f.load().token->token() == "from-path");
  }
  SECTION("interactiveMode Always cannot be honoured") {
    f.write("client.authentication.k8s.io/v1", "", "      interactiveMode: Always\n");
    CHECK_THAT(error_of([&] { f.load(); }), Catch::Contains("interactive"));
  }
}

TEST_CASE("C1 kubeconfig: exec credentials are cached until they expire or are invalidated", "[kubeconfig]") {
  EnvGuard env;
  PluginFixture f;
  const std::string v1 = "client.authentication.k8s.io/v1";

  SECTION("expired credentials re-run the plugin every time") {
    f.write(v1, "2000-01-01T00:00:00Z");
    auto rc = f.load();
    CHECK(rc.token->token() == "exec-token-1");
    CHECK(rc.token->token() == "exec-token-2");
    CHECK(rc.token->token() == "exec-token-3");
    CHECK(f.runs() == 3);
  }
  SECTION("a future expiry runs once; invalidate re-runs") {
    f.write(v1, rfc3339(std::chrono::system_clock::now() + std::chrono::hours(1)));
    auto rc = f.load();
    CHECK(rc.token->token() == "exec-token-1");
    CHECK(rc.token->token() == "exec-token-1");
    CHECK(f.runs() == 1);
    rc.token->invalidate();
    CHECK(rc.token->token() == "exec-token-2");
    CHECK(rc.token->token() == "exec-token-2");
    CHECK(f.runs() == 2);
  }
  SECTION("offsets and fractions in the timestamp are understood") {
    // 2000 in +02:00 is long past; 2999 with fractions is far ahead (and beyond the range of
    // a nanosecond system_clock, which must not wrap into the past).
    f.write(v1, "2000-06-01T10:00:00.123456+02:00");
    auto rc = f.load();
    rc.token->token();
    rc.token->token();
    CHECK(f.runs() == 2);
    f.write(v1, "2999-06-01T10:00:00.5-07:00");
    auto rc2 = f.load();
    rc2.token->token();
    rc2.token->token();
    CHECK(f.runs() == 3);
  }
  SECTION("no expiry caches until invalidate") {
    f.write(v1, "");
    auto rc = f.load();
    CHECK(rc.token->token() == "exec-token-1");
    CHECK(rc.token->token() == "exec-token-1");
    rc.token->invalidate();
    CHECK(rc.token->token() == "exec-token-2");
    CHECK(f.runs() == 2);
  }
  SECTION("an unparseable expiry is an error") {
    f.write(v1, "tomorrow");
    auto rc = f.load();
    CHECK_THAT(error_of([&] { rc.token->token(); }), Catch::Contains("expirationTimestamp"));
  }
}

TEST_CASE("C1 kubeconfig: failing exec plugins report stderr, never the token", "[kubeconfig]") {
  EnvGuard env;
  TempDir tmp;
  auto cfg = tmp.path() / "config";
  auto use = [&](const std::string& script, const std::string& extra = "") {
    write_script(tmp.path() / "plugin.sh", script);
    write_file(cfg, single("    server: https://x\n", "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                                                      "      command: ./plugin.sh\n      interactiveMode: Never\n" +
                                                          extra));
    auto rc = load_kubeconfig(kc(cfg.string()));
    REQUIRE(rc.token);
    return error_of([&] { rc.token->token(); });
  };

  SECTION("non-zero exit") {
    auto msg = use(R"SH(
echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"super-secret-token-123"}}'
echo "login failed: account locked (had super-secret-token-123)" >&2
exit 3
)SH");
    CHECK_THAT(msg, Catch::Contains((tmp.path() / "plugin.sh").string()) && Catch::Contains("exited with status 3") &&
                        Catch::Contains("account locked"));
    CHECK_THAT(msg, !Catch::Contains("super-secret-token-123"));
  }
  SECTION("output that is not JSON") {
    auto msg = use("echo 'password: hunter2-not-json'\necho 'cannot reach the IdP' >&2\n");
    CHECK_THAT(msg, Catch::Contains("plugin.sh") && Catch::Contains("not an ExecCredential") &&
                        Catch::Contains("cannot reach the IdP"));
    CHECK_THAT(msg, !Catch::Contains("hunter2"));
  }
  SECTION("a wrong apiVersion") {
    auto msg = use(R"SH(echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"tok-abc-123"}}')SH");
    CHECK_THAT(msg, Catch::Contains("v1beta1") && !Catch::Contains("tok-abc-123"));
  }
  SECTION("no token") {
    CHECK_THAT(use(R"SH(echo '{"kind":"ExecCredential","status":{}}')SH"), Catch::Contains("no status.token"));
  }
  SECTION("long stderr is cut to an excerpt") {
    auto msg = use("i=0; while [ $i -lt 300 ]; do echo 'this line is noise from the plugin' >&2; i=$((i+1)); done; exit 1\n");
    CHECK_THAT(msg, Catch::Contains("noise"));
    CHECK(msg.size() < 1400);
  }
  SECTION("a command that does not exist, with its install hint") {
    write_file(cfg, single("    server: https://x\n", "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
                                                      "      command: omed-no-such-plugin\n"
                                                      "      installHint: install it from example.com\n"));
    auto rc = load_kubeconfig(kc(cfg.string()));
    auto msg = error_of([&] { rc.token->token(); });
    CHECK_THAT(msg, Catch::Contains("omed-no-such-plugin") && Catch::Contains("install it from example.com"));
  }
  SECTION("a failure is not cached: the next call runs the plugin again") {
    auto flag = tmp.path() / "ok";
    auto msg = use("if [ -f '" + flag.string() + "' ]; then echo '{\"status\":{\"token\":\"recovered-token-7\"}}'; "
                   "else echo down >&2; exit 1; fi\n");
    CHECK_THAT(msg, Catch::Contains("down"));
    write_file(flag, "");
    auto rc = load_kubeconfig(kc(cfg.string()));
    CHECK(rc.token->token() == "recovered-token-7");
  }
}

TEST_CASE("C2 in-cluster: service host, CA, namespace and a rotating token", "[kubeconfig]") {
  EnvGuard env;
  TempDir tmp;
  auto sa = tmp.path() / "sa";
  InClusterOptions opts{.service_account_dir = sa.string(), .token_reread = std::chrono::seconds(1)};
  write_file(sa / "token", "sa-token-1\n");
  write_file(sa / "ca.crt", kCaPem);
  write_file(sa / "namespace", "  team-a\n");

  CHECK_FALSE(in_cluster_available(opts));
  CHECK_THAT(error_of([&] { in_cluster_config(opts); }), Catch::Contains("KUBERNETES_SERVICE_HOST"));

  env.set("KUBERNETES_SERVICE_PORT", "443");
  SECTION("IPv4") {
    env.set("KUBERNETES_SERVICE_HOST", "10.96.0.1");
    REQUIRE(in_cluster_available(opts));
    auto rc = in_cluster_config(opts);
    CHECK(rc.server == "https://10.96.0.1:443");
    CHECK(rc.ca_pem == kCaPem);
    CHECK(rc.namespace_ == "team-a");
    CHECK(rc.context == "in-cluster");
    REQUIRE(rc.token);
    CHECK(rc.token->token() == "sa-token-1");

    write_file(sa / "token", "sa-token-2\n");
    CHECK(rc.token->token() == "sa-token-1");
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    CHECK(rc.token->token() == "sa-token-2");
    write_file(sa / "token", "sa-token-3\n");
    rc.token->invalidate();
    CHECK(rc.token->token() == "sa-token-3");
  }
  SECTION("IPv6 is bracketed") {
    env.set("KUBERNETES_SERVICE_HOST", "fd00::1");
    CHECK(in_cluster_config(opts).server == "https://[fd00::1]:443");
  }
  SECTION("namespace defaults; a missing token is an error") {
    env.set("KUBERNETES_SERVICE_HOST", "10.0.0.1");
    fs::remove(sa / "namespace");
    CHECK(in_cluster_config(opts).namespace_ == "default");
    fs::remove(sa / "token");
    CHECK_FALSE(in_cluster_available(opts));
    CHECK_THAT(error_of([&] { in_cluster_config(opts); }), Catch::Contains((sa / "token").string()));
  }
}

TEST_CASE("C1, C2 load_config: explicit path, KUBECONFIG, in-cluster, then ~/.kube/config", "[kubeconfig]") {
  EnvGuard env;
  TempDir tmp;
  auto sa = tmp.path() / "sa";
  InClusterOptions ic{.service_account_dir = sa.string(), .token_reread = std::chrono::seconds(60)};
  write_file(sa / "token", "sa-token\n");
  write_file(tmp.path() / "home/.kube/config", single("    server: https://home\n", "    token: t\n"));
  write_file(tmp.path() / "explicit", single("    server: https://explicit\n", "    token: t\n"));
  write_file(tmp.path() / "env", single("    server: https://env\n", "    token: t\n"));
  env.set("HOME", (tmp.path() / "home").string());

  CHECK(load_config({}, ic).server == "https://home");
  env.set("KUBERNETES_SERVICE_HOST", "10.0.0.1");
  env.set("KUBERNETES_SERVICE_PORT", "6443");
  CHECK(load_config({}, ic).server == "https://10.0.0.1:6443");
  CHECK(load_config(kc((tmp.path() / "explicit").string()), ic).server == "https://explicit");
  env.set("KUBECONFIG", (tmp.path() / "env").string());
  CHECK(load_config({}, ic).server == "https://env");
}

TEST_CASE("C1 kubeconfig: the embedded API server's kubeconfig loads", "[kubeconfig]") {
  EnvGuard env;
  TempDir tmp;
  apiserver::ApiServerOptions o;
  o.data_dir = (tmp.path() / "data").string();
  o.token = "embedded-server-token";
  apiserver::ApiServer srv(o);
  srv.start();
  auto rc = load_kubeconfig(kc(srv.kubeconfig_path()));
  CHECK(rc.server == srv.url());
  CHECK_FALSE(srv.ca_pem().empty());
  CHECK(rc.ca_pem == srv.ca_pem());
  REQUIRE(rc.token);
  CHECK(rc.token->token() == "embedded-server-token");
  CHECK_FALSE(rc.insecure_skip_tls_verify);
  CHECK_FALSE(rc.context.empty());
  srv.stop();
}
