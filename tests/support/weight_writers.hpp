// Small writers of weight files for tests: safetensors, GGUF v3, ONNX protobuf, pickle
// (protocol 2 as torch.save writes it), stored zip, and whole torch.save checkpoints (zip and
// legacy). They follow the public format descriptions; no ML framework is needed to run tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace omed::testing {

inline std::string le_bytes(uint64_t v, int n) {
  std::string out;
  for (int i = 0; i < n; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

// --- safetensors -----------------------------------------------------------------------------

struct StTensor {
  std::string name;
  std::string dtype;
  std::vector<uint64_t> shape;
  uint64_t elem_bytes;
};

// A valid file: contiguous offsets in the given order, zero-filled data, header padded to 8.
inline std::string safetensors_file(const std::vector<StTensor>& ts, const std::string& metadata_json = "") {
  std::string h = "{";
  if (!metadata_json.empty())
    h += "\"__metadata__\":" + metadata_json;
  uint64_t off = 0;
  for (const auto& t : ts) {
    uint64_t n = 1;
    for (auto d : t.shape)
      n *= d;
    uint64_t bytes = n * t.elem_bytes;
    if (h.size() > 1)
      h += ",";
    h += "\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i)
      h += (i ? "," : "") + std::to_string(t.shape[i]);
    h += "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + bytes) + "]}";
    off += bytes;
  }
  h += "}";
  while (h.size() % 8 != 0)
    h += " ";
  return le_bytes(h.size(), 8) + h + std::string(off, '\0');
}

// A file from a literal header (hostile cases): the data section is `data_bytes` zero bytes.
inline std::string safetensors_raw(const std::string& header, uint64_t data_bytes) {
  return le_bytes(header.size(), 8) + header + std::string(data_bytes, '\0');
}

// --- GGUF v3 ---------------------------------------------------------------------------------

class GgufWriter {
public:
  void kv_string(const std::string& k, const std::string& v) { key(k, 8); str(kv_, v); ++n_kv_; }
  void kv_u32(const std::string& k, uint32_t v) { key(k, 4); kv_ += le_bytes(v, 4); ++n_kv_; }
  void kv_f32(const std::string& k, float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    key(k, 6);
    kv_ += le_bytes(bits, 4);
    ++n_kv_;
  }
  void kv_bool(const std::string& k, bool v) { key(k, 7); kv_.push_back(v ? 1 : 0); ++n_kv_; }
  void kv_string_array(const std::string& k, const std::vector<std::string>& v) {
    key(k, 9);
    kv_ += le_bytes(8, 4) + le_bytes(v.size(), 8);
    for (const auto& s : v)
      str(kv_, s);
    ++n_kv_;
  }
  void kv_f32_array(const std::string& k, const std::vector<float>& v) {
    key(k, 9);
    kv_ += le_bytes(6, 4) + le_bytes(v.size(), 8);
    for (float f : v) {
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      kv_ += le_bytes(bits, 4);
    }
    ++n_kv_;
  }
  // Raw bytes appended to the metadata section (hostile cases build their own values).
  void kv_raw(const std::string& raw) { kv_ += raw; ++n_kv_; }
  // ggml type id and the tensor's data size in bytes (the caller knows the block layout).
  void tensor(const std::string& name, const std::vector<uint64_t>& dims, uint32_t type, uint64_t bytes) {
    tensors_.push_back({name, dims, type, bytes});
  }
  void alignment(uint64_t a) { align_ = a; }

  std::string build(uint32_t version = 3) const {
    std::string out = "GGUF" + le_bytes(version, 4) + le_bytes(tensors_.size(), 8) + le_bytes(n_kv_, 8) + kv_;
    uint64_t off = 0;
    std::vector<uint64_t> offsets;
    for (const auto& t : tensors_) {
      str(out, t.name);
      out += le_bytes(t.dims.size(), 4);
      for (auto d : t.dims)
        out += le_bytes(d, 8);
      out += le_bytes(t.type, 4) + le_bytes(off, 8);
      offsets.push_back(off);
      off += (t.bytes + align_ - 1) / align_ * align_;
    }
    while (out.size() % align_ != 0)
      out.push_back('\0');
    out += std::string(off, '\0');
    return out;
  }

