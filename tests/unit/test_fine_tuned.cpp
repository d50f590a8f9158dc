// FineTunedWeight: PEFT adapter parsing (also of hostile files), the check against real base
// configs, the controller's roll-up, and adapters fetched by the agent job from the loopback Hub and s3rver.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <optional>
#include <string>

#include "../support/hub_fixture.hpp"
#include "../support/lora_writer.hpp"
#include "../support/s3rver_fixture.hpp"
#include "../support/test_env.hpp"
#include "omed/agent/model_job.hpp"
#include "omed/agent/node_report.hpp"
#include "omed/controller/adapter_compat.hpp"
#include "omed/controller/fine_tuned_status.hpp"
#include "omed/model/adapter_config.hpp"
#include "omed/model/byte_source.hpp"
#include "omed/model/config_parser.hpp"

using namespace omed;
using namespace omed::testing;
namespace fs = std::filesystem;

namespace {

model::AdapterConfig parse_ok(const std::string& text) {
  model::AdapterConfig c;
  std::string err;
  INFO(text);
  REQUIRE(model::parse_adapter_config(text, c, err));
  return c;
}

std::string parse_error(const std::string& text) {
  model::AdapterConfig c;
  std::string err;
  CHECK_FALSE(model::parse_adapter_config(text, c, err));
  return err;
}

model::AdapterFacts facts_of(const LoraAdapter& a) {
  model::AdapterFacts f;
  REQUIRE(parse_ok(lora_config_json(a)).peft_type == "LORA");
  f.config = parse_ok(lora_config_json(a));
  model::MemoryByteSource src(lora_safetensors(a), "adapter_model.safetensors");
  REQUIRE(model::summarize_adapter_weights(src, f.weights).empty());
  f.has_weights = true;
  return f;
}

model::ModelFacts base_config(const std::string& file) {
  model::ModelFacts f;
  std::string err;
  REQUIRE(model::parse_model_config(read_file(shared_dir() / "testdata" / "hf-configs" / file), f, err));
  return f;
}

json::Value object(const std::string& kind, const std::string& name, json::Value spec, json::Value status = {}) {
  json::Object o{{"apiVersion", json::Value("ome.io/v1beta1")},
                 {"kind", json::Value(kind)},
                 {"metadata", json::Value(json::Object{{"name", json::Value(name)}, {"generation", json::Value(1)}})},
                 {"spec", std::move(spec)}};
  if (!status.is_null())
    o.set("status", std::move(status));
  return json::Value(std::move(o));
}

json::Value ftw(const std::string& base_ns = "") {
  std::string ref = base_ns.empty() ? R"({"name":"tiny"})" : R"({"name":"tiny","namespace":")" + base_ns + "\"}";
  return object("FineTunedWeight", "lora",
                json::parse(R"({"baseModelRef":)" + ref +
                            R"(,"modelType":"LoRA","hyperParameters":{"strategy":"lora"},)"
                            R"("storage":{"storageUri":"hf://org/lora"}})"));
}

std::shared_ptr<const json::Value> base_object(const std::string& state) {
  return std::make_shared<const json::Value>(
    object("ClusterBaseModel", "tiny",
           json::parse(R"({"modelFormat":{"name":"safetensors"},"modelType":"phi","storage":{"storageUri":"hf://org/tiny"}})"),
           json::parse(R"({"state":")" + state + "\"}")));
}

controller::NodeReport node_report(const std::string& node, agent::NodeModelState st, json::Value config = {}) {
  controller::NodeReport r;
  r.node = node;
  r.entry.name = "x";
  r.entry.state = st;
  r.entry.config = std::move(config);
  return r;
}

controller::BaseModelView ready_base(int64_t hidden = 32, int64_t layers = 2) {
  controller::BaseModelView b;
  b.ref = {"ClusterBaseModel", "", "tiny"};
  b.object = base_object("Ready");
  b.reports.push_back(node_report(
    "n1", agent::NodeModelState::Ready,
    json::parse(R"({"modelType":"phi","modelArchitecture":"PhiForCausalLM","hiddenSize":)" + std::to_string(hidden) +
                R"(,"numHiddenLayers":)" + std::to_string(layers) + "}")));
  return b;
}

json::Value adapter_config_json(const LoraAdapter& a) { return model::adapter_facts_to_json(facts_of(a)); }

const controller::Condition* cond(const controller::Plan& p, const std::string& type) {
  for (auto& c : p.conditions)
    if (c.type == type)
      return &c;
  return nullptr;
}

controller::Plan plan(const json::Value& obj, const std::vector<controller::NodeReport>& reports,
                      const controller::BaseModelView& base) {
  controller::Owned owned;
  return controller::fine_tuned_plan(controller::Input{obj, owned}, reports, base);
}

std::string state_of(const controller::Plan& p) {
  auto* s = p.status.find("state");
  return s && s->is_string() ? s->as_string() : std::string();
}

}  // namespace

TEST_CASE("adapter_config.json as PEFT writes it", "[fine-tuned]") {
  auto c = parse_ok(R"({"alpha_pattern":{},"auto_mapping":null,"base_model_name_or_path":"meta-llama/Llama-3.1-8B",
    "bias":"none","fan_in_fan_out":false,"inference_mode":true,"init_lora_weights":true,"layers_pattern":null,
    "lora_alpha":32,"lora_dropout":0.05,"modules_to_save":["lm_head"],"peft_type":"LORA","r":16,
    "rank_pattern":{},"revision":null,"target_modules":["v_proj","q_proj","q_proj"],"task_type":"CAUSAL_LM",
    "use_dora":true,"use_rslora":false})");
  CHECK(c.peft_type == "LORA");
  CHECK(c.rank == 16);
  CHECK(c.alpha == 32.0);
  CHECK(c.target_modules == std::vector<std::string>{"q_proj", "v_proj"});  // sorted, once each
  CHECK(c.base_model == "meta-llama/Llama-3.1-8B");
  CHECK(c.task_type == "CAUSAL_LM");
  CHECK(c.modules_to_save == std::vector<std::string>{"lm_head"});
  CHECK(c.use_dora);
  CHECK_FALSE(c.use_rslora);

