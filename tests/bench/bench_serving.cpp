// Benchmark of runtime selection at catalog scale: 1,000 runtimes shaped like OME's shipped
// catalog (mostly safetensors, one runtime per architecture and size band, exact transformers
// versions, autoSelect mostly false) and 1,000 models, each ranked on one core by
//   catalog      RuntimeCatalog::select (parsed once, indexed by format and architecture)
//   evaluate-all select_runtime over every visible runtime, parsed once (no index)
//   ome-style    what OME does per reconcile: list every runtime, parse each, evaluate all
// The last two are the peers; every model must get the same runtime from all three.
// Then renders 1,000 InferenceServices (raw with router, HPA, prefill-decode, multi-node), alone
// and as a steady-state reconcile does it (render, hash, compare with what is live). No outside
// peer can render OME's objects here; the figures stand against the issue's targets.
// Prints tables and the lines "BENCH selection ..." and "BENCH serving ...".
// OMED_BENCH_RUNTIMES / OMED_BENCH_MODELS / OMED_BENCH_ISVCS scale the inputs.
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "omed/common/json.hpp"
#include "omed/common/yaml.hpp"
#include "omed/controller/plan.hpp"
#include "omed/render/inference_service.hpp"
#include "omed/selection/runtime_catalog.hpp"
#include "omed/selection/runtime_selector.hpp"

using namespace omed;
using namespace omed::selection;

