// The reconcile of pvc:// models: a parse Job per storage spec, its pod's termination message read
// back as the model's facts. Pure functions over the model, its owned Job and the Job's pods.
#include "omed/controller/pvc_model.hpp"

#include <openssl/sha.h>

#include <algorithm>

#include "omed/controller/model_status.hpp"
#include "omed/model/storage_uri.hpp"

namespace omed::controller {

namespace {

std::string text_at(const json::Value& v, const char* path) {
  const json::Value* p = v.at_path(path);
  return p && p->is_string() ? p->as_string() : std::string();
}

std::string hex_sha256(std::string_view s, size_t len) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < SHA256_DIGEST_LENGTH && out.size() < len; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 15];
  }
  out.resize(len);
  return out;
}

// "BaseModel/ns/name" or "ClusterBaseModel/name": which resource actor a parse pod wakes.
std::string model_display_key(const json::Value& model) {
  std::string ns = text_at(model, "metadata.namespace");
  std::string name = text_at(model, "metadata.name");
  return model.string_or("kind") + "/" + (ns.empty() ? name : ns + "/" + name);
}

struct CurrentCondition {
  std::string status, reason, message;
};

CurrentCondition current_condition(const json::Value& obj, const std::string& type) {
  const json::Value* cs = obj.at_path("status.conditions");
  if (cs && cs->is_array())
    for (auto& c : cs->as_array())
      if (c.string_or("type") == type)
        return {c.string_or("status"), c.string_or("reason"), c.string_or("message")};
  return {};
}

bool condition_true(const json::Value& obj, const char* type) {
  auto* c = find_condition(obj, type);
  return c && c->string_or("status") == "True";
}

std::string condition_message(const json::Value& obj, const char* type) {
  auto* c = find_condition(obj, type);
  return c ? c->string_or("message") : "";
}

std::string storage_uri_text(const json::Value& model) { return text_at(model, "spec.storage.storageUri"); }

}  // namespace

bool is_pvc_model(const json::Value& model) { return storage_uri_text(model).rfind("pvc://", 0) == 0; }

ParseJobTarget parse_job_target(const json::Value& model) {
  ParseJobTarget t;
  std::string err;
  auto uri = model::parse_storage_uri(storage_uri_text(model), err);
  if (!uri || uri->type != model::StorageType::PVC) {
    t.error = uri ? "storageUri is not a pvc:// URI" : err;
    return t;
  }
  std::string own_ns = text_at(model, "metadata.namespace");
  if (model.string_or("kind") == "ClusterBaseModel") {
    if (uri->namespace_.empty()) {
      t.error = "a ClusterBaseModel's pvc:// URI must name the claim's namespace: pvc://NAMESPACE:" + uri->claim +
                (uri->prefix.empty() ? "" : "/" + uri->prefix);
      return t;
    }
    t.ns = uri->namespace_;
  } else {
    // A namespaced model must not make the controller mount another namespace's volume: that would
    // hand the namespace's users data they cannot read themselves.
    if (!uri->namespace_.empty() && uri->namespace_ != own_ns) {
      t.error = "a BaseModel can read only claims in its own namespace (" + own_ns + "), not " + uri->namespace_ +
                ": use a ClusterBaseModel for pvc://" + uri->namespace_ + ":" + uri->claim;
      return t;
    }
    t.ns = own_ns;
  }
  t.claim = uri->claim;
  std::string sub = uri->prefix;
  while (!sub.empty() && sub.front() == '/')
    sub.erase(sub.begin());
  while (!sub.empty() && sub.back() == '/')
    sub.pop_back();
  t.subpath = sub;
  return t;
}

std::string parse_job_name(const json::Value& model) {
  const json::Value* storage = model.at_path("spec.storage");
  std::string fp = model_display_key(model) + "\n" + (storage ? json::dump(json::sorted(*storage)) : "{}");
  std::string hash = hex_sha256(fp, 10);
  std::string part = text_at(model, "metadata.name");
  for (auto& c : part)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
      c = '-';
  constexpr size_t kMaxPart = 63 - 6 /* "parse-" */ - 1 /* "-" */ - 10;
  if (part.size() > kMaxPart)
    part.resize(kMaxPart);
  while (!part.empty() && part.back() == '-')
    part.pop_back();
  return "parse-" + (part.empty() ? "" : part + "-") + hash;
}

