// CRD generation: structural OpenAPI v3 schemas built by walking the C++ types' visit(), with
// Kubernetes-typed fields expanded from the real OpenAPI documents (descriptions dropped).
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "omed/api/codec.hpp"
#include "omed/api/kinds.hpp"
#include "omed/api/types.hpp"
#include "omed/common/strings.hpp"

namespace omed::api {

namespace {

// Kubernetes' Quantity pattern, as every CRD generator emits it.
constexpr const char* kQuantityPattern =
  "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";

json::Value quantity_schema() {
  json::Object s;
  s.set("anyOf", json::Array{json::Object{{"type", "integer"}}, json::Object{{"type", "string"}}});
  s.set("pattern", kQuantityPattern);
  s.set("x-kubernetes-int-or-string", true);
  return s;
}

json::Value preserve_object() {
  return json::Object{{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
}

json::Value k8s_marker(const char* ref) {
  std::string r = ref;
  if (r == "#string")
    return json::Object{{"type", "string"}};
  if (r == "#boolean")
    return json::Object{{"type", "boolean"}};
  if (r == "#stringmap")
    return json::Object{{"type", "object"}, {"additionalProperties", json::Object{{"type", "string"}}}};
  return json::Object{{"x-omed-k8s", r}};
}

void apply_common(json::Object& s, const Meta& m) {
  if (m.doc && *m.doc)
    s.set("description", m.doc);
  if (m.list_type)
    s.set("x-kubernetes-list-type", m.list_type);
  if (m.list_map_key)
    s.set("x-kubernetes-list-map-keys", json::Array{m.list_map_key});
  if (m.map_type)
    s.set("x-kubernetes-map-type", m.map_type);
}

class SchemaBuilder;

template <class T>
json::Value schema_for(const Meta& m);

class SchemaBuilder {
public:
  template <class T>
  void field(const char* key, const T&, const Meta& m = {}) {
    props_.set(key, schema_for<T>(m));
    if (m.required)
      required_.push_back(key);
  }
  void inline_k8s(const char* ref, const InlineMeta& im) {
    json::Object marker{{"ref", ref}};
    json::Array opt;
    for (auto* o : im.optional)
      opt.push_back(o);
    marker.set("optional", std::move(opt));
    inlines_.push_back(std::move(marker));
  }
  template <bool Array>
  void json_field(const char* key, const Meta& m) {
    json::Value s;
    if (Array) {
      json::Object a{{"type", "array"}, {"items", k8s_marker(m.k8s)}};
      s = std::move(a);
    } else {
      s = k8s_marker(m.k8s);
    }
    apply_common(s.as_object(), m);
    props_.set(key, std::move(s));
  }

  json::Value result() {
    json::Object s{{"type", "object"}};
    if (!inlines_.empty())
      s.set("x-omed-inline", std::move(inlines_));
    s.set("properties", std::move(props_));
    if (!required_.empty()) {
      json::Array r;
      for (auto& k : required_)
        r.push_back(k);
      s.set("required", std::move(r));
    }
    return s;
  }

private:
  json::Object props_;
  std::vector<std::string> required_;
  json::Array inlines_;
};

template <class T>
json::Value schema_for(const Meta& m) {
  json::Object s;
  if constexpr (std::is_same_v<T, std::string>) {
    s.set("type", "string");
    if (m.enums.size()) {
      json::Array e;
      for (auto* x : m.enums)
        e.push_back(x);
      s.set("enum", std::move(e));
    }
    if (m.pattern)
      s.set("pattern", m.pattern);
    if (m.min_length >= 0)
      s.set("minLength", m.min_length);
    if (m.format)
      s.set("format", m.format);
  } else if constexpr (std::is_same_v<T, bool>) {
    s.set("type", "boolean");
  } else if constexpr (std::is_integral_v<T>) {
    s.set("type", "integer");
    s.set("format", m.format ? m.format : (sizeof(T) == 4 ? "int32" : "int64"));
    if (m.minimum)
      s.set("minimum", *m.minimum);
    if (m.maximum)
      s.set("maximum", *m.maximum);
  } else if constexpr (std::is_floating_point_v<T>) {
    s.set("type", "number");
  } else if constexpr (std::is_same_v<T, json::Value>) {
    if (m.k8s)
      s = k8s_marker(m.k8s).as_object();
    else if (m.quantity)
      s = quantity_schema().as_object();
    else if (m.int_or_string)
      s.set("x-kubernetes-int-or-string", true);
    else
      s = preserve_object().as_object();
  } else if constexpr (detail::is_optional<T>::value) {
    return schema_for<typename T::value_type>(m);
  } else if constexpr (detail::is_vector<T>::value) {
    Meta item;
    item.enums = m.item_enums;
    item.k8s = m.k8s;
    item.free_form = m.free_form;
    s.set("type", "array");
    s.set("items", schema_for<typename T::value_type>(item));
  } else if constexpr (detail::is_string_map<T>::value) {
    Meta item;
    s.set("type", "object");
    s.set("additionalProperties", schema_for<typename T::mapped_type>(item));
  } else if constexpr (detail::Visitable<T>) {
    SchemaBuilder b;
    T probe{};
    probe.visit(b);
    s = b.result().as_object();
  } else {
    static_assert(sizeof(T) == 0, "type not supported by the schema builder");
  }
  if (m.default_json)
    s.set("default", json::parse(m.default_json));
  apply_common(s, m);
  return s;
}

// Replaces the generator's markers with real schemas (or open objects without a resolver).
json::Value finish(const json::Value& s, const K8sSchemas* k8s) {
  if (s.is_array()) {
    json::Array a;
    for (auto& x : s.as_array())
      a.push_back(finish(x, k8s));
    return a;
  }
  if (!s.is_object())
    return s;
  auto& o = s.as_object();
  if (auto* ref = o.find("x-omed-k8s")) {
    json::Value out = k8s && k8s->has(ref->as_string()) ? k8s->resolve(ref->as_string()) : preserve_object();
    for (auto& m : o)
      if (m.key != "x-omed-k8s")
        out.as_object().set(m.key, m.value);
    return out;
  }
  json::Object out;
  json::Object inline_props;
  json::Array inline_required;
  if (auto* inl = o.find("x-omed-inline")) {
    for (auto& marker : inl->as_array()) {
      auto ref = marker.string_or("ref");
      if (!k8s || !k8s->has(ref)) {
        out.set("x-kubernetes-preserve-unknown-fields", true);
        continue;
      }
      auto resolved = k8s->resolve(ref);
      std::vector<std::string> optional;
      if (auto* opt = marker.get("optional"))
        for (auto& x : opt->as_array())
          optional.push_back(x.as_string());
      if (auto* p = resolved.get("properties"))
        for (auto& m : p->as_object())
          inline_props.set(m.key, m.value);
      if (auto* r = resolved.get("required"))
        for (auto& x : r->as_array())
          if (std::find(optional.begin(), optional.end(), x.as_string()) == optional.end())
            inline_required.push_back(x);
    }
  }
  for (auto& m : o) {
    if (m.key == "x-omed-inline")
      continue;
    if (m.key == "properties") {
      json::Object props;
      for (auto& p : inline_props)
        props.set(p.key, p.value);
      for (auto& p : m.value.as_object())
        props.set(p.key, finish(p.value, k8s));
      out.set("properties", std::move(props));
    } else if (m.key == "required") {
      json::Array req = m.value.as_array();
      for (auto& r : inline_required)
        req.push_back(r);
      out.set("required", std::move(req));
    } else {
      out.set(m.key, finish(m.value, k8s));
    }
  }
  if (!inline_required.empty() && !out.contains("required"))
    out.set("required", std::move(inline_required));
  return out;
}

template <class Kind>
json::Value spec_status_schema(const KindInfo& k, const K8sSchemas* k8s, json::Value& status) {
  auto spec = finish(schema_for<typename Kind::spec_type>({}), k8s);
  status = finish(schema_for<typename Kind::status_type>({}), k8s);
  if (k.status_preserve_unknown)
    status.as_object().set("x-kubernetes-preserve-unknown-fields", true);
  return spec;
}

PrinterColumn col(std::string name, std::string type, std::string path, std::string desc = {}) {
  return PrinterColumn{std::move(name), std::move(type), std::move(path), std::move(desc), 0, {}};
}

std::vector<PrinterColumn> model_columns() {
  return {col("Disabled", "boolean", ".spec.disabled"),
          col("Version", "string", ".spec.version"),
          col("Vendor", "string", ".spec.vendor"),
          col("Framework", "string", ".spec.modelFramework.name"),
          col("FrameworkVersion", "string", ".spec.modelFramework.version"),
          col("ModelFormat", "string", ".spec.modelFormat.name"),
          col("Architecture", "string", ".spec.modelArchitecture"),
          col("Capabilities", "string", ".spec.modelCapabilities[*]"),
          col("Size", "string", ".spec.modelParameterSize"),
          col("CompartmentID", "string", ".spec.compartmentID"),
          col("Ready", "string", ".status.state"),
          col("Age", "date", ".metadata.creationTimestamp")};
}

std::vector<PrinterColumn> runtime_columns() {
  return {col("Disabled", "boolean", ".spec.disabled"),
          col("ModelFormat", "string", ".spec.supportedModelFormats[*].modelFormat.name"),
          col("ModelFramework", "string", ".spec.supportedModelFormats[*].modelFramework.name"),
          col("ModelFrameworkVersion", "string", ".spec.supportedModelFormats[*].modelFramework.version"),
          col("ModelArchitecture", "string", ".spec.supportedModelFormats[*].modelArchitecture"),
          col("ModelSizeMin", "string", ".spec.modelSizeRange.min"),
          col("ModelSizeMax", "string", ".spec.modelSizeRange.max"),
          col("Images", "string", ".spec.containers[*].image"),
          col("Age", "date", ".metadata.creationTimestamp")};
}

std::vector<KindInfo> make_kinds() {
  std::vector<KindInfo> ks;
  ks.push_back({"BaseModel", "basemodels", "basemodel", {}, true, true, false, model_columns(),
                "A model available to InferenceServices in one namespace: where its weights are, which "
                "nodes hold them, and what the model is."});
  ks.push_back({"ClusterBaseModel", "clusterbasemodels", "clusterbasemodel", {}, false, true, false, model_columns(),
                "A model available to InferenceServices in every namespace."});
  ks.push_back({"FineTunedWeight", "finetunedweights", "finetunedweight", {}, false, true, false,
                {col("Disabled", "boolean", ".spec.disabled"), col("Version", "string", ".spec.version"),
                 col("Vendor", "string", ".spec.vendor"), col("CompartmentID", "string", ".spec.compartmentID"),
                 col("ModelType", "string", ".spec.modelType"), col("Ready", "string", ".status.state"),
                 col("Age", "date", ".metadata.creationTimestamp")},
                "Fine-tuned weights (LoRA adapters and the like) on top of a base model."});
  ks.push_back({"ServingRuntime", "servingruntimes", "servingruntime", {}, true, false, false, runtime_columns(),
                "How to serve models of given formats, architectures and sizes in one namespace."});
  ks.push_back({"ClusterServingRuntime", "clusterservingruntimes", "clusterservingruntime", {}, false, false, false,
                runtime_columns(), "How to serve models of given formats, architectures and sizes, cluster-wide."});
  ks.push_back({"InferenceService", "inferenceservices", "inferenceservice", {"isvc"}, true, true, true,
                {col("URL", "string", ".status.url"),
                 col("Ready", "string", ".status.conditions[?(@.type=='Ready')].status"),
                 col("BaseModel", "string", ".spec.model.name"), col("Runtime", "string", ".spec.runtime.name"),
                 col("Prev", "integer", ".status.components.engine.traffic[?(@.tag=='prev')].percent"),
                 col("Latest", "integer", ".status.components.engine.traffic[?(@.latestRevision==true)].percent"),
                 col("PrevRolledoutRevision", "string",
                     ".status.components.engine.traffic[?(@.tag=='prev')].revisionName"),
                 col("LatestReadyRevision", "string",
                     ".status.components.engine.traffic[?(@.latestRevision==true)].revisionName"),
                 col("Age", "date", ".metadata.creationTimestamp")},
                "A model served by a runtime: engine, optional decoder and router, and their traffic."});
  ks.push_back({"AcceleratorClass", "acceleratorclasses", "acceleratorclass", {}, false, true, false,
                {col("Vendor", "string", ".spec.vendor"), col("Family", "string", ".spec.family"),
                 col("Memory", "string", ".spec.capabilities.memoryGB"),
                 col("Nodes", "integer", ".status.availableNodes")},
                "A kind of accelerator, how to find nodes that have it, and what it can do."});
  ks.push_back({"BenchmarkJob", "benchmarkjobs", "benchmarkjob", {}, true, true, false,
                {col("Age", "date", ".metadata.creationTimestamp"), col("Status", "string", ".status.state")},
                "A genai-bench run against an InferenceService or an endpoint."});
  return ks;
}

}  // namespace

const std::vector<KindInfo>& all_kinds() {
  static const std::vector<KindInfo> kinds = make_kinds();
  return kinds;
}

const KindInfo* find_kind(std::string_view kind) {
  for (auto& k : all_kinds())
    if (k.kind == kind)
      return &k;
  return nullptr;
}

json::Value kind_schema(const KindInfo& k, const K8sSchemas* k8s) {
  json::Value status;
  json::Value spec;
  if (k.kind == "BaseModel" || k.kind == "ClusterBaseModel")
    spec = spec_status_schema<BaseModel>(k, k8s, status);
  else if (k.kind == "FineTunedWeight")
    spec = spec_status_schema<FineTunedWeight>(k, k8s, status);
  else if (k.kind == "ServingRuntime" || k.kind == "ClusterServingRuntime")
    spec = spec_status_schema<ServingRuntime>(k, k8s, status);
  else if (k.kind == "InferenceService")
    spec = spec_status_schema<InferenceService>(k, k8s, status);
  else if (k.kind == "AcceleratorClass")
    spec = spec_status_schema<AcceleratorClass>(k, k8s, status);
  else if (k.kind == "BenchmarkJob")
    spec = spec_status_schema<BenchmarkJob>(k, k8s, status);
  else
    throw std::invalid_argument("unknown kind " + k.kind);

  spec.as_object().set("description", "The desired state of the " + k.kind + ".");
  status.as_object().set("description", "The observed state of the " + k.kind + ".");
  json::Object props;
  props.set("apiVersion", json::Object{{"description", "APIVersion of this object: ome.io/v1beta1."}, {"type", "string"}});
  props.set("kind", json::Object{{"description", "Kind of this object."}, {"type", "string"}});
  props.set("metadata", json::Object{{"type", "object"}});
  props.set("spec", std::move(spec));
  props.set("status", std::move(status));
  json::Object root{{"description", k.description}, {"type", "object"}, {"properties", std::move(props)}};
  // Kinds whose spec has required fields need the spec itself (OME's CRDs say so too).
  static const char* needs_spec[] = {"BaseModel", "ClusterBaseModel", "FineTunedWeight", "AcceleratorClass",
                                     "BenchmarkJob"};
  for (auto* n : needs_spec)
    if (k.kind == n)
      root.set("required", json::Array{"spec"});
  return root;
}

json::Value build_crd(const KindInfo& k, const K8sSchemas* k8s) {
  json::Object names{{"kind", k.kind}, {"listKind", k.kind + "List"}, {"plural", k.plural}, {"singular", k.singular}};
  if (!k.short_names.empty()) {
    json::Array sn;
    for (auto& s : k.short_names)
      sn.push_back(s);
    names.set("shortNames", std::move(sn));
  }
  json::Array cols;
  for (auto& c : k.columns) {
    json::Object co{{"jsonPath", c.json_path}, {"name", c.name}, {"type", c.type}};
    if (!c.description.empty())
      co.set("description", c.description);
    if (c.priority)
      co.set("priority", c.priority);
    cols.push_back(std::move(co));
  }
  json::Object version{{"name", kVersion}, {"served", true}, {"storage", true}};
  version.set("additionalPrinterColumns", std::move(cols));
  version.set("schema", json::Object{{"openAPIV3Schema", kind_schema(k, k8s)}});
  if (k.status_subresource)
    version.set("subresources", json::Object{{"status", json::Object{}}});
  json::Object spec{{"group", kGroup}, {"names", std::move(names)},
                    {"scope", k.namespaced ? "Namespaced" : "Cluster"}};
  spec.set("versions", json::Array{std::move(version)});
  json::Object md{{"name", k.plural + "." + kGroup}};
  md.set("labels", json::Object{{"app.kubernetes.io/name", "omed"}, {"app.kubernetes.io/part-of", "omed"}});
  return json::Object{{"apiVersion", "apiextensions.k8s.io/v1"},
                      {"kind", "CustomResourceDefinition"},
                      {"metadata", std::move(md)},
                      {"spec", std::move(spec)}};
}

json::Value round_trip(const json::Value& obj, ErrorList& errs) {
  auto kind = obj.string_or("kind");
  if (kind == "BaseModel" || kind == "ClusterBaseModel")
    return encode(decode<BaseModel>(obj, errs));
  if (kind == "FineTunedWeight")
    return encode(decode<FineTunedWeight>(obj, errs));
  if (kind == "ServingRuntime" || kind == "ClusterServingRuntime")
    return encode(decode<ServingRuntime>(obj, errs));
  if (kind == "InferenceService")
    return encode(decode<InferenceService>(obj, errs));
  if (kind == "AcceleratorClass")
    return encode(decode<AcceleratorClass>(obj, errs));
  if (kind == "BenchmarkJob")
    return encode(decode<BenchmarkJob>(obj, errs));
  errs.push_back(not_supported("kind", kind, {"BaseModel", "ClusterBaseModel", "FineTunedWeight", "ServingRuntime",
                                              "ClusterServingRuntime", "InferenceService", "AcceleratorClass",
                                              "BenchmarkJob"}));
  return obj;
}

// ------------------------------------------------------------------ Kubernetes schemas

K8sSchemas K8sSchemas::load_dir(const std::string& dir) {
  K8sSchemas out;
  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".json")
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (auto& p : files) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    auto doc = json::parse(ss.str());
    auto* comps = doc.at_path("components.schemas");
    if (!comps || !comps->is_object())
      continue;
    for (auto& m : comps->as_object())
      if (!out.components_.contains(m.key))
        out.components_.push_back(m);
  }
  if (out.components_.empty())
    throw std::runtime_error("no OpenAPI v3 components found in " + dir);
  return out;
}

bool K8sSchemas::has(const std::string& name) const { return components_.contains(name); }

const json::Value* K8sSchemas::component(const std::string& name) const { return components_.find(name); }

json::Value K8sSchemas::resolve(const std::string& name) const {
  std::vector<std::string> stack;
  auto* c = components_.find(name);
  if (!c)
    throw std::runtime_error("unknown Kubernetes schema component " + name);
  stack.push_back(name);
  return resolve_inner(*c, stack);
}

json::Value K8sSchemas::resolve_inner(const json::Value& s, std::vector<std::string>& stack) const {
  if (s.is_array()) {
    json::Array a;
    for (auto& x : s.as_array())
      a.push_back(resolve_inner(x, stack));
    return a;
  }
  if (!s.is_object())
    return s;
  auto& o = s.as_object();
  // {"allOf":[{"$ref":...}], "default": ...} is how v3 documents wrap a reference.
  const json::Value* ref = o.find("$ref");
  if (!ref) {
    if (auto* all = o.find("allOf"); all && all->is_array() && all->as_array().size() == 1)
      ref = all->as_array()[0].get("$ref");
  }
  if (ref && ref->is_string()) {
    std::string name = ref->as_string();
    auto slash = name.rfind('/');
    if (slash != std::string::npos)
      name = name.substr(slash + 1);
    if (name == "io.k8s.apimachinery.pkg.api.resource.Quantity")
      return quantity_schema();
    if (name == "io.k8s.apimachinery.pkg.util.intstr.IntOrString")
      return json::Object{{"x-kubernetes-int-or-string", true}};
    if (name == "io.k8s.apimachinery.pkg.apis.meta.v1.Time" ||
        name == "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime")
      return json::Object{{"format", "date-time"}, {"type", "string"}};
    if (name == "io.k8s.apimachinery.pkg.runtime.RawExtension")
      return preserve_object();
    if (std::find(stack.begin(), stack.end(), name) != stack.end())
      return preserve_object();  // recursion: stop here
    auto* target = components_.find(name);
    if (!target)
      return preserve_object();
    stack.push_back(name);
    auto out = resolve_inner(*target, stack);
    stack.pop_back();
    return out;
  }
  json::Object out;
  for (auto& m : o) {
    // Prose stays out of our CRDs and patch strategies are not CRD fields. Scalar defaults stay:
    // list-map keys must be required or defaulted (LocalObjectReference.name, ports' protocol).
    if (m.key == "default" && !(m.value.is_object() || m.value.is_array())) {
      out.set("default", m.value);
      continue;
    }
    if (m.key == "description" || m.key == "default" || str::starts_with(m.key, "x-kubernetes-patch") ||
        m.key == "x-kubernetes-group-version-kind" || m.key == "x-kubernetes-unions" ||
        m.key == "x-kubernetes-action" || m.key == "x-kubernetes-associated-buildtag")
      continue;
    if (m.key == "properties") {
      json::Object props;
      for (auto& p : m.value.as_object())
        props.set(p.key, resolve_inner(p.value, stack));
      out.set("properties", std::move(props));
    } else {
      out.set(m.key, resolve_inner(m.value, stack));
    }
  }
  return out;
}

}  // namespace omed::api
