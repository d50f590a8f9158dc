// Node profiles of the simulated cluster (see omed/apiserver/sim/node_profile.hpp): a GPU
// catalog with the values GPU feature discovery reports, the `--sim-nodes` spec and YAML profile
// parsers, and the Node objects a kubelet would register for them.
#include "omed/apiserver/sim/node_profile.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <limits>
#include <optional>
#include <stdexcept>
#include <unordered_set>

namespace omed::apiserver::sim {

namespace {

// A simulated cluster lives in one process's memory; beyond this many nodes a typo
// ("40000x8xH100" for "4x8xH100") is likelier than intent.
constexpr int64_t kMaxNodes = 100000;
// Bounds what a node's derived capacity (per-GPU cores and memory) can reach without overflow.
constexpr int64_t kMaxGpusPerNode = 1024;

constexpr int64_t kKi = 1024;
constexpr int64_t kGi = kKi * kKi * kKi;

// Every simulated node has the same root disk; kubelets reserve a tenth of it (eviction threshold).
constexpr int64_t kEphemeralStorageBytes = 2 * kGi * kKi;  // 2Ti
// What a kubelet keeps back from capacity for the system and itself.
constexpr int64_t kReservedCpuMillis = 100;
constexpr int64_t kReservedMemoryBytes = kGi;

const std::vector<GpuModel>& catalog() {
  static const std::vector<GpuModel> models = {
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
  return models;
}

// Names people commonly use for a catalog entry ("A100" is the 80 GB part in most fleets).
struct Alias {
  std::string_view alias;
  std::string_view name;
};
constexpr std::array<Alias, 1> kAliases{{{"A100", "A100-80GB"}}};

// The cloud instance a GPU node of this shape usually is, and what it has besides the GPUs.
struct InstanceShape {
  std::string_view gpu;
  int gpus;
  std::string_view instance_type;
  int64_t cpu_cores;
  int64_t memory_gib;
};
constexpr std::array<InstanceShape, 10> kInstanceShapes{{
    {"H100", 8, "p5.48xlarge", 192, 2048},
    {"H200", 8, "p5e.48xlarge", 192, 2048},
    {"B200", 8, "p6-b200.48xlarge", 192, 2048},
    {"A100-40GB", 8, "p4d.24xlarge", 96, 1152},
    {"A100-80GB", 8, "p4de.24xlarge", 96, 1152},
    {"L4", 1, "g6.xlarge", 4, 16},
    {"L4", 8, "g6.48xlarge", 192, 768},
    {"L40S", 1, "g6e.xlarge", 4, 32},
    {"A10G", 1, "g5.xlarge", 4, 16},
    {"T4", 1, "g4dn.xlarge", 4, 16},
}};

const InstanceShape* find_shape(std::string_view gpu, int gpus) {
  for (const auto& s : kInstanceShapes)
    if (s.gpu == gpu && s.gpus == gpus)
      return &s;
  return nullptr;
}

// ------------------------------------------------------------------ small text helpers

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = lower(c);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i]))
      return false;
  return true;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_space(s.back()))
    s.remove_suffix(1);
  return s;
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string known_models() {
  std::string out;
  for (const auto& name : gpu_model_names())
    out += (out.empty() ? "" : ", ") + name;
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_lower_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z'); }

// ------------------------------------------------------------------ Kubernetes name rules
// Checked when a profile is parsed, so that a bad label fails at start-up with its field path
// rather than as a 422 when the simulated kubelet registers the node.

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], at most 63 characters; empty allowed.
bool valid_label_value(std::string_view v) {
  if (v.empty())
    return true;
  if (v.size() > 63 || !is_alnum(v.front()) || !is_alnum(v.back()))
    return false;
  for (char c : v)
    if (!is_alnum(c) && c != '-' && c != '_' && c != '.')
      return false;
  return true;
}

// Lower-case RFC 1123 subdomain: labels of [a-z0-9-] separated by dots, at most 253 characters.
bool valid_dns_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253 || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back()))
    return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '.' && (!is_lower_alnum(s[i - 1]) || !is_lower_alnum(s[i + 1])))
      return false;
    if (!is_lower_alnum(c) && c != '-' && c != '.')
      return false;
  }
  return true;
}

