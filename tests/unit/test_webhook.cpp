// Admission webhooks: AdmissionReview v1 requests shaped as the API server sends them, answered
// by the pure review functions, over HTTPS by WebhookServer, and the daemon's refusal to serve
// webhooks without a certificate.
#include <catch2/catch.hpp>
#include <curl/curl.h>

#include <atomic>

#include "omed/apiserver/patch.hpp"
#include "omed/apiserver/tls.hpp"
#include "omed/common/base64.hpp"
#include "omed/webhook/admission.hpp"
#include "omed/webhook/server.hpp"
#include "../support/process.hpp"
#include "../support/test_env.hpp"

using namespace omed;

namespace {

// The envelope the API server POSTs (admission.k8s.io/v1), with the object and old object given
// as JSON text.
std::string review_text(const std::string& operation, const std::string& kind, const std::string& plural,
                        const std::string& ns, const std::string& name, const std::string& object,
                        const std::string& old_object = "null", const std::string& uid = "705ab4f5-6393-11e8-b7cc-42010a800002") {
  return R"({
  "apiVersion": "admission.k8s.io/v1",
  "kind": "AdmissionReview",
  "request": {
    "uid": ")" + uid + R"(",
    "kind": {"group": "ome.io", "version": "v1beta1", "kind": ")" + kind + R"("},
    "resource": {"group": "ome.io", "version": "v1beta1", "resource": ")" + plural + R"("},
    "requestKind": {"group": "ome.io", "version": "v1beta1", "kind": ")" + kind + R"("},
    "requestResource": {"group": "ome.io", "version": "v1beta1", "resource": ")" + plural + R"("},
    "name": ")" + name + R"(",
    "namespace": ")" + ns + R"(",
    "operation": ")" + operation + R"(",
    "userInfo": {"username": "admin", "uid": "014fbff9a07c", "groups": ["system:authenticated", "my-admin-group"]},
    "object": )" + object + R"(,
    "oldObject": )" + old_object + R"(,
    "dryRun": false,
    "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
  }
})";
}

// Runs the whole HTTP-side pipeline and returns the decoded AdmissionReview answer.
json::Value post(const std::string& path, const std::string& body, const webhook::Context& ctx = {}) {
  auto a = webhook::handle_http("POST", path, body, ctx);
  REQUIRE(a.status == 200);
  REQUIRE(a.content_type == "application/json");
  return json::parse(a.body);
}

json::Array decoded_patch(const json::Value& review) {
  auto* p = review.at_path("response.patch");
  REQUIRE(p);
  REQUIRE(review.at_path("response.patchType")->as_string() == "JSONPatch");
  std::string raw;
  REQUIRE(common::base64_decode(p->as_string(), raw));
  auto ops = json::parse(raw);
  REQUIRE(ops.is_array());
  return ops.as_array();
}

std::string message(const json::Value& review) {
  auto* m = review.at_path("response.status.message");
  return m && m->is_string() ? m->as_string() : std::string();
}

const char* kIsvc = R"({
  "apiVersion": "ome.io/v1beta1",
  "kind": "InferenceService",
  "metadata": {"name": "llama-3-2-1b-instruct", "namespace": "default",
               "annotations": {"ome.io/deploymentMode": "RawDeployment"}},
  "spec": {
    "model": {"name": "llama-3-2-1b-instruct"},
    "runtime": {"name": "srt-llama-3-2-1b-instruct"},
    "engine": {"minReplicas": 1, "maxReplicas": 2},
    "router": {"minReplicas": 1, "maxReplicas": 1}
  }
})";

const std::string kIsvcValidate = "/validate-ome-io-v1beta1-inferenceservice";
const std::string kIsvcMutate = "/mutate-ome-io-v1beta1-inferenceservice";
const std::string kRuntimeValidate = "/validate-ome-io-v1beta1-servingruntime";
const std::string kBenchValidate = "/validate-ome-io-v1beta1-benchmarkjob";

