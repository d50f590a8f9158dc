// Applies deploy/samples through the Kubernetes client (namespaces created as needed, objects
// that exist already left alone) and logs each object's Accepted condition once it appears.
#include "omed/actors/demo.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "omed/common/yaml.hpp"
#include "omed/k8s/api_error.hpp"
#include "omed/k8s/client.hpp"
#include "omed/k8s/resource.hpp"
#include "omed/k8s/rest_client.hpp"
#include "omed/log/logger.hpp"

namespace omed::actors {

namespace {

struct Sample {
  const k8s::ResourceInfo* rt;
  std::string ns, name, file;
};

std::string text(const json::Value& v, std::string_view path) {
  auto* p = v.at_path(path);
  return p && p->is_string() ? p->as_string() : std::string();
}

std::vector<std::filesystem::path> yaml_files(const std::string& dir) {
  std::vector<std::filesystem::path> out;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file() && (e.path().extension() == ".yaml" || e.path().extension() == ".yml"))
      out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Models and runtimes before what refers to them, as `kubectl apply -f` of a sorted tree would.
int order_of(const std::string& kind) {
  static const char* order[] = {"AcceleratorClass", "ClusterBaseModel",    "BaseModel",        "FineTunedWeight",
                                "ClusterServingRuntime", "ServingRuntime", "InferenceService", "BenchmarkJob"};
  for (int i = 0; i < 8; ++i)
    if (kind == order[i])
      return i;
  return 8;
}

// A tiny Llama-shaped model (HF layout, zero weights): enough for the agent to find, verify and
// parse, and for the parameter count from the weights to meet the config's exact formula.
bool write_demo_model(const std::filesystem::path& dir, std::string& err) {
  const int64_t vocab = 256, hidden = 64, layers = 2, heads = 4, kv_heads = 2, inter = 128;
  const int64_t head_dim = hidden / heads;
  std::vector<std::pair<std::string, std::vector<int64_t>>> tensors{{"model.embed_tokens.weight", {vocab, hidden}},
                                                                    {"model.norm.weight", {hidden}},
                                                                    {"lm_head.weight", {vocab, hidden}}};
  for (int64_t l = 0; l < layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    tensors.push_back({p + "input_layernorm.weight", {hidden}});
    tensors.push_back({p + "post_attention_layernorm.weight", {hidden}});
    tensors.push_back({p + "self_attn.q_proj.weight", {heads * head_dim, hidden}});
    tensors.push_back({p + "self_attn.k_proj.weight", {kv_heads * head_dim, hidden}});
    tensors.push_back({p + "self_attn.v_proj.weight", {kv_heads * head_dim, hidden}});
    tensors.push_back({p + "self_attn.o_proj.weight", {hidden, heads * head_dim}});
    tensors.push_back({p + "mlp.gate_proj.weight", {inter, hidden}});
    tensors.push_back({p + "mlp.up_proj.weight", {inter, hidden}});
    tensors.push_back({p + "mlp.down_proj.weight", {hidden, inter}});
  }
  json::Object header{{"__metadata__", json::Value(json::Object{{"format", json::Value("pt")}})}};
  int64_t offset = 0;
  for (auto& [name, shape] : tensors) {
    int64_t n = 1;
    json::Array dims;
    for (auto d : shape) {
      n *= d;
      dims.emplace_back(d);
    }
    header.set(name, json::Value(json::Object{{"dtype", json::Value("BF16")},
                                              {"shape", json::Value(std::move(dims))},
                                              {"data_offsets", json::Value(json::Array{json::Value(offset),
                                                                                       json::Value(offset + 2 * n)})}}));
    offset += 2 * n;
  }
  std::string h = json::dump(json::Value(std::move(header)));
  while ((h.size() + 8) % 8)
    h.push_back(' ');
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    err = "cannot create " + dir.string() + ": " + ec.message();
    return false;
  }
  {
    std::ofstream out(dir / "model.safetensors", std::ios::binary | std::ios::trunc);
    uint64_t len = h.size();
    char le[8];
    for (int i = 0; i < 8; ++i)
      le[i] = static_cast<char>((len >> (8 * i)) & 0xff);
    out.write(le, 8);
    out << h;
    std::string zeros(static_cast<size_t>(offset), '\0');
    out << zeros;
    if (!out) {
      err = "cannot write " + (dir / "model.safetensors").string();
      return false;
    }
  }
  std::ofstream cfg(dir / "config.json", std::ios::trunc);
  cfg << R"({"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":64,"intermediate_size":128,)"
         R"("num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":256,)"
         R"("max_position_embeddings":4096,"rms_norm_eps":1e-5,"tie_word_embeddings":false,)"
         R"("torch_dtype":"bfloat16","transformers_version":"4.46.0"})";
  return static_cast<bool>(cfg);
}

}  // namespace

