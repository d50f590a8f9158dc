// The embedded API server driven by outside clients: the real kubectl ("[kubectl]", the (K) items
// of shared/reference/k8s-api.md §4.1) and the official Python client ("[python]",
// tests/integration/python_client.py). Each test case starts its own `omed apiserver` process
// (TLS, durable data dir, deploy/crds) and points the clients at the kubeconfig it writes.
//
// kubectl must be 1.27 or newer (server-side field validation through OpenAPI v3, --subresource,
// apply --server-side conflicts as asserted here); with no kubectl, or an older one (Debian's
// kubernetes-client is 1.20), every [kubectl] case is skipped with a loud warning.
// kubectl's typed generators (`kubectl create configmap|namespace|secret|deployment ...`) send
// protobuf bodies; the "generators" case covers them, everything else goes through apply/JSON.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "../support/kubectl_runner.hpp"
#include "../support/process.hpp"
#include "../support/test_env.hpp"

using namespace omed::testing;
namespace fs = std::filesystem;

namespace {

std::string now_micro() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return std::string(buf) + ".000000Z";
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream is(s);
  for (std::string l; std::getline(is, l);)
    out.push_back(l);
  return out;
}

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream is(s);
  for (std::string w; is >> w;)
    out.push_back(w);
  return out;
}

// kubectl's column output (tabwriter, left aligned): rows as column-name -> cell, cut at the
// header's column starts so that empty cells stay empty.
std::vector<std::map<std::string, std::string>> table_rows(const std::string& text) {
  auto ls = lines_of(text);
  std::vector<std::map<std::string, std::string>> rows;
  if (ls.empty())
    return rows;
  std::vector<std::pair<size_t, std::string>> cols;
  const auto& h = ls[0];
  for (size_t i = 0; i < h.size();) {
    if (h[i] == ' ') {
      ++i;
      continue;
    }
    size_t j = h.find(' ', i);
    if (j == std::string::npos)
      j = h.size();
    cols.emplace_back(i, h.substr(i, j - i));
    i = j;
  }
  auto trim = [](std::string s) {
    while (!s.empty() && s.back() == ' ')
      s.pop_back();
    while (!s.empty() && s.front() == ' ')
      s.erase(0, 1);
    return s;
  };
  for (size_t r = 1; r < ls.size(); ++r) {
    std::map<std::string, std::string> row;
    for (size_t c = 0; c < cols.size(); ++c) {
      size_t start = cols[c].first;
      size_t end = c + 1 < cols.size() ? cols[c + 1].first : std::string::npos;
      row[cols[c].second] = start < ls[r].size() ? trim(ls[r].substr(start, end == std::string::npos ? end : end - start)) : "";
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

// A test CRD: namespaced, status subresource, two printer columns, a short name.
const char* kGadgetCrd = R"(apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.test.omed.io
spec:
  group: test.omed.io
  scope: Namespaced
  names:
    plural: gadgets
    singular: gadget
    kind: Gadget
    shortNames: [gd]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
    additionalPrinterColumns:
    - {name: Color, type: string, jsonPath: .spec.color}
    - {name: Phase, type: string, jsonPath: .status.phase}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              color: {type: string}
              size: {type: integer}
              extra: {type: string}
          status:
            type: object
            properties:
              phase: {type: string}
)";

std::string gadget(const std::string& name, const std::string& spec_lines, const std::string& ns = "",
                   const std::string& extra_metadata = "") {
  return "apiVersion: test.omed.io/v1\nkind: Gadget\nmetadata:\n  name: " + name + "\n" +
         (ns.empty() ? "" : "  namespace: " + ns + "\n") + extra_metadata + "spec:\n" + spec_lines;
}

std::string namespace_manifest(const std::string& name) {
  return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n";
}

const char* kConfigMap = R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  a: "1"
  b: "2"
)";

const char* kConfigMapUpdated = R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  a: "1"
  c: "3"
)";

// One `omed apiserver` (TLS, durable, deploy/crds) and a kubectl bound to it.
class Cluster {
public:
  Cluster() {
    kubeconfig_ = dir_.path() / "data" / "kubeconfig";
    cache_ = dir_.path() / "kube-cache";
    server_ = std::make_unique<Process>(
        std::vector<std::string>{omed_bin(), "apiserver", "--port", "0", "--data-dir", (dir_.path() / "data").string(),
                                 "--crds", (source_root() / "deploy" / "crds").string(), "--http-addr", "127.0.0.1:0",
                                 "--port-file", (dir_.path() / "http-port").string()},
        dir_.path() / "server.log");
    // Ready once the kubeconfig is written and the CRDs are in ("omed started" follows them).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (fs::exists(kubeconfig_) && contains(server_->output(), "omed started"))
        break;
      if (server_->wait(0))
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    INFO(server_->output());
    REQUIRE(fs::exists(kubeconfig_));
    REQUIRE(contains(server_->output(), "CRDs loaded"));
  }
  ~Cluster() {
    server_->signal(SIGTERM);
    server_->wait(10000);
  }

  const fs::path& dir() const { return dir_.path(); }
  const fs::path& kubeconfig() const { return kubeconfig_; }
  std::string server_log() const { return server_->output(); }

  Env env(Env extra = {}) const {
    extra.emplace_back("KUBECONFIG", kubeconfig_.string());
    return extra;
  }
  std::vector<std::string> argv(const std::vector<std::string>& args) const {
    std::vector<std::string> a{"kubectl", "--cache-dir=" + cache_.string()};
    a.insert(a.end(), args.begin(), args.end());
    return a;
  }
  Run kubectl(const std::vector<std::string>& args, Env extra = {}, int timeout_ms = 60000) const {
    return run(argv(args), env(std::move(extra)), dir_.path(), timeout_ms);
  }
  // A long-running kubectl (watch, delete --wait); output in files of the temp dir.
  std::unique_ptr<Child> kubectl_bg(const std::vector<std::string>& args, const std::string& tag) const {
    return std::make_unique<Child>(argv(args), env(), dir_.path() / (tag + ".out"), dir_.path() / (tag + ".err"));
  }
  // Writes a manifest into the temp dir; returns its path.
  std::string write(const std::string& name, const std::string& content) const {
    auto p = dir_.path() / "manifests" / name;
    write_file(p, content);
    return p.string();
  }
  // `kubectl get ... -o jsonpath=EXPR`, stdout only ("" on failure).
  std::string jsonpath(std::vector<std::string> args, const std::string& expr) const {
    args.push_back("-o");
    args.push_back("jsonpath=" + expr);
    auto r = kubectl(args);
    return r.rc == 0 ? r.out : "<rc " + std::to_string(r.rc) + ": " + r.err + ">";
  }
  // Polls a jsonpath until it is non-empty; returns the last value.
  std::string await_nonempty(const std::vector<std::string>& args, const std::string& expr, int ms = 20000) const {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    std::string v;
    do {
      v = jsonpath(args, expr);
      if (!v.empty())
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    } while (std::chrono::steady_clock::now() < deadline);
    return v;
  }

  // Applies the gadget CRD and waits until it is Established.
  void install_gadgets() const {
    auto r = kubectl({"apply", "-f", write("gadget-crd.yaml", kGadgetCrd)});
    INFO(r.describe());
    REQUIRE(r.rc == 0);
    auto w = kubectl({"wait", "--for=condition=Established", "crd/gadgets.test.omed.io", "--timeout=60s"});
    INFO(w.describe());
    REQUIRE(w.rc == 0);
  }

private:
  TempDir dir_;
  fs::path kubeconfig_, cache_;
  std::unique_ptr<Process> server_;
};

// Runs `r` and requires a zero exit code and `want` on stdout; prints everything on failure.
#define KUBECTL_OK(run_expr, want)           \
  do {                                       \
    auto _r = (run_expr);                    \
    INFO(_r.describe());                     \
    CHECK(_r.rc == 0);                       \
    CHECK_THAT(_r.out, Catch::Contains(want)); \
  } while (0)

// Polls a file until it contains `needle`.
bool file_eventually_contains(const fs::path& p, const std::string& needle, int ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(p) && contains(read_file(p), needle))
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

const std::string kConflict =
    "the object has been modified; please apply your changes to the latest version and try again";

}  // namespace

// ------------------------------------------------------------------ S7

