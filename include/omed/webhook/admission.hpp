// Admission webhooks for the ome.io kinds (OME's /mutate-* and /validate-* endpoints): the
// AdmissionReview v1 envelope, the InferenceService defaults, and the same rules reconcile runs.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "omed/api/field_error.hpp"
#include "omed/common/json.hpp"

namespace omed::webhook {

// The parts of admission.k8s.io/v1 AdmissionRequest omed reads.
struct AdmissionRequest {
  std::string api_version;  // echoed in the response ("admission.k8s.io/v1")
  std::string uid;
  std::string group, version, kind;  // request.kind
  std::string resource;              // request.resource.resource ("inferenceservices")
  std::string sub_resource;
  std::string name;
  std::string namespace_;
  std::string operation;  // CREATE | UPDATE | DELETE | CONNECT
  json::Value object;     // null on DELETE
  json::Value old_object; // set on UPDATE and DELETE
  bool dry_run = false;
};

// admission.k8s.io/v1 AdmissionResponse.
struct AdmissionResponse {
  std::string uid;
  bool allowed = true;
  int code = 200;              // status.code when denied
  std::string reason;          // status.reason when denied ("Invalid", "BadRequest", ...)
  std::string message;         // status.message when denied
  api::ErrorList causes;       // status.details.causes when denied
  std::string kind;            // status.details.kind
  std::string name;            // status.details.name
  json::Array patch;           // RFC 6902 operations; empty: no patch
  std::vector<std::string> warnings;
};

// Decodes an AdmissionReview body. False (with `error`) when it is not one.
bool decode_review(const json::Value& review, AdmissionRequest& out, std::string& error);
// The AdmissionReview answering `req`; the patch is base64 of its JSON text (patchType JSONPatch).
json::Value encode_review(const AdmissionResponse& resp, const std::string& api_version);

// Other runtimes of one scope (kind "ServingRuntime" with a namespace, or "ClusterServingRuntime"
// with ""), as JSON objects. May throw; the review then fails closed.
using RuntimeLister = std::function<std::vector<json::Value>(const std::string& kind, const std::string& ns)>;

struct Context {
  RuntimeLister list_runtimes;  // unset: the cross-runtime priority check is skipped
};

// One registered endpoint: its path, whether it mutates, and the kind it admits.
struct Endpoint {
  std::string path;
  bool mutating = false;
  std::string kind;
};
const std::vector<Endpoint>& endpoints();
const Endpoint* find_endpoint(const std::string& path);

// The review of one request on one endpoint. Pure apart from ctx.list_runtimes.
AdmissionResponse review(const Endpoint& ep, const AdmissionRequest& req, const Context& ctx);

// Kind rules, exposed for tests. `obj` is the incoming object (namespace filled in).
AdmissionResponse validate_inference_service(const AdmissionRequest& req, const json::Value& obj);
AdmissionResponse validate_runtime(const AdmissionRequest& req, const json::Value& obj, const Context& ctx);
AdmissionResponse validate_benchmark_job(const AdmissionRequest& req, const json::Value& obj);
// The JSONPatch making omed's implicit InferenceService defaults explicit (empty: nothing to add):
// minReplicas 1 for a component when neither it nor the runtime it names sets one.
json::Array inference_service_defaults(const json::Value& isvc, const Context& ctx);
// "/" and "~" escaped for a JSON pointer segment (RFC 6901 §3).
std::string pointer_escape(const std::string& segment);

// Shared by the kind rules: a denial carrying every error, API-server style (code 422).
AdmissionResponse deny_invalid(const AdmissionRequest& req, const json::Value& obj, api::ErrorList errors);
// Blanks the values of errors under env fields: an env value may be a credential.
void redact_secret_values(api::ErrorList& errors);

// The HTTP side without a server: status, body and content type for a request on `path`.
struct HttpAnswer {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};
HttpAnswer handle_http(const std::string& method, const std::string& path, const std::string& body,
                       const Context& ctx);

}  // namespace omed::webhook
