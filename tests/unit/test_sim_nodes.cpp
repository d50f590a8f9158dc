// The simulated cluster's nodes: GPU catalog, `--sim-nodes` specs, YAML cluster profiles and
// the Node objects rendered from them (checked against the real Kubernetes OpenAPI schema).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <set>
#include <stdexcept>

#include "../support/test_env.hpp"
#include "omed/api/kinds.hpp"
#include "omed/apiserver/sim/node_profile.hpp"
#include "omed/common/yaml.hpp"
#include "omed/schema/validator.hpp"

using namespace omed;
using namespace omed::apiserver::sim;

namespace {

const std::string kNow = "2025-01-02T03:04:05Z";

std::string label(const json::Value& node, const std::string& key) {
  auto* labels = node.at_path("metadata.labels");
  REQUIRE(labels);
  auto* v = labels->get(key);
  return v && v->is_string() ? v->as_string() : "<absent>";
}

bool has_label(const json::Value& node, const std::string& key) {
  auto* labels = node.at_path("metadata.labels");
  return labels && labels->get(key);
}

std::string str(const json::Value& node, const std::string& dotted) {
  auto* v = node.at_path(dotted);
  return v && v->is_string() ? v->as_string() : "<absent>";
}

// status.capacity / status.allocatable entries: their keys hold dots, so at_path cannot reach them.
std::string resource(const json::Value& node, const std::string& list, const std::string& key) {
  auto* m = node.at_path("status." + list);
  REQUIRE(m);
  auto* v = m->get(key);
  return v && v->is_string() ? v->as_string() : "<absent>";
}

std::string name_of(const json::Value& node) { return str(node, "metadata.name"); }

// Lower-case hex digits in groups of the given lengths, separated by '-'.
bool hex_groups(const std::string& s, std::vector<size_t> lengths) {
  size_t pos = 0;
  for (size_t i = 0; i < lengths.size(); ++i) {
    if (i > 0 && (pos >= s.size() || s[pos++] != '-'))
      return false;
    for (size_t k = 0; k < lengths[i]; ++k, ++pos)
      if (pos >= s.size() || !((s[pos] >= '0' && s[pos] <= '9') || (s[pos] >= 'a' && s[pos] <= 'f')))
        return false;
  }
  return pos == s.size();
}

bool is_uuid(const std::string& s) { return hex_groups(s, {8, 4, 4, 4, 12}); }

// The four octets of a dotted IPv4 address; empty when it is not one.
std::vector<int> octets(const std::string& ip) {
  int a, b, c, d;
  char tail;
  if (std::sscanf(ip.c_str(), "%d.%d.%d.%d%c", &a, &b, &c, &d, &tail) != 4)
    return {};
  std::vector<int> out{a, b, c, d};
  for (int o : out)
    if (o < 0 || o > 255)
      return {};
  return out;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "<no error>";
}

std::string spec_error(const std::string& spec) {
  return error_of([&] { parse_node_spec(spec); });
}

std::string profile_error(const std::string& yaml_text) {
  return error_of([&] { parse_cluster_profile(yaml::parse_one(yaml_text)); });
}

const char* kFullProfile = R"(
region: us-sim-1
zones: [us-sim-1a, us-sim-1b]
rackLabel: example.com/nvlink-domain
nodesPerRack: 2
simulation: {schedulingDelay: 1s}   # read by the simulation, not here
nodeGroups:
- count: 3
  gpu: h200
  gpusPerNode: 8
  namePrefix: gpu-h200-
  instanceType: custom.h200
  cpu: "96"
  memory: 1Ti
  maxPods: 64
  zones: [us-sim-1c]
  labels:
    team: inference
    node.kubernetes.io/instance-type: overridden
  taints:
  - {key: nvidia.com/gpu, value: present, effect: NoSchedule}
  - {key: dedicated, effect: NoExecute}
- count: 2
  gpu: cpu
  cpu: 1500m
  memory: 8Gi
- count: 1
  gpu: A100
  gpusPerNode: 8
)";

}  // namespace

TEST_CASE("the GPU catalog has GPU feature discovery's values, found case-insensitively", "[sim-nodes]") {
  struct Row {
    const char* name;
    const char* product;
    int64_t mib;
    const char* family;
    int major, minor;
  };
  const Row rows[] = {
      {"H100", "NVIDIA-H100-80GB-HBM3", 81559, "hopper", 9, 0},
      {"H200", "NVIDIA-H200", 143771, "hopper", 9, 0},
      {"B200", "NVIDIA-B200", 183359, "blackwell", 10, 0},
      {"A100-40GB", "NVIDIA-A100-SXM4-40GB", 40960, "ampere", 8, 0},
      {"A100-80GB", "NVIDIA-A100-SXM4-80GB", 81920, "ampere", 8, 0},
      {"L40S", "NVIDIA-L40S", 46068, "ada-lovelace", 8, 9},
      {"L4", "NVIDIA-L4", 23034, "ada-lovelace", 8, 9},
      {"A10G", "NVIDIA-A10G", 23028, "ampere", 8, 6},
      {"T4", "Tesla-T4", 15360, "turing", 7, 5},
  };
  auto names = gpu_model_names();
  CHECK(names.size() == std::size(rows));
  for (const auto& r : rows) {
    INFO(r.name);
    const GpuModel* m = find_gpu_model(r.name);
    REQUIRE(m);
    CHECK(m->name == r.name);
    CHECK(m->product == r.product);
    CHECK(m->memory_mib == r.mib);
    CHECK(m->family == r.family);
    CHECK(m->compute_major == r.major);
    CHECK(m->compute_minor == r.minor);
    CHECK(std::find(names.begin(), names.end(), r.name) != names.end());
  }
  CHECK(find_gpu_model("h100") == find_gpu_model("H100"));
  CHECK(find_gpu_model("a100-40gb") == find_gpu_model("A100-40GB"));
  CHECK(find_gpu_model("A100") == find_gpu_model("A100-80GB"));
  CHECK(find_gpu_model("a100") == find_gpu_model("A100-80GB"));
  CHECK(find_gpu_model("X100") == nullptr);
  CHECK(find_gpu_model("") == nullptr);
  CHECK(find_gpu_model("H10") == nullptr);
}

