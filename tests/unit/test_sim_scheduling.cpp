// Scheduler filter and scoring tests: quantity parsing down to the rounding, effective pod
// requests, each filter with kube-scheduler's exact wording, the FailedScheduling message users
// see in events, and placement (spreading, ties, determinism) at the benchmark's scale.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "omed/apiserver/sim/scheduling.hpp"
#include "omed/common/json.hpp"
#include "omed/common/yaml.hpp"

using namespace omed::apiserver::sim;
namespace json = omed::json;

namespace {

constexpr int64_t Gi = int64_t{1} << 30;
constexpr int64_t Mi = int64_t{1} << 20;

std::optional<int64_t> q(std::string_view s) { return parse_quantity(s); }
std::optional<int64_t> m(std::string_view s) { return parse_quantity(s, true); }

PodDemand pod_json(const std::string& spec) {
  return pod_demand(json::parse(R"({"spec":)" + spec + "}"));
}
PodDemand pod_yaml(const std::string& text) { return pod_demand(omed::yaml::parse_one(text)); }

// A pod asking for cpu (millicores), memory and optionally GPUs, with extra spec members.
PodDemand simple_pod(int64_t milli_cpu, int64_t memory, int64_t gpus = 0,
                     const std::string& extra = "") {
  std::string requests = R"("cpu":")" + std::to_string(milli_cpu) + R"(m","memory":")" +
                         std::to_string(memory) + "\"";
  if (gpus)
    requests += R"(,"nvidia.com/gpu":")" + std::to_string(gpus) + "\"";
  return pod_json(R"({"containers":[{"name":"c","resources":{"requests":{)" + requests + "}}}]" +
                  (extra.empty() ? "" : "," + extra) + "}");
}

NodeState make_node(const std::string& name, int64_t milli_cpu = 4000, int64_t memory = 16 * Gi,
                    int64_t gpus = 0) {
  NodeState n;
  n.name = name;
  n.labels = {{"kubernetes.io/hostname", name}};
  n.allocatable = {{"cpu", milli_cpu}, {"memory", memory}, {"pods", 110},
                   {"ephemeral-storage", 100 * Gi}};
  if (gpus)
    n.allocatable["nvidia.com/gpu"] = gpus;
  return n;
}

void bind(NodeState& node, const PodDemand& pod) {
  for (const auto& [name, value] : pod.requests)
    node.requested[name] += value;
}

NodeState& by_name(std::vector<NodeState>& nodes, const std::string& name) {
  for (NodeState& n : nodes)
    if (n.name == name)
      return n;
  FAIL("no node " << name);
  return nodes.front();
}

using Reasons = std::vector<std::string>;

Reasons why(const PodDemand& pod, const NodeState& node) { return unfit_reasons(pod, node); }

// Spec members for simple_pod's `extra`.
std::string tolerations_of(const std::string& list) { return R"("tolerations":)" + list; }
std::string required_affinity(const std::string& terms) {
  return R"("affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":)"
         R"({"nodeSelectorTerms":)" + terms + "}}}";
}
// What the DaemonSet controller sets on its pods: one term pinning metadata.name.
std::string pinned_to(const std::string& names) {
  return required_affinity(
    R"([{"matchFields":[{"key":"metadata.name","operator":"In","values":[)" + names + "]}]}]");
}

ResourceList resources(const std::string& text) {
  const json::Value map = json::parse(text);
  return parse_resource_list(&map);
}

const std::string kAffinityReason = "node(s) didn't match Pod's node affinity/selector";

// A pod whose only constraint is a required node affinity (a JSON nodeSelectorTerms array).
PodDemand affinity_pod(const std::string& terms) {
  return pod_json(R"({"containers":[{"name":"c"}],)" + required_affinity(terms) + "}");
}

// Whether one matchExpressions entry admits the node.
bool expr_fits(const std::string& expr, const NodeState& node) {
  return why(affinity_pod(R"([{"matchExpressions":[)" + expr + "]}]"), node).empty();
}

bool field_fits(const std::string& field, const NodeState& node) {
  return why(affinity_pod(R"([{"matchFields":[)" + field + "]}]"), node).empty();
}

}  // namespace

// ------------------------------------------------------------------ quantities

TEST_CASE("parse_quantity reads plain numbers and SI suffixes in base units", "[sim-scheduling]") {
  CHECK(q("0") == 0);
  CHECK(q("1") == 1);
  CHECK(q("+5") == 5);
  CHECK(q("00012") == 12);
  CHECK(q("128974848") == 128974848);
  CHECK(q("1k") == 1000);
  CHECK(q("1M") == 1000000);
  CHECK(q("1G") == 1000000000);
  CHECK(q("2T") == 2000000000000);
  CHECK(q("1P") == 1000000000000000);
  CHECK(q("1E") == 1000000000000000000);
  CHECK(q("1Ki") == 1024);
  CHECK(q("1Mi") == Mi);
  CHECK(q("1Gi") == Gi);
  CHECK(q("80Gi") == 80 * Gi);
  CHECK(q("1Ti") == 1024 * Gi);
  CHECK(q("1Pi") == 1024 * 1024 * Gi);
  CHECK(q("1Ei") == int64_t{1} << 60);
  CHECK(q("7Ei") == int64_t{7} << 60);
  CHECK(q("9223372036854775807") == INT64_MAX);
}

TEST_CASE("parse_quantity in thousandths for cpu", "[sim-scheduling]") {
  CHECK(m("500m") == 500);
  CHECK(m("100m") == 100);
  CHECK(m("2") == 2000);
  CHECK(m("0.1") == 100);
  CHECK(m("1.5") == 1500);
  CHECK(m(".5") == 500);
  CHECK(m("1.") == 1000);
  CHECK(m("1k") == 1000000);
  CHECK(m("0") == 0);
  CHECK(m("0m") == 0);
  // Below a millicore rounds up, never down to nothing.
  CHECK(m("250u") == 1);
  CHECK(m("1n") == 1);
  CHECK(m("1500u") == 2);
  CHECK(m("9223372036854775807m") == INT64_MAX);
  CHECK(m("9223372036854775807") == std::nullopt);
}

