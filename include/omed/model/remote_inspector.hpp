// Facts of a remote model without downloading its weights: the config by a small GET, every
// safetensors shard's header by HTTP Range requests (what `omed inspect-model hf://...` does).
#pragma once

#include <cstdint>
#include <string>

#include "omed/model/model_facts.hpp"
#include "omed/model/sources.hpp"

namespace omed::model {

struct RemoteInspectStats {
  uint64_t requests = 0;        // HTTP requests after the listing
  uint64_t bytes = 0;           // body bytes they carried
  uint64_t weight_files = 0;    // shards whose headers were read
  uint64_t weight_bytes = 0;    // what a download would have fetched
};

// Lists `uri`, reads the config and the weights' headers. Returns an error message (empty on
// success). `parallel` bounds the shard headers fetched at once.
[[nodiscard]] std::string inspect_remote_model(const StorageUri& uri, const SourceConfig& cfg, ModelFacts& out,
                                               RemoteInspectStats* stats = nullptr, int parallel = 16);

}  // namespace omed::model
