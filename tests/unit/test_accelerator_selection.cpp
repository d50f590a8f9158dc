// Accelerator classes: parsing, OME's constraints filter and four policies (with the nil
// dereference and the unordered ties fixed), choose_accelerator's order, and status from Nodes.
#include <catch2/catch.hpp>

#include "omed/common/json.hpp"
#include "omed/common/yaml.hpp"
#include "omed/selection/accelerator_selector.hpp"

using namespace omed;
using namespace omed::selection;

namespace {

// Shaped like deploy/samples/accelerators: what GPU feature discovery labels select.
const char* kClasses = R"(
apiVersion: ome.io/v1beta1
kind: AcceleratorClass
metadata: {name: nvidia-h100-80gb}
spec:
  vendor: nvidia
  family: hopper
  model: h100
  discovery: {nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}}
  capabilities:
    memoryGB: 80Gi
    computeCapability: "9.0"
    memoryBandwidthGBps: "3350"
    features: [nvlink, fp8, tensor-cores]
    performance: {fp32Tflops: 67, fp16Tflops: 989, int8Tops: 1979}
  resources: [{name: nvidia.com/gpu, quantity: "1"}]
  cost: {perHour: "4.10", spotPerHour: "2.20", tier: high}
---
apiVersion: ome.io/v1beta1
kind: AcceleratorClass
metadata: {name: nvidia-a100-80gb}
spec:
  vendor: nvidia
  family: ampere
  model: a100
  discovery: {nodeSelector: {nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB}}
  capabilities:
    memoryGB: 80Gi
    computeCapability: "8.0"
    memoryBandwidthGBps: "2039"
    features: [nvlink, tensor-cores]
    performance: {fp32Tflops: 19, fp16Tflops: 312, int8Tops: 624}
  cost: {perHour: "3.00", tier: medium}
---
apiVersion: ome.io/v1beta1
kind: AcceleratorClass
metadata: {name: nvidia-a100-40gb}
spec:
  vendor: nvidia
  family: ampere
  discovery: {nodeSelector: {nvidia.com/gpu.product: NVIDIA-A100-SXM4-40GB}}
  capabilities:
    memoryGB: 40Gi
    computeCapability: "8.0"
    memoryBandwidthGBps: "1555"
    features: [nvlink]
    performance: {fp32Tflops: 19, fp16Tflops: 312, int8Tops: 624}
  cost: {perHour: "2.00", tier: medium}
---
apiVersion: ome.io/v1beta1
kind: AcceleratorClass
metadata: {name: nvidia-l4}
spec:
  vendor: nvidia
  family: ada-lovelace
  discovery: {nodeSelector: {nvidia.com/gpu.product: NVIDIA-L4}}
  capabilities:
    memoryGB: 24Gi
    computeCapability: "8.9"
    memoryBandwidthGBps: "300"
    features: [FP8]
    performance: {fp32Tflops: 30, fp16Tflops: 121, int8Tops: 485}
  cost: {perHour: "0.80", tier: low}
)";

struct Fixture {
  std::map<std::string, std::shared_ptr<const json::Value>> classes;
  Fixture() {
    for (json::Value& v : yaml::parse_all(kClasses)) {
      std::string name = v.at_path("metadata.name")->as_string();
      classes[name] = std::make_shared<const json::Value>(std::move(v));
    }
  }
  AcceleratorClassInfo info(const std::string& name) const { return AcceleratorClassInfo::from_object(*classes.at(name)); }
  std::vector<AcceleratorClassInfo> infos(std::initializer_list<const char*> names) const {
    std::vector<AcceleratorClassInfo> out;
    for (const char* n : names)
      out.push_back(info(n));
    return out;
  }
  std::function<std::shared_ptr<const json::Value>(const std::string&)> getter() const {
    return [this](const std::string& n) -> std::shared_ptr<const json::Value> {
      auto it = classes.find(n);
      return it == classes.end() ? nullptr : it->second;
    };
  }
};

AcceleratorConstraints constraints(const std::string& yaml_text) {
  json::Value sel = yaml::parse_one("constraints: " + yaml_text);
  auto c = AcceleratorConstraints::from_selector(&sel);
  REQUIRE(c);
  return *c;
}

