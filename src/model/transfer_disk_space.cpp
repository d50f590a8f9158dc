// statvfs-based free space check for the transfer engine, run before any byte is written.
// f_bavail (not f_bfree) is used: root-reserved blocks are not ours to fill.
#include "omed/model/transfer/disk_space.hpp"

#include <sys/statvfs.h>

#include <cstdio>

#include "omed/model/transfer/durable_io.hpp"

namespace omed::model::transfer {

std::optional<uint64_t> free_bytes(const std::filesystem::path& dir) {
  struct statvfs vfs {};
  auto where = existing_ancestor(dir);
  if (::statvfs(where.c_str(), &vfs) != 0)
    return std::nullopt;
  return static_cast<uint64_t>(vfs.f_bavail) * static_cast<uint64_t>(vfs.f_frsize);
}

std::string format_bytes(uint64_t n) {
  char buf[64];
  const double d = static_cast<double>(n);
  if (n >= (1ull << 30))
    std::snprintf(buf, sizeof buf, "%.1f GiB", d / (1ull << 30));
  else if (n >= (1ull << 20))
    std::snprintf(buf, sizeof buf, "%.1f MiB", d / (1ull << 20));
  else if (n >= (1ull << 10))
    std::snprintf(buf, sizeof buf, "%.1f KiB", d / (1ull << 10));
  else
    std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(n));
  return buf;
}

std::string check_disk_space(const std::filesystem::path& dir, uint64_t needed, uint64_t margin) {
  auto avail = free_bytes(dir);
  if (!avail)
    return {};  // unknown (e.g. an exotic filesystem): write errors will still be reported
  uint64_t want = needed > UINT64_MAX - margin ? UINT64_MAX : needed + margin;
  if (*avail >= want)
    return {};
  return "not enough disk space: the download needs " + format_bytes(needed) + " (plus " +
         format_bytes(margin) + " headroom), " + format_bytes(*avail) + " free on " +
         dir.string();
}

}  // namespace omed::model::transfer
