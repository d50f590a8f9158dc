// One model on one node: list the source, transfer and verify, parse, and describe the outcome in
// OME's report vocabulary. Every failure becomes a message the user can act on, never a secret.
#include "omed/agent/model_job.hpp"

#include <cstdlib>

#include "omed/agent/completion_record.hpp"
#include "omed/model/adapter_config.hpp"
#include "omed/model/model_facts.hpp"
#include "omed/model/model_inspector.hpp"
#include "omed/model/sources.hpp"
#include "omed/model/storage_uri.hpp"
#include "omed/model/transfer.hpp"

namespace omed::agent {

namespace {

std::string text_at(const json::Value& v, std::string_view path) {
  const json::Value* p = v.at_path(path);
  return p && p->is_string() ? p->as_string() : std::string();
}

// Path segments safe to use as directory names: no "..", no separators of their own.
std::string safe_segment(std::string s) {
  for (char& c : s)
    if (c == '/' || c == '\\' || c == ':' || static_cast<unsigned char>(c) < 0x20)
      c = '_';
  if (s.empty() || s == "." || s == "..")
    s = "_" + s;
  return s;
}

std::filesystem::path join_relative(std::filesystem::path base, std::string_view rel) {
  size_t start = 0;
  while (start < rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string_view::npos)
      end = rel.size();
    if (end > start)
      base /= safe_segment(std::string(rel.substr(start, end - start)));
    start = end + 1;
  }
  return base;
}

JobResult failed(std::string message, bool retryable, std::filesystem::path path = {}) {
  JobResult r;
  r.state = NodeModelState::Failed;
  r.message = std::move(message);
  r.retryable = retryable;
  r.path = path.string();
  return r;
}

// OME's opt-out annotation (reference ome.md §1.1): the files are used as they are.
bool skip_parsing(const json::Value& model) {
  const json::Value* a = model.at_path("metadata.annotations");
  const json::Value* v = a ? a->get("ome.oracle.com/skip-config-parsing") : nullptr;
  return v && v->is_string() && v->as_string() == "true";
}

json::Value artifact_of(const std::string& revision, const std::string& path) {
  json::Object artifact;
  if (!revision.empty())
    artifact.set("sha", json::Value(revision));
  if (!path.empty())
    artifact.set("path", json::Value(path));
  return json::Value(std::move(artifact));
}

// Fine-tuned weights hold adapter_config.json instead of config.json: their report carries the
// adapter's facts, which the controller checks against the base model.
JobResult finish_adapter(const std::filesystem::path& dir, const std::string& revision) {
  JobResult r;
  r.path = dir.string();
  model::AdapterFacts facts;
  std::string err = model::inspect_adapter_dir(dir, facts);
  if (!err.empty())
    return failed("files are in place but are not a readable adapter: " + err, false, dir);
  r.state = NodeModelState::Ready;
  r.config = model::adapter_facts_to_json(facts);
  r.config["artifact"] = artifact_of(revision, r.path);
  return r;
}

// Parses the files in place and turns the facts into OME's config object.
JobResult finish(const json::Value& model, const std::filesystem::path& dir, const std::string& revision) {
  if (model_ref(model).kind == "FineTunedWeight" && !skip_parsing(model))
    return finish_adapter(dir, revision);
  JobResult r;
  r.path = dir.string();
  if (skip_parsing(model)) {
    r.state = NodeModelState::Ready;
    r.config = json::Value(json::Object{{"artifact", json::Value(json::Object{{"path", json::Value(r.path)}})}});
    return r;
  }
  model::ModelFacts facts;
  std::string err = model::inspect_model_dir(dir, facts);
  if (!err.empty())
    return failed("files are in place but cannot be parsed: " + err, false, dir);
  r.state = NodeModelState::Ready;
  r.config = facts_to_config(facts, revision, r.path);
  return r;
}

model::SourceConfig source_config(const json::Value& model, const model::StorageUri& uri, const AgentSettings& s,
                                  std::string& error) {
  model::SourceConfig cfg;
  if (!s.hf_endpoint.empty())
    cfg.hf_endpoint = s.hf_endpoint;
  else if (const char* e = std::getenv("HF_ENDPOINT"); e && *e)
    cfg.hf_endpoint = e;
  cfg.s3_endpoint = s.s3_endpoint;
  const json::Value* params = model.at_path("spec.storage.parameters");
  auto param = [&](const char* k) {
    const json::Value* v = params && params->is_object() ? params->get(k) : nullptr;
    return v && v->is_string() ? v->as_string() : std::string();
  };
  if (!param("region").empty()) {
    cfg.s3_region = param("region");
    cfg.oci_region = param("region");
  }
  // Credentials: the Secret named by storage.key, in the model's namespace (ClusterBaseModels:
  // the agent's namespace), then the HF_TOKEN environment variable for the Hub.
  std::string secret = text_at(model, "spec.storage.key");
  cfg.secret_name = secret;
  auto ref = model_ref(model);
  std::string ns = ref.cluster() ? s.secrets_namespace : ref.ns;
  auto read = [&](const std::string& key) -> std::string {
    if (secret.empty() || !s.read_secret)
      return {};
    auto v = s.read_secret(ns, secret, key);
    return v ? *v : std::string();
  };
  if (!secret.empty() && s.read_secret && !s.read_secret(ns, secret, "")) {
    error = "Secret " + ns + "/" + secret + " named by storage.key does not exist" +
            (ref.cluster() ? " (a " + ref.kind + " reads its Secret in namespace " + ns + ")" : std::string());
    return cfg;
  }
  if (!secret.empty() && s.read_secret) {
    switch (uri.type) {
      case model::StorageType::HuggingFace: {
        std::string key = param("secretKey").empty() ? "token" : param("secretKey");
        cfg.credentials.hf_token = read(key);
        if (cfg.credentials.hf_token.empty())
          error = "Secret " + ns + "/" + secret + " (storage.key) has no key \"" + key +
                  "\" with a Hugging Face token";
        break;
      }
      case model::StorageType::S3:
        cfg.credentials.s3_access_key_id = read("AWS_ACCESS_KEY_ID");
        if (cfg.credentials.s3_access_key_id.empty())
          cfg.credentials.s3_access_key_id = read("access_key_id");
        cfg.credentials.s3_secret_access_key = read("AWS_SECRET_ACCESS_KEY");
        if (cfg.credentials.s3_secret_access_key.empty())
          cfg.credentials.s3_secret_access_key = read("secret_access_key");
        cfg.credentials.s3_session_token = read("AWS_SESSION_TOKEN");
        if (cfg.credentials.s3_access_key_id.empty() || cfg.credentials.s3_secret_access_key.empty())
          error = "Secret " + ns + "/" + secret +
                  " (storage.key) needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for S3";
        break;
      case model::StorageType::OCI:
        cfg.credentials.oci_tenancy = read("tenancy");
        cfg.credentials.oci_user = read("user");
        cfg.credentials.oci_fingerprint = read("fingerprint");
        cfg.credentials.oci_private_key_pem = read("private_key");
        cfg.credentials.oci_private_key_passphrase = read("passphrase");
        break;
      default:
        break;
    }
  }
  if (uri.type == model::StorageType::HuggingFace && cfg.credentials.hf_token.empty()) {
    if (const char* t = std::getenv("HF_TOKEN"); t && *t)
      cfg.credentials.hf_token = t;
    if (!param("token").empty())
      cfg.credentials.hf_token = param("token");
  }
  // storage.parameters "include"/"exclude": comma-separated globs (an omed extension).
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size() && !s.empty()) {
      size_t end = s.find(',', start);
      if (end == std::string::npos)
        end = s.size();
      if (end > start)
        out.push_back(s.substr(start, end - start));
      start = end + 1;
    }
    return out;
  };
  cfg.include_patterns = split(param("include"));
  cfg.exclude_patterns = split(param("exclude"));
  return cfg;
}

}  // namespace