  auto all = parse_ok(R"({"peft_type":"LORA","r":8,"target_modules":"all-linear"})");
  CHECK(all.target_modules == std::vector<std::string>{"all-linear"});
  auto rx = parse_ok(R"({"peft_type":"LORA","r":8.0,"target_modules":".*\\.(q_proj|v_proj)$","lora_alpha":8.5})");
  CHECK(rx.target_modules.empty());
  CHECK(rx.target_modules_regex == ".*\\.(q_proj|v_proj)$");
  CHECK(rx.rank == 8);
  CHECK(rx.alpha == 8.5);
  auto ia3 = parse_ok(R"({"peft_type":"IA3","target_modules":["k_proj"],"base_model_name_or_path":null})");
  CHECK_FALSE(ia3.rank);
  CHECK(ia3.base_model.empty());
}

TEST_CASE("hostile adapter configs fail with a message naming what is wrong", "[fine-tuned]") {
  CHECK_THAT(parse_error("{not json"), Catch::Contains("not JSON"));
  CHECK_THAT(parse_error("[1,2]"), Catch::Contains("not a JSON object"));
  CHECK_THAT(parse_error(R"({"r":8})"), Catch::Contains("peft_type"));
  CHECK_THAT(parse_error(R"({"peft_type":7})"), Catch::Contains("peft_type"));
  CHECK_THAT(parse_error(R"({"peft_type":"LORA","r":-1})"), Catch::Contains("r (the LoRA rank)"));
  CHECK_THAT(parse_error(R"({"peft_type":"LORA","r":1e30})"), Catch::Contains("r (the LoRA rank)"));
  CHECK_THAT(parse_error(R"({"peft_type":"LORA","r":"8"})"), Catch::Contains("r (the LoRA rank)"));
  CHECK_THAT(parse_error(R"({"peft_type":"LORA","r":2.5})"), Catch::Contains("r (the LoRA rank)"));
  CHECK_THAT(parse_error(R"({"peft_type":"LORA","lora_alpha":"x"})"), Catch::Contains("lora_alpha"));
  CHECK_THAT(parse_error(R"({"peft_type":"LORA","lora_alpha":-2})"), Catch::Contains("lora_alpha"));
  CHECK_THAT(parse_error(R"({"peft_type":"LORA","target_modules":[1]})"), Catch::Contains("target_modules"));
  CHECK_THAT(parse_error(R"({"peft_type":"LORA","target_modules":{"a":1}})"), Catch::Contains("target_modules"));
  CHECK_THAT(parse_error(R"({"peft_type":"LORA","target_modules":[""]})"), Catch::Contains("target_modules"));
  CHECK_THAT(parse_error(R"({"peft_type":"LORA","use_dora":"yes"})"), Catch::Contains("use_dora"));
  CHECK_THAT(parse_error(R"({"peft_type":"LORA","modules_to_save":"lm_head"})"), Catch::Contains("modules_to_save"));
  // Sizes: a name too long, too many names, too deep, too large a document.
  CHECK_THAT(parse_error(R"({"peft_type":"LORA","target_modules":[")" + std::string(300, 'a') + "\"]}"),
             Catch::Contains("target_modules"));
  std::string many = R"({"peft_type":"LORA","target_modules":[)";
  for (int i = 0; i < 5000; ++i)
    many += (i ? ",\"m" : "\"m") + std::to_string(i) + "\"";
  CHECK_THAT(parse_error(many + "]}"), Catch::Contains("at most 4096"));
  CHECK_THAT(parse_error(R"({"peft_type":"LORA","x":)" + std::string(100, '[') + std::string(100, ']') + "}"),
             Catch::Contains("not JSON"));
  CHECK_THAT(parse_error(R"({"peft_type":"LORA","pad":")" + std::string(2u << 20, 'x') + "\"}"),
             Catch::Contains("at most"));
}

