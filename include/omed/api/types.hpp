// The ome.io/v1beta1 API as C++ value types: the eight kinds and every struct they reach, with
// OME's JSON names. Each struct's visit() is the single description used by codec and CRDs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "omed/api/meta.hpp"
#include "omed/common/json.hpp"

namespace omed::api {

using OptString = std::optional<std::string>;
using OptInt = std::optional<int64_t>;
using OptInt32 = std::optional<int32_t>;
using OptBool = std::optional<bool>;
using StringMap = std::map<std::string, std::string>;
using Strings = std::vector<std::string>;

inline constexpr const char* kGroup = "ome.io";
inline constexpr const char* kVersion = "v1beta1";
inline constexpr const char* kApiVersion = "ome.io/v1beta1";

// Every struct keeps the JSON members it does not model in `extra`, so that decoding then
// encoding never loses a field. For structs that inline a Kubernetes type (a PodSpec or a
// Container), `extra` is where that type's fields live.

// ------------------------------------------------------------------ metadata

struct OwnerReference {
  std::string apiVersion, kind, name, uid;
  OptBool controller, blockOwnerDeletion;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("apiVersion", apiVersion, {.required = true});
    v.field("kind", kind, {.required = true});
    v.field("name", name, {.required = true});
    v.field("uid", uid, {.required = true});
    v.field("controller", controller);
    v.field("blockOwnerDeletion", blockOwnerDeletion);
  }
};

struct ObjectMeta {
  std::string name, generateName, namespace_, uid, resourceVersion, creationTimestamp;
  OptInt generation;
  OptString deletionTimestamp;
  OptInt deletionGracePeriodSeconds;
  StringMap labels, annotations;
  Strings finalizers;
  std::vector<OwnerReference> ownerReferences;
  json::Object extra;  // managedFields and anything else
  template <class V>
  void visit(V& v) {
    v.field("name", name);
    v.field("generateName", generateName);
    v.field("namespace", namespace_);
    v.field("uid", uid);
    v.field("resourceVersion", resourceVersion);
    v.field("generation", generation);
    v.field("creationTimestamp", creationTimestamp);
    v.field("deletionTimestamp", deletionTimestamp);
    v.field("deletionGracePeriodSeconds", deletionGracePeriodSeconds);
    v.field("labels", labels);
    v.field("annotations", annotations);
    v.field("finalizers", finalizers);
    v.field("ownerReferences", ownerReferences);
  }
};

// metav1.Condition, and knative's condition shape used by InferenceService status.
struct Condition {
  std::string type, status, reason, message, lastTransitionTime, severity;
  OptInt observedGeneration;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("type", type, {.doc = "Type of condition.", .required = true});
    v.field("status", status, {.doc = "Status of the condition: True, False or Unknown.", .required = true,
                               .enums = {"True", "False", "Unknown"}});
    v.field("severity", severity, {.doc = "How to interpret a False status (knative): Error, Warning or Info."});
    v.field("lastTransitionTime", lastTransitionTime,
            {.doc = "When the condition last changed status.", .format = "date-time"});
    v.field("reason", reason, {.doc = "One-word CamelCase reason for the last transition."});
    v.field("message", message, {.doc = "Human-readable details of the last transition."});
    v.field("observedGeneration", observedGeneration,
            {.doc = "The .metadata.generation the condition was set for."});
  }
};

// ------------------------------------------------------------------ models

struct ModelFormat {
  std::string name;
  OptString version, operator_;
  OptInt weight;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("name", name, {.doc = "Format name, e.g. safetensors, gguf, onnx, pytorch, diffusers.", .required = true});
    v.field("version", version, {.doc = "Format version (MAJOR[.MINOR[.PATCH]])."});
    v.field("operator", operator_,
            {.doc = "How a runtime's version is compared with the model's.",
             .enums = {"Equal", "GreaterThan", "GreaterThanOrEqual"}, .default_json = "\"Equal\""});
    v.field("weight", weight, {.doc = "Weight of this criterion in runtime scoring.", .default_json = "1"});
  }
};

// Same shape as ModelFormat, for the framework (transformers, diffusers, ...).
using ModelFrameworkSpec = ModelFormat;

struct DiffusionComponentSpec {
  std::string library, type;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("library", library, {.doc = "Library providing the component, e.g. diffusers or transformers."});
    v.field("type", type, {.doc = "Component class name."});
  }
};

struct DiffusionPipelineSpec {
  OptString className;
  std::optional<DiffusionComponentSpec> scheduler, textEncoder, tokenizer, transformer, vae;
  std::map<std::string, DiffusionComponentSpec> additionalComponents;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("className", className, {.doc = "Pipeline class, e.g. StableDiffusionXLPipeline."});
    v.field("scheduler", scheduler, {.doc = "Noise scheduler component."});
    v.field("textEncoder", textEncoder, {.doc = "Text encoder component."});
    v.field("tokenizer", tokenizer, {.doc = "Tokenizer component."});
    v.field("transformer", transformer, {.doc = "Denoising transformer or UNet component."});
    v.field("vae", vae, {.doc = "VAE component."});
    v.field("additionalComponents", additionalComponents,
            {.doc = "Other pipeline components by name.", .map_type = "atomic"});
  }
};

struct StorageSpec {
  OptString path, schemaPath, key, storageUri, downloadPolicy;
  std::optional<StringMap> parameters;
  StringMap nodeSelector;
  json::Value nodeAffinity;  // core/v1 NodeAffinity
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("path", path, {.doc = "Directory on each node where the model files are kept."});
    v.field("schemaPath", schemaPath, {.doc = "Path of the model's schema or config inside the storage."});
    v.field("parameters", parameters, {.doc = "Storage-specific parameters (region, auth, secretKey, ...)."});
    v.field("key", key, {.doc = "Name of the Secret holding the storage credentials (HF token, S3 keys)."});
    v.field("storageUri", storageUri,
            {.doc = "Where the model comes from: hf://org/repo[@rev], s3://bucket[@region]/prefix, "
                    "oci://n/NS/b/BUCKET/o/PREFIX, http(s)://, local://path, pvc://[ns:]claim/sub, vendor://...",
             .required = true});
    v.field("nodeSelector", nodeSelector, {.doc = "Nodes that should hold the model.", .map_type = "atomic"});
    v.field("nodeAffinity", nodeAffinity,
            {.doc = "Node affinity selecting the nodes that should hold the model.",
             .k8s = "io.k8s.api.core.v1.NodeAffinity"});
    v.field("downloadPolicy", downloadPolicy,
            {.doc = "Whether to always download or reuse identical artifacts already on the node.",
             .enums = {"AlwaysDownload", "ReuseIfExists"}});
  }
};

