// Random access to the bytes of one model file, wherever they live (local file, memory, later an
// HTTP Range reader). Weight parsers read only through this, so they work remotely for free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace omed::model {

class ByteSource {
public:
  virtual ~ByteSource() = default;

  // Total size in bytes, known up front (a listing or stat gives it; parsers bound reads by it).
  virtual uint64_t size() const = 0;

  // Reads exactly `len` bytes at `offset` into `out` (replacing its content). A range that does
  // not lie inside [0, size()) is refused before anything is allocated. Returns an error message,
  // empty on success.
  [[nodiscard]] virtual std::string read(uint64_t offset, uint64_t len, std::string& out) = 0;

  // What to call the source in error messages ("model-1-of-2.safetensors").
  virtual std::string name() const = 0;
};

// The check every implementation makes first: returns an error when [offset, offset+len) is not
// inside a source of `size` bytes, or when len is beyond what one read may ask for.
std::string check_read_range(uint64_t offset, uint64_t len, uint64_t size, std::string_view name);

// The largest single read any source serves: parsers ask for headers, never for whole weights.
inline constexpr uint64_t kMaxSingleRead = 1ull << 30;

// A local file read with pread(2): no shared file position, so one source may serve several
// readers in turn.
class FileByteSource final : public ByteSource {
public:
  // Opens `path` read-only; returns null and fills `err` when it cannot.
  static std::unique_ptr<FileByteSource> open(const std::string& path, std::string& err);
  ~FileByteSource() override;
  FileByteSource(const FileByteSource&) = delete;
  FileByteSource& operator=(const FileByteSource&) = delete;

  uint64_t size() const override { return size_; }
  [[nodiscard]] std::string read(uint64_t offset, uint64_t len, std::string& out) override;
  std::string name() const override { return path_; }

private:
  FileByteSource(int fd, uint64_t size, std::string path) : fd_(fd), size_(size), path_(std::move(path)) {}
  int fd_;
  uint64_t size_;
  std::string path_;
};

// Bytes already in memory (fuzzers, tests, a header fetched ahead). Owns its copy.
class MemoryByteSource final : public ByteSource {
public:
  explicit MemoryByteSource(std::string data, std::string name = "<memory>")
    : data_(std::move(data)), name_(std::move(name)) {}

  uint64_t size() const override { return data_.size(); }
  [[nodiscard]] std::string read(uint64_t offset, uint64_t len, std::string& out) override;
  std::string name() const override { return name_; }

private:
  std::string data_;
  std::string name_;
};

// Wraps another source and counts what is asked of it: how many reads and how many bytes. Tests
// use it to hold parsers to "read the header only"; a remote source's caller can meter with it.
class CountingByteSource final : public ByteSource {
public:
  explicit CountingByteSource(ByteSource& inner) : inner_(inner) {}

  uint64_t size() const override { return inner_.size(); }
  [[nodiscard]] std::string read(uint64_t offset, uint64_t len, std::string& out) override;
  std::string name() const override { return inner_.name(); }

  uint64_t reads() const { return reads_; }
  uint64_t bytes_read() const { return bytes_; }
  // One past the highest byte read so far (how far into the file a parser had to look).
  uint64_t high_water() const { return high_; }

private:
  ByteSource& inner_;
  uint64_t reads_ = 0;
  uint64_t bytes_ = 0;
  uint64_t high_ = 0;
};

}  // namespace omed::model
