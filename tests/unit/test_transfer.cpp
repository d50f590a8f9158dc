// Tests of the model transfer engine against a real HTTP server on loopback: parallel and
// ranged downloads, resume, verification, dedup, fault handling and credential hygiene.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "../support/file_server.hpp"
#include "../support/process.hpp"
#include "../support/test_env.hpp"
#include "omed/model/transfer.hpp"
#include "omed/model/transfer/content_store.hpp"
#include "omed/model/transfer/disk_space.hpp"
#include "omed/model/transfer/file_verifier.hpp"
#include "omed/model/transfer/partial_state.hpp"
#include "omed/model/transfer/progress_meter.hpp"
#include "omed/model/transfer/range_map.hpp"
#include "omed/model/transfer/retry_policy.hpp"
#include "omed/model/transfer/url.hpp"

using namespace omed::model;
using namespace omed::model::transfer;
using omed::testing::FileServer;
using omed::testing::Faults;
using omed::testing::TempDir;
namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

constexpr uint64_t MiB = 1ull << 20;

RemoteFile listed(const FileServer& srv, const std::string& path, uint64_t size, uint64_t seed, bool sha = true) {
  RemoteFile f;
  f.path = path;
  f.url = srv.url("/" + path);
  f.size = size;
  if (sha)
    f.sha256 = omed::testing::content_sha256(seed, size);
  return f;
}

// Short timers so that fault tests finish quickly; production defaults are much longer.
TransferOptions quick() {
  // Same-boot progress records of the runs that fail on purpose stay in this process's own
  // directory instead of the machine's /dev/shm.
  static TempDir fast_records;
  TransferOptions o;
  o.fast_state_dir = fast_records.path() / "fast";
  o.stall_timeout = milliseconds(1500);
  o.backoff_base = milliseconds(10);
  o.backoff_cap = milliseconds(200);
  o.progress_interval = milliseconds(50);
  o.checkpoint_interval = milliseconds(100);
  o.disk_margin_bytes = 0;
  return o;
}

bool same_content(const fs::path& p, uint64_t seed, uint64_t size) {
  std::error_code ec;
  if (fs::file_size(p, ec) != size || ec)
    return false;
  return omed::testing::sha256_of_file(p.string()) == omed::testing::content_sha256(seed, size);
}

uint64_t inode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_ino;
}

class StaticAuth : public RequestAuthorizer {
public:
  HeaderList headers_for(std::string_view, std::string_view) const override {
    return {{"Authorization", "Bearer hf_sekrit"}, {"X-Amz-Security-Token", "session-token"}};
  }
};

bool has_header(const omed::testing::SeenRequest& r, const std::string& name) {
  for (auto& h : r.headers) {
    std::string a = h.name, b = name;
    for (auto& c : a) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto& c : b) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (a == b)
      return true;
  }
  return false;
}

}  // namespace

// ---------------------------------------------------------------- building blocks

TEST_CASE("range map merges spans and reports holes and the prefix", "[transfer-pieces]") {
  RangeMap m;
  m.add(10, 20);
  m.add(30, 40);
  m.add(20, 25);  // touches: merges
  CHECK(m.spans() == std::vector<ByteSpan>{{10, 25}, {30, 40}});
  CHECK(m.bytes() == 25);
  CHECK(m.prefix_end() == 0);
  CHECK(m.missing(50) == std::vector<ByteSpan>{{0, 10}, {25, 30}, {40, 50}});
  m.add(0, 35);  // swallows and overlaps
  CHECK(m.spans() == std::vector<ByteSpan>{{0, 40}});
  CHECK(m.prefix_end() == 40);
  CHECK(m.covers(5, 40));
  CHECK_FALSE(m.covers(5, 41));
  CHECK(m.missing(40).empty());

  RangeMap back;
  REQUIRE(RangeMap::parse("0-10,20-30", back));
  CHECK(back.bytes() == 20);
  CHECK(back.to_string() == "0-10,20-30");
  RangeMap bad;
  CHECK_FALSE(RangeMap::parse("0-10,5-30", bad));   // overlap
  CHECK_FALSE(RangeMap::parse("0-10,10-30", bad));  // touching spans are never written
  CHECK_FALSE(RangeMap::parse("5-5", bad));
  CHECK_FALSE(RangeMap::parse("1-2,", bad));
  CHECK_FALSE(RangeMap::parse("x", bad));
  CHECK(RangeMap::parse("", bad));
  CHECK(split_spans({{0, 10}, {20, 25}}, 4) == std::vector<ByteSpan>{{0, 4}, {4, 8}, {8, 10}, {20, 24}, {24, 25}});
}

TEST_CASE("partial state round-trips and rejects foreign or truncated text", "[transfer-pieces]") {
  PartialState st;
  st.size = 1000;
  st.sha256 = std::string(64, 'a');
  st.listing_etag = "\"abc\"";
  st.server_etag = "\"srv\"";
  st.boot_id = "boot-1";
  st.durable.add(0, 100);
  st.written.add(0, 300);
  st.written.add(500, 600);
  PartialState back;
  REQUIRE(PartialState::decode(st.encode(), back));
  CHECK(back == st);
  auto text = st.encode();
  CHECK_FALSE(PartialState::decode(text.substr(0, text.size() - 4), back));  // no "end"
  CHECK_FALSE(PartialState::decode("something else\n", back));
  PartialState beyond = st;
  beyond.written.add(990, 1010);
  CHECK_FALSE(PartialState::decode(beyond.encode(), back));  // claims past the end

  // Page-cache ranges count only within the boot that wrote them; durable ones always.
  CHECK(st.usable("boot-1").spans() == std::vector<ByteSpan>{{0, 300}, {500, 600}});
  CHECK(st.usable("boot-2").spans() == std::vector<ByteSpan>{{0, 100}});
  PartialState no_boot = st;
  no_boot.boot_id.clear();
  CHECK(no_boot.usable("").spans() == std::vector<ByteSpan>{{0, 100}});
  CHECK_FALSE(current_boot_id().empty());

  TempDir dir;
  auto path = dir.path() / "x.state";
  REQUIRE(save_partial_state(path, st, true).empty());
  PartialState loaded;
  REQUIRE(load_partial_state(path, loaded));
  CHECK(loaded == st);
  CHECK_FALSE(load_partial_state(dir.path() / "absent", loaded));
}