TEST_CASE("a --sim-nodes spec renders named, labelled GPU nodes with kubelet capacity", "[sim-nodes]") {
  auto profile = parse_node_spec("4x8xH100,2x8xA100-40GB,8x1xL4");
  REQUIRE(profile.groups.size() == 3);
  CHECK(profile.groups[0].count == 4);
  CHECK(profile.groups[0].gpus_per_node == 8);
  CHECK(profile.groups[0].gpu == "H100");
  CHECK(profile.groups[1].gpu == "A100-40GB");
  CHECK(profile.groups[2].gpus_per_node == 1);

  auto nodes = render_nodes(profile, kNow);
  REQUIRE(nodes.size() == 14);

  std::vector<std::string> names;
  for (auto& n : nodes)
    names.push_back(name_of(n));
  CHECK(names == std::vector<std::string>{"sim-h100-0", "sim-h100-1", "sim-h100-2", "sim-h100-3", "sim-a100-40gb-0",
                                          "sim-a100-40gb-1", "sim-l4-0", "sim-l4-1", "sim-l4-2", "sim-l4-3",
                                          "sim-l4-4", "sim-l4-5", "sim-l4-6", "sim-l4-7"});

  SECTION("object shape and common labels") {
    for (auto& n : nodes) {
      INFO(name_of(n));
      CHECK(str(n, "apiVersion") == "v1");
      CHECK(str(n, "kind") == "Node");
      CHECK(label(n, "kubernetes.io/hostname") == name_of(n));
      CHECK(label(n, "kubernetes.io/os") == "linux");
      CHECK(label(n, "kubernetes.io/arch") == "amd64");
      CHECK(label(n, "beta.kubernetes.io/os") == "linux");
      CHECK(label(n, "beta.kubernetes.io/arch") == "amd64");
      CHECK(label(n, "topology.kubernetes.io/region") == "sim-region");
      CHECK(label(n, "nvidia.com/gpu.present") == "true");
      CHECK(label(n, "nvidia.com/gpu.machine") == label(n, "node.kubernetes.io/instance-type"));
      auto* ann = n.at_path("metadata.annotations");
      REQUIRE(ann);
      CHECK(*ann == json::Value(json::Object{{"node.alpha.kubernetes.io/ttl", "0"}, {"omed.io/simulated", "true"}}));
      CHECK(str(n, "spec.providerID") == "sim://" + name_of(n));
      CHECK(n.at_path("spec.taints") == nullptr);
      auto* port = n.at_path("status.daemonEndpoints.kubeletEndpoint.Port");
      REQUIRE(port);
      CHECK(port->as_int() == 10250);
    }
  }

  SECTION("GPU feature discovery labels and instance types") {
    auto& h100 = nodes[0];
    CHECK(label(h100, "nvidia.com/gpu.product") == "NVIDIA-H100-80GB-HBM3");
    CHECK(label(h100, "nvidia.com/gpu.memory") == "81559");
    CHECK(label(h100, "nvidia.com/gpu.count") == "8");
    CHECK(label(h100, "nvidia.com/gpu.family") == "hopper");
    CHECK(label(h100, "nvidia.com/gpu.compute.major") == "9");
    CHECK(label(h100, "nvidia.com/gpu.compute.minor") == "0");
    CHECK(label(h100, "node.kubernetes.io/instance-type") == "p5.48xlarge");
    CHECK(label(h100, "nvidia.com/gpu.machine") == "p5.48xlarge");

    auto& a100 = nodes[4];
    CHECK(label(a100, "nvidia.com/gpu.product") == "NVIDIA-A100-SXM4-40GB");
    CHECK(label(a100, "nvidia.com/gpu.memory") == "40960");
    CHECK(label(a100, "nvidia.com/gpu.family") == "ampere");
    CHECK(label(a100, "nvidia.com/gpu.compute.major") == "8");
    CHECK(label(a100, "node.kubernetes.io/instance-type") == "p4d.24xlarge");

    auto& l4 = nodes[6];
    CHECK(label(l4, "nvidia.com/gpu.product") == "NVIDIA-L4");
    CHECK(label(l4, "nvidia.com/gpu.memory") == "23034");
    CHECK(label(l4, "nvidia.com/gpu.count") == "1");
    CHECK(label(l4, "nvidia.com/gpu.family") == "ada-lovelace");
    CHECK(label(l4, "nvidia.com/gpu.compute.minor") == "9");
    CHECK(label(l4, "node.kubernetes.io/instance-type") == "g6.xlarge");
  }

  SECTION("capacity and allocatable as a kubelet reports them") {
    auto& h100 = nodes[0];
    CHECK(resource(h100, "capacity", "cpu") == "192");
    CHECK(resource(h100, "capacity", "memory") == "2147483648Ki");  // 2048Gi
    CHECK(resource(h100, "capacity", "pods") == "110");
    CHECK(resource(h100, "capacity", "nvidia.com/gpu") == "8");
    CHECK(resource(h100, "capacity", "ephemeral-storage") == "2147483648Ki");  // 2Ti
    CHECK(resource(h100, "allocatable", "cpu") == "191900m");
    CHECK(resource(h100, "allocatable", "memory") == "2146435072Ki");  // less 1Gi
    CHECK(resource(h100, "allocatable", "pods") == "110");
    CHECK(resource(h100, "allocatable", "nvidia.com/gpu") == "8");
    CHECK(resource(h100, "allocatable", "ephemeral-storage") == "1979120929997");  // 90% of 2Ti, in bytes

    auto& a100 = nodes[5];
    CHECK(resource(a100, "capacity", "cpu") == "96");
    CHECK(resource(a100, "capacity", "memory") == "1207959552Ki");  // 1152Gi
    CHECK(resource(a100, "allocatable", "cpu") == "95900m");
    CHECK(resource(a100, "allocatable", "memory") == "1206910976Ki");

    auto& l4 = nodes[13];
    CHECK(resource(l4, "capacity", "cpu") == "4");
    CHECK(resource(l4, "capacity", "memory") == "16777216Ki");  // 16Gi
    CHECK(resource(l4, "capacity", "nvidia.com/gpu") == "1");
    CHECK(resource(l4, "allocatable", "cpu") == "3900m");
    CHECK(resource(l4, "allocatable", "memory") == "15728640Ki");
    CHECK(resource(l4, "allocatable", "nvidia.com/gpu") == "1");
  }

  SECTION("racks of four, numbered across the cluster and filled per group") {
    std::vector<std::string> racks;
    for (auto& n : nodes)
      racks.push_back(label(n, "nvidia.com/gpu.clique"));
    CHECK(racks == std::vector<std::string>{"sim-rack-0", "sim-rack-0", "sim-rack-0", "sim-rack-0", "sim-rack-1",
                                            "sim-rack-1", "sim-rack-2", "sim-rack-2", "sim-rack-2", "sim-rack-2",
                                            "sim-rack-3", "sim-rack-3", "sim-rack-3", "sim-rack-3"});
  }

  SECTION("zones round-robin within each group") {
    CHECK(label(nodes[0], "topology.kubernetes.io/zone") == "sim-zone-a");
    CHECK(label(nodes[1], "topology.kubernetes.io/zone") == "sim-zone-b");
    CHECK(label(nodes[2], "topology.kubernetes.io/zone") == "sim-zone-c");
    CHECK(label(nodes[3], "topology.kubernetes.io/zone") == "sim-zone-a");
    CHECK(label(nodes[4], "topology.kubernetes.io/zone") == "sim-zone-a");
    CHECK(label(nodes[5], "topology.kubernetes.io/zone") == "sim-zone-b");
    CHECK(label(nodes[6], "topology.kubernetes.io/zone") == "sim-zone-a");
  }

  SECTION("pod CIDRs and addresses are unique per node") {
    std::set<std::string> cidrs, ips, machine_ids, uuids;
    for (auto& n : nodes) {
      INFO(name_of(n));
      auto cidr = str(n, "spec.podCIDR");
      auto* cidrs_list = n.at_path("spec.podCIDRs");
      REQUIRE(cidrs_list);
      CHECK(*cidrs_list == json::Value(json::Array{cidr}));
      cidrs.insert(cidr);
      auto* addrs = n.at_path("status.addresses");
      REQUIRE(addrs);
      REQUIRE(addrs->as_array().size() == 2);
      CHECK(addrs->as_array()[0].string_or("type") == "InternalIP");
      auto ip = addrs->as_array()[0].string_or("address");
      auto o = octets(ip);
      REQUIRE(o.size() == 4);
      CHECK(o[0] == 172);  // inside 172.16.0.0/12
      CHECK(o[1] >= 16);
      CHECK(o[1] <= 31);
      CHECK(o[3] >= 1);
      CHECK(o[3] <= 254);
      ips.insert(ip);
      CHECK(addrs->as_array()[1] == json::Value(json::Object{{"type", "Hostname"}, {"address", name_of(n)}}));
      machine_ids.insert(str(n, "status.nodeInfo.machineID"));
      uuids.insert(str(n, "status.nodeInfo.systemUUID"));
    }
    CHECK(cidrs.size() == nodes.size());
    CHECK(ips.size() == nodes.size());
    CHECK(machine_ids.size() == nodes.size());
    CHECK(uuids.size() == nodes.size());
    CHECK(str(nodes[0], "spec.podCIDR") == "10.64.0.0/24");
    CHECK(str(nodes[13], "spec.podCIDR") == "10.64.13.0/24");
  }

  SECTION("conditions say Ready, stamped now") {
    for (auto& n : nodes) {
      auto* conds = n.at_path("status.conditions");
      REQUIRE(conds);
      REQUIRE(conds->as_array().size() == 4);
      struct Want {
        const char *type, *status, *reason;
      };
      const Want want[] = {{"MemoryPressure", "False", "KubeletHasSufficientMemory"},
                           {"DiskPressure", "False", "KubeletHasNoDiskPressure"},
                           {"PIDPressure", "False", "KubeletHasSufficientPID"},
                           {"Ready", "True", "KubeletReady"}};
      for (size_t i = 0; i < 4; ++i) {
        auto& c = conds->as_array()[i];
        CHECK(c.string_or("type") == want[i].type);
        CHECK(c.string_or("status") == want[i].status);
        CHECK(c.string_or("reason") == want[i].reason);
        CHECK(!c.string_or("message").empty());
        CHECK(c.string_or("lastHeartbeatTime") == kNow);
        CHECK(c.string_or("lastTransitionTime") == kNow);
      }
      CHECK(conds->as_array()[3].string_or("message") == "kubelet is posting ready status");
    }
  }

  SECTION("nodeInfo") {
    auto& n = nodes[0];
    CHECK(hex_groups(str(n, "status.nodeInfo.machineID"), {32}));
    CHECK(is_uuid(str(n, "status.nodeInfo.systemUUID")));
    CHECK(is_uuid(str(n, "status.nodeInfo.bootID")));
    CHECK_FALSE(is_uuid("41d30863-c921-2a4b-5c1f-83c4a18341a"));
    CHECK(octets("172.16.0.256").empty());
    CHECK(str(n, "status.nodeInfo.systemUUID") != str(n, "status.nodeInfo.bootID"));
    CHECK(str(n, "status.nodeInfo.kernelVersion") == "6.1.0-omed-sim");
    CHECK(str(n, "status.nodeInfo.osImage") == "Debian GNU/Linux 12 (bookworm)");
    CHECK(str(n, "status.nodeInfo.containerRuntimeVersion") == "containerd://1.7.24");
    CHECK(str(n, "status.nodeInfo.kubeletVersion") == "v1.32.0");
    CHECK(str(n, "status.nodeInfo.kubeProxyVersion") == "v1.32.0");
    CHECK(str(n, "status.nodeInfo.operatingSystem") == "linux");
    CHECK(str(n, "status.nodeInfo.architecture") == "amd64");
  }
}

