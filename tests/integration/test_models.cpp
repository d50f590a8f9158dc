// Models end to end in `omed standalone`: the real kubectl applies a ClusterBaseModel that points at
// a loopback Hugging Face Hub; agents on the simulated nodes fetch, verify and parse it; the
// controller rolls the reports up. Also the failures a user meets (missing repo, gated repo).
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "../support/file_server.hpp"
#include "../support/hub_fixture.hpp"
#include "../support/kubectl_runner.hpp"
#include "../support/process.hpp"
#include "../support/standalone_cluster.hpp"
#include "../support/test_env.hpp"
#include "omed/common/json.hpp"

using namespace omed;
using namespace omed::testing;
namespace fs = std::filesystem;

namespace {

// `omed standalone` with two simulated nodes (one H100, one L4) and its Hub pointed at `hub`.
class Standalone : public StandaloneCluster {
public:
  explicit Standalone(const std::string& hf_endpoint)
    : StandaloneCluster("1x8xH100,1x1xL4", {"--hf-endpoint", hf_endpoint}) {}
};

std::string text(const json::Value& v, const char* path) {
  const json::Value* p = v.at_path(path);
  return p && p->is_string() ? p->as_string() : std::string();
}

std::string cbm(const std::string& name, const std::string& uri, const std::string& extra_storage = "") {
  return "apiVersion: ome.io/v1beta1\nkind: ClusterBaseModel\nmetadata:\n  name: " + name +
         "\nspec:\n  modelFormat:\n    name: safetensors\n  storage:\n    storageUri: " + uri + "\n" + extra_storage;
}

const char* kTinyPhiNode = "sim-h100-0";

}  // namespace

TEST_CASE("a ClusterBaseModel from the Hub ends Ready with its facts, per-node reports, and is cleaned up",
          "[models-e2e]") {
  if (!have_shared("testdata/tiny-random-phi") || !kubectl_usable())
    return;
  HubFixture hub;
  std::string sha = hub.add_repo_from_dir("omed-test/tiny-random-phi", shared_dir() / "testdata" / "tiny-random-phi");
  Standalone s(hub.endpoint());

  // Only the H100 node is targeted: the L4 node must not fetch anything.
  s.apply("tiny", cbm("tiny-phi", "hf://omed-test/tiny-random-phi",
                      "    nodeSelector:\n      nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3\n"));
  auto obj = s.await({"clusterbasemodel", "tiny-phi"}, [](const json::Value& v) { return text(v, "status.state") == "Ready"; });
  INFO(json::pretty(obj) << "\n" << s.last_error() << "\n" << s.log());
  REQUIRE(text(obj, "status.state") == "Ready");
  auto nodes_ready = obj.at_path("status.nodesReady");
  REQUIRE(nodes_ready);
  CHECK(json::dump(*nodes_ready) == R"(["sim-h100-0"])");

  // Facts filled into the spec the user left empty; the user's modelFormat.name stays.
  obj = s.await({"clusterbasemodel", "tiny-phi"}, [](const json::Value& v) { return !text(v, "spec.modelArchitecture").empty(); });
  CHECK(text(obj, "spec.modelType") == "phi");
  CHECK(text(obj, "spec.modelArchitecture") == "PhiModel");
  CHECK(text(obj, "spec.modelFormat.name") == "safetensors");
  REQUIRE(obj.at_path("spec.maxTokens"));
  CHECK(obj.at_path("spec.maxTokens")->as_int() == 512);
  CHECK_FALSE(text(obj, "spec.modelParameterSize").empty());

  // The node label and the ConfigMap entry, in OME's shapes.
  auto node = s.get_json({"node", kTinyPhiNode});
  const json::Value* labels = node.at_path("metadata.labels");
  REQUIRE(labels);
  REQUIRE(labels->get("models.ome.io/clusterbasemodel.tiny-phi"));
  CHECK(labels->get("models.ome.io/clusterbasemodel.tiny-phi")->as_string() == "Ready");
  auto l4 = s.get_json({"node", "sim-l4-0"});
  CHECK_FALSE(l4.at_path("metadata.labels")->get("models.ome.io/clusterbasemodel.tiny-phi"));
  auto cm = s.get_json({"configmap", "-n", "ome", kTinyPhiNode});
  const json::Value* entry_text = cm.at_path("data") ? cm.at_path("data")->get("clusterbasemodel.tiny-phi") : nullptr;
  REQUIRE(entry_text);
  auto entry = json::parse(entry_text->as_string());
  CHECK(entry.string_or("status") == "Ready");
  CHECK(entry.at_path("config.modelArchitecture")->as_string() == "PhiModel");
  CHECK(entry.at_path("config.parameterCountExact")->as_bool());
  // Counted from the real shards' headers (each tensor once; the two shards repeat the set).
  CHECK(entry.at_path("config.parameterCount")->as_int() == 46282);
  CHECK(entry.at_path("config.artifact.sha")->as_string() == sha);
  CHECK(text(cm, "metadata.labels.node") == kTinyPhiNode);

  // The files are on the node, verified; nothing went to the L4 node.
  fs::path dir = s.models_root() / kTinyPhiNode / "hf" / "omed-test" / "tiny-random-phi" / "main";
  CHECK(fs::file_size(dir / "model-1-of-2.safetensors") == 188008);
  CHECK(read_file(dir / "config.json") == read_file(shared_dir() / "testdata" / "tiny-random-phi" / "config.json"));
  CHECK_FALSE(fs::exists(s.models_root() / "sim-l4-0" / "hf"));

  // Deleting: the agent removes files, label and entry; then the finalizer goes and so does the object.
  auto del = s.kubectl({"delete", "clusterbasemodel", "tiny-phi", "--timeout=60s"}, 90000);
  INFO(del.describe());
  CHECK(del.rc == 0);
  auto gone = s.await({"clusterbasemodel", "tiny-phi"}, [](const json::Value& v) { return v.is_null(); }, 30000);
  CHECK(gone.is_null());
  node = s.get_json({"node", kTinyPhiNode});
  CHECK_FALSE(node.at_path("metadata.labels")->get("models.ome.io/clusterbasemodel.tiny-phi"));
  cm = s.get_json({"configmap", "-n", "ome", kTinyPhiNode});
  bool entry_left = cm.at_path("data") && cm.at_path("data")->get("clusterbasemodel.tiny-phi");
  CHECK_FALSE(entry_left);
  CHECK_FALSE(fs::exists(dir));
}

