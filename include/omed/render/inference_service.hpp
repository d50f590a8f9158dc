// Rendering: an InferenceService, its model and its runtime become the Kubernetes objects that
// serve it (reference ome.md §4.2-4.5), as a pure function the reconciler diffs and applies.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "omed/common/json.hpp"

namespace omed::render {

// Cluster-wide choices an operator makes once (OME's inferenceservice-config ConfigMap), and what
// the cluster has installed (CRDs checked at start).
struct RenderSettings {
  // Ingress: OME ships disableIngressCreation=true; then an in-cluster Service is the entry point.
  bool ingress_creation = false;
  bool gateway_api = false;                     // HTTPRoute instead of Ingress
  std::vector<std::string> gateway_parents;     // "namespace/name" of Gateways (parentRefs)
  std::string ingress_domain = "example.com";
  std::string ingress_class_name;
  std::string url_scheme = "http";
  // Gateway API Inference Extension: an InferencePool over the engine pods.
  bool inference_pool = false;
  std::string endpoint_picker_suffix = "-epp";  // the pool's endpoint picker Service: <isvc>-epp
  // Installed CRDs.
  bool knative = false;
  bool lws = true;
  bool keda = false;
  // Kueue: the LocalQueue workloads are labelled with (an annotation on the InferenceService,
  // kueue.x-k8s.io/queue-name, wins).
  std::string kueue_queue;
};

// One component as rendered: engine, decoder or router.
struct ComponentRender {
  std::string component;   // engine | decoder | router
  std::string mode;        // RawDeployment | MultiNode | Serverless
  std::string name;        // <isvc>-<component>, within 63 characters
  std::string workload_kind;  // Deployment | LeaderWorkerSet | Service (serving.knative.dev)
  std::string workload_name;
  std::string service_name;
  int port = 8080;
  std::string accelerator_class;  // chosen AcceleratorClass, if any
};

struct RenderInput {
  const json::Value& isvc;
  const json::Value& model;     // BaseModel or ClusterBaseModel
  const json::Value& runtime;   // ServingRuntime or ClusterServingRuntime
  int format_index = -1;        // the runtime's supportedModelFormats entry selection scored best
  // Chosen AcceleratorClass objects, by component (engine, decoder).
  std::map<std::string, std::shared_ptr<const json::Value>> accelerators;
  // FineTunedWeight objects spec.model.fineTunedWeights names, in that order.
  std::vector<std::shared_ptr<const json::Value>> fine_tuned;
  const RenderSettings& settings;
};

struct RenderResult {
  std::vector<json::Value> objects;       // everything the InferenceService owns, with ownerReferences
  std::vector<ComponentRender> components;
  std::string entry_component;            // router > decoder > engine
  std::string url;                        // status.url
  std::string address_url;                // status.address.url
  std::vector<std::string> errors;        // invalid combinations: nothing is applied when set
  std::vector<std::string> warnings;
  bool ok() const { return errors.empty(); }
};

RenderResult render_inference_service(const RenderInput& in);

// <isvc>-<suffix> kept within `max` characters: a longer name keeps a readable head and ends in
// an 8-hex hash of the whole name, so distinct names stay distinct.
std::string bounded_name(const std::string& name, size_t max = 63);

// OME's InferenceService labels (reference ome.md §4.3) that selectors and the SGLang router rely on.
inline constexpr const char* kIsvcLabel = "ome.io/inferenceservice";
inline constexpr const char* kComponentLabel = "component";
inline constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";

}  // namespace omed::render
