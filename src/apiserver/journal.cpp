// Write-ahead journal and snapshots for the embedded API server: CRC32C-framed records written by
// group commit (one write + one fdatasync per batch), torn-tail recovery and crash-safe snapshots.
#include "omed/apiserver/journal.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <stdexcept>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

namespace omed::apiserver {

namespace {

// On-disk format (all integers little-endian).
//
// Frame:   u32 payload_len | u32 crc32c(payload_len bytes ++ payload) | payload
// Payload: u8 version (1) | u8 flags | u64 rv | u64 batch_start | u32 resource_len | u32 key_len
//          | resource | key | object (the rest)
//
// DIR/journal is a sequence of frames. Every append batch (one write + one fdatasync) marks its
// last record with kFlagBatchEnd, and every record carries the file offset where its batch
// begins. A batch is acknowledged only after its fdatasync, and the next batch is written only
// after that, so at most the final batch can be torn by a crash. batch_start lets recovery tell
// a tear inside that final batch (even one that left later pages of it intact, as a power loss
// can) from damage to an earlier, acknowledged batch.
//
// DIR/snapshot: "OMEDSNP1" | u64 rv | u64 record_count | u32 crc32c(previous 24 bytes) | frames.
// It is only ever replaced whole (temp + fsync + rename), so any defect in it is corruption.

constexpr uint8_t kVersion = 1;
constexpr uint8_t kFlagDeleted = 1;
constexpr uint8_t kFlagBatchEnd = 2;
constexpr uint8_t kKnownFlags = kFlagDeleted | kFlagBatchEnd;
constexpr size_t kFrameHeader = 8;
constexpr size_t kPayloadHeader = 1 + 1 + 8 + 8 + 4 + 4;
// Caps a record before anything is allocated or checksummed for it: a hostile or bit-flipped
// length can then cost at most one bounded read, never an unbounded allocation.
constexpr size_t kMaxPayload = 64u << 20;
constexpr char kSnapshotMagic[8] = {'O', 'M', 'E', 'D', 'S', 'N', 'P', '1'};
constexpr size_t kSnapshotHeader = 8 + 8 + 8 + 4;
// Snapshot output is buffered to this size between writes.
constexpr size_t kWriteChunk = 1u << 20;
// Upper bound on how long a group commit leader waits for more requests (see gather()).
constexpr std::chrono::nanoseconds kMaxGather = std::chrono::milliseconds(1);

// ------------------------------------------------------------------ CRC32C

// Castagnoli polynomial (reflected), slice-by-8: eight table lookups per 8 input bytes. The
// tables are built at compile time.
struct Crc32cTables {
  uint32_t t[8][256];
};

constexpr Crc32cTables make_crc32c_tables() {
  Crc32cTables tables{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k)
      c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    tables.t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i)
    for (int s = 1; s < 8; ++s)
      tables.t[s][i] = (tables.t[s - 1][i] >> 8) ^ tables.t[0][tables.t[s - 1][i] & 0xff];
  return tables;
}

constexpr Crc32cTables kCrc = make_crc32c_tables();

uint32_t crc32c_extend(uint32_t crc, const uint8_t* p, size_t n) {
  uint32_t c = ~crc;
  while (n >= 8) {
    // Assembled byte by byte: endian-independent, and compilers turn it into one load.
    uint32_t lo = (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24) ^ c;
    uint32_t hi = uint32_t{p[4]} | uint32_t{p[5]} << 8 | uint32_t{p[6]} << 16 | uint32_t{p[7]} << 24;
    c = kCrc.t[7][lo & 0xff] ^ kCrc.t[6][(lo >> 8) & 0xff] ^ kCrc.t[5][(lo >> 16) & 0xff] ^ kCrc.t[4][lo >> 24] ^
        kCrc.t[3][hi & 0xff] ^ kCrc.t[2][(hi >> 8) & 0xff] ^ kCrc.t[1][(hi >> 16) & 0xff] ^ kCrc.t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--)
    c = kCrc.t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}

// ------------------------------------------------------------------ encoding

void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint32_t get32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

uint64_t get64(const uint8_t* p) {
  return uint64_t{get32(p)} | uint64_t{get32(p + 4)} << 32;
}

size_t payload_size(const JournalRecord& r) {
  return kPayloadHeader + r.resource.size() + r.key.size() + r.object.size();
}

// Rejects records the format cannot hold before any of them is enqueued or written.
void check_encodable(const JournalRecord& r) {
  if (payload_size(r) > kMaxPayload)
    throw std::runtime_error("journal: record " + r.resource + " " + r.key + " (rv " + std::to_string(r.rv) +
                             ") exceeds the " + std::to_string(kMaxPayload >> 20) + " MiB record limit");
}

uint32_t frame_crc(const uint8_t* frame, size_t payload_len) {
  return crc32c_extend(crc32c_extend(0, frame, 4), frame + kFrameHeader, payload_len);
}

void encode_frame(std::string& out, const JournalRecord& r, uint64_t batch_start, bool batch_end) {
  const size_t len = payload_size(r);
  const size_t at = out.size();
  out.resize(at + kFrameHeader + len);
  auto* f = reinterpret_cast<uint8_t*>(out.data()) + at;
  put32(f, static_cast<uint32_t>(len));
  uint8_t* p = f + kFrameHeader;
  p[0] = kVersion;
  p[1] = static_cast<uint8_t>((r.deleted ? kFlagDeleted : 0) | (batch_end ? kFlagBatchEnd : 0));
  put64(p + 2, r.rv);
  put64(p + 10, batch_start);
  put32(p + 18, static_cast<uint32_t>(r.resource.size()));
  put32(p + 22, static_cast<uint32_t>(r.key.size()));
  p += kPayloadHeader;
  std::memcpy(p, r.resource.data(), r.resource.size());
  p += r.resource.size();
  std::memcpy(p, r.key.data(), r.key.size());
  p += r.key.size();
  std::memcpy(p, r.object.data(), r.object.size());
  put32(f + 4, frame_crc(f, len));
}

// A validated frame inside a mapped file.
struct Frame {
  size_t offset = 0;  // of the frame header
  size_t payload_len = 0;
  const uint8_t* payload = nullptr;

