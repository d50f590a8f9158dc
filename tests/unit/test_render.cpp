// Rendering goldens: each tests/data/render/<scenario>/input.yaml is rendered and compared with
// expected.yaml (or, for a refused combination, expected_errors.txt), a few facts per scenario
// are asserted in C++ so a regenerated golden cannot quietly bless a bug, and every rendered
// object is dry-run created on the embedded API server with the real schemas.
//
// OMED_UPDATE_GOLDEN=1 rewrites expected.yaml from the current rendering; review the diff.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "../support/api_client.hpp"
#include "../support/test_env.hpp"
#include "omed/agent/node_report.hpp"
#include "omed/apiserver/server.hpp"
#include "omed/common/json.hpp"
#include "omed/common/yaml.hpp"
#include "omed/render/inference_service.hpp"

using namespace omed;
using namespace omed::testing;
namespace fs = std::filesystem;

namespace {

fs::path scenarios_dir() {
  if (const char* env = std::getenv("OMED_RENDER_SCENARIOS"))
    return env;
  return source_root() / "tests" / "data" / "render";
}

bool update_goldens() {
  const char* env = std::getenv("OMED_UPDATE_GOLDEN");
  return env && std::string(env) == "1";
}

std::vector<std::string> scenario_names() {
  std::vector<std::string> out;
  if (!fs::exists(scenarios_dir()))
    return out;
  for (auto& e : fs::directory_iterator(scenarios_dir()))
    if (e.is_directory() && fs::exists(e.path() / "input.yaml"))
      out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// One scenario's input documents, kept alive for the RenderInput that points into them.
struct Scenario {
  std::string name;
  fs::path dir;
  json::Value isvc, model, runtime, settings_doc = json::Object{};
  std::map<std::string, json::Value> accelerator_docs;  // by name
  std::map<std::string, json::Value> fine_tuned_docs;   // by name
  render::RenderSettings settings;
  int format_index = -1;
  std::map<std::string, std::shared_ptr<const json::Value>> accelerators;
  std::vector<std::shared_ptr<const json::Value>> fine_tuned;
};

std::vector<std::string> strings_at(const json::Value& v, const char* key) {
  std::vector<std::string> out;
  if (auto* a = v.get(key); a && a->is_array())
    for (auto& s : a->as_array())
      if (s.is_string())
        out.push_back(s.as_string());
  return out;
}

bool bool_at(const json::Value& v, const char* key, bool fallback) {
  auto* b = v.get(key);
  return b && b->is_bool() ? b->as_bool() : fallback;
}

// The RenderSettings document is this test's own: the inferenceservice-config choices and
// installed CRDs as flags, the runtime format selection picked, and which AcceleratorClass the
// selection chose for which component (so the golden does not depend on selection policy).
std::unique_ptr<Scenario> load_scenario(const std::string& name) {
  auto s = std::make_unique<Scenario>();
  s->name = name;
  s->dir = scenarios_dir() / name;
  for (auto& doc : yaml::parse_all(read_file(s->dir / "input.yaml"))) {
    std::string kind = doc.string_or("kind");
    std::string n = doc.at_path("metadata.name") && doc.at_path("metadata.name")->is_string()
                      ? doc.at_path("metadata.name")->as_string()
                      : "";
    if (kind == "InferenceService")
      s->isvc = doc;
    else if (kind == "BaseModel" || kind == "ClusterBaseModel")
      s->model = doc;
    else if (kind == "ServingRuntime" || kind == "ClusterServingRuntime")
      s->runtime = doc;
    else if (kind == "AcceleratorClass")
      s->accelerator_docs[n] = doc;
    else if (kind == "FineTunedWeight")
      s->fine_tuned_docs[n] = doc;
    else if (kind == "RenderSettings")
      s->settings_doc = doc;
    else
      FAIL(name << ": unexpected document kind " << kind);
  }
  const json::Value& d = s->settings_doc;
  auto& st = s->settings;
  st.ingress_creation = bool_at(d, "ingressCreation", st.ingress_creation);
  st.gateway_api = bool_at(d, "gatewayAPI", st.gateway_api);
  st.gateway_parents = strings_at(d, "gatewayParents");
  st.ingress_domain = d.string_or("ingressDomain", st.ingress_domain);
  st.ingress_class_name = d.string_or("ingressClassName", st.ingress_class_name);
  st.url_scheme = d.string_or("urlScheme", st.url_scheme);
  st.inference_pool = bool_at(d, "inferencePool", st.inference_pool);
  st.knative = bool_at(d, "knative", st.knative);
  st.lws = bool_at(d, "lws", st.lws);
  st.keda = bool_at(d, "keda", st.keda);
  st.kueue_queue = d.string_or("kueueQueue", st.kueue_queue);
  // The shipped runtimes have one format; index 0 is what selection picks for them.
  int64_t first_format = s->runtime.at_path("spec.supportedModelFormats") ? 0 : -1;
  s->format_index = static_cast<int>(d.int_at("formatIndex").value_or(first_format));
  if (auto* acc = d.get("accelerators"); acc && acc->is_object())
    for (auto& kv : acc->as_object()) {
      auto it = s->accelerator_docs.find(kv.value.as_string());
      REQUIRE(it != s->accelerator_docs.end());
      s->accelerators[kv.key] = std::make_shared<const json::Value>(it->second);
    }
  if (auto* ftws = s->isvc.at_path("spec.model.fineTunedWeights"); ftws && ftws->is_array())
    for (auto& f : ftws->as_array()) {
      auto it = s->fine_tuned_docs.find(f.as_string());
      REQUIRE(it != s->fine_tuned_docs.end());
      s->fine_tuned.push_back(std::make_shared<const json::Value>(it->second));
    }
  return s;
}

render::RenderResult render_scenario(const Scenario& s) {
  render::RenderInput in{s.isvc, s.model, s.runtime, s.format_index, s.accelerators, s.fine_tuned, s.settings};
  return render::render_inference_service(in);
}

// What the reconciler reads besides the objects: kept in the golden so a change to URLs,
// modes or names shows up in review.
json::Value summary(const render::RenderResult& r) {
  json::Array comps;
  for (auto& c : r.components) {
    json::Object o{{"component", c.component}, {"mode", c.mode},         {"name", c.name},
                   {"workloadKind", c.workload_kind}, {"workloadName", c.workload_name},
                   {"serviceName", c.service_name},   {"port", c.port}};
    if (!c.accelerator_class.empty())
      o.set("acceleratorClass", c.accelerator_class);
    comps.push_back(std::move(o));
  }
  json::Array warnings;
  for (auto& w : r.warnings)
    warnings.push_back(w);
  json::Object o{{"kind", "RenderSummary"},          {"entryComponent", r.entry_component},
                 {"url", r.url},                      {"addressUrl", r.address_url},
                 {"components", std::move(comps)}};
  if (!warnings.empty())
    o.set("warnings", std::move(warnings));
  return o;
}

std::string yaml_stream(const std::vector<json::Value>& docs) {
  std::string out;
  for (auto& d : docs) {
    out += "---\n" + yaml::dump(d);
    if (out.back() != '\n')
      out += '\n';
  }
  return out;
}

std::string short_dump(const json::Value* v) {
  if (!v)
    return "<absent>";
  std::string s = json::dump(*v);
  return s.size() > 300 ? s.substr(0, 300) + "..." : s;
}

// The first path at which two values differ, with both sides; "" when equal.
std::string first_difference(const json::Value& want, const json::Value& got, const std::string& path) {
  if (want.type() != got.type())
    return path + ": expected " + short_dump(&want) + ", rendered " + short_dump(&got);
  if (want.is_object()) {
    std::set<std::string> keys;
    for (auto& m : want.as_object())
      keys.insert(m.key);
    for (auto& m : got.as_object())
      keys.insert(m.key);
    for (auto& k : keys) {
      auto* a = want.get(k);
      auto* b = got.get(k);
      std::string p = path + "." + k;
      if (!a || !b)
        return p + ": expected " + short_dump(a) + ", rendered " + short_dump(b);
      if (auto d = first_difference(*a, *b, p); !d.empty())
        return d;
    }
    return "";
  }
  if (want.is_array()) {
    auto& a = want.as_array();
    auto& b = got.as_array();
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
      if (auto d = first_difference(a[i], b[i], path + "[" + std::to_string(i) + "]"); !d.empty())
        return d;
    if (a.size() != b.size())
      return path + ": expected " + std::to_string(a.size()) + " entries, rendered " + std::to_string(b.size());
    return "";
  }
  return want == got ? "" : path + ": expected " + short_dump(&want) + ", rendered " + short_dump(&got);
}

std::string doc_id(const json::Value& d) {
  std::string name = d.at_path("metadata.name") ? d.at_path("metadata.name")->as_string() : "";
  return d.string_or("apiVersion") + " " + d.string_or("kind") + " " + name;
}

// ------------------------------------------------------------------ facts every rendering keeps

const json::Value* find_object(const render::RenderResult& r, const std::string& kind, const std::string& name,
                               const std::string& api_prefix = "") {
  for (auto& o : r.objects)
    if (o.string_or("kind") == kind && o.at_path("metadata.name")->as_string() == name &&
        o.string_or("apiVersion").rfind(api_prefix, 0) == 0)
      return &o;
  return nullptr;
}

size_t count_kind(const render::RenderResult& r, const std::string& kind) {
  return static_cast<size_t>(std::count_if(r.objects.begin(), r.objects.end(),
                                           [&](const json::Value& o) { return o.string_or("kind") == kind; }));
}

// Pod templates of a workload with where they sit: Deployment, LWS leader and worker, Knative.
std::vector<const json::Value*> pod_templates(const json::Value& o) {
  std::vector<const json::Value*> out;
  for (const char* p : {"spec.template", "spec.leaderWorkerTemplate.leaderTemplate",
                        "spec.leaderWorkerTemplate.workerTemplate"})
    if (auto* t = o.at_path(p))
      out.push_back(t);
  return out;
}

bool selects(const json::Value& selector, const json::Value* labels) {
  if (!labels || !labels->is_object())
    return false;
  for (auto& kv : selector.as_object())
    if (!labels->get(kv.key) || *labels->get(kv.key) != kv.value)
      return false;
  return true;
}

const json::Value* container(const json::Value& pod_template, const std::string& name) {
  auto* cs = pod_template.at_path("spec.containers");
  if (!cs || !cs->is_array())
    return nullptr;
  for (auto& c : cs->as_array())
    if (c.string_or("name") == name)
      return &c;
  return nullptr;
}

std::string env_value(const json::Value* ctr, const std::string& name) {
  if (!ctr || !ctr->get("env"))
    return "<unset>";
  for (auto& e : ctr->get("env")->as_array())
    if (e.string_or("name") == name)
      return e.string_or("value", "<valueFrom>");
  return "<unset>";
}

std::vector<std::string> all_strings(const json::Value* arr) {
  std::vector<std::string> out;
  if (arr && arr->is_array())
    for (auto& s : arr->as_array())
      if (s.is_string())
        out.push_back(s.as_string());
  return out;
}

// A quantity as written: YAML gives 2 for `2` and "2" for `"2"`; both are valid quantities.
std::string quantity(const json::Value* resources, const char* name) {
  auto* q = resources ? resources->get(name) : nullptr;
  if (!q)
    return "<unset>";
  return q->is_string() ? q->as_string() : json::dump(*q);
}

bool contains_seq(const std::vector<std::string>& v, std::initializer_list<std::string> seq) {
  std::vector<std::string> s(seq);
  return std::search(v.begin(), v.end(), s.begin(), s.end()) != v.end();
}

void check_invariants(const Scenario& s, const render::RenderResult& r) {
  std::string isvc = s.isvc.at_path("metadata.name")->as_string();
  std::string uid = s.isvc.at_path("metadata.uid")->as_string();
  // Pod labels as the pods will carry them: the LeaderWorkerSet controller adds the worker index.
  std::vector<json::Value> pod_label_sets;
  for (auto& o : r.objects)
    for (auto* t : pod_templates(o)) {
      json::Value l = *t->at_path("metadata.labels");
      if (o.string_or("kind") == "LeaderWorkerSet")
        l["leaderworkerset.sigs.k8s.io/worker-index"] =
          t == o.at_path("spec.leaderWorkerTemplate.leaderTemplate") ? "0" : "1";
      pod_label_sets.push_back(std::move(l));
    }
  std::vector<const json::Value*> all_pod_labels;
  for (auto& l : pod_label_sets)
    all_pod_labels.push_back(&l);

  for (auto& o : r.objects) {
    INFO(doc_id(o));
    auto name = o.at_path("metadata.name")->as_string();
    CHECK(name.size() <= 63);
    CHECK(o.at_path("metadata.namespace")->as_string() == s.isvc.at_path("metadata.namespace")->as_string());
    // Owned, so OME-style garbage collection removes everything with the InferenceService.
    auto* owners = o.at_path("metadata.ownerReferences");
    REQUIRE(owners);
    REQUIRE(owners->as_array().size() == 1);
    CHECK(owners->as_array()[0].string_or("uid") == uid);
    CHECK(owners->as_array()[0].get("controller")->as_bool());
    if (auto* labels = o.at_path("metadata.labels"))
      for (auto& kv : labels->as_object())
        CHECK(kv.value.as_string().size() <= 63);
    for (auto* t : pod_templates(o))
      for (auto& kv : t->at_path("metadata.labels")->as_object()) {
        INFO("pod label " << kv.key);
        CHECK(kv.value.as_string().size() <= 63);
      }

    std::string kind = o.string_or("kind");
    if (kind == "Deployment")
      // The selector must match the template, or apps/v1 refuses the Deployment.
      CHECK(selects(*o.at_path("spec.selector.matchLabels"), o.at_path("spec.template.metadata.labels")));
    if (kind == "LeaderWorkerSet") {
      std::string component = o.at_path("metadata.labels")->string_or("component");
      auto* spec = s.isvc.at_path(("spec." + component).c_str());
      auto* rt_size = s.runtime.at_path(("spec." + component + "Config.worker.size").c_str());
      auto* own_size = spec ? spec->at_path("worker.size") : nullptr;
      int64_t workers = own_size ? own_size->as_int() : rt_size->as_int();
      CHECK(o.at_path("spec.leaderWorkerTemplate.size")->as_int() == workers + 1);
    }
    bool external_name = o.at_path("spec.type") && o.at_path("spec.type")->as_string() == "ExternalName";
    if (kind == "Service" && o.string_or("apiVersion") == "v1" && !external_name) {
      // Every Service reaches some pod this rendering makes.
      auto* sel = o.at_path("spec.selector");
      REQUIRE(sel);
      bool reached = std::any_of(all_pod_labels.begin(), all_pod_labels.end(),
                                 [&](const json::Value* l) { return selects(*sel, l); });
      CHECK(reached);
    }
    if (kind == "HorizontalPodAutoscaler" || kind == "ScaledObject") {
      auto target = o.at_path("spec.scaleTargetRef.name")->as_string();
      CHECK(find_object(r, "Deployment", target));
    }
    if (kind == "PodDisruptionBudget")
      CHECK(std::any_of(all_pod_labels.begin(), all_pod_labels.end(),
                        [&](const json::Value* l) { return selects(*o.at_path("spec.selector.matchLabels"), l); }));
  }

  // Model-serving pods find the model at MODEL_PATH and run only where an agent reported it Ready.
  std::string path = s.model.at_path("spec.storage.path") ? s.model.at_path("spec.storage.path")->as_string() : "";
  std::string uri = s.model.at_path("spec.storage.storageUri")->as_string();
  std::string label = agent::node_label_key(agent::model_ref(s.model));
  for (auto& c : r.components) {
    if (c.component == "router")
      continue;
    auto* w = find_object(r, c.workload_kind, c.workload_name);
    REQUIRE(w);
    for (auto* t : pod_templates(*w)) {
      INFO(c.component << " pod template of " << doc_id(*w));
      auto* ctr = container(*t, "ome-container");
      REQUIRE(ctr);
      CHECK(env_value(ctr, "MODEL_PATH") != "<unset>");
      if (uri.rfind("pvc://", 0) != 0 && !path.empty()) {
        auto* ns = t->at_path("spec.nodeSelector");
        REQUIRE(ns);
        CHECK(ns->string_or(label) == "Ready");
      }
      CHECK(t->at_path("metadata.labels")->string_or(render::kIsvcLabel) == isvc);
      CHECK(t->at_path("metadata.labels")->string_or(render::kComponentLabel) == c.component);
    }
  }
}

// ------------------------------------------------------------------ facts per scenario

using Facts = std::function<void(const Scenario&, const render::RenderResult&)>;

const json::Value& workload(const render::RenderResult& r, const std::string& component) {
  for (auto& c : r.components)
    if (c.component == component)
      if (auto* w = find_object(r, c.workload_kind, c.workload_name))
        return *w;
  FAIL("no workload for " << component);
  static json::Value none;
  return none;
}

const json::Value* engine_container(const render::RenderResult& r, const char* tmpl = "spec.template") {
  return container(*workload(r, "engine").at_path(tmpl), "ome-container");
}

const std::map<std::string, Facts>& scenario_facts() {
  static const std::map<std::string, Facts> facts = {
    {"raw-single-node",
     [](const Scenario&, const render::RenderResult& r) {
       CHECK(r.objects.size() == 4);  // Deployment, Service, PDB, entry Service: no HPA at min == max
       auto* c = engine_container(r);
       CHECK(env_value(c, "MODEL_PATH") == "/raid/models/meta/llama-3-1-8b-instruct");
       CHECK(env_value(c, "PARALLELISM_SIZE") == "1");
       CHECK(workload(r, "engine").at_path("spec.template.spec.nodeSelector")->string_or(
               "models.ome.io/clusterbasemodel.llama-3-1-8b-instruct") == "Ready");
       CHECK(workload(r, "engine").at_path("spec.replicas")->as_int() == 1);
       CHECK(r.url == "http://llama-3-1-8b-instruct.llama-3-1-8b-instruct.svc.cluster.local:8080");
       CHECK(find_object(r, "Service", "llama-3-1-8b-instruct")->at_path("spec.selector")->string_or("component") ==
             "engine");
     }},
    {"raw-with-router",
     [](const Scenario&, const render::RenderResult& r) {
       CHECK(r.entry_component == "router");
       auto& router = workload(r, "router");
       CHECK(router.at_path("spec.template.spec.serviceAccountName")->as_string() == "llama-3-1-8b-instruct-router");
       CHECK(find_object(r, "Role", "llama-3-1-8b-instruct-router"));
       CHECK(find_object(r, "RoleBinding", "llama-3-1-8b-instruct-router"));
       CHECK(find_object(r, "ServiceAccount", "llama-3-1-8b-instruct-router"));
       CHECK(find_object(r, "Service", "llama-3-1-8b-instruct")->at_path("spec.selector")->string_or("component") ==
             "router");
       // The router's pods carry no model: no node selector on the model label, no MODEL_PATH.
       auto* rc = container(*router.at_path("spec.template"), "router");
       REQUIRE(rc);
       CHECK(env_value(rc, "MODEL_PATH") == "<unset>");
       CHECK(env_value(rc, "POLICY") == "cache_aware");  // router.config becomes env
     }},
    {"vllm-runtime",
     [](const Scenario&, const render::RenderResult& r) {
       auto* c = engine_container(r);
       CHECK(env_value(c, "SERVED_MODEL_NAME") == "vllm-model");
       CHECK(contains_seq(all_strings(c->get("command")), {"--model", "$(MODEL_PATH)"}));
     }},
    {"hpa-autoscaling",
     [](const Scenario&, const render::RenderResult& r) {
       auto* hpa = find_object(r, "HorizontalPodAutoscaler", "llama-3-1-8b-instruct-engine");
       REQUIRE(hpa);
       CHECK(hpa->at_path("spec.minReplicas")->as_int() == 1);
       CHECK(hpa->at_path("spec.maxReplicas")->as_int() == 4);
       auto& m = hpa->at_path("spec.metrics")->as_array()[0];
       CHECK(m.at_path("resource.name")->as_string() == "memory");
       CHECK(m.at_path("resource.target.averageUtilization")->as_int() == 70);  // annotation over scaleTarget
       // The HPA owns the replica count.
       CHECK_FALSE(workload(r, "engine").at_path("spec.replicas"));
     }},
    {"keda-autoscaling",
     [](const Scenario&, const render::RenderResult& r) {
       CHECK(count_kind(r, "HorizontalPodAutoscaler") == 0);
       auto* so = find_object(r, "ScaledObject", "scaledobject-llama-3-1-8b-instruct-engine");
       REQUIRE(so);
       auto& t = so->at_path("spec.triggers")->as_array()[0];
       CHECK(t.string_or("type") == "prometheus");
       CHECK(t.at_path("metadata.serverAddress")->as_string() == "http://prometheus.monitoring:9090");
       CHECK(t.at_path("metadata.threshold")->as_string() == "5");
       CHECK(t.at_path("metadata.operator")->as_string() == "GreaterThanOrEqual");
       CHECK(so->at_path("spec.minReplicaCount")->as_int() == 2);
       CHECK(so->at_path("spec.maxReplicaCount")->as_int() == 6);
     }},
    {"external-autoscaler",
     [](const Scenario&, const render::RenderResult& r) {
       CHECK(count_kind(r, "HorizontalPodAutoscaler") == 0);
       CHECK(count_kind(r, "ScaledObject") == 0);
       // The external autoscaler owns the replica count; applying one would undo its decisions.
       CHECK_FALSE(workload(r, "engine").at_path("spec.replicas"));
     }},
    {"pdb-min-available",
     [](const Scenario&, const render::RenderResult& r) {
       auto* pdb = find_object(r, "PodDisruptionBudget", "llama-3-1-8b-instruct-engine");
       REQUIRE(pdb);
       CHECK(pdb->at_path("spec.minAvailable")->as_int() == 2);
       CHECK_FALSE(pdb->at_path("spec.maxUnavailable"));
     }},
    {"multinode-lws",
     [](const Scenario&, const render::RenderResult& r) {
       auto* lws = find_object(r, "LeaderWorkerSet", "lws-deepseek-r1-engine");
       REQUIRE(lws);
       CHECK(lws->at_path("spec.leaderWorkerTemplate.size")->as_int() == 2);
       CHECK(lws->at_path("spec.leaderWorkerTemplate.restartPolicy")->as_string() == "RecreateGroupOnPodRestart");
       CHECK(lws->at_path("spec.leaderWorkerTemplate.leaderTemplate.metadata.labels")->string_or("ray.io/node-type") ==
             "head");
       // Only leaders are scraped; workers' prometheus annotations are dropped.
       auto* wa = lws->at_path("spec.leaderWorkerTemplate.workerTemplate.metadata.annotations");
       CHECK((!wa || !wa->get("prometheus.io/scrape")));
       CHECK(count_kind(r, "HorizontalPodAutoscaler") == 0);
       CHECK(count_kind(r, "PodDisruptionBudget") == 0);
       CHECK(env_value(engine_container(r, "spec.leaderWorkerTemplate.leaderTemplate"), "PARALLELISM_SIZE") == "16");
     }},
    {"pd-disaggregated-router",
     [](const Scenario&, const render::RenderResult& r) {
       REQUIRE(r.components.size() == 3);
       CHECK(r.entry_component == "router");
       auto& router = workload(r, "router");
       auto args = all_strings(container(*router.at_path("spec.template"), "router")->get("args"));
       CHECK(contains_seq(args, {"--pd-disaggregation"}));
       CHECK(contains_seq(args, {"--prefill-selector", "component=engine", "ome.io/inferenceservice=mistral-7b-pd"}));
       CHECK(contains_seq(args, {"--decode-selector", "component=decoder", "ome.io/inferenceservice=mistral-7b-pd"}));
       // The selectors the router uses must match the engine and decoder pods.
       for (auto [comp, tmpl] : {std::pair{"engine", "spec.template"}, std::pair{"decoder", "spec.template"}}) {
         auto* l = workload(r, comp).at_path(tmpl)->at_path("metadata.labels");
         CHECK(l->string_or("component") == comp);
         CHECK(l->string_or("ome.io/inferenceservice") == "mistral-7b-pd");
       }
     }},
    {"pd-multinode",
     [](const Scenario&, const render::RenderResult& r) {
       CHECK(count_kind(r, "LeaderWorkerSet") == 2);
       auto args = all_strings(container(*workload(r, "router").at_path("spec.template"), "router")->get("args"));
       CHECK(contains_seq(args,
                          {"--prefill-selector", "component=engine", "leaderworkerset.sigs.k8s.io/worker-index=0"}));
       // Each component's Service reaches only its own leaders (OME selected every head pod).
       auto* es = find_object(r, "Service", "deepseek-pd-engine");
       auto* ds = find_object(r, "Service", "deepseek-pd-decoder");
       REQUIRE(es);
       REQUIRE(ds);
       CHECK(*es->at_path("spec.selector") != *ds->at_path("spec.selector"));
       auto* dec = find_object(r, "LeaderWorkerSet", "lws-deepseek-pd-decoder");
       REQUIRE(dec);
       CHECK(dec->at_path("spec.leaderWorkerTemplate.size")->as_int() == 2);
     }},
    {"serverless-knative",
     [](const Scenario&, const render::RenderResult& r) {
       auto& ksvc = workload(r, "engine");
       CHECK(ksvc.string_or("apiVersion") == "serving.knative.dev/v1");
       auto* a = ksvc.at_path("spec.template.metadata.annotations");
       CHECK(a->string_or("autoscaling.knative.dev/min-scale") == "0");
       CHECK(a->string_or("autoscaling.knative.dev/max-scale") == "2");
       CHECK(count_kind(r, "Deployment") == 0);
       // The way in is Knative's route, which holds requests while the revision scales from zero.
       auto* entry = find_object(r, "Service", "llama-3-1-8b-instruct", "v1");
       REQUIRE(entry);
       CHECK(entry->at_path("spec.type")->as_string() == "ExternalName");
       CHECK(entry->at_path("spec.externalName")->as_string() ==
             "llama-3-1-8b-instruct-engine.llama-3-1-8b-instruct.svc.cluster.local");
       CHECK_FALSE(entry->at_path("spec.selector"));
       CHECK(r.url == "http://llama-3-1-8b-instruct.llama-3-1-8b-instruct.svc.cluster.local");
     }},
    {"ingress",
     [](const Scenario&, const render::RenderResult& r) {
       auto* ing = find_object(r, "Ingress", "llama-3-1-8b-instruct");
       REQUIRE(ing);
       CHECK(ing->at_path("spec.ingressClassName")->as_string() == "nginx");
       CHECK(ing->at_path("spec.rules")->as_array()[0].string_or("host") ==
             "llama-3-1-8b-instruct.llama-3-1-8b-instruct.models.example.org");
       CHECK(r.url == "https://llama-3-1-8b-instruct.llama-3-1-8b-instruct.models.example.org");
     }},
    {"httproute-gateway",
     [](const Scenario&, const render::RenderResult& r) {
       auto* route = find_object(r, "HTTPRoute", "llama-3-1-8b-instruct");
       REQUIRE(route);
       auto& parents = route->at_path("spec.parentRefs")->as_array();
       REQUIRE(parents.size() == 2);
       CHECK(parents[0].string_or("namespace") == "ome");
       CHECK(parents[0].string_or("name") == "ome-gateway");
       CHECK_FALSE(parents[1].get("namespace"));
       CHECK(count_kind(r, "Ingress") == 0);
       auto& backend = route->at_path("spec.rules")->as_array()[0].get("backendRefs")->as_array()[0];
       CHECK(backend.string_or("name") == "llama-3-1-8b-instruct-router");
     }},
    {"inference-pool",
     [](const Scenario&, const render::RenderResult& r) {
       auto* pool = find_object(r, "InferencePool", "llama-3-1-8b-instruct");
       REQUIRE(pool);
       CHECK(selects(*pool->at_path("spec.selector.matchLabels"),
                     workload(r, "engine").at_path("spec.template.metadata.labels")));
       auto* route = find_object(r, "HTTPRoute", "llama-3-1-8b-instruct");
       REQUIRE(route);
       auto& backend = route->at_path("spec.rules")->as_array()[0].get("backendRefs")->as_array()[0];
       CHECK(backend.string_or("kind") == "InferencePool");
     }},
    {"accelerator-class",
     [](const Scenario&, const render::RenderResult& r) {
       auto* c = engine_container(r);
       auto* ns = workload(r, "engine").at_path("spec.template.spec.nodeSelector");
       CHECK(ns->string_or("nvidia.com/gpu.product") == "NVIDIA-H100-80GB-HBM3");
       CHECK(ns->string_or("models.ome.io/clusterbasemodel.llama-3-1-70b-instruct") == "Ready");
       CHECK(quantity(c->at_path("resources.limits"), "nvidia.com/gpu") == "4");
       CHECK(quantity(c->at_path("resources.requests"), "nvidia.com/gpu") == "4");
       CHECK(env_value(c, "NCCL_P2P_LEVEL") == "NVL");
       CHECK(env_value(c, "PARALLELISM_SIZE") == "<unset>");  // a class was chosen
       auto cmd = all_strings(c->get("command"));
       CHECK(contains_seq(cmd, {"--tp-size", "4"}));
       auto args = all_strings(c->get("args"));
       CHECK(contains_seq(args, {"--mem-fraction-static", "0.85"}));
       CHECK(r.components[0].accelerator_class == "nvidia-h100-80gb");
     }},
    {"fine-tuned-adapter",
     [](const Scenario&, const render::RenderResult& r) {
       auto& d = workload(r, "engine");
       auto* c = engine_container(r);
       CHECK(contains_seq(all_strings(c->get("args")),
                          {"--lora-paths", "llama-sql-lora=/mnt/adapters/llama-sql-lora"}));
       CHECK(d.at_path("spec.template.spec.nodeSelector")->string_or("models.ome.io/finetunedweight.llama-sql-lora") ==
             "Ready");
       CHECK(d.at_path("spec.template.metadata.labels")->string_or("fine-tuned-serving") == "true");
     }},
    {"kueue-queue",
     [](const Scenario&, const render::RenderResult& r) {
       // The InferenceService's annotation wins over the cluster default.
       CHECK(workload(r, "engine").at_path("spec.template.metadata.labels")->string_or("kueue.x-k8s.io/queue-name") ==
             "team-a-queue");
     }},
    {"long-names",
     [](const Scenario& s, const render::RenderResult& r) {
       CHECK(s.isvc.at_path("metadata.name")->as_string().size() == 60);
       std::set<std::string> names;
       for (auto& c : r.components) {
         CHECK(c.name.size() <= 63);
         CHECK(names.insert(c.name).second);
       }
       auto* router_sa = workload(r, "router").at_path("spec.template.spec.serviceAccountName");
       CHECK(find_object(r, "ServiceAccount", router_sa->as_string()));
       // A hash keeps two long names apart.
       CHECK(render::bounded_name(s.isvc.at_path("metadata.name")->as_string() + "-engine") !=
             render::bounded_name(s.isvc.at_path("metadata.name")->as_string() + "-enginf"));
     }},
    {"pvc-model",
     [](const Scenario&, const render::RenderResult& r) {
       auto& d = workload(r, "engine");
       auto* c = engine_container(r);
       CHECK(env_value(c, "MODEL_PATH") == "/mnt/models/llama-3-2-1b");
       bool pvc = false;
       for (auto& v : d.at_path("spec.template.spec.volumes")->as_array())
         if (auto* claim = v.at_path("persistentVolumeClaim.claimName"))
           pvc = claim->as_string() == "model-store";
       CHECK(pvc);
       auto* ns = d.at_path("spec.template.spec.nodeSelector");
       CHECK((!ns || !ns->get("models.ome.io/team-a.basemodel.llama-3-2-1b")));
     }},
    {"placeholders-jinja",
     [](const Scenario&, const render::RenderResult& r) {
       auto args = all_strings(engine_container(r)->get("args"));
       CHECK(contains_seq(args, {"--served-model-name", "command-r.cohere"}));
       bool jinja = std::any_of(args.begin(), args.end(), [](const std::string& a) {
         return a.find("{{ bos_token }}") != std::string::npos &&
                a.find("{% for message in messages %}") != std::string::npos;
       });
       CHECK(jinja);
     }},
    {"isvc-override-merge",
     [](const Scenario&, const render::RenderResult& r) {
       auto* c = engine_container(r);
       CHECK(env_value(c, "SGLANG_LOG_LEVEL") == "debug");       // the InferenceService's value wins
       CHECK(env_value(c, "HF_HUB_OFFLINE") == "1");             // the runtime's other env stays
       CHECK(c->string_or("image") == "docker.io/lmsysorg/sglang:v0.5.6");
       auto args = all_strings(c->get("args"));
       CHECK(contains_seq(args, {"--enable-torch-compile"}));
       size_t containers = workload(r, "engine").at_path("spec.template.spec.containers")->as_array().size();
       CHECK(containers == 2);  // the sidecar the InferenceService adds, next to ome-container
     }},
    {"user-resources-over-accelerator",
     [](const Scenario&, const render::RenderResult& r) {
       auto* c = engine_container(r);
       CHECK(quantity(c->at_path("resources.limits"), "nvidia.com/gpu") == "2");
       CHECK(quantity(c->at_path("resources.requests"), "nvidia.com/gpu") == "2");
       CHECK(quantity(c->at_path("resources.requests"), "memory") == "120Gi");
       CHECK(workload(r, "engine").at_path("spec.template.spec.nodeSelector")->string_or("nvidia.com/gpu.product") ==
             "NVIDIA-A100-SXM4-80GB");
     }},
  };
  return facts;
}

// ------------------------------------------------------------------ the real schemas

// Plural resources for the kinds rendering emits.
std::string resource_path(const json::Value& o) {
  static const std::map<std::string, std::string> plural = {
    {"Deployment", "deployments"}, {"Service", "services"},
    {"HorizontalPodAutoscaler", "horizontalpodautoscalers"}, {"PodDisruptionBudget", "poddisruptionbudgets"},
    {"ServiceAccount", "serviceaccounts"}, {"Role", "roles"}, {"RoleBinding", "rolebindings"},
    {"Ingress", "ingresses"}, {"LeaderWorkerSet", "leaderworkersets"}, {"ScaledObject", "scaledobjects"},
    {"HTTPRoute", "httproutes"}, {"InferencePool", "inferencepools"}};
  auto it = plural.find(o.string_or("kind"));
  if (it == plural.end())
    return "";
  std::string api = o.string_or("apiVersion");
  std::string ns = o.at_path("metadata.namespace")->as_string();
  std::string base = api.find('/') == std::string::npos ? "/api/" + api : "/apis/" + api;
  return base + "/namespaces/" + ns + "/" + it->second;
}

struct SchemaServer {
  std::unique_ptr<apiserver::ApiServer> srv;
  std::unique_ptr<ApiClient> client;
  std::set<std::string> namespaces;
  size_t crds = 0;

  SchemaServer() {
    apiserver::ApiServerOptions o;
    o.tls = false;
    o.token = "render-golden-token";
    o.io_threads = 1;
    o.builtin_schemas_dir = (shared_dir() / "testdata" / "k8s" / "openapi-v3").string();
    srv = std::make_unique<apiserver::ApiServer>(o);
    srv->start();
    crds = srv->load_crds((shared_dir() / "testdata" / "k8s" / "crds").string());
    client = std::make_unique<ApiClient>(srv->port(), o.token);
  }
  ~SchemaServer() { srv->stop(); }

  void ensure_namespace(const std::string& ns) {
    if (!namespaces.insert(ns).second)
      return;
    auto r = client->post("/api/v1/namespaces", json::Object{{"apiVersion", "v1"}, {"kind", "Namespace"},
                                                             {"metadata", json::Object{{"name", ns}}}});
    INFO(r.body);
    CHECK((r.status == 201 || r.status == 409));
  }
};

SchemaServer* schema_server() {
  static std::unique_ptr<SchemaServer> s;
  if (!s)
    s = std::make_unique<SchemaServer>();
  return s.get();
}

// Knative Serving's CRD is not in the shared test data: its Service is checked for the shape
// the reconciler and Knative rely on, not against a schema.
void check_knative_shape(const json::Value& o) {
  CHECK(o.string_or("apiVersion") == "serving.knative.dev/v1");
  CHECK(o.string_or("kind") == "Service");
  CHECK_FALSE(o.at_path("metadata.name")->as_string().empty());
  CHECK_FALSE(o.at_path("metadata.namespace")->as_string().empty());
  auto* containers = o.at_path("spec.template.spec.containers");
  REQUIRE(containers);
  REQUIRE_FALSE(containers->as_array().empty());
  for (auto& c : containers->as_array()) {
    CHECK_FALSE(c.string_or("image").empty());
    if (auto* ports = c.get("ports"))
      CHECK(ports->as_array().size() <= 1);
  }
  CHECK_FALSE(o.at_path("spec.replicas"));
  CHECK_FALSE(o.at_path("spec.selector"));
}

// core v1, apps v1 and autoscaling v2 are validated field by field against the Kubernetes
// OpenAPI documents, and the LWS, ScaledObject, HTTPRoute and InferencePool CRDs by their
// structural schemas. policy/v1 PDBs, networking Ingresses and rbac objects have no OpenAPI
// document in the shared data: the server stores them as given, so a 201 there shows only that
// the path, kind and metadata are right.
void validate_against_schemas(const render::RenderResult& r) {
  auto* s = schema_server();
  REQUIRE(s->crds >= 4);
  for (auto& o : r.objects) {
    INFO(doc_id(o));
    if (o.string_or("apiVersion") == "serving.knative.dev/v1") {
      check_knative_shape(o);
      continue;
    }
    std::string path = resource_path(o);
    REQUIRE_FALSE(path.empty());
    s->ensure_namespace(o.at_path("metadata.namespace")->as_string());
    auto res = s->client->post(path + "?dryRun=All&fieldValidation=Strict", o);
    INFO("server: " << res.json().string_or("message", res.body));
    CHECK(res.status == 201);
    CHECK(res.header("warning").empty());
  }
}

}  // namespace

TEST_CASE("rendering goldens: every scenario renders as expected.yaml and passes the real schemas", "[render]") {
  auto names = scenario_names();
  REQUIRE(names.size() >= 26);
  if (!have_shared("testdata/k8s/openapi-v3"))
    return;
  for (auto& name : names) {
    DYNAMIC_SECTION(name) {
      auto s = load_scenario(name);
      REQUIRE_FALSE(s->isvc.is_null());
      REQUIRE_FALSE(s->model.is_null());
      REQUIRE_FALSE(s->runtime.is_null());
      auto r = render_scenario(*s);
      auto errors_file = s->dir / "expected_errors.txt";
      if (fs::exists(errors_file)) {
        std::string all;
        for (auto& e : r.errors)
          all += e + "\n";
        INFO("errors:\n" << all);
        CHECK_FALSE(r.ok());
        CHECK(r.objects.empty());
        std::istringstream want(read_file(errors_file));
        for (std::string line; std::getline(want, line);)
          if (!line.empty())
            CHECK(all.find(line) != std::string::npos);
        CHECK_FALSE(fs::exists(s->dir / "expected.yaml"));
        continue;
      }
      {
        std::string all;
        for (auto& e : r.errors)
          all += e + "\n";
        INFO("errors:\n" << all);
        REQUIRE(r.ok());
      }
      std::vector<json::Value> got{summary(r)};
      got.insert(got.end(), r.objects.begin(), r.objects.end());
      auto golden = s->dir / "expected.yaml";
      if (update_goldens()) {
        write_file(golden, "# Generated by tests/unit/test_render.cpp (OMED_UPDATE_GOLDEN=1); reviewed by hand.\n" +
                             yaml_stream(got));
      } else {
        REQUIRE(fs::exists(golden));
        auto want = yaml::parse_all(read_file(golden));
        for (size_t i = 0; i < std::min(want.size(), got.size()); ++i) {
          std::string diff = first_difference(want[i], got[i], "");
          INFO("document " << i << " (" << doc_id(want[i]) << "): " << diff);
          CHECK(diff.empty());
        }
        std::string ids;
        for (auto& g : got)
          ids += doc_id(g) + "\n";
        INFO("rendered documents:\n" << ids);
        CHECK(want.size() == got.size());
      }
      check_invariants(*s, r);
      auto& facts = scenario_facts();
      auto it = facts.find(name);
      INFO("every non-error scenario names its facts in scenario_facts()");
      REQUIRE(it != facts.end());
      it->second(*s, r);
      validate_against_schemas(r);
    }
  }
}

TEST_CASE("bounded names keep Kubernetes' limit and stay distinct", "[render]") {
  CHECK(render::bounded_name("short") == "short");
  std::string sixty(60, 'a');
  auto a = render::bounded_name(sixty + "-engine");
  auto b = render::bounded_name(sixty + "-decoder");
  CHECK(a.size() <= 63);
  CHECK(b.size() <= 63);
  CHECK(a != b);
  CHECK(a == render::bounded_name(sixty + "-engine"));  // stable: reconciles find the same object
  // A hash never follows a dangling '-' (DNS-1123 labels end alphanumeric either way).
  CHECK(render::bounded_name(std::string(53, 'b') + "-" + std::string(20, 'c')).find("--") == std::string::npos);
}

// Without this, a validator that accepted everything would make every golden look schema-valid.
TEST_CASE("the schema server refuses what a real cluster refuses", "[render]") {
  if (!have_shared("testdata/k8s/openapi-v3"))
    return;
  auto s = load_scenario("multinode-lws");
  auto r = render_scenario(*s);
  REQUIRE(r.ok());
  auto* server = schema_server();
  auto post = [&](const json::Value& o) {
    server->ensure_namespace(o.at_path("metadata.namespace")->as_string());
    return server->client->post(resource_path(o) + "?dryRun=All&fieldValidation=Strict", o);
  };
  json::Value lws = *find_object(r, "LeaderWorkerSet", "lws-deepseek-r1-engine");
  json::Value svc = *find_object(r, "Service", "deepseek-r1-engine");
  REQUIRE(post(lws).status == 201);
  REQUIRE(post(svc).status == 201);

  SECTION("an unknown field in a CRD-defined object") {
    lws["spec"]["leaderWorkerTemplate"]["sizee"] = 2;
    CHECK(post(lws).status == 400);
  }
  SECTION("a wrong type inside the pod template a CRD embeds") {
    lws["spec"]["leaderWorkerTemplate"]["size"] = "two";
    CHECK(post(lws).status >= 400);
  }
  SECTION("an unknown field in a built-in") {
    svc["spec"]["selectr"] = json::Object{};
    CHECK(post(svc).status == 400);
  }
  SECTION("a wrong type in a built-in") {
    svc["spec"]["ports"].as_array()[0]["port"] = "http";
    CHECK(post(svc).status >= 400);
  }
}