RuntimeEntry runtime_with(const std::string& classes) {
  return RuntimeEntry::from_object(yaml::parse_one(
      "kind: ClusterServingRuntime\nmetadata: {name: srt-llama-3-1-70b}\nspec:\n"
      "  supportedModelFormats: [{modelFormat: {name: safetensors}, autoSelect: true}]\n" +
      (classes.empty() ? std::string() : "  acceleratorRequirements: {acceleratorClasses: " + classes + "}\n")));
}

json::Value isvc(const std::string& spec) {
  return yaml::parse_one("apiVersion: ome.io/v1beta1\nkind: InferenceService\n"
                         "metadata: {name: llama-70b, namespace: team-a}\nspec:\n  model: {name: llama-3-1-70b}\n" + spec);
}

// A Node as the simulated cluster writes it (labels from GPU feature discovery).
std::shared_ptr<const json::Value> node(const std::string& name, const std::string& product, const std::string& mib,
                                        int gpus, int allocatable, bool ready = true) {
  json::Object labels{{"kubernetes.io/hostname", name}};
  if (!product.empty()) {
    labels.set("nvidia.com/gpu.present", "true");
    labels.set("nvidia.com/gpu.product", product);
  }
  if (!mib.empty())
    labels.set("nvidia.com/gpu.memory", mib);
  json::Object capacity{{"cpu", "96"}, {"memory", "1056790960Ki"}}, alloc{{"cpu", "95"}, {"memory", "1046790960Ki"}};
  if (gpus) {
    capacity.set("nvidia.com/gpu", std::to_string(gpus));
    alloc.set("nvidia.com/gpu", std::to_string(allocatable));
  }
  json::Array conditions{json::Object{{"type", "MemoryPressure"}, {"status", "False"}},
                         json::Object{{"type", "Ready"}, {"status", ready ? "True" : "False"}}};
  return std::make_shared<const json::Value>(json::Object{
      {"apiVersion", "v1"},
      {"kind", "Node"},
      {"metadata", json::Object{{"name", name}, {"labels", std::move(labels)}}},
      {"status", json::Object{{"capacity", std::move(capacity)}, {"allocatable", std::move(alloc)},
                              {"conditions", std::move(conditions)}}}});
}

std::vector<std::string> names_of(const json::Object& status) {
  std::vector<std::string> out;
  for (const json::Value& v : status.find("nodes")->as_array())
    out.push_back(v.as_string());
  return out;
}

}  // namespace

TEST_CASE("quantities and class parsing", "[accelerator]") {
  CHECK(quantity_value("80Gi") == 80.0 * (1 << 30));
  CHECK(quantity_value("4.10") == Approx(4.10));
  CHECK(quantity_value("1.5e3") == 1500);
  CHECK(quantity_value("500m") == Approx(0.5));
  CHECK(quantity_value("2k") == 2000);
  CHECK(quantity_value(json::Value(8)) == 8);
  CHECK_FALSE(quantity_value("lots"));
  CHECK_FALSE(quantity_value("80GiB"));
  CHECK_FALSE(quantity_value(""));

  Fixture f;
  AcceleratorClassInfo h = f.info("nvidia-h100-80gb");
  CHECK(h.name == "nvidia-h100-80gb");
  CHECK(h.vendor == "nvidia");
  CHECK(h.family == "hopper");
  CHECK(h.memory_gib() == 80);
  CHECK(h.node_selector.at("nvidia.com/gpu.product") == "NVIDIA-H100-80GB-HBM3");
  CHECK(h.memory_bandwidth_gbps == 3350);
  CHECK(h.tflops("fp16") == 989);
  CHECK(h.tflops("BF16") == 989);
  CHECK(h.tflops("fp8") == 1979);  // OME reads int8Tops for fp8
  CHECK(h.tflops("int4") == 0);
  CHECK(h.spot_per_hour == Approx(2.20));
  CHECK(h.tier == "high");
  CHECK(h.resource_name == "nvidia.com/gpu");
  // A bare number in memoryGB is GB, not bytes.
  json::Value bare = yaml::parse_one("metadata: {name: x}\nspec: {capabilities: {memoryGB: 80}, resources: [{name: amd.com/gpu}]}");
  AcceleratorClassInfo b = AcceleratorClassInfo::from_object(bare);
  CHECK(b.memory_gib() == 80);
  CHECK(b.resource_name == "amd.com/gpu");
  json::Value decimal = yaml::parse_one("metadata: {name: y}\nspec: {capabilities: {memoryGB: 80G}}");
  CHECK(AcceleratorClassInfo::from_object(decimal).memory_gib() == 74);  // 80e9 / 2^30, as OME divides
}