json::Value render_parse_job(const json::Value& model, const ParseJobTarget& t, const ParseJobSettings& s) {
  std::string uid = text_at(model, "metadata.uid");
  std::string model_key = model_display_key(model);
  std::string dir = std::string(kParseMountPath) + (t.subpath.empty() ? "" : "/" + t.subpath);
  json::Object pod_labels{{kParseRoleLabel, kParseRoleValue}};
  json::Object job_labels{{"app.kubernetes.io/managed-by", "omed"},
                          {"app.kubernetes.io/component", "model-parser"},
                          {kParseRoleLabel, kParseRoleValue}};
  if (!uid.empty()) {
    pod_labels.set(kParseModelUidLabel, uid);
    job_labels.set(kParseModelUidLabel, uid);
  }
  json::Object annotations{{kParseModelAnnotation, model_key}};
  json::Object container{
    {"name", kParseContainer},
    {"image", s.image},
    {"imagePullPolicy", "IfNotPresent"},
    {"command", json::Array{"omed"}},
    {"args", json::Array{"parse-model", "--dir", dir}},
    {"terminationMessagePath", "/dev/termination-log"},
    {"terminationMessagePolicy", "File"},
    {"volumeMounts", json::Array{json::Object{{"name", "model"}, {"mountPath", kParseMountPath}, {"readOnly", true}}}},
    {"resources", json::Object{{"requests", json::Object{{"cpu", "100m"}, {"memory", "128Mi"}}},
                               {"limits", json::Object{{"memory", "1Gi"}}}}},
    {"securityContext", json::Object{{"allowPrivilegeEscalation", false},
                                     {"readOnlyRootFilesystem", true},
                                     {"capabilities", json::Object{{"drop", json::Array{"ALL"}}}}}},
  };
  json::Object pod_spec{
    {"restartPolicy", "Never"},
    // Parsing needs no API access and no service discovery.
    {"automountServiceAccountToken", false},
    {"enableServiceLinks", false},
    {"containers", json::Array{std::move(container)}},
    {"volumes", json::Array{json::Object{
                  {"name", "model"},
                  {"persistentVolumeClaim", json::Object{{"claimName", t.claim}, {"readOnly", true}}}}}},
  };
  json::Object owner{{"apiVersion", model.string_or("apiVersion", "ome.io/v1beta1")},
                     {"kind", model.string_or("kind")},
                     {"name", text_at(model, "metadata.name")},
                     {"uid", uid},
                     {"controller", true},
                     {"blockOwnerDeletion", true}};
  return json::Object{
    {"apiVersion", "batch/v1"},
    {"kind", "Job"},
    {"metadata", json::Object{{"name", parse_job_name(model)},
                              {"namespace", t.ns},
                              {"labels", job_labels},
                              {"annotations", annotations},
                              {"ownerReferences", json::Array{std::move(owner)}}}},
    {"spec", json::Object{{"backoffLimit", s.backoff_limit},
                          {"activeDeadlineSeconds", s.active_deadline_seconds},
                          {"ttlSecondsAfterFinished", s.ttl_seconds_after_finished},
                          {"template", json::Object{{"metadata", json::Object{{"labels", pod_labels},
                                                                              {"annotations", annotations}}},
                                                    {"spec", std::move(pod_spec)}}}}},
  };
}

ParsePod parse_pod_from(const json::Value& pod) {
  ParsePod p;
  p.name = text_at(pod, "metadata.name");
  p.phase = text_at(pod, "status.phase");
  const json::Value* cs = pod.at_path("status.containerStatuses");
  if (cs && cs->is_array())
    for (auto& c : cs->as_array()) {
      if (c.string_or("name") != kParseContainer)
        continue;
      if (const json::Value* w = c.at_path("state.waiting"); w && w->is_object()) {
        std::string reason = w->string_or("reason"), message = w->string_or("message");
        if (!message.empty() || (reason != "ContainerCreating" && reason != "PodInitializing"))
          p.waiting = reason + (message.empty() ? "" : ": " + message);
      }
      const json::Value* term = c.at_path("state.terminated");
      if (!term || !term->is_object())
        continue;
      p.terminated = true;
      p.exit_code = term->int_at("exitCode").value_or(-1);
      p.reason = term->string_or("reason");
      p.message = term->string_or("message");
      p.finished_at = term->string_or("finishedAt");
    }
  return p;
}