// [prefix/]name with a DNS-subdomain prefix and a non-empty label-value-shaped name.
bool valid_label_key(std::string_view k) {
  auto slash = k.find('/');
  if (slash != std::string_view::npos && !valid_dns_subdomain(k.substr(0, slash)))
    return false;
  auto name = slash == std::string_view::npos ? k : k.substr(slash + 1);
  return !name.empty() && valid_label_value(name);
}

constexpr const char* kLabelKeyRule =
    "must be a qualified name: an optional DNS subdomain prefix and '/', then at most 63 "
    "alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character";
constexpr const char* kLabelValueRule =
    "must be at most 63 alphanumeric characters, '-', '_' or '.', starting and ending with an "
    "alphanumeric character";

// ------------------------------------------------------------------ quantities

// A Kubernetes quantity in units of 1/per_unit (per_unit 1000: millicores; 1: bytes), rounded
// up as the API server rounds. On failure returns nullopt and says why.
std::optional<int64_t> quantity_in_units(std::string_view q, int64_t per_unit, std::string& why) {
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (!q.empty() && q.front() == '-') {
    why = "must be positive";
    return std::nullopt;
  }
  if (!q.empty() && q.front() == '+')
    q.remove_prefix(1);
  why = "is not a quantity (like \"16\", \"1500m\", \"64Gi\" or \"2T\")";

  // Significant digits as an integer, scaled by 10^dec * 2^bin.
  uint64_t digits = 0;
  int significant = 0, dec = 0, bin = 0, seen = 0;
  bool in_fraction = false;
  size_t i = 0;
  for (; i < q.size(); ++i) {
    char c = q[i];
    if (c == '.' && !in_fraction) {
      in_fraction = true;
      continue;
    }
    if (!is_digit(c))
      break;
    ++seen;
    if (in_fraction)
      --dec;
    if (digits == 0 && c == '0')
      continue;
    if (++significant > 18) {
      why = "has more digits than a quantity can hold";
      return std::nullopt;
    }
    digits = digits * 10 + static_cast<uint64_t>(c - '0');
  }
  if (seen == 0)
    return std::nullopt;

  auto suffix = q.substr(i);
  bool exponent = suffix.size() > 1 && (suffix[0] == 'e' || suffix[0] == 'E') &&
                  (is_digit(suffix[1]) || suffix[1] == '-' || suffix[1] == '+');
  if (exponent) {
    int e = 0;
    auto body = suffix.substr(suffix[1] == '+' ? 2 : 1);
    auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), e);
    if (ec != std::errc() || end != body.data() + body.size() || e < -40 || e > 40)
      return std::nullopt;
    dec += e;
  } else if (!suffix.empty()) {
    static constexpr std::array<std::pair<std::string_view, int>, 6> binary{
        {{"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}, {"Pi", 50}, {"Ei", 60}}};
    static constexpr std::array<std::pair<std::string_view, int>, 6> decimal{
        {{"k", 3}, {"M", 6}, {"G", 9}, {"T", 12}, {"P", 15}, {"E", 18}}};
    bool known = false;
    for (auto [s, p] : binary)
      if (suffix == s)
        bin = p, known = true;
    for (auto [s, p] : decimal)
      if (suffix == s)
        dec += p, known = true;
    if (suffix == "m" && per_unit == 1000)
      dec -= 3, known = true;
    if (!known)
      return std::nullopt;
  }
  for (int64_t u = per_unit; u >= 10; u /= 10)
    ++dec;

  uint64_t x = digits;
  why = "is too large";
  if (bin > 0 && x > (kMax >> bin))
    return std::nullopt;
  x <<= bin;
  for (; dec > 0; --dec) {
    if (x > kMax / 10)
      return std::nullopt;
    x *= 10;
  }
  // Nested ceilings of divisions equal the ceiling of the whole division.
  for (; dec < 0; ++dec)
    x = (x + 9) / 10;
  return static_cast<int64_t>(x);
}

// "192" for whole cores, "1500m" otherwise (as kubelets print cpu).
std::string cpu_string(int64_t millis) {
  return millis % 1000 == 0 ? std::to_string(millis / 1000) : std::to_string(millis) + "m";
}

// Kubelets report memory and disk capacity in Ki.
std::string ki_string(int64_t bytes) { return std::to_string(bytes / kKi) + "Ki"; }

// ------------------------------------------------------------------ the --sim-nodes spec

[[noreturn]] void fail_item(std::string_view item, const std::string& why) {
  throw std::invalid_argument("node spec item " + quoted(item) + ": " + why);
}

// A positive count from a spec item; `what` names the number in errors ("node count").
int64_t spec_number(std::string_view text, std::string_view item, const std::string& what, int64_t max) {
  if (text.empty())
    fail_item(item, what + " \"\" is missing");
  int64_t n = 0;
  for (char c : text) {
    if (!is_digit(c))
      fail_item(item, what + " " + quoted(text) + " must be a positive integer");
    n = n * 10 + (c - '0');
    if (n > max)
      fail_item(item, what + " " + quoted(text) + " is too large (at most " + std::to_string(max) + ")");
  }
  if (n == 0)
    fail_item(item, what + " " + quoted(text) + " must be a positive integer");
  return n;
}

size_t find_x(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] == 'x' || s[i] == 'X')
      return i;
  return std::string_view::npos;
}