TEST_CASE("parse_quantity rounds fractional results up", "[sim-scheduling]") {
  CHECK(q("0.5") == 1);
  CHECK(q("1.5") == 2);
  CHECK(q("1.0") == 1);
  CHECK(q("100m") == 1);
  CHECK(q("1m") == 1);
  CHECK(q("1000m") == 1);
  CHECK(q("1001m") == 2);
  CHECK(q("0.000001") == 1);
  CHECK(q("1.5Gi") == 1610612736);
  CHECK(q("0.5Ki") == 512);
  CHECK(q("1.0001Ki") == 1025);  // 1024.1024 bytes
  CHECK(q("0.001Ki") == 2);      // 1.024 bytes
  CHECK(q("0.0009765625Ki") == 1);  // exactly one byte
  CHECK(q("0.00048828125Ki") == 1);  // half a byte
  // Digits far beyond int64 precision still decide the rounding exactly.
  CHECK(m("0.100000000000000000000000000001") == 101);
  CHECK(m("0.100000000000000000000000000000") == 100);
  CHECK(q("1.00000000000000000000000000000000000000000000001") == 2);
  CHECK(q("4611686018427387903.5") == 4611686018427387904);
}

TEST_CASE("parse_quantity reads decimal exponents", "[sim-scheduling]") {
  CHECK(q("1e3") == 1000);
  CHECK(q("1E3") == 1000);
  CHECK(q("1.5e3") == 1500);
  CHECK(q("12e+2") == 1200);
  CHECK(q("2e0") == 2);
  CHECK(q("5e-1") == 1);
  CHECK(q("1e18") == 1000000000000000000);
  CHECK(q("1e-1000000000") == 1);
  CHECK(q("0e99") == 0);
  CHECK(m("1e-3") == 1);
  CHECK(m("5e-1") == 500);
  CHECK(q("1e19") == std::nullopt);
  CHECK(q("1e99999999999999999999") == std::nullopt);
}

TEST_CASE("parse_quantity rejects malformed, negative and overflowing input", "[sim-scheduling]") {
  for (const char* bad : {"", "-", "+", ".", "abc", "1 ", " 1", "1K", "1ki", "1mi", "1e", "1E+",
                          "1e3.5", "1.2.3", "--1", "+-1", "1Gi5", "0x10", "1b", "Gi", "1e-",
                          "1,5", "1..", "1Ki ", "∞"}) {
    INFO("quantity: '" << bad << "'");
    CHECK(q(bad) == std::nullopt);
    CHECK(m(bad) == std::nullopt);
  }
  CHECK(q("-1") == std::nullopt);
  CHECK(m("-100m") == std::nullopt);
  CHECK(q("-0.5") == std::nullopt);
  CHECK(q("-0") == 0);
  CHECK(q("-0.0Gi") == 0);
  CHECK(q("9223372036854775808") == std::nullopt);
  CHECK(q("8Ei") == std::nullopt);
  CHECK(q("9223372036854775807.1") == std::nullopt);  // rounds up past the maximum
  CHECK(q("99999999999999999999999") == std::nullopt);
}

TEST_CASE("parse_resource_list converts a resources map and skips what it cannot read",
          "[sim-scheduling]") {
  auto list = resources(R"({
    "cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "8", "pods": 110, "ephemeral-storage": "100Gi",
    "hugepages-2Mi": "0", "broken": "12 apples", "negative": "-1", "half": 0.5, "flag": true
  })");
  CHECK(list == ResourceList{{"cpu", 2000}, {"memory", 8 * Gi}, {"nvidia.com/gpu", 8},
                             {"pods", 110}, {"ephemeral-storage", 100 * Gi}, {"hugepages-2Mi", 0},
                             {"half", 1}});
  CHECK(resources(R"({"cpu": 2})") == ResourceList{{"cpu", 2000}});
  CHECK(resources(R"({"cpu": 0.25})") == ResourceList{{"cpu", 250}});
  CHECK(resources(R"({"cpu": -3})").empty());
  CHECK(parse_resource_list(nullptr).empty());
  CHECK(resources("null").empty());
  CHECK(resources(R"(["cpu"])").empty());
}

// ------------------------------------------------------------------ pod demand

TEST_CASE("pod_demand sums containers; limits stand in for missing requests", "[sim-scheduling]") {
  auto d = pod_json(R"({"containers":[
    {"name":"app","resources":{"requests":{"cpu":"500m","memory":"1Gi"}}},
    {"name":"limited","resources":{"limits":{"cpu":"1","memory":"2Gi","nvidia.com/gpu":"2"},
                                   "requests":{"memory":"1Gi"}}},
    {"name":"besteffort"}
  ]})");
  CHECK(d.requests ==
        ResourceList{{"cpu", 1500}, {"memory", 2 * Gi}, {"nvidia.com/gpu", 2}, {"pods", 1}});
  CHECK(d.node_selector.empty());
  CHECK(d.required_affinity.is_null());
  CHECK(d.tolerations.is_null());

  CHECK(pod_json(R"({"containers":[{"name":"c"}]})").requests == ResourceList{{"pods", 1}});
  CHECK(pod_demand(json::parse("{}")).requests == ResourceList{{"pods", 1}});
}

TEST_CASE("pod_demand takes the largest init container per resource", "[sim-scheduling]") {
  auto d = pod_json(R"({
    "initContainers":[
      {"name":"migrate","resources":{"requests":{"cpu":"2","memory":"512Mi"}}},
      {"name":"warm","resources":{"limits":{"memory":"3Gi"}}}
    ],
    "containers":[
      {"name":"a","resources":{"requests":{"cpu":"500m","memory":"1Gi"}}},
      {"name":"b","resources":{"requests":{"cpu":"1","memory":"1Gi"}}}
    ]})");
  CHECK(d.requests == ResourceList{{"cpu", 2000}, {"memory", 3 * Gi}, {"pods", 1}});
}