std::string runtime_text(const std::string& name, const std::string& formats, const std::string& extra = "") {
  return R"({"apiVersion": "ome.io/v1beta1", "kind": "ServingRuntime",
    "metadata": {"name": ")" + name + R"(", "namespace": "team-a"},
    "spec": {)" + extra + R"("protocolVersions": ["openAI"], "supportedModelFormats": )" + formats + R"(,
      "engineConfig": {"runner": {"name": "ome-container", "image": "sglang:1"}}}})";
}

const char* kFormatsP1 = R"([{"name": "safetensors", "modelFormat": {"name": "safetensors", "version": "1.0.0"},
                              "modelArchitecture": "LlamaForCausalLM", "autoSelect": true, "priority": 1}])";

std::string bench_text(const std::string& spec_extra, const std::string& endpoint =
                         R"("endpoint": {"inferenceService": {"name": "llama", "namespace": "default"}})") {
  return R"({"apiVersion": "ome.io/v1beta1", "kind": "BenchmarkJob",
    "metadata": {"name": "bench", "namespace": "default"},
    "spec": {)" + endpoint + R"(, "task": "text-to-text", "maxTimePerIteration": 10, "maxRequestsPerIteration": 100,
             )" + spec_extra + R"(}})";
}

}  // namespace

TEST_CASE("an AdmissionReview for a valid InferenceService is allowed, uid echoed", "[webhook]") {
  auto rv = post(kIsvcValidate, review_text("CREATE", "InferenceService", "inferenceservices", "default",
                                            "llama-3-2-1b-instruct", kIsvc));
  CHECK(rv.string_or("apiVersion") == "admission.k8s.io/v1");
  CHECK(rv.string_or("kind") == "AdmissionReview");
  CHECK(rv.at_path("response.uid")->as_string() == "705ab4f5-6393-11e8-b7cc-42010a800002");
  CHECK(rv.at_path("response.allowed")->as_bool());
  CHECK_FALSE(rv.at_path("response.status"));
  CHECK_FALSE(rv.at_path("response.patch"));
  CHECK_FALSE(rv.at_path("response.patchType"));
}

TEST_CASE("InferenceService annotation rules deny with every error and code 422", "[webhook]") {
  auto obj = R"({"apiVersion": "ome.io/v1beta1", "kind": "InferenceService",
    "metadata": {"name": "llama", "namespace": "default",
      "annotations": {"ome.io/autoscalerClass": "vpa", "ome.io/targetUtilizationPercentage": "150"}},
    "spec": {"model": {"name": "llama"}, "decoder": {"minReplicas": 1}}})";
  auto rv = post(kIsvcValidate, review_text("UPDATE", "InferenceService", "inferenceservices", "default", "llama", obj, obj));
  CHECK_FALSE(rv.at_path("response.allowed")->as_bool());
  CHECK(rv.at_path("response.status.code")->as_int() == 422);
  CHECK(rv.at_path("response.status.reason")->as_string() == "Invalid");
  auto m = message(rv);
  CHECK(m.rfind("InferenceService.ome.io \"llama\" is invalid: [", 0) == 0);
  CHECK(m.find("metadata.annotations[ome.io/autoscalerClass]: Unsupported value: \"vpa\": supported values: "
               "\"hpa\", \"keda\", \"external\"") != std::string::npos);
  CHECK(m.find("metadata.annotations[ome.io/targetUtilizationPercentage]: Invalid value: \"150\": must be an "
               "integer between 1 and 100") != std::string::npos);
  CHECK(m.find("spec.engine: Required value: a decoder (prefill-decode disaggregation) needs an engine") !=
        std::string::npos);
  CHECK(rv.at_path("response.status.details.causes")->as_array().size() == 3);

  SECTION("hpa metrics, keda settings and the name pattern") {
    auto o2 = R"({"apiVersion": "ome.io/v1beta1", "kind": "InferenceService",
      "metadata": {"name": "llama", "namespace": "default",
        "annotations": {"ome.io/autoscalerClass": "hpa", "ome.io/metrics": "gpu"}},
      "spec": {"model": {"name": "llama"}, "engine": {"kedaConfig": {
        "scalingOperator": "Above", "scalingThreshold": "ten", "promServerAddress": "ftp://prom",
        "authModes": "basic,oauth"}}}})";
    auto r2 = post(kIsvcValidate, review_text("CREATE", "InferenceService", "inferenceservices", "default", "llama", o2));
    auto m2 = message(r2);
    CHECK(m2.find("metadata.annotations[ome.io/metrics]: Unsupported value: \"gpu\"") != std::string::npos);
    CHECK(m2.find("spec.engine.kedaConfig.scalingOperator: Unsupported value: \"Above\"") != std::string::npos);
    CHECK(m2.find("spec.engine.kedaConfig.scalingThreshold: Invalid value: \"ten\"") != std::string::npos);
    CHECK(m2.find("spec.engine.kedaConfig.promServerAddress: Invalid value: \"ftp://prom\": must be an http:// or "
                  "https:// URL with a host") != std::string::npos);
    CHECK(m2.find("spec.engine.kedaConfig.authModes: Unsupported value: \"oauth\"") != std::string::npos);
    // authModes without authenticationRef is a warning, as in OME.
    REQUIRE(r2.at_path("response.warnings"));

    auto o3 = std::string(kIsvc);
    o3.replace(o3.find("\"llama-3-2-1b-instruct\", \"namespace\""), 23, "\"9llama\"");
    auto r3 = post(kIsvcValidate, review_text("CREATE", "InferenceService", "inferenceservices", "default", "9llama", o3));
    CHECK_FALSE(r3.at_path("response.allowed")->as_bool());
    CHECK(message(r3).find("[a-z]([-a-z0-9]*[a-z0-9])?") != std::string::npos);
  }
}

