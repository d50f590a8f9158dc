// Tests for the API server's write-ahead journal: round trips, group commit under contention,
// torn tails and corruption, snapshots and crashes during them, and real kill -9 crashes.
#include "omed/apiserver/journal.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "../support/test_env.hpp"

using namespace omed::apiserver;
using omed::testing::TempDir;
namespace fs = std::filesystem;

namespace omed::apiserver {
bool operator==(const JournalRecord& a, const JournalRecord& b) {
  return a.rv == b.rv && a.resource == b.resource && a.key == b.key && a.deleted == b.deleted && a.object == b.object;
}
std::ostream& operator<<(std::ostream& os, const JournalRecord& r) {
  return os << "{rv " << r.rv << " " << r.resource << " " << r.key << (r.deleted ? " deleted" : "") << " "
            << r.object.size() << " bytes}";
}
}  // namespace omed::apiserver

namespace {

// A record whose every field is a function of its rv, so that a replayed record can be checked
// for garbling without remembering what was written.
JournalRecord make_record(uint64_t rv, size_t object_size = 1024) {
  JournalRecord r;
  r.rv = rv;
  r.resource = rv % 3 == 0 ? "apps/v1/deployments" : "v1/configmaps";
  r.key = "ns-" + std::to_string(rv % 7) + "/obj-" + std::to_string(rv);
  std::string body = "{\"metadata\":{\"name\":\"obj-" + std::to_string(rv) + "\",\"resourceVersion\":\"" +
                     std::to_string(rv) + "\"},\"data\":\"";
  std::string tail = "\"}";
  while (body.size() + tail.size() < object_size)
    body.push_back(static_cast<char>('a' + (body.size() * 31 + rv) % 26));
  r.object = body + tail;
  return r;
}

bool is_intact(const JournalRecord& r, size_t object_size) {
  return r == make_record(r.rv, object_size);
}

struct Replayed {
  std::vector<JournalRecord> snapshot;
  std::vector<JournalRecord> journal;
  uint64_t snapshot_rv = 0;

  std::vector<uint64_t> rvs() const {
    std::vector<uint64_t> out;
    for (auto& r : snapshot)
      out.push_back(r.rv);
    for (auto& r : journal)
      out.push_back(r.rv);
    return out;
  }
};

Replayed replay(Journal& j) {
  Replayed out;
  j.replay([&](const JournalRecord& r) { out.snapshot.push_back(r); },
           [&](const JournalRecord& r) { out.journal.push_back(r); });
  out.snapshot_rv = j.snapshot_rv();
  return out;
}

Replayed reopen_and_replay(const fs::path& dir) {
  auto j = Journal::open(dir.string());
  return replay(*j);
}

std::vector<uint64_t> range(uint64_t from, uint64_t to) {
  std::vector<uint64_t> v;
  for (uint64_t i = from; i <= to; ++i)
    v.push_back(i);
  return v;
}

void copy_dir(const fs::path& from, const fs::path& to) {
  fs::remove_all(to);
  fs::create_directories(to);
  for (auto& e : fs::directory_iterator(from))
    fs::copy_file(e.path(), to / e.path().filename());
}

void truncate_file(const fs::path& p, uint64_t size) {
  fs::resize_file(p, size);
}

void patch_byte(const fs::path& p, uint64_t offset, uint8_t xor_mask) {
  std::string data = omed::testing::read_file(p);
  REQUIRE(offset < data.size());
  data[offset] = static_cast<char>(static_cast<uint8_t>(data[offset]) ^ xor_mask);
  omed::testing::write_file(p, data);
}

void append_bytes(const fs::path& p, const std::string& bytes) {
  std::string data = omed::testing::read_file(p);
  omed::testing::write_file(p, data + bytes);
}

// Bitwise CRC32C, independent of the implementation's slice-by-8 tables.
uint32_t crc32c_reference(const uint8_t* p, size_t n, uint32_t crc = 0) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k)
      crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}