inline constexpr std::initializer_list<const char*> kModelCapabilities = {
  "TEXT_GENERATION", "TEXT_SUMMARIZATION", "TEXT_EMBEDDINGS", "TEXT_RERANK", "CHAT", "VISION",
  "EMBEDDING", "RERANK", "TEXT_TO_TEXT", "TEXT_TO_AUDIO", "TEXT_TO_IMAGE", "TEXT_TO_VIDEO",
  "IMAGE_TEXT_TO_TEXT", "IMAGE_TEXT_TO_AUDIO", "IMAGE_TEXT_TO_IMAGE", "IMAGE_TEXT_TO_VIDEO",
  "VIDEO_TEXT_TO_AUDIO", "AUDIO_TO_TEXT", "AUDIO_TO_AUDIO", "AUDIO_TRANSLATION"};

struct BaseModelSpec {
  std::optional<ModelFormat> modelFormat;
  OptString modelType;
  std::optional<ModelFrameworkSpec> modelFramework;
  OptString modelArchitecture, quantization, modelParameterSize;
  Strings modelCapabilities, apiCapabilities;
  json::Value modelConfiguration;
  OptInt32 maxTokens;
  Strings servingMode;
  std::optional<DiffusionPipelineSpec> diffusionPipeline;
  StringMap additionalMetadata;
  // ModelExtensionSpec (inline)
  OptString displayName, version, vendor, compartmentID;
  OptBool disabled;
  std::optional<StorageSpec> storage;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("modelFormat", modelFormat, {.doc = "File format of the weights."});
    v.field("modelType", modelType, {.doc = "Hugging Face model_type, e.g. llama."});
    v.field("modelFramework", modelFramework, {.doc = "Framework and version the model was saved with."});
    v.field("modelArchitecture", modelArchitecture, {.doc = "Architecture class, e.g. LlamaForCausalLM."});
    v.field("quantization", quantization, {.doc = "Quantization, e.g. fp8, int4, awq, gptq."});
    v.field("modelParameterSize", modelParameterSize, {.doc = "Parameter count, e.g. 7B, 8.03B, 1.5T."});
    v.field("modelCapabilities", modelCapabilities,
            {.doc = "What the model does.", .item_enums = kModelCapabilities, .list_type = "atomic"});
    v.field("apiCapabilities", apiCapabilities,
            {.doc = "OpenAI-compatible APIs the model serves.", .list_type = "atomic"});
    v.field("modelConfiguration", modelConfiguration,
            {.doc = "Parsed model configuration.", .free_form = true});
    v.field("maxTokens", maxTokens, {.doc = "Maximum context length in tokens.", .format = "int32"});
    v.field("servingMode", servingMode,
            {.doc = "Serving modes offered.", .item_enums = {"On-demand", "Dedicated"}, .list_type = "atomic"});
    v.field("diffusionPipeline", diffusionPipeline, {.doc = "Diffusers pipeline description."});
    v.field("additionalMetadata", additionalMetadata, {.doc = "Free-form metadata."});
    v.field("displayName", displayName, {.doc = "Human-readable name."});
    v.field("version", version, {.doc = "Model version."});
    v.field("disabled", disabled, {.doc = "Disabled models are not served."});
    v.field("vendor", vendor, {.doc = "Model vendor."});
    v.field("compartmentID", compartmentID, {.doc = "OCI compartment of the model."});
    v.field("storage", storage, {.doc = "Where the model is stored and which nodes hold it.", .required = true});
  }
};

struct ModelStatusSpec {
  OptString lifecycle;
  std::string state;
  Strings nodesReady, nodesFailed;
  // omed additions (OME tooling ignores them).
  OptInt observedGeneration;
  std::vector<Condition> conditions;
  json::Value progress;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("lifecycle", lifecycle, {.doc = "Lifecycle stage of the model."});
    v.field("state", state,
            {.doc = "Overall state across nodes.", .required = true,
             .enums = {"Creating", "Importing", "In_Transit", "In_Training", "Ready", "Failed"}});
    v.field("nodesReady", nodesReady, {.doc = "Nodes where the model is ready.", .list_type = "atomic"});
    v.field("nodesFailed", nodesFailed, {.doc = "Nodes where the model failed.", .list_type = "atomic"});
    v.field("observedGeneration", observedGeneration, {.doc = "The generation this status describes."});
    v.field("conditions", conditions, {.doc = "Conditions with reasons.", .list_type = "map", .list_map_key = "type"});
    v.field("progress", progress, {.doc = "Download progress summary.", .free_form = true});
  }
};

struct ObjectReference {
  OptString name, namespace_;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("name", name, {.doc = "Name of the referenced object.", .required = true});
    v.field("namespace", namespace_, {.doc = "Namespace of the referenced object."});
  }
};

struct FineTunedWeightSpec {
  std::optional<ObjectReference> baseModelRef;
  OptString modelType;
  json::Value hyperParameters;
  OptString displayName, version, vendor, compartmentID;
  OptBool disabled;
  json::Value configuration;
  std::optional<StorageSpec> storage;
  std::optional<ObjectReference> trainingJobRef;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("baseModelRef", baseModelRef, {.doc = "The base model these weights adapt.", .required = true});
    v.field("modelType", modelType, {.doc = "Kind of weights: LoRA, Adapter, Distillation, Tfew.", .required = true});
    v.field("hyperParameters", hyperParameters,
            {.doc = "Training hyper-parameters (strategy, rank, ...).", .required = true, .free_form = true});
    v.field("displayName", displayName, {.doc = "Human-readable name."});
    v.field("version", version, {.doc = "Weights version."});
    v.field("disabled", disabled, {.doc = "Disabled weights are not served."});
    v.field("vendor", vendor, {.doc = "Vendor."});
    v.field("compartmentID", compartmentID, {.doc = "OCI compartment."});
    v.field("configuration", configuration, {.doc = "Adapter configuration.", .free_form = true});
    v.field("storage", storage, {.doc = "Where the weights are stored.", .required = true});
    v.field("trainingJobRef", trainingJobRef, {.doc = "The job that produced the weights."});
  }
};

