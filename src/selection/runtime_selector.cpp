// OME's runtime selection (pkg/runtimeselector) with its nil dereferences designed out: missing
// size bounds are open, unparsable sizes are reasons, and every runtime gets a verdict with a why.
#include "omed/selection/runtime_selector.hpp"

#include <algorithm>
#include <cmath>

#include "selection_internal.hpp"

namespace omed::selection {

namespace {

constexpr int64_t kDefaultFormatWeight = 10;
constexpr int64_t kDefaultFrameworkWeight = 5;
// How many excluded runtimes an error names before counting the rest.
constexpr size_t kErrorExcludedMax = 32;
constexpr const char* kDiffusionComponents[] = {"scheduler", "textEncoder", "tokenizer", "transformer", "vae"};

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i)
      out += sep;
    out += items[i];
  }
  return out;
}

std::string model_label(const ModelFacts& m) { return m.name.empty() ? m.format : m.name; }

// ----------------------------------------------------------------- diffusion pipelines

// A runtime component with a library/type: the model must name the component, and every
// field the runtime sets must be equal.
bool component_matches(const json::Value& want, const json::Value* have) {
  if (!have || !have->is_object())
    return false;
  for (const char* field : {"library", "type"}) {
    std::string w = want.string_or(field);
    if (!w.empty() && w != have->string_or(field))
      return false;
  }
  return true;
}

// Empty when the model's pipeline satisfies the runtime's; otherwise the first reason.
std::string pipeline_mismatch(const json::Value& model_dp, const json::Value& rt_dp) {
  if (rt_dp.is_null())
    return {};
  if (!model_dp.is_object())
    return "diffusion pipeline mismatch (model has none, runtime requires one)";
  std::string want_class = rt_dp.string_or("className");
  if (!want_class.empty() && want_class != model_dp.string_or("className"))
    return "pipeline class mismatch (model=" + model_dp.string_or("className") + ", runtime=" + want_class + ")";
  for (const char* comp : kDiffusionComponents) {
    const json::Value* want = rt_dp.get(comp);
    if (!want || want->is_null())
      continue;
    const json::Value* have = model_dp.get(comp);
    if (!have || have->is_null())
      return std::string("component ") + comp + " required by runtime but not specified in model";
    if (!component_matches(*want, have))
      return std::string("component ") + comp + " mismatch";
  }
  if (const json::Value* extra = rt_dp.get("additionalComponents"); extra && extra->is_object()) {
    const json::Value* have_extra = model_dp.get("additionalComponents");
    for (const auto& member : extra->as_object()) {
      const json::Value* have = have_extra ? have_extra->get(member.key) : nullptr;
      if (!have)
        return "component " + member.key + " required by runtime but not specified in model";
      if (member.value.is_object() ? !component_matches(member.value, have) : member.value != *have)
        return "component " + member.key + " mismatch";
    }
  }
  return {};
}

// ----------------------------------------------------------------- format matching

bool versions_match(const std::string& rt_version, const std::string& op, const std::string& model_version) {
  if (rt_version.empty() != model_version.empty())
    return false;  // "both or neither"
  return rt_version.empty() || version_ok(rt_version, op, model_version);
}

// The fast path: no strings built. Exact equality covers OME's "both set -> equal, exactly one
// set -> fail" for architecture and quantization.
bool format_matches(const ModelFacts& m, const SupportedFormat& f) {
  if (!f.diffusion_pipeline.is_null() && !pipeline_mismatch(m.diffusion_pipeline, f.diffusion_pipeline).empty())
    return false;
  if (m.architecture != f.architecture || m.quantization != f.quantization)
    return false;
  if (!f.has_format || f.format != m.format || !versions_match(f.format_version, f.format_operator, m.format_version))
    return false;
  if (f.has_framework != m.has_framework)
    return false;
  return !f.has_framework ||
         (f.framework == m.framework && versions_match(f.framework_version, f.framework_operator, m.framework_version));
}

// Reasons are appended to one string (a thousand runtimes get explained per failed selection);
// `start` is where the current entry's reasons begin, so separators only go between them.
void add_reason(std::string& out, size_t start, std::initializer_list<std::string_view> parts) {
  if (out.size() > start)
    out += ", ";
  for (std::string_view part : parts)
    out += part;
}

