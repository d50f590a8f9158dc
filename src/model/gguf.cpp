// GGUF v2/v3 (llama.cpp): header, typed metadata key/values (arrays bounded, skipped in place),
// tensor infos checked against the ggml type sizes, the alignment and the file's data section.
#include <algorithm>
#include <cstring>
#include <set>

#include "omed/model/weight_formats.hpp"

#include "byte_cursor.hpp"
#include "checked_math.hpp"
#include "weight_tally.hpp"

namespace omed::model {

using detail::ByteCursor;
using detail::checked_add;
using detail::checked_mul;
using detail::printable;

namespace {

// ggml_type: name, elements per block, bytes per block. Retired ids (4, 5, 31-33, 36-38) have
// no entry and are rejected like unknown ones.
struct GgmlType {
  uint32_t id;
  const char* name;
  uint32_t block;
  uint32_t bytes;
};

constexpr GgmlType kGgmlTypes[] = {
  {0, "F32", 1, 4},         {1, "F16", 1, 2},         {2, "Q4_0", 32, 18},      {3, "Q4_1", 32, 20},
  {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},      {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 36},
  {10, "Q2_K", 256, 84},    {11, "Q3_K", 256, 110},   {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
  {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292},   {16, "IQ2_XXS", 256, 66}, {17, "IQ2_XS", 256, 74},
  {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},   {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},
  {22, "IQ2_S", 256, 82},   {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1},         {25, "I16", 1, 2},
  {26, "I32", 1, 4},        {27, "I64", 1, 8},        {28, "F64", 1, 8},        {29, "IQ1_M", 256, 56},
  {30, "BF16", 1, 2},       {34, "TQ1_0", 256, 54},   {35, "TQ2_0", 256, 66},   {39, "MXFP4", 32, 17},
  {40, "NVFP4", 64, 36},    {41, "Q1_0", 128, 18},    {42, "Q2_0", 64, 18},
};

const GgmlType* ggml_type(uint32_t id) {
  for (const auto& t : kGgmlTypes)
    if (t.id == id)
      return &t;
  return nullptr;
}

// general.file_type (llama_ftype) -> the name llama.cpp's quantize tool gives it.
const char* file_type_name(uint64_t ft) {
  static const char* const names[] = {
    "F32", "F16", "Q4_0", "Q4_1", "Q4_1_SOME_F16", "Q4_2", "Q4_3", "Q8_0", "Q5_0", "Q5_1",
    "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ2_XXS",
    "IQ2_XS", "Q2_K_S", "IQ3_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ3_M", "IQ2_S", "IQ2_M",
    "IQ4_XS", "IQ1_M", "BF16", "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0", "MXFP4_MOE",
    "NVFP4", "Q1_0", "Q2_0",
  };
  return ft < sizeof names / sizeof *names ? names[ft] : nullptr;
}

enum ValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

const char* value_type_name(uint32_t t) {
  static const char* const names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                      "bool", "string", "array", "uint64", "int64", "float64"};
  return t < sizeof names / sizeof *names ? names[t] : "?";
}

// Width of a fixed-size value type, 0 for string/array/unknown.
uint64_t scalar_width(uint32_t t) {
  switch (t) {
    case kU8: case kI8: case kBool: return 1;
    case kU16: case kI16: return 2;
    case kU32: case kI32: case kF32: return 4;
    case kU64: case kI64: case kF64: return 8;
    default: return 0;
  }
}

class GgufReader {
public:
  GgufReader(ByteSource& src, const WeightLimits& lim, WeightSummary& out)
    : src_(src), lim_(lim), out_(out), c_(src, 0, src.size(), lim) {}

  std::string run();

private:
  std::string str();
  // Reads one value of type t; scalars and short strings are rendered into `text`.
  void value(uint32_t t, uint32_t depth, std::string& text);
  void array(uint32_t depth, std::string& text);
  std::string err(const std::string& what) { return src_.name() + ": " + what; }

