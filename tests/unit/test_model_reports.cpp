// The per-node model report protocol (OME's label and ConfigMap keys and entries), which nodes a
// model targets, and the controller's roll-up of the reports into status and spec.
#include <catch2/catch.hpp>

#include "omed/agent/node_report.hpp"
#include "omed/controller/model_reports.hpp"
#include "omed/controller/model_status.hpp"
#include "omed/model/model_facts.hpp"

using namespace omed;

namespace {

json::Value make_model(const std::string& kind, const std::string& ns, const std::string& name, json::Value spec) {
  json::Object md{{"name", json::Value(name)}, {"generation", json::Value(1)}, {"resourceVersion", json::Value("7")}};
  if (!ns.empty())
    md.set("namespace", json::Value(ns));
  return json::Value(json::Object{{"apiVersion", json::Value("ome.io/v1beta1")},
                                  {"kind", json::Value(kind)},
                                  {"metadata", json::Value(std::move(md))},
                                  {"spec", std::move(spec)}});
}

json::Value hf_spec() {
  return json::parse(R"({"modelFormat":{"name":"safetensors"},"storage":{"storageUri":"hf://org/tiny"}})");
}

controller::NodeReport report(const std::string& node, agent::NodeModelState st, json::Value config = {},
                              std::string message = {}) {
  controller::NodeReport r;
  r.node = node;
  r.entry.name = "m";
  r.entry.state = st;
  r.entry.config = std::move(config);
  r.entry.message = std::move(message);
  return r;
}

const controller::Condition* cond(const controller::Plan& p, const std::string& type) {
  for (auto& c : p.conditions)
    if (c.type == type)
      return &c;
  return nullptr;
}

}  // namespace

TEST_CASE("node label and ConfigMap keys follow OME's naming and stay within limits", "[model-reports]") {
  agent::ModelRef cbm{"ClusterBaseModel", "", "llama-3-1-70b"};
  agent::ModelRef bm{"BaseModel", "team-a", "qwen"};
  CHECK(agent::node_label_key(cbm) == "models.ome.io/clusterbasemodel.llama-3-1-70b");
  CHECK(agent::node_label_key(bm) == "models.ome.io/team-a.basemodel.qwen");
  CHECK(agent::configmap_key(cbm) == "clusterbasemodel.llama-3-1-70b");
  CHECK(agent::configmap_key(bm) == "team-a.basemodel.qwen");

  // Long names: the part after the prefix fits a label name (63), two names with one tail differ.
  std::string tail(60, 'x');
  agent::ModelRef a{"ClusterBaseModel", "", "aaaa-" + tail}, b{"ClusterBaseModel", "", "bbbb-" + tail};
  auto ka = agent::node_label_key(a), kb = agent::node_label_key(b);
  CHECK(ka.size() - std::string("models.ome.io/").size() <= 63);
  CHECK(ka != kb);
  CHECK(ka.find("xxxx") != std::string::npos);
  // Both namespace and name long: the namespace keeps at least 8 characters.
  agent::ModelRef c{"BaseModel", std::string(60, 'n'), std::string(60, 'm')};
  auto kc = agent::node_label_key(c);
  CHECK(kc.size() - std::string("models.ome.io/").size() <= 63);
  CHECK(kc.find(".basemodel.") != std::string::npos);
  CHECK(kc.find(".basemodel.") - std::string("models.ome.io/").size() >= 8);
  // The ConfigMap key allows 253.
  CHECK(agent::configmap_key(c) == std::string(60, 'n') + ".basemodel." + std::string(60, 'm'));
}

TEST_CASE("a report entry round-trips in OME's JSON shape and rejects garbage", "[model-reports]") {
  agent::ModelEntry e;
  e.name = "tiny";
  e.state = agent::NodeModelState::Updating;
  e.progress = agent::Progress{"Downloading", 1000, 250, 4, 1, 50.0, "2026-11-28T10:00:00Z"};
  auto v = agent::entry_to_json(e);
  CHECK(v.string_or("status") == "Updating");
  CHECK(v.at_path("progress.completedBytes")->as_int() == 250);
  auto back = agent::entry_from_json(v);
  REQUIRE(back);
  CHECK(back->state == agent::NodeModelState::Updating);
  CHECK(back->progress->total_bytes == 1000);
  // An entry OME's own agent wrote (no message, config present) is understood.
  auto ome = json::parse(R"({"name":"m","status":"Ready","config":{"modelType":"llama","maxTokens":131072}})");
  auto parsed = agent::entry_from_json(ome);
  REQUIRE(parsed);
  CHECK(parsed->state == agent::NodeModelState::Ready);
  CHECK(parsed->config.int_at("maxTokens") == 131072);
  CHECK_FALSE(agent::entry_from_json(json::parse(R"({"status":"Exploded"})")));
  CHECK_FALSE(agent::entry_from_json(json::parse(R"([1,2])")));
}

TEST_CASE("facts become OME's config object with the exact count beside the human size", "[model-reports]") {
  model::ModelFacts f;
  f.model_type = "llama";
  f.architecture = "LlamaForCausalLM";
  f.parameter_count = 70553706496ull;
  f.parameter_source = model::CountSource::Formula;
  f.format = "safetensors";
  f.format_version = "1.0.0";
  f.framework = "transformers";
  f.framework_version = "4.43.0";
  f.context_length = 131072;
  f.capabilities = {"TEXT_TO_TEXT"};
  f.quantization = "fp8";
  auto c = agent::facts_to_config(f, "abc123", "/models/x");
  CHECK(c.string_or("modelParameterSize") == "70.55B");
  CHECK(c.int_at("parameterCount") == 70553706496LL);
  CHECK(c.at_path("modelFormat.name")->as_string() == "safetensors");
  CHECK(c.at_path("modelFramework.version")->as_string() == "4.43.0");
  CHECK(c.int_at("maxTokens") == 131072);
  CHECK(c.at_path("artifact.sha")->as_string() == "abc123");
  CHECK(c.string_or("quantization") == "fp8");
}

TEST_CASE("storage.nodeSelector and required node affinity decide which nodes fetch a model", "[model-reports]") {
  auto node = json::parse(R"({"metadata":{"name":"gpu-1","labels":{"nvidia.com/gpu.product":"NVIDIA-H100-80GB-HBM3",
    "nvidia.com/gpu.count":"8","zone":"a"}}})");
  auto with = [&](const char* storage) {
    return make_model("ClusterBaseModel", "", "m", json::parse(std::string(R"({"storage":)") + storage + "}"));
  };
  CHECK(agent::storage_targets_node(with(R"({"storageUri":"hf://a/b"})"), node));
  CHECK(agent::storage_targets_node(with(R"({"nodeSelector":{"zone":"a"}})"), node));
  CHECK_FALSE(agent::storage_targets_node(with(R"({"nodeSelector":{"zone":"b"}})"), node));
  CHECK(agent::storage_targets_node(with(R"({"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
    {"nodeSelectorTerms":[{"matchExpressions":[{"key":"nvidia.com/gpu.count","operator":"Gt","values":["4"]}]}]}}})"),
                                    node));
  CHECK_FALSE(agent::storage_targets_node(with(R"({"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
    {"nodeSelectorTerms":[{"matchExpressions":[{"key":"nvidia.com/gpu.product","operator":"In","values":["L4"]}]}]}}})"),
                                          node));
  // Terms are ORed; matchFields knows metadata.name.
  CHECK(agent::storage_targets_node(with(R"({"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":
    {"nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"In","values":["z"]}]},
                          {"matchFields":[{"key":"metadata.name","operator":"In","values":["gpu-1"]}]}]}}})"),
                                    node));
}