uint32_t le32(const std::string& s, size_t off) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i)
    v = (v << 8) | static_cast<uint8_t>(s[off + static_cast<size_t>(i)]);
  return v;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("journal: fresh directory and on-disk frame format", "[journal]") {
  TempDir tmp;
  fs::path dir = tmp.path() / "state";  // created by open

  {
    auto j = Journal::open(dir.string());
    CHECK(fs::exists(dir / "journal"));
    CHECK(fs::exists(dir / "snapshot"));
    CHECK((fs::status(dir / "journal").permissions() & fs::perms::others_read) == fs::perms::none);
    Replayed r = replay(*j);
    CHECK(r.snapshot.empty());
    CHECK(r.journal.empty());
    CHECK(r.snapshot_rv == 0);
    CHECK(j->journal_bytes() == 0);
    j->append({make_record(1, 100)});
    CHECK(j->journal_bytes() > 100);
    CHECK(j->journal_bytes() == fs::file_size(dir / "journal"));
  }

  // The frame is u32 length | u32 CRC32C(length ++ payload) | payload, checked with a bitwise
  // CRC32C so that the table-driven implementation is held to the real Castagnoli polynomial.
  const uint8_t check[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  REQUIRE(crc32c_reference(check, sizeof check) == 0xE3069283u);
  std::string data = omed::testing::read_file(dir / "journal");
  REQUIRE(data.size() >= 8);
  uint32_t len = le32(data, 0);
  CHECK(len == data.size() - 8);
  auto* bytes = reinterpret_cast<const uint8_t*>(data.data());
  CHECK(le32(data, 4) == crc32c_reference(bytes + 8, len, crc32c_reference(bytes, 4)));
  // And the slicing path (8 bytes at a time) agrees with it on a long, unaligned record.
  {
    auto j = Journal::open(dir.string());
    replay(*j);
    j->append({make_record(2, 5000)});
  }
  data = omed::testing::read_file(dir / "journal");
  size_t second = 8 + len;
  uint32_t len2 = le32(data, second);
  bytes = reinterpret_cast<const uint8_t*>(data.data());
  CHECK(le32(data, second + 4) == crc32c_reference(bytes + second + 8, len2, crc32c_reference(bytes + second, 4)));

  SECTION("a second instance on the same directory is refused") {
    auto j = Journal::open(dir.string());
    std::string err = error_of([&] { Journal::open(dir.string()); });
    CHECK(err.find(dir.string()) != std::string::npos);
  }
  SECTION("an unusable path names itself in the error") {
    fs::path file = tmp.path() / "plain-file";
    omed::testing::write_file(file, "x");
    std::string err = error_of([&] { Journal::open((file / "sub").string()); });
    CHECK(err.find((file / "sub").string()) != std::string::npos);
  }
}

TEST_CASE("journal: round trip of many records", "[journal]") {
  TempDir tmp;
  std::vector<JournalRecord> written;
  std::mt19937 rng(7);
  {
    auto j = Journal::open(tmp.path().string());
    replay(*j);
    uint64_t rv = 0;
    for (int call = 0; call < 300; ++call) {
      std::vector<JournalRecord> batch;
      int n = 1 + static_cast<int>(rng() % 8);
      for (int i = 0; i < n; ++i) {
        JournalRecord r = make_record(++rv, rng() % 3000);
        if (rv % 11 == 0) {
          r.deleted = true;
          r.object.clear();
        }
        if (rv % 17 == 0)
          r.object = std::string("bin\0ary\xff\x00\x01", 11);  // opaque bytes survive
        if (rv % 19 == 0)
          r.resource.clear();
        batch.push_back(r);
      }
      j->append(batch);
      written.insert(written.end(), batch.begin(), batch.end());
    }
    JournalRecord big = make_record(++rv, 3 << 20);  // one multi-MiB object
    j->append({big});
    written.push_back(big);
    j->append({});  // a no-op
  }
  Replayed r = reopen_and_replay(tmp.path());
  CHECK(r.snapshot.empty());
  REQUIRE(r.journal.size() == written.size());
  for (size_t i = 0; i < written.size(); ++i)
    REQUIRE(r.journal[i] == written[i]);

  SECTION("replay twice on one instance gives the same result") {
    auto j = Journal::open(tmp.path().string());
    Replayed a = replay(*j);
    Replayed b = replay(*j);
    CHECK(a.journal.size() == b.journal.size());
  }
  SECTION("appending without a replay first recovers implicitly") {
    {
      auto j = Journal::open(tmp.path().string());
      j->append({make_record(100000, 10)});
    }
    Replayed again = reopen_and_replay(tmp.path());
    REQUIRE(again.journal.size() == written.size() + 1);
    CHECK(again.journal.back() == make_record(100000, 10));
  }
}

TEST_CASE("journal: oversized records are refused before anything is written", "[journal]") {
  TempDir tmp;
  auto j = Journal::open(tmp.path().string());
  replay(*j);
  j->append({make_record(1, 10)});
  JournalRecord huge = make_record(2, 10);
  huge.object.assign((64u << 20) + 1, 'x');
  std::vector<JournalRecord> batch{make_record(2, 10), huge};
  CHECK_THROWS_AS(j->append(batch), std::runtime_error);
  j->append({make_record(3, 10)});  // still usable
  j.reset();
  CHECK(reopen_and_replay(tmp.path()).rvs() == std::vector<uint64_t>{1, 3});
}

TEST_CASE("journal: group commit from 16 threads", "[journal]") {
  TempDir tmp;
  constexpr int kThreads = 16;
  constexpr int kPerThread = 200;
  std::atomic<uint64_t> next_rv{1};
  std::vector<std::vector<uint64_t>> acked(kThreads);

  // fsync cost on this disk first: every figure below is relative to it.
  double fsync_us = 0;
  {
    auto j = Journal::open((tmp.path() / "serial").string());
    replay(*j);
    constexpr int kSerial = 200;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 1; i <= kSerial; ++i)
      j->append({make_record(static_cast<uint64_t>(i))});
    fsync_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / kSerial;
  }

  // Best of up to three runs: the VM disk is shared, and a neighbour's burst of I/O can stretch
  // fdatasync several-fold for a while. Each run writes its own journal; the last one is checked.
  double rate = 0;
  fs::path group;
  for (int attempt = 0; attempt < 3 && rate < 2000; ++attempt) {
    group = tmp.path() / ("group" + std::to_string(attempt));
    for (auto& a : acked)
      a.clear();
    next_rv = 1;
    auto j = Journal::open(group.string());
    replay(*j);
    std::vector<std::thread> threads;
    auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          uint64_t rv = next_rv.fetch_add(1);
          j->append({make_record(rv)});
          acked[static_cast<size_t>(t)].push_back(rv);
        }
      });
    for (auto& th : threads)
      th.join();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double this_rate = kThreads * kPerThread / seconds;
    rate = std::max(rate, this_rate);
    std::cerr << "journal: serial append (1 KiB, one fdatasync each): " << static_cast<int>(fsync_us)
              << " us/append; group commit, " << kThreads << " threads: " << static_cast<int>(this_rate)
              << " appends/s (" << kThreads * kPerThread << " in " << seconds << " s)\n";
  }
  CHECK(rate >= 2000);

  Replayed r = reopen_and_replay(group);
  REQUIRE(r.journal.size() == static_cast<size_t>(kThreads * kPerThread));
  // Exactly once, intact.
  std::set<uint64_t> seen;
  for (auto& rec : r.journal) {
    REQUIRE(is_intact(rec, 1024));
    REQUIRE(seen.insert(rec.rv).second);
  }
  CHECK(seen.size() == static_cast<size_t>(kThreads * kPerThread));
  CHECK(*seen.rbegin() == static_cast<uint64_t>(kThreads * kPerThread));
  // Replay follows write order, and each thread's writes appear in its own rv order.
  std::map<uint64_t, size_t> position;
  for (size_t i = 0; i < r.journal.size(); ++i)
    position[r.journal[i].rv] = i;
  for (auto& mine : acked)
    for (size_t i = 1; i < mine.size(); ++i)
      REQUIRE(position[mine[i - 1]] < position[mine[i]]);
}