std::filesystem::path model_dir(const json::Value& model, const AgentSettings& s) {
  std::string path = text_at(model, "spec.storage.path");
  if (!path.empty())
    return s.reroot_storage_paths ? join_relative(s.models_root, path) : std::filesystem::path(path);
  std::string raw = text_at(model, "spec.storage.storageUri");
  std::string err;
  auto uri = model::parse_storage_uri(raw, err);
  if (!uri)
    return s.models_root / "invalid" / safe_segment(model_ref(model).name);
  switch (uri->type) {
    case model::StorageType::Local:
      return uri->path;
    case model::StorageType::HuggingFace:
      return join_relative(s.models_root / "hf", uri->repo) / safe_segment(uri->revision);
    case model::StorageType::S3:
      return join_relative(s.models_root / "s3" / safe_segment(uri->bucket), uri->prefix);
    case model::StorageType::OCI:
      return join_relative(s.models_root / "oci" / safe_segment(uri->namespace_) / safe_segment(uri->bucket),
                           uri->prefix);
    case model::StorageType::Http: {
      std::string u = uri->url;
      auto p = u.find("://");
      return join_relative(s.models_root / "http", p == std::string::npos ? u : u.substr(p + 3));
    }
    default:
      return s.models_root / "other" / safe_segment(model_ref(model).name);
  }
}

