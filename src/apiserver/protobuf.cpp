// Table-driven decoder of Kubernetes protobuf bodies: the runtime.Unknown envelope and the
// generated.proto messages of the built-in kinds kubectl's generators send, into omed's JSON.
#include "omed/apiserver/protobuf.hpp"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <unordered_map>

namespace omed::apiserver {

namespace {

// How a field's bytes become JSON.
enum class K : uint8_t {
  String,
  Bytes,  // base64, as Go's encoding/json writes []byte
  Bool,
  Int32,
  Int64,
  Message,  // a nested object described by `msg`
  Inline,   // an embedded Go struct (json:",inline"): its fields land in the parent object
  MapString,
  MapBytes,
  MapQuantity,
  Time,
  IntOrString,
  Quantity,
  Skip,    // known and deliberately dropped (managedFields: the server rebuilds them)
  Reject,  // known but not decoded here: a populated value is refused rather than lost
};

enum : uint8_t {
  kRepeated = 1,
  // Emit the zero value too: Go pointer fields (set means set, even to 0/false/"") and fields
  // without omitempty. Everything else follows omitempty, as kubectl's own JSON would.
  kZero = 2,
};

struct Msg;

struct Field {
  uint32_t number;
  const char* json;
  K kind;
  uint8_t flags;
  const Msg* msg;
};

struct Msg {
  const char* name;
  std::span<const Field> fields;
  // The table covers only part of the Go type: a populated field it does not know is refused
  // (415) instead of silently dropped. Complete tables skip unknown fields (newer clients).
  bool partial;
};

constexpr Field str(uint32_t n, const char* j, uint8_t f = 0) { return {n, j, K::String, f, nullptr}; }
constexpr Field strs(uint32_t n, const char* j) { return {n, j, K::String, kRepeated, nullptr}; }
constexpr Field boolean(uint32_t n, const char* j, uint8_t f = 0) { return {n, j, K::Bool, f, nullptr}; }
constexpr Field i32(uint32_t n, const char* j, uint8_t f = 0) { return {n, j, K::Int32, f, nullptr}; }
constexpr Field i64(uint32_t n, const char* j, uint8_t f = 0) { return {n, j, K::Int64, f, nullptr}; }
constexpr Field msg(uint32_t n, const char* j, const Msg& m) { return {n, j, K::Message, 0, &m}; }
constexpr Field msgs(uint32_t n, const char* j, const Msg& m) { return {n, j, K::Message, kRepeated, &m}; }
constexpr Field inl(uint32_t n, const Msg& m) { return {n, "", K::Inline, 0, &m}; }
constexpr Field smap(uint32_t n, const char* j) { return {n, j, K::MapString, 0, nullptr}; }
constexpr Field bmap(uint32_t n, const char* j) { return {n, j, K::MapBytes, 0, nullptr}; }
constexpr Field qmap(uint32_t n, const char* j) { return {n, j, K::MapQuantity, 0, nullptr}; }
constexpr Field timestamp(uint32_t n, const char* j) { return {n, j, K::Time, 0, nullptr}; }
constexpr Field ios(uint32_t n, const char* j) { return {n, j, K::IntOrString, 0, nullptr}; }
constexpr Field qty(uint32_t n, const char* j) { return {n, j, K::Quantity, 0, nullptr}; }
constexpr Field skip(uint32_t n, const char* j) { return {n, j, K::Skip, 0, nullptr}; }
constexpr Field reject(uint32_t n, const char* j) { return {n, j, K::Reject, 0, nullptr}; }

// ------------------------------------------------------------------ meta/v1

constexpr Field kOwnerReferenceF[] = {
  str(5, "apiVersion", kZero), str(1, "kind", kZero), str(3, "name", kZero), str(4, "uid", kZero),
  boolean(6, "controller", kZero), boolean(7, "blockOwnerDeletion", kZero)};
constexpr Msg kOwnerReference{"OwnerReference", kOwnerReferenceF, false};

constexpr Field kObjectMetaF[] = {
  str(1, "name"), str(2, "generateName"), str(3, "namespace"), str(4, "selfLink"), str(5, "uid"),
  str(6, "resourceVersion"), i64(7, "generation"), timestamp(8, "creationTimestamp"), timestamp(9, "deletionTimestamp"),
  i64(10, "deletionGracePeriodSeconds", kZero), smap(11, "labels"), smap(12, "annotations"),
  msgs(13, "ownerReferences", kOwnerReference), strs(14, "finalizers"), skip(17, "managedFields")};
constexpr Msg kObjectMeta{"ObjectMeta", kObjectMetaF, false};

constexpr Field kLabelSelectorRequirementF[] = {str(1, "key", kZero), str(2, "operator", kZero), strs(3, "values")};
constexpr Msg kLabelSelectorRequirement{"LabelSelectorRequirement", kLabelSelectorRequirementF, false};

constexpr Field kLabelSelectorF[] = {smap(1, "matchLabels"), msgs(2, "matchExpressions", kLabelSelectorRequirement)};
constexpr Msg kLabelSelector{"LabelSelector", kLabelSelectorF, false};

// ------------------------------------------------------------------ core/v1: simple kinds

constexpr Field kLocalObjectReferenceF[] = {str(1, "name")};
constexpr Msg kLocalObjectReference{"LocalObjectReference", kLocalObjectReferenceF, false};

constexpr Field kObjectReferenceF[] = {str(1, "kind"), str(2, "namespace"), str(3, "name"), str(4, "uid"),
                                       str(5, "apiVersion"), str(6, "resourceVersion"), str(7, "fieldPath")};
constexpr Msg kObjectReference{"ObjectReference", kObjectReferenceF, false};

constexpr Field kConfigMapF[] = {msg(1, "metadata", kObjectMeta), boolean(4, "immutable", kZero), smap(2, "data"),
                                 bmap(3, "binaryData")};
constexpr Msg kConfigMap{"ConfigMap", kConfigMapF, false};

constexpr Field kSecretF[] = {msg(1, "metadata", kObjectMeta), boolean(5, "immutable", kZero), bmap(2, "data"),
                              smap(4, "stringData"), str(3, "type")};
constexpr Msg kSecret{"Secret", kSecretF, false};

constexpr Field kNamespaceSpecF[] = {strs(1, "finalizers")};
constexpr Msg kNamespaceSpec{"NamespaceSpec", kNamespaceSpecF, false};
constexpr Field kNamespaceConditionF[] = {str(1, "type", kZero), str(2, "status", kZero),
                                          timestamp(4, "lastTransitionTime"), str(5, "reason"), str(6, "message")};
constexpr Msg kNamespaceCondition{"NamespaceCondition", kNamespaceConditionF, false};
constexpr Field kNamespaceStatusF[] = {str(1, "phase"), msgs(2, "conditions", kNamespaceCondition)};
constexpr Msg kNamespaceStatus{"NamespaceStatus", kNamespaceStatusF, false};
constexpr Field kNamespaceF[] = {msg(1, "metadata", kObjectMeta), msg(2, "spec", kNamespaceSpec),
                                 msg(3, "status", kNamespaceStatus)};
constexpr Msg kNamespace{"Namespace", kNamespaceF, false};

constexpr Field kServiceAccountF[] = {msg(1, "metadata", kObjectMeta), msgs(2, "secrets", kObjectReference),
                                      msgs(3, "imagePullSecrets", kLocalObjectReference),
                                      boolean(4, "automountServiceAccountToken", kZero)};
constexpr Msg kServiceAccount{"ServiceAccount", kServiceAccountF, false};

constexpr Field kBindingF[] = {msg(1, "metadata", kObjectMeta), msg(2, "target", kObjectReference)};
constexpr Msg kBinding{"Binding", kBindingF, false};

// ------------------------------------------------------------------ core/v1: Service

constexpr Field kClientIPConfigF[] = {i32(1, "timeoutSeconds", kZero)};
constexpr Msg kClientIPConfig{"ClientIPConfig", kClientIPConfigF, false};
constexpr Field kSessionAffinityConfigF[] = {msg(1, "clientIP", kClientIPConfig)};
constexpr Msg kSessionAffinityConfig{"SessionAffinityConfig", kSessionAffinityConfigF, false};

constexpr Field kServicePortF[] = {str(1, "name"), str(2, "protocol"), str(6, "appProtocol", kZero),
                                   i32(3, "port", kZero), ios(4, "targetPort"), i32(5, "nodePort")};
constexpr Msg kServicePort{"ServicePort", kServicePortF, false};

// Partial: trafficDistribution (23) and anything newer are refused when set.
constexpr Field kServiceSpecF[] = {
  msgs(1, "ports", kServicePort), smap(2, "selector"), str(3, "clusterIP"), strs(18, "clusterIPs"), str(4, "type"),
  strs(5, "externalIPs"), str(7, "sessionAffinity"), str(8, "loadBalancerIP"), strs(9, "loadBalancerSourceRanges"),
  str(10, "externalName"), str(11, "externalTrafficPolicy"), i32(12, "healthCheckNodePort"),
  boolean(13, "publishNotReadyAddresses"), msg(14, "sessionAffinityConfig", kSessionAffinityConfig),
  strs(19, "ipFamilies"), str(17, "ipFamilyPolicy", kZero), boolean(20, "allocateLoadBalancerNodePorts", kZero),
  str(21, "loadBalancerClass", kZero), str(22, "internalTrafficPolicy", kZero)};
constexpr Msg kServiceSpec{"ServiceSpec", kServiceSpecF, true};

// Status is the server's to write; kubectl sends an empty one.
constexpr Field kLoadBalancerStatusF[] = {reject(1, "ingress")};
constexpr Msg kLoadBalancerStatus{"LoadBalancerStatus", kLoadBalancerStatusF, true};
constexpr Field kServiceStatusF[] = {msg(1, "loadBalancer", kLoadBalancerStatus), reject(2, "conditions")};
constexpr Msg kServiceStatus{"ServiceStatus", kServiceStatusF, true};

constexpr Field kServiceF[] = {msg(1, "metadata", kObjectMeta), msg(2, "spec", kServiceSpec),
                               msg(3, "status", kServiceStatus)};
constexpr Msg kService{"Service", kServiceF, false};

// ------------------------------------------------------------------ core/v1: pod template

constexpr Field kContainerPortF[] = {str(1, "name"), i32(2, "hostPort"), i32(3, "containerPort", kZero),
                                     str(4, "protocol"), str(5, "hostIP")};
constexpr Msg kContainerPort{"ContainerPort", kContainerPortF, false};

constexpr Field kObjectFieldSelectorF[] = {str(1, "apiVersion"), str(2, "fieldPath", kZero)};
constexpr Msg kObjectFieldSelector{"ObjectFieldSelector", kObjectFieldSelectorF, false};
constexpr Field kResourceFieldSelectorF[] = {str(1, "containerName"), str(2, "resource", kZero), qty(3, "divisor")};
constexpr Msg kResourceFieldSelector{"ResourceFieldSelector", kResourceFieldSelectorF, false};
constexpr Field kKeySelectorF[] = {inl(1, kLocalObjectReference), str(2, "key", kZero), boolean(3, "optional", kZero)};
constexpr Msg kConfigMapKeySelector{"ConfigMapKeySelector", kKeySelectorF, false};
constexpr Msg kSecretKeySelector{"SecretKeySelector", kKeySelectorF, false};
constexpr Field kEnvVarSourceF[] = {msg(1, "fieldRef", kObjectFieldSelector),
                                    msg(2, "resourceFieldRef", kResourceFieldSelector),
                                    msg(3, "configMapKeyRef", kConfigMapKeySelector),
                                    msg(4, "secretKeyRef", kSecretKeySelector)};
constexpr Msg kEnvVarSource{"EnvVarSource", kEnvVarSourceF, true};
constexpr Field kEnvVarF[] = {str(1, "name", kZero), str(2, "value"), msg(3, "valueFrom", kEnvVarSource)};
constexpr Msg kEnvVar{"EnvVar", kEnvVarF, false};

constexpr Field kEnvSourceF[] = {inl(1, kLocalObjectReference), boolean(2, "optional", kZero)};
constexpr Msg kConfigMapEnvSource{"ConfigMapEnvSource", kEnvSourceF, false};
constexpr Msg kSecretEnvSource{"SecretEnvSource", kEnvSourceF, false};
constexpr Field kEnvFromSourceF[] = {str(1, "prefix"), msg(2, "configMapRef", kConfigMapEnvSource),
                                     msg(3, "secretRef", kSecretEnvSource)};
constexpr Msg kEnvFromSource{"EnvFromSource", kEnvFromSourceF, false};

constexpr Field kResourceClaimF[] = {str(1, "name", kZero)};
constexpr Msg kResourceClaim{"ResourceClaim", kResourceClaimF, true};
constexpr Field kResourceRequirementsF[] = {qmap(1, "limits"), qmap(2, "requests"), msgs(3, "claims", kResourceClaim)};
constexpr Msg kResourceRequirements{"ResourceRequirements", kResourceRequirementsF, false};

constexpr Field kVolumeMountF[] = {str(1, "name", kZero), boolean(2, "readOnly"), str(3, "mountPath", kZero),
                                   str(4, "subPath"), str(5, "mountPropagation", kZero), str(6, "subPathExpr")};
constexpr Msg kVolumeMount{"VolumeMount", kVolumeMountF, true};
constexpr Field kVolumeDeviceF[] = {str(1, "name", kZero), str(2, "devicePath", kZero)};
constexpr Msg kVolumeDevice{"VolumeDevice", kVolumeDeviceF, false};
constexpr Field kContainerResizePolicyF[] = {str(1, "resourceName", kZero), str(2, "restartPolicy", kZero)};
constexpr Msg kContainerResizePolicy{"ContainerResizePolicy", kContainerResizePolicyF, false};

// What `kubectl create deployment|job|cronjob` fill in, and the plain fields around them;
// probes, lifecycle hooks and security contexts are refused when set.
constexpr Field kContainerF[] = {
  str(1, "name", kZero), str(2, "image"), strs(3, "command"), strs(4, "args"), str(5, "workingDir"),
  msgs(6, "ports", kContainerPort), msgs(19, "envFrom", kEnvFromSource), msgs(7, "env", kEnvVar),
  msg(8, "resources", kResourceRequirements), msgs(23, "resizePolicy", kContainerResizePolicy),
  str(24, "restartPolicy", kZero), msgs(9, "volumeMounts", kVolumeMount), msgs(21, "volumeDevices", kVolumeDevice),
  reject(10, "livenessProbe"), reject(11, "readinessProbe"), reject(22, "startupProbe"), reject(12, "lifecycle"),
  str(13, "terminationMessagePath"), str(20, "terminationMessagePolicy"), str(14, "imagePullPolicy"),
  reject(15, "securityContext"), boolean(16, "stdin"), boolean(17, "stdinOnce"), boolean(18, "tty")};
constexpr Msg kContainer{"Container", kContainerF, true};

constexpr Field kTolerationF[] = {str(1, "key"), str(2, "operator"), str(3, "value"), str(4, "effect"),
                                  i64(5, "tolerationSeconds", kZero)};
constexpr Msg kToleration{"Toleration", kTolerationF, false};
constexpr Field kHostAliasF[] = {str(1, "ip", kZero), strs(2, "hostnames")};
constexpr Msg kHostAlias{"HostAlias", kHostAliasF, false};
constexpr Field kPodReadinessGateF[] = {str(1, "conditionType", kZero)};
constexpr Msg kPodReadinessGate{"PodReadinessGate", kPodReadinessGateF, false};
constexpr Field kPodSchedulingGateF[] = {str(1, "name", kZero)};
constexpr Msg kPodSchedulingGate{"PodSchedulingGate", kPodSchedulingGateF, false};
constexpr Field kPodOSF[] = {str(1, "name", kZero)};
constexpr Msg kPodOS{"PodOS", kPodOSF, false};

// Volumes, affinity, security context, DNS config, topology spread, ephemeral containers and
// resource claims are refused when set (no generator sends them).
constexpr Field kPodSpecF[] = {
  reject(1, "volumes"), msgs(20, "initContainers", kContainer), msgs(2, "containers", kContainer),
  reject(34, "ephemeralContainers"), str(3, "restartPolicy"), i64(4, "terminationGracePeriodSeconds", kZero),
  i64(5, "activeDeadlineSeconds", kZero), str(6, "dnsPolicy"), smap(7, "nodeSelector"), str(8, "serviceAccountName"),
  str(9, "serviceAccount"), boolean(21, "automountServiceAccountToken", kZero), str(10, "nodeName"),
  boolean(11, "hostNetwork"), boolean(12, "hostPID"), boolean(13, "hostIPC"),
  boolean(27, "shareProcessNamespace", kZero), reject(14, "securityContext"),
  msgs(15, "imagePullSecrets", kLocalObjectReference), str(16, "hostname"), str(17, "subdomain"),
  reject(18, "affinity"), str(19, "schedulerName"), msgs(22, "tolerations", kToleration),
  msgs(23, "hostAliases", kHostAlias), str(24, "priorityClassName"), i32(25, "priority", kZero),
  reject(26, "dnsConfig"), msgs(28, "readinessGates", kPodReadinessGate), str(29, "runtimeClassName", kZero),
  boolean(30, "enableServiceLinks", kZero), str(31, "preemptionPolicy", kZero), qmap(32, "overhead"),
  reject(33, "topologySpreadConstraints"), boolean(35, "setHostnameAsFQDN", kZero), msg(36, "os", kPodOS),
  boolean(37, "hostUsers", kZero), msgs(38, "schedulingGates", kPodSchedulingGate), reject(39, "resourceClaims")};
constexpr Msg kPodSpec{"PodSpec", kPodSpecF, true};

constexpr Field kPodTemplateSpecF[] = {msg(1, "metadata", kObjectMeta), msg(2, "spec", kPodSpec)};
constexpr Msg kPodTemplateSpec{"PodTemplateSpec", kPodTemplateSpecF, false};

constexpr Field kPodStatusF[] = {str(1, "phase"), reject(2, "conditions"), str(3, "message"), str(4, "reason"),
                                 str(11, "nominatedNodeName")};
constexpr Msg kPodStatus{"PodStatus", kPodStatusF, true};
constexpr Field kPodF[] = {msg(1, "metadata", kObjectMeta), msg(2, "spec", kPodSpec), msg(3, "status", kPodStatus)};
constexpr Msg kPod{"Pod", kPodF, false};

// ------------------------------------------------------------------ apps/v1

constexpr Field kRollingUpdateDeploymentF[] = {ios(1, "maxUnavailable"), ios(2, "maxSurge")};
constexpr Msg kRollingUpdateDeployment{"RollingUpdateDeployment", kRollingUpdateDeploymentF, false};
constexpr Field kDeploymentStrategyF[] = {str(1, "type"), msg(2, "rollingUpdate", kRollingUpdateDeployment)};
constexpr Msg kDeploymentStrategy{"DeploymentStrategy", kDeploymentStrategyF, false};
constexpr Field kDeploymentSpecF[] = {
  i32(1, "replicas", kZero), msg(2, "selector", kLabelSelector), msg(3, "template", kPodTemplateSpec),
  msg(4, "strategy", kDeploymentStrategy), i32(5, "minReadySeconds"), i32(6, "revisionHistoryLimit", kZero),
  boolean(7, "paused"), i32(9, "progressDeadlineSeconds", kZero)};
constexpr Msg kDeploymentSpec{"DeploymentSpec", kDeploymentSpecF, false};
constexpr Field kDeploymentStatusF[] = {
  i64(1, "observedGeneration"), i32(2, "replicas"), i32(3, "updatedReplicas"), i32(7, "readyReplicas"),
  i32(4, "availableReplicas"), i32(5, "unavailableReplicas"), reject(6, "conditions"),
  i32(8, "collisionCount", kZero)};
constexpr Msg kDeploymentStatus{"DeploymentStatus", kDeploymentStatusF, true};
constexpr Field kDeploymentF[] = {msg(1, "metadata", kObjectMeta), msg(2, "spec", kDeploymentSpec),
                                  msg(3, "status", kDeploymentStatus)};
constexpr Msg kDeployment{"Deployment", kDeploymentF, false};

// ------------------------------------------------------------------ batch/v1

constexpr Field kJobSpecF[] = {
  i32(1, "parallelism", kZero), i32(2, "completions", kZero), i64(3, "activeDeadlineSeconds", kZero),
  reject(11, "podFailurePolicy"), i32(7, "backoffLimit", kZero), msg(4, "selector", kLabelSelector),
  boolean(5, "manualSelector", kZero), msg(6, "template", kPodTemplateSpec), i32(8, "ttlSecondsAfterFinished", kZero),
  str(9, "completionMode", kZero), boolean(10, "suspend", kZero)};
constexpr Msg kJobSpec{"JobSpec", kJobSpecF, true};
constexpr Field kJobStatusF[] = {reject(1, "conditions"), timestamp(2, "startTime"), timestamp(3, "completionTime"),
                                 i32(4, "active"), i32(5, "succeeded"), i32(6, "failed"),
                                 str(7, "completedIndexes"), reject(8, "uncountedTerminatedPods")};
constexpr Msg kJobStatus{"JobStatus", kJobStatusF, true};
constexpr Field kJobF[] = {msg(1, "metadata", kObjectMeta), msg(2, "spec", kJobSpec), msg(3, "status", kJobStatus)};
constexpr Msg kJob{"Job", kJobF, false};

constexpr Field kJobTemplateSpecF[] = {msg(1, "metadata", kObjectMeta), msg(2, "spec", kJobSpec)};
constexpr Msg kJobTemplateSpec{"JobTemplateSpec", kJobTemplateSpecF, false};
constexpr Field kCronJobSpecF[] = {
  str(1, "schedule", kZero), str(8, "timeZone", kZero), i64(2, "startingDeadlineSeconds", kZero),
  str(3, "concurrencyPolicy"), boolean(4, "suspend", kZero), msg(5, "jobTemplate", kJobTemplateSpec),
  i32(6, "successfulJobsHistoryLimit", kZero), i32(7, "failedJobsHistoryLimit", kZero)};
constexpr Msg kCronJobSpec{"CronJobSpec", kCronJobSpecF, false};
constexpr Field kCronJobStatusF[] = {msgs(1, "active", kObjectReference), timestamp(4, "lastScheduleTime"),
                                     timestamp(5, "lastSuccessfulTime")};
constexpr Msg kCronJobStatus{"CronJobStatus", kCronJobStatusF, false};
constexpr Field kCronJobF[] = {msg(1, "metadata", kObjectMeta), msg(2, "spec", kCronJobSpec),
                               msg(3, "status", kCronJobStatus)};
constexpr Msg kCronJob{"CronJob", kCronJobF, false};

// ------------------------------------------------------------------ policy/v1, networking.k8s.io/v1

constexpr Field kPodDisruptionBudgetSpecF[] = {ios(1, "minAvailable"), msg(2, "selector", kLabelSelector),
                                               ios(3, "maxUnavailable"),
                                               str(4, "unhealthyPodEvictionPolicy", kZero)};
constexpr Msg kPodDisruptionBudgetSpec{"PodDisruptionBudgetSpec", kPodDisruptionBudgetSpecF, false};
constexpr Field kPodDisruptionBudgetStatusF[] = {
  i64(1, "observedGeneration"), reject(2, "disruptedPods"), i32(3, "disruptionsAllowed", kZero),
  i32(4, "currentHealthy", kZero), i32(5, "desiredHealthy", kZero), i32(6, "expectedPods", kZero),
  reject(7, "conditions")};
constexpr Msg kPodDisruptionBudgetStatus{"PodDisruptionBudgetStatus", kPodDisruptionBudgetStatusF, true};
constexpr Field kPodDisruptionBudgetF[] = {msg(1, "metadata", kObjectMeta), msg(2, "spec", kPodDisruptionBudgetSpec),
                                           msg(3, "status", kPodDisruptionBudgetStatus)};
constexpr Msg kPodDisruptionBudget{"PodDisruptionBudget", kPodDisruptionBudgetF, false};

constexpr Field kServiceBackendPortF[] = {str(1, "name"), i32(2, "number")};
constexpr Msg kServiceBackendPort{"ServiceBackendPort", kServiceBackendPortF, false};
constexpr Field kIngressServiceBackendF[] = {str(1, "name", kZero), msg(2, "port", kServiceBackendPort)};
constexpr Msg kIngressServiceBackend{"IngressServiceBackend", kIngressServiceBackendF, false};
constexpr Field kTypedLocalObjectReferenceF[] = {str(1, "apiGroup", kZero), str(2, "kind", kZero),
                                                 str(3, "name", kZero)};
constexpr Msg kTypedLocalObjectReference{"TypedLocalObjectReference", kTypedLocalObjectReferenceF, false};
constexpr Field kIngressBackendF[] = {msg(4, "service", kIngressServiceBackend),
                                      msg(3, "resource", kTypedLocalObjectReference)};
constexpr Msg kIngressBackend{"IngressBackend", kIngressBackendF, false};
constexpr Field kHTTPIngressPathF[] = {str(1, "path"), str(3, "pathType", kZero), msg(2, "backend", kIngressBackend)};
constexpr Msg kHTTPIngressPath{"HTTPIngressPath", kHTTPIngressPathF, false};
constexpr Field kHTTPIngressRuleValueF[] = {msgs(1, "paths", kHTTPIngressPath)};
constexpr Msg kHTTPIngressRuleValue{"HTTPIngressRuleValue", kHTTPIngressRuleValueF, false};
constexpr Field kIngressRuleValueF[] = {msg(1, "http", kHTTPIngressRuleValue)};
constexpr Msg kIngressRuleValue{"IngressRuleValue", kIngressRuleValueF, false};
constexpr Field kIngressRuleF[] = {str(1, "host"), inl(2, kIngressRuleValue)};
constexpr Msg kIngressRule{"IngressRule", kIngressRuleF, false};
constexpr Field kIngressTLSF[] = {strs(1, "hosts"), str(2, "secretName")};
constexpr Msg kIngressTLS{"IngressTLS", kIngressTLSF, false};
constexpr Field kIngressSpecF[] = {str(4, "ingressClassName", kZero), msg(1, "defaultBackend", kIngressBackend),
                                   msgs(2, "tls", kIngressTLS), msgs(3, "rules", kIngressRule)};
constexpr Msg kIngressSpec{"IngressSpec", kIngressSpecF, false};
constexpr Field kIngressLoadBalancerStatusF[] = {reject(1, "ingress")};
constexpr Msg kIngressLoadBalancerStatus{"IngressLoadBalancerStatus", kIngressLoadBalancerStatusF, true};
constexpr Field kIngressStatusF[] = {msg(1, "loadBalancer", kIngressLoadBalancerStatus)};
constexpr Msg kIngressStatus{"IngressStatus", kIngressStatusF, true};
constexpr Field kIngressF[] = {msg(1, "metadata", kObjectMeta), msg(2, "spec", kIngressSpec),
                               msg(3, "status", kIngressStatus)};
constexpr Msg kIngress{"Ingress", kIngressF, false};

// ------------------------------------------------------------------ rbac/v1, scheduling/v1

constexpr Field kPolicyRuleF[] = {strs(1, "verbs"), strs(2, "apiGroups"), strs(3, "resources"),
                                  strs(4, "resourceNames"), strs(5, "nonResourceURLs")};
constexpr Msg kPolicyRule{"PolicyRule", kPolicyRuleF, false};
constexpr Field kAggregationRuleF[] = {msgs(1, "clusterRoleSelectors", kLabelSelector)};
constexpr Msg kAggregationRule{"AggregationRule", kAggregationRuleF, false};
constexpr Field kRoleF[] = {msg(1, "metadata", kObjectMeta), msgs(2, "rules", kPolicyRule)};
constexpr Msg kRole{"Role", kRoleF, false};
constexpr Field kClusterRoleF[] = {msg(1, "metadata", kObjectMeta), msgs(2, "rules", kPolicyRule),
                                   msg(3, "aggregationRule", kAggregationRule)};
constexpr Msg kClusterRole{"ClusterRole", kClusterRoleF, false};
constexpr Field kSubjectF[] = {str(1, "kind", kZero), str(2, "apiGroup"), str(3, "name", kZero), str(4, "namespace")};
constexpr Msg kSubject{"Subject", kSubjectF, false};
constexpr Field kRoleRefF[] = {str(1, "apiGroup", kZero), str(2, "kind", kZero), str(3, "name", kZero)};
constexpr Msg kRoleRef{"RoleRef", kRoleRefF, false};
constexpr Field kRoleBindingF[] = {msg(1, "metadata", kObjectMeta), msgs(2, "subjects", kSubject),
                                   msg(3, "roleRef", kRoleRef)};
constexpr Msg kRoleBinding{"RoleBinding", kRoleBindingF, false};
constexpr Msg kClusterRoleBinding{"ClusterRoleBinding", kRoleBindingF, false};

constexpr Field kPriorityClassF[] = {msg(1, "metadata", kObjectMeta), i32(2, "value", kZero),
                                     boolean(3, "globalDefault"), str(4, "description"),
                                     str(5, "preemptionPolicy", kZero)};
constexpr Msg kPriorityClass{"PriorityClass", kPriorityClassF, false};

struct KindTable {
  const char* api_version;
  const char* kind;
  const Msg* msg;
};

constexpr KindTable kKinds[] = {
  {"v1", "ConfigMap", &kConfigMap},
  {"v1", "Secret", &kSecret},
  {"v1", "Namespace", &kNamespace},
  {"v1", "ServiceAccount", &kServiceAccount},
  {"v1", "Service", &kService},
  {"v1", "Pod", &kPod},
  {"v1", "Binding", &kBinding},
  {"apps/v1", "Deployment", &kDeployment},
  {"batch/v1", "Job", &kJob},
  {"batch/v1", "CronJob", &kCronJob},
  {"policy/v1", "PodDisruptionBudget", &kPodDisruptionBudget},
  {"networking.k8s.io/v1", "Ingress", &kIngress},
  {"rbac.authorization.k8s.io/v1", "Role", &kRole},
  {"rbac.authorization.k8s.io/v1", "ClusterRole", &kClusterRole},
  {"rbac.authorization.k8s.io/v1", "RoleBinding", &kRoleBinding},
  {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", &kClusterRoleBinding},
  {"scheduling.k8s.io/v1", "PriorityClass", &kPriorityClass},
};

// The tables nest at most ~12 deep (CronJob down to an env var's key selector); anything
// deeper is not something these tables can produce, so it is refused before recursing.
constexpr int kMaxDepth = 24;

// ------------------------------------------------------------------ wire reading

class Reader {
public:
  explicit Reader(std::string_view b) : p_(b.data()), end_(b.data() + b.size()) {}
  bool done() const { return p_ == end_; }
  size_t left() const { return static_cast<size_t>(end_ - p_); }

  // At most 10 bytes, and the 10th may only carry the 64th bit.
  bool varint(uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_)
        return false;
      auto b = static_cast<uint8_t>(*p_++);
      if (shift == 63 && b > 1)
        return false;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80))
        return true;
    }
    return false;
  }
  // A length-delimited payload; the length is checked against what is left before any use.
  bool delimited(std::string_view& out) {
    uint64_t n;
    if (!varint(n) || n > left())
      return false;
    out = std::string_view(p_, static_cast<size_t>(n));
    p_ += n;
    return true;
  }
  bool fixed(size_t n, bool& zero) {
    if (left() < n)
      return false;
    zero = true;
    for (size_t i = 0; i < n; ++i)
      zero = zero && p_[i] == 0;
    p_ += n;
    return true;
  }

