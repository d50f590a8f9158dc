// The transfer tests' file server on omed's own HTTP server, with generated content and
// injectable faults.
#include "file_server.hpp"

#include <openssl/evp.h>

#include <chrono>
#include <cstring>
#include <fstream>

// Small bodies go out in one response (Content-Length, keep-alive); large ones are streamed by
// a producer thread that generates content on the fly and honours the stream's backlog, so
// gigabytes cost no memory.
namespace omed::testing {

namespace {

constexpr size_t kPatternLen = 1048573;  // prime
constexpr uint64_t kPage = 4096;
constexpr size_t kSmallBody = 1 << 20;
constexpr size_t kChunk = 256 * 1024;
constexpr size_t kBacklog = 1 << 20;

uint64_t splitmix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

const std::vector<unsigned char>& pattern(uint64_t seed) {
  static std::mutex mu;
  static std::map<uint64_t, std::vector<unsigned char>> cache;
  std::lock_guard<std::mutex> lk(mu);
  auto& p = cache[seed];
  if (p.empty()) {
    p.resize(kPatternLen);
    uint64_t s = seed * 0x2545F4914F6CDD1Dull + 1;
    for (size_t i = 0; i < kPatternLen; i += 8) {
      uint64_t v = splitmix(s);
      for (size_t k = 0; k < 8 && i + k < kPatternLen; ++k)
        p[i + k] = static_cast<unsigned char>(v >> (8 * k));
    }
  }
  return p;
}

std::string hex(const unsigned char* d, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += digits[d[i] >> 4];
    s += digits[d[i] & 15];
  }
  return s;
}

bool parse_range(const std::string& v, uint64_t size, uint64_t& first, uint64_t& last) {
  if (v.rfind("bytes=", 0) != 0 || v.find(',') != std::string::npos)
    return false;
  auto dash = v.find('-', 6);
  if (dash == std::string::npos)
    return false;
  std::string a = v.substr(6, dash - 6), b = v.substr(dash + 1);
  if (a.empty())
    return false;  // suffix ranges are not used by the engine
  first = std::stoull(a);
  last = b.empty() ? size - 1 : std::min<uint64_t>(std::stoull(b), size - 1);
  return first <= last && first < size;
}

}  // namespace

void generate_content(uint64_t seed, uint64_t offset, char* out, size_t n) {
  const auto& p = pattern(seed);
  size_t done = 0;
  while (done < n) {
    size_t pos = static_cast<size_t>((offset + done) % kPatternLen);
    size_t run = std::min(n - done, kPatternLen - pos);
    std::memcpy(out + done, p.data() + pos, run);
    done += run;
  }
  // Page stamps: the first 8 bytes of every 4 KiB page carry its index.
  uint64_t first_page = (offset + kPage - 1) / kPage;
  for (uint64_t page = first_page; page * kPage < offset + n; ++page) {
    uint64_t mix = (page + 1) * 0x9e3779b97f4a7c15ull ^ seed;
    for (uint64_t k = 0; k < 8; ++k) {
      uint64_t at = page * kPage + k;
      if (at >= offset && at < offset + n)
        out[at - offset] = static_cast<char>(out[at - offset] ^ static_cast<char>(mix >> (8 * k)));
    }
  }
}

std::string generate_string(uint64_t seed, uint64_t offset, size_t n) {
  std::string s(n, '\0');
  generate_content(seed, offset, s.data(), n);
  return s;
}

std::string content_sha256(uint64_t seed, uint64_t size) {
  static std::mutex mu;
  static std::map<std::pair<uint64_t, uint64_t>, std::string> cache;
  {
    std::lock_guard<std::mutex> lk(mu);
    if (auto it = cache.find({seed, size}); it != cache.end())
      return it->second;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(4 << 20);
  for (uint64_t off = 0; off < size; off += buf.size()) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off));
    generate_content(seed, off, buf.data(), n);
    EVP_DigestUpdate(ctx, buf.data(), n);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  auto h = hex(md, len);
  std::lock_guard<std::mutex> lk(mu);
  cache[{seed, size}] = h;
  return h;
}

std::string sha256_of_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f)
    return {};
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(4 << 20);
  while (f) {
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (f.gcount() > 0)
      EVP_DigestUpdate(ctx, buf.data(), static_cast<size_t>(f.gcount()));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  return hex(md, len);
}