TEST_CASE("LoRA tensor names give module kind, matrix and layer", "[fine-tuned]") {
  auto n = model::parse_lora_tensor_name("base_model.model.model.layers.31.self_attn.q_proj.lora_A.weight");
  CHECK(n.module == "q_proj");
  CHECK(n.matrix == 'A');
  CHECK(n.layer == 31);
  CHECK_FALSE(n.vision);
  auto g = model::parse_lora_tensor_name("base_model.model.transformer.h.11.attn.c_attn.lora_B.weight");
  CHECK(g.module == "c_attn");
  CHECK(g.matrix == 'B');
  CHECK(g.layer == 11);
  auto v = model::parse_lora_tensor_name("base_model.model.vision_tower.encoder.layers.3.mlp.fc1.lora_A.weight");
  CHECK(v.vision);
  auto d = model::parse_lora_tensor_name("base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector");
  CHECK(d.matrix == 0);
  CHECK(d.layer == 0);
  auto big = model::parse_lora_tensor_name("x.layers.99999999999999.q_proj.lora_A.weight");
  CHECK_FALSE(big.layer);  // beyond nine digits: not an index we trust
}

TEST_CASE("adapter weights: counts, shapes, layers from the safetensors header", "[fine-tuned]") {
  LoraAdapter a;
  a.targets = {"q_proj", "k_proj", "v_proj", "dense"};
  a.layers = 4;
  auto f = facts_of(a);
  CHECK(f.weights.tensor_count == 32);
  CHECK(f.weights.parameter_count == lora_parameters(a));
  CHECK(f.weights.max_layer == 3);
  REQUIRE(f.weights.modules.count("q_proj"));
  CHECK(f.weights.modules["q_proj"].in_features == 32);
  CHECK(f.weights.modules["q_proj"].out_features == 32);
  CHECK(f.weights.modules["q_proj"].rank == 8);
  CHECK(f.weights.notes.empty());

  // The report JSON round-trips.
  auto back = model::adapter_facts_from_json(model::adapter_facts_to_json(f));
  CHECK(back.config.rank == 8);
  CHECK(back.config.alpha == 16.0);
  CHECK(back.weights.parameter_count == f.weights.parameter_count);
  CHECK(back.weights.max_layer == 3);
  CHECK(back.weights.modules["k_proj"].in_features == 32);

  // Hostile weights: a header longer than the file, garbage, no file at all.
  model::AdapterWeights w;
  model::MemoryByteSource huge(le_bytes(1ull << 40, 8) + "{}", "adapter_model.safetensors");
  CHECK_FALSE(model::summarize_adapter_weights(huge, w).empty());
  model::MemoryByteSource junk(std::string(64, '\x7f'), "adapter_model.safetensors");
  CHECK_FALSE(model::summarize_adapter_weights(junk, w).empty());
}

