// Local-file, in-memory and counting byte sources. Every read is range-checked against the
// source size before any buffer is allocated, so a hostile length never becomes an allocation.
#include "omed/model/byte_source.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace omed::model {

std::string check_read_range(uint64_t offset, uint64_t len, uint64_t size, std::string_view name) {
  if (len > kMaxSingleRead)
    return "read of " + std::to_string(len) + " bytes from " + std::string(name) + " exceeds the " +
           std::to_string(kMaxSingleRead) + "-byte limit of one read";
  if (offset > size || len > size - offset)
    return "read of " + std::to_string(len) + " bytes at offset " + std::to_string(offset) + " is past the end of " +
           std::string(name) + " (" + std::to_string(size) + " bytes)";
  return {};
}

std::unique_ptr<FileByteSource> FileByteSource::open(const std::string& path, std::string& err) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = "cannot open " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    err = "not a regular file: " + path;
    ::close(fd);
    return nullptr;
  }
  return std::unique_ptr<FileByteSource>(new FileByteSource(fd, static_cast<uint64_t>(st.st_size), path));
}

FileByteSource::~FileByteSource() { ::close(fd_); }

std::string FileByteSource::read(uint64_t offset, uint64_t len, std::string& out) {
  if (auto err = check_read_range(offset, len, size_, path_); !err.empty())
    return err;
  out.resize(len);
  uint64_t done = 0;
  while (done < len) {
    ssize_t n = ::pread(fd_, out.data() + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      out.clear();
      return "reading " + path_ + ": " + std::strerror(errno);
    }
    if (n == 0) {
      out.clear();
      // The file shrank after open: the size we were promised no longer holds.
      return "unexpected end of " + path_ + " at offset " + std::to_string(offset + done);
    }
    done += static_cast<uint64_t>(n);
  }
  return {};
}

std::string MemoryByteSource::read(uint64_t offset, uint64_t len, std::string& out) {
  if (auto err = check_read_range(offset, len, data_.size(), name_); !err.empty())
    return err;
  out.assign(data_, offset, len);
  return {};
}

std::string CountingByteSource::read(uint64_t offset, uint64_t len, std::string& out) {
  std::string err = inner_.read(offset, len, out);
  if (err.empty()) {
    ++reads_;
    bytes_ += len;
    high_ = std::max(high_, offset + len);
  }
  return err;
}

}  // namespace omed::model
