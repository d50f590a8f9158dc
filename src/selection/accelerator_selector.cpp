// OME's accelerator-class selection (pkg/acceleratorclassselector) with deterministic ties and
// a reason per candidate; BestFit without constraints no longer dereferences a nil pointer.
#include "omed/selection/accelerator_selector.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace omed::selection {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> strings(const json::Value* v) {
  std::vector<std::string> out;
  if (v && v->is_array())
    for (const json::Value& item : v->as_array())
      if (item.is_string())
        out.push_back(item.as_string());
  return out;
}

double number_or_zero(const json::Value* v) {
  auto q = v ? quantity_value(*v) : std::nullopt;
  return q ? *q : 0;
}

std::string fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i)
      out += sep;
    out += items[i];
  }
  return out;
}

// Dotted numeric comparison ("10.0" > "9.0"), falling back to text for non-numeric parts.
int compare_versions(std::string_view a, std::string_view b) {
  while (!a.empty() || !b.empty()) {
    auto take = [](std::string_view& s) {
      size_t dot = s.find('.');
      std::string_view part = s.substr(0, dot);
      s = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
      return part;
    };
    std::string_view pa = take(a), pb = take(b);
    auto na = quantity_value(pa), nb = quantity_value(pb);
    if (pa.empty())
      na = 0;
    if (pb.empty())
      nb = 0;
    if (na && nb) {
      if (*na != *nb)
        return *na < *nb ? -1 : 1;
    } else if (pa != pb) {
      return pa < pb ? -1 : 1;
    }
  }
  return 0;
}

// ----------------------------------------------------------------- BestFit

double saturating(double tflops, double required) {
  if (tflops <= 0)
    return 0;
  if (required <= 0)
    return 1;
  return std::min(tflops / required, 1.0);
}

double memory_fit(const AcceleratorClassInfo& c, const AcceleratorConstraints* cons) {
  if (!cons || !cons->min_memory_gb)
    return 1;  // nothing asked of memory: every class fits (OME dereferences nil here)
  const double req = static_cast<double>(*cons->min_memory_gb);
  const double mem = c.memory_gib() ? static_cast<double>(*c.memory_gib()) : 0;
  if (mem < req)
    return 0;
  if (mem == req)
    return 1;
  return req / mem;
}

double compute_fit(const AcceleratorClassInfo& c, const AcceleratorConstraints* cons) {
  if (c.fp32_tflops <= 0 && c.fp16_tflops <= 0 && c.int8_tops <= 0 && c.int4_tops <= 0)
    return 0;
  const double req = cons && cons->min_tflops ? *cons->min_tflops : 0;
  if (!cons || cons->preferred_precisions.empty())
    return saturating(std::max({c.fp32_tflops, c.fp16_tflops, c.int8_tops, c.int4_tops}), req);
  // Each preference further down the list counts half as much as the one before.
  double penalty = 1;
  bool fp16_listed = false;
  for (const std::string& p : cons->preferred_precisions) {
    fp16_listed = fp16_listed || lower(p) == "fp16";
    if (double t = c.tflops(p); t > 0)
      return saturating(t, req) * penalty;
    penalty *= 0.5;
  }
  return fp16_listed ? 0 : saturating(c.fp16_tflops, req) * penalty;
}

// ----------------------------------------------------------------- Cheapest

double tier_rank(const std::string& tier) {
  const std::string t = lower(tier);
  if (t == "low")
    return 1;
  if (t == "high")
    return 3;
  return 2;
}

// The lowest value among the candidates that have one; ties go to the smaller name.
int cheapest_by(const std::vector<AcceleratorClassInfo>& cands,
                const std::function<std::optional<double>(const AcceleratorClassInfo&)>& price) {
  int best = -1;
  double best_price = 0;
  for (size_t i = 0; i < cands.size(); ++i) {
    auto p = price(cands[i]);
    if (!p)
      continue;
    if (best < 0 || *p < best_price || (*p == best_price && cands[i].name < cands[static_cast<size_t>(best)].name)) {
      best = static_cast<int>(i);
      best_price = *p;
    }
  }
  return best;
}