void pair_reasons(std::string& out, size_t start, std::string_view what, const std::string& model,
                  const std::string& rt) {
  if (model == rt)
    return;
  if (model.empty())
    add_reason(out, start, {"model has no ", what, " but runtime requires ", rt});
  else if (rt.empty())
    add_reason(out, start, {"model has ", what, " ", model, " but runtime has no ", what, " requirement"});
  else
    add_reason(out, start, {what, " mismatch (model=", model, ", runtime=", rt, ")"});
}

void version_reasons(std::string& out, size_t start, std::string_view what, const std::string& model,
                     const std::string& rt, const std::string& op) {
  if (model.empty() && rt.empty())
    return;
  if (model.empty()) {
    add_reason(out, start, {"model has no ", what, " but runtime requires ", rt});
  } else if (rt.empty()) {
    add_reason(out, start, {"model has ", what, " ", model, " but runtime has no version requirement"});
  } else if (!version_ok(rt, op, model)) {
    const bool plain = op.empty() || op == "Equal";
    add_reason(out, start, {what, " mismatch (model=", model, ", runtime=", plain ? "" : op, plain ? "" : " ", rt, ")"});
  }
}

// Every reason one entry fails, joined with ", " as OME's getFormatMismatchReason does.
void format_mismatch(const ModelFacts& m, const SupportedFormat& f, std::string& r) {
  const size_t start = r.size();
  if (std::string dp = pipeline_mismatch(m.diffusion_pipeline, f.diffusion_pipeline); !dp.empty())
    add_reason(r, start, {dp});
  pair_reasons(r, start, "architecture", m.architecture, f.architecture);
  pair_reasons(r, start, "quantization", m.quantization, f.quantization);
  if (!f.has_format)
    add_reason(r, start, {"runtime entry has no modelFormat"});
  else if (f.format != m.format)
    add_reason(r, start, {"format name mismatch (model=", m.format, ", runtime=", f.format, ")"});
  else
    version_reasons(r, start, "format version", m.format_version, f.format_version, f.format_operator);
  if (f.has_framework && m.has_framework) {
    if (f.framework != m.framework)
      add_reason(r, start, {"framework mismatch (model=", m.framework, ", runtime=", f.framework, ")"});
    else
      version_reasons(r, start, "framework version", m.framework_version, f.framework_version, f.framework_operator);
  } else if (f.has_framework) {
    add_reason(r, start, {"model has no framework but runtime requires ", f.framework});
  } else if (m.has_framework) {
    add_reason(r, start, {"model has framework ", m.framework, " but runtime has no framework requirement"});
  }
  if (r.size() == start)
    r += "unknown mismatch";
}

std::string format_label(const ModelFacts& m) {
  std::string s = m.format;
  if (!m.format_version.empty())
    s += " " + m.format_version;
  return s;
}

// ----------------------------------------------------------------- compatibility

bool accelerator_ok(const RuntimeEntry& rt, const Requirements& req, std::string* reason) {
  for (const std::string& want : req.accelerator_classes) {
    if (std::find(rt.accelerator_classes.begin(), rt.accelerator_classes.end(), want) != rt.accelerator_classes.end())
      continue;
    if (rt.accelerator_classes.empty())
      *reason = "requires accelerator class " + want + " but runtime lists no acceleratorClasses";
    else
      *reason = "accelerator class " + want + " not in runtime's acceleratorClasses [" +
                join(rt.accelerator_classes, ", ") + "]";
    return false;
  }
  return true;
}

bool size_ok(const RuntimeEntry& rt, const ModelFacts& m, std::string* reason) {
  if (m.size_text.empty() || !rt.has_size_range)
    return true;
  if (!m.size) {
    *reason = "model size '" + m.size_text + "' is not a size (runtime range " +
              (rt.size_min_text.empty() ? "0" : rt.size_min_text) + "-" + rt.size_max_text + ")";
    return false;
  }
  for (auto [text, value, which] : {std::tuple{&rt.size_min_text, &rt.size_min, "min"},
                                    std::tuple{&rt.size_max_text, &rt.size_max, "max"}}) {
    if (!text->empty() && !*value) {
      *reason = std::string("runtime modelSizeRange.") + which + " '" + *text + "' is not a size";
      return false;
    }
  }
  const double s = *m.size;
  const bool low = rt.size_min && s < *rt.size_min;
  const bool high = rt.size_max && s > *rt.size_max;
  if (!low && !high)
    return true;
  const std::string size = format_model_size(s);
  if (rt.size_min && rt.size_max)
    *reason = "size " + size + " outside " + rt.size_min_text + "-" + rt.size_max_text;
  else if (low)
    *reason = "size " + size + " below minimum " + rt.size_min_text;
  else
    *reason = "size " + size + " above maximum " + rt.size_max_text;
  return false;
}

