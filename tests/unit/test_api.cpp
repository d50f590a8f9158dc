// The ome.io/v1beta1 types: round trips that lose nothing, fixtures that cover every field,
// admission errors worded like the API server's, and OME's defaults.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "omed/api/codec.hpp"
#include "omed/api/kinds.hpp"
#include "omed/api/validation.hpp"
#include "omed/common/yaml.hpp"
#include "../support/test_env.hpp"

using namespace omed;
namespace fs = std::filesystem;

namespace {

fs::path data_dir() { return omed::testing::source_root() / "tests" / "data" / "api"; }

json::Value load_one(const fs::path& p) {
  auto docs = yaml::parse_all(omed::testing::read_file(p));
  REQUIRE(docs.size() == 1);
  return docs[0];
}

// Field coverage is counted per type, not per occurrence: a schema node's identity is its JSON
// text, so EngineSpec used for engine, decoder and engineConfig counts once.
using FieldKey = std::pair<std::string, std::string>;  // (type identity, field)

json::Value strip_docs(const json::Value& v) {
  if (v.is_array()) {
    json::Array a;
    for (auto& x : v.as_array())
      a.push_back(strip_docs(x));
    return a;
  }
  if (!v.is_object())
    return v;
  json::Object o;
  for (auto& m : v.as_object())
    if (m.key != "description" && m.key != "default")
      o.set(m.key, strip_docs(m.value));
  return o;
}

std::string type_id(const json::Value& s) { return json::dump(json::sorted(strip_docs(s))); }

void schema_fields(const json::Value& s, std::set<FieldKey>& out) {
  if (!s.is_object())
    return;
  if (auto* items = s.get("items"))
    schema_fields(*items, out);
  if (auto* ap = s.get("additionalProperties"); ap && ap->is_object())
    schema_fields(*ap, out);
  auto* props = s.get("properties");
  if (!props)
    return;
  auto id = type_id(s);
  for (auto& m : props->as_object()) {
    out.insert({id, m.key});
    schema_fields(m.value, out);
  }
}

void covered_fields(const json::Value& v, const json::Value& s, std::set<FieldKey>& out) {
  if (!s.is_object())
    return;
  if (v.is_array()) {
    if (auto* items = s.get("items"))
      for (auto& e : v.as_array())
        covered_fields(e, *items, out);
    return;
  }
  if (!v.is_object())
    return;
  if (auto* ap = s.get("additionalProperties"); ap && ap->is_object()) {
    for (auto& m : v.as_object())
      covered_fields(m.value, *ap, out);
    return;
  }
  auto* props = s.get("properties");
  if (!props)
    return;
  auto id = type_id(s);
  for (auto& m : v.as_object()) {
    if (auto* ps = props->get(m.key)) {
      out.insert({id, m.key});
      covered_fields(m.value, *ps, out);
    }
  }
}

// Every document of every file under tests/data/api/full.
std::vector<json::Value> full_fixtures() {
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(data_dir() / "full"))
    files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::vector<json::Value> out;
  for (auto& f : files)
    for (auto& d : yaml::parse_all(omed::testing::read_file(f)))
      out.push_back(d);
  return out;
}

}  // namespace

TEST_CASE("every kind round-trips without losing a field, unknown ones included", "[api]") {
  std::set<std::string> kinds;
  for (auto& original : full_fixtures()) {
    INFO(original.string_or("kind") << " " << original.at_path("metadata.name")->as_string());
    kinds.insert(original.string_or("kind"));
    api::ErrorList errs;
    auto again = api::round_trip(original, errs);
    CHECK(errs.empty());
    CHECK(json::dump(json::sorted(again)) == json::dump(json::sorted(original)));
  }
  CHECK(kinds.size() == api::all_kinds().size());
}

