// The agent role for one node: an actor per BaseModel/ClusterBaseModel that targets the node,
// the shared downloader that fetches and parses, and the reporter that writes the node's reports.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "omed/actors/controller.hpp"
#include "omed/agent/model_job.hpp"

namespace omed::actors {

struct ModelAgentOptions {
  k8s::RestConfig rest;
  k8s::ClientOptions client;
  agent::AgentSettings settings;        // node name, models root, endpoints
  size_t workers = 2;                   // models fetched at once (each uses many connections)
  std::chrono::milliseconds progress_interval{5000};  // progress reaches the ConfigMap at most this often
  SupervisorOptions supervision;
  metrics::Registry* metrics = nullptr;
  runtime::Readiness* readiness = nullptr;
  std::string name_prefix;              // child names, when several agents share a process
};

class ModelAgent {
public:
  explicit ModelAgent(ModelAgentOptions opts);
  ~ModelAgent();
  ModelAgent(const ModelAgent&) = delete;
  ModelAgent& operator=(const ModelAgent&) = delete;

  std::vector<ChildSpec> children();
  const ModelAgentOptions& options() const;

  struct Impl;

private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace omed::actors
