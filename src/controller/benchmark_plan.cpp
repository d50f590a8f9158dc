// BenchmarkJob reconcile: resolve the target (an InferenceService once Ready, or a URL), render
// the Job once (a Job's template is immutable), and map the Job's conditions to state.
#include "omed/controller/benchmark_plan.hpp"

#include "omed/agent/node_report.hpp"
#include "omed/controller/admission.hpp"

namespace omed::controller {

namespace {

std::string text(const json::Value& v, const char* path) {
  auto* x = v.at_path(path);
  return x && x->is_string() ? x->as_string() : std::string();
}

void set_state(Plan& p, const Input& in, const std::string& state, const std::string& reason, const std::string& message,
               bool warn) {
  p.status.set("state", state);
  bool failed = state == "Failed";
  p.status.set("failureMessage", failed ? json::Value(message) : json::Value());
  p.conditions.push_back({"Ready", state == "Completed" ? "True" : "False", reason, message});
  if (text(in.object, "status.state") != state || (warn && !find_condition(in.object, "Ready")) ||
      (find_condition(in.object, "Ready") && find_condition(in.object, "Ready")->string_or("reason") != reason))
    p.events.push_back({warn || failed ? "Warning" : "Normal", reason, "Reconcile", message});
}

}  // namespace

Plan benchmark_plan(const Input& in, const BenchmarkLookups& l) {
  Plan p = admission_plan(in);
  if (!accepted(p))
    return p;
  const json::Value& bj = in.object;
  std::string ns = text(bj, "metadata.namespace");
  std::string name = text(bj, "metadata.name");

  // The Job exists: follow it, never re-render it.
  auto it = in.owned.find("Job/" + ns + "/" + name);
  if (it != in.owned.end() && it->second) {
    const json::Value& job = *it->second;
    if (auto* t = job.at_path("status.startTime"))
      p.status.set("startTime", *t);
    auto* failed = find_condition(job, "Failed");
    auto* complete = find_condition(job, "Complete");
    if (failed && failed->string_or("status") == "True") {
      set_state(p, in, "Failed", "BenchmarkFailed",
                "Job " + name + " failed: " + failed->string_or("reason") + " " + failed->string_or("message"), true);
    } else if ((complete && complete->string_or("status") == "True") ||
               (job.at_path("status.succeeded") && job.at_path("status.succeeded")->is_int() &&
                job.at_path("status.succeeded")->as_int() > 0)) {
      if (auto* t = job.at_path("status.completionTime"))
        p.status.set("completionTime", *t);
      set_state(p, in, "Completed", "BenchmarkCompleted", "genai-bench finished; results are at " +
                                                             text(bj, "spec.outputLocation.storageUri"), false);
    } else {
      set_state(p, in, "Running", "BenchmarkRunning", "Job " + name + " is running genai-bench", false);
    }
    return p;
  }

  render::BenchmarkTarget target;
  if (auto* ref = bj.at_path("spec.endpoint.inferenceService"); ref && ref->is_object()) {
    std::string ins = ref->string_or("namespace", ns);
    std::string iname = ref->string_or("name");
    auto isvc = l.inference_service ? l.inference_service(ins, iname) : nullptr;
    if (!isvc) {
      set_state(p, in, "Pending", "InferenceServiceNotFound", "InferenceService " + ins + "/" + iname + " does not exist",
                true);
      return p;
    }
    auto* ready = find_condition(*isvc, "Ready");
    if (!ready || ready->string_or("status") != "True") {
      set_state(p, in, "Pending", "WaitingForInferenceService",
                "InferenceService " + ins + "/" + iname + " is not Ready yet", false);
      return p;
    }
    target.api_base = text(*isvc, "status.url");
    target.api_backend = "openai";
    auto* notes = isvc->at_path("status.annotations");
    target.model_name = notes && notes->is_object() ? notes->string_or(kServedModelNameAnnotation) : "";
    std::string model_key = notes && notes->is_object() ? notes->string_or("ome.io/base-model") : "";
    if (auto model = l.model && !model_key.empty() ? l.model(model_key) : nullptr) {
      target.tokenizer_path = text(*model, "spec.storage.path");
      if (text(*model, "spec.storage.storageUri").rfind("pvc://", 0) == 0)
        target.tokenizer_path.clear();  // not on any node's disk
      else
        target.model_label = agent::node_label_key(agent::model_ref(*model));
      if (target.model_name.empty())
        target.model_name = target.tokenizer_path;
    }
  } else {
    target.api_base = text(bj, "spec.endpoint.endpoint.url");
    target.api_backend = text(bj, "spec.endpoint.endpoint.apiFormat");
    target.model_name = text(bj, "spec.endpoint.endpoint.modelName");
  }
  auto r = render::render_benchmark_job(bj, target, l.settings);
  if (!r.errors.empty()) {
    std::string msg;
    for (auto& e : r.errors)
      msg += (msg.empty() ? "" : "; ") + e;
    set_state(p, in, "Failed", "InvalidSpec", msg, true);
    return p;
  }
  p.apply.push_back(std::move(r.job));
  set_state(p, in, "Pending", "JobCreated", "Job " + name + " created; waiting for it to start", false);
  return p;
}

}  // namespace omed::controller