namespace {

const char* kArchitectures[] = {
    "LlamaForCausalLM",  "Qwen2ForCausalLM",      "Qwen3ForCausalLM",     "Qwen3MoeForCausalLM",
    "MistralForCausalLM", "MixtralForCausalLM",   "DeepseekV3ForCausalLM", "Gemma2ForCausalLM",
    "Gemma3ForCausalLM", "Phi3ForCausalLM",       "GptOssForCausalLM",     "Llama4ForConditionalGeneration",
    "Qwen2VLForConditionalGeneration", "MllamaForConditionalGeneration", "CohereForCausalLM", "Glm4ForCausalLM"};
const char* kTransformers[] = {"4.42.3", "4.43.1", "4.51.0", "4.45.0", "4.40.0", "4.50.0.dev0", "4.51.0.dev0", "4.33.1"};
struct Band { const char *min, *max; double lo, hi; };
const Band kBands[] = {{"1B", "2B", 1e9, 2e9},       {"3B", "4B", 3e9, 4e9},       {"7B", "9B", 7e9, 9e9},
                       {"13B", "15B", 13e9, 15e9},   {"30B", "35B", 30e9, 35e9},   {"65B", "75B", 65e9, 75e9},
                       {"400B", "410B", 400e9, 410e9}, {"650B", "700B", 650e9, 700e9}};
const char* kNamespaces[] = {"team-a", "team-b", "team-c", "team-d", "team-e"};

template <size_t N, typename T>
const T& pick(std::mt19937_64& rng, const T (&arr)[N]) {
  return arr[std::uniform_int_distribution<size_t>(0, N - 1)(rng)];
}

bool chance(std::mt19937_64& rng, double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }

json::Value make_runtime(std::mt19937_64& rng, int i) {
  const char* arch = pick(rng, kArchitectures);
  const Band& band = pick(rng, kBands);
  const bool namespaced = chance(rng, 0.1);
  json::Object meta{{"name", "srt-" + std::to_string(i) + "-" + std::string(arch).substr(0, 8)},
                    {"resourceVersion", std::to_string(i + 1)},
                    {"creationTimestamp", "2025-06-01T00:00:00Z"}};
  if (namespaced)
    meta.set("namespace", pick(rng, kNamespaces));
  json::Array formats;
  const double r = std::uniform_real_distribution<double>(0, 1)(rng);
  json::Object f;
  if (r < 0.97) {
    f.set("modelFormat", json::Object{{"name", "safetensors"}, {"version", "1.0.0"}, {"weight", 1}});
    f.set("modelFramework", json::Object{{"name", "transformers"}, {"version", pick(rng, kTransformers)}, {"weight", 1}});
  } else if (r < 0.99) {
    f.set("modelFormat", json::Object{{"name", "diffusers"}, {"version", "0.34.0.dev0"}, {"weight", 1}});
  } else {
    f.set("modelFormat", json::Object{{"name", "pytorch"}, {"version", "1.0.0"}, {"weight", 1}});
  }
  f.set("modelArchitecture", arch);
  if (chance(rng, 0.05))
    f.set("quantization", "fp8");
  f.set("autoSelect", chance(rng, 0.4));
  f.set("priority", chance(rng, 0.03) ? 2 : 1);
  f.set("version", "1.0.0");
  formats.push_back(std::move(f));
  json::Object spec{{"disabled", chance(rng, 0.02)},
                    {"supportedModelFormats", std::move(formats)},
                    {"protocolVersions", json::Array{"openAI"}}};
  if (chance(rng, 0.95)) {
    json::Object range;
    if (!chance(rng, 0.03))
      range.set("min", band.min);
    if (!chance(rng, 0.03))
      range.set("max", band.max);
    spec.set("modelSizeRange", std::move(range));
  }
  // The part of a real runtime selection never reads but a re-list has to copy and parse around.
  spec.set("engineConfig", json::Object{
      {"annotations", json::Object{{"prometheus.io/scrape", "true"}, {"prometheus.io/port", "8080"}}},
      {"tolerations", json::Array{json::Object{{"key", "nvidia.com/gpu"}, {"operator", "Exists"}, {"effect", "NoSchedule"}}}},
      {"runner", json::Object{
          {"name", "ome-container"},
          {"image", "docker.io/lmsysorg/sglang:v0.5.5.post3-cu129-amd64"},
          {"command", json::Array{"python3", "-m", "sglang.launch_server", "--host", "0.0.0.0", "--port", "8080",
                                  "--model-path", "$(MODEL_PATH)", "--tp-size", "1", "--mem-frac", "0.9"}},
          {"resources", json::Object{{"requests", json::Object{{"cpu", 10}, {"memory", "30Gi"}, {"nvidia.com/gpu", 1}}}}},
      }}});
  return json::Object{{"apiVersion", "ome.io/v1beta1"},
                      {"kind", namespaced ? "ServingRuntime" : "ClusterServingRuntime"},
                      {"metadata", std::move(meta)},
                      {"spec", std::move(spec)}};
}

struct ModelCase {
  ModelFacts facts;
  std::string ns;
};

// Most models are ones the catalog was written for (a runtime's architecture, transformers version,
// quantization and size band, as the agent reports them); the rest are arbitrary and mostly fail.
ModelCase make_model(std::mt19937_64& rng, int i, const std::vector<json::Value>& runtimes) {
  const json::Value* like = nullptr;
  if (chance(rng, 0.85)) {
    for (int tries = 0; tries < 100 && !like; ++tries) {
      const json::Value& r = runtimes[std::uniform_int_distribution<size_t>(0, runtimes.size() - 1)(rng)];
      const json::Value& f = r.at_path("spec.supportedModelFormats")->as_array().front();
      if (f.get("autoSelect")->as_bool() && f.at_path("modelFormat.name")->as_string() == "safetensors")
        like = &r;
    }
  }
  const Band* band = &pick(rng, kBands);
  std::string arch = pick(rng, kArchitectures), tv = pick(rng, kTransformers), quant;
  if (like) {
    const json::Value& f = like->at_path("spec.supportedModelFormats")->as_array().front();
    arch = f.string_or("modelArchitecture");
    tv = f.at_path("modelFramework.version")->as_string();
    quant = f.string_or("quantization");
    if (const json::Value* min = like->at_path("spec.modelSizeRange.min"))
      for (const Band& b : kBands)
        if (min->as_string() == b.min)
          band = &b;
  } else if (chance(rng, 0.05)) {
    quant = "fp8";
  }
  const double size = std::uniform_real_distribution<double>(band->lo, band->hi)(rng);
  char size_text[32];
  std::snprintf(size_text, sizeof size_text, "%.2fB", size / 1e9);
  json::Object spec{{"modelFormat", json::Object{{"name", like || chance(rng, 0.98) ? "safetensors" : "diffusers"},
                                                 {"version", "1.0.0"}}},
                    {"modelFramework", json::Object{{"name", "transformers"}, {"version", tv}}},
                    {"modelArchitecture", arch},
                    {"modelParameterSize", size_text}};
  if (!quant.empty())
    spec.set("quantization", quant);
  json::Value obj = json::Object{{"kind", "ClusterBaseModel"},
                                 {"metadata", json::Object{{"name", "model-" + std::to_string(i)}}},
                                 {"spec", std::move(spec)}};
  std::string ns = "serving";
  if (like && like->at_path("metadata.namespace"))
    ns = like->at_path("metadata.namespace")->as_string();
  else if (chance(rng, 0.5))
    ns = pick(rng, kNamespaces);
  return {ModelFacts::from_object(obj), ns};
}

std::string chosen_key(const Selection& s) { return s.chosen ? s.chosen->key() : "-"; }

size_t env_size(const char* name, size_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoul(v, nullptr, 10) : fallback;
}

// CPU time of this thread: "on one core" even when the machine is busy with other work.
struct CpuClock {
  using time_point = double;
  static double now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
  }
};