TEST_CASE("a missing or gated Hub repo fails with a message that says what to do", "[models-e2e]") {
  if (!have_shared("testdata/tiny-random-phi") || !kubectl_usable())
    return;
  HubFixture hub;
  hub.add_repo_from_dir("omed-test/gated", shared_dir() / "testdata" / "tiny-random-phi");
  hub.set_gated("omed-test/gated", {"hf_secret_token_123"});
  Standalone s(hub.endpoint());

  s.apply("missing", cbm("missing", "hf://omed-test/does-not-exist"));
  auto obj = s.await({"clusterbasemodel", "missing"}, [](const json::Value& v) { return text(v, "status.state") == "Failed"; });
  INFO(json::pretty(obj) << "\n" << s.log());
  REQUIRE(text(obj, "status.state") == "Failed");
  std::string msg;
  for (auto& c : obj.at_path("status.conditions")->as_array())
    if (c.string_or("type") == "Ready")
      msg = c.string_or("message");
  CHECK_THAT(msg, Catch::Contains("omed-test/does-not-exist"));
  CHECK(obj.at_path("status.nodesFailed")->as_array().size() == 2);
  auto events = s.kubectl({"get", "events", "-A", "--field-selector", "reason=DownloadFailed"});
  CHECK_THAT(events.out, Catch::Contains("missing"));

  // Gated: a token in the Secret named by storage.key opens it; the token never shows.
  s.apply("gated", cbm("gated", "hf://omed-test/gated"));
  obj = s.await({"clusterbasemodel", "gated"}, [](const json::Value& v) { return text(v, "status.state") == "Failed"; });
  REQUIRE(text(obj, "status.state") == "Failed");
  CHECK_THAT(json::dump(obj), Catch::Contains("gated") || Catch::Contains("Gated"));
  s.apply("secret", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: hf-token\n  namespace: ome\nstringData:\n"
                    "  token: hf_secret_token_123\n");
  s.apply("gated2", cbm("gated", "hf://omed-test/gated", "    key: hf-token\n"));
  obj = s.await({"clusterbasemodel", "gated"}, [](const json::Value& v) { return text(v, "status.state") == "Ready"; });
  INFO(json::pretty(obj));
  CHECK(text(obj, "status.state") == "Ready");
  CHECK_THAT(s.log(), !Catch::Contains("hf_secret_token_123"));
  CHECK_THAT(json::dump(obj), !Catch::Contains("hf_secret_token_123"));
}

