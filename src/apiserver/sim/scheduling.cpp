// Scheduler filters and scoring (see omed/apiserver/sim/scheduling.hpp). The semantics and the
// wording are kube-scheduler v1.32's default profile, because users read these messages in
// FailedScheduling events and tools match on them.
#include "omed/apiserver/sim/scheduling.hpp"

#include "omed/k8s/node_affinity.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>
#include <system_error>

namespace omed::apiserver::sim {

namespace {

// Score arithmetic multiplies byte counts by 100; 64 bits would overflow for exabyte nodes.
__extension__ typedef __int128 i128;

constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();

const std::string kCpu = "cpu";
const std::string kMemory = "memory";
const std::string kEphemeral = "ephemeral-storage";
const std::string kPods = "pods";

// The scheduler's stand-ins for pods that request nothing, so that scoring still spreads them.
constexpr int64_t kDefaultMilliCpu = 100;
constexpr int64_t kDefaultMemory = 200 * 1024 * 1024;
constexpr int64_t kMaxNodeScore = 100;

// ------------------------------------------------------------------ JSON access

// Lookups without copies: the per-node filters must not allocate, and map lookups need a
// std::string key, so these return references into the document.
const std::string& text(const json::Value& obj, std::string_view key) {
  static const std::string empty;
  const json::Value* v = obj.get(key);
  return v && v->is_string() ? v->as_string() : empty;
}

const json::Array* array_at(const json::Value& obj, std::string_view key) {
  const json::Value* v = obj.get(key);
  return v && v->is_array() ? &v->as_array() : nullptr;
}

std::map<std::string, std::string> string_map(const json::Value* obj) {
  std::map<std::string, std::string> out;
  if (obj && obj->is_object())
    for (const auto& m : obj->as_object())
      if (m.value.is_string())
        out.emplace(m.key, m.value.as_string());
  return out;
}

// ------------------------------------------------------------------ quantities

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A quantity's scale: value = mantissa × 10^pow10 × 2^pow2.
struct Scale {
  int64_t pow10 = 0;
  int pow2 = 0;
};

struct Suffix {
  std::string_view text;
  Scale scale;
};

constexpr Suffix kSuffixes[] = {
  {"", {0, 0}},   {"n", {-9, 0}}, {"u", {-6, 0}}, {"m", {-3, 0}}, {"k", {3, 0}},
  {"M", {6, 0}},  {"G", {9, 0}},  {"T", {12, 0}}, {"P", {15, 0}}, {"E", {18, 0}},
  {"Ki", {0, 10}}, {"Mi", {0, 20}}, {"Gi", {0, 30}}, {"Ti", {0, 40}}, {"Pi", {0, 50}},
  {"Ei", {0, 60}},
};

// Exponents saturate: past a million every non-zero quantity either overflows or rounds up to 1,
// and saturation keeps the later exponent arithmetic far from int64 limits.
std::optional<int64_t> parse_exponent(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty())
    return std::nullopt;
  int64_t e = 0;
  for (char c : s) {
    if (!is_digit(c))
      return std::nullopt;
    e = std::min<int64_t>(e * 10 + (c - '0'), 1'000'000);
  }
  return negative ? -e : e;
}

// "E" alone is exa, so the table is consulted before "E<n>" is read as an exponent.
std::optional<Scale> parse_suffix(std::string_view s) {
  for (const Suffix& suffix : kSuffixes)
    if (s == suffix.text)
      return suffix.scale;
  if (s.size() >= 2 && (s[0] == 'e' || s[0] == 'E'))
    if (auto e = parse_exponent(s.substr(1)))
      return Scale{*e, 0};
  return std::nullopt;
}

// The mantissa's significant digits, which span the integer and fraction parts of the text.
struct Digits {
  std::string_view integer, fraction;
  size_t first = 0, last = 0;  // significant range of integer ++ fraction

