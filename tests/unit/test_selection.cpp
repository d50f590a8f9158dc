// Runtime selection against OME's rules (reference ome.md §3.2): each compatibility rule both
// ways, scoring and its defaults, ranking and tie-breakers, explanations, and the catalog.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "omed/common/json.hpp"
#include "omed/common/yaml.hpp"
#include "omed/selection/runtime_catalog.hpp"
#include "omed/selection/runtime_selector.hpp"

using namespace omed;
using namespace omed::selection;

namespace {

// Facts the model agent takes from a real Hugging Face config.json.
struct HfFacts {
  std::string architecture, transformers_version, quantization;
};

HfFacts hf_config(const std::string& file) {
  const char* shared = std::getenv("OMED_SHARED_DIR");
  std::string dir = shared ? shared : std::string(OMED_SOURCE_ROOT) + "/../shared";
  std::ifstream in(dir + "/testdata/hf-configs/" + file);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  json::Value cfg = json::parse(ss.str(), {.max_depth = 256, .allow_nan_inf = true});
  HfFacts f;
  f.architecture = cfg.get("architectures")->as_array().at(0).as_string();
  f.transformers_version = cfg.string_or("transformers_version");
  if (const json::Value* q = cfg.get("quantization_config"))
    f.quantization = q->string_or("quant_method");
  return f;
}

// A ClusterBaseModel as the controller fills it from the agent's report.
json::Value model_object(const std::string& name, const HfFacts& hf, const std::string& size) {
  std::string y = "apiVersion: ome.io/v1beta1\nkind: ClusterBaseModel\nmetadata: {name: " + name + "}\n"
                  "spec:\n  modelFormat: {name: safetensors, version: \"1.0.0\"}\n"
                  "  modelFramework: {name: transformers, version: \"" + hf.transformers_version + "\"}\n"
                  "  modelArchitecture: " + hf.architecture + "\n";
  if (!size.empty())
    y += "  modelParameterSize: " + size + "\n";
  if (!hf.quantization.empty())
    y += "  quantization: " + hf.quantization + "\n";
  y += "  storage: {storageUri: \"hf://org/" + name + "\"}\n";
  return yaml::parse_one(y);
}

ModelFacts model(const std::string& name, const HfFacts& hf, const std::string& size) {
  return ModelFacts::from_object(model_object(name, hf, size));
}

struct Rt {
  std::string name{}, arch{}, tv = "4.42.3";
  std::string min = "7B", max = "9B";
  std::string auto_select = "true";
  int priority = 1;
  std::string kind = "ClusterServingRuntime", ns{};
  std::string extra_format{};  // appended YAML inside the format entry
  std::string extra_spec{};    // appended YAML inside spec
  bool weights = true;       // the CRD's default weight: 1 (as the API server stores it)
};

// Shaped like config/runtimes/srt/meta/llama-3-1-8b-instruct-rt.yaml, after API-server defaulting.
std::string runtime_yaml(const Rt& r) {
  std::string w = r.weights ? ", weight: 1" : "";
  std::string y = "apiVersion: ome.io/v1beta1\nkind: " + r.kind + "\nmetadata:\n  name: " + r.name + "\n";
  if (!r.ns.empty())
    y += "  namespace: " + r.ns + "\n";
  y += "  resourceVersion: \"1\"\n"
       "spec:\n  disabled: false\n  supportedModelFormats:\n"
       "    - modelFramework: {name: transformers, version: \"" + r.tv + "\"" + w + "}\n"
       "      modelFormat: {name: safetensors, version: \"1.0.0\"" + w + "}\n";
  if (!r.arch.empty())
    y += "      modelArchitecture: " + r.arch + "\n";
  y += "      autoSelect: " + r.auto_select + "\n      priority: " + std::to_string(r.priority) +
       "\n      version: \"1.0.0\"\n" + r.extra_format;
  y += "  protocolVersions: [openAI]\n";
  if (!r.min.empty() || !r.max.empty()) {
    y += "  modelSizeRange: {";
    if (!r.min.empty())
      y += "min: " + r.min + (r.max.empty() ? "" : ", ");
    if (!r.max.empty())
      y += "max: " + r.max;
    y += "}\n";
  }
  y += r.extra_spec;
  y += "  engineConfig:\n    runner:\n      name: ome-container\n"
       "      image: docker.io/lmsysorg/sglang:v0.5.5.post3-cu129-amd64\n"
       "      command: [python3, -m, sglang.launch_server, --model-path, $(MODEL_PATH)]\n"
       "      resources: {requests: {nvidia.com/gpu: 1}, limits: {nvidia.com/gpu: 1}}\n";
  return y;
}

RuntimeEntry runtime(const Rt& r) { return RuntimeEntry::from_object(yaml::parse_one(runtime_yaml(r))); }

Selection select(const ModelFacts& m, const std::vector<const RuntimeEntry*>& ns,
                 const std::vector<const RuntimeEntry*>& cl, const Requirements& req = {}) {
  return select_runtime(m, req, ns, cl);
}

const Candidate* candidate(const Selection& s, const std::string& name) {
  for (const Candidate& c : s.candidates)
    if (c.name == name)
      return &c;
  return nullptr;
}

const HfFacts& llama() {
  static const HfFacts f = hf_config("llama3_1.json");
  return f;
}
const HfFacts& qwen() {
  static const HfFacts f = hf_config("qwen2.5_7b.json");
  return f;
}

}  // namespace

// ----------------------------------------------------------------- sizes and versions

TEST_CASE("model sizes parse with T/B/M/K suffixes and unparsable text is nullopt", "[selection]") {
  CHECK(parse_model_size("7B") == 7e9);
  CHECK(*parse_model_size("8.03B") == Approx(8.03e9));
  CHECK(parse_model_size("1.5T") == 1.5e12);
  CHECK(parse_model_size("500M") == 5e8);
  CHECK(parse_model_size("1200") == 1200);
  CHECK(parse_model_size(" 70B ") == 7e10);
  CHECK_FALSE(parse_model_size(""));
  CHECK_FALSE(parse_model_size("huge"));
  CHECK_FALSE(parse_model_size("B"));
  CHECK_FALSE(parse_model_size("-7B"));
  CHECK_FALSE(parse_model_size("7BB"));
  CHECK(format_model_size(70553706496) == "70.55B");
  CHECK(format_model_size(7e9) == "7B");
  CHECK(format_model_size(1.5e12) == "1.5T");
  CHECK(format_model_size(106820) == "106.82K");
  CHECK(format_model_size(999) == "999");
}

