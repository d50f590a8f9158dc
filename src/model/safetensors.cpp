// safetensors: single files (8-byte length + JSON header, validated against the file), several
// shards summed, and sharded models through model.safetensors.index.json.
#include <algorithm>
#include <map>
#include <set>

#include "omed/common/json.hpp"
#include "omed/model/remote_file.hpp"
#include "omed/model/weight_formats.hpp"

#include "checked_math.hpp"
#include "weight_tally.hpp"

namespace omed::model {

using detail::checked_add;
using detail::checked_mul;
using detail::printable;

namespace {

// Element width in bits of every dtype the format defines (sub-byte float formats included).
int dtype_bits(std::string_view d) {
  static const std::pair<std::string_view, int> table[] = {
    {"BOOL", 8}, {"U8", 8}, {"I8", 8}, {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8},
    {"I16", 16}, {"U16", 16}, {"F16", 16}, {"BF16", 16}, {"I32", 32}, {"U32", 32}, {"F32", 32},
    {"F64", 64}, {"I64", 64}, {"U64", 64}, {"C64", 64}, {"F4", 4}, {"F6_E2M3", 6}, {"F6_E3M2", 6},
  };
  for (auto& [name, bits] : table)
    if (name == d)
      return bits;
  return 0;
}

// A JSON number that is an exact non-negative integer.
bool as_u64(const json::Value& v, uint64_t& out) {
  if (!v.is_int() || v.as_int() < 0)
    return false;
  out = static_cast<uint64_t>(v.as_int());
  return true;
}

struct Span {
  uint64_t begin, end;
  const std::string* name;
};

std::string parse_entry(const std::string& name, const json::Value& v, uint64_t data_size, const WeightLimits& lim,
                        TensorInfo& t, Span& span) {
  const std::string n = "tensor '" + printable(name, 128) + "'";
  if (!v.is_object())
    return n + ": entry is not an object";
  const json::Value* dtype = v.get("dtype");
  const json::Value* shape = v.get("shape");
  const json::Value* offs = v.get("data_offsets");
  if (!dtype || !dtype->is_string())
    return n + ": missing or non-string dtype";
  int bits = dtype_bits(dtype->as_string());
  if (bits == 0)
    return n + ": unknown dtype '" + printable(dtype->as_string(), 32) + "'";
  if (!shape || !shape->is_array())
    return n + ": missing or non-array shape";
  if (shape->as_array().size() > lim.max_dims)
    return n + ": " + std::to_string(shape->as_array().size()) + " dims (limit " + std::to_string(lim.max_dims) + ")";
  t.name = name;
  t.dtype = dtype->as_string();
  for (const auto& d : shape->as_array()) {
    uint64_t x = 0;
    if (!as_u64(d, x))
      return n + ": shape entries must be non-negative integers";
    t.shape.push_back(x);
  }
  if (!detail::shape_product(t.shape, t.parameters))
    return n + ": shape product overflows 64 bits";
  uint64_t total_bits = 0;
  if (!checked_mul(t.parameters, static_cast<uint64_t>(bits), total_bits))
    return n + ": byte size overflows 64 bits";
  if (total_bits % 8 != 0)
    return n + ": " + std::to_string(t.parameters) + " elements of " + t.dtype + " do not fill whole bytes";
  t.bytes = total_bits / 8;
  if (!offs || !offs->is_array() || offs->as_array().size() != 2)
    return n + ": data_offsets must be [begin, end]";
  if (!as_u64(offs->as_array()[0], span.begin) || !as_u64(offs->as_array()[1], span.end))
    return n + ": data_offsets must be non-negative integers";
  if (span.begin > span.end)
    return n + ": data_offsets begin " + std::to_string(span.begin) + " is after end " + std::to_string(span.end);
  if (span.end > data_size)
    return n + ": data_offsets end " + std::to_string(span.end) + " is past the data section (" +
           std::to_string(data_size) + " bytes)";
  if (span.end - span.begin != t.bytes)
    return n + ": data_offsets span " + std::to_string(span.end - span.begin) + " bytes but " + t.dtype + " x " +
           std::to_string(t.parameters) + " needs " + std::to_string(t.bytes);
  return {};
}

}  // namespace

std::string parse_safetensors(ByteSource& src, WeightSummary& out, const WeightLimits& lim) {
  out = WeightSummary{};
  out.format = WeightFormat::Safetensors;
  out.file_bytes = src.size();
  out.files = 1;
  const uint64_t size = src.size();
  if (size < 8)
    return src.name() + ": " + std::to_string(size) + " bytes is too small for a safetensors header";
  std::string raw;
  if (auto err = src.read(0, 8, raw); !err.empty())
    return err;
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i)
    hlen = (hlen << 8) | static_cast<unsigned char>(raw[static_cast<size_t>(i)]);
  if (hlen > lim.max_header_bytes)
    return src.name() + ": safetensors header length " + std::to_string(hlen) + " exceeds the limit of " +
           std::to_string(lim.max_header_bytes) + " bytes";
  if (hlen > size - 8)
    return src.name() + ": safetensors header length " + std::to_string(hlen) + " is larger than the file (" +
           std::to_string(size) + " bytes)";
  std::string header;
  if (auto err = src.read(8, hlen, header); !err.empty())
    return err;
  // The header is three levels deep; anything deeper is not a safetensors header.
  json::Value doc;
  std::string jerr;
  json::ParseOptions opts;
  opts.max_depth = 8;
  if (!json::try_parse(header, doc, jerr, opts))
    return src.name() + ": safetensors header is not valid JSON: " + jerr;
  if (!doc.is_object())
    return src.name() + ": safetensors header is not a JSON object";

