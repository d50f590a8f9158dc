// OME's deprecated spec.predictor (the KServe-style layout) read as spec.model, spec.runtime and
// spec.engine, so old manifests keep serving without anyone rewriting the stored object.
#pragma once

#include "omed/common/json.hpp"

namespace omed::render {

// True when spec.predictor carries a model, replicas, containers, placement or a worker (OME's
// IsPredictorUsed) and spec.engine and spec.model are both absent.
bool uses_predictor(const json::Value& isvc);

// The InferenceService as OME's migration would rewrite it: spec.model from predictor.model's
// baseModel and fineTunedWeights, spec.runtime from predictor.model.runtime, spec.engine from the
// predictor's pod fields and replicas, its runner from the container named ome-container (or whose
// name mentions "ome", else the first), with predictor.model's env, STORAGE_URI and
// PROTOCOL_VERSION appended, and predictor.workerSpec as engine.worker. Unchanged otherwise.
json::Value migrate_predictor(const json::Value& isvc);

}  // namespace omed::render