TEST_CASE("the roll-up follows the reports: In_Transit, Ready, Failed, with reasons", "[model-reports]") {
  auto obj = make_model("ClusterBaseModel", "", "m", hf_spec());
  controller::Owned owned;
  controller::Input in{obj, owned};

  auto p = controller::model_plan(in, {});
  CHECK(p.status.find("state")->as_string() == "In_Transit");
  CHECK(cond(p, "Ready")->reason == "WaitingForNodes");

  auto downloading = report("n2", agent::NodeModelState::Updating);
  downloading.entry.progress = agent::Progress{"Downloading", 200, 50, 2, 0, 10, ""};
  p = controller::model_plan(in, {downloading});
  CHECK(p.status.find("state")->as_string() == "In_Transit");
  CHECK(cond(p, "Ready")->reason == "Downloading");
  CHECK(cond(p, "Ready")->message.find("25%") != std::string::npos);
  CHECK(p.status.find("progress")->int_at("totalBytes") == 200);
  CHECK(p.requeue_after.count() > 0);

  p = controller::model_plan(in, {report("n1", agent::NodeModelState::Failed, {}, "404 RepoNotFound: org/tiny")});
  CHECK(p.status.find("state")->as_string() == "Failed");
  CHECK(cond(p, "Ready")->reason == "DownloadFailed");
  CHECK(cond(p, "Ready")->message.find("RepoNotFound") != std::string::npos);
  REQUIRE(p.events.size() == 1);
  CHECK(p.events[0].reason == "DownloadFailed");

  auto config = json::parse(R"({"modelType":"phi3","modelArchitecture":"Phi3ForCausalLM","modelParameterSize":"3.82B",
    "maxTokens":4096,"modelCapabilities":["TEXT_TO_TEXT"],"modelFormat":{"name":"safetensors","version":"1.0.0"},
    "modelFramework":{"name":"transformers","version":"4.40.0"}})");
  p = controller::model_plan(in, {report("n3", agent::NodeModelState::Ready, config),
                                  report("n1", agent::NodeModelState::Failed, {}, "disk full"), downloading});
  CHECK(p.status.find("state")->as_string() == "Ready");
  CHECK(json::dump(*p.status.find("nodesReady")) == R"(["n3"])");
  CHECK(json::dump(*p.status.find("nodesFailed")) == R"(["n1"])");
  CHECK(cond(p, "Ready")->status == "True");
  // Facts fill only what the user left empty: modelFormat.name was given, its version was not.
  CHECK(p.spec_fill.find("modelType")->as_string() == "phi3");
  CHECK(p.spec_fill.find("maxTokens")->as_int() == 4096);
  CHECK(json::dump(*p.spec_fill.find("modelFormat")) == R"({"version":"1.0.0"})");
  auto steps = controller::steps_for(obj, p, owned, std::chrono::system_clock::now());
  // The finalizer comes first, alone.
  REQUIRE(!steps.empty());
  CHECK(steps[0].op == controller::StepOp::AddFinalizer);
}

