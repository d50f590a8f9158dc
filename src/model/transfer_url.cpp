// URL parsing for origin checks and redirects, done by libcurl's URL API so that the engine
// and the library that sends the request agree on what host a URL names.
#include "omed/model/transfer/url.hpp"

#include <curl/curl.h>

#include <cctype>
#include <memory>

namespace omed::model::transfer {

namespace {

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using UrlHandle = std::unique_ptr<CURLU, UrlDeleter>;

std::string get_part(CURLU* u, CURLUPart part, unsigned flags = 0) {
  char* out = nullptr;
  if (curl_url_get(u, part, &out, flags) != CURLUE_OK || !out)
    return {};
  std::string s(out);
  curl_free(out);
  return s;
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

UrlHandle parse(std::string_view url) {
  UrlHandle u(curl_url());
  if (!u)
    return nullptr;
  std::string text(url);
  if (curl_url_set(u.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK)
    return nullptr;
  return u;
}

bool http_scheme(const std::string& s) { return s == "http" || s == "https"; }

}  // namespace

std::string UrlOrigin::to_string() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return scheme + "://" + h + ":" + std::to_string(port);
}

std::optional<UrlOrigin> url_origin(std::string_view url) {
  auto u = parse(url);
  if (!u)
    return std::nullopt;
  UrlOrigin o;
  o.scheme = lower(get_part(u.get(), CURLUPART_SCHEME));
  if (!http_scheme(o.scheme))
    return std::nullopt;
  o.host = lower(get_part(u.get(), CURLUPART_HOST));
  if (o.host.size() >= 2 && o.host.front() == '[' && o.host.back() == ']')
    o.host = o.host.substr(1, o.host.size() - 2);
  if (o.host.empty())
    return std::nullopt;
  std::string port = get_part(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  try {
    o.port = port.empty() ? 0 : std::stoi(port);
  } catch (...) {
    return std::nullopt;
  }
  return o;
}

std::optional<std::string> resolve_redirect(std::string_view base, std::string_view location) {
  auto u = parse(base);
  if (!u)
    return std::nullopt;
  std::string loc(location);
  // Setting a URL on a handle that already holds one resolves it relative to the old one.
  if (curl_url_set(u.get(), CURLUPART_URL, loc.c_str(), 0) != CURLUE_OK)
    return std::nullopt;
  if (!http_scheme(lower(get_part(u.get(), CURLUPART_SCHEME))))
    return std::nullopt;
  std::string out = get_part(u.get(), CURLUPART_URL);
  if (out.empty())
    return std::nullopt;
  return out;
}

std::string redact_url(std::string_view url) {
  auto u = parse(url);
  if (!u)
    return "<invalid URL>";
  std::string scheme = lower(get_part(u.get(), CURLUPART_SCHEME));
  std::string host = get_part(u.get(), CURLUPART_HOST);
  std::string port = get_part(u.get(), CURLUPART_PORT);
  std::string path = get_part(u.get(), CURLUPART_PATH);
  std::string out = scheme + "://" + host;
  if (!port.empty())
    out += ":" + port;
  return out + (path.empty() ? "/" : path);
}

}  // namespace omed::model::transfer