TEST_CASE("spec items tolerate whitespace and case; CPU-only nodes carry no GPU labels", "[sim-nodes]") {
  auto profile = parse_node_spec("  2xCPU ,\t1x8xh100 , 3xcpu ");
  REQUIRE(profile.groups.size() == 3);
  CHECK(profile.groups[0].gpu.empty());
  CHECK(profile.groups[0].gpus_per_node == 0);
  CHECK(profile.groups[1].gpu == "H100");

  auto nodes = render_nodes(profile, kNow);
  REQUIRE(nodes.size() == 6);
  // The two CPU groups share the default prefix: numbering continues instead of colliding.
  CHECK(name_of(nodes[0]) == "sim-cpu-0");
  CHECK(name_of(nodes[1]) == "sim-cpu-1");
  CHECK(name_of(nodes[2]) == "sim-h100-0");
  CHECK(name_of(nodes[3]) == "sim-cpu-2");
  CHECK(name_of(nodes[5]) == "sim-cpu-4");

  auto& cpu = nodes[0];
  CHECK(label(cpu, "node.kubernetes.io/instance-type") == "sim.cpu");
  CHECK_FALSE(has_label(cpu, "nvidia.com/gpu.present"));
  CHECK_FALSE(has_label(cpu, "nvidia.com/gpu.product"));
  CHECK_FALSE(has_label(cpu, "nvidia.com/gpu.clique"));
  CHECK(resource(cpu, "capacity", "cpu") == "16");
  CHECK(resource(cpu, "capacity", "memory") == "67108864Ki");  // 64Gi
  CHECK(resource(cpu, "capacity", "nvidia.com/gpu") == "<absent>");
  CHECK(resource(cpu, "allocatable", "nvidia.com/gpu") == "<absent>");
  CHECK(resource(cpu, "allocatable", "cpu") == "15900m");
  // CPU nodes take no rack: the H100 node starts rack 0.
  CHECK(label(nodes[2], "nvidia.com/gpu.clique") == "sim-rack-0");
}