  // k-th character of integer ++ fraction
  char raw(size_t k) const {
    return k < integer.size() ? integer[k] : fraction[k - integer.size()];
  }
  // k-th significant digit
  char at(size_t k) const { return raw(first + k); }
  size_t size() const { return last - first; }
};

bool mul_add(int64_t& v, int64_t mul, int64_t add) {
  return !__builtin_mul_overflow(v, mul, &v) && !__builtin_add_overflow(v, add, &v);
}

// ceil(digits × 10^pow10 × 2^pow2) exactly: the fractional digits are multiplied by 2^pow2 from
// the right with a carry (digit × 2^60 + carry stays below 2^64), so arbitrarily long fractions
// need no big integers.
std::optional<int64_t> scale_up(const Digits& d, int64_t pow10, int pow2) {
  const int64_t size = static_cast<int64_t>(d.size());
  const int64_t int_len = pow10 >= 0 ? size : std::max<int64_t>(0, size + pow10);
  int64_t value = 0;
  for (int64_t k = 0; k < int_len; ++k)
    if (!mul_add(value, 10, d.at(static_cast<size_t>(k)) - '0'))
      return std::nullopt;
  for (int64_t k = 0; pow10 > 0 && k < pow10; ++k)
    if (!mul_add(value, 10, 0))
      return std::nullopt;
  if (!mul_add(value, int64_t{1} << pow2, 0))
    return std::nullopt;
  if (pow10 >= 0)
    return value;

  const uint64_t factor = uint64_t{1} << pow2;
  uint64_t carry = 0;
  bool remainder = false;
  for (int64_t k = size - 1; k >= int_len; --k) {
    uint64_t x = static_cast<uint64_t>(d.at(static_cast<size_t>(k)) - '0') * factor + carry;
    remainder |= x % 10 != 0;
    carry = x / 10;
  }
  // Zeros between the decimal point and the first significant digit ("0.0005") shift the carry
  // further right; once it is gone the rest contributes nothing.
  for (int64_t zeros = -pow10 - (size - int_len); zeros > 0 && carry; --zeros) {
    remainder |= carry % 10 != 0;
    carry /= 10;
  }
  if (!mul_add(value, 1, static_cast<int64_t>(carry)) || !mul_add(value, 1, remainder ? 1 : 0))
    return std::nullopt;
  return value;
}

// ------------------------------------------------------------------ resource lists

int64_t add_saturating(int64_t a, int64_t b) {
  int64_t sum;
  return __builtin_add_overflow(a, b, &sum) ? kMaxInt : sum;
}

int64_t amount(const ResourceList& list, const std::string& name) {
  auto it = list.find(name);
  return it == list.end() ? 0 : it->second;
}

void add_into(ResourceList& into, const ResourceList& more) {
  for (const auto& [name, value] : more)
    into[name] = add_saturating(amount(into, name), value);
}

void max_into(ResourceList& into, const ResourceList& other) {
  for (const auto& [name, value] : other) {
    auto [it, inserted] = into.emplace(name, value);
    if (!inserted)
      it->second = std::max(it->second, value);
  }
}

// A JSON number where a quantity string belongs (YAML's `cpu: 2`, `cpu: 0.5`).
std::optional<int64_t> number_quantity(const json::Value& v, bool milli) {
  if (v.is_int()) {
    int64_t n = v.as_int();
    if (n < 0 || (milli && __builtin_mul_overflow(n, 1000, &n)))
      return std::nullopt;
    return n;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.as_double());
  if (ec != std::errc())
    return std::nullopt;
  return parse_quantity(std::string_view(buf, static_cast<size_t>(end - buf)), milli);
}

// What one container asks for: limits stand in for missing requests, as API defaulting does.
ResourceList container_requests(const json::Value& container) {
  const json::Value* resources = container.get("resources");
  if (!resources)
    return {};
  ResourceList out = parse_resource_list(resources->get("requests"));
  for (const auto& [name, value] : parse_resource_list(resources->get("limits")))
    out.emplace(name, value);
  return out;
}

// Extended resources (vendor.com/gpu), hugepages and attachable volumes are checked by the fit
// filter; any other unprefixed name is unknown to the scheduler and ignored, as it ignores it.
bool is_scalar_resource(std::string_view name) {
  return name.find('/') != std::string_view::npos || name.starts_with("hugepages-") ||
         name.starts_with("attachable-volumes-");
}

// ------------------------------------------------------------------ node affinity

bool affinity_matches(const PodDemand& pod, const NodeState& node) {
  return k8s::node_selector_matches(pod.node_selector, node.labels) &&
         k8s::node_selector_terms_match(pod.required_affinity, node.labels, node.name);
}

// NodeAffinity's PreFilter: when every term pins metadata.name In [...], only those nodes are
// filtered at all (DaemonSet pods), and the rest fail with a different reason. `names` is unset
// when all nodes are candidates; `conflict` when the terms pin no name at all.
struct NamePrefilter {
  std::optional<std::set<std::string>> names;
  bool conflict = false;
};

std::optional<std::set<std::string>> term_pinned_names(const json::Value& term) {
  std::optional<std::set<std::string>> names;
  const json::Array* fields = array_at(term, "matchFields");
  if (!fields)
    return names;
  for (const json::Value& req : *fields) {
    if (text(req, "key") != "metadata.name" || text(req, "operator") != "In")
      continue;
    std::set<std::string> these;
    if (const json::Array* values = array_at(req, "values"))
      for (const json::Value& v : *values)
        if (v.is_string())
          these.insert(v.as_string());
    if (!names) {
      names = std::move(these);
    } else {
      // Requirements within a term are ANDed.
      std::erase_if(*names, [&](const std::string& n) { return !these.count(n); });
    }
  }
  return names;
}

NamePrefilter prefilter_names(const PodDemand& pod) {
  NamePrefilter out;
  if (pod.required_affinity.is_null())
    return out;
  const json::Array* terms = array_at(pod.required_affinity, "nodeSelectorTerms");
  if (!terms || terms->empty())
    return out;
  std::set<std::string> names;
  for (const json::Value& term : *terms) {
    auto pinned = term_pinned_names(term);
    if (!pinned)
      return out;  // terms are ORed: one unpinned term admits every node
    names.insert(pinned->begin(), pinned->end());
  }
  if (names.empty())
    out.conflict = true;
  else
    out.names = std::move(names);
  return out;
}

// ------------------------------------------------------------------ filters

const NodeTaintView& unschedulable_taint() {
  static const NodeTaintView taint{"node.kubernetes.io/unschedulable", "", "NoSchedule"};
  return taint;
}

bool toleration_matches(const json::Value& t, const NodeTaintView& taint) {
  const std::string& effect = text(t, "effect");
  if (!effect.empty() && effect != taint.effect)
    return false;
  const std::string& key = text(t, "key");
  const std::string& op = text(t, "operator");
  if (op == "Exists")
    return key.empty() || key == taint.key;
  if (op.empty() || op == "Equal")
    return key == taint.key && text(t, "value") == taint.value;
  return false;
}

// PreferNoSchedule taints only lower a node's score; they never filter.
const NodeTaintView* untolerated_taint(const PodDemand& pod, const NodeState& node) {
  for (const NodeTaintView& taint : node.taints)
    if ((taint.effect == "NoSchedule" || taint.effect == "NoExecute") &&
        !tolerates(pod.tolerations, taint))
      return &taint;
  return nullptr;
}

// Preemption treats the two kinds of failure differently: evicting pods can free resources but
// cannot change a node's labels, taints or cordon.
enum class Verdict { Fits, Unresolvable, Unschedulable };

// The amounts every fit check and score needs. Read in one walk over a map, telling keys apart
// by length first: looking each one up by name was most of the scheduler's time at 2,000 nodes.
struct Core {
  int64_t cpu = 0, memory = 0, ephemeral = 0, pods = 0;
  bool scalars = false;  // holds an extended resource, hugepages or attachable volumes
};

// Only a pod's list is searched for scalars: they are rare in requests, common in allocatable.
Core core_amounts(const ResourceList& list, bool find_scalars = false) {
  Core c;
  for (const auto& [name, value] : list) {
    switch (name.size()) {
      case 3:
        if (name == kCpu) {
          c.cpu = value;
          continue;
        }
        break;
      case 4:
        if (name == kPods) {
          c.pods = value;
          continue;
        }
        break;
      case 6:
        if (name == kMemory) {
          c.memory = value;
          continue;
        }
        break;
      case 17:
        if (name == kEphemeral) {
          c.ephemeral = value;
          continue;
        }
        break;
      default:
        break;
    }
    if (find_scalars)
      c.scalars |= is_scalar_resource(name);
  }
  return c;
}

// A node's allocatable and requested amounts, read once for both the fit filter and the scores.
struct NodeAmounts {
  explicit NodeAmounts(const NodeState& node)
    : alloc(node.amounts_cached ? from_cache(node.alloc_amounts) : core_amounts(node.allocatable)),
      used(node.amounts_cached ? from_cache(node.used_amounts) : core_amounts(node.requested)) {}
  static Core from_cache(const CoreAmounts& a) {
    Core c;
    c.cpu = a.cpu;
    c.memory = a.memory;
    c.ephemeral = a.ephemeral;
    c.pods = a.pods;
    return c;
  }
  Core alloc, used;
};

CoreAmounts to_cache(const Core& c) { return CoreAmounts{c.cpu, c.memory, c.ephemeral, c.pods}; }

bool short_of(int64_t want, int64_t alloc, int64_t used) { return want > 0 && want > alloc - used; }

// NodeResourcesFit reports every insufficient resource, not just the first. `ask` is
// core_amounts(pod.requests, true), computed once per scheduling attempt.
bool resources_fit(const PodDemand& pod, const Core& ask, const NodeState& node,
                   const NodeAmounts& have, std::vector<std::string>* reasons) {
  bool fits = true;
  auto fail = [&](std::string_view why, std::string_view name) {
    fits = false;
    if (reasons)
      reasons->push_back(std::string(why).append(name));
  };
  if (add_saturating(have.used.pods, 1) > have.alloc.pods)
    fail("Too many pods", {});
  if (short_of(ask.cpu, have.alloc.cpu, have.used.cpu))
    fail("Insufficient ", kCpu);
  if (short_of(ask.memory, have.alloc.memory, have.used.memory))
    fail("Insufficient ", kMemory);
  if (short_of(ask.ephemeral, have.alloc.ephemeral, have.used.ephemeral))
    fail("Insufficient ", kEphemeral);
  if (ask.scalars)
    for (const auto& [name, want] : pod.requests)
      if (is_scalar_resource(name) &&
          short_of(want, amount(node.allocatable, name), amount(node.requested, name)))
        fail("Insufficient ", name);
  return fits;
}

// The filters that look at what a node is rather than what it holds, in the default profile's
// plugin order (NodeUnschedulable, TaintToleration, NodeAffinity); the first failure ends it.
bool node_filters_pass(const PodDemand& pod, const NodeState& node,
                       std::vector<std::string>* reasons) {
  if (node.unschedulable && !tolerates(pod.tolerations, unschedulable_taint())) {
    if (reasons)
      reasons->emplace_back("node(s) were unschedulable");
    return false;
  }
  if (!node.taints.empty())
    if (const NodeTaintView* taint = untolerated_taint(pod, node)) {
      if (reasons)
        reasons->push_back("node(s) had untolerated taint {" + taint->key + ": " + taint->value +
                           "}");
      return false;
    }
  if (!affinity_matches(pod, node)) {
    if (reasons)
      reasons->emplace_back("node(s) didn't match Pod's node affinity/selector");
    return false;
  }
  return true;
}

// All filters, NodeResourcesFit last. Reasons are only spelled out when asked for: most calls
// just need the verdict.
Verdict run_filters(const PodDemand& pod, const Core& ask, const NodeState& node,
                    std::vector<std::string>* reasons) {
  if (!node_filters_pass(pod, node, reasons))
    return Verdict::Unresolvable;
  return resources_fit(pod, ask, node, NodeAmounts(node), reasons) ? Verdict::Fits
                                                                   : Verdict::Unschedulable;
}

// ------------------------------------------------------------------ scoring

int64_t least_requested_score(int64_t requested, int64_t capacity) {
  if (requested > capacity)
    return 0;
  const int64_t unused = capacity - requested;
  if (unused <= kMaxInt / kMaxNodeScore)
    return unused * kMaxNodeScore / capacity;
  return static_cast<int64_t>(static_cast<i128>(unused) * kMaxNodeScore / capacity);
}

// NodeResourcesFit (LeastAllocated) plus NodeResourcesBalancedAllocation, both weight 1, over cpu
// and memory.
class Scorer {
public:
  explicit Scorer(const Core& ask) : cpu_(ask.cpu), memory_(ask.memory) {}

