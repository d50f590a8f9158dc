// The central directory of a zip archive (with zip64), read through a ByteSource from the end of
// the file: PyTorch's zip checkpoints are read entry by entry without unpacking anything.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "omed/model/byte_source.hpp"
#include "omed/model/weight_formats.hpp"

namespace omed::model::detail {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;          // 0 = stored, 8 = deflate
  uint64_t compressed_size = 0;
  uint64_t size = 0;
  uint64_t local_offset = 0;    // of the local file header
};

// Reads the end-of-central-directory record (zip64 aware) and every central directory entry.
// Returns an error message, empty on success.
std::string read_zip_directory(ByteSource& src, const WeightLimits& lim, std::vector<ZipEntry>& out);

// The file offset where an entry's bytes begin (after its local header), checked to lie with its
// compressed size inside the file.
std::string zip_data_offset(ByteSource& src, const ZipEntry& e, uint64_t& offset);

// The archive's "<prefix>/data.pkl" entry (prefix a single path segment), or null. Several are an
// error reported through `err`.
const ZipEntry* find_torch_data_pkl(const std::vector<ZipEntry>& entries, std::string& err);

}  // namespace omed::model::detail