TEST_CASE("pod_demand adds sidecar init containers to the sum and to later init containers",
          "[sim-scheduling]") {
  auto d = pod_yaml(R"(
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  initContainers:
  - name: init-a
    resources: {requests: {cpu: 3}}
  - name: proxy
    restartPolicy: Always
    resources: {requests: {cpu: 500m, memory: 256Mi}}
  - name: init-b
    resources: {requests: {cpu: 2, memory: 2Gi}}
  containers:
  - name: app
    resources: {requests: {cpu: 1, memory: 1Gi}}
  overhead: {cpu: 100m, memory: 64Mi}
)");
  // cpu: max(app 1 + proxy 0.5, init-a 3, proxy 0.5 + init-b 2) = 3, plus 0.1 overhead;
  // memory: max(1Gi + 256Mi, 256Mi + 2Gi) = 2304Mi, plus 64Mi overhead.
  CHECK(d.requests == ResourceList{{"cpu", 3100}, {"memory", 2368 * Mi}, {"pods", 1}});

  // A sidecar alone raises the running total past a smaller later init container.
  auto s = pod_json(R"({
    "initContainers":[
      {"name":"proxy","restartPolicy":"Always","resources":{"requests":{"cpu":"1"}}},
      {"name":"init","resources":{"requests":{"cpu":"500m"}}}],
    "containers":[{"name":"app","resources":{"requests":{"cpu":"1"}}}]})");
  CHECK(s.requests == ResourceList{{"cpu", 2000}, {"pods", 1}});
}

TEST_CASE("pod_demand adds spec.overhead after the init container maximum", "[sim-scheduling]") {
  auto d = pod_json(R"({
    "runtimeClassName":"kata",
    "overhead":{"cpu":"250m","memory":"120Mi"},
    "initContainers":[{"name":"i","resources":{"requests":{"cpu":"2"}}}],
    "containers":[{"name":"c","resources":{"requests":{"cpu":"1","memory":"1Gi"}}}]})");
  CHECK(d.requests == ResourceList{{"cpu", 2250}, {"memory", Gi + 120 * Mi}, {"pods", 1}});
}

TEST_CASE("pod_demand copies the node selector, required affinity and tolerations",
          "[sim-scheduling]") {
  auto d = pod_json(R"({
    "containers":[{"name":"c"}],
    "nodeSelector":{"disktype":"ssd","zone":"a"},
    "affinity":{"nodeAffinity":{
      "requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[
        {"matchExpressions":[{"key":"gpu","operator":"Exists"}]}]},
      "preferredDuringSchedulingIgnoredDuringExecution":[]}},
    "tolerations":[{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"}]})");
  CHECK(d.node_selector == std::map<std::string, std::string>{{"disktype", "ssd"}, {"zone", "a"}});
  CHECK(d.required_affinity == json::parse(R"({"nodeSelectorTerms":[
    {"matchExpressions":[{"key":"gpu","operator":"Exists"}]}]})"));
  CHECK(d.tolerations ==
        json::parse(R"([{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"}])"));

  // Only the required part of node affinity constrains scheduling.
  auto preferred = pod_json(R"({"affinity":{"nodeAffinity":{
    "preferredDuringSchedulingIgnoredDuringExecution":[{"weight":1,"preference":{}}]}}})");
  CHECK(preferred.required_affinity.is_null());
}

// ------------------------------------------------------------------ node state

TEST_CASE("node_state reads name, labels, taints, allocatable and cordon", "[sim-scheduling]") {
  auto n = node_state(json::parse(R"({
    "metadata":{"name":"gpu-1","labels":{"zone":"a","nvidia.com/gpu.count":"8"}},
    "spec":{"unschedulable":true,"taints":[
      {"key":"nvidia.com/gpu","value":"present","effect":"NoSchedule"},
      {"key":"node.kubernetes.io/unschedulable","effect":"NoSchedule",
       "timeAdded":"2024-01-01T00:00:00Z"}]},
    "status":{"capacity":{"cpu":"96"},
              "allocatable":{"cpu":"95500m","memory":"1500Gi","pods":"110",
                             "nvidia.com/gpu":"8"}}})"));
  CHECK(n.name == "gpu-1");
  CHECK(n.labels ==
        std::map<std::string, std::string>{{"zone", "a"}, {"nvidia.com/gpu.count", "8"}});
  REQUIRE(n.taints.size() == 2);
  CHECK(n.taints[0].key == "nvidia.com/gpu");
  CHECK(n.taints[0].value == "present");
  CHECK(n.taints[0].effect == "NoSchedule");
  CHECK(n.taints[1].key == "node.kubernetes.io/unschedulable");
  CHECK(n.taints[1].value.empty());
  CHECK(n.allocatable ==
        ResourceList{{"cpu", 95500}, {"memory", 1500 * Gi}, {"pods", 110}, {"nvidia.com/gpu", 8}});
  CHECK(n.requested.empty());
  CHECK(n.unschedulable);

  auto bare = node_state(json::parse(R"({"metadata":{"name":"n"}})"));
  CHECK(bare.name == "n");
  CHECK(bare.labels.empty());
  CHECK(bare.taints.empty());
  CHECK(bare.allocatable.empty());
  CHECK_FALSE(bare.unschedulable);
}

// ------------------------------------------------------------------ tolerations