bool files_are_kept(const json::Value& model) {
  const json::Value* l = model.at_path("metadata.labels");
  if (l && l->is_object())
    if (const json::Value* v = l->get("models.ome/reserve-model-artifact"); v && v->is_string() && v->as_string() == "true")
      return true;
  std::string raw = text_at(model, "spec.storage.storageUri");
  for (const char* kept : {"local://", "file://", "pvc://", "vendor://"})
    if (raw.rfind(kept, 0) == 0)
      return true;
  return false;
}

std::string job_fingerprint(const json::Value& model) {
  const json::Value* storage = model.at_path("spec.storage");
  std::string fp = storage ? json::dump(json::sorted(*storage)) : "{}";
  fp += skip_parsing(model) ? "|noparse" : "";
  return fp;
}

JobResult run_model_job(const json::Value& model, const AgentSettings& s, const std::atomic<bool>& cancel,
                        const std::function<void(const Progress&)>& progress) {
  std::string raw = text_at(model, "spec.storage.storageUri");
  if (raw.empty())
    return failed("spec.storage.storageUri is empty", false);
  std::string err;
  auto uri = model::parse_storage_uri(raw, err);
  if (!uri)
    return failed("invalid storageUri: " + err, false);
  std::filesystem::path dir = model_dir(model, s);

  switch (uri->type) {
    case model::StorageType::Vendor: {
      JobResult r;
      r.state = NodeModelState::Ready;
      r.config = json::Value(json::Object{});
      return r;
    }
    case model::StorageType::Local: {
      std::error_code ec;
      if (!std::filesystem::exists(dir, ec))
        return failed("local path " + dir.string() + " does not exist on node " + s.node_name, true, dir);
      return finish(model, dir, "");
    }
    case model::StorageType::PVC:
      return failed("pvc:// models are parsed by the controller's Job, not by the node agent", false);
    case model::StorageType::HuggingFace:
    case model::StorageType::S3:
    case model::StorageType::OCI:
    case model::StorageType::Http:
      break;
    default:
      return failed(std::string(model::storage_type_name(uri->type)) + " storage is not supported for models", false);
  }

  std::string cfg_error;
  model::SourceConfig cfg = source_config(model, *uri, s, cfg_error);
  if (!cfg_error.empty())
    return failed(cfg_error, true);  // the user may create the Secret without touching the model
  if (progress)
    progress(Progress{"Scanning", 0, 0, 0, 0, 0, ""});
  model::ScopedCancel scoped_cancel(&cancel);
  const bool reuse = text_at(model, "spec.storage.downloadPolicy") == "ReuseIfExists";
  model::ListResult listing = model::list_model_files(*uri, cfg);
  if (!listing.ok) {
    // Access can be granted and repositories created without the model changing: only what
    // the spec itself gets wrong waits for a change.
    bool retryable = listing.reason != "InvalidConfig" && listing.reason != "Unsupported" &&
                     listing.reason != "InvalidListing";
    // ReuseIfExists: a source that is down (or a token that expired) does not take away a
    // copy this node already verified; the spec's own mistakes still fail.
    if (reuse && retryable && !cancel.load())
      if (auto rec = read_completion_record(dir, raw); rec && check_recorded_files(dir, *rec).empty()) {
        JobResult r = finish(model, dir, rec->revision);
        if (r.state == NodeModelState::Ready)
          r.message = "reusing the copy completed at " + rec->completed_at + ": the source cannot be listed (" +
                      listing.error + ")";
        return r;
      }
    return failed(listing.error, retryable, dir);
  }
  if (cancel.load())
    return failed("cancelled", true, dir);

  model::TransferOptions to;
  to.max_connections = static_cast<int>(s.max_connections);
  to.content_store_dir = s.blob_dir;
  to.counters = s.counters;
  // OME's default is AlwaysDownload: only ReuseIfExists takes identical files other models
  // brought to this node (by hard link, after matching their sha256).
  to.link_from_store = reuse;
  to.progress_interval = std::chrono::milliseconds(1000);
  model::TransferEngine engine(to);
  auto report = engine.run(listing.listing.files, dir, listing.authorizer.get(), &cancel,
                           [&](const model::TransferProgress& p) {
                             if (!progress)
                               return;
                             Progress out;
                             out.phase = p.final ? "Finalizing" : "Downloading";
                             out.total_bytes = p.bytes_total;
                             out.completed_bytes = p.bytes_done;
                             out.total_files = p.files_total;
                             out.completed_files = p.files_done;
                             out.bytes_per_second = p.bytes_per_second;
                             progress(out);
                           });
  if (cancel.load())
    return failed("cancelled", true, dir);
  if (!report.ok)
    return failed(report.error, true, dir);
  if (auto err = write_completion_record(dir, raw, listing.listing); !err.empty())
    return failed("files are in place but the completion record cannot be written: " + err, true, dir);
  return finish(model, dir, listing.listing.revision);
}

}  // namespace omed::agent