TEST_CASE("retry policy: full jitter within the cap, Retry-After forms, final statuses", "[transfer-pieces]") {
  RetryPolicy p(milliseconds(100), milliseconds(1000), milliseconds(5000), 4);
  for (int attempt = 1; attempt <= 8; ++attempt) {
    auto limit = std::min<long long>(1000, 100ll << (attempt - 1));
    for (int i = 0; i < 50; ++i) {
      auto d = p.backoff(attempt).count();
      CHECK(d >= 0);
      CHECK(d <= limit);
    }
  }
  // Jitter really varies.
  std::set<long long> seen;
  for (int i = 0; i < 50; ++i)
    seen.insert(p.backoff(5).count());
  CHECK(seen.size() > 10);
  CHECK(p.delay(1, milliseconds(3000)) == milliseconds(3000));
  CHECK(p.delay(1, milliseconds(60000)) == milliseconds(5000));  // capped
  CHECK(p.exhausted(4));
  CHECK_FALSE(p.exhausted(3));

  CHECK(parse_retry_after("7") == milliseconds(7000));
  CHECK(parse_retry_after(" 0 ") == milliseconds(0));
  CHECK_FALSE(parse_retry_after("soon"));
  CHECK_FALSE(parse_retry_after(""));
  auto now = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now) == milliseconds(10000));
  CHECK(parse_retry_after("Sunday, 06-Nov-94 08:49:57 GMT", now) == milliseconds(20000));
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now) == milliseconds(0));  // past

  for (long s : {408, 429, 500, 502, 503, 504})
    CHECK(RetryPolicy::retryable_status(s));
  for (long s : {400, 401, 403, 404, 410, 416})
    CHECK_FALSE(RetryPolicy::retryable_status(s));
  CHECK_THAT(describe_http_failure(403, "model.bin", "https://h/x"), Catch::Contains("access denied"));
  CHECK_THAT(describe_http_failure(404, "model.bin", "https://h/x"), Catch::Contains("not found"));
}

TEST_CASE("url origins, redirect resolution and redaction", "[transfer-pieces]") {
  auto a = url_origin("https://Example.COM/a?b=c");
  REQUIRE(a);
  CHECK(a->scheme == "https");
  CHECK(a->host == "example.com");
  CHECK(a->port == 443);
  CHECK(*url_origin("https://example.com:443/x") == *a);
  CHECK_FALSE(*url_origin("http://example.com/x") == *a);
  CHECK_FALSE(*url_origin("https://example.com:8443/x") == *a);
  CHECK_FALSE(*url_origin("https://cdn.example.com/x") == *a);
  CHECK(url_origin("http://[::1]:8080/x")->host == "::1");
  CHECK_FALSE(url_origin("ftp://example.com/x"));
  CHECK_FALSE(url_origin("not a url"));

  CHECK(resolve_redirect("http://h:1/a/b?q", "/c") == "http://h:1/c");
  CHECK(resolve_redirect("http://h:1/a/b", "c") == "http://h:1/a/c");
  CHECK(resolve_redirect("http://h:1/a", "https://o/x?sig=1") == "https://o/x?sig=1");
  CHECK_FALSE(resolve_redirect("http://h/a", "file:///etc/passwd"));

  CHECK(redact_url("https://user:pw@s3.host/bucket/key?X-Amz-Signature=abc#f") == "https://s3.host/bucket/key");
}

