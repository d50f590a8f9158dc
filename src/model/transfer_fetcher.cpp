// The transfer engine's network loop on libcurl's multi interface: requests, redirects,
// retries and writes to .part files, on one thread that never waits for a sync or a hash.
#include "transfer_fetcher.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <unordered_map>

#include "omed/log/logger.hpp"
#include "omed/model/transfer/disk_space.hpp"
#include "omed/model/transfer/durable_io.hpp"
#include "omed/model/transfer/partial_state.hpp"
#include "omed/model/transfer/retry_policy.hpp"

// Every curl handle lives on this thread; syncing and hashing run on helper threads and talk
// back through the event queue, so a slow disk or a slow hash never stalls the sockets.
namespace omed::model::transfer {

namespace {

constexpr size_t kMaxErrorBody = 64 * 1024;  // error pages are read (keeps the connection) up to this
constexpr int kMaxRedirects = 10;
constexpr int kMaxRestarts = 3;              // the remote changing under us
constexpr uint64_t kSplitAlign = 64 * 1024;
constexpr double kMinSplitSeconds = 2.0;     // a range finishing sooner is left alone

// What ended a request other than the transfer finishing by itself.
enum class Stop {
  None,
  Stalled,      // no byte within stall_timeout
  WriteFailed,  // the disk refused (fatal for the file)
  Superseded,   // the file restarted or failed; this request's bytes are not wanted
  Truncated,    // reached the limit a split gave it: success
  Protocol,     // the server answered something unusable (fatal)
  Changed,      // the remote file changed between requests: restart the file
};

bool strong_etag(const std::string& e) { return !e.empty() && e.rfind("W/", 0) != 0; }

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return std::string(s);
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "bytes a-b/total" -> a, b (inclusive), total (nullopt for '*').
bool parse_content_range(const std::string& v, uint64_t& first, uint64_t& last, std::optional<uint64_t>& total) {
  std::string s = trim(v);
  if (lower(s.substr(0, 6)) != "bytes ")
    return false;
  const char* p = s.data() + 6;
  const char* end = s.data() + s.size();
  auto r1 = std::from_chars(p, end, first);
  if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != '-')
    return false;
  auto r2 = std::from_chars(r1.ptr + 1, end, last);
  if (r2.ec != std::errc() || r2.ptr == end || *r2.ptr != '/' || last < first)
    return false;
  const char* t = r2.ptr + 1;
  if (t < end && *t == '*' && t + 1 == end) {
    total.reset();
    return true;
  }
  uint64_t tv = 0;
  auto r3 = std::from_chars(t, end, tv);
  if (r3.ec != std::errc() || r3.ptr != end || tv <= last)
    return false;
  total = tv;
  return true;
}

bool fatal_curl_code(CURLcode rc) {
  switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_FILESIZE_EXCEEDED:
      return true;
    default:
      return false;
  }
}

}  // namespace

struct Request {
  Fetcher::Impl* owner = nullptr;
  std::shared_ptr<FileJob> job;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  char errbuf[CURL_ERROR_SIZE] = {0};

  uint64_t begin = 0;          // first byte asked for
  uint64_t end = kUnknownEnd;  // one past the last byte asked for
  uint64_t offset = 0;         // next byte to write
  uint64_t limit = kUnknownEnd;  // write no further than this (lowered by splits)
  int attempts = 0;            // failures of this span before this attempt
  bool ranged = false;         // a Range header was sent
  bool if_range = false;       // ... with an If-Range validator
  std::string url;
  int redirects = 0;
  bool from_cache = false;     // url is a remembered redirect target
  std::string host_key;
  uint64_t generation = 0;
  int fd = -1;

  long status = 0;
  bool checked = false;        // the response's status and headers were validated
  bool discard = false;        // an error or redirect body: read and drop
  size_t discarded = 0;
  std::string location, content_range, etag, retry_after;
  std::optional<uint64_t> content_length;

  Clock::time_point last_activity;
  Clock::time_point first_byte{};  // when the body started (rate estimate for splits)
  uint64_t received = 0;       // body bytes written by this attempt
  Stop stop = Stop::None;
  std::string stop_message;
  bool swept = false;          // queued for removal outside of curl callbacks
};

struct Fetcher::Impl {
  explicit Impl(FetchContext c)
    : ctx(c),
      opts(c.opts),
      policy(c.opts.backoff_base, c.opts.backoff_cap, c.opts.retry_after_cap, c.opts.max_attempts) {}

