// Turning the tensors a torch pickle rebuilds into a summary: each view is checked to lie inside
// its storage, named by its state_dict key, and counted.
#pragma once

#include <string>

#include "omed/model/weight_formats.hpp"

#include "pickle_machine.hpp"

namespace omed::model::detail {

// Adds every tensor of `m` to `out`. `flat` says whether the pickle was a plain state_dict (a
// note is added otherwise: optimizer state and the like are counted too).
std::string tally_torch_tensors(const PickleMachine& m, bool flat, WeightSummary& out, const WeightLimits& lim);

}  // namespace omed::model::detail
