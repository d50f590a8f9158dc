// Durable small-file writes and directory syncs used by the transfer engine's checkpoints and
// final renames. Every failure comes back as text; nothing here throws.
#include "omed/model/transfer/durable_io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace omed::model::transfer {

namespace fs = std::filesystem;

std::string describe_errno(int err) {
  std::string text = std::strerror(err);
  switch (err) {
    case ENOSPC:
      return text + " (the disk is full)";
    case EDQUOT:
      return text + " (disk quota exceeded)";
    case EFBIG:
      return text + " (the file exceeds the size this filesystem or process limit allows)";
    case EROFS:
      return text + " (read-only filesystem)";
    case EACCES:
    case EPERM:
      return text + " (check the directory's owner and permissions)";
    default:
      return text;
  }
}

std::string fsync_directory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return "opening directory " + dir.string() + ": " + describe_errno(errno);
  std::string err;
  if (::fsync(fd) != 0 && errno != EINVAL)  // some filesystems cannot sync directories
    err = "syncing directory " + dir.string() + ": " + describe_errno(errno);
  ::close(fd);
  return err;
}

std::string write_temp_file(const fs::path& path, const std::string& content, bool durable, fs::path& tmp) {
  // A random suffix keeps two writers (e.g. a stale process and its restart) off each other's
  // temporary file; the rename decides which content wins.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  tmp = path;
  tmp += ".tmp" + std::to_string(rng() % 1000000000);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return "creating " + tmp.string() + ": " + describe_errno(errno);
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return "writing " + tmp.string() + ": " + describe_errno(e);
    }
    off += static_cast<size_t>(n);
  }
  if (durable && ::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return "syncing " + tmp.string() + ": " + describe_errno(e);
  }
  ::close(fd);
  return {};
}

std::string write_file_atomically(const fs::path& path, const std::string& content, bool durable) {
  fs::path tmp;
  if (auto err = write_temp_file(path, content, durable, tmp); !err.empty())
    return err;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return "renaming " + tmp.string() + ": " + describe_errno(e);
  }
  return {};
}

fs::path existing_ancestor(const fs::path& p) {
  std::error_code ec;
  fs::path cur = p.empty() ? fs::path(".") : fs::absolute(p, ec);
  if (ec)
    cur = p;
  while (!cur.empty()) {
    if (fs::exists(cur, ec))
      return cur;
    if (cur == cur.parent_path())
      break;
    cur = cur.parent_path();
  }
  return "/";
}

}  // namespace omed::model::transfer