  size_t end() const { return offset + kFrameHeader + payload_len; }
  uint8_t flags() const { return payload[1]; }
  uint64_t rv() const { return get64(payload + 2); }
  uint64_t batch_start() const { return get64(payload + 10); }
};

enum class FrameCheck { ok, short_read, bad };

// Checks the frame at `off` without trusting anything in it: the length is bounded by the cap and
// by the bytes present before the payload is touched, the cheap structural checks run before the
// checksum (recovery's resync probes every offset), and only then the CRC.
FrameCheck check_frame(const uint8_t* data, size_t size, size_t off, Frame& f) {
  if (size - off < kFrameHeader)
    return FrameCheck::short_read;
  const uint32_t len = get32(data + off);
  if (len < kPayloadHeader || len > kMaxPayload)
    return FrameCheck::bad;
  if (len > size - off - kFrameHeader)
    return FrameCheck::short_read;
  const uint8_t* p = data + off + kFrameHeader;
  if (p[0] != kVersion || (p[1] & ~kKnownFlags) != 0)
    return FrameCheck::bad;
  const uint64_t strings = uint64_t{get32(p + 18)} + get32(p + 22);
  if (strings > len - kPayloadHeader)
    return FrameCheck::bad;
  if (frame_crc(data + off, len) != get32(data + off + 4))
    return FrameCheck::bad;
  f.offset = off;
  f.payload_len = len;
  f.payload = p;
  return FrameCheck::ok;
}

JournalRecord decode(const Frame& f) {
  const uint8_t* p = f.payload;
  const size_t resource_len = get32(p + 18);
  const size_t key_len = get32(p + 22);
  const auto* s = reinterpret_cast<const char*>(p + kPayloadHeader);
  JournalRecord r;
  r.rv = f.rv();
  r.deleted = (f.flags() & kFlagDeleted) != 0;
  r.resource.assign(s, resource_len);
  r.key.assign(s + resource_len, key_len);
  r.object.assign(s + resource_len + key_len, f.payload_len - kPayloadHeader - resource_len - key_len);
  return r;
}

// ------------------------------------------------------------------ file helpers

[[noreturn]] void throw_errno(const std::string& what, const std::string& path) {
  throw std::runtime_error("journal: " + what + " " + path + ": " + std::strerror(errno));
}

[[noreturn]] void throw_corrupt(const std::string& path, uint64_t offset, const std::string& why) {
  throw std::runtime_error("journal: " + path + " is corrupt at offset " + std::to_string(offset) + ": " + why);
}

class Fd {
public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept {
    reset(o.release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = fd;
  }

private:
  int fd_ = -1;
};

void write_all(int fd, const void* data, size_t n, uint64_t offset, const std::string& path) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR)
        continue;
      throw_errno("cannot write", path);
    }
    p += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
}