TEST_CASE("the user's spec values win and a filled spec is patched alone, guarded by resourceVersion", "[model-reports]") {
  auto spec = hf_spec();
  spec["modelType"] = "mine";
  spec["maxTokens"] = 2048;
  auto obj = make_model("BaseModel", "ns", "m", spec);
  obj["metadata"]["finalizers"] = json::Value(json::Array{json::Value("ome.io/finalizer")});
  auto config = json::parse(R"({"modelType":"phi3","maxTokens":4096,"modelArchitecture":"Phi3ForCausalLM"})");
  auto fill = controller::spec_fill_from(obj, config);
  CHECK_FALSE(fill.contains("modelType"));
  CHECK_FALSE(fill.contains("maxTokens"));
  CHECK(fill.find("modelArchitecture")->as_string() == "Phi3ForCausalLM");

  controller::Owned owned;
  auto p = controller::model_plan(controller::Input{obj, owned}, {report("n1", agent::NodeModelState::Ready, config)});
  auto steps = controller::steps_for(obj, p, owned, std::chrono::system_clock::now());
  REQUIRE(steps.size() >= 1);
  CHECK(steps[0].op == controller::StepOp::PatchSpec);
  CHECK(steps[0].body.at_path("metadata.resourceVersion")->as_string() == "7");
  CHECK(steps[0].body.at_path("spec.modelArchitecture")->as_string() == "Phi3ForCausalLM");
  for (auto& s : steps)
    CHECK(s.op != controller::StepOp::Status);  // status waits for the patched object

  // Once filled, the status follows.
  obj["spec"]["modelArchitecture"] = "Phi3ForCausalLM";
  p = controller::model_plan(controller::Input{obj, owned}, {report("n1", agent::NodeModelState::Ready, config)});
  CHECK(p.spec_fill.empty());
  steps = controller::steps_for(obj, p, owned, std::chrono::system_clock::now());
  REQUIRE(!steps.empty());
  CHECK(steps[0].op == controller::StepOp::Status);
  CHECK(steps[0].body.string_or("state") == "Ready");
}