  static void str(std::string& out, const std::string& s) { out += le_bytes(s.size(), 8) + s; }

private:
  struct T {
    std::string name;
    std::vector<uint64_t> dims;
    uint32_t type;
    uint64_t bytes;
  };
  void key(const std::string& k, uint32_t type) { str(kv_, k); kv_ += le_bytes(type, 4); }
  std::string kv_;
  uint64_t n_kv_ = 0;
  std::vector<T> tensors_;
  uint64_t align_ = 32;
};

// --- protobuf (ONNX) -------------------------------------------------------------------------

inline std::string pb_varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
inline std::string pb_key(uint32_t field, uint32_t wire) { return pb_varint((uint64_t{field} << 3) | wire); }
inline std::string pb_int(uint32_t field, uint64_t v) { return pb_key(field, 0) + pb_varint(v); }
inline std::string pb_bytes(uint32_t field, const std::string& b) { return pb_key(field, 2) + pb_varint(b.size()) + b; }

struct OnnxTensor {
  std::string name;
  int data_type;                 // TensorProto.DataType
  std::vector<int64_t> dims;
  uint64_t raw_bytes = 0;        // raw_data length (0: none)
  bool packed_dims = false;
  std::string external_location; // non-empty: data_location EXTERNAL
};

inline std::string onnx_tensor(const OnnxTensor& t) {
  std::string m;
  if (t.packed_dims) {
    std::string packed;
    for (auto d : t.dims)
      packed += pb_varint(static_cast<uint64_t>(d));
    m += pb_bytes(1, packed);
  } else {
    for (auto d : t.dims)
      m += pb_int(1, static_cast<uint64_t>(d));
  }
  m += pb_int(2, static_cast<uint64_t>(t.data_type));
  m += pb_bytes(8, t.name);
  if (t.raw_bytes)
    m += pb_bytes(9, std::string(t.raw_bytes, '\x01'));
  if (!t.external_location.empty()) {
    m += pb_bytes(13, pb_bytes(1, "location") + pb_bytes(2, t.external_location));
    m += pb_bytes(13, pb_bytes(1, "offset") + pb_bytes(2, "0"));
    m += pb_int(14, 1);
  }
  return m;
}

// ModelProto: ir_version, producer, opset_import (default domain), a graph with one node and
// the given initializers.
inline std::string onnx_model(const std::vector<OnnxTensor>& inits, uint64_t ir_version = 8, uint64_t opset = 17,
                              const std::string& producer = "omed-test", const std::string& producer_version = "0.1") {
  std::string graph;
  graph += pb_bytes(1, pb_bytes(1, "x") + pb_bytes(2, "y") + pb_bytes(4, "Relu"));  // NodeProto
  graph += pb_bytes(2, "g");
  for (const auto& t : inits)
    graph += pb_bytes(5, onnx_tensor(t));
  std::string m;
  m += pb_int(1, ir_version);
  m += pb_bytes(2, producer);
  m += pb_bytes(3, producer_version);
  m += pb_bytes(7, graph);
  m += pb_bytes(8, pb_bytes(1, "") + pb_int(2, opset));
  m += pb_bytes(8, pb_bytes(1, "com.microsoft") + pb_int(2, 1));
  m += pb_bytes(14, pb_bytes(1, "author") + pb_bytes(2, "tests"));
  return m;
}

// --- pickle (protocol 2) ---------------------------------------------------------------------

