// Applies deploy/samples through the Kubernetes client (namespaces created as needed, objects
// that exist already left alone) and logs each object's Accepted condition once it appears.
#include "omed/actors/demo.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
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
  lg.info("demo ready")
    .kv("samples", samples.size())
    .kv("reconciled", settled)
    .kv("try", "kubectl --kubeconfig " + opts.kubeconfig + " get clusterbasemodels,basemodels,isvc -A");
  return settled;
}

}  // namespace omed::actors