// OME's GetCompatibilityDetails without the disabled check (callers report that first).
bool compatible(const RuntimeEntry& rt, const ModelFacts& m, const Requirements& req, std::string* reason) {
  if (!accelerator_ok(rt, req, reason))
    return false;
  bool any = false;
  for (const SupportedFormat& f : rt.formats)
    if (format_matches(m, f)) {
      any = true;
      break;
    }
  if (!any) {
    std::string& r = *reason;
    r.reserve(160);
    r = "format ";
    r += m.format;
    if (!m.format_version.empty()) {
      r += ' ';
      r += m.format_version;
    }
    r += " not supported: ";
    if (rt.formats.empty())
      r += "runtime lists no supportedModelFormats";
    // When no entry is for the model's architecture, that alone decides: say only that (the
    // other mismatches of a runtime for another model are noise, and costly to spell out for
    // the hundreds of runtimes a failed selection explains).
    const bool architecture_decides = std::none_of(rt.formats.begin(), rt.formats.end(),
        [&](const SupportedFormat& f) { return f.architecture == m.architecture; });
    for (size_t i = 0; i < rt.formats.size(); ++i) {
      if (i)
        r += "; ";
      if (architecture_decides)
        pair_reasons(r, r.size(), "architecture", m.architecture, rt.formats[i].architecture);
      else
        format_mismatch(m, rt.formats[i], r);
    }
    return false;
  }
  return size_ok(rt, m, reason);
}

// ----------------------------------------------------------------- scoring

struct FormatScore {
  int64_t score = 0;
  bool format_counted = false, framework_counted = false;
};

FormatScore format_score(const ModelFacts& m, const SupportedFormat& f) {
  FormatScore out;
  bool fmt_ok = false;
  if (f.has_format) {
    if (f.format != m.format)
      return out;
    if (!f.format_version.empty() && !m.format_version.empty()) {
      if (!version_ok(f.format_version, f.format_operator, m.format_version))
        return out;
    }
    fmt_ok = true;
  }
  bool fw_ok = false;
  if (f.has_framework && m.has_framework) {
    if (f.framework != m.framework)
      return out;
    if (!f.framework_version.empty() && !m.framework_version.empty() &&
        !version_ok(f.framework_version, f.framework_operator, m.framework_version))
      return out;
    fw_ok = true;
  }
  if ((fmt_ok || !f.has_format) && (fw_ok || (!f.has_framework && !m.has_framework))) {
    const int64_t p = f.priority;
    if (fmt_ok) {
      out.score += (f.format_weight ? f.format_weight : kDefaultFormatWeight) * p;
      out.format_counted = true;
    }
    if (fw_ok) {
      out.score += (f.framework_weight ? f.framework_weight : kDefaultFrameworkWeight) * p;
      out.framework_counted = true;
    }
  }
  return out;
}

std::string score_detail(const SupportedFormat& f, const FormatScore& s) {
  std::string d = "score " + std::to_string(s.score) + " (";
  if (s.format_counted)
    d += f.format + " x" + std::to_string(f.format_weight ? f.format_weight : kDefaultFormatWeight);
  if (s.framework_counted) {
    if (s.format_counted)
      d += " + ";
    d += f.framework + " x" + std::to_string(f.framework_weight ? f.framework_weight : kDefaultFrameworkWeight);
  }
  d += ", priority " + std::to_string(f.priority) + ")";
  return d;
}