// ------------------------------------------------------------------ serving runtimes

struct TensorParallelismConfig {
  OptInt tensorParallelSize, pipelineParallelSize, dataParallelSize;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("tensorParallelSize", tensorParallelSize, {.doc = "Tensor-parallel degree.", .minimum = 0});
    v.field("pipelineParallelSize", pipelineParallelSize, {.doc = "Pipeline-parallel degree.", .minimum = 0});
    v.field("dataParallelSize", dataParallelSize, {.doc = "Data-parallel degree.", .minimum = 0});
  }
};

struct AcceleratorModelConfig {
  OptInt minMemoryPerBillionParams;
  std::optional<TensorParallelismConfig> tensorParallelismOverride;
  Strings runtimeArgsOverride;
  StringMap environmentOverride;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("minMemoryPerBillionParams", minMemoryPerBillionParams,
            {.doc = "GPU memory (GB) needed per billion parameters on this class.", .minimum = 0});
    v.field("tensorParallelismOverride", tensorParallelismOverride, {.doc = "Parallelism on this class."});
    v.field("runtimeArgsOverride", runtimeArgsOverride,
            {.doc = "Arguments added or replaced on this class.", .list_type = "atomic"});
    v.field("environmentOverride", environmentOverride, {.doc = "Environment variables set on this class."});
  }
};

struct SupportedModelFormat {
  std::string name;
  std::optional<ModelFormat> modelFormat;
  OptString modelType, version;
  std::optional<ModelFrameworkSpec> modelFramework;
  OptString modelArchitecture, quantization;
  std::optional<DiffusionPipelineSpec> diffusionPipeline;
  OptBool autoSelect;
  OptInt32 priority;
  std::map<std::string, AcceleratorModelConfig> acceleratorConfig;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("name", name, {.doc = "Legacy format name."});
    v.field("modelFormat", modelFormat, {.doc = "Format the runtime serves."});
    v.field("modelType", modelType, {.doc = "Deprecated: model type."});
    v.field("version", version, {.doc = "Format version."});
    v.field("modelFramework", modelFramework, {.doc = "Framework the runtime serves."});
    v.field("modelArchitecture", modelArchitecture, {.doc = "Architecture the runtime serves."});
    v.field("quantization", quantization, {.doc = "Quantization the runtime serves."});
    v.field("diffusionPipeline", diffusionPipeline, {.doc = "Diffusers pipeline the runtime serves."});
    v.field("autoSelect", autoSelect, {.doc = "May the runtime be chosen automatically for this format."});
    v.field("priority", priority,
            {.doc = "Priority among runtimes supporting the same format (higher wins).", .minimum = 1,
             .format = "int32"});
    v.field("acceleratorConfig", acceleratorConfig, {.doc = "Per accelerator-class overrides."});
  }
};

struct ModelSizeRangeSpec {
  OptString min, max;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("min", min, {.doc = "Smallest model served, e.g. 7B."});
    v.field("max", max, {.doc = "Largest model served, e.g. 9B."});
  }
};

struct AcceleratorRequirements {
  Strings acceleratorClasses;
  OptInt minMemory, minComputePerformanceTFLOPS;
  OptString minArchitectureVersion;
  Strings requiredFeatures, preferredPrecisions;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("acceleratorClasses", acceleratorClasses,
            {.doc = "AcceleratorClasses the runtime supports.", .list_type = "atomic"});
    v.field("minMemory", minMemory, {.doc = "Minimum GPU memory in GB.", .minimum = 0});
    v.field("minComputePerformanceTFLOPS", minComputePerformanceTFLOPS,
            {.doc = "Minimum compute performance in TFLOPS.", .minimum = 0});
    v.field("minArchitectureVersion", minArchitectureVersion, {.doc = "Minimum compute capability, e.g. 8.0."});
    v.field("requiredFeatures", requiredFeatures, {.doc = "Required hardware features.", .list_type = "atomic"});
    v.field("preferredPrecisions", preferredPrecisions, {.doc = "Preferred precisions in order.", .list_type = "atomic"});
  }
};

// ------------------------------------------------------------------ components

struct RunnerSpec {
  json::Object extra;  // the inline core/v1 Container
  template <class V>
  void visit(V& v) {
    v.inline_k8s("io.k8s.api.core.v1.Container", {});
  }
};

struct ScalerAuthenticationRef {
  std::string name, kind;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("name", name, {.doc = "Name of the TriggerAuthentication.", .required = true, .min_length = 1});
    v.field("kind", kind,
            {.doc = "TriggerAuthentication or ClusterTriggerAuthentication.",
             .enums = {"TriggerAuthentication", "ClusterTriggerAuthentication"},
             .default_json = "\"TriggerAuthentication\""});
  }
};

struct KedaConfig {
  OptBool enableKeda;
  OptString promServerAddress, customPromQuery, scalingThreshold, scalingOperator, authModes;
  std::optional<ScalerAuthenticationRef> authenticationRef;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("enableKeda", enableKeda, {.doc = "Scale with a KEDA ScaledObject instead of an HPA."});
    v.field("promServerAddress", promServerAddress, {.doc = "Prometheus server URL."});
    v.field("customPromQuery", customPromQuery, {.doc = "PromQL query driving the scaler."});
    v.field("scalingThreshold", scalingThreshold, {.doc = "Threshold (a number, as a string)."});
    v.field("scalingOperator", scalingOperator,
            {.doc = "GreaterThan, GreaterThanOrEqual, LessThan or LessThanOrEqual."});
    v.field("authenticationRef", authenticationRef, {.doc = "Prometheus authentication."});
    v.field("authModes", authModes, {.doc = "Comma-separated: basic, tls, bearer, custom."});
  }
};

struct ComponentExtensionSpec {
  OptInt minReplicas, maxReplicas, scaleTarget;
  OptString scaleMetric;
  OptInt containerConcurrency, timeoutSeconds, canaryTrafficPercent;
  StringMap labels, annotations;
  json::Value minAvailable, maxUnavailable;  // int-or-string
  json::Value deploymentStrategy;            // apps/v1 DeploymentStrategy
  std::optional<KedaConfig> kedaConfig;