int run_demo(const DemoOptions& opts, const std::atomic<bool>& stop) {
  log::Logger lg("demo");
  std::vector<Sample> samples;
  std::vector<std::pair<Sample, json::Value>> docs;
  try {
    for (auto& f : yaml_files(opts.samples_dir)) {
      std::ifstream in(f, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      for (auto& doc : yaml::parse_all(ss.str())) {
        auto* rt = k8s::find_well_known(text(doc, "apiVersion"), text(doc, "kind"));
        if (!rt) {
          lg.warn("sample of an unknown kind skipped").kv("file", f.string()).kv("kind", text(doc, "kind"));
          continue;
        }
        Sample s{rt, rt->namespaced ? text(doc, "metadata.namespace") : "", text(doc, "metadata.name"), f.string()};
        if (rt->namespaced && s.ns.empty()) {
          s.ns = "default";
          doc["metadata"]["namespace"] = s.ns;
        }
        docs.emplace_back(s, std::move(doc));
      }
    }
  } catch (const std::exception& e) {
    lg.error("cannot read the samples").kv("dir", opts.samples_dir).kv("error", e.what());
    return 0;
  }
  if (!opts.demo_model_dir.empty()) {
    std::string err;
    auto dir = std::filesystem::absolute(opts.demo_model_dir);
    if (write_demo_model(dir, err)) {
      const auto* rt = k8s::find_well_known("ome.io/v1beta1", "ClusterBaseModel");
      json::Value doc = json::parse(R"({"apiVersion":"ome.io/v1beta1","kind":"ClusterBaseModel",
        "metadata":{"name":"demo-tiny-llama"},"spec":{"vendor":"omed","modelFormat":{"name":"safetensors"},
        "storage":{"storageUri":""}}})");
      doc["spec"]["storage"]["storageUri"] = "local://" + dir.string();
      if (rt)
        docs.emplace_back(Sample{rt, "", "demo-tiny-llama", "(written by the demo: " + dir.string() + ")"}, std::move(doc));
    } else {
      lg.warn("cannot write the demo model").kv("error", err);
    }
  }
  std::stable_sort(docs.begin(), docs.end(),
                   [](auto& a, auto& b) { return order_of(a.first.rt->kind) < order_of(b.first.rt->kind); });

  k8s::RestClient rest(opts.rest, k8s::ClientOptions{});
  k8s::Client client(rest);
  const auto& ns_rt = *k8s::find_well_known("v1", "Namespace");
  for (auto& [s, doc] : docs) {
    if (stop)
      return 0;
    try {
      if (!s.ns.empty() && !client.try_get(ns_rt, "", s.ns))
        client.create(ns_rt, json::Object{{"apiVersion", "v1"}, {"kind", "Namespace"},
                                          {"metadata", json::Object{{"name", s.ns}}}});
      if (client.try_get(*s.rt, s.ns, s.name)) {
        lg.info("sample already present").kv("kind", s.rt->kind).kv("name", s.name);
      } else {
        client.create(*s.rt, doc);
        lg.info("sample applied").kv("kind", s.rt->kind).kv("namespace", s.ns).kv("name", s.name).kv("file", s.file);
      }
      samples.push_back(s);
    } catch (const std::exception& e) {
      lg.warn("sample rejected").kv("kind", s.rt->kind).kv("name", s.name).kv("error", e.what());
    }
  }

  // Wait for the controller's verdict on each.
  int settled = 0;
  std::vector<bool> done(samples.size(), false);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(opts.settle_seconds);
  while (!stop && settled < static_cast<int>(samples.size()) && std::chrono::steady_clock::now() < deadline) {
    for (size_t i = 0; i < samples.size(); ++i) {
      if (done[i])
        continue;
      auto& s = samples[i];
      std::optional<json::Value> o;
      try {
        o = client.try_get(*s.rt, s.ns, s.name);
      } catch (const std::exception&) {
        continue;
      }
      if (o && (s.rt->kind == "ServingRuntime" || s.rt->kind == "ClusterServingRuntime")) {
        // OME gives runtimes no status: the finalizer is omed's sign that it took the runtime on.
        auto* fins = o->at_path("metadata.finalizers");
        bool held = false;
        if (fins && fins->is_array())
          for (auto& f : fins->as_array())
            held = held || (f.is_string() && f.as_string() == "ome.io/finalizer");
        if (held) {
          lg.info("sample reconciled").kv("kind", s.rt->kind).kv("name", s.name).kv("accepted", "True")
            .kv("reason", "Valid").kv("message", "runtimes carry no status; omed added its finalizer");
          done[i] = true;
          ++settled;
        }
        continue;
      }
      auto* conds = o ? o->at_path("status.conditions") : nullptr;
      if (!conds || !conds->is_array())
        continue;
      for (auto& c : conds->as_array()) {
        if (c.string_or("type") != "Accepted")
          continue;
        auto og = o->at_path("status.observedGeneration");
        lg.info("sample reconciled")
          .kv("kind", s.rt->kind)
          .kv("name", s.ns.empty() ? s.name : s.ns + "/" + s.name)
          .kv("accepted", c.string_or("status"))
          .kv("reason", c.string_or("reason"))
          .kv("state", text(*o, "status.state"))
          .kv("observedGeneration", og && og->is_int() ? og->as_int() : 0)
          .kv("message", c.string_or("message"));
        done[i] = true;
        ++settled;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  for (size_t i = 0; i < samples.size(); ++i)
    if (!done[i])
      lg.warn("sample not reconciled in time").kv("kind", samples[i].rt->kind).kv("name", samples[i].name);
  // The model pipeline: agents on the simulated nodes parse the demo model; the controller rolls
  // their reports up and fills the spec.
  if (!opts.demo_model_dir.empty()) {
    const auto* rt = k8s::find_well_known("ome.io/v1beta1", "ClusterBaseModel");
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(opts.settle_seconds);
    bool ready = false;
    while (rt && !stop && std::chrono::steady_clock::now() < until) {
      std::optional<json::Value> o;
      try {
        o = client.try_get(*rt, "", "demo-tiny-llama");
      } catch (const std::exception&) {
      }
      if (o && text(*o, "status.state") == "Ready" && !text(*o, "spec.modelParameterSize").empty()) {
        auto* nodes = o->at_path("status.nodesReady");
        lg.info("demo model ready")
          .kv("name", "demo-tiny-llama")
          .kv("architecture", text(*o, "spec.modelArchitecture"))
          .kv("parameters", text(*o, "spec.modelParameterSize"))
          .kv("nodesReady", nodes && nodes->is_array() ? nodes->as_array().size() : 0);
        ready = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (!ready && !stop)
      lg.warn("demo model not ready in time").kv("name", "demo-tiny-llama");
  }
  lg.info("demo ready")
    .kv("samples", samples.size())
    .kv("reconciled", settled)
    .kv("try", "kubectl --kubeconfig " + opts.kubeconfig + " get clusterbasemodels,basemodels,isvc -A");
  return settled;
}

}  // namespace omed::actors
