// Serving end to end in `omed standalone`: the real kubectl applies a model (fetched from a
// loopback Hub by the agents), runtimes and InferenceServices; the simulated cluster runs the
// rendered Deployments; status follows them to Ready. Also re-ranking and bad input.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "../support/hub_fixture.hpp"
#include "../support/kubectl_runner.hpp"
#include "../support/process.hpp"
#include "../support/standalone_cluster.hpp"
#include "../support/test_env.hpp"
#include "omed/common/json.hpp"

using namespace omed;
using namespace omed::testing;

namespace {

std::string text(const json::Value& v, const char* path) {
  const json::Value* p = v.at_path(path);
  return p && p->is_string() ? p->as_string() : std::string();
}

std::string condition(const json::Value& obj, const std::string& type, const char* field = "status") {
  if (auto* cs = obj.at_path("status.conditions"); cs && cs->is_array())
    for (auto& c : cs->as_array())
      if (c.string_or("type") == type)
        return c.string_or(field);
  return "";
}

// The Hub's tiny Phi model on the H100 node only.
const char* kModel = R"(apiVersion: ome.io/v1beta1
kind: ClusterBaseModel
metadata:
  name: tiny-phi
spec:
  vendor: microsoft
  storage:
    storageUri: hf://omed-test/tiny-random-phi
    path: /raid/models/tiny-phi
    nodeSelector:
      nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3
)";

// A runtime in the shape of OME's shipped SGLang runtimes, for Phi models up to 1B parameters.
std::string runtime(const std::string& name, int priority, const std::string& extra = "") {
  return "apiVersion: ome.io/v1beta1\nkind: ClusterServingRuntime\nmetadata:\n  name: " + name + R"Y(
spec:
  supportedModelFormats:
    - modelFormat: {name: safetensors, version: "1.0.0"}
      modelFramework: {name: transformers, version: "4.40.0.dev0"}
      modelArchitecture: PhiModel
      autoSelect: true
      priority: )Y" + std::to_string(priority) + R"Y(
  protocolVersions: [openAI]
  modelSizeRange: {max: 1B}
  engineConfig:
    tolerations:
      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
    runner:
      name: ome-container
      image: docker.io/lmsysorg/sglang:v0.5.5.post3-cu129-amd64
      ports: [{containerPort: 8080, name: http1, protocol: TCP}]
      command: [python3, -m, sglang.launch_server, --port, "8080", --model-path, $(MODEL_PATH), --served-model-name, "{{.Name}}"]
      resources:
        requests: {cpu: "2", memory: 8Gi, nvidia.com/gpu: "1"}
        limits: {cpu: "2", memory: 8Gi, nvidia.com/gpu: "1"}
  decoderConfig:
    tolerations:
      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
    runner:
      name: ome-container
      image: docker.io/lmsysorg/sglang:v0.5.5.post3-cu129-amd64
      ports: [{containerPort: 8080, name: http1, protocol: TCP}]
      args: [--disaggregation-mode, decode]
      resources:
        requests: {cpu: "2", memory: 8Gi, nvidia.com/gpu: "1"}
        limits: {cpu: "2", memory: 8Gi, nvidia.com/gpu: "1"}
  routerConfig:
    runner:
      name: router
      image: docker.io/lightseekorg/smg:v0.2.4
      ports: [{containerPort: 8080, name: http}]
      args: [--service-discovery, --selector, "component=engine ome.io/inferenceservice=$(INFERENCESERVICE_NAME)"]
      resources: {requests: {cpu: 500m, memory: 1Gi}, limits: {cpu: "1", memory: 2Gi}}
)Y" + extra;
}

std::string isvc(const std::string& name, const std::string& body) {
  return "apiVersion: ome.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: " + name +
         "\n  namespace: default\nspec:\n  model: {name: tiny-phi}\n" + body;
}

bool ready(const json::Value& v) { return condition(v, "Ready") == "True"; }

}  // namespace

