// FineTunedWeight status: Ready only when a node holds the adapter, the base model is Ready and
// the adapter fits it. Mismatches are listed in words, so the user sees what to change.
#include "omed/controller/fine_tuned_status.hpp"

#include <cstdio>

#include "omed/controller/adapter_compat.hpp"
#include "omed/controller/admission.hpp"
#include "omed/model/adapter_config.hpp"
#include "omed/model/storage_uri.hpp"

namespace omed::controller {

namespace {

std::string text_at(const json::Value& v, std::string_view path) {
  const json::Value* p = v.at_path(path);
  return p && p->is_string() ? p->as_string() : std::string();
}

std::optional<int64_t> int_in(const json::Value& v, const char* key) {
  const json::Value* x = v.get(key);
  return x && x->is_int() ? std::optional<int64_t>(x->as_int()) : std::nullopt;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i)
    out += (i ? sep : "") + v[i];
  return out;
}

std::string number(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", d);
  return buf;
}

// "LORA r=8 alpha=16 on q_proj, v_proj (6144 parameters)": what the condition says the adapter is.
std::string describe(const model::AdapterFacts& a) {
  std::string s = a.config.peft_type.empty() ? std::string("adapter") : a.config.peft_type;
  if (a.config.rank)
    s += " r=" + std::to_string(*a.config.rank);
  if (a.config.alpha)
    s += " alpha=" + number(*a.config.alpha);
  if (!a.config.target_modules.empty())
    s += " on " + join(a.config.target_modules, ", ");
  else if (!a.config.target_modules_regex.empty())
    s += " on modules matching " + a.config.target_modules_regex;
  if (a.has_weights)
    s += " (" + std::to_string(a.weights.parameter_count) + " parameters)";
  return s;
}

std::string describe(const model::ModelFacts& b) {
  std::vector<std::string> parts;
  if (!b.architecture.empty())
    parts.push_back(b.architecture);
  else if (!b.model_type.empty())
    parts.push_back(b.model_type);
  if (b.hidden_size)
    parts.push_back("hidden size " + std::to_string(*b.hidden_size));
  if (b.num_layers)
    parts.push_back(std::to_string(*b.num_layers) + " layers");
  return parts.empty() ? std::string() : " (" + join(parts, ", ") + ")";
}

std::string hf_repo_of(const json::Value& base) {
  std::string err;
  auto uri = model::parse_storage_uri(text_at(base, "spec.storage.storageUri"), err);
  return uri && uri->type == model::StorageType::HuggingFace ? uri->repo : std::string();
}

}  // namespace

agent::ModelRef base_model_ref(const json::Value& ftw) {
  agent::ModelRef r;
  r.name = text_at(ftw, "spec.baseModelRef.name");
  r.ns = text_at(ftw, "spec.baseModelRef.namespace");
  r.kind = r.ns.empty() ? "ClusterBaseModel" : "BaseModel";
  return r;
}

model::ModelFacts base_facts(const json::Value& base, const std::vector<NodeReport>& reports) {
  model::ModelFacts f;
  ReportRollup roll = roll_up(reports);
  if (roll.first_ready && roll.first_ready->entry.config.is_object()) {
    const json::Value& c = roll.first_ready->entry.config;
    f.model_type = c.string_or("modelType");
    f.architecture = c.string_or("modelArchitecture");
    f.hidden_size = int_in(c, "hiddenSize");
    f.num_layers = int_in(c, "numHiddenLayers");
  }
  if (f.model_type.empty())
    f.model_type = text_at(base, "spec.modelType");
  if (f.architecture.empty())
    f.architecture = text_at(base, "spec.modelArchitecture");
  return f;
}