private:
  const char* p_;
  const char* end_;
};

const char* wire_name(unsigned wt) {
  switch (wt) {
    case 0: return "varint";
    case 1: return "fixed64";
    case 2: return "length-delimited";
    case 3: return "start-group";
    case 4: return "end-group";
    case 5: return "fixed32";
    default: return "invalid";
  }
}

enum class SkipResult { ok, truncated, bad_wire_type };

// Steps over one value of a field no table describes; `empty` when it carries nothing (Go writes
// the zero values of non-pointer fields, and those mean the same as absent). Groups (3, 4) and
// the unassigned wire types are refused: Kubernetes never writes them.
SkipResult skip_value(Reader& r, unsigned wt, bool& empty) {
  std::string_view payload;
  uint64_t v = 0;
  bool ok;
  switch (wt) {
    case 0: ok = r.varint(v); empty = v == 0; break;
    case 1: ok = r.fixed(8, empty); break;
    case 2: ok = r.delimited(payload); empty = payload.empty(); break;
    case 5: ok = r.fixed(4, empty); break;
    default: return SkipResult::bad_wire_type;
  }
  return ok ? SkipResult::ok : SkipResult::truncated;
}

// Map entries are appended as they arrive (a set() per entry is quadratic on a 3 MiB body);
// duplicate keys are resolved once at the end, the last value winning as in Go, at the first
// key's position.
void dedupe(json::Value& v) {
  if (v.is_array()) {
    for (auto& e : v.as_array())
      dedupe(e);
    return;
  }
  if (!v.is_object())
    return;
  auto& o = v.as_object();
  for (auto& m : o)
    dedupe(m.value);
  if (o.size() < 2)
    return;
  std::unordered_map<std::string_view, size_t> index;
  index.reserve(o.size());
  bool dup = false;
  for (auto& m : o)
    if (!index.emplace(m.key, 0).second) {
      dup = true;
      break;
    }
  if (!dup)
    return;
  index.clear();
  json::Object result;
  result.reserve(o.size());
  for (auto& m : o) {
    auto [it, fresh] = index.emplace(m.key, result.size());
    if (fresh)
      result.push_back(json::Member{m.key, std::move(m.value)});
    else
      (result.begin() + static_cast<std::ptrdiff_t>(it->second))->value = std::move(m.value);
  }
  o = std::move(result);
}

