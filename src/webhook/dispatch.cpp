// From a path and a body to an answer: OME's webhook paths, which requests skip the rules
// (deletes, subresources, objects on their way out), and the kind each path admits.
#include "omed/api/validation.hpp"
#include "omed/log/logger.hpp"
#include "omed/webhook/admission.hpp"

namespace omed::webhook {

namespace {

AdmissionResponse allow(const AdmissionRequest& req) {
  AdmissionResponse r;
  r.uid = req.uid;
  return r;
}

AdmissionResponse deny(const AdmissionRequest& req, int code, std::string reason, std::string message) {
  AdmissionResponse r;
  r.uid = req.uid;
  r.allowed = false;
  r.code = code;
  r.reason = std::move(reason);
  r.message = std::move(message);
  return r;
}

HttpAnswer text(int status, std::string body) {
  return HttpAnswer{status, std::move(body) + "\n", "text/plain; charset=utf-8"};
}

}  // namespace

const std::vector<Endpoint>& endpoints() {
  static const std::vector<Endpoint> all = {
    {"/mutate-ome-io-v1beta1-inferenceservice", true, "InferenceService"},
    {"/validate-ome-io-v1beta1-inferenceservice", false, "InferenceService"},
    {"/validate-ome-io-v1beta1-servingruntime", false, "ServingRuntime"},
    {"/validate-ome-io-v1beta1-clusterservingruntime", false, "ClusterServingRuntime"},
    {"/validate-ome-io-v1beta1-benchmarkjob", false, "BenchmarkJob"},
    {"/validate-ome-io-v1beta1-basemodel", false, "BaseModel"},
    {"/validate-ome-io-v1beta1-clusterbasemodel", false, "ClusterBaseModel"},
    {"/validate-ome-io-v1beta1-finetunedweight", false, "FineTunedWeight"},
    {"/validate-ome-io-v1beta1-acceleratorclass", false, "AcceleratorClass"},
  };
  return all;
}

const Endpoint* find_endpoint(const std::string& path) {
  for (auto& e : endpoints())
    if (e.path == path)
      return &e;
  return nullptr;
}

AdmissionResponse review(const Endpoint& ep, const AdmissionRequest& req, const Context& ctx) {
  // Nothing about an object can make its removal wrong; CONNECT carries no object.
  if (req.operation == "DELETE" || req.operation == "CONNECT")
    return allow(req);
  if (req.group != "ome.io" || req.kind != ep.kind)
    return deny(req, 400, "BadRequest",
                "the webhook " + ep.path + " admits ome.io " + ep.kind + " objects, got " +
                  (req.group.empty() ? std::string("core") : req.group) + " " + req.kind +
                  ": check the webhook configuration's rules");
  // Status and other subresources are written by controllers; the spec rules are not theirs.
  if (!req.sub_resource.empty())
    return allow(req);
  if (!req.object.is_object())
    return deny(req, 400, "BadRequest", "request.object must be a " + ep.kind + " object");
  if (auto k = req.object.string_or("kind"); !k.empty() && k != ep.kind)
    return deny(req, 400, "BadRequest", "request.object is a " + k + ", not a " + ep.kind);
  if (ep.mutating) {
    AdmissionResponse r = allow(req);
    r.patch = inference_service_defaults(req.object, ctx);
    return r;
  }
  // An object being deleted only loses finalizers: refusing that over rules tightened since it
  // was stored would make it undeletable.
  if (req.operation == "UPDATE" && req.object.at_path("metadata.deletionTimestamp"))
    return allow(req);
  // The API server fills metadata.namespace before admission; a hand-made review may not.
  json::Value obj = req.object;
  if (auto* md = obj.get("metadata"); !req.namespace_.empty() && md && md->is_object()) {
    auto* ns = md->get("namespace");
    if (!ns || !ns->is_string() || ns->as_string().empty())
      (*md)["namespace"] = req.namespace_;
  }
  if (ep.kind == "InferenceService")
    return validate_inference_service(req, obj);
  if (ep.kind == "ServingRuntime" || ep.kind == "ClusterServingRuntime")
    return validate_runtime(req, obj, ctx);
  if (ep.kind == "BenchmarkJob")
    return validate_benchmark_job(req, obj);
  auto vr = api::validate_object(obj);
  if (!vr.ok()) {
    auto r = deny_invalid(req, obj, std::move(vr.errors));
    r.warnings = std::move(vr.warnings);
    return r;
  }
  auto r = allow(req);
  r.warnings = std::move(vr.warnings);
  return r;
}

HttpAnswer handle_http(const std::string& method, const std::string& path, const std::string& body,
                       const Context& ctx) {
  log::Logger lg("webhook");
  const Endpoint* ep = find_endpoint(path);
  if (!ep)
    return text(404, "no admission webhook at " + path);
  if (method != "POST")
    return text(405, "admission webhooks take POST, not " + method);
  json::Value doc;
  std::string err;
  if (!json::try_parse(body, doc, err))
    return text(400, "the body is not JSON: " + err);
  AdmissionRequest req;
  if (!decode_review(doc, req, err))
    return text(400, "the body is not an AdmissionReview: " + err);
  AdmissionResponse resp;
  try {
    resp = review(*ep, req, ctx);
  } catch (const std::exception& e) {
    // Fail closed with an answer the API server can show, never a dropped connection.
    resp = deny(req, 500, "InternalError", std::string("admission failed: ") + e.what());
  }
  // The object itself is never logged: it may hold credentials. Messages carry redacted values.
  auto line = resp.allowed ? lg.debug("admission") : lg.info("admission denied");
  line.kv("path", path)
    .kv("uid", req.uid)
    .kv("kind", req.kind)
    .kv("namespace", req.namespace_)
    .kv("name", req.name)
    .kv("operation", req.operation)
    .kv("dry_run", req.dry_run)
    .kv("allowed", resp.allowed)
    .kv("patch_ops", resp.patch.size());
  if (!resp.allowed)
    line.kv("code", resp.code).kv("message", resp.message);
  return HttpAnswer{200, json::dump(encode_review(resp, req.api_version)), "application/json"};
}

}  // namespace omed::webhook