void sync_fd(int fd, const std::string& path) {
  if (::fsync(fd) != 0)
    throw_errno("cannot fsync", path);
}

// A read-only view of a whole file. mmap keeps replay from copying a large snapshot into memory
// and gives the resync scan random access; an empty file maps to an empty view.
class Mapped {
public:
  Mapped(int fd, const std::string& path) {
    struct stat st{};
    if (::fstat(fd, &st) != 0)
      throw_errno("cannot stat", path);
    size_ = static_cast<size_t>(st.st_size);
    if (size_ == 0)
      return;
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED)
      throw_errno("cannot map", path);
    ::madvise(p, size_, MADV_SEQUENTIAL);
    data_ = static_cast<const uint8_t*>(p);
  }
  Mapped(const Mapped&) = delete;
  Mapped& operator=(const Mapped&) = delete;
  ~Mapped() {
    if (data_)
      ::munmap(const_cast<uint8_t*>(data_), size_);
  }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

struct BatchInfo {
  uint64_t offset;
  uint64_t max_rv;
};

using Callback = std::function<void(const JournalRecord&)>;

// ------------------------------------------------------------------ snapshot file

std::string snapshot_header(uint64_t rv, uint64_t count) {
  std::string h(kSnapshotHeader, '\0');
  auto* p = reinterpret_cast<uint8_t*>(h.data());
  std::memcpy(p, kSnapshotMagic, sizeof kSnapshotMagic);
  put64(p + 8, rv);
  put64(p + 16, count);
  put32(p + 24, crc32c_extend(0, p, 24));
  return h;
}

// Reads DIR/snapshot, delivering each record to `deliver` (may be null); returns its rv. Unlike
// the journal nothing in it may be torn: it became visible only after it was complete and synced.
uint64_t read_snapshot(int fd, const std::string& path, const Callback* deliver) {
  Mapped m(fd, path);
  const uint8_t* d = m.data();
  if (m.size() < kSnapshotHeader)
    throw_corrupt(path, 0, "truncated header");
  if (std::memcmp(d, kSnapshotMagic, sizeof kSnapshotMagic) != 0)
    throw_corrupt(path, 0, "not an omed snapshot");
  if (crc32c_extend(0, d, 24) != get32(d + 24))
    throw_corrupt(path, 0, "header checksum mismatch");
  const uint64_t rv = get64(d + 8);
  const uint64_t count = get64(d + 16);
  size_t off = kSnapshotHeader;
  // `count` is untrusted: it bounds the loop but sizes nothing.
  for (uint64_t i = 0; i < count; ++i) {
    Frame f;
    switch (check_frame(d, m.size(), off, f)) {
      case FrameCheck::ok: break;
      case FrameCheck::short_read:
        throw_corrupt(path, off, "truncated record " + std::to_string(i) + " of " + std::to_string(count));
      case FrameCheck::bad: throw_corrupt(path, off, "bad record " + std::to_string(i) + " of " + std::to_string(count));
    }
    if (deliver)
      (*deliver)(decode(f));
    off = f.end();
  }
  if (off != m.size())
    throw_corrupt(path, off, "unexpected data after the last record");
  return rv;
}

