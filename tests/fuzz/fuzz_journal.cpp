// libFuzzer target for journal recovery: hostile bytes as DIR/journal (and optionally DIR/snapshot)
// must replay or throw std::runtime_error, never crash, hang or allocate without bound.
//
// Build and run (from the project root):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I include
//     tests/fuzz/fuzz_journal.cpp src/apiserver/journal.cpp -o /tmp/fuzz_journal -lpthread
//   /tmp/fuzz_journal -max_total_time=60
//
// Input layout: byte 0 holds mode bits, then (with kHasSnapshot) a u16 snapshot length and the
// snapshot bytes; the rest is the journal.
//   kHasSnapshot  write DIR/snapshot from the input (otherwise open() creates an empty one)
//   kFixCrcs      rewrite every CRC the harness can locate, so that mutations reach the checks
//                 behind the checksum (batch structure, rv filtering, snapshot counts) instead of
//                 dying at it
//   kWriteAfter   after a successful replay, append, snapshot and replay again, checking that the
//                 recovered journal accepts new writes and returns exactly what was written
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "omed/apiserver/journal.hpp"

namespace {

constexpr uint8_t kHasSnapshot = 1;
constexpr uint8_t kFixCrcs = 2;
constexpr uint8_t kWriteAfter = 4;

// Bitwise CRC32C: deliberately not the implementation under test.
uint32_t crc32c(const uint8_t* p, size_t n, uint32_t crc = 0) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k)
      crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}

uint32_t get32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Walks `buf` from `off` as length-prefixed frames and makes each frame's CRC valid.
void fix_frames(std::string& buf, size_t off) {
  auto* d = reinterpret_cast<uint8_t*>(buf.data());
  while (buf.size() - off >= 8) {
    uint32_t len = get32(d + off);
    if (len > buf.size() - off - 8)
      return;
    put32(d + off + 4, crc32c(d + off + 8, len, crc32c(d + off, 4)));
    off += 8 + len;
  }
}

void fix_snapshot(std::string& buf) {
  if (buf.size() < 28)
    return;
  auto* d = reinterpret_cast<uint8_t*>(buf.data());
  put32(d + 24, crc32c(d, 24));
  fix_frames(buf, 28);
}

bool write_file(const std::string& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return false;
  bool ok = ::write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  ::close(fd);
  return ok;
}

const std::string& work_dir();

void remove_work_dir() {
  for (const char* f : {"/journal", "/snapshot", "/snapshot.tmp", "/journal.tmp"})
    ::unlink((work_dir() + f).c_str());
  ::rmdir(work_dir().c_str());
}

// One directory for the whole run, on tmpfs when there is one: the journal fsyncs, and a real
// disk would make each execution cost milliseconds.
const std::string& work_dir() {
  static const std::string dir = [] {
    std::string tmpl = (::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") + std::string("/fuzz-journal-XXXXXX");
    if (!::mkdtemp(tmpl.data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    return tmpl;
  }();
  // Registered once `dir` is fully constructed, so the handler runs before its destructor
  // (libFuzzer ends a normal run through exit()).
  static const bool cleanup_registered = std::atexit(remove_work_dir) == 0;
  (void)cleanup_registered;
  return dir;
}

[[noreturn]] void invariant_failed(const char* what) {
  std::fprintf(stderr, "fuzz_journal: invariant violated: %s\n", what);
  std::abort();
}

struct Seen {
  std::vector<omed::apiserver::JournalRecord> records;
  uint64_t max_rv = 0;
};

void collect(Seen& s, const omed::apiserver::JournalRecord& r) {
  s.records.push_back(r);
  s.max_rv = std::max(s.max_rv, r.rv);
}

void run(const uint8_t* data, size_t size) {
  using omed::apiserver::Journal;
  using omed::apiserver::JournalRecord;
  if (size == 0)
    return;
  const uint8_t mode = data[0];
  ++data;
  --size;

  std::string snapshot;
  bool has_snapshot = false;
  if ((mode & kHasSnapshot) && size >= 2) {
    size_t len = std::min<size_t>(uint32_t{data[0]} | uint32_t{data[1]} << 8, size - 2);
    snapshot.assign(reinterpret_cast<const char*>(data + 2), len);
    data += 2 + len;
    size -= 2 + len;
    has_snapshot = true;
  }
  std::string journal(reinterpret_cast<const char*>(data), size);
  if (mode & kFixCrcs) {
    fix_frames(journal, 0);
    if (has_snapshot)
      fix_snapshot(snapshot);
  }

  const std::string& dir = work_dir();
  ::unlink((dir + "/snapshot").c_str());
  if (!write_file(dir + "/journal", journal) || (has_snapshot && !write_file(dir + "/snapshot", snapshot))) {
    std::perror("fuzz_journal: writing input");
    std::abort();
  }

  Seen seen;
  uint64_t snapshot_rv = 0;
  {
    auto j = Journal::open(dir);
    try {
      j->replay([&](const JournalRecord& r) { collect(seen, r); }, [&](const JournalRecord& r) { collect(seen, r); });
    } catch (const std::runtime_error&) {
      return;  // rejected as corrupt: a fine outcome for hostile input
    }
    snapshot_rv = j->snapshot_rv();
    // The next rv must exist: a hostile rv of 2^64-1 leaves nothing to append after it.
    if (!(mode & kWriteAfter) || std::max(seen.max_rv, snapshot_rv) == std::numeric_limits<uint64_t>::max())
      return;

    // Recovery must leave a journal that takes new writes right after the surviving records.
    JournalRecord added;
    added.rv = std::max(seen.max_rv, snapshot_rv) + 1;
    added.resource = "v1/configmaps";
    added.key = "fuzz/after";
    added.object = "{}";
    j->append({added});
  }
  {
    auto j = Journal::open(dir);
    Seen again;
    j->replay([&](const JournalRecord& r) { collect(again, r); }, [&](const JournalRecord& r) { collect(again, r); });
    if (again.records.size() != seen.records.size() + 1)
      invariant_failed("replay after append returned a different number of records");
    if (again.records.back().key != "fuzz/after" || again.records.back().rv != std::max(seen.max_rv, snapshot_rv) + 1)
      invariant_failed("the appended record is not the last one replayed");
    // And a snapshot of everything replayed replaces both files consistently.
    const uint64_t rv = again.records.back().rv;
    j->snapshot(rv, [&](const std::function<void(const JournalRecord&)>& emit) {
      for (const auto& r : again.records)
        emit(r);
    });
  }
  {
    auto j = Journal::open(dir);
    Seen last;
    size_t from_journal = 0;
    j->replay([&](const JournalRecord& r) { collect(last, r); },
              [&](const JournalRecord&) { ++from_journal; });
    if (last.records.size() != seen.records.size() + 1 || from_journal != 0)
      invariant_failed("replay after snapshot differs");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    run(data, size);
  } catch (const std::exception& e) {
    // Only replay of the hostile input may throw; open/append/snapshot on a scratch directory
    // failing means the harness itself is broken (disk full, ...), which must not be silent.
    std::fprintf(stderr, "fuzz_journal: unexpected exception: %s\n", e.what());
    std::abort();
  }
  return 0;
}