TEST_CASE("versions parse with precision, v prefix, dev, pre-release and build parts", "[selection]") {
  auto v = FormatVersion::parse("4.50.0.dev0");
  REQUIRE(v);
  CHECK(v->precision == 3);
  CHECK(v->minor == 50);
  CHECK(v->dev == "dev0");
  CHECK(v->unofficial());
  auto w = FormatVersion::parse("v2.1-rc1+build7");
  REQUIRE(w);
  CHECK(w->v_prefix);
  CHECK(w->precision == 2);
  CHECK(w->pre == "rc1");
  CHECK(w->build == "build7");
  CHECK_FALSE(FormatVersion::parse(""));
  CHECK_FALSE(FormatVersion::parse("1..2"));
  CHECK_FALSE(FormatVersion::parse("1.2.3.4"));
  CHECK_FALSE(FormatVersion::parse("latest"));
}

TEST_CASE("version_ok follows OME's operators: runtime compared against model", "[selection]") {
  SECTION("Equal (and the empty default)") {
    CHECK(version_ok("4.42.3", "", "4.42.3"));
    CHECK(version_ok("4.42.3", "Equal", "4.42.3"));
    CHECK_FALSE(version_ok("4.42.3", "", "4.40.1"));
    CHECK(version_ok("1.0", "Equal", "1.0.0"));  // missing parts are zero
  }
  SECTION("GreaterThan: the runtime's version is newer than the model's") {
    CHECK(version_ok("4.45.0", "GreaterThan", "4.42.3"));
    CHECK_FALSE(version_ok("4.42.3", "GreaterThan", "4.42.3"));
    CHECK_FALSE(version_ok("4.40.0", "GreaterThan", "4.42.3"));
  }
  SECTION("GreaterThanOrEqual") {
    CHECK(version_ok("4.42.3", "GreaterThanOrEqual", "4.42.3"));
    CHECK(version_ok("5.0.0", "GreaterThanOrEqual", "4.42.3"));
    CHECK_FALSE(version_ok("4.0.0", "GreaterThanOrEqual", "4.42.3"));
  }
  SECTION("precision and v prefix must agree for the ordering operators") {
    CHECK_FALSE(version_ok("5.0", "GreaterThan", "4.42.3"));
    CHECK_FALSE(version_ok("v5.0.0", "GreaterThanOrEqual", "4.42.3"));
    CHECK(version_ok("v5.0.0", "GreaterThanOrEqual", "v4.42.3"));
  }
  SECTION("unofficial versions only ever match exactly, whatever the operator") {
    CHECK(version_ok("0.34.0.dev0", "GreaterThan", "0.34.0.dev0"));
    CHECK_FALSE(version_ok("4.51.0.dev0", "GreaterThanOrEqual", "4.50.0"));
    CHECK_FALSE(version_ok("4.51.0", "GreaterThanOrEqual", "4.50.0.dev0"));
    CHECK_FALSE(version_ok("4.50.0.dev0", "", "4.50.0"));
    CHECK_FALSE(version_ok("1.0.0-rc1", "Equal", "1.0.0"));
  }
  SECTION("unknown operators and unparsable versions") {
    CHECK_FALSE(version_ok("4.42.3", "LessThan", "4.42.3"));
    CHECK(version_ok("latest", "", "latest"));
    CHECK_FALSE(version_ok("latest", "GreaterThan", "latest"));
  }
}

// ----------------------------------------------------------------- parsing

TEST_CASE("objects parse into facts, requirements and entries", "[selection]") {
  ModelFacts m = model("llama-3-1-8b", llama(), "8.03B");
  CHECK(m.name == "llama-3-1-8b");
  CHECK(m.format == "safetensors");
  CHECK(m.format_version == "1.0.0");
  CHECK(m.has_framework);
  CHECK(m.framework_version == "4.42.3");
  CHECK(m.architecture == "LlamaForCausalLM");
  CHECK(*m.size == Approx(8.03e9));

  RuntimeEntry e = runtime({.name = "srt-llama-3-1-8b-instruct", .arch = "LlamaForCausalLM"});
  CHECK(e.kind == "ClusterServingRuntime");
  CHECK(e.cluster());
  CHECK(e.key() == "ClusterServingRuntime/srt-llama-3-1-8b-instruct");
  CHECK(e.resource_version == "1");
  REQUIRE(e.formats.size() == 1);
  CHECK(e.formats[0].format_weight == 1);
  CHECK(e.formats[0].auto_select == true);
  CHECK(e.protocol_versions == std::vector<std::string>{"openAI"});
  CHECK(e.size_min == 7e9);
  CHECK(e.size_max == 9e9);

  // List items may come without kind: a namespace means ServingRuntime.
  json::Value item = yaml::parse_one("metadata: {name: mine, namespace: team-a}\nspec: {}\n");
  RuntimeEntry n = RuntimeEntry::from_object(item);
  CHECK(n.kind == "ServingRuntime");
  CHECK(n.key() == "ServingRuntime/team-a/mine");

  json::Value isvc = yaml::parse_one(R"(
metadata:
  name: chat
  namespace: team-a
  annotations: {ome.io/accelerator-class: nvidia-h100-80gb}
spec:
  acceleratorSelector: {acceleratorClass: nvidia-h100-80gb}
  engine: {acceleratorOverride: {acceleratorClass: nvidia-a100-80gb}}
  decoder: {acceleratorOverride: {acceleratorClass: ""}}
)");
  Requirements r = Requirements::from_isvc(isvc);
  CHECK(r.isvc_namespace == "team-a");
  CHECK(r.accelerator_classes == std::vector<std::string>{"nvidia-h100-80gb", "nvidia-a100-80gb"});
}

// ----------------------------------------------------------------- scoring

TEST_CASE("the worked example: CRD weights 1 give score 2, priority 2 gives 4", "[selection]") {
  ModelFacts m = model("llama-3-1-8b", llama(), "8.03B");
  RuntimeEntry p1 = runtime({.name = "srt-p1", .arch = "LlamaForCausalLM"});
  RuntimeEntry p2 = runtime({.name = "srt-p2", .arch = "LlamaForCausalLM", .priority = 2});
  Selection s = select(m, {}, {&p1, &p2});
  REQUIRE(s.chosen == &p2);
  CHECK(s.candidates[0].score == 4);
  CHECK(s.candidates[0].verdict == Verdict::Selected);
  CHECK(s.candidates[0].reason == "score 4 (safetensors x1 + transformers x1, priority 2)");
  CHECK(s.candidates[1].score == 2);
  CHECK(s.candidates[1].verdict == Verdict::Ranked);
  CHECK(s.candidates[1].reason == "score 2 (safetensors x1 + transformers x1, priority 1)");
  CHECK(s.format_index == 0);
  CHECK(s.error.empty());
}