// ------------------------------------------------------------------ journal scan

struct ScanResult {
  uint64_t valid_end = 0;  // end of the last complete batch: everything after it is dropped
  std::vector<BatchInfo> batches;
};

// After a bad frame at `bad_at`, decides whether the damage is a torn final batch (true) or
// corruption (false). The probe cannot be fooled by the damaged record's own contents: objects
// are JSON text, which never holds the raw control bytes (the zero high byte of any plausible
// length, for one) that a frame header contains. Every valid frame after the damage must belong to the batch that starts
// at `batch_start`, the one being written when the process died; a frame of any other batch
// means data after the damage had been written by a later batch, which only happens after
// the damaged one was synced and acknowledged.
bool damage_is_torn_tail(const uint8_t* d, size_t size, size_t bad_at, uint64_t batch_start) {
  for (size_t p = bad_at + 1; p < size && size - p >= kFrameHeader + kPayloadHeader;) {
    Frame f;
    if (check_frame(d, size, p, f) != FrameCheck::ok || f.batch_start() > p) {
      ++p;  // not a frame boundary (or not a plausible one): keep probing byte by byte
      continue;
    }
    if (f.batch_start() != batch_start)
      return false;
    p = f.end();
  }
  return true;
}

// Walks the journal, delivering the records of each complete batch (rv > min_rv) once its end
// marker is seen, so that records of a torn final batch are never handed out and then dropped.
ScanResult scan_journal(const uint8_t* d, size_t size, const std::string& path, uint64_t min_rv,
                        const Callback* deliver) {
  ScanResult out;
  size_t off = 0;
  uint64_t batch_max_rv = 0;
  std::vector<Frame> batch;  // validated frames of the batch in progress
  while (off < size) {
    Frame f;
    FrameCheck c = check_frame(d, size, off, f);
    if (c != FrameCheck::ok) {
      // A bad or short frame is acceptable only as the tail of the final batch.
      if (!damage_is_torn_tail(d, size, off, out.valid_end))
        throw_corrupt(path, off, c == FrameCheck::bad ? "bad record followed by valid records"
                                                      : "truncated record followed by valid records");
      return out;
    }
    // valid_end is where the batch in progress began (or this frame, when it opens one). A
    // checksummed frame that disagrees cannot come from a torn write.
    if (f.batch_start() != out.valid_end)
      throw_corrupt(path, off,
                    "record claims batch start " + std::to_string(f.batch_start()) + ", expected " +
                        std::to_string(out.valid_end));
    batch.push_back(f);
    batch_max_rv = std::max(batch_max_rv, f.rv());
    off = f.end();
    if (f.flags() & kFlagBatchEnd) {
      if (deliver)
        for (const Frame& g : batch)
          if (g.rv() > min_rv)
            (*deliver)(decode(g));
      out.batches.push_back({out.valid_end, batch_max_rv});
      out.valid_end = off;
      batch.clear();
      batch_max_rv = 0;
    }
  }
  // The file ends inside a batch whose end marker never made it: torn, dropped whole.
  return out;
}

// ------------------------------------------------------------------ the journal

class FileJournal final : public Journal {
public:
  FileJournal(std::string dir, Fd dir_fd, Fd fd, uint64_t size)
    : dir_(std::move(dir)), journal_path_(dir_ + "/journal"), snapshot_path_(dir_ + "/snapshot"),
      dir_fd_(std::move(dir_fd)), fd_(std::move(fd)), bytes_(size) {}