Plan pvc_model_plan(Plan p, const Input& in, const PvcModelContext& ctx) {
  const json::Value& obj = in.object;
  CurrentCondition ready_now = current_condition(obj, "Ready");
  std::string state_now = text_at(obj, "status.state");
  auto set_state = [&](const char* state, const std::string& status, const std::string& reason, const std::string& msg) {
    p.status.set("state", state);
    p.conditions.push_back({"Ready", status, reason, msg});
  };

  ParseJobTarget t = parse_job_target(obj);
  if (!t.error.empty()) {
    set_state("Failed", "False", "InvalidStorage", t.error);
    if (ready_now.reason != "InvalidStorage" || ready_now.message != t.error)
      p.events.push_back({"Warning", "InvalidStorage", "Parse", t.error});
    return p;
  }
  std::string job_name = parse_job_name(obj);
  std::string job_ref = "Job " + t.ns + "/" + job_name;
  std::string uri = storage_uri_text(obj);

  // Facts already in for this storage: the Job (gone after its TTL) is not wanted again.
  if (condition_true(obj, "Parsed") && condition_message(obj, "Parsed").find(job_ref + " ") != std::string::npos)
    return p;

  p.apply.push_back(render_parse_job(obj, t, ctx.settings));
  auto job_it = in.owned.find("Job/" + t.ns + "/" + job_name);
  const json::Value* job = job_it != in.owned.end() && job_it->second ? job_it->second.get() : nullptr;

  const ParsePod* success = nullptr;
  const ParsePod* last_failure = nullptr;
  int64_t failures = 0;
  for (auto& pod : ctx.pods) {
    if (pod.terminated && pod.exit_code == 0) {
      if (!success || pod.finished_at > success->finished_at)
        success = &pod;
    } else if ((pod.terminated && pod.exit_code != 0) || pod.phase == "Failed") {
      ++failures;
      if (!last_failure || pod.finished_at > last_failure->finished_at)
        last_failure = &pod;
    }
  }
  auto failure_words = [&](const ParsePod& pod) {
    if (!pod.message.empty())
      return failure_line(pod.message);
    if (!pod.reason.empty())
      return "container ended with " + pod.reason + " (exit code " + std::to_string(pod.exit_code) + ")";
    return std::string("pod failed");
  };
  auto fail = [&](const std::string& reason, const std::string& msg) {
    set_state("Failed", "False", reason, msg);
    p.conditions.push_back({"Parsed", "False", "JobFailed", msg});
    if (ready_now.reason != reason || ready_now.message != msg)
      p.events.push_back({"Warning", reason, "Parse", msg});
  };

  if (success) {
    ParseReport report = decode_parse_report(success->message);
    if (!report.error.empty()) {
      fail("ParseReportInvalid", job_ref + " completed but its report cannot be used: " + report.error);
      return p;
    }
    std::string what = report.config.string_or("modelArchitecture", report.config.string_or("modelType", "model"));
    if (auto n = report.config.int_at("parameterCount"))
      what += ", " + std::to_string(*n) + " parameters";
    else if (!report.config.string_or("modelParameterSize").empty())
      what += ", " + report.config.string_or("modelParameterSize") + " parameters";
    std::string msg = "parsed from " + uri + " by " + job_ref + ": " + what;
    set_state("Ready", "True", "ModelParsed", msg);
    p.conditions.push_back({"Parsed", "True", "JobSucceeded", "facts read by " + job_ref + " from " + uri});
    if (state_now != "Ready" || ready_now.reason != "ModelParsed")
      p.events.push_back({"Normal", "ModelParsed", "Parse", msg});
    p.spec_fill = spec_fill_from(obj, report.config);
    return p;
  }

  bool job_failed = false;
  std::string job_failure;
  if (job) {
    const json::Value* cs = job->at_path("status.conditions");
    if (cs && cs->is_array())
      for (auto& c : cs->as_array())
        if (c.string_or("type") == "Failed" && c.string_or("status") == "True") {
          job_failed = true;
          job_failure = c.string_or("reason") + ": " + c.string_or("message");
        }
  }
  if (job_failed || failures > ctx.settings.backoff_limit) {
    std::string msg = job_ref + " failed: " + (last_failure ? failure_words(*last_failure) : failure_line(job_failure));
    // Pods gone (or not yet indexed after a restart): the words stored from them still hold.
    if (!last_failure && ready_now.reason == "ParseFailed" && ready_now.message.rfind(job_ref + " failed: ", 0) == 0)
      msg = ready_now.message;
    fail("ParseFailed", msg);
    return p;
  }

  std::string msg = job_ref + " is reading " + uri;
  for (auto& pod : ctx.pods)
    if (!pod.waiting.empty() && !pod.terminated) {
      msg += "; pod " + pod.name + " is waiting: " + failure_line(pod.waiting);
      break;
    }
  if (last_failure)
    msg += "; retrying after: " + failure_words(*last_failure);
  set_state("In_Transit", "False", "Parsing", msg);
  p.conditions.push_back({"Parsed", "False", "JobRunning", job_ref + " has not reported yet"});
  if (ready_now.reason != "Parsing" || ready_now.message.find(job_ref + " ") == std::string::npos)
    p.events.push_back({"Normal", "ParseJobCreated", "Parse", job_ref + " reads " + uri + " to learn the model's facts"});
  // A safety net: the pod watch wakes the model, this catches a missed event.
  p.requeue_after = std::chrono::seconds(30);
  return p;
}

}  // namespace omed::controller