TEST_CASE("an adapter directory: found, or a message that says why not", "[fine-tuned]") {
  TempDir d;
  model::AdapterFacts f;
  CHECK_THAT(model::inspect_adapter_dir(d.path() / "nope", f), Catch::Contains("not a directory"));
  write_file(d.path() / "full" / "config.json", "{}");
  CHECK_THAT(model::inspect_adapter_dir(d.path() / "full", f), Catch::Contains("looks like a full model"));
  LoraAdapter a;
  write_file(d.path() / "one" / "adapter_config.json", lora_config_json(a));
  write_file(d.path() / "one" / "adapter_model.safetensors", lora_safetensors(a));
  REQUIRE(model::inspect_adapter_dir(d.path() / "one", f).empty());
  CHECK(f.has_weights);
  CHECK(f.weights_file == "adapter_model.safetensors");
  CHECK(f.weights.parameter_count == lora_parameters(a));
  // One adapter in a folder of its own is found; two are ambiguous.
  write_file(d.path() / "nested" / "a" / "adapter_config.json", lora_config_json(a));
  REQUIRE(model::inspect_adapter_dir(d.path() / "nested", f).empty());
  CHECK_FALSE(f.has_weights);
  write_file(d.path() / "nested" / "b" / "adapter_config.json", lora_config_json(a));
  CHECK_THAT(model::inspect_adapter_dir(d.path() / "nested", f), Catch::Contains("more than one"));
  // A rank that disagrees with the config is a note.
  write_file(d.path() / "odd" / "adapter_config.json", lora_config_json(a));
  LoraAdapter r16 = a;
  r16.rank = 16;
  write_file(d.path() / "odd" / "adapter_model.safetensors", lora_safetensors(r16));
  REQUIRE(model::inspect_adapter_dir(d.path() / "odd", f).empty());
  REQUIRE(f.weights.notes.size() == 1);
  CHECK_THAT(f.weights.notes[0], Catch::Contains("rank 16") && Catch::Contains("r=8"));
}

