// S3 source: ListObjectsV2 under the model's prefix (continuation-token pages), object URLs for
// AWS or an S3-compatible endpoint, and a SigV4 authorizer for the downloads.
//
// References (protocol facts only): Amazon S3 API Reference, "ListObjectsV2" (list-type=2,
// prefix, max-keys, continuation-token; ListBucketResult with Contents/Key/Size/ETag,
// IsTruncated, NextContinuationToken), "Common Response Headers" / "Object" (an ETag is the MD5
// of the object unless it was uploaded in parts: those ETags carry a "-N" suffix),
// "Error Responses" (<Error><Code>/<Message>), and "Virtual hosting of buckets" (virtual-hosted
// vs path-style addressing).
#include <string>

#include "omed/common/strings.hpp"
#include "sources_internal.hpp"

namespace omed::model::detail {
namespace {

void append_utf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x110000) {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string xml_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    auto semi = s.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      out.push_back('&');
      continue;
    }
    auto ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp") out.push_back('&');
    else if (ent == "lt") out.push_back('<');
    else if (ent == "gt") out.push_back('>');
    else if (ent == "quot") out.push_back('"');
    else if (ent == "apos") out.push_back('\'');
    else if (!ent.empty() && ent[0] == '#') {
      bool hex = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X');
      std::string digits(ent.substr(hex ? 2 : 1));
      char* end = nullptr;
      unsigned long cp = std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
      if (digits.empty() || *end != '\0') {
        out.append(s.substr(i, semi - i + 1));
      } else {
        append_utf8(out, cp);
      }
    } else {
      out.append(s.substr(i, semi - i + 1));
    }
    i = semi;
  }
  return out;
}

// The text of the first <name>...</name> in `xml` from `from`, unescaped; nullopt when absent.
std::optional<std::string> tag(std::string_view xml, std::string_view name) {
  std::string open = "<" + std::string(name) + ">", close = "</" + std::string(name) + ">";
  auto a = xml.find(open);
  if (a == std::string_view::npos)
    return std::nullopt;
  auto b = xml.find(close, a + open.size());
  if (b == std::string_view::npos)
    return std::nullopt;
  return xml_unescape(xml.substr(a + open.size(), b - a - open.size()));
}

struct S3Object {
  std::string key, etag;
  uint64_t size = 0;
};

struct Bucket {
  const SourceConfig& cfg;
  std::string uri_text;     // s3://bucket/prefix for messages
  std::string bucket, region;
  std::string base;         // bucket root URL, no trailing '/'
  bool path_style = false;
  std::shared_ptr<RequestAuthorizer> auth;
  std::optional<std::chrono::seconds> retry_after;

  bool have_creds() const { return !cfg.credentials.s3_access_key_id.empty(); }

