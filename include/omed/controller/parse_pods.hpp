// The controller's index of parse Job pods, by Job: their termination messages are the facts of
// pvc:// models, and a pod that changes wakes the model it belongs to.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "omed/controller/pvc_model.hpp"

namespace omed::controller {

class ParsePods {
public:
  // The model resource (kind, key) to reconcile again; nullopt for pods that are not a parse
  // Job's or did not change in a way that matters.
  using Wake = std::optional<std::pair<std::string, std::string>>;

  Wake update(const json::Value& pod);
  Wake remove(const json::Value& last);
  // The pods of Job namespace/name as last seen.
  std::vector<ParsePod> for_job(const std::string& ns, const std::string& job) const;

private:
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, ParsePod>> by_job_;  // "ns/job" -> pod name -> pod
};

// The model (kind, key as its resource actor is keyed) named by a parse pod's annotation.
std::optional<std::pair<std::string, std::string>> parse_pod_model(const json::Value& pod);

}  // namespace omed::controller