TEST_CASE("shapes without a known instance type get per-GPU defaults", "[sim-nodes]") {
  auto nodes = render_nodes(parse_node_spec("1x4xH100,1x2xT4,1x8xB200,1x8xH200,1x1xL40S,1x1xA10G,1x8xA100-80GB,1x8xL4"),
                            kNow);
  REQUIRE(nodes.size() == 8);
  CHECK(label(nodes[0], "node.kubernetes.io/instance-type") == "sim.4xh100");
  CHECK(resource(nodes[0], "capacity", "cpu") == "96");
  CHECK(resource(nodes[0], "capacity", "memory") == "1073741824Ki");  // 4 x 256Gi
  CHECK(label(nodes[1], "node.kubernetes.io/instance-type") == "sim.2xt4");
  CHECK(resource(nodes[1], "capacity", "cpu") == "48");
  CHECK(name_of(nodes[1]) == "sim-t4-0");

  struct Known {
    size_t i;
    const char* type;
    const char* cpu;
    const char* memory;
  };
  const Known known[] = {{2, "p6-b200.48xlarge", "192", "2147483648Ki"}, {3, "p5e.48xlarge", "192", "2147483648Ki"},
                         {4, "g6e.xlarge", "4", "33554432Ki"},            {5, "g5.xlarge", "4", "16777216Ki"},
                         {6, "p4de.24xlarge", "96", "1207959552Ki"},      {7, "g6.48xlarge", "192", "805306368Ki"}};
  for (const auto& k : known) {
    INFO(name_of(nodes[k.i]));
    CHECK(label(nodes[k.i], "node.kubernetes.io/instance-type") == k.type);
    CHECK(resource(nodes[k.i], "capacity", "cpu") == k.cpu);
    CHECK(resource(nodes[k.i], "capacity", "memory") == k.memory);
  }
  CHECK(label(nodes[4], "nvidia.com/gpu.family") == "ada-lovelace");
  CHECK(label(nodes[6], "nvidia.com/gpu.product") == "NVIDIA-A100-SXM4-80GB");
  CHECK(name_of(nodes[6]) == "sim-a100-80gb-0");
}

TEST_CASE("bad --sim-nodes specs are rejected with the offending item and the reason", "[sim-nodes]") {
  CHECK(spec_error("") == "node spec is empty; expected items like 4x8xH100,2xcpu");
  CHECK(spec_error("  ") == "node spec is empty; expected items like 4x8xH100,2xcpu");
  CHECK(spec_error("4x8xH100,,2xcpu") == "node spec item 2 is empty (stray comma?)");
  CHECK(spec_error("4x8xH100,") == "node spec item 2 is empty (stray comma?)");

  auto unknown = spec_error("4x8xH100, 2x8xX100");
  CHECK(unknown == "node spec item \"2x8xX100\": unknown GPU model \"X100\" (known: H100, H200, B200, A100-40GB, "
                   "A100-80GB, L40S, L4, A10G, T4; or COUNTxcpu for CPU-only nodes)");

  CHECK(spec_error("0x8xH100") == "node spec item \"0x8xH100\": node count \"0\" must be a positive integer");
  CHECK(spec_error("-1x8xH100") == "node spec item \"-1x8xH100\": node count \"-1\" must be a positive integer");
  CHECK(spec_error("ax8xH100") == "node spec item \"ax8xH100\": node count \"a\" must be a positive integer");
  CHECK(spec_error("x8xH100") == "node spec item \"x8xH100\": node count \"\" is missing");
  CHECK(spec_error("4x0xH100") == "node spec item \"4x0xH100\": GPUs per node \"0\" must be a positive integer");
  CHECK(spec_error("4x-8xH100") == "node spec item \"4x-8xH100\": GPUs per node \"-8\" must be a positive integer");
  CHECK(spec_error("4x8.5xH100") == "node spec item \"4x8.5xH100\": GPUs per node \"8.5\" must be a positive integer");
  CHECK(spec_error("4x2000xH100") ==
        "node spec item \"4x2000xH100\": GPUs per node \"2000\" is too large (at most 1024)");
  CHECK(spec_error("0xcpu") == "node spec item \"0xcpu\": node count \"0\" must be a positive integer");
  CHECK(spec_error("4") == "node spec item \"4\": missing 'x'; expected COUNTxGPUSxMODEL (like 4x8xH100) or COUNTxcpu");
  CHECK(spec_error("4xH100") ==
        "node spec item \"4xH100\": missing the GPU model; expected COUNTxGPUSxMODEL (like 4x8xH100) or COUNTxcpu");
  CHECK(spec_error("4x8x") == "node spec item \"4x8x\": unknown GPU model \"\" (known: H100, H200, B200, A100-40GB, "
                              "A100-80GB, L40S, L4, A10G, T4; or COUNTxcpu for CPU-only nodes)");
  CHECK(spec_error("99999999999xcpu") ==
        "node spec item \"99999999999xcpu\": node count \"99999999999\" is too large (at most 2147483647)");

  CHECK(spec_error("60000x8xH100,40001xcpu") ==
        "node spec item \"40001xcpu\": brings the cluster to 100001 nodes; at most 100000 are supported");
  CHECK(spec_error("100001xcpu") ==
        "node spec item \"100001xcpu\": brings the cluster to 100001 nodes; at most 100000 are supported");
  auto at_limit = parse_node_spec("60000x8xH100,40000xcpu");
  CHECK(at_limit.groups.size() == 2);
}