  int64_t score(const NodeAmounts& node) const { return least_allocated(node) + balanced(node); }

private:
  // Pods that request nothing count as requesting the scheduler's defaults, or every
  // best-effort pod would land on the same node.
  int64_t least_allocated(const NodeAmounts& node) const {
    int64_t sum = 0, weights = 0;
    if (node.alloc.cpu > 0) {
      int64_t want = cpu_ > 0 ? cpu_ : kDefaultMilliCpu;
      sum += least_requested_score(add_saturating(node.used.cpu, want), node.alloc.cpu);
      ++weights;
    }
    if (node.alloc.memory > 0) {
      int64_t want = memory_ > 0 ? memory_ : kDefaultMemory;
      sum += least_requested_score(add_saturating(node.used.memory, want), node.alloc.memory);
      ++weights;
    }
    return weights ? sum / weights : 0;
  }

  // Uses the real requests. Best-effort pods skip this plugin (kubernetes#129138): with nothing
  // requested it would keep favouring whichever node is already most balanced.
  int64_t balanced(const NodeAmounts& node) const {
    if (cpu_ == 0 && memory_ == 0)
      return 0;
    double fractions[2];
    int n = 0;
    auto fraction = [](int64_t used, int64_t alloc) {
      return std::min(1.0, static_cast<double>(used) / static_cast<double>(alloc));
    };
    if (node.alloc.cpu > 0)
      fractions[n++] = fraction(add_saturating(node.used.cpu, cpu_), node.alloc.cpu);
    if (node.alloc.memory > 0)
      fractions[n++] = fraction(add_saturating(node.used.memory, memory_), node.alloc.memory);
    double std_dev = n == 2 ? std::abs((fractions[0] - fractions[1]) / 2) : 0.0;
    return static_cast<int64_t>((1 - std_dev) * static_cast<double>(kMaxNodeScore));
  }

