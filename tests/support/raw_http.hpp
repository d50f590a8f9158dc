// A deliberately dumb blocking HTTP/1.1 client over a loopback socket, so tests see exactly
// what the server put on the wire (status line, headers, chunk framing).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>

namespace omed::testing {

class RawConn {
public:
  explicit RawConn(uint16_t port, const char* host = "127.0.0.1") {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, host, &a.sin_addr);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("connect failed");
  }
  ~RawConn() { close(); }
  void close() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }
  void send(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      auto n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0)
        throw std::runtime_error("send failed");
      off += static_cast<size_t>(n);
    }
  }
  // Reads whatever arrives within `ms`, until `until` appears or the peer closes.
  std::string read_until(const std::string& until, int ms = 3000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (buf_.find(until) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0)
        break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0)
        break;
      char tmp[4096];
      auto n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) {
        eof_ = true;
        break;
      }
      buf_.append(tmp, static_cast<size_t>(n));
    }
    auto pos = buf_.find(until);
    std::string out;
    if (pos == std::string::npos) {
      out.swap(buf_);
    } else {
      out = buf_.substr(0, pos + until.size());
      buf_.erase(0, pos + until.size());
    }
    return out;
  }
  // A full response with Content-Length.
  std::string read_response(int ms = 3000) {
    auto head = read_until("\r\n\r\n", ms);
    auto cl = head.find("Content-Length: ");
    if (cl == std::string::npos)
      cl = head.find("content-length: ");
    if (cl == std::string::npos)
      return head;
    size_t len = std::stoul(head.substr(cl + 16));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (buf_.size() < len && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0)
        continue;
      char tmp[4096];
      auto n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0)
        break;
      buf_.append(tmp, static_cast<size_t>(n));
    }
    auto body = buf_.substr(0, len);
    buf_.erase(0, std::min(len, buf_.size()));
    return head + body;
  }
  bool eof() const { return eof_; }

private:
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
};

// One request on a fresh connection; returns the whole response text.
inline std::string http_get(uint16_t port, const std::string& target,
                            const std::string& extra_headers = "") {
  RawConn c(port);
  c.send("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers + "Connection: close\r\n\r\n");
  return c.read_response();
}

// One keep-alive connection issuing authenticated requests back to back, as client libraries do
// (the benchmarks' load generators). Returns the status code; the raw response goes to `out`.
class KeepAliveClient {
public:
  KeepAliveClient(uint16_t port, std::string token, std::string agent = "omed-test")
    : c_(port), token_(std::move(token)), agent_(std::move(agent)) {}
  int request(const std::string& method, const std::string& target, const std::string& body,
              const std::string& ctype = "application/json", std::string* out = nullptr) {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + agent_ +
                      "\r\nAuthorization: Bearer " + token_ + "\r\n";
    if (!body.empty())
      req += "Content-Type: " + ctype + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    c_.send(req + "\r\n" + body);
    auto raw = c_.read_response(30000);
    if (out)
      *out = raw;
    return raw.size() > 12 ? std::stoi(raw.substr(9, 3)) : 0;
  }

private:
  RawConn c_;
  std::string token_, agent_;
};

}  // namespace omed::testing