TEST_CASE("digests, content store and disk space helpers", "[transfer-pieces]") {
  TempDir dir;
  auto f = dir.path() / "a.bin";
  omed::testing::write_file(f, "hello");
  Digests d;
  REQUIRE(hash_file(f, true, true, d).empty());
  CHECK(d.sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  CHECK(d.md5 == "5d41402abc4b2a76b9719d911017c592");
  CHECK(compare_digests("a.bin", {d.sha256, ""}, d).empty());
  auto msg = compare_digests("a.bin", {std::string(64, '0'), ""}, d);
  CHECK_THAT(msg, Catch::Contains("a.bin") && Catch::Contains(std::string(64, '0')) && Catch::Contains(d.sha256));

  ContentStore store(dir.path() / "store");
  CHECK_FALSE(store.find(d.sha256, 5));
  REQUIRE(store.adopt(f, d.sha256).empty());
  auto blob = store.find(d.sha256, 5);
  REQUIRE(blob);
  CHECK(blob->inode == inode_of(f));
  CHECK_FALSE(store.find(d.sha256, 6));
  CHECK_FALSE(store.find("../../etc/passwd", std::nullopt));
  REQUIRE(store.link_out(d.sha256, dir.path() / "copy" / "b.bin", true).empty());
  CHECK(inode_of(dir.path() / "copy" / "b.bin") == inode_of(f));
  fs::remove(f);
  fs::remove(dir.path() / "copy" / "b.bin");
  CHECK(store.collect_garbage() == 5);  // no model links to it any more
  CHECK_FALSE(store.find(d.sha256, 5));

  CHECK(check_disk_space(dir.path(), 1024, 0).empty());
  auto err = check_disk_space(dir.path() / "not" / "yet", 1ull << 60, 0);
  CHECK_THAT(err, Catch::Contains("needs 1073741824.0 GiB") && Catch::Contains("free on"));
  CHECK(format_bytes(3ull << 29) == "1.5 GiB");
}

TEST_CASE("progress meter reports at most every interval with rate and ETA", "[transfer-pieces]") {
  using C = ProgressMeter::Clock;
  std::vector<TransferProgress> got;
  auto t0 = C::now();
  ProgressMeter m(milliseconds(1000), [&](const TransferProgress& p) { got.push_back(p); }, t0);
  m.set_totals(1000, 2);
  m.add_done(100);
  m.add_network(100);
  m.maybe_report(t0 + milliseconds(500));
  CHECK(got.empty());
  m.maybe_report(t0 + milliseconds(1000));
  REQUIRE(got.size() == 1);
  CHECK(got[0].bytes_done == 100);
  CHECK(got[0].bytes_per_second == Approx(100));
  CHECK(got[0].eta_seconds == Approx(9));
  m.file_done();
  m.final_report(t0 + milliseconds(1500));
  REQUIRE(got.size() == 2);
  CHECK(got[1].final);
  CHECK(got[1].files_done == 1);
}

// ---------------------------------------------------------------- downloads

TEST_CASE("parallel files download, verify and report progress", "[transfer-fetch]") {
  FileServer srv;
  std::vector<RemoteFile> files;
  for (int i = 0; i < 6; ++i) {
    srv.add_file("/f" + std::to_string(i) + ".bin", 3 * MiB + static_cast<uint64_t>(i), 100 + i);
    files.push_back(listed(srv, "f" + std::to_string(i) + ".bin", 3 * MiB + static_cast<uint64_t>(i), 100 + i));
  }
  files[5].path = "sub/dir/f5.bin";
  srv.add_file("/sub/dir/f5.bin", 3 * MiB + 5, 105);
  files[5].url = srv.url("/sub/dir/f5.bin");
  // One tiny file goes the keep-alive path, one is empty.
  srv.add_file("/config.json", 1234, 7);
  files.push_back(listed(srv, "config.json", 1234, 7));
  srv.add_file("/empty", 0, 8);
  files.push_back(listed(srv, "empty", 0, 8));

  TempDir dir;
  auto opts = quick();
  opts.parallel_files = 4;
  TransferCounters counters;
  opts.counters = &counters;
  std::vector<TransferProgress> reports;
  auto rep = TransferEngine(opts).run(files, dir.path() / "m", nullptr, nullptr,
                                      [&](const TransferProgress& p) { reports.push_back(p); });
  INFO(rep.error);
  REQUIRE(rep.ok);
  for (size_t i = 0; i < files.size(); ++i) {
    CHECK(rep.files[i].action == FileAction::Fetched);
    CHECK(rep.files[i].verified);
    CHECK(same_content(dir.path() / "m" / files[i].path, i < 6 ? 100 + i : (i == 6 ? 7 : 8), *files[i].size));
  }
  CHECK(srv.max_concurrent() >= 2);
  CHECK(srv.max_concurrent() <= 4);  // parallel_files, one stream each (files below the range threshold)
  uint64_t total = 0;
  for (auto& f : files)
    total += *f.size;
  CHECK(rep.bytes_fetched == total);
  CHECK(counters.bytes_fetched == total);
  CHECK(counters.files_fetched == files.size());
  REQUIRE(!reports.empty());
  CHECK(reports.back().final);
  CHECK(reports.back().bytes_done == total);
  CHECK(reports.back().files_done == files.size());
  CHECK_FALSE(fs::exists(dir.path() / "m" / ".omed-partial"));
}

TEST_CASE("small files reuse one keep-alive connection", "[transfer-fetch]") {
  FileServer srv;
  std::vector<RemoteFile> files;
  for (int i = 0; i < 5; ++i) {
    srv.add_file("/s" + std::to_string(i), 1000 + static_cast<uint64_t>(i), 300 + i);
    files.push_back(listed(srv, "s" + std::to_string(i), 1000 + static_cast<uint64_t>(i), 300 + i));
  }
  TempDir dir;
  auto opts = quick();
  opts.parallel_files = 1;
  auto rep = TransferEngine(opts).run(files, dir.path());
  INFO(rep.error);
  REQUIRE(rep.ok);
  auto reqs = srv.requests();
  REQUIRE(reqs.size() == 5);
  for (auto& r : reqs)
    CHECK(r.remote == reqs[0].remote);
}

TEST_CASE("a large file is fetched as parallel byte ranges", "[transfer-fetch]") {
  FileServer srv("127.0.0.1", 2);
  const uint64_t size = 96 * MiB + 12345;
  srv.add_file("/big.safetensors", size, 42);
  TempDir dir;
  auto opts = quick();
  opts.single_stream_max_bytes = 8 * MiB;
  opts.range_chunk_bytes = 16 * MiB;
  opts.min_range_bytes = 4 * MiB;
  auto rep = TransferEngine(opts).run({listed(srv, "big.safetensors", size, 42)}, dir.path());
  INFO(rep.error);
  REQUIRE(rep.ok);
  CHECK(same_content(dir.path() / "big.safetensors", 42, size));
  auto reqs = srv.requests_for("/big.safetensors");
  // Every range starts somewhere new and together they cover the file. (A split at the tail
  // asks for the second half of a running range; the running request then stops at the split.)
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto& r : reqs) {
    CHECK(r.status == 206);
    REQUIRE(r.range.rfind("bytes=", 0) == 0);
    auto dash = r.range.find('-');
    ranges.emplace_back(std::stoull(r.range.substr(6, dash - 6)), std::stoull(r.range.substr(dash + 1)) + 1);
  }
  std::sort(ranges.begin(), ranges.end());
  CHECK(ranges.size() >= 6);  // 96 MiB in pieces of at most 16 MiB
  uint64_t covered = 0;
  for (size_t i = 0; i < ranges.size(); ++i) {
    if (i > 0)
      CHECK(ranges[i].first > ranges[i - 1].first);
    CHECK(ranges[i].first <= covered);  // no gap
    covered = std::max(covered, ranges[i].second);
  }
  CHECK(covered == size);
  CHECK(srv.max_concurrent() >= 2);
  // Bytes in flight when a split request stops are the only ones served twice.
  CHECK(srv.bytes_served() >= size);
  CHECK(static_cast<double>(srv.bytes_served()) <= 1.1 * static_cast<double>(size));
}

TEST_CASE("a server that ignores Range is handled as one stream", "[transfer-fetch]") {
  FileServer srv;
  const uint64_t size = 40 * MiB;
  srv.add_file("/w.bin", size, 5);
  Faults f;
  f.ignore_range = true;
  srv.set_faults("/w.bin", f);
  TempDir dir;
  auto opts = quick();
  opts.single_stream_max_bytes = 4 * MiB;
  opts.range_chunk_bytes = 8 * MiB;
  opts.min_range_bytes = 4 * MiB;
  auto rep = TransferEngine(opts).run({listed(srv, "w.bin", size, 5)}, dir.path());
  INFO(rep.error);
  REQUIRE(rep.ok);
  CHECK(same_content(dir.path() / "w.bin", 5, size));
  for (auto& r : srv.requests_for("/w.bin"))
    CHECK(r.status == 200);
}