TEST_CASE("S7: kubectl api-resources lists built-ins and CRDs with short names, versions, scope", "[kubectl]") {
  REQUIRE_KUBECTL();
  Cluster k;
  k.install_gadgets();
  auto r = k.kubectl({"api-resources"});
  INFO(r.describe());
  REQUIRE(r.rc == 0);
  CHECK(r.err.empty());
  auto rows = table_rows(r.out);
  REQUIRE(rows.size() > 10);
  CHECK(words(lines_of(r.out)[0]) == std::vector<std::string>{"NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"});
  std::map<std::string, std::map<std::string, std::string>> by;  // "name apiversion" -> row
  for (auto& row : rows)
    by[row["NAME"] + " " + row["APIVERSION"]] = row;
  struct Want {
    const char* name;
    const char* apiversion;
    const char* shortnames;
    const char* namespaced;
    const char* kind;
  };
  for (auto w : {Want{"configmaps", "v1", "cm", "true", "ConfigMap"},
                 Want{"namespaces", "v1", "ns", "false", "Namespace"},
                 Want{"events", "v1", "ev", "true", "Event"},
                 Want{"secrets", "v1", "", "true", "Secret"},
                 Want{"customresourcedefinitions", "apiextensions.k8s.io/v1", "crd,crds", "false", "CustomResourceDefinition"},
                 Want{"deployments", "apps/v1", "deploy", "true", "Deployment"},
                 Want{"leases", "coordination.k8s.io/v1", "", "true", "Lease"},
                 Want{"events", "events.k8s.io/v1", "ev", "true", "Event"},
                 Want{"basemodels", "ome.io/v1beta1", "", "true", "BaseModel"},
                 Want{"clusterbasemodels", "ome.io/v1beta1", "", "false", "ClusterBaseModel"},
                 Want{"inferenceservices", "ome.io/v1beta1", "isvc", "true", "InferenceService"},
                 Want{"clusterservingruntimes", "ome.io/v1beta1", "", "false", "ClusterServingRuntime"},
                 Want{"gadgets", "test.omed.io/v1", "gd", "true", "Gadget"}}) {
    std::string key = std::string(w.name) + " " + w.apiversion;
    INFO(key);
    REQUIRE(by.count(key));
    CHECK(by[key]["SHORTNAMES"] == w.shortnames);
    CHECK(by[key]["NAMESPACED"] == w.namespaced);
    CHECK(by[key]["KIND"] == w.kind);
  }
  // Every ome.io CRD of deploy/crds is served.
  auto names = k.kubectl({"api-resources", "--api-group=ome.io", "-o", "name"});
  INFO(names.describe());
  CHECK(names.rc == 0);
  std::set<std::string> got;
  for (auto& l : lines_of(names.out))
    got.insert(l);
  CHECK(got == std::set<std::string>{"acceleratorclasses.ome.io", "basemodels.ome.io", "benchmarkjobs.ome.io",
                                     "clusterbasemodels.ome.io", "clusterservingruntimes.ome.io",
                                     "finetunedweights.ome.io", "inferenceservices.ome.io", "servingruntimes.ome.io"});
  // Namespaced filter.
  auto cluster_scoped = k.kubectl({"api-resources", "--namespaced=false", "-o", "name"});
  auto scoped = lines_of(cluster_scoped.out);
  std::set<std::string> cluster_names(scoped.begin(), scoped.end());
  CHECK(cluster_names.count("clusterbasemodels.ome.io"));
  CHECK(cluster_names.count("namespaces"));
  CHECK_FALSE(cluster_names.count("basemodels.ome.io"));
  CHECK_FALSE(cluster_names.count("configmaps"));
}

// ------------------------------------------------------------------ S8

TEST_CASE("S8: kubectl apply without --validate=false creates a CRD, a CR and a ConfigMap", "[kubectl]") {
  REQUIRE_KUBECTL();
  Cluster k;
  // -v=6 logs each request URL: kubectl must have found the fieldValidation parameter in the
  // OpenAPI v3 documents and asked for server-side strict validation.
  auto crd = k.kubectl({"apply", "-f", k.write("crd.yaml", kGadgetCrd), "-v=6"});
  INFO(crd.describe());
  CHECK(crd.rc == 0);
  CHECK_THAT(crd.out, Catch::Contains("customresourcedefinition.apiextensions.k8s.io/gadgets.test.omed.io created"));
  CHECK_THAT(crd.err, Catch::Contains("/openapi/v3"));
  CHECK_THAT(crd.err, Catch::Contains("customresourcedefinitions?fieldManager=kubectl-client-side-apply&fieldValidation=Strict"));
  CHECK_THAT(crd.err, !Catch::Contains("turn validation off"));
  KUBECTL_OK(k.kubectl({"wait", "--for=condition=Established", "crd/gadgets.test.omed.io", "--timeout=60s"}),
             "customresourcedefinition.apiextensions.k8s.io/gadgets.test.omed.io condition met");

  auto cr = k.kubectl({"apply", "-f", k.write("g1.yaml", gadget("g1", "  color: red\n  size: 3\n")), "-v=6"});
  INFO(cr.describe());
  CHECK(cr.rc == 0);
  CHECK_THAT(cr.out, Catch::Contains("gadget.test.omed.io/g1 created"));
  CHECK_THAT(cr.err, Catch::Contains("namespaces/default/gadgets?fieldManager=kubectl-client-side-apply&fieldValidation=Strict"));

  auto cm = k.kubectl({"apply", "-f", k.write("cm.yaml", kConfigMap), "-v=6"});
  INFO(cm.describe());
  CHECK(cm.rc == 0);
  CHECK_THAT(cm.out, Catch::Contains("configmap/cfg created"));
  CHECK_THAT(cm.err, Catch::Contains("namespaces/default/configmaps?fieldManager=kubectl-client-side-apply&fieldValidation=Strict"));

  // The samples of deploy/samples: a namespaced BaseModel (its namespace first) and a
  // cluster-scoped ClusterBaseModel.
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("ns.yaml", namespace_manifest("team-a"))}), "namespace/team-a created");
  KUBECTL_OK(k.kubectl({"apply", "-f", (source_root() / "deploy/samples/models/basemodel-qwen2-5-0-5b-instruct.yaml").string()}),
             "basemodel.ome.io/qwen2-5-0-5b-instruct created");
  KUBECTL_OK(k.kubectl({"apply", "-f", (source_root() / "deploy/samples/models/clusterbasemodel-llama-3-2-1b-instruct.yaml").string()}),
             "clusterbasemodel.ome.io/llama-3-2-1b-instruct created");
  CHECK(k.jsonpath({"get", "basemodel", "qwen2-5-0-5b-instruct", "-n", "team-a"}, "{.spec.modelArchitecture}") ==
        "Qwen2ForCausalLM");

  // The last-applied annotation is kubectl's compact, key-sorted JSON.
  CHECK(k.jsonpath({"get", "cm", "cfg"}, "{.metadata.annotations.kubectl\\.kubernetes\\.io/last-applied-configuration}") ==
        R"({"apiVersion":"v1","data":{"a":"1","b":"2"},"kind":"ConfigMap","metadata":{"annotations":{},"name":"cfg","namespace":"default"}})"
        "\n");

  // Strict validation is done by the server: an unknown field is refused.
  auto bad = k.kubectl({"apply", "-f", k.write("bad.yaml", gadget("bad", "  color: red\n  bogus: 1\n"))});
  INFO(bad.describe());
  CHECK(bad.rc != 0);
  CHECK_THAT(bad.err, Catch::Contains("Error from server (BadRequest)") && Catch::Contains("unknown field \"spec.bogus\""));
  auto gone = k.kubectl({"get", "gadget", "bad"});
  CHECK_THAT(gone.err, Catch::Contains("gadgets.test.omed.io \"bad\" not found"));
}

// ------------------------------------------------------------------ S15

TEST_CASE("S15: kubectl replace with a stale resourceVersion gets the exact Conflict", "[kubectl]") {
  REQUIRE_KUBECTL();
  Cluster k;
  k.install_gadgets();
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("g1.yaml", gadget("g1", "  color: red\n"))}), "created");
  auto snap = k.kubectl({"get", "gadget", "g1", "-o", "yaml"});
  REQUIRE(snap.rc == 0);
  // Someone else writes meanwhile.
  KUBECTL_OK(k.kubectl({"label", "gadget", "g1", "touched=yes"}), "gadget.test.omed.io/g1 labeled");
  std::string stale = std::regex_replace(snap.out, std::regex("color: red"), "color: blue");
  auto path = k.write("stale.yaml", stale);
  auto r = k.kubectl({"replace", "-f", path});
  INFO(r.describe());
  CHECK(r.rc == 1);
  CHECK_THAT(r.err, Catch::Contains("Error from server (Conflict): error when replacing \"" + path +
                                    "\": Operation cannot be fulfilled on gadgets.test.omed.io \"g1\": " + kConflict));
  CHECK(k.jsonpath({"get", "gadget", "g1"}, "{.spec.color}") == "red");

  // The same for a ConfigMap.
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("cm.yaml", kConfigMap)}), "configmap/cfg created");
  auto cm_snap = k.kubectl({"get", "cm", "cfg", "-o", "yaml"});
  KUBECTL_OK(k.kubectl({"annotate", "cm", "cfg", "touched=yes"}), "configmap/cfg annotated");
  auto cm_path = k.write("cm-stale.yaml", std::regex_replace(cm_snap.out, std::regex("a: \"1\""), "a: \"9\""));
  auto rc = k.kubectl({"replace", "-f", cm_path});
  INFO(rc.describe());
  CHECK(rc.rc == 1);
  CHECK_THAT(rc.err, Catch::Contains("Error from server (Conflict): error when replacing \"" + cm_path +
                                     "\": Operation cannot be fulfilled on configmaps \"cfg\": " + kConflict));

  // With the current resourceVersion the replace goes through.
  auto fresh = k.kubectl({"get", "gadget", "g1", "-o", "yaml"});
  auto fresh_path = k.write("fresh.yaml", std::regex_replace(fresh.out, std::regex("color: red"), "color: blue"));
  KUBECTL_OK(k.kubectl({"replace", "-f", fresh_path}), "gadget.test.omed.io/g1 replaced");
  CHECK(k.jsonpath({"get", "gadget", "g1"}, "{.spec.color}") == "blue");
}

// ------------------------------------------------------------------ S18

