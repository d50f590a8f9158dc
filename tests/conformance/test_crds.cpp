// deploy/crds: generated from the C++ types, structural, printer columns that point at real
// fields, and the samples in deploy/samples valid against them.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <set>

#include "omed/api/kinds.hpp"
#include "omed/api/validation.hpp"
#include "omed/common/yaml.hpp"
#include "omed/schema/validator.hpp"
#include "../support/test_env.hpp"

using namespace omed;
namespace fs = std::filesystem;

namespace {

std::map<std::string, json::Value> load_crds() {
  std::map<std::string, json::Value> out;
  for (auto& e : fs::directory_iterator(omed::testing::source_root() / "deploy" / "crds")) {
    auto doc = yaml::parse_one(omed::testing::read_file(e.path()));
    out[doc.at_path("spec.names.kind")->as_string()] = doc;
  }
  return out;
}

const json::Value& schema_of(const json::Value& crd) {
  return *crd.at_path("spec.versions")->as_array()[0].at_path("schema.openAPIV3Schema");
}

std::vector<std::pair<std::string, json::Value>> samples() {
  std::vector<std::pair<std::string, json::Value>> out;
  for (auto& e : fs::recursive_directory_iterator(omed::testing::source_root() / "deploy" / "samples"))
    if (e.is_regular_file() && e.path().extension() == ".yaml")
      for (auto& d : yaml::parse_all(omed::testing::read_file(e.path())))
        out.emplace_back(e.path().filename().string(), d);
  return out;
}

}  // namespace

TEST_CASE("there is one CRD per kind with OME's names, scope and subresources", "[crds]") {
  auto crds = load_crds();
  REQUIRE(crds.size() == api::all_kinds().size());
  for (auto& k : api::all_kinds()) {
    INFO(k.kind);
    REQUIRE(crds.count(k.kind));
    auto& crd = crds[k.kind];
    CHECK(crd.at_path("metadata.name")->as_string() == k.plural + ".ome.io");
    CHECK(crd.at_path("spec.group")->as_string() == "ome.io");
    CHECK(crd.at_path("spec.scope")->as_string() == (k.namespaced ? "Namespaced" : "Cluster"));
    CHECK(crd.at_path("spec.names.plural")->as_string() == k.plural);
    auto& v = crd.at_path("spec.versions")->as_array()[0];
    CHECK(v.string_or("name") == "v1beta1");
    CHECK(v.at_path("served")->as_bool());
    CHECK(v.at_path("storage")->as_bool());
    CHECK(static_cast<bool>(v.at_path("subresources.status")) == k.status_subresource);
  }
  CHECK(crds["InferenceService"].at_path("spec.names.shortNames")->as_array()[0].as_string() == "isvc");
  CHECK_FALSE(crds["ServingRuntime"].at_path("spec.versions")->as_array()[0].get("subresources"));
}

TEST_CASE("every CRD schema is structural", "[crds]") {
  for (auto& [kind, crd] : load_crds()) {
    INFO(kind);
    auto errs = schema::check_structural(schema_of(crd));
    for (auto& e : errs)
      UNSCOPED_INFO(e.to_string());
    CHECK(errs.empty());
  }
}

TEST_CASE("the structural check catches what apiextensions rejects", "[crds]") {
  auto bad = json::parse(R"({"type":"object","properties":{
    "untyped":{"description":"no type"},
    "arr":{"type":"array"},
    "both":{"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}},
    "lm":{"type":"array","x-kubernetes-list-type":"map","x-kubernetes-list-map-keys":["name"],
          "items":{"type":"object","properties":{"name":{"type":"string"}}}},
    "typedAnyOf":{"type":"string","anyOf":[{"type":"integer"}]}}})");
  std::set<std::string> got;
  for (auto& e : schema::check_structural(bad))
    got.insert(e.field);
  CHECK(got.count("openAPIV3Schema.properties[untyped].type"));
  CHECK(got.count("openAPIV3Schema.properties[arr].items"));
  CHECK(got.count("openAPIV3Schema.properties[both].additionalProperties"));
  CHECK(got.count("openAPIV3Schema.properties[lm].items.properties.name"));
  CHECK(got.count("openAPIV3Schema.properties[typedAnyOf].anyOf[0].type"));
}

