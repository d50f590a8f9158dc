// The resource registry and the built-in kinds. Built-ins are described by hand (names, scope,
// subresources); custom resources come from CRDs at run time.
#include "omed/apiserver/resources.hpp"

#include <algorithm>
#include <mutex>

namespace omed::apiserver {

void Registry::add(ResourceType rt) {
  std::unique_lock<std::shared_mutex> lk(mu_);
  auto p = std::make_shared<const ResourceType>(std::move(rt));
  for (auto& t : types_) {
    if (t->group == p->group && t->version == p->version && t->plural == p->plural) {
      t = p;
      ++generation_;
      return;
    }
  }
  types_.push_back(std::move(p));
  ++generation_;
}

void Registry::remove(const std::string& group, const std::string& version, const std::string& plural) {
  std::unique_lock<std::shared_mutex> lk(mu_);
  auto it = std::remove_if(types_.begin(), types_.end(), [&](const ResourcePtr& t) {
    return t->group == group && t->version == version && t->plural == plural;
  });
  if (it != types_.end()) {
    types_.erase(it, types_.end());
    ++generation_;
  }
}

ResourcePtr Registry::find(const std::string& group, const std::string& version, const std::string& plural) const {
  std::shared_lock<std::shared_mutex> lk(mu_);
  for (auto& t : types_)
    if (t->group == group && t->version == version && t->plural == plural)
      return t;
  return nullptr;
}

ResourcePtr Registry::find_by_id(const std::string& id) const {
  std::shared_lock<std::shared_mutex> lk(mu_);
  for (auto& t : types_)
    if (t->id() == id)
      return t;
  return nullptr;
}

ResourcePtr Registry::find_kind(const std::string& group, const std::string& kind) const {
  std::shared_lock<std::shared_mutex> lk(mu_);
  for (auto& t : types_)
    if (t->group == group && t->kind == kind)
      return t;
  return nullptr;
}

std::vector<ResourcePtr> Registry::all() const {
  std::shared_lock<std::shared_mutex> lk(mu_);
  return types_;
}

uint64_t Registry::generation() const {
  std::shared_lock<std::shared_mutex> lk(mu_);
  return generation_;
}

namespace {

ResourceType rt(std::string group, std::string version, std::string kind, std::string plural, bool namespaced) {
  ResourceType r;
  r.group = std::move(group);
  r.version = std::move(version);
  r.kind = std::move(kind);
  r.plural = std::move(plural);
  r.singular = r.kind;
  std::transform(r.singular.begin(), r.singular.end(), r.singular.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  r.list_kind = r.kind + "List";
  r.namespaced = namespaced;
  std::string pkg = r.group.empty() ? "core" : r.group.substr(0, r.group.find('.'));
  if (r.group == "apiextensions.k8s.io")
    r.openapi_component = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1." + r.kind;
  else
    r.openapi_component = "io.k8s.api." + pkg + "." + r.version + "." + r.kind;
  return r;
}

}  // namespace

std::vector<ResourceType> builtin_resources() {
  std::vector<ResourceType> out;
  auto add = [&](ResourceType r) -> ResourceType& {
    out.push_back(std::move(r));
    return out.back();
  };
  {
    auto& r = add(rt("", "v1", "Namespace", "namespaces", false));
    r.short_names = {"ns"};
    r.has_status = true;
    r.field_selectors = {"status.phase"};
  }
  add(rt("", "v1", "ConfigMap", "configmaps", true)).short_names = {"cm"};
  add(rt("", "v1", "Secret", "secrets", true)).field_selectors = {"type"};
  {
    auto& r = add(rt("", "v1", "Service", "services", true));
    r.short_names = {"svc"};
    r.has_status = true;
    r.return_deleted_object = true;
    r.categories = {"all"};
  }
  add(rt("", "v1", "ServiceAccount", "serviceaccounts", true)).short_names = {"sa"};
  {
    auto& r = add(rt("", "v1", "Pod", "pods", true));
    r.short_names = {"po"};
    r.has_status = true;
    r.has_binding = true;
    r.return_deleted_object = true;
    r.categories = {"all"};
    r.field_selectors = {"spec.nodeName", "spec.schedulerName", "status.phase", "status.podIP", "spec.serviceAccountName",
                         "spec.restartPolicy", "status.nominatedNodeName"};
  }
  {
    auto& r = add(rt("", "v1", "Node", "nodes", false));
    r.short_names = {"no"};
    r.has_status = true;
    r.return_deleted_object = true;
    r.field_selectors = {"spec.unschedulable"};
  }
  {
    auto& r = add(rt("", "v1", "Event", "events", true));
    r.short_names = {"ev"};
    r.field_selectors = {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                         "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                         "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"};
  }
  {
    auto& r = add(rt("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true));
    r.short_names = {"pvc"};
    r.has_status = true;
  }
  add(rt("", "v1", "Endpoints", "endpoints", true)).short_names = {"ep"};
  {
    auto& r = add(rt("events.k8s.io", "v1", "Event", "events", true));
    r.short_names = {"ev"};
    r.field_selectors = {"regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid", "reason",
                         "reportingController", "type"};
  }
  add(rt("coordination.k8s.io", "v1", "Lease", "leases", true));
  for (auto [kind, plural, sn] : {std::tuple{"Deployment", "deployments", "deploy"},
                                  std::tuple{"ReplicaSet", "replicasets", "rs"},
                                  std::tuple{"StatefulSet", "statefulsets", "sts"},
                                  std::tuple{"DaemonSet", "daemonsets", "ds"}}) {
    auto& r = add(rt("apps", "v1", kind, plural, true));
    r.short_names = {sn};
    r.has_status = true;
    r.has_generation = true;
    r.categories = {"all"};
    if (r.kind != "DaemonSet")
      r.scale = ResourceType::Scale{".spec.replicas", ".status.replicas", ""};
  }
  {
    auto& r = add(rt("batch", "v1", "Job", "jobs", true));
    r.has_status = true;
    r.has_generation = true;
    r.categories = {"all"};
  }
  {
    auto& r = add(rt("batch", "v1", "CronJob", "cronjobs", true));
    r.short_names = {"cj"};
    r.has_status = true;
    r.has_generation = true;
  }
  {
    auto& r = add(rt("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true));
    r.short_names = {"hpa"};
    r.has_status = true;
    r.has_generation = true;
  }
  {
    auto& r = add(rt("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true));
    r.short_names = {"pdb"};
    r.has_status = true;
    r.has_generation = true;
  }
  {
    auto& r = add(rt("networking.k8s.io", "v1", "Ingress", "ingresses", true));
    r.short_names = {"ing"};
    r.has_status = true;
    r.has_generation = true;
  }
  add(rt("networking.k8s.io", "v1", "IngressClass", "ingressclasses", false));
  add(rt("rbac.authorization.k8s.io", "v1", "Role", "roles", true));
  add(rt("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true));
  add(rt("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false));
  add(rt("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false));
  add(rt("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", false));
  add(rt("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", false));
  add(rt("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", false)).short_names = {"pc"};
  {
    auto& r = add(rt("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false));
    r.short_names = {"crd", "crds"};
    r.has_status = true;
    r.has_generation = true;
  }
  return out;
}

std::optional<ResourceType> resource_from_crd(const json::Value& crd, std::string& why) {
  auto* spec = crd.get("spec");
  if (!spec) {
    why = "spec is missing";
    return std::nullopt;
  }
  ResourceType r;
  r.builtin = false;
  r.has_generation = true;
  r.group = spec->string_or("group");
  auto* names = spec->get("names");
  if (!names || r.group.empty()) {
    why = "spec.group and spec.names are required";
    return std::nullopt;
  }
  r.kind = names->string_or("kind");
  r.plural = names->string_or("plural");
  r.singular = names->string_or("singular");
  if (r.singular.empty()) {
    r.singular = r.kind;
    std::transform(r.singular.begin(), r.singular.end(), r.singular.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  r.list_kind = names->string_or("listKind", r.kind + "List");
  if (auto* sn = names->get("shortNames"); sn && sn->is_array())
    for (auto& s : sn->as_array())
      if (s.is_string())
        r.short_names.push_back(s.as_string());
  if (auto* cat = names->get("categories"); cat && cat->is_array())
    for (auto& s : cat->as_array())
      if (s.is_string())
        r.categories.push_back(s.as_string());
  r.namespaced = spec->string_or("scope", "Namespaced") == "Namespaced";
  r.crd_name = crd.at_path("metadata.name") ? crd.at_path("metadata.name")->as_string() : "";
  auto* versions = spec->get("versions");
  const json::Value* chosen = nullptr;
  if (versions && versions->is_array()) {
    for (auto& v : versions->as_array()) {
      auto* storage = v.get("storage");
      auto* served = v.get("served");
      if (storage && storage->is_bool() && storage->as_bool() && (!served || (served->is_bool() && served->as_bool())))
        chosen = &v;
    }
    if (!chosen)
      for (auto& v : versions->as_array())
        if (auto* served = v.get("served"); served && served->is_bool() && served->as_bool()) {
          chosen = &v;
          break;
        }
  }
  if (!chosen) {
    why = "no served version";
    return std::nullopt;
  }
  r.version = chosen->string_or("name");
  if (auto* s = chosen->at_path("schema.openAPIV3Schema"))
    r.schema = *s;
  r.has_status = chosen->at_path("subresources.status") != nullptr;
  if (auto* sc = chosen->at_path("subresources.scale"); sc && sc->is_object())
    r.scale = ResourceType::Scale{sc->string_or("specReplicasPath"), sc->string_or("statusReplicasPath"),
                                  sc->string_or("labelSelectorPath")};
  if (auto* cols = chosen->get("additionalPrinterColumns"); cols && cols->is_array()) {
    for (auto& c : cols->as_array()) {
      Column col;
      col.name = c.string_or("name");
      col.type = c.string_or("type", "string");
      col.json_path = c.string_or("jsonPath");
      col.description = c.string_or("description");
      col.format = c.string_or("format");
      col.priority = static_cast<int>(c.int_at("priority").value_or(0));
      r.columns.push_back(std::move(col));
    }
  }
  if (auto* sf = chosen->get("selectableFields"); sf && sf->is_array())
    for (auto& f : sf->as_array()) {
      auto p = f.string_or("jsonPath");
      if (!p.empty() && p[0] == '.')
        r.field_selectors.push_back(p.substr(1));
    }
  return r;
}

}  // namespace omed::apiserver
