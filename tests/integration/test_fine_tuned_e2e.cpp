// FineTunedWeights end to end in `omed standalone`: kubectl applies a ClusterBaseModel and LoRA
// adapters hosted on the loopback Hub; the agent fetches and inspects them; the controller checks
// each against the base and says Ready, or Failed with the mismatch named.
#include <catch2/catch.hpp>

#include <string>

#include "../support/hub_fixture.hpp"
#include "../support/kubectl_runner.hpp"
#include "../support/lora_writer.hpp"
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

const json::Value* condition(const json::Value& obj, const std::string& type) {
  const json::Value* cs = obj.at_path("status.conditions");
  if (cs && cs->is_array())
    for (const auto& c : cs->as_array())
      if (c.string_or("type") == type)
        return &c;
  return nullptr;
}

std::string ftw(const std::string& name, const std::string& repo) {
  return "apiVersion: ome.io/v1beta1\nkind: FineTunedWeight\nmetadata:\n  name: " + name +
         "\nspec:\n  baseModelRef:\n    name: tiny-phi\n  modelType: LoRA\n  hyperParameters:\n    strategy: lora\n"
         "  storage:\n    storageUri: hf://" + repo + "\n";
}

}  // namespace

TEST_CASE("a LoRA adapter for a Hub model ends Ready with its facts; one of the wrong width fails",
          "[fine-tuned-e2e]") {
  if (!have_shared("testdata/tiny-random-phi") || !kubectl_usable())
    return;
  auto phi_dir = shared_dir() / "testdata" / "tiny-random-phi";
  auto phi = json::parse(read_file(phi_dir / "config.json"));
  const int64_t hidden = *phi.int_at("hidden_size");
  const int64_t layers = *phi.int_at("num_hidden_layers");

  HubFixture hub;
  hub.add_repo_from_dir("omed-test/tiny-random-phi", phi_dir);
  LoraAdapter good;
  good.base_model = "omed-test/tiny-random-phi";
  good.targets = {"q_proj", "v_proj"};
  good.in_features = good.out_features = hidden;
  good.layers = layers;
  std::string sha = hub.add_commit("omed-test/tiny-phi-lora", {{"adapter_config.json", lora_config_json(good)},
                                                               {"adapter_model.safetensors", lora_safetensors(good)}});
  LoraAdapter wide = good;
  wide.in_features = hidden * 2;
  hub.add_commit("omed-test/tiny-phi-lora-wide", {{"adapter_config.json", lora_config_json(wide)},
                                                  {"adapter_model.safetensors", lora_safetensors(wide)}});
  StandaloneCluster s("1x1xL4", {"--hf-endpoint", hub.endpoint()});

  s.apply("base", "apiVersion: ome.io/v1beta1\nkind: ClusterBaseModel\nmetadata:\n  name: tiny-phi\nspec:\n"
                  "  modelFormat:\n    name: safetensors\n  storage:\n    storageUri: hf://omed-test/tiny-random-phi\n");
  s.apply("lora", ftw("tiny-lora", "omed-test/tiny-phi-lora"));
  s.apply("wide", ftw("wide-lora", "omed-test/tiny-phi-lora-wide"));

  auto obj = s.await({"finetunedweight", "tiny-lora"}, [](const json::Value& v) { return text(v, "status.state") == "Ready"; });
  INFO(json::pretty(obj) << "\n" << s.last_error() << "\n" << s.log());
  REQUIRE(text(obj, "status.state") == "Ready");
  CHECK(json::dump(*obj.at_path("status.nodesReady")) == R"(["sim-l4-0"])");
  const json::Value* compat = condition(obj, "BaseModelCompatible");
  REQUIRE(compat);
  CHECK(compat->string_or("status") == "True");
  CHECK_THAT(compat->string_or("message"), Catch::Contains("ClusterBaseModel/tiny-phi") &&
                                              Catch::Contains("hidden size " + std::to_string(hidden)));
  CHECK_THAT(condition(obj, "Ready")->string_or("message"), Catch::Contains("LORA r=8 alpha=16 on q_proj, v_proj"));

  // The node's report, in the same ConfigMap and label scheme as models.
  auto cm = s.get_json({"configmap", "-n", "ome", "sim-l4-0"});
  const json::Value* entry_text = cm.at_path("data") ? cm.at_path("data")->get("finetunedweight.tiny-lora") : nullptr;
  REQUIRE(entry_text);
  auto entry = json::parse(entry_text->as_string());
  CHECK(entry.string_or("status") == "Ready");
  CHECK(entry.at_path("config.rank")->as_int() == 8);
  CHECK(entry.at_path("config.baseModel")->as_string() == "omed-test/tiny-random-phi");
  CHECK(entry.at_path("config.adapterParameterCount")->as_int() == static_cast<int64_t>(lora_parameters(good)));
  CHECK(entry.at_path("config.maxLayer")->as_int() == layers - 1);
  CHECK(entry.at_path("config.modules.q_proj.inFeatures")->as_int() == hidden);
  CHECK(json::dump(*entry.at_path("config.targetModules")) == R"(["q_proj","v_proj"])");
  CHECK(entry.at_path("config.artifact.sha")->as_string() == sha);
  // The base's report now carries the shape adapters are checked against.
  auto base_entry = json::parse(cm.at_path("data")->get("clusterbasemodel.tiny-phi")->as_string());
  CHECK(base_entry.at_path("config.hiddenSize")->as_int() == hidden);
  CHECK(base_entry.at_path("config.numHiddenLayers")->as_int() == layers);
  auto node = s.get_json({"node", "sim-l4-0"});
  const json::Value* label = node.at_path("metadata.labels")->get("models.ome.io/finetunedweight.tiny-lora");
  REQUIRE(label);
  CHECK(label->as_string() == "Ready");

  // The wide adapter: fetched fine, but it does not fit the base.
  obj = s.await({"finetunedweight", "wide-lora"}, [](const json::Value& v) { return text(v, "status.state") == "Failed"; });
  INFO(json::pretty(obj));
  REQUIRE(text(obj, "status.state") == "Failed");
  compat = condition(obj, "BaseModelCompatible");
  REQUIRE(compat);
  CHECK(compat->string_or("status") == "False");
  CHECK(compat->string_or("reason") == "ArchitectureMismatch");
  CHECK_THAT(compat->string_or("message"),
             Catch::Contains("takes " + std::to_string(hidden * 2) + " inputs") &&
               Catch::Contains("hidden size is " + std::to_string(hidden)));
  CHECK(condition(obj, "Ready")->string_or("reason") == "ArchitectureMismatch");
  auto events = s.kubectl({"get", "events", "-A", "--field-selector", "reason=ArchitectureMismatch"});
  CHECK_THAT(events.out, Catch::Contains("wide-lora"));
}