// Go's encoding/json turns invalid UTF-8 into U+FFFD, byte by byte; doing the same keeps what we
// store valid JSON and identical to what the real server would keep.
std::string utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<uint8_t>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
    for (size_t k = 1; ok && k < n; ++k) {
      auto d = static_cast<uint8_t>(s[i + k]);
      ok = (d & 0xc0) == 0x80;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (ok)
      ok = (n == 1) || (n == 2 && cp >= 0x80) || (n == 3 && cp >= 0x800 && (cp < 0xd800 || cp > 0xdfff)) ||
           (n == 4 && cp >= 0x10000 && cp <= 0x10ffff);
    if (ok) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      out.append("\xef\xbf\xbd");
      ++i;
    }
  }
  return out;
}

std::string base64(std::string_view in) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(in[k])); };
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += tbl[n >> 18 & 63];
    out += tbl[n >> 12 & 63];
    out += tbl[n >> 6 & 63];
    out += tbl[n & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t n = byte(i) << 16;
    out += tbl[n >> 18 & 63];
    out += tbl[n >> 12 & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t n = byte(i) << 16 | byte(i + 1) << 8;
    out += tbl[n >> 18 & 63];
    out += tbl[n >> 12 & 63];
    out += tbl[n >> 6 & 63];
    out += '=';
  }
  return out;
}