  // The callbacks run while this instance owns the journal file: they must not call append()
  // or snapshot() on it (that would wait for the replay to finish, i.e. forever).
  void replay(const Callback& from_snapshot, const Callback& from_journal) override {
    FileOwner own(*this);
    recover(&from_snapshot, &from_journal);
  }

  uint64_t snapshot_rv() const override { return snapshot_rv_.load(); }

  uint64_t journal_bytes() const override { return bytes_.load(); }

  void append(const std::vector<JournalRecord>& records) override {
    if (records.empty())
      return;
    for (const auto& r : records)
      check_encodable(r);
    std::unique_lock lk(mu_);
    if (!failed_.empty())
      throw std::runtime_error(failed_);
    // Leader/follower group commit: the caller's vector is queued by reference (the caller
    // blocks until it is durable), and whoever finds the file free writes everything queued.
    queue_.push_back(&records);
    const uint64_t ticket = ++enqueued_;
    if (gathering_ && queue_.size() >= gather_target_)
      gather_cv_.notify_one();
    for (;;) {
      if (durable_ >= ticket)
        return;
      if (!failed_.empty())
        throw std::runtime_error(failed_);
      if (!busy_ && exclusive_waiting_ == 0) {
        busy_ = true;
        gather(lk);
        flush(lk);
      } else {
        cv_.wait(lk);
      }
    }
  }

  void snapshot(uint64_t rv, const std::function<void(const Callback&)>& each) override {
    std::lock_guard serial(snapshot_mu_);
    {
      FileOwner own(*this);
      if (!recovered_)
        recover(nullptr, nullptr);
    }
    // Step 1, without holding the file: appends keep flowing into the old journal while the
    // (possibly large) snapshot is written. A crash before the rename leaves the old state.
    write_snapshot_file(rv, each);
    // From here on the new snapshot is in force, paired with the old journal; replay skips
    // journal records with rv <= the snapshot's, so that pairing is already correct.
    snapshot_rv_.store(rv);
    // Step 2: replace the journal. Records appended since the caller captured its state
    // (rv > snapshot rv) are carried into the new journal: dropping them would lose writes that
    // were acknowledged while the snapshot was being written.
    FileOwner own(*this);
    start_new_journal(rv);
  }

private:
  // Exclusive use of the journal file (fd_, end_, batches_, recovered_): held by the group
  // commit leader, replay and the journal swap. Exclusive users announce themselves so that a
  // stream of appends cannot starve them.
  class FileOwner {
  public:
    explicit FileOwner(FileJournal& j) : j_(j) {
      std::unique_lock lk(j_.mu_);
      ++j_.exclusive_waiting_;
      j_.cv_.wait(lk, [&] { return !j_.busy_; });
      --j_.exclusive_waiting_;
      j_.busy_ = true;
    }
    ~FileOwner() {
      {
        std::lock_guard lk(j_.mu_);
        j_.busy_ = false;
      }
      j_.cv_.notify_all();
    }
    FileOwner(const FileOwner&) = delete;
    FileOwner& operator=(const FileOwner&) = delete;

  private:
    FileJournal& j_;
  };

  // Called by the next leader (busy_ already set, mu_ held). Callers acknowledged by the
  // previous flush usually append again within microseconds; flushing only the few requests
  // that are queued at this instant would leave all of them a whole fdatasync behind, which
  // caps a closed loop of N writers well below N records per fdatasync. So wait until as many
  // requests are queued as took part in the last round, but never longer than a small fraction
  // of what a flush costs on this disk (and not at all for a lone writer).
  void gather(std::unique_lock<std::mutex>& lk) {
    if (queue_.size() >= gather_target_ || gather_limit_.count() == 0 || exclusive_waiting_ > 0)
      return;
    gathering_ = true;
    gather_cv_.wait_for(lk, gather_limit_, [&] { return queue_.size() >= gather_target_; });
    gathering_ = false;
  }