FileServer::FileServer(std::string host, int threads) : host_(std::move(host)) {
  http::ServerOptions o;
  o.host = host_;
  o.threads = threads;
  srv_ = std::make_unique<http::Server>(o, [this](std::shared_ptr<http::Exchange> ex) { handle(ex); });
  srv_->start();
}

FileServer::~FileServer() { stop(); }

void FileServer::stop() {
  stopping_ = true;
  if (srv_)
    srv_->stop();
  std::vector<std::thread> ps;
  {
    std::lock_guard<std::mutex> lk(mu_);
    ps.swap(producers_);
  }
  for (auto& t : ps)
    t.join();
}

std::string FileServer::base() const { return "http://" + host_ + ":" + std::to_string(srv_->port()); }

void FileServer::add_file(const std::string& path, uint64_t size, uint64_t seed) {
  std::lock_guard<std::mutex> lk(mu_);
  File f;
  f.size = size;
  f.seed = seed;
  f.etag = "\"" + std::to_string(seed) + "-" + std::to_string(size) + "-0\"";
  files_[path] = f;
}

void FileServer::change_file(const std::string& path, uint64_t seed) {
  std::lock_guard<std::mutex> lk(mu_);
  auto& f = files_[path];
  f.seed = seed;
  ++f.version;
  f.etag = "\"" + std::to_string(seed) + "-" + std::to_string(f.size) + "-" + std::to_string(f.version) + "\"";
}

void FileServer::set_faults(const std::string& path, Faults f) {
  std::lock_guard<std::mutex> lk(mu_);
  faults_[path] = std::move(f);
}

std::vector<SeenRequest> FileServer::requests() const {
  std::lock_guard<std::mutex> lk(mu_);
  return seen_;
}

std::vector<SeenRequest> FileServer::requests_for(const std::string& path) const {
  std::vector<SeenRequest> out;
  for (auto& r : requests())
    if (r.path == path)
      out.push_back(r);
  return out;
}

void FileServer::reset_stats() {
  std::lock_guard<std::mutex> lk(mu_);
  seen_.clear();
  served_ = 0;
  max_concurrent_ = 0;
}