TEST_CASE("the InferenceService defaulter patches only absent defaults", "[webhook]") {
  // The runtime it names: the engine's count is left to it, the others default to one.
  webhook::Context ctx;
  std::vector<std::pair<std::string, std::string>> asked;
  ctx.list_runtimes = [&](const std::string& kind, const std::string& ns) {
    asked.emplace_back(kind, ns);
    std::vector<json::Value> out;
    if (kind == "ClusterServingRuntime")
      out.push_back(json::parse(R"({"apiVersion": "ome.io/v1beta1", "kind": "ClusterServingRuntime",
        "metadata": {"name": "srt-pd"},
        "spec": {"engineConfig": {"minReplicas": 2}, "decoderConfig": {}, "routerConfig": {}}})"));
    return out;
  };
  SECTION("replicas where neither the InferenceService nor its runtime sets them") {
    auto obj = R"({"apiVersion": "ome.io/v1beta1", "kind": "InferenceService",
      "metadata": {"name": "pd", "namespace": "default"},
      "spec": {"model": {"name": "m"}, "runtime": {"name": "srt-pd"}, "engine": {"maxReplicas": 4}, "decoder": {},
               "router": {"minReplicas": 2}}})";
    auto rv = post(kIsvcMutate, review_text("CREATE", "InferenceService", "inferenceservices", "default", "pd", obj), ctx);
    CHECK(rv.at_path("response.allowed")->as_bool());
    auto ops = decoded_patch(rv);
    REQUIRE(ops.size() == 1);
    // engine: the runtime says 2; router: the user says 2; decoder: nobody, so 1. No maxReplicas,
    // no deploymentMode annotation (OME's PDDisaggregated is rejected by its own controller).
    CHECK(json::dump(ops[0]) == R"({"op":"add","path":"/spec/decoder/minReplicas","value":1})");
    CHECK(asked == std::vector<std::pair<std::string, std::string>>{{"ServingRuntime", "default"},
                                                                   {"ClusterServingRuntime", ""}});
    auto patched = apiserver::json_patch(json::parse(obj), json::Value(ops));
    CHECK_FALSE(patched.at_path("spec.engine.minReplicas"));
    CHECK(patched.at_path("spec.decoder.minReplicas")->as_int() == 1);
    CHECK(patched.at_path("spec.router.minReplicas")->as_int() == 2);
    CHECK_FALSE(patched.at_path("metadata.annotations"));
    // The defaulted object passes the validating webhook.
    auto v = post(kIsvcValidate, review_text("CREATE", "InferenceService", "inferenceservices", "default", "pd",
                                             json::dump(patched)));
    CHECK(v.at_path("response.allowed")->as_bool());
  }
  SECTION("no named runtime: selection decides, nothing is written") {
    auto obj = json::parse(R"({"metadata": {"name": "x", "namespace": "default"},
      "spec": {"model": {"name": "m"}, "engine": {}}})");
    CHECK(webhook::inference_service_defaults(obj, ctx).empty());
    CHECK(asked.empty());
  }
  SECTION("a named runtime that does not exist: nothing is written (reconcile reports it)") {
    auto obj = json::parse(R"({"metadata": {"name": "x", "namespace": "default"},
      "spec": {"model": {"name": "m"}, "runtime": {"name": "nope"}, "engine": {}}})");
    CHECK(webhook::inference_service_defaults(obj, ctx).empty());
  }
  SECTION("nothing to add: no patch and no patchType") {
    auto rv = post(kIsvcMutate, review_text("UPDATE", "InferenceService", "inferenceservices", "default",
                                            "llama-3-2-1b-instruct", kIsvc, kIsvc), ctx);
    CHECK(rv.at_path("response.allowed")->as_bool());
    CHECK_FALSE(rv.at_path("response.patch"));
    CHECK_FALSE(rv.at_path("response.patchType"));
  }
  CHECK(webhook::pointer_escape("a/b~c") == "a~1b~0c");
}

