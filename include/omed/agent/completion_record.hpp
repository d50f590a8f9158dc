// What a finished download leaves in its model directory: the listing it satisfied. With
// downloadPolicy ReuseIfExists a node keeps serving that copy when the source cannot be listed.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "omed/model/remote_file.hpp"

namespace omed::agent {

// Dot-named so that runtimes and the parser, which read model files by name, never see it.
inline constexpr const char* kCompletionRecordName = ".omed-complete.json";

struct CompletionRecord {
  std::string storage_uri;
  std::string revision;
  std::string completed_at;  // RFC 3339
  model::RemoteListing listing;
};

// Records `listing` as complete in `dir` (atomic replace, fsync'd). Returns "" or an error.
std::string write_completion_record(const std::filesystem::path& dir, const std::string& storage_uri,
                                    const model::RemoteListing& listing);

// The record in `dir` when it exists, parses, and belongs to `storage_uri`.
std::optional<CompletionRecord> read_completion_record(const std::filesystem::path& dir,
                                                       const std::string& storage_uri);

// "" when every recorded file is in `dir` with its recorded size (a regular file, not a
// symlink out of the directory); else what is missing. Sizes only: the files were verified
// when recorded and a full re-hash of hundreds of GiB is what an unreachable source cannot wait for.
std::string check_recorded_files(const std::filesystem::path& dir, const CompletionRecord& record);

}  // namespace omed::agent
