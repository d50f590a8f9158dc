// The ome.io admission rules. Sources: OME's webhooks (isvc, servingruntime, benchmark) and
// controller checks that belong at admission; OME's bugs (unanchored regexes, rejected defaults,
// rules skipped for the first runtime, PDDisaggregated rejected) are fixed, not copied.
#include "omed/api/validation.hpp"

#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>
#include <regex>
#include <set>

#include "omed/api/codec.hpp"
#include "omed/api/kinds.hpp"
#include "omed/common/strings.hpp"
#include "omed/model/storage_uri.hpp"
#include "omed/schema/validator.hpp"

namespace omed::api {

namespace {

constexpr int64_t kMaxReplicas = 10000;

const json::Value& cached_schema(const KindInfo& k) {
  static std::mutex mu;
  static std::map<std::string, json::Value> cache;
  std::lock_guard<std::mutex> lk(mu);
  auto it = cache.find(k.kind);
  if (it == cache.end())
    it = cache.emplace(k.kind, kind_schema(k, nullptr)).first;
  return it->second;
}

bool is_rfc1035_label(const std::string& s) {
  return !s.empty() && s[0] >= 'a' && s[0] <= 'z' && model::is_dns_label(s);
}

std::string p(const std::string& base, const std::string& key) { return base.empty() ? key : base + "." + key; }

bool parse_float(const std::string& s, double& out) {
  if (s.empty())
    return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end && *end == '\0' && std::isfinite(out);
}

bool parse_int(const std::string& s, int64_t& out) {
  if (s.empty())
    return false;
  char* end = nullptr;
  out = std::strtoll(s.c_str(), &end, 10);
  return end && *end == '\0';
}

void check_metadata(const json::Value& obj, const KindInfo& k, ValidationResult& r) {
  auto* md = obj.get("metadata");
  if (!md || !md->is_object()) {
    r.errors.push_back(required("metadata.name", "name or generateName is required"));
    return;
  }
  auto name = md->string_or("name");
  auto gen = md->string_or("generateName");
  if (name.empty() && gen.empty()) {
    r.errors.push_back(required("metadata.name", "name or generateName is required"));
  } else if (!name.empty()) {
    if (k.kind == "InferenceService") {
      // Its name becomes Service and Deployment names: an RFC 1035 label.
      if (!is_rfc1035_label(name))
        r.errors.push_back(invalid(
          "metadata.name", name,
          "a lowercase RFC 1035 label must consist of lower case alphanumeric characters or '-', start with an "
          "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex "
          "used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"));
    } else if (!model::is_dns_subdomain(name)) {
      r.errors.push_back(invalid(
        "metadata.name", name,
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
        "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"));
    }
  }
  auto ns = md->string_or("namespace");
  if (!ns.empty() && !k.namespaced)
    r.errors.push_back(forbidden("metadata.namespace", "not allowed on cluster-scoped " + k.kind + " objects"));
  if (!ns.empty() && !model::is_dns_label(ns))
    r.errors.push_back(invalid("metadata.namespace", ns, "a lowercase RFC 1123 label must consist of lower case "
                                                         "alphanumeric characters or '-'"));
  if (auto* labels = md->get("labels"); labels && labels->is_object()) {
    for (auto& m : labels->as_object()) {
      if (!is_qualified_name(m.key))
        r.errors.push_back(invalid("metadata.labels", m.key,
                                   "name part must consist of alphanumeric characters, '-', '_' or '.', and must "
                                   "start and end with an alphanumeric character"));
      if (!m.value.is_string() || !is_label_value(m.value.as_string()))
        r.errors.push_back(invalid("metadata.labels", m.value,
                                   "a valid label must be an empty string or consist of alphanumeric characters, "
                                   "'-', '_' or '.', and must start and end with an alphanumeric character"));
    }
  }
  if (auto* ann = md->get("annotations"); ann && ann->is_object()) {
    size_t total = 0;
    for (auto& m : ann->as_object())
      total += m.key.size() + (m.value.is_string() ? m.value.as_string().size() : 0);
    if (total > 262144)
      r.errors.push_back(too_long("metadata.annotations", "", 262144));
  }
}

void check_keda(const KedaConfig& k, const std::string& path, ValidationResult& r) {
  if (k.scalingOperator) {
    static const std::vector<std::string> ops = {"GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual"};
    if (std::find(ops.begin(), ops.end(), *k.scalingOperator) == ops.end())
      r.errors.push_back(not_supported(p(path, "scalingOperator"), *k.scalingOperator, ops));
  }
  if (k.scalingThreshold) {
    double d;
    if (!parse_float(*k.scalingThreshold, d))
      r.errors.push_back(invalid(p(path, "scalingThreshold"), *k.scalingThreshold, "must be a number"));
  }
  if (k.promServerAddress && !k.promServerAddress->empty()) {
    auto& a = *k.promServerAddress;
    bool scheme = str::starts_with(a, "http://") || str::starts_with(a, "https://");
    auto host = scheme ? a.substr(a.find("://") + 3) : "";
    host = host.substr(0, host.find('/'));
    if (!scheme || host.empty())
      r.errors.push_back(invalid(p(path, "promServerAddress"), a, "must be an http:// or https:// URL with a host"));
  }
  if (k.authModes && !k.authModes->empty()) {
    static const std::vector<std::string> modes = {"basic", "tls", "bearer", "custom"};
    for (auto& m : str::split(*k.authModes, ',')) {
      auto t = std::string(str::trim(m));
      if (std::find(modes.begin(), modes.end(), t) == modes.end())
        r.errors.push_back(not_supported(p(path, "authModes"), t, modes));
    }
    if (!k.authenticationRef)
      r.warnings.push_back(p(path, "authModes") + " is set but " + p(path, "authenticationRef") +
                           " is not: the scaler has no credentials");
  }
}

void check_component(const ComponentExtensionSpec& c, const std::string& path, ValidationResult& r) {
  auto nonneg = [&](const OptInt& v, const char* key) {
    if (v && *v < 0)
      r.errors.push_back(invalid(p(path, key), *v, "must be greater than or equal to 0"));
  };
  nonneg(c.minReplicas, "minReplicas");
  nonneg(c.maxReplicas, "maxReplicas");
  nonneg(c.containerConcurrency, "containerConcurrency");
  if (c.minReplicas && *c.minReplicas > kMaxReplicas)
    r.errors.push_back(invalid(p(path, "minReplicas"), *c.minReplicas,
                               "must be less than or equal to " + std::to_string(kMaxReplicas)));
  if (c.maxReplicas && *c.maxReplicas > kMaxReplicas)
    r.errors.push_back(invalid(p(path, "maxReplicas"), *c.maxReplicas,
                               "must be less than or equal to " + std::to_string(kMaxReplicas)));
  if (c.minReplicas && c.maxReplicas && *c.maxReplicas > 0 && *c.minReplicas > *c.maxReplicas)
    r.errors.push_back(invalid(p(path, "maxReplicas"), *c.maxReplicas,
                               "must be greater than or equal to minReplicas (" + std::to_string(*c.minReplicas) + ")"));
  if (c.timeoutSeconds && *c.timeoutSeconds <= 0)
    r.errors.push_back(invalid(p(path, "timeoutSeconds"), *c.timeoutSeconds, "must be greater than 0"));
  if (c.canaryTrafficPercent && (*c.canaryTrafficPercent < 0 || *c.canaryTrafficPercent > 100))
    r.errors.push_back(invalid(p(path, "canaryTrafficPercent"), *c.canaryTrafficPercent, "must be between 0 and 100"));
  if (c.scaleTarget) {
    bool pct = !c.scaleMetric || *c.scaleMetric == "cpu" || *c.scaleMetric == "memory";
    if (pct && (*c.scaleTarget < 1 || *c.scaleTarget > 100))
      r.errors.push_back(invalid(p(path, "scaleTarget"), *c.scaleTarget,
                                 "must be between 1 and 100 for the " + c.scaleMetric.value_or("cpu") + " metric"));
    else if (!pct && *c.scaleTarget < 1)
      r.errors.push_back(invalid(p(path, "scaleTarget"), *c.scaleTarget, "must be greater than or equal to 1"));
  }
  if (!c.minAvailable.is_null() && !c.maxUnavailable.is_null())
    r.errors.push_back(forbidden(p(path, "maxUnavailable"), "minAvailable and maxUnavailable cannot both be set"));
  for (auto [val, key] : {std::pair{&c.minAvailable, "minAvailable"}, std::pair{&c.maxUnavailable, "maxUnavailable"}}) {
    if (val->is_string()) {
      auto& s = val->as_string();
      int64_t n;
      if (!(str::ends_with(s, "%") && parse_int(s.substr(0, s.size() - 1), n) && n >= 0 && n <= 100))
        r.errors.push_back(invalid(p(path, key), *val, "must be an integer or a percentage like \"50%\""));
    } else if (val->is_int() && val->as_int() < 0) {
      r.errors.push_back(invalid(p(path, key), *val, "must be greater than or equal to 0"));
    }
  }
  for (auto& [k, v] : c.labels)
    if (!is_qualified_name(k) || !is_label_value(v))
      r.errors.push_back(invalid(p(path, "labels"), k + "=" + v, "must be a valid label key and value"));
  if (c.kedaConfig)
    check_keda(*c.kedaConfig, p(path, "kedaConfig"), r);
}

void check_engine(const EngineSpec& e, const std::string& path, ValidationResult& r) {
  check_component(e.ext, path, r);
  if (e.worker) {
    if (e.worker->size && *e.worker->size < 0)
      r.errors.push_back(invalid(p(path, "worker.size"), *e.worker->size, "must be greater than or equal to 0"));
    if (e.worker->size && *e.worker->size > 0 && !e.leader)
      r.errors.push_back(required(p(path, "leader"), "multi-node serving needs a leader when worker.size > 0"));
  }
  if (e.runner) {
    auto* name = e.runner->extra.find("name");
    if (name && name->is_string() && !model::is_dns_label(name->as_string()))
      r.errors.push_back(invalid(p(path, "runner.name"), *name, "must be a DNS-1123 label"));
  }
}

}  // namespace

bool is_label_value(const std::string& v) {
  if (v.empty())
    return true;
  if (v.size() > 63)
    return false;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(v.front()) || !alnum(v.back()))
    return false;
  for (char c : v)
    if (!alnum(c) && c != '-' && c != '_' && c != '.')
      return false;
  return true;
}

