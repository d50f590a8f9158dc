// Shared bookkeeping of the weight parsers: adding a tensor to a summary with checked sums and
// the tensor cap, shape products, and cutting metadata strings to a printable size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "omed/model/weight_formats.hpp"

namespace omed::model::detail {

// Product of the dims; false on overflow. The empty shape (a scalar) is 1.
bool shape_product(const std::vector<uint64_t>& shape, uint64_t& out);

// Adds t (parameters and bytes already computed) to s: tensor count (capped by lim.max_tensors),
// parameters, per-dtype parameters, bytes, and the tensor itself with lim.keep_tensors.
// Returns an error message on overflow or when the cap is passed.
std::string tally_tensor(WeightSummary& s, const WeightLimits& lim, TensorInfo&& t);

// Adds `from` into `into` (shards of one model): counts, dtypes, bytes, files, notes; metadata
// keys already present in `into` are kept.
std::string merge_summary(WeightSummary& into, WeightSummary&& from, const WeightLimits& lim);

// Metadata values are for people and logs: long ones are cut, control bytes escaped.
std::string printable(std::string_view s, size_t max = 1024);

}  // namespace omed::model::detail