void FileServer::handle(const std::shared_ptr<http::Exchange>& ex) {
  const auto& req = ex->request();
  SeenRequest seen;
  seen.path = req.path;
  seen.remote = req.remote;
  seen.headers = req.headers;
  if (auto* h = req.header("Range"))
    seen.range = *h;
  if (auto* h = req.header("If-Range"))
    seen.if_range = *h;
  if (auto* h = req.header("Authorization"))
    seen.authorization = *h;

  File file;
  Faults faults;
  bool found = false, stall = false, drop = false, corrupt = false;
  int forced_status = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = files_.find(req.path);
    found = it != files_.end();
    if (found)
      file = it->second;
    auto& fl = faults_[req.path];
    faults = fl;
    if (fl.status_times > 0) {
      --fl.status_times;
      forced_status = fl.status;
    }
    if (!forced_status && fl.redirect_to.empty()) {
      if (fl.stall_times > 0 && fl.stall_at != UINT64_MAX) {
        stall = true;
        --fl.stall_times;
      }
      if (fl.drop_times > 0 && fl.drop_at != UINT64_MAX) {
        drop = true;
        --fl.drop_times;
      }
      if (fl.corrupt_at != UINT64_MAX && fl.corrupt_times != 0) {
        corrupt = true;
        if (fl.corrupt_times > 0)
          --fl.corrupt_times;
      }
    }
  }
  auto answer = [&](http::Response r) {
    seen.status = r.status;
    {
      std::lock_guard<std::mutex> lk(mu_);
      seen_.push_back(seen);
    }
    ex->respond(std::move(r));
  };
  if (req.method != "GET")
    return answer(http::Response::text(405, "GET only\n"));
  if (!faults.redirect_to.empty())
    return answer(http::Response::text(302, "moved\n").header("Location", faults.redirect_to));
  if (!faults.require_auth.empty() && seen.authorization != faults.require_auth)
    return answer(http::Response::text(401, "who are you\n"));
  if (forced_status) {
    auto r = http::Response::text(forced_status, "fault injected\n");
    if (!faults.retry_after.empty())
      r.header("Retry-After", faults.retry_after);
    return answer(std::move(r));
  }
  if (!found)
    return answer(http::Response::text(404, "no such file\n"));

  uint64_t first = 0, last = file.size ? file.size - 1 : 0;
  int status = 200;
  if (!seen.range.empty() && !faults.ignore_range && (seen.if_range.empty() || seen.if_range == file.etag)) {
    if (!parse_range(seen.range, file.size, first, last)) {
      return answer(http::Response::text(416, "bad range\n")
                        .header("Content-Range", "bytes */" + std::to_string(file.size)));
    }
    status = 206;
  }
  uint64_t len = file.size ? last - first + 1 : 0;
  std::vector<http::Header> headers = {{"ETag", file.etag},
                                       {"Accept-Ranges", "bytes"},
                                       {"Content-Type", "application/octet-stream"}};
  if (status == 206)
    headers.push_back({"Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
                                            std::to_string(file.size)});
  seen.status = status;
  bool faulty = stall || drop;
  if (len <= kSmallBody && !faulty) {
    http::Response r;
    r.status = status;
    r.headers = headers;
    r.body = generate_string(file.seed, first, static_cast<size_t>(len));
    if (corrupt && faults.corrupt_at >= first && faults.corrupt_at < first + len)
      r.body[faults.corrupt_at - first] = static_cast<char>(r.body[faults.corrupt_at - first] ^ 0xff);
    served_ += len;
    {
      std::lock_guard<std::mutex> lk(mu_);
      seen_.push_back(seen);
    }
    ex->respond(std::move(r));
    return;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    seen_.push_back(seen);
  }
  // omed's streams are chunked, so the length travels in Content-Range (206) or the listing.
  auto st = ex->stream(status, headers);
  if (!st)
    return;
  std::lock_guard<std::mutex> lk(mu_);
  if (stopping_) {
    st->abort();
    return;
  }
  producers_.emplace_back([this, st, file, first, len, faults, stall, drop, corrupt] {
    stream_body(st, file, first, len, faults, stall, drop, corrupt);
  });
}

void FileServer::stream_body(std::shared_ptr<http::Stream> st, File f, uint64_t first, uint64_t len,
                             Faults faults, bool stall, bool drop, bool corrupt) {
  int now = ++concurrent_;
  for (int prev = max_concurrent_.load(); now > prev && !max_concurrent_.compare_exchange_weak(prev, now);) {
  }
  uint64_t sent = 0;
  bool cut = false;
  while (sent < len && !stopping_) {
    if (st->closed()) {
      cut = true;
      break;
    }
    uint64_t pos = first + sent;
    if (stall && pos >= faults.stall_at) {
      // Hang with the connection open until the client gives up (or the server stops).
      while (!st->closed() && !stopping_)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      cut = true;
      break;
    }
    if (drop && pos >= faults.drop_at) {
      st->abort();
      cut = true;
      break;
    }
    if (st->pending_bytes() > kBacklog) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, len - sent));
    // Fault offsets fall on chunk edges so that a response stops exactly there.
    if (stall && faults.stall_at > pos && faults.stall_at < pos + n)
      n = static_cast<size_t>(faults.stall_at - pos);
    if (drop && faults.drop_at > pos && faults.drop_at < pos + n)
      n = static_cast<size_t>(faults.drop_at - pos);
    std::string chunk(n, '\0');
    generate_content(f.seed, pos, chunk.data(), n);
    if (corrupt && faults.corrupt_at >= pos && faults.corrupt_at < pos + n)
      chunk[faults.corrupt_at - pos] = static_cast<char>(chunk[faults.corrupt_at - pos] ^ 0xff);
    if (!st->write(std::move(chunk))) {
      cut = true;
      break;
    }
    served_ += n;
    sent += n;
  }
  if (cut || stopping_) {
    // Bytes still queued when the connection died never left this process.
    uint64_t unsent = std::min<uint64_t>(st->pending_bytes(), served_.load());
    served_ -= unsent;
    st->abort();
  } else {
    st->end();
  }
  --concurrent_;
}

}  // namespace omed::testing