TEST_CASE("constraints filter: excluded, families, memory, features, architecture version", "[accelerator]") {
  Fixture f;
  auto h100 = f.info("nvidia-h100-80gb"), a100 = f.info("nvidia-a100-80gb"), a40 = f.info("nvidia-a100-40gb"),
       l4 = f.info("nvidia-l4");
  CHECK(constraint_violation(h100, constraints("{}")).empty());
  CHECK(constraint_violation(h100, constraints("{excludedClasses: [nvidia-h100-80gb]}")) ==
        "excluded by constraints.excludedClasses");
  CHECK(constraint_violation(a100, constraints("{excludedClasses: [nvidia-h100-80gb]}")).empty());

  SECTION("families: a bare family, or vendor-family when the entry has a dash, case-insensitive") {
    CHECK(constraint_violation(h100, constraints("{architectureFamilies: [hopper]}")).empty());
    CHECK(constraint_violation(h100, constraints("{architectureFamilies: [NVIDIA-Hopper]}")).empty());
    CHECK(constraint_violation(a100, constraints("{architectureFamilies: [hopper]}")) ==
          "family nvidia-ampere not in architectureFamilies [hopper]");
    CHECK_FALSE(constraint_violation(a100, constraints("{architectureFamilies: [amd-ampere]}")).empty());
    // "ada-lovelace" contains a dash, so it is compared with "nvidia-ada-lovelace" (OME's rule).
    CHECK_FALSE(constraint_violation(l4, constraints("{architectureFamilies: [ada-lovelace]}")).empty());
    CHECK(constraint_violation(l4, constraints("{architectureFamilies: [nvidia-ada-lovelace]}")).empty());
  }
  SECTION("memory bounds in GB") {
    CHECK(constraint_violation(a40, constraints("{minMemory: 80}")) == "memory 40GiB below minMemory 80");
    CHECK(constraint_violation(a100, constraints("{minMemory: 80}")).empty());
    CHECK(constraint_violation(h100, constraints("{maxMemory: 48}")) == "memory 80GiB above maxMemory 48");
    CHECK(constraint_violation(l4, constraints("{minMemory: 16, maxMemory: 48}")).empty());
    json::Value nomem = yaml::parse_one("metadata: {name: n}\nspec: {family: x}");
    CHECK(constraint_violation(AcceleratorClassInfo::from_object(nomem), constraints("{minMemory: 1}")) ==
          "no capabilities.memoryGB to compare with the memory constraints");
  }
  SECTION("required features, case-insensitive") {
    CHECK(constraint_violation(l4, constraints("{requiredFeatures: [fp8]}")).empty());
    CHECK(constraint_violation(a100, constraints("{requiredFeatures: [fp8, nvlink]}")) ==
          "missing required features [fp8]");
  }
  SECTION("minimum architecture version compares numbers") {
    CHECK(constraint_violation(a100, constraints("{minArchitectureVersion: \"8.9\"}")) ==
          "computeCapability 8.0 below minArchitectureVersion 8.9");
    CHECK(constraint_violation(l4, constraints("{minArchitectureVersion: \"8.9\"}")).empty());
    CHECK(constraint_violation(h100, constraints("{minArchitectureVersion: \"8.9\"}")).empty());
    AcceleratorClassInfo future = h100;
    future.compute_capability = "10.0";
    CHECK(constraint_violation(future, constraints("{minArchitectureVersion: \"9.0\"}")).empty());  // not "10" < "9"
    AcceleratorClassInfo unknown = h100;
    unknown.compute_capability.clear();
    CHECK_FALSE(constraint_violation(unknown, constraints("{minArchitectureVersion: \"8.0\"}")).empty());
  }
  SECTION("minComputePerformanceTFLOPS is not a filter") {
    CHECK(constraint_violation(l4, constraints("{minComputePerformanceTFLOPS: 5000}")).empty());
  }
}