double preferred_tflops(const AcceleratorClassInfo& c, const AcceleratorConstraints* cons) {
  std::vector<std::string> prefs = cons ? cons->preferred_precisions : std::vector<std::string>{};
  if (prefs.empty())
    prefs.push_back("fp16");
  for (const std::string& p : prefs)
    if (double t = c.tflops(p); t > 0)
      return t;
  return 0;
}

// Highest score; ties to the smaller name.
int best_of(const std::vector<AcceleratorClassInfo>& cands, const std::vector<double>& scores) {
  int best = -1;
  for (size_t i = 0; i < cands.size(); ++i) {
    if (best < 0) {
      best = static_cast<int>(i);
      continue;
    }
    const auto b = static_cast<size_t>(best);
    if (scores[i] > scores[b] || (scores[i] == scores[b] && cands[i].name < cands[b].name))
      best = static_cast<int>(i);
  }
  return best;
}

}  // namespace

// ----------------------------------------------------------------- parsing

std::optional<int64_t> AcceleratorClassInfo::memory_gib() const {
  if (!memory_bytes)
    return std::nullopt;
  return static_cast<int64_t>(std::floor(*memory_bytes / 0x1p30));
}

double AcceleratorClassInfo::tflops(std::string_view precision) const {
  const std::string p = lower(precision);
  if (p == "fp32")
    return fp32_tflops;
  if (p == "fp16" || p == "bf16")
    return fp16_tflops;
  if (p == "fp8" || p == "int8")
    return int8_tops;
  if (p == "int4")
    return int4_tops;
  return 0;
}

AcceleratorClassInfo AcceleratorClassInfo::from_object(const json::Value& ac) {
  AcceleratorClassInfo c;
  c.object = std::make_shared<const json::Value>(ac);
  if (const json::Value* meta = ac.get("metadata"))
    c.name = meta->string_or("name");
  const json::Value* spec = ac.get("spec");
  if (!spec || !spec->is_object())
    return c;
  c.vendor = spec->string_or("vendor");
  c.family = spec->string_or("family");
  c.model = spec->string_or("model");
  if (const json::Value* sel = spec->at_path("discovery.nodeSelector"); sel && sel->is_object())
    for (const auto& m : sel->as_object())
      if (m.value.is_string())
        c.node_selector[m.key] = m.value.as_string();
  if (const json::Value* aff = spec->at_path("discovery.affinity"); aff && aff->is_object())
    c.affinity = *aff;
  if (const json::Value* caps = spec->get("capabilities"); caps && caps->is_object()) {
    if (const json::Value* mem = caps->get("memoryGB")) {
      const bool bare = mem->is_number() ||
                        (mem->is_string() && !mem->as_string().empty() &&
                         std::isdigit(static_cast<unsigned char>(mem->as_string().back())));
      if (auto v = quantity_value(*mem))
        c.memory_bytes = bare ? *v * 0x1p30 : *v;
    }
    c.compute_capability = caps->string_or("computeCapability");
    c.features = strings(caps->get("features"));
    if (const json::Value* bw = caps->get("memoryBandwidthGBps"))
      c.memory_bandwidth_gbps = quantity_value(*bw);
    if (const json::Value* perf = caps->get("performance"); perf && perf->is_object()) {
      c.fp32_tflops = number_or_zero(perf->get("fp32Tflops"));
      c.fp16_tflops = number_or_zero(perf->get("fp16Tflops"));
      c.int8_tops = number_or_zero(perf->get("int8Tops"));
      c.int4_tops = number_or_zero(perf->get("int4Tops"));
    }
  }
  if (const json::Value* res = spec->get("resources"); res && res->is_array() && !res->as_array().empty()) {
    std::string name = res->as_array().front().string_or("name");
    if (!name.empty())
      c.resource_name = std::move(name);
  }
  if (const json::Value* cost = spec->get("cost"); cost && cost->is_object()) {
    if (const json::Value* v = cost->get("perHour"))
      c.per_hour = quantity_value(*v);
    if (const json::Value* v = cost->get("spotPerHour"))
      c.spot_per_hour = quantity_value(*v);
    if (const json::Value* v = cost->get("perMillionTokens"))
      c.per_million_tokens = quantity_value(*v);
    c.tier = cost->string_or("tier");
  }
  return c;
}