  ByteSource& src_;
  const WeightLimits& lim_;
  WeightSummary& out_;
  ByteCursor c_;
  uint64_t alignment_ = 32;
};

// Integer-typed scalars as a signed 64-bit value (general.alignment, general.file_type).
bool is_integer_type(uint32_t t) {
  return t == kU8 || t == kI8 || t == kU16 || t == kI16 || t == kU32 || t == kI32 || t == kU64 || t == kI64;
}

std::string GgufReader::str() {
  uint64_t n = c_.u64();
  if (!c_.ok())
    return {};
  if (n > lim_.max_string_bytes) {
    c_.fail("string of " + std::to_string(n) + " bytes at offset " + std::to_string(c_.pos() - 8) +
            " exceeds the limit of " + std::to_string(lim_.max_string_bytes));
    return {};
  }
  return c_.bytes(n);
}

void GgufReader::value(uint32_t t, uint32_t depth, std::string& text) {
  switch (t) {
    case kU8: text = std::to_string(c_.u8()); break;
    case kI8: text = std::to_string(static_cast<int8_t>(c_.u8())); break;
    case kU16: text = std::to_string(c_.u16()); break;
    case kI16: text = std::to_string(static_cast<int16_t>(c_.u16())); break;
    case kU32: text = std::to_string(c_.u32()); break;
    case kI32: text = std::to_string(static_cast<int32_t>(c_.u32())); break;
    case kU64: text = std::to_string(c_.u64()); break;
    case kI64: text = std::to_string(static_cast<int64_t>(c_.u64())); break;
    case kF32: {
      uint32_t bits = c_.u32();
      float f;
      std::memcpy(&f, &bits, sizeof f);
      text = std::to_string(f);
      break;
    }
    case kF64: {
      uint64_t bits = c_.u64();
      double d;
      std::memcpy(&d, &bits, sizeof d);
      text = std::to_string(d);
      break;
    }
    case kBool: {
      uint8_t b = c_.u8();
      if (c_.ok() && b > 1)
        c_.fail("bool value " + std::to_string(b) + " at offset " + std::to_string(c_.pos() - 1));
      text = b ? "true" : "false";
      break;
    }
    case kString: text = printable(str()); break;
    case kArray: array(depth + 1, text); break;
    default:
      c_.fail("unknown metadata value type " + std::to_string(t) + " at offset " + std::to_string(c_.pos()));
  }
}

void GgufReader::array(uint32_t depth, std::string& text) {
  if (depth > lim_.max_array_depth) {
    c_.fail("arrays nested deeper than " + std::to_string(lim_.max_array_depth));
    return;
  }
  uint32_t et = c_.u32();
  uint64_t n = c_.u64();
  if (!c_.ok())
    return;
  if (n > lim_.max_array_elements) {
    c_.fail("array of " + std::to_string(n) + " elements exceeds the limit of " +
            std::to_string(lim_.max_array_elements));
    return;
  }
  text = std::string("[") + value_type_name(et) + " x " + std::to_string(n) + "]";
  if (uint64_t w = scalar_width(et)) {
    // Fixed-size elements: jump over them without reading (n*w <= 64M*8, no overflow).
    c_.skip(n * w);
    return;
  }
  if (et != kString && et != kArray) {
    c_.fail("unknown array element type " + std::to_string(et));
    return;
  }
  std::string ignored;
  for (uint64_t i = 0; i < n && c_.ok(); ++i) {
    if (et == kString) {
      uint64_t len = c_.u64();
      if (c_.ok() && len > lim_.max_string_bytes) {
        c_.fail("array string of " + std::to_string(len) + " bytes exceeds the limit");
        return;
      }
      c_.skip(len);
    } else {
      array(depth + 1, ignored);
    }
  }
}

std::string GgufReader::run() {
  out_ = WeightSummary{};
  out_.format = WeightFormat::Gguf;
  out_.file_bytes = src_.size();
  out_.files = 1;
  uint32_t magic = c_.u32();
  uint32_t version = c_.u32();
  if (!c_.ok())
    return err("too small for a GGUF header");
  if (magic != 0x46554747u)  // "GGUF" read little-endian
    return err("no GGUF magic");
  if (version == 1)
    return err("GGUF version 1 is not supported (32-bit lengths; convert the file to v2 or later)");
  if (version != 2 && version != 3) {
    uint32_t swapped = __builtin_bswap32(version);
    if (swapped == 2 || swapped == 3)
      return err("big-endian GGUF files are not supported");
    return err("unsupported GGUF version " + std::to_string(version));
  }
  out_.format_version = std::to_string(version);
  uint64_t n_tensors = c_.u64();
  uint64_t n_kv = c_.u64();
  if (!c_.ok())
    return err(c_.error());
  if (n_tensors > lim_.max_tensors)
    return err("tensor count " + std::to_string(n_tensors) + " exceeds the limit of " +
               std::to_string(lim_.max_tensors));
  if (n_kv > lim_.max_metadata_entries)
    return err("metadata count " + std::to_string(n_kv) + " exceeds the limit of " +
               std::to_string(lim_.max_metadata_entries));

  std::set<std::string> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = str();
    uint32_t t = c_.u32();
    if (!c_.ok())
      return err(c_.error());
    if (!keys.insert(key).second)
      return err("duplicate metadata key '" + printable(key, 128) + "'");
    std::string text;
    if (key == "general.alignment") {
      if (t != kU32)
        return err("general.alignment must be a uint32");
      alignment_ = c_.u32();
      text = std::to_string(alignment_);
      if (c_.ok() && (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0))
        return err("general.alignment " + text + " is not a power of two");
    } else if (key == "general.file_type" && is_integer_type(t)) {
      uint64_t w = scalar_width(t);
      uint64_t ft = w == 1 ? c_.u8() : w == 2 ? c_.u16() : w == 4 ? c_.u32() : c_.u64();
      text = std::to_string(ft);
      if (const char* q = file_type_name(ft))
        out_.quantization = q;
    } else {
      value(t, 0, text);
      if (key == "general.architecture" && t == kString)
        out_.architecture = text;
    }
    if (!c_.ok())
      return err("metadata '" + printable(key, 128) + "': " + c_.error());
    out_.metadata[printable(key, 256)] = std::move(text);
  }