TEST_CASE("S18: merge patch, label, annotate, and client-side apply removing a field", "[kubectl]") {
  REQUIRE_KUBECTL();
  Cluster k;
  k.install_gadgets();
  auto manifest = k.write("g1.yaml", gadget("g1", "  color: red\n  size: 3\n  extra: remove-me\n"));
  KUBECTL_OK(k.kubectl({"apply", "-f", manifest}), "gadget.test.omed.io/g1 created");

  SECTION("kubectl patch --type=merge: objects merge, null deletes") {
    KUBECTL_OK(k.kubectl({"patch", "gadget", "g1", "--type=merge", "-p", R"({"spec":{"color":"green","extra":null}})"}),
               "gadget.test.omed.io/g1 patched");
    CHECK(k.jsonpath({"get", "gadget", "g1"}, "{.spec}") == R"({"color":"green","size":3})");
    CHECK(k.jsonpath({"get", "gadget", "g1"}, "{.metadata.generation}") == "2");
    // A patch that changes nothing.
    KUBECTL_OK(k.kubectl({"patch", "gadget", "g1", "--type=merge", "-p", R"({"spec":{"color":"green"}})"}),
               "gadget.test.omed.io/g1 patched (no change)");
    // The default patch type (strategic) is refused for custom resources, as by kube-apiserver.
    auto smp = k.kubectl({"patch", "gadget", "g1", "-p", R"({"spec":{"color":"red"}})"});
    INFO(smp.describe());
    CHECK(smp.rc != 0);
    CHECK_THAT(smp.err, Catch::Contains("UnsupportedMediaType") || Catch::Contains("unknown format"));
  }

  SECTION("kubectl label / annotate on a CR and a ConfigMap") {
    KUBECTL_OK(k.kubectl({"label", "gadget", "g1", "tier=gold", "app=demo"}), "gadget.test.omed.io/g1 labeled");
    auto again = k.kubectl({"label", "gadget", "g1", "tier=silver"});
    CHECK(again.rc != 0);
    CHECK_THAT(again.err, Catch::Contains("'tier' already has a value (gold), and --overwrite is false"));
    KUBECTL_OK(k.kubectl({"label", "gadget", "g1", "tier=silver", "--overwrite"}), "gadget.test.omed.io/g1 labeled");
    KUBECTL_OK(k.kubectl({"label", "gadget", "g1", "app-"}), "gadget.test.omed.io/g1 unlabeled");
    CHECK(k.jsonpath({"get", "gadget", "g1"}, "{.metadata.labels}") == R"({"tier":"silver"})");
    KUBECTL_OK(k.kubectl({"get", "gadgets", "-l", "tier=silver", "-o", "name"}), "gadget.test.omed.io/g1");
    KUBECTL_OK(k.kubectl({"annotate", "gadget", "g1", "note=hello world"}), "gadget.test.omed.io/g1 annotated");
    CHECK(k.jsonpath({"get", "gadget", "g1"}, "{.metadata.annotations.note}") == "hello world");
    KUBECTL_OK(k.kubectl({"annotate", "gadget", "g1", "note-"}), "gadget.test.omed.io/g1 annotated");
    CHECK(k.jsonpath({"get", "gadget", "g1"}, "{.metadata.annotations.note}").empty());
    // Metadata-only changes keep the generation.
    CHECK(k.jsonpath({"get", "gadget", "g1"}, "{.metadata.generation}") == "1");

    KUBECTL_OK(k.kubectl({"apply", "-f", k.write("cm.yaml", kConfigMap)}), "configmap/cfg created");
    KUBECTL_OK(k.kubectl({"label", "cm", "cfg", "x=y"}), "configmap/cfg labeled");
    KUBECTL_OK(k.kubectl({"annotate", "cm", "cfg", "note=hi"}), "configmap/cfg annotated");
    CHECK(k.jsonpath({"get", "cm", "cfg"}, "{.metadata.labels.x}{\" \"}{.metadata.annotations.note}") == "y hi");
  }

  SECTION("client-side apply of a CR without a field removes it (merge patch with null)") {
    auto r = k.kubectl({"apply", "-f", k.write("g1.yaml", gadget("g1", "  color: red\n  size: 4\n")), "-v=8"});
    INFO(r.describe());
    CHECK(r.rc == 0);
    CHECK_THAT(r.out, Catch::Contains("gadget.test.omed.io/g1 configured"));
    CHECK_THAT(r.err, Catch::Contains("application/merge-patch+json"));
    CHECK(k.jsonpath({"get", "gadget", "g1"}, "{.spec}") == R"({"color":"red","size":4})");
    KUBECTL_OK(k.kubectl({"apply", "-f", k.write("g1.yaml", gadget("g1", "  color: red\n  size: 4\n"))}),
               "gadget.test.omed.io/g1 unchanged");
  }
}

// ------------------------------------------------------------------ S20

TEST_CASE("S20: kubectl apply updates a ConfigMap with a strategic merge patch", "[kubectl]") {
  REQUIRE_KUBECTL();
  Cluster k;
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("cm.yaml", kConfigMap)}), "configmap/cfg created");
  auto r = k.kubectl({"apply", "-f", k.write("cm.yaml", kConfigMapUpdated), "-v=8"});
  INFO(r.describe());
  CHECK(r.rc == 0);
  CHECK_THAT(r.out, Catch::Contains("configmap/cfg configured"));
  CHECK_THAT(r.err, Catch::Contains("application/strategic-merge-patch+json"));
  // No fallback warnings: the OpenAPI documents do not mislead kubectl's patch computation.
  CHECK_THAT(r.err, !Catch::Contains("warning:"));
  CHECK(k.jsonpath({"get", "cm", "cfg"}, "{.data}") == R"({"a":"1","c":"3"})");
  auto again = k.kubectl({"apply", "-f", k.write("cm.yaml", kConfigMapUpdated)});
  INFO(again.describe());
  CHECK(again.out == "configmap/cfg unchanged\n");
  CHECK(again.err.empty());
  // Keys added by someone else survive a re-apply (three-way merge).
  KUBECTL_OK(k.kubectl({"patch", "cm", "cfg", "-p", R"({"data":{"z":"26"}})"}), "configmap/cfg patched");
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("cm.yaml", kConfigMap)}), "configmap/cfg configured");
  CHECK(k.jsonpath({"get", "cm", "cfg"}, "{.data}") == R"({"a":"1","b":"2","z":"26"})");
}

// ------------------------------------------------------------------ S22

TEST_CASE("S22: kubectl apply --server-side creates, and a second manager conflicts", "[kubectl]") {
  REQUIRE_KUBECTL();
  Cluster k;
  k.install_gadgets();
  auto path = k.write("ssa.yaml", gadget("ssa1", "  color: red\n  size: 1\n"));
  auto r = k.kubectl({"apply", "--server-side", "-f", path});
  INFO(r.describe());
  CHECK(r.rc == 0);
  CHECK(r.out == "gadget.test.omed.io/ssa1 serverside-applied\n");
  CHECK(k.jsonpath({"get", "gadget", "ssa1"}, "{.spec.color}") == "red");
  CHECK(k.jsonpath({"get", "gadget", "ssa1", "--show-managed-fields"},
                   "{.metadata.managedFields[0].manager} {.metadata.managedFields[0].operation}") == "kubectl Apply");
  // Same config again: no change.
  KUBECTL_OK(k.kubectl({"apply", "--server-side", "-f", path}), "gadget.test.omed.io/ssa1 serverside-applied");
  CHECK(k.jsonpath({"get", "gadget", "ssa1"}, "{.metadata.generation}") == "1");

  auto other = k.write("ssa-other.yaml", gadget("ssa1", "  color: blue\n"));
  auto c = k.kubectl({"apply", "--server-side", "--field-manager=other", "-f", other});
  INFO(c.describe());
  CHECK(c.rc == 1);
  CHECK_THAT(c.err, Catch::Contains("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.color"));
  CHECK_THAT(c.err, Catch::Contains("--force-conflicts"));
  CHECK(k.jsonpath({"get", "gadget", "ssa1"}, "{.spec.color}") == "red");
  // Agreeing on the value is not a conflict; forcing takes the field over.
  KUBECTL_OK(k.kubectl({"apply", "--server-side", "--field-manager=other", "-f", k.write("agree.yaml", gadget("ssa1", "  color: red\n"))}),
             "serverside-applied");
  KUBECTL_OK(k.kubectl({"apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", other}),
             "gadget.test.omed.io/ssa1 serverside-applied");
  CHECK(k.jsonpath({"get", "gadget", "ssa1"}, "{.spec.color}") == "blue");
  CHECK(k.jsonpath({"get", "gadget", "ssa1"}, "{.spec.size}") == "1");

  // A fresh built-in object as well.
  KUBECTL_OK(k.kubectl({"apply", "--server-side", "-f", k.write("cm.yaml", kConfigMap)}), "configmap/cfg serverside-applied");
  CHECK(k.jsonpath({"get", "cm", "cfg"}, "{.data}") == R"({"a":"1","b":"2"})");
  // Dropping a field from the applied configuration removes it (no one else owns it).
  KUBECTL_OK(k.kubectl({"apply", "--server-side", "-f", k.write("cm.yaml", kConfigMapUpdated)}), "configmap/cfg serverside-applied");
  CHECK(k.jsonpath({"get", "cm", "cfg"}, "{.data}") == R"({"a":"1","c":"3"})");
}

// ------------------------------------------------------------------ S27