TEST_CASE("weights of 0 fall back to OME's 10 and 5", "[selection]") {
  ModelFacts m = model("llama-3-1-8b", llama(), "8.03B");
  RuntimeEntry e = runtime({.name = "srt-unweighted", .arch = "LlamaForCausalLM", .priority = 2, .weights = false});
  Selection s = select(m, {}, {&e});
  REQUIRE(s.chosen == &e);
  CHECK(s.candidates[0].score == 30);  // (10 + 5) x 2
  CHECK(s.candidates[0].reason == "score 30 (safetensors x10 + transformers x5, priority 2)");
}

TEST_CASE("entries with autoSelect: false are left out of scoring", "[selection]") {
  ModelFacts m = model("llama-3-1-8b", llama(), "8.03B");
  SECTION("a matching autoSelect: false entry with a high priority does not raise the score") {
    Rt r{.name = "srt-two-entries", .arch = "LlamaForCausalLM"};
    r.extra_format = "    - modelFramework: {name: transformers, version: \"4.42.3\", weight: 1}\n"
                     "      modelFormat: {name: safetensors, version: \"1.0.0\", weight: 1}\n"
                     "      modelArchitecture: LlamaForCausalLM\n      autoSelect: false\n      priority: 5\n";
    RuntimeEntry e = runtime(r);
    REQUIRE(e.formats.size() == 2);
    Selection s = select(m, {}, {&e});
    REQUIRE(s.chosen == &e);
    CHECK(s.candidates[0].score == 2);
  }
  SECTION("compatible through an autoSelect: false entry only: score 0") {
    Rt r{.name = "srt-zero", .arch = "LlamaForCausalLM", .auto_select = "false"};
    r.extra_format = "    - modelFormat: {name: gguf, version: \"3\", weight: 1}\n"
                     "      modelArchitecture: LlamaForCausalLM\n      autoSelect: true\n";
    RuntimeEntry e = runtime(r);
    Selection s = select(m, {}, {&e});
    CHECK_FALSE(s.chosen);
    REQUIRE(candidate(s, "srt-zero"));
    CHECK(candidate(s, "srt-zero")->verdict == Verdict::ZeroScore);
    CHECK(candidate(s, "srt-zero")->reason.find("score 0") == 0);
  }
  SECTION("no entry with autoSelect: true: compatible but not auto-selectable") {
    RuntimeEntry e = runtime({.name = "srt-llama-3-1-8b-instruct", .arch = "LlamaForCausalLM", .auto_select = "false"});
    Selection s = select(m, {}, {&e});
    CHECK_FALSE(s.chosen);
    CHECK(s.candidates.at(0).verdict == Verdict::NotAutoSelect);
    CHECK(s.candidates.at(0).reason == "no format has autoSelect: true");
    // OME leaves such runtimes out of "Excluded runtimes"; omed says why they were not used.
    CHECK(s.error.find("srt-llama-3-1-8b-instruct (no format has autoSelect: true)") != std::string::npos);
  }
}

// ----------------------------------------------------------------- compatibility, both ways

TEST_CASE("architecture: both or neither, and equal", "[selection]") {
  ModelFacts m = model("llama-3-1-8b", llama(), "8.03B");
  ModelFacts q = model("qwen2-5-7b", qwen(), "7.62B");
  RuntimeEntry lr = runtime({.name = "srt-llama", .arch = "LlamaForCausalLM", .tv = qwen().transformers_version});
  RuntimeEntry qr = runtime({.name = "srt-qwen", .arch = "Qwen2ForCausalLM", .tv = llama().transformers_version});
  RuntimeEntry none = runtime({.name = "srt-any", .arch = ""});

  Selection s = select(m, {}, {&qr});
  CHECK(s.candidates.at(0).reason ==
        "format safetensors 1.0.0 not supported: architecture mismatch (model=LlamaForCausalLM, runtime=Qwen2ForCausalLM)");
  Selection t = select(q, {}, {&lr});
  CHECK(t.candidates.at(0).reason.find("architecture mismatch (model=Qwen2ForCausalLM, runtime=LlamaForCausalLM)") !=
        std::string::npos);
  // A runtime without an architecture cannot serve a model with one ...
  Selection u = select(m, {}, {&none});
  CHECK(u.candidates.at(0).verdict == Verdict::Incompatible);
  CHECK(u.candidates.at(0).reason.find(
            "model has architecture LlamaForCausalLM but runtime has no architecture requirement") != std::string::npos);
  // ... and a model without one cannot use a runtime that names one.
  ModelFacts bare = m;
  bare.architecture.clear();
  Selection v = select(bare, {}, {&lr});
  CHECK(v.candidates.at(0).reason.find("model has no architecture but runtime requires LlamaForCausalLM") !=
        std::string::npos);
  Selection w = select(bare, {}, {&none});
  CHECK(w.chosen == &none);
}

TEST_CASE("quantization: both or neither, and equal", "[selection]") {
  HfFacts fp8 = hf_config("qwen3_8b_fp8.json");
  REQUIRE(fp8.quantization == "fp8");
  ModelFacts m = model("qwen3-8b-fp8", fp8, "8.19B");
  Rt plain{.name = "srt-qwen3", .arch = fp8.architecture, .tv = fp8.transformers_version};
  Rt quant = plain;
  quant.name = "srt-qwen3-fp8";
  quant.extra_format = "      quantization: fp8\n";
  Rt int4 = plain;
  int4.name = "srt-qwen3-int4";
  int4.extra_format = "      quantization: int4\n";
  RuntimeEntry a = runtime(plain), b = runtime(quant), c = runtime(int4);
  Selection s = select(m, {}, {&a, &b, &c});
  REQUIRE(s.chosen == &b);
  CHECK(candidate(s, "srt-qwen3")->reason.find("model has quantization fp8 but runtime has no quantization requirement") !=
        std::string::npos);
  CHECK(candidate(s, "srt-qwen3-int4")->reason.find("quantization mismatch (model=fp8, runtime=int4)") !=
        std::string::npos);
  ModelFacts unq = m;
  unq.quantization.clear();
  Selection t = select(unq, {}, {&a, &b});
  CHECK(t.chosen == &a);
  CHECK(candidate(t, "srt-qwen3-fp8")->reason.find("model has no quantization but runtime requires fp8") !=
        std::string::npos);
}