TEST_CASE("every printer column names a field of the schema", "[crds]") {
  for (auto& [kind, crd] : load_crds()) {
    auto& v = crd.at_path("spec.versions")->as_array()[0];
    for (auto& col : v.at_path("additionalPrinterColumns")->as_array()) {
      INFO(kind << " column " << col.string_or("name") << " " << col.string_or("jsonPath"));
      std::string why;
      CHECK(schema::json_path_in_schema(col.string_or("jsonPath"), schema_of(crd), why));
      INFO(why);
    }
  }
  // And the check itself can fail.
  auto crds = load_crds();
  auto& isvc = crds["InferenceService"];
  std::string why;
  CHECK_FALSE(schema::json_path_in_schema(".spec.nope", schema_of(isvc), why));
  CHECK(why == "no field nope under .spec");
}

TEST_CASE("the committed CRDs are exactly what omed-gen-crds writes", "[crds]") {
  if (!omed::testing::have_shared("testdata/k8s/openapi-v3"))
    return;
  auto k8s = api::K8sSchemas::load_dir((omed::testing::shared_dir() / "testdata/k8s/openapi-v3").string());
  auto crds = load_crds();
  for (auto& k : api::all_kinds()) {
    INFO(k.kind << ": regenerate with build/src/omed-gen-crds ../shared/testdata/k8s/openapi-v3 deploy/crds");
    CHECK(json::dump(json::sorted(api::build_crd(k, &k8s))) == json::dump(json::sorted(crds[k.kind])));
  }
}

TEST_CASE("the samples validate against the CRDs and pass admission", "[crds]") {
  auto crds = load_crds();
  auto all = samples();
  REQUIRE(all.size() >= 8);
  std::set<std::string> kinds;
  for (auto& [file, doc] : all) {
    auto kind = doc.string_or("kind");
    INFO(file << " " << kind);
    kinds.insert(kind);
    REQUIRE(crds.count(kind));
    json::Value copy = doc;
    schema::Options o;
    o.prune = false;
    auto r = schema::validate(copy, schema_of(crds[kind]), o);
    for (auto& e : r.errors)
      UNSCOPED_INFO(e.to_string());
    for (auto& u : r.unknown_fields)
      UNSCOPED_INFO("unknown field " << u);
    CHECK(r.ok());
    CHECK(r.unknown_fields.empty());
    auto adm = api::validate_object(doc);
    for (auto& e : adm.errors)
      UNSCOPED_INFO(e.to_string());
    CHECK(adm.ok());
  }
  CHECK(kinds.size() >= 6);
}

TEST_CASE("Kubernetes-typed fields inside the CRDs are really typed", "[crds]") {
  auto crds = load_crds();
  auto rt = yaml::parse_one(R"(
apiVersion: ome.io/v1beta1
kind: ClusterServingRuntime
metadata: {name: bad}
spec:
  engineConfig:
    runner:
      name: c
      ports: [{containerPort: "eighty"}]
      resources: {limits: {cpu: lots}}
    tolerations: [{key: a, tolerationSeconds: soon}]
    affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {}}}
)");
  auto r = schema::validate(rt, schema_of(crds["ClusterServingRuntime"]));
  std::set<std::string> got;
  for (auto& e : r.errors)
    got.insert(e.to_string());
  CHECK(got.count("spec.engineConfig.runner.ports[0].containerPort: Invalid value: \"string\": "
                  "spec.engineConfig.runner.ports[0].containerPort in body must be of type integer: \"string\""));
  CHECK(got.count("spec.engineConfig.tolerations[0].tolerationSeconds: Invalid value: \"string\": "
                  "spec.engineConfig.tolerations[0].tolerationSeconds in body must be of type integer: \"string\""));
  CHECK(got.count("spec.engineConfig.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
                  "nodeSelectorTerms: Required value"));
  bool quantity = false;
  for (auto& g : got)
    if (g.rfind("spec.engineConfig.runner.resources.limits.cpu: Invalid value: \"lots\"", 0) == 0)
      quantity = true;
  CHECK(quantity);
}