TEST_CASE("an existing complete file is kept and not fetched again", "[transfer-fetch]") {
  FileServer srv;
  srv.add_file("/a.bin", 5 * MiB, 11);
  srv.add_file("/b.txt", 100, 12);
  TempDir dir;
  std::vector<RemoteFile> files = {listed(srv, "a.bin", 5 * MiB, 11), listed(srv, "b.txt", 100, 12, false)};
  auto first = TransferEngine(quick()).run(files, dir.path());
  REQUIRE(first.ok);
  auto ino = inode_of(dir.path() / "a.bin");
  srv.reset_stats();
  auto second = TransferEngine(quick()).run(files, dir.path());
  INFO(second.error);
  REQUIRE(second.ok);
  CHECK(second.files[0].action == FileAction::Present);
  CHECK(second.files[0].verified);
  CHECK(second.files[1].action == FileAction::Present);
  CHECK_FALSE(second.files[1].verified);  // size only: no digest was listed
  CHECK(srv.requests().empty());
  CHECK(second.bytes_fetched == 0);
  CHECK(second.bytes_reused == 5 * MiB + 100);
  CHECK(inode_of(dir.path() / "a.bin") == ino);

  // A damaged file of the right size is detected by its digest and replaced.
  {
    std::fstream f(dir.path() / "a.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('!');
  }
  auto third = TransferEngine(quick()).run(files, dir.path());
  REQUIRE(third.ok);
  CHECK(third.files[0].action == FileAction::Fetched);
  CHECK(same_content(dir.path() / "a.bin", 11, 5 * MiB));
}

TEST_CASE("identical content is shared by hard link through the content store", "[transfer-fetch]") {
  FileServer srv;
  srv.add_file("/x/model.bin", 6 * MiB, 77);
  srv.add_file("/y/model-copy.bin", 6 * MiB, 77);
  TempDir dir;
  auto opts = quick();
  opts.content_store_dir = dir.path() / ".omed-blobs";
  auto a = listed(srv, "x/model.bin", 6 * MiB, 77);
  auto b = listed(srv, "y/model-copy.bin", 6 * MiB, 77);
  auto rep = TransferEngine(opts).run({a, b}, dir.path() / "m1");
  INFO(rep.error);
  REQUIRE(rep.ok);
  CHECK(rep.files[0].action == FileAction::Fetched);
  CHECK(rep.files[1].action == FileAction::Linked);
  CHECK(srv.requests_for("/y/model-copy.bin").empty());
  CHECK(srv.bytes_served() == 6 * MiB);
  auto ino = inode_of(dir.path() / "m1" / "x" / "model.bin");
  CHECK(inode_of(dir.path() / "m1" / "y" / "model-copy.bin") == ino);
  CHECK(inode_of(dir.path() / ".omed-blobs" / "sha256" / a.sha256) == ino);

  // Another model directory with the same file: linked from the store, nothing downloaded.
  srv.reset_stats();
  auto rep2 = TransferEngine(opts).run({a}, dir.path() / "m2");
  REQUIRE(rep2.ok);
  CHECK(rep2.files[0].action == FileAction::Linked);
  CHECK(srv.requests().empty());
  CHECK(inode_of(dir.path() / "m2" / "x" / "model.bin") == ino);

  // Without a store, duplicates inside one listing are still linked to their first copy.
  srv.reset_stats();
  auto plain = quick();
  auto rep3 = TransferEngine(plain).run({a, b}, dir.path() / "m3");
  REQUIRE(rep3.ok);
  CHECK(rep3.files[1].action == FileAction::Linked);
  CHECK(inode_of(dir.path() / "m3" / "y" / "model-copy.bin") == inode_of(dir.path() / "m3" / "x" / "model.bin"));
  CHECK(srv.bytes_served() == 6 * MiB);

  // link_from_store off (AlwaysDownload): the store's copy is not used, the bytes come from the
  // source, and the file keeps its own inode; the store keeps the first copy.
  srv.reset_stats();
  auto always = opts;
  always.link_from_store = false;
  auto rep4 = TransferEngine(always).run({a}, dir.path() / "m4");
  INFO(rep4.error);
  REQUIRE(rep4.ok);
  CHECK(rep4.files[0].action == FileAction::Fetched);
  CHECK(srv.bytes_served() == 6 * MiB);
  CHECK(inode_of(dir.path() / "m4" / "x" / "model.bin") != ino);
  CHECK(inode_of(dir.path() / ".omed-blobs" / "sha256" / a.sha256) == ino);
  // A file of its own directory that the store vouches for still needs no download.
  srv.reset_stats();
  auto rep5 = TransferEngine(always).run({a}, dir.path() / "m2");
  REQUIRE(rep5.ok);
  CHECK(rep5.files[0].action != FileAction::Fetched);
  CHECK(srv.requests().empty());
}

// ---------------------------------------------------------------- faults

TEST_CASE("a stalled response is abandoned and resumed where it stopped", "[transfer-faults]") {
  FileServer srv;
  const uint64_t size = 8 * MiB;
  srv.add_file("/s.bin", size, 9);
  Faults f;
  f.stall_at = 3 * MiB;
  f.stall_times = 1;
  srv.set_faults("/s.bin", f);
  TempDir dir;
  auto opts = quick();
  opts.stall_timeout = milliseconds(500);
  auto t0 = std::chrono::steady_clock::now();
  auto rep = TransferEngine(opts).run({listed(srv, "s.bin", size, 9)}, dir.path());
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(rep.error);
  REQUIRE(rep.ok);
  CHECK(secs >= 0.5);
  CHECK(rep.retries == 1);
  CHECK(same_content(dir.path() / "s.bin", 9, size));
  auto reqs = srv.requests_for("/s.bin");
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[0].range.empty());
  CHECK(reqs[1].range == "bytes=3145728-8388607");  // continues, does not start over
  CHECK(reqs[1].if_range == "\"9-8388608-0\"");
}