TEST_CASE("format name, format version and framework: equal, or absent on both sides", "[selection]") {
  ModelFacts m = model("llama-3-1-8b", llama(), "8.03B");
  RuntimeEntry base = runtime({.name = "srt", .arch = "LlamaForCausalLM"});
  SECTION("format name") {
    ModelFacts g = m;
    g.format = "gguf";
    Selection s = select(g, {}, {&base});
    CHECK(s.candidates.at(0).reason.find("format name mismatch (model=gguf, runtime=safetensors)") != std::string::npos);
  }
  SECTION("format version set on one side only, either side") {
    ModelFacts nv = m;
    nv.format_version.clear();
    CHECK(select(nv, {}, {&base}).candidates.at(0).reason.find(
              "model has no format version but runtime requires 1.0.0") != std::string::npos);
    RuntimeEntry rv = base;
    rv.formats[0].format_version.clear();
    CHECK(select(m, {}, {&rv}).candidates.at(0).reason.find(
              "model has format version 1.0.0 but runtime has no version requirement") != std::string::npos);
    ModelFacts both = nv;
    CHECK(select(both, {}, {&rv}).chosen == &rv);
  }
  SECTION("framework present on one side only, either side") {
    ModelFacts nf = m;
    nf.has_framework = false;
    CHECK(select(nf, {}, {&base}).candidates.at(0).reason.find(
              "model has no framework but runtime requires transformers") != std::string::npos);
    RuntimeEntry rf = base;
    rf.formats[0].has_framework = false;
    CHECK(select(m, {}, {&rf}).candidates.at(0).reason.find(
              "model has framework transformers but runtime has no framework requirement") != std::string::npos);
    // Neither has a framework: format weight alone scores.
    Selection s = select(nf, {}, {&rf});
    REQUIRE(s.chosen == &rf);
    CHECK(s.candidates[0].score == 1);
  }
  SECTION("framework version: the exact-match trap of ome#274, and an operator that avoids it") {
    ModelFacts q = model("qwen2-5-7b", qwen(), "7.62B");  // transformers 4.40.1
    RuntimeEntry eq = runtime({.name = "srt-qwen", .arch = "Qwen2ForCausalLM", .tv = "4.42.3"});
    Selection s = select(q, {}, {&eq});
    CHECK_FALSE(s.chosen);
    CHECK(s.candidates.at(0).reason.find("framework version mismatch (model=4.40.1, runtime=4.42.3)") !=
          std::string::npos);
    RuntimeEntry ge = eq;
    ge.formats[0].framework_operator = "GreaterThanOrEqual";
    CHECK(select(q, {}, {&ge}).chosen == &ge);
    RuntimeEntry old = ge;
    old.formats[0].framework_version = "4.39.0";
    CHECK(select(q, {}, {&old}).candidates.at(0).reason.find(
              "framework version mismatch (model=4.40.1, runtime=GreaterThanOrEqual 4.39.0)") != std::string::npos);
  }
  SECTION("every entry's reasons are listed") {
    Rt r{.name = "srt-multi", .arch = "MistralForCausalLM"};
    r.extra_format = "    - modelFormat: {name: gguf, weight: 1}\n      modelArchitecture: LlamaForCausalLM\n"
                     "      autoSelect: true\n";
    RuntimeEntry multi = runtime(r);
    Selection s = select(m, {}, {&multi});
    const std::string& why = s.candidates.at(0).reason;
    CHECK(why.find("architecture mismatch (model=LlamaForCausalLM, runtime=MistralForCausalLM)") != std::string::npos);
    CHECK(why.find("; format name mismatch (model=safetensors, runtime=gguf), model has framework transformers") !=
          std::string::npos);
  }
}

TEST_CASE("diffusion pipelines: class and required components", "[selection]") {
  json::Value mobj = yaml::parse_one(R"(
metadata: {name: qwen-image-edit}
spec:
  modelFormat: {name: diffusers, version: "0.34.0.dev0"}
  modelArchitecture: QwenImageEditPipeline
  diffusionPipeline:
    className: QwenImageEditPipeline
    scheduler: {library: diffusers, type: FlowMatchEulerDiscreteScheduler}
    transformer: {library: diffusers, type: QwenImageTransformer2DModel}
)");
  ModelFacts m = ModelFacts::from_object(mobj);
  auto rt = [](const std::string& name, const std::string& pipeline) {
    return RuntimeEntry::from_object(yaml::parse_one(
        "kind: ClusterServingRuntime\nmetadata: {name: " + name + "}\nspec:\n  supportedModelFormats:\n"
        "    - modelFormat: {name: diffusers, version: \"0.34.0.dev0\", weight: 1}\n"
        "      modelArchitecture: QwenImageEditPipeline\n      autoSelect: true\n      priority: 1\n" + pipeline));
  };
  RuntimeEntry ok = rt("srt-qwen-image-edit", "      diffusionPipeline: {className: QwenImageEditPipeline, "
                                              "scheduler: {library: diffusers}}\n");
  RuntimeEntry cls = rt("srt-other-class", "      diffusionPipeline: {className: QwenImageEditPlusPipeline}\n");
  RuntimeEntry comp = rt("srt-needs-vae", "      diffusionPipeline: {vae: {library: diffusers}}\n");
  RuntimeEntry typ = rt("srt-other-scheduler", "      diffusionPipeline: {scheduler: {type: DDIMScheduler}}\n");
  Selection s = select(m, {}, {&cls, &comp, &ok, &typ});
  REQUIRE(s.chosen == &ok);
  CHECK(candidate(s, "srt-other-class")->reason.find(
            "pipeline class mismatch (model=QwenImageEditPipeline, runtime=QwenImageEditPlusPipeline)") !=
        std::string::npos);
  CHECK(candidate(s, "srt-needs-vae")->reason.find("component vae required by runtime but not specified in model") !=
        std::string::npos);
  CHECK(candidate(s, "srt-other-scheduler")->reason.find("component scheduler mismatch") != std::string::npos);
  ModelFacts no_pipeline = m;
  no_pipeline.diffusion_pipeline = nullptr;
  CHECK(select(no_pipeline, {}, {&ok}).candidates.at(0).reason.find("diffusion pipeline mismatch") != std::string::npos);
}