TEST_CASE("journal: a torn tail is truncated at every byte of the last record", "[journal]") {
  TempDir tmp;
  fs::path orig = tmp.path() / "orig";
  uint64_t last_start = 0;
  uint64_t last_end = 0;
  {
    auto j = Journal::open(orig.string());
    replay(*j);
    for (uint64_t rv = 1; rv <= 19; ++rv)
      j->append({make_record(rv, 300)});
    last_start = j->journal_bytes();
    j->append({make_record(20, 300)});
    last_end = j->journal_bytes();
  }
  REQUIRE(last_end > last_start);
  const std::vector<uint64_t> earlier = range(1, 19);

  fs::path work = tmp.path() / "work";
  for (uint64_t cut = last_start; cut < last_end; ++cut) {
    copy_dir(orig, work);
    truncate_file(work / "journal", cut);
    auto j = Journal::open(work.string());
    Replayed r = replay(*j);
    INFO("cut at " << cut);
    REQUIRE(r.rvs() == earlier);
    // The tail is gone from disk, so a new append lands right after record 19.
    REQUIRE(fs::file_size(work / "journal") == last_start);
    if (cut % 16 == 0) {
      j->append({make_record(21, 50)});
      j.reset();
      std::vector<uint64_t> expect = earlier;
      expect.push_back(21);
      REQUIRE(reopen_and_replay(work).rvs() == expect);
    }
  }

  SECTION("a multi-record append is all or nothing") {
    copy_dir(orig, work);
    uint64_t start = 0;
    uint64_t end = 0;
    {
      auto j = Journal::open(work.string());
      replay(*j);
      start = j->journal_bytes();
      j->append({make_record(21, 300), make_record(22, 300), make_record(23, 300)});
      end = j->journal_bytes();
    }
    fs::path cut_dir = tmp.path() / "cut";
    for (uint64_t cut : {start + 1, start + (end - start) / 2, end - 1}) {
      copy_dir(work, cut_dir);
      truncate_file(cut_dir / "journal", cut);
      CHECK(reopen_and_replay(cut_dir).rvs() == range(1, 20));
    }
  }
  SECTION("zeros or junk after the last record (a crash that extended the file) are dropped") {
    for (const std::string& junk : {std::string(4096, '\0'), std::string("\xff\xff\xff\xff garbage"),
                                    std::string("\x00\x00\x00\x04", 4) + std::string(8, '\x11')}) {
      copy_dir(orig, work);
      append_bytes(work / "journal", junk);
      CHECK(reopen_and_replay(work).rvs() == range(1, 20));
      CHECK(fs::file_size(work / "journal") == last_end);
    }
  }
  SECTION("a hostile length at the tail allocates nothing and is dropped") {
    for (uint32_t len : {0xFFFFFFFFu, (64u << 20) - 1, (64u << 20) + 1}) {
      copy_dir(orig, work);
      std::string hdr(8, '\0');
      for (int i = 0; i < 4; ++i)
        hdr[static_cast<size_t>(i)] = static_cast<char>(len >> (8 * i));
      append_bytes(work / "journal", hdr + "payload");
      CHECK(reopen_and_replay(work).rvs() == range(1, 20));
    }
  }
}