TEST_CASE("BestFit: 70% memory fit, 30% compute, ties by name", "[accelerator]") {
  Fixture f;
  SECTION("no constraints and several candidates: memory fits perfectly (OME would nil-panic)") {
    auto out = apply_accelerator_policy(AcceleratorPolicy::BestFit, f.infos({"nvidia-h100-80gb", "nvidia-a100-80gb"}),
                                        nullptr);
    REQUIRE(out.index == 1);  // both score 1.00: the smaller name wins
    CHECK(out.explanation[0] == "nvidia-h100-80gb: best fit 1.00 (memory fit 1.00, compute 1.00)");
    CHECK(out.reason == "BestFit: highest score, nvidia-a100-80gb: best fit 1.00 (memory fit 1.00, compute 1.00)");
  }
  SECTION("the tightest memory fit wins") {
    auto cons = constraints("{minMemory: 40}");
    auto out = apply_accelerator_policy(AcceleratorPolicy::BestFit,
                                        f.infos({"nvidia-h100-80gb", "nvidia-a100-40gb", "nvidia-a100-80gb"}), &cons);
    REQUIRE(out.index == 1);
    CHECK(out.explanation[0] == "nvidia-h100-80gb: best fit 0.65 (memory fit 0.50, compute 1.00)");
  }
  SECTION("compute against minComputePerformanceTFLOPS at the preferred precision") {
    auto cons = constraints("{minMemory: 80, minComputePerformanceTFLOPS: 500, preferredPrecisions: [fp16]}");
    auto out = apply_accelerator_policy(AcceleratorPolicy::BestFit, f.infos({"nvidia-a100-80gb", "nvidia-h100-80gb"}),
                                        &cons);
    REQUIRE(out.index == 1);
    CHECK(out.explanation[0] == "nvidia-a100-80gb: best fit 0.89 (memory fit 1.00, compute 0.62)");
  }
  SECTION("a later preference counts half") {
    auto cons = constraints("{preferredPrecisions: [int4, fp16]}");
    auto out = apply_accelerator_policy(AcceleratorPolicy::BestFit, f.infos({"nvidia-h100-80gb"}), &cons);
    CHECK(out.index == 0);
    CHECK(out.explanation[0] == "nvidia-h100-80gb: best fit 0.85 (memory fit 1.00, compute 0.50)");
    CHECK(out.reason == "BestFit: the only candidate");
  }
  SECTION("no performance data: compute 0") {
    json::Value bare = yaml::parse_one("metadata: {name: a-bare}\nspec: {capabilities: {memoryGB: 80Gi}}");
    auto cands = f.infos({"nvidia-l4"});
    cands.push_back(AcceleratorClassInfo::from_object(bare));
    auto out = apply_accelerator_policy(AcceleratorPolicy::BestFit, cands, nullptr);
    CHECK(out.index == 0);
    CHECK(out.explanation[1] == "a-bare: best fit 0.70 (memory fit 1.00, compute 0.00)");
  }
}