// metav1.Time's JSON form: RFC 3339 in UTC at second precision. Days to civil date after
// Howard Hinnant's algorithm, so that no libc time function sees a hostile value.
std::string rfc3339(int64_t secs) {
  int64_t days = secs / 86400, rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2)
    ++y;
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", static_cast<int>(y), static_cast<int>(m),
                static_cast<int>(d), static_cast<int>(rem / 3600), static_cast<int>(rem / 60 % 60),
                static_cast<int>(rem % 60));
  return buf;
}

// ------------------------------------------------------------------ decoding

class Decoder {
public:
  std::string error;
  ProtobufFailure failure = ProtobufFailure::none;

  bool malformed(const std::string& what) { return fail(ProtobufFailure::malformed, what); }
  bool unsupported(const std::string& what) { return fail(ProtobufFailure::unsupported, what); }

  // Decodes one message's bytes into `out` (an object, possibly shared with an inline parent).
  bool message(std::string_view buf, const Msg& m, json::Object& out, int depth) {
    if (depth > kMaxDepth)
      return malformed(at() + "messages nested more than " + std::to_string(kMaxDepth) + " deep");
    Reader r(buf);
    while (!r.done()) {
      uint64_t key;
      if (!r.varint(key))
        return malformed(at() + "truncated field key in " + m.name);
      uint64_t number = key >> 3;
      auto wt = static_cast<unsigned>(key & 7);
      if (number == 0 || number > 0x1fffffff)
        return malformed(at() + "invalid field number " + std::to_string(number) + " in " + m.name);
      const Field* f = nullptr;
      for (auto& cand : m.fields)
        if (cand.number == number) {
          f = &cand;
          break;
        }
      if (!f || f->kind == K::Skip || f->kind == K::Reject) {
        bool empty;
        if (!skip(r, wt, number, m.name, empty))
          return false;
        if (empty)
          continue;
        if (f && f->kind == K::Reject)
          return unsupported(join(f->json) + " is not decoded from protobuf by this server; send the object as JSON");
        if (!f && m.partial)
          return unsupported(at() + "field " + std::to_string(number) + " of " + m.name +
                             " is not decoded from protobuf by this server; send the object as JSON");
        continue;
      }
      if (!field(r, wt, *f, m, out, depth))
        return false;
    }
    return true;
  }

private:
  std::string path_;  // JSON path of the message being decoded, for error messages