  template <class V>
  void visit_fields(V& v) {
    v.field("minReplicas", minReplicas, {.doc = "Minimum replicas; 0 allows scale to zero."});
    v.field("maxReplicas", maxReplicas, {.doc = "Maximum replicas."});
    v.field("scaleTarget", scaleTarget, {.doc = "Autoscaling target value."});
    v.field("scaleMetric", scaleMetric,
            {.doc = "Autoscaling metric.", .enums = {"cpu", "memory", "concurrency", "rps", "tps"}});
    v.field("containerConcurrency", containerConcurrency, {.doc = "Hard limit of concurrent requests per replica."});
    v.field("timeoutSeconds", timeoutSeconds, {.doc = "Request timeout in seconds."});
    v.field("canaryTrafficPercent", canaryTrafficPercent, {.doc = "Traffic share of the canary revision."});
    v.field("labels", labels, {.doc = "Labels added to the component's pods."});
    v.field("annotations", annotations, {.doc = "Annotations added to the component's pods."});
    v.field("minAvailable", minAvailable, {.doc = "PodDisruptionBudget minAvailable.", .int_or_string = true});
    v.field("maxUnavailable", maxUnavailable, {.doc = "PodDisruptionBudget maxUnavailable.", .int_or_string = true});
    v.field("deploymentStrategy", deploymentStrategy,
            {.doc = "Deployment strategy in raw deployment mode.", .k8s = "io.k8s.api.apps.v1.DeploymentStrategy"});
    v.field("kedaConfig", kedaConfig, {.doc = "KEDA autoscaling of this component."});
  }
};

struct AcceleratorConstraints {
  OptInt minMemory, maxMemory, minComputePerformanceTFLOPS;
  OptString minArchitectureVersion;
  Strings requiredFeatures, excludedClasses, architectureFamilies, preferredPrecisions;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("minMemory", minMemory, {.doc = "Minimum GPU memory in GB."});
    v.field("maxMemory", maxMemory, {.doc = "Maximum GPU memory in GB."});
    v.field("minComputePerformanceTFLOPS", minComputePerformanceTFLOPS, {.doc = "Minimum TFLOPS (scoring)."});
    v.field("minArchitectureVersion", minArchitectureVersion, {.doc = "Minimum compute capability."});
    v.field("requiredFeatures", requiredFeatures, {.doc = "Required features.", .list_type = "atomic"});
    v.field("excludedClasses", excludedClasses, {.doc = "Classes never to use.", .list_type = "atomic"});
    v.field("architectureFamilies", architectureFamilies, {.doc = "Allowed families.", .list_type = "atomic"});
    v.field("preferredPrecisions", preferredPrecisions, {.doc = "Preferred precisions.", .list_type = "atomic"});
  }
};

struct AcceleratorSelector {
  OptString acceleratorClass, policy;
  std::optional<AcceleratorConstraints> constraints;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("acceleratorClass", acceleratorClass, {.doc = "Use exactly this AcceleratorClass."});
    v.field("constraints", constraints, {.doc = "Constraints on candidate classes."});
    v.field("policy", policy,
            {.doc = "How to choose among candidates.", .enums = {"BestFit", "Cheapest", "MostCapable", "FirstAvailable"}});
  }
};

// The inline PodSpec fields OME copies (containers made optional).
inline constexpr std::initializer_list<const char*> kPodSpecOptional = {"containers"};

struct LeaderSpec {
  std::optional<RunnerSpec> runner;
  json::Object extra;  // inline PodSpec
  template <class V>
  void visit(V& v) {
    v.inline_k8s("io.k8s.api.core.v1.PodSpec", {.optional = kPodSpecOptional});
    v.field("runner", runner, {.doc = "The leader's main container."});
  }
};

struct WorkerSpec {
  OptInt size;
  std::optional<RunnerSpec> runner;
  json::Object extra;  // inline PodSpec
  template <class V>
  void visit(V& v) {
    v.inline_k8s("io.k8s.api.core.v1.PodSpec", {.optional = kPodSpecOptional});
    v.field("size", size, {.doc = "Number of worker pods per group (the group has size+1 pods)."});
    v.field("runner", runner, {.doc = "The workers' main container."});
  }
};

// EngineSpec and DecoderSpec share one shape.
struct EngineSpec {
  ComponentExtensionSpec ext;
  std::optional<RunnerSpec> runner;
  std::optional<LeaderSpec> leader;
  std::optional<WorkerSpec> worker;
  std::optional<AcceleratorSelector> acceleratorOverride;
  json::Object extra;  // inline PodSpec
  template <class V>
  void visit(V& v) {
    v.inline_k8s("io.k8s.api.core.v1.PodSpec", {.optional = kPodSpecOptional});
    ext.visit_fields(v);
    v.field("runner", runner, {.doc = "The main container."});
    v.field("leader", leader, {.doc = "Multi-node: the leader pod."});
    v.field("worker", worker, {.doc = "Multi-node: the worker pods."});
    v.field("acceleratorOverride", acceleratorOverride, {.doc = "Accelerator selection for this component."});
  }
};
using DecoderSpec = EngineSpec;

struct RouterSpec {
  ComponentExtensionSpec ext;
  std::optional<RunnerSpec> runner;
  StringMap config;
  json::Object extra;  // inline PodSpec
  template <class V>
  void visit(V& v) {
    v.inline_k8s("io.k8s.api.core.v1.PodSpec", {.optional = kPodSpecOptional});
    ext.visit_fields(v);
    v.field("runner", runner, {.doc = "The router container."});
    v.field("config", config, {.doc = "Router settings, passed as environment variables."});
  }
};

struct WorkerPodSpec {
  OptInt size;
  json::Object extra;  // the legacy pod fields (containers, volumes, ...)
  template <class V>
  void visit(V& v);
};