bool is_qualified_name(const std::string& v) {
  auto slash = v.find('/');
  std::string name = v;
  if (slash != std::string::npos) {
    auto prefix = v.substr(0, slash);
    if (!model::is_dns_subdomain(prefix))
      return false;
    name = v.substr(slash + 1);
  }
  return !name.empty() && is_label_value(name);
}

const std::vector<std::string>& deployment_modes() {
  static const std::vector<std::string> modes = {"RawDeployment", "Serverless", "MultiNode", "MultiNodeRayVLLM",
                                                 "VirtualDeployment", "PDDisaggregated"};
  return modes;
}

// ------------------------------------------------------------------ InferenceService

ValidationResult validate_inference_service(const InferenceService& isvc) {
  ValidationResult r;
  auto& s = isvc.spec;
  auto& ann = isvc.metadata.annotations;
  if (auto it = ann.find("ome.io/deploymentMode"); it != ann.end()) {
    auto& modes = deployment_modes();
    if (std::find(modes.begin(), modes.end(), it->second) == modes.end())
      r.errors.push_back(not_supported("metadata.annotations[ome.io/deploymentMode]", it->second, modes));
  }
  std::string autoscaler = "hpa";
  if (auto it = ann.find("ome.io/autoscalerClass"); it != ann.end()) {
    autoscaler = it->second;
    if (autoscaler != "hpa" && autoscaler != "keda" && autoscaler != "external")
      r.errors.push_back(not_supported("metadata.annotations[ome.io/autoscalerClass]", autoscaler,
                                       {"hpa", "keda", "external"}));
  }
  if (autoscaler == "hpa")
    if (auto it = ann.find("ome.io/metrics"); it != ann.end() && it->second != "cpu" && it->second != "memory")
      r.errors.push_back(not_supported("metadata.annotations[ome.io/metrics]", it->second, {"cpu", "memory"}));
  if (auto it = ann.find("ome.io/targetUtilizationPercentage"); it != ann.end()) {
    int64_t n;
    if (!parse_int(it->second, n) || n < 1 || n > 100)
      r.errors.push_back(invalid("metadata.annotations[ome.io/targetUtilizationPercentage]", it->second,
                                 "must be an integer between 1 and 100"));
  }
  if (s.decoder && !s.engine)
    r.errors.push_back(required("spec.engine", "a decoder (prefill-decode disaggregation) needs an engine"));
  if (!s.engine && !s.predictor && !s.decoder)
    r.errors.push_back(required("spec.engine", "an InferenceService needs an engine (or a legacy predictor)"));
  if (s.engine)
    check_engine(*s.engine, "spec.engine", r);
  if (s.decoder)
    check_engine(*s.decoder, "spec.decoder", r);
  if (s.router)
    check_component(s.router->ext, "spec.router", r);
  if (s.kedaConfig)
    check_keda(*s.kedaConfig, "spec.kedaConfig", r);
  if (!s.model && !(s.predictor && s.predictor->model && s.predictor->model->baseModel))
    r.errors.push_back(required("spec.model", "the model to serve is required"));
  if (s.model) {
    if (s.model->name.empty())
      r.errors.push_back(required("spec.model.name"));
    else if (!model::is_dns_subdomain(s.model->name))
      r.errors.push_back(invalid("spec.model.name", s.model->name, "must be a valid object name"));
    if (s.model->kind && *s.model->kind != "BaseModel" && *s.model->kind != "ClusterBaseModel")
      r.errors.push_back(not_supported("spec.model.kind", *s.model->kind, {"BaseModel", "ClusterBaseModel"}));
    if (s.model->fineTunedWeights.size() > 1)
      r.errors.push_back(invalid("spec.model.fineTunedWeights", static_cast<int64_t>(s.model->fineTunedWeights.size()),
                                 "stacked fine-tuned serving is not supported: give at most one"));
  }
  if (s.runtime) {
    if (s.runtime->name.empty())
      r.errors.push_back(required("spec.runtime.name"));
    if (s.runtime->kind && *s.runtime->kind != "ServingRuntime" && *s.runtime->kind != "ClusterServingRuntime")
      r.errors.push_back(not_supported("spec.runtime.kind", *s.runtime->kind, {"ServingRuntime", "ClusterServingRuntime"}));
  }
  if (s.acceleratorSelector && s.acceleratorSelector->constraints) {
    auto& c = *s.acceleratorSelector->constraints;
    if (c.minMemory && c.maxMemory && *c.minMemory > *c.maxMemory)
      r.errors.push_back(invalid("spec.acceleratorSelector.constraints.maxMemory", *c.maxMemory,
                                 "must be greater than or equal to minMemory"));
  }
  if (s.predictor)
    r.warnings.push_back("spec.predictor is deprecated: use spec.engine, spec.model and spec.runtime");
  return r;
}