  FetchContext ctx;
  const TransferOptions& opts;
  RetryPolicy policy;
  CURLM* multi = nullptr;
  std::unordered_map<Request*, std::unique_ptr<Request>> active;
  std::map<std::string, int> per_host;
  std::vector<std::shared_ptr<FileJob>> jobs;
  size_t next_job = 0;
  std::deque<std::shared_ptr<FileJob>> requeued;  // restarted after a failed verification
  int slots_used = 0;
  size_t terminal_count = 0;
  std::vector<Request*> sweep;
  std::string error;
  uint64_t retries = 0;
  omed::log::Logger log{"transfer"};

  // ---------- lifecycle of a job ----------

  std::string open_part(FileJob& job) {
    std::error_code ec;
    std::filesystem::create_directories(job.part_path.parent_path(), ec);
    if (ec)
      return "creating " + job.part_path.parent_path().string() + ": " + ec.message();
    int flags = O_RDWR | O_CREAT | O_CLOEXEC;
    if (!job.resume) {
      // A state record must never outlive the bytes it describes: drop it before truncating.
      {
        std::lock_guard<std::mutex> sl(job.state_mu);
        remove_states(job);
      }
      if (opts.durable)
        fsync_directory(job.state_path.parent_path());
      flags |= O_TRUNC;
    }
    int fd = ::open(job.part_path.c_str(), flags, 0644);
    if (fd < 0)
      return "creating " + job.part_path.string() + ": " + describe_errno(errno);
    auto part = std::make_shared<PartFile>(fd);
    if (job.size && *job.size > 0) {
      // Reserving the blocks up front turns a full disk into an immediate, clear error and
      // keeps the file contiguous although ranges arrive out of order.
      if (::fallocate(fd, 0, 0, static_cast<off_t>(*job.size)) != 0) {
        int e = errno;
        if (e != EOPNOTSUPP && e != ENOSYS)
          return "reserving " + format_bytes(*job.size) + " for '" + job.remote.path + "': " + describe_errno(e);
        if (::ftruncate(fd, static_cast<off_t>(*job.size)) != 0)
          return "sizing '" + job.remote.path + "': " + describe_errno(errno);
      }
    }
    std::lock_guard<std::mutex> lk(job.mu);
    job.part = std::move(part);
    return {};
  }

  uint64_t chunk_for(const FileJob& job) const {
    uint64_t size = *job.size;
    if (size <= opts.single_stream_max_bytes || !job.ranges_ok)
      return 0;
    // A few pieces per connection: the connections that finish early pick up the remaining
    // pieces, so only the very last ones may need splitting (which wastes bytes in flight).
    const uint64_t pieces = 4 * static_cast<uint64_t>(std::max(1, opts.max_per_host));
    uint64_t chunk = (size + pieces - 1) / pieces;
    return std::clamp(chunk, std::max<uint64_t>(opts.min_range_bytes, 1),
                      std::max(opts.range_chunk_bytes, opts.min_range_bytes));
  }

  void plan_spans(FileJob& job) {
    job.pending.clear();
    if (!job.size) {
      job.pending.push_back({0, kUnknownEnd, 0, {}});
      return;
    }
    std::vector<ByteSpan> missing;
    {
      std::lock_guard<std::mutex> lk(job.mu);
      missing = job.done.missing(*job.size);
    }
    if (!job.ranges_ok) {
      if (!missing.empty())
        job.pending.push_back({0, *job.size, 0, {}});
      return;
    }
    for (auto& s : split_spans(missing, chunk_for(job)))
      job.pending.push_back({s.begin, s.end, 0, {}});
  }

  // Starts (or restarts after a failed verification) a job: .part file, spans, helpers.
  void start_job(const std::shared_ptr<FileJob>& job) {
    job->slot = true;
    ++slots_used;
    job->network_done = false;
    {
      std::lock_guard<std::mutex> sl(job->state_mu);
      job->retired = false;
      job->saved_state.clear();
    }
    auto err = open_part(*job);
    if (!err.empty())
      return fail_job(job, err, false);
    if (job->resume) {
      uint64_t have = 0;
      {
        std::lock_guard<std::mutex> lk(job->mu);
        have = job->done.bytes();
      }
      job->bytes_resumed = have;
      ctx.progress.add_done(static_cast<int64_t>(have));
      if (opts.counters)
        opts.counters->bytes_reused += have;
    }
    if (job->start_url.empty()) {
      job->start_url = job->remote.url;
      job->start_host = job->origin.to_string();
    }
    plan_spans(*job);
    if (job->persist) {
      ctx.checkpointer.add(job);
      if (ctx.syncer)
        ctx.syncer->add(job);
    }
    ctx.finisher.add(job);
    maybe_network_done(job);
  }

  void release_slot(FileJob& job) {
    if (job.slot) {
      job.slot = false;
      --slots_used;
    }
  }