TEST_CASE("model size range: inside, outside, open bounds, unparsable", "[selection]") {
  ModelFacts big = model("llama-3-1-70b", llama(), "70.55B");
  ModelFacts small = model("llama-3-1-8b", llama(), "8.03B");
  RuntimeEntry r8 = runtime({.name = "srt-llama-3-1-8b", .arch = "LlamaForCausalLM"});
  Selection s = select(big, {}, {&r8});
  CHECK_FALSE(s.chosen);
  CHECK(s.candidates.at(0).reason == "size 70.55B outside 7B-9B");
  CHECK(select(small, {}, {&r8}).chosen == &r8);

  SECTION("a missing max is open (OME dereferences nil)") {
    RuntimeEntry open = runtime({.name = "srt-7b-up", .arch = "LlamaForCausalLM", .min = "7B", .max = ""});
    CHECK(open.has_size_range);
    CHECK_FALSE(open.size_max);
    CHECK(select(big, {}, {&open}).chosen == &open);
    ModelFacts tiny = model("tiny", llama(), "1B");
    CHECK(select(tiny, {}, {&open}).candidates.at(0).reason == "size 1B below minimum 7B");
  }
  SECTION("a missing min is open") {
    RuntimeEntry open = runtime({.name = "srt-up-to-9b", .arch = "LlamaForCausalLM", .min = "", .max = "9B"});
    CHECK(select(model("tiny", llama(), "1B"), {}, {&open}).chosen == &open);
    CHECK(select(big, {}, {&open}).candidates.at(0).reason == "size 70.55B above maximum 9B");
  }
  SECTION("unparsable sizes are reasons, not 0") {
    ModelFacts odd = model("odd", llama(), "huge");
    CHECK_FALSE(odd.size);
    Selection t = select(odd, {}, {&r8});
    CHECK_FALSE(t.chosen);
    CHECK(t.candidates.at(0).reason.find("model size 'huge' is not a size") == 0);
    RuntimeEntry bad = runtime({.name = "srt-bad", .arch = "LlamaForCausalLM", .min = "7B", .max = "lots"});
    CHECK(select(small, {}, {&bad}).candidates.at(0).reason == "runtime modelSizeRange.max 'lots' is not a size");
  }
  SECTION("a model without a size passes any range") {
    ModelFacts unsized = model("unsized", llama(), "");
    CHECK(select(unsized, {}, {&r8}).chosen == &r8);
  }
}

TEST_CASE("disabled runtimes and accelerator class requirements", "[selection]") {
  ModelFacts m = model("llama-3-1-8b", llama(), "8.03B");
  Rt d{.name = "srt-disabled", .arch = "LlamaForCausalLM"};
  RuntimeEntry off = runtime(d);
  off.disabled = true;
  Selection s = select(m, {}, {&off});
  CHECK_FALSE(s.chosen);
  CHECK(s.candidates.at(0).verdict == Verdict::Disabled);
  CHECK(s.candidates.at(0).reason == "disabled");

  Requirements req;
  req.accelerator_classes = {"nvidia-h100-80gb"};
  RuntimeEntry plain = runtime({.name = "srt-plain", .arch = "LlamaForCausalLM"});
  RuntimeEntry h100 = runtime({.name = "srt-h100", .arch = "LlamaForCausalLM",
                               .extra_spec = "  acceleratorRequirements: {acceleratorClasses: [nvidia-h100-80gb]}\n"});
  RuntimeEntry l4 = runtime({.name = "srt-l4", .arch = "LlamaForCausalLM",
                             .extra_spec = "  acceleratorRequirements: {acceleratorClasses: [nvidia-l4]}\n"});
  Selection t = select(m, {}, {&plain, &l4, &h100}, req);
  REQUIRE(t.chosen == &h100);
  CHECK(candidate(t, "srt-plain")->reason ==
        "requires accelerator class nvidia-h100-80gb but runtime lists no acceleratorClasses");
  CHECK(candidate(t, "srt-l4")->reason == "accelerator class nvidia-h100-80gb not in runtime's acceleratorClasses [nvidia-l4]");
  // Without a requirement, runtimes with or without classes are equal candidates.
  CHECK(select(m, {}, {&plain, &h100}).candidates.size() == 2);
  CHECK(select(m, {}, {&plain, &h100}).candidates[1].verdict == Verdict::Ranked);
}

// ----------------------------------------------------------------- ranking

TEST_CASE("ranking: namespaced before cluster, then score, size distance and name", "[selection]") {
  ModelFacts m = model("llama-3-1-8b", llama(), "8.03B");
  SECTION("any namespaced match beats a better cluster match") {
    RuntimeEntry mine = runtime({.name = "team-llama", .arch = "LlamaForCausalLM", .kind = "ServingRuntime", .ns = "team-a"});
    RuntimeEntry best = runtime({.name = "srt-llama", .arch = "LlamaForCausalLM", .priority = 5});
    Selection s = select(m, {&mine}, {&best});
    REQUIRE(s.chosen == &mine);
    CHECK(s.candidates[0].score == 2);
    CHECK(s.candidates[1].name == "srt-llama");
    CHECK(s.candidates[1].score == 10);
    CHECK(s.candidates[1].verdict == Verdict::Ranked);
  }
  SECTION("equal scores: the closer size range wins") {
    RuntimeEntry wide = runtime({.name = "a-wide", .arch = "LlamaForCausalLM", .min = "1B", .max = "70B"});
    RuntimeEntry tight = runtime({.name = "z-tight", .arch = "LlamaForCausalLM", .min = "7B", .max = "9B"});
    Selection s = select(m, {}, {&wide, &tight});
    REQUIRE(s.chosen == &tight);
    CHECK(s.candidates[0].size_distance == Approx(1.03e9 + 0.97e9));
    CHECK(s.candidates[1].size_distance == Approx(7.03e9 + 61.97e9));
  }
  SECTION("a runtime without a range counts as a perfect fit") {
    RuntimeEntry anysize = runtime({.name = "z-any", .arch = "LlamaForCausalLM", .min = "", .max = ""});
    RuntimeEntry tight = runtime({.name = "a-tight", .arch = "LlamaForCausalLM"});
    CHECK_FALSE(anysize.has_size_range);
    CHECK(select(m, {}, {&tight, &anysize}).chosen == &anysize);
  }
  SECTION("then by name, whatever the input order") {
    RuntimeEntry b = runtime({.name = "srt-b", .arch = "LlamaForCausalLM"});
    RuntimeEntry a = runtime({.name = "srt-a", .arch = "LlamaForCausalLM"});
    RuntimeEntry c = runtime({.name = "srt-c", .arch = "LlamaForCausalLM"});
    for (auto order : {std::vector<const RuntimeEntry*>{&b, &a, &c}, std::vector<const RuntimeEntry*>{&c, &b, &a}}) {
      Selection s = select(m, {}, order);
      REQUIRE(s.chosen == &a);
      CHECK(s.candidates[1].name == "srt-b");
      CHECK(s.candidates[2].name == "srt-c");
    }
  }
  SECTION("rejections follow the ranked ones, closest to working first") {
    RuntimeEntry ok = runtime({.name = "srt-ok", .arch = "LlamaForCausalLM"});
    RuntimeEntry off = runtime({.name = "srt-a-off", .arch = "LlamaForCausalLM"});
    off.disabled = true;
    RuntimeEntry manual = runtime({.name = "srt-manual", .arch = "LlamaForCausalLM", .auto_select = "false"});
    RuntimeEntry other = runtime({.name = "srt-b-qwen", .arch = "Qwen2ForCausalLM"});
    Selection s = select(m, {}, {&off, &other, &manual, &ok});
    REQUIRE(s.candidates.size() == 4);
    CHECK(s.candidates[0].name == "srt-ok");
    CHECK(s.candidates[1].verdict == Verdict::NotAutoSelect);
    CHECK(s.candidates[2].verdict == Verdict::Incompatible);
    CHECK(s.candidates[3].verdict == Verdict::Disabled);
  }
}