TEST_CASE("the full fixtures cover every field of every type", "[api]") {
  std::set<FieldKey> want, got;
  std::map<std::string, std::string> where;  // type identity -> a kind/path for messages
  for (auto& k : api::all_kinds())
    schema_fields(api::kind_schema(k, nullptr), want);
  for (auto& doc : full_fixtures())
    covered_fields(doc, api::kind_schema(*api::find_kind(doc.string_or("kind")), nullptr), got);
  REQUIRE(want.size() > 200);
  std::vector<std::string> missing;
  for (auto& f : want)
    if (!got.count(f) && f.second != "metadata")
      missing.push_back(f.second + " (in a type with fields " + f.first.substr(0, 120) + "...)");
  for (auto& m : missing)
    UNSCOPED_INFO(m);
  CHECK(missing.empty());
}

TEST_CASE("decoded values are typed and unknown fields land in extra", "[api]") {
  auto isvc_json = load_one(data_dir() / "full" / "inferenceservice.yaml");
  (void)isvc_json.as_object();
  api::ErrorList errs;
  auto isvc = api::decode<api::InferenceService>(isvc_json, errs);
  REQUIRE(errs.empty());
  CHECK(isvc.metadata.name == "llama-chat");
  CHECK(isvc.spec.engine->ext.minReplicas == 1);
  CHECK(isvc.spec.engine->worker->size == 2);
  CHECK(isvc.spec.engine->extra.contains("nodeSelector"));  // inline PodSpec field
  CHECK(isvc.spec.engine->runner->extra.find("name")->as_string() == "ome-container");
  CHECK(isvc.spec.extra.contains("specFuture"));
  CHECK(isvc.status->components.at("engine").selectedAccelerator->acceleratorClass == "h100-80gb");
  CHECK(isvc.spec.model->fineTunedWeights == api::Strings{"llama-lora-support"});
  // A typed change is written back, everything else stays.
  isvc.spec.engine->ext.maxReplicas = 9;
  auto out = api::encode(isvc);
  CHECK(out.at_path("spec.engine.maxReplicas")->as_int() == 9);
  CHECK(out.at_path("spec.specFuture.x")->as_int() == 1);
  CHECK(out.at_path("spec.engine.nodeSelector.pool")->as_string() == "gpu");
}

TEST_CASE("type errors while decoding name the field", "[api]") {
  auto v = json::parse(R"({"apiVersion":"ome.io/v1beta1","kind":"BaseModel","metadata":{"name":"m"},
    "spec":{"maxTokens":"many","disabled":"no","modelCapabilities":"CHAT","storage":{"storageUri":5}}})");
  api::ErrorList errs;
  auto bm = api::decode<api::BaseModel>(v, errs);
  std::set<std::string> got;
  for (auto& e : errs)
    got.insert(e.to_string());
  CHECK(got == std::set<std::string>{"spec.maxTokens: Invalid value: \"many\": must be of type integer",
                                     "spec.disabled: Invalid value: \"no\": must be of type boolean",
                                     "spec.modelCapabilities: Invalid value: \"CHAT\": must be of type array",
                                     "spec.storage.storageUri: Invalid value: 5: must be of type string"});
  // And the bad values are still there when encoding again: nothing is silently dropped.
  auto out = api::encode(bm);
  CHECK(out.at_path("spec.maxTokens")->as_string() == "many");
}

TEST_CASE("the full fixtures pass admission", "[api]") {
  for (auto& doc : full_fixtures()) {
    INFO(doc.string_or("kind") << " " << doc.at_path("metadata.name")->as_string());
    auto r = api::validate_object(doc);
    for (auto& e : r.errors)
      UNSCOPED_INFO(e.to_string());
    CHECK(r.ok());
  }
}

TEST_CASE("invalid manifests are rejected with the right path and message", "[api]") {
  auto cases = yaml::parse_one(omed::testing::read_file(data_dir() / "invalid" / "cases.yaml"));
  REQUIRE(cases.as_array().size() >= 30);
  for (auto& c : cases.as_array()) {
    INFO(c.string_or("name"));
    auto r = api::validate_object(*c.get("manifest"));
    std::set<std::string> got, want;
    for (auto& e : r.errors)
      got.insert(e.to_string());
    for (auto& e : c.get("expect")->as_array())
      want.insert(e.as_string());
    CHECK(got == want);
  }
}