NodeGroup parse_spec_item(std::string_view item) {
  const std::string shape = "; expected COUNTxGPUSxMODEL (like 4x8xH100) or COUNTxcpu";
  auto x1 = find_x(item);
  if (x1 == std::string_view::npos)
    fail_item(item, "missing 'x'" + shape);
  NodeGroup g;
  g.count = static_cast<int>(spec_number(item.substr(0, x1), item, "node count", std::numeric_limits<int>::max()));
  auto rest = item.substr(x1 + 1);
  if (iequals(rest, "cpu"))
    return g;
  auto x2 = find_x(rest);
  if (x2 == std::string_view::npos)
    fail_item(item, "missing the GPU model" + shape);
  g.gpus_per_node = static_cast<int>(spec_number(rest.substr(0, x2), item, "GPUs per node", kMaxGpusPerNode));
  auto model_name = rest.substr(x2 + 1);
  const GpuModel* model = find_gpu_model(model_name);
  if (!model)
    fail_item(item, "unknown GPU model " + quoted(model_name) + " (known: " + known_models() +
                        "; or COUNTxcpu for CPU-only nodes)");
  g.gpu = model->name;
  return g;
}

// ------------------------------------------------------------------ the YAML cluster profile

[[noreturn]] void fail_at(const std::string& path, const std::string& why) {
  throw std::invalid_argument(path + ": " + why);
}

// What a wrongly typed value is, for "must be a string, got a list".
std::string describe(const json::Value& v) {
  switch (v.type()) {
    case json::Type::Null: return "null";
    case json::Type::Bool: return v.as_bool() ? "true" : "false";
    case json::Type::Int: return "the number " + std::to_string(v.as_int());
    case json::Type::Double: return "a decimal number";
    case json::Type::String: return "the string " + quoted(v.as_string());
    case json::Type::Array: return "a list";
    case json::Type::Object: return "a mapping";
  }
  return "a value";
}

const std::string& string_at(const json::Value& v, const std::string& path) {
  if (!v.is_string())
    fail_at(path, "must be a string, got " + describe(v));
  return v.as_string();
}

int64_t int_at(const json::Value& v, const std::string& path, int64_t min, int64_t max) {
  if (!v.is_int())
    fail_at(path, "must be an integer, got " + describe(v));
  int64_t n = v.as_int();
  if (n < min || n > max)
    fail_at(path, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                      std::to_string(n));
  return n;
}

// Zones end up as topology.kubernetes.io/zone values.
std::vector<std::string> zones_at(const json::Value& v, const std::string& path) {
  if (!v.is_array())
    fail_at(path, "must be a list of zone names, got " + describe(v));
  if (v.as_array().empty())
    fail_at(path, "must name at least one zone");
  std::vector<std::string> zones;
  for (size_t i = 0; i < v.as_array().size(); ++i) {
    auto item_path = path + "[" + std::to_string(i) + "]";
    const auto& zone = string_at(v.as_array()[i], item_path);
    if (zone.empty() || !valid_label_value(zone))
      fail_at(item_path, quoted(zone) + " " + kLabelValueRule);
    zones.push_back(zone);
  }
  return zones;
}

