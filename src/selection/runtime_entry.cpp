// Parsing the objects selection reads (models, InferenceServices, runtimes) into plain structs,
// once, so that ranking many models against many runtimes does no JSON work.
#include <algorithm>

#include "omed/selection/runtime_selector.hpp"

namespace omed::selection {

namespace {

std::string str(const json::Value* v) { return v && v->is_string() ? v->as_string() : std::string(); }

std::string str_at(const json::Value& obj, std::string_view dotted) { return str(obj.at_path(dotted)); }

const json::Value& spec_of(const json::Value& obj) {
  static const json::Value kNull;
  const json::Value* spec = obj.get("spec");
  return spec ? *spec : kNull;
}

std::vector<std::string> strings(const json::Value* v) {
  std::vector<std::string> out;
  if (v && v->is_array())
    for (const json::Value& item : v->as_array())
      if (item.is_string())
        out.push_back(item.as_string());
  return out;
}

int64_t int_or(const json::Value* v, int64_t fallback) {
  if (!v)
    return fallback;
  if (v->is_int())
    return v->as_int();
  if (v->is_double())
    return static_cast<int64_t>(v->as_double());
  return fallback;
}

}  // namespace

ModelFacts ModelFacts::from_object(const json::Value& model) {
  ModelFacts f;
  std::string ns = str_at(model, "metadata.namespace");
  std::string name = str_at(model, "metadata.name");
  f.name = ns.empty() ? name : ns + "/" + name;
  const json::Value& spec = spec_of(model);
  if (spec.is_null())
    return f;
  f.format = str_at(spec, "modelFormat.name");
  f.format_version = str_at(spec, "modelFormat.version");
  if (const json::Value* fw = spec.get("modelFramework"); fw && fw->is_object()) {
    f.has_framework = true;
    f.framework = fw->string_or("name");
    f.framework_version = fw->string_or("version");
  }
  f.architecture = spec.string_or("modelArchitecture");
  f.quantization = spec.string_or("quantization");
  f.size_text = spec.string_or("modelParameterSize");
  if (!f.size_text.empty())
    f.size = parse_model_size(f.size_text);
  if (const json::Value* dp = spec.get("diffusionPipeline"); dp && dp->is_object())
    f.diffusion_pipeline = *dp;
  if (const json::Value* d = spec.get("disabled"); d && d->is_bool())
    f.disabled = d->as_bool();
  return f;
}

Requirements Requirements::from_isvc(const json::Value& isvc) {
  Requirements r;
  r.isvc_namespace = str_at(isvc, "metadata.namespace");
  std::vector<std::string> wanted;
  if (const json::Value* ann = isvc.at_path("metadata.annotations"))
    wanted.push_back(ann->string_or("ome.io/accelerator-class"));
  const json::Value& spec = spec_of(isvc);
  if (!spec.is_null()) {
    wanted.push_back(str_at(spec, "acceleratorSelector.acceleratorClass"));
    wanted.push_back(str_at(spec, "engine.acceleratorOverride.acceleratorClass"));
    wanted.push_back(str_at(spec, "decoder.acceleratorOverride.acceleratorClass"));
  }
  for (std::string& w : wanted)
    if (!w.empty() && std::find(r.accelerator_classes.begin(), r.accelerator_classes.end(), w) ==
                          r.accelerator_classes.end())
      r.accelerator_classes.push_back(std::move(w));
  return r;
}

std::string RuntimeEntry::key_of(std::string_view kind, std::string_view ns, std::string_view name) {
  std::string k(kind);
  k += '/';
  if (!ns.empty()) {
    k += ns;
    k += '/';
  }
  k += name;
  return k;
}

std::string RuntimeEntry::key() const { return key_of(kind, ns, name); }

RuntimeEntry RuntimeEntry::from_object(const json::Value& runtime) {
  RuntimeEntry e;
  e.kind = runtime.string_or("kind");
  e.ns = str_at(runtime, "metadata.namespace");
  e.name = str_at(runtime, "metadata.name");
  if (e.kind.empty())
    e.kind = e.ns.empty() ? "ClusterServingRuntime" : "ServingRuntime";
  if (e.kind == "ClusterServingRuntime")
    e.ns.clear();  // a stray namespace on a cluster object must not make it look namespaced
  e.creation_timestamp = str_at(runtime, "metadata.creationTimestamp");
  e.resource_version = str_at(runtime, "metadata.resourceVersion");
  e.object = std::make_shared<const json::Value>(runtime);

  const json::Value& spec = spec_of(runtime);
  if (spec.is_null())
    return e;
  if (const json::Value* d = spec.get("disabled"); d && d->is_bool())
    e.disabled = d->as_bool();
  if (const json::Value* formats = spec.get("supportedModelFormats"); formats && formats->is_array()) {
    for (const json::Value& f : formats->as_array()) {
      SupportedFormat sf;
      if (const json::Value* mf = f.get("modelFormat"); mf && mf->is_object()) {
        sf.has_format = true;
        sf.format = mf->string_or("name");
        sf.format_version = mf->string_or("version");
        sf.format_operator = mf->string_or("operator");
        sf.format_weight = int_or(mf->get("weight"), 0);
      }
      if (const json::Value* fw = f.get("modelFramework"); fw && fw->is_object()) {
        sf.has_framework = true;
        sf.framework = fw->string_or("name");
        sf.framework_version = fw->string_or("version");
        sf.framework_operator = fw->string_or("operator");
        sf.framework_weight = int_or(fw->get("weight"), 0);
      }
      sf.architecture = f.string_or("modelArchitecture");
      sf.quantization = f.string_or("quantization");
      if (const json::Value* a = f.get("autoSelect"); a && a->is_bool())
        sf.auto_select = a->as_bool();
      sf.priority = int_or(f.get("priority"), 1);
      if (const json::Value* dp = f.get("diffusionPipeline"); dp && dp->is_object())
        sf.diffusion_pipeline = *dp;
      e.formats.push_back(std::move(sf));
    }
  }
  if (const json::Value* range = spec.get("modelSizeRange"); range && range->is_object()) {
    e.has_size_range = true;
    e.size_min_text = range->string_or("min");
    e.size_max_text = range->string_or("max");
    if (!e.size_min_text.empty())
      e.size_min = parse_model_size(e.size_min_text);
    if (!e.size_max_text.empty())
      e.size_max = parse_model_size(e.size_max_text);
  }
  e.protocol_versions = strings(spec.get("protocolVersions"));
  e.accelerator_classes = strings(spec.at_path("acceleratorRequirements.acceleratorClasses"));
  return e;
}

}  // namespace omed::selection
