// A plain HTTP/1.1 client for API server tests: one connection per request, bearer token,
// JSON bodies, and a watch reader that de-chunks the stream and splits events on newlines.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "omed/common/json.hpp"
#include "raw_http.hpp"

namespace omed::testing {

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names (last value wins)
  std::vector<std::pair<std::string, std::string>> all_headers;
  std::string body;
  json::Value json() const {
    json::Value v;
    std::string err;
    json::try_parse(body, v, err);
    return v;
  }
  std::string header(const std::string& lower) const {
    auto it = headers.find(lower);
    return it == headers.end() ? "" : it->second;
  }
};

// Decodes HTTP/1.1 chunked framing incrementally.
class Dechunker {
public:
  // Feeds raw bytes; returns the payload bytes decoded so far. `done` becomes true after the
  // terminal chunk.
  std::string feed(const std::string& data) {
    buf_ += data;
    std::string out;
    while (!done) {
      if (remaining_ == 0) {
        auto eol = buf_.find("\r\n");
        if (eol == std::string::npos)
          break;
        auto size_text = buf_.substr(0, eol);
        if (size_text.empty()) {  // CRLF after a chunk's data
          buf_.erase(0, 2);
          continue;
        }
        size_t n = std::stoul(size_text, nullptr, 16);
        buf_.erase(0, eol + 2);
        if (n == 0) {
          done = true;
          break;
        }
        remaining_ = n;
        chunks++;
      }
      size_t take = std::min(remaining_, buf_.size());
      out.append(buf_, 0, take);
      buf_.erase(0, take);
      remaining_ -= take;
      if (take == 0)
        break;
    }
    return out;
  }
  bool done = false;
  size_t chunks = 0;

private:
  std::string buf_;
  size_t remaining_ = 0;
};

class ApiClient {
public:
  ApiClient(uint16_t port, std::string token) : port_(port), token_(std::move(token)) {}

  HttpResult request(const std::string& method, const std::string& target, const std::string& body = "",
                     const std::string& content_type = "application/json",
                     const std::vector<std::pair<std::string, std::string>>& headers = {}, bool auth = true) {
    RawConn c(port_);
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    if (auth)
      req += "Authorization: Bearer " + token_ + "\r\n";
    for (auto& [k, v] : headers)
      req += k + ": " + v + "\r\n";
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
      req += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    c.send(req);
    auto raw = c.read_response(10000);
    return parse(raw);
  }

  HttpResult get(const std::string& t, const std::vector<std::pair<std::string, std::string>>& h = {}) {
    return request("GET", t, "", "", h);
  }
  HttpResult post(const std::string& t, const json::Value& body) { return request("POST", t, json::dump(body)); }
  HttpResult put(const std::string& t, const json::Value& body) { return request("PUT", t, json::dump(body)); }
  HttpResult patch(const std::string& t, const std::string& body, const std::string& ct) {
    return request("PATCH", t, body, ct);
  }
  HttpResult del(const std::string& t, const std::string& body = "") { return request("DELETE", t, body); }

  static HttpResult parse(const std::string& raw) {
    HttpResult r;
    auto head_end = raw.find("\r\n\r\n");
    std::string head = raw.substr(0, head_end);
    if (head.size() > 12)
      r.status = std::stoi(head.substr(9, 3));
    size_t pos = head.find("\r\n");
    while (pos != std::string::npos && pos < head.size()) {
      auto next = head.find("\r\n", pos + 2);
      auto line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string k = line.substr(0, colon), v = line.substr(colon + 1);
        while (!v.empty() && v[0] == ' ')
          v.erase(0, 1);
        for (auto& ch : k)
          ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        r.headers[k] = v;
        r.all_headers.emplace_back(k, v);
      }
      pos = next;
    }
    if (head_end != std::string::npos)
      r.body = raw.substr(head_end + 4);
    return r;
  }

  uint16_t port() const { return port_; }
  const std::string& token() const { return token_; }

private:
  uint16_t port_;
  std::string token_;
};

// An open watch: reads events (one JSON object per line) with a deadline.
class WatchReader {
public:
  WatchReader(uint16_t port, const std::string& token, const std::string& target,
              const std::vector<std::pair<std::string, std::string>>& headers = {})
    : conn_(port) {
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token + "\r\n";
    for (auto& [k, v] : headers)
      req += k + ": " + v + "\r\n";
    conn_.send(req + "\r\n");
    head = conn_.read_until("\r\n\r\n", 5000);
    status = head.size() > 12 ? std::stoi(head.substr(9, 3)) : 0;
    chunked = head.find("Transfer-Encoding: chunked") != std::string::npos;
  }

  // The next event, or nullopt on timeout or end of stream.
  std::optional<json::Value> next(int ms = 3000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (true) {
      auto nl = lines_.find('\n');
      if (nl != std::string::npos) {
        auto line = lines_.substr(0, nl);
        lines_.erase(0, nl + 1);
        json::Value v;
        std::string err;
        if (json::try_parse(line, v, err))
          return v;
        continue;
      }
      if (dechunk_.done || conn_.eof())
        return std::nullopt;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0)
        return std::nullopt;
      auto raw = conn_.read_until("\n", static_cast<int>(std::min<long>(left, 200)));
      lines_ += chunked ? dechunk_.feed(raw) : raw;
    }
  }

  // The next raw event line (no JSON parsing), or nullopt on timeout or end of stream.
  std::optional<std::string> next_line(int ms = 3000) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (true) {
      auto nl = lines_.find('\n');
      if (nl != std::string::npos) {
        auto line = lines_.substr(0, nl);
        lines_.erase(0, nl + 1);
        return line;
      }
      if (dechunk_.done || conn_.eof())
        return std::nullopt;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0)
        return std::nullopt;
      auto raw = conn_.read_until("\n", static_cast<int>(std::min<long>(left, 200)));
      lines_ += chunked ? dechunk_.feed(raw) : raw;
    }
  }

  bool ended() {
    next(50);
    return dechunk_.done || conn_.eof();
  }
  void close() { conn_.close(); }

  std::string head;
  int status = 0;
  bool chunked = false;
  Dechunker dechunk_;

private:
  RawConn conn_;
  std::string lines_;
};

}  // namespace omed::testing
