// The pod a component runs: the merged component spec's PodSpec and runner, then the model, the
// accelerator class, fine-tuned adapters and OME's labels wired in (reference ome.md §4.4).
#include <algorithm>

#include "internal.hpp"
#include "omed/agent/node_report.hpp"
#include "omed/apiserver/patch.hpp"

namespace omed::render::detail {

namespace {

const char* default_container(const std::string& component) {
  return component == "router" ? "router" : "ome-container";
}

json::Array* array_at(json::Value& obj, const char* key) {
  auto& v = obj[key];
  if (!v.is_array())
    v = json::Array{};
  return &v.as_array();
}

json::Value* find_named(json::Array& list, const std::string& name, const char* key = "name") {
  for (auto& e : list)
    if (e.is_object() && e.string_or(key) == name)
      return &e;
  return nullptr;
}

void set_env(json::Value& container, const std::string& name, const std::string& value, bool overwrite) {
  auto* env = array_at(container, "env");
  if (auto* e = find_named(*env, name)) {
    if (overwrite)
      *e = json::Object{{"name", name}, {"value", value}};
    return;
  }
  env->push_back(json::Object{{"name", name}, {"value", value}});
}

void add_volume(json::Value& spec, json::Value volume) {
  auto* vols = array_at(spec, "volumes");
  if (!find_named(*vols, volume.string_or("name")))
    vols->push_back(std::move(volume));
}

void add_mount(json::Value& container, json::Value mount) {
  auto* mounts = array_at(container, "volumeMounts");
  if (!find_named(*mounts, mount.string_or("mountPath"), "mountPath"))
    mounts->push_back(std::move(mount));
}

// DNS-1123 label from a model name (volume names are labels).
std::string volume_name(const std::string& name) {
  std::string out;
  for (char c : name)
    out += (std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : '-');
  while (!out.empty() && out.front() == '-')
    out.erase(out.begin());
  return bounded_name(out.empty() ? "model" : out, 63);
}

// Go-template placeholders OME expands in runner containers ({{.Name}}, {{.Namespace}},
// {{.Labels.x}}, {{.Annotations.x}}). Anything else in braces (a Jinja chat template) is left
// as written: OME's html/template pass mangles those.
std::string expand_placeholders(const std::string& s, const json::Value& meta) {
  if (s.find("{{") == std::string::npos)
    return s;
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    size_t open = s.find("{{", i);
    if (open == std::string::npos) {
      out.append(s, i, std::string::npos);
      break;
    }
    size_t close = s.find("}}", open + 2);
    if (close == std::string::npos) {
      out.append(s, i, std::string::npos);
      break;
    }
    out.append(s, i, open - i);
    std::string inner = s.substr(open + 2, close - open - 2);
    inner.erase(0, inner.find_first_not_of(' '));
    inner.erase(inner.find_last_not_of(' ') + 1);
    std::string value;
    bool known = true;
    if (inner == ".Name")
      value = meta.string_or("name");
    else if (inner == ".Namespace")
      value = meta.string_or("namespace");
    else if (inner.rfind(".Labels.", 0) == 0 && meta.get("labels"))
      value = meta.get("labels")->string_or(inner.substr(8));
    else if (inner.rfind(".Annotations.", 0) == 0 && meta.get("annotations"))
      value = meta.get("annotations")->string_or(inner.substr(13));
    else
      known = false;
    out += known ? value : s.substr(open, close + 2 - open);
    i = close + 2;
  }
  return out;
}

void expand_all(json::Value& v, const json::Value& meta) {
  if (v.is_string())
    v = expand_placeholders(v.as_string(), meta);
  else if (v.is_array())
    for (auto& e : v.as_array())
      expand_all(e, meta);
  else if (v.is_object())
    for (auto& m : v.as_object())
      expand_all(m.value, meta);
}

// "--tp-size=4" / "--tp-size 4" / "--flag": the flag's name.
std::string flag_key(const std::string& arg) {
  if (arg.rfind("-", 0) != 0)
    return "";
  auto eq = arg.find('=');
  return eq == std::string::npos ? arg : arg.substr(0, eq);
}

// Merges override arguments by flag: a flag already present takes the override's value.
void merge_args(json::Value& container, const json::Value& overrides) {
  if (!overrides.is_array())
    return;
  auto* args = array_at(container, "args");
  for (size_t k = 0; k < overrides.as_array().size(); ++k) {
    auto& o = overrides.as_array()[k];
    if (!o.is_string())
      continue;
    std::string key = flag_key(o.as_string());
    bool value_follows = !key.empty() && o.as_string().find('=') == std::string::npos &&
                         k + 1 < overrides.as_array().size() && overrides.as_array()[k + 1].is_string() &&
                         flag_key(overrides.as_array()[k + 1].as_string()).empty();
    auto it = key.empty() ? args->end() : std::find_if(args->begin(), args->end(), [&](const json::Value& a) {
      return a.is_string() && flag_key(a.as_string()) == key;
    });
    if (it == args->end()) {
      args->push_back(o);
      if (value_follows)
        args->push_back(overrides.as_array()[++k]);
      continue;
    }
    *it = o;
    if (value_follows) {
      auto next = it + 1;
      if (next != args->end() && next->is_string() && flag_key(next->as_string()).empty())
        *next = overrides.as_array()[k + 1];
      else
        args->insert(next, overrides.as_array()[k + 1]);
      ++k;
    }
  }
}

// Rewrites the value after a parallelism flag in args, else in command.
void rewrite_flag(json::Value& container, std::initializer_list<const char*> flags, int64_t value) {
  for (const char* list : {"args", "command"}) {
    auto* a = container.get(list);
    if (!a || !a->is_array())
      continue;
    auto& arr = a->as_array();
    for (size_t i = 0; i < arr.size(); ++i) {
      if (!arr[i].is_string())
        continue;
      const std::string& s = arr[i].as_string();
      for (const char* f : flags) {
        if (s == f && i + 1 < arr.size()) {
          arr[i + 1] = std::to_string(value);
          return;
        }
        if (s.rfind(std::string(f) + "=", 0) == 0) {
          arr[i] = std::string(f) + "=" + std::to_string(value);
          return;
        }
      }
    }
  }
}

int64_t quantity_int(const json::Value* v) {
  if (!v)
    return 0;
  if (v->is_int())
    return v->as_int();
  if (v->is_string()) {
    try {
      return std::stoll(v->as_string());
    } catch (...) {
    }
  }
  return 0;
}

const json::Value* accelerator_config(const ComponentContext& c, const std::string& ac) {
  if (ac.empty() || c.in.format_index < 0)
    return nullptr;
  auto* formats = c.in.runtime.at_path("spec.supportedModelFormats");
  if (!formats || !formats->is_array() || c.in.format_index >= static_cast<int>(formats->as_array().size()))
    return nullptr;
  auto* cfg = formats->as_array()[c.in.format_index].get("acceleratorConfig");
  return cfg && cfg->is_object() ? cfg->get(ac) : nullptr;
}

bool mentions(const json::Value& container, const char* word) {
  for (const char* list : {"command", "args"})
    if (auto* a = container.get(list); a && a->is_array())
      for (auto& s : a->as_array())
        if (s.is_string() && s.as_string().find(word) != std::string::npos)
          return true;
  return false;
}

}  // namespace