// ------------------------------------------------------------------ ServingRuntime

namespace {

bool same_format(const SupportedModelFormat& a, const SupportedModelFormat& b) {
  auto fmt_eq = [](const std::optional<ModelFormat>& x, const std::optional<ModelFormat>& y) {
    if (!x || !y)
      return !x && !y;
    return str::iequals(x->name, y->name) && x->version == y->version;
  };
  return str::iequals(a.name, b.name) && a.version == b.version && a.quantization == b.quantization &&
         a.modelArchitecture == b.modelArchitecture && fmt_eq(a.modelFormat, b.modelFormat) &&
         fmt_eq(a.modelFramework, b.modelFramework);
}

std::string format_label(const SupportedModelFormat& f) {
  if (!f.name.empty())
    return f.name;
  return f.modelFormat ? f.modelFormat->name : "<unnamed>";
}

bool auto_selected(const SupportedModelFormat& f) { return f.autoSelect.value_or(false); }

bool has_env(const json::Object& pod_fields, const std::string& name, const std::string& value) {
  auto* cs = pod_fields.find("containers");
  if (!cs || !cs->is_array())
    return false;
  for (auto& c : cs->as_array())
    if (auto* env = c.get("env"); env && env->is_array())
      for (auto& e : env->as_array())
        if (e.string_or("name") == name && e.string_or("value") == value)
          return true;
  return false;
}

}  // namespace

