// Content-addressed blobs shared between model directories by hard link: one copy on disk of
// every verified file, found by its sha256 so identical files are never downloaded twice.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace omed::model::transfer {

// True for exactly 64 hex digits (the only names the store accepts: a digest from a hostile
// listing must not become a path).
bool is_sha256_hex(const std::string& s);

class ContentStore {
public:
  ContentStore() = default;  // disabled
  explicit ContentStore(std::filesystem::path root) : root_(std::move(root)) {}

  bool enabled() const { return !root_.empty(); }
  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path blob_path(const std::string& sha256) const;

  struct Blob {
    std::filesystem::path path;
    uint64_t size = 0;
    uint64_t inode = 0;
    uint64_t device = 0;
  };
  // The blob for `sha256` when present (and of `size` bytes when given).
  std::optional<Blob> find(const std::string& sha256, std::optional<uint64_t> size) const;
  // Hard-links the blob to `target`, atomically replacing whatever is there. Returns "" or an
  // error (EXDEV when the store is on another filesystem: the caller downloads instead).
  std::string link_out(const std::string& sha256, const std::filesystem::path& target, bool durable) const;
  // Records a verified file under its digest (no-op when the digest is already stored).
  std::string adopt(const std::filesystem::path& file, const std::string& sha256) const;
  // Deletes blobs that no model directory links to any more; returns the bytes freed.
  uint64_t collect_garbage() const;

private:
  std::filesystem::path root_;
};

// Hard-links `from` at `to` through a temporary name and a rename, so `to` is replaced in one
// step. Returns "" or an error.
std::string link_replacing(const std::filesystem::path& from, const std::filesystem::path& to, bool durable);

}  // namespace omed::model::transfer
