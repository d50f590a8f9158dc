// The AdmissionReview envelope (admission.k8s.io/v1), as documented in "kube-apiserver Admission
// (v1)" (https://kubernetes.io/docs/reference/config-api/apiserver-admission.v1/) and "Dynamic
// Admission Control" (kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/):
// the API server POSTs {apiVersion, kind: AdmissionReview, request{uid, kind{group,version,kind},
// resource, subResource, name, namespace, operation, userInfo, object, oldObject, dryRun, options}}
// and expects back the same apiVersion/kind with response{uid (copied from the request), allowed,
// status{code, message} when denied, patchType "JSONPatch" + patch (base64 of an RFC 6902 array),
// warnings}.
#include "omed/common/base64.hpp"
#include "omed/webhook/admission.hpp"

namespace omed::webhook {

namespace {

std::string str_at(const json::Value& v, const char* key) {
  auto* x = v.get(key);
  return x && x->is_string() ? x->as_string() : std::string();
}

}  // namespace

bool decode_review(const json::Value& review, AdmissionRequest& out, std::string& error) {
  if (!review.is_object()) {
    error = "an AdmissionReview must be a JSON object";
    return false;
  }
  out.api_version = str_at(review, "apiVersion");
  // v1beta1 has the same shape; a configuration listing it still gets a well-formed answer.
  if (out.api_version != "admission.k8s.io/v1" && out.api_version != "admission.k8s.io/v1beta1") {
    error = "apiVersion must be admission.k8s.io/v1, got \"" + out.api_version + "\"";
    return false;
  }
  if (str_at(review, "kind") != "AdmissionReview") {
    error = "kind must be AdmissionReview, got \"" + str_at(review, "kind") + "\"";
    return false;
  }
  auto* req = review.get("request");
  if (!req || !req->is_object()) {
    error = "request is missing";
    return false;
  }
  out.uid = str_at(*req, "uid");
  if (out.uid.empty()) {
    error = "request.uid is missing";
    return false;
  }
  if (auto* k = req->get("kind"); k && k->is_object()) {
    out.group = str_at(*k, "group");
    out.version = str_at(*k, "version");
    out.kind = str_at(*k, "kind");
  }
  if (auto* r = req->get("resource"); r && r->is_object())
    out.resource = str_at(*r, "resource");
  out.sub_resource = str_at(*req, "subResource");
  out.name = str_at(*req, "name");
  out.namespace_ = str_at(*req, "namespace");
  out.operation = str_at(*req, "operation");
  if (out.operation.empty()) {
    error = "request.operation is missing";
    return false;
  }
  if (auto* o = req->get("object"))
    out.object = *o;
  if (auto* o = req->get("oldObject"))
    out.old_object = *o;
  if (auto* d = req->get("dryRun"); d && d->is_bool())
    out.dry_run = d->as_bool();
  return true;
}

json::Value encode_review(const AdmissionResponse& resp, const std::string& api_version) {
  json::Object r{{"uid", resp.uid}, {"allowed", resp.allowed}};
  if (!resp.allowed) {
    // A metav1.Status like the API server's own errors, so kubectl prints the causes.
    json::Object status{{"metadata", json::Object{}},
                        {"status", "Failure"},
                        {"message", resp.message},
                        {"reason", resp.reason.empty() ? std::string("Invalid") : resp.reason},
                        {"code", resp.code}};
    if (!resp.causes.empty() || !resp.kind.empty()) {
      json::Array causes;
      for (auto& c : resp.causes)
        causes.push_back(json::Object{{"reason", c.cause_reason()}, {"message", c.to_string()}, {"field", c.field}});
      json::Object details{{"name", resp.name}, {"group", "ome.io"}, {"kind", resp.kind}};
      if (!causes.empty())
        details.set("causes", std::move(causes));
      status.set("details", std::move(details));
    }
    r.set("status", std::move(status));
  }
  if (!resp.patch.empty()) {
    r.set("patchType", "JSONPatch");
    r.set("patch", common::base64_encode(json::dump(json::Value(resp.patch))));
  }
  if (!resp.warnings.empty()) {
    json::Array w;
    for (auto& s : resp.warnings)
      w.push_back(s);
    r.set("warnings", std::move(w));
  }
  return json::Object{{"apiVersion", api_version.empty() ? std::string("admission.k8s.io/v1") : api_version},
                      {"kind", "AdmissionReview"},
                      {"response", std::move(r)}};
}

AdmissionResponse deny_invalid(const AdmissionRequest& req, const json::Value& obj, api::ErrorList errors) {
  redact_secret_values(errors);
  AdmissionResponse r;
  r.uid = req.uid;
  r.allowed = false;
  r.code = 422;
  r.reason = "Invalid";
  r.kind = req.kind;
  r.name = obj.at_path("metadata.name") && obj.at_path("metadata.name")->is_string()
             ? obj.at_path("metadata.name")->as_string()
             : req.name;
  r.message = api::invalid_message(req.kind + ".ome.io", r.name, errors);
  r.causes = std::move(errors);
  return r;
}

void redact_secret_values(api::ErrorList& errors) {
  // Container env values (podOverride.env, runner env, ...) and anything under a Secret-like
  // key may carry credentials: the field path stays, the value does not leave the process.
  auto secret_path = [](const std::string& field) {
    for (const char* marker : {".env[", ".env.", ".envFrom"})
      if (field.find(marker) != std::string::npos)
        return true;
    return field.size() >= 4 && field.compare(field.size() - 4, 4, ".env") == 0;
  };
  for (auto& e : errors)
    if (secret_path(e.field) && !e.value.is_null())
      e.value = "[redacted]";
}

std::string pointer_escape(const std::string& segment) {
  std::string out;
  for (char c : segment) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

}  // namespace omed::webhook