TEST_CASE("a YAML cluster profile sets every field", "[sim-nodes]") {
  auto profile = parse_cluster_profile(yaml::parse_one(kFullProfile));
  CHECK(profile.region == "us-sim-1");
  CHECK(profile.zones == std::vector<std::string>{"us-sim-1a", "us-sim-1b"});
  CHECK(profile.rack_label == "example.com/nvlink-domain");
  CHECK(profile.nodes_per_rack == 2);
  REQUIRE(profile.groups.size() == 3);

  auto& g = profile.groups[0];
  CHECK(g.count == 3);
  CHECK(g.gpu == "H200");
  CHECK(g.gpus_per_node == 8);
  CHECK(g.name_prefix == "gpu-h200-");
  CHECK(g.instance_type == "custom.h200");
  CHECK(g.cpu_millis == 96000);
  CHECK(g.memory_bytes == (int64_t(1) << 40));
  CHECK(g.max_pods == 64);
  CHECK(g.zones == std::vector<std::string>{"us-sim-1c"});
  CHECK(g.labels == std::map<std::string, std::string>{{"team", "inference"},
                                                       {"node.kubernetes.io/instance-type", "overridden"}});
  REQUIRE(g.taints.size() == 2);
  CHECK(g.taints[0].key == "nvidia.com/gpu");
  CHECK(g.taints[0].value == "present");
  CHECK(g.taints[0].effect == "NoSchedule");
  CHECK(g.taints[1].key == "dedicated");
  CHECK(g.taints[1].value.empty());
  CHECK(g.taints[1].effect == "NoExecute");

  CHECK(profile.groups[1].gpu.empty());
  CHECK(profile.groups[1].cpu_millis == 1500);
  CHECK(profile.groups[1].memory_bytes == 8 * (int64_t(1) << 30));
  CHECK(profile.groups[1].max_pods == 110);
  CHECK(profile.groups[2].gpu == "A100-80GB");

  auto nodes = render_nodes(profile, kNow);
  REQUIRE(nodes.size() == 6);

  SECTION("the H200 group") {
    for (int i = 0; i < 3; ++i) {
      auto& n = nodes[static_cast<size_t>(i)];
      INFO(name_of(n));
      CHECK(name_of(n) == "gpu-h200-" + std::to_string(i));
      CHECK(label(n, "topology.kubernetes.io/zone") == "us-sim-1c");
      CHECK(label(n, "topology.kubernetes.io/region") == "us-sim-1");
      CHECK(label(n, "team") == "inference");
      // Group labels come last and win over the generated ones.
      CHECK(label(n, "node.kubernetes.io/instance-type") == "overridden");
      CHECK(label(n, "nvidia.com/gpu.machine") == "custom.h200");
      CHECK(label(n, "nvidia.com/gpu.product") == "NVIDIA-H200");
      CHECK(label(n, "nvidia.com/gpu.memory") == "143771");
      CHECK_FALSE(has_label(n, "nvidia.com/gpu.clique"));
      CHECK(resource(n, "capacity", "cpu") == "96");
      CHECK(resource(n, "allocatable", "cpu") == "95900m");
      CHECK(resource(n, "capacity", "memory") == "1073741824Ki");
      CHECK(resource(n, "allocatable", "memory") == "1072693248Ki");
      CHECK(resource(n, "capacity", "pods") == "64");
      CHECK(resource(n, "allocatable", "pods") == "64");
      auto* taints = n.at_path("spec.taints");
      REQUIRE(taints);
      CHECK(*taints == json::Value(json::Array{
                           json::Object{{"key", "nvidia.com/gpu"}, {"value", "present"}, {"effect", "NoSchedule"}},
                           json::Object{{"key", "dedicated"}, {"effect", "NoExecute"}}}));
    }
    CHECK(label(nodes[0], "example.com/nvlink-domain") == "sim-rack-0");
    CHECK(label(nodes[1], "example.com/nvlink-domain") == "sim-rack-0");
    CHECK(label(nodes[2], "example.com/nvlink-domain") == "sim-rack-1");
  }

  SECTION("the CPU group") {
    CHECK(name_of(nodes[3]) == "sim-cpu-0");
    CHECK(name_of(nodes[4]) == "sim-cpu-1");
    CHECK(label(nodes[3], "topology.kubernetes.io/zone") == "us-sim-1a");
    CHECK(label(nodes[4], "topology.kubernetes.io/zone") == "us-sim-1b");
    CHECK_FALSE(has_label(nodes[3], "example.com/nvlink-domain"));
    CHECK(resource(nodes[3], "capacity", "cpu") == "1500m");
    CHECK(resource(nodes[3], "allocatable", "cpu") == "1400m");
    CHECK(resource(nodes[3], "capacity", "memory") == "8388608Ki");
    CHECK(resource(nodes[3], "allocatable", "memory") == "7340032Ki");
    CHECK(nodes[3].at_path("spec.taints") == nullptr);
  }

  SECTION("the A100 group") {
    auto& n = nodes[5];
    CHECK(name_of(n) == "sim-a100-80gb-0");
    CHECK(label(n, "example.com/nvlink-domain") == "sim-rack-2");
    CHECK(label(n, "node.kubernetes.io/instance-type") == "p4de.24xlarge");
    CHECK(label(n, "topology.kubernetes.io/zone") == "us-sim-1a");
    CHECK(resource(n, "capacity", "cpu") == "96");
    CHECK(resource(n, "capacity", "memory") == "1207959552Ki");
    CHECK(str(n, "spec.podCIDR") == "10.64.5.0/24");
  }
}