// The legacy pod fields a ServingRuntime carries inline.
template <class V>
void visit_runtime_pod(V& v) {
  v.template json_field<true>("containers", {.doc = "Legacy runtime containers.", .k8s = "io.k8s.api.core.v1.Container",
                                              .list_type = "map", .list_map_key = "name"});
  v.template json_field<true>("volumes", {.doc = "Volumes.", .k8s = "io.k8s.api.core.v1.Volume",
                                           .list_type = "map", .list_map_key = "name"});
  v.template json_field<false>("nodeSelector", {.doc = "Node labels.", .k8s = "#stringmap"});
  v.template json_field<false>("affinity", {.doc = "Affinity.", .k8s = "io.k8s.api.core.v1.Affinity"});
  v.template json_field<true>("tolerations", {.doc = "Tolerations.", .k8s = "io.k8s.api.core.v1.Toleration",
                                               .list_type = "atomic"});
  v.template json_field<false>("labels", {.doc = "Pod labels.", .k8s = "#stringmap"});
  v.template json_field<false>("annotations", {.doc = "Pod annotations.", .k8s = "#stringmap"});
  // atomic, not map: LocalObjectReference.name is neither required nor defaulted in the schema.
  v.template json_field<true>("imagePullSecrets", {.doc = "Image pull secrets.",
                                                    .k8s = "io.k8s.api.core.v1.LocalObjectReference",
                                                    .list_type = "atomic"});
  v.template json_field<false>("schedulerName", {.doc = "Scheduler name.", .k8s = "#string"});
  v.template json_field<false>("hostIPC", {.doc = "Use the host's IPC namespace.", .k8s = "#boolean"});
  v.template json_field<false>("dnsPolicy", {.doc = "DNS policy.", .k8s = "#string"});
  v.template json_field<false>("hostNetwork", {.doc = "Use the host network.", .k8s = "#boolean"});
}

template <class V>
void WorkerPodSpec::visit(V& v) {
  v.field("size", size, {.doc = "Number of worker pods."});
  visit_runtime_pod(v);
}

struct ServingRuntimeSpec {
  std::vector<SupportedModelFormat> supportedModelFormats;
  std::optional<ModelSizeRangeSpec> modelSizeRange;
  OptBool disabled;
  std::optional<RouterSpec> routerConfig;
  std::optional<EngineSpec> engineConfig;
  std::optional<DecoderSpec> decoderConfig;
  Strings protocolVersions;
  std::optional<WorkerPodSpec> workers;
  std::optional<AcceleratorRequirements> acceleratorRequirements;
  json::Object extra;  // the inline legacy pod fields (containers, volumes, ...)
  template <class V>
  void visit(V& v) {
    v.field("supportedModelFormats", supportedModelFormats,
            {.doc = "Model formats, frameworks and architectures the runtime serves.", .list_type = "atomic"});
    v.field("modelSizeRange", modelSizeRange, {.doc = "Model sizes the runtime serves."});
    v.field("disabled", disabled, {.doc = "Disabled runtimes are never selected."});
    v.field("routerConfig", routerConfig, {.doc = "Router component template."});
    v.field("engineConfig", engineConfig, {.doc = "Engine component template."});
    v.field("decoderConfig", decoderConfig, {.doc = "Decoder component template (prefill-decode)."});
    v.field("protocolVersions", protocolVersions,
            {.doc = "Protocols served: openAI, openInference-v1, openInference-v2.", .list_type = "atomic"});
    visit_runtime_pod(v);
    v.field("workers", workers, {.doc = "Legacy multi-node workers."});
    v.field("acceleratorRequirements", acceleratorRequirements, {.doc = "Accelerators the runtime needs."});
  }
};

struct ServingRuntimeStatus {
  json::Object extra;
  template <class V>
  void visit(V&) {}
};

// ------------------------------------------------------------------ inference services

struct ModelRef {
  std::string name;
  OptString kind, apiGroup;
  Strings fineTunedWeights;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("name", name, {.doc = "Name of the BaseModel (same namespace) or ClusterBaseModel.", .required = true});
    v.field("kind", kind, {.doc = "BaseModel or ClusterBaseModel.", .default_json = "\"ClusterBaseModel\""});
    v.field("apiGroup", apiGroup, {.doc = "API group of the model.", .default_json = "\"ome.io\""});
    v.field("fineTunedWeights", fineTunedWeights,
            {.doc = "FineTunedWeights to serve on top of the base model.", .list_type = "atomic"});
  }
};

struct ServingRuntimeRef {
  std::string name;
  OptString kind, apiGroup;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("name", name, {.doc = "Name of the ServingRuntime or ClusterServingRuntime.", .required = true});
    v.field("kind", kind, {.doc = "ServingRuntime or ClusterServingRuntime.", .default_json = "\"ClusterServingRuntime\""});
    v.field("apiGroup", apiGroup, {.doc = "API group of the runtime.", .default_json = "\"ome.io\""});
  }
};

struct PredictorModelSpec {
  OptString runtime, storageUri, runtimeVersion, protocolVersion, baseModel;
  Strings fineTunedWeights;
  json::Object extra;  // the inline core/v1 Container
  template <class V>
  void visit(V& v) {
    v.inline_k8s("io.k8s.api.core.v1.Container", {.optional = {"name"}});
    v.field("runtime", runtime, {.doc = "Runtime name."});
    v.field("storageUri", storageUri, {.doc = "Model location."});
    v.field("runtimeVersion", runtimeVersion, {.doc = "Runtime image version."});
    v.field("protocolVersion", protocolVersion, {.doc = "Inference protocol."});
    v.field("baseModel", baseModel, {.doc = "Base model name."});
    v.field("fineTunedWeights", fineTunedWeights, {.doc = "FineTunedWeights.", .list_type = "atomic"});
  }
};

struct PredictorSpec {
  std::optional<PredictorModelSpec> model;
  ComponentExtensionSpec ext;
  std::optional<WorkerSpec> workerSpec;
  json::Object extra;  // inline PodSpec
  template <class V>
  void visit(V& v) {
    v.inline_k8s("io.k8s.api.core.v1.PodSpec", {.optional = kPodSpecOptional});
    v.field("model", model, {.doc = "Model to serve."});
    ext.visit_fields(v);
    v.field("workerSpec", workerSpec, {.doc = "Multi-node workers."});
  }
};