std::optional<AcceleratorConstraints> AcceleratorConstraints::from_selector(const json::Value* selector) {
  const json::Value* cons = selector ? selector->get("constraints") : nullptr;
  if (!cons || !cons->is_object())
    return std::nullopt;
  AcceleratorConstraints out;
  auto gb = [&](const char* key) -> std::optional<int64_t> {
    const json::Value* v = cons->get(key);
    auto q = v ? quantity_value(*v) : std::nullopt;
    if (!q)
      return std::nullopt;
    return static_cast<int64_t>(*q);
  };
  out.min_memory_gb = gb("minMemory");
  out.max_memory_gb = gb("maxMemory");
  if (const json::Value* v = cons->get("minComputePerformanceTFLOPS"))
    out.min_tflops = quantity_value(*v);
  out.min_architecture_version = cons->string_or("minArchitectureVersion");
  out.required_features = strings(cons->get("requiredFeatures"));
  out.excluded_classes = strings(cons->get("excludedClasses"));
  out.architecture_families = strings(cons->get("architectureFamilies"));
  out.preferred_precisions = strings(cons->get("preferredPrecisions"));
  return out;
}

std::string constraint_violation(const AcceleratorClassInfo& c, const AcceleratorConstraints& cons) {
  if (std::find(cons.excluded_classes.begin(), cons.excluded_classes.end(), c.name) != cons.excluded_classes.end())
    return "excluded by constraints.excludedClasses";
  if (!cons.architecture_families.empty()) {
    // "nvidia-hopper" names vendor and family; "hopper" the family alone.
    const std::string family = lower(c.family), vendor_family = lower(c.vendor + "-" + c.family);
    bool ok = false;
    for (const std::string& f : cons.architecture_families)
      ok = ok || lower(f) == (f.find('-') != std::string::npos ? vendor_family : family);
    if (!ok)
      return "family " + c.vendor + "-" + c.family + " not in architectureFamilies [" +
             join(cons.architecture_families, ", ") + "]";
  }
  if (cons.min_memory_gb || cons.max_memory_gb) {
    auto gib = c.memory_gib();
    if (!gib)
      return "no capabilities.memoryGB to compare with the memory constraints";
    if (cons.min_memory_gb && *gib < *cons.min_memory_gb)
      return "memory " + std::to_string(*gib) + "GiB below minMemory " + std::to_string(*cons.min_memory_gb);
    if (cons.max_memory_gb && *gib > *cons.max_memory_gb)
      return "memory " + std::to_string(*gib) + "GiB above maxMemory " + std::to_string(*cons.max_memory_gb);
  }
  std::vector<std::string> missing;
  for (const std::string& want : cons.required_features) {
    const std::string w = lower(want);
    if (std::none_of(c.features.begin(), c.features.end(), [&](const std::string& f) { return lower(f) == w; }))
      missing.push_back(want);
  }
  if (!missing.empty())
    return "missing required features [" + join(missing, ", ") + "]";
  if (!cons.min_architecture_version.empty()) {
    if (c.compute_capability.empty())
      return "no capabilities.computeCapability to compare with minArchitectureVersion " +
             cons.min_architecture_version;
    if (compare_versions(c.compute_capability, cons.min_architecture_version) < 0)
      return "computeCapability " + c.compute_capability + " below minArchitectureVersion " +
             cons.min_architecture_version;
  }
  return {};
}

std::optional<AcceleratorPolicy> parse_accelerator_policy(std::string_view name) {
  if (name == "BestFit")
    return AcceleratorPolicy::BestFit;
  if (name == "Cheapest")
    return AcceleratorPolicy::Cheapest;
  if (name == "MostCapable")
    return AcceleratorPolicy::MostCapable;
  if (name == "FirstAvailable")
    return AcceleratorPolicy::FirstAvailable;
  return std::nullopt;
}

