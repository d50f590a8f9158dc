// The hard-link content store. Blobs only ever enter after verification and are never written
// in place (downloads always rename a fresh file), so a link is as good as a copy.
#include "omed/model/transfer/content_store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "omed/model/transfer/durable_io.hpp"

namespace omed::model::transfer {

namespace fs = std::filesystem;

bool is_sha256_hex(const std::string& s) {
  if (s.size() != 64)
    return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
      return false;
  return true;
}

fs::path ContentStore::blob_path(const std::string& sha256) const {
  std::string hex = sha256;
  for (auto& c : hex)
    if (c >= 'A' && c <= 'F')
      c = static_cast<char>(c - 'A' + 'a');
  return root_ / "sha256" / hex;
}

std::optional<ContentStore::Blob> ContentStore::find(const std::string& sha256,
                                                     std::optional<uint64_t> size) const {
  if (!enabled() || !is_sha256_hex(sha256))
    return std::nullopt;
  Blob b;
  b.path = blob_path(sha256);
  struct stat st {};
  if (::stat(b.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return std::nullopt;
  b.size = static_cast<uint64_t>(st.st_size);
  if (size && *size != b.size)
    return std::nullopt;
  b.inode = st.st_ino;
  b.device = st.st_dev;
  return b;
}

std::string link_replacing(const fs::path& from, const fs::path& to, bool durable) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::error_code ec;
  fs::create_directories(to.parent_path(), ec);
  if (ec)
    return "creating " + to.parent_path().string() + ": " + ec.message();
  fs::path tmp = to;
  tmp += ".link" + std::to_string(rng() % 1000000000);
  if (::link(from.c_str(), tmp.c_str()) != 0) {
    int e = errno;
    return "linking " + from.string() + " to " + to.string() + ": " + describe_errno(e) +
           (e == EXDEV ? " (the content store must be on the same filesystem)" : "");
  }
  if (::rename(tmp.c_str(), to.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return "renaming into " + to.string() + ": " + describe_errno(e);
  }
  if (durable)
    return fsync_directory(to.parent_path());
  return {};
}

std::string ContentStore::link_out(const std::string& sha256, const fs::path& target, bool durable) const {
  if (!is_sha256_hex(sha256))
    return "invalid sha256 '" + sha256 + "'";
  return link_replacing(blob_path(sha256), target, durable);
}

std::string ContentStore::adopt(const fs::path& file, const std::string& sha256) const {
  if (!enabled())
    return {};
  if (!is_sha256_hex(sha256))
    return "invalid sha256 '" + sha256 + "'";
  fs::path blob = blob_path(sha256);
  std::error_code ec;
  fs::create_directories(blob.parent_path(), ec);
  if (ec)
    return "creating " + blob.parent_path().string() + ": " + ec.message();
  // link() refuses to replace, which is what we want: an existing blob is already verified.
  if (::link(file.c_str(), blob.c_str()) != 0 && errno != EEXIST)
    return "adding " + file.string() + " to the content store: " + describe_errno(errno);
  return {};
}

uint64_t ContentStore::collect_garbage() const {
  if (!enabled())
    return 0;
  uint64_t freed = 0;
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(root_ / "sha256", ec)) {
    struct stat st {};
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      continue;
    if (st.st_nlink == 1 && ::unlink(entry.path().c_str()) == 0)
      freed += static_cast<uint64_t>(st.st_size);
  }
  return freed;
}

}  // namespace omed::model::transfer
