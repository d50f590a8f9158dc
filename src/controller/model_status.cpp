// Rolling per-node model reports up into one status, as OME's BaseModel controller does, with
// the states OME never sets (a node still downloading is In_Transit, not silently Failed).
#include "omed/controller/model_status.hpp"

#include <algorithm>
#include <cstdio>

#include "omed/controller/admission.hpp"
#include "omed/model/storage_uri.hpp"

namespace omed::controller {

namespace {

bool empty_field(const json::Value* v) {
  if (!v || v->is_null())
    return true;
  if (v->is_string())
    return v->as_string().empty();
  if (v->is_array())
    return v->as_array().empty();
  if (v->is_object())
    return v->as_object().empty();
  return false;
}

}  // namespace

std::string percent(uint64_t done, uint64_t total) {
  if (total == 0)
    return "0%";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.0f%%", 100.0 * static_cast<double>(done) / static_cast<double>(total));
  return buf;
}

std::string join_nodes(const std::vector<std::string>& v, size_t max) {
  std::string out;
  for (size_t i = 0; i < v.size() && i < max; ++i)
    out += (i ? ", " : "") + v[i];
  if (v.size() > max)
    out += ", and " + std::to_string(v.size() - max) + " more";
  return out;
}

ReportRollup roll_up(const std::vector<NodeReport>& reports) {
  ReportRollup r;
  for (const auto& rep : reports) {
    switch (rep.entry.state) {
      case agent::NodeModelState::Ready:
        r.ready.push_back(rep.node);
        if (!r.first_ready || rep.node < r.first_ready->node)
          r.first_ready = &rep;
        break;
      case agent::NodeModelState::Failed:
        r.failed.push_back(rep.node);
        if (r.first_failure.empty())
          r.first_failure = rep.node + ": " + (rep.entry.message.empty() ? "failed" : rep.entry.message);
        break;
      case agent::NodeModelState::Updating:
        r.updating.push_back(rep.node);
        if (rep.entry.progress) {
          r.total_bytes += rep.entry.progress->total_bytes;
          r.completed_bytes += rep.entry.progress->completed_bytes;
        }
        break;
      case agent::NodeModelState::Deleted:
        break;
    }
  }
  std::sort(r.ready.begin(), r.ready.end());
  std::sort(r.failed.begin(), r.failed.end());
  std::sort(r.updating.begin(), r.updating.end());
  return r;
}

json::Value progress_status(const ReportRollup& r) {
  if (r.updating.empty())
    return json::Value(nullptr);
  return json::Value(json::Object{
    {"nodesDownloading", json::Value(static_cast<int64_t>(r.updating.size()))},
    {"completedBytes", json::Value(static_cast<int64_t>(r.completed_bytes))},
    {"totalBytes", json::Value(static_cast<int64_t>(r.total_bytes))},
    {"percent", json::Value(percent(r.completed_bytes, r.total_bytes))},
  });
}

json::Object spec_fill_from(const json::Value& object, const json::Value& config) {
  json::Object fill;
  const json::Value* spec = object.get("spec");
  auto field = [&](const char* k) { return spec ? spec->get(k) : nullptr; };
  auto copy = [&](const char* spec_key, const char* config_key) {
    const json::Value* v = config.get(config_key);
    if (!empty_field(v) && empty_field(field(spec_key)))
      fill.set(spec_key, *v);
  };
  copy("modelType", "modelType");
  copy("modelArchitecture", "modelArchitecture");
  copy("modelParameterSize", "modelParameterSize");
  copy("modelCapabilities", "modelCapabilities");
  copy("maxTokens", "maxTokens");
  copy("quantization", "quantization");
  copy("modelFramework", "modelFramework");
  // modelFormat is required in OME's API (name), so users often set only its name: fill the
  // version alone when the names agree.
  const json::Value* fmt = config.get("modelFormat");
  if (fmt && fmt->is_object()) {
    const json::Value* have = field("modelFormat");
    if (empty_field(have)) {
      fill.set("modelFormat", *fmt);
    } else if (have->is_object() && have->string_or("name") == fmt->string_or("name") &&
               empty_field(have->get("version")) && !fmt->string_or("version").empty()) {
      fill.set("modelFormat", json::Value(json::Object{{"version", json::Value(fmt->string_or("version"))}}));
    }
  }
  return fill;
}

Plan model_plan(const Input& in, const std::vector<NodeReport>& reports, const PvcModelContext& pvc) {
  Plan p = admission_plan(in);
  if (!accepted(p))
    return p;
  const json::Value& obj = in.object;

  ReportRollup roll = roll_up(reports);
  const auto& ready = roll.ready;
  const auto& failed = roll.failed;
  const auto& updating = roll.updating;
  const uint64_t total = roll.total_bytes, done = roll.completed_bytes;
  const NodeReport* facts_from = roll.first_ready;
  const std::string& first_failure = roll.first_failure;

  if (is_deleting(obj)) {
    // The finalizer stays until every node removed the files and its entry (Deleted counts as gone).
    p.cleanup_done = ready.empty() && failed.empty() && updating.empty();
    if (!p.cleanup_done)
      p.requeue_after = std::chrono::seconds(30);
    return p;
  }

  std::string uri = obj.at_path("spec.storage.storageUri") && obj.at_path("spec.storage.storageUri")->is_string()
                      ? obj.at_path("spec.storage.storageUri")->as_string()
                      : std::string();
  if (is_pvc_model(obj))
    return pvc_model_plan(std::move(p), in, pvc);
  if (uri.rfind("vendor://", 0) == 0) {
    // OME's contract: vendor models are provided by the platform, Ready without a download.
    p.status.set("state", "Ready");
    p.conditions.push_back({"Ready", "True", "VendorModel", "provided by the vendor; nothing to download"});
    return p;
  }

  json::Array jr, jf;
  for (auto& n : ready)
    jr.emplace_back(n);
  for (auto& n : failed)
    jf.emplace_back(n);
  p.status.set("nodesReady", json::Value(std::move(jr)));
  p.status.set("nodesFailed", json::Value(std::move(jf)));

  if (!ready.empty()) {
    p.status.set("state", "Ready");
    std::string msg = "ready on " + std::to_string(ready.size()) + " node(s): " + join_nodes(ready, 5);
    if (!failed.empty())
      msg += "; failed on " + std::to_string(failed.size()) + " (" + first_failure + ")";
    if (!updating.empty())
      msg += "; downloading on " + std::to_string(updating.size());
    p.conditions.push_back({"Ready", "True", "ModelReady", msg});
  } else if (!updating.empty()) {
    p.status.set("state", "In_Transit");
    p.conditions.push_back({"Ready", "False", "Downloading",
                            "downloading on " + std::to_string(updating.size()) + " node(s): " +
                              join_nodes(updating, 5) + " (" + percent(done, total) + ")"});
  } else if (!failed.empty()) {
    p.status.set("state", "Failed");
    p.conditions.push_back({"Ready", "False", "DownloadFailed", first_failure});
  } else {
    p.status.set("state", "In_Transit");
    p.conditions.push_back({"Ready", "False", "WaitingForNodes",
                            "no node has reported this model yet (check storage.nodeSelector and that the "
                            "agent runs on the nodes)"});
  }
  p.status.set("progress", progress_status(roll));
  if (!updating.empty())
    p.requeue_after = std::chrono::seconds(5);
  // Events on transitions only: the state the object shows now differs from the one planned.
  const json::Value* cur = obj.at_path("status.state");
  std::string current = cur && cur->is_string() ? cur->as_string() : "";
  std::string next = p.status.find("state")->as_string();
  if (current != next) {
    if (next == "Ready")
      p.events.push_back({"Normal", "ModelReady", "Download", p.conditions.back().message});
    else if (next == "Failed")
      p.events.push_back({"Warning", "DownloadFailed", "Download", first_failure});
  }
  if (facts_from && !facts_from->entry.config.is_null())
    p.spec_fill = spec_fill_from(obj, facts_from->entry.config);
  return p;
}

}  // namespace omed::controller
