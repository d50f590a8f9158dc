// The storage sources' HTTP client: one libcurl easy handle per request, redirects followed by
// hand so that secret headers are recomputed per hop and never leave the original origin.
#include "http_get.hpp"

#include <atomic>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <thread>

#include "omed/common/strings.hpp"
#include "omed/model/sources.hpp"

namespace omed::model::net {
namespace {

bool unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

std::string encode(std::string_view s, bool keep_slash) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

void curl_init_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Sink {
  std::string body;
  size_t max = 0;
  bool truncate_ok = false;
  bool truncated = false;
  bool overflow = false;
  HeaderList headers;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  size_t len = size * n;
  if (s->body.size() + len > s->max) {
    size_t room = s->max - s->body.size();
    s->body.append(data, room);
    if (s->truncate_ok)
      s->truncated = true;
    else
      s->overflow = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR), which we then interpret
  }
  s->body.append(data, len);
  return len;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  size_t len = size * n;
  std::string_view line(data, len);
  if (str::starts_with(line, "HTTP/")) {
    s->headers.clear();  // a new response (after 100 Continue or a proxy's 200)
    return len;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos)
    return len;
  auto name = str::trim(line.substr(0, colon));
  auto value = str::trim(line.substr(colon + 1));
  if (!name.empty() && s->headers.size() < 256)
    s->headers.emplace_back(std::string(name), std::string(value));
  return len;
}

// One hop, no redirects.
Response perform_once(const Request& req, const std::string& url, const HeaderList& extra) {
  curl_init_once();
  Response r;
  r.url = url;
  CURL* h = curl_easy_init();
  if (!h) {
    r.transport_error = "cannot create a libcurl handle";
    return r;
  }
  Sink sink;
  sink.max = req.max_body;
  sink.truncate_ok = req.truncate_ok;
  curl_slist* list = nullptr;
  auto add = [&](const std::string& name, const std::string& value) {
    std::string line = name + ": " + value;
    list = curl_slist_append(list, line.c_str());
  };
  bool has_ua = false;
  for (auto& [k, v] : req.headers) {
    has_ua = has_ua || str::iequals(k, "User-Agent");
    add(k, v);
  }
  for (auto& [k, v] : extra)
    add(k, v);
  if (!has_ua)
    add("User-Agent", user_agent());
  list = curl_slist_append(list, "Expect:");

  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(req.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);
  if (const std::atomic<bool>* cancel = thread_cancel_flag()) {
    // libcurl calls this while resolving, connecting and transferring: a shutdown is not held
    // up by a slow DNS lookup or a stalled server.
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, cancel);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION,
                     +[](void* p, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
                       return static_cast<const std::atomic<bool>*>(p)->load() ? 1 : 0;
                     });
  }
  if (req.accept_compressed)
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
  if (req.method == "HEAD")
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  else if (req.method != "GET")
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());

  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  r.status = static_cast<int>(status);
  r.headers = std::move(sink.headers);
  r.body = std::move(sink.body);
  r.truncated = sink.truncated;
  if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && sink.truncated)) {
    r.transport_ok = true;
  } else if (rc == CURLE_WRITE_ERROR && sink.overflow) {
    r.transport_error = "response body larger than " + std::to_string(req.max_body) + " bytes";
  } else {
    r.transport_error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(h);
  return r;
}

}  // namespace

namespace {
thread_local const std::atomic<bool>* g_thread_cancel = nullptr;
}

const std::atomic<bool>* thread_cancel_flag() { return g_thread_cancel; }

}  // namespace omed::model::net

namespace omed::model {

ScopedCancel::ScopedCancel(const std::atomic<bool>* flag) : previous_(net::g_thread_cancel) {
  net::g_thread_cancel = flag;
}

ScopedCancel::~ScopedCancel() { net::g_thread_cancel = previous_; }

}  // namespace omed::model