  int64_t cpu_, memory_;
};

// ------------------------------------------------------------------ FailedScheduling message

// "C reason" entries sorted as strings (so "10 x" sorts before "2 y"), as the scheduler prints.
std::string histogram(const std::map<std::string, size_t>& counts) {
  std::vector<std::string> parts;
  for (const auto& [reason, count] : counts)
    if (count)
      parts.push_back(std::to_string(count) + " " + reason);
  std::sort(parts.begin(), parts.end());
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty())
      out.append(", ");
    out.append(part);
  }
  return out;
}

std::string fit_error(size_t total, const std::string& filters, const std::string& preemption) {
  std::string all = "0/" + std::to_string(total) + " nodes are available: ";
  return all + filters + ". preemption: " + all + preemption + ".";
}

// Preemption (which finds nothing to evict: the simulated cluster has no priorities) only
// looks at nodes that failed on resources; the others are "not helpful".
std::string preemption_summary(size_t total, size_t resource_failures) {
  return histogram({{"No preemption victims found for incoming pod", resource_failures},
                    {"Preemption is not helpful for scheduling", total - resource_failures}});
}

// Only built when nothing fits, so the per-node reason strings are off the common path.
std::string unschedulable_message(const PodDemand& pod, const std::vector<NodeState>& nodes,
                                  const NamePrefilter& pre) {
  const Core ask = core_amounts(pod.requests, true);
  std::map<std::string, size_t> counts;
  size_t resource_failures = 0;
  std::vector<std::string> reasons;
  for (const NodeState& node : nodes) {
    if (pre.names && !pre.names->count(node.name)) {
      ++counts["node(s) didn't satisfy plugin(s) [NodeAffinity]"];
      continue;
    }
    reasons.clear();
    if (run_filters(pod, ask, node, &reasons) == Verdict::Unschedulable)
      ++resource_failures;
    for (const std::string& reason : reasons)
      ++counts[reason];
  }
  return fit_error(nodes.size(), histogram(counts),
                   preemption_summary(nodes.size(), resource_failures));
}

}  // namespace