  ListResult error(const net::Response& r) {
    if (!r.transport_ok)
      return fail("NetworkError", transport_message(r, "S3 " + uri_text));
    std::string code = net::sanitize_server_text(tag(r.body, "Code").value_or(""), 64);
    std::string msg = net::sanitize_server_text(tag(r.body, "Message").value_or(""));
    std::string said = code.empty() ? "" : " (" + code + (msg.empty() ? "" : ": " + msg) + ")";
    int s = r.status;
    ListResult out;
    std::string other_region;
    if (auto* h = r.header("x-amz-bucket-region"))
      other_region = net::sanitize_server_text(*h, 64);
    else if (auto reg = tag(r.body, "Region"))
      other_region = net::sanitize_server_text(*reg, 64);
    if ((s == 301 || code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed") && !other_region.empty() &&
        other_region != region) {
      out = fail("InvalidConfig", "bucket " + bucket + " is in region " + other_region + ", not " + region +
                                    ": use s3://" + bucket + "@" + other_region + "/... as the storageUri",
                 s);
    } else if (code == "NoSuchBucket" || (s == 404 && code.empty())) {
      out = fail("NotFound", "S3 bucket " + bucket + " does not exist" +
                               (cfg.s3_endpoint.empty() ? " in " + region : " at " + cfg.s3_endpoint) +
                               "; check the storageUri",
                 s);
    } else if (s == 401 || s == 403) {
      out = fail("Unauthorized",
                 have_creds() ? "S3 refused the credentials in " + secret_phrase(cfg) + " for " + uri_text + said +
                                  "; check the access key id, secret key (and session token) and the bucket policy"
                              : "S3 bucket " + bucket + " is not public" + said +
                                  ": put an access key id and secret access key that can read it in " +
                                  secret_phrase(cfg),
                 s);
    } else if (s == 429 || s == 503) {
      out = fail("RateLimited", rate_limited_message("S3", retry_after) + said, s);
    } else if (s >= 500) {
      out = fail("ServerError", "S3 answered HTTP " + std::to_string(s) + said + " for " + uri_text, s);
    } else {
      out = fail("InvalidListing", "unexpected HTTP " + std::to_string(s) + " from S3 for " + uri_text + said, s);
    }
    out.retry_after = retry_after;
    return out;
  }

  // Every object under `prefix`, in key order; a failure fills `err`.
  std::vector<S3Object> list(const std::string& prefix, std::optional<ListResult>& err) {
    std::vector<S3Object> out;
    std::string token;
    for (size_t pages = 0;; ++pages) {
      std::string query = "list-type=2&max-keys=" + std::to_string(cfg.page_size ? cfg.page_size : 1000) +
                          "&prefix=" + net::encode_component(prefix);
      if (!token.empty())
        query += "&continuation-token=" + net::encode_component(token);
      auto req = base_request(cfg, base + (path_style ? "?" : "/?") + query, auth.get());
      req.max_body = 32u << 20;
      req.accept_compressed = true;
      req.follow_redirects = false;
      auto r = net::perform_with_retry(req, retry_policy(cfg), retry_after);
      if (!r.transport_ok || r.status != 200) {
        err = error(r);
        return {};
      }
      if (r.body.find("<ListBucketResult") == std::string::npos) {
        err = fail("InvalidListing", "S3 answered the listing of " + uri_text + " with something else than a "
                                                                               "ListBucketResult");
        return {};
      }
      std::string_view body(r.body);
      for (size_t pos = body.find("<Contents>"); pos != std::string_view::npos;
           pos = body.find("<Contents>", pos + 1)) {
        auto end = body.find("</Contents>", pos);
        if (end == std::string_view::npos)
          break;
        auto block = body.substr(pos, end - pos);
        S3Object o;
        o.key = tag(block, "Key").value_or("");
        o.etag = tag(block, "ETag").value_or("");
        auto size = tag(block, "Size").value_or("");
        if (o.key.empty() || size.empty() || size.find_first_not_of("0123456789") != std::string::npos) {
          err = fail("InvalidListing", "S3's listing of " + uri_text + " has an entry without a key or size");
          return {};
        }
        o.size = std::stoull(size);
        out.push_back(std::move(o));
        if (out.size() > cfg.max_files) {
          err = fail("InvalidListing", uri_text + " has more than " + std::to_string(cfg.max_files) +
                                         " objects; narrow the prefix or the include patterns");
          return {};
        }
      }
      bool truncated = tag(body, "IsTruncated").value_or("false") == "true";
      if (!truncated)
        break;
      std::string next = tag(body, "NextContinuationToken").value_or("");
      if (next.empty() || next == token || pages > 100000) {
        err = fail("InvalidListing", "S3's listing of " + uri_text + " is truncated without a usable "
                                                                     "continuation token");
        return {};
      }
      token = next;
    }
    return out;
  }
};

bool md5_etag(std::string_view etag, std::string& md5) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
    etag = etag.substr(1, etag.size() - 2);
  if (etag.size() != 32)
    return false;  // multipart ("...-N") or another store's scheme: not an MD5 of the bytes
  for (char c : etag)
    if (!std::isxdigit(static_cast<unsigned char>(c)))
      return false;
  md5 = str::lower(etag);
  return true;
}

}  // namespace