// cpu and memory accept quantity strings and plain YAML numbers.
int64_t quantity_at(const json::Value& v, const std::string& path, int64_t per_unit) {
  std::string text;
  if (v.is_string()) {
    text = v.as_string();
  } else if (v.is_int()) {
    text = std::to_string(v.as_int());
  } else if (v.is_double()) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.as_double());
    text.assign(buf, ec == std::errc() ? end : buf);
  } else {
    fail_at(path, "must be a quantity, got " + describe(v));
  }
  std::string why;
  auto q = quantity_in_units(text, per_unit, why);
  if (!q)
    fail_at(path, quoted(text) + " " + why);
  if (*q == 0)
    fail_at(path, "must be greater than zero");
  return *q;
}

std::map<std::string, std::string> labels_at(const json::Value& v, const std::string& path) {
  if (!v.is_object())
    fail_at(path, "must be a mapping of label keys to values, got " + describe(v));
  std::map<std::string, std::string> labels;
  for (const auto& [key, value] : v.as_object()) {
    auto item_path = path + "[" + key + "]";
    if (!valid_label_key(key))
      fail_at(item_path, std::string("label key ") + kLabelKeyRule);
    if (!value.is_string())
      fail_at(item_path, "must be a string (quote numbers and booleans), got " + describe(value));
    if (!valid_label_value(value.as_string()))
      fail_at(item_path, quoted(value.as_string()) + " " + kLabelValueRule);
    labels[key] = value.as_string();
  }
  return labels;
}

NodeTaint taint_at(const json::Value& v, const std::string& path) {
  if (!v.is_object())
    fail_at(path, "must be a mapping with key, value and effect, got " + describe(v));
  NodeTaint t;
  for (const auto& [key, value] : v.as_object()) {
    if (key == "key")
      t.key = string_at(value, path + ".key");
    else if (key == "value")
      t.value = string_at(value, path + ".value");
    else if (key == "effect")
      t.effect = string_at(value, path + ".effect");
    else
      fail_at(path + "." + key, "unknown field (expected key, value, effect)");
  }
  if (t.key.empty())
    fail_at(path + ".key", "is required");
  if (!valid_label_key(t.key))
    fail_at(path + ".key", quoted(t.key) + " " + kLabelKeyRule);
  if (!valid_label_value(t.value))
    fail_at(path + ".value", quoted(t.value) + " " + kLabelValueRule);
  if (t.effect != "NoSchedule" && t.effect != "PreferNoSchedule" && t.effect != "NoExecute")
    fail_at(path + ".effect", "must be NoSchedule, PreferNoSchedule or NoExecute");
  return t;
}

std::vector<NodeTaint> taints_at(const json::Value& v, const std::string& path) {
  if (!v.is_array())
    fail_at(path, "must be a list of taints, got " + describe(v));
  std::vector<NodeTaint> taints;
  for (size_t i = 0; i < v.as_array().size(); ++i)
    taints.push_back(taint_at(v.as_array()[i], path + "[" + std::to_string(i) + "]"));
  return taints;
}

