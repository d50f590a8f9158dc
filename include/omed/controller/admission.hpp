// The first step of every ome.io reconcile: is the stored object acceptable? Objects that got
// past a webhook-less API server are checked here and rejected in status with the reasons.
#pragma once

#include "omed/controller/plan.hpp"

namespace omed::controller {

// A plan with condition Accepted (True, or False/InvalidSpec with the validation errors) and a
// Warning event the first time an object is rejected for a given message.
Plan admission_plan(const Input& in);

// Kinds whose status schema requires `state` (OME's LifeCycleState, BenchmarkJob's state): the
// value a first status write carries (healthy or failed); nullptr for kinds without one.
const char* required_state(const std::string& kind, bool healthy);

// Whether the plan from admission_plan() accepted the object.
bool accepted(const Plan& p);

}  // namespace omed::controller