ListResult list_s3(const StorageUri& uri, const SourceConfig& cfg) {
  Bucket b{cfg, "s3://" + uri.bucket + (uri.prefix.empty() ? "" : "/" + uri.prefix), uri.bucket, {}, {}, false, {}, {}};
  b.region = !uri.region.empty() ? uri.region : !cfg.s3_region.empty() ? cfg.s3_region : "us-east-1";
  const auto& c = cfg.credentials;
  if (!c.s3_access_key_id.empty() && c.s3_secret_access_key.empty())
    return fail("InvalidConfig", "an S3 access key id is set but no secret access key: add it to " + secret_phrase(cfg));

  if (!cfg.s3_endpoint.empty()) {
    std::string ep = cfg.s3_endpoint;
    while (!ep.empty() && ep.back() == '/')
      ep.pop_back();
    if (!net::parse_url(ep))
      return fail("InvalidConfig", "the S3 endpoint '" + net::sanitize_server_text(ep) + "' is not an http(s) URL");
    b.path_style = true;
    b.base = ep + "/" + net::encode_component(uri.bucket);
  } else if (cfg.s3_path_style || uri.bucket.find('.') != std::string::npos) {
    // A dotted bucket name breaks the *.s3 TLS wildcard certificate: path-style it is.
    b.path_style = true;
    b.base = "https://s3." + b.region + ".amazonaws.com/" + net::encode_component(uri.bucket);
  } else {
    b.base = "https://" + uri.bucket + ".s3." + b.region + ".amazonaws.com";
  }
  auto base = net::parse_url(b.base);
  if (!base)
    return fail("InvalidConfig", "cannot build an S3 URL for bucket " + uri.bucket);
  b.auth = make_s3_authorizer(AwsCredentials{c.s3_access_key_id, c.s3_secret_access_key, c.s3_session_token},
                              b.region, base->origin());

  std::string prefix = uri.prefix;
  while (!prefix.empty() && prefix.front() == '/')
    prefix.erase(prefix.begin());
  std::string dir = prefix.empty() || prefix.back() == '/' ? prefix : prefix + "/";

  std::optional<ListResult> err;
  auto objects = b.list(dir, err);
  if (err)
    return *err;
  std::vector<RemoteFile> files;
  for (auto& o : objects) {
    if (o.key.back() == '/')
      continue;  // "folder" placeholder objects the consoles create
    RemoteFile f;
    f.path = o.key.substr(dir.size());
    f.url = b.base + "/" + net::encode_path(o.key);
    f.size = o.size;
    f.etag = o.etag;
    if (cfg.s3_etag_is_md5)
      md5_etag(o.etag, f.md5);
    files.push_back(std::move(f));
  }
  if (files.empty() && !prefix.empty() && prefix.back() != '/') {
    // s3://bucket/dir/model.gguf names one object rather than a directory.
    auto single = b.list(prefix, err);
    if (err)
      return *err;
    for (auto& o : single) {
      if (o.key != prefix)
        continue;
      RemoteFile f;
      auto slash = o.key.rfind('/');
      f.path = slash == std::string::npos ? o.key : o.key.substr(slash + 1);
      f.url = b.base + "/" + net::encode_path(o.key);
      f.size = o.size;
      f.etag = o.etag;
      if (cfg.s3_etag_is_md5)
        md5_etag(o.etag, f.md5);
      files.push_back(std::move(f));
    }
  }
  for (auto& f : files) {
    if (auto bad = check_remote_path(f.path); !bad.empty())
      return fail("InvalidListing", "the listing of " + b.uri_text + " contains an unsafe object name: " +
                                      net::sanitize_server_text(bad) + "; refusing the whole listing");
  }
  if (files.empty())
    return fail("EmptyListing", "there are no objects under " + b.uri_text);
  size_t total = files.size();
  files = select_files(std::move(files), cfg.include_patterns, cfg.exclude_patterns, false);
  if (files.empty())
    return fail("EmptyListing", "none of the " + std::to_string(total) + " objects under " + b.uri_text +
                                  " matches the include/exclude patterns");

  ListResult out;
  out.ok = true;
  out.http_status = 200;
  out.listing.files = std::move(files);
  out.authorizer = b.auth;
  return out;
}

}  // namespace omed::model::detail
