// Detecting a weight file's format from its first bytes (names lie: a .bin may be safetensors),
// and dispatching a ByteSource to the parser of the format found.
#include "omed/model/weight_formats.hpp"

#include "zip_reader.hpp"

namespace omed::model {

namespace {

uint64_t le64(std::string_view b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | static_cast<unsigned char>(b[static_cast<size_t>(i)]);
  return v;
}

// Reads a protobuf varint from head at p; false if it does not end inside head.
bool varint(std::string_view head, size_t& p, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && p < head.size(); shift += 7) {
    unsigned char b = static_cast<unsigned char>(head[p++]);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80))
      return true;
  }
  return false;
}

// An ONNX ModelProto starts with ir_version (field 1) and continues with ModelProto fields of the
// right wire types. Two such fields in a row are required: a random file rarely does that.
bool looks_like_onnx(std::string_view head, std::optional<uint64_t> total) {
  if (head.size() < 4 || head[0] != 0x08)
    return false;
  size_t p = 1;
  uint64_t v = 0;
  if (!varint(head, p, v) || v == 0 || v > 64)
    return false;
  int fields = 1;
  while (p < head.size()) {
    uint64_t key = 0;
    if (!varint(head, p, key))
      break;
    uint64_t field = key >> 3, wire = key & 7;
    bool len_field = field == 2 || field == 3 || field == 4 || field == 6 || field == 7 || field == 8 ||
                     field == 14 || field == 20 || field == 25;
    bool varint_field = field == 1 || field == 5;
    if (!((len_field && wire == 2) || (varint_field && wire == 0)))
      return false;
    ++fields;
    if (!varint(head, p, v))
      break;
    if (wire == 2) {
      if (total && v > *total)
        return false;
      if (v > head.size() - p)
        break;  // a field running past the head: fine, the head is a prefix
      p += v;
    }
  }
  return fields >= 2;
}

bool is_torch_zip_head(std::string_view head) {
  // Local file header of the first entry: torch.save writes <archive>/data.pkl first.
  if (head.size() < 30 || head.substr(0, 4) != std::string_view("PK\x03\x04", 4))
    return false;
  size_t nlen = static_cast<unsigned char>(head[26]) | (static_cast<unsigned char>(head[27]) << 8);
  if (head.size() < 30 + nlen)
    return false;
  std::string_view name = head.substr(30, nlen);
  auto slash = name.find('/');
  return slash != std::string_view::npos && slash > 0 && name.substr(slash) == "/data.pkl";
}

}  // namespace

WeightFormat detect_weight_format(std::string_view head, std::optional<uint64_t> total_size) {
  if (head.size() >= 4 && head.substr(0, 4) == "GGUF")
    return WeightFormat::Gguf;
  if (is_torch_zip_head(head))
    return WeightFormat::PytorchZip;
  if (head.size() >= 9 && head[8] == '{') {
    uint64_t n = le64(head);
    bool fits = !total_size || (*total_size >= 8 && n <= *total_size - 8);
    if (n >= 2 && n <= (100ull << 20) && fits)
      return WeightFormat::Safetensors;
  }
  if (head.size() >= 4 && head.substr(0, 4) == "ftrt")
    return WeightFormat::TensorRTEngine;
  if (head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x80 && head[1] >= 2 && head[1] <= 5)
    return WeightFormat::PytorchPickle;
  if (looks_like_onnx(head, total_size))
    return WeightFormat::Onnx;
  return WeightFormat::Unknown;
}

WeightFormat detect_weight_format(ByteSource& src) {
  std::string head;
  uint64_t n = std::min<uint64_t>(src.size(), kDetectBytes);
  if (!src.read(0, n, head).empty())
    return WeightFormat::Unknown;
  WeightFormat f = detect_weight_format(head, src.size());
  if (f == WeightFormat::Unknown && head.size() >= 4 && head.substr(0, 4) == std::string_view("PK\x03\x04", 4)) {
    // A zip whose first entry is not data.pkl: look for it in the central directory.
    WeightLimits lim;
    lim.max_header_bytes = 16u << 20;
    std::vector<detail::ZipEntry> entries;
    std::string err;
    if (detail::read_zip_directory(src, lim, entries).empty() && detail::find_torch_data_pkl(entries, err))
      return WeightFormat::PytorchZip;
  }
  return f;
}

std::string parse_weights(ByteSource& src, WeightSummary& out, const WeightLimits& lim) {
  switch (detect_weight_format(src)) {
    case WeightFormat::Safetensors: return parse_safetensors(src, out, lim);
    case WeightFormat::Gguf: return parse_gguf(src, out, lim);
    case WeightFormat::Onnx: return parse_onnx(src, out, lim);
    case WeightFormat::PytorchZip: return parse_pytorch_zip(src, out, lim);
    case WeightFormat::PytorchPickle: return parse_pytorch_pickle(src, out, lim);
    case WeightFormat::TensorRTEngine: return parse_tensorrt_engine(src, out, lim);
    case WeightFormat::Unknown: break;
  }
  out = WeightSummary{};
  return src.name() + ": not a known weight format";
}

}  // namespace omed::model