TEST_CASE("S27: kubectl patch and edit of the status subresource", "[kubectl]") {
  REQUIRE_KUBECTL();
  Cluster k;
  k.install_gadgets();
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("g1.yaml", gadget("g1", "  color: red\n"))}), "created");
  // The main endpoint ignores status.
  KUBECTL_OK(k.kubectl({"patch", "gadget", "g1", "--type=merge", "-p", R"({"status":{"phase":"Sneaky"}})"}), "patched");
  CHECK(k.jsonpath({"get", "gadget", "g1"}, "{.status}").empty());

  // /status changes only status.
  KUBECTL_OK(k.kubectl({"patch", "gadget", "g1", "--subresource=status", "--type=merge", "-p",
                        R"({"status":{"phase":"Ready"},"spec":{"color":"ignored"}})"}),
             "gadget.test.omed.io/g1 patched");
  CHECK(k.jsonpath({"get", "gadget", "g1"}, "{.status.phase} {.spec.color} {.metadata.generation}") == "Ready red 1");
  CHECK(k.jsonpath({"get", "gadget", "g1", "--subresource=status"}, "{.status.phase}") == "Ready");

  // kubectl edit --subresource=status with a scripted editor.
  auto editor = k.dir() / "editor.sh";
  write_file(editor, "#!/bin/sh\nsed -i 's/phase: Ready/phase: Edited/' \"$1\"\n");
  fs::permissions(editor, fs::perms::owner_all);
  auto e = k.kubectl({"edit", "gadget", "g1", "--subresource=status"}, {{"KUBE_EDITOR", editor.string()}});
  INFO(e.describe());
  CHECK(e.rc == 0);
  CHECK_THAT(e.out, Catch::Contains("gadget.test.omed.io/g1 edited"));
  CHECK(k.jsonpath({"get", "gadget", "g1"}, "{.status.phase} {.spec.color}") == "Edited red");

  // An editor that changes nothing: "Edit cancelled".
  auto noop = k.dir() / "noop.sh";
  write_file(noop, "#!/bin/sh\ntrue\n");
  fs::permissions(noop, fs::perms::owner_all);
  auto n = k.kubectl({"edit", "gadget", "g1", "--subresource=status"}, {{"KUBE_EDITOR", noop.string()}});
  INFO(n.describe());
  CHECK(n.rc == 0);
  CHECK_THAT(n.out + n.err, Catch::Contains("Edit cancelled, no changes made."));

  // A json patch on /status.
  KUBECTL_OK(k.kubectl({"patch", "gadget", "g1", "--subresource=status", "--type=json", "-p",
                        R"([{"op":"test","path":"/status/phase","value":"Edited"},{"op":"replace","path":"/status/phase","value":"Done"}])"}),
             "patched");
  CHECK(k.jsonpath({"get", "gadget", "g1"}, "{.status.phase}") == "Done");
}

// ------------------------------------------------------------------ S30

TEST_CASE("S30: kubectl delete waits for the finalizer and returns once it is patched away", "[kubectl]") {
  REQUIRE_KUBECTL();
  Cluster k;
  k.install_gadgets();
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("g1.yaml", gadget("g1", "  color: red\n", "",
                                                                  "  finalizers:\n  - test.omed.io/hold\n"))}),
             "created");
  auto del = k.kubectl_bg({"delete", "gadget", "g1", "--timeout=90s"}, "delete");
  REQUIRE(del->started());
  // The object is marked for deletion but stays while the finalizer is there.
  auto ts = k.await_nonempty({"get", "gadget", "g1"}, "{.metadata.deletionTimestamp}");
  CHECK(std::regex_match(ts, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  CHECK(del->running());
  CHECK(k.jsonpath({"get", "gadget", "g1"}, "{.metadata.finalizers[0]}") == "test.omed.io/hold");
  // No new finalizers while deleting.
  auto add = k.kubectl({"patch", "gadget", "g1", "--type=merge", "-p", R"({"metadata":{"finalizers":["test.omed.io/hold","x.io/y"]}})"});
  INFO(add.describe());
  CHECK(add.rc != 0);
  CHECK_THAT(add.err, Catch::Contains("no new finalizers can be added if the object is being deleted"));
  CHECK(del->running());

  KUBECTL_OK(k.kubectl({"patch", "gadget", "g1", "--type=json", "-p", R"([{"op":"remove","path":"/metadata/finalizers"}])"}),
             "gadget.test.omed.io/g1 patched");
  bool finished = del->wait(20000);
  INFO("delete stdout: " << del->out() << "\ndelete stderr: " << del->err());
  REQUIRE(finished);
  CHECK(del->exit_code() == 0);
  CHECK(del->out() == "gadget.test.omed.io \"g1\" deleted\n");
  auto get = k.kubectl({"get", "gadget", "g1"});
  CHECK(get.rc == 1);
  CHECK_THAT(get.err, Catch::Contains("Error from server (NotFound): gadgets.test.omed.io \"g1\" not found"));
}

// ------------------------------------------------------------------ S38

TEST_CASE("S38: kubectl get -A lists every namespace, -n only one", "[kubectl]") {
  REQUIRE_KUBECTL();
  Cluster k;
  k.install_gadgets();
  for (auto ns : {"team-a", "team-b"}) {
    KUBECTL_OK(k.kubectl({"apply", "-f", k.write(std::string(ns) + ".yaml", namespace_manifest(ns))}), "created");
    KUBECTL_OK(k.kubectl({"apply", "-f", k.write(std::string("g-") + ns + ".yaml", gadget("g1", "  color: red\n", ns))}),
               "created");
  }
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("g-default.yaml", gadget("g2", "  color: blue\n"))}), "created");
  auto all = k.kubectl({"get", "gadgets", "-A"});
  INFO(all.describe());
  REQUIRE(all.rc == 0);
  CHECK(words(lines_of(all.out)[0]) == std::vector<std::string>{"NAMESPACE", "NAME", "COLOR", "PHASE"});
  std::set<std::string> seen;
  for (auto& row : table_rows(all.out))
    seen.insert(row["NAMESPACE"] + "/" + row["NAME"] + "/" + row["COLOR"]);
  CHECK(seen == std::set<std::string>{"default/g2/blue", "team-a/g1/red", "team-b/g1/red"});
  auto one = k.kubectl({"get", "gadgets", "-n", "team-a", "-o", "name"});
  CHECK(one.out == "gadget.test.omed.io/g1\n");
  auto names = k.kubectl({"get", "gadgets", "--all-namespaces", "-o", "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name} {end}"});
  CHECK(names.out == "default/g2 team-a/g1 team-b/g1 ");
  auto none = k.kubectl({"get", "gadgets", "-n", "kube-system"});
  CHECK(none.rc == 0);
  CHECK_THAT(none.err, Catch::Contains("No resources found in kube-system namespace."));
}

// ------------------------------------------------------------------ S40

TEST_CASE("S40: kubectl get basemodels prints the CRD's printer columns", "[kubectl]") {
  REQUIRE_KUBECTL();
  Cluster k;
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("ns.yaml", namespace_manifest("team-a"))}), "created");
  KUBECTL_OK(k.kubectl({"apply", "-f", (source_root() / "deploy/samples/models/basemodel-qwen2-5-0-5b-instruct.yaml").string()}),
             "created");
  auto r = k.kubectl({"get", "basemodels", "-n", "team-a"});
  INFO(r.describe());
  REQUIRE(r.rc == 0);
  auto ls = lines_of(r.out);
  REQUIRE(ls.size() == 2);
  CHECK(words(ls[0]) == std::vector<std::string>{"NAME", "DISABLED", "VERSION", "VENDOR", "FRAMEWORK", "FRAMEWORKVERSION",
                                                 "MODELFORMAT", "ARCHITECTURE", "CAPABILITIES", "SIZE", "COMPARTMENTID",
                                                 "READY", "AGE"});
  auto row = table_rows(r.out).at(0);
  CHECK(row["NAME"] == "qwen2-5-0-5b-instruct");
  CHECK(row["VENDOR"] == "qwen");
  CHECK(row["MODELFORMAT"] == "safetensors");
  CHECK(row["ARCHITECTURE"] == "Qwen2ForCausalLM");
  CHECK(row["SIZE"] == "494.03M");
  CHECK(row["READY"] == "");
  CHECK(std::regex_match(row["AGE"], std::regex(R"(\d+s)")));
  // Status columns follow status writes.
  KUBECTL_OK(k.kubectl({"patch", "basemodel", "qwen2-5-0-5b-instruct", "-n", "team-a", "--subresource=status",
                        "--type=merge", "-p", R"({"status":{"state":"Ready"}})"}),
             "patched");
  CHECK(table_rows(k.kubectl({"get", "basemodels", "-n", "team-a"}).out).at(0)["READY"] == "Ready");
  // A cluster-scoped kind, and -o wide (no priority columns: same set).
  KUBECTL_OK(k.kubectl({"apply", "-f", (source_root() / "deploy/samples/models/clusterbasemodel-llama-3-2-1b-instruct.yaml").string()}),
             "created");
  auto c = k.kubectl({"get", "clusterbasemodels", "-o", "wide"});
  INFO(c.describe());
  auto crow = table_rows(c.out).at(0);
  CHECK(crow["NAME"] == "llama-3-2-1b-instruct");
  CHECK(crow["DISABLED"] == "false");
  CHECK(crow["VERSION"] == "1.0.0");
  CHECK(crow["CAPABILITIES"] == "TEXT_TO_TEXT");

  // A CRD without printer columns gets NAME and AGE; one with columns gets no AGE unless declared.
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("plain-crd.yaml", R"(apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: plains.test.omed.io
spec:
  group: test.omed.io
  scope: Namespaced
  names: {plural: plains, singular: plain, kind: Plain}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
)")}),
             "created");
  KUBECTL_OK(k.kubectl({"wait", "--for=condition=Established", "crd/plains.test.omed.io"}), "condition met");
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("plain.yaml", "apiVersion: test.omed.io/v1\nkind: Plain\nmetadata:\n  name: p1\n")}),
             "created");
  CHECK(words(lines_of(k.kubectl({"get", "plains"}).out).at(0)) == std::vector<std::string>{"NAME", "AGE"});
  k.install_gadgets();
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("g1.yaml", gadget("g1", "  color: red\n"))}), "created");
  CHECK(words(lines_of(k.kubectl({"get", "gadgets"}).out).at(0)) == std::vector<std::string>{"NAME", "COLOR", "PHASE"});
}

// ------------------------------------------------------------------ S49