void apply_group_field(NodeGroup& g, const std::string& key, const json::Value& v, const std::string& path) {
  if (key == "count") {
    g.count = static_cast<int>(int_at(v, path, 1, kMaxNodes));
  } else if (key == "gpu") {
    const auto& name = string_at(v, path);
    if (name.empty() || iequals(name, "cpu")) {
      g.gpu.clear();
      return;
    }
    const GpuModel* model = find_gpu_model(name);
    if (!model)
      fail_at(path, "unknown GPU model " + quoted(name) + " (known: " + known_models() + ")");
    g.gpu = model->name;
  } else if (key == "gpusPerNode") {
    g.gpus_per_node = static_cast<int>(int_at(v, path, 0, kMaxGpusPerNode));
  } else if (key == "namePrefix") {
    g.name_prefix = string_at(v, path);
    // The node names are the prefix plus digits: the prefix must start a DNS subdomain.
    if (!valid_dns_subdomain(g.name_prefix + "0") || g.name_prefix.size() > 240)
      fail_at(path, quoted(g.name_prefix) +
                        " must be lower-case alphanumeric characters, '-' or '.', starting with an "
                        "alphanumeric character (node names are the prefix and a number)");
  } else if (key == "instanceType") {
    g.instance_type = string_at(v, path);
    if (g.instance_type.empty() || !valid_label_value(g.instance_type))
      fail_at(path, quoted(g.instance_type) + " " + kLabelValueRule);
  } else if (key == "cpu") {
    g.cpu_millis = quantity_at(v, path, 1000);
    if (g.cpu_millis <= kReservedCpuMillis)
      fail_at(path, "must be more than the 100m a kubelet reserves");
  } else if (key == "memory") {
    g.memory_bytes = quantity_at(v, path, 1);
    if (g.memory_bytes <= kReservedMemoryBytes)
      fail_at(path, "must be more than the 1Gi a kubelet reserves");
  } else if (key == "maxPods") {
    g.max_pods = static_cast<int>(int_at(v, path, 1, 100000));
  } else if (key == "zones") {
    g.zones = zones_at(v, path);
  } else if (key == "labels") {
    g.labels = labels_at(v, path);
  } else if (key == "taints") {
    g.taints = taints_at(v, path);
  } else {
    fail_at(path, "unknown field (expected count, gpu, gpusPerNode, namePrefix, instanceType, cpu, memory, "
                  "maxPods, zones, labels, taints)");
  }
}

NodeGroup group_at(const json::Value& v, const std::string& path) {
  if (!v.is_object())
    fail_at(path, "must be a mapping, got " + describe(v));
  NodeGroup g;
  for (const auto& [key, value] : v.as_object())
    apply_group_field(g, key, value, path + "." + key);
  if (!g.gpu.empty() && g.gpus_per_node == 0)
    fail_at(path + ".gpusPerNode", "must be at least 1 for " + g.gpu + " nodes");
  if (g.gpu.empty() && g.gpus_per_node > 0)
    fail_at(path + ".gpu", "is required when gpusPerNode is set");
  return g;
}

// ------------------------------------------------------------------ rendering

// What render_nodes needs of a group once every default is filled in.
struct GroupShape {
  const GpuModel* model = nullptr;  // nullptr: CPU-only
  std::string prefix;
  std::string instance_type;
  int64_t cpu_millis = 0;
  int64_t memory_bytes = 0;
  const std::vector<std::string>* zones = nullptr;
};

GroupShape resolve_group(const NodeGroup& g, const ClusterProfile& profile) {
  GroupShape s;
  if (!g.gpu.empty()) {
    s.model = find_gpu_model(g.gpu);
    if (!s.model)
      throw std::invalid_argument("node group: unknown GPU model " + quoted(g.gpu) + " (known: " + known_models() + ")");
    if (g.gpus_per_node < 1)
      throw std::invalid_argument("node group of " + s.model->name + " nodes: gpusPerNode must be at least 1");
  }
  std::string gpu_lower = s.model ? to_lower(s.model->name) : "cpu";
  s.prefix = g.name_prefix.empty() ? "sim-" + gpu_lower + "-" : g.name_prefix;

  const InstanceShape* shape = s.model ? find_shape(s.model->name, g.gpus_per_node) : nullptr;
  if (!g.instance_type.empty())
    s.instance_type = g.instance_type;
  else if (shape)
    s.instance_type = shape->instance_type;
  else
    s.instance_type = s.model ? "sim." + std::to_string(g.gpus_per_node) + "x" + gpu_lower : "sim.cpu";

  int64_t gpus = s.model ? g.gpus_per_node : 0;
  int64_t default_cores = shape ? shape->cpu_cores : s.model ? 24 * gpus : 16;
  int64_t default_gib = shape ? shape->memory_gib : s.model ? 256 * gpus : 64;
  s.cpu_millis = g.cpu_millis > 0 ? g.cpu_millis : default_cores * 1000;
  s.memory_bytes = g.memory_bytes > 0 ? g.memory_bytes : default_gib * kGi;

  s.zones = g.zones.empty() ? &profile.zones : &g.zones;
  if (s.zones->empty())
    throw std::invalid_argument("cluster profile: no zones to place " + s.prefix + "* nodes in");
  return s;
}

