// Internal to the transfer engine: decides, before any byte is written, what each listed file
// needs (kept, linked, resumed or fetched) and how many bytes the run will have to download.
#pragma once

#include <atomic>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "omed/model/remote_file.hpp"
#include "omed/model/transfer.hpp"
#include "omed/model/transfer/content_store.hpp"
#include "omed/model/transfer/partial_state.hpp"

namespace omed::model::transfer {

struct Resume {
  RangeMap usable;                     // bytes of the .part file a restart may keep
  RangeMap durable;                    // the fdatasync'd part of them
  std::string server_etag;
};

struct PlannedFile {
  enum class Kind { Present, LinkStore, LinkDuplicate, Fetch };
  Kind kind = Kind::Fetch;
  bool verified = false;               // Present: a digest matched (or it is a store blob)
  size_t primary = 0;                  // LinkDuplicate: the listing index fetched first
  std::optional<Resume> resume;        // Fetch: what an earlier run left that is still valid
  uint64_t missing = 0;                // Fetch: bytes still to download (0 when size unknown)
  std::string sha256;                  // known or computed
};

struct Plan {
  std::string error;                   // the listing is unusable; nothing may be written
  std::vector<PlannedFile> files;      // parallel to the listing
  uint64_t bytes_to_fetch = 0;
};

// Checks every entry (safe relative path, unique, http(s) URL, well-formed digests) without
// touching the disk. Returns "" or the first problem.
std::string validate_listing(const std::vector<RemoteFile>& files);

// Reads the destination (never writes): existing files, the content store, partial downloads
// (their state next to the .part file and, when `fast_dir` is set, the same-boot record there).
// Without `link_from_store` the store only vouches for files already in `dest`; content other
// downloads brought is fetched again.
Plan make_plan(const std::vector<RemoteFile>& files, const std::filesystem::path& dest,
               const ContentStore& store, bool link_from_store, const std::filesystem::path& fast_dir,
               const std::atomic<bool>* cancel);

// Combines the two records of one partial download into what may be reused; nullopt when
// neither describes this listing entry (`sha256` lowercase).
std::optional<Resume> resume_from(const RemoteFile& f, const std::string& sha256,
                                  const std::optional<PartialState>& on_disk,
                                  const std::optional<PartialState>& fast, const std::string& boot_id);

}  // namespace omed::model::transfer