TEST_CASE("S49: kubectl get -w shows an update live, one header", "[kubectl]") {
  REQUIRE_KUBECTL();
  Cluster k;
  k.install_gadgets();
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("g1.yaml", gadget("g1", "  color: red\n"))}), "created");
  auto w = k.kubectl_bg({"get", "gadgets", "-w"}, "watch");
  auto out = k.dir() / "watch.out";
  REQUIRE(file_eventually_contains(out, "g1", 20000));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the watch request follows the list
  KUBECTL_OK(k.kubectl({"patch", "gadget", "g1", "--subresource=status", "--type=merge", "-p", R"({"status":{"phase":"Live"}})"}),
             "patched");
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("g2.yaml", gadget("g2", "  color: blue\n"))}), "created");
  bool live = file_eventually_contains(out, "Live", 20000) && file_eventually_contains(out, "g2", 20000);
  CHECK(w->running());
  w->kill();
  INFO("watch stdout:\n" << w->out() << "\nwatch stderr:\n" << w->err());
  CHECK(live);
  auto ls = lines_of(w->out());
  REQUIRE(ls.size() >= 3);
  CHECK(words(ls[0]) == std::vector<std::string>{"NAME", "COLOR", "PHASE"});
  int headers = 0;
  for (auto& l : ls)
    headers += l.rfind("NAME", 0) == 0;
  CHECK(headers == 1);
  CHECK(words(ls[1]) == std::vector<std::string>{"g1", "red"});
  CHECK(words(ls[2]) == std::vector<std::string>{"g1", "red", "Live"});
  CHECK(words(ls.back()) == std::vector<std::string>{"g2", "blue"});

  // -o yaml on one object: a plain JSON watch by field selector.
  auto wy = k.kubectl_bg({"get", "gadget", "g2", "-w", "-o", "yaml"}, "watch-yaml");
  auto yout = k.dir() / "watch-yaml.out";
  REQUIRE(file_eventually_contains(yout, "name: g2", 20000));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  KUBECTL_OK(k.kubectl({"label", "gadget", "g2", "seen=now"}), "labeled");
  bool labeled = file_eventually_contains(yout, "seen: now", 20000);
  wy->kill();
  INFO("watch -o yaml stdout:\n" << wy->out() << "\nstderr:\n" << wy->err());
  CHECK(labeled);
}

// ------------------------------------------------------------------ S51

TEST_CASE("S51: kubectl describe shows an events.k8s.io/v1 Event about the object", "[kubectl]") {
  REQUIRE_KUBECTL();
  Cluster k;
  k.install_gadgets();
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("g1.yaml", gadget("g1", "  color: red\n"))}), "created");
  auto uid = k.jsonpath({"get", "gadget", "g1"}, "{.metadata.uid}");
  REQUIRE(uid.size() == 36);
  std::string ev = "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata:\n  name: g1.reconciled\n"
                   "eventTime: \"" + now_micro() + "\"\n"
                   "reportingController: test.omed.io/gadget-controller\nreportingInstance: gadget-controller-0\n"
                   "action: Reconcile\nreason: GadgetReady\ntype: Normal\nnote: gadget g1 is ready to go\n"
                   "regarding:\n  apiVersion: test.omed.io/v1\n  kind: Gadget\n  name: g1\n  namespace: default\n"
                   "  uid: " + uid + "\n";
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("event.yaml", ev)}), "event.events.k8s.io/g1.reconciled created");
  // A warning about another object must not show up.
  std::string other = "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata:\n  name: other.ev\n"
                      "eventTime: \"" + now_micro() + "\"\n"
                      "reportingController: test.omed.io/gadget-controller\nreportingInstance: gadget-controller-0\n"
                      "action: Reconcile\nreason: NotMine\ntype: Warning\nnote: about somebody else\n"
                      "regarding:\n  apiVersion: v1\n  kind: ConfigMap\n  name: g1\n  namespace: default\n";
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("other.yaml", other)}), "created");

  auto d = k.kubectl({"describe", "gadget", "g1"});
  INFO(d.describe());
  REQUIRE(d.rc == 0);
  CHECK_THAT(d.out, Catch::Contains("Name:         g1"));
  CHECK_THAT(d.out, Catch::Contains("Color:  red"));
  auto pos = d.out.find("Events:");
  REQUIRE(pos != std::string::npos);
  auto events = d.out.substr(pos);
  auto ls = lines_of(events);
  REQUIRE(ls.size() >= 3);
  CHECK(words(ls[1]) == std::vector<std::string>{"Type", "Reason", "Age", "From", "Message"});
  auto row = words(ls[3]);
  REQUIRE(row.size() >= 5);
  CHECK(row[0] == "Normal");
  CHECK(row[1] == "GadgetReady");
  CHECK(std::regex_match(row[2], std::regex(R"(\d+s)")));
  CHECK(row[3] == "test.omed.io/gadget-controller");
  CHECK_THAT(ls[3], Catch::EndsWith("gadget g1 is ready to go"));
  CHECK_THAT(events, !Catch::Contains("NotMine"));
  // The same event through core/v1.
  auto core = k.kubectl({"get", "events.v1.", "--field-selector", "involvedObject.name=g1,involvedObject.kind=Gadget",
                         "-o", "jsonpath={.items[*].reason} {.items[*].message}"});
  INFO(core.describe());
  CHECK(core.out == "GadgetReady gadget g1 is ready to go");
}

// ------------------------------------------------------------------ S55