PodTemplate pod_template(const ComponentContext& c, const std::string& role) {
  const json::Value& isvc = c.in.isvc;
  const json::Value& m = c.merged;
  bool serves_model = c.component != "router";
  PodTemplate out;

  // PodSpec: the component's own pod fields, the leader's or worker's over them.
  json::Value spec = json::Object{};
  for (auto& f : m.as_object())
    if (!is_extension_field(f.key))
      spec[f.key] = f.value;
  const json::Value* role_spec = role.empty() ? nullptr : m.get(role);
  if (role_spec && role_spec->is_object()) {
    json::Value layer = json::Object{};
    for (auto& f : role_spec->as_object())
      if (!is_extension_field(f.key))
        layer[f.key] = f.value;
    spec = apiserver::strategic_merge_patch(spec, layer, [](const std::vector<std::string>& p) {
      std::vector<std::string> full{"spec"};
      full.insert(full.end(), p.begin(), p.end());
      return apiserver::builtin_list_strategy("Pod", full);
    });
  }
  // A leader's or worker's runner completes the component's runner (image, ports, resources
  // given once for the engine), rather than standing alone as OME requires.
  json::Value role_runner;
  const json::Value* runner = m.get("runner");
  if (role_spec && role_spec->get("runner") && role_spec->get("runner")->is_object()) {
    role_runner = *role_spec->get("runner");
    if (runner && runner->is_object())
      role_runner = apiserver::strategic_merge_patch(*runner, role_runner, [](const std::vector<std::string>& p) {
        std::vector<std::string> full{"spec", "containers", "[]"};
        full.insert(full.end(), p.begin(), p.end());
        return apiserver::builtin_list_strategy("Pod", full);
      });
    runner = &role_runner;
  }
  std::string cname = runner && runner->is_object() ? runner->string_or("name") : "";
  if (cname.empty())
    cname = default_container(c.component);
  // The runner's container is edited apart from `spec`: adding members to spec moves its storage.
  auto* containers = array_at(spec, "containers");
  size_t main_index = containers->size();
  for (size_t i = 0; i < containers->size(); ++i)
    if ((*containers)[i].is_object() && (*containers)[i].string_or("name") == cname)
      main_index = i;
  if (main_index == containers->size())
    containers->push_back(json::Object{{"name", cname}});
  json::Value ctr = (*containers)[main_index];
  json::Value* main = &ctr;
  if (runner && runner->is_object()) {
    json::Value base_args = main->get("args") ? *main->get("args") : json::Value(json::Array{});
    json::Value r = *runner;
    r["name"] = cname;
    *main = apiserver::strategic_merge_patch(*main, r, [](const std::vector<std::string>& p) {
      std::vector<std::string> full{"spec", "containers", "[]"};
      full.insert(full.end(), p.begin(), p.end());
      return apiserver::builtin_list_strategy("Pod", full);
    });
    // OME appends the runner's args to the base container's rather than replacing them.
    if (base_args.is_array() && !base_args.as_array().empty() && r.get("args") && r.get("args")->is_array()) {
      json::Array all = base_args.as_array();
      for (auto& a : r.get("args")->as_array())
        all.push_back(a);
      (*main)["args"] = std::move(all);
    }
  }

  // Model: the node-local copy the agents keep (read-only), or the claim of a pvc:// model.
  std::string model_name = text(c.in.model, "metadata.name");
  if (serves_model) {
    std::string uri = text(c.in.model, "spec.storage.storageUri");
    std::string path = text(c.in.model, "spec.storage.path");
    std::string vol = volume_name(model_name);
    bool user_model_path = false;
    if (auto* env = ctr.get("env"); env && env->is_array())
      user_model_path = find_named(env->as_array(), "MODEL_PATH") != nullptr;
    if (uri.rfind("pvc://", 0) == 0) {
      // pvc://[ns:]claim[/sub]: pods mount the claim; no node holds it, so no node selector.
      std::string rest = uri.substr(6);
      auto colon = rest.find(':');
      auto slash = rest.find('/');
      if (colon != std::string::npos && (slash == std::string::npos || colon < slash))
        rest = rest.substr(colon + 1), slash = rest.find('/');
      std::string claim = rest.substr(0, slash);
      std::string sub = slash == std::string::npos ? "" : rest.substr(slash + 1);
      std::string mount = path.empty() ? "/mnt/models/" + model_name : path;
      add_volume(spec, json::Object{{"name", vol},
                                    {"persistentVolumeClaim", json::Object{{"claimName", claim}, {"readOnly", true}}}});
      json::Object vm{{"name", vol}, {"mountPath", mount}, {"readOnly", true}};
      if (!sub.empty())
        vm.set("subPath", sub);
      add_mount(ctr, std::move(vm));
      if (!user_model_path)
        set_env(ctr, "MODEL_PATH", mount, false);
    } else if (!path.empty()) {
      add_volume(spec, json::Object{{"name", vol}, {"hostPath", json::Object{{"path", path}, {"type", "Directory"}}}});
      add_mount(ctr, json::Object{{"name", vol}, {"mountPath", path}, {"readOnly", true}});
      if (!user_model_path)
        set_env(ctr, "MODEL_PATH", path, false);
      // Pods go only where an agent reported the model Ready.
      spec["nodeSelector"][agent::node_label_key(agent::model_ref(c.in.model))] = "Ready";
    } else {
      c.warnings->push_back(c.component + ": the model has no storage.path; no model volume mounted");
    }
  }

  // Accelerator class: node placement, resources, and the runtime's per-class overrides.
  std::string ac_name;
  const json::Value* ac = nullptr;
  if (auto it = c.in.accelerators.find(c.component); it != c.in.accelerators.end() && it->second) {
    ac = it->second.get();
    ac_name = text(*ac, "metadata.name");
  }
  if (ac) {
    if (auto* sel = ac->at_path("spec.discovery.nodeSelector"); sel && sel->is_object())
      for (auto& kv : sel->as_object())
        spec["nodeSelector"][kv.key] = kv.value;
    if (auto* aff = ac->at_path("spec.discovery.affinity"); aff && aff->is_object() && !spec.get("affinity"))
      spec["affinity"] = *aff;
    // The user's own resources on the InferenceService's runner win over the class's.
    const json::Value* user_component = isvc.at_path(("spec." + c.component).c_str());
    bool user_resources = user_component && user_component->at_path("runner.resources");
    if (!user_resources)
      if (auto* res = ac->at_path("spec.resources"); res && res->is_array())
        for (auto& r : res->as_array()) {
          std::string rn = r.string_or("name");
          if (rn.empty())
            continue;
          json::Value q = r.get("quantity") ? *r.get("quantity") : json::Value("1");
          ctr["resources"]["requests"][rn] = q;
          ctr["resources"]["limits"][rn] = q;
        }
    if (auto* cfg = accelerator_config(c, ac_name)) {
      if (auto* env = cfg->get("environmentOverride"); env && env->is_object())
        for (auto& kv : env->as_object())
          if (kv.value.is_string())
            set_env(ctr, kv.key, kv.value.as_string(), true);
      if (auto* args = cfg->get("runtimeArgsOverride"))
        merge_args(ctr, *args);
      if (auto* tp = cfg->get("tensorParallelismOverride"); tp && tp->is_object()) {
        if (auto t = tp->int_at("tensorParallelSize"))
          rewrite_flag(ctr, {"--tp-size", "--tp", "--tensor-parallel-size"}, *t);
        if (auto p = tp->int_at("pipelineParallelSize"))
          rewrite_flag(ctr, {"--pp-size", "--pp", "--pipeline-parallel-size"}, *p);
      }
    }
  }
  // A component's own nodeSelector has the last word (OME: runtime < class < InferenceService).
  if (const json::Value* user_component = isvc.at_path(("spec." + c.component).c_str()))
    if (auto* sel = user_component->get("nodeSelector"); sel && sel->is_object())
      for (auto& kv : sel->as_object())
        spec["nodeSelector"][kv.key] = kv.value;

  std::string gpu_resource = "nvidia.com/gpu";
  if (ac)
    if (auto* res = ac->at_path("spec.resources"); res && res->is_array() && !res->as_array().empty())
      gpu_resource = res->as_array()[0].string_or("name", gpu_resource);
  out.gpus_per_pod = std::max(quantity_int(ctr.at_path("resources.limits") ? ctr.at_path("resources.limits")->get(gpu_resource) : nullptr),
                              quantity_int(ctr.at_path("resources.requests") ? ctr.at_path("resources.requests")->get(gpu_resource) : nullptr));
  if (serves_model && !ac && out.gpus_per_pod > 0) {
    int64_t workers = 0;
    if (auto* size = m.at_path("worker.size"); size && size->is_int() && !role.empty())
      workers = size->as_int();
    set_env(ctr, "PARALLELISM_SIZE", std::to_string(out.gpus_per_pod * (1 + workers)), false);
  }

  // Fine-tuned adapters: each one's node-local copy mounted read-only, and the engine told to load it.
  std::vector<std::string> adapter_names;
  if (serves_model)
    for (auto& ftw : c.in.fine_tuned) {
      if (!ftw)
        continue;
      std::string name = text(*ftw, "metadata.name");
      std::string path = text(*ftw, "spec.storage.path");
      if (path.empty()) {
        c.warnings->push_back("fine-tuned weight " + name + " has no storage.path; not mounted");
        continue;
      }
      std::string mount = "/mnt/adapters/" + name;
      add_volume(spec, json::Object{{"name", volume_name("adapter-" + name)},
                                    {"hostPath", json::Object{{"path", path}, {"type", "Directory"}}}});
      add_mount(ctr, json::Object{{"name", volume_name("adapter-" + name)}, {"mountPath", mount}, {"readOnly", true}});
      spec["nodeSelector"][agent::node_label_key(agent::ModelRef{"FineTunedWeight", "", name})] = "Ready";
      adapter_names.push_back(name);
    }
  if (!adapter_names.empty()) {
    auto* args = array_at(ctr, "args");
    bool vllm = mentions(ctr, "vllm");
    if (vllm) {
      args->push_back("--enable-lora");
      args->push_back("--lora-modules");
    } else {
      args->push_back("--lora-paths");  // SGLang
    }
    for (auto& n : adapter_names)
      args->push_back(n + "=/mnt/adapters/" + n);
  }

  // Router: service discovery needs pod reads; its config map becomes environment.
  if (c.component == "router") {
    spec["serviceAccountName"] = bounded_name(text(isvc, "metadata.name") + "-router");
    if (auto* cfg = m.get("config"); cfg && cfg->is_object())
      for (auto& kv : cfg->as_object())
        if (kv.value.is_string())
          set_env(ctr, kv.key, kv.value.as_string(), true);
  }

  // Port and a readiness probe for engines that declare none (a TCP check is better than none).
  if (auto* ports = ctr.get("ports"); ports && ports->is_array() && !ports->as_array().empty())
    if (auto p = ports->as_array()[0].int_at("containerPort"))
      out.port = static_cast<int>(*p);
  if (serves_model && !ctr.get("readinessProbe") && role != "worker")
    ctr["readinessProbe"] = json::Object{{"tcpSocket", json::Object{{"port", out.port}}}};

  // OME's placeholders, expanded with the InferenceService's metadata.
  json::Value meta = isvc.get("metadata") ? *isvc.get("metadata") : json::Value(json::Object{});
  expand_all(ctr, meta);
  spec["containers"].as_array()[main_index] = std::move(ctr);

  // Labels and annotations (reference ome.md §4.3).
  json::Object labels;
  if (auto* l = m.get("labels"); l && l->is_object())
    labels = l->as_object();
  for (auto& kv : component_labels(isvc, c.component))
    labels.set(kv.key, kv.value);
  labels.set("app", c.name);
  // Runtime names may run to 253 characters; label values stop at 63.
  labels.set("serving-runtime", bounded_name(text(c.in.runtime, "metadata.name"), 63));
  labels.set("fine-tuned-serving", adapter_names.empty() ? "false" : "true");
  if (serves_model) {
    labels.set("base-model-name", bounded_name(model_name, 63));
    std::string category;
    if (auto* a = c.in.model.at_path("metadata.annotations"); a && a->is_object())
      category = a->string_or("models.ome.io/category");
    labels.set("base-model-size", category.empty() ? "SMALL" : category);
    labels.set("base-model-type", "Serving");
    std::string vendor = text(c.in.model, "spec.vendor");
    if (!vendor.empty())
      labels.set("base-model-vendor", vendor);
  }
  if (role == "leader")
    labels.set("ray.io/node-type", "head");
  json::Object annotations;
  if (auto* a = isvc.at_path("metadata.annotations"); a && a->is_object())
    for (auto& kv : a->as_object())
      if (kv.key != "kubectl.kubernetes.io/last-applied-configuration" &&
          kv.key.rfind("autoscaling.knative.dev/", 0) != 0 && kv.key.rfind("internal.ome.io/", 0) != 0)
        annotations.set(kv.key, kv.value);
  if (auto* a = m.get("annotations"); a && a->is_object())
    for (auto& kv : a->as_object())
      annotations.set(kv.key, kv.value);
  annotations.set("ome.io/serving-runtime", text(c.in.runtime, "metadata.name"));
  if (serves_model) {
    annotations.set("ome.io/base-model-name", model_name);
    std::string vendor = text(c.in.model, "spec.vendor");
    if (!vendor.empty())
      annotations.set("ome.io/base-model-vendor", vendor);
    std::string fmt = text(c.in.model, "spec.modelFormat.name");
    if (!fmt.empty())
      annotations.set("ome.io/base-model-format", fmt);
    std::string fv = text(c.in.model, "spec.modelFormat.version");
    if (!fv.empty())
      annotations.set("ome.io/base-model-format-version", fv);
  }
  if (!adapter_names.empty()) {
    std::string joined;
    for (auto& n : adapter_names)
      joined += (joined.empty() ? "" : ",") + n;
    annotations.set("ome.io/fine-tuned-weights", joined);
  }
  if (role == "worker") {
    // Only leaders serve metrics; scraping workers would double-count.
    json::Object kept;
    for (auto& kv : annotations)
      if (kv.key.rfind("prometheus.io/", 0) != 0)
        kept.set(kv.key, kv.value);
    annotations = std::move(kept);
  }
  json::Object md{{"labels", std::move(labels)}};
  if (!annotations.empty())
    md.set("annotations", std::move(annotations));
  out.metadata = std::move(md);
  out.spec = std::move(spec);
  return out;
}

}  // namespace omed::render::detail