TEST_CASE("a dropped connection is retried with backoff", "[transfer-faults]") {
  FileServer srv;
  srv.add_file("/d.bin", 4 * MiB, 19);
  Faults f;
  f.drop_at = 1 * MiB;
  f.drop_times = 2;
  srv.set_faults("/d.bin", f);
  srv.add_file("/e.bin", 2 * MiB, 20);
  Faults g;
  g.status = 500;
  g.status_times = 2;
  srv.set_faults("/e.bin", g);
  TempDir dir;
  auto rep = TransferEngine(quick()).run({listed(srv, "d.bin", 4 * MiB, 19), listed(srv, "e.bin", 2 * MiB, 20)},
                                         dir.path());
  INFO(rep.error);
  REQUIRE(rep.ok);
  CHECK(rep.retries == 4);
  CHECK(same_content(dir.path() / "d.bin", 19, 4 * MiB));
  CHECK(same_content(dir.path() / "e.bin", 20, 2 * MiB));
}

TEST_CASE("a corrupted byte fails verification and never reaches the final path", "[transfer-faults]") {
  FileServer srv;
  const uint64_t size = 3 * MiB;
  srv.add_file("/c.bin", size, 31);
  Faults f;
  f.corrupt_at = 1234567;
  f.corrupt_times = -1;  // every time: the retry from scratch fails too
  srv.set_faults("/c.bin", f);
  TempDir dir;
  auto file = listed(srv, "c.bin", size, 31);
  auto rep = TransferEngine(quick()).run({file}, dir.path());
  REQUIRE_FALSE(rep.ok);
  CHECK_THAT(rep.error, Catch::Contains("checksum mismatch for 'c.bin'") && Catch::Contains(file.sha256) &&
                            Catch::Contains("got "));
  CHECK(rep.files[0].action == FileAction::Failed);
  CHECK_FALSE(fs::exists(dir.path() / "c.bin"));
  CHECK_FALSE(fs::exists(TransferEngine::partial_path(dir.path(), "c.bin")));
  CHECK(srv.requests_for("/c.bin").size() == 2);  // fetched once more from scratch

  // Corrupted only once: the second fetch succeeds.
  f.corrupt_times = 1;
  srv.set_faults("/c.bin", f);
  auto rep2 = TransferEngine(quick()).run({file}, dir.path());
  INFO(rep2.error);
  REQUIRE(rep2.ok);
  CHECK(same_content(dir.path() / "c.bin", 31, size));

  // md5 alone (an S3 ETag) is checked too.
  srv.add_file("/m.bin", 1000, 32);
  Faults g;
  g.corrupt_at = 10;
  srv.set_faults("/m.bin", g);
  RemoteFile m = listed(srv, "m.bin", 1000, 32, false);
  auto body = omed::testing::generate_string(32, 0, 1000);
  TempDir tmp;
  omed::testing::write_file(tmp.path() / "ref", body);
  Digests ref;
  REQUIRE(hash_file(tmp.path() / "ref", false, true, ref).empty());
  m.md5 = ref.md5;
  auto rep3 = TransferEngine(quick()).run({m}, dir.path());
  REQUIRE_FALSE(rep3.ok);
  CHECK_THAT(rep3.error, Catch::Contains("expected md5 " + ref.md5));
}

TEST_CASE("429 with Retry-After is honoured", "[transfer-faults]") {
  FileServer srv;
  srv.add_file("/r.bin", 2 * MiB, 41);
  Faults f;
  f.status = 429;
  f.status_times = 2;
  f.retry_after = "1";
  srv.set_faults("/r.bin", f);
  TempDir dir;
  auto t0 = std::chrono::steady_clock::now();
  auto rep = TransferEngine(quick()).run({listed(srv, "r.bin", 2 * MiB, 41)}, dir.path());
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO(rep.error);
  REQUIRE(rep.ok);
  // Backoff alone would be at most 2 x 200 ms here; the server asked for 2 x 1 s.
  CHECK(secs >= 1.9);
  CHECK(secs < 6);
  CHECK(srv.requests_for("/r.bin").size() == 3);

  // 503 with an HTTP date, and the cap on what a server may ask for.
  Faults g;
  g.status = 503;
  g.status_times = 1;
  g.retry_after = "Fri, 31 Dec 2100 23:59:59 GMT";
  srv.set_faults("/r.bin", g);
  auto opts = quick();
  opts.retry_after_cap = milliseconds(300);
  t0 = std::chrono::steady_clock::now();
  auto rep2 = TransferEngine(opts).run({listed(srv, "r.bin", 2 * MiB, 41)}, dir.path() / "again");
  secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  REQUIRE(rep2.ok);
  CHECK(secs >= 0.25);
  CHECK(secs < 3);

  // Persistent 429: retries run out with a clear message.
  Faults h;
  h.status = 429;
  h.status_times = 100;
  h.retry_after = "0";
  srv.set_faults("/r.bin", h);
  auto few = quick();
  few.max_attempts = 3;
  auto rep3 = TransferEngine(few).run({listed(srv, "r.bin", 2 * MiB, 41)}, dir.path() / "third");
  REQUIRE_FALSE(rep3.ok);
  CHECK_THAT(rep3.error, Catch::Contains("rate limited (HTTP 429)") && Catch::Contains("r.bin"));
}