TEST_CASE("journal: damage inside the final batch is a torn write, not corruption", "[journal]") {
  // A power loss can persist later pages of an unsynced write but not earlier ones; the final
  // batch then has a hole with intact records after it. That batch was never acknowledged.
  TempDir tmp;
  uint64_t batch_start = 0;
  {
    auto j = Journal::open(tmp.path().string());
    replay(*j);
    for (uint64_t rv = 1; rv <= 5; ++rv)
      j->append({make_record(rv, 200)});
    batch_start = j->journal_bytes();
    j->append({make_record(6, 200), make_record(7, 200), make_record(8, 200)});
  }
  // Zero the batch's middle record (frame header included); records 6 and 8 stay intact.
  std::string data = omed::testing::read_file(tmp.path() / "journal");
  const uint64_t second = batch_start + 8 + le32(data, batch_start);
  const uint64_t third = second + 8 + le32(data, second);
  REQUIRE(third < data.size());
  std::fill(data.begin() + static_cast<long>(second), data.begin() + static_cast<long>(third), '\0');
  omed::testing::write_file(tmp.path() / "journal", data);
  Replayed r = reopen_and_replay(tmp.path());
  CHECK(r.rvs() == range(1, 5));
  CHECK(fs::file_size(tmp.path() / "journal") == batch_start);
}