TEST_CASE("tolerates follows the Equal/Exists rules", "[sim-scheduling]") {
  const NodeTaintView gpu{"nvidia.com/gpu", "present", "NoSchedule"};
  auto tol = [&](const std::string& list) { return tolerates(json::parse(list), gpu); };

  CHECK_FALSE(tolerates(json::Value(), gpu));
  CHECK_FALSE(tol("[]"));
  CHECK(tol(R"([{"key":"nvidia.com/gpu","operator":"Exists"}])"));
  CHECK(tol(R"([{"operator":"Exists"}])"));  // empty key with Exists tolerates everything
  CHECK(tol(R"([{"operator":"Exists","effect":"NoSchedule"}])"));
  CHECK(tol(R"([{"key":"nvidia.com/gpu","operator":"Equal","value":"present",
                 "effect":"NoSchedule"}])"));
  CHECK(tol(R"([{"key":"nvidia.com/gpu","value":"present"}])"));  // operator defaults to Equal
  CHECK(tol(R"([{"key":"nvidia.com/gpu","operator":"Equal","value":"present","effect":"NoExecute",
                 "tolerationSeconds":30},
                {"key":"nvidia.com/gpu","operator":"Equal","value":"present",
                 "tolerationSeconds":30}])"));
  CHECK_FALSE(tol(R"([{"key":"nvidia.com/gpu","operator":"Equal","value":"absent"}])"));
  CHECK_FALSE(tol(R"([{"key":"nvidia.com/gpu","operator":"Equal"}])"));
  CHECK_FALSE(tol(R"([{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoExecute"}])"));
  CHECK_FALSE(tol(R"([{"key":"example.com/other","operator":"Exists"}])"));
  CHECK_FALSE(tol(R"([{"key":"nvidia.com/gpu","operator":"In","value":"present"}])"));
  CHECK_FALSE(tol(R"([{"operator":"Equal","value":"present"}])"));

  const NodeTaintView empty_value{"node-role.kubernetes.io/control-plane", "", "NoSchedule"};
  auto tol_cp = [&](const std::string& list) { return tolerates(json::parse(list), empty_value); };
  CHECK(tol_cp(R"([{"key":"node-role.kubernetes.io/control-plane","operator":"Exists"}])"));
  CHECK(tol_cp(R"([{"key":"node-role.kubernetes.io/control-plane"}])"));
  CHECK_FALSE(tol_cp(R"({"key":"node-role.kubernetes.io/control-plane"})"));  // not a list
}

// ------------------------------------------------------------------ filters

TEST_CASE("unfit_reasons is empty when the pod fits", "[sim-scheduling]") {
  auto node = make_node("n1", 4000, 16 * Gi, 8);
  CHECK(unfit_reasons(simple_pod(4000, 16 * Gi, 8), node).empty());  // exactly full
  CHECK(unfit_reasons(pod_json(R"({"containers":[{"name":"c"}]})"), node).empty());
  node.requested = {{"cpu", 3000}, {"memory", 8 * Gi}, {"pods", 109}, {"nvidia.com/gpu", 4}};
  CHECK(unfit_reasons(simple_pod(1000, 8 * Gi, 4), node).empty());
}

TEST_CASE("NodeUnschedulable: cordoned nodes unless the pod tolerates the cordon taint",
          "[sim-scheduling]") {
  auto node = make_node("n1");
  node.unschedulable = true;
  auto tolerating = [](const std::string& effect) {
    return simple_pod(100, Mi, 0, tolerations_of(R"([{"key":"node.kubernetes.io/unschedulable",)"
                                                 R"("operator":"Exists","effect":")" + effect +
                                                 R"("}])"));
  };
  CHECK(why(simple_pod(100, Mi), node) == Reasons{"node(s) were unschedulable"});
  CHECK(why(tolerating("NoSchedule"), node).empty());
  CHECK(why(tolerating("NoExecute"), node) == Reasons{"node(s) were unschedulable"});
  CHECK(why(simple_pod(100, Mi, 0, tolerations_of(R"([{"operator":"Exists"}])")), node).empty());
}

TEST_CASE("NodeAffinity: nodeSelector labels must all be equal", "[sim-scheduling]") {
  auto node = make_node("n1");
  node.labels = {{"disktype", "ssd"}, {"zone", "a"}};
  auto selecting = [](const std::string& selector) {
    return simple_pod(100, Mi, 0, R"("nodeSelector":)" + selector);
  };
  CHECK(why(selecting(R"({"disktype":"ssd"})"), node).empty());
  CHECK(why(selecting(R"({"disktype":"ssd","zone":"a"})"), node).empty());
  CHECK(why(selecting(R"({"disktype":"hdd"})"), node) == Reasons{kAffinityReason});
  CHECK(why(selecting(R"({"disktype":"ssd","gpu":"a100"})"), node) == Reasons{kAffinityReason});
  // nodeSelector and required affinity must both hold.
  const std::string zone_b =
    required_affinity(R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["b"]}]}])");
  auto both = simple_pod(100, Mi, 0, R"("nodeSelector":{"disktype":"ssd"},)" + zone_b);
  CHECK(why(both, node) == Reasons{kAffinityReason});
}