TEST_CASE("requests the rules do not apply to", "[webhook]") {
  SECTION("a wrong kind on a path is denied with a clear message") {
    auto rv = post(kIsvcValidate, review_text("CREATE", "ServingRuntime", "servingruntimes", "team-a", "rt",
                                              runtime_text("rt", kFormatsP1)));
    CHECK_FALSE(rv.at_path("response.allowed")->as_bool());
    CHECK(rv.at_path("response.status.code")->as_int() == 400);
    CHECK(message(rv) == "the webhook /validate-ome-io-v1beta1-inferenceservice admits ome.io InferenceService "
                         "objects, got ome.io ServingRuntime: check the webhook configuration's rules");
  }
  SECTION("deletes are always allowed") {
    auto bad = R"({"apiVersion": "ome.io/v1beta1", "kind": "InferenceService", "metadata": {"name": "Bad"}, "spec": {}})";
    auto rv = post(kIsvcValidate, review_text("DELETE", "InferenceService", "inferenceservices", "default", "Bad",
                                              "null", bad));
    CHECK(rv.at_path("response.allowed")->as_bool());
  }
  SECTION("an object on its way out may lose its finalizers") {
    auto bad = R"({"apiVersion": "ome.io/v1beta1", "kind": "InferenceService",
      "metadata": {"name": "x", "namespace": "default", "deletionTimestamp": "2025-01-01T00:00:00Z"}, "spec": {}})";
    auto rv = post(kIsvcValidate, review_text("UPDATE", "InferenceService", "inferenceservices", "default", "x", bad, bad));
    CHECK(rv.at_path("response.allowed")->as_bool());
  }
}