TEST_CASE("journal: corruption before the tail is an error naming file and offset", "[journal]") {
  TempDir tmp;
  std::vector<uint64_t> offsets;  // start of each record
  {
    auto j = Journal::open(tmp.path().string());
    replay(*j);
    for (uint64_t rv = 1; rv <= 20; ++rv) {
      offsets.push_back(j->journal_bytes());
      j->append({make_record(rv, 256)});
    }
  }
  fs::path journal = tmp.path() / "journal";
  fs::path work = tmp.path() / "work";
  const std::string original = omed::testing::read_file(journal);

  struct Case {
    const char* what;
    uint64_t offset;  // byte to flip
    uint64_t record;  // the offset the error must name
  };
  for (const Case& c : {Case{"payload bit flip", offsets[5] + 100, offsets[5]},
                        Case{"length field", offsets[5] + 1, offsets[5]},
                        Case{"length field, low byte", offsets[9], offsets[9]},
                        Case{"CRC field", offsets[5] + 5, offsets[5]},
                        Case{"first record", offsets[0] + 20, offsets[0]},
                        Case{"next to last record", offsets[18] + 50, offsets[18]}}) {
    INFO(c.what);
    fs::create_directories(work);
    omed::testing::write_file(work / "journal", original);
    fs::copy_file(tmp.path() / "snapshot", work / "snapshot", fs::copy_options::overwrite_existing);
    patch_byte(work / "journal", c.offset, 0x40);
    std::string err = error_of([&] { reopen_and_replay(work); });
    CHECK(err.find((work / "journal").string()) != std::string::npos);
    CHECK(err.find("offset " + std::to_string(c.record)) != std::string::npos);
    // Nothing was truncated: the damaged file is left for inspection.
    CHECK(omed::testing::read_file(work / "journal").size() == original.size());
    // And appends refuse to write behind the damage.
    auto j = Journal::open(work.string());
    CHECK_THROWS_AS(j->append({make_record(99, 10)}), std::runtime_error);
  }
}

TEST_CASE("journal: snapshot, then more appends, then replay", "[journal]") {
  TempDir tmp;
  std::map<std::string, JournalRecord> state;  // key -> latest
  auto apply = [&](const JournalRecord& r) {
    if (r.deleted)
      state.erase(r.key);
    else
      state[r.key] = r;
  };
  auto yield_state = [&](const std::function<void(const JournalRecord&)>& emit) {
    for (auto& [k, r] : state)
      emit(r);
  };
  std::vector<JournalRecord> after;
  {
    auto j = Journal::open(tmp.path().string());
    replay(*j);
    for (uint64_t rv = 1; rv <= 100; ++rv) {
      JournalRecord r = make_record(rv, 300);
      r.key = "ns/obj-" + std::to_string(rv % 40);  // overwrites
      if (rv % 9 == 0) {
        r.deleted = true;
        r.object.clear();
      }
      j->append({r});
      apply(r);
    }
    const uint64_t before = j->journal_bytes();
    j->snapshot(100, yield_state);
    CHECK(j->snapshot_rv() == 100);
    CHECK(j->journal_bytes() == 0);
    CHECK(before > 0);
    for (uint64_t rv = 101; rv <= 150; ++rv) {
      after.push_back(make_record(rv, 300));
      j->append({after.back()});
    }
  }
  Replayed r = reopen_and_replay(tmp.path());
  CHECK(r.snapshot_rv == 100);
  REQUIRE(r.snapshot.size() == state.size());
  size_t i = 0;
  for (auto& [k, rec] : state)
    CHECK(r.snapshot[i++] == rec);
  CHECK(r.journal == after);
  CHECK_FALSE(fs::exists(tmp.path() / "snapshot.tmp"));
  CHECK_FALSE(fs::exists(tmp.path() / "journal.tmp"));

  SECTION("a second snapshot replaces the first") {
    {
      auto j = Journal::open(tmp.path().string());
      replay(*j);
      j->snapshot(150, [&](const std::function<void(const JournalRecord&)>& emit) {
        for (auto& rec : after)
          emit(rec);
      });
      j->append({make_record(151, 10)});
    }
    Replayed again = reopen_and_replay(tmp.path());
    CHECK(again.snapshot_rv == 150);
    CHECK(again.snapshot == after);
    CHECK(again.rvs().back() == 151);
    CHECK(again.journal.size() == 1);
  }
  SECTION("an empty snapshot") {
    {
      auto j = Journal::open(tmp.path().string());
      replay(*j);
      j->snapshot(150, [](const std::function<void(const JournalRecord&)>&) {});
    }
    Replayed again = reopen_and_replay(tmp.path());
    CHECK(again.snapshot_rv == 150);
    CHECK(again.snapshot.empty());
    CHECK(again.journal.empty());
  }
  SECTION("a snapshot callback that throws changes nothing") {
    {
      auto j = Journal::open(tmp.path().string());
      replay(*j);
      CHECK_THROWS(j->snapshot(150, [](const std::function<void(const JournalRecord&)>& emit) {
        emit(make_record(1, 10));
        throw std::runtime_error("state unavailable");
      }));
      j->append({make_record(151, 10)});
    }
    Replayed again = reopen_and_replay(tmp.path());
    CHECK(again.snapshot_rv == 100);
    CHECK(again.journal.size() == after.size() + 1);
    CHECK_FALSE(fs::exists(tmp.path() / "snapshot.tmp"));
  }
}