TEST_CASE("the adapter check against real base configs", "[fine-tuned]") {
  if (!have_shared("testdata/hf-configs"))
    return;
  // A Mistral-7B-shaped LoRA (hidden 4096, 32 layers).
  LoraAdapter llama;
  llama.base_model = "mistralai/Mistral-7B-v0.1";
  llama.in_features = llama.out_features = 4096;
  llama.layers = 32;
  llama.rank = 2;
  auto la = facts_of(llama);

  auto ok = controller::check_adapter_against_base(la, base_config("mistral.json"), "mistralai/Mistral-7B-v0.1");
  CHECK(ok.compatible());
  CHECK(ok.warnings.empty());
  // Same shape, a fine-tune of it in another repo: fits; naming another repo is only a warning.
  auto e5 = controller::check_adapter_against_base(la, base_config("e5_mistral_7b.json"),
                                                   "intfloat/e5-mistral-7b-instruct");
  CHECK(e5.compatible());
  REQUIRE(e5.warnings.size() == 1);
  CHECK_THAT(e5.warnings[0], Catch::Contains("mistralai/Mistral-7B-v0.1") && Catch::Contains("intfloat"));
  // Llama-3-70B: the same module names, but hidden 8192.
  auto big = controller::check_adapter_against_base(la, base_config("llama3.json"));
  REQUIRE(big.mismatches.size() == 2);
  CHECK_THAT(big.mismatches[0], Catch::Contains("lora_A of q_proj takes 4096 inputs") && Catch::Contains("8192"));
  // Qwen2.5-7B: the module names exist, but hidden 3584 and 28 layers do not fit.
  auto qwen = controller::check_adapter_against_base(la, base_config("qwen2.5_7b.json"));
  CHECK_FALSE(qwen.compatible());
  REQUIRE(qwen.mismatches.size() == 3);
  CHECK_THAT(qwen.mismatches[0], Catch::Contains("lora_A of q_proj takes 4096 inputs") && Catch::Contains("3584"));
  CHECK_THAT(qwen.mismatches[2], Catch::Contains("layer 31") && Catch::Contains("28 layers"));
  // ChatGLM and Qwen (v1) name their projections differently: q_proj/v_proj do not exist there.
  for (const char* file : {"chatglm3_6b.json", "qwen_7b.json", "internlm2_reward.json"}) {
    auto other = controller::check_adapter_against_base(la, base_config(file));
    INFO(file);
    CHECK_FALSE(other.compatible());
    REQUIRE_FALSE(other.mismatches.empty());
    CHECK_THAT(other.mismatches[0], Catch::Contains("target modules q_proj, v_proj do not exist"));
  }
  // A ChatGLM-shaped adapter fits ChatGLM.
  LoraAdapter glm;
  glm.targets = {"query_key_value"};
  glm.in_features = 4096;
  glm.out_features = 4608;
  glm.layers = 28;
  glm.layer_prefix = "base_model.model.transformer.encoder.layers.";
  auto g = controller::check_adapter_against_base(facts_of(glm), base_config("chatglm3_6b.json"));
  INFO((g.mismatches.empty() ? std::string() : g.mismatches[0]));
  CHECK(g.compatible());
  // A family omed does not know: nothing fails, the user is told what was not checked.
  model::ModelFacts unknown;
  unknown.model_type = "brand_new_arch";
  auto u = controller::check_adapter_against_base(la, unknown);
  CHECK(u.compatible());
  REQUIRE(u.warnings.size() >= 1);
  CHECK_THAT(u.warnings[0], Catch::Contains("not checked"));
  // Phi (the e2e base): q_proj/k_proj/v_proj/dense; o_proj is a Llama name.
  CHECK(controller::family_modules("phi", "").size() == 6);
  CHECK(controller::family_modules("", "PhiForCausalLM") == controller::family_modules("phi", ""));
}

TEST_CASE("FineTunedWeight keys, and the base's shape in a model report", "[fine-tuned]") {
  agent::ModelRef f{"FineTunedWeight", "", "my-lora"};
  CHECK(f.cluster());
  CHECK(agent::configmap_key(f) == "finetunedweight.my-lora");
  CHECK(agent::node_label_key(f) == "models.ome.io/finetunedweight.my-lora");
  CHECK(f.display() == "FineTunedWeight/my-lora");
  auto ref = agent::model_ref(ftw());
  CHECK(ref.ns.empty());
  CHECK(agent::configmap_key(ref) == "finetunedweight.lora");
  model::ModelFacts m;
  m.hidden_size = 32;
  m.num_layers = 2;
  auto c = agent::facts_to_config(m, "", "");
  CHECK(c.int_at("hiddenSize") == 32);
  CHECK(c.int_at("numHiddenLayers") == 2);
  CHECK(controller::base_model_ref(ftw()).display() == "ClusterBaseModel/tiny");
  CHECK(controller::base_model_ref(ftw("team")).display() == "BaseModel/team/tiny");
}

