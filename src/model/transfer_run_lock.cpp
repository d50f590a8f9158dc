// The per-directory transfer lock. flock plus an inode check: a holder deletes the file when it
// is done, and a waiter that locked the deleted inode must notice and try the new file instead.
#include "omed/model/transfer/run_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "omed/model/transfer/durable_io.hpp"

namespace omed::model::transfer {

std::string RunLock::acquire(const std::filesystem::path& path) {
  release(false);
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec)
    return "creating " + path.parent_path().string() + ": " + ec.message();
  for (int tries = 0; tries < 10; ++tries) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
      return "creating " + path.string() + ": " + describe_errno(errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      ::close(fd);
      if (e == EWOULDBLOCK)
        return "another transfer is already writing into " + path.parent_path().parent_path().string();
      return "locking " + path.string() + ": " + describe_errno(e);
    }
    struct stat held {}, now {};
    if (::fstat(fd, &held) == 0 && ::stat(path.c_str(), &now) == 0 && held.st_ino == now.st_ino &&
        held.st_dev == now.st_dev) {
      fd_ = fd;
      path_ = path;
      return {};
    }
    ::close(fd);  // the previous holder removed the file after we opened it: try again
  }
  return "cannot lock " + path.string() + ": it keeps being replaced";
}

void RunLock::release(bool remove) {
  if (fd_ < 0)
    return;
  // Unlink while still holding the lock, so nobody can lock the old inode and believe it valid.
  if (remove)
    ::unlink(path_.c_str());
  ::close(fd_);
  fd_ = -1;
}

}  // namespace omed::model::transfer