TEST_CASE("S55: the full kubectl scenario", "[kubectl]") {
  REQUIRE_KUBECTL();
  Cluster k;
  const std::string crd_file = (source_root() / "deploy/crds/ome.io_basemodels.yaml").string();
  const std::string sample = (source_root() / "deploy/samples/models/basemodel-qwen2-5-0-5b-instruct.yaml").string();
  const std::string bm = "qwen2-5-0-5b-instruct";
  const std::vector<std::string> get_bm{"get", "basemodel", bm, "-n", "team-a"};
  auto in_ns = [](std::vector<std::string> a) {
    a.push_back("-n");
    a.push_back("team-a");
    return a;
  };

  // 1. apply the CRD (re-created from deploy/crds: the server loaded it at start) and wait.
  KUBECTL_OK(k.kubectl({"delete", "crd", "basemodels.ome.io"}),
             "customresourcedefinition.apiextensions.k8s.io \"basemodels.ome.io\" deleted");
  CHECK_THAT(k.kubectl({"get", "crd", "basemodels.ome.io"}).err, Catch::Contains("not found"));
  KUBECTL_OK(k.kubectl({"apply", "-f", crd_file}), "customresourcedefinition.apiextensions.k8s.io/basemodels.ome.io created");
  KUBECTL_OK(k.kubectl({"wait", "--for=condition=Established", "crd/basemodels.ome.io", "--timeout=60s"}),
             "customresourcedefinition.apiextensions.k8s.io/basemodels.ome.io condition met");
  KUBECTL_OK(k.kubectl({"apply", "-f", crd_file}), "customresourcedefinition.apiextensions.k8s.io/basemodels.ome.io unchanged");

  // 2. apply the CR and a ConfigMap: create, then update.
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("ns.yaml", namespace_manifest("team-a"))}), "namespace/team-a created");
  KUBECTL_OK(k.kubectl({"apply", "-f", sample}), "basemodel.ome.io/" + bm + " created");
  auto cm_path = k.write("cm.yaml", kConfigMap);
  KUBECTL_OK(k.kubectl(in_ns({"apply", "-f", cm_path})), "configmap/cfg created");
  std::string updated = std::regex_replace(read_file(sample), std::regex("vendor: qwen"), "vendor: alibaba");
  updated = std::regex_replace(updated, std::regex("  modelParameterSize: 494.03M\n"), "");
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("bm-updated.yaml", updated)}), "basemodel.ome.io/" + bm + " configured");
  KUBECTL_OK(k.kubectl(in_ns({"apply", "-f", k.write("cm.yaml", kConfigMapUpdated)})), "configmap/cfg configured");
  CHECK(k.jsonpath(get_bm, "{.spec.vendor}|{.spec.modelParameterSize}|{.metadata.generation}") == "alibaba||2");
  CHECK(k.jsonpath({"get", "cm", "cfg", "-n", "team-a"}, "{.data}") == R"({"a":"1","c":"3"})");

  // 3. get, -o yaml, -w, describe.
  auto table = k.kubectl({"get", "basemodels", "-n", "team-a"});
  INFO(table.describe());
  CHECK(table_rows(table.out).at(0)["VENDOR"] == "alibaba");
  auto yaml = k.kubectl({"get", "basemodel", bm, "-n", "team-a", "-o", "yaml"});
  CHECK_THAT(yaml.out, Catch::StartsWith("apiVersion: ome.io/v1beta1\nkind: BaseModel\n"));
  CHECK_THAT(yaml.out, Catch::Contains("  vendor: alibaba\n") && !Catch::Contains("modelParameterSize"));
  CHECK_THAT(yaml.out, !Catch::Contains("managedFields"));
  auto w = k.kubectl_bg({"get", "basemodels", "-n", "team-a", "-w"}, "watch");
  REQUIRE(file_eventually_contains(k.dir() / "watch.out", bm, 20000));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  // 4. patch: merge, json, status.
  KUBECTL_OK(k.kubectl(in_ns({"patch", "basemodel", bm, "--type=merge", "-p", R"({"spec":{"modelArchitecture":"Qwen2ForCausalLMv2"}})"})),
             "patched");
  KUBECTL_OK(k.kubectl(in_ns({"patch", "basemodel", bm, "--type=json", "-p",
                              R"([{"op":"test","path":"/spec/vendor","value":"alibaba"},{"op":"add","path":"/spec/modelParameterSize","value":"0.5B"}])"})),
             "patched");
  auto failing = k.kubectl(in_ns({"patch", "basemodel", bm, "--type=json", "-p", R"([{"op":"test","path":"/spec/vendor","value":"nobody"}])"}));
  CHECK(failing.rc != 0);
  KUBECTL_OK(k.kubectl(in_ns({"patch", "basemodel", bm, "--subresource=status", "--type=merge", "-p", R"({"status":{"state":"Importing"}})"})),
             "patched");
  CHECK(k.jsonpath(get_bm, "{.spec.modelArchitecture}|{.spec.modelParameterSize}|{.status.state}|{.metadata.generation}") ==
        "Qwen2ForCausalLMv2|0.5B|Importing|4");
  bool watched = file_eventually_contains(k.dir() / "watch.out", "Importing", 20000);
  w->kill();
  INFO("watch output:\n" << w->out() << w->err());
  CHECK(watched);
  CHECK_THAT(w->out(), Catch::Contains("Qwen2ForCausalLMv2"));

  // describe, with an event written through events.k8s.io/v1.
  std::string ev = "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata:\n  name: qwen.import\n  namespace: team-a\n"
                   "eventTime: \"" + now_micro() + "\"\nreportingController: ome.io/omed\nreportingInstance: omed-0\n"
                   "action: Import\nreason: Importing\ntype: Normal\nnote: downloading weights\n"
                   "regarding:\n  apiVersion: ome.io/v1beta1\n  kind: BaseModel\n  name: " + bm + "\n  namespace: team-a\n"
                   "  uid: " + k.jsonpath(get_bm, "{.metadata.uid}") + "\n";
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("ev.yaml", ev)}), "created");
  auto d = k.kubectl(in_ns({"describe", "basemodel", bm}));
  INFO(d.describe());
  CHECK_THAT(d.out, Catch::Contains("Vendor:"));
  CHECK_THAT(d.out, Catch::Contains("State:  Importing"));
  CHECK_THAT(d.out, Catch::Contains("Normal  Importing") && Catch::Contains("ome.io/omed") && Catch::Contains("downloading weights"));
  auto dcm = k.kubectl(in_ns({"describe", "cm", "cfg"}));
  CHECK_THAT(dcm.out, Catch::Contains("Name:         cfg") && Catch::Contains("Events:  <none>"));

  // 5. edit status with KUBE_EDITOR.
  auto editor = k.dir() / "editor.sh";
  write_file(editor, "#!/bin/sh\nsed -i 's/state: Importing/state: Ready/' \"$1\"\n");
  fs::permissions(editor, fs::perms::owner_all);
  KUBECTL_OK(k.kubectl(in_ns({"edit", "basemodel", bm, "--subresource=status"}), {{"KUBE_EDITOR", editor.string()}}),
             "basemodel.ome.io/" + bm + " edited");
  CHECK(k.jsonpath(get_bm, "{.status.state}") == "Ready");
  CHECK(table_rows(k.kubectl({"get", "basemodels", "-n", "team-a"}).out).at(0)["READY"] == "Ready");

  // 6. label / annotate.
  KUBECTL_OK(k.kubectl(in_ns({"label", "basemodel", bm, "tier=gold"})), "labeled");
  KUBECTL_OK(k.kubectl(in_ns({"annotate", "basemodel", bm, "owner=team-a"})), "annotated");
  KUBECTL_OK(k.kubectl(in_ns({"label", "cm", "cfg", "tier=gold"})), "labeled");
  KUBECTL_OK(k.kubectl(in_ns({"annotate", "cm", "cfg", "owner=team-a"})), "annotated");
  CHECK(k.kubectl({"get", "basemodels,configmaps", "-n", "team-a", "-l", "tier=gold", "-o", "name"}).out ==
        "basemodel.ome.io/" + bm + "\nconfigmap/cfg\n");

  // 7. replace: a stale copy conflicts, a fresh one goes through.
  auto snap = k.kubectl(in_ns({"get", "basemodel", bm, "-o", "yaml"}));
  auto fresh_path = k.write("replace.yaml", std::regex_replace(snap.out, std::regex("vendor: alibaba"), "vendor: qwen-team"));
  KUBECTL_OK(k.kubectl({"replace", "-f", fresh_path}), "basemodel.ome.io/" + bm + " replaced");
  auto stale = k.kubectl({"replace", "-f", fresh_path});
  INFO(stale.describe());
  CHECK(stale.rc == 1);
  CHECK_THAT(stale.err, Catch::Contains("Operation cannot be fulfilled on basemodels.ome.io \"" + bm + "\": " + kConflict));
  CHECK(k.jsonpath(get_bm, "{.spec.vendor}|{.status.state}|{.metadata.labels.tier}") == "qwen-team|Ready|gold");

  // 8. delete without a finalizer, then with one.
  KUBECTL_OK(k.kubectl(in_ns({"delete", "cm", "cfg"})), "configmap \"cfg\" deleted");
  CHECK_THAT(k.kubectl(in_ns({"get", "cm", "cfg"})).err, Catch::Contains("configmaps \"cfg\" not found"));
  KUBECTL_OK(k.kubectl(in_ns({"patch", "basemodel", bm, "--type=merge", "-p", R"({"metadata":{"finalizers":["ome.io/cleanup"]}})"})),
             "patched");
  auto del = k.kubectl_bg(in_ns({"delete", "basemodel", bm}), "delete");
  auto ts = k.await_nonempty(get_bm, "{.metadata.deletionTimestamp}");
  CHECK_FALSE(ts.empty());
  CHECK(del->running());
  KUBECTL_OK(k.kubectl(in_ns({"patch", "basemodel", bm, "--type=merge", "-p", R"({"metadata":{"finalizers":null}})"})), "patched");
  REQUIRE(del->wait(20000));
  CHECK(del->exit_code() == 0);
  CHECK(del->out() == "basemodel.ome.io \"" + bm + "\" deleted\n");
  CHECK_THAT(k.kubectl(get_bm).err, Catch::Contains("basemodels.ome.io \"" + bm + "\" not found"));

  // 9. apply --server-side of a fresh object, and a second manager.
  auto ssa = k.kubectl({"apply", "--server-side", "-f", sample});
  INFO(ssa.describe());
  CHECK(ssa.rc == 0);
  CHECK(ssa.out == "basemodel.ome.io/" + bm + " serverside-applied\n");
  auto other = k.write("other.yaml", std::regex_replace(read_file(sample), std::regex("vendor: qwen"), "vendor: other"));
  auto conflict = k.kubectl({"apply", "--server-side", "--field-manager=ops", "-f", other});
  CHECK(conflict.rc == 1);
  CHECK_THAT(conflict.err, Catch::Contains("conflict with \"kubectl\"") && Catch::Contains(".spec.vendor"));
  KUBECTL_OK(k.kubectl({"apply", "--server-side", "--field-manager=ops", "--force-conflicts", "-f", other}), "serverside-applied");
  CHECK(k.jsonpath(get_bm, "{.spec.vendor}") == "other");

  // Nothing above should have made the server log an error.
  CHECK_THAT(k.server_log(), !Catch::Contains("level=error"));
}

// ------------------------------------------------------------------ generators (protobuf bodies)