TEST_CASE("FineTunedWeight status: roll-up, base lookup and the compatibility condition", "[fine-tuned]") {
  LoraAdapter good;
  good.targets = {"q_proj", "v_proj"};
  auto good_cfg = adapter_config_json(good);
  auto obj = ftw();

  SECTION("ready and fitting") {
    auto p = plan(obj, {node_report("n1", agent::NodeModelState::Ready, good_cfg)}, ready_base());
    CHECK(state_of(p) == "Ready");
    REQUIRE(cond(p, "Ready"));
    CHECK(cond(p, "Ready")->status == "True");
    CHECK_THAT(cond(p, "Ready")->message, Catch::Contains("LORA r=8 alpha=16 on q_proj, v_proj"));
    REQUIRE(cond(p, "BaseModelCompatible"));
    CHECK(cond(p, "BaseModelCompatible")->status == "True");
    CHECK(cond(p, "BaseModelCompatible")->reason == "Compatible");
    CHECK_THAT(cond(p, "BaseModelCompatible")->message, Catch::Contains("hidden size 32"));
    CHECK(json::dump(*p.status.find("nodesReady")) == R"(["n1"])");
    REQUIRE(p.events.size() == 1);
    CHECK(p.events[0].reason == "FineTunedWeightReady");
  }
  SECTION("a wrong hidden size fails with the mismatch named") {
    LoraAdapter wide = good;
    wide.in_features = 64;
    auto p = plan(obj, {node_report("n1", agent::NodeModelState::Ready, adapter_config_json(wide))}, ready_base());
    CHECK(state_of(p) == "Failed");
    CHECK(cond(p, "Ready")->reason == "ArchitectureMismatch");
    CHECK(cond(p, "BaseModelCompatible")->status == "False");
    CHECK_THAT(cond(p, "BaseModelCompatible")->message,
               Catch::Contains("takes 64 inputs") && Catch::Contains("hidden size is 32"));
    REQUIRE(p.events.size() == 1);
    CHECK(p.events[0].type == "Warning");
    CHECK(p.events[0].reason == "ArchitectureMismatch");
  }
  SECTION("the base is missing, or not Ready yet") {
    controller::BaseModelView none;
    none.ref = controller::base_model_ref(obj);
    auto p = plan(obj, {node_report("n1", agent::NodeModelState::Ready, good_cfg)}, none);
    CHECK(state_of(p) == "Failed");
    CHECK(cond(p, "BaseModelCompatible")->reason == "BaseModelNotFound");
    CHECK_THAT(cond(p, "BaseModelCompatible")->message, Catch::Contains("ClusterBaseModel/tiny does not exist"));
    auto waiting = ready_base();
    waiting.object = base_object("In_Transit");
    p = plan(obj, {node_report("n1", agent::NodeModelState::Ready, good_cfg)}, waiting);
    CHECK(state_of(p) == "In_Transit");
    CHECK(cond(p, "Ready")->reason == "BaseModelNotReady");
    CHECK(cond(p, "BaseModelCompatible")->status == "Unknown");
    CHECK(p.events.empty());
  }
  SECTION("downloads: in progress, failed everywhere, not reported yet") {
    auto p = plan(obj, {node_report("n1", agent::NodeModelState::Updating)}, ready_base());
    CHECK(state_of(p) == "In_Transit");
    CHECK(cond(p, "Ready")->reason == "Downloading");
    CHECK(cond(p, "BaseModelCompatible")->reason == "WaitingForAdapter");
    auto failed = node_report("n1", agent::NodeModelState::Failed);
    failed.entry.message = "no adapter_config.json in /x";
    p = plan(obj, {failed}, ready_base());
    CHECK(state_of(p) == "Failed");
    CHECK(cond(p, "Ready")->reason == "DownloadFailed");
    CHECK_THAT(cond(p, "Ready")->message, Catch::Contains("n1: no adapter_config.json"));
    p = plan(obj, {}, ready_base());
    CHECK(cond(p, "Ready")->reason == "WaitingForNodes");
  }
  SECTION("a state already shown emits no event; deleting waits for the nodes") {
    auto shown = obj;
    shown["status"] = json::parse(R"({"state":"Ready"})");
    auto p = plan(shown, {node_report("n1", agent::NodeModelState::Ready, good_cfg)}, ready_base());
    CHECK(p.events.empty());
    auto deleting = obj;
    deleting["metadata"]["deletionTimestamp"] = json::Value("2026-01-01T00:00:00Z");
    deleting["metadata"]["finalizers"] = json::parse(R"(["ome.io/finalizer"])");
    p = plan(deleting, {node_report("n1", agent::NodeModelState::Ready, good_cfg)}, ready_base());
    CHECK_FALSE(p.cleanup_done);
    p = plan(deleting, {}, ready_base());
    CHECK(p.cleanup_done);
  }
}