// CalculateScore: the best entry that is not explicitly autoSelect: false (first wins ties).
int best_scoring(const RuntimeEntry& rt, const ModelFacts& m, FormatScore* best) {
  int index = -1;
  for (size_t i = 0; i < rt.formats.size(); ++i) {
    const SupportedFormat& f = rt.formats[i];
    if (f.auto_select == false)
      continue;
    FormatScore s = format_score(m, f);
    if (index < 0 || s.score > best->score) {
      *best = s;
      index = static_cast<int>(i);
    }
  }
  return index;
}

// GetSupportedModelFormat: the entry whose acceleratorConfig applies. It must match the model;
// auto-selection only considers autoSelect: true entries, a runtime the user named considers all.
int config_format(const RuntimeEntry& rt, const ModelFacts& m, bool user_named) {
  int index = -1;
  int64_t best = -1;
  for (size_t i = 0; i < rt.formats.size(); ++i) {
    const SupportedFormat& f = rt.formats[i];
    if ((!user_named && f.auto_select != true) || !format_matches(m, f))
      continue;
    int64_t s = format_score(m, f).score;
    if (s > best) {
      best = s;
      index = static_cast<int>(i);
    }
  }
  return index;
}

double size_distance(const RuntimeEntry& rt, const ModelFacts& m) {
  if (!m.size)
    return 0;
  double d = 0;
  if (rt.size_min)
    d += std::fabs(*rt.size_min - *m.size);
  if (rt.size_max)
    d += std::fabs(*rt.size_max - *m.size);
  return d;
}

struct Evaluated {
  Candidate c;
  const RuntimeEntry* rt = nullptr;
};

Evaluated evaluate(const RuntimeEntry& rt, const ModelFacts& m, const Requirements& req) {
  Evaluated e;
  e.rt = &rt;
  e.c.kind = rt.kind;
  e.c.ns = rt.ns;
  e.c.name = rt.name;
  if (rt.disabled) {
    e.c.verdict = Verdict::Disabled;
    e.c.reason = "disabled";
    return e;
  }
  if (!compatible(rt, m, req, &e.c.reason)) {
    e.c.verdict = Verdict::Incompatible;
    return e;
  }
  if (std::none_of(rt.formats.begin(), rt.formats.end(), [](const SupportedFormat& f) { return f.auto_select == true; })) {
    e.c.verdict = Verdict::NotAutoSelect;
    e.c.reason = "no format has autoSelect: true";
    return e;
  }
  FormatScore s;
  int index = best_scoring(rt, m, &s);
  e.c.score = s.score;
  if (s.score <= 0) {
    e.c.verdict = Verdict::ZeroScore;
    e.c.reason = "score 0: the entries matching " + format_label(m) + " have autoSelect: false";
    return e;
  }
  e.c.verdict = Verdict::Ranked;
  e.c.reason = score_detail(rt.formats[static_cast<size_t>(index)], s);
  e.c.size_distance = size_distance(rt, m);
  int cfg = config_format(rt, m, false);
  e.c.format_index = cfg >= 0 ? cfg : index;
  return e;
}

bool ranks_before(const Evaluated& a, const Evaluated& b) {
  if (a.c.score != b.c.score)
    return a.c.score > b.c.score;
  if (a.c.size_distance != b.c.size_distance)
    return a.c.size_distance < b.c.size_distance;
  if (a.c.name != b.c.name)
    return a.c.name < b.c.name;
  return a.c.ns < b.c.ns;
}

bool name_before(const Evaluated& a, const Evaluated& b) { return a.c.name < b.c.name; }

std::string more_text(size_t n) { return " ... and " + std::to_string(n) + " more"; }

// head + items joined by sep, never longer than max_bytes; what does not fit is counted.
std::string bounded(std::string out, const std::vector<std::string>& items, std::string_view sep, size_t max_bytes) {
  for (size_t i = 0; i < items.size(); ++i) {
    const size_t after = items.size() - i - 1;
    const size_t piece = (i ? sep.size() : 0) + items[i].size();
    const size_t reserve = after ? more_text(after).size() : 0;
    if (out.size() + piece + reserve > max_bytes) {
      out += more_text(items.size() - i);
      break;
    }
    if (i)
      out += sep;
    out += items[i];
  }
  if (out.size() > max_bytes) {
    size_t cut = max_bytes;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80)
      --cut;  // never split a UTF-8 sequence
    out.resize(cut);
  }
  return out;
}

