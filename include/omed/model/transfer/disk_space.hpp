// The up-front disk space check: a download that cannot fit fails before it starts, with the
// numbers a user needs to fix it, instead of hours later with ENOSPC.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace omed::model::transfer {

// Bytes an unprivileged writer may still use on the filesystem holding `dir` (or its nearest
// existing ancestor); nullopt when statvfs fails.
std::optional<uint64_t> free_bytes(const std::filesystem::path& dir);

// "" when `needed + margin` fits; else "not enough disk space: the download needs X GiB, Y GiB
// free on <dir>".
std::string check_disk_space(const std::filesystem::path& dir, uint64_t needed, uint64_t margin);

// 1.5 GiB, 300.0 MiB, 12 KiB: human sizes for messages and progress.
std::string format_bytes(uint64_t n);

}  // namespace omed::model::transfer
