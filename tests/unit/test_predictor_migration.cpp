// OME's deprecated predictor layout: read as model/runtime/engine the way OME's migration
// rewrites it, then rendered like any engine.
#include <catch2/catch.hpp>

#include "omed/common/yaml.hpp"
#include "omed/render/inference_service.hpp"
#include "omed/render/predictor_migration.hpp"

using namespace omed;

namespace {

// A predictor-style InferenceService as OME's older samples wrote them.
const char* kPredictor = R"(apiVersion: ome.io/v1beta1
kind: InferenceService
metadata: {name: llama-old, namespace: default, uid: u-1}
spec:
  predictor:
    minReplicas: 2
    maxReplicas: 2
    nodeSelector: {pool: gpu}
    model:
      baseModel: llama-3-1-8b-instruct
      runtime: srt-llama-3-1-8b-instruct
      protocolVersion: openAI
      storageUri: hf://meta-llama/Llama-3.1-8B-Instruct
      env: [{name: EXTRA, value: "1"}]
    containers:
      - name: sidecar
        image: busybox
      - name: ome-container
        image: docker.io/lmsysorg/sglang:v0.5.5.post3-cu129-amd64
        args: [--log-requests]
)";

const char* kRuntime = R"(apiVersion: ome.io/v1beta1
kind: ClusterServingRuntime
metadata: {name: srt-llama-3-1-8b-instruct}
spec:
  supportedModelFormats: [{modelFormat: {name: safetensors}, autoSelect: true}]
  engineConfig:
    runner:
      name: ome-container
      image: docker.io/lmsysorg/sglang:v0.5.0
      ports: [{containerPort: 8080}]
      command: [python3, -m, sglang.launch_server, --model-path, $(MODEL_PATH)]
      resources: {limits: {nvidia.com/gpu: "1"}}
)";

const char* kModel = R"(apiVersion: ome.io/v1beta1
kind: ClusterBaseModel
metadata: {name: llama-3-1-8b-instruct}
spec:
  storage: {storageUri: "hf://meta-llama/Llama-3.1-8B-Instruct", path: /raid/models/llama-3-1-8b}
)";

std::string env_value(const json::Value& container, const std::string& name) {
  if (auto* env = container.get("env"); env && env->is_array())
    for (auto& e : env->as_array())
      if (e.string_or("name") == name)
        return e.string_or("value");
  return "<absent>";
}

}  // namespace

TEST_CASE("a predictor InferenceService is read as model, runtime and engine", "[predictor]") {
  auto isvc = yaml::parse_one(kPredictor);
  REQUIRE(render::uses_predictor(isvc));
  auto m = render::migrate_predictor(isvc);
  CHECK_FALSE(m.at_path("spec.predictor"));
  CHECK(m.at_path("spec.model.name")->as_string() == "llama-3-1-8b-instruct");
  CHECK(m.at_path("spec.runtime.name")->as_string() == "srt-llama-3-1-8b-instruct");
  CHECK(m.at_path("spec.engine.minReplicas")->as_int() == 2);
  CHECK(m.at_path("spec.engine.nodeSelector.pool")->as_string() == "gpu");
  // The ome-container becomes the runner (not the first container); the sidecar stays beside it.
  const json::Value& runner = *m.at_path("spec.engine.runner");
  CHECK(runner.string_or("name") == "ome-container");
  CHECK(env_value(runner, "EXTRA") == "1");
  CHECK(env_value(runner, "STORAGE_URI") == "hf://meta-llama/Llama-3.1-8B-Instruct");
  CHECK(env_value(runner, "PROTOCOL_VERSION") == "openAI");
  REQUIRE(m.at_path("spec.engine.containers")->as_array().size() == 1);
  CHECK(m.at_path("spec.engine.containers")->as_array()[0].string_or("name") == "sidecar");

  // The migrated reading renders like any engine: the InferenceService's runner wins over the runtime's.
  auto rt = yaml::parse_one(kRuntime);
  auto model = yaml::parse_one(kModel);
  render::RenderSettings settings;
  auto r = render::render_inference_service(render::RenderInput{m, model, rt, 0, {}, {}, settings});
  INFO((r.errors.empty() ? "" : r.errors[0]));
  REQUIRE(r.ok());
  const json::Value* dep = nullptr;
  for (auto& o : r.objects)
    if (o.string_or("kind") == "Deployment")
      dep = &o;
  REQUIRE(dep);
  CHECK(dep->at_path("spec.replicas")->as_int() == 2);
  auto& containers = dep->at_path("spec.template.spec.containers")->as_array();
  REQUIRE(containers.size() == 2);
  const json::Value* main = nullptr;
  for (auto& c : containers)
    if (c.string_or("name") == "ome-container")
      main = &c;
  REQUIRE(main);
  CHECK(main->string_or("image") == "docker.io/lmsysorg/sglang:v0.5.5.post3-cu129-amd64");
  CHECK(env_value(*main, "MODEL_PATH") == "/raid/models/llama-3-1-8b");
  CHECK(env_value(*main, "STORAGE_URI") == "hf://meta-llama/Llama-3.1-8B-Instruct");
}

TEST_CASE("an InferenceService with an engine or a model is not migrated", "[predictor]") {
  auto isvc = yaml::parse_one(std::string(kPredictor) + "  engine: {minReplicas: 1}\n");
  CHECK_FALSE(render::uses_predictor(isvc));
  CHECK(render::migrate_predictor(isvc) == isvc);
  auto empty = yaml::parse_one("apiVersion: ome.io/v1beta1\nkind: InferenceService\nmetadata: {name: x}\nspec:\n  predictor: {}\n");
  CHECK_FALSE(render::uses_predictor(empty));
}
