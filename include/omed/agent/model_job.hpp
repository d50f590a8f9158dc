// One model on one node, from storageUri to verified, parsed files: the blocking work the
// agent's download workers run. CAF-free; cancellation and progress through plain callbacks.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "omed/agent/node_report.hpp"

namespace omed::model {
struct TransferCounters;
}

namespace omed::agent {

struct AgentSettings {
  std::string node_name;
  std::filesystem::path models_root;        // where models are written on this node
  std::filesystem::path blob_dir;           // content store shared by hard links ("" = models_root/.omed-blobs)
  std::string hf_endpoint;                  // "" = $HF_ENDPOINT or https://huggingface.co
  std::string s3_endpoint;                  // "" = AWS; set for S3-compatible stores
  std::string secrets_namespace = kReportNamespace;  // ClusterBaseModels read their Secret here
  // Reads key `key` of Secret ns/name; nullopt when absent. An empty key asks whether the
  // Secret exists ("" when it does). Never logs the value.
  std::function<std::optional<std::string>(const std::string& ns, const std::string& name, const std::string& key)>
    read_secret;
  size_t max_connections = 16;
  model::TransferCounters* counters = nullptr;  // the agent's download totals (for /metrics)
  // Simulated nodes share one filesystem: an absolute storage.path is taken relative to
  // models_root instead (standalone), so two "nodes" never write the same directory.
  bool reroot_storage_paths = false;
};

struct JobResult {
  NodeModelState state = NodeModelState::Failed;
  json::Value config;      // OME's config object when Ready
  std::string message;     // why it failed, for status and Events (never a secret)
  std::string path;        // where the files are
  bool retryable = true;   // false for errors a retry cannot fix (bad URI, 404, gated)
};

// Where a model's files live on the node: storage.path when set, else a directory derived from
// the storage URI under models_root (the same URI shares one directory).
std::filesystem::path model_dir(const json::Value& model, const AgentSettings& s);

// True when the agent never deletes the files (local/file/pvc/vendor URIs, or the
// models.ome/reserve-model-artifact label).
bool files_are_kept(const json::Value& model);

// What decides whether a model must be fetched again: storage, the parsing opt-out annotation.
std::string job_fingerprint(const json::Value& model);

// Runs the whole job. `progress` is called from this thread, at most every `progress_every`.
JobResult run_model_job(const json::Value& model, const AgentSettings& s, const std::atomic<bool>& cancel,
                        const std::function<void(const Progress&)>& progress);

}  // namespace omed::agent
