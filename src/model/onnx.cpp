// ONNX: a walk over the protobuf wire format of ModelProto -> GraphProto -> initializer
// TensorProtos (dims, data_type, name, external data), opset_import and producer fields. Tensor
// payloads (raw_data) are skipped, never fetched.
#include "omed/model/weight_formats.hpp"

#include "byte_cursor.hpp"
#include "checked_math.hpp"
#include "weight_tally.hpp"

namespace omed::model {

using detail::ByteCursor;
using detail::printable;

namespace {

enum Wire : uint32_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

struct OnnxType {
  const char* name;
  uint32_t bits;
};

// TensorProto.DataType in enum order (0 is UNDEFINED).
constexpr OnnxType kOnnxTypes[] = {
  {"UNDEFINED", 0}, {"F32", 32},  {"U8", 8},          {"I8", 8},          {"U16", 16},
  {"I16", 16},      {"I32", 32},  {"I64", 64},        {"STRING", 0},      {"BOOL", 8},
  {"F16", 16},      {"F64", 64},  {"U32", 32},        {"U64", 64},        {"C64", 64},
  {"C128", 128},    {"BF16", 16}, {"F8_E4M3", 8},     {"F8_E4M3FNUZ", 8}, {"F8_E5M2", 8},
  {"F8_E5M2FNUZ", 8}, {"U4", 4},  {"I4", 4},          {"F4", 4},          {"F8_E8M0", 8},
};

class OnnxReader {
public:
  OnnxReader(ByteSource& src, const WeightLimits& lim, WeightSummary& out)
    : src_(src), lim_(lim), out_(out), c_(src, 0, src.size(), lim) {}

  std::string run();

private:
  // Next field of the current message; false at its end or on error.
  bool next(uint32_t& field, uint32_t& wire);
  void skip(uint32_t wire);
  // Length of a length-delimited field, checked against what remains.
  uint64_t length();
  // Narrows the cursor to the length-delimited field that follows; returns the end to restore.
  uint64_t enter();
  // Repeated int64 (dims), packed or one per field; appends to `dims`.
  void int64s(uint32_t wire, std::vector<uint64_t>& dims, const char* what);
  std::string string_field();
  void model();
  void graph();
  void tensor(TensorInfo& t);
  void sparse_tensor();
  void opset();
  void string_entry(std::string& key, std::string& value);
  void add_tensor(TensorInfo&& t);

