// The whole rendering of one InferenceService: which components exist, their modes, their
// objects, the router's RBAC and the traffic objects; errors instead of half a rendering.
#include <functional>

#include "workloads.hpp"

namespace omed::render {

namespace {

using detail::text;

// Replica counts a typo can produce (minReplicas: 10000) are refused rather than scheduled.
constexpr int64_t kMaxReplicas = 1000;

void check_replicas(const std::string& component, const json::Value& merged, std::vector<std::string>& errors) {
  auto* lo = merged.get("minReplicas");
  auto* hi = merged.get("maxReplicas");
  if (lo && lo->is_int() && (lo->as_int() < 0 || lo->as_int() > kMaxReplicas))
    errors.push_back(component + ".minReplicas " + std::to_string(lo->as_int()) + " is outside 0-" +
                     std::to_string(kMaxReplicas));
  if (hi && hi->is_int() && (hi->as_int() < 0 || hi->as_int() > kMaxReplicas))
    errors.push_back(component + ".maxReplicas " + std::to_string(hi->as_int()) + " is outside 0-" +
                     std::to_string(kMaxReplicas));
  if (lo && hi && lo->is_int() && hi->is_int() && hi->as_int() > 0 && lo->as_int() > hi->as_int())
    errors.push_back(component + ".minReplicas " + std::to_string(lo->as_int()) + " is more than maxReplicas " +
                     std::to_string(hi->as_int()));
  if (auto* size = merged.at_path("worker.size"); size && size->is_int() && size->as_int() > 64)
    errors.push_back(component + ".worker.size " + std::to_string(size->as_int()) + " is more than 64");
}

// Every container of every pod template must name an image: the API server would refuse the
// workload, after its siblings were already applied.
void check_images(const json::Value& obj, const std::string& component, std::vector<std::string>& errors) {
  std::function<void(const json::Value&)> walk = [&](const json::Value& v) {
    if (v.is_object()) {
      if (auto* cs = v.get("containers"); cs && cs->is_array())
        for (auto& c : cs->as_array())
          if (c.is_object() && c.string_or("image").empty())
            errors.push_back(component + ": container " + c.string_or("name") +
                             " has no image (give one in the runtime's config or the InferenceService's runner)");
      for (auto& m : v.as_object())
        if (m.key != "containers")
          walk(m.value);
    }
  };
  walk(obj);
}

std::string autoscaler_class(const json::Value& isvc, const json::Value& merged) {
  for (auto* a : {merged.get("annotations"), isvc.at_path("metadata.annotations")})
    if (a && a->is_object() && a->get("ome.io/autoscalerClass"))
      return a->string_or("ome.io/autoscalerClass");
  return "";
}

}  // namespace

RenderResult render_inference_service(const RenderInput& in) {
  RenderResult r;
  const json::Value* spec = in.isvc.get("spec");
  auto part = [&](const char* key) -> const json::Value* {
    auto* v = spec ? spec->get(key) : nullptr;
    return v && v->is_object() ? v : nullptr;
  };
  const json::Value* engine = part("engine");
  const json::Value* decoder = part("decoder");
  const json::Value* router = part("router");
  if (!engine) {
    r.errors.push_back(part("predictor") ? "spec.predictor is not supported; move its model and runtime to spec.model, "
                                           "spec.runtime and spec.engine"
                                         : "spec.engine is required");
    return r;
  }
  const json::Value* rt_spec = in.runtime.get("spec");
  auto runtime_part = [&](const char* key) -> const json::Value* {
    auto* v = rt_spec ? rt_spec->get(key) : nullptr;
    return v && v->is_object() ? v : nullptr;
  };
  std::string isvc = text(in.isvc, "metadata.name");

  struct Pending {
    std::string component;
    json::Value merged;
    std::string mode;
  };
  std::vector<Pending> parts;
  for (auto [name, mine, theirs] : {std::tuple{"engine", engine, runtime_part("engineConfig")},
                                    std::tuple{"decoder", decoder, runtime_part("decoderConfig")},
                                    std::tuple{"router", router, runtime_part("routerConfig")}}) {
    if (!mine)
      continue;
    Pending p{name, {}, {}};
    try {
      p.merged = detail::merge_component(theirs, mine);
    } catch (const std::exception& e) {
      r.errors.push_back(std::string(name) + ": cannot merge the runtime's config with the InferenceService's: " +
                         e.what());
      continue;
    }
    check_replicas(name, p.merged, r.errors);
    std::string err;
    p.mode = detail::component_mode(name, p.merged, decoder != nullptr, in.settings, err);
    if (!err.empty())
      r.errors.push_back(err);
    // A ScaledObject on a cluster without KEDA fails to apply after its Deployment already has.
    if (p.mode == "RawDeployment" && !in.settings.keda && autoscaler_class(in.isvc, p.merged) == "keda")
      r.errors.push_back(std::string(name) +
                         ": ome.io/autoscalerClass keda needs KEDA, which this cluster does not serve");
    parts.push_back(std::move(p));
  }
  if (!r.errors.empty())
    return r;

  for (auto& p : parts) {
    ComponentRender info;
    info.component = p.component;
    info.mode = p.mode;
    info.name = bounded_name(isvc + "-" + p.component);
    if (auto it = in.accelerators.find(p.component); it != in.accelerators.end() && it->second)
      info.accelerator_class = text(*it->second, "metadata.name");
    detail::ComponentContext ctx{in, p.component, info.name, p.mode, p.merged, &r.warnings};
    size_t first = r.objects.size();
    if (p.mode == "MultiNode")
      detail::render_multi_node(ctx, r.objects, info);
    else if (p.mode == "Serverless")
      detail::render_serverless(ctx, r.objects, info);
    else
      detail::render_raw(ctx, r.objects, info);
    for (size_t i = first; i < r.objects.size(); ++i)
      check_images(r.objects[i], p.component, r.errors);
    r.components.push_back(std::move(info));
  }
  if (router)
    detail::render_router_rbac(in, r.objects);
  r.entry_component = router ? "router" : decoder ? "decoder" : "engine";
  detail::render_traffic(in, r);
  if (!r.errors.empty())
    r.objects.clear();
  return r;
}

}  // namespace omed::render
