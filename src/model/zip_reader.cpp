// Zip central-directory reading for PyTorch checkpoints: EOCD (searched backwards only as far as
// a comment can reach), zip64 locator and record, entries with zip64 extra fields.
#include "zip_reader.hpp"

#include <algorithm>

#include "checked_math.hpp"
#include "weight_tally.hpp"

namespace omed::model::detail {

namespace {

uint16_t le16(const std::string& b, size_t at) {
  return static_cast<uint16_t>(static_cast<unsigned char>(b[at]) | (static_cast<unsigned char>(b[at + 1]) << 8));
}
uint32_t le32(const std::string& b, size_t at) {
  return static_cast<uint32_t>(le16(b, at)) | (static_cast<uint32_t>(le16(b, at + 2)) << 16);
}
uint64_t le64(const std::string& b, size_t at) {
  return static_cast<uint64_t>(le32(b, at)) | (static_cast<uint64_t>(le32(b, at + 4)) << 32);
}

constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint64_t kEocdSize = 22;

}  // namespace

std::string read_zip_directory(ByteSource& src, const WeightLimits& lim, std::vector<ZipEntry>& out) {
  out.clear();
  const uint64_t size = src.size();
  const std::string name = src.name();
  if (size < kEocdSize)
    return name + ": too small for a zip archive";
  // Common case first: no archive comment, the record is the last 22 bytes.
  std::string tail;
  uint64_t tail_start = size - kEocdSize;
  if (auto err = src.read(tail_start, kEocdSize, tail); !err.empty())
    return err;
  size_t eocd = std::string::npos;
  if (le32(tail, 0) == kEocdSig && le16(tail, 20) == 0) {
    eocd = 0;
  } else {
    uint64_t span = std::min<uint64_t>(size, kEocdSize + 0xffff);
    tail_start = size - span;
    if (auto err = src.read(tail_start, span, tail); !err.empty())
      return err;
    for (size_t i = tail.size() - kEocdSize + 1; i-- > 0;)
      if (le32(tail, i) == kEocdSig && i + kEocdSize + le16(tail, i + 20) == tail.size()) {
        eocd = i;
        break;
      }
    if (eocd == std::string::npos)
      return name + ": no zip end-of-central-directory record";
  }
  const uint64_t eocd_pos = tail_start + eocd;
  uint64_t entries = le16(tail, eocd + 10);
  uint64_t cd_size = le32(tail, eocd + 12);
  uint64_t cd_offset = le32(tail, eocd + 16);
  // zip64: a locator sits right before the record and points at the zip64 record.
  if (eocd_pos >= 20) {
    std::string loc;
    if (auto err = src.read(eocd_pos - 20, 20, loc); !err.empty())
      return err;
    if (le32(loc, 0) == kZip64LocatorSig) {
      uint64_t rec = le64(loc, 8);
      std::string z;
      if (rec > size || size - rec < 56)
        return name + ": zip64 record offset is outside the file";
      if (auto err = src.read(rec, 56, z); !err.empty())
        return err;
      if (le32(z, 0) != kZip64EocdSig)
        return name + ": bad zip64 end-of-central-directory record";
      entries = le64(z, 32);
      cd_size = le64(z, 40);
      cd_offset = le64(z, 48);
    }
  }
  if (entries > lim.max_zip_entries)
    return name + ": zip has " + std::to_string(entries) + " entries (limit " + std::to_string(lim.max_zip_entries) + ")";
  if (cd_size > lim.max_header_bytes)
    return name + ": zip central directory of " + std::to_string(cd_size) + " bytes exceeds the limit";
  if (cd_offset > size || cd_size > size - cd_offset)
    return name + ": zip central directory lies outside the file";
  std::string cd;
  if (auto err = src.read(cd_offset, cd_size, cd); !err.empty())
    return err;
  size_t p = 0;
  for (uint64_t i = 0; i < entries; ++i) {
    if (cd.size() - p < 46 || le32(cd, p) != kCentralSig)
      return name + ": zip central directory entry " + std::to_string(i) + " is malformed";
    ZipEntry e;
    e.method = le16(cd, p + 10);
    e.compressed_size = le32(cd, p + 20);
    e.size = le32(cd, p + 24);
    size_t nlen = le16(cd, p + 28), xlen = le16(cd, p + 30), clen = le16(cd, p + 32);
    e.local_offset = le32(cd, p + 42);
    if (cd.size() - p - 46 < nlen + xlen + clen)
      return name + ": zip central directory entry " + std::to_string(i) + " runs past the directory";
    e.name = cd.substr(p + 46, nlen);
    // zip64 extended information: only the fields whose 32-bit slot is saturated are present.
    size_t x = p + 46 + nlen, xend = x + xlen;
    while (xend - x >= 4) {
      uint16_t id = le16(cd, x), len = le16(cd, x + 2);
      if (xend - x - 4 < len)
        return name + ": zip extra field of entry '" + printable(e.name, 128) + "' is malformed";
      if (id == 0x0001) {
        size_t q = x + 4, qend = q + len;
        auto take = [&](uint64_t& field) {
          if (qend - q < 8)
            return false;
          field = le64(cd, q);
          q += 8;
          return true;
        };
        if ((e.size == 0xffffffffu && !take(e.size)) || (e.compressed_size == 0xffffffffu && !take(e.compressed_size)) ||
            (e.local_offset == 0xffffffffu && !take(e.local_offset)))
          return name + ": zip64 extra field of entry '" + printable(e.name, 128) + "' is too short";
      }
      x += 4 + len;
    }
    p += 46 + nlen + xlen + clen;
    out.push_back(std::move(e));
  }
  return {};
}

std::string zip_data_offset(ByteSource& src, const ZipEntry& e, uint64_t& offset) {
  std::string h;
  if (e.local_offset > src.size() || src.size() - e.local_offset < 30)
    return src.name() + ": zip entry '" + printable(e.name, 128) + "' has its header outside the file";
  if (auto err = src.read(e.local_offset, 30, h); !err.empty())
    return err;
  if (le32(h, 0) != kLocalSig)
    return src.name() + ": zip entry '" + printable(e.name, 128) + "' has no local header";
  uint64_t start = e.local_offset + 30 + le16(h, 26) + le16(h, 28);
  uint64_t end = 0;
  if (!checked_add(start, e.compressed_size, end) || end > src.size())
    return src.name() + ": zip entry '" + printable(e.name, 128) + "' runs past the end of the file";
  offset = start;
  return {};
}

const ZipEntry* find_torch_data_pkl(const std::vector<ZipEntry>& entries, std::string& err) {
  const ZipEntry* found = nullptr;
  for (const auto& e : entries) {
    auto slash = e.name.find('/');
    if (slash == std::string::npos || slash == 0 || e.name.compare(slash, std::string::npos, "/data.pkl") != 0)
      continue;
    if (found) {
      err = "zip holds several data.pkl records ('" + printable(found->name, 128) + "', '" + printable(e.name, 128) + "')";
      return nullptr;
    }
    found = &e;
  }
  return found;
}

}  // namespace omed::model::detail
