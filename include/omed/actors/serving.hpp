// The controller's serving kinds wired together: runtimes feed a catalog, accelerator classes and
// nodes feed indexes, and InferenceServices read them and are woken when what they read changes.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "omed/actors/controller.hpp"
#include "omed/render/inference_service.hpp"

namespace omed::controller {
class ModelReports;
class ObjectIndex;
}

namespace omed::actors {

struct ServingWiring {
  // The model reconcilers keep the latest base models here ("ClusterBaseModel/name",
  // "BaseModel/ns/name") and wake "object:<key>" subscribers in `reports` when one changes.
  std::shared_ptr<controller::ObjectIndex> models;
  std::shared_ptr<controller::ModelReports> reports;
  // The controller, once built (wakes resource actors).
  std::shared_ptr<Controller*> controller;
  render::RenderSettings settings;
  // True once every watch has listed: before that the catalog and the indexes are partial, and an
  // InferenceService ranked then could be rolled to a runtime it leaves again a second later.
  std::function<bool()> caches_synced;
};

// Serving's part of the controller's reconcilers: InferenceService, ServingRuntime,
// ClusterServingRuntime, AcceleratorClass and FineTunedWeight indexing. Kinds it does not handle
// go to `fallback`. Also adds the Node observation accelerator-class status needs.
struct ServingHooks {
  std::function<Reconciler(const std::string& kind, const std::string& key, std::function<Reconciler()> fallback)>
    make_reconciler;
  std::function<void(const std::string& kind, const std::string& key, const json::Value& last)> on_deleted;
  std::function<void(const json::Value& node)> on_node;
  std::function<void(const std::string& key)> on_node_deleted;
  // The scorer actor (ControllerOptions::shared_children).
  ChildSpec scorer;
  // The full runtime selection of one InferenceService as JSON: the model as selection sees it
  // and every visible runtime with its verdict, score and reason (the admin API's explain).
  // {"error": ...} with "status": 404 when the InferenceService or its model is unknown.
  std::function<json::Value(const std::string& ns, const std::string& name)> explain;
};
ServingHooks serving_hooks(ServingWiring wiring);

// The objects InferenceServices own that this cluster serves, to watch (third-party CRDs are
// looked up once at start, as OME does), and the matching RenderSettings switches.
void add_serving_owned(ControllerOptions& co, render::RenderSettings& settings);

}  // namespace omed::actors