TEST_CASE("NodeAffinity: matchExpressions operators", "[sim-scheduling]") {
  auto node = make_node("n1");
  node.labels = {{"zone", "a"}, {"gpu-count", "8"}, {"tier", "web"}, {"offset", "-3"}};

  CHECK(expr_fits(R"({"key":"zone","operator":"In","values":["a","b"]})", node));
  CHECK_FALSE(expr_fits(R"({"key":"zone","operator":"In","values":["b"]})", node));
  CHECK_FALSE(expr_fits(R"({"key":"missing","operator":"In","values":["a"]})", node));
  CHECK_FALSE(expr_fits(R"({"key":"zone","operator":"In","values":[]})", node));  // invalid

  CHECK(expr_fits(R"({"key":"zone","operator":"NotIn","values":["b","c"]})", node));
  CHECK_FALSE(expr_fits(R"({"key":"zone","operator":"NotIn","values":["a"]})", node));
  // An absent label passes NotIn.
  CHECK(expr_fits(R"({"key":"missing","operator":"NotIn","values":["a"]})", node));

  CHECK(expr_fits(R"({"key":"zone","operator":"Exists"})", node));
  CHECK_FALSE(expr_fits(R"({"key":"missing","operator":"Exists"})", node));
  CHECK(expr_fits(R"({"key":"missing","operator":"DoesNotExist"})", node));
  CHECK_FALSE(expr_fits(R"({"key":"zone","operator":"DoesNotExist"})", node));
  CHECK_FALSE(expr_fits(R"({"key":"zone","operator":"Exists","values":["a"]})", node));  // invalid

  CHECK(expr_fits(R"({"key":"gpu-count","operator":"Gt","values":["4"]})", node));
  CHECK(expr_fits(R"({"key":"gpu-count","operator":"Gt","values":["+7"]})", node));
  CHECK_FALSE(expr_fits(R"({"key":"gpu-count","operator":"Gt","values":["8"]})", node));
  // Compared as integers, not strings.
  CHECK_FALSE(expr_fits(R"({"key":"gpu-count","operator":"Gt","values":["10"]})", node));
  CHECK(expr_fits(R"({"key":"gpu-count","operator":"Lt","values":["10"]})", node));
  CHECK_FALSE(expr_fits(R"({"key":"gpu-count","operator":"Lt","values":["8"]})", node));
  CHECK(expr_fits(R"({"key":"offset","operator":"Lt","values":["0"]})", node));
  CHECK(expr_fits(R"({"key":"offset","operator":"Gt","values":["-4"]})", node));
  // A label value that is not an integer never compares.
  CHECK_FALSE(expr_fits(R"({"key":"tier","operator":"Gt","values":["1"]})", node));
  CHECK_FALSE(expr_fits(R"({"key":"missing","operator":"Lt","values":["100"]})", node));
  CHECK_FALSE(expr_fits(R"({"key":"gpu-count","operator":"Gt","values":["four"]})", node));
  CHECK_FALSE(expr_fits(R"({"key":"gpu-count","operator":"Gt","values":["1","2"]})", node));
  CHECK_FALSE(expr_fits(R"({"key":"gpu-count","operator":"Gt","values":[]})", node));
  CHECK_FALSE(expr_fits(R"({"key":"gpu-count","operator":"Gt","values":["1.5"]})", node));

  CHECK_FALSE(expr_fits(R"({"key":"zone","operator":"Matches","values":["a"]})", node));
}

TEST_CASE("NodeAffinity: terms are ORed, requirements within a term ANDed", "[sim-scheduling]") {
  auto node = make_node("n1");
  node.labels = {{"zone", "a"}, {"tier", "web"}};
  auto fits = [&](const std::string& terms) { return why(affinity_pod(terms), node).empty(); };

  CHECK(fits(R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]},
                                      {"key":"tier","operator":"In","values":["web"]}]}])"));
  CHECK_FALSE(fits(R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]},
                                            {"key":"tier","operator":"In","values":["db"]}]}])"));
  CHECK(fits(R"([{"matchExpressions":[{"key":"zone","operator":"In","values":["b"]}]},
                 {"matchExpressions":[{"key":"tier","operator":"In","values":["web"]}]}])"));
  // An invalid term does not poison the others.
  CHECK(fits(R"([{"matchExpressions":[{"key":"zone","operator":"Bogus"}]},
                 {"matchExpressions":[{"key":"zone","operator":"Exists"}]}])"));
  // Nothing matches an empty term list or a term without requirements.
  CHECK_FALSE(fits("[]"));
  CHECK_FALSE(fits("[{}]"));
  CHECK_FALSE(fits(R"([{"matchExpressions":[],"matchFields":[]}])"));
  CHECK(why(affinity_pod("[]"), node) == Reasons{kAffinityReason});
  auto no_terms = pod_json(R"({"affinity":{"nodeAffinity":{)"
                           R"("requiredDuringSchedulingIgnoredDuringExecution":{}}}})");
  CHECK(why(no_terms, node) == Reasons{kAffinityReason});
}

TEST_CASE("NodeAffinity: matchFields on metadata.name", "[sim-scheduling]") {
  auto node = make_node("n1");
  CHECK(field_fits(R"({"key":"metadata.name","operator":"In","values":["n1"]})", node));
  CHECK_FALSE(field_fits(R"({"key":"metadata.name","operator":"In","values":["n2"]})", node));
  CHECK(field_fits(R"({"key":"metadata.name","operator":"NotIn","values":["n2"]})", node));
  CHECK_FALSE(field_fits(R"({"key":"metadata.name","operator":"NotIn","values":["n1"]})", node));
  // Exactly one value, only metadata.name, only In/NotIn.
  CHECK_FALSE(field_fits(R"({"key":"metadata.name","operator":"In","values":["n1","n2"]})", node));
  CHECK_FALSE(field_fits(R"({"key":"metadata.name","operator":"In","values":[]})", node));
  CHECK_FALSE(field_fits(R"({"key":"metadata.namespace","operator":"In","values":["n1"]})", node));
  CHECK_FALSE(field_fits(R"({"key":"metadata.name","operator":"Exists"})", node));

  // Fields and expressions in one term are ANDed.
  node.labels = {{"zone", "a"}};
  auto both = [&](const std::string& zone) {
    return why(affinity_pod(R"([{
        "matchFields":[{"key":"metadata.name","operator":"In","values":["n1"]}],
        "matchExpressions":[{"key":"zone","operator":"In","values":[")" + zone + R"("]}]}])"),
               node)
      .empty();
  };
  CHECK(both("a"));
  CHECK_FALSE(both("b"));
}