TEST_CASE("profile cpu and memory take Kubernetes quantities", "[sim-nodes]") {
  auto parse_group = [](const std::string& fields) {
    auto p = parse_cluster_profile(yaml::parse_one("nodeGroups: [{" + fields + "}]"));
    REQUIRE(p.groups.size() == 1);
    return p.groups[0];
  };
  const int64_t Ki = 1024, Gi = Ki * Ki * Ki;
  CHECK(parse_group("cpu: 192").cpu_millis == 192000);
  CHECK(parse_group("cpu: \"192\"").cpu_millis == 192000);
  CHECK(parse_group("cpu: 500m").cpu_millis == 500);
  CHECK(parse_group("cpu: 2.5").cpu_millis == 2500);
  CHECK(parse_group("cpu: \"0.25\"").cpu_millis == 250);
  CHECK(parse_group("cpu: 1e3").cpu_millis == 1000000);
  CHECK(parse_group("cpu: 1k").cpu_millis == 1000000);
  CHECK(parse_group("cpu: \"0.1005\"").cpu_millis == 101);  // rounded up, as the API server does
  CHECK(parse_group("memory: 2Ti").memory_bytes == 2048 * Gi);
  CHECK(parse_group("memory: 2048Gi").memory_bytes == 2048 * Gi);
  CHECK(parse_group("memory: 1.5Ti").memory_bytes == 1536 * Gi);
  CHECK(parse_group("memory: 4096Mi").memory_bytes == 4 * Gi);
  CHECK(parse_group("memory: 2097152Ki").memory_bytes == 2 * Gi);
  CHECK(parse_group("memory: 1Pi").memory_bytes == Gi * Gi / Ki);
  CHECK(parse_group("memory: 1Ei").memory_bytes == Gi * Gi);
  CHECK(parse_group("memory: 64G").memory_bytes == 64000000000);
  CHECK(parse_group("memory: 2T").memory_bytes == 2000000000000);
  CHECK(parse_group("memory: 1P").memory_bytes == 1000000000000000);
  CHECK(parse_group("memory: 1E").memory_bytes == 1000000000000000000);
  CHECK(parse_group("memory: 3000M").memory_bytes == 3000000000);
  CHECK(parse_group("memory: 5000000k").memory_bytes == 5000000000);
  CHECK(parse_group("memory: 68719476736").memory_bytes == 64 * Gi);

  auto nodes = render_nodes(parse_cluster_profile(yaml::parse_one("nodeGroups: [{memory: 2T, cpu: 2.5}]")), kNow);
  REQUIRE(nodes.size() == 1);
  CHECK(resource(nodes[0], "capacity", "memory") == "1953125000Ki");
  CHECK(resource(nodes[0], "allocatable", "memory") == "1952076424Ki");
  CHECK(resource(nodes[0], "capacity", "cpu") == "2500m");
  CHECK(resource(nodes[0], "allocatable", "cpu") == "2400m");
}

