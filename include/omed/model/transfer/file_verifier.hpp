// Content verification: sha256/md5 computed incrementally as bytes become available, or over a
// file on disk, and the comparison that names the file and both digests when they differ.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace omed::model::transfer {

struct Digests {
  std::string sha256;  // lowercase hex, empty when not computed
  std::string md5;
};

class StreamingDigest {
public:
  StreamingDigest(bool sha256, bool md5);
  ~StreamingDigest();
  StreamingDigest(StreamingDigest&&) noexcept;
  StreamingDigest& operator=(StreamingDigest&&) noexcept;

  void update(const void* data, size_t n);
  uint64_t bytes() const { return bytes_; }
  // Starts over (the bytes hashed so far were replaced).
  void reset();
  // Ends the computation; the object must be reset() before reuse.
  Digests finish();

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint64_t bytes_ = 0;
};

// Hashes [0, size of file) of an open descriptor with large reads (pread, so a shared fd is
// fine). Returns an error or "".
std::string hash_fd(int fd, uint64_t length, StreamingDigest& digest, const std::atomic<bool>* cancel = nullptr);
std::string hash_file(const std::filesystem::path& path, bool sha256, bool md5, Digests& out,
                      const std::atomic<bool>* cancel = nullptr);

// "" when every expected digest (non-empty) equals the computed one; otherwise the user-facing
// mismatch message with both values.
std::string compare_digests(const std::string& file, const Digests& expected, const Digests& actual);

std::string to_hex(const unsigned char* data, size_t n);
std::string lowercase(std::string s);

}  // namespace omed::model::transfer