TEST_CASE("TaintToleration: the first untolerated NoSchedule or NoExecute taint",
          "[sim-scheduling]") {
  auto node = make_node("n1");
  const std::string gpu_ok = R"({"key":"nvidia.com/gpu","operator":"Exists"})";
  node.taints = {{"nvidia.com/gpu", "present", "NoSchedule"}};
  CHECK(why(simple_pod(100, Mi), node) ==
        Reasons{"node(s) had untolerated taint {nvidia.com/gpu: present}"});
  CHECK(why(simple_pod(100, Mi, 0, tolerations_of("[" + gpu_ok + "]")), node).empty());

  node.taints = {{"node-role.kubernetes.io/control-plane", "", "NoSchedule"}};
  CHECK(unfit_reasons(simple_pod(100, Mi), node) ==
        Reasons{"node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"});

  node.taints = {{"node.kubernetes.io/not-ready", "", "NoExecute"}};
  CHECK(unfit_reasons(simple_pod(100, Mi), node) ==
        Reasons{"node(s) had untolerated taint {node.kubernetes.io/not-ready: }"});

  // PreferNoSchedule only lowers a score.
  node.taints = {{"example.com/spot", "true", "PreferNoSchedule"}};
  CHECK(unfit_reasons(simple_pod(100, Mi), node).empty());

  node.taints = {{"example.com/spot", "true", "PreferNoSchedule"},
                 {"nvidia.com/gpu", "present", "NoSchedule"},
                 {"dedicated", "ml", "NoSchedule"}};
  CHECK(why(simple_pod(100, Mi, 0, tolerations_of("[" + gpu_ok + "]")), node) ==
        Reasons{"node(s) had untolerated taint {dedicated: ml}"});
  const std::string ml_ok = R"({"key":"dedicated","value":"ml","effect":"NoSchedule"})";
  auto both = simple_pod(100, Mi, 0, tolerations_of("[" + gpu_ok + "," + ml_ok + "]"));
  CHECK(why(both, node).empty());
}

TEST_CASE("NodeResourcesFit: Too many pods and every insufficient resource", "[sim-scheduling]") {
  auto node = make_node("n1", 4000, 16 * Gi, 8);
  node.allocatable["example.com/fpga"] = 1;
  node.requested = {{"cpu", 3500}, {"memory", 15 * Gi}, {"pods", 110},
                    {"ephemeral-storage", 99 * Gi}, {"nvidia.com/gpu", 8}, {"example.com/fpga", 1}};
  auto greedy = pod_json(R"({"containers":[{"name":"c","resources":{"requests":{
    "cpu":"1","memory":"2Gi","ephemeral-storage":"2Gi","nvidia.com/gpu":"1","example.com/fpga":"1",
    "hugepages-2Mi":"2Mi","storage":"1Ti"}}}]})");
  CHECK(unfit_reasons(greedy, node) ==
        Reasons{"Too many pods", "Insufficient cpu", "Insufficient memory",
                "Insufficient ephemeral-storage", "Insufficient example.com/fpga",
                "Insufficient hugepages-2Mi", "Insufficient nvidia.com/gpu"});

  node.requested = {{"pods", 110}};
  CHECK(why(pod_json(R"({"containers":[{"name":"c"}]})"), node) == Reasons{"Too many pods"});

  node.requested = {{"cpu", 3500}, {"pods", 3}};
  CHECK(unfit_reasons(simple_pod(500, Gi), node).empty());
  CHECK(unfit_reasons(simple_pod(501, Gi), node) == Reasons{"Insufficient cpu"});

  // A resource the node does not have at all.
  auto cpu_only = make_node("cpu-only");
  CHECK(unfit_reasons(simple_pod(100, Mi, 1), cpu_only) == Reasons{"Insufficient nvidia.com/gpu"});
  // A node without a pods allocatable takes no pods.
  cpu_only.allocatable.erase("pods");
  CHECK(unfit_reasons(simple_pod(100, Mi), cpu_only) == Reasons{"Too many pods"});
}

TEST_CASE("unfit_reasons stops at the first failing filter, in the default profile's order",
          "[sim-scheduling]") {
  auto node = make_node("n1", 1000, Gi);
  node.labels = {{"zone", "a"}};
  node.taints = {{"dedicated", "ml", "NoSchedule"}};
  node.unschedulable = true;
  auto pod = simple_pod(2000, 2 * Gi, 1, R"("nodeSelector":{"zone":"b"})");

  CHECK(unfit_reasons(pod, node) == Reasons{"node(s) were unschedulable"});
  node.unschedulable = false;
  // TaintToleration runs before NodeAffinity in kube-scheduler's default plugin list.
  CHECK(unfit_reasons(pod, node) == Reasons{"node(s) had untolerated taint {dedicated: ml}"});
  node.taints.clear();
  CHECK(unfit_reasons(pod, node) == Reasons{kAffinityReason});
  node.labels["zone"] = "b";
  CHECK(unfit_reasons(pod, node) ==
        Reasons{"Insufficient cpu", "Insufficient memory", "Insufficient nvidia.com/gpu"});
}

// ------------------------------------------------------------------ FailedScheduling messages

TEST_CASE("schedule with no nodes", "[sim-scheduling]") {
  std::mt19937_64 rng(1);
  auto p = schedule(simple_pod(100, Mi), {}, rng);
  CHECK(p.node.empty());
  CHECK(p.message == "no nodes available to schedule pods");
}

TEST_CASE("schedule: a pod needing 8 GPUs on four full 8-GPU nodes", "[sim-scheduling]") {
  std::vector<NodeState> nodes;
  for (int i = 0; i < 4; ++i) {
    nodes.push_back(node_state(json::parse(R"({"metadata":{"name":"gpu-)" + std::to_string(i) +
                                           R"("},"status":{"allocatable":{
      "cpu":"96","memory":"1000Gi","pods":"110","nvidia.com/gpu":"8"}}})")));
    bind(nodes.back(), simple_pod(8000, 64 * Gi, 8));
  }
  std::mt19937_64 rng(7);
  auto p = schedule(simple_pod(8000, 64 * Gi, 8), nodes, rng);
  CHECK(p.node.empty());
  CHECK(p.message ==
        "0/4 nodes are available: 4 Insufficient nvidia.com/gpu. "
        "preemption: 0/4 nodes are available: 4 No preemption victims found for incoming pod.");
}