  // Tensor infos; data offsets are relative to the aligned start of the data section.
  struct Placed {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Placed> placed;
  std::set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    t.name = str();
    uint32_t n_dims = c_.u32();
    if (!c_.ok())
      return err(c_.error());
    const std::string tn = "tensor '" + printable(t.name, 128) + "'";
    if (!names.insert(t.name).second)
      return err("duplicate " + tn);
    if (n_dims == 0 || n_dims > std::min<uint32_t>(lim_.max_dims, 4))
      return err(tn + ": " + std::to_string(n_dims) + " dims (GGUF allows 1 to 4)");
    for (uint32_t d = 0; d < n_dims; ++d)
      t.shape.push_back(c_.u64());
    uint32_t type = c_.u32();
    uint64_t offset = c_.u64();
    if (!c_.ok())
      return err(c_.error());
    const GgmlType* gt = ggml_type(type);
    if (!gt)
      return err(tn + ": unknown ggml type " + std::to_string(type));
    t.dtype = gt->name;
    if (!detail::shape_product(t.shape, t.parameters))
      return err(tn + ": shape product overflows 64 bits");
    // Blocks run along the first dimension, which must hold whole blocks.
    if (t.shape[0] % gt->block != 0)
      return err(tn + ": first dim " + std::to_string(t.shape[0]) + " is not a multiple of the " + gt->name +
                 " block size " + std::to_string(gt->block));
    if (!checked_mul(t.parameters / gt->block, gt->bytes, t.bytes))
      return err(tn + ": byte size overflows 64 bits");
    if (offset % alignment_ != 0)
      return err(tn + ": data offset " + std::to_string(offset) + " is not aligned to " + std::to_string(alignment_));
    uint64_t end = 0;
    if (!checked_add(offset, t.bytes, end))
      return err(tn + ": data range overflows 64 bits");
    placed.push_back({offset, end, t.name});
    if (auto e = detail::tally_tensor(out_, lim_, std::move(t)); !e.empty())
      return err(e);
  }
  uint64_t data_start = 0;
  if (!detail::align_up(c_.pos(), alignment_, data_start))
    return err("data section offset overflows");
  // A file without tensors (a vocabulary) may end without the padding.
  if (n_tensors == 0)
    data_start = std::min<uint64_t>(data_start, src_.size());
  if (data_start > src_.size())
    return err("data section starts past the end of the file");
  const uint64_t data_size = src_.size() - data_start;
  std::sort(placed.begin(), placed.end(), [](const Placed& a, const Placed& b) { return a.begin < b.begin; });
  const Placed* prev = nullptr;
  for (const auto& p : placed) {
    if (p.end > data_size)
      return err("tensor '" + printable(p.name, 128) + "' data [" + std::to_string(p.begin) + ", " +
                 std::to_string(p.end) + ") runs past the end of the file (data section of " +
                 std::to_string(data_size) + " bytes)");
    if (prev && p.begin < prev->end && p.begin != p.end)
      return err("tensors '" + printable(prev->name, 128) + "' and '" + printable(p.name, 128) + "' overlap");
    if (p.begin != p.end)
      prev = &p;
  }
  out_.metadata["gguf.alignment"] = std::to_string(alignment_);
  out_.metadata["gguf.data_offset"] = std::to_string(data_start);
  return {};
}

}  // namespace

std::string parse_gguf(ByteSource& src, WeightSummary& out, const WeightLimits& lim) {
  GgufReader r(src, lim, out);
  return r.run();
}

}  // namespace omed::model
