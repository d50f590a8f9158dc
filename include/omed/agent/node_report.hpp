// The per-node model report protocol OME's agent and controller speak (reference ome.md §2.2):
// node label keys, per-node ConfigMap entries and their JSON, and which nodes a model targets.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "omed/common/json.hpp"

namespace omed::model {
struct ModelFacts;
}

namespace omed::agent {

// Where per-node ConfigMaps live and how they are found (OME's defaults).
inline constexpr const char* kReportNamespace = "ome";
inline constexpr const char* kReportLabel = "models.ome/basemodel-status";
inline constexpr const char* kLabelPrefix = "models.ome.io/";

// A BaseModel (namespaced), or a ClusterBaseModel or FineTunedWeight (cluster-scoped, ns empty).
struct ModelRef {
  std::string kind;
  std::string ns;
  std::string name;
  bool cluster() const { return kind == "ClusterBaseModel" || kind == "FineTunedWeight"; }
  // "ClusterBaseModel/name" or "BaseModel/ns/name": the key agents and tests log.
  std::string display() const;
};

ModelRef model_ref(const json::Value& obj);

// Node label key: models.ome.io/clusterbasemodel.<name> or models.ome.io/<ns>.basemodel.<name>,
// the name part kept within 63 characters (a long name becomes <8 hex of sha256>-<its tail>).
// FineTunedWeights (an omed extension; OME's agent reports none): models.ome.io/finetunedweight.<name>.
std::string node_label_key(const ModelRef& m);
// ConfigMap data key: clusterbasemodel.<name>, <ns>.basemodel.<name> or finetunedweight.<name>
// (within 253 characters).
std::string configmap_key(const ModelRef& m);

// Per-node states. Deleted is written only transiently; the entry is then removed.
enum class NodeModelState { Updating, Ready, Failed, Deleted };
const char* state_name(NodeModelState s);
std::optional<NodeModelState> parse_state(std::string_view s);

struct Progress {
  std::string phase;  // Scanning | Downloading | Verifying | Finalizing
  uint64_t total_bytes = 0;
  uint64_t completed_bytes = 0;
  uint64_t total_files = 0;
  uint64_t completed_files = 0;
  double bytes_per_second = 0;
  std::string last_updated;  // RFC 3339
};

// One model's entry in a node's ConfigMap. `config` is OME's config object (or null);
// `message` is omed's addition: why a node failed, in words the user can act on.
struct ModelEntry {
  std::string name;
  NodeModelState state = NodeModelState::Updating;
  json::Value config;
  std::optional<Progress> progress;
  std::string message;
};

json::Value entry_to_json(const ModelEntry& e);
// Tolerates entries written by OME's agent (no message) and rejects garbage (nullopt).
std::optional<ModelEntry> entry_from_json(const json::Value& v);

// OME's `config` object from parsed facts: modelType, modelArchitecture, modelFramework,
// modelFormat, modelParameterSize, maxTokens, modelCapabilities, quantization, artifact, plus
// omed's exact parameterCount and the shape adapters are checked against (hiddenSize,
// numHiddenLayers).
json::Value facts_to_config(const model::ModelFacts& f, const std::string& revision, const std::string& path);

// Whether the model's storage targets this node: every storage.nodeSelector pair is a node
// label, and storage.nodeAffinity's required terms (when present) match.
bool storage_targets_node(const json::Value& model, const json::Value& node);

}  // namespace omed::agent