TEST_CASE("ServingRuntime rules: leader/worker and autoSelect priorities", "[webhook]") {
  std::vector<std::pair<std::string, std::string>> asked;
  std::vector<json::Value> neighbours;
  webhook::Context ctx;
  ctx.list_runtimes = [&](const std::string& kind, const std::string& ns) {
    asked.emplace_back(kind, ns);
    return neighbours;
  };
  SECTION("the first runtime of a scope is checked too (OME skips it)") {
    auto formats = R"([{"name": "safetensors", "autoSelect": true, "priority": 1, "modelFormat": {"name": "safetensors"}},
                       {"name": "safetensors", "autoSelect": true, "priority": 2, "modelFormat": {"name": "safetensors"}}])";
    auto rv = post(kRuntimeValidate, review_text("CREATE", "ServingRuntime", "servingruntimes", "team-a", "rt",
                                                 runtime_text("rt", formats)), ctx);
    CHECK_FALSE(rv.at_path("response.allowed")->as_bool());
    CHECK(message(rv).find("different priorities assigned for the model format safetensors") != std::string::npos);
    REQUIRE(asked.size() == 1);
    CHECK(asked[0] == std::pair<std::string, std::string>("ServingRuntime", "team-a"));
  }
  SECTION("equal formats with equal priority in another runtime of the namespace") {
    neighbours.push_back(json::parse(runtime_text("other", kFormatsP1)));
    neighbours.push_back(json::parse(runtime_text("rt", kFormatsP1)));  // its own stored version: skipped
    auto rv = post(kRuntimeValidate, review_text("CREATE", "ServingRuntime", "servingruntimes", "team-a", "rt",
                                                 runtime_text("rt", kFormatsP1)), ctx);
    CHECK_FALSE(rv.at_path("response.allowed")->as_bool());
    CHECK(message(rv).find("same priority assigned for the model format safetensors in the servingruntimes rt and "
                           "other in namespace team-a") != std::string::npos);
    CHECK(rv.at_path("response.status.details.causes")->as_array().size() == 1);
    // Another priority resolves it.
    auto formats2 = std::string(kFormatsP1);
    formats2.replace(formats2.find("\"priority\": 1"), 13, "\"priority\": 2");
    auto ok = post(kRuntimeValidate, review_text("CREATE", "ServingRuntime", "servingruntimes", "team-a", "rt",
                                                 runtime_text("rt", formats2)), ctx);
    CHECK(ok.at_path("response.allowed")->as_bool());
  }
  SECTION("workers without a positive size") {
    auto rv = post(kRuntimeValidate, review_text("CREATE", "ServingRuntime", "servingruntimes", "team-a", "rt",
                                                 runtime_text("rt", kFormatsP1, R"("workers": {"size": 0}, )")), ctx);
    CHECK_FALSE(rv.at_path("response.allowed")->as_bool());
    CHECK(message(rv).find("for MultiNode deployment, both leader and worker must be defined and worker.size must be "
                           "greater than 0") != std::string::npos);
  }
  SECTION("a disabled runtime is not checked at all") {
    neighbours.push_back(json::parse(runtime_text("other", kFormatsP1)));
    auto rv = post(kRuntimeValidate, review_text("CREATE", "ServingRuntime", "servingruntimes", "team-a", "rt",
                                                 runtime_text("rt", kFormatsP1, R"("disabled": true, "workers": {"size": 0}, )")), ctx);
    CHECK(rv.at_path("response.allowed")->as_bool());
    CHECK(asked.empty());
  }
  SECTION("a failing listing fails closed with 500") {
    ctx.list_runtimes = [](const std::string&, const std::string&) -> std::vector<json::Value> {
      throw std::runtime_error("connection refused");
    };
    auto rv = post(kRuntimeValidate, review_text("CREATE", "ServingRuntime", "servingruntimes", "team-a", "rt",
                                                 runtime_text("rt", kFormatsP1)), ctx);
    CHECK_FALSE(rv.at_path("response.allowed")->as_bool());
    CHECK(rv.at_path("response.status.code")->as_int() == 500);
    CHECK(message(rv).find("connection refused") != std::string::npos);
  }
  SECTION("cluster runtimes are compared with cluster runtimes") {
    auto obj = runtime_text("crt", kFormatsP1);
    obj.replace(obj.find("\"kind\": \"ServingRuntime\""), 24, "\"kind\": \"ClusterServingRuntime\"");
    obj.replace(obj.find(", \"namespace\": \"team-a\""), 23, "");
    auto rv = post("/validate-ome-io-v1beta1-clusterservingruntime",
                   review_text("CREATE", "ClusterServingRuntime", "clusterservingruntimes", "", "crt", obj), ctx);
    CHECK(rv.at_path("response.allowed")->as_bool());
    REQUIRE(asked.size() == 1);
    CHECK(asked[0] == std::pair<std::string, std::string>("ClusterServingRuntime", ""));
  }
}