  const uint64_t data_size = size - 8 - hlen;
  std::vector<Span> spans;
  std::set<std::string_view> seen;
  for (const auto& m : doc.as_object()) {
    if (!seen.insert(m.key).second)
      return src.name() + ": duplicate key '" + printable(m.key, 128) + "' in the header";
    if (m.key == "__metadata__") {
      if (!m.value.is_object())
        return src.name() + ": __metadata__ is not an object";
      for (const auto& kv : m.value.as_object()) {
        if (!kv.value.is_string())
          return src.name() + ": __metadata__ value of '" + printable(kv.key, 64) + "' is not a string";
        if (out.metadata.size() < lim.max_metadata_entries)
          out.metadata[printable(kv.key, 256)] = printable(kv.value.as_string());
      }
      continue;
    }
    TensorInfo t;
    Span span{};
    if (auto err = parse_entry(m.key, m.value, data_size, lim, t, span); !err.empty())
      return src.name() + ": " + err;
    span.name = &m.key;
    spans.push_back(span);
    t.file = src.name();
    if (auto err = detail::tally_tensor(out, lim, std::move(t)); !err.empty())
      return src.name() + ": " + err;
  }
  // Two tensors may not share bytes: sort by start and compare each with the furthest end so far.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const Span* furthest = nullptr;
  for (const auto& s : spans) {
    if (s.begin == s.end)
      continue;
    if (furthest && s.begin < furthest->end)
      return src.name() + ": tensors '" + printable(*furthest->name, 128) + "' and '" + printable(*s.name, 128) +
             "' overlap in the data section";
    furthest = &s;
    covered += s.end - s.begin;
  }
  if (covered != data_size)
    out.notes.push_back(src.name() + ": " + std::to_string(data_size - covered) +
                        " bytes of the data section belong to no tensor");
  return {};
}

std::string parse_safetensors_shards(const std::vector<ByteSource*>& shards, WeightSummary& out,
                                     const WeightLimits& lim) {
  out = WeightSummary{};
  out.format = WeightFormat::Safetensors;
  if (shards.size() > lim.max_shards)
    return std::to_string(shards.size()) + " shards (limit " + std::to_string(lim.max_shards) + ")";
  WeightLimits keep = lim;
  keep.keep_tensors = true;  // names are needed to spot tensors repeated across shards
  // A model has one tensor per name: a name repeated in another shard (a copied file, a
  // re-exported shard) is the same tensor and is counted once.
  std::map<std::string, std::string> first_file;
  uint64_t repeated = 0, repeated_params = 0;
  std::map<std::string, uint64_t> repeated_by_dtype;
  for (ByteSource* src : shards) {
    WeightSummary one;
    if (auto err = parse_safetensors(*src, one, keep); !err.empty())
      return err;
    for (const auto& t : one.tensors) {
      auto [it, fresh] = first_file.emplace(t.name, src->name());
      if (!fresh) {
        ++repeated;
        repeated_params += t.parameters;
        repeated_by_dtype[t.dtype] += t.parameters;
      }
    }
    if (!lim.keep_tensors)
      one.tensors.clear();
    if (auto err = detail::merge_summary(out, std::move(one), lim); !err.empty())
      return err;
  }
  if (repeated > 0) {
    out.parameter_count -= repeated_params;
    out.tensor_count -= repeated;
    for (const auto& [dtype, n] : repeated_by_dtype)
      out.parameters_by_dtype[dtype] -= n;
    out.notes.push_back(std::to_string(repeated) +
                        " tensor names appear in more than one shard; each tensor is counted once");
  }
  return {};
}