double ms_since(double t0) { return CpuClock::now() - t0; }

}  // namespace

const char* kServingRuntime = R"Y(apiVersion: ome.io/v1beta1
kind: ClusterServingRuntime
metadata: {name: srt-llama-3-1-8b-instruct, uid: rt-uid}
spec:
  supportedModelFormats:
    - modelFormat: {name: safetensors, version: "1.0.0"}
      modelFramework: {name: transformers, version: "4.42.3"}
      modelArchitecture: LlamaForCausalLM
      autoSelect: true
      priority: 1
  protocolVersions: [openAI]
  modelSizeRange: {min: 7B, max: 9B}
  engineConfig:
    annotations: {prometheus.io/scrape: "true", prometheus.io/port: "8080", prometheus.io/path: /metrics}
    labels: {logging-forward: enabled}
    tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
    volumes: [{name: dshm, emptyDir: {medium: Memory}}]
    runner:
      name: ome-container
      image: docker.io/lmsysorg/sglang:v0.5.5.post3-cu129-amd64
      ports: [{containerPort: 8080, name: http1, protocol: TCP}]
      command: [python3, -m, sglang.launch_server, --host, "0.0.0.0", --port, "8080", --enable-metrics,
                --model-path, $(MODEL_PATH), --tp-size, "1", --mem-frac, "0.9", --served-model-name, "{{.Name}}"]
      volumeMounts: [{mountPath: /dev/shm, name: dshm}]
      resources: {requests: {cpu: 10, memory: 30Gi, nvidia.com/gpu: 1}, limits: {cpu: 10, memory: 30Gi, nvidia.com/gpu: 1}}
      readinessProbe: {httpGet: {path: /health_generate, port: 8080}, periodSeconds: 60}
  decoderConfig:
    tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
    runner:
      name: ome-container
      image: docker.io/lmsysorg/sglang:v0.5.5.post3-cu129-amd64
      ports: [{containerPort: 8080, name: http1, protocol: TCP}]
      args: [--disaggregation-mode, decode, --model-path, $(MODEL_PATH)]
      resources: {requests: {nvidia.com/gpu: 1}, limits: {nvidia.com/gpu: 1}}
  routerConfig:
    runner:
      name: router
      image: docker.io/lightseekorg/smg:v0.2.4
      ports: [{containerPort: 8080, name: http}]
      args: [--service-discovery, --selector, "component=engine ome.io/inferenceservice=$(INFERENCESERVICE_NAME)"]
      env:
        - {name: INFERENCESERVICE_NAME, valueFrom: {fieldRef: {fieldPath: "metadata.labels['ome.io/inferenceservice']"}}}
      resources: {limits: {cpu: "1", memory: 2Gi}}
)Y";

// One of four shapes, cycling: engine+router, engine with an HPA, prefill-decode with a router,
// multi-node (leader and one worker).
json::Value make_isvc(size_t i) {
  static const char* shapes[] = {
    "  engine: {minReplicas: 1, maxReplicas: 1}\n  router: {minReplicas: 1, maxReplicas: 1}\n",
    "  engine: {minReplicas: 1, maxReplicas: 4}\n",
    "  engine: {minReplicas: 1}\n  decoder: {minReplicas: 2}\n  router: {minReplicas: 1}\n",
    "  engine:\n    minReplicas: 1\n    leader: {runner: {name: ome-container}}\n    worker: {size: 1, runner: {name: ome-container}}\n"};
  std::string name = "llama-" + std::to_string(i);
  return yaml::parse_one("apiVersion: ome.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: " + name +
                         "\n  namespace: team-" + std::to_string(i % 7) + "\n  uid: uid-" + std::to_string(i) +
                         "\nspec:\n  model: {name: llama-3-1-8b-instruct}\n" + shapes[i % 4]);
}