// ----------------------------------------------------------------- errors and summaries

TEST_CASE("a model without modelFormat.name is an invalid specification", "[selection]") {
  ModelFacts m = model("llama-3-1-8b", llama(), "8.03B");
  m.format.clear();
  RuntimeEntry r = runtime({.name = "srt", .arch = "LlamaForCausalLM"});
  Selection s = select(m, {}, {&r});
  CHECK_FALSE(s.chosen);
  CHECK(s.error == "invalid model specification: modelFormat.name: model format name is required");
  CHECK(s.summary() == s.error);
  CHECK(validate_runtime(m, {}, &r, "srt", "default").error == s.error);
}

TEST_CASE("no runtime: OME's error wording plus every runtime's reason", "[selection]") {
  ModelFacts m = model("llama-3-1-70b", llama(), "70.55B");
  RuntimeEntry mine = runtime({.name = "team-llama", .arch = "LlamaForCausalLM", .kind = "ServingRuntime", .ns = "team-a"});
  RuntimeEntry r8 = runtime({.name = "srt-llama-3-1-8b", .arch = "LlamaForCausalLM"});
  RuntimeEntry manual = runtime({.name = "srt-llama-3-1-70b", .arch = "LlamaForCausalLM", .min = "65B", .max = "75B",
                                 .auto_select = "false"});
  Requirements req;
  req.isvc_namespace = "team-a";
  Selection s = select_runtime(m, req, {&mine}, {&r8, &manual});
  CHECK_FALSE(s.chosen);
  CHECK(s.error ==
        "no runtime found to support model llama-3-1-70b with format safetensors in namespace team-a. "
        "Checked 3 runtimes (1 namespace-scoped, 2 cluster-scoped). Excluded runtimes: "
        "srt-llama-3-1-70b (no format has autoSelect: true); team-llama (size 70.55B outside 7B-9B); "
        "srt-llama-3-1-8b (size 70.55B outside 7B-9B)");
  CHECK(s.summary() ==
        "no runtime supports safetensors LlamaForCausalLM 70.55B: srt-llama-3-1-70b: no format has autoSelect: true; "
        "team-llama: size 70.55B outside 7B-9B; srt-llama-3-1-8b: size 70.55B outside 7B-9B");
  CHECK(select_runtime(m, req, {}, {}).error ==
        "no runtime found to support model llama-3-1-70b with format safetensors in namespace team-a. "
        "Checked 0 runtimes (0 namespace-scoped, 0 cluster-scoped)");
}

TEST_CASE("summaries are one bounded line", "[selection]") {
  ModelFacts m = model("llama-3-1-70b", llama(), "70.55B");
  std::vector<RuntimeEntry> many;
  for (int i = 0; i < 200; ++i)
    many.push_back(runtime({.name = "srt-llama-" + std::to_string(1000 + i), .arch = "LlamaForCausalLM"}));
  std::vector<const RuntimeEntry*> ptrs;
  for (const RuntimeEntry& e : many)
    ptrs.push_back(&e);
  Selection s = select(m, {}, ptrs);
  for (size_t limit : {size_t{120}, size_t{300}, size_t{1024}}) {
    std::string line = s.summary(limit);
    CHECK(line.size() <= limit);
    CHECK(line.find('\n') == std::string::npos);
    CHECK(line.find("no runtime supports safetensors LlamaForCausalLM 70.55B: srt-llama-1000: size 70.55B outside") == 0);
    CHECK(line.find(" more") == line.size() - 5);
  }
  // Count what the line says is missing plus what it shows: together all 200.
  std::string line = s.summary(300);
  size_t shown = 0;
  for (size_t p = line.find("srt-llama-"); p != std::string::npos; p = line.find("srt-llama-", p + 1))
    ++shown;
  size_t more = std::stoul(line.substr(line.rfind("and ") + 4));
  CHECK(shown + more == 200);

  ModelFacts small = model("llama-3-1-8b", llama(), "8.03B");
  RuntimeEntry x = runtime({.name = "srt-x", .arch = "LlamaForCausalLM", .priority = 2});
  RuntimeEntry y = runtime({.name = "srt-y", .arch = "LlamaForCausalLM"});
  RuntimeEntry z = runtime({.name = "srt-z", .arch = "Qwen2ForCausalLM"});
  Selection ok = select(small, {}, {&z, &y, &x});
  CHECK(ok.summary() == "selected ClusterServingRuntime srt-x (score 4); also ranked: srt-y (score 2); 1 rejected");
  CHECK(select(small, {}, {&x}).summary() == "selected ClusterServingRuntime srt-x (score 4)");
  CHECK(ok.summary(40).size() <= 40);
}