TEST_CASE("a deleting model keeps its finalizer until every node removed it", "[model-reports]") {
  auto obj = make_model("ClusterBaseModel", "", "m", hf_spec());
  obj["metadata"]["finalizers"] = json::Value(json::Array{json::Value("ome.io/finalizer")});
  obj["metadata"]["deletionTimestamp"] = "2026-11-28T10:00:00Z";
  controller::Owned owned;
  auto p = controller::model_plan(controller::Input{obj, owned}, {report("n1", agent::NodeModelState::Ready)});
  CHECK_FALSE(p.cleanup_done);
  CHECK(controller::steps_for(obj, p, owned, std::chrono::system_clock::now()).empty());
  p = controller::model_plan(controller::Input{obj, owned}, {report("n1", agent::NodeModelState::Deleted)});
  CHECK(p.cleanup_done);
  auto steps = controller::steps_for(obj, p, owned, std::chrono::system_clock::now());
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].op == controller::StepOp::RemoveFinalizer);
}

TEST_CASE("vendor models are Ready without any node", "[model-reports]") {
  auto obj = make_model("ClusterBaseModel", "", "m",
                   json::parse(R"({"modelFormat":{"name":"safetensors"},"storage":{"storageUri":"vendor://oci/model/x"}})"));
  controller::Owned owned;
  auto p = controller::model_plan(controller::Input{obj, owned}, {});
  CHECK(p.status.find("state")->as_string() == "Ready");
  CHECK(cond(p, "Ready")->reason == "VendorModel");
}

TEST_CASE("the report index tells which models changed and who reads them", "[model-reports]") {
  controller::ModelReports idx;
  auto cm = [](const std::string& node, json::Object data) {
    return json::Value(json::Object{{"metadata", json::Value(json::Object{{"name", json::Value(node)},
                                                                          {"labels", json::Value(json::Object{{"node", json::Value(node)}})}})},
                                    {"data", json::Value(std::move(data))}});
  };
  std::string ready = R"({"name":"a","status":"Ready"})", failed = R"({"name":"a","status":"Failed","message":"x"})";
  idx.subscribe("clusterbasemodel.a", "ClusterBaseModel", "a");
  auto changed = idx.update("n1", cm("n1", json::Object{{"clusterbasemodel.a", json::Value(ready)}}));
  CHECK(changed == std::vector<std::string>{"clusterbasemodel.a"});
  CHECK(idx.subscribers(changed) == std::vector<std::pair<std::string, std::string>>{{"ClusterBaseModel", "a"}});
  CHECK(idx.update("n1", cm("n1", json::Object{{"clusterbasemodel.a", json::Value(ready)}})).empty());
  idx.update("n2", cm("n2", json::Object{{"clusterbasemodel.a", json::Value(failed)},
                                          {"clusterbasemodel.b", json::Value("not json")}}));
  auto reps = idx.reports_for("clusterbasemodel.a");
  REQUIRE(reps.size() == 2);
  CHECK(reps[0].node == "n1");
  CHECK(reps[1].entry.state == agent::NodeModelState::Failed);
  CHECK(idx.reports_for("clusterbasemodel.b").empty());  // garbled entries are no report
  CHECK(idx.remove_node("n2").size() == 2);
  CHECK(idx.reports_for("clusterbasemodel.a").size() == 1);
  idx.unsubscribe("ClusterBaseModel", "a");
  CHECK(idx.subscribers({"clusterbasemodel.a"}).empty());
}
