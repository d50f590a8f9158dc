// BenchmarkJob admission (reference ome.md §6): api::validate_object plus the renderer's own
// limits (traffic scenarios per task, where results can go), so that a job the controller could
// never render is refused at the door instead of failing later in status.
#include <regex>
#include <set>

#include "omed/api/validation.hpp"
#include "omed/render/benchmark_job.hpp"
#include "omed/webhook/admission.hpp"

namespace omed::webhook {

namespace {

// The renderer's view of the output location; "" when it can write there.
std::string output_location_problem(const std::string& uri) {
  auto rest_after = [&](size_t n) { return uri.substr(n); };
  if (uri.rfind("pvc://", 0) == 0) {
    auto rest = rest_after(6);
    return rest.empty() || rest[0] == '/' ? "pvc:// needs a claim name (pvc://CLAIM/SUBPATH)" : "";
  }
  if (uri.rfind("s3://", 0) == 0) {
    auto rest = rest_after(5);
    return rest.empty() || rest[0] == '/' || rest[0] == '@' ? "s3:// needs a bucket (s3://BUCKET/PREFIX)" : "";
  }
  if (uri.rfind("oci://", 0) == 0) {
    static const std::regex oci(R"(^oci://n/[^/]+/b/[^/]+(/o/.*)?$)");
    return std::regex_match(uri, oci) ? "" : "expected oci://n/NAMESPACE/b/BUCKET/o/PREFIX";
  }
  return "results can be written to pvc://, s3:// or oci:// only";
}

}  // namespace

AdmissionResponse validate_benchmark_job(const AdmissionRequest& req, const json::Value& obj) {
  auto vr = api::validate_object(obj);
  // Extra errors only on fields the common rules left alone: one message per problem.
  std::set<std::string> reported;
  for (auto& e : vr.errors)
    reported.insert(e.field);
  auto add = [&](api::FieldError e) {
    if (!reported.count(e.field)) {
      reported.insert(e.field);
      vr.errors.push_back(std::move(e));
    }
  };
  auto* spec = obj.get("spec");
  if (spec && spec->is_object()) {
    auto* ep = spec->get("endpoint");
    if (!ep || !ep->is_object())
      add(api::required("spec.endpoint", "must specify exactly one of inferenceService or endpoint"));
    std::string task = spec->string_or("task");
    if (auto* ts = spec->get("trafficScenarios"); ts && ts->is_array() && !ts->as_array().empty()) {
      auto& list = ts->as_array();
      for (size_t i = 0; i < list.size(); ++i)
        if (list[i].is_string() && !render::scenario_valid(task, list[i].as_string()))
          add(api::invalid("spec.trafficScenarios[" + std::to_string(i) + "]", list[i],
                           "is not a valid traffic scenario for task " + task));
    } else if (!task.empty() && render::default_scenarios(task).empty()) {
      add(api::required("spec.trafficScenarios", "task " + task + " has no default traffic scenarios"));
    }
    if (auto* uri = obj.at_path("spec.outputLocation.storageUri"); uri && uri->is_string()) {
      auto problem = output_location_problem(uri->as_string());
      if (!problem.empty())
        add(api::invalid("spec.outputLocation.storageUri", *uri, problem));
    }
  }
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