ValidationResult validate_serving_runtime(const ServingRuntime& rt, const ValidationContext* ctx) {
  ValidationResult r;
  auto& s = rt.spec;
  if (s.disabled.value_or(false))
    return r;  // a disabled runtime is never selected; OME skips its checks too
  // Configuration shape.
  bool pd = s.engineConfig && s.decoderConfig;
  bool multinode = has_env(s.extra, "DEPLOYMENT_MODE", "MultiNode") || (s.workers && s.workers->size.value_or(0) > 0);
  bool raw = has_env(s.extra, "DEPLOYMENT_MODE", "RawDeployment");
  if (!pd) {
    if (s.workers && s.workers->size.value_or(0) <= 0)
      r.errors.push_back(invalid("spec.workers.size", s.workers->size ? json::Value(*s.workers->size) : json::Value{},
                                 "for MultiNode deployment, both leader and worker must be defined and "
                                 "worker.size must be greater than 0"));
    if (raw && s.workers)
      r.errors.push_back(forbidden("spec.workers", "for RawDeployment, leader and worker must not be defined"));
    (void)multinode;
  }
  for (auto [cfg, path] : {std::pair{&s.engineConfig, "spec.engineConfig"}, std::pair{&s.decoderConfig, "spec.decoderConfig"}}) {
    if (!*cfg)
      continue;
    auto& e = **cfg;
    if ((e.leader && !e.worker) || (!e.leader && e.worker))
      r.errors.push_back(invalid(std::string(path), "leader/worker",
                                 "for MultiNode deployment, both leader and worker must be defined and "
                                 "worker.size must be greater than 0"));
    else if (e.worker && e.worker->size.value_or(0) <= 0)
      r.errors.push_back(invalid(std::string(path) + ".worker.size",
                                 e.worker->size ? json::Value(*e.worker->size) : json::Value{},
                                 "for MultiNode deployment, both leader and worker must be defined and "
                                 "worker.size must be greater than 0"));
    check_component(e.ext, path, r);
  }
  if (s.routerConfig)
    check_component(s.routerConfig->ext, "spec.routerConfig", r);
  // Size range.
  if (s.modelSizeRange) {
    std::optional<double> lo, hi;
    if (s.modelSizeRange->min) {
      lo = model::parse_parameter_size(*s.modelSizeRange->min);
      if (!lo)
        r.errors.push_back(invalid("spec.modelSizeRange.min", *s.modelSizeRange->min,
                                   "must be a parameter count like 7B, 500M or 1.5T"));
    }
    if (s.modelSizeRange->max) {
      hi = model::parse_parameter_size(*s.modelSizeRange->max);
      if (!hi)
        r.errors.push_back(invalid("spec.modelSizeRange.max", *s.modelSizeRange->max,
                                   "must be a parameter count like 7B, 500M or 1.5T"));
    }
    if (lo && hi && *lo > *hi)
      r.errors.push_back(invalid("spec.modelSizeRange", *s.modelSizeRange->min + "-" + *s.modelSizeRange->max,
                                 "min must not exceed max"));
  }
  // Formats.
  std::map<std::string, int32_t> prio_by_name;
  for (size_t i = 0; i < s.supportedModelFormats.size(); ++i) {
    auto& f = s.supportedModelFormats[i];
    std::string fp = "spec.supportedModelFormats[" + std::to_string(i) + "]";
    if (!f.modelFormat && f.name.empty())
      r.errors.push_back(required(fp + ".modelFormat", "a supported format needs a modelFormat (or a name)"));
    if (f.modelFormat && f.modelFormat->version && !f.modelFormat->version->empty()) {
      auto& v = *f.modelFormat->version;
      static const std::regex version_re(R"(^v?\d+(\.\d+){0,3}([-+][0-9A-Za-z.\-]+)?$)");
      if (!std::regex_match(v, version_re))
        r.errors.push_back(invalid(fp + ".modelFormat.version", v, "must be a version like 1.0.0"));
    }
    if (!auto_selected(f))
      continue;
    auto key = str::lower(format_label(f));
    int32_t prio = f.priority.value_or(1);
    auto [it, fresh] = prio_by_name.emplace(key, prio);
    if (!fresh && it->second != prio)
      r.errors.push_back(invalid(fp + ".priority", prio,
                                 "different priorities assigned for the model format " + format_label(f)));
  }
  // Accelerator classes that must exist.
  if (ctx && ctx->accelerator_class_exists && s.acceleratorRequirements) {
    std::vector<std::string> missing;
    for (auto& c : s.acceleratorRequirements->acceleratorClasses)
      if (!ctx->accelerator_class_exists(c))
        missing.push_back(c);
    if (!missing.empty())
      r.errors.push_back(invalid("spec.acceleratorRequirements.acceleratorClasses",
                                 "[" + str::join(missing, " ") + "]",
                                 "unknown accelerator classes referenced in AcceleratorRequirements"));
  }
  // Equal formats with equal priority in two runtimes sharing a protocol make selection a coin toss.
  if (ctx && ctx->runtimes_in_scope) {
    for (auto& other : ctx->runtimes_in_scope(rt.kind, rt.metadata.namespace_)) {
      if (other.metadata.name == rt.metadata.name || other.spec.disabled.value_or(false))
        continue;
      bool shared_protocol = s.protocolVersions.empty() || other.spec.protocolVersions.empty();
      for (auto& pv : s.protocolVersions)
        for (auto& pv2 : other.spec.protocolVersions)
          if (pv == pv2)
            shared_protocol = true;
      if (!shared_protocol)
        continue;
      auto range = [](const ServingRuntimeSpec& x) {
        return x.modelSizeRange ? x.modelSizeRange->min.value_or("") + "-" + x.modelSizeRange->max.value_or("")
                                : std::string();
      };
      if (range(s) != range(other.spec))
        continue;
      for (size_t i = 0; i < s.supportedModelFormats.size(); ++i) {
        auto& f = s.supportedModelFormats[i];
        if (!auto_selected(f))
          continue;
        for (auto& g : other.spec.supportedModelFormats)
          if (auto_selected(g) && same_format(f, g) && f.priority.value_or(1) == g.priority.value_or(1))
            r.errors.push_back(invalid(
              "spec.supportedModelFormats[" + std::to_string(i) + "].priority", f.priority.value_or(1),
              "same priority assigned for the model format " + format_label(f) + " in the servingruntimes " +
                rt.metadata.name + " and " + other.metadata.name +
                (rt.metadata.namespace_.empty() ? std::string() : " in namespace " + rt.metadata.namespace_)));
      }
    }
  }
  return r;
}

