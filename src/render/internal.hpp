// Pieces the rendering files share: object skeletons with ownership, component specs merged
// from runtime and InferenceService, and the pod template each workload kind wraps.
#pragma once

#include <string>
#include <vector>

#include "omed/common/json.hpp"
#include "omed/render/inference_service.hpp"

namespace omed::render::detail {

// Fields of an OME component spec that configure the component, not its pods.
bool is_extension_field(const std::string& key);

// The merged component: the runtime's config with the InferenceService's over it
// (strategic merge: containers, env, volumes and ports by key; the InferenceService wins).
json::Value merge_component(const json::Value* runtime_config, const json::Value* isvc_config);

// RawDeployment | MultiNode | Serverless, or "" with `error` set.
std::string component_mode(const std::string& component, const json::Value& merged, bool has_decoder,
                           const RenderSettings& settings, std::string& error);

int64_t min_replicas(const json::Value& merged, int64_t fallback = 1);
int64_t max_replicas(const json::Value& merged, int64_t min);

// Text at a dotted path, or "" (tolerates missing and non-string values).
std::string text(const json::Value& v, const char* path);

json::Object owner_reference(const json::Value& isvc);
// metadata with name, namespace, labels, annotations and the controller ownerReference.
json::Object object_meta(const json::Value& isvc, const std::string& name, json::Object labels,
                         json::Object annotations = {});
// OME's labels on every component object (managed-by, inferenceservice, component).
json::Object component_labels(const json::Value& isvc, const std::string& component);

// What a component's pods run: the pod template (metadata + spec) and the port they serve on.
struct PodTemplate {
  json::Value metadata;  // labels, annotations
  json::Value spec;      // core/v1 PodSpec
  int port = 8080;
  int64_t gpus_per_pod = 0;
};

struct ComponentContext {
  const RenderInput& in;
  std::string component;  // engine | decoder | router
  std::string name;       // <isvc>-<component>
  std::string mode;
  const json::Value& merged;
  std::vector<std::string>* warnings;
};

// role: "" (single pod kind), "leader" or "worker" (MultiNode).
PodTemplate pod_template(const ComponentContext& c, const std::string& role);

// Pod annotations that must not reach Services (reference ome.md §4.3).
bool is_pod_only_annotation(const std::string& key);

}  // namespace omed::render::detail