const char* to_string(AcceleratorPolicy p) {
  switch (p) {
    case AcceleratorPolicy::BestFit: return "BestFit";
    case AcceleratorPolicy::Cheapest: return "Cheapest";
    case AcceleratorPolicy::MostCapable: return "MostCapable";
    case AcceleratorPolicy::FirstAvailable: return "FirstAvailable";
  }
  return "Unknown";
}

// ----------------------------------------------------------------- policies

PolicyOutcome apply_accelerator_policy(AcceleratorPolicy policy, const std::vector<AcceleratorClassInfo>& cands,
                                       const AcceleratorConstraints* cons) {
  PolicyOutcome out;
  if (cands.empty()) {
    out.error = "no candidate AcceleratorClass";
    return out;
  }
  const std::string name = to_string(policy);
  switch (policy) {
    case AcceleratorPolicy::FirstAvailable: {
      out.index = 0;
      out.reason = "FirstAvailable: first of the runtime's acceleratorClasses meeting the constraints";
      for (size_t i = 0; i < cands.size(); ++i)
        out.explanation.push_back(cands[i].name + ": position " + std::to_string(i + 1));
      return out;
    }
    case AcceleratorPolicy::BestFit: {
      std::vector<double> scores;
      for (const AcceleratorClassInfo& c : cands) {
        const double mem = memory_fit(c, cons), compute = compute_fit(c, cons);
        scores.push_back(0.70 * mem + 0.30 * compute);
        out.explanation.push_back(c.name + ": best fit " + fixed2(scores.back()) + " (memory fit " + fixed2(mem) +
                                  ", compute " + fixed2(compute) + ")");
      }
      out.index = best_of(cands, scores);
      break;
    }
    case AcceleratorPolicy::MostCapable: {
      double max_mem = 0, max_bw = 0, max_tf = 0;
      for (const AcceleratorClassInfo& c : cands) {
        max_mem = std::max(max_mem, c.memory_bytes.value_or(0));
        max_bw = std::max(max_bw, c.memory_bandwidth_gbps.value_or(0));
        max_tf = std::max(max_tf, preferred_tflops(c, cons));
      }
      auto share = [](double v, double max) { return max > 0 ? v / max : 0; };
      std::vector<double> scores;
      for (const AcceleratorClassInfo& c : cands) {
        const double mem = share(c.memory_bytes.value_or(0), max_mem);
        const double bw = share(c.memory_bandwidth_gbps.value_or(0), max_bw);
        const double tf = share(preferred_tflops(c, cons), max_tf);
        scores.push_back(0.5 * mem + 0.3 * bw + 0.2 * tf);
        out.explanation.push_back(c.name + ": capability " + fixed2(scores.back()) + " (memory " + fixed2(mem) +
                                  ", bandwidth " + fixed2(bw) + ", tflops " + fixed2(tf) + ")");
      }
      out.index = best_of(cands, scores);
      break;
    }
    case AcceleratorPolicy::Cheapest: {
      // The first kind of price any candidate has decides: hourly (spot preferred), per token, tier.
      auto hourly = [](const AcceleratorClassInfo& c) { return c.spot_per_hour ? c.spot_per_hour : c.per_hour; };
      auto per_token = [](const AcceleratorClassInfo& c) { return c.per_million_tokens; };
      auto tier = [](const AcceleratorClassInfo& c) -> std::optional<double> {
        if (c.tier.empty())
          return std::nullopt;
        return tier_rank(c.tier);
      };
      const std::pair<const char*, std::function<std::optional<double>(const AcceleratorClassInfo&)>> groups[] = {
          {"per hour", hourly}, {"per million tokens", per_token}, {"tier", tier}};
      for (const auto& [label, price] : groups) {
        int best = cheapest_by(cands, price);
        if (best < 0)
          continue;
        for (const AcceleratorClassInfo& c : cands) {
          auto p = price(c);
          out.explanation.push_back(c.name + ": " + (p ? std::string(label) + " " + fixed2(*p) : "no " + std::string(label) + " cost"));
        }
        out.index = best;
        out.reason = name + ": lowest cost " + label + " (" + fixed2(*price(cands[static_cast<size_t>(best)])) + ")";
        return out;
      }
      out.error = "Cheapest: no candidate has cost data (perHour, spotPerHour, perMillionTokens or tier)";
      for (const AcceleratorClassInfo& c : cands)
        out.explanation.push_back(c.name + ": no cost data");
      return out;
    }
  }
  if (out.index >= 0) {
    const std::string& line = out.explanation[static_cast<size_t>(out.index)];
    out.reason = cands.size() == 1 ? name + ": the only candidate" : name + ": highest score, " + line;
  }
  return out;
}