TEST_CASE("a changed remote file restarts cleanly instead of splicing", "[transfer-faults]") {
  FileServer srv;
  const uint64_t size = 6 * MiB;
  srv.add_file("/v.bin", size, 51);
  Faults f;
  f.drop_at = 2 * MiB;
  f.drop_times = 100;
  srv.set_faults("/v.bin", f);
  TempDir dir;
  auto opts = quick();
  opts.max_attempts = 1;
  auto file = listed(srv, "v.bin", size, 51, false);  // no digest: only If-Range protects us
  auto rep = TransferEngine(opts).run({file}, dir.path());
  REQUIRE_FALSE(rep.ok);
  CHECK_THAT(rep.error, Catch::Contains("giving up on 'v.bin'"));
  PartialState st;
  REQUIRE(load_partial_state(TransferEngine::partial_state_path(dir.path(), "v.bin"), st));
  CHECK(st.usable(current_boot_id()).bytes() == 2 * MiB);
  CHECK(st.durable.bytes() == 2 * MiB);  // the final sync of a failed run makes it durable
  CHECK(st.server_etag == "\"51-6291456-0\"");

  srv.change_file("/v.bin", 52);
  srv.set_faults("/v.bin", {});
  srv.reset_stats();
  auto rep2 = TransferEngine(quick()).run({file}, dir.path());
  INFO(rep2.error);
  REQUIRE(rep2.ok);
  auto reqs = srv.requests_for("/v.bin");
  REQUIRE(!reqs.empty());
  CHECK(reqs[0].range == "bytes=2097152-6291455");
  CHECK(reqs[0].if_range == "\"51-6291456-0\"");
  CHECK(reqs[0].status == 200);  // validator mismatch: the whole new file, taken as it comes
  CHECK(reqs.size() == 1);
  CHECK(same_content(dir.path() / "v.bin", 52, size));

  // A large file that changed starts over in ranges that all carry the new validator.
  const uint64_t big = 48 * MiB;
  srv.add_file("/big-v.bin", big, 53);
  Faults cut;
  cut.drop_at = 20 * MiB;
  cut.drop_times = 100;
  srv.set_faults("/big-v.bin", cut);
  auto ranged = opts;
  ranged.single_stream_max_bytes = 8 * MiB;
  ranged.min_range_bytes = 8 * MiB;
  ranged.max_per_host = 1;  // pieces in order: [0, 20 MiB) arrives before the cut
  auto big_file = listed(srv, "big-v.bin", big, 53, false);
  auto rep3 = TransferEngine(ranged).run({big_file}, dir.path());
  REQUIRE_FALSE(rep3.ok);
  REQUIRE(load_partial_state(TransferEngine::partial_state_path(dir.path(), "big-v.bin"), st));
  CHECK(st.usable(current_boot_id()).bytes() == 20 * MiB);
  CHECK(st.server_etag == "\"53-50331648-0\"");
  ranged.max_per_host = 8;
  srv.change_file("/big-v.bin", 54);
  srv.set_faults("/big-v.bin", {});
  srv.reset_stats();
  ranged.max_attempts = 6;
  auto rep4 = TransferEngine(ranged).run({big_file}, dir.path());
  INFO(rep4.error);
  REQUIRE(rep4.ok);
  CHECK(same_content(dir.path() / "big-v.bin", 54, big));
  size_t with_new_validator = 0;
  for (auto& r : srv.requests_for("/big-v.bin"))
    if (r.if_range == "\"54-50331648-1\"") {
      CHECK(r.status == 206);
      ++with_new_validator;
    }
  CHECK(with_new_validator >= 2);
}

// ---------------------------------------------------------------- security and errors

TEST_CASE("redirects to another host carry no credentials; same-host redirects keep them", "[transfer-security]") {
  FileServer origin("127.0.0.1");
  FileServer cdn("127.0.0.2");
  origin.add_file("/same/target.bin", 2 * MiB, 61);
  cdn.add_file("/lfs/blob", 3 * MiB, 62);
  Faults to_cdn;
  to_cdn.redirect_to = cdn.url("/lfs/blob") + "?X-Amz-Signature=deadbeef";
  origin.set_faults("/model.bin", to_cdn);
  Faults same;
  same.redirect_to = "/same/target.bin";  // relative: same origin
  origin.set_faults("/cfg.bin", same);
  Faults need_auth;
  need_auth.require_auth = "Bearer hf_sekrit";
  origin.set_faults("/same/target.bin", need_auth);

  RemoteFile a;
  a.path = "model.bin";
  a.url = origin.url("/model.bin");
  a.size = 3 * MiB;
  a.sha256 = omed::testing::content_sha256(62, 3 * MiB);
  RemoteFile b;
  b.path = "cfg.bin";
  b.url = origin.url("/cfg.bin");
  b.size = 2 * MiB;
  b.sha256 = omed::testing::content_sha256(61, 2 * MiB);

  TempDir dir;
  StaticAuth auth;
  auto rep = TransferEngine(quick()).run({a, b}, dir.path(), &auth);
  INFO(rep.error);
  REQUIRE(rep.ok);
  CHECK(same_content(dir.path() / "model.bin", 62, 3 * MiB));
  CHECK(same_content(dir.path() / "cfg.bin", 61, 2 * MiB));

  auto at_origin = origin.requests();
  REQUIRE(at_origin.size() >= 3);
  for (auto& r : at_origin) {
    CHECK(r.authorization == "Bearer hf_sekrit");
    CHECK(has_header(r, "X-Amz-Security-Token"));
  }
  auto at_cdn = cdn.requests();
  REQUIRE(!at_cdn.empty());
  for (auto& r : at_cdn) {
    CHECK(r.authorization.empty());
    CHECK_FALSE(has_header(r, "X-Amz-Security-Token"));
  }
}

TEST_CASE("redirect loops stop after ten hops", "[transfer-security]") {
  FileServer srv;
  Faults loop;
  loop.redirect_to = "/loop";
  srv.set_faults("/loop", loop);
  RemoteFile f;
  f.path = "loop.bin";
  f.url = srv.url("/loop");
  f.size = 10;
  TempDir dir;
  auto rep = TransferEngine(quick()).run({f}, dir.path());
  REQUIRE_FALSE(rep.ok);
  CHECK_THAT(rep.error, Catch::Contains("too many redirects"));
  CHECK(srv.requests().size() == 11);
}

TEST_CASE("404 and 401 fail at once with clear errors", "[transfer-security]") {
  FileServer srv;
  srv.add_file("/private.bin", 1000, 71);
  Faults need_auth;
  need_auth.require_auth = "Bearer right";
  srv.set_faults("/private.bin", need_auth);
  TempDir dir;
  RemoteFile missing;
  missing.path = "missing.bin";
  missing.url = srv.url("/missing.bin?token=should-not-leak");
  missing.size = 10;
  auto rep = TransferEngine(quick()).run({missing}, dir.path());
  REQUIRE_FALSE(rep.ok);
  CHECK_THAT(rep.error, Catch::Contains("not found (HTTP 404)") && Catch::Contains("missing.bin"));
  CHECK_THAT(rep.error, !Catch::Contains("should-not-leak"));
  CHECK(srv.requests_for("/missing.bin").size() == 1);  // not retried

  StaticAuth wrong;
  auto rep2 = TransferEngine(quick()).run({listed(srv, "private.bin", 1000, 71)}, dir.path(), &wrong);
  REQUIRE_FALSE(rep2.ok);
  CHECK_THAT(rep2.error, Catch::Contains("access denied (HTTP 401)") && Catch::Contains("private.bin"));
  CHECK(srv.requests_for("/private.bin").size() == 1);
  CHECK_FALSE(fs::exists(dir.path() / "private.bin"));
}