TEST_CASE("BenchmarkJob rules", "[webhook]") {
  auto ok_spec = R"j("trafficScenarios": ["D(100,100)"], "outputLocation": {"storageUri": "pvc://results/llama"})j";
  SECTION("a valid job is allowed") {
    auto rv = post(kBenchValidate, review_text("CREATE", "BenchmarkJob", "benchmarkjobs", "default", "bench", bench_text(ok_spec)));
    CHECK(rv.at_path("response.allowed")->as_bool());
  }
  SECTION("every problem is listed") {
    auto spec = R"j("trafficScenarios": ["D(100,100)", "E(64)"], "additionalRequestParams": {"ignore_eos": "maybe"},
                   "outputLocation": {"storageUri": "az://acct/container"})j";
    auto both = R"("endpoint": {"inferenceService": {"name": "llama", "namespace": "default"}, "endpoint": {"url": "http://x", "apiFormat": "openai", "modelName": "m"}})";
    auto rv = post(kBenchValidate, review_text("CREATE", "BenchmarkJob", "benchmarkjobs", "default", "bench", bench_text(spec, both)));
    CHECK_FALSE(rv.at_path("response.allowed")->as_bool());
    CHECK(rv.at_path("response.status.code")->as_int() == 422);
    auto m = message(rv);
    CHECK(m.find("spec.endpoint: Invalid value: \"both\": must specify exactly one of inferenceService or endpoint") != std::string::npos);
    CHECK(m.find("spec.trafficScenarios[1]: Invalid value: \"E(64)\": is not a valid traffic scenario for task text-to-text") != std::string::npos);
    CHECK(m.find("spec.additionalRequestParams[ignore_eos]: Unsupported value: \"maybe\"") != std::string::npos);
    CHECK(m.find("spec.outputLocation.storageUri: Invalid value: \"az://acct/container\": results can be written to "
                 "pvc://, s3:// or oci:// only") != std::string::npos);
  }
  SECTION("a hot temperature is a warning; a word is an error") {
    auto rv = post(kBenchValidate, review_text("CREATE", "BenchmarkJob", "benchmarkjobs", "default", "bench",
                                               bench_text(std::string(ok_spec) + R"(, "additionalRequestParams": {"temperature": "1.9"})")));
    CHECK(rv.at_path("response.allowed")->as_bool());
    REQUIRE(rv.at_path("response.warnings"));
    CHECK(rv.at_path("response.warnings")->as_array()[0].as_string().find("temperature") != std::string::npos);
    auto bad = post(kBenchValidate, review_text("CREATE", "BenchmarkJob", "benchmarkjobs", "default", "bench",
                                                bench_text(std::string(ok_spec) + R"(, "additionalRequestParams": {"temperature": "warm"})")));
    CHECK_FALSE(bad.at_path("response.allowed")->as_bool());
    CHECK(message(bad).find("must be a number") != std::string::npos);
  }
  SECTION("the renderer's scenario rules: E(n,n) for embeddings, defaults accepted") {
    auto emb = bench_text(R"("outputLocation": {"storageUri": "s3://bucket/prefix"})");
    emb.replace(emb.find("text-to-text"), 12, "text-to-embeddings");
    auto rv = post(kBenchValidate, review_text("CREATE", "BenchmarkJob", "benchmarkjobs", "default", "bench", emb));
    CHECK(rv.at_path("response.allowed")->as_bool());
    auto oci = bench_text(R"("outputLocation": {"storageUri": "oci://bucket/prefix"})");
    auto r2 = post(kBenchValidate, review_text("CREATE", "BenchmarkJob", "benchmarkjobs", "default", "bench", oci));
    CHECK(message(r2).find("expected oci://n/NAMESPACE/b/BUCKET/o/PREFIX") != std::string::npos);
  }
  SECTION("podOverride env values never appear in the answer") {
    auto spec = std::string(ok_spec) + R"(, "podOverride": {"env": [{"name": "HF_TOKEN", "value": {"token": "hf_s3cr3tT0kenValue"}},
                                                                    {"value": "hf_0therS3cret"}]},
                                          "additionalRequestParams": {"ignore_eos": "yes"})";
    auto a = webhook::handle_http("POST", kBenchValidate,
                                  review_text("CREATE", "BenchmarkJob", "benchmarkjobs", "default", "bench", bench_text(spec)), {});
    auto rv = json::parse(a.body);
    CHECK_FALSE(rv.at_path("response.allowed")->as_bool());
    INFO(a.body);
    CHECK(a.body.find("hf_0therS3cret") == std::string::npos);
    CHECK(a.body.find("hf_s3cr3tT0kenValue") == std::string::npos);
    CHECK(a.body.find("ignore_eos") != std::string::npos);
  }
  SECTION("an env error's value is redacted") {
    api::ErrorList errs{api::invalid("spec.podOverride.env[0].value", "hunter2-value", "bad"),
                        api::invalid("spec.engine.runner.env", "x", "bad"), api::invalid("spec.task", "t", "bad")};
    webhook::redact_secret_values(errs);
    CHECK(errs[0].value.as_string() == "[redacted]");
    CHECK(errs[1].value.as_string() == "[redacted]");
    CHECK(errs[2].value.as_string() == "t");
  }
}