// ------------------------------------------------------------------ BenchmarkJob

namespace {

const std::vector<std::string>& default_scenarios(const std::string& task) {
  static const std::map<std::string, std::vector<std::string>> d = {
    {"text-to-text", {"N(480,240)/(300,150)", "D(100,100)", "D(100,1000)", "D(2000,200)", "D(7800,200)"}},
    {"image-to-text", {"I(512,512)", "I(1024,512)", "I(2048,2048)"}},
    {"text-to-embeddings", {"E(64)", "E(128)", "E(256)", "E(512)", "E(1024)"}},
    {"image-to-embeddings", {"I(512,512)"}},
  };
  static const std::vector<std::string> none;
  auto it = d.find(task);
  return it == d.end() ? none : it->second;
}

bool scenario_ok(const std::string& task, const std::string& s) {
  // Fully anchored (OME's text-to-text regex anchored only its first and last alternatives) and
  // accepting genai-bench's single-number embedding form E(n) (OME rejected its own defaults).
  static const std::regex text(R"(^(N\(\d+,\d+\)/\(\d+,\d+\)|U\(\d+,\d+\)(/\(\d+,\d+\))?|D\(\d+,\d+\))$)");
  static const std::regex emb(R"(^E\(\d+(,\d+)?\)$)");
  static const std::regex img(R"(^I\(\d+,\d+(,\d+)?\)$)");
  if (s.size() > 256)
    return false;
  if (task == "text-to-text")
    return std::regex_match(s, text);
  if (task == "text-to-embeddings")
    return std::regex_match(s, emb);
  if (task == "image-to-text" || task == "image-to-embeddings")
    return std::regex_match(s, img);
  return false;
}

}  // namespace

