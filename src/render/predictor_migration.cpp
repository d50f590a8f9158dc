// The predictor-to-engine reading of an InferenceService. OME writes its migration back into the
// user's object; omed reads it this way on every reconcile and leaves the stored spec alone.
#include "omed/render/predictor_migration.hpp"

#include <algorithm>
#include <cctype>

#include "internal.hpp"

namespace omed::render {

namespace {

bool non_empty(const json::Value* v) {
  if (!v || v->is_null())
    return false;
  if (v->is_array())
    return !v->as_array().empty();
  if (v->is_object())
    return !v->as_object().empty();
  if (v->is_string())
    return !v->as_string().empty();
  return true;
}

// Fields of predictor.model that configure the model rather than its container.
bool is_model_ref_field(const std::string& k) {
  return k == "runtime" || k == "baseModel" || k == "fineTunedWeights" || k == "storageUri" ||
         k == "runtimeVersion" || k == "protocolVersion";
}

void append_env(json::Value& runner, const std::string& name, const json::Value* value) {
  if (!value || !value->is_string())
    return;
  auto& env = runner["env"];
  if (!env.is_array())
    env = json::Array{};
  env.as_array().push_back(json::Object{{"name", name}, {"value", *value}});
}

}  // namespace

bool uses_predictor(const json::Value& isvc) {
  const json::Value* spec = isvc.get("spec");
  if (!spec || !spec->is_object() || spec->get("engine") || spec->get("model"))
    return false;
  const json::Value* p = spec->get("predictor");
  if (!p || !p->is_object())
    return false;
  if (p->at_path("model.baseModel"))
    return true;
  for (const char* k : {"minReplicas", "maxReplicas", "serviceAccountName", "containers", "volumes", "nodeSelector",
                        "tolerations", "affinity", "workerSpec"})
    if (non_empty(p->get(k)))
      return true;
  return false;
}

json::Value migrate_predictor(const json::Value& isvc) {
  if (!uses_predictor(isvc))
    return isvc;
  json::Value out = isvc;
  json::Value& spec = out["spec"];
  const json::Value pred = *spec.get("predictor");
  const json::Value* model = pred.get("model");

  if (model && model->is_object() && model->get("baseModel")) {
    json::Object ref{{"name", *model->get("baseModel")}};
    if (auto* f = model->get("fineTunedWeights"); non_empty(f))
      ref.set("fineTunedWeights", *f);
    spec["model"] = std::move(ref);
    if (auto* rt = model->get("runtime"); non_empty(rt))
      spec["runtime"] = json::Object{{"name", *rt}};
  }

  json::Object engine;
  for (auto& m : pred.as_object())
    if (m.key != "model" && m.key != "workerSpec" && m.key != "containers")
      engine.set(m.key, m.value);

  // The runner: the container named ome-container, or whose name mentions "ome", or the first.
  json::Value runner;
  json::Array others;
  if (auto* cs = pred.get("containers"); cs && cs->is_array() && !cs->as_array().empty()) {
    const auto& list = cs->as_array();
    size_t pick = list.size();
    for (size_t i = 0; i < list.size() && pick == list.size(); ++i) {
      std::string n = list[i].string_or("name");
      std::string lower = n;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      if (n == "ome-container" || lower.find("ome") != std::string::npos)
        pick = i;
    }
    if (pick == list.size())
      pick = 0;
    runner = list[pick];
    for (size_t i = 0; i < list.size(); ++i)
      if (i != pick)
        others.push_back(list[i]);
  } else if (model && model->is_object()) {
    json::Object c;
    for (auto& m : model->as_object())
      if (!is_model_ref_field(m.key))
        c.set(m.key, m.value);
    if (c.find("name"))
      runner = std::move(c);
  }
  if (runner.is_object() && model && model->is_object()) {
    if (auto* env = model->get("env"); env && env->is_array() && pred.get("containers"))
      for (auto& e : env->as_array()) {
        if (!runner["env"].is_array())
          runner["env"] = json::Array{};
        runner["env"].as_array().push_back(e);
      }
    append_env(runner, "STORAGE_URI", model->get("storageUri"));
    append_env(runner, "PROTOCOL_VERSION", model->get("protocolVersion"));
  }
  if (runner.is_object())
    engine.set("runner", std::move(runner));
  if (!others.empty())
    engine.set("containers", std::move(others));
  if (auto* w = pred.get("workerSpec"); non_empty(w))
    engine.set("worker", *w);
  spec["engine"] = std::move(engine);
  spec.as_object().erase("predictor");
  return out;
}

}  // namespace omed::render