std::string ipv4(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." + std::to_string((a >> 8) & 255) +
         "." + std::to_string(a & 255);
}

// A /24 per node in 10.64.0.0/10 (node n: 10.<64 + n/256>.<n%256>.0/24). 10/8 cannot give
// every one of 100000 nodes a /24 next to it, so nodes past the first 49152 get /26s from
// 10.0.0.0/10 (64 addresses: more than a simulated kubelet hands out).
std::string pod_cidr(int64_t n) {
  constexpr int64_t kSlash24s = 192 * 256;
  if (n < kSlash24s)
    return ipv4((10u << 24) | static_cast<uint32_t>((64 + n / 256) << 16) | static_cast<uint32_t>((n % 256) << 8)) +
           "/24";
  auto m = static_cast<uint32_t>(n - kSlash24s);
  return ipv4((10u << 24) | (m << 6)) + "/26";
}

// 172.16.0.0/12 holds a million addresses: node n gets the n-th of .1 to .254 in each /24.
std::string internal_ip(int64_t n) {
  auto block = static_cast<uint32_t>(n / 254);
  auto host = static_cast<uint32_t>(n % 254 + 1);
  return ipv4((172u << 24) | (16u << 16) | (block << 8) | host);
}

uint64_t fnv1a(std::string_view s, uint64_t seed) {
  uint64_t h = 14695981039346656037ull ^ seed;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

// splitmix64's finalizer: FNV alone leaves similar names ("sim-h100-1", "-2") with similar bits.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// 32 hex digits derived from the node name: the same node boots with the same IDs every run.
std::string hex_id(std::string_view name, uint64_t salt) {
  char buf[33];
  uint64_t hi = mix(fnv1a(name, salt));
  uint64_t lo = mix(hi ^ fnv1a(name, ~salt));
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(hi),
                static_cast<unsigned long long>(lo));
  return buf;
}