TEST_CASE("invalid message reads like the API server's", "[api]") {
  api::ErrorList errs{api::required("spec.storage"), api::invalid("spec.maxTokens", -1, "must be greater than 0")};
  CHECK(api::invalid_message("BaseModel.ome.io", "llama", errs) ==
        "BaseModel.ome.io \"llama\" is invalid: [spec.storage: Required value, spec.maxTokens: Invalid value: -1: "
        "must be greater than 0]");
  CHECK(api::invalid_message("BaseModel.ome.io", "llama", {errs[0]}) ==
        "BaseModel.ome.io \"llama\" is invalid: spec.storage: Required value");
}

TEST_CASE("runtime priority conflicts across runtimes need context", "[api]") {
  auto make = [](const std::string& name) {
    api::ServingRuntime rt;
    rt.kind = "ClusterServingRuntime";
    rt.metadata.name = name;
    api::SupportedModelFormat f;
    f.modelFormat = api::ModelFormat{"safetensors", "1.0.0", std::nullopt, std::nullopt, {}};
    f.modelArchitecture = "LlamaForCausalLM";
    f.autoSelect = true;
    f.priority = 1;
    rt.spec.supportedModelFormats.push_back(f);
    rt.spec.protocolVersions = {"openAI"};
    return rt;
  };
  auto a = make("rt-a"), b = make("rt-b");
  api::ValidationContext ctx;
  ctx.runtimes_in_scope = [&](const std::string&, const std::string&) { return std::vector<api::ServingRuntime>{b}; };
  auto r = api::validate_serving_runtime(a, &ctx);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].to_string() ==
        "spec.supportedModelFormats[0].priority: Invalid value: 1: same priority assigned for the model format "
        "safetensors in the servingruntimes rt-a and rt-b");
  b.spec.supportedModelFormats[0].priority = 2;
  CHECK(api::validate_serving_runtime(a, &ctx).ok());
  // Unknown accelerator classes.
  a.spec.acceleratorRequirements = api::AcceleratorRequirements{};
  a.spec.acceleratorRequirements->acceleratorClasses = {"h100", "mi300"};
  ctx.accelerator_class_exists = [](const std::string& n) { return n == "h100"; };
  auto r2 = api::validate_serving_runtime(a, &ctx);
  REQUIRE(r2.errors.size() == 1);
  CHECK(r2.errors[0].to_string() == "spec.acceleratorRequirements.acceleratorClasses: Invalid value: \"[mi300]\": "
                                    "unknown accelerator classes referenced in AcceleratorRequirements");
  // Disabled runtimes are not checked (OME's rule).
  a.spec.disabled = true;
  CHECK(api::validate_serving_runtime(a, &ctx).ok());
}

TEST_CASE("text-to-embeddings jobs without scenarios are accepted (OME rejected its own defaults)", "[api]") {
  auto job = yaml::parse_one(R"(
apiVersion: ome.io/v1beta1
kind: BenchmarkJob
metadata: {name: e}
spec:
  endpoint: {endpoint: {url: "http://emb:8080", apiFormat: openai}}
  task: text-to-embeddings
  maxTimePerIteration: 1
  maxRequestsPerIteration: 10
  outputLocation: {storageUri: "s3://results/emb"}
)");
  auto r = api::validate_object(job);
  for (auto& e : r.errors)
    UNSCOPED_INFO(e.to_string());
  CHECK(r.ok());
}

