// BenchmarkJob: the genai-bench Job's arguments, credentials through Secrets only, result
// locations, the webhook's scenario rules, and state followed from the Job.
#include <catch2/catch.hpp>

#include "omed/common/yaml.hpp"
#include "omed/controller/benchmark_plan.hpp"
#include "omed/render/benchmark_job.hpp"

using namespace omed;

namespace {

json::Value bench(const std::string& extra_spec = "", const std::string& annotations = "") {
  return yaml::parse_one(R"(apiVersion: ome.io/v1beta1
kind: BenchmarkJob
metadata:
  name: phi-bench
  namespace: default
  uid: 1111-2222
)" + annotations + R"(
spec:
  huggingFaceSecretReference: {name: hf-secret}
  endpoint:
    inferenceService: {name: phi-chat, namespace: default}
  task: text-to-text
  numConcurrency: [1, 8]
  maxTimePerIteration: 10
  maxRequestsPerIteration: 500
)" + extra_spec);
}

std::vector<std::string> args_of(const json::Value& job) {
  std::vector<std::string> out;
  for (auto& a : job.at_path("spec.template.spec.containers")->as_array()[0].get("args")->as_array())
    out.push_back(a.as_string());
  return out;
}

std::string after(const std::vector<std::string>& args, const std::string& flag) {
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == flag)
      return args[i + 1];
  return "<absent>";
}

size_t count(const std::vector<std::string>& args, const std::string& flag) {
  return static_cast<size_t>(std::count(args.begin(), args.end(), flag));
}

render::BenchmarkTarget phi_target() {
  render::BenchmarkTarget t;
  t.api_base = "http://phi-chat.default.svc.cluster.local:8080";
  t.api_backend = "openai";
  t.model_name = "phi-chat";
  t.tokenizer_path = "/raid/models/tiny-phi";
  t.model_label = "models.ome.io/clusterbasemodel.tiny-phi";
  return t;
}

}  // namespace

TEST_CASE("the Job runs genai-bench with the served model name, and the API key only from a Secret",
          "[benchmark-job]") {
  auto bj = bench("  outputLocation: {storageUri: \"s3://results@us-east-1/phi/run1\", key: s3-creds}\n",
                  "  annotations: {ome.io/api-key-secret: phi-api/token}\n");
  auto r = render::render_benchmark_job(bj, phi_target());
  REQUIRE(r.errors.empty());
  const json::Value& job = r.job;
  CHECK(job.string_or("kind") == "Job");
  CHECK(job.at_path("spec.backoffLimit")->as_int() == 0);
  CHECK(job.at_path("spec.template.spec.restartPolicy")->as_string() == "Never");
  CHECK(job.at_path("metadata.ownerReferences")->as_array()[0].string_or("kind") == "BenchmarkJob");
  auto args = args_of(job);
  CHECK(args[0] == "benchmark");
  CHECK(after(args, "--api-backend") == "openai");
  CHECK(after(args, "--api-base") == "http://phi-chat.default.svc.cluster.local:8080");
  CHECK(after(args, "--api-model-name") == "phi-chat");  // OME sends "vllm-model" whatever serves
  CHECK(after(args, "--task") == "text-to-text");
  CHECK(after(args, "--max-time-per-run") == "10");
  CHECK(after(args, "--max-requests-per-run") == "500");
  CHECK(after(args, "--api-key") == "$(API_KEY)");  // expanded by the kubelet; OME passes "sample-key"
  CHECK(after(args, "--model-tokenizer") == "/raid/models/tiny-phi");
  // No scenarios given: the task's defaults, each passed once.
  CHECK(count(args, "--traffic-scenario") == render::default_scenarios("text-to-text").size());
  CHECK(count(args, "--num-concurrency") == 2);
  CHECK(after(args, "--storage-provider") == "aws");
  CHECK(after(args, "--storage-bucket") == "results");
  CHECK(after(args, "--storage-prefix") == "phi/run1");
  CHECK(after(args, "--storage-aws-region") == "us-east-1");
  CHECK(count(args, "--upload-results") == 1);

  std::string env = json::dump(*job.at_path("spec.template.spec.containers")->as_array()[0].get("env"));
  CHECK(env.find(R"({"name":"API_KEY","valueFrom":{"secretKeyRef":{"name":"phi-api","key":"token"}}})") != std::string::npos);
  CHECK(env.find(R"({"name":"AWS_SECRET_ACCESS_KEY","valueFrom":{"secretKeyRef":{"name":"s3-creds","key":"AWS_SECRET_ACCESS_KEY"}}})") !=
        std::string::npos);
  CHECK(env.find(R"({"name":"HUGGINGFACE_API_KEY","valueFrom":{"secretKeyRef":{"name":"hf-secret","key":"HUGGINGFACE_API_KEY"}}})") !=
        std::string::npos);
  // The tokenizer is read from the node's copy of the model, so the pod goes where it is Ready.
  CHECK(job.at_path("spec.template.spec.nodeSelector")->string_or("models.ome.io/clusterbasemodel.tiny-phi") == "Ready");
}