std::string uuid(std::string_view name, uint64_t salt) {
  auto h = hex_id(name, salt);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

json::Object labels_for(const NodeGroup& g, const GroupShape& s, const ClusterProfile& profile,
                        const std::string& name, const std::string& zone, int64_t rack) {
  json::Object labels{
      {"kubernetes.io/hostname", name},
      {"kubernetes.io/os", "linux"},
      {"kubernetes.io/arch", "amd64"},
      {"beta.kubernetes.io/os", "linux"},
      {"beta.kubernetes.io/arch", "amd64"},
      {"node.kubernetes.io/instance-type", s.instance_type},
      {"topology.kubernetes.io/zone", zone},
      {"topology.kubernetes.io/region", profile.region},
  };
  if (s.model) {
    // What NVIDIA GPU feature discovery labels a node with.
    labels.set("nvidia.com/gpu.present", "true");
    labels.set("nvidia.com/gpu.product", s.model->product);
    labels.set("nvidia.com/gpu.memory", std::to_string(s.model->memory_mib));
    labels.set("nvidia.com/gpu.count", std::to_string(g.gpus_per_node));
    labels.set("nvidia.com/gpu.family", s.model->family);
    labels.set("nvidia.com/gpu.compute.major", std::to_string(s.model->compute_major));
    labels.set("nvidia.com/gpu.compute.minor", std::to_string(s.model->compute_minor));
    labels.set("nvidia.com/gpu.machine", s.instance_type);
    if (!profile.rack_label.empty())  // a profile built in code may do without racks
      labels.set(profile.rack_label, "sim-rack-" + std::to_string(rack));
  }
  for (const auto& [key, value] : g.labels)
    labels.set(key, value);
  return labels;
}

json::Value condition(const char* type, const char* status, const char* reason, const char* message,
                      const std::string& now) {
  return json::Object{{"type", type},
                      {"status", status},
                      {"lastHeartbeatTime", now},
                      {"lastTransitionTime", now},
                      {"reason", reason},
                      {"message", message}};
}

json::Value status_for(const NodeGroup& g, const GroupShape& s, const std::string& name, int64_t n,
                       const std::string& now) {
  int64_t gpus = s.model ? g.gpus_per_node : 0;
  int64_t memory_ki = s.memory_bytes / kKi;
  int64_t disk_bytes = kEphemeralStorageBytes / kKi * kKi;

  json::Object capacity{
      {"cpu", cpu_string(s.cpu_millis)},
      {"ephemeral-storage", ki_string(disk_bytes)},
      {"memory", std::to_string(memory_ki) + "Ki"},
      {"pods", std::to_string(g.max_pods)},
  };
  // Kubelets report allocatable disk in bytes (capacity less the eviction threshold).
  json::Object allocatable{
      {"cpu", cpu_string(std::max<int64_t>(0, s.cpu_millis - kReservedCpuMillis))},
      {"ephemeral-storage", std::to_string(disk_bytes - disk_bytes / 10)},
      {"memory", std::to_string(std::max<int64_t>(0, memory_ki - kReservedMemoryBytes / kKi)) + "Ki"},
      {"pods", std::to_string(g.max_pods)},
  };
  if (gpus > 0) {
    capacity.set("nvidia.com/gpu", std::to_string(gpus));
    allocatable.set("nvidia.com/gpu", std::to_string(gpus));
  }

  json::Array conditions{
      condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available", now),
      condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", now),
      condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available", now),
      condition("Ready", "True", "KubeletReady", "kubelet is posting ready status", now),
  };

  return json::Object{
      {"capacity", std::move(capacity)},
      {"allocatable", std::move(allocatable)},
      {"conditions", std::move(conditions)},
      {"addresses", json::Array{json::Object{{"type", "InternalIP"}, {"address", internal_ip(n)}},
                                json::Object{{"type", "Hostname"}, {"address", name}}}},
      {"daemonEndpoints", json::Object{{"kubeletEndpoint", json::Object{{"Port", 10250}}}}},
      {"nodeInfo", json::Object{{"machineID", hex_id(name, 1)},
                                {"systemUUID", uuid(name, 2)},
                                {"bootID", uuid(name, 3)},
                                {"kernelVersion", "6.1.0-omed-sim"},
                                {"osImage", "Debian GNU/Linux 12 (bookworm)"},
                                {"containerRuntimeVersion", "containerd://1.7.24"},
                                {"kubeletVersion", "v1.32.0"},
                                {"kubeProxyVersion", "v1.32.0"},
                                {"operatingSystem", "linux"},
                                {"architecture", "amd64"}}},
  };
}

json::Value spec_for(const NodeGroup& g, const std::string& name, int64_t n) {
  auto cidr = pod_cidr(n);
  json::Object spec{
      {"podCIDR", cidr},
      {"podCIDRs", json::Array{cidr}},
      {"providerID", "sim://" + name},
  };
  if (!g.taints.empty()) {
    json::Array taints;
    for (const auto& t : g.taints) {
      json::Object taint{{"key", t.key}};
      if (!t.value.empty())
        taint.set("value", t.value);
      taint.set("effect", t.effect);
      taints.push_back(std::move(taint));
    }
    spec.set("taints", std::move(taints));
  }
  return spec;
}

}  // namespace

// ------------------------------------------------------------------ catalog

const GpuModel* find_gpu_model(std::string_view name) {
  for (const auto& a : kAliases)
    if (iequals(name, a.alias))
      name = a.name;
  for (const auto& m : catalog())
    if (iequals(name, m.name))
      return &m;
  return nullptr;
}

std::vector<std::string> gpu_model_names() {
  std::vector<std::string> names;
  for (const auto& m : catalog())
    names.push_back(m.name);
  return names;
}

// ------------------------------------------------------------------ parsing

ClusterProfile parse_node_spec(std::string_view spec) {
  if (trim(spec).empty())
    throw std::invalid_argument("node spec is empty; expected items like 4x8xH100,2xcpu");
  ClusterProfile profile;
  int64_t total = 0;
  size_t index = 0;
  while (true) {
    auto comma = spec.find(',');
    auto item = trim(spec.substr(0, comma));
    ++index;
    if (item.empty())
      throw std::invalid_argument("node spec item " + std::to_string(index) + " is empty (stray comma?)");
    profile.groups.push_back(parse_spec_item(item));
    total += profile.groups.back().count;
    if (total > kMaxNodes)
      fail_item(item, "brings the cluster to " + std::to_string(total) + " nodes; at most " +
                        std::to_string(kMaxNodes) + " are supported");
    if (comma == std::string_view::npos)
      break;
    spec.remove_prefix(comma + 1);
  }
  return profile;
}