TEST_CASE("omed inspect-model prints the facts of a directory, a lone config and a remote repo", "[inspect-model]") {
  if (!have_shared("testdata/tiny-random-phi") || !have_shared("testdata/hf-configs"))
    return;
  TempDir dir;
  auto facts = [&](std::vector<std::string> args, Env env = {}) {
    args.insert(args.begin(), {omed_bin(), "inspect-model"});
    auto r = run(args, env, dir.path());
    INFO(r.describe());
    REQUIRE(r.rc == 0);
    return json::parse(r.out);
  };
  auto local = facts({(shared_dir() / "testdata" / "tiny-random-phi").string()});
  CHECK(local.string_or("modelType") == "phi");
  CHECK(local.int_at("parameterCount") == 46282);
  CHECK(local.at_path("parameterCountExact")->as_bool());
  CHECK(local.string_or("format") == "safetensors");
  CHECK(local.int_at("contextLength") == 512);

  auto config = facts({(shared_dir() / "testdata" / "hf-configs" / "qwen2.5_7b.json").string()});
  CHECK(config.int_at("parameterCount") == 7615616512LL);
  CHECK(config.string_or("parameterCountSource") == "formula");
  CHECK(config.at_path("parameterCountExact")->as_bool());

  auto bad = run({omed_bin(), "inspect-model", (dir.path() / "nope").string()}, {}, dir.path());
  CHECK(bad.rc == 1);
  CHECK_THAT(bad.err, Catch::Contains("does not exist"));

  // Remote: the config by a GET, the shards' headers by Range requests; no weight is downloaded.
  HubFixture hub;
  hub.add_repo_from_dir("omed-test/tiny-random-phi", shared_dir() / "testdata" / "tiny-random-phi");
  auto remote = facts({"hf://omed-test/tiny-random-phi", "--hf-endpoint", hub.endpoint(), "-o", "json"});
  CHECK(remote.int_at("parameterCount") == 46282);
  CHECK(remote.string_or("architecture") == "PhiModel");
  // Per shard: the 8-byte length, then exactly the header; not one byte of the tensors after it.
  std::string shard = read_file(shared_dir() / "testdata" / "tiny-random-phi" / "model-1-of-2.safetensors");
  uint64_t header_end = 8;
  for (int b = 7; b >= 0; --b)
    header_end += static_cast<uint64_t>(static_cast<unsigned char>(shard[static_cast<size_t>(b)])) << (8 * b);
  size_t ranged = 0, whole = 0;
  for (auto& r : hub.requests()) {
    if (r.server != "cdn")  // only LFS files (the shards) are served by the CDN
      continue;
    (r.header("Range") ? ranged : whole)++;
    if (auto* range = r.header("Range")) {
      auto dash = range->find('-');
      REQUIRE(dash != std::string::npos);
      CHECK(std::stoull(range->substr(dash + 1)) < header_end);
    }
  }
  CHECK(ranged == 4);
  CHECK(whole == 0);
  auto table = run({omed_bin(), "inspect-model", (shared_dir() / "testdata" / "tiny-random-phi").string(), "-o", "table"},
                   {}, dir.path());
  CHECK_THAT(table.out, Catch::Contains("PARAMETERS         46282"));
}

TEST_CASE("omed killed with SIGKILL in the middle of a multi-GiB model resumes it after the restart",
          "[models-e2e]") {
  if (!kubectl_usable())
    return;
  // A plain HTTP source (reference §2.3 http(s)://) on the transfer tests' server, which streams
  // generated content and counts the bytes it really sent.
  constexpr uint64_t size = 2ull << 30;
  FileServer srv;
  srv.add_file("/weights/llm.bin", size, 2027);
  Standalone s("http://127.0.0.1:1");  // no Hub needed
  // The bytes are no model: OME's opt-out annotation makes the agent keep them unparsed.
  s.apply("big", "apiVersion: ome.io/v1beta1\nkind: ClusterBaseModel\nmetadata:\n  name: big\n  annotations:\n"
                 "    ome.oracle.com/skip-config-parsing: \"true\"\nspec:\n  modelFormat:\n    name: safetensors\n"
                 "  storage:\n    storageUri: " + srv.url("/weights/llm.bin") + "\n    nodeSelector:\n"
                 "      nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3\n");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (srv.bytes_served() < size / 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  REQUIRE(srv.bytes_served() >= size / 2);
  s.kill_and_restart();
  const uint64_t before = srv.bytes_served();

  auto obj = s.await({"clusterbasemodel", "big"}, [](const json::Value& v) { return text(v, "status.state") == "Ready"; },
                     180000);
  INFO(json::pretty(obj) << "\n" << s.last_error() << "\n" << s.log());
  REQUIRE(text(obj, "status.state") == "Ready");
  const uint64_t served = srv.bytes_served();
  WARN("killed after " << before / (1 << 20) << " MiB served; " << served / (1 << 20) << " MiB in total for "
                       << size / (1 << 20) << " MiB");
  // What was fetched twice: at most 5% of the file.
  CHECK(static_cast<double>(served) <= 1.05 * static_cast<double>(size));
  // The model's directory is named after the URL; the file keeps its own name inside it.
  fs::path dir = s.models_root() / kTinyPhiNode / "http" / ("127.0.0.1_" + std::to_string(srv.port())) / "weights" /
                 "llm.bin";
  REQUIRE(fs::exists(dir / "llm.bin"));
  CHECK(fs::file_size(dir / "llm.bin") == size);
  CHECK(sha256_of_file((dir / "llm.bin").string()) == content_sha256(2027, size));
  CHECK_FALSE(fs::exists(dir / ".omed-partial"));
}