TEST_CASE("bad cluster profiles are rejected with the path of the bad field", "[sim-nodes]") {
  const std::string known = " (known: H100, H200, B200, A100-40GB, A100-80GB, L40S, L4, A10G, T4)";
  struct Case {
    const char* yaml;
    std::string error;
  };
  const Case cases[] = {
      {"[a, b]", "cluster profile: must be a mapping, got a list"},
      {"nodeGroups: [{count: 1}, {count: 2, gpu: X100, gpusPerNode: 8}]",
       "nodeGroups[1].gpu: unknown GPU model \"X100\"" + known},
      {"nodeGroups: [{gpu: H100, gpusPerNode: 8, taints: [{key: a, effect: Sometimes}]}]",
       "nodeGroups[0].taints[0].effect: must be NoSchedule, PreferNoSchedule or NoExecute"},
      {"nodeGroups: [{taints: [{key: a}]}]",
       "nodeGroups[0].taints[0].effect: must be NoSchedule, PreferNoSchedule or NoExecute"},
      {"nodeGroups: [{taints: [{value: a, effect: NoSchedule}]}]", "nodeGroups[0].taints[0].key: is required"},
      {"nodeGroups: [{taints: [{key: a, effect: NoSchedule, operator: Exists}]}]",
       "nodeGroups[0].taints[0].operator: unknown field (expected key, value, effect)"},
      {"nodeGroups: [{taints: [{key: 'bad key', effect: NoSchedule}]}]",
       "nodeGroups[0].taints[0].key: \"bad key\" must be a qualified name: an optional DNS subdomain prefix and "
       "'/', then at most 63 alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric "
       "character"},
      {"nodeGroups: [{taints: {key: a}}]", "nodeGroups[0].taints: must be a list of taints, got a mapping"},
      {"nodeGroups: [{taints: [x]}]",
       "nodeGroups[0].taints[0]: must be a mapping with key, value and effect, got the string \"x\""},
      {"nodeGroups: [{count: 0}]", "nodeGroups[0].count: must be between 1 and 100000, got 0"},
      {"nodeGroups: [{count: -3}]", "nodeGroups[0].count: must be between 1 and 100000, got -3"},
      {"nodeGroups: [{count: \"4\"}]", "nodeGroups[0].count: must be an integer, got the string \"4\""},
      {"nodeGroups: [{count: 1.5}]", "nodeGroups[0].count: must be an integer, got a decimal number"},
      {"nodeGroups: [{count: 60000}, {count: 40001}]",
       "nodeGroups[1].count: brings the cluster to 100001 nodes; at most 100000 are supported"},
      {"nodeGroups: [{gpu: H100}]", "nodeGroups[0].gpusPerNode: must be at least 1 for H100 nodes"},
      {"nodeGroups: [{gpusPerNode: 8}]", "nodeGroups[0].gpu: is required when gpusPerNode is set"},
      {"nodeGroups: [{gpu: H100, gpusPerNode: 2000}]",
       "nodeGroups[0].gpusPerNode: must be between 0 and 1024, got 2000"},
      {"nodeGroups: [{gpu: 100}]", "nodeGroups[0].gpu: must be a string, got the number 100"},
      {"nodeGroups: [{gpuPerNode: 8}]",
       "nodeGroups[0].gpuPerNode: unknown field (expected count, gpu, gpusPerNode, namePrefix, instanceType, cpu, "
       "memory, maxPods, zones, labels, taints)"},
      {"nodeGroups: [{namePrefix: GPU_}]",
       "nodeGroups[0].namePrefix: \"GPU_\" must be lower-case alphanumeric characters, '-' or '.', starting with "
       "an alphanumeric character (node names are the prefix and a number)"},
      {"nodeGroups: [{namePrefix: -gpu-}]",
       "nodeGroups[0].namePrefix: \"-gpu-\" must be lower-case alphanumeric characters, '-' or '.', starting with "
       "an alphanumeric character (node names are the prefix and a number)"},
      {"nodeGroups: [{instanceType: 'p5 48xlarge'}]",
       "nodeGroups[0].instanceType: \"p5 48xlarge\" must be at most 63 alphanumeric characters, '-', '_' or '.', "
       "starting and ending with an alphanumeric character"},
      {"nodeGroups: [{cpu: abc}]",
       "nodeGroups[0].cpu: \"abc\" is not a quantity (like \"16\", \"1500m\", \"64Gi\" or \"2T\")"},
      {"nodeGroups: [{cpu: 12Q}]",
       "nodeGroups[0].cpu: \"12Q\" is not a quantity (like \"16\", \"1500m\", \"64Gi\" or \"2T\")"},
      {"nodeGroups: [{cpu: '-2'}]", "nodeGroups[0].cpu: \"-2\" must be positive"},
      {"nodeGroups: [{cpu: 0}]", "nodeGroups[0].cpu: must be greater than zero"},
      {"nodeGroups: [{cpu: 100m}]", "nodeGroups[0].cpu: must be more than the 100m a kubelet reserves"},
      {"nodeGroups: [{cpu: 1e30}]", "nodeGroups[0].cpu: \"1e+30\" is too large"},
      {"nodeGroups: [{cpu: 100Ei}]", "nodeGroups[0].cpu: \"100Ei\" is too large"},
      {"nodeGroups: [{cpu: [1]}]", "nodeGroups[0].cpu: must be a quantity, got a list"},
      {"nodeGroups: [{memory: 500m}]",
       "nodeGroups[0].memory: \"500m\" is not a quantity (like \"16\", \"1500m\", \"64Gi\" or \"2T\")"},
      {"nodeGroups: [{memory: 1Gi}]", "nodeGroups[0].memory: must be more than the 1Gi a kubelet reserves"},
      {"nodeGroups: [{memory: 1.2.3Gi}]",
       "nodeGroups[0].memory: \"1.2.3Gi\" is not a quantity (like \"16\", \"1500m\", \"64Gi\" or \"2T\")"},
      {"nodeGroups: [{memory: 1234567890123456789012Ki}]",
       "nodeGroups[0].memory: \"1234567890123456789012Ki\" has more digits than a quantity can hold"},
      {"nodeGroups: [{maxPods: 0}]", "nodeGroups[0].maxPods: must be between 1 and 100000, got 0"},
      {"nodeGroups: [{zones: []}]", "nodeGroups[0].zones: must name at least one zone"},
      {"nodeGroups: [{zones: us-1a}]",
       "nodeGroups[0].zones: must be a list of zone names, got the string \"us-1a\""},
      {"nodeGroups: [{zones: [a, 7]}]", "nodeGroups[0].zones[1]: must be a string, got the number 7"},
      {"nodeGroups: [{labels: [a]}]", "nodeGroups[0].labels: must be a mapping of label keys to values, got a list"},
      {"nodeGroups: [{labels: {tier: 1}}]",
       "nodeGroups[0].labels[tier]: must be a string (quote numbers and booleans), got the number 1"},
      {"nodeGroups: [{labels: {'a b': x}}]",
       "nodeGroups[0].labels[a b]: label key must be a qualified name: an optional DNS subdomain prefix and '/', "
       "then at most 63 alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric "
       "character"},
      {"nodeGroups: [{labels: {'Bad_Prefix/x': y}}]",
       "nodeGroups[0].labels[Bad_Prefix/x]: label key must be a qualified name: an optional DNS subdomain prefix "
       "and '/', then at most 63 alphanumeric characters, '-', '_' or '.', starting and ending with an "
       "alphanumeric character"},
      {"nodeGroups: [{labels: {tier: '-x'}}]",
       "nodeGroups[0].labels[tier]: \"-x\" must be at most 63 alphanumeric characters, '-', '_' or '.', starting "
       "and ending with an alphanumeric character"},
      {"nodeGroups: [3]", "nodeGroups[0]: must be a mapping, got the number 3"},
      {"nodeGroups: {count: 1}", "nodeGroups: must be a list of node groups, got a mapping"},
      {"nodeGroups: []", "nodeGroups: must list at least one node group"},
      {"zones: []", "zones: must name at least one zone"},
      {"zones: ['']",
       "zones[0]: \"\" must be at most 63 alphanumeric characters, '-', '_' or '.', starting and ending with an "
       "alphanumeric character"},
      {"region: 5", "region: must be a string, got the number 5"},
      {"region: ''",
       "region: \"\" must be at most 63 alphanumeric characters, '-', '_' or '.', starting and ending with an "
       "alphanumeric character"},
      {"rackLabel: 'nvidia.com/'",
       "rackLabel: \"nvidia.com/\" must be a qualified name: an optional DNS subdomain prefix and '/', then at most "
       "63 alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character"},
      {"nodesPerRack: 0", "nodesPerRack: must be between 1 and 100000, got 0"},
      {"nodesPerRack: true", "nodesPerRack: must be an integer, got true"},
  };
  for (const auto& c : cases) {
    INFO(c.yaml);
    CHECK(profile_error(c.yaml) == c.error);
  }
}

TEST_CASE("a profile without nodeGroups describes no nodes and keeps the defaults", "[sim-nodes]") {
  auto p = parse_cluster_profile(yaml::parse_one("simulation: {bindDelay: 2s}\nfailures: []\n"));
  CHECK(p.groups.empty());
  CHECK(p.zones == std::vector<std::string>{"sim-zone-a", "sim-zone-b", "sim-zone-c"});
  CHECK(p.region == "sim-region");
  CHECK(p.rack_label == "nvidia.com/gpu.clique");
  CHECK(p.nodes_per_rack == 4);
  CHECK(render_nodes(p, kNow).empty());
  // JSON documents work the same way.
  auto q = parse_cluster_profile(json::parse(R"({"nodeGroups":[{"count":2,"gpu":"L4","gpusPerNode":1}]})"));
  REQUIRE(q.groups.size() == 1);
  CHECK(q.groups[0].gpu == "L4");
}

