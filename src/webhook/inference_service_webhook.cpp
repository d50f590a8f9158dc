// InferenceService admission (reference ome.md §4.7): validation is api::validate_object, the
// rule set reconcile runs too; defaulting writes only what omed would assume anyway (never OME's
// deploymentMode annotation: the mode follows from the runtime, which may change later).
#include <optional>
#include <utility>

#include "omed/api/validation.hpp"
#include "omed/webhook/admission.hpp"

namespace omed::webhook {

namespace {

bool is_object(const json::Value* v) { return v && v->is_object(); }

// The runtime the InferenceService names, found as reconcile finds it: a ServingRuntime in its
// namespace first, then a ClusterServingRuntime. Null when none is named or found.
std::optional<json::Value> named_runtime(const json::Value& isvc, const Context& ctx) {
  auto* name = isvc.at_path("spec.runtime.name");
  if (!name || !name->is_string() || name->as_string().empty() || !ctx.list_runtimes)
    return std::nullopt;
  auto* ns = isvc.at_path("metadata.namespace");
  for (auto [kind, scope] : {std::pair<const char*, std::string>{"ServingRuntime", ns && ns->is_string() ? ns->as_string() : ""},
                             std::pair<const char*, std::string>{"ClusterServingRuntime", ""}}) {
    if (std::string(kind) == "ServingRuntime" && scope.empty())
      continue;
    for (auto& rt : ctx.list_runtimes(kind, scope))
      if (auto* n = rt.at_path("metadata.name"); n && n->is_string() && n->as_string() == name->as_string())
        return rt;
  }
  return std::nullopt;
}

}  // namespace

json::Array inference_service_defaults(const json::Value& isvc, const Context& ctx) {
  json::Array ops;
  auto* spec = isvc.get("spec");
  if (!is_object(spec))
    return ops;  // nothing to default; validation reports the missing spec
  // One replica for a component when neither it nor its runtime's config says how many: the
  // renderer's own fallback, written down. Without a named runtime nothing is written, since the
  // runtime selection picks may set its own count (0 for Serverless, 2, ...).
  auto rt = named_runtime(isvc, ctx);
  if (!rt)
    return ops;
  for (const char* comp : {"engine", "decoder", "router"}) {
    auto* c = spec->get(comp);
    auto* theirs = rt->at_path((std::string("spec.") + comp + "Config").c_str());
    bool runtime_sets = is_object(theirs) && theirs->get("minReplicas");
    if (is_object(c) && !c->get("minReplicas") && !runtime_sets)
      ops.push_back(json::Object{{"op", "add"}, {"path", std::string("/spec/") + comp + "/minReplicas"}, {"value", 1}});
  }
  return ops;
}

AdmissionResponse validate_inference_service(const AdmissionRequest& req, const json::Value& obj) {
  auto vr = api::validate_object(obj);
  if (!vr.ok()) {
    auto r = deny_invalid(req, obj, std::move(vr.errors));
    r.warnings = std::move(vr.warnings);
    return r;
  }
  AdmissionResponse r;
  r.uid = req.uid;
  r.warnings = std::move(vr.warnings);
  return r;
}

}  // namespace omed::webhook
