// The eight ome.io/v1beta1 kinds as the API server sees them (names, scope, printer columns),
// their CRDs generated from the C++ types, and per-kind decode/validate/default entry points.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "omed/api/field_error.hpp"
#include "omed/common/json.hpp"

namespace omed::api {

struct PrinterColumn {
  std::string name, type, json_path, description;
  int priority = 0;
  std::string format;
};

struct KindInfo {
  std::string kind;       // "InferenceService"
  std::string plural;     // "inferenceservices"
  std::string singular;   // "inferenceservice"
  std::vector<std::string> short_names;
  bool namespaced = true;
  bool status_subresource = true;
  bool status_preserve_unknown = false;
  std::vector<PrinterColumn> columns;
  std::string description;
};

const std::vector<KindInfo>& all_kinds();
const KindInfo* find_kind(std::string_view kind);

// Looks up Kubernetes OpenAPI components ("io.k8s.api.core.v1.PodSpec") for CRD generation.
// Without one, Kubernetes-typed fields are emitted as preserve-unknown objects.
class K8sSchemas {
public:
  // Loads every OpenAPI v3 document (*.json) in `dir`. Throws on unreadable input.
  static K8sSchemas load_dir(const std::string& dir);
  // The component with all $refs inlined, descriptions and defaults dropped, and the special
  // apimachinery types (Quantity, IntOrString, Time, RawExtension) turned into CRD idioms.
  json::Value resolve(const std::string& name) const;
  bool has(const std::string& name) const;
  // The raw component (for validating built-in objects against their real schema).
  const json::Value* component(const std::string& name) const;

private:
  json::Value resolve_inner(const json::Value& s, std::vector<std::string>& stack) const;
  json::Object components_;
};

// The openAPIV3Schema of a kind (apiVersion, kind, metadata, spec, status).
json::Value kind_schema(const KindInfo& k, const K8sSchemas* k8s);
// The complete apiextensions.k8s.io/v1 CustomResourceDefinition.
json::Value build_crd(const KindInfo& k, const K8sSchemas* k8s);

// Decode -> encode through the typed model (unknown fields preserved). Type errors are reported.
json::Value round_trip(const json::Value& obj, ErrorList& errs);

}  // namespace omed::api
