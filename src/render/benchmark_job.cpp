// genai-bench as a Job: arguments as OME builds them (reference ome.md §6), credentials only
// through the environment from Secrets, and results to a PVC or object storage.
#include "omed/render/benchmark_job.hpp"

#include <regex>

#include "internal.hpp"

namespace omed::render {

namespace {

using detail::text;

std::string dump_number(const json::Value& v) {
  if (v.is_int())
    return std::to_string(v.as_int());
  if (v.is_string())
    return v.as_string();
  return json::dump(v);
}

json::Object secret_env(const std::string& name, const std::string& secret, const std::string& key) {
  return json::Object{{"name", name},
                      {"valueFrom", json::Object{{"secretKeyRef", json::Object{{"name", secret}, {"key", key}}}}}};
}

}  // namespace

std::vector<std::string> default_scenarios(const std::string& task) {
  if (task == "text-to-text")
    return {"N(480,240)/(300,150)", "D(100,100)", "D(100,1000)", "D(2000,200)", "D(7800,200)"};
  if (task == "image-to-text")
    return {"I(512,512)", "I(1024,512)", "I(2048,2048)"};
  if (task == "text-to-embeddings")
    return {"E(64,64)", "E(128,128)", "E(256,256)", "E(512,512)", "E(1024,1024)"};
  if (task == "image-to-embeddings")
    return {"I(512,512)"};
  return {};
}

bool scenario_valid(const std::string& task, const std::string& s) {
  static const std::regex text(R"(^(N\(\d+,\d+\)/\(\d+,\d+\)|U\(\d+,\d+\)(/\(\d+,\d+\))?|D\(\d+,\d+\))$)");
  static const std::regex embed(R"(^E\(\d+,\d+\)$)");
  static const std::regex image(R"(^I\(\d+,\d+(,\d+)?\)$)");
  if (task == "text-to-text")
    return std::regex_match(s, text);
  if (task == "text-to-embeddings")
    return std::regex_match(s, embed);
  if (task == "image-to-text" || task == "image-to-embeddings")
    return std::regex_match(s, image);
  return false;
}

BenchmarkRender render_benchmark_job(const json::Value& bj, const BenchmarkTarget& target,
                                     const BenchmarkSettings& settings) {
  BenchmarkRender out;
  std::string name = text(bj, "metadata.name");
  std::string ns = text(bj, "metadata.namespace");
  std::string task = text(bj, "spec.task");
  bool to_isvc = bj.at_path("spec.endpoint.inferenceService") != nullptr;
  bool to_url = bj.at_path("spec.endpoint.endpoint") != nullptr;
  if (to_isvc == to_url)
    out.errors.push_back("spec.endpoint must name exactly one of inferenceService and endpoint");

  std::vector<std::string> scenarios;
  if (auto* ts = bj.at_path("spec.trafficScenarios"); ts && ts->is_array() && !ts->as_array().empty()) {
    for (auto& s : ts->as_array())
      if (s.is_string()) {
        if (!scenario_valid(task, s.as_string()))
          out.errors.push_back("spec.trafficScenarios: \"" + s.as_string() + "\" is not a valid " + task + " scenario");
        scenarios.push_back(s.as_string());
      }
  } else {
    scenarios = default_scenarios(task);
  }
  if (auto* p = bj.at_path("spec.additionalRequestParams"); p && p->is_object()) {
    if (auto* t = p->get("temperature")) {
      try {
        size_t used = 0;
        std::stod(t->is_string() ? t->as_string() : json::dump(*t), &used);
      } catch (...) {
        out.errors.push_back("spec.additionalRequestParams.temperature must be a number");
      }
    }
    if (auto* e = p->get("ignore_eos"); e && e->is_string() && e->as_string() != "true" && e->as_string() != "false")
      out.errors.push_back("spec.additionalRequestParams.ignore_eos must be true or false");
  }

  json::Array args{"benchmark",
                   "--api-backend", target.api_backend.empty() ? "openai" : target.api_backend,
                   "--api-base", target.api_base,
                   "--api-model-name", target.model_name,
                   "--task", task};
  if (auto* v = bj.at_path("spec.maxTimePerIteration"))
    args.push_back("--max-time-per-run"), args.push_back(dump_number(*v));
  if (auto* v = bj.at_path("spec.maxRequestsPerIteration"))
    args.push_back("--max-requests-per-run"), args.push_back(dump_number(*v));
  json::Array env;
  std::string key_secret;
  if (auto* a = bj.at_path("metadata.annotations"); a && a->is_object())
    key_secret = a->string_or(kApiKeySecretAnnotation);
  if (!key_secret.empty()) {
    auto slash = key_secret.find('/');
    env.push_back(secret_env("API_KEY", key_secret.substr(0, slash),
                             slash == std::string::npos ? "API_KEY" : key_secret.substr(slash + 1)));
    args.push_back("--api-key"), args.push_back("$(API_KEY)");  // expanded by the kubelet, never stored
  }
  if (!target.tokenizer_path.empty())
    args.push_back("--model-tokenizer"), args.push_back(target.tokenizer_path);
  for (auto& s : scenarios)
    args.push_back("--traffic-scenario"), args.push_back(s);
  if (auto* c = bj.at_path("spec.numConcurrency"); c && c->is_array())
    for (auto& n : c->as_array())
      args.push_back("--num-concurrency"), args.push_back(dump_number(n));
  std::string folder = text(bj, "spec.resultFolderName");
  if (!folder.empty())
    args.push_back("--experiment-folder-name"), args.push_back(folder);
  if (auto* m = bj.at_path("spec.serviceMetadata"); m && m->is_object()) {
    args.push_back("--server-engine"), args.push_back(m->string_or("engine"));
    args.push_back("--server-gpu-type"), args.push_back(m->string_or("gpuType"));
    args.push_back("--server-version"), args.push_back(m->string_or("version"));
    if (auto* g = m->get("gpuCount"))
      args.push_back("--server-gpu-count"), args.push_back(dump_number(*g));
  }

  json::Array volumes, mounts;
  json::Object node_selector;
  // Results: a claim mounted at /<sub>, or object storage with keys from the location's Secret.
  std::string uri = text(bj, "spec.outputLocation.storageUri");
  std::string creds = text(bj, "spec.outputLocation.key");
  const json::Value* params = bj.at_path("spec.outputLocation.parameters");
  if (uri.rfind("pvc://", 0) == 0) {
    std::string rest = uri.substr(6);
    auto slash = rest.find('/');
    std::string claim = rest.substr(0, slash);
    std::string sub = slash == std::string::npos ? "" : rest.substr(slash + 1);
    if (claim.empty())
      out.errors.push_back("spec.outputLocation.storageUri: pvc:// needs a claim name");
    std::string dir = "/" + (sub.empty() ? std::string("results") : sub);
    volumes.push_back(json::Object{{"name", "results"},
                                   {"persistentVolumeClaim", json::Object{{"claimName", claim}}}});
    mounts.push_back(json::Object{{"name", "results"}, {"mountPath", dir}});
    args.push_back("--experiment-base-dir"), args.push_back(dir);
  } else if (uri.rfind("s3://", 0) == 0) {
    std::string rest = uri.substr(5);
    auto slash = rest.find('/');
    std::string bucket = rest.substr(0, slash);
    auto at = bucket.find('@');
    std::string region = params && params->is_object() ? params->string_or("region") : "";
    if (at != std::string::npos)
      region = bucket.substr(at + 1), bucket = bucket.substr(0, at);
    if (bucket.empty())
      out.errors.push_back("spec.outputLocation.storageUri: s3:// needs a bucket");
    args.push_back("--upload-results");
    args.push_back("--storage-provider"), args.push_back("aws");
    args.push_back("--storage-bucket"), args.push_back(bucket);
    if (slash != std::string::npos && slash + 1 < rest.size())
      args.push_back("--storage-prefix"), args.push_back(rest.substr(slash + 1));
    if (!region.empty())
      args.push_back("--storage-aws-region"), args.push_back(region);
    if (!creds.empty()) {
      // OME passes keys as arguments (visible in the Job); the AWS SDK reads them from here.
      env.push_back(secret_env("AWS_ACCESS_KEY_ID", creds, "AWS_ACCESS_KEY_ID"));
      env.push_back(secret_env("AWS_SECRET_ACCESS_KEY", creds, "AWS_SECRET_ACCESS_KEY"));
    }
  } else if (uri.rfind("oci://", 0) == 0) {
    // oci://n/<namespace>/b/<bucket>/o/<prefix>
    std::smatch m;
    static const std::regex oci(R"(^oci://n/([^/]+)/b/([^/]+)(/o/(.*))?$)");
    if (!std::regex_match(uri, m, oci)) {
      out.errors.push_back("spec.outputLocation.storageUri: expected oci://n/NAMESPACE/b/BUCKET/o/PREFIX");
    } else {
      args.push_back("--upload-results");
      args.push_back("--namespace"), args.push_back(m[1].str());
      args.push_back("--storage-bucket"), args.push_back(m[2].str());
      if (m[4].matched && !m[4].str().empty())
        args.push_back("--storage-prefix"), args.push_back(m[4].str());
    }
  } else {
    out.errors.push_back("spec.outputLocation.storageUri: \"" + uri +
                         "\" is not a supported result location (pvc://, s3:// or oci://)");
  }

  if (std::string hf = text(bj, "spec.huggingFaceSecretReference.name"); !hf.empty())
    env.push_back(secret_env("HUGGINGFACE_API_KEY", hf, "HUGGINGFACE_API_KEY"));
  if (!target.tokenizer_path.empty()) {
    volumes.push_back(json::Object{{"name", "model"},
                                   {"hostPath", json::Object{{"path", target.tokenizer_path}, {"type", "Directory"}}}});
    mounts.push_back(json::Object{{"name", "model"}, {"mountPath", target.tokenizer_path}, {"readOnly", true}});
    env.push_back(json::Object{{"name", "MODEL_PATH"}, {"value", target.tokenizer_path}});
    if (!target.model_label.empty())
      node_selector.set(target.model_label, "Ready");
  }
  if (!out.errors.empty())
    return out;

  const json::Value* po = bj.at_path("spec.podOverride");
  auto over = [&](const char* key) -> const json::Value* {
    auto* v = po && po->is_object() ? po->get(key) : nullptr;
    return v && !v->is_null() ? v : nullptr;
  };
  json::Object container{{"name", "genai-bench"},
                         {"image", over("image") ? *over("image") : json::Value(settings.image)},
                         {"command", json::Array{"genai-bench"}},
                         {"args", std::move(args)}};
  if (auto* e = over("env"); e && e->is_array())
    for (auto& v : e->as_array())
      env.push_back(v);
  container.set("env", std::move(env));
  if (auto* e = over("envFrom"))
    container.set("envFrom", *e);
  if (auto* m = over("volumeMounts"); m && m->is_array())
    for (auto& v : m->as_array())
      mounts.push_back(v);
  if (!mounts.empty())
    container.set("volumeMounts", std::move(mounts));
  json::Object fixed{{"cpu", settings.cpu}, {"memory", settings.memory}};
  container.set("resources", over("resources") ? *over("resources")
                                               : json::Value(json::Object{{"requests", fixed}, {"limits", fixed}}));
  json::Object pod{{"restartPolicy", "Never"}, {"containers", json::Array{std::move(container)}}};
  if (auto* v = over("volumes"); v && v->is_array())
    for (auto& x : v->as_array())
      volumes.push_back(x);
  if (!volumes.empty())
    pod.set("volumes", std::move(volumes));
  pod.set("tolerations", over("tolerations") ? *over("tolerations")
                                              : json::Value(json::Array{json::Object{{"key", "nvidia.com/gpu"},
                                                                                     {"operator", "Exists"},
                                                                                     {"effect", "NoSchedule"}}}));
  if (auto* sel = over("nodeSelector"); sel && sel->is_object())
    for (auto& kv : sel->as_object())
      node_selector.set(kv.key, kv.value);
  if (!node_selector.empty())
    pod.set("nodeSelector", std::move(node_selector));
  if (auto* a = over("affinity"))
    pod.set("affinity", *a);

  json::Object labels{{kManagedByLabel, "omed"}, {"benchmark", name}};
  json::Object owner{{"apiVersion", bj.string_or("apiVersion", "ome.io/v1beta1")}, {"kind", "BenchmarkJob"},
                     {"name", name}, {"uid", text(bj, "metadata.uid")}, {"controller", true},
                     {"blockOwnerDeletion", true}};
  out.job = json::Object{
    {"apiVersion", "batch/v1"},
    {"kind", "Job"},
    {"metadata", json::Object{{"name", name}, {"namespace", ns}, {"labels", labels},
                              {"annotations", json::Object{{"logging-forward", "true"}}},
                              {"ownerReferences", json::Array{std::move(owner)}}}},
    {"spec", json::Object{{"backoffLimit", 0},
                          {"template", json::Object{{"metadata", json::Object{{"labels", json::Object{{"benchmark", name}}}}},
                                                    {"spec", std::move(pod)}}}}}};
  return out;
}

}  // namespace omed::render