std::string invalid_model_error() {
  return "invalid model specification: modelFormat.name: model format name is required";
}

}  // namespace

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::Selected: return "Selected";
    case Verdict::Ranked: return "Ranked";
    case Verdict::NotAutoSelect: return "NotAutoSelect";
    case Verdict::ZeroScore: return "ZeroScore";
    case Verdict::Incompatible: return "Incompatible";
    case Verdict::Disabled: return "Disabled";
  }
  return "Unknown";
}

namespace detail {

std::string describe_model(const ModelFacts& m) {
  std::string s = m.format;
  for (const std::string* part : {&m.architecture, &m.quantization})
    if (!part->empty())
      s += " " + *part;
  if (m.size)
    s += " " + format_model_size(*m.size);
  else if (!m.size_text.empty())
    s += " " + m.size_text;
  return s;
}

Selection rank(const ModelFacts& m, const Requirements& req, const std::vector<const RuntimeEntry*>& namespaced,
               const std::vector<const RuntimeEntry*>& cluster, const Scope& scope) {
  Selection sel;
  if (m.format.empty()) {
    sel.error = invalid_model_error();
    return sel;
  }
  sel.subject = describe_model(m);
  std::vector<Evaluated> ns_ok, cl_ok;
  // Rejections closest to working first (not auto-selectable, zero score, incompatible,
  // disabled), namespaced before cluster, then by name: one list per verdict and scope.
  constexpr int kFirstRejected = static_cast<int>(Verdict::NotAutoSelect);
  constexpr int kRejectedKinds = static_cast<int>(Verdict::Disabled) - kFirstRejected + 1;
  std::vector<Evaluated> rejected[kRejectedKinds][2];
  for (const auto* list : {&namespaced, &cluster})
    for (const RuntimeEntry* rt : *list) {
      if (!rt)
        continue;
      Evaluated e = evaluate(*rt, m, req);
      const int scope_index = list == &namespaced ? 0 : 1;
      if (e.c.verdict != Verdict::Ranked)
        rejected[static_cast<int>(e.c.verdict) - kFirstRejected][scope_index].push_back(std::move(e));
      else
        (scope_index == 0 ? ns_ok : cl_ok).push_back(std::move(e));
    }
  std::sort(ns_ok.begin(), ns_ok.end(), ranks_before);
  std::sort(cl_ok.begin(), cl_ok.end(), ranks_before);
  size_t rejected_count = 0;
  for (auto& by_scope : rejected)
    for (auto& list : by_scope) {
      // The catalog hands runtimes over in name order already: checking is cheaper than sorting.
      if (!std::is_sorted(list.begin(), list.end(), name_before))
        std::sort(list.begin(), list.end(), name_before);
      rejected_count += list.size();
    }

  sel.candidates.reserve(ns_ok.size() + cl_ok.size() + rejected_count);
  // Any namespaced match beats any cluster match: the namespace owner's choice wins (OME).
  for (auto* part : {&ns_ok, &cl_ok})
    for (Evaluated& e : *part) {
      if (!sel.chosen) {
        sel.chosen = e.rt;
        sel.format_index = e.c.format_index;
        e.c.verdict = Verdict::Selected;
      }
      sel.candidates.push_back(std::move(e.c));
    }
  for (auto& by_scope : rejected)
    for (auto& list : by_scope)
      for (Evaluated& e : list)
        sel.candidates.push_back(std::move(e.c));
  const size_t evaluated = namespaced.size() + cluster.size();
  const size_t total = scope.namespaced_total + scope.cluster_total;
  sel.other_runtimes = total > evaluated ? total - evaluated : 0;
  if (sel.chosen)
    return sel;

  std::string err = "no runtime found to support model " + model_label(m) + " with format " + m.format +
                    " in namespace " + req.isvc_namespace + ". Checked " +
                    std::to_string(scope.namespaced_total + scope.cluster_total) + " runtimes (" +
                    std::to_string(scope.namespaced_total) + " namespace-scoped, " +
                    std::to_string(scope.cluster_total) + " cluster-scoped)";
  if (!sel.candidates.empty()) {
    // Bounded: an error goes into Events and logs; the candidates keep every reason.
    err += ". Excluded runtimes: ";
    const size_t shown = std::min(sel.candidates.size(), kErrorExcludedMax);
    for (size_t i = 0; i < shown; ++i) {
      const Candidate& c = sel.candidates[i];
      if (i)
        err += "; ";
      err += c.name + " (" + c.reason + ")";
    }
    if (sel.candidates.size() > shown)
      err += more_text(sel.candidates.size() - shown);
  }
  if (sel.other_runtimes)
    err += ". " + std::to_string(sel.other_runtimes) + " other runtimes support other formats";
  sel.error = std::move(err);
  return sel;
}

}  // namespace detail