TEST_CASE("InferenceServices on a Hub model become Ready, re-rank on catalog changes, and report bad input",
          "[serving-e2e]") {
  if (!have_shared("testdata/tiny-random-phi") || !kubectl_usable())
    return;
  HubFixture hub;
  hub.add_repo_from_dir("omed-test/tiny-random-phi", shared_dir() / "testdata" / "tiny-random-phi");
  StandaloneCluster s("1x8xH100,1x1xL4", {"--hf-endpoint", hub.endpoint()});

  s.apply("model", kModel);
  s.apply("runtime-a", runtime("srt-phi-a", 1));
  auto model = s.await({"clusterbasemodel", "tiny-phi"}, [](const json::Value& v) { return text(v, "status.state") == "Ready"; });
  INFO(json::pretty(model) << "\n" << s.last_error());
  REQUIRE(text(model, "status.state") == "Ready");

  SECTION("engine and router: Ready with the in-cluster URL, workloads wired to the model") {
    s.apply("isvc", isvc("phi-chat", "  engine: {minReplicas: 1, maxReplicas: 1}\n  router: {minReplicas: 1, maxReplicas: 1}\n"));
    auto obj = s.await({"inferenceservice", "phi-chat", "-n", "default"}, ready, 90000);
    INFO(json::pretty(obj) << "\n" << s.log().substr(s.log().size() > 20000 ? s.log().size() - 20000 : 0));
    REQUIRE(ready(obj));
    CHECK(text(obj, "status.url") == "http://phi-chat.default.svc.cluster.local:8080");
    CHECK(condition(obj, "EngineReady") == "True");
    CHECK(condition(obj, "RouterReady") == "True");
    CHECK(condition(obj, "IngressReady") == "True");
    CHECK(text(obj, "status.annotations.ome\\.io/serving-runtime").empty());  // (dotted keys: read below)
    CHECK(obj.at_path("status.annotations")->string_or("ome.io/serving-runtime") == "ClusterServingRuntime/srt-phi-a");
    CHECK(obj.at_path("status.observedGeneration")->as_int() == obj.at_path("metadata.generation")->as_int());

    auto dep = s.get_json({"deployment", "phi-chat-engine", "-n", "default"});
    const json::Value& ctr = dep.at_path("spec.template.spec.containers")->as_array()[0];
    std::string env = json::dump(*ctr.get("env"));
    CHECK(env.find(R"({"name":"MODEL_PATH","value":"/raid/models/tiny-phi"})") != std::string::npos);
    CHECK(json::dump(*ctr.get("command")).find("\"phi-chat\"") != std::string::npos);  // {{.Name}} expanded
    CHECK(dep.at_path("spec.template.spec.nodeSelector")->string_or("models.ome.io/clusterbasemodel.tiny-phi") == "Ready");
    // The pods run where the model is: the H100 node.
    auto pods = s.get_json({"pods", "-n", "default", "-l", "component=engine,ome.io/inferenceservice=phi-chat"});
    REQUIRE(pods.at_path("items")->as_array().size() == 1);
    CHECK(text(pods.at_path("items")->as_array()[0], "spec.nodeName") == "sim-h100-0");
    // The entry Service selects the router; the router may read pods.
    auto svc = s.get_json({"service", "phi-chat", "-n", "default"});
    CHECK(svc.at_path("spec.selector")->string_or("component") == "router");
    auto can = s.kubectl({"auth", "can-i", "list", "pods", "-n", "default",
                          "--as=system:serviceaccount:default:phi-chat-router"});
    (void)can;  // the embedded server has no authorizer; the Role's presence is what counts
    auto role = s.get_json({"role", "phi-chat-router", "-n", "default"});
    CHECK(json::dump(*role.at_path("rules")).find("\"pods\"") != std::string::npos);

    // omectl explains the choice through the admin API, every runtime with its verdict.
    if (const char* omectl = std::getenv("OMECTL_BIN")) {
      auto ex = run({omectl, "explain", "default/phi-chat", "--data-dir", s.data_dir().string(), "--output", "json"}, {},
                    s.dir());
      INFO(ex.describe());
      REQUIRE(ex.rc == 0);
      auto why = json::parse(ex.out);
      CHECK(text(why, "mode") == "auto-select");
      CHECK(why.at_path("chosen")->string_or("name") == "srt-phi-a");
      CHECK(why.at_path("model")->string_or("architecture") == "PhiModel");
      REQUIRE(why.at_path("candidates")->as_array().size() == 1);
      CHECK(why.at_path("candidates")->as_array()[0].string_or("verdict") == "Selected");
      auto table = run({omectl, "explain", "default/phi-chat", "--data-dir", s.data_dir().string()}, {}, s.dir());
      CHECK(table.rc == 0);
      CHECK(table.out.find("Selected") != std::string::npos);
      CHECK(table.out.find("srt-phi-a") != std::string::npos);
      // A wrong token is refused (exit 3); an unknown InferenceService is an error (exit 1).
      write_file(s.dir() / "wrong-token", "not-the-token\n");
      auto refused = run({omectl, "explain", "default/phi-chat", "--data-dir", s.data_dir().string(), "--token-file",
                          (s.dir() / "wrong-token").string()}, {}, s.dir());
      CHECK(refused.rc == 3);
      auto missing = run({omectl, "explain", "default/nope", "--data-dir", s.data_dir().string()}, {}, s.dir());
      CHECK(missing.rc == 1);
      CHECK(missing.err.find("no InferenceService default/nope") != std::string::npos);
    } else {
      WARN("OMECTL_BIN not set: omectl explain not checked");
    }

    // A BenchmarkJob against it: genai-bench told the real served model name, the key from a Secret.
    REQUIRE(s.kubectl({"create", "secret", "generic", "phi-api", "-n", "default", "--from-literal=API_KEY=sk-e2e-secret"}).rc == 0);
    s.apply("bench", R"Y(apiVersion: ome.io/v1beta1
kind: BenchmarkJob
metadata: {name: phi-bench, namespace: default, annotations: {ome.io/api-key-secret: phi-api}}
spec:
  endpoint: {inferenceService: {name: phi-chat, namespace: default}}
  task: text-to-text
  trafficScenarios: ["D(100,100)"]
  numConcurrency: [1]
  maxTimePerIteration: 1
  maxRequestsPerIteration: 10
  outputLocation: {storageUri: "s3://bench-results/phi"}
)Y");
    auto bj = s.await({"benchmarkjob", "phi-bench", "-n", "default"},
                      [](const json::Value& v) { return text(v, "status.state") == "Completed"; }, 90000);
    INFO(json::pretty(bj));
    CHECK(text(bj, "status.state") == "Completed");
    auto job = s.get_json({"job", "phi-bench", "-n", "default"});
    std::string args = json::dump(*job.at_path("spec.template.spec.containers")->as_array()[0].get("args"));
    CHECK(args.find(R"("--api-model-name","phi-chat")") != std::string::npos);
    CHECK(args.find(R"("--api-base","http://phi-chat.default.svc.cluster.local:8080")") != std::string::npos);
    CHECK(args.find(R"Y("--api-key","$(API_KEY)")Y") != std::string::npos);
    CHECK(json::dump(job).find("sk-e2e-secret") == std::string::npos);
    CHECK(json::dump(bj).find("sk-e2e-secret") == std::string::npos);

    // A better runtime appears: the InferenceService moves to it (re-ranked, rolled).
    s.apply("runtime-b", runtime("srt-phi-b", 2));
    obj = s.await({"inferenceservice", "phi-chat", "-n", "default"}, [](const json::Value& v) {
      auto* a = v.at_path("status.annotations");
      return a && a->string_or("ome.io/serving-runtime") == "ClusterServingRuntime/srt-phi-b";
    });
    CHECK(obj.at_path("status.annotations")->string_or("ome.io/serving-runtime") == "ClusterServingRuntime/srt-phi-b");
    dep = s.await({"deployment", "phi-chat-engine", "-n", "default"}, [](const json::Value& v) {
      return v.at_path("metadata.labels") && text(v, "spec.template.metadata.labels.serving-runtime") == "srt-phi-b";
    });
    CHECK(text(dep, "spec.template.metadata.labels.serving-runtime") == "srt-phi-b");

    // Dropping the router removes its objects and re-points the entry Service at the engine.
    s.apply("isvc", isvc("phi-chat", "  engine: {minReplicas: 1, maxReplicas: 1}\n"));
    auto gone = s.await({"deployment", "phi-chat-router", "-n", "default"}, [](const json::Value& v) { return v.is_null(); });
    CHECK(gone.is_null());
    svc = s.await({"service", "phi-chat", "-n", "default"}, [](const json::Value& v) {
      return v.at_path("spec.selector") && v.at_path("spec.selector")->string_or("component") == "engine";
    });
    CHECK(svc.at_path("spec.selector")->string_or("component") == "engine");
    obj = s.await({"inferenceservice", "phi-chat", "-n", "default"},
                  [](const json::Value& v) { return condition(v, "RouterReady").empty() && ready(v); });
    CHECK(condition(obj, "RouterReady").empty());  // no stale condition for a component that is gone
    CHECK_FALSE(obj.at_path("status.components")->get("router"));

    // Deleting the InferenceService removes what it owns.
    auto del = s.kubectl({"delete", "inferenceservice", "phi-chat", "-n", "default", "--timeout=60s"}, 90000);
    CHECK(del.rc == 0);
    auto dep_gone = s.await({"deployment", "phi-chat-engine", "-n", "default"}, [](const json::Value& v) { return v.is_null(); });
    CHECK(dep_gone.is_null());
  }

  SECTION("prefill-decode with a router is Ready only when all three components are") {
    // Accelerator classes count what the simulated nodes' GPU labels say (GPU memory, not host RAM).
    REQUIRE(s.kubectl({"apply", "-f", (source_root() / "deploy" / "samples" / "accelerators").string()}).rc == 0);
    auto h100 = s.await({"acceleratorclass", "nvidia-h100-80gb"}, [](const json::Value& v) {
      return v.at_path("status.availableNodes") && v.at_path("status.availableNodes")->as_int() == 1;
    });
    INFO(json::pretty(h100));
    CHECK(json::dump(*h100.at_path("status.nodes")) == R"(["sim-h100-0"])");
    CHECK(h100.at_path("status.totalAccelerators")->as_int() == 8);
    CHECK(condition(h100, "Available") == "True");
    auto l4 = s.await({"acceleratorclass", "nvidia-l4"}, [](const json::Value& v) {
      return v.at_path("status.availableNodes") && v.at_path("status.availableNodes")->as_int() == 1;
    });
    CHECK(json::dump(*l4.at_path("status.nodes")) == R"(["sim-l4-0"])");

    // The decoder first asks for a node label no node has: engine and router come up, it cannot.
    s.apply("pd", isvc("phi-pd", "  engine: {minReplicas: 1, maxReplicas: 1}\n"
                                 "  decoder:\n    minReplicas: 1\n    maxReplicas: 1\n    nodeSelector: {pool: none}\n"
                                 "  router: {minReplicas: 1, maxReplicas: 1}\n"));
    auto obj = s.await({"inferenceservice", "phi-pd", "-n", "default"}, [](const json::Value& v) {
      return condition(v, "EngineReady") == "True" && condition(v, "RouterReady") == "True";
    }, 90000);
    INFO(json::pretty(obj));
    REQUIRE(condition(obj, "EngineReady") == "True");
    CHECK(condition(obj, "DecoderReady") == "False");
    CHECK(condition(obj, "Ready") == "False");
    CHECK(condition(obj, "Ready", "message").find("decoder") != std::string::npos);
    // The InferenceService is edited: the decoder rolls, and only now is the whole Ready.
    s.apply("pd", isvc("phi-pd", "  engine: {minReplicas: 1, maxReplicas: 1}\n"
                                 "  decoder: {minReplicas: 1, maxReplicas: 1}\n"
                                 "  router: {minReplicas: 1, maxReplicas: 1}\n"));
    obj = s.await({"inferenceservice", "phi-pd", "-n", "default"}, ready, 90000);
    INFO(json::pretty(obj));
    CHECK(ready(obj));
    CHECK(condition(obj, "DecoderReady") == "True");
    auto dec = s.get_json({"deployment", "phi-pd-decoder", "-n", "default"});
    CHECK(json::dump(*dec.at_path("spec.template.spec.containers")).find("--disaggregation-mode") != std::string::npos);
  }

  SECTION("bad input: a missing model, a runtime that does not fit, absurd replicas") {
    s.apply("missing", "apiVersion: ome.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: nomodel\n  namespace: default\n"
                       "spec:\n  model: {name: no-such-model}\n  engine: {minReplicas: 1}\n");
    auto obj = s.await({"inferenceservice", "nomodel", "-n", "default"},
                       [](const json::Value& v) { return condition(v, "Ready", "reason") == "BaseModelNotFound"; });
    CHECK(condition(obj, "Ready", "message").find("no-such-model") != std::string::npos);

    s.apply("big", isvc("phi-absurd", "  engine: {minReplicas: 100000, maxReplicas: 100000}\n"));
    obj = s.await({"inferenceservice", "phi-absurd", "-n", "default"},
                  [](const json::Value& v) { return condition(v, "Ready", "reason") == "InvalidSpec"; });
    INFO(json::pretty(obj));
    CHECK(condition(obj, "Ready", "message").find("spec.engine.minReplicas: Invalid value: 100000") != std::string::npos);
    CHECK(s.get_json({"deployment", "phi-absurd-engine", "-n", "default"}).is_null());
    // Within the schema's bounds but contradictory: refused by the reconcile, nothing half-applied.
    s.apply("inverted", isvc("phi-inverted", "  engine: {minReplicas: 3, maxReplicas: 2}\n  router: {minReplicas: 1}\n"));
    obj = s.await({"inferenceservice", "phi-inverted", "-n", "default"},
                  [](const json::Value& v) { return condition(v, "Ready", "reason") == "InvalidSpec"; });
    INFO(json::pretty(obj));
    CHECK(condition(obj, "Ready", "message").find("spec.engine.maxReplicas: Invalid value: 2: must be greater than or equal to minReplicas (3)") != std::string::npos);
    CHECK(s.get_json({"deployment", "phi-inverted-engine", "-n", "default"}).is_null());
    CHECK(s.get_json({"deployment", "phi-inverted-router", "-n", "default"}).is_null());

    // Named runtime whose size range excludes the model: the reason names the range.
    s.apply("small", runtime("srt-phi-big-only", 1, "") );
    s.apply("named", isvc("phi-named", "  runtime: {name: srt-does-not-exist}\n  engine: {minReplicas: 1}\n"));
    obj = s.await({"inferenceservice", "phi-named", "-n", "default"},
                  [](const json::Value& v) { return condition(v, "Ready", "reason") == "RuntimeNotFound"; });
    CHECK(condition(obj, "Ready", "message").find("srt-does-not-exist") != std::string::npos);
    auto events = s.get_json({"events", "-n", "default", "--field-selector", "involvedObject.name=nomodel"});
    CHECK(json::dump(events).find("BaseModelNotFound") != std::string::npos);
    // srt-phi-big-only repeats srt-phi-a's format at the same priority: served, with a warning.
    json::Value conflict;
    for (int i = 0; i < 40 && json::dump(conflict).find("PriorityConflict") == std::string::npos; ++i) {
      conflict = s.get_json({"events", "-A", "--field-selector", "involvedObject.name=srt-phi-big-only"});
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    CHECK(json::dump(conflict).find("same priority assigned for the model format") != std::string::npos);
  }
}