  bool fail(ProtobufFailure f, const std::string& what) {
    failure = f;
    error = what;
    return false;
  }
  std::string join(const char* name) const { return path_.empty() ? name : path_ + "." + name; }
  std::string at() const { return path_.empty() ? "" : path_ + ": "; }

  bool skip(Reader& r, unsigned wt, uint64_t number, const char* msg_name, bool& empty) {
    switch (skip_value(r, wt, empty)) {
      case SkipResult::ok: return true;
      case SkipResult::truncated:
        return malformed(at() + "field " + std::to_string(number) + " of " + msg_name + " is truncated");
      case SkipResult::bad_wire_type: break;
    }
    return malformed(at() + "field " + std::to_string(number) + " of " + msg_name + " has wire type " +
                     std::to_string(wt) + " (" + wire_name(wt) + "), which Kubernetes never writes");
  }

  bool field(Reader& r, unsigned wt, const Field& f, const Msg& m, json::Object& out, int depth) {
    bool varint_kind = f.kind == K::Bool || f.kind == K::Int32 || f.kind == K::Int64;
    unsigned want = varint_kind ? 0 : 2;
    std::string name = f.kind == K::Inline ? path_ : join(f.json);
    if (wt != want)
      return malformed((name.empty() ? std::string(m.name) : name) + ": wire type " + std::to_string(wt) + " (" +
                       wire_name(wt) + "), expected " + wire_name(want) + " for field " + std::to_string(f.number) +
                       " of " + m.name);
    uint64_t v = 0;
    std::string_view payload;
    if (varint_kind ? !r.varint(v) : !r.delimited(payload))
      return malformed(name + ": truncated value (field " + std::to_string(f.number) + " of " + m.name + ")");

    json::Value value;
    bool zero = false;
    switch (f.kind) {
      case K::String: value = utf8(payload); zero = payload.empty(); break;
      case K::Bytes: value = base64(payload); zero = payload.empty(); break;
      case K::Bool: value = v != 0; zero = v == 0; break;
      // Go truncates an int32's varint to its low 32 bits (negatives arrive sign-extended).
      case K::Int32: value = static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(v))); zero = v == 0; break;
      case K::Int64: value = static_cast<int64_t>(v); zero = v == 0; break;
      case K::Time:
        // An empty Time is Go's zero time (JSON null): the same as not sent.
        if (payload.empty())
          return true;
        if (!time_value(payload, name, value))
          return false;
        break;
      case K::IntOrString:
        if (!int_or_string(payload, name, value))
          return false;
        break;
      case K::Quantity:
        if (!quantity(payload, name, value))
          return false;
        break;
      case K::Inline:
        return message(payload, *f.msg, out, depth + 1);
      case K::Message:
        return nested(payload, f, out, name, depth);
      case K::MapString:
      case K::MapBytes:
      case K::MapQuantity:
        return map_entry(payload, f, out, name);
      case K::Skip:
      case K::Reject:
        return true;  // handled by the caller
    }
    if (f.flags & kRepeated) {
      auto& slot = out[f.json];
      if (!slot.is_array())
        slot = json::Array{};
      slot.as_array().push_back(std::move(value));
    } else if (zero && !(f.flags & kZero)) {
      out.erase(f.json);  // omitempty; a later zero overrides an earlier value (last one wins)
    } else {
      out.set(f.json, std::move(value));
    }
    return true;
  }

  bool nested(std::string_view payload, const Field& f, json::Object& out, const std::string& name, int depth) {
    auto saved = path_;
    json::Object* target;
    if (f.flags & kRepeated) {
      auto& slot = out[f.json];
      if (!slot.is_array())
        slot = json::Array{};
      auto& arr = slot.as_array();
      path_ = name + "[" + std::to_string(arr.size()) + "]";
      arr.emplace_back(json::Object{});
      target = &arr.back().as_object();
    } else {
      // A repeated occurrence of a singular message merges into the first, as protobuf says.
      auto& slot = out[f.json];
      if (!slot.is_object())
        slot = json::Object{};
      path_ = name;
      target = &slot.as_object();
    }
    bool ok = message(payload, *f.msg, *target, depth + 1);
    path_ = std::move(saved);
    return ok;
  }

  // map<string, V> travels as repeated {1: key, 2: value} entries.
  bool map_entry(std::string_view payload, const Field& f, json::Object& out, const std::string& name) {
    Reader r(payload);
    std::string_view key, val;
    while (!r.done()) {
      uint64_t k;
      if (!r.varint(k))
        return malformed(name + ": truncated map entry");
      auto wt = static_cast<unsigned>(k & 7);
      uint64_t number = k >> 3;
      if ((number == 1 || number == 2) && wt != 2)
        return malformed(name + ": map entry field " + std::to_string(number) + " has wire type " + std::to_string(wt) +
                         " (" + wire_name(wt) + "), expected length-delimited");
      if (number == 1 || number == 2) {
        if (!r.delimited(number == 1 ? key : val))
          return malformed(name + ": truncated map entry");
        continue;
      }
      bool empty;
      if (!skip(r, wt, number, "a map entry", empty))
        return false;
    }
    json::Value value;
    if (f.kind == K::MapString)
      value = utf8(val);
    else if (f.kind == K::MapBytes)
      value = base64(val);
    else if (!quantity(val, name + "." + utf8(key), value))
      return false;
    auto& slot = out[f.json];
    if (!slot.is_object())
      slot = json::Object{};
    slot.as_object().push_back(json::Member{utf8(key), std::move(value)});
    return true;
  }

  // Reads the fields 1..3 of a small fixed message (Time, IntOrString, Quantity); `layout` gives
  // each one's wire type ('v' varint, 's' length-delimited). Other fields are skipped.
  bool scalars(std::string_view payload, const std::string& name, const char* what, std::string_view layout,
               uint64_t (&ints)[4], std::string_view (&texts)[4]) {
    Reader r(payload);
    while (!r.done()) {
      uint64_t k;
      if (!r.varint(k))
        return malformed(name + ": truncated " + what);
      uint64_t number = k >> 3;
      auto wt = static_cast<unsigned>(k & 7);
      if (number >= 1 && number <= layout.size()) {
        bool want_varint = layout[number - 1] == 'v';
        if (wt != (want_varint ? 0u : 2u))
          return malformed(name + ": field " + std::to_string(number) + " of " + what + " has wire type " +
                           std::to_string(wt) + " (" + wire_name(wt) + "), expected " +
                           wire_name(want_varint ? 0 : 2));
        if (want_varint ? !r.varint(ints[number]) : !r.delimited(texts[number]))
          return malformed(name + ": truncated " + what);
        continue;
      }
      bool empty;
      if (!skip(r, wt, number, what, empty))
        return false;
    }
    return true;
  }

  bool time_value(std::string_view payload, const std::string& name, json::Value& out) {
    uint64_t ints[4] = {};
    std::string_view texts[4];
    if (!scalars(payload, name, "Time", "vv", ints, texts))
      return false;
    auto secs = static_cast<int64_t>(ints[1]);
    auto nanos = static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(ints[2])));
    // The range google.protobuf.Timestamp allows: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59Z.
    if (secs < -62135596800LL || secs > 253402300799LL || nanos < 0 || nanos > 999999999)
      return malformed(name + ": Time out of range (seconds " + std::to_string(secs) + ", nanos " +
                       std::to_string(nanos) + ")");
    out = rfc3339(secs);
    return true;
  }

  bool int_or_string(std::string_view payload, const std::string& name, json::Value& out) {
    uint64_t ints[4] = {};
    std::string_view texts[4];
    if (!scalars(payload, name, "IntOrString", "vvs", ints, texts))
      return false;
    // {1: type (0 int, 1 string), 2: intVal, 3: strVal}
    if (ints[1] == 1)
      out = utf8(texts[3]);
    else
      out = static_cast<int64_t>(static_cast<int32_t>(static_cast<uint32_t>(ints[2])));
    return true;
  }

  bool quantity(std::string_view payload, const std::string& name, json::Value& out) {
    uint64_t ints[4] = {};
    std::string_view texts[4];
    if (!scalars(payload, name, "Quantity", "s", ints, texts))
      return false;
    out = utf8(texts[1]);
    return true;
  }
};