// ------------------------------------------------------------------ public API

std::optional<int64_t> parse_quantity(std::string_view q, bool milli) {
  bool negative = false;
  if (!q.empty() && (q[0] == '+' || q[0] == '-')) {
    negative = q[0] == '-';
    q.remove_prefix(1);
  }
  size_t i = 0;
  while (i < q.size() && is_digit(q[i]))
    ++i;
  Digits d;
  d.integer = q.substr(0, i);
  if (i < q.size() && q[i] == '.') {
    size_t start = ++i;
    while (i < q.size() && is_digit(q[i]))
      ++i;
    d.fraction = q.substr(start, i - start);
  }
  if (d.integer.empty() && d.fraction.empty())
    return std::nullopt;
  auto scale = parse_suffix(q.substr(i));
  if (!scale)
    return std::nullopt;

  const size_t n = d.integer.size() + d.fraction.size();
  while (d.first < n && d.raw(d.first) == '0')
    ++d.first;
  if (d.first == n)
    return 0;  // zero in any spelling, "-0" included
  if (negative)
    return std::nullopt;
  d.last = n;
  while (d.raw(d.last - 1) == '0')
    --d.last;
  // Trailing zeros of the mantissa move into the exponent so the fraction loop sees fewer digits.
  int64_t pow10 = scale->pow10 + (milli ? 3 : 0) - static_cast<int64_t>(d.fraction.size()) +
                  static_cast<int64_t>(n - d.last);
  return scale_up(d, pow10, scale->pow2);
}

