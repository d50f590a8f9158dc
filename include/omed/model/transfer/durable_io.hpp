// Small filesystem primitives with explicit durability: atomic replace of a small file,
// directory fsync, and errno rendered as a user-facing reason.
#pragma once

#include <filesystem>
#include <string>

namespace omed::model::transfer {

// Writes `content` to a temporary sibling, fsyncs it (when durable) and renames it over `path`,
// so readers see either the old or the new content, never a torn mix. Returns an error or "".
std::string write_file_atomically(const std::filesystem::path& path, const std::string& content,
                                  bool durable);

// The first half of write_file_atomically: `content` in a new temporary sibling of `path`
// (fsync'd when durable), named in `tmp`, for a caller that renames it later. Returns "" or an error.
std::string write_temp_file(const std::filesystem::path& path, const std::string& content, bool durable,
                            std::filesystem::path& tmp);

// Makes a rename or link inside `dir` survive a power loss. Returns an error or "".
std::string fsync_directory(const std::filesystem::path& dir);

// "No space left on device" style text for an errno, with a hint for the common disk errors.
std::string describe_errno(int err);

// The nearest existing ancestor of `p` (itself when it exists); statvfs needs a real path.
std::filesystem::path existing_ancestor(const std::filesystem::path& p);

}  // namespace omed::model::transfer