ValidationResult validate_benchmark_job(const BenchmarkJob& job) {
  ValidationResult r;
  auto& s = job.spec;
  if (s.endpoint) {
    bool has_isvc = s.endpoint->inferenceService.has_value();
    bool has_url = s.endpoint->endpoint.has_value();
    if (has_isvc == has_url)
      r.errors.push_back(invalid("spec.endpoint", has_isvc ? "both" : "neither",
                                 "must specify exactly one of inferenceService or endpoint"));
  }
  auto& scen = s.trafficScenarios.empty() ? default_scenarios(s.task) : s.trafficScenarios;
  for (size_t i = 0; i < scen.size(); ++i)
    if (!scenario_ok(s.task, scen[i]))
      r.errors.push_back(invalid("spec.trafficScenarios[" + std::to_string(i) + "]", scen[i],
                                 "is not a valid traffic scenario for task " + s.task));
  for (size_t i = 0; i < s.numConcurrency.size(); ++i)
    if (s.numConcurrency[i] < 1)
      r.errors.push_back(invalid("spec.numConcurrency[" + std::to_string(i) + "]", s.numConcurrency[i],
                                 "must be greater than or equal to 1"));
  if (s.maxTimePerIteration && *s.maxTimePerIteration < 1)
    r.errors.push_back(invalid("spec.maxTimePerIteration", *s.maxTimePerIteration, "must be greater than or equal to 1"));
  if (s.maxRequestsPerIteration && *s.maxRequestsPerIteration < 1)
    r.errors.push_back(invalid("spec.maxRequestsPerIteration", *s.maxRequestsPerIteration,
                               "must be greater than or equal to 1"));
  if (auto it = s.additionalRequestParams.find("temperature"); it != s.additionalRequestParams.end()) {
    double t;
    if (!parse_float(it->second, t))
      r.errors.push_back(invalid("spec.additionalRequestParams[temperature]", it->second, "must be a number"));
    else if (t > 1.5)
      r.warnings.push_back("spec.additionalRequestParams[temperature] is " + it->second +
                           ": values above 1.5 give mostly noise");
  }
  if (auto it = s.additionalRequestParams.find("ignore_eos"); it != s.additionalRequestParams.end())
    if (it->second != "true" && it->second != "false")
      r.errors.push_back(not_supported("spec.additionalRequestParams[ignore_eos]", it->second, {"true", "false"}));
  if (s.outputLocation && s.outputLocation->storageUri) {
    std::string err;
    auto u = model::parse_storage_uri(*s.outputLocation->storageUri, err);
    if (!u) {
      r.errors.push_back(invalid("spec.outputLocation.storageUri", *s.outputLocation->storageUri, err));
    } else if (u->type == model::StorageType::HuggingFace || u->type == model::StorageType::Local ||
               u->type == model::StorageType::Vendor || u->type == model::StorageType::Http) {
      r.errors.push_back(invalid("spec.outputLocation.storageUri", *s.outputLocation->storageUri,
                                 "results can be written to pvc://, s3://, oci://, az://, gs:// or github:// only"));
    }
  }
  return r;
}

// ------------------------------------------------------------------ models

namespace {

void check_storage(const StorageSpec& st, const std::string& path, ValidationResult& r) {
  if (st.storageUri) {
    std::string err;
    if (!model::parse_storage_uri(*st.storageUri, err))
      r.errors.push_back(invalid(path + ".storageUri", *st.storageUri, err));
  }
  if (st.path && !st.path->empty()) {
    auto& sp = *st.path;
    if (sp.front() != '/')
      r.errors.push_back(invalid(path + ".path", sp, "must be an absolute path"));
    for (auto& seg : str::split(sp, '/'))
      if (seg == "..")
        r.errors.push_back(invalid(path + ".path", sp, "must not contain '..'"));
  }
  for (auto& [k, v] : st.nodeSelector)
    if (!is_qualified_name(k) || !is_label_value(v))
      r.errors.push_back(invalid(path + ".nodeSelector", k + "=" + v, "must be a valid label key and value"));
  if (st.nodeAffinity.is_object()) {
    auto* req = st.nodeAffinity.at_path("requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms");
    if (req && req->is_array()) {
      static const std::vector<std::string> ops = {"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"};
      size_t ti = 0;
      for (auto& term : req->as_array()) {
        if (auto* exprs = term.get("matchExpressions"); exprs && exprs->is_array()) {
          size_t ei = 0;
          for (auto& e : exprs->as_array()) {
            auto op = e.string_or("operator");
            std::string ep = path + ".nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[" +
                             std::to_string(ti) + "].matchExpressions[" + std::to_string(ei) + "]";
            if (std::find(ops.begin(), ops.end(), op) == ops.end())
              r.errors.push_back(not_supported(ep + ".operator", op, ops));
            auto* vals = e.get("values");
            size_t n = vals && vals->is_array() ? vals->as_array().size() : 0;
            if ((op == "Exists" || op == "DoesNotExist") && n > 0)
              r.errors.push_back(forbidden(ep + ".values", "may not be specified when operator is " + op));
            if ((op == "In" || op == "NotIn") && n == 0)
              r.errors.push_back(required(ep + ".values", "must be specified when operator is " + op));
            if ((op == "Gt" || op == "Lt") && n != 1)
              r.errors.push_back(required(ep + ".values", "must be specified single value when operator is " + op));
            ++ei;
          }
        }
        ++ti;
      }
    }
  }
}

}  // namespace