TEST_CASE("Cheapest: hourly (spot first), then per token, then tier; ties by name", "[accelerator]") {
  Fixture f;
  auto out = apply_accelerator_policy(AcceleratorPolicy::Cheapest, f.infos({"nvidia-a100-80gb", "nvidia-h100-80gb"}),
                                      nullptr);
  REQUIRE(out.index == 1);  // spot 2.20 beats on-demand 3.00
  CHECK(out.reason == "Cheapest: lowest cost per hour (2.20)");
  CHECK(apply_accelerator_policy(AcceleratorPolicy::Cheapest,
                                 f.infos({"nvidia-h100-80gb", "nvidia-l4", "nvidia-a100-40gb"}), nullptr)
            .index == 1);

  auto priced = [](const std::string& name, const std::string& cost) {
    return AcceleratorClassInfo::from_object(yaml::parse_one("metadata: {name: " + name + "}\nspec: {cost: " + cost + "}"));
  };
  SECTION("equal prices: the smaller name") {
    auto o = apply_accelerator_policy(AcceleratorPolicy::Cheapest,
                                      {priced("zeta", "{perHour: \"1\"}"), priced("alpha", "{perHour: \"1.0\"}")}, nullptr);
    CHECK(o.index == 1);
  }
  SECTION("per million tokens when nobody has an hourly price") {
    auto o = apply_accelerator_policy(
        AcceleratorPolicy::Cheapest,
        {priced("a", "{perMillionTokens: \"0.50\", tier: low}"), priced("b", "{perMillionTokens: \"0.20\"}")}, nullptr);
    CHECK(o.index == 1);
    CHECK(o.reason == "Cheapest: lowest cost per million tokens (0.20)");
  }
  SECTION("tiers: low < medium = unknown < high") {
    auto o = apply_accelerator_policy(AcceleratorPolicy::Cheapest,
                                      {priced("a", "{tier: high}"), priced("b", "{tier: odd}"), priced("c", "{tier: low}")},
                                      nullptr);
    CHECK(o.index == 2);
  }
  SECTION("no cost data at all: no choice") {
    auto o = apply_accelerator_policy(AcceleratorPolicy::Cheapest, {priced("a", "{}"), priced("b", "{}")}, nullptr);
    CHECK(o.index == -1);
    CHECK(o.error.find("no candidate has cost data") != std::string::npos);
  }
}

TEST_CASE("MostCapable: memory, bandwidth and TFLOPS relative to the best; FirstAvailable: list order",
          "[accelerator]") {
  Fixture f;
  auto out = apply_accelerator_policy(AcceleratorPolicy::MostCapable,
                                      f.infos({"nvidia-l4", "nvidia-h100-80gb", "nvidia-a100-80gb"}), nullptr);
  REQUIRE(out.index == 1);
  CHECK(out.explanation[1] == "nvidia-h100-80gb: capability 1.00 (memory 1.00, bandwidth 1.00, tflops 1.00)");
  CHECK(out.explanation[0] == "nvidia-l4: capability 0.20 (memory 0.30, bandwidth 0.09, tflops 0.12)");
  // Identical capability: the smaller name.
  AcceleratorClassInfo twin = f.info("nvidia-h100-80gb");
  twin.name = "a-h100-twin";
  CHECK(apply_accelerator_policy(AcceleratorPolicy::MostCapable, {f.info("nvidia-h100-80gb"), twin}, nullptr).index == 1);
  // The preferred precision decides TFLOPS: at fp32 the L4 beats the A100 on compute.
  auto fp32 = constraints("{preferredPrecisions: [fp32]}");
  auto o32 = apply_accelerator_policy(AcceleratorPolicy::MostCapable, f.infos({"nvidia-l4", "nvidia-a100-40gb"}), &fp32);
  CHECK(o32.explanation[0].find("tflops 1.00") != std::string::npos);

  auto first = apply_accelerator_policy(AcceleratorPolicy::FirstAvailable,
                                        f.infos({"nvidia-l4", "nvidia-h100-80gb"}), nullptr);
  CHECK(first.index == 0);
  CHECK(apply_accelerator_policy(AcceleratorPolicy::FirstAvailable, {}, nullptr).index == -1);
  CHECK(parse_accelerator_policy("BestFit") == AcceleratorPolicy::BestFit);
  CHECK_FALSE(parse_accelerator_policy("bestfit"));
}

