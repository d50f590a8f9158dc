// A loopback HTTP file server for transfer tests: serves generated, reproducible content of any
// size without storing it (Range, If-Range, ETag), with knobs for the faults real servers have.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "omed/http/server.hpp"

namespace omed::testing {

// The byte at `offset` of generated file `seed`: a pseudo-random pattern of prime length (so no
// two 4 KiB pages line up alike) with every page stamped by its index, so a byte written at the
// wrong offset always changes the digest.
void generate_content(uint64_t seed, uint64_t offset, char* out, size_t n);
std::string generate_string(uint64_t seed, uint64_t offset, size_t n);
// sha256 (hex) of the first `size` bytes of `seed` (memoised: big files are hashed once).
std::string content_sha256(uint64_t seed, uint64_t size);
std::string sha256_of_file(const std::string& path);

struct Faults {
  // A response that reaches this file offset stops sending and hangs (up to stall_times times).
  uint64_t stall_at = UINT64_MAX;
  int stall_times = 0;
  // A response that reaches this file offset closes the connection mid-body.
  uint64_t drop_at = UINT64_MAX;
  int drop_times = 0;
  // The byte at this offset is flipped in responses covering it (-1: always, else N times).
  uint64_t corrupt_at = UINT64_MAX;
  int corrupt_times = -1;
  // The next `status_times` requests are answered with `status` (+ Retry-After when set).
  int status = 0;
  int status_times = 0;
  std::string retry_after;
  bool ignore_range = false;     // answer every Range request with the whole file (200)
  std::string redirect_to;       // answer 302 with this Location
  std::string require_auth;      // exact Authorization value needed, else 401
};

struct SeenRequest {
  std::string path;
  std::string range;
  std::string if_range;
  std::string authorization;     // empty when absent
  std::string remote;            // client ip:port (the same port means a reused connection)
  std::vector<http::Header> headers;
  int status = 0;
};

class FileServer {
public:
  explicit FileServer(std::string host = "127.0.0.1", int threads = 2);
  ~FileServer();
  FileServer(const FileServer&) = delete;
  FileServer& operator=(const FileServer&) = delete;

  void add_file(const std::string& path, uint64_t size, uint64_t seed);
  // New content (and ETag) under the same name, as when a model is re-uploaded.
  void change_file(const std::string& path, uint64_t seed);
  void set_faults(const std::string& path, Faults f);

  std::string base() const;  // http://host:port
  std::string url(const std::string& path) const { return base() + path; }
  uint16_t port() const { return srv_->port(); }

  uint64_t bytes_served() const { return served_.load(); }
  int max_concurrent() const { return max_concurrent_.load(); }
  std::vector<SeenRequest> requests() const;
  std::vector<SeenRequest> requests_for(const std::string& path) const;
  void reset_stats();
  void stop();

private:
  struct File {
    uint64_t size = 0;
    uint64_t seed = 0;
    std::string etag;
    int version = 0;
  };
  void handle(const std::shared_ptr<http::Exchange>& ex);
  void stream_body(std::shared_ptr<http::Stream> st, File f, uint64_t first, uint64_t len, Faults faults,
                   bool stall, bool drop, bool corrupt);

  std::string host_;
  std::unique_ptr<http::Server> srv_;
  mutable std::mutex mu_;
  std::map<std::string, File> files_;
  std::map<std::string, Faults> faults_;
  std::vector<SeenRequest> seen_;
  std::vector<std::thread> producers_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> served_{0};
  std::atomic<int> concurrent_{0};
  std::atomic<int> max_concurrent_{0};
};

}  // namespace omed::testing