struct InferenceServiceSpec {
  std::optional<PredictorSpec> predictor;
  std::optional<EngineSpec> engine;
  std::optional<DecoderSpec> decoder;
  std::optional<ModelRef> model;
  std::optional<ServingRuntimeRef> runtime;
  std::optional<RouterSpec> router;
  std::optional<KedaConfig> kedaConfig;
  std::optional<AcceleratorSelector> acceleratorSelector;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("predictor", predictor, {.doc = "Deprecated KServe-style predictor; migrated to engine/model/runtime."});
    v.field("engine", engine, {.doc = "The engine component (prefill in prefill-decode mode)."});
    v.field("decoder", decoder, {.doc = "The decode component of prefill-decode disaggregation."});
    v.field("model", model, {.doc = "The model to serve."});
    v.field("runtime", runtime, {.doc = "The runtime to use; chosen automatically when absent."});
    v.field("router", router, {.doc = "The router in front of the engine (and decoder)."});
    v.field("kedaConfig", kedaConfig, {.doc = "KEDA autoscaling."});
    v.field("acceleratorSelector", acceleratorSelector, {.doc = "How to choose the accelerator class."});
  }
};

struct AcceleratorSelection {
  std::string acceleratorClass, reason;
  StringMap nodeSelector, resourceRequests;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("acceleratorClass", acceleratorClass, {.doc = "The chosen class.", .required = true});
    v.field("reason", reason, {.doc = "Why it was chosen."});
    v.field("nodeSelector", nodeSelector, {.doc = "Node selector applied."});
    v.field("resourceRequests", resourceRequests, {.doc = "Resource requests applied."});
  }
};

struct ComponentStatusSpec {
  std::string latestReadyRevision, latestCreatedRevision, previousRolledoutRevision, latestRolledoutRevision;
  std::vector<json::Value> traffic;
  OptString url, restURL;
  json::Value address;
  std::optional<AcceleratorSelection> selectedAccelerator;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("latestReadyRevision", latestReadyRevision, {.doc = "Latest revision that is ready."});
    v.field("latestCreatedRevision", latestCreatedRevision, {.doc = "Latest revision created."});
    v.field("previousRolledoutRevision", previousRolledoutRevision, {.doc = "Previous fully rolled-out revision."});
    v.field("latestRolledoutRevision", latestRolledoutRevision, {.doc = "Latest fully rolled-out revision."});
    v.field("traffic", traffic, {.doc = "Traffic split.", .free_form = true, .list_type = "atomic"});
    v.field("url", url, {.doc = "URL of the component."});
    v.field("restURL", restURL, {.doc = "REST URL of the component."});
    v.field("address", address, {.doc = "Addressable of the component.", .free_form = true});
    v.field("selectedAccelerator", selectedAccelerator, {.doc = "Accelerator class chosen for the component."});
  }
};

struct FailureInfo {
  std::string location, reason, message, modelRevisionName;
  OptString time;
  OptInt32 exitCode;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("location", location, {.doc = "Where the failure happened (pod)."});
    v.field("reason", reason,
            {.doc = "Failure class.",
             .enums = {"BaseModelNotReady", "BaseModelNotFound", "ModelLoadFailed", "RuntimeUnhealthy",
                       "RuntimeDisabled", "NoSupportingRuntime", "RuntimeNotRecognized", "InvalidPredictorSpec",
                       "FineTunedWeightsNotFound", "BaseModelDisabled", "InvalidRouterSpec"}});
    v.field("message", message, {.doc = "Details."});
    v.field("modelRevisionName", modelRevisionName, {.doc = "Model revision."});
    v.field("time", time, {.doc = "When it failed.", .format = "date-time"});
    v.field("exitCode", exitCode, {.doc = "Container exit code.", .format = "int32"});
  }
};

struct ModelRevisionStates {
  std::string activeModelState, targetModelState;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("activeModelState", activeModelState,
            {.doc = "State of the serving model.", .enums = {"", "Pending", "Standby", "Loading", "Loaded", "FailedToLoad"}});
    v.field("targetModelState", targetModelState,
            {.doc = "State of the model being rolled out.",
             .enums = {"", "Pending", "Standby", "Loading", "Loaded", "FailedToLoad"}});
  }
};

struct ModelCopies {
  OptInt failedCopies, totalCopies;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("failedCopies", failedCopies, {.doc = "Copies that failed to load."});
    v.field("totalCopies", totalCopies, {.doc = "Copies loaded."});
  }
};

struct ModelStatus {
  std::string transitionStatus;
  std::optional<ModelRevisionStates> modelRevisionStates;
  std::optional<FailureInfo> lastFailureInfo;
  std::optional<ModelCopies> modelCopies;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("transitionStatus", transitionStatus,
            {.doc = "Progress of the latest spec change.",
             .enums = {"", "UpToDate", "InProgress", "BlockedByFailedLoad", "InvalidSpec"}});
    v.field("modelRevisionStates", modelRevisionStates, {.doc = "Model states."});
    v.field("lastFailureInfo", lastFailureInfo, {.doc = "The last failure."});
    v.field("modelCopies", modelCopies, {.doc = "Copy counts."});
  }
};

struct InferenceServiceStatus {
  OptInt observedGeneration;
  std::vector<Condition> conditions;
  StringMap annotations;
  json::Value address;
  OptString url;
  std::map<std::string, ComponentStatusSpec> components;
  std::optional<ModelStatus> modelStatus;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("observedGeneration", observedGeneration, {.doc = "The generation this status describes."});
    v.field("conditions", conditions, {.doc = "Readiness conditions.", .list_type = "map", .list_map_key = "type"});
    v.field("annotations", annotations, {.doc = "Status annotations."});
    v.field("address", address, {.doc = "In-cluster address.", .free_form = true});
    v.field("url", url, {.doc = "URL of the service."});
    v.field("components", components, {.doc = "Status per component (engine, decoder, router)."});
    v.field("modelStatus", modelStatus, {.doc = "Model loading status."});
  }
};

// ------------------------------------------------------------------ accelerator classes

struct AcceleratorDiscovery {
  StringMap nodeSelector;
  json::Value affinity;
  OptString pciVendorID;
  Strings deviceIDs;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("nodeSelector", nodeSelector, {.doc = "Labels of nodes with this accelerator."});
    v.field("affinity", affinity, {.doc = "Affinity selecting the nodes.", .k8s = "io.k8s.api.core.v1.Affinity"});
    v.field("pciVendorID", pciVendorID, {.doc = "PCI vendor ID, e.g. 10de."});
    v.field("deviceIDs", deviceIDs, {.doc = "PCI device IDs.", .list_type = "atomic"});
  }
};