TEST_CASE("kubectl create generators send protobuf bodies: configmap, namespace, secret, serviceaccount, "
          "deployment, service, cronjob, job, role, rolebinding, priorityclass", "[kubectl]") {
  REQUIRE_KUBECTL();
  Cluster k;
  // The namespace flag goes first: anything after "--" is the container's command.
  auto in_ns = [](std::vector<std::string> a) {
    a.insert(a.begin(), {"-n", "pb"});
    return a;
  };
  auto get = [&](const std::vector<std::string>& what, const std::string& expr) { return k.jsonpath(in_ns(what), expr); };

  // The body really is protobuf (kubectl decides per type, so check it rather than assume it).
  auto ns = k.kubectl({"create", "namespace", "pb", "-v=9"});
  INFO(ns.describe());
  CHECK(ns.rc == 0);
  CHECK(ns.out == "namespace/pb created\n");
  CHECK_THAT(ns.err, Catch::Contains("-XPOST") && Catch::Contains("Content-Type: application/vnd.kubernetes.protobuf") &&
                         Catch::Contains("/api/v1/namespaces?fieldManager=kubectl-create"));
  CHECK(k.jsonpath({"get", "namespace", "pb"}, "{.metadata.name}") == "pb");

  // ConfigMap: literals, a file with a newline, binary data.
  std::string bin("\x00\x01\xfe\xffomed", 8);
  auto bin_path = k.write("blob.bin", bin);
  auto text_path = k.write("greeting.txt", "hello\nworld\n");
  KUBECTL_OK(k.kubectl(in_ns({"create", "configmap", "cfg", "--from-literal=a=b", "--from-literal=spaced=x y z",
                              "--from-file=greeting=" + text_path, "--from-file=blob=" + bin_path})),
             "configmap/cfg created");
  auto cm = k.kubectl(in_ns({"get", "configmap", "cfg", "-o", "json"}));
  INFO(cm.describe());
  CHECK(cm.rc == 0);
  CHECK_THAT(cm.out, Catch::Contains(R"("a": "b")") && Catch::Contains(R"("spaced": "x y z")") &&
                         Catch::Contains(R"("greeting": "hello\nworld\n")") && Catch::Contains(R"("blob": "AAH+/29tZWQ=")") &&
                         Catch::Contains(R"("namespace": "pb")"));
  CHECK(get({"get", "configmap", "cfg"}, "{.binaryData.blob}") == "AAH+/29tZWQ=");

  // Secrets: generic (base64 data) and docker-registry (type and its one key).
  KUBECTL_OK(k.kubectl(in_ns({"create", "secret", "generic", "creds", "--from-literal=user=admin",
                              "--from-literal=pass=s3cr3t!", "--from-file=blob=" + bin_path})),
             "secret/creds created");
  auto sec = k.kubectl(in_ns({"get", "secret", "creds", "-o", "json"}));
  INFO(sec.describe());
  CHECK_THAT(sec.out, Catch::Contains(R"("user": "YWRtaW4=")") && Catch::Contains(R"("pass": "czNjcjN0IQ==")") &&
                          Catch::Contains(R"("blob": "AAH+/29tZWQ=")"));
  KUBECTL_OK(k.kubectl(in_ns({"create", "secret", "docker-registry", "reg", "--docker-server=registry.example.com",
                              "--docker-username=u", "--docker-password=p"})),
             "secret/reg created");
  CHECK(get({"get", "secret", "reg"}, "{.type}") == "kubernetes.io/dockerconfigjson");
  CHECK_THAT(get({"get", "secret", "reg"}, "{.data.\\.dockerconfigjson}"), Catch::StartsWith("eyJhdXRocyI6"));

  KUBECTL_OK(k.kubectl(in_ns({"create", "serviceaccount", "builder"})), "serviceaccount/builder created");
  CHECK(get({"get", "serviceaccount", "builder"}, "{.metadata.name}") == "builder");

  // Deployment: replicas 0 is a pointer field and must survive as 0, not default to 1.
  KUBECTL_OK(k.kubectl(in_ns({"create", "deployment", "web", "--image=nginx:1.27", "--replicas=0", "--port=80", "--",
                              "sleep", "3600"})),
             "deployment.apps/web created");
  auto dep = k.kubectl(in_ns({"get", "deployment", "web", "-o", "json"}));
  INFO(dep.describe());
  CHECK_THAT(dep.out, Catch::Contains(R"("replicas": 0)") && Catch::Contains(R"("image": "nginx:1.27")"));
  CHECK(get({"get", "deployment", "web"}, "{.metadata.labels.app}|{.spec.replicas}|{.spec.selector.matchLabels.app}|"
                                          "{.spec.template.metadata.labels.app}") == "web|0|web|web");
  CHECK(get({"get", "deployment", "web"}, "{.spec.template.spec.containers[0].name}|"
                                          "{.spec.template.spec.containers[0].command}|"
                                          "{.spec.template.spec.containers[0].ports[0].containerPort}") ==
        R"(nginx|["sleep","3600"]|80)");

  // Service: int target port, selector and label from the generator.
  KUBECTL_OK(k.kubectl(in_ns({"create", "service", "clusterip", "web", "--tcp=80:8080"})), "service/web created");
  CHECK(get({"get", "service", "web"}, "{.spec.type}|{.spec.selector.app}|{.spec.ports[0].port}|"
                                       "{.spec.ports[0].targetPort}|{.spec.ports[0].protocol}|{.metadata.labels.app}") ==
        "ClusterIP|web|80|8080|TCP|web");

  // CronJob (a schedule that will not fire during the test), and a Job made from it: the copy
  // carries an ownerReference and an annotation, so ObjectMeta is decoded beyond the name.
  KUBECTL_OK(k.kubectl(in_ns({"create", "cronjob", "nightly", "--image=busybox", "--schedule=0 3 1 1 *",
                              "--restart=OnFailure", "--", "echo", "hi"})),
             "cronjob.batch/nightly created");
  CHECK(get({"get", "cronjob", "nightly"}, "{.spec.schedule}|{.spec.jobTemplate.spec.template.spec.restartPolicy}|"
                                           "{.spec.jobTemplate.spec.template.spec.containers[0].command}") ==
        R"(0 3 1 1 *|OnFailure|["echo","hi"])");
  auto cj_uid = get({"get", "cronjob", "nightly"}, "{.metadata.uid}");
  KUBECTL_OK(k.kubectl(in_ns({"create", "job", "nightly-manual", "--from=cronjob/nightly"})),
             "job.batch/nightly-manual created");
  CHECK(get({"get", "job", "nightly-manual"}, "{.metadata.ownerReferences[0].kind}|{.metadata.ownerReferences[0].name}|"
                                              "{.metadata.ownerReferences[0].uid}|{.metadata.ownerReferences[0].controller}|"
                                              "{.metadata.annotations.cronjob\\.kubernetes\\.io/instantiate}") ==
        "CronJob|nightly|" + cj_uid + "|true|manual");

  // RBAC and a cluster-scoped kind.
  KUBECTL_OK(k.kubectl(in_ns({"create", "role", "reader", "--verb=get,list", "--resource=pods,deployments.apps"})),
             "role.rbac.authorization.k8s.io/reader created");
  CHECK(get({"get", "role", "reader"}, "{.rules[0].verbs}|{.rules[0].apiGroups}|{.rules[1].apiGroups}|{.rules[1].resources}") ==
        R"(["get","list"]|[""]|["apps"]|["deployments"])");
  KUBECTL_OK(k.kubectl(in_ns({"create", "rolebinding", "read", "--role=reader", "--serviceaccount=pb:builder", "--user=u"})),
             "rolebinding.rbac.authorization.k8s.io/read created");
  CHECK(get({"get", "rolebinding", "read"}, "{.roleRef.kind}/{.roleRef.name}|{.subjects[*].kind}|{.subjects[*].name}") ==
        "Role/reader|User ServiceAccount|u builder");
  KUBECTL_OK(k.kubectl({"create", "priorityclass", "low", "--value=0", "--description=best effort"}),
             "priorityclass.scheduling.k8s.io/low created");
  CHECK(k.jsonpath({"get", "priorityclass", "low"}, "{.value}|{.description}") == "0|best effort");

  // The same name twice is the usual AlreadyExists, decoded from protobuf like the first.
  auto again = k.kubectl(in_ns({"create", "configmap", "cfg", "--from-literal=a=c"}));
  CHECK(again.rc == 1);
  // The generator wraps the server's Status message in its own words (kubectl create configmap).
  CHECK(again.err == "error: failed to create configmap: configmaps \"cfg\" already exists\n");
  CHECK_THAT(k.server_log(), !Catch::Contains("level=error"));
}

// ------------------------------------------------------------------ python

TEST_CASE("the official Python client: custom objects, watch from a resourceVersion, ConfigMaps", "[python]") {
  // Debian's python3-kubernetes lives in /usr/bin/python3's dist-packages; a python3 first on
  // PATH (pyenv, venv) may not see it.
  std::string python;
  {
    TempDir probe;
    for (std::string cand : {"python3", "/usr/bin/python3"}) {
      auto r = run({cand, "-c", "import kubernetes"}, {}, probe.path(), 60000);
      if (r.rc == 0) {
        python = cand;
        break;
      }
    }
  }
  if (python.empty()) {
    WARN("*** SKIPPING the Python client test: no python3 can `import kubernetes` (Debian package python3-kubernetes) ***");
    return;
  }
  Cluster k;
  auto script = (source_root() / "tests/integration/python_client.py").string();
  auto r = run({python, script}, k.env(), k.dir(), 180000);
  INFO(r.describe());
  INFO("server log:\n" << k.server_log());
  if (r.rc == 77) {
    WARN("*** SKIPPING the Python client test: " << r.out << " ***");
    return;
  }
  CHECK(r.rc == 0);
  CHECK_THAT(r.out, Catch::Contains("all checks passed"));
}

// ------------------------------------------------------------------ simulated GPU cluster

#include <functional>

namespace {

// `omed apiserver --sim-nodes ...`: the Cluster above with a simulated cluster behind the API
// (nodes, scheduler, kubelets, workload controllers), on fast clocks.
class SimCluster {
public:
  explicit SimCluster(const std::string& nodes) {
    kubeconfig_ = dir_.path() / "data" / "kubeconfig";
    cache_ = dir_.path() / "kube-cache";
    server_ = std::make_unique<Process>(
        std::vector<std::string>{omed_bin(), "apiserver", "--port", "0", "--data-dir", (dir_.path() / "data").string(),
                                 "--crds", (source_root() / "deploy" / "crds").string(), "--http-addr", "127.0.0.1:0",
                                 "--port-file", (dir_.path() / "http-port").string(), "--sim-nodes", nodes,
                                 "--sim-start-delay", "200ms", "--sim-ready-delay", "200ms", "--sim-job-duration", "500ms"},
        dir_.path() / "server.log");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (fs::exists(kubeconfig_) && contains(server_->output(), "omed started"))
        break;
      if (server_->wait(0))
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    INFO(server_->output());
    REQUIRE(fs::exists(kubeconfig_));
    REQUIRE(contains(server_->output(), "omed started"));
  }
  ~SimCluster() {
    server_->signal(SIGTERM);
    server_->wait(10000);
  }