TEST_CASE("schedule: mixed reasons are counted per node and sorted", "[sim-scheduling]") {
  std::mt19937_64 rng(7);
  std::vector<NodeState> nodes;
  for (int i = 0; i < 4; ++i) {
    nodes.push_back(make_node("gpu-" + std::to_string(i), 96000, 1000 * Gi, 8));
    bind(nodes.back(), simple_pod(1000, Gi, 8));
  }
  nodes.push_back(make_node("tainted", 96000, 1000 * Gi, 8));
  nodes.back().taints = {{"nvidia.com/gpu", "present", "NoSchedule"}};
  auto p = schedule(simple_pod(1000, Gi, 8), nodes, rng);
  CHECK(p.node.empty());
  CHECK(p.message ==
        "0/5 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: present}, "
        "4 Insufficient nvidia.com/gpu. preemption: 0/5 nodes are available: "
        "1 Preemption is not helpful for scheduling, "
        "4 No preemption victims found for incoming pod.");

  // The pod that tolerates the taint goes to the one node with free GPUs.
  auto tolerant = simple_pod(
    1000, Gi, 8,
    tolerations_of(R"([{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"}])"));
  CHECK(schedule(tolerant, nodes, rng).node == "tainted");

  // A node short of two resources counts under both.
  std::vector<NodeState> two{make_node("small", 1000, Gi), make_node("cordoned")};
  two[1].unschedulable = true;
  CHECK(schedule(simple_pod(2000, 2 * Gi), two, rng).message ==
        "0/2 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, "
        "1 node(s) were unschedulable. "
        "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, "
        "1 Preemption is not helpful for scheduling.");

  // Counts sort as strings, as the scheduler prints them.
  std::vector<NodeState> twelve;
  for (int i = 0; i < 12; ++i)
    twelve.push_back(make_node("n" + std::to_string(i), 1000));
  twelve[0].unschedulable = twelve[1].unschedulable = true;
  CHECK(schedule(simple_pod(2000, Mi), twelve, rng).message ==
        "0/12 nodes are available: 10 Insufficient cpu, 2 node(s) were unschedulable. preemption: "
        "0/12 nodes are available: 10 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling.");
}

TEST_CASE("schedule: nothing matches the selector, so preemption cannot help", "[sim-scheduling]") {
  std::mt19937_64 rng(7);
  std::vector<NodeState> nodes{make_node("a"), make_node("b"), make_node("c")};
  auto p = schedule(simple_pod(100, Mi, 0, R"("nodeSelector":{"pool":"gpu"})"), nodes, rng);
  CHECK(p.node.empty());
  CHECK(p.message ==
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: "
        "0/3 nodes are available: 3 Preemption is not helpful for scheduling.");
}

TEST_CASE("schedule: pods pinned by metadata.name only consider their node", "[sim-scheduling]") {
  std::mt19937_64 rng(7);
  std::vector<NodeState> nodes{make_node("n1"), make_node("n2"), make_node("n3"), make_node("n4")};
  by_name(nodes, "n2").requested = {{"cpu", 3000}, {"pods", 5}};
  auto daemon = [](int64_t milli_cpu) {
    return simple_pod(milli_cpu, Mi, 0, pinned_to(R"("n2")"));
  };
  CHECK(schedule(daemon(500), nodes, rng).node == "n2");  // though the other nodes are emptier
  auto p = schedule(daemon(2000), nodes, rng);
  CHECK(p.node.empty());
  CHECK(p.message ==
        "0/4 nodes are available: 1 Insufficient cpu, "
        "3 node(s) didn't satisfy plugin(s) [NodeAffinity]. "
        "preemption: 0/4 nodes are available: 1 No preemption victims found for incoming pod, "
        "3 Preemption is not helpful for scheduling.");

  // A term that pins no name admits every node again (terms are ORed).
  auto either = simple_pod(100, Mi, 0, required_affinity(R"([
    {"matchFields":[{"key":"metadata.name","operator":"In","values":["gone"]}]},
    {"matchExpressions":[{"key":"kubernetes.io/hostname","operator":"In","values":["n3"]}]}])"));
  CHECK(schedule(either, nodes, rng).node == "n3");

  // Terms whose names cannot intersect reject the pod before any node is looked at.
  auto conflict = simple_pod(100, Mi, 0, required_affinity(R"([{"matchFields":[
    {"key":"metadata.name","operator":"In","values":["n1"]},
    {"key":"metadata.name","operator":"In","values":["n2"]}]}])"));
  CHECK(schedule(conflict, nodes, rng).message ==
        "0/4 nodes are available: pod affinity terms conflict. "
        "preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.");
}

// ------------------------------------------------------------------ scoring and placement

TEST_CASE("schedule prefers the least allocated node", "[sim-scheduling]") {
  std::vector<NodeState> nodes{make_node("busy"), make_node("idle"), make_node("half")};
  by_name(nodes, "busy").requested = {{"cpu", 3000}, {"memory", 12 * Gi}, {"pods", 3}};
  by_name(nodes, "half").requested = {{"cpu", 2000}, {"memory", 8 * Gi}, {"pods", 2}};
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::mt19937_64 rng(seed);
    CHECK(schedule(simple_pod(500, Gi), nodes, rng).node == "idle");
  }
  // Pods that request nothing still count as 100m/200Mi, so they avoid busy nodes too.
  std::mt19937_64 rng(3);
  CHECK(schedule(pod_json(R"({"containers":[{"name":"c"}]})"), nodes, rng).node == "idle");
}

TEST_CASE("schedule breaks even LeastAllocated scores with BalancedAllocation",
          "[sim-scheduling]") {
  // After placing 1 cpu/1Gi: "lopsided" would be 75% cpu and 25% memory, "even" 50%/50%. Both
  // average 50% free, but "even" is balanced.
  std::vector<NodeState> nodes{make_node("lopsided", 4000, 4 * Gi),
                               make_node("even", 4000, 4 * Gi)};
  by_name(nodes, "lopsided").requested = {{"cpu", 2000}, {"pods", 1}};
  by_name(nodes, "even").requested = {{"cpu", 1000}, {"memory", Gi}, {"pods", 1}};
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::mt19937_64 rng(seed);
    CHECK(schedule(simple_pod(1000, Gi), nodes, rng).node == "even");
  }
}

