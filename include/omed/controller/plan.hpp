// The level-triggered reconcile skeleton as plain functions: a kind's logic says what it wants
// (a Plan), and steps_for() turns that into only the writes still needed to get there.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "omed/common/json.hpp"

namespace omed::controller {

// OME's finalizer name (reference ome.md §1).
inline constexpr const char* kFinalizer = "ome.io/finalizer";

struct Condition {
  std::string type;     // "Ready"
  std::string status;   // "True" | "False" | "Unknown"
  std::string reason;   // UpperCamelCase
  std::string message;
};

struct EventIntent {
  std::string type = "Normal";  // Normal | Warning
  std::string reason;
  std::string action;
  std::string message;
};

// Objects a resource owns, as last seen, keyed "Kind/namespace/name".
using Owned = std::map<std::string, std::shared_ptr<const json::Value>>;
std::string owned_key(const json::Value& obj);

// The kind and key ("namespace/name", or "name" for a cluster-scoped owner) of the object's
// controller ownerReference; empty kind when it has none.
struct OwnerRef {
  std::string kind;
  std::string name;
  std::string uid;
};
OwnerRef controller_of(const json::Value& obj);
std::string owner_key(const json::Value& obj, const OwnerRef& owner, bool owner_namespaced);

// What one reconcile wants. Computed from the object and what it owns, with no side effects.
struct Plan {
  bool wants_finalizer = true;       // add ome.io/finalizer before any outside effect
  bool cleanup_done = true;          // deleting objects: outside effects are gone, the finalizer may go
  std::vector<json::Value> apply;    // owned objects as desired (server-side apply, field manager omed)
  // Owned objects not in `apply` are deleted (a component or an autoscaler that is no longer
  // wanted). Only kinds that render everything they own set it.
  bool prune_owned = false;
  json::Object status;               // status fields the logic owns, besides conditions/observedGeneration
                                     // (a null value removes the field)
  std::vector<Condition> conditions;
  std::vector<std::string> drop_conditions;  // condition types no longer reported (a removed component)
  std::vector<EventIntent> events;
  bool write_status = true;          // kinds without a status subresource set this false
  // Spec fields to fill in (a merge patch under "spec", guarded by the resourceVersion read):
  // facts learnt about the object, for fields the user left empty. Written alone, before status.
  json::Object spec_fill;
  std::chrono::milliseconds requeue_after{0};
};

struct Input {
  const json::Value& object;
  const Owned& owned;
};

enum class StepOp { AddFinalizer, RemoveFinalizer, Apply, Delete, PatchSpec, Status, Event };
const char* to_string(StepOp op);

struct Step {
  StepOp op;
  json::Value body;     // Apply: the desired object; Delete: the owned object; PatchSpec: the merge patch; Status: the whole
                        // desired status; Event: the intent
  EventIntent event;
};

// The writes that bring `obj` to `plan`, in order: finalizer first (alone: the next reconcile
// sees it stored), owned objects that differ, status when it differs, events. Deleting objects
// get only the finalizer's removal once cleanup is done. `now` stamps changed conditions.
std::vector<Step> steps_for(const json::Value& obj, const Plan& plan, const Owned& owned,
                            std::chrono::system_clock::time_point now);

// Status as it should be stored: the plan's fields and conditions over the current status,
// observedGeneration = metadata.generation, lastTransitionTime kept for unchanged conditions.
json::Value desired_status(const json::Value& obj, const Plan& plan, std::chrono::system_clock::time_point now);

// `desired` with annotation omed.io/desired-hash: a hash of everything it sets. Subset comparison
// cannot see a field we stopped setting; the hash can, and the apply then drops that field.
inline constexpr const char* kDesiredHashAnnotation = "omed.io/desired-hash";
json::Value with_desired_hash(const json::Value& desired);

// True when every field `desired` sets has the same value in `live` (lists compared whole).
// Server-filled metadata (uid, resourceVersion, managedFields, ...) is ignored.
bool subset_equal(const json::Value& desired, const json::Value& live);

// The stored condition of `type` in obj.status.conditions, or null.
const json::Value* find_condition(const json::Value& obj, const std::string& type);

bool has_finalizer(const json::Value& obj, const std::string& finalizer = kFinalizer);
bool is_deleting(const json::Value& obj);
int64_t generation_of(const json::Value& obj);

// Requeue delays after failures: 500 ms doubling to 5 minutes (controller-runtime's rate
// limiter goes from 5 ms to 1000 s; we start slower because every write is a remote call).
std::chrono::milliseconds failure_backoff(int consecutive_failures);

}  // namespace omed::controller