ValidationResult validate_model_spec(const BaseModelSpec& s) {
  ValidationResult r;
  if (s.storage)
    check_storage(*s.storage, "spec.storage", r);
  if (s.modelParameterSize && !model::parse_parameter_size(*s.modelParameterSize))
    r.errors.push_back(invalid("spec.modelParameterSize", *s.modelParameterSize,
                               "must be a parameter count like 7B, 8.03B, 500M or 1.5T"));
  if (s.maxTokens && *s.maxTokens <= 0)
    r.errors.push_back(invalid("spec.maxTokens", *s.maxTokens, "must be greater than 0"));
  if (s.modelFormat && s.modelFormat->name.empty())
    r.errors.push_back(required("spec.modelFormat.name"));
  return r;
}

ValidationResult validate_fine_tuned_weight(const FineTunedWeight& ftw) {
  ValidationResult r;
  if (ftw.spec.storage)
    check_storage(*ftw.spec.storage, "spec.storage", r);
  if (ftw.spec.baseModelRef && ftw.spec.baseModelRef->name && !model::is_dns_subdomain(*ftw.spec.baseModelRef->name))
    r.errors.push_back(invalid("spec.baseModelRef.name", *ftw.spec.baseModelRef->name, "must be a valid object name"));
  if (ftw.spec.hyperParameters.is_object()) {
    auto strategy = ftw.spec.hyperParameters.string_or("strategy");
    if (!strategy.empty() && strategy != "lora" && strategy != "tfew" && strategy != "qlora")
      r.warnings.push_back("spec.hyperParameters.strategy '" + strategy + "' is not one omed serves (lora, tfew)");
  }
  return r;
}

ValidationResult validate_accelerator_class(const AcceleratorClass& ac) {
  ValidationResult r;
  std::set<std::string> names;
  for (size_t i = 0; i < ac.spec.resources.size(); ++i)
    if (!names.insert(ac.spec.resources[i].name).second)
      r.errors.push_back(duplicate("spec.resources[" + std::to_string(i) + "].name", ac.spec.resources[i].name));
  if (ac.spec.cost && ac.spec.cost->tier && *ac.spec.cost->tier != "low" && *ac.spec.cost->tier != "medium" &&
      *ac.spec.cost->tier != "high")
    r.errors.push_back(not_supported("spec.cost.tier", *ac.spec.cost->tier, {"low", "medium", "high"}));
  if (ac.spec.capabilities && ac.spec.capabilities->computeCapability) {
    auto& cc = *ac.spec.capabilities->computeCapability;
    if (!std::regex_match(cc, std::regex(R"(^\d+(\.\d+)?$)")))
      r.errors.push_back(invalid("spec.capabilities.computeCapability", cc, "must look like 8.0 or 9.0"));
  }
  if (ac.spec.discovery && ac.spec.discovery->nodeSelector.empty() && ac.spec.discovery->affinity.is_null() &&
      !ac.spec.discovery->pciVendorID)
    r.warnings.push_back("spec.discovery selects every node: give a nodeSelector, an affinity or a pciVendorID");
  return r;
}

// ------------------------------------------------------------------ entry points

