// What survives a crash of an unfinished download: which bytes of the .part file can be trusted,
// and the identity of the remote file they came from (so a changed file restarts cleanly).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "omed/model/transfer/range_map.hpp"

namespace omed::model::transfer {

// Two levels of trust keep checkpoints cheap and still safe. `durable` bytes were fdatasync'd
// before the state said so: they survive anything. `written` bytes reached the page cache: they
// survive the process dying (kill -9, OOM) but not the machine, so they only count when the
// state is read back under the same kernel boot it was written in.
struct PartialState {
  uint64_t size = 0;
  std::string sha256;        // the listing's digest when the download started (may be empty)
  std::string listing_etag;  // the listing's validator when the download started
  std::string server_etag;   // the validator the server sent with the bytes (for If-Range)
  std::string boot_id;       // kernel boot the `written` ranges belong to
  RangeMap durable;
  RangeMap written;          // superset of durable at the time of writing

  std::string encode() const;
  // Strict: a truncated, foreign or inconsistent text is rejected (the caller starts over).
  static bool decode(const std::string& text, PartialState& out);
  // The ranges a restart may skip: written ones when still in the same boot, else durable ones.
  RangeMap usable(const std::string& current_boot_id) const;
  bool operator==(const PartialState& o) const {
    return size == o.size && sha256 == o.sha256 && listing_etag == o.listing_etag &&
           server_etag == o.server_etag && boot_id == o.boot_id && durable.spans() == o.durable.spans() &&
           written.spans() == o.written.spans();
  }
};

// This kernel boot's identity (/proc/sys/kernel/random/boot_id); empty when unknown, which
// makes only durable ranges count.
const std::string& current_boot_id();

// The same-boot record of `state_path` inside `fast_dir` (a tmpfs): one flat file per download,
// named by a digest of the absolute state path.
std::filesystem::path fast_state_path(const std::filesystem::path& fast_dir,
                                      const std::filesystem::path& state_path);

// Reads a state file; false when absent or invalid.
bool load_partial_state(const std::filesystem::path& path, PartialState& out);
// Atomic replace (see write_file_atomically). Returns an error or "".
std::string save_partial_state(const std::filesystem::path& path, const PartialState& state,
                               bool durable);

}  // namespace omed::model::transfer
