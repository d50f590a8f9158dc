// Parameter counts from a model's config.json alone, before (or without) any weight file:
// exact formulas for model families whose tensor layout is known, labelled estimates otherwise.
#pragma once

#include <cstdint>
#include <string>

#include "omed/model/model_facts.hpp"

namespace omed::json {
class Value;
}

namespace omed::model {

struct ParameterEstimate {
  // 0 when source is CountSource::None.
  uint64_t count = 0;
  // Formula: the family's layout is known and the formula reproduces published safetensors
  // totals to the parameter. Estimate: an approximation (unknown family, a component the config
  // does not describe, or a checkpoint layout that varies between publishers); the note says
  // which. None: nothing sensible could be computed; the note says why.
  CountSource source = CountSource::None;
  std::string note;
};

// Counts the parameters a checkpoint described by `config` (a parsed Hugging Face config.json,
// or a TensorRT-LLM engine config.json) holds: embeddings, every attention/MLP/expert matrix and
// bias, every norm, the output head when the architecture has one (a *Model base class has none;
// a *ForSequenceClassification class has a score head instead), vision towers and projectors
// of multimodal models. Quantized checkpoints are counted as their logical (unpacked) weights.
// Never throws; dimensions are validated and all arithmetic is overflow-checked.
ParameterEstimate count_parameters(const json::Value& config);

}  // namespace omed::model