TEST_CASE("validate_runtime: not found, disabled, incompatible, and fine without autoSelect", "[selection]") {
  ModelFacts m = model("llama-3-1-8b", llama(), "8.03B");
  CHECK(validate_runtime(m, {}, nullptr, "srt-missing", "team-a").error ==
        "runtime srt-missing not found in namespace team-a or at cluster scope");

  RuntimeEntry off = runtime({.name = "srt-off", .arch = "LlamaForCausalLM"});
  off.disabled = true;
  CHECK(validate_runtime(m, {}, &off, "srt-off", "team-a").error == "cluster-scoped runtime srt-off is disabled");
  RuntimeEntry ns_off = runtime({.name = "team-off", .arch = "LlamaForCausalLM", .kind = "ServingRuntime", .ns = "team-a"});
  ns_off.disabled = true;
  CHECK(validate_runtime(m, {}, &ns_off, "team-off", "team-a").error == "namespace-scoped runtime team-off is disabled");

  RuntimeEntry qwen_rt = runtime({.name = "srt-qwen", .arch = "Qwen2ForCausalLM"});
  Selection bad = validate_runtime(m, {}, &qwen_rt, "srt-qwen", "team-a");
  CHECK_FALSE(bad.chosen);
  CHECK(bad.error == "runtime srt-qwen does not support model llama-3-1-8b: format safetensors 1.0.0 not supported: "
                     "architecture mismatch (model=LlamaForCausalLM, runtime=Qwen2ForCausalLM)");
  CHECK(bad.candidates.at(0).verdict == Verdict::Incompatible);

  RuntimeEntry manual = runtime({.name = "srt-llama-3-1-8b-instruct", .arch = "LlamaForCausalLM", .auto_select = "false"});
  Selection ok = validate_runtime(m, {}, &manual, manual.name, "team-a");
  REQUIRE(ok.chosen == &manual);
  CHECK(ok.error.empty());
  CHECK(ok.format_index == 0);
  CHECK(ok.candidates.at(0).verdict == Verdict::Selected);
  CHECK(ok.candidates.at(0).reason == "named by the InferenceService");
  CHECK(ok.summary().find("selected ClusterServingRuntime srt-llama-3-1-8b-instruct") == 0);
}

// ----------------------------------------------------------------- the catalog

TEST_CASE("catalog: put detects changes, remove, find prefers the namespace", "[selection]") {
  RuntimeCatalog cat;
  json::Value obj = yaml::parse_one(runtime_yaml({.name = "srt-llama", .arch = "LlamaForCausalLM"}));
  CHECK(cat.put(obj));
  CHECK_FALSE(cat.put(obj));  // same resourceVersion
  json::Value touched = obj;
  touched["metadata"]["resourceVersion"] = "2";
  touched["metadata"]["labels"] = json::Object{{"team", "x"}};
  CHECK_FALSE(cat.put(touched));  // metadata only: selection cannot change
  CHECK(cat.get("ClusterServingRuntime", "", "srt-llama")->resource_version == "2");
  json::Value edited = touched;
  edited["metadata"]["resourceVersion"] = "3";
  edited["spec"]["disabled"] = true;
  CHECK(cat.put(edited));
  CHECK(cat.get("ClusterServingRuntime", "", "srt-llama")->disabled);
  CHECK(cat.size() == 1);

  CHECK(cat.put(yaml::parse_one(runtime_yaml({.name = "srt-llama", .arch = "LlamaForCausalLM",
                                              .kind = "ServingRuntime", .ns = "team-a"}))));
  CHECK(cat.size() == 2);
  CHECK(cat.find("team-a", "srt-llama")->kind == "ServingRuntime");
  CHECK(cat.find("team-b", "srt-llama")->kind == "ClusterServingRuntime");
  CHECK_FALSE(cat.find("team-a", "nope"));
  CHECK(cat.remove("ServingRuntime", "team-a", "srt-llama"));
  CHECK_FALSE(cat.remove("ServingRuntime", "team-a", "srt-llama"));
  CHECK(cat.find("team-a", "srt-llama")->kind == "ClusterServingRuntime");
  CHECK(cat.snapshot().size() == 1);
}

TEST_CASE("catalog: select agrees with select_runtime, keeps entries alive, summarises the rest", "[selection]") {
  RuntimeCatalog cat;
  std::vector<RuntimeEntry> all;
  auto add = [&](const Rt& r) {
    cat.put(yaml::parse_one(runtime_yaml(r)));
    all.push_back(runtime(r));
  };
  add({.name = "srt-llama-3-1-8b", .arch = "LlamaForCausalLM"});
  add({.name = "srt-llama-3-1-70b", .arch = "LlamaForCausalLM", .min = "65B", .max = "75B"});
  add({.name = "srt-qwen2-5-7b", .arch = "Qwen2ForCausalLM", .tv = "4.40.1"});
  add({.name = "team-llama", .arch = "LlamaForCausalLM", .min = "1B", .max = "100B", .kind = "ServingRuntime", .ns = "team-a"});
  add({.name = "other-team", .arch = "LlamaForCausalLM", .kind = "ServingRuntime", .ns = "team-b"});
  cat.put(yaml::parse_one(
      "kind: ClusterServingRuntime\nmetadata: {name: llama-cpp}\nspec:\n  supportedModelFormats:\n"
      "    - {modelFormat: {name: gguf}, modelArchitecture: LlamaForCausalLM, autoSelect: true}\n"));

  ModelFacts m8 = model("llama-3-1-8b", llama(), "8.03B");
  Selection s = cat.select(m8, {}, "team-b");
  REQUIRE(s.chosen);
  CHECK(s.chosen->name == "other-team");
  CHECK(s.other_runtimes == 2);  // the Qwen runtime and the GGUF one were never evaluated
  Selection a = cat.select(m8, {}, "team-a");
  REQUIRE(a.chosen);
  CHECK(a.chosen->name == "team-llama");
  Selection c = cat.select(m8, {}, "elsewhere");
  REQUIRE(c.chosen);
  CHECK(c.chosen->name == "srt-llama-3-1-8b");
  CHECK(c.candidates.size() == 2);
  // The same choice as the naive path over every visible runtime.
  std::vector<const RuntimeEntry*> cluster;
  for (const RuntimeEntry& e : all)
    if (e.cluster())
      cluster.push_back(&e);
  CHECK(select_runtime(m8, {}, {}, cluster).chosen->name == c.chosen->name);

  // The selection owns what it points to, even after the catalog forgets the runtime.
  cat.remove("ClusterServingRuntime", "", "srt-llama-3-1-8b");
  CHECK(c.chosen->name == "srt-llama-3-1-8b");
  CHECK(c.chosen->formats.at(0).framework_version == "4.42.3");

  // Nothing serves this format and architecture: the runtimes sharing the format explain why.
  HfFacts mistral = hf_config("mistral.json");
  ModelFacts mm = model("mistral-7b", mistral, "7.24B");
  Selection none = cat.select(mm, {}, "elsewhere");
  CHECK_FALSE(none.chosen);
  REQUIRE(candidate(none, "srt-llama-3-1-70b"));
  CHECK(candidate(none, "srt-qwen2-5-7b")->reason.find("architecture mismatch (model=MistralForCausalLM") !=
        std::string::npos);
  CHECK_FALSE(candidate(none, "team-llama"));  // another namespace's runtime is invisible
  CHECK(none.other_runtimes == 1);            // llama-cpp serves gguf
  CHECK(none.error.find("Checked 3 runtimes (0 namespace-scoped, 3 cluster-scoped)") != std::string::npos);
  CHECK(none.error.find("1 other runtimes support other formats") != std::string::npos);
  CHECK(none.summary().find("1 other runtimes support other formats") != std::string::npos);

  Selection v = cat.validate(m8, {}, "team-a", "team-llama");
  REQUIRE(v.chosen);
  CHECK(v.keep.size() == 1);
  CHECK(cat.validate(m8, {}, "team-a", "ghost").error ==
        "runtime ghost not found in namespace team-a or at cluster scope");
}

