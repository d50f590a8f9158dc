// Everything omed can learn about a model from its files: the config (or diffusers index), the
// weights' headers, and the exact or analytic parameter count. What `omed inspect-model` prints.
#pragma once

#include <filesystem>
#include <string>

#include "omed/model/model_facts.hpp"

namespace omed::model {

// `path` is a model directory, a lone config.json, or a single weight file. Returns an error
// message (empty on success); bounded in time and memory whatever the files contain.
[[nodiscard]] std::string inspect_model_dir(const std::filesystem::path& path, ModelFacts& out);

// Where the config of a model directory is: model_index.json (diffusers) first, then config.json
// at the root, in safetensors/, pytorch_model/ or model/, then anywhere up to three levels down.
// Empty when there is none.
std::filesystem::path find_model_config(const std::filesystem::path& dir);

}  // namespace omed::model
