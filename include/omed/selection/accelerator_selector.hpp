// Accelerator classes: parsing AcceleratorClass objects, OME's four policies (BestFit, Cheapest,
// MostCapable, FirstAvailable) behind the constraints filter, and a class's status from Nodes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "omed/common/json.hpp"
#include "omed/selection/runtime_selector.hpp"

namespace omed::selection {

// A Kubernetes Quantity ("80Gi", "4.10", "3350", "1.5e3", 80) as a double in base units;
// nullopt when malformed. (The simulator has an exact integer parser; this one is for the
// fractional prices and sizes accelerator classes carry.)
std::optional<double> quantity_value(const json::Value& q);
std::optional<double> quantity_value(std::string_view q);
inline std::optional<double> quantity_value(const char* q) { return quantity_value(std::string_view(q)); }

struct AcceleratorClassInfo {
  std::string name, vendor, family, model;
  std::map<std::string, std::string> node_selector;  // spec.discovery.nodeSelector
  json::Value affinity;                              // spec.discovery.affinity (null when absent)
  // capabilities.memoryGB in bytes. A bare number counts GiB: the field is named in GB and
  // OME's own examples write "80"; as a Quantity that would be 80 bytes.
  std::optional<double> memory_bytes;
  std::string compute_capability;
  std::vector<std::string> features;
  double fp32_tflops = 0, fp16_tflops = 0, int8_tops = 0, int4_tops = 0;
  std::optional<double> memory_bandwidth_gbps;
  std::optional<double> per_hour, spot_per_hour, per_million_tokens;
  std::string tier;                                  // low | medium | high
  std::string resource_name = "nvidia.com/gpu";      // resources[0].name
  std::shared_ptr<const json::Value> object;

  // Whole GiB, as OME's constraint checks compare (Value() / 2^30, integer division).
  std::optional<int64_t> memory_gib() const;
  // TFLOPS for a precision name: fp32, fp16/bf16, fp8/int8 (OME reads int8Tops for both), int4.
  double tflops(std::string_view precision) const;
  static AcceleratorClassInfo from_object(const json::Value& accelerator_class);
};

// spec.acceleratorSelector.constraints of an InferenceService.
struct AcceleratorConstraints {
  std::optional<int64_t> min_memory_gb, max_memory_gb;
  std::optional<double> min_tflops;                 // scoring only (BestFit), never a filter
  std::string min_architecture_version;
  std::vector<std::string> required_features, excluded_classes, architecture_families, preferred_precisions;
  // nullopt when the selector has no constraints object.
  static std::optional<AcceleratorConstraints> from_selector(const json::Value* accelerator_selector);
};

// Empty when the class passes every constraint, else why it does not ("memory 40GiB below
// minMemory 80"). minArchitectureVersion compares dotted numbers ("10.0" >= "9.0"), not strings.
std::string constraint_violation(const AcceleratorClassInfo& c, const AcceleratorConstraints& cons);

enum class AcceleratorPolicy { BestFit, Cheapest, MostCapable, FirstAvailable };
std::optional<AcceleratorPolicy> parse_accelerator_policy(std::string_view name);
const char* to_string(AcceleratorPolicy p);

struct PolicyOutcome {
  int index = -1;                        // into the candidates; -1 when the policy chose nothing
  std::string reason;                    // why the winner won
  std::vector<std::string> explanation;  // one line per candidate ("h100: best fit 0.93 (...)")
  std::string error;                     // when nothing was chosen
};
// `candidates` all met the constraints and are in the runtime's order (FirstAvailable's order).
// Ties go to the smaller name; BestFit without constraints treats memory as a perfect fit.
PolicyOutcome apply_accelerator_policy(AcceleratorPolicy policy, const std::vector<AcceleratorClassInfo>& candidates,
                                       const AcceleratorConstraints* constraints);

struct AcceleratorChoice {
  std::string name;                           // empty: no accelerator class applies
  std::string reason;
  std::shared_ptr<const json::Value> object;  // the chosen AcceleratorClass
  std::vector<std::string> explanation;       // per-candidate verdicts when a policy chose
  std::string error;                          // a named class is missing, or nothing qualifies
};

// OME's GetAcceleratorClass for one component ("engine" | "decoder"): the component's
// acceleratorOverride.acceleratorClass, else spec.acceleratorSelector.acceleratorClass; else the
// policy (override, else selector) over the runtime's acceleratorRequirements.acceleratorClasses,
// filtered by spec.acceleratorSelector.constraints. `get_class` returns null for a missing class.
AcceleratorChoice choose_accelerator(const json::Value& isvc, const std::string& component, const RuntimeEntry& rt,
                                     const std::function<std::shared_ptr<const json::Value>(const std::string& name)>&
                                         get_class);

// Status fields of an AcceleratorClass from the cluster's Nodes: nodes (sorted matching names),
// totalAccelerators (capacity of the class's resource on matching nodes), availableAccelerators
// (allocatable on matching Ready nodes), availableNodes (matching Ready nodes). A node matches
// when it offers the resource, carries every discovery.nodeSelector label, satisfies a required
// discovery.affinity, and, when memoryGB is set, its nvidia.com/gpu.memory label (MiB) shows at
// least 90% of memoryGB: devices report less than their nominal size (an L4 "24 GB" shows
// 23034 MiB, an H100 "80 GB" 81559 MiB), while the next size class down is far below.
json::Object accelerator_class_status(const json::Value& accelerator_class,
                                      const std::vector<std::shared_ptr<const json::Value>>& nodes);

// The share of nominal memory a node's reported GPU memory must reach.
inline constexpr double kReportedMemoryShare = 0.90;

}  // namespace omed::selection