  // Called with mu_ held via `lk` and busy_ set; returns with mu_ held. Writes every queued
  // request as one batch and publishes the outcome to all waiters.
  void flush(std::unique_lock<std::mutex>& lk) {
    std::vector<const std::vector<JournalRecord>*> batch;
    batch.swap(queue_);
    const uint64_t last = enqueued_;
    lk.unlock();
    std::string error;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      if (!recovered_)
        recover(nullptr, nullptr);
      write_batch(batch);
    } catch (const std::exception& e) {
      error = e.what();
    }
    const auto took = std::chrono::steady_clock::now() - t0;
    lk.lock();
    busy_ = false;
    // Everyone in this batch plus everyone who queued meanwhile: the writers active right now.
    gather_target_ = batch.size() + queue_.size();
    gather_limit_ = std::min<std::chrono::nanoseconds>(kMaxGather, took / 8);
    if (error.empty()) {
      durable_ = last;
    } else {
      // After a failed write or fdatasync the file's state is unknown (the kernel may have
      // dropped the dirty pages and cleared the error): nothing more may be acknowledged.
      failed_ = error;
    }
    cv_.notify_all();
  }

  void write_batch(const std::vector<const std::vector<JournalRecord>*>& batch) {
    size_t bytes = 0;
    size_t count = 0;
    for (const auto* records : batch)
      for (const auto& r : *records) {
        bytes += kFrameHeader + payload_size(r);
        ++count;
      }
    std::string buf;
    buf.reserve(bytes);
    const uint64_t start = end_;
    uint64_t max_rv = 0;
    size_t i = 0;
    for (const auto* records : batch)
      for (const auto& r : *records) {
        encode_frame(buf, r, start, ++i == count);
        max_rv = std::max(max_rv, r.rv);
      }
    write_all(fd_.get(), buf.data(), buf.size(), start, journal_path_);
    // fdatasync also persists the new file size, which is all the metadata an append needs.
    if (::fdatasync(fd_.get()) != 0)
      throw_errno("cannot fdatasync", journal_path_);
    end_ = start + buf.size();
    batches_.push_back({start, max_rv});
    bytes_.store(end_);
  }

  // Requires FileOwner. Reads the snapshot, then the journal; truncates a torn tail (and syncs
  // the truncation, so a later batch is never written behind garbage that might come back).
  void recover(const Callback* from_snapshot, const Callback* from_journal) {
    {
      Fd sfd(::open(snapshot_path_.c_str(), O_RDONLY | O_CLOEXEC));
      uint64_t rv = 0;
      if (sfd.get() >= 0)
        rv = read_snapshot(sfd.get(), snapshot_path_, from_snapshot);
      else if (errno != ENOENT)
        throw_errno("cannot open", snapshot_path_);
      snapshot_rv_.store(rv);
    }
    ScanResult scan;
    uint64_t size = 0;
    {
      Mapped m(fd_.get(), journal_path_);
      size = m.size();
      scan = scan_journal(m.data(), m.size(), journal_path_, snapshot_rv_.load(), from_journal);
    }
    if (scan.valid_end < size) {
      if (::ftruncate(fd_.get(), static_cast<off_t>(scan.valid_end)) != 0)
        throw_errno("cannot truncate the torn tail of", journal_path_);
      sync_fd(fd_.get(), journal_path_);
    }
    end_ = scan.valid_end;
    batches_ = std::move(scan.batches);
    bytes_.store(end_);
    recovered_ = true;
  }

  void write_snapshot_file(uint64_t rv, const std::function<void(const Callback&)>& each) {
    const std::string tmp = dir_ + "/snapshot.tmp";
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (fd.get() < 0)
      throw_errno("cannot create", tmp);
    try {
      std::string buf = snapshot_header(0, 0);  // placeholder, rewritten once the count is known
      uint64_t offset = 0;
      uint64_t count = 0;
      each([&](const JournalRecord& r) {
        check_encodable(r);
        encode_frame(buf, r, 0, false);
        ++count;
        if (buf.size() >= kWriteChunk) {
          write_all(fd.get(), buf.data(), buf.size(), offset, tmp);
          offset += buf.size();
          buf.clear();
        }
      });
      write_all(fd.get(), buf.data(), buf.size(), offset, tmp);
      const std::string header = snapshot_header(rv, count);
      write_all(fd.get(), header.data(), header.size(), 0, tmp);
      // Contents durable before the name points at them.
      sync_fd(fd.get(), tmp);
      if (::close(fd.release()) != 0)
        throw_errno("cannot close", tmp);
      if (::rename(tmp.c_str(), snapshot_path_.c_str()) != 0)
        throw_errno("cannot rename over", snapshot_path_);
    } catch (...) {
      fd.reset();
      ::unlink(tmp.c_str());
      throw;
    }
    sync_dir_or_fail();
  }

  // Requires FileOwner.
  void start_new_journal(uint64_t rv) {
    // Records with rv > the snapshot's live only in batches whose max rv exceeds it.
    std::string content;
    uint64_t max_rv = 0;
    size_t first = 0;
    while (first < batches_.size() && batches_[first].max_rv <= rv)
      ++first;
    if (first < batches_.size()) {
      const uint64_t from = batches_[first].offset;
      std::string old(end_ - from, '\0');
      for (size_t got = 0; got < old.size();) {
        ssize_t n = ::pread(fd_.get(), old.data() + got, old.size() - got, static_cast<off_t>(from + got));
        if (n < 0 && errno == EINTR)
          continue;
        if (n <= 0) {
          if (n == 0)
            errno = EIO;  // shorter than what we wrote and synced
          throw_errno("cannot read back", journal_path_);
        }
        got += static_cast<size_t>(n);
      }
      std::vector<JournalRecord> keep;
      const auto* d = reinterpret_cast<const uint8_t*>(old.data());
      for (size_t off = 0; off < old.size();) {
        Frame f;
        if (check_frame(d, old.size(), off, f) != FrameCheck::ok)
          throw_corrupt(journal_path_, from + off, "record changed on disk since it was written");
        if (f.rv() > rv)
          keep.push_back(decode(f));
        off = f.end();
      }
      for (size_t i = 0; i < keep.size(); ++i) {
        encode_frame(content, keep[i], 0, i + 1 == keep.size());
        max_rv = std::max(max_rv, keep[i].rv);
      }
    }

    const std::string tmp = dir_ + "/journal.tmp";
    Fd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (fd.get() < 0)
      throw_errno("cannot create", tmp);
    try {
      write_all(fd.get(), content.data(), content.size(), 0, tmp);
      sync_fd(fd.get(), tmp);
      if (::rename(tmp.c_str(), journal_path_.c_str()) != 0)
        throw_errno("cannot rename over", journal_path_);
    } catch (...) {
      // The old journal stays in use, still correct next to the new snapshot.
      fd.reset();
      ::unlink(tmp.c_str());
      throw;
    }
    // The name now points at the new file: appends must go there even if the directory sync
    // below fails, or they would land in an unlinked file.
    fd_ = std::move(fd);
    end_ = content.size();
    batches_.clear();
    if (!content.empty())
      batches_.push_back({0, max_rv});
    bytes_.store(end_);
    sync_dir_or_fail();
  }

  // A failed directory fsync leaves it unknown which files a crash would bring back, so no
  // further write may be acknowledged.
  void sync_dir_or_fail() {
    if (::fsync(dir_fd_.get()) == 0)
      return;
    const std::string msg = std::string("journal: cannot fsync directory ") + dir_ + ": " + std::strerror(errno);
    {
      std::lock_guard lk(mu_);
      failed_ = msg;
    }
    cv_.notify_all();
    throw std::runtime_error(msg);
  }

  const std::string dir_;
  const std::string journal_path_;
  const std::string snapshot_path_;
  Fd dir_fd_;  // also holds the flock that keeps a second process out of the directory

  // Owned by the FileOwner / group commit leader.
  Fd fd_;
  uint64_t end_ = 0;
  std::vector<BatchInfo> batches_;  // complete batches of the current journal, for the swap
  bool recovered_ = false;

  std::atomic<uint64_t> snapshot_rv_{0};
  std::atomic<uint64_t> bytes_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<const std::vector<JournalRecord>*> queue_;
  uint64_t enqueued_ = 0;  // tickets handed out
  uint64_t durable_ = 0;   // every ticket up to this one is durable
  bool busy_ = false;      // someone owns the journal file
  int exclusive_waiting_ = 0;
  std::string failed_;  // non-empty: the journal refuses further writes
  // Group commit batching (see gather()).
  std::condition_variable gather_cv_;
  bool gathering_ = false;
  size_t gather_target_ = 1;
  std::chrono::nanoseconds gather_limit_{0};

  std::mutex snapshot_mu_;
};

}  // namespace

