// pvc:// models end to end in `omed standalone`: the real kubectl applies a claim and BaseModels
// on it; the controller's parse Job runs `omed parse-model` for real on the claim's directory.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "../support/kubectl_runner.hpp"
#include "../support/process.hpp"
#include "../support/standalone_cluster.hpp"
#include "../support/test_env.hpp"
#include "omed/common/json.hpp"

using namespace omed;
using namespace omed::testing;
namespace fs = std::filesystem;

namespace {

// One L4 node: enough for parse Jobs (they need no GPU).
class Standalone : public StandaloneCluster {
public:
  Standalone() : StandaloneCluster("1x1xL4") {}
};

std::string text(const json::Value& v, const char* path) {
  const json::Value* p = v.at_path(path);
  return p && p->is_string() ? p->as_string() : std::string();
}

std::string ready_message(const json::Value& obj) {
  if (auto* cs = obj.at_path("status.conditions"); cs && cs->is_array())
    for (auto& c : cs->as_array())
      if (c.string_or("type") == "Ready")
        return c.string_or("message");
  return "";
}

std::string base_model(const std::string& name, const std::string& uri) {
  return "apiVersion: ome.io/v1beta1\nkind: BaseModel\nmetadata:\n  name: " + name +
         "\n  namespace: default\nspec:\n  modelFormat:\n    name: safetensors\n  storage:\n    storageUri: " + uri + "\n";
}

void copy_model(const fs::path& to) {
  fs::create_directories(to);
  for (auto& e : fs::directory_iterator(shared_dir() / "testdata" / "tiny-random-phi"))
    if (e.is_regular_file())
      fs::copy_file(e.path(), to / e.path().filename(), fs::copy_options::overwrite_existing);
}

}  // namespace

TEST_CASE("a BaseModel on a PersistentVolumeClaim is parsed by a Job and ends Ready with its facts",
          "[models-pvc]") {
  if (!have_shared("testdata/tiny-random-phi") || !kubectl_usable())
    return;
  Standalone s;
  s.apply("pvc", "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: models\n  namespace: default\n"
                 "spec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n");
  copy_model(s.claim_dir("default", "models") / "tiny-phi");

  s.apply("phi", base_model("phi", "pvc://models/tiny-phi"));
  auto obj = s.await({"basemodel", "phi"}, [](const json::Value& v) {
    return text(v, "status.state") == "Ready" && !text(v, "spec.modelArchitecture").empty();
  });
  INFO(json::pretty(obj) << "\n" << s.log());
  REQUIRE(text(obj, "status.state") == "Ready");
  CHECK(text(obj, "spec.modelType") == "phi");
  CHECK(text(obj, "spec.modelArchitecture") == "PhiModel");
  CHECK(text(obj, "spec.modelFormat.name") == "safetensors");
  CHECK(text(obj, "spec.modelParameterSize") == "46.28K");
  REQUIRE(obj.at_path("spec.maxTokens"));
  CHECK(obj.at_path("spec.maxTokens")->as_int() == 512);
  // Counted from the real shards' headers, by the parse container.
  CHECK_THAT(ready_message(obj), Catch::Contains("46282 parameters"));

  // The Job and its pod, as a real cluster would show them: the report is the termination message.
  auto pods = s.get_json({"pods", "-n", "default", "-l", "omed.io/role=parse-model"});
  REQUIRE(pods.at_path("items"));
  REQUIRE(pods.at_path("items")->as_array().size() == 1);
  auto& pod = pods.at_path("items")->as_array()[0];
  CHECK(text(pod, "status.phase") == "Succeeded");
  auto& term = *pod.at_path("status.containerStatuses")->as_array()[0].at_path("state.terminated");
  CHECK(term.int_at("exitCode") == 0);
  CHECK(term.string_or("reason") == "Completed");
  auto report = json::parse(term.string_or("message"));
  CHECK(report.int_at("parameterCount") == 46282);
  CHECK(report.at_path("artifact.path")->as_string() == "/mnt/model/tiny-phi");  // the mount, not the host
  auto jobs = s.get_json({"jobs", "-n", "default"});
  REQUIRE(jobs.at_path("items")->as_array().size() == 1);
  auto& job = jobs.at_path("items")->as_array()[0];
  CHECK(job.at_path("metadata.ownerReferences")->as_array()[0].string_or("kind") == "BaseModel");
  auto pvc = s.get_json({"pvc", "models", "-n", "default"});
  CHECK(text(pvc, "status.phase") == "Bound");
  auto events = s.kubectl({"get", "events", "-n", "default", "--field-selector", "involvedObject.name=phi"});
  CHECK_THAT(events.out, Catch::Contains("ParseJobCreated") && Catch::Contains("ModelParsed"));

  // A changed storage is parsed again by a new Job.
  copy_model(s.claim_dir("default", "models") / "phi-copy");
  s.apply("phi2", base_model("phi", "pvc://models/phi-copy"));
  obj = s.await({"basemodel", "phi"}, [](const json::Value& v) {
    return text(v, "status.state") == "Ready" && ready_message(v).find("pvc://models/phi-copy") != std::string::npos;
  });
  INFO(json::pretty(obj));
  CHECK_THAT(ready_message(obj), Catch::Contains("pvc://models/phi-copy"));
  jobs = s.get_json({"jobs", "-n", "default"});
  CHECK(jobs.at_path("items")->as_array().size() == 2);

  // Deleting the model takes its Jobs with it (owner references); the claim's files stay.
  auto del = s.kubectl({"delete", "basemodel", "phi", "-n", "default", "--timeout=60s"}, 90000);
  INFO(del.describe() << "\n" << s.log());
  CHECK(del.rc == 0);
  jobs = s.await({"jobs", "-n", "default"}, [](const json::Value& v) {
    return v.at_path("items") && v.at_path("items")->as_array().empty();
  }, 30000);
  CHECK(jobs.at_path("items")->as_array().empty());
  CHECK(fs::exists(s.claim_dir("default", "models") / "tiny-phi" / "config.json"));
}