int main() {
  const size_t n_runtimes = env_size("OMED_BENCH_RUNTIMES", 1000);
  const size_t n_models = env_size("OMED_BENCH_MODELS", 1000);
  std::mt19937_64 rng(20250601);
  std::vector<json::Value> objects;
  for (size_t i = 0; i < n_runtimes; ++i)
    objects.push_back(make_runtime(rng, static_cast<int>(i)));
  std::vector<ModelCase> models;
  for (size_t i = 0; i < n_models; ++i)
    models.push_back(make_model(rng, static_cast<int>(i), objects));

  auto t0 = CpuClock::now();
  RuntimeCatalog catalog;
  for (const json::Value& o : objects)
    catalog.put(o);
  const double build_ms = ms_since(t0);

  // 1. The catalog.
  std::vector<std::string> by_catalog(n_models);
  size_t chosen = 0, candidates = 0;
  t0 = CpuClock::now();
  for (size_t i = 0; i < n_models; ++i) {
    Selection s = catalog.select(models[i].facts, {}, models[i].ns);
    by_catalog[i] = chosen_key(s);
    chosen += s.chosen != nullptr;
    candidates += s.candidates.size();
  }
  const double catalog_ms = ms_since(t0);

  // 2. Every runtime evaluated, but parsed once.
  std::vector<RuntimeEntry> parsed;
  for (const json::Value& o : objects)
    parsed.push_back(RuntimeEntry::from_object(o));
  size_t same_all = 0;
  t0 = CpuClock::now();
  for (size_t i = 0; i < n_models; ++i) {
    Requirements req;
    req.isvc_namespace = models[i].ns;
    std::vector<const RuntimeEntry*> ns, cl;
    for (const RuntimeEntry& e : parsed)
      (e.cluster() ? cl : ns).push_back(&e);
    std::erase_if(ns, [&](const RuntimeEntry* e) { return e->ns != models[i].ns; });
    same_all += chosen_key(select_runtime(models[i].facts, req, ns, cl)) == by_catalog[i];
  }
  const double all_ms = ms_since(t0);

  // 3. OME's way: every reconcile lists (copies) and parses every runtime, then evaluates all.
  size_t same_ome = 0;
  t0 = CpuClock::now();
  for (size_t i = 0; i < n_models; ++i) {
    Requirements req;
    req.isvc_namespace = models[i].ns;
    std::vector<RuntimeEntry> listed;
    listed.reserve(objects.size());
    for (const json::Value& o : objects)
      listed.push_back(RuntimeEntry::from_object(o));
    std::vector<const RuntimeEntry*> ns, cl;
    for (const RuntimeEntry& e : listed) {
      if (e.cluster())
        cl.push_back(&e);
      else if (e.ns == models[i].ns)
        ns.push_back(&e);
    }
    same_ome += chosen_key(select_runtime(models[i].facts, req, ns, cl)) == by_catalog[i];
  }
  const double ome_ms = ms_since(t0);

  const double pairs = static_cast<double>(n_runtimes) * static_cast<double>(n_models);
  std::printf("runtime selection: %zu runtimes x %zu models, one core (thread CPU time)\n", n_runtimes, n_models);
  std::printf("%-14s %12s %16s %14s\n", "path", "total ms", "us per model", "same choice");
  std::printf("%-14s %12.1f %16.2f %14s\n", "catalog", catalog_ms, catalog_ms * 1000 / n_models, "-");
  std::printf("%-14s %12.1f %16.2f %14zu\n", "evaluate-all", all_ms, all_ms * 1000 / n_models, same_all);
  std::printf("%-14s %12.1f %16.2f %14zu\n", "ome-style", ome_ms, ome_ms * 1000 / n_models, same_ome);
  std::printf("catalog build (put x%zu): %.1f ms; models with a runtime: %zu; candidates explained: %zu; "
              "runtime-model pairs: %.0f\n",
              n_runtimes, build_ms, chosen, candidates, pairs);
  std::printf("BENCH selection runtimes=%zu models=%zu catalog_ms=%.1f evaluate_all_ms=%.1f naive_ms=%.1f "
              "build_ms=%.1f chosen=%zu same_choice=%zu\n",
              n_runtimes, n_models, catalog_ms, all_ms, ome_ms, build_ms, chosen, same_ome);
  // 4. Rendering InferenceServices, and the steady-state reconcile around it.
  const size_t n_isvcs = env_size("OMED_BENCH_ISVCS", 1000);
  json::Value rt = yaml::parse_one(kServingRuntime);
  json::Value model = yaml::parse_one(R"Y(apiVersion: ome.io/v1beta1
kind: ClusterBaseModel
metadata: {name: llama-3-1-8b-instruct, annotations: {models.ome.io/category: SMALL}}
spec:
  vendor: meta
  modelFormat: {name: safetensors, version: "1.0.0"}
  storage: {storageUri: "hf://meta-llama/Llama-3.1-8B-Instruct", path: /raid/models/meta/llama-3-1-8b-instruct}
)Y");
  std::vector<json::Value> isvcs;
  for (size_t i = 0; i < n_isvcs; ++i)
    isvcs.push_back(make_isvc(i));
  render::RenderSettings settings;
  size_t objects_out = 0, failed = 0;
  std::vector<std::vector<json::Value>> rendered(n_isvcs);
  t0 = CpuClock::now();
  for (size_t i = 0; i < n_isvcs; ++i) {
    auto r = render::render_inference_service(render::RenderInput{isvcs[i], model, rt, 0, {}, {}, settings});
    failed += !r.ok();
    objects_out += r.objects.size();
    rendered[i] = std::move(r.objects);
  }
  const double render_ms = ms_since(t0);
  // What each later reconcile of an unchanged InferenceService costs: render again, stamp the
  // desired hash, and find every object already live (no write).
  std::vector<controller::Owned> live(n_isvcs);
  for (size_t i = 0; i < n_isvcs; ++i)
    for (auto& o : rendered[i])
      live[i][controller::owned_key(o)] = std::make_shared<const json::Value>(controller::with_desired_hash(o));
  size_t writes = 0;
  t0 = CpuClock::now();
  for (size_t i = 0; i < n_isvcs; ++i) {
    auto r = render::render_inference_service(render::RenderInput{isvcs[i], model, rt, 0, {}, {}, settings});
    controller::Plan p;
    p.write_status = false;
    p.wants_finalizer = false;
    p.apply = std::move(r.objects);
    writes += controller::steps_for(isvcs[i], p, live[i], std::chrono::system_clock::now()).size();
  }
  const double reconcile_ms = ms_since(t0);
  std::printf("\nrendering: %zu InferenceServices (4 shapes), one core (thread CPU time)\n", n_isvcs);
  std::printf("%-22s %12s %16s %12s\n", "path", "total ms", "us per isvc", "target ms");
  std::printf("%-22s %12.1f %16.2f %12s\n", "render", render_ms, render_ms * 1000 / n_isvcs, "500");
  std::printf("%-22s %12.1f %16.2f %12s\n", "render+diff (no-op)", reconcile_ms, reconcile_ms * 1000 / n_isvcs, "-");
  std::printf("objects rendered: %zu; failed renders: %zu; writes a no-op reconcile planned: %zu\n", objects_out,
              failed, writes);
  std::printf("BENCH serving runtimes=%zu models=%zu rank_ms=%.1f isvcs=%zu render_ms=%.1f reconcile_ms=%.1f "
              "objects=%zu noop_writes=%zu\n",
              n_runtimes, n_models, catalog_ms, n_isvcs, render_ms, reconcile_ms, objects_out, writes);
  if (failed || writes) {
    std::fprintf(stderr, "FAIL: %zu renders failed, %zu writes planned for unchanged objects\n", failed, writes);
    return 1;
  }
  if (same_ome != n_models || same_all != n_models) {
    std::fprintf(stderr, "FAIL: the catalog disagreed with the naive path on %zu models\n", n_models - same_ome);
    return 1;
  }
  return 0;
}