ResourceList parse_resource_list(const json::Value* map) {
  ResourceList out;
  if (!map || !map->is_object())
    return out;
  for (const auto& m : map->as_object()) {
    const bool milli = m.key == kCpu;
    std::optional<int64_t> v;
    if (m.value.is_string())
      v = parse_quantity(m.value.as_string(), milli);
    else if (m.value.is_number())
      v = number_quantity(m.value, milli);
    if (v)
      out[m.key] = *v;
  }
  return out;
}

PodDemand pod_demand(const json::Value& pod) {
  PodDemand d;
  if (const json::Value* spec = pod.get("spec")) {
    if (const json::Array* containers = array_at(*spec, "containers"))
      for (const json::Value& c : *containers)
        add_into(d.requests, container_requests(c));
    // Init containers run one at a time, each next to the restartable (sidecar) init containers
    // started before it; sidecars keep running beside the app containers (KEP-753).
    ResourceList sidecars, init_peak;
    if (const json::Array* inits = array_at(*spec, "initContainers"))
      for (const json::Value& c : *inits) {
        ResourceList r = container_requests(c);
        if (text(c, "restartPolicy") == "Always") {
          add_into(d.requests, r);
          add_into(sidecars, r);
          max_into(init_peak, sidecars);
        } else {
          add_into(r, sidecars);
          max_into(init_peak, r);
        }
      }
    max_into(d.requests, init_peak);
    add_into(d.requests, parse_resource_list(spec->get("overhead")));
    d.node_selector = string_map(spec->get("nodeSelector"));
    if (const json::Value* req =
          spec->at_path("affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"))
      d.required_affinity = *req;
    if (const json::Value* tolerations = spec->get("tolerations"))
      d.tolerations = *tolerations;
  }
  d.requests[kPods] = 1;
  return d;
}