TEST_CASE("the agent job fetches an adapter from the Hub and reports its facts", "[fine-tuned-job]") {
  HubFixture hub;
  LoraAdapter a;
  a.base_model = "omed-test/tiny-random-phi";
  std::string sha = hub.add_commit("omed-test/tiny-lora", {{"adapter_config.json", lora_config_json(a)},
                                                           {"adapter_model.safetensors", lora_safetensors(a)},
                                                           {"README.md", "# a LoRA\n"}});
  hub.add_commit("omed-test/not-an-adapter", {{"config.json", "{\"model_type\":\"phi\"}"}});
  TempDir root;
  agent::AgentSettings s;
  s.node_name = "node-a";
  s.models_root = root.path();
  s.blob_dir = root.path() / ".omed-blobs";
  s.hf_endpoint = hub.endpoint();
  auto obj = ftw();
  obj["spec"]["storage"]["storageUri"] = json::Value("hf://omed-test/tiny-lora");
  std::atomic<bool> cancel{false};
  auto r = agent::run_model_job(obj, s, cancel, nullptr);
  INFO(r.message);
  REQUIRE(r.state == agent::NodeModelState::Ready);
  CHECK(r.config.int_at("rank") == 8);
  CHECK(r.config.string_or("baseModel") == "omed-test/tiny-random-phi");
  CHECK(r.config.int_at("adapterParameterCount") == static_cast<int64_t>(lora_parameters(a)));
  CHECK(r.config.int_at("maxLayer") == 1);
  CHECK(r.config.at_path("modules.q_proj.inFeatures")->as_int() == 32);
  CHECK(r.config.at_path("artifact.sha")->as_string() == sha);
  CHECK(fs::exists(root.path() / "hf" / "omed-test" / "tiny-lora" / "main" / "adapter_model.safetensors"));

  obj["spec"]["storage"]["storageUri"] = json::Value("hf://omed-test/not-an-adapter");
  r = agent::run_model_job(obj, s, cancel, nullptr);
  CHECK(r.state == agent::NodeModelState::Failed);
  CHECK_FALSE(r.retryable);
  CHECK_THAT(r.message, Catch::Contains("looks like a full model"));
}

TEST_CASE("the agent job fetches an adapter from S3 with the keys of the Secret storage.key names",
          "[fine-tuned-job]") {
  S3rver s3("adapters");
  if (!s3.available())
    return;
  LoraAdapter a;
  a.base_model = "omed-test/tiny-random-phi";
  REQUIRE(s3.put("adapters", "phi/lora-1/adapter_config.json", lora_config_json(a)) == 200);
  REQUIRE(s3.put("adapters", "phi/lora-1/adapter_model.safetensors", lora_safetensors(a)) == 200);
  TempDir root;
  agent::AgentSettings s;
  s.node_name = "node-a";
  s.models_root = root.path();
  s.blob_dir = root.path() / ".omed-blobs";
  s.s3_endpoint = s3.endpoint();
  // The Secret as the agent would read it from the API (FineTunedWeights are cluster-scoped:
  // their Secret lives in the agent's namespace).
  std::string asked_ns;
  s.read_secret = [&](const std::string& ns, const std::string& name,
                      const std::string& key) -> std::optional<std::string> {
    asked_ns = ns;
    if (name != "s3-keys")
      return std::nullopt;
    if (key.empty())
      return std::string();
    if (key == "AWS_ACCESS_KEY_ID" || key == "AWS_SECRET_ACCESS_KEY")
      return std::string(S3rver::kKey);
    return std::nullopt;
  };
  auto obj = ftw();
  obj["spec"]["storage"]["storageUri"] = json::Value("s3://adapters/phi/lora-1");
  obj["spec"]["storage"]["key"] = json::Value("s3-keys");
  std::atomic<bool> cancel{false};
  auto r = agent::run_model_job(obj, s, cancel, nullptr);
  INFO(r.message);
  REQUIRE(r.state == agent::NodeModelState::Ready);
  CHECK(asked_ns == agent::kReportNamespace);
  CHECK(r.config.int_at("rank") == 8);
  CHECK(r.config.int_at("adapterParameterCount") == static_cast<int64_t>(lora_parameters(a)));
  CHECK(fs::exists(root.path() / "s3" / "adapters" / "phi" / "lora-1" / "adapter_model.safetensors"));

  // Without the Secret the job fails with a message that names it (and retries later).
  obj["spec"]["storage"]["key"] = json::Value("missing");
  auto denied = agent::run_model_job(obj, s, cancel, nullptr);
  CHECK(denied.state == agent::NodeModelState::Failed);
  CHECK_THAT(denied.message, Catch::Contains("missing"));
}
