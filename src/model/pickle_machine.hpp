// A tiny, non-executing pickle interpreter for torch.save files: it runs the opcodes on a stack
// of inert values only to find torch._utils._rebuild_tensor_v2 calls (dtype from the storage's
// class name, shape from the size tuple). Globals are names, never resolved or called.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "omed/model/weight_formats.hpp"

#include "byte_cursor.hpp"

namespace omed::model::detail {

struct PickleStorage {
  std::string key;        // archive record name under data/ (zip) or the legacy storage key
  std::string dtype;      // "F32", "BF16", ...
  uint32_t element_size;  // bytes per element
  uint64_t numel;         // elements the storage holds
};

struct PickleTensor {
  std::string name;       // the dict key it was stored under, "" when none
  size_t storage = 0;     // index into storages()
  std::string dtype;      // the storage's, or the explicit dtype of _rebuild_tensor_v3
  uint32_t element_size = 0;
  uint64_t offset = 0;    // storage_offset, in elements
  std::vector<uint64_t> shape;
  std::vector<uint64_t> stride;
};

class PickleMachine {
public:
  PickleMachine(ByteCursor& c, const WeightLimits& lim) : c_(c), lim_(lim) {}

  // Runs one pickle from the cursor's position to its STOP opcode. False on error (c.error()).
  // Several pickles may be run in turn (the legacy format is a sequence of them); tensors and
  // storages accumulate.
  bool run();

  const std::vector<PickleTensor>& tensors() const { return tensors_; }
  const std::vector<PickleStorage>& storages() const { return storages_; }

  // What the last pickle produced, for the legacy format's header pickles.
  // An integer result (small, fits int64).
  std::optional<int64_t> result_int() const;
  // The little-endian two's-complement bytes of an integer result (any size).
  std::optional<std::string> result_long_bytes() const;
  // A list of strings (the legacy storage-key list).
  std::optional<std::vector<std::string>> result_strings() const;
  // True when the result is a dict whose every value is a tensor (a plain state_dict).
  bool result_is_flat_tensor_dict() const;

private:
  enum class Kind : uint8_t { None, Bool, Int, BigInt, Float, Str, Bytes, Tuple, List, Dict, Set, Global,
                              Storage, Tensor, Object };
  struct Node {
    Kind kind = Kind::None;
    int64_t i = 0;          // Int/Bool value, Storage/Tensor index, string pool index for Str/Bytes/BigInt/Global
    std::vector<uint32_t> items;  // Tuple/List/Set elements, Dict/Object key,value pairs
  };

  uint32_t make(Kind k, int64_t i = 0);
  uint32_t make_string(Kind k, std::string s);
  bool push(uint32_t n);
  bool pop(uint32_t& n);
  bool pop_mark(std::vector<uint32_t>& items);
  bool op(uint8_t code);
  bool reduce(uint32_t callable, uint32_t args);
  bool persistent(uint32_t pid);
  bool rebuild_tensor(uint32_t args, bool v3, uint32_t& result);
  bool as_uint(uint32_t n, uint64_t& out) const;
  bool uint_tuple(uint32_t n, std::vector<uint64_t>& out) const;
  bool set_items(uint32_t target, const std::vector<uint32_t>& kv);
  const std::string& str(uint32_t n) const { return strings_[static_cast<size_t>(nodes_[n].i)]; }
  bool fail(const std::string& msg);

  ByteCursor& c_;
  const WeightLimits& lim_;
  std::vector<Node> nodes_;
  std::vector<std::string> strings_;
  std::vector<uint32_t> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, uint32_t> memo_;
  std::unordered_map<std::string, size_t> storage_by_key_;
  std::vector<PickleTensor> tensors_;
  std::vector<PickleStorage> storages_;
  std::optional<uint32_t> result_;
  uint64_t ops_ = 0;
};

// The element of a torch storage class ("FloatStorage" -> F32, 4); false if unknown.
bool torch_storage_dtype(const std::string& cls, std::string& dtype, uint32_t& size);
// The element of a torch dtype global's name ("bfloat16" -> BF16, 2); false if unknown.
bool torch_dtype(const std::string& name, std::string& dtype, uint32_t& size);

}  // namespace omed::model::detail