struct AcceleratorLatency {
  OptInt averageMillis, maximumMillis;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("averageMillis", averageMillis, {.doc = "Average latency in ms."});
    v.field("maximumMillis", maximumMillis, {.doc = "Maximum latency in ms."});
  }
};

struct AcceleratorPerformance {
  OptInt fp32Tflops, fp16Tflops, int8Tops, int4Tops;
  std::optional<AcceleratorLatency> latency;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("fp32Tflops", fp32Tflops, {.doc = "FP32 TFLOPS."});
    v.field("fp16Tflops", fp16Tflops, {.doc = "FP16 TFLOPS."});
    v.field("int8Tops", int8Tops, {.doc = "INT8 TOPS."});
    v.field("int4Tops", int4Tops, {.doc = "INT4 TOPS."});
    v.field("latency", latency, {.doc = "Latency figures."});
  }
};

struct AcceleratorCapabilities {
  json::Value memoryGB;  // Quantity
  OptString computeCapability, levelZeroVersion;
  OptInt32 clockSpeedMHz;
  json::Value memoryBandwidthGBps;  // Quantity
  Strings features;
  std::optional<AcceleratorPerformance> performance;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("memoryGB", memoryGB, {.doc = "GPU memory, e.g. 80Gi or 80.", .quantity = true});
    v.field("computeCapability", computeCapability, {.doc = "Compute capability, e.g. 9.0."});
    v.field("levelZeroVersion", levelZeroVersion, {.doc = "Intel Level Zero version."});
    v.field("clockSpeedMHz", clockSpeedMHz, {.doc = "Clock speed in MHz.", .format = "int32"});
    v.field("memoryBandwidthGBps", memoryBandwidthGBps, {.doc = "Memory bandwidth in GB/s.", .quantity = true});
    v.field("features", features, {.doc = "Feature tags (nvlink, fp8, ...).", .list_type = "atomic"});
    v.field("performance", performance, {.doc = "Performance figures."});
  }
};

struct AcceleratorResource {
  std::string name;
  json::Value quantity;  // Quantity
  OptBool divisible;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("name", name, {.doc = "Resource name, e.g. nvidia.com/gpu.", .required = true});
    v.field("quantity", quantity, {.doc = "Amount per accelerator.", .default_json = "\"1\"", .quantity = true});
    v.field("divisible", divisible, {.doc = "Whether the resource can be subdivided."});
  }
};

struct AcceleratorIntegration {
  OptString kueueResourceFlavor, volcanoGPUType;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("kueueResourceFlavor", kueueResourceFlavor, {.doc = "Kueue ResourceFlavor name."});
    v.field("volcanoGPUType", volcanoGPUType, {.doc = "Volcano GPU type."});
  }
};

struct AcceleratorCost {
  json::Value perHour, perMillionTokens, spotPerHour;  // Quantities
  OptString tier;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("perHour", perHour, {.doc = "Cost per hour.", .quantity = true});
    v.field("perMillionTokens", perMillionTokens, {.doc = "Cost per million tokens.", .quantity = true});
    v.field("spotPerHour", spotPerHour, {.doc = "Spot cost per hour.", .quantity = true});
    v.field("tier", tier, {.doc = "Cost tier: low, medium or high."});
  }
};

struct AcceleratorClassSpec {
  OptString vendor, family, model;
  std::optional<AcceleratorDiscovery> discovery;
  std::optional<AcceleratorCapabilities> capabilities;
  std::vector<AcceleratorResource> resources;
  std::optional<AcceleratorIntegration> integration;
  std::optional<AcceleratorCost> cost;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("vendor", vendor, {.doc = "nvidia, amd, intel, ..."});
    v.field("family", family, {.doc = "ampere, hopper, blackwell, ..."});
    v.field("model", model, {.doc = "a100, h100, l4, ..."});
    v.field("discovery", discovery, {.doc = "How to find nodes with this accelerator.", .required = true});
    v.field("capabilities", capabilities, {.doc = "What the accelerator can do.", .required = true});
    v.field("resources", resources, {.doc = "Resources the accelerator exposes.", .list_type = "atomic"});
    v.field("integration", integration, {.doc = "Scheduler integrations."});
    v.field("cost", cost, {.doc = "Pricing, for the Cheapest policy."});
  }
};

struct AcceleratorClassStatus {
  Strings nodes;
  OptInt32 totalAccelerators, availableAccelerators, availableNodes;
  OptString lastUpdated;
  std::vector<Condition> conditions;
  OptInt observedGeneration;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("nodes", nodes, {.doc = "Matching nodes.", .list_type = "atomic"});
    v.field("totalAccelerators", totalAccelerators, {.doc = "Accelerators on matching nodes.", .format = "int32"});
    v.field("availableAccelerators", availableAccelerators, {.doc = "Unallocated accelerators.", .format = "int32"});
    v.field("lastUpdated", lastUpdated, {.doc = "Last update.", .format = "date-time"});
    v.field("conditions", conditions, {.doc = "Conditions.", .list_type = "map", .list_map_key = "type"});
    v.field("availableNodes", availableNodes, {.doc = "Number of matching nodes.", .format = "int32"});
    v.field("observedGeneration", observedGeneration, {.doc = "The generation this status describes."});
  }
};

// ------------------------------------------------------------------ benchmark jobs

struct HuggingFaceSecretReference {
  std::string name;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("name", name, {.doc = "Secret with key HUGGINGFACE_API_KEY.", .required = true});
  }
};

struct InferenceServiceReference {
  std::string name, namespace_;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("name", name, {.doc = "InferenceService name.", .required = true});
    v.field("namespace", namespace_, {.doc = "InferenceService namespace.", .required = true});
  }
};

struct Endpoint {
  std::string url, apiFormat, modelName;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("url", url, {.doc = "Base URL of the endpoint.", .required = true, .pattern = "^(http|https)://"});
    v.field("apiFormat", apiFormat,
            {.doc = "API flavour of the endpoint.", .required = true, .enums = {"openai", "oci-cohere", "cohere"}});
    v.field("modelName", modelName, {.doc = "Model name to request."});
  }
};

struct EndpointSpec {
  std::optional<InferenceServiceReference> inferenceService;
  std::optional<Endpoint> endpoint;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("inferenceService", inferenceService, {.doc = "Benchmark an InferenceService."});
    v.field("endpoint", endpoint, {.doc = "Benchmark an endpoint by URL."});
  }
};