// ----------------------------------------------------------------- choose_accelerator

AcceleratorChoice choose_accelerator(const json::Value& isvc, const std::string& component, const RuntimeEntry& rt,
                                     const std::function<std::shared_ptr<const json::Value>(const std::string& name)>&
                                         get_class) {
  AcceleratorChoice ch;
  if (rt.accelerator_classes.empty()) {
    ch.reason = "runtime " + rt.name + " declares no acceleratorRequirements.acceleratorClasses";
    return ch;
  }
  static const json::Value kNull;
  const json::Value* spec = isvc.get("spec");
  if (!spec)
    spec = &kNull;
  const json::Value* selector = spec->get("acceleratorSelector");
  const json::Value* override_ = nullptr;
  if (component == "engine" || component == "decoder")
    if (const json::Value* comp = spec->get(component))
      override_ = comp->get("acceleratorOverride");
  auto field = [](const json::Value* obj, const char* key) { return obj ? obj->string_or(key) : std::string(); };

  std::string name = field(override_, "acceleratorClass");
  std::string source = "spec." + component + ".acceleratorOverride.acceleratorClass";
  if (name.empty()) {
    name = field(selector, "acceleratorClass");
    source = "spec.acceleratorSelector.acceleratorClass";
  }
  if (!name.empty()) {
    ch.object = get_class(name);
    if (!ch.object) {
      ch.error = "AcceleratorClass " + name + " (" + source + ") not found";
      return ch;
    }
    ch.name = name;
    ch.reason = "named by " + source;
    return ch;
  }

  std::string policy_name = field(override_, "policy");
  if (policy_name.empty())
    policy_name = field(selector, "policy");
  if (policy_name.empty()) {
    ch.reason = "no acceleratorClass or policy set";
    return ch;
  }
  auto policy = parse_accelerator_policy(policy_name);
  if (!policy) {
    ch.error = "unknown accelerator policy " + policy_name + " (BestFit, Cheapest, MostCapable, FirstAvailable)";
    return ch;
  }
  // Constraints come from the isvc-wide selector only: OME ignores the overrides' constraints.
  const std::optional<AcceleratorConstraints> cons = AcceleratorConstraints::from_selector(selector);
  std::vector<AcceleratorClassInfo> valid;
  std::vector<std::string> seen;
  for (const std::string& n : rt.accelerator_classes) {
    if (std::find(seen.begin(), seen.end(), n) != seen.end())
      continue;
    seen.push_back(n);
    auto obj = get_class(n);
    if (!obj) {
      ch.explanation.push_back(n + ": not found");
      continue;
    }
    AcceleratorClassInfo info = AcceleratorClassInfo::from_object(*obj);
    info.name = n;
    if (cons)
      if (std::string why = constraint_violation(info, *cons); !why.empty()) {
        ch.explanation.push_back(n + ": " + why);
        continue;
      }
    valid.push_back(std::move(info));
  }
  if (valid.empty()) {
    ch.error = "no AcceleratorClass among [" + join(seen, ", ") + "] meets the constraints";
    if (!ch.explanation.empty())
      ch.error += ": " + join(ch.explanation, "; ");
    return ch;
  }
  PolicyOutcome po = apply_accelerator_policy(*policy, valid, cons ? &*cons : nullptr);
  ch.explanation.insert(ch.explanation.end(), po.explanation.begin(), po.explanation.end());
  if (po.index < 0) {
    ch.error = po.error;
    return ch;
  }
  const AcceleratorClassInfo& chosen = valid[static_cast<size_t>(po.index)];
  ch.name = chosen.name;
  ch.object = chosen.object;
  ch.reason = po.reason;
  return ch;
}

}  // namespace omed::selection