TEST_CASE("defaulting: deployment modes, replicas and schema defaults", "[api]") {
  auto pd = api::default_object(yaml::parse_one(R"(
apiVersion: ome.io/v1beta1
kind: InferenceService
metadata: {name: pd}
spec:
  model: {name: deepseek-v3}
  engine: {}
  decoder: {minReplicas: 5}
  router: {}
)"));
  CHECK(pd.at_path("metadata.annotations")->string_or("ome.io/deploymentMode") == "PDDisaggregated");
  CHECK(pd.at_path("spec.engine.minReplicas")->as_int() == 1);
  CHECK(pd.at_path("spec.engine.maxReplicas")->as_int() == 3);
  CHECK(pd.at_path("spec.decoder.maxReplicas")->as_int() == 5);  // never below minReplicas
  CHECK(pd.at_path("spec.router.maxReplicas")->as_int() == 2);
  CHECK(pd.at_path("spec.model.kind")->as_string() == "ClusterBaseModel");
  CHECK(pd.at_path("spec.model.apiGroup")->as_string() == "ome.io");
  // PDDisaggregated is a mode omed accepts (OME's webhook wrote it, its controller rejected it).
  CHECK(api::validate_object(pd).ok());

  auto mn = api::default_object(yaml::parse_one(R"(
apiVersion: ome.io/v1beta1
kind: InferenceService
metadata: {name: mn, annotations: {keep: me}}
spec:
  model: {name: m}
  engine: {leader: {}, worker: {size: 2}}
)"));
  CHECK(mn.at_path("metadata.annotations")->string_or("ome.io/deploymentMode") == "MultiNode");
  CHECK(mn.at_path("metadata.annotations")->string_or("keep") == "me");

  auto fmt = api::default_object(yaml::parse_one(R"(
apiVersion: ome.io/v1beta1
kind: ClusterServingRuntime
metadata: {name: rt}
spec:
  supportedModelFormats: [{modelFormat: {name: safetensors, version: "1.0.0"}, autoSelect: true}]
)"));
  CHECK(fmt.at_path("spec.supportedModelFormats")->as_array()[0].at_path("modelFormat.operator")->as_string() == "Equal");
  CHECK(fmt.at_path("spec.supportedModelFormats")->as_array()[0].at_path("modelFormat.weight")->as_int() == 1);
  // Explicit values are never overwritten.
  auto explicit_mode = api::default_object(yaml::parse_one(R"(
apiVersion: ome.io/v1beta1
kind: InferenceService
metadata: {name: e, annotations: {ome.io/deploymentMode: Serverless}}
spec: {model: {name: m}, engine: {minReplicas: 0, maxReplicas: 1}}
)"));
  CHECK(explicit_mode.at_path("metadata.annotations")->string_or("ome.io/deploymentMode") == "Serverless");
  CHECK(explicit_mode.at_path("spec.engine.minReplicas")->as_int() == 0);
}

TEST_CASE("defaulting migrates a legacy predictor", "[api]") {
  auto out = api::default_object(yaml::parse_one(R"(
apiVersion: ome.io/v1beta1
kind: InferenceService
metadata: {name: legacy}
spec:
  predictor:
    minReplicas: 2
    nodeSelector: {pool: gpu}
    model:
      baseModel: llama-3-8b
      runtime: srt-llama
      fineTunedWeights: [ft-1]
      name: ome-container
      image: sglang:latest
)"));
  CHECK_FALSE(out.at_path("spec.predictor"));
  CHECK(out.at_path("spec.model.name")->as_string() == "llama-3-8b");
  CHECK(out.at_path("spec.model.fineTunedWeights")->as_array()[0].as_string() == "ft-1");
  CHECK(out.at_path("spec.runtime.name")->as_string() == "srt-llama");
  CHECK(out.at_path("spec.engine.minReplicas")->as_int() == 2);
  CHECK(out.at_path("spec.engine.nodeSelector.pool")->as_string() == "gpu");
  CHECK(out.at_path("spec.engine.runner.image")->as_string() == "sglang:latest");
  CHECK(out.at_path("metadata.annotations")->get("ome.io/deprecation-warning"));
  CHECK(api::validate_object(out).ok());
}
