// Plain HTTP(S) source: one file at a URL, named after the URL's last path segment; a one-byte
// ranged GET tells its size and validator (it works where HEAD does not: presigned GET URLs).
//
// References (protocol facts only): RFC 9110 sections 14.2 (Range), 14.4 (Content-Range), 15.3.7
// (206 Partial Content), 8.8.3 (ETag) and 8.6 (Content-Length).
#include <string>

#include "omed/common/strings.hpp"
#include "omed/http/server.hpp"
#include "sources_internal.hpp"

namespace omed::model::detail {
namespace {

std::optional<uint64_t> parse_u64(std::string_view s) {
  s = str::trim(s);
  if (s.empty() || s.size() > 19)
    return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// "bytes 0-0/12345" -> 12345 ("*" for an unknown length gives nullopt).
std::optional<uint64_t> content_range_total(std::string_view v) {
  auto slash = v.rfind('/');
  if (slash == std::string_view::npos)
    return std::nullopt;
  return parse_u64(v.substr(slash + 1));
}

}  // namespace

ListResult list_http(const StorageUri& uri, const SourceConfig& cfg) {
  auto u = net::parse_url(uri.url);
  if (!u)
    return fail("InvalidConfig", "'" + net::sanitize_server_text(uri.url) + "' is not an http(s) URL");
  std::string shown = u->origin() + u->path;  // queries may carry presigned credentials
  auto slash = u->path.rfind('/');
  std::string name = http::url_decode(u->path.substr(slash + 1));
  if (name.empty())
    return fail("InvalidConfig", "the URL " + shown + " names no file (it ends with '/'); point it at the file");
  if (auto bad = check_remote_path(name); !bad.empty())
    return fail("InvalidConfig", "the URL " + shown + " ends in an unusable file name: " + bad);

  auto auth = make_anonymous_authorizer();
  auto req = base_request(cfg, uri.url, auth.get());
  req.headers.emplace_back("Range", "bytes=0-0");
  req.truncate_ok = true;
  req.max_body = 1024;
  std::optional<std::chrono::seconds> retry_after;
  auto r = net::perform_with_retry(req, retry_policy(cfg), retry_after);
  if (!r.transport_ok)
    return fail("NetworkError", transport_message(r, "HTTP source"));
  ListResult out;
  int s = r.status;
  if (s == 401 || s == 403) {
    out = fail("Unauthorized", shown + " refused access (HTTP " + std::to_string(s) +
                                 "); use a URL that can be read without credentials (e.g. a presigned URL)",
               s);
  } else if (s == 404 || s == 410) {
    out = fail("NotFound", shown + " does not exist (HTTP " + std::to_string(s) + ")", s);
  } else if (s == 429 || s == 503) {
    out = fail("RateLimited", rate_limited_message(u->host, retry_after), s);
  } else if (s != 200 && s != 206) {
    out = fail(s >= 500 ? "ServerError" : "InvalidListing",
               shown + " answered HTTP " + std::to_string(s) + " to a ranged GET", s);
  }
  if (!out.reason.empty()) {
    out.retry_after = retry_after;
    return out;
  }

  RemoteFile f;
  f.path = name;
  f.url = uri.url;
  if (s == 206) {
    if (auto* cr = r.header("Content-Range"))
      f.size = content_range_total(*cr);
  } else if (auto* cl = r.header("Content-Length")) {
    f.size = parse_u64(*cl);  // the server ignored Range and started the whole body
  }
  // A weak validator cannot make a ranged resume safe (If-Range needs a strong one).
  if (auto* et = r.header("ETag"); et && !str::starts_with(*et, "W/"))
    f.etag = net::sanitize_server_text(*et, 200);
  out.ok = true;
  out.http_status = s;
  out.listing.files.push_back(std::move(f));
  out.authorizer = auth;
  return out;
}

}  // namespace omed::model::detail
