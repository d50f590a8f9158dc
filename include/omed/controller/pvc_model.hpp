// BaseModels / ClusterBaseModels stored on a PersistentVolumeClaim (pvc://[NAMESPACE:]CLAIM/SUBPATH):
// no node agent can read the claim, so the controller runs a short Job that mounts it and reports facts.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "omed/controller/parse_report.hpp"
#include "omed/controller/plan.hpp"

namespace omed::controller {

// Marks a parse Job's pods (the pod watch selects on it; standalone's kubelet runs only these).
inline constexpr const char* kParseRoleLabel = "omed.io/role";
inline constexpr const char* kParseRoleValue = "parse-model";
// The model a parse Job belongs to: its uid (label) and "Kind/key" (annotation, names can be long).
inline constexpr const char* kParseModelUidLabel = "omed.io/model-uid";
inline constexpr const char* kParseModelAnnotation = "omed.io/model";
// Where the claim is mounted in the parse container (read-only).
inline constexpr const char* kParseMountPath = "/mnt/model";
inline constexpr const char* kParseContainer = "parse";

struct ParseJobSettings {
  std::string image;  // an omed image (its entrypoint or PATH has `omed`)
  int64_t backoff_limit = 1;  // one retry for a lost node; a missing file will not appear by retrying
  int64_t active_deadline_seconds = 600;
  int64_t ttl_seconds_after_finished = 3600;
};

// Where and what a model's parse Job reads. `error` is set (and the rest meaningless) when the
// model's storage cannot be parsed by a Job: a bad URI, a ClusterBaseModel without the claim's
// namespace, a BaseModel naming another namespace's claim.
struct ParseJobTarget {
  std::string ns;       // the claim's namespace: the Job runs there
  std::string claim;
  std::string subpath;  // inside the claim, no leading '/'
  std::string error;
};

bool is_pvc_model(const json::Value& model);
ParseJobTarget parse_job_target(const json::Value& model);

// "parse-<model name>-<10 hex of the storage spec's hash>", within 63 characters (the Job's name
// becomes a label value on its pods). A changed spec.storage gives a new name: a Job's template
// is immutable, so a new Job replaces the one no longer desired.
std::string parse_job_name(const json::Value& model);

// The Job as applied (server-side apply): owned by the model, the claim mounted read-only, the
// container running `omed parse-model --dir /mnt/model/SUBPATH` with its report in the
// termination message.
json::Value render_parse_job(const json::Value& model, const ParseJobTarget& target, const ParseJobSettings& s);

// What a parse Job's pod says about itself: enough to decide the model's state.
struct ParsePod {
  std::string name;
  std::string phase;       // Pending | Running | Succeeded | Failed
  bool terminated = false;
  int64_t exit_code = -1;
  std::string reason;      // Completed | Error | OOMKilled | DeadlineExceeded ...
  std::string message;     // the container's termination message
  std::string finished_at;
  std::string waiting;     // "Reason: message" while the container waits (pull, mount)
};
ParsePod parse_pod_from(const json::Value& pod);

struct PvcModelContext {
  ParseJobSettings settings;
  std::vector<ParsePod> pods;  // pods of this model's current parse Job (any order)
};

// Continues `admitted` (an accepted admission plan of a live, non-deleting model) for a pvc://
// model: the Job in plan.apply until its facts are in, then Ready with the facts filled into the
// spec; Failed with the container's own words when parsing failed.
Plan pvc_model_plan(Plan admitted, const Input& in, const PvcModelContext& ctx);

}  // namespace omed::controller
