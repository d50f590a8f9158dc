// Per-mode renderers of one component's workload, Service, autoscaler and disruption budget.
// Each appends the objects it renders and records what it made in `info`.
#pragma once

#include "internal.hpp"

namespace omed::render::detail {

void render_raw(const ComponentContext& c, std::vector<json::Value>& out, ComponentRender& info);
void render_multi_node(const ComponentContext& c, std::vector<json::Value>& out, ComponentRender& info);
void render_serverless(const ComponentContext& c, std::vector<json::Value>& out, ComponentRender& info);

// The router's ServiceAccount, and a Role and RoleBinding to read pods (service discovery).
void render_router_rbac(const RenderInput& in, std::vector<json::Value>& out);
// The entry point: in-cluster Service <isvc>, Ingress or HTTPRoute, InferencePool; sets URLs.
void render_traffic(const RenderInput& in, RenderResult& r);

}  // namespace omed::render::detail