  void maybe_network_done(const std::shared_ptr<FileJob>& job) {
    if (job->terminal || job->network_done || job->active > 0 || !job->pending.empty())
      return;
    if (job->size) {
      bool complete = false;
      {
        std::lock_guard<std::mutex> lk(job->mu);
        complete = job->done.covers(0, *job->size);
      }
      if (!complete) {
        plan_spans(*job);  // defensive: a span ended short without being requeued
        if (!job->pending.empty())
          return;
      }
    }
    job->size_for_finisher = job->size.value_or(0);
    job->network_done.store(true, std::memory_order_release);
    release_slot(*job);
    ctx.finisher.kick();
  }

  // Marks every request of `job` (except `keep`) as unwanted; they are removed after the
  // current curl call returns (curl handles cannot be removed from inside callbacks).
  void supersede(FileJob& job, Request* keep) {
    for (auto& [r, req] : active) {
      if (r != keep && req->job.get() == &job && req->stop == Stop::None) {
        req->stop = Stop::Superseded;
        queue_sweep(r);
      }
    }
  }

  void queue_sweep(Request* r) {
    if (!r->swept) {
      r->swept = true;
      sweep.push_back(r);
    }
  }

  // Forgets every byte of the file (its content changed or is being refetched whole). The
  // cleared state goes to disk at once so a crash cannot resurrect ranges of the old content.
  void reset_content(FileJob& job, const std::string& etag) {
    uint64_t dropped = 0;
    std::lock_guard<std::mutex> sl(job.state_mu);
    {
      std::lock_guard<std::mutex> lk(job.mu);
      dropped = job.done.bytes();
      job.done.clear();
      ++job.generation;
      job.server_etag = strong_etag(etag) ? etag : "";
    }
    ctx.progress.add_done(-static_cast<int64_t>(dropped));
    job.durable.clear();
    if (job.persist && !job.retired) {
      uint64_t written = 0;
      auto st = snapshot_state(job, written);
      save_state(job, st, opts.durable);
      save_fast_state(job, st);
      if (job.saved_state != st.encode())
        remove_states(job);  // could not record the reset: forget the old claims
      job.saved_written = written;
    }
  }

  void fail_job(const std::shared_ptr<FileJob>& job, const std::string& msg, bool discard) {
    if (job->terminal)
      return;
    job->terminal = true;
    job->failed = true;
    job->last_error = msg;
    job->abandoned = true;
    ++terminal_count;
    supersede(*job, nullptr);
    job->pending.clear();
    release_slot(*job);
    if (discard) {
      std::lock_guard<std::mutex> sl(job->state_mu);
      job->retired = true;
      {
        std::lock_guard<std::mutex> lk(job->mu);
        job->part.reset();
      }
      ::unlink(job->part_path.c_str());
      remove_states(*job);
    }
    // Otherwise the checkpointer keeps the job and writes its final state: a later run resumes.
    if (opts.counters)
      opts.counters->failures++;
    log.warn("file transfer failed").kv("file", job->remote.path).kv("error", msg);
    if (error.empty())
      error = msg;
  }

  void restart_job(const std::shared_ptr<FileJob>& job, const std::string& why, const std::string& etag) {
    if (++job->restarts > kMaxRestarts)
      return fail_job(job, "'" + job->remote.path + "' keeps changing on the server (" + why + "); giving up", false);
    log.info("restarting file transfer").kv("file", job->remote.path).kv("reason", why);
    supersede(*job, nullptr);
    reset_content(*job, etag);
    plan_spans(*job);
  }

  // ---------- requests ----------