struct ServiceMetadata {
  std::string engine, version, gpuType;
  OptInt gpuCount;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("engine", engine, {.doc = "Serving engine.", .required = true, .enums = {"vLLM", "SGLang", "TGI"}});
    v.field("version", version, {.doc = "Engine version.", .required = true});
    v.field("gpuType", gpuType, {.doc = "GPU type.", .required = true, .enums = {"H100", "A100", "MI300", "A10"}});
    v.field("gpuCount", gpuCount, {.doc = "GPU count.", .required = true});
  }
};

struct PodOverride {
  OptString image;
  json::Object extra;  // env, envFrom, volumeMounts, resources, tolerations, nodeSelector, affinity, volumes
  template <class V>
  void visit(V& v) {
    v.field("image", image, {.doc = "Benchmark image."});
    v.template json_field<true>("env", {.doc = "Environment variables.", .k8s = "io.k8s.api.core.v1.EnvVar",
                                         .list_type = "map", .list_map_key = "name"});
    v.template json_field<true>("envFrom", {.doc = "Environment sources.", .k8s = "io.k8s.api.core.v1.EnvFromSource",
                                             .list_type = "atomic"});
    v.template json_field<true>("volumeMounts", {.doc = "Volume mounts.", .k8s = "io.k8s.api.core.v1.VolumeMount",
                                                  .list_type = "map", .list_map_key = "name"});
    v.template json_field<false>("resources", {.doc = "Resources.", .k8s = "io.k8s.api.core.v1.ResourceRequirements"});
    v.template json_field<true>("tolerations", {.doc = "Tolerations.", .k8s = "io.k8s.api.core.v1.Toleration",
                                                 .list_type = "atomic"});
    v.template json_field<false>("nodeSelector", {.doc = "Node labels.", .k8s = "#stringmap"});
    v.template json_field<false>("affinity", {.doc = "Affinity.", .k8s = "io.k8s.api.core.v1.Affinity"});
    v.template json_field<true>("volumes", {.doc = "Volumes.", .k8s = "io.k8s.api.core.v1.Volume",
                                             .list_type = "atomic"});
  }
};

struct BenchmarkJobSpec {
  std::optional<HuggingFaceSecretReference> huggingFaceSecretReference;
  std::optional<EndpointSpec> endpoint;
  std::optional<ServiceMetadata> serviceMetadata;
  std::string task;
  Strings trafficScenarios;
  std::vector<int64_t> numConcurrency;
  OptInt maxTimePerIteration, maxRequestsPerIteration;
  StringMap additionalRequestParams;
  std::optional<StorageSpec> dataset, outputLocation;
  OptString resultFolderName;
  std::optional<PodOverride> podOverride;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("huggingFaceSecretReference", huggingFaceSecretReference, {.doc = "Secret with the Hugging Face token."});
    v.field("endpoint", endpoint, {.doc = "What to benchmark.", .required = true});
    v.field("serviceMetadata", serviceMetadata, {.doc = "Recorded with the results."});
    v.field("task", task,
            {.doc = "Benchmark task.", .required = true,
             .enums = {"text-to-text", "image-to-text", "text-to-embeddings", "image-to-embeddings"}});
    v.field("trafficScenarios", trafficScenarios, {.doc = "Traffic scenarios, e.g. D(100,100).", .list_type = "set"});
    v.field("numConcurrency", numConcurrency, {.doc = "Concurrency levels.", .list_type = "set"});
    v.field("maxTimePerIteration", maxTimePerIteration, {.doc = "Minutes per iteration.", .required = true});
    v.field("maxRequestsPerIteration", maxRequestsPerIteration, {.doc = "Requests per iteration.", .required = true});
    v.field("additionalRequestParams", additionalRequestParams, {.doc = "Extra request parameters."});
    v.field("dataset", dataset, {.doc = "Dataset location."});
    v.field("outputLocation", outputLocation, {.doc = "Where results go (pvc://, s3://, oci://, ...).", .required = true});
    v.field("resultFolderName", resultFolderName, {.doc = "Folder name for results."});
    v.field("podOverride", podOverride, {.doc = "Overrides for the benchmark pod."});
  }
};

struct BenchmarkJobStatus {
  std::string state;
  OptString startTime, completionTime, lastReconcileTime;
  std::string failureMessage, details;
  OptInt observedGeneration;
  std::vector<Condition> conditions;
  json::Object extra;
  template <class V>
  void visit(V& v) {
    v.field("state", state,
            {.doc = "Job state.", .required = true, .enums = {"Pending", "Running", "Completed", "Failed"}});
    v.field("startTime", startTime, {.doc = "Start time.", .format = "date-time"});
    v.field("completionTime", completionTime, {.doc = "Completion time.", .format = "date-time"});
    v.field("lastReconcileTime", lastReconcileTime, {.doc = "Last reconcile.", .format = "date-time"});
    v.field("failureMessage", failureMessage, {.doc = "Why it failed."});
    v.field("details", details, {.doc = "Details."});
    v.field("observedGeneration", observedGeneration, {.doc = "The generation this status describes."});
    v.field("conditions", conditions, {.doc = "Conditions.", .list_type = "map", .list_map_key = "type"});
  }
};

// ------------------------------------------------------------------ top-level kinds

template <class Spec, class Status>
struct Resource {
  using spec_type = Spec;
  using status_type = Status;
  std::string apiVersion, kind;
  ObjectMeta metadata;
  Spec spec;
  std::optional<Status> status;
  json::Object extra;
};

using BaseModel = Resource<BaseModelSpec, ModelStatusSpec>;
using ClusterBaseModel = Resource<BaseModelSpec, ModelStatusSpec>;
using FineTunedWeight = Resource<FineTunedWeightSpec, ModelStatusSpec>;
using ServingRuntime = Resource<ServingRuntimeSpec, ServingRuntimeStatus>;
using ClusterServingRuntime = Resource<ServingRuntimeSpec, ServingRuntimeStatus>;
using InferenceService = Resource<InferenceServiceSpec, InferenceServiceStatus>;
using AcceleratorClass = Resource<AcceleratorClassSpec, AcceleratorClassStatus>;
using BenchmarkJob = Resource<BenchmarkJobSpec, BenchmarkJobStatus>;

}  // namespace omed::api