std::unique_ptr<Journal> Journal::open(const std::string& dir_arg) {
  std::string dir = dir_arg;
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
  if (dir.empty())
    throw std::runtime_error("journal: empty directory path");

  if (::mkdir(dir.c_str(), 0700) == 0) {
    // Make the new directory's own entry durable too.
    std::string parent = ".";
    if (auto slash = dir.rfind('/'); slash != std::string::npos)
      parent = slash == 0 ? "/" : dir.substr(0, slash);
    Fd pfd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (pfd.get() < 0 || ::fsync(pfd.get()) != 0)
      throw_errno("cannot sync the parent directory of", dir);
  } else if (errno != EEXIST) {
    throw_errno("cannot create directory", dir);
  }
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0)
    throw_errno("cannot open directory", dir);
  // Two writers appending to one journal would interleave batches and corrupt it.
  if (::flock(dir_fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      throw std::runtime_error("journal: " + dir + " is in use by another journal instance");
    throw_errno("cannot lock", dir);
  }

  // Leftovers of an interrupted snapshot: never complete, never referenced.
  for (const char* stale : {"/snapshot.tmp", "/journal.tmp"}) {
    const std::string p = dir + stale;
    if (::unlink(p.c_str()) != 0 && errno != ENOENT)
      throw_errno("cannot remove", p);
  }

  const std::string journal_path = dir + "/journal";
  Fd fd(::open(journal_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0)
    throw_errno("cannot open", journal_path);
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0)
    throw_errno("cannot stat", journal_path);

  const std::string snapshot_path = dir + "/snapshot";
  if (::access(snapshot_path.c_str(), F_OK) != 0) {
    if (errno != ENOENT)
      throw_errno("cannot access", snapshot_path);
    // An empty snapshot (rv 0), written the same crash-safe way as every later one.
    const std::string tmp = dir + "/snapshot.tmp";
    Fd sfd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (sfd.get() < 0)
      throw_errno("cannot create", tmp);
    const std::string header = snapshot_header(0, 0);
    write_all(sfd.get(), header.data(), header.size(), 0, tmp);
    sync_fd(sfd.get(), tmp);
    sfd.reset();
    if (::rename(tmp.c_str(), snapshot_path.c_str()) != 0)
      throw_errno("cannot rename over", snapshot_path);
  }
  // Covers the journal's creation, the snapshot's rename and the removal of leftovers.
  if (::fsync(dir_fd.get()) != 0)
    throw_errno("cannot fsync directory", dir);

  return std::make_unique<FileJournal>(dir, std::move(dir_fd), std::move(fd), static_cast<uint64_t>(st.st_size));
}

}  // namespace omed::apiserver