Plan fine_tuned_plan(const Input& in, const std::vector<NodeReport>& reports, const BaseModelView& base) {
  Plan p = admission_plan(in);
  if (!accepted(p))
    return p;
  const json::Value& obj = in.object;
  ReportRollup roll = roll_up(reports);
  if (is_deleting(obj)) {
    // The agents remove the files and their entries first, as for models.
    p.cleanup_done = roll.ready.empty() && roll.failed.empty() && roll.updating.empty();
    if (!p.cleanup_done)
      p.requeue_after = std::chrono::seconds(30);
    return p;
  }
  json::Array jr, jf;
  for (auto& n : roll.ready)
    jr.emplace_back(n);
  for (auto& n : roll.failed)
    jf.emplace_back(n);
  p.status.set("nodesReady", json::Value(std::move(jr)));
  p.status.set("nodesFailed", json::Value(std::move(jf)));
  p.status.set("progress", progress_status(roll));
  if (!roll.updating.empty())
    p.requeue_after = std::chrono::seconds(5);

  // The base model: does it exist, is it Ready, does the adapter fit it.
  const std::string base_name = base.ref.display();
  bool have_adapter = roll.first_ready && roll.first_ready->entry.config.is_object();
  model::AdapterFacts adapter;
  if (have_adapter)
    adapter = model::adapter_facts_from_json(roll.first_ready->entry.config);
  Condition compat{"BaseModelCompatible", "Unknown", "", ""};
  if (base.ref.name.empty()) {
    compat = {"BaseModelCompatible", "False", "BaseModelNotFound", "spec.baseModelRef.name is empty"};
  } else if (!base.object || is_deleting(*base.object)) {
    compat = {"BaseModelCompatible", "False", "BaseModelNotFound",
              base_name + " does not exist" +
                (base.ref.ns.empty() ? std::string(" (baseModelRef has no namespace, so a ClusterBaseModel is meant)")
                                     : std::string())};
  } else if (text_at(*base.object, "status.state") != "Ready") {
    std::string state = text_at(*base.object, "status.state");
    compat = {"BaseModelCompatible", "Unknown", "BaseModelNotReady",
              base_name + " is " + (state.empty() ? std::string("not Ready yet") : state + ", not Ready")};
  } else if (!have_adapter) {
    compat = {"BaseModelCompatible", "Unknown", "WaitingForAdapter",
              "the adapter has not been inspected on any node yet"};
  } else {
    model::ModelFacts bf = base_facts(*base.object, base.reports);
    AdapterCompatibility c = check_adapter_against_base(adapter, bf, hf_repo_of(*base.object));
    std::string notes = c.warnings.empty() ? std::string() : "; note: " + join(c.warnings, "; ");
    if (!c.compatible())
      compat = {"BaseModelCompatible", "False", "ArchitectureMismatch",
                "does not fit " + base_name + describe(bf) + ": " + join(c.mismatches, "; ") + notes};
    else
      compat = {"BaseModelCompatible", "True", "Compatible", "fits " + base_name + describe(bf) + notes};
  }

  std::string state;
  Condition ready{"Ready", "False", "", ""};
  if (compat.reason == "ArchitectureMismatch" || compat.reason == "BaseModelNotFound") {
    state = "Failed";
    ready = {"Ready", "False", compat.reason, compat.message};
  } else if (roll.ready.empty()) {
    if (!roll.updating.empty()) {
      state = "In_Transit";
      ready = {"Ready", "False", "Downloading",
               "downloading on " + std::to_string(roll.updating.size()) + " node(s): " + join_nodes(roll.updating, 5) +
                 " (" + percent(roll.completed_bytes, roll.total_bytes) + ")"};
    } else if (!roll.failed.empty()) {
      state = "Failed";
      ready = {"Ready", "False", "DownloadFailed", roll.first_failure};
    } else {
      state = "In_Transit";
      ready = {"Ready", "False", "WaitingForNodes",
               "no node has reported these weights yet (check storage.nodeSelector and that the agent runs on "
               "the nodes)"};
    }
  } else if (compat.status != "True") {
    state = "In_Transit";  // the files are here; the base is not (yet)
    ready = {"Ready", "False", compat.reason, compat.message};
  } else {
    state = "Ready";
    std::string msg = describe(adapter) + " ready on " + std::to_string(roll.ready.size()) +
                      " node(s): " + join_nodes(roll.ready, 5);
    if (!roll.failed.empty())
      msg += "; failed on " + std::to_string(roll.failed.size()) + " (" + roll.first_failure + ")";
    ready = {"Ready", "True", "FineTunedWeightReady", msg};
  }
  p.status.set("state", json::Value(state));
  p.conditions.push_back(ready);
  p.conditions.push_back(compat);

  // Events on transitions only, as for models.
  std::string current = text_at(obj, "status.state");
  if (current != state) {
    if (state == "Ready")
      p.events.push_back({"Normal", "FineTunedWeightReady", "Check", ready.message});
    else if (state == "Failed")
      p.events.push_back({"Warning", ready.reason, "Check", ready.message});
  }
  return p;
}

}  // namespace omed::controller