ClusterProfile parse_cluster_profile(const json::Value& doc) {
  if (!doc.is_object())
    fail_at("cluster profile", "must be a mapping, got " + describe(doc));
  ClusterProfile profile;
  if (auto* v = doc.get("zones"))
    profile.zones = zones_at(*v, "zones");
  if (auto* v = doc.get("region")) {
    profile.region = string_at(*v, "region");
    if (profile.region.empty() || !valid_label_value(profile.region))
      fail_at("region", quoted(profile.region) + " " + kLabelValueRule);
  }
  if (auto* v = doc.get("rackLabel")) {
    profile.rack_label = string_at(*v, "rackLabel");
    if (!valid_label_key(profile.rack_label))
      fail_at("rackLabel", quoted(profile.rack_label) + " " + kLabelKeyRule);
  }
  if (auto* v = doc.get("nodesPerRack"))
    profile.nodes_per_rack = static_cast<int>(int_at(*v, "nodesPerRack", 1, kMaxNodes));

  // Without nodeGroups the document describes only the simulation around the nodes, which then
  // come from elsewhere (--sim-nodes).
  const json::Value* groups = doc.get("nodeGroups");
  if (!groups)
    return profile;
  if (!groups->is_array())
    fail_at("nodeGroups", "must be a list of node groups, got " + describe(*groups));
  if (groups->as_array().empty())
    fail_at("nodeGroups", "must list at least one node group");
  int64_t total = 0;
  for (size_t i = 0; i < groups->as_array().size(); ++i) {
    auto path = "nodeGroups[" + std::to_string(i) + "]";
    profile.groups.push_back(group_at(groups->as_array()[i], path));
    total += profile.groups.back().count;
    if (total > kMaxNodes)
      fail_at(path + ".count", "brings the cluster to " + std::to_string(total) + " nodes; at most " +
                                   std::to_string(kMaxNodes) + " are supported");
  }
  return profile;
}

// ------------------------------------------------------------------ rendering

std::vector<json::Value> render_nodes(const ClusterProfile& profile, const std::string& now_rfc3339) {
  if (profile.nodes_per_rack < 1)
    throw std::invalid_argument("cluster profile: nodesPerRack must be at least 1");
  std::vector<json::Value> nodes;
  std::map<std::string, int64_t> next_index;  // per name prefix, so equal prefixes continue counting
  std::unordered_set<std::string> names;
  int64_t n = 0;          // node number across the cluster: addresses and pod CIDRs
  int64_t first_rack = 0;  // racks are numbered across the cluster; a group starts a new one
  for (const auto& g : profile.groups) {
    GroupShape s = resolve_group(g, profile);
    int64_t& index = next_index[s.prefix];
    for (int i = 0; i < g.count; ++i, ++n) {
      std::string name = s.prefix + std::to_string(index++);
      if (!names.insert(name).second)
        throw std::invalid_argument("cluster profile: two node groups both name a node " + quoted(name) +
                                    "; give them distinct namePrefix values");
      const std::string& zone = (*s.zones)[static_cast<size_t>(i) % s.zones->size()];
      int64_t rack = first_rack + i / profile.nodes_per_rack;
      json::Object metadata{
          {"name", name},
          {"labels", labels_for(g, s, profile, name, zone, rack)},
          {"annotations", json::Object{{"node.alpha.kubernetes.io/ttl", "0"}, {"omed.io/simulated", "true"}}},
      };
      nodes.push_back(json::Object{
          {"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", std::move(metadata)},
          {"spec", spec_for(g, name, n)},
          {"status", status_for(g, s, name, n, now_rfc3339)},
      });
    }
    if (s.model && g.count > 0)
      first_rack += (g.count + profile.nodes_per_rack - 1) / profile.nodes_per_rack;
  }
  return nodes;
}

}  // namespace omed::apiserver::sim