ValidationResult validate_object(const json::Value& obj, const ValidationContext* ctx) {
  ValidationResult r;
  if (!obj.is_object()) {
    r.errors.push_back(invalid("<root>", obj, "must be an object"));
    return r;
  }
  auto kind = obj.string_or("kind");
  const KindInfo* k = find_kind(kind);
  if (!k) {
    std::vector<std::string> kinds;
    for (auto& ki : all_kinds())
      kinds.push_back(ki.kind);
    r.errors.push_back(kind.empty() ? required("kind") : not_supported("kind", kind, kinds));
    return r;
  }
  auto api = obj.string_or("apiVersion");
  if (api != kApiVersion)
    r.errors.push_back(api.empty() ? required("apiVersion") : not_supported("apiVersion", api, {kApiVersion}));
  check_metadata(obj, *k, r);
  // Schema (on a defaulted copy, as the API server validates after defaulting).
  json::Value copy = obj;
  schema::Options so;
  auto sr = schema::validate(copy, cached_schema(*k), so);
  for (auto& e : sr.errors)
    r.errors.push_back(e);
  if (!sr.errors.empty())
    return r;  // typed rules would only repeat type errors
  ErrorList decode_errs;
  auto merge = [&](ValidationResult x) {
    for (auto& e : x.errors)
      r.errors.push_back(std::move(e));
    for (auto& w : x.warnings)
      r.warnings.push_back(std::move(w));
  };
  if (kind == "InferenceService") {
    auto isvc = decode<InferenceService>(copy, decode_errs);
    merge(validate_inference_service(isvc));
  } else if (kind == "ServingRuntime" || kind == "ClusterServingRuntime") {
    auto rt = decode<ServingRuntime>(copy, decode_errs);
    merge(validate_serving_runtime(rt, ctx));
  } else if (kind == "BenchmarkJob") {
    merge(validate_benchmark_job(decode<BenchmarkJob>(copy, decode_errs)));
  } else if (kind == "BaseModel" || kind == "ClusterBaseModel") {
    merge(validate_model_spec(decode<BaseModel>(copy, decode_errs).spec));
  } else if (kind == "FineTunedWeight") {
    merge(validate_fine_tuned_weight(decode<FineTunedWeight>(copy, decode_errs)));
  } else if (kind == "AcceleratorClass") {
    merge(validate_accelerator_class(decode<AcceleratorClass>(copy, decode_errs)));
  }
  for (auto& e : decode_errs)
    r.errors.push_back(std::move(e));
  return r;
}

json::Value default_object(const json::Value& obj) {
  json::Value out = obj;
  auto kind = obj.string_or("kind");
  if (kind == "InferenceService" && out.get("spec") && out["spec"].is_object()) {
    auto& spec = out["spec"];
    auto& md = out["metadata"];
    // Predictor migration: OME's webhook moves the legacy predictor to engine/model/runtime.
    if (auto* pred = spec.get("predictor"); pred && pred->is_object() && !spec.get("engine")) {
      json::Value predictor = *pred;
      json::Value engine = json::Object{};
      for (auto& m : predictor.as_object())
        if (m.key != "model" && m.key != "workerSpec")
          engine.as_object().set(m.key, m.value);
      if (auto* ws = predictor.get("workerSpec"))
        engine["worker"] = *ws;
      if (auto* model = predictor.get("model")) {
        if (auto bm = model->string_or("baseModel"); !bm.empty() && !spec.get("model"))
          spec["model"] = json::Object{{"name", bm}};
        if (auto rt = model->string_or("runtime"); !rt.empty() && !spec.get("runtime"))
          spec["runtime"] = json::Object{{"name", rt}};
        json::Object runner;
        for (auto& m : model->as_object())
          if (m.key != "baseModel" && m.key != "runtime" && m.key != "fineTunedWeights" && m.key != "storageUri" &&
              m.key != "runtimeVersion" && m.key != "protocolVersion")
            runner.set(m.key, m.value);
        if (!runner.empty())
          engine["runner"] = std::move(runner);
        if (auto* ft = model->get("fineTunedWeights"))
          spec["model"]["fineTunedWeights"] = *ft;
      }
      spec.as_object().erase("predictor");
      spec["engine"] = std::move(engine);
      md["annotations"]["ome.io/deprecation-warning"] =
        "spec.predictor is deprecated and was migrated to spec.engine, spec.model and spec.runtime";
    }
    // Deployment mode.
    bool has_mode = md.get("annotations") && md["annotations"].get("ome.io/deploymentMode");
    if (!has_mode) {
      std::string mode;
      auto* engine = spec.get("engine");
      if (engine && spec.get("decoder"))
        mode = "PDDisaggregated";
      else if (engine && engine->get("leader") && engine->get("worker") &&
               engine->at_path("worker.size") && engine->at_path("worker.size")->is_int() &&
               engine->at_path("worker.size")->as_int() > 0)
        mode = "MultiNode";
      else if (engine)
        mode = "RawDeployment";
      if (!mode.empty())
        md["annotations"]["ome.io/deploymentMode"] = mode;
    }
    // Replica defaults: engine/decoder 1..3, router 1..2.
    auto replicas = [&](const char* comp, int64_t mn, int64_t mx) {
      auto* c = spec.get(comp);
      if (!c || !c->is_object())
        return;
      if (!c->get("minReplicas"))
        (*c)["minReplicas"] = mn;
      if (!c->get("maxReplicas")) {
        int64_t cur = (*c)["minReplicas"].is_int() ? (*c)["minReplicas"].as_int() : mn;
        (*c)["maxReplicas"] = std::max(mx, cur);
      }
    };
    replicas("engine", 1, 3);
    replicas("decoder", 1, 3);
    replicas("router", 1, 2);
  }
  // CRD schema defaults.
  if (const KindInfo* k = find_kind(kind)) {
    schema::Options so;
    so.prune = false;
    schema::validate(out, cached_schema(*k), so);
  }
  return out;
}

}  // namespace omed::api
