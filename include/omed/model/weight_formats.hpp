// Weight files as omed reads them: which format a file is (by content, never by name), and a
// bounded summary of what it holds (tensors, exact parameter counts per dtype, format metadata).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "omed/model/byte_source.hpp"

namespace omed::model {

struct ModelFacts;

enum class WeightFormat {
  Unknown,
  Safetensors,      // u64le header length, JSON header, raw data
  Gguf,             // llama.cpp's GGUF v2/v3
  Onnx,             // a protobuf ModelProto
  PytorchZip,       // torch.save since 1.6: a stored zip with <name>/data.pkl
  PytorchPickle,    // torch.save legacy format: pickles followed by raw storages
  TensorRTEngine,   // a serialized TensorRT engine (TensorRT-LLM rank<N>.engine)
};

// "safetensors", "gguf", "onnx", "pytorch", "pytorch-legacy", "tensorrt", "unknown".
const char* weight_format_name(WeightFormat f);

// How many leading bytes detect_weight_format() wants to be sure (it works with fewer).
inline constexpr size_t kDetectBytes = 512;

// Tells the format from the first bytes of a file. `total_size`, when known, rules out headers
// that claim more than the file holds. A zip whose first entry is not data.pkl is Unknown here;
// the ByteSource overload below also looks at the zip's central directory.
WeightFormat detect_weight_format(std::string_view head, std::optional<uint64_t> total_size = {});
// Reads at most kDetectBytes (plus a zip's central directory when the head is a zip).
WeightFormat detect_weight_format(ByteSource& src);

// Caps that keep every parser bounded in memory and time whatever the input claims.
struct WeightLimits {
  uint64_t max_header_bytes = 100ull << 20;   // safetensors header, GGUF metadata, data.pkl
  uint64_t max_tensors = 1'000'000;
  uint32_t max_dims = 16;                     // GGUF itself allows 4
  uint64_t max_string_bytes = 16ull << 20;    // one GGUF/protobuf string (chat templates are KBs)
  uint64_t max_array_elements = 64ull << 20;  // one GGUF array (vocabularies are ~10^5)
  uint32_t max_array_depth = 4;               // GGUF arrays of arrays
  uint64_t max_metadata_entries = 1'000'000;
  uint64_t max_pickle_ops = 50'000'000;
  uint64_t max_pickle_stack = 1'000'000;      // stack, mark and memo entries, each
  uint64_t max_pickle_values = 8'000'000;     // values a pickle may create in all
  uint64_t max_zip_entries = 1'000'000;
  uint64_t max_shards = 100'000;
  // Reads ahead start at min_window and double while a parser streams (GGUF vocabularies,
  // pickles) up to max_window; a skip resets them, so skipped tensor data is never fetched.
  uint64_t min_read_window = 4096;
  uint64_t max_read_window = 1ull << 20;
  bool keep_tensors = false;                  // fill WeightSummary::tensors
};

struct TensorInfo {
  std::string name;
  std::string dtype;            // "BF16", "F32", "Q4_K", ...
  std::vector<uint64_t> shape;
  uint64_t parameters = 0;      // product of shape
  uint64_t bytes = 0;           // bytes the tensor's data occupies
  std::string file;             // shard it lives in (sharded safetensors)
};

struct WeightSummary {
  WeightFormat format = WeightFormat::Unknown;
  std::string format_version;   // safetensors: "" (unversioned); GGUF "3"; ONNX IR "8"; torch zip "3"
  uint64_t tensor_count = 0;
  uint64_t parameter_count = 0; // exact sum of shape products (checked arithmetic)
  std::map<std::string, uint64_t> parameters_by_dtype;
  uint64_t tensor_bytes = 0;    // bytes of tensor data declared by the headers
  uint64_t file_bytes = 0;      // sizes of the files read
  uint64_t files = 0;
  // Format metadata flattened to strings: safetensors __metadata__, GGUF key/values
  // ("general.architecture", "llama.context_length", arrays as "[string x 32000]"), ONNX
  // "producer_name", "opset.ai.onnx", TensorRT-LLM config facts. Long strings are cut.
  std::map<std::string, std::string> metadata;
  std::string architecture;     // GGUF general.architecture, TensorRT-LLM architecture
  std::string quantization;     // GGUF file type name ("Q4_K_M"), TensorRT-LLM quant_algo
  std::vector<TensorInfo> tensors;  // only with WeightLimits::keep_tensors
  std::vector<std::string> notes;   // things worth telling a user (duplicate names across shards)
};

// Each parser returns an error message (empty on success) and never throws. On error `out` may be
// partly filled and must not be used.
[[nodiscard]] std::string parse_safetensors(ByteSource& src, WeightSummary& out, const WeightLimits& lim = {});
[[nodiscard]] std::string parse_gguf(ByteSource& src, WeightSummary& out, const WeightLimits& lim = {});
[[nodiscard]] std::string parse_onnx(ByteSource& src, WeightSummary& out, const WeightLimits& lim = {});
[[nodiscard]] std::string parse_pytorch_zip(ByteSource& src, WeightSummary& out, const WeightLimits& lim = {});
[[nodiscard]] std::string parse_pytorch_pickle(ByteSource& src, WeightSummary& out, const WeightLimits& lim = {});
// Checks what can be checked of an engine without TensorRT (size, the serialization tag) and
// reports it; parameter counts are not recoverable from an engine.
[[nodiscard]] std::string parse_tensorrt_engine(ByteSource& src, WeightSummary& out, const WeightLimits& lim = {});

// Detects the format, then runs its parser.
[[nodiscard]] std::string parse_weights(ByteSource& src, WeightSummary& out, const WeightLimits& lim = {});

// Several safetensors files of one model without an index: summed file by file. Tensor names seen
// in more than one file are counted in each and reported in notes.
[[nodiscard]] std::string parse_safetensors_shards(const std::vector<ByteSource*>& shards, WeightSummary& out,
                                                   const WeightLimits& lim = {});

// Opens one file of the model by its relative path (local directory now, remote later).
using SourceOpener = std::function<std::string(const std::string& relpath, std::unique_ptr<ByteSource>& out)>;

// model.safetensors.index.json: every shard named in weight_map is opened once and parsed, every
// indexed tensor must be found in its shard, and metadata.total_size (when present) is compared
// with the bytes found.
[[nodiscard]] std::string parse_safetensors_index(std::string_view index_json, const SourceOpener& open,
                                                  WeightSummary& out, const WeightLimits& lim = {});

// A TensorRT-LLM engine directory's config.json (both the 0.8+ pretrained_config/build_config
// layout and the older builder_config one). Returns true and fills `out` when it is one.
bool parse_tensorrt_llm_config(std::string_view config_json, WeightSummary& out);

// A local model directory: the safetensors index when present, else every file whose content is
// a weight format (safetensors files are summed as shards; other formats must not be mixed).
// TensorRT-LLM engine directories are recognized by their config.json.
[[nodiscard]] std::string summarize_weight_dir(const std::string& dir, WeightSummary& out,
                                               const WeightLimits& lim = {});

// Copies a summary into ModelFacts: exact parameter count (CountSource::Weights), per-dtype
// counts, format and version, bytes, GGUF quantization and architecture facts.
void apply_weight_summary(const WeightSummary& s, ModelFacts& facts);

}  // namespace omed::model