TEST_CASE("schedule spreads pods across equal nodes", "[sim-scheduling]") {
  std::vector<NodeState> nodes;
  for (int i = 0; i < 4; ++i)
    nodes.push_back(make_node("n" + std::to_string(i), 8000, 32 * Gi));
  std::mt19937_64 rng(42);
  auto pod = simple_pod(1000, 2 * Gi);
  for (int i = 0; i < 12; ++i) {
    auto p = schedule(pod, nodes, rng);
    REQUIRE_FALSE(p.node.empty());
    bind(by_name(nodes, p.node), pod);
  }
  for (const NodeState& n : nodes) {
    INFO(n.name);
    CHECK(n.requested.at("pods") == 3);
    CHECK(n.requested.at("cpu") == 3000);
  }
}

TEST_CASE("schedule chooses uniformly among equal nodes and is deterministic for a seed",
          "[sim-scheduling]") {
  std::vector<NodeState> nodes;
  for (int i = 0; i < 10; ++i)
    nodes.push_back(make_node("n" + std::to_string(i)));
  auto pod = simple_pod(100, 100 * Mi);

  auto run = [&](uint64_t seed) {
    std::vector<NodeState> cluster = nodes;
    std::mt19937_64 rng(seed);
    std::vector<std::string> placements;
    for (int i = 0; i < 50; ++i) {
      auto p = schedule(pod, cluster, rng);
      placements.push_back(p.node);
      bind(by_name(cluster, p.node), pod);
    }
    return placements;
  };
  CHECK(run(1234) == run(1234));
  std::set<std::vector<std::string>> distinct;
  for (uint64_t seed = 0; seed < 5; ++seed)
    distinct.insert(run(seed));
  CHECK(distinct.size() > 1);

  // Every one of the tied nodes gets picked for some seed.
  std::map<std::string, int> picks;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    std::mt19937_64 rng(seed);
    ++picks[schedule(pod, nodes, rng).node];
  }
  CHECK(picks.size() == nodes.size());
  for (const auto& [name, count] : picks) {
    INFO(name);
    CHECK(count > 10);
  }
}

TEST_CASE("schedule places 20,000 pods on 2,000 nodes within allocatable", "[sim-scheduling]") {
  std::vector<NodeState> nodes;
  nodes.reserve(2000);
  std::unordered_map<std::string, size_t> index;
  for (int i = 0; i < 2000; ++i) {
    nodes.push_back(make_node("node-" + std::to_string(i), 32000, 128 * Gi));
    index[nodes.back().name] = nodes.size() - 1;
  }
  std::vector<PodDemand> shapes;
  for (int c = 1; c <= 4; ++c)
    for (int g = 1; g <= 3; ++g)
      shapes.push_back(simple_pod(250 * c, 512 * Mi * g));

  std::mt19937_64 rng(2024);
  size_t placed = 0;
  for (int i = 0; i < 20000; ++i) {
    const PodDemand& pod = shapes[static_cast<size_t>(i) % shapes.size()];
    auto p = schedule(pod, nodes, rng);
    if (p.node.empty()) {
      FAIL("pod " << i << " unplaced: " << p.message);
    }
    bind(nodes[index.at(p.node)], pod);
    ++placed;
  }
  CHECK(placed == 20000);
  int64_t pods = 0;
  for (const NodeState& n : nodes) {
    for (const auto& [name, used] : n.requested) {
      INFO(n.name << " " << name);
      REQUIRE(used <= n.allocatable.at(name));
    }
    pods += n.requested.count("pods") ? n.requested.at("pods") : 0;
  }
  CHECK(pods == 20000);
}

TEST_CASE("searching a share of the nodes, as kube-scheduler does, still places every pod within capacity",
          "[sim-scheduling]") {
  CHECK(feasible_nodes_to_find(50) == 50);
  CHECK(feasible_nodes_to_find(100) == 100);
  CHECK(feasible_nodes_to_find(200) == 100);     // 49% of 200 is under the 100-node floor
  CHECK(feasible_nodes_to_find(2000) == 680);    // 50% - 16%
  CHECK(feasible_nodes_to_find(5000) == 500);    // 10%
  CHECK(feasible_nodes_to_find(20000) == 1000);  // never under 5%

  // The cached amounts (kept by add_requests) decide exactly as the maps do.
  std::vector<NodeState> cached, plain;
  for (int i = 0; i < 300; ++i) {
    auto n = make_node("n" + std::to_string(i), 4000, 16 * Gi, 4);
    plain.push_back(n);
    cache_amounts(n);
    cached.push_back(n);
  }
  std::mt19937_64 rng_a(5), rng_b(5);
  size_t start_a = 0, start_b = 0;
  for (int i = 0; i < 1200; ++i) {
    auto pod = simple_pod(1000, Gi, i % 3 == 0 ? 1 : 0);
    auto a = schedule(pod, cached, rng_a, &start_a);
    auto b = schedule(pod, plain, rng_b, &start_b);
    REQUIRE(a.node == b.node);
    REQUIRE(!a.node.empty());
    add_requests(by_name(cached, a.node), pod.requests, 1);
    bind(by_name(plain, b.node), pod);
  }
  for (auto& n : cached) {
    CHECK(n.used_amounts.cpu == n.requested["cpu"]);
    CHECK(n.used_amounts.cpu <= n.alloc_amounts.cpu);
    CHECK(n.requested["nvidia.com/gpu"] <= 4);
  }
  // Full: the next pod is refused with the usual message, whichever node the search starts at.
  auto last = schedule(simple_pod(1000, Gi), cached, rng_a, &start_a);
  CHECK(last.node.empty());
  CHECK(last.message.rfind("0/300 nodes are available: 300 Insufficient cpu.", 0) == 0);
  // Removing a pod's requests frees its node again.
  add_requests(cached[7], simple_pod(1000, Gi).requests, -1);
  CHECK(schedule(simple_pod(1000, Gi), cached, rng_a, &start_a).node == "n7");
}