class PickleWriter {
public:
  PickleWriter& proto(int v = 2) { out_ += "\x80"; out_.push_back(static_cast<char>(v)); return *this; }
  PickleWriter& global(const std::string& mod, const std::string& name) {
    out_ += "c" + mod + "\n" + name + "\n";
    return *this;
  }
  PickleWriter& str(const std::string& s) { out_ += "X" + le_bytes(s.size(), 4) + s; return *this; }
  PickleWriter& integer(int64_t v) {
    if (v >= 0 && v < 256) {
      out_ += "K";
      out_.push_back(static_cast<char>(v));
    } else if (v >= 0 && v < 65536) {
      out_ += "M" + le_bytes(static_cast<uint64_t>(v), 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      out_ += "J" + le_bytes(static_cast<uint64_t>(v), 4);
    } else {
      out_ += "\x8a\x08" + le_bytes(static_cast<uint64_t>(v), 8);
    }
    return *this;
  }
  PickleWriter& long1(const std::string& le) { out_ += "\x8a"; out_.push_back(static_cast<char>(le.size())); out_ += le; return *this; }
  PickleWriter& mark() { out_ += "("; return *this; }
  PickleWriter& tuple() { out_ += "t"; return *this; }
  PickleWriter& empty_tuple() { out_ += ")"; return *this; }
  PickleWriter& empty_dict() { out_ += "}"; return *this; }
  PickleWriter& empty_list() { out_ += "]"; return *this; }
  PickleWriter& appends() { out_ += "e"; return *this; }
  PickleWriter& reduce() { out_ += "R"; return *this; }
  PickleWriter& build() { out_ += "b"; return *this; }
  PickleWriter& setitem() { out_ += "s"; return *this; }
  PickleWriter& setitems() { out_ += "u"; return *this; }
  PickleWriter& persid() { out_ += "Q"; return *this; }
  PickleWriter& boolean(bool b) { out_ += b ? "\x88" : "\x89"; return *this; }
  PickleWriter& none() { out_ += "N"; return *this; }
  PickleWriter& put(uint8_t i) { out_ += "q"; out_.push_back(static_cast<char>(i)); return *this; }
  PickleWriter& get(uint8_t i) { out_ += "h"; out_.push_back(static_cast<char>(i)); return *this; }
  PickleWriter& stop() { out_ += "."; return *this; }
  PickleWriter& raw(const std::string& s) { out_ += s; return *this; }
  // A tuple of small ints: TUPLE1-3 for short ones as pickle does, MARK..TUPLE otherwise.
  PickleWriter& int_tuple(const std::vector<uint64_t>& v) {
    if (v.empty())
      return empty_tuple();
    if (v.size() > 3)
      mark();
    for (auto x : v)
      integer(static_cast<int64_t>(x));
    if (v.size() > 3)
      return tuple();
    out_.push_back(static_cast<char>(0x84 + v.size()));
    return *this;
  }
  const std::string& bytes() const { return out_; }

private:
  std::string out_;
};

struct TorchTensor {
  std::string name;
  std::string storage_class;   // "FloatStorage"
  std::string key;             // storage key
  uint64_t storage_numel;
  uint64_t elem_bytes;
  uint64_t offset;
  std::vector<uint64_t> shape;
  std::vector<uint64_t> stride;
  bool parameter = false;      // wrapped with torch._utils._rebuild_parameter
};

// The state_dict pickle torch.save writes: OrderedDict of _rebuild_tensor_v2 calls on persistent
// storage references, then the _metadata BUILD.
inline std::string torch_state_dict_pickle(const std::vector<TorchTensor>& ts) {
  PickleWriter p;
  p.proto(2).global("collections", "OrderedDict").put(0).empty_tuple().reduce().put(1).mark();
  bool have_rebuild = false;
  for (const auto& t : ts) {
    p.str(t.name);
    if (t.parameter)
      p.global("torch._utils", "_rebuild_parameter");
    if (have_rebuild) {
      p.get(2);
    } else {
      p.global("torch._utils", "_rebuild_tensor_v2").put(2);
      have_rebuild = true;
    }
    p.mark().mark().str("storage").global("torch", t.storage_class).str(t.key).str("cpu");
    p.integer(static_cast<int64_t>(t.storage_numel)).tuple().persid();
    p.integer(static_cast<int64_t>(t.offset)).int_tuple(t.shape).int_tuple(t.stride).boolean(false);
    p.get(0).empty_tuple().reduce().tuple().reduce();
    if (t.parameter)
      p.boolean(true).get(0).empty_tuple().reduce().raw("\x87").reduce();  // (tensor, True, OrderedDict())
  }
  p.setitems();
  p.empty_dict().str("_metadata").get(0).empty_tuple().reduce().mark().str("").empty_dict().str("version").integer(1)
    .setitem().setitems().setitem().build().stop();
  return p.bytes();
}

// --- zip (stored) ----------------------------------------------------------------------------

inline uint32_t crc32(const std::string& s) {
  uint32_t c = 0xffffffffu;
  for (unsigned char b : s) {
    c ^= b;
    for (int k = 0; k < 8; ++k)
      c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return c ^ 0xffffffffu;
}

// Stored entries; each entry's data is aligned to 64 bytes with an extra field, as PyTorch does.
inline std::string zip_stored(const std::vector<std::pair<std::string, std::string>>& entries, uint16_t method = 0) {
  std::string out, cd;
  for (const auto& [name, data] : entries) {
    uint64_t off = out.size();
    size_t base = off + 30 + name.size() + 4;
    size_t pad = (64 - base % 64) % 64;
    std::string extra = le_bytes(0x4246, 2) + le_bytes(pad, 2) + std::string(pad, 'Z');
    uint32_t crc = crc32(data);
    out += le_bytes(0x04034b50, 4) + le_bytes(20, 2) + le_bytes(0, 2) + le_bytes(method, 2) + le_bytes(0, 4) +
           le_bytes(crc, 4) + le_bytes(data.size(), 4) + le_bytes(data.size(), 4) + le_bytes(name.size(), 2) +
           le_bytes(extra.size(), 2) + name + extra + data;
    cd += le_bytes(0x02014b50, 4) + le_bytes(20, 2) + le_bytes(20, 2) + le_bytes(0, 2) + le_bytes(method, 2) +
          le_bytes(0, 4) + le_bytes(crc, 4) + le_bytes(data.size(), 4) + le_bytes(data.size(), 4) +
          le_bytes(name.size(), 2) + le_bytes(0, 2) + le_bytes(0, 2) + le_bytes(0, 2) + le_bytes(0, 2) +
          le_bytes(0, 4) + le_bytes(off, 4) + name;
  }
  uint64_t cd_off = out.size();
  out += cd;
  out += le_bytes(0x06054b50, 4) + le_bytes(0, 2) + le_bytes(0, 2) + le_bytes(entries.size(), 2) +
         le_bytes(entries.size(), 2) + le_bytes(cd.size(), 4) + le_bytes(cd_off, 4) + le_bytes(0, 2);
  return out;
}

// Storage bytes of each distinct key, in first-use order.
inline std::vector<std::pair<std::string, uint64_t>> torch_storages(const std::vector<TorchTensor>& ts) {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& t : ts) {
    bool seen = false;
    for (auto& s : out)
      seen = seen || s.first == t.key;
    if (!seen)
      out.push_back({t.key, t.storage_numel * t.elem_bytes});
  }
  return out;
}

// torch.save's zip layout: <archive>/data.pkl, byteorder, data/<key>, version.
inline std::string torch_zip(const std::vector<TorchTensor>& ts, const std::string& archive = "archive") {
  std::vector<std::pair<std::string, std::string>> e;
  e.push_back({archive + "/data.pkl", torch_state_dict_pickle(ts)});
  e.push_back({archive + "/byteorder", "little"});
  for (const auto& [key, bytes] : torch_storages(ts))
    e.push_back({archive + "/data/" + key, std::string(bytes, '\x02')});
  e.push_back({archive + "/version", "3\n"});
  return zip_stored(e);
}

// The legacy format: magic, protocol version, sys_info, object, storage keys, storages.
inline std::string torch_legacy(const std::vector<TorchTensor>& ts) {
  std::string out;
  out += PickleWriter().proto(2).long1(std::string("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10)).stop().bytes();
  out += PickleWriter().proto(2).integer(1001).stop().bytes();
  out += PickleWriter().proto(2).empty_dict().put(0).mark().str("protocol_version").integer(1001).str("little_endian")
           .boolean(true).str("type_sizes").empty_dict().put(1).mark().str("short").integer(2).str("int").integer(4)
           .str("long").integer(4).setitems().setitems().stop().bytes();
  out += torch_state_dict_pickle(ts);
  auto storages = torch_storages(ts);
  PickleWriter keys;
  keys.proto(2).empty_list().put(0).mark();
  for (const auto& s : storages)
    keys.str(s.first);
  keys.appends().stop();
  out += keys.bytes();
  for (const auto& [key, bytes] : storages) {
    uint64_t elem = 1;
    for (const auto& t : ts)
      if (t.key == key)
        elem = t.elem_bytes;
    out += le_bytes(bytes / elem, 8) + std::string(bytes, '\x03');
  }
  return out;
}

}  // namespace omed::testing