namespace omed::model::net {

std::string Url::origin() const {
  std::string o = scheme + "://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host);
  bool default_port = port.empty() || (scheme == "http" && port == "80") || (scheme == "https" && port == "443");
  if (!default_port)
    o += ":" + port;
  return o;
}

std::string Url::host_header() const {
  auto o = origin();
  return o.substr(o.find("://") + 3);
}

std::optional<Url> parse_url(std::string_view url) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos)
    return std::nullopt;
  Url u;
  u.scheme = str::lower(url.substr(0, sep));
  if (u.scheme != "http" && u.scheme != "https")
    return std::nullopt;
  auto rest = url.substr(sep + 3);
  auto end = rest.find_first_of("/?#");
  auto authority = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  if (authority.find('@') != std::string_view::npos)
    return std::nullopt;  // userinfo in a model URL is a credential leak waiting to happen
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return std::nullopt;
    u.host = std::string(authority.substr(1, close - 1));
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return std::nullopt;
      u.port = std::string(after.substr(1));
    }
  } else {
    auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos)
      u.port = std::string(authority.substr(colon + 1));
  }
  u.host = str::lower(u.host);
  if (u.host.empty())
    return std::nullopt;
  for (char c : u.port)
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return std::nullopt;
  auto hash = rest.find('#');
  if (hash != std::string_view::npos)
    rest = rest.substr(0, hash);
  auto q = rest.find('?');
  u.path = std::string(rest.substr(0, q));
  if (q != std::string_view::npos)
    u.query = std::string(rest.substr(q + 1));
  if (u.path.empty())
    u.path = "/";
  return u;
}

bool same_origin(std::string_view a, std::string_view b) {
  auto ua = parse_url(a), ub = parse_url(b);
  return ua && ub && ua->origin() == ub->origin();
}

std::string resolve_reference(std::string_view base, std::string_view ref) {
  ref = str::trim(ref);
  if (ref.empty())
    return {};
  if (ref.find("://") != std::string_view::npos)
    return parse_url(ref) ? std::string(ref) : std::string();
  auto b = parse_url(base);
  if (!b)
    return {};
  std::string out;
  if (str::starts_with(ref, "//"))
    out = b->scheme + ":" + std::string(ref);
  else if (ref.front() == '/')
    out = b->origin() + std::string(ref);
  else if (ref.front() == '?')
    out = b->origin() + b->path + std::string(ref);  // a next-page link may change only the query
  else {
    auto dir = b->path.substr(0, b->path.rfind('/') + 1);
    out = b->origin() + dir + std::string(ref);
  }
  return parse_url(out) ? out : std::string();
}

std::string encode_path(std::string_view path) { return encode(path, true); }
std::string encode_component(std::string_view s) { return encode(s, false); }

const std::string* Response::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (str::iequals(k, name))
      return &v;
  return nullptr;
}

Response perform(const Request& req) {
  std::string url = req.url;
  for (int hop = 0;; ++hop) {
    HeaderList secret;
    if (req.auth && same_origin(url, req.url))
      secret = req.auth->headers_for(req.method, url);
    Response r = perform_once(req, url, secret);
    bool redirect = r.status == 301 || r.status == 302 || r.status == 303 || r.status == 307 || r.status == 308;
    if (!r.transport_ok || !redirect || !req.follow_redirects)
      return r;
    auto* loc = r.header("Location");
    if (!loc) {
      return r;
    }
    if (hop >= req.max_redirects) {
      r.transport_ok = false;
      r.transport_error = "too many redirects (more than " + std::to_string(req.max_redirects) + ")";
      return r;
    }
    std::string next = resolve_reference(url, *loc);
    if (next.empty()) {
      r.transport_ok = false;
      r.transport_error = "redirect to an unsupported location";
      return r;
    }
    // https -> http would expose the request (and with it anything signed) on the wire.
    if (str::starts_with(url, "https://") && str::starts_with(next, "http://")) {
      r.transport_ok = false;
      r.transport_error = "refusing a redirect from https to plain http";
      return r;
    }
    url = next;
  }
}