TEST_CASE("node names never collide: equal prefixes continue counting, clashes are errors", "[sim-nodes]") {
  auto nodes = render_nodes(parse_node_spec("2x8xH100,3x8xH100"), kNow);
  REQUIRE(nodes.size() == 5);
  for (size_t i = 0; i < nodes.size(); ++i)
    CHECK(name_of(nodes[i]) == "sim-h100-" + std::to_string(i));
  // Each group fills its own racks.
  CHECK(label(nodes[1], "nvidia.com/gpu.clique") == "sim-rack-0");
  CHECK(label(nodes[2], "nvidia.com/gpu.clique") == "sim-rack-1");
  CHECK(label(nodes[4], "nvidia.com/gpu.clique") == "sim-rack-1");

  auto shared = render_nodes(parse_cluster_profile(yaml::parse_one(
                                 "nodeGroups: [{count: 2, namePrefix: pool-}, {count: 1, gpu: L4, gpusPerNode: 1, "
                                 "namePrefix: pool-}]")),
                             kNow);
  REQUIRE(shared.size() == 3);
  CHECK(name_of(shared[2]) == "pool-2");

  auto clash = parse_cluster_profile(
      yaml::parse_one("nodeGroups: [{count: 11, namePrefix: a-}, {count: 1, namePrefix: a-1}]"));
  CHECK(error_of([&] { render_nodes(clash, kNow); }) ==
        "cluster profile: two node groups both name a node \"a-10\"; give them distinct namePrefix values");
}

TEST_CASE("render_nodes rejects profiles built in code with impossible groups", "[sim-nodes]") {
  ClusterProfile p;
  p.groups.push_back(NodeGroup{});
  p.groups[0].gpu = "X100";
  p.groups[0].gpus_per_node = 8;
  CHECK(error_of([&] { render_nodes(p, kNow); }) ==
        "node group: unknown GPU model \"X100\" (known: H100, H200, B200, A100-40GB, A100-80GB, L40S, L4, A10G, T4)");
  p.groups[0].gpu = "H100";
  p.groups[0].gpus_per_node = 0;
  CHECK(error_of([&] { render_nodes(p, kNow); }) == "node group of H100 nodes: gpusPerNode must be at least 1");
  p.groups[0].gpus_per_node = 8;
  p.nodes_per_rack = 0;
  CHECK(error_of([&] { render_nodes(p, kNow); }) == "cluster profile: nodesPerRack must be at least 1");
  p.nodes_per_rack = 4;
  p.zones.clear();
  CHECK(error_of([&] { render_nodes(p, kNow); }) == "cluster profile: no zones to place sim-h100-* nodes in");
  p.groups[0].zones = {"z1"};
  p.rack_label.clear();
  auto nodes = render_nodes(p, kNow);
  REQUIRE(nodes.size() == 1);
  CHECK(label(nodes[0], "topology.kubernetes.io/zone") == "z1");
  // Without a rack label the nodes carry none (rather than an empty key).
  CHECK_FALSE(has_label(nodes[0], ""));
  CHECK_FALSE(has_label(nodes[0], "nvidia.com/gpu.clique"));
}

TEST_CASE("rendering is deterministic", "[sim-nodes]") {
  auto spec = "4x8xH100,2x8xA100-40GB,8x1xL4,3xcpu";
  auto a = render_nodes(parse_node_spec(spec), kNow);
  auto b = render_nodes(parse_node_spec(spec), kNow);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i)
    CHECK(json::dump(a[i]) == json::dump(b[i]));

  auto p = parse_cluster_profile(yaml::parse_one(kFullProfile));
  auto c = render_nodes(p, kNow);
  auto d = render_nodes(parse_cluster_profile(yaml::parse_one(kFullProfile)), kNow);
  CHECK(c == d);
  // Only the timestamps depend on `now`.
  auto later = render_nodes(p, "2030-01-01T00:00:00Z");
  CHECK(str(later[0], "status.nodeInfo.bootID") == str(c[0], "status.nodeInfo.bootID"));
  CHECK(json::dump(later[0]) != json::dump(c[0]));
  // A node's IDs hang on its name alone, wherever it appears in the cluster.
  auto alone = render_nodes(parse_node_spec("1x8xH100"), kNow);
  CHECK(str(alone[0], "status.nodeInfo.machineID") == str(a[0], "status.nodeInfo.machineID"));
}

TEST_CASE("rendered nodes are valid v1 Nodes by the Kubernetes OpenAPI schema", "[sim-nodes]") {
  // $OMED_SHARED_DIR is the shared/ directory under meson, shared/testdata when set by hand.
  std::filesystem::path dir;
  for (auto candidate : {omed::testing::shared_dir() / "testdata/k8s/openapi-v3",
                         omed::testing::shared_dir() / "k8s/openapi-v3"})
    if (std::filesystem::exists(candidate / "api__v1_openapi.json"))
      dir = candidate;
  if (dir.empty()) {
    WARN("SKIPPING: no k8s/openapi-v3/api__v1_openapi.json under " << omed::testing::shared_dir().string()
                                                                    << " (set OMED_SHARED_DIR)");
    return;
  }
  auto k8s = api::K8sSchemas::load_dir(dir.string());
  REQUIRE(k8s.has("io.k8s.api.core.v1.Node"));
  auto schema = k8s.resolve("io.k8s.api.core.v1.Node");

  auto nodes = render_nodes(parse_node_spec("4x8xH100,2x8xA100-40GB,8x1xL4,2xcpu"), kNow);
  auto profiled = render_nodes(parse_cluster_profile(yaml::parse_one(kFullProfile)), kNow);
  nodes.insert(nodes.end(), profiled.begin(), profiled.end());
  REQUIRE(nodes.size() == 22);

  for (const auto& node : nodes) {
    INFO(name_of(node));
    for (bool whole : {true, false}) {
      json::Value copy = node;
      schema::Options o;
      o.prune = true;
      o.apply_defaults = false;
      o.root_is_object = whole;  // false: metadata is checked against ObjectMeta too
      auto r = schema::validate(copy, schema, o);
      for (const auto& e : r.errors)
        UNSCOPED_INFO(e.to_string());
      for (const auto& u : r.unknown_fields)
        UNSCOPED_INFO("unknown field " << u);
      CHECK(r.errors.empty());
      CHECK(r.type_mismatches.empty());
      CHECK(r.unknown_fields.empty());
      // Nothing was pruned: every field we emit is one a Node has.
      CHECK(copy == node);
    }
  }
}
