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

struct PlannedFile {
  enum class Kind { Present, LinkStore, LinkDuplicate, Fetch };
  Kind kind = Kind::Fetch;
  bool verified = false;               // Present: a digest matched (or it is a store blob)
  size_t primary = 0;                  // LinkDuplicate: the listing index fetched first
  std::optional<PartialState> resume;  // Fetch: valid state of an earlier run
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

// Reads the destination (never writes): existing files, the content store, partial downloads.
Plan make_plan(const std::vector<RemoteFile>& files, const std::filesystem::path& dest,
               const ContentStore& store, const std::atomic<bool>* cancel);

}  // namespace omed::model::transfer
