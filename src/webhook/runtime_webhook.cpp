// ServingRuntime and ClusterServingRuntime admission (reference ome.md §3.3): the shape rules and
// the autoSelect priority rules of api::validate_object, fed with the other runtimes of the same
// scope. Unlike OME, every runtime is checked, the first of its scope included.
#include "omed/api/codec.hpp"
#include "omed/api/types.hpp"
#include "omed/api/validation.hpp"
#include "omed/webhook/admission.hpp"

namespace omed::webhook {

AdmissionResponse validate_runtime(const AdmissionRequest& req, const json::Value& obj, const Context& ctx) {
  AdmissionResponse ok;
  ok.uid = req.uid;
  // A disabled runtime is never selected, so nothing about it can conflict (OME skips it too).
  if (auto* d = obj.at_path("spec.disabled"); d && d->is_bool() && d->as_bool())
    return ok;
  std::string ns;  // cluster runtimes conflict with cluster runtimes only
  if (req.kind != "ClusterServingRuntime")
    if (auto* n = obj.at_path("metadata.namespace"); n && n->is_string())
      ns = n->as_string();
  // Fetched before validation so that a failing lister answers as an internal error, not a crash
  // inside the rules.
  std::vector<api::ServingRuntime> others;
  if (ctx.list_runtimes) {
    try {
      for (auto& item : ctx.list_runtimes(req.kind, ns)) {
        api::ErrorList ignored;  // a malformed neighbour still counts with what decodes
        others.push_back(api::decode<api::ServingRuntime>(item, ignored));
      }
    } catch (const std::exception& e) {
      AdmissionResponse r;
      r.uid = req.uid;
      r.allowed = false;
      r.code = 500;
      r.reason = "InternalError";
      r.message = "cannot list the " + req.kind + "s" + (ns.empty() ? std::string() : " of namespace " + ns) +
                  " to check model format priorities: " + e.what();
      return r;
    }
  }
  api::ValidationContext vctx;
  if (ctx.list_runtimes)
    vctx.runtimes_in_scope = [&others](const std::string&, const std::string&) { return others; };
  auto vr = api::validate_object(obj, &vctx);
  if (!vr.ok()) {
    auto r = deny_invalid(req, obj, std::move(vr.errors));
    r.warnings = std::move(vr.warnings);
    return r;
  }
  ok.warnings = std::move(vr.warnings);
  return ok;
}

}  // namespace omed::webhook