  void launch(const std::shared_ptr<FileJob>& job, uint64_t begin, uint64_t end, int attempts,
              const std::string& url, int redirects, bool from_cache) {
    auto req = std::make_unique<Request>();
    Request* r = req.get();
    r->owner = this;
    r->job = job;
    r->begin = r->offset = begin;
    r->end = r->limit = end;
    r->attempts = attempts;
    r->url = url;
    r->redirects = redirects;
    r->from_cache = from_cache;
    auto origin = url_origin(url);
    r->host_key = origin ? origin->to_string() : url;
    r->last_activity = Clock::now();
    {
      std::lock_guard<std::mutex> lk(job->mu);
      r->generation = job->generation;
      r->fd = job->part ? job->part->fd : -1;
    }

    // Credentials only ever go to the origin the listing named; a redirect elsewhere (a CDN,
    // a signed storage URL) gets none, and neither does anything it redirects to.
    if (ctx.authorizer && origin && *origin == job->origin) {
      for (auto& [name, value] : ctx.authorizer->headers_for("GET", url))
        r->headers = curl_slist_append(r->headers, (name + ": " + value).c_str());
    }
    bool whole = begin == 0 && (end == kUnknownEnd || (job->size && end == *job->size));
    if (!whole && job->ranges_ok) {
      r->ranged = true;
      std::string range = "Range: bytes=" + std::to_string(begin) + "-";
      if (end != kUnknownEnd)
        range += std::to_string(end - 1);
      r->headers = curl_slist_append(r->headers, range.c_str());
      std::string etag;
      {
        std::lock_guard<std::mutex> lk(job->mu);
        etag = job->server_etag;
      }
      // If-Range: should the file have changed, the server sends all of it instead of a piece
      // of the new content that we would splice onto the old.
      if (strong_etag(etag)) {
        r->headers = curl_slist_append(r->headers, ("If-Range: " + etag).c_str());
        r->if_range = true;
      }
    }

    CURL* e = curl_easy_init();
    r->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);  // redirects are ours: credential policy
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts.stall_timeout.count()));
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, opts.receive_buffer_bytes);
    curl_easy_setopt(e, CURLOPT_USERAGENT, opts.user_agent.c_str());
    if (!opts.ca_file.empty())
      curl_easy_setopt(e, CURLOPT_CAINFO, opts.ca_file.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Impl::write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Impl::header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    if (CURLMcode mc = curl_multi_add_handle(multi, e); mc != CURLM_OK) {
      curl_slist_free_all(r->headers);
      curl_easy_cleanup(e);
      return fail_job(job, std::string("internal error starting a request: ") + curl_multi_strerror(mc), false);
    }
    ++job->active;
    ++per_host[r->host_key];
    active.emplace(r, std::move(req));
  }

  static size_t write_cb(char* data, size_t size, size_t n, void* ud) {
    auto* r = static_cast<Request*>(ud);
    return r->owner->on_body(*r, data, size * n);
  }

  static size_t header_cb(char* data, size_t size, size_t n, void* ud) {
    auto* r = static_cast<Request*>(ud);
    size_t len = size * n;
    r->last_activity = Clock::now();
    std::string_view line(data, len);
    if (line.rfind("HTTP/", 0) == 0) {
      // A new response (after 100 Continue, say): forget the previous one's headers.
      r->location.clear();
      r->content_range.clear();
      r->etag.clear();
      r->retry_after.clear();
      r->content_length.reset();
      return len;
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      return len;
    std::string name = lower(std::string(line.substr(0, colon)));
    std::string value = trim(line.substr(colon + 1));
    if (name == "location")
      r->location = value;
    else if (name == "content-range")
      r->content_range = value;
    else if (name == "etag")
      r->etag = value;
    else if (name == "retry-after")
      r->retry_after = value;
    else if (name == "content-length") {
      uint64_t v = 0;
      auto res = std::from_chars(value.data(), value.data() + value.size(), v);
      if (res.ec == std::errc() && res.ptr == value.data() + value.size())
        r->content_length = v;
    }
    return len;
  }

  // Validates a 2xx response before its first byte is stored. False: do not store (the
  // request's stop reason or `discard` says why).
  bool check_response(Request& r) {
    r.checked = true;
    curl_easy_getinfo(r.easy, CURLINFO_RESPONSE_CODE, &r.status);
    if (r.status < 200 || r.status >= 300 || (r.status != 200 && r.status != 206)) {
      r.discard = true;  // judged when the transfer completes
      return false;
    }
    FileJob& job = *r.job;
    auto protocol = [&](std::string msg) {
      r.stop = Stop::Protocol;
      r.stop_message = std::move(msg);
      return false;
    };
    if (r.status == 206) {
      uint64_t first = 0, last = 0;
      std::optional<uint64_t> total;
      if (!r.ranged)
        return protocol("the server sent a partial response (HTTP 206) for '" + job.remote.path +
                        "' that was not asked for");
      if (!parse_content_range(r.content_range, first, last, total))
        return protocol("the server sent an unreadable Content-Range '" + r.content_range + "' for '" +
                        job.remote.path + "'");
      if (first != r.offset)
        return protocol("the server sent bytes from " + std::to_string(first) + " of '" + job.remote.path +
                        "' where " + std::to_string(r.offset) + " was asked for");
      if (total && job.size && *total != *job.size)
        return protocol("the server reports " + std::to_string(*total) + " bytes for '" + job.remote.path +
                        "' but the listing says " + std::to_string(*job.size));
      if (total && !job.size)
        job.size = *total;
      if (r.end == kUnknownEnd && job.size)
        r.end = r.limit = *job.size;
      // A server may answer with less than asked: queue the rest now, this request ends early.
      if (r.end != kUnknownEnd && last + 1 < r.end) {
        job.pending.push_back({last + 1, r.end, 0, {}});
        r.end = r.limit = last + 1;
      }
      std::string known;
      {
        std::lock_guard<std::mutex> lk(job.mu);
        known = job.server_etag;
      }
      if (strong_etag(r.etag) && strong_etag(known) && r.etag != known) {
        r.stop = Stop::Changed;
        r.stop_message = "its ETag changed from " + known + " to " + r.etag;
        return false;
      }
      if (strong_etag(r.etag) && known.empty()) {
        std::lock_guard<std::mutex> lk(job.mu);
        job.server_etag = r.etag;
      }
      return true;
    }
    // 200: the whole file from byte 0.
    if (r.content_length && job.size && *r.content_length != *job.size)
      return protocol("the server reports " + std::to_string(*r.content_length) + " bytes for '" +
                      job.remote.path + "' but the listing says " + std::to_string(*job.size));
    if (r.content_length && !job.size)
      job.size = *r.content_length;
    if (!r.ranged && r.offset == 0 && job.size)
      r.end = r.limit = *job.size;
    const bool changed = r.ranged && r.if_range && strong_etag(r.etag) && r.etag != job.server_etag;
    if (changed && job.size && *job.size > opts.single_stream_max_bytes) {
      // If-Range did its job: the file changed. A large file starts over in parallel ranges.
      r.stop = Stop::Changed;
      r.stop_message = "its ETag changed from " + job.server_etag + " to " + r.etag;
      return false;
    }
    if (r.ranged || r.offset != 0) {
      // The whole file is coming (a small changed file, or a server that ignores Range):
      // continue with this response as the file's only stream.
      if (changed)
        log.info("file changed on the server; fetching it again").kv("file", job.remote.path);
      else if (job.ranges_ok)
        log.info("server ignored a byte range; fetching as one stream").kv("file", job.remote.path);
      if (!changed)
        job.ranges_ok = false;
      supersede(job, &r);
      job.pending.clear();
      reset_content(job, r.etag);
      std::lock_guard<std::mutex> lk(job.mu);
      r.generation = job.generation;
      r.begin = r.offset = 0;
      r.end = r.limit = job.size.value_or(kUnknownEnd);
      r.ranged = false;
      return true;
    }
    if (strong_etag(r.etag)) {
      std::lock_guard<std::mutex> lk(job.mu);
      job.server_etag = r.etag;
    }
    return true;
  }

  size_t on_body(Request& r, char* data, size_t n) {
    r.last_activity = Clock::now();
    if (r.stop != Stop::None)
      return 0;
    if (!r.checked && !check_response(r)) {
      if (!r.discard)
        return 0;
    }
    if (r.discard) {
      r.discarded += n;
      return r.discarded > kMaxErrorBody ? 0 : n;
    }
    FileJob& job = *r.job;
    size_t take = n;
    bool at_limit = false;
    if (r.limit != kUnknownEnd) {
      if (r.offset >= r.limit) {
        take = 0;
        at_limit = true;
      } else if (n > r.limit - r.offset) {
        take = static_cast<size_t>(r.limit - r.offset);
        at_limit = true;
      }
    }
    if (r.received == 0)
      r.first_byte = r.last_activity;
    if (take > 0 && !write_at(r, data, take))
      return 0;
    if (at_limit) {
      // Reaching a limit a split lowered is the plan; a range answer longer than asked is
      // harmless (we stop); a whole-file answer longer than the listing is not.
      if (r.limit < r.end || r.status == 206) {
        r.stop = Stop::Truncated;
      } else {
        r.stop = Stop::Protocol;
        r.stop_message = "the server sent more bytes of '" + job.remote.path + "' than the listing's " +
                         std::to_string(job.size.value_or(0));
      }
      return 0;
    }
    return n;
  }

  bool write_at(Request& r, const char* data, size_t n) {
    FileJob& job = *r.job;
    size_t off = 0;
    while (off < n) {
      ssize_t w = ::pwrite(r.fd, data + off, n - off, static_cast<off_t>(r.offset + off));
      if (w < 0) {
        if (errno == EINTR)
          continue;
        r.stop = Stop::WriteFailed;
        r.stop_message = "writing '" + job.remote.path + "' to " + job.part_path.parent_path().string() +
                         ": " + describe_errno(errno);
        return false;
      }
      off += static_cast<size_t>(w);
    }
    {
      std::lock_guard<std::mutex> lk(job.mu);
      job.done.add(r.offset, r.offset + n);
      job.written += n;
    }
    r.offset += n;
    r.received += n;
    job.bytes_fetched += n;
    ctx.progress.add_done(static_cast<int64_t>(n));
    ctx.progress.add_network(n);
    if (opts.counters)
      opts.counters->bytes_fetched += n;
    if (job.persist) {
      uint64_t pending = ctx.ledger.unsaved.fetch_add(n, std::memory_order_relaxed) + n;
      if (pending >= opts.checkpoint_bytes && !ctx.checkpointer.kick_pending())
        ctx.checkpointer.kick();
    }
    return true;
  }

  // ---------- completion ----------

  void finish(Request* r, CURLcode rc) {
    std::unique_ptr<Request> owned;
    if (auto it = active.find(r); it != active.end()) {
      owned = std::move(it->second);
      active.erase(it);
    } else {
      return;
    }
    curl_multi_remove_handle(multi, r->easy);
    if (r->status == 0)
      curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(r->easy);
    r->easy = nullptr;
    curl_slist_free_all(r->headers);
    r->headers = nullptr;
    --r->job->active;
    if (--per_host[r->host_key] <= 0)
      per_host.erase(r->host_key);
    complete(*r, rc);
    maybe_network_done(r->job);
  }

  void complete(Request& r, CURLcode rc) {
    auto& job = r.job;
    if (job->terminal || r.stop == Stop::Superseded)
      return;
    const std::string where = redact_url(r.url);
    switch (r.stop) {
      case Stop::Changed: {
        // Several requests may notice the same change; the first one restarts the file.
        std::lock_guard<std::mutex> lk(job->mu);
        if (r.generation != job->generation)
          return;
      }
        return restart_job(job, r.stop_message, r.etag);
      case Stop::WriteFailed:
      case Stop::Protocol:
        return fail_job(job, r.stop_message, false);
      case Stop::Stalled:
        return retry(r, "no data received for " + std::to_string(opts.stall_timeout.count()) + " ms", std::nullopt);
      case Stop::Truncated:
        return;  // the rest of the span belongs to the request that split it off
      default:
        break;
    }
    if (rc != CURLE_OK) {
      std::string what = r.errbuf[0] ? std::string(r.errbuf) : std::string(curl_easy_strerror(rc));
      if (fatal_curl_code(rc))
        return fail_job(job, "fetching '" + job->remote.path + "' from " + where + ": " + what, false);
      return retry(r, what, std::nullopt);
    }
    long st = r.status;
    if (st >= 200 && st < 300) {
      if (st != 200 && st != 206)
        return fail_job(job, "unexpected HTTP " + std::to_string(st) + " fetching '" + job->remote.path +
                                 "' from " + where, false);
      // An empty body never reached the write callback.
      if (!r.checked && !check_response(r))
        return complete(r, rc);
      if (r.stop != Stop::None)
        return complete(r, rc);
      if (r.limit == kUnknownEnd) {
        job->size = r.offset;  // no length was announced: the stream's end is the file's end
      } else if (r.offset < r.limit) {
        return retry(r, "the connection closed after " + std::to_string(r.received) + " bytes", std::nullopt);
      }
      if (r.redirects > 0 && job->start_url != r.url) {
        // Later requests for this file go straight to where the redirect led.
        job->start_url = r.url;
        auto o = url_origin(r.url);
        job->start_host = o ? o->to_string() : r.url;
      }
      return;
    }
    if (st == 301 || st == 302 || st == 303 || st == 307 || st == 308)
      return redirect(r);
    if (r.from_cache && (st == 401 || st == 403 || st == 404 || st == 410)) {
      // A remembered redirect target (often a signed URL) expired: ask the origin again.
      job->start_url = job->remote.url;
      job->start_host = job->origin.to_string();
      job->pending.push_front({r.offset, r.end, r.attempts, {}});
      return;
    }
    if (RetryPolicy::retryable_status(st)) {
      std::optional<std::chrono::milliseconds> after;
      if (!r.retry_after.empty())
        after = parse_retry_after(r.retry_after);
      return retry(r, "HTTP " + std::to_string(st), after, st);
    }
    fail_job(job, describe_http_failure(st, job->remote.path, where), false);
  }

  void redirect(Request& r) {
    auto& job = r.job;
    if (r.redirects >= kMaxRedirects)
      return fail_job(job, "too many redirects (more than " + std::to_string(kMaxRedirects) + ") fetching '" +
                               job->remote.path + "'", false);
    if (r.location.empty())
      return fail_job(job, "HTTP " + std::to_string(r.status) + " without a Location fetching '" +
                               job->remote.path + "' from " + redact_url(r.url), false);
    auto next = resolve_redirect(r.url, r.location);
    if (!next)
      return fail_job(job, "'" + job->remote.path + "' redirects to an unsupported URL", false);
    launch(job, r.offset, r.end, r.attempts, *next, r.redirects + 1, r.from_cache);
  }

  void retry(Request& r, const std::string& why, std::optional<std::chrono::milliseconds> after, long status = 0) {
    auto& job = r.job;
    ++retries;
    if (opts.counters)
      opts.counters->retries++;
    // Progress resets the count: a flaky link that keeps delivering eventually finishes.
    int attempts = r.received > 0 ? 1 : r.attempts + 1;
    if (policy.exhausted(attempts)) {
      std::string msg = status ? describe_http_failure(status, job->remote.path, redact_url(r.url))
                               : "giving up on '" + job->remote.path + "' after " + std::to_string(attempts) +
                                     (attempts == 1 ? " attempt: " : " attempts: ") + why;
      return fail_job(job, msg, false);
    }
    auto delay = policy.delay(attempts, after);
    log.debug("retrying request").kv("file", job->remote.path).kv("reason", why).kv("delay_ms", delay.count());
    uint64_t from = r.offset;
    uint64_t to = r.limit == kUnknownEnd ? r.end : r.limit;
    if (!job->ranges_ok) {
      // Without range support the only way to continue is from the start.
      reset_content(*job, "");
      from = 0;
      to = job->size.value_or(kUnknownEnd);
    }
    if (to != kUnknownEnd && from >= to)
      return;
    job->pending.push_front({from, to, attempts, Clock::now() + delay});
  }

  // ---------- the loop ----------

  void handle_event(JobEvent& ev) {
    auto& job = ev.job;
    if (!job || job->terminal)
      return;
    switch (ev.kind) {
      case JobEvent::Kind::Finalized:
        job->terminal = true;
        job->final_digests = ev.digests;
        ++terminal_count;
        ctx.progress.file_done();
        if (opts.counters)
          opts.counters->files_fetched++;
        return;
      case JobEvent::Kind::VerifyFailed:
        ctx.progress.add_done(-static_cast<int64_t>(job->size.value_or(0)));
        if (job->verify_restarts++ == 0) {
          log.warn("verification failed; fetching the file again").kv("file", job->remote.path).kv("error", ev.message);
          job->resume = false;
          job->ranges_ok = true;
          {
            std::lock_guard<std::mutex> lk(job->mu);
            job->done.clear();
            ++job->generation;
            job->server_etag.clear();
          }
          requeued.push_back(job);
          return;
        }
        return fail_job(job, ev.message + " (after fetching it twice)", true);
      case JobEvent::Kind::IoFailed:
        return fail_job(job, ev.message, false);
    }
  }

  void check_stalls(Clock::time_point now) {
    for (auto& [r, req] : active) {
      if (req->stop != Stop::None)
        continue;
      if (now - req->last_activity > opts.stall_timeout) {
        req->stop = Stop::Stalled;
        queue_sweep(r);
      }
    }
  }

  bool activate_more() {
    bool any = false;
    while (slots_used < opts.parallel_files && !error_stops()) {
      std::shared_ptr<FileJob> job;
      if (!requeued.empty()) {
        job = requeued.front();
        requeued.pop_front();
      } else if (next_job < jobs.size()) {
        job = jobs[next_job++];
      } else {
        break;
      }
      if (job->terminal)
        continue;
      start_job(job);
      any = true;
    }
    return any;
  }

  bool error_stops() const { return !error.empty() && opts.fail_fast; }

  // Fills free connections: spans of started files first (in order, so files finish and get
  // verified early), then by splitting the largest running range when nothing else is left.
  void schedule(Clock::time_point now, Clock::time_point& next_due) {
    activate_more();
    while (static_cast<int>(active.size()) < opts.max_connections && !error_stops()) {
      bool launched = false;
      for (auto& job : jobs_in_flight()) {
        if (job->pending.empty() || job->terminal)
          continue;
        auto host_it = per_host.find(job->start_host);
        if (host_it != per_host.end() && host_it->second >= opts.max_per_host)
          continue;
        // A file without range support gets one stream at a time.
        if (!job->ranges_ok && job->active > 0)
          continue;
        auto it = std::find_if(job->pending.begin(), job->pending.end(),
                               [&](const PendingSpan& s) { return s.not_before <= now; });
        if (it == job->pending.end()) {
          for (auto& s : job->pending)
            next_due = std::min(next_due, s.not_before);
          continue;
        }
        PendingSpan span = *it;
        job->pending.erase(it);
        bool cached = job->start_url != job->remote.url;
        launch(job, span.begin, span.end, span.attempts, job->start_url, 0, cached);
        launched = true;
        break;
      }
      if (!launched && !split_one(now))
        break;
    }
  }

  std::vector<std::shared_ptr<FileJob>> jobs_in_flight() const {
    std::vector<std::shared_ptr<FileJob>> out;
    for (size_t i = 0; i < next_job; ++i)
      if (jobs[i]->slot && !jobs[i]->terminal)
        out.push_back(jobs[i]);
    return out;
  }

  // Tail of a download: rather than leave connections idle while the last ranges trickle in,
  // halve the largest remaining one and fetch its second half in parallel.
  bool split_one(Clock::time_point now) {
    if (next_job < jobs.size() || !requeued.empty())
      return false;
    for (auto& job : jobs_in_flight())
      if (!job->pending.empty())
        return false;
    Request* best = nullptr;
    uint64_t best_left = 0;
    const uint64_t min_split = std::max<uint64_t>(opts.min_range_bytes / 2, 2 * kSplitAlign);
    for (auto& [r, req] : active) {
      if (req->stop != Stop::None || !req->checked || req->discard || req->status != 206 ||
          req->limit == kUnknownEnd || !req->job->ranges_ok)
        continue;
      auto h = per_host.find(req->job->start_host);
      if (h != per_host.end() && h->second >= opts.max_per_host)
        continue;
      uint64_t left = req->limit > req->offset ? req->limit - req->offset : 0;
      // Only a range that will still take a while is worth it: a split costs a new request
      // and the bytes the shortened one already has in flight.
      double secs = std::chrono::duration<double>(now - req->first_byte).count();
      if (req->received == 0 || secs <= 0)
        continue;
      double rate = static_cast<double>(req->received) / secs;
      if (static_cast<double>(left) / rate < kMinSplitSeconds)
        continue;
      if (left >= 2 * min_split && left > best_left) {
        best = r;
        best_left = left;
      }
    }
    if (!best)
      return false;
    uint64_t mid = best->offset + best_left / 2;
    mid = (mid + kSplitAlign - 1) / kSplitAlign * kSplitAlign;
    if (mid >= best->limit)
      return false;
    uint64_t old_limit = best->limit;
    best->limit = mid;
    auto job = best->job;
    bool cached = job->start_url != job->remote.url;
    launch(job, mid, old_limit, 0, job->start_url, 0, cached);
    return true;
  }

  void drain_curl() {
    int queued = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &queued)) {
      if (m->msg != CURLMSG_DONE)
        continue;
      Request* r = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &r);
      CURLcode rc = m->data.result;
      if (r)
        finish(r, rc);
    }
    // Requests stopped by us (stall, superseded) that curl still considers running.
    while (!sweep.empty()) {
      auto list = std::move(sweep);
      sweep.clear();
      for (Request* r : list)
        if (active.count(r))
          finish(r, CURLE_ABORTED_BY_CALLBACK);
    }
  }

  std::string run(const std::vector<std::shared_ptr<FileJob>>& list) {
    jobs = list;
    multi = curl_multi_init();
    if (!multi)
      return "internal error: cannot initialise libcurl";
    // Keep-alive: every connection we opened stays cached for the next range on that host.
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(std::max(4, opts.max_connections * 2)));
    ctx.events.set_wake([m = multi] { curl_multi_wakeup(m); });

    while (terminal_count < jobs.size()) {
      auto now = Clock::now();
      if (ctx.cancel && ctx.cancel->load()) {
        if (error.empty())
          error = "cancelled";
        break;
      }
      for (auto& ev : ctx.events.drain())
        handle_event(ev);
      if (error_stops())
        break;
      check_stalls(now);
      drain_curl();
      Clock::time_point next_due = now + std::chrono::milliseconds(100);
      schedule(now, next_due);
      int running = 0;
      curl_multi_perform(multi, &running);
      drain_curl();
      ctx.progress.maybe_report(Clock::now());
      if (terminal_count >= jobs.size())
        break;
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_due - Clock::now()).count();
      wait = std::clamp<long long>(wait, 0, 100);
      // Helper threads' events interrupt the wait through curl_multi_wakeup.
      curl_multi_poll(multi, nullptr, 0, static_cast<int>(wait), nullptr);
    }
    shutdown();
    return error;
  }

  void shutdown() {
    ctx.events.set_wake({});
    for (auto& [r, req] : active) {
      curl_multi_remove_handle(multi, req->easy);
      curl_easy_cleanup(req->easy);
      curl_slist_free_all(req->headers);
    }
    active.clear();
    if (multi)
      curl_multi_cleanup(multi);
    multi = nullptr;
  }
};

Fetcher::Fetcher(FetchContext ctx) : impl_(std::make_unique<Impl>(ctx)) {}
Fetcher::~Fetcher() {
  if (impl_->multi)
    impl_->shutdown();
}

std::string Fetcher::run(const std::vector<std::shared_ptr<FileJob>>& jobs) { return impl_->run(jobs); }
uint64_t Fetcher::retries() const { return impl_->retries; }

}  // namespace omed::model::transfer