std::string parse_safetensors_index(std::string_view index_json, const SourceOpener& open, WeightSummary& out,
                                    const WeightLimits& lim) {
  out = WeightSummary{};
  out.format = WeightFormat::Safetensors;
  if (index_json.size() > lim.max_header_bytes)
    return "safetensors index of " + std::to_string(index_json.size()) + " bytes exceeds the limit";
  json::Value doc;
  std::string jerr;
  json::ParseOptions opts;
  opts.max_depth = 16;
  if (!json::try_parse(index_json, doc, jerr, opts))
    return "safetensors index is not valid JSON: " + jerr;
  const json::Value* wm = doc.is_object() ? doc.get("weight_map") : nullptr;
  if (!wm || !wm->is_object())
    return "safetensors index has no weight_map object";
  // shard -> tensors the index places in it
  std::map<std::string, std::vector<std::string>> by_shard;
  uint64_t indexed = 0;
  for (const auto& m : wm->as_object()) {
    if (!m.value.is_string())
      return "weight_map entry '" + printable(m.key, 128) + "' is not a file name";
    const std::string& file = m.value.as_string();
    if (auto err = check_remote_path(file); !err.empty())
      return "weight_map entry '" + printable(m.key, 128) + "': " + err;
    if (++indexed > lim.max_tensors)
      return "weight_map has more than " + std::to_string(lim.max_tensors) + " tensors";
    auto& v = by_shard[file];
    if (v.empty() && by_shard.size() > lim.max_shards)
      return "weight_map names more than " + std::to_string(lim.max_shards) + " shards";
    v.push_back(m.key);
  }
  WeightLimits keep = lim;
  keep.keep_tensors = true;
  uint64_t extra = 0;
  for (auto& [file, names] : by_shard) {
    std::unique_ptr<ByteSource> src;
    if (auto err = open(file, src); !err.empty() || !src)
      return "shard " + file + ": " + (err.empty() ? std::string("cannot open") : err);
    WeightSummary one;
    if (auto err = parse_safetensors(*src, one, keep); !err.empty())
      return err;
    std::set<std::string_view> present;
    for (const auto& t : one.tensors)
      present.insert(t.name);
    for (const auto& n : names)
      if (!present.count(n))
        return "tensor '" + printable(n, 128) + "' is indexed in " + file + " but that shard does not contain it";
    extra += present.size() - std::min<uint64_t>(present.size(), names.size());
    for (auto& t : one.tensors)
      t.file = file;
    if (!lim.keep_tensors)
      one.tensors.clear();
    if (auto err = detail::merge_summary(out, std::move(one), lim); !err.empty())
      return err;
  }
  if (extra > 0)
    out.notes.push_back(std::to_string(extra) + " tensors in the shards are not listed in the index");
  if (const json::Value* md = doc.get("metadata"); md && md->is_object()) {
    for (const auto& kv : md->as_object())
      if (kv.value.is_string() || kv.value.is_number())
        out.metadata["index." + printable(kv.key, 128)] =
          kv.value.is_string() ? printable(kv.value.as_string()) : printable(json::dump(kv.value));
    if (const json::Value* ts = md->get("total_size"); ts && ts->is_number()) {
      double declared = ts->as_double();
      if (declared != static_cast<double>(out.tensor_bytes))
        out.notes.push_back("index metadata.total_size (" + json::dump(*ts) + ") differs from the " +
                            std::to_string(out.tensor_bytes) + " tensor bytes found in the shards");
    }
  }
  return {};
}

}  // namespace omed::model