TEST_CASE("a hostile path is rejected before anything is written", "[transfer-security]") {
  FileServer srv;
  srv.add_file("/ok.bin", 100, 81);
  TempDir dir;
  auto dest = dir.path() / "model";
  for (std::string bad : {"../../etc/passwd", "/etc/passwd", "a/../../b", "a\\b", ".omed-partial/x"}) {
    RemoteFile evil;
    evil.path = bad;
    evil.url = srv.url("/ok.bin");
    evil.size = 100;
    auto rep = TransferEngine(quick()).run({listed(srv, "ok.bin", 100, 81), evil}, dest);
    INFO(bad);
    REQUIRE_FALSE(rep.ok);
    CHECK_FALSE(rep.error.empty());
    CHECK_FALSE(fs::exists(dest));
    CHECK(srv.requests().empty());
  }
  RemoteFile dup = listed(srv, "ok.bin", 100, 81);
  auto rep = TransferEngine(quick()).run({dup, dup}, dest);
  CHECK_THAT(rep.error, Catch::Contains("listed twice"));
  RemoteFile bad_sha = dup;
  bad_sha.sha256 = "../../x";
  rep = TransferEngine(quick()).run({bad_sha}, dest);
  CHECK_THAT(rep.error, Catch::Contains("malformed sha256"));
  CHECK_FALSE(fs::exists(dest));
}

// ---------------------------------------------------------------- disk

TEST_CASE("the disk space check fails before downloading", "[transfer-disk]") {
  FileServer srv;
  srv.add_file("/huge.bin", 100, 91);
  TempDir dir;
  RemoteFile f = listed(srv, "huge.bin", 100, 91, false);
  f.size = 1ull << 50;  // the listing claims a petabyte
  auto rep = TransferEngine(quick()).run({f}, dir.path() / "m");
  REQUIRE_FALSE(rep.ok);
  CHECK_THAT(rep.error, Catch::Contains("needs 1048576.0 GiB") && Catch::Contains("GiB free on") &&
                            Catch::Contains((dir.path() / "m").string()));
  CHECK(srv.requests().empty());
  CHECK_FALSE(fs::exists(dir.path() / "m"));
}

TEST_CASE("write errors fail the file clearly instead of crashing", "[transfer-disk]") {
  FileServer srv;
  srv.add_file("/big.bin", 8 * MiB, 92);
  TempDir dir;
  // A file size limit makes the kernel refuse writes past 4 MiB with EFBIG, as a full or
  // quota-limited disk would refuse with ENOSPC.
  struct rlimit old {};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  struct rlimit lim = old;
  lim.rlim_cur = 4 * MiB;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
  auto rep = TransferEngine(quick()).run({listed(srv, "big.bin", 8 * MiB, 92)}, dir.path() / "a");
  RemoteFile unsized = listed(srv, "big.bin", 8 * MiB, 92, false);
  unsized.size.reset();  // no preallocation: the error comes from a write in the middle
  auto rep2 = TransferEngine(quick()).run({unsized}, dir.path() / "b");
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);

  REQUIRE_FALSE(rep.ok);
  CHECK_THAT(rep.error, Catch::Contains("big.bin") && Catch::Contains("File too large"));
  REQUIRE_FALSE(rep2.ok);
  CHECK_THAT(rep2.error, Catch::Contains("writing 'big.bin'") && Catch::Contains("File too large"));
  CHECK_FALSE(fs::exists(dir.path() / "a" / "big.bin"));
  CHECK_FALSE(fs::exists(dir.path() / "b" / "big.bin"));

  // Without the limit, the same listing (size unknown) resumes nothing and completes.
  auto rep3 = TransferEngine(quick()).run({unsized}, dir.path() / "b");
  INFO(rep3.error);
  REQUIRE(rep3.ok);
  CHECK(same_content(dir.path() / "b" / "big.bin", 92, 8 * MiB));
}

TEST_CASE("cancellation stops a run and keeps it resumable", "[transfer-disk]") {
  FileServer srv;
  const uint64_t size = 64 * MiB;
  srv.add_file("/slow.bin", size, 93);
  Faults f;
  f.stall_at = 20 * MiB;
  f.stall_times = 1000;
  srv.set_faults("/slow.bin", f);
  TempDir dir;
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    while (srv.bytes_served() < 20 * MiB)
      std::this_thread::sleep_for(milliseconds(10));
    std::this_thread::sleep_for(milliseconds(300));
    cancel = true;
  });
  auto opts = quick();
  opts.stall_timeout = milliseconds(60000);
  auto rep = TransferEngine(opts).run({listed(srv, "slow.bin", size, 93)}, dir.path(), nullptr, &cancel);
  canceller.join();
  REQUIRE_FALSE(rep.ok);
  CHECK(rep.error == "cancelled");
  PartialState st;
  REQUIRE(load_partial_state(TransferEngine::partial_state_path(dir.path(), "slow.bin"), st));
  CHECK(st.usable(current_boot_id()).bytes() == 20 * MiB);

  srv.set_faults("/slow.bin", {});
  srv.reset_stats();
  auto rep2 = TransferEngine(quick()).run({listed(srv, "slow.bin", size, 93)}, dir.path());
  INFO(rep2.error);
  REQUIRE(rep2.ok);
  CHECK(rep2.files[0].bytes_resumed == 20 * MiB);
  CHECK(srv.bytes_served() == size - 20 * MiB);
  CHECK(same_content(dir.path() / "slow.bin", 93, size));
}