TEST_CASE("journal: records newer than the snapshot survive the journal swap", "[journal]") {
  // The caller captures its state at rv 5 while writes 6..10 are still being acknowledged:
  // those must move into the new journal, not vanish with the old one.
  TempDir tmp;
  {
    auto j = Journal::open(tmp.path().string());
    replay(*j);
    j->append({make_record(1, 50), make_record(2, 50)});
    for (uint64_t rv = 3; rv <= 10; ++rv)
      j->append({make_record(rv, 50)});
    j->snapshot(5, [](const std::function<void(const JournalRecord&)>& emit) {
      for (uint64_t rv = 1; rv <= 5; ++rv)
        emit(make_record(rv, 50));
    });
    CHECK(j->journal_bytes() > 0);
    j->append({make_record(11, 50)});
  }
  Replayed r = reopen_and_replay(tmp.path());
  CHECK(r.snapshot_rv == 5);
  CHECK(r.snapshot.size() == 5);
  CHECK(r.rvs() == range(1, 11));
}

TEST_CASE("journal: snapshots concurrent with appends lose nothing", "[journal]") {
  TempDir tmp;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 150;
  std::mutex mu;
  std::map<uint64_t, JournalRecord> acked;  // rv -> record
  std::set<uint64_t> pending;
  uint64_t watermark = 0;  // every rv <= watermark is acknowledged
  std::atomic<uint64_t> next_rv{1};
  std::atomic<bool> done{false};
  int snapshots = 0;
  {
    auto j = Journal::open(tmp.path().string());
    replay(*j);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < kPerThread; ++i) {
          uint64_t rv = next_rv.fetch_add(1);
          JournalRecord rec = make_record(rv, 200);
          j->append({rec});
          std::lock_guard lk(mu);
          acked[rv] = rec;
          pending.insert(rv);
          while (pending.count(watermark + 1))
            pending.erase(++watermark);
        }
      });
    std::thread snapshotter([&] {
      while (!done) {
        std::vector<JournalRecord> state;
        uint64_t at;
        {
          std::lock_guard lk(mu);
          at = watermark;
          for (auto& [rv, rec] : acked)
            if (rv <= at)
              state.push_back(rec);
        }
        j->snapshot(at, [&](const std::function<void(const JournalRecord&)>& emit) {
          for (auto& rec : state)
            emit(rec);
        });
        ++snapshots;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
    for (auto& th : threads)
      th.join();
    done = true;
    snapshotter.join();
  }
  CHECK(snapshots > 1);
  Replayed r = reopen_and_replay(tmp.path());
  std::vector<uint64_t> rvs = r.rvs();
  std::sort(rvs.begin(), rvs.end());
  CHECK(rvs == range(1, kThreads * kPerThread));
  for (auto& rec : r.snapshot)
    CHECK(rec.rv <= r.snapshot_rv);
  for (auto& rec : r.journal)
    CHECK(rec.rv > r.snapshot_rv);
}

TEST_CASE("journal: a crash during a snapshot recovers", "[journal]") {
  TempDir tmp;
  fs::path dir = tmp.path() / "j";
  {
    auto j = Journal::open(dir.string());
    replay(*j);
    for (uint64_t rv = 1; rv <= 10; ++rv)
      j->append({make_record(rv, 100)});
    j->snapshot(10, [](const std::function<void(const JournalRecord&)>& emit) {
      for (uint64_t rv = 1; rv <= 10; ++rv)
        emit(make_record(rv, 100));
    });
    for (uint64_t rv = 11; rv <= 20; ++rv)
      j->append({make_record(rv, 100)});
  }
  const std::string old_journal = omed::testing::read_file(dir / "journal");

  SECTION("before the rename: a half-written snapshot.tmp next to the old files") {
    omed::testing::write_file(dir / "snapshot.tmp", "OMEDSNP1 half written");
    omed::testing::write_file(dir / "journal.tmp", std::string(100, 'x'));
    Replayed r = reopen_and_replay(dir);
    CHECK(r.snapshot_rv == 10);
    CHECK(r.rvs() == range(1, 20));
    CHECK_FALSE(fs::exists(dir / "snapshot.tmp"));
    CHECK_FALSE(fs::exists(dir / "journal.tmp"));
  }
  SECTION("between the two renames: the new snapshot next to the old journal") {
    {
      auto j = Journal::open(dir.string());
      replay(*j);
      j->snapshot(15, [](const std::function<void(const JournalRecord&)>& emit) {
        for (uint64_t rv = 1; rv <= 15; ++rv)
          emit(make_record(rv, 100));
      });
    }
    // Put the pre-snapshot journal (rv 11..20) back, as if the journal swap never happened.
    omed::testing::write_file(dir / "journal", old_journal);
    Replayed r = reopen_and_replay(dir);
    CHECK(r.snapshot_rv == 15);
    CHECK(r.snapshot.size() == 15);
    // Records 11..15 are in both files; replay hands them out once, from the snapshot.
    CHECK(r.rvs() == range(1, 20));
    for (auto& rec : r.journal)
      CHECK(is_intact(rec, 100));
  }
  SECTION("a corrupt snapshot is an error naming it") {
    patch_byte(dir / "snapshot", 40, 0x01);
    std::string err = error_of([&] { reopen_and_replay(dir); });
    CHECK(err.find((dir / "snapshot").string()) != std::string::npos);
    CHECK(err.find("offset") != std::string::npos);
  }
  SECTION("a truncated snapshot is an error") {
    fs::resize_file(dir / "snapshot", fs::file_size(dir / "snapshot") - 1);
    CHECK(error_of([&] { reopen_and_replay(dir); }).find("snapshot") != std::string::npos);
  }
}

namespace {

constexpr size_t kCrashObjectSize = 300;

// The child of the kill -9 test: recovers, then appends from 4 threads and reports every
// acknowledged rv on `ack_fd` once append() has returned, with a fifth thread taking snapshots.
// Runs until killed. Never returns into Catch.
[[noreturn]] void crash_child(const std::string& dir, int ack_fd) {
  try {
    auto j = Journal::open(dir);
    std::mutex mu;
    std::map<uint64_t, JournalRecord> state;
    uint64_t base = 0;
    j->replay([&](const JournalRecord& r) { state[r.rv] = r; }, [&](const JournalRecord& r) { state[r.rv] = r; });
    if (!state.empty())
      base = state.rbegin()->first;
    // Snapshots hold exactly the records with rv <= watermark, all of which are acknowledged.
    uint64_t watermark = base;
    std::set<uint64_t> pending;
    std::atomic<uint64_t> next_rv{base + 1};
    // rv 0 never names a record: it tells the parent that recovery is done and the kill timer
    // may start, so that slow builds (sanitizers) still get killed mid-work, not mid-startup.
    const uint64_t ready = 0;
    if (::write(ack_fd, &ready, sizeof ready) != sizeof ready)
      ::_exit(3);

    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] {
        for (;;) {
          uint64_t rv = next_rv.fetch_add(1);
          JournalRecord rec = make_record(rv, kCrashObjectSize);
          j->append({rec});
          {
            std::lock_guard lk(mu);
            state[rv] = rec;
            pending.insert(rv);
            while (pending.count(watermark + 1))
              pending.erase(++watermark);
          }
          // 8 bytes < PIPE_BUF: atomic even with four writers.
          if (::write(ack_fd, &rv, sizeof rv) != sizeof rv)
            ::_exit(3);
        }
      });
    threads.emplace_back([&] {
      for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(15));
        std::vector<JournalRecord> snap;
        uint64_t at;
        {
          std::lock_guard lk(mu);
          at = watermark;
          for (auto& [rv, rec] : state)
            if (rv <= at)
              snap.push_back(rec);
        }
        j->snapshot(at, [&](const std::function<void(const JournalRecord&)>& emit) {
          for (auto& rec : snap)
            emit(rec);
        });
      }
    });
    for (auto& th : threads)
      th.join();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crash child: %s\n", e.what());
    ::_exit(2);
  }
  ::_exit(0);
}

}  // namespace

