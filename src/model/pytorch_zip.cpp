// PyTorch zip checkpoints (torch.save since 1.6): data.pkl is interpreted without executing it,
// then every storage it references is checked against its data/<key> record.
#include <map>

#include "omed/model/weight_formats.hpp"

#include "byte_cursor.hpp"
#include "checked_math.hpp"
#include "pickle_machine.hpp"
#include "torch_tensors.hpp"
#include "weight_tally.hpp"
#include "zip_reader.hpp"

namespace omed::model {

using namespace detail;

std::string parse_pytorch_zip(ByteSource& src, WeightSummary& out, const WeightLimits& lim) {
  out = WeightSummary{};
  out.format = WeightFormat::PytorchZip;
  out.file_bytes = src.size();
  out.files = 1;
  std::vector<ZipEntry> entries;
  if (auto err = read_zip_directory(src, lim, entries); !err.empty())
    return err;
  std::string err;
  const ZipEntry* pkl = find_torch_data_pkl(entries, err);
  if (!pkl)
    return src.name() + ": " + (err.empty() ? "zip has no <archive>/data.pkl: not a PyTorch checkpoint" : err);
  const std::string prefix = pkl->name.substr(0, pkl->name.size() - 8);  // keeps the '/'
  if (pkl->method != 0 || pkl->compressed_size != pkl->size)
    return src.name() + ": " + pkl->name + " is compressed (torch.save stores it uncompressed)";
  if (pkl->size > lim.max_header_bytes)
    return src.name() + ": " + pkl->name + " of " + std::to_string(pkl->size) + " bytes exceeds the limit";
  uint64_t start = 0;
  if (auto e = zip_data_offset(src, *pkl, start); !e.empty())
    return e;

  ByteCursor c(src, start, start + pkl->size, lim);
  PickleMachine m(c, lim);
  if (!m.run())
    return src.name() + ": " + pkl->name + ": " + c.error();

  std::map<std::string, const ZipEntry*> by_name;
  for (const auto& e : entries)
    by_name.emplace(e.name, &e);
  for (const auto& st : m.storages()) {
    auto it = by_name.find(prefix + "data/" + st.key);
    if (it == by_name.end())
      return src.name() + ": storage '" + printable(st.key, 64) + "' has no " + prefix + "data/ record";
    uint64_t want = 0;
    if (!checked_mul(st.numel, st.element_size, want) || it->second->size != want)
      return src.name() + ": record " + printable(it->second->name, 128) + " holds " +
             std::to_string(it->second->size) + " bytes, its storage declares " + std::to_string(st.numel) + " x " +
             std::to_string(st.element_size);
  }
  // The archive's format version: a short text record ("3\n").
  for (const char* vname : {"version", ".data/version"}) {
    auto it = by_name.find(prefix + vname);
    if (it == by_name.end() || it->second->method != 0 || it->second->size > 32)
      continue;
    uint64_t at = 0;
    std::string v;
    if (zip_data_offset(src, *it->second, at).empty() && src.read(at, it->second->size, v).empty()) {
      while (!v.empty() && (v.back() == '\n' || v.back() == '\r' || v.back() == ' '))
        v.pop_back();
      out.format_version = printable(v, 32);
      break;
    }
  }
  out.metadata["archive"] = printable(prefix.substr(0, prefix.size() - 1), 128);
  return tally_torch_tensors(m, m.result_is_flat_tensor_dict(), out, lim);
}

}  // namespace omed::model