TEST_CASE("two transfers into one directory exclude each other", "[transfer-disk]") {
  FileServer srv;
  srv.add_file("/hold.bin", 4 * MiB, 94);
  Faults f;
  f.stall_at = 1 * MiB;
  f.stall_times = 1000;
  srv.set_faults("/hold.bin", f);
  TempDir dir;
  std::atomic<bool> cancel{false};
  auto opts = quick();
  opts.stall_timeout = milliseconds(60000);
  TransferReport first;
  std::thread t([&] { first = TransferEngine(opts).run({listed(srv, "hold.bin", 4 * MiB, 94)}, dir.path(), nullptr, &cancel); });
  while (srv.bytes_served() < 1 * MiB)
    std::this_thread::sleep_for(milliseconds(5));
  auto second = TransferEngine(quick()).run({listed(srv, "hold.bin", 4 * MiB, 94)}, dir.path());
  cancel = true;
  t.join();
  REQUIRE_FALSE(second.ok);
  CHECK_THAT(second.error, Catch::Contains("another transfer is already writing into " + dir.path().string()));
  CHECK(first.error == "cancelled");
  // The cancelled run keeps its partial download (and lock file); a later run takes over.
  srv.set_faults("/hold.bin", {});
  auto third = TransferEngine(quick()).run({listed(srv, "hold.bin", 4 * MiB, 94)}, dir.path());
  INFO(third.error);
  REQUIRE(third.ok);
  CHECK_FALSE(fs::exists(dir.path() / ".omed-partial"));  // lock file and all are gone
}

TEST_CASE("temporary files a killed run left are cleared under the lock", "[transfer-disk]") {
  FileServer srv;
  srv.add_file("/a.bin", 1 * MiB, 95);
  TempDir dir;
  // As a process killed inside write_file_atomically leaves them.
  auto partial = dir.path() / ".omed-partial";
  omed::testing::write_file(partial / "a.bin.state.tmp123456", "{\"half");
  omed::testing::write_file(partial / "sub" / "b.bin.state.tmp9", "");
  omed::testing::write_file(partial / "notes.tmpx", "not ours");
  auto rep = TransferEngine(quick()).run({listed(srv, "a.bin", 1 * MiB, 95)}, dir.path());
  INFO(rep.error);
  REQUIRE(rep.ok);
  CHECK_FALSE(fs::exists(partial / "a.bin.state.tmp123456"));
  CHECK_FALSE(fs::exists(partial / "sub" / "b.bin.state.tmp9"));
  // A name that is not one of ours stays (and so does the directory holding it).
  CHECK(fs::exists(partial / "notes.tmpx"));
}

// ---------------------------------------------------------------- crash and resume

#ifdef OMED_TRANSFER_CHILD
TEST_CASE("a download killed with SIGKILL resumes where it stopped", "[transfer-resume]") {
  const uint64_t size = 2ull << 30;
  const uint64_t seed = 2024;
  FileServer srv("127.0.0.1", 2);
  srv.add_file("/llm.safetensors", size, seed);
  const std::string sha = omed::testing::content_sha256(seed, size);
  TempDir dir;
  auto dest = dir.path() / "model";
  std::vector<std::string> args = {OMED_TRANSFER_CHILD, "--url", srv.url("/llm.safetensors"), "--path",
                                   "llm.safetensors", "--size", std::to_string(size), "--sha256", sha,
                                   "--dest", dest.string()};
  auto t0 = std::chrono::steady_clock::now();
  {
    omed::testing::Process child(args, dir.path() / "run1.log");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (srv.bytes_served() < size / 2 && std::chrono::steady_clock::now() < deadline) {
      REQUIRE_FALSE(child.wait(0));
      std::this_thread::sleep_for(milliseconds(2));
    }
    REQUIRE(srv.bytes_served() >= size / 2);
    child.signal(SIGKILL);
    REQUIRE(child.wait(10000));
    CHECK(child.exit_code() == 128 + SIGKILL);
  }
  const uint64_t served_before = srv.bytes_served();
  const size_t requests_before = srv.requests().size();
  // Progress lives in two records: the fsync'd one next to the .part file (may not exist yet
  // when the disk is far behind) and the frequent same-boot one on tmpfs.
  const auto state_path = TransferEngine::partial_state_path(dest, "llm.safetensors");
  PartialState on_disk, fast;
  bool have_disk = load_partial_state(state_path, on_disk);
  bool have_fast = load_partial_state(fast_state_path(TransferOptions().fast_state_dir, state_path), fast);
  REQUIRE((have_disk || have_fast));
  CHECK_FALSE(fs::exists(dest / "llm.safetensors"));
  RangeMap usable_map = have_disk ? on_disk.usable(current_boot_id()) : RangeMap();
  if (have_fast)
    for (auto& s : fast.usable(current_boot_id()).spans())
      usable_map.add(s.begin, s.end);
  const uint64_t usable = usable_map.bytes();
  WARN("killed after " << served_before / MiB << " MiB served; the partial state keeps " << usable / MiB
                       << " MiB (" << (have_disk ? on_disk.durable.bytes() / MiB : 0) << " MiB of it fdatasync'd)");
  CHECK(usable >= size / 4);

  omed::testing::Process again(args, dir.path() / "run2.log");
  REQUIRE(again.wait(180000));
  INFO(again.output());
  REQUIRE(again.exit_code() == 0);
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const uint64_t served = srv.bytes_served();
  WARN("served " << served / MiB << " MiB in total for a " << size / MiB << " MiB file ("
                 << 100.0 * static_cast<double>(served) / static_cast<double>(size) << "%), " << secs << " s, "
                 << requests_before << " + " << srv.requests().size() - requests_before << " requests");
  CHECK(fs::file_size(dest / "llm.safetensors") == size);
  CHECK(omed::testing::sha256_of_file((dest / "llm.safetensors").string()) == sha);
  CHECK(static_cast<double>(served) <= 1.05 * static_cast<double>(size));
  CHECK_FALSE(fs::exists(TransferEngine::partial_state_path(dest, "llm.safetensors")));
  CHECK_FALSE(fs::exists(fast_state_path(TransferOptions().fast_state_dir, state_path)));
  // The second run only asked for what was missing.
  for (auto& r : srv.requests())
    CHECK_FALSE(r.range.empty());
}
#endif