TEST_CASE("results to a claim are mounted and passed as the experiment directory", "[benchmark-job]") {
  auto r = render::render_benchmark_job(
    bench("  outputLocation: {storageUri: \"pvc://bench-results/phi\"}\n  resultFolderName: run-7\n"), phi_target());
  REQUIRE(r.errors.empty());
  auto args = args_of(r.job);
  CHECK(after(args, "--experiment-base-dir") == "/phi");
  CHECK(after(args, "--experiment-folder-name") == "run-7");
  CHECK(count(args, "--upload-results") == 0);
  std::string vols = json::dump(*r.job.at_path("spec.template.spec.volumes"));
  CHECK(vols.find(R"("persistentVolumeClaim":{"claimName":"bench-results"})") != std::string::npos);
}

TEST_CASE("invalid scenarios, parameters and locations are refused with the reason", "[benchmark-job]") {
  CHECK(render::scenario_valid("text-to-text", "D(100,100)"));
  CHECK(render::scenario_valid("text-to-text", "N(480,240)/(300,150)"));
  CHECK(render::scenario_valid("text-to-text", "U(10,20)/(30,40)"));
  CHECK_FALSE(render::scenario_valid("text-to-text", "E(64,64)"));
  CHECK(render::scenario_valid("text-to-embeddings", "E(64,64)"));
  CHECK(render::scenario_valid("image-to-text", "I(512,512,3)"));
  // OME's embedding defaults fail its own pattern; ours pass it.
  for (auto& s : render::default_scenarios("text-to-embeddings"))
    CHECK(render::scenario_valid("text-to-embeddings", s));

  auto r = render::render_benchmark_job(
    bench("  trafficScenarios: [\"D(100,100)\", \"X(1)\"]\n  additionalRequestParams: {temperature: hot, ignore_eos: maybe}\n"
          "  outputLocation: {storageUri: \"hf://org/repo\"}\n"),
    phi_target());
  CHECK(r.job.is_null());
  std::string all;
  for (auto& e : r.errors)
    all += e + "\n";
  CHECK(all.find("\"X(1)\" is not a valid text-to-text scenario") != std::string::npos);
  CHECK(all.find("temperature must be a number") != std::string::npos);
  CHECK(all.find("ignore_eos must be true or false") != std::string::npos);
  CHECK(all.find("\"hf://org/repo\" is not a supported result location") != std::string::npos);
}

