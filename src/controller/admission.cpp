// Admission inside reconcile: the same rules as `omed validate` and the webhook, so a manifest
// applied with --validate=false or written by another tool still gets a clear verdict in status.
#include "omed/controller/admission.hpp"

#include "omed/api/validation.hpp"

namespace omed::controller {

namespace {

std::string condition_message(const json::Value& obj, const std::string& type) {
  auto* c = find_condition(obj, type);
  return c ? c->string_or("status") + "|" + c->string_or("message") : "";
}

}  // namespace

const char* required_state(const std::string& kind, bool valid) {
  if (kind == "BaseModel" || kind == "ClusterBaseModel" || kind == "FineTunedWeight")
    return valid ? "Creating" : "Failed";
  if (kind == "BenchmarkJob")
    return valid ? "Pending" : "Failed";
  return nullptr;
}

Plan admission_plan(const Input& in) {
  Plan p;
  auto kind = in.object.string_or("kind");
  p.write_status = kind != "ServingRuntime" && kind != "ClusterServingRuntime";  // OME gives them no status
  // The spec is judged; status is ours to write and not part of the verdict.
  json::Value spec_only = in.object;
  if (spec_only.is_object())
    spec_only.as_object().erase("status");
  auto res = api::validate_object(spec_only);
  auto* state = in.object.at_path("status.state");
  if (const char* s = required_state(kind, res.ok()); s && (!state || !state->is_string() || !res.ok()))
    p.status.set("state", s);
  if (res.ok()) {
    p.conditions.push_back({"Accepted", "True", "Valid", "the specification passed validation"});
    return p;
  }
  std::string msg;
  for (auto& e : res.errors)
    msg += (msg.empty() ? "" : "; ") + e.to_string();
  p.conditions.push_back({"Accepted", "False", "InvalidSpec", msg});
  p.wants_finalizer = false;  // nothing outside will happen for a rejected object
  if (condition_message(in.object, "Accepted") != "False|" + msg)
    p.events.push_back({"Warning", "InvalidSpec", "Validate", msg});
  return p;
}

bool accepted(const Plan& p) {
  for (auto& c : p.conditions)
    if (c.type == "Accepted")
      return c.status == "True";
  return true;
}

}  // namespace omed::controller