TEST_CASE("choose_accelerator follows GetAcceleratorClass's order", "[accelerator]") {
  Fixture f;
  RuntimeEntry rt = runtime_with("[nvidia-l4, nvidia-h100-80gb, nvidia-a100-80gb, nvidia-l4]");
  auto get = f.getter();

  SECTION("a runtime without acceleratorClasses: no class, even when one is named") {
    auto c = choose_accelerator(isvc("  acceleratorSelector: {acceleratorClass: nvidia-l4}\n"), "engine",
                                runtime_with(""), get);
    CHECK(c.name.empty());
    CHECK(c.error.empty());
    CHECK(c.reason == "runtime srt-llama-3-1-70b declares no acceleratorRequirements.acceleratorClasses");
  }
  SECTION("the component override names the class before the selector") {
    json::Value i = isvc("  acceleratorSelector: {acceleratorClass: nvidia-l4}\n"
                         "  engine: {acceleratorOverride: {acceleratorClass: nvidia-h100-80gb}}\n");
    auto e = choose_accelerator(i, "engine", rt, get);
    CHECK(e.name == "nvidia-h100-80gb");
    CHECK(e.reason == "named by spec.engine.acceleratorOverride.acceleratorClass");
    REQUIRE(e.object);
    CHECK(e.object->at_path("spec.family")->as_string() == "hopper");
    auto d = choose_accelerator(i, "decoder", rt, get);
    CHECK(d.name == "nvidia-l4");
    CHECK(d.reason == "named by spec.acceleratorSelector.acceleratorClass");
  }
  SECTION("a named class that does not exist is an error") {
    auto c = choose_accelerator(isvc("  acceleratorSelector: {acceleratorClass: nvidia-b200}\n"), "engine", rt, get);
    CHECK(c.name.empty());
    CHECK(c.error == "AcceleratorClass nvidia-b200 (spec.acceleratorSelector.acceleratorClass) not found");
  }
  SECTION("no class and no policy: none") {
    auto c = choose_accelerator(isvc(""), "engine", rt, get);
    CHECK(c.name.empty());
    CHECK(c.error.empty());
  }
  SECTION("the override's policy wins; constraints come from the selector; missing classes are skipped") {
    RuntimeEntry with_ghost = runtime_with("[nvidia-b200, nvidia-l4, nvidia-h100-80gb, nvidia-a100-80gb]");
    json::Value i = isvc("  acceleratorSelector: {policy: Cheapest, constraints: {minMemory: 40}}\n"
                         "  engine: {acceleratorOverride: {policy: MostCapable, constraints: {minMemory: 1000}}}\n");
    auto e = choose_accelerator(i, "engine", with_ghost, get);
    CHECK(e.name == "nvidia-h100-80gb");
    CHECK(e.reason.find("MostCapable: highest score") == 0);
    REQUIRE(e.explanation.size() == 4);
    CHECK(e.explanation[0] == "nvidia-b200: not found");
    CHECK(e.explanation[1] == "nvidia-l4: memory 24GiB below minMemory 40");
    auto d = choose_accelerator(i, "decoder", with_ghost, get);
    CHECK(d.name == "nvidia-h100-80gb");  // Cheapest: spot 2.20 < 3.00
    CHECK(d.reason == "Cheapest: lowest cost per hour (2.20)");
  }
  SECTION("FirstAvailable keeps the runtime's order; BestFit without constraints does not crash") {
    auto c = choose_accelerator(isvc("  acceleratorSelector: {policy: FirstAvailable}\n"), "engine", rt, get);
    CHECK(c.name == "nvidia-l4");
    auto b = choose_accelerator(isvc("  acceleratorSelector: {policy: BestFit}\n"), "engine", rt, get);
    CHECK(b.name == "nvidia-a100-80gb");  // all fit perfectly: the smaller name
    CHECK(b.explanation.size() == 3);     // the duplicate nvidia-l4 counted once
  }
  SECTION("nothing meets the constraints, or an unknown policy: errors") {
    auto c = choose_accelerator(
        isvc("  acceleratorSelector: {policy: BestFit, constraints: {requiredFeatures: [fp4]}}\n"), "engine", rt, get);
    CHECK(c.name.empty());
    CHECK(c.error.find("no AcceleratorClass among [nvidia-l4, nvidia-h100-80gb, nvidia-a100-80gb] meets the "
                       "constraints: nvidia-l4: missing required features [fp4]") == 0);
    auto u = choose_accelerator(isvc("  acceleratorSelector: {policy: Fastest}\n"), "engine", rt, get);
    CHECK(u.error.find("unknown accelerator policy Fastest") == 0);
  }
}