  const fs::path& dir() const { return dir_.path(); }
  std::string server_log() const { return server_->output(); }
  std::vector<std::string> argv(const std::vector<std::string>& args) const {
    std::vector<std::string> a{"kubectl", "--cache-dir=" + cache_.string()};
    a.insert(a.end(), args.begin(), args.end());
    return a;
  }
  Env env() const { return {{"KUBECONFIG", kubeconfig_.string()}}; }
  Run kubectl(const std::vector<std::string>& args, int timeout_ms = 60000) const {
    return run(argv(args), env(), dir_.path(), timeout_ms);
  }
  std::unique_ptr<Child> kubectl_bg(const std::vector<std::string>& args, const std::string& tag) const {
    return std::make_unique<Child>(argv(args), env(), dir_.path() / (tag + ".out"), dir_.path() / (tag + ".err"));
  }
  std::string write(const std::string& name, const std::string& content) const {
    auto p = dir_.path() / "manifests" / name;
    write_file(p, content);
    return p.string();
  }

private:
  TempDir dir_;
  fs::path kubeconfig_, cache_;
  std::unique_ptr<Process> server_;
};

// Runs `cmd` every `step_ms` until `ok(result)`, for at most `ms`; requires the match and shows
// the last kubectl run when there is none. Returns the matching run.
Run eventually(const std::string& what, const std::function<Run()>& cmd, const std::function<bool(const Run&)>& ok,
               int ms = 30000, int step_ms = 200) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  Run r;
  while (true) {
    r = cmd();
    if (ok(r))
      return r;
    if (std::chrono::steady_clock::now() >= deadline)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(step_ms));
  }
  INFO("not within " << ms << " ms: " << what << "\nlast attempt:\n" << r.describe());
  FAIL("eventually: " << what);
  return r;
}

// One line per pod: name|deletionTimestamp|phase|image|ready.
const char* kPodLines = "{range .items[*]}{.metadata.name}|{.metadata.deletionTimestamp}|{.status.phase}|"
                        "{.spec.containers[0].image}|{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}";

struct PodLine {
  std::string name, deleting, phase, image, ready;
  bool terminating() const { return !deleting.empty() || phase == "Succeeded" || phase == "Failed"; }
};

std::vector<PodLine> pod_lines(const std::string& out) {
  std::vector<PodLine> pods;
  for (auto& l : lines_of(out)) {
    if (l.empty())
      continue;
    std::vector<std::string> f;
    std::stringstream ss(l);
    for (std::string c; std::getline(ss, c, '|');)
      f.push_back(c);
    f.resize(5);
    pods.push_back({f[0], f[1], f[2], f[3], f[4]});
  }
  return pods;
}

size_t live_pods(const std::string& out) {
  size_t n = 0;
  for (auto& p : pod_lines(out))
    n += p.terminating() ? 0 : 1;
  return n;
}

const char* kGpuDeployment = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: trainer
  labels: {app: trainer}
spec:
  replicas: 3
  selector:
    matchLabels: {app: trainer}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: trainer}
    spec:
      containers:
      - name: main
        image: registry.example.com/trainer:v1
        resources:
          requests: {nvidia.com/gpu: 1}
          limits: {nvidia.com/gpu: 1}
)";

const char* kGreedyPod = R"(apiVersion: v1
kind: Pod
metadata:
  name: greedy
spec:
  containers:
  - name: main
    image: busybox
    resources:
      requests: {nvidia.com/gpu: 9}
      limits: {nvidia.com/gpu: 9}
)";

}  // namespace

TEST_CASE("kubectl against the simulated GPU cluster: nodes, Deployment rollout within maxSurge, scale, GC, "
          "Job, FailedScheduling", "[kubectl]") {
  REQUIRE_KUBECTL();
  SimCluster k("4x8xH100");
  const std::string app = "trainer";
  const std::string v1 = "registry.example.com/trainer:v1", v2 = "registry.example.com/trainer:v2";
  auto get_pods = [&] { return k.kubectl({"get", "pods", "-l", "app=" + app, "-o", std::string("jsonpath=") + kPodLines}); };
  auto get_rs = [&] {
    return k.kubectl({"get", "rs", "-l", "app=" + app, "-o",
                      "jsonpath={range .items[*]}{.spec.template.spec.containers[0].image}={.spec.replicas}/"
                      "{.status.replicas}{\"\\n\"}{end}"});
  };
  auto none_left = [](const Run& r) { return r.rc == 0 && r.out.empty(); };

  // 1. Four Ready H100 nodes with their GPU labels and capacity.
  eventually("4 Ready nodes labelled NVIDIA-H100-80GB-HBM3 x 8",
             [&] { return k.kubectl({"get", "nodes", "-L", "nvidia.com/gpu.product,nvidia.com/gpu.count"}); },
             [](const Run& r) {
               auto rows = table_rows(r.out);
               if (r.rc != 0 || rows.size() != 4)
                 return false;
               for (auto& row : rows)
                 if (!contains(row["NAME"], "sim-h100-") || row["STATUS"] != "Ready" ||
                     row["GPU.PRODUCT"] != "NVIDIA-H100-80GB-HBM3" || row["GPU.COUNT"] != "8")
                   return false;
               return true;
             });
  {
    auto gpus = k.kubectl({"get", "node", "sim-h100-0", "-o", "jsonpath={.status.allocatable.nvidia\\.com/gpu}"});
    INFO(gpus.describe());
    CHECK(gpus.rc == 0);
    CHECK(gpus.out == "8");
  }

  // 2. A Deployment of 3 one-GPU pods rolls out.
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("deploy.yaml", kGpuDeployment)}), "deployment.apps/trainer created");
  KUBECTL_OK(k.kubectl({"rollout", "status", "deployment/" + app, "--timeout=60s"}, 90000), "successfully rolled out");
  {
    auto avail = k.kubectl({"get", "deploy", app, "-o", "jsonpath={.status.availableReplicas}"});
    INFO(avail.describe());
    CHECK(avail.out == "3");
  }

  // 3. A new image rolls out without ever running more than replicas + maxSurge pods.
  KUBECTL_OK(k.kubectl({"set", "image", "deployment/" + app, "main=" + v2}), "deployment.apps/trainer image updated");
  auto status = k.kubectl_bg({"rollout", "status", "deployment/" + app, "--timeout=60s"}, "rollout");
  size_t max_live = 0, samples = 0;
  std::string at_max;
  auto poll_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  for (int after = 0; after < 3 && std::chrono::steady_clock::now() < poll_deadline;) {
    if (!status->running())
      ++after;  // a few more samples once rollout status has returned
    auto r = get_pods();
    if (r.rc == 0) {
      ++samples;
      auto n = live_pods(r.out);
      if (n > max_live) {
        max_live = n;
        at_max = r.out;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  REQUIRE(status->wait(60000));
  {
    INFO("rollout status:\n" << status->out() << status->err());
    CHECK(status->exit_code() == 0);
    CHECK_THAT(status->out(), Catch::Contains("successfully rolled out"));
    INFO("pods (name|deletionTimestamp|phase|image|Ready) when " << max_live << " were live, the most in " << samples
                                                                 << " samples:\n" << at_max);
    CHECK(samples >= 3);
    CHECK(max_live >= 3);
    CHECK(max_live <= 4);
  }
  eventually("exactly 3 pods, all on the new image", get_pods, [&](const Run& r) {
    auto pods = pod_lines(r.out);
    if (r.rc != 0 || pods.size() != 3)
      return false;
    for (auto& p : pods)
      if (p.terminating() || p.image != v2)
        return false;
    return true;
  });
  eventually("two ReplicaSets, the old one scaled to 0", get_rs, [&](const Run& r) {
    auto ls = lines_of(r.out);
    return r.rc == 0 && std::set<std::string>(ls.begin(), ls.end()) == std::set<std::string>{v1 + "=0/0", v2 + "=3/3"};
  });

  // 4. Scale to zero: every pod goes.
  KUBECTL_OK(k.kubectl({"scale", "deployment/" + app, "--replicas=0"}), "deployment.apps/trainer scaled");
  eventually("no pods left after scaling to 0", get_pods, none_left);

  // 5. Back to 2, then delete: the ReplicaSets and pods are garbage-collected.
  KUBECTL_OK(k.kubectl({"scale", "deployment/" + app, "--replicas=2"}), "deployment.apps/trainer scaled");
  eventually("2 Ready pods", get_pods, [](const Run& r) {
    size_t ready = 0;
    for (auto& p : pod_lines(r.out))
      ready += !p.terminating() && p.phase == "Running" && p.ready == "True" ? 1 : 0;
    return r.rc == 0 && ready == 2;
  });
  eventually("the Deployment reports 2 ready replicas",
             [&] { return k.kubectl({"get", "deploy", app, "-o", "jsonpath={.status.readyReplicas}"}); },
             [](const Run& r) { return r.rc == 0 && r.out == "2"; });
  KUBECTL_OK(k.kubectl({"delete", "deployment", app}), "deployment.apps \"trainer\" deleted");
  eventually("no pods left after deleting the Deployment", get_pods, none_left);
  eventually("no ReplicaSets left after deleting the Deployment", get_rs, none_left);

  // 6. A Job runs to completion.
  KUBECTL_OK(k.kubectl({"create", "job", "hello", "--image=busybox", "--", "true"}), "job.batch/hello created");
  KUBECTL_OK(k.kubectl({"wait", "--for=condition=complete", "job/hello", "--timeout=60s"}, 90000),
             "job.batch/hello condition met");

  // 7. Nine GPUs fit on no node: the pod stays Pending with the scheduler's reason.
  KUBECTL_OK(k.kubectl({"apply", "-f", k.write("greedy.yaml", kGreedyPod)}), "pod/greedy created");
  eventually("a FailedScheduling event for the 9-GPU pod",
             [&] {
               return k.kubectl({"get", "events", "--field-selector", "involvedObject.name=greedy,reason=FailedScheduling",
                                 "-o", "json"});
             },
             [](const Run& r) {
               return r.rc == 0 && contains(r.out, "0/4 nodes are available") && contains(r.out, "Insufficient nvidia.com/gpu");
             });
  {
    auto pending = k.kubectl({"get", "pod", "greedy", "-o", "jsonpath={.status.phase}|{.spec.nodeName}"});
    INFO(pending.describe());
    CHECK(pending.out == "Pending|");
  }

  INFO("server log:\n" << k.server_log());
  CHECK_THAT(k.server_log(), !Catch::Contains("level=error"));
}