TEST_CASE("a pvc:// model whose directory is missing fails with the container's words and an event",
          "[models-pvc]") {
  if (!kubectl_usable())
    return;
  Standalone s;
  s.apply("pvc", "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: models\n  namespace: default\n"
                 "spec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 1Gi\n");
  s.apply("nope", base_model("nope", "pvc://models/not-there"));
  auto obj = s.await({"basemodel", "nope"}, [](const json::Value& v) { return text(v, "status.state") == "Failed"; });
  INFO(json::pretty(obj) << "\n" << s.log());
  REQUIRE(text(obj, "status.state") == "Failed");
  CHECK_THAT(ready_message(obj), Catch::Contains("/mnt/model/not-there does not exist"));
  auto events = s.kubectl({"get", "events", "-n", "default", "--field-selector", "reason=ParseFailed"});
  CHECK_THAT(events.out, Catch::Contains("nope") && Catch::Contains("does not exist"));

  // A ClusterBaseModel must say which namespace the claim is in.
  s.apply("cbm", "apiVersion: ome.io/v1beta1\nkind: ClusterBaseModel\nmetadata:\n  name: shared\nspec:\n"
                 "  modelFormat:\n    name: safetensors\n  storage:\n    storageUri: pvc://models/x\n");
  obj = s.await({"clusterbasemodel", "shared"}, [](const json::Value& v) { return text(v, "status.state") == "Failed"; });
  INFO(json::pretty(obj));
  CHECK_THAT(ready_message(obj), Catch::Contains("pvc://NAMESPACE:models/x"));
  // Nothing was run for it.
  auto jobs = s.get_json({"jobs", "-A"});
  for (auto& j : jobs.at_path("items")->as_array())
    CHECK(text(j, "metadata.name").rfind("parse-shared-", 0) != 0);
}