Selection select_runtime(const ModelFacts& model, const Requirements& req,
                         const std::vector<const RuntimeEntry*>& namespaced,
                         const std::vector<const RuntimeEntry*>& cluster) {
  return detail::rank(model, req, namespaced, cluster, {namespaced.size(), cluster.size()});
}

Selection validate_runtime(const ModelFacts& model, const Requirements& req, const RuntimeEntry* rt,
                           const std::string& name, const std::string& isvc_namespace) {
  Selection sel;
  if (model.format.empty()) {
    sel.error = invalid_model_error();
    return sel;
  }
  sel.subject = detail::describe_model(model);
  if (!rt) {
    sel.error = "runtime " + name + " not found in namespace " + isvc_namespace + " or at cluster scope";
    return sel;
  }
  Candidate c;
  c.kind = rt->kind;
  c.ns = rt->ns;
  c.name = rt->name;
  if (rt->disabled) {
    c.verdict = Verdict::Disabled;
    c.reason = "disabled";
    sel.error = std::string(rt->cluster() ? "cluster-scoped" : "namespace-scoped") + " runtime " + rt->name +
                " is disabled";
  } else if (!compatible(*rt, model, req, &c.reason)) {
    c.verdict = Verdict::Incompatible;
    sel.error = "runtime " + rt->name + " does not support model " + model_label(model) + ": " + c.reason;
  } else {
    // A runtime the user named needs no autoSelect; its score is informative only.
    c.verdict = Verdict::Selected;
    c.format_index = config_format(*rt, model, true);
    FormatScore s;
    int index = best_scoring(*rt, model, &s);
    c.score = s.score;
    c.size_distance = size_distance(*rt, model);
    c.reason = "named by the InferenceService";
    if (index >= 0 && s.score > 0)
      c.reason += "; " + score_detail(rt->formats[static_cast<size_t>(index)], s);
    sel.chosen = rt;
    sel.format_index = c.format_index;
  }
  sel.candidates.push_back(std::move(c));
  return sel;
}

std::string Selection::summary(size_t max_bytes) const {
  std::vector<std::string> items;
  if (chosen && !candidates.empty()) {
    const Candidate& w = candidates.front();
    std::string head = "selected " + w.kind + " " + (w.ns.empty() ? w.name : w.ns + "/" + w.name) + " (" +
                       (w.score > 0 ? "score " + std::to_string(w.score) : w.reason) + ")";
    size_t rejected = 0;
    for (size_t i = 1; i < candidates.size(); ++i) {
      if (candidates[i].verdict == Verdict::Ranked)
        items.push_back(candidates[i].name + " (score " + std::to_string(candidates[i].score) + ")");
      else
        ++rejected;
    }
    if (items.empty())
      head += rejected ? "; " + std::to_string(rejected) + " other runtimes rejected" : "";
    else
      head += "; also ranked: ";
    std::string out = bounded(head, items, ", ", max_bytes);
    if (!items.empty() && rejected) {
      std::string tail = "; " + std::to_string(rejected) + " rejected";
      if (out.size() + tail.size() <= max_bytes)
        out += tail;
    }
    return out;
  }
  if (candidates.empty() && other_runtimes == 0)
    return bounded(error, {}, "", max_bytes);
  for (const Candidate& c : candidates)
    items.push_back(c.name + ": " + c.reason);
  if (other_runtimes)
    items.push_back(std::to_string(other_runtimes) + " other runtimes support other formats");
  if (items.empty())
    items.push_back("no runtimes");
  return bounded("no runtime supports " + subject + ": ", items, "; ", max_bytes);
}

}  // namespace omed::selection