NodeState node_state(const json::Value& node) {
  NodeState s;
  if (const json::Value* metadata = node.get("metadata")) {
    s.name = text(*metadata, "name");
    s.labels = string_map(metadata->get("labels"));
  }
  if (const json::Value* spec = node.get("spec")) {
    if (const json::Array* taints = array_at(*spec, "taints"))
      for (const json::Value& t : *taints)
        s.taints.push_back({text(t, "key"), text(t, "value"), text(t, "effect")});
    const json::Value* unschedulable = spec->get("unschedulable");
    s.unschedulable = unschedulable && unschedulable->is_bool() && unschedulable->as_bool();
  }
  s.allocatable = parse_resource_list(node.at_path("status.allocatable"));
  return s;
}

bool tolerates(const json::Value& tolerations, const NodeTaintView& taint) {
  if (!tolerations.is_array())
    return false;
  const json::Array& list = tolerations.as_array();
  return std::any_of(list.begin(), list.end(),
                     [&](const json::Value& t) { return toleration_matches(t, taint); });
}

std::vector<std::string> unfit_reasons(const PodDemand& pod, const NodeState& node) {
  std::vector<std::string> reasons;
  run_filters(pod, core_amounts(pod.requests, true), node, &reasons);
  return reasons;
}

void cache_amounts(NodeState& node) {
  node.alloc_amounts = to_cache(core_amounts(node.allocatable));
  node.used_amounts = to_cache(core_amounts(node.requested));
  node.amounts_cached = true;
}

void add_requests(NodeState& node, const ResourceList& requests, int sign) {
  for (const auto& [name, value] : requests)
    node.requested[name] += sign * value;
  if (node.amounts_cached)
    node.used_amounts = to_cache(core_amounts(node.requested));
}

size_t feasible_nodes_to_find(size_t all) {
  // kube-scheduler's defaults: at least 100 nodes, 50% less 1% per 125 nodes, never under 5%.
  constexpr size_t kMinFeasible = 100;
  if (all < kMinFeasible)
    return all;
  int64_t pct = 50 - static_cast<int64_t>(all / 125);
  if (pct < 5)
    pct = 5;
  size_t n = all * static_cast<size_t>(pct) / 100;
  return n < kMinFeasible ? kMinFeasible : n;
}

Placement schedule(const PodDemand& pod, const std::vector<NodeState>& nodes,
                   std::mt19937_64& rng, size_t* next_start) {
  if (nodes.empty())
    return {{}, "no nodes available to schedule pods"};
  const NamePrefilter pre = prefilter_names(pod);
  if (pre.conflict)
    return {{}, fit_error(nodes.size(), "pod affinity terms conflict",
                          preemption_summary(nodes.size(), 0))};

  // One pass: filter, score, and keep a uniform choice among the best so far (reservoir
  // sampling), so the result depends only on the seed and the node order.
  const Core ask = core_amounts(pod.requests, true);
  const Scorer scorer(ask);
  const NodeState* best = nullptr;
  int64_t best_score = 0;
  uint64_t ties = 0;
  const size_t all = nodes.size();
  const size_t want = next_start && !pre.names ? feasible_nodes_to_find(all) : all;
  const size_t first = next_start ? *next_start % all : 0;
  size_t feasible = 0, looked = 0;
  for (; looked < all && feasible < want; ++looked) {
    const NodeState& node = nodes[(first + looked) % all];
    if (pre.names && !pre.names->count(node.name))
      continue;
    if (!node_filters_pass(pod, node, nullptr))
      continue;
    const NodeAmounts have(node);
    if (!resources_fit(pod, ask, node, have, nullptr))
      continue;
    ++feasible;
    const int64_t score = scorer.score(have);
    if (!best || score > best_score) {
      best = &node;
      best_score = score;
      ties = 1;
    } else if (score == best_score && rng() % ++ties == 0) {
      best = &node;
    }
  }
  if (next_start)
    *next_start = (first + looked) % all;
  if (best)
    return {best->name, {}};
  return {{}, unschedulable_message(pod, nodes, pre)};
}

}  // namespace omed::apiserver::sim