TEST_CASE("the model and accelerator webhooks run validate_object", "[webhook]") {
  auto good = R"({"apiVersion": "ome.io/v1beta1", "kind": "ClusterBaseModel", "metadata": {"name": "llama"},
                  "spec": {"storage": {"storageUri": "hf://meta-llama/Llama-3.2-1B-Instruct"}}})";
  auto rv = post("/validate-ome-io-v1beta1-clusterbasemodel",
                 review_text("CREATE", "ClusterBaseModel", "clusterbasemodels", "", "llama", good));
  CHECK(rv.at_path("response.allowed")->as_bool());
  auto bad = R"({"apiVersion": "ome.io/v1beta1", "kind": "BaseModel", "metadata": {"name": "llama", "namespace": "x"},
                 "spec": {"storage": {"storageUri": "nope://what"}}})";
  auto r2 = post("/validate-ome-io-v1beta1-basemodel", review_text("CREATE", "BaseModel", "basemodels", "x", "llama", bad));
  CHECK_FALSE(r2.at_path("response.allowed")->as_bool());
  CHECK(message(r2).find("spec.storage.storageUri") != std::string::npos);
  for (auto& ep : webhook::endpoints())
    CHECK(webhook::find_endpoint(ep.path) == &ep);
  CHECK(webhook::endpoints().size() == 9);
}

TEST_CASE("HTTP errors: unknown path, method, malformed bodies", "[webhook]") {
  webhook::Context ctx;
  CHECK(webhook::handle_http("POST", "/validate-pods", "{}", ctx).status == 404);
  CHECK(webhook::handle_http("GET", kIsvcValidate, "", ctx).status == 405);
  auto a = webhook::handle_http("POST", kIsvcValidate, "{\"apiVersion\": ", ctx);
  CHECK(a.status == 400);
  CHECK(a.body.find("not JSON") != std::string::npos);
  auto b = webhook::handle_http("POST", kIsvcValidate, R"({"apiVersion": "v1", "kind": "Pod"})", ctx);
  CHECK(b.status == 400);
  CHECK(b.body.find("apiVersion must be admission.k8s.io/v1") != std::string::npos);
  auto c = webhook::handle_http("POST", kIsvcValidate,
                                R"({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"operation": "CREATE"}})", ctx);
  CHECK(c.status == 400);
  CHECK(c.body.find("request.uid is missing") != std::string::npos);
  // A request whose object is not an object is answered, not crashed on.
  auto d = post(kIsvcValidate, review_text("CREATE", "InferenceService", "inferenceservices", "default", "x", "[1,2]"));
  CHECK_FALSE(d.at_path("response.allowed")->as_bool());
  CHECK(d.at_path("response.status.code")->as_int() == 400);
}

namespace {

struct CurlAnswer {
  long status = 0;
  std::string body;
  std::string error;
};

CurlAnswer https(const std::string& method, const std::string& url, const std::string& body, const std::string& ca_pem) {
  CurlAnswer out;
  CURL* c = curl_easy_init();
  REQUIRE(c);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_blob ca{const_cast<char*>(ca_pem.data()), ca_pem.size(), CURL_BLOB_COPY};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "POST")
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, +[](char* p, size_t s, size_t n, void* u) {
    static_cast<std::string*>(u)->append(p, s * n);
    return s * n;
  });
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out.body);
  auto rc = curl_easy_perform(c);
  if (rc != CURLE_OK)
    out.error = curl_easy_strerror(rc);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return out;
}

}  // namespace