TEST_CASE("state waits for the InferenceService, then follows the Job", "[benchmark-job]") {
  auto bj = bench("  outputLocation: {storageUri: \"s3://results/phi\"}\n");
  controller::Owned owned;
  json::Value isvc = yaml::parse_one(R"(apiVersion: ome.io/v1beta1
kind: InferenceService
metadata: {name: phi-chat, namespace: default}
status:
  url: http://phi-chat.default.svc.cluster.local:8080
  annotations: {omed.io/served-model-name: phi-chat, ome.io/base-model: ClusterBaseModel/tiny-phi}
  conditions: [{type: Ready, status: "False", reason: ComponentsNotReady}]
)");
  json::Value model = yaml::parse_one(R"(apiVersion: ome.io/v1beta1
kind: ClusterBaseModel
metadata: {name: tiny-phi}
spec:
  storage: {storageUri: "hf://omed-test/tiny-random-phi", path: /raid/models/tiny-phi}
)");
  bool have_isvc = false;
  controller::BenchmarkLookups l;
  l.inference_service = [&](const std::string& ns, const std::string& name) -> std::shared_ptr<const json::Value> {
    if (!have_isvc || ns != "default" || name != "phi-chat")
      return nullptr;
    return std::make_shared<const json::Value>(isvc);
  };
  l.model = [&](const std::string& key) -> std::shared_ptr<const json::Value> {
    return key == "ClusterBaseModel/tiny-phi" ? std::make_shared<const json::Value>(model) : nullptr;
  };
  auto state = [](const controller::Plan& p) { return p.status.find("state") ? p.status.find("state")->as_string() : ""; };
  auto reason = [](const controller::Plan& p) {
    for (auto& c : p.conditions)
      if (c.type == "Ready")
        return c.reason;
    return std::string();
  };

  auto p = controller::benchmark_plan(controller::Input{bj, owned}, l);
  CHECK(state(p) == "Pending");
  CHECK(reason(p) == "InferenceServiceNotFound");
  CHECK(p.apply.empty());
  have_isvc = true;
  p = controller::benchmark_plan(controller::Input{bj, owned}, l);
  CHECK(reason(p) == "WaitingForInferenceService");
  CHECK(p.apply.empty());
  isvc["status"]["conditions"].as_array()[0]["status"] = "True";
  p = controller::benchmark_plan(controller::Input{bj, owned}, l);
  REQUIRE(p.apply.size() == 1);
  auto args = args_of(p.apply[0]);
  CHECK(after(args, "--api-model-name") == "phi-chat");
  CHECK(after(args, "--model-tokenizer") == "/raid/models/tiny-phi");
  CHECK(state(p) == "Pending");

  // Once the Job exists it is never re-rendered; its conditions decide the state.
  json::Value job = p.apply[0];
  owned["Job/default/phi-bench"] = std::make_shared<const json::Value>(job);
  p = controller::benchmark_plan(controller::Input{bj, owned}, l);
  CHECK(p.apply.empty());
  CHECK(state(p) == "Running");
  job["status"] = json::Object{{"startTime", "2026-11-28T10:00:00Z"}, {"completionTime", "2026-11-28T10:05:00Z"},
                               {"succeeded", 1},
                               {"conditions", json::Array{json::Object{{"type", "Complete"}, {"status", "True"}}}}};
  owned["Job/default/phi-bench"] = std::make_shared<const json::Value>(job);
  p = controller::benchmark_plan(controller::Input{bj, owned}, l);
  CHECK(state(p) == "Completed");
  CHECK(p.status.find("completionTime")->as_string() == "2026-11-28T10:05:00Z");
  job["status"] = json::Object{{"conditions", json::Array{json::Object{{"type", "Failed"}, {"status", "True"},
                                                                      {"reason", "BackoffLimitExceeded"},
                                                                      {"message", "Job has reached the specified backoff limit"}}}}};
  owned["Job/default/phi-bench"] = std::make_shared<const json::Value>(job);
  p = controller::benchmark_plan(controller::Input{bj, owned}, l);
  CHECK(state(p) == "Failed");
  CHECK(p.status.find("failureMessage")->as_string().find("BackoffLimitExceeded") != std::string::npos);
  REQUIRE_FALSE(p.events.empty());
  CHECK(p.events.back().type == "Warning");
}