TEST_CASE("catalog: put and remove name the InferenceServices to re-rank", "[selection]") {
  RuntimeCatalog cat;
  json::Value llama_rt = yaml::parse_one(runtime_yaml({.name = "srt-llama", .arch = "LlamaForCausalLM"}));
  cat.put(llama_rt);
  cat.subscribe("team-a/chat", "safetensors", "ClusterServingRuntime/srt-llama");
  cat.subscribe("team-a/waiting", "safetensors", "");
  cat.subscribe("team-b/gguf", "gguf", "ClusterServingRuntime/llama-cpp");

  // A new safetensors runtime may beat the current choice of both safetensors isvcs.
  auto c1 = cat.put(yaml::parse_one(runtime_yaml({.name = "srt-qwen", .arch = "Qwen2ForCausalLM"})));
  CHECK(c1.changed);
  CHECK(c1.affected == std::vector<std::string>{"team-a/chat", "team-a/waiting"});
  // An unchanged put affects nobody.
  auto c2 = cat.put(llama_rt);
  CHECK_FALSE(c2.changed);
  CHECK(c2.affected.empty());
  // A runtime that switches format affects the isvcs of the old and the new format.
  json::Value to_gguf = yaml::parse_one(
      "kind: ClusterServingRuntime\nmetadata: {name: srt-qwen, resourceVersion: \"9\"}\nspec:\n"
      "  supportedModelFormats: [{modelFormat: {name: gguf}, autoSelect: true}]\n");
  CHECK(cat.put(to_gguf).affected == std::vector<std::string>{"team-a/chat", "team-a/waiting", "team-b/gguf"});
  // Removing the chosen runtime affects whoever chose it (and that format's isvcs).
  cat.subscribe("team-a/chat", "safetensors", "ClusterServingRuntime/srt-llama");
  cat.unsubscribe("team-a/waiting");
  CHECK(cat.remove("ClusterServingRuntime", "", "srt-llama").affected == std::vector<std::string>{"team-a/chat"});
  cat.unsubscribe("team-a/chat");
  cat.unsubscribe("never-subscribed");
  CHECK(cat.remove("ClusterServingRuntime", "", "srt-qwen").affected == std::vector<std::string>{"team-b/gguf"});
  // Chosen-runtime subscriptions fire even when the runtime no longer lists the format.
  cat.subscribe("team-c/x", "pytorch", "ClusterServingRuntime/legacy");
  json::Value legacy = yaml::parse_one("kind: ClusterServingRuntime\nmetadata: {name: legacy}\nspec: {}\n");
  CHECK(cat.put(legacy).affected == std::vector<std::string>{"team-c/x"});
}

TEST_CASE("errors name at most 32 excluded runtimes; the candidates keep all", "[selection]") {
  ModelFacts m = model("llama-3-1-70b", llama(), "70.55B");
  std::vector<RuntimeEntry> many;
  for (int i = 0; i < 40; ++i)
    many.push_back(runtime({.name = "srt-" + std::to_string(100 + i), .arch = "LlamaForCausalLM"}));
  std::vector<const RuntimeEntry*> ptrs;
  for (const RuntimeEntry& e : many)
    ptrs.push_back(&e);
  Selection s = select(m, {}, ptrs);
  CHECK(s.candidates.size() == 40);
  CHECK(s.error.find("srt-131 (size 70.55B outside 7B-9B) ... and 8 more") != std::string::npos);
  CHECK(s.error.find("srt-132") == std::string::npos);
}

TEST_CASE("the acceleratorConfig entry is the best matching autoSelect entry", "[selection]") {
  ModelFacts m = model("llama-3-1-8b", llama(), "8.03B");
  Rt r{.name = "srt-three", .arch = "LlamaForCausalLM", .auto_select = "false"};
  r.extra_format = "    - modelFramework: {name: transformers, version: \"4.42.3\", weight: 1}\n"
                   "      modelFormat: {name: safetensors, version: \"1.0.0\", weight: 1}\n"
                   "      modelArchitecture: LlamaForCausalLM\n      autoSelect: true\n      priority: 1\n"
                   "    - modelFramework: {name: transformers, version: \"4.42.3\", weight: 1}\n"
                   "      modelFormat: {name: safetensors, version: \"1.0.0\", weight: 1}\n"
                   "      modelArchitecture: LlamaForCausalLM\n      autoSelect: true\n      priority: 3\n"
                   "      acceleratorConfig: {nvidia-h100-80gb: {tensorParallelismOverride: {tensorParallelSize: 2}}}\n";
  RuntimeEntry e = runtime(r);
  Selection s = select(m, {}, {&e});
  REQUIRE(s.chosen == &e);
  CHECK(s.format_index == 2);
  CHECK(s.candidates[0].score == 6);
  // A runtime the user names may use an entry without autoSelect; the best one still wins.
  CHECK(validate_runtime(m, {}, &e, e.name, "ns").format_index == 2);
}

TEST_CASE("catalog: concurrent readers see whole entries while a writer replaces them", "[selection]") {
  RuntimeCatalog cat;
  for (int i = 0; i < 50; ++i)
    cat.put(yaml::parse_one(runtime_yaml({.name = "srt-" + std::to_string(i), .arch = "LlamaForCausalLM"})));
  ModelFacts m = model("llama-3-1-8b", llama(), "8.03B");
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, done{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t)
    readers.emplace_back([&] {
      while (!stop) {
        Selection s = cat.select(m, {}, "team-a");
        if (!s.chosen || s.chosen->formats.size() != 1 || s.candidates.size() != 50)
          ++bad;
        ++done;
      }
    });
  for (int round = 0; round < 200; ++round) {
    json::Value o = yaml::parse_one(runtime_yaml({.name = "srt-" + std::to_string(round % 50), .arch = "LlamaForCausalLM",
                                                  .priority = 1 + round % 3}));
    o["metadata"]["resourceVersion"] = std::to_string(round + 10);
    cat.put(o);
  }
  while (done < 100)
    std::this_thread::yield();
  stop = true;
  for (auto& t : readers)
    t.join();
  CHECK(bad == 0);
  CHECK(cat.size() == 50);
}