TEST_CASE("WebhookServer answers AdmissionReviews over verified HTTPS", "[webhook]") {
  testing::TempDir dir;
  auto certs = apiserver::generate_serving_certs({"localhost", "omed-webhook.omed.svc"}, {"127.0.0.1"});
  testing::write_file(dir.path() / "tls.crt", certs.cert_pem);
  testing::write_file(dir.path() / "tls.key", certs.key_pem);

  webhook::ServerOptions so;
  std::string err;
  REQUIRE(webhook::load_cert_dir(dir.path().string(), so, err));
  so.host = "127.0.0.1";
  so.port = 0;
  std::atomic<int> listed{0};
  so.context.list_runtimes = [&listed](const std::string&, const std::string&) {
    ++listed;
    return std::vector<json::Value>{json::parse(runtime_text("other", kFormatsP1))};
  };
  webhook::WebhookServer server(so);
  server.start();
  REQUIRE(server.port() != 0);
  std::string base = "https://127.0.0.1:" + std::to_string(server.port());

  auto a = https("POST", base + kIsvcMutate,
                 review_text("CREATE", "InferenceService", "inferenceservices", "default", "llama",
                             R"({"apiVersion": "ome.io/v1beta1", "kind": "InferenceService",
                                 "metadata": {"name": "llama", "namespace": "default"},
                                 "spec": {"model": {"name": "m"}, "runtime": {"name": "other"}, "engine": {}}})"),
                 certs.ca_cert_pem);
  REQUIRE(a.error.empty());
  CHECK(a.status == 200);
  auto rv = json::parse(a.body);
  CHECK(rv.at_path("response.uid")->as_string() == "705ab4f5-6393-11e8-b7cc-42010a800002");
  CHECK(decoded_patch(rv).size() == 1);  // engine.minReplicas: neither it nor runtime "other" sets it
  listed = 0;

  auto b = https("POST", base + kRuntimeValidate,
                 review_text("CREATE", "ServingRuntime", "servingruntimes", "team-a", "rt", runtime_text("rt", kFormatsP1)),
                 certs.ca_cert_pem);
  REQUIRE(b.error.empty());
  auto rb = json::parse(b.body);
  CHECK_FALSE(rb.at_path("response.allowed")->as_bool());
  CHECK(message(rb).find("same priority assigned") != std::string::npos);
  CHECK(listed == 1);

  CHECK(https("POST", base + "/nope", "{}", certs.ca_cert_pem).status == 404);
  CHECK(https("GET", base + kIsvcValidate, "", certs.ca_cert_pem).status == 405);
  auto bad = https("POST", base + kIsvcValidate, "not json", certs.ca_cert_pem);
  CHECK(bad.status == 400);
  CHECK(bad.body.find("not JSON") != std::string::npos);

  // Another CA's client does not trust it: the certificate is really served.
  auto stranger = apiserver::generate_serving_certs({"localhost"}, {"127.0.0.1"});
  CHECK_FALSE(https("POST", base + kIsvcValidate, "{}", stranger.ca_cert_pem).error.empty());
  server.stop();
}

TEST_CASE("webhook certificates: clear errors, and the daemon refuses to start without them", "[webhook]") {
  testing::TempDir dir;
  webhook::ServerOptions so;
  std::string err;
  CHECK_FALSE(webhook::load_cert_dir((dir.path() / "missing").string(), so, err));
  CHECK(err.find("tls.crt") != std::string::npos);
  testing::write_file(dir.path() / "tls.crt", "not a certificate");
  CHECK_FALSE(webhook::load_cert_dir(dir.path().string(), so, err));
  CHECK(err.find("is not PEM") != std::string::npos);

  if (!std::getenv("OMED_BIN")) {
    WARN("OMED_BIN not set: skipping the daemon check");
    return;
  }
  testing::Process p({testing::omed_bin(), "controller", "--webhook-addr", "127.0.0.1:0", "--webhook-cert-dir",
                      (dir.path() / "nowhere").string(), "--http-addr", "127.0.0.1:0"},
                     dir.path() / "omed.log");
  REQUIRE(p.wait(20000));
  CHECK(p.exit_code() == 2);
  auto out = p.output();
  INFO(out);
  CHECK(out.find("cannot serve the admission webhooks") != std::string::npos);
  CHECK(out.find((dir.path() / "nowhere" / "tls.crt").string()) != std::string::npos);
}
