// URL and address helpers shared by the HTTP server, the API server and the clients.
// Kept out of server.cpp so that using them does not pull Beast into a translation unit.
#include <cctype>
#include <cstdlib>

#include "omed/common/strings.hpp"
#include "omed/http/server.hpp"

namespace omed::http {

const std::string* Request::header(std::string_view name) const {
  for (auto& h : headers)
    if (str::iequals(h.name, name))
      return &h.value;
  return nullptr;
}

Response Response::text(int status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.push_back({"Content-Type", std::move(content_type)});
  return r;
}

Response Response::json(int status, std::string body) {
  return text(status, std::move(body), "application/json");
}

bool split_host_port(std::string_view addr, std::string& host, uint16_t& port) {
  std::string_view h, p;
  if (!addr.empty() && addr.front() == '[') {
    auto close = addr.find(']');
    if (close == std::string_view::npos || close + 1 >= addr.size() || addr[close + 1] != ':')
      return false;
    h = addr.substr(1, close - 1);
    p = addr.substr(close + 2);
  } else {
    auto colon = addr.rfind(':');
    if (colon == std::string_view::npos)
      return false;
    h = addr.substr(0, colon);
    p = addr.substr(colon + 1);
    if (h.find(':') != std::string_view::npos)
      return false;  // bare IPv6 must be bracketed
  }
  if (p.empty() || p.size() > 5)
    return false;
  unsigned long v = 0;
  for (char c : p) {
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return false;
    v = v * 10 + static_cast<unsigned long>(c - '0');
  }
  if (v > 65535)
    return false;
  host = std::string(h.empty() ? "0.0.0.0" : h);
  port = static_cast<uint16_t>(v);
  return true;
}

bool is_loopback(std::string_view host) {
  return host == "localhost" || host == "::1" || str::starts_with(host, "127.");
}

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      char hex[3] = {s[i + 1], s[i + 2], 0};
      out.push_back(static_cast<char>(std::strtol(hex, nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string url_encode(std::string_view s) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view q) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& part : str::split(q, '&')) {
    if (part.empty())
      continue;
    auto eq = part.find('=');
    std::string k = part.substr(0, eq);
    std::string v = eq == std::string::npos ? std::string() : part.substr(eq + 1);
    // Query strings use '+' for spaces (form encoding).
    for (auto& c : k)
      if (c == '+') c = ' ';
    for (auto& c : v)
      if (c == '+') c = ' ';
    out.emplace_back(url_decode(k), url_decode(v));
  }
  return out;
}

}  // namespace omed::http
