// One transfer at a time per model directory: an advisory lock (flock) the kernel releases when
// its holder dies, so a crashed agent never leaves the directory locked.
#pragma once

#include <filesystem>
#include <string>

namespace omed::model::transfer {

class RunLock {
public:
  RunLock() = default;
  ~RunLock() { release(false); }
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  // Takes the lock at `path` without waiting. Returns "" or why not (another holder included).
  std::string acquire(const std::filesystem::path& path);
  // Drops the lock; with `remove` also deletes the lock file (done when the run left nothing
  // behind, so that the directory holds only the model).
  void release(bool remove);
  bool held() const { return fd_ >= 0; }

private:
  int fd_ = -1;
  std::filesystem::path path_;
};

}  // namespace omed::model::transfer