bool decode(std::string_view body, json::Value& out, Decoder& d) {
  static constexpr char kMagic[] = {'k', '8', 's', '\0'};
  if (body.size() < sizeof kMagic || std::memcmp(body.data(), kMagic, sizeof kMagic) != 0)
    return d.malformed("the body does not start with the Kubernetes protobuf prefix \"k8s\\x00\"");
  // runtime.Unknown{1: TypeMeta{1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType}
  Reader r(body.substr(sizeof kMagic));
  std::string_view type_meta, raw, encoding, content_type;
  while (!r.done()) {
    uint64_t key;
    if (!r.varint(key))
      return d.malformed("truncated field key in the runtime.Unknown envelope");
    uint64_t number = key >> 3;
    auto wt = static_cast<unsigned>(key & 7);
    std::string_view* slot = number == 1 ? &type_meta : number == 2 ? &raw : number == 3 ? &encoding
                           : number == 4 ? &content_type : nullptr;
    if (slot && wt != 2)
      return d.malformed("field " + std::to_string(number) + " of the runtime.Unknown envelope has wire type " +
                         std::to_string(wt) + " (" + wire_name(wt) + "), expected length-delimited");
    bool empty;
    auto res = slot ? (r.delimited(*slot) ? SkipResult::ok : SkipResult::truncated) : skip_value(r, wt, empty);
    if (res == SkipResult::bad_wire_type)
      return d.malformed("the runtime.Unknown envelope has a field with wire type " + std::to_string(wt) + " (" +
                         wire_name(wt) + ")");
    if (res == SkipResult::truncated)
      return d.malformed("the runtime.Unknown envelope is truncated");
  }
  std::string api_version, kind;
  {
    Reader t(type_meta);
    while (!t.done()) {
      uint64_t key;
      std::string_view s;
      if (!t.varint(key))
        return d.malformed("truncated TypeMeta in the runtime.Unknown envelope");
      uint64_t number = key >> 3;
      auto wt = static_cast<unsigned>(key & 7);
      bool empty;
      if (number != 1 && number != 2) {
        auto res = skip_value(t, wt, empty);
        if (res != SkipResult::ok)
          return d.malformed("TypeMeta in the runtime.Unknown envelope is truncated or has wire type " +
                             std::to_string(wt));
        continue;
      }
      if (wt != 2)
        return d.malformed("TypeMeta field " + std::to_string(number) + " has wire type " + std::to_string(wt) +
                           " (" + wire_name(wt) + "), expected length-delimited");
      if (!t.delimited(s))
        return d.malformed("truncated TypeMeta in the runtime.Unknown envelope");
      (number == 1 ? api_version : kind) = utf8(s);
    }
  }
  if (kind.empty() || api_version.empty())
    return d.malformed("the runtime.Unknown envelope names no apiVersion and kind");
  if (!encoding.empty())
    return d.unsupported("protobuf content encoding \"" + utf8(encoding) + "\" is not supported");
  if (!content_type.empty() && content_type != "application/vnd.kubernetes.protobuf")
    return d.unsupported("protobuf envelope content type \"" + utf8(content_type) + "\" is not supported");
  const Msg* table = nullptr;
  for (auto& k : kKinds)
    if (api_version == k.api_version && kind == k.kind)
      table = k.msg;
  if (!table) {
    std::string list;
    for (auto& k : kKinds)
      list += (list.empty() ? "" : ", ") + std::string(k.kind);
    return d.unsupported("protobuf bodies of " + api_version + " " + kind +
                         " are not decoded by this server (it decodes " + list + "); send the object as JSON");
  }
  json::Object obj;
  obj.set("kind", kind);
  obj.set("apiVersion", api_version);
  if (!d.message(raw, *table, obj, 1))
    return false;
  out = json::Value(std::move(obj));
  dedupe(out);
  return true;
}

}  // namespace

bool decode_k8s_protobuf(std::string_view body, json::Value& out, std::string& error, ProtobufFailure* failure) {
  Decoder d;
  json::Value result;
  bool ok = decode(body, result, d);
  if (failure)
    *failure = ok ? ProtobufFailure::none : d.failure;
  if (!ok) {
    error = std::move(d.error);
    return false;
  }
  out = std::move(result);
  return true;
}

std::vector<std::string> protobuf_kinds() {
  std::vector<std::string> out;
  for (auto& k : kKinds)
    out.push_back(std::string(k.api_version) + "/" + k.kind);
  return out;
}

}  // namespace omed::apiserver