TEST_CASE("status from Nodes: labels, GPU memory (not host RAM), capacity and readiness", "[accelerator]") {
  Fixture f;
  std::vector<std::shared_ptr<const json::Value>> nodes{
      node("gpu-h100-b", "NVIDIA-H100-80GB-HBM3", "81559", 8, 6),
      node("gpu-h100-a", "NVIDIA-H100-80GB-HBM3", "81559", 8, 8),
      node("gpu-h100-c", "NVIDIA-H100-80GB-HBM3", "81559", 8, 8, /*ready=*/false),
      node("gpu-a100-a", "NVIDIA-A100-SXM4-40GB", "40960", 8, 8),
      node("gpu-l4-a", "NVIDIA-L4", "23034", 1, 1),
      node("cpu-a", "", "", 0, 0),
      nullptr,
  };
  json::Object h = accelerator_class_status(*f.classes.at("nvidia-h100-80gb"), nodes);
  CHECK(names_of(h) == std::vector<std::string>{"gpu-h100-a", "gpu-h100-b", "gpu-h100-c"});
  CHECK(h.find("totalAccelerators")->as_int() == 24);
  CHECK(h.find("availableAccelerators")->as_int() == 14);
  CHECK(h.find("availableNodes")->as_int() == 2);
  // The L4's "24 GB" shows as 23034 MiB: within the reported-memory allowance.
  json::Object l4 = accelerator_class_status(*f.classes.at("nvidia-l4"), nodes);
  CHECK(names_of(l4) == std::vector<std::string>{"gpu-l4-a"});
  CHECK(json::dump(json::Value(l4)) ==
        R"({"nodes":["gpu-l4-a"],"totalAccelerators":1,"availableAccelerators":1,"availableNodes":1})");

  SECTION("memory alone: GPUs at least that large, whatever the product") {
    json::Value big = yaml::parse_one("metadata: {name: big}\nspec: {capabilities: {memoryGB: 80Gi}}");
    CHECK(names_of(accelerator_class_status(big, nodes)) ==
          std::vector<std::string>{"gpu-h100-a", "gpu-h100-b", "gpu-h100-c"});
    json::Value mid = yaml::parse_one("metadata: {name: mid}\nspec: {capabilities: {memoryGB: 40Gi}}");
    CHECK(names_of(accelerator_class_status(mid, nodes)).size() == 4);
    // Host RAM (1 TiB here) never stands in for GPU memory.
    json::Value huge = yaml::parse_one("metadata: {name: huge}\nspec: {capabilities: {memoryGB: 192Gi}}");
    CHECK(names_of(accelerator_class_status(huge, nodes)).empty());
  }
  SECTION("a node without the gpu.memory label cannot prove memoryGB") {
    std::vector<std::shared_ptr<const json::Value>> unlabelled{node("gpu-x", "NVIDIA-H100-80GB-HBM3", "", 8, 8)};
    CHECK(names_of(accelerator_class_status(*f.classes.at("nvidia-h100-80gb"), unlabelled)).empty());
    json::Value selector_only = yaml::parse_one(
        "metadata: {name: s}\nspec: {discovery: {nodeSelector: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}}}");
    CHECK(names_of(accelerator_class_status(selector_only, unlabelled)) == std::vector<std::string>{"gpu-x"});
  }
  SECTION("required affinity and another resource name") {
    json::Value aff = yaml::parse_one(R"(
metadata: {name: not-h100-c}
spec:
  discovery:
    nodeSelector: {nvidia.com/gpu.present: "true"}
    affinity:
      nodeAffinity:
        requiredDuringSchedulingIgnoredDuringExecution:
          nodeSelectorTerms:
            - matchExpressions:
                - {key: nvidia.com/gpu.product, operator: In, values: [NVIDIA-H100-80GB-HBM3]}
                - {key: kubernetes.io/hostname, operator: NotIn, values: [gpu-h100-c]}
)");
    CHECK(names_of(accelerator_class_status(aff, nodes)) == std::vector<std::string>{"gpu-h100-a", "gpu-h100-b"});
    json::Value amd = yaml::parse_one("metadata: {name: mi300}\nspec: {resources: [{name: amd.com/gpu}]}");
    json::Object st = accelerator_class_status(amd, nodes);
    CHECK(names_of(st).empty());
    CHECK(st.find("availableNodes")->as_int() == 0);
  }
}