  ByteSource& src_;
  const WeightLimits& lim_;
  WeightSummary& out_;
  ByteCursor c_;
  uint64_t external_ = 0;
  uint64_t sparse_ = 0;
  std::string default_opset_;
  uint32_t last_bits_ = 0;  // element width of the tensor() just read
};

bool OnnxReader::next(uint32_t& field, uint32_t& wire) {
  if (!c_.ok() || c_.at_end())
    return false;
  uint64_t key = c_.varint();
  if (!c_.ok())
    return false;
  field = static_cast<uint32_t>(key >> 3);
  wire = static_cast<uint32_t>(key & 7);
  if (field == 0 || (key >> 3) > 0x1fffffff)
    return c_.fail("invalid protobuf field number at offset " + std::to_string(c_.pos()));
  return true;
}

uint64_t OnnxReader::length() {
  uint64_t n = c_.varint();
  if (c_.ok() && n > c_.remaining()) {
    c_.fail("protobuf field of " + std::to_string(n) + " bytes at offset " + std::to_string(c_.pos()) +
            " runs past its message (" + std::to_string(c_.remaining()) + " bytes left)");
    return 0;
  }
  return n;
}

void OnnxReader::skip(uint32_t wire) {
  switch (wire) {
    case kVarint: c_.varint(); break;
    case kFixed64: c_.skip(8); break;
    case kFixed32: c_.skip(4); break;
    case kLen: c_.skip(length()); break;
    default: c_.fail("unsupported protobuf wire type " + std::to_string(wire) + " at offset " + std::to_string(c_.pos()));
  }
}

uint64_t OnnxReader::enter() {
  uint64_t n = length();
  return c_.push_end(c_.pos() + n);
}

void OnnxReader::int64s(uint32_t wire, std::vector<uint64_t>& dims, const char* what) {
  uint64_t outer = wire == kLen ? enter() : 0;
  bool first = true;
  while (c_.ok() && (wire == kLen ? !c_.at_end() : first)) {
    first = false;
    uint64_t d = c_.varint();
    if (!c_.ok())
      break;
    if (d >> 63) {
      c_.fail(std::string(what) + " has a negative dim");
      break;
    }
    if (dims.size() >= lim_.max_dims) {
      c_.fail(std::string(what) + " has more than " + std::to_string(lim_.max_dims) + " dims");
      break;
    }
    dims.push_back(d);
  }
  if (wire == kLen)
    c_.pop_end(outer);
}

std::string OnnxReader::string_field() {
  uint64_t n = length();
  if (!c_.ok())
    return {};
  if (n > lim_.max_string_bytes) {
    c_.fail("string of " + std::to_string(n) + " bytes exceeds the limit");
    return {};
  }
  return c_.bytes(n);
}

void OnnxReader::string_entry(std::string& key, std::string& value) {
  uint64_t outer = enter();
  uint32_t f, w;
  while (next(f, w)) {
    if (f == 1 && w == kLen)
      key = string_field();
    else if (f == 2 && w == kLen)
      value = string_field();
    else
      skip(w);
  }
  c_.pop_end(outer);
}

void OnnxReader::add_tensor(TensorInfo&& t) {
  if (!c_.ok())
    return;
  if (auto e = detail::tally_tensor(out_, lim_, std::move(t)); !e.empty())
    c_.fail(e);
}

// Fills t from a TensorProto; the caller has narrowed the cursor to it.
void OnnxReader::tensor(TensorInfo& t) {
  uint32_t f, w;
  uint64_t data_type = 0;
  bool external = false;
  while (next(f, w)) {
    if (f == 1 && (w == kVarint || w == kLen)) {
      int64s(w, t.shape, "initializer");
    } else if (f == 2 && w == kVarint) {
      data_type = c_.varint();
    } else if (f == 8 && w == kLen) {
      t.name = string_field();
    } else if (f == 13 && w == kLen) {
      std::string k, v;
      string_entry(k, v);
      external = true;
    } else if (f == 14 && w == kVarint) {
      if (c_.varint() == 1)  // DataLocation EXTERNAL
        external = true;
    } else {
      skip(w);
    }
  }
  if (!c_.ok())
    return;
  if (data_type == 0 || data_type >= sizeof kOnnxTypes / sizeof *kOnnxTypes) {
    if (data_type == 0) {
      c_.fail("initializer '" + printable(t.name, 128) + "' has no data_type");
      return;
    }
    t.dtype = "ONNX_TYPE_" + std::to_string(data_type);
  } else {
    t.dtype = kOnnxTypes[data_type].name;
  }
  if (external)
    ++external_;
  if (!detail::shape_product(t.shape, t.parameters)) {
    c_.fail("initializer '" + printable(t.name, 128) + "': shape product overflows 64 bits");
    return;
  }
  uint32_t bits = data_type < sizeof kOnnxTypes / sizeof *kOnnxTypes ? kOnnxTypes[data_type].bits : 0;
  last_bits_ = bits;
  uint64_t total = 0;
  if (!detail::checked_mul(t.parameters, bits, total) || !detail::checked_add(total, 7, total)) {
    c_.fail("initializer '" + printable(t.name, 128) + "': byte size overflows 64 bits");
    return;
  }
  t.bytes = total / 8;
}

void OnnxReader::sparse_tensor() {
  // SparseTensorProto: values (1, a TensorProto giving name and type), indices (2), dims (3).
  TensorInfo t;
  std::vector<uint64_t> dense;
  bool have_values = false;
  last_bits_ = 0;
  uint32_t f, w;
  while (next(f, w)) {
    if (f == 1 && w == kLen) {
      uint64_t outer = enter();
      t = TensorInfo{};
      tensor(t);
      have_values = true;
      c_.pop_end(outer);
    } else if (f == 3 && (w == kVarint || w == kLen)) {
      int64s(w, dense, "sparse initializer");
    } else {
      skip(w);
    }
  }
  if (c_.ok() && !have_values)
    c_.fail("sparse initializer without values");
  if (!c_.ok())
    return;
  // A sparse initializer stands for its dense shape: that is the parameter count the model has.
  t.shape = dense;
  uint64_t bits = 0;
  if (!detail::shape_product(t.shape, t.parameters) || !detail::checked_mul(t.parameters, last_bits_, bits) ||
      !detail::checked_add(bits, 7, bits)) {
    c_.fail("sparse initializer '" + printable(t.name, 128) + "': size overflows 64 bits");
    return;
  }
  t.bytes = bits / 8;
  ++sparse_;
  add_tensor(std::move(t));
}

void OnnxReader::graph() {
  uint32_t f, w;
  while (next(f, w)) {
    if (f == 5 && w == kLen) {
      uint64_t outer = enter();
      TensorInfo t;
      tensor(t);
      c_.pop_end(outer);
      add_tensor(std::move(t));
    } else if (f == 15 && w == kLen) {
      uint64_t outer = enter();
      sparse_tensor();
      c_.pop_end(outer);
    } else if (f == 2 && w == kLen) {
      out_.metadata["graph_name"] = printable(string_field());
    } else {
      skip(w);
    }
  }
}

void OnnxReader::opset() {
  std::string domain;
  uint64_t version = 0;
  uint32_t f, w;
  while (next(f, w)) {
    if (f == 1 && w == kLen)
      domain = string_field();
    else if (f == 2 && w == kVarint)
      version = c_.varint();
    else
      skip(w);
  }
  if (!c_.ok())
    return;
  // "" and "ai.onnx" both name the default operator set.
  if (domain.empty() || domain == "ai.onnx") {
    domain = "ai.onnx";
    default_opset_ = std::to_string(version);
  }
  out_.metadata["opset." + printable(domain, 128)] = std::to_string(version);
}

void OnnxReader::model() {
  uint32_t f, w;
  bool have_ir = false;
  while (next(f, w)) {
    if (f == 1 && w == kVarint) {
      out_.metadata["ir_version"] = std::to_string(c_.varint());
      have_ir = true;
    } else if ((f == 2 || f == 3 || f == 4) && w == kLen) {
      static const char* const keys[] = {"", "", "producer_name", "producer_version", "domain"};
      out_.metadata[keys[f]] = printable(string_field());
    } else if (f == 5 && w == kVarint) {
      out_.metadata["model_version"] = std::to_string(c_.varint());
    } else if (f == 7 && w == kLen) {
      uint64_t outer = enter();
      graph();
      c_.pop_end(outer);
    } else if (f == 8 && w == kLen) {
      uint64_t outer = enter();
      opset();
      c_.pop_end(outer);
    } else if (f == 14 && w == kLen) {
      std::string k, v;
      string_entry(k, v);
      if (c_.ok() && out_.metadata.size() < lim_.max_metadata_entries)
        out_.metadata["meta." + printable(k, 256)] = printable(v);
    } else {
      skip(w);
    }
  }
  if (c_.ok() && !have_ir)
    c_.fail("no ir_version: not an ONNX ModelProto");
}

std::string OnnxReader::run() {
  out_ = WeightSummary{};
  out_.format = WeightFormat::Onnx;
  out_.file_bytes = src_.size();
  out_.files = 1;
  model();
  if (!c_.ok())
    return src_.name() + ": " + c_.error();
  out_.format_version = default_opset_;
  if (external_)
    out_.metadata["external_data_tensors"] = std::to_string(external_);
  if (sparse_)
    out_.notes.push_back(std::to_string(sparse_) + " sparse initializers counted by their dense shape");
  return {};
}

}  // namespace

std::string parse_onnx(ByteSource& src, WeightSummary& out, const WeightLimits& lim) {
  OnnxReader r(src, lim, out);
  return r.run();
}

}  // namespace omed::model
