// InferenceService reconcile: resolve (model, runtime, accelerators, adapters), render, and
// derive status from the workloads' own conditions. Every failure is a condition and an Event.
#include "omed/controller/inference_service_plan.hpp"

#include <algorithm>

#include "omed/controller/admission.hpp"
#include "omed/controller/benchmark_plan.hpp"
#include "omed/render/predictor_migration.hpp"

namespace omed::controller {

namespace {

std::string text(const json::Value& v, const char* path) {
  auto* x = v.at_path(path);
  return x && x->is_string() ? x->as_string() : std::string();
}

std::string capitalized(std::string s) {
  if (!s.empty())
    s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

// A warning event only when the Ready condition's message changes: a reconcile repeated for the
// same reason does not flood the namespace's events.
void fail(Plan& p, const Input& in, const std::string& reason, const std::string& message) {
  p.conditions.push_back({"Ready", "False", reason, message});
  auto* cur = find_condition(in.object, "Ready");
  if (!cur || cur->string_or("reason") != reason || cur->string_or("message") != message)
    p.events.push_back({"Warning", reason, "Reconcile", message});
}

struct ComponentState {
  bool ready = false;
  std::string reason, message;
};

// Readiness from the workload's own conditions: a Deployment's Available, a LeaderWorkerSet's
// Available, a Knative Service's Ready; and only for the generation we last applied.
ComponentState component_state(const Owned& owned, const render::ComponentRender& c, const std::string& ns) {
  // A Serverless component's Knative Service is the only "Service" of that name (no core one).
  auto it = owned.find(c.workload_kind + "/" + ns + "/" + c.workload_name);
  if (it == owned.end() || !it->second)
    return {false, "Creating", c.workload_kind + " " + c.workload_name + " has not been created yet"};
  const json::Value& w = *it->second;
  auto gen = w.at_path("metadata.generation");
  auto seen = w.at_path("status.observedGeneration");
  if (gen && gen->is_int() && (!seen || !seen->is_int() || seen->as_int() < gen->as_int()))
    return {false, "Progressing", c.workload_kind + " " + c.workload_name + " has not observed its latest spec yet"};
  const char* cond = c.mode == "Serverless" ? "Ready" : "Available";
  auto* st = find_condition(w, cond);
  if (!st)
    return {false, "Progressing", c.workload_kind + " " + c.workload_name + " reports no " + cond + " condition yet"};
  if (st->string_or("status") != "True") {
    std::string msg = st->string_or("message");
    return {false, st->string_or("reason", "Unavailable"),
            c.workload_kind + " " + c.workload_name + " is not " + cond + (msg.empty() ? "" : ": " + msg)};
  }
  std::string replicas;
  if (auto r = w.at_path("status.readyReplicas"); r && r->is_int())
    replicas = " (" + std::to_string(r->as_int()) + " ready)";
  return {true, st->string_or("reason", "Available"), c.workload_kind + " " + c.workload_name + " is " + cond + replicas};
}

// The model name the engine answers to: --served-model-name, else SERVED_MODEL_NAME, else the
// model path (what SGLang and vLLM default to). BenchmarkJobs send it as the request's model.
std::string served_model_name(const std::vector<json::Value>& objects) {
  for (auto& o : objects) {
    if (text(o, "metadata.labels.component") != "engine")
      continue;
    const json::Value* spec = o.at_path("spec.template.spec");
    if (!spec)
      spec = o.at_path("spec.leaderWorkerTemplate.leaderTemplate.spec");
    auto* cs = spec ? spec->get("containers") : nullptr;
    if (!cs || !cs->is_array() || cs->as_array().empty())
      continue;
    const json::Value& c = cs->as_array()[0];
    for (const char* list : {"command", "args"})
      if (auto* a = c.get(list); a && a->is_array())
        for (size_t i = 0; i < a->as_array().size(); ++i) {
          auto& arg = a->as_array()[i];
          if (!arg.is_string())
            continue;
          if (arg.as_string() == "--served-model-name" && i + 1 < a->as_array().size() && a->as_array()[i + 1].is_string())
            return a->as_array()[i + 1].as_string();
          if (arg.as_string().rfind("--served-model-name=", 0) == 0)
            return arg.as_string().substr(20);
        }
    std::string model_path;
    if (auto* env = c.get("env"); env && env->is_array())
      for (auto& e : env->as_array()) {
        if (e.string_or("name") == "SERVED_MODEL_NAME" && !e.string_or("value").empty())
          return e.string_or("value");
        if (e.string_or("name") == "MODEL_PATH")
          model_path = e.string_or("value");
      }
    return model_path;
  }
  return "";
}

std::string model_key(const json::Value& model) {
  std::string ns = text(model, "metadata.namespace");
  return model.string_or("kind") + "/" + (ns.empty() ? "" : ns + "/") + text(model, "metadata.name");
}

}  // namespace

Plan inference_service_plan(const Input& in, const ServingLookups& lookups, ServingResolution* resolved) {
  Plan p = admission_plan(in);
  if (!accepted(p)) {
    // kubectl's READY column reads Ready: say why there too (the event came with Accepted).
    for (auto& c : std::vector<Condition>(p.conditions))
      if (c.type == "Accepted")
        p.conditions.push_back({"Ready", "False", "InvalidSpec", c.message});
    return p;
  }
  // OME's deprecated predictor layout is read as model/runtime/engine (the stored spec is left alone).
  const bool migrated = render::uses_predictor(in.object);
  const json::Value isvc_view = migrated ? render::migrate_predictor(in.object) : json::Value();
  const json::Value& isvc = migrated ? isvc_view : in.object;
  if (migrated)
    p.conditions.push_back({"PredictorMigrated", "True", "DeprecatedPredictor",
                            "spec.predictor is deprecated; it is served as spec.model, spec.runtime and spec.engine"});
  std::string ns = text(isvc, "metadata.namespace");
  std::string name = text(isvc, "metadata.name");

  // 1. The base model: a BaseModel in the namespace first, then a ClusterBaseModel (OME's order).
  std::string model_name = text(isvc, "spec.model.name");
  if (model_name.empty()) {
    fail(p, in, "InvalidSpec", "spec.model.name is required");
    return p;
  }
  auto model = lookups.model(ns, model_name);
  if (!model)
    model = lookups.model("", model_name);
  if (!model) {
    fail(p, in, "BaseModelNotFound",
         "no BaseModel " + ns + "/" + model_name + " and no ClusterBaseModel " + model_name);
    return p;
  }
  if (resolved)
    resolved->model_key = model_key(*model);
  auto facts = selection::ModelFacts::from_object(*model);
  if (resolved)
    resolved->model_format = facts.format;
  if (facts.disabled) {
    fail(p, in, "BaseModelDisabled", model_key(*model) + " is disabled");
    return p;
  }
  std::string model_state = text(*model, "status.state");
  if (facts.format.empty()) {
    // The agent fills the format in once it has read the files: wait rather than fail.
    auto* why = find_condition(*model, "Ready");
    fail(p, in, model_state == "Failed" ? "BaseModelFailed" : "BaseModelNotReady",
         model_key(*model) + (model_state == "Failed" ? " failed: " + (why ? why->string_or("message") : "")
                                                      : " has no modelFormat yet (waiting for its files to be parsed)"));
    return p;
  }

  // 2. The runtime: the named one validated, or OME's selection.
  auto req = selection::Requirements::from_isvc(isvc);
  std::string runtime_name = text(isvc, "spec.runtime.name");
  selection::Selection sel = runtime_name.empty() ? lookups.select_runtime(facts, req, ns)
                                                  : lookups.named_runtime(facts, req, ns, runtime_name);
  if (!sel.chosen) {
    std::string reason = !runtime_name.empty() ? (sel.error.find("not found") != std::string::npos ? "RuntimeNotFound"
                                                  : sel.error.find("disabled") != std::string::npos ? "RuntimeDisabled"
                                                                                                      : "RuntimeNotCompatible")
                                               : "NoSupportingRuntime";
    fail(p, in, reason, sel.summary(900));
    return p;
  }
  const selection::RuntimeEntry& rt = *sel.chosen;
  if (resolved)
    resolved->runtime = rt.kind + "/" + (rt.ns.empty() ? "" : rt.ns + "/") + rt.name;
  p.conditions.push_back({"RuntimeResolved", "True", runtime_name.empty() ? "AutoSelected" : "Named",
                          sel.summary(600)});

  // 3. Accelerator classes for the components that serve the model.
  render::RenderInput rin{isvc, *model, *rt.object, sel.format_index, {}, {}, lookups.settings};
  std::map<std::string, std::string> accelerator_reasons;
  for (const char* component : {"engine", "decoder"}) {
    if (!isvc.at_path((std::string("spec.") + component).c_str()) || !lookups.accelerator)
      continue;
    auto pick = lookups.accelerator(isvc, component, rt);
    if (!pick.error.empty()) {
      fail(p, in, "AcceleratorClassError", std::string(component) + ": " + pick.error);
      return p;
    }
    if (pick.object) {
      rin.accelerators[component] = pick.object;
      accelerator_reasons[component] = pick.reason;
    }
  }

  // 4. Fine-tuned adapters, each of which must exist.
  if (auto* ftws = isvc.at_path("spec.model.fineTunedWeights"); ftws && ftws->is_array())
    for (auto& f : ftws->as_array()) {
      if (!f.is_string())
        continue;
      auto obj = lookups.fine_tuned ? lookups.fine_tuned(f.as_string()) : nullptr;
      if (!obj) {
        fail(p, in, "FineTunedWeightsNotFound", "FineTunedWeight " + f.as_string() + " does not exist");
        return p;
      }
      rin.fine_tuned.push_back(obj);
    }

  // 5. Render; an invalid combination applies nothing.
  auto r = render::render_inference_service(rin);
  if (!r.ok()) {
    std::string msg;
    for (auto& e : r.errors)
      msg += (msg.empty() ? "" : "; ") + e;
    fail(p, in, "InvalidSpec", msg);
    return p;
  }
  std::string served = served_model_name(r.objects);
  p.apply = std::move(r.objects);
  p.prune_owned = true;

  // 6. Status from the workloads.
  bool all_ready = true;
  json::Object components;
  std::string not_ready;
  for (auto& c : r.components) {
    auto st = component_state(in.owned, c, ns);
    std::string type = capitalized(c.component) + "Ready";
    p.conditions.push_back({type, st.ready ? "True" : "False", st.reason, st.message});
    if (!st.ready) {
      all_ready = false;
      not_ready += (not_ready.empty() ? "" : "; ") + c.component + ": " + st.message;
    }
    json::Object cs{{"url", "http://" + c.service_name + "." + ns + ".svc.cluster.local" +
                              (c.port == 80 ? "" : ":" + std::to_string(c.port))}};
    if (!c.accelerator_class.empty())
      cs.set("selectedAccelerator", json::Object{{"acceleratorClass", c.accelerator_class},
                                                 {"reason", accelerator_reasons[c.component]}});
    components.set(c.component, std::move(cs));
  }
  for (const char* gone : {"engine", "decoder", "router"})
    if (std::none_of(r.components.begin(), r.components.end(),
                     [&](const render::ComponentRender& c) { return c.component == gone; }))
      p.drop_conditions.push_back(capitalized(gone) + "Ready");
  bool ingress = lookups.settings.ingress_creation || lookups.settings.gateway_api;
  if (!ingress)
    p.conditions.push_back({"IngressReady", "True", "IngressDisabled",
                            "served in the cluster at " + r.address_url + " (ingress creation is off)"});
  else if (all_ready)
    p.conditions.push_back({"IngressReady", "True", "RouteReady", "routed at " + r.url});
  else
    p.conditions.push_back({"IngressReady", "False", "ComponentNotReady",
                            r.entry_component + " is not ready; the route waits for it"});
  if (all_ready)
    p.conditions.push_back({"Ready", "True", "AllComponentsReady", "serving at " + r.url});
  else
    p.conditions.push_back({"Ready", "False", "ComponentsNotReady", not_ready});
  auto* was = find_condition(isvc, "Ready");
  bool was_ready = was && was->string_or("status") == "True";
  if (all_ready && !was_ready)
    p.events.push_back({"Normal", "InferenceServiceReady", "Reconcile", name + " is serving at " + r.url});
  else if (!all_ready && was_ready)
    p.events.push_back({"Warning", "InferenceServiceNotReady", "Reconcile", not_ready});

  p.status.set("url", r.url);
  p.status.set("address", json::Object{{"url", r.address_url}});
  p.status.set("components", std::move(components));
  json::Object notes{{"ome.io/serving-runtime", rt.kind + "/" + (rt.ns.empty() ? "" : rt.ns + "/") + rt.name},
                     {"ome.io/base-model", model_key(*model)},
                     {"ome.io/base-model-format", facts.format + (facts.format_version.empty() ? "" : "@" + facts.format_version)}};
  if (!facts.architecture.empty())
    notes.set("ome.io/base-model-architecture", facts.architecture);
  if (!facts.size_text.empty())
    notes.set("ome.io/base-model-size", facts.size_text);
  if (!facts.quantization.empty())
    notes.set("ome.io/base-model-quantization", facts.quantization);
  if (!served.empty())
    notes.set(kServedModelNameAnnotation, served);
  // Rendering notes (a model without a path, an adapter not mounted) once each, as an Event.
  std::string warnings;
  for (auto& w : r.warnings)
    warnings += (warnings.empty() ? "" : "; ") + w;
  if (!warnings.empty()) {
    notes.set("omed.io/render-warnings", warnings);
    auto* cur = isvc.at_path("status.annotations");
    if (!cur || !cur->is_object() || cur->string_or("omed.io/render-warnings") != warnings)
      p.events.push_back({"Warning", "RenderWarning", "Render", warnings});
  }
  p.status.set("annotations", std::move(notes));
  p.status.set("modelStatus",
               json::Object{{"transitionStatus", all_ready ? "UpToDate" : "InProgress"},
                            {"modelRevisionStates", json::Object{{"targetModelState", all_ready ? "Loaded" : "Loading"},
                                                                 {"activeModelState", all_ready ? "Loaded" : ""}}}});
  return p;
}

}  // namespace omed::controller