namespace {

std::optional<long long> leading_int(std::string_view s) {
  s = str::trim(s);
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s.front())))
    return std::nullopt;
  long long v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c)))
      break;
    v = v * 10 + (c - '0');
    if (v > 100000000)
      return v;  // clamp absurd values, callers compare against their limits
  }
  return v;
}

// A parameter of an RFC 8941 structured-field item list ("api";r=0;t=55 or limit=1, reset=5).
std::optional<long long> sf_param(std::string_view field, std::string_view key) {
  size_t pos = 0;
  while (pos < field.size()) {
    auto p = field.find(key, pos);
    if (p == std::string_view::npos)
      return std::nullopt;
    bool start_ok = p == 0 || field[p - 1] == ';' || field[p - 1] == ',' || field[p - 1] == ' ';
    size_t after = p + key.size();
    if (start_ok && after < field.size() && field[after] == '=')
      return leading_int(field.substr(after + 1));
    pos = p + 1;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::chrono::seconds> retry_after_of(const Response& r) {
  if (auto* ra = r.header("Retry-After")) {
    if (auto n = leading_int(*ra))
      return std::chrono::seconds(*n);
    struct tm tm {};
    if (strptime(ra->c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm)) {
      auto when = timegm(&tm);
      auto now = std::time(nullptr);
      return std::chrono::seconds(when > now ? when - now : 0);
    }
  }
  if (auto* rl = r.header("RateLimit")) {
    if (auto t = sf_param(*rl, "t"))
      return std::chrono::seconds(*t);
    if (auto t = sf_param(*rl, "reset"))
      return std::chrono::seconds(*t);
  }
  if (auto* reset = r.header("RateLimit-Reset")) {
    if (auto n = leading_int(*reset))
      return std::chrono::seconds(*n);
  }
  return std::nullopt;
}

Response perform_with_retry(const Request& req, const RetryPolicy& policy,
                            std::optional<std::chrono::seconds>& retry_after) {
  auto backoff = std::chrono::milliseconds(500);
  for (int attempt = 0;; ++attempt) {
    Response r = perform(req);
    bool retryable = !r.transport_ok || r.status == 429 || r.status == 503;
    if (!retryable)
      return r;
    std::optional<std::chrono::seconds> asked;
    if (r.transport_ok)
      asked = retry_after_of(r);
    if (asked)
      retry_after = asked;
    if (attempt >= policy.max_retries)
      return r;
    std::chrono::milliseconds wait = asked ? std::chrono::milliseconds(*asked) : backoff;
    if (asked && *asked > policy.max_wait)
      return r;  // the caller reports retry_after; blocking a worker for minutes helps nobody
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(8));
    // Sleeps in slices so that a cancelled job stops waiting at once.
    const std::atomic<bool>* cancel = thread_cancel_flag();
    for (auto slept = std::chrono::milliseconds(0); slept < wait; slept += std::chrono::milliseconds(50)) {
      if (cancel && cancel->load())
        return r;
      std::this_thread::sleep_for(std::min(std::chrono::milliseconds(50), wait - slept));
    }
  }
}

std::string sanitize_server_text(std::string_view s, size_t max) {
  std::string out;
  for (unsigned char c : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    if (c == '\n' || c == '\r' || c == '\t')
      out.push_back(' ');
    else if (c >= 0x20 && c != 0x7f)
      out.push_back(static_cast<char>(c));
  }
  return std::string(str::trim(out));
}

std::string http_date(std::time_t t) {
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  // strftime's %a/%b follow the C locale, which is what RFC 9110 wants; set explicitly anyway.
  static const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
                months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string amz_date(std::time_t t) {
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

std::string to_hex(const unsigned char* p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(hex[p[i] >> 4]);
    out.push_back(hex[p[i] & 15]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return to_hex(md, sizeof md);
}

std::string user_agent() {
#ifdef OMED_VERSION
  return std::string("omed/") + OMED_VERSION;
#else
  return "omed";
#endif
}

}  // namespace omed::model::net