TEST_CASE("journal: kill -9 loses no acknowledged write", "[journal]") {
  TempDir tmp;
  const std::string dir = (tmp.path() / "j").string();
  std::mt19937 rng(20240611);  // deterministic kill times
  std::set<uint64_t> acked;    // across all rounds: the directory is reused, as after a restart
  constexpr int kRounds = 8;
  size_t snapshots_seen = 0;
  size_t total_acked = 0;

  for (int round = 0; round < kRounds; ++round) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    std::cout.flush();
    std::cerr.flush();
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(fds[0]);
      crash_child(dir, fds[1]);
    }
    ::close(fds[1]);

    const auto kill_after = std::chrono::milliseconds(40 + rng() % 360);
    std::string buf;
    auto drain = [&](int timeout_ms) {
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0)
        return false;
      char chunk[4096];
      ssize_t n = ::read(fds[0], chunk, sizeof chunk);
      if (n <= 0)
        return false;
      buf.append(chunk, static_cast<size_t>(n));
      return true;
    };
    const auto startup_limit = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (buf.size() < 8 && std::chrono::steady_clock::now() < startup_limit)
      drain(5);
    const auto deadline = std::chrono::steady_clock::now() + kill_after;
    while (std::chrono::steady_clock::now() < deadline)
      drain(5);
    REQUIRE(::kill(pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    // The child must have died by our signal, not by an error of its own.
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    while (drain(0)) {
    }
    ::close(fds[0]);
    REQUIRE(buf.size() % 8 == 0);
    REQUIRE(buf.size() >= 8);  // the child got through recovery
    size_t acked_this_round = 0;
    for (size_t i = 8; i < buf.size(); i += 8) {
      uint64_t rv;
      std::memcpy(&rv, buf.data() + i, 8);
      REQUIRE(rv != 0);
      acked.insert(rv);
      ++acked_this_round;
    }
    total_acked += acked_this_round;

    Replayed r = reopen_and_replay(tmp.path() / "j");
    INFO("round " << round << ": killed after " << kill_after.count() << " ms, " << acked_this_round
                  << " acks, snapshot rv " << r.snapshot_rv);
    if (r.snapshot_rv > 0)
      ++snapshots_seen;
    std::set<uint64_t> present;
    for (const auto* part : {&r.snapshot, &r.journal})
      for (const auto& rec : *part) {
        // Nothing garbled: every record, acknowledged or not, is exactly what was written.
        REQUIRE(is_intact(rec, kCrashObjectSize));
        // Nothing twice.
        REQUIRE(present.insert(rec.rv).second);
      }
    for (uint64_t rv : acked)
      REQUIRE(present.count(rv) == 1);
    std::cerr << "journal kill -9 round " << round << ": killed after " << kill_after.count() << " ms, "
              << acked_this_round << " acks this round, " << present.size() << " records recovered (snapshot rv "
              << r.snapshot_rv << ")\n";
  }
  // The rounds must have done real work for the checks above to mean anything.
  CHECK(total_acked > 100);
  CHECK(snapshots_seen > 0);
}
