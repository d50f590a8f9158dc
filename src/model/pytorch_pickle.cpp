// The legacy torch.save format (before 1.6, or _use_new_zipfile_serialization=False): a magic
// number, protocol version and sys_info pickle, the object pickle, the storage-key list, then
// each storage as a u64 element count followed by its bytes.
#include <map>

#include "omed/model/weight_formats.hpp"

#include "byte_cursor.hpp"
#include "checked_math.hpp"
#include "pickle_machine.hpp"
#include "torch_tensors.hpp"
#include "weight_tally.hpp"

namespace omed::model {

using namespace detail;

namespace {

// 0x1950a86a20f9469cfc6c, as pickle's LONG1 stores it: little-endian two's complement.
const std::string kMagic("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);
constexpr int64_t kProtocolVersion = 1001;

}  // namespace

std::string parse_pytorch_pickle(ByteSource& src, WeightSummary& out, const WeightLimits& lim) {
  out = WeightSummary{};
  out.format = WeightFormat::PytorchPickle;
  out.file_bytes = src.size();
  out.files = 1;
  // The pickles are read through a window; the storages after them are only walked.
  ByteCursor c(src, 0, src.size(), lim);
  PickleMachine m(c, lim);
  const std::string n = src.name() + ": ";
  if (!m.run())
    return n + c.error();
  if (m.result_long_bytes() != kMagic)
    return n + "a pickle without the torch.save magic number: not a legacy PyTorch checkpoint";
  if (!m.run())
    return n + c.error();
  if (m.result_int() != kProtocolVersion)
    return n + "unsupported torch.save protocol version";
  if (!m.run())  // sys_info: endianness and type sizes of the writer
    return n + c.error();
  if (!m.tensors().empty() || !m.storages().empty())
    return n + "tensors in the header pickles";
  if (!m.run())
    return n + c.error();
  bool flat = m.result_is_flat_tensor_dict();
  if (!m.run())
    return n + c.error();
  auto keys = m.result_strings();
  if (!keys)
    return n + "the storage-key list is not a list of strings";
  std::map<std::string, size_t> storage_of;
  for (size_t i = 0; i < m.storages().size(); ++i)
    storage_of.emplace(m.storages()[i].key, i);
  if (keys->size() != storage_of.size())
    return n + "the storage-key list names " + std::to_string(keys->size()) + " storages, the tensors use " +
           std::to_string(storage_of.size());
  // Storages follow in key-list order: u64 element count, then the elements.
  for (const auto& k : *keys) {
    auto it = storage_of.find(k);
    if (it == storage_of.end())
      return n + "storage '" + printable(k, 64) + "' is listed but no tensor uses it";
    const PickleStorage& st = m.storages()[it->second];
    uint64_t numel = c.u64();
    if (!c.ok())
      return n + "storage '" + printable(k, 64) + "': " + c.error();
    if (numel != st.numel)
      return n + "storage '" + printable(k, 64) + "' holds " + std::to_string(numel) + " elements, its tensors declare " +
             std::to_string(st.numel);
    uint64_t bytes = 0;
    if (!checked_mul(numel, st.element_size, bytes))
      return n + "storage size overflows 64 bits";
    c.skip(bytes);
    if (!c.ok())
      return n + "storage '" + printable(k, 64) + "': " + c.error();
  }
  if (!c.at_end())
    out.notes.push_back(std::to_string(c.remaining()) + " bytes after the last storage");
  return tally_torch_tensors(m, flat, out, lim);
}

}  // namespace omed::model
