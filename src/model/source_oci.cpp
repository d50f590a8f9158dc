// OCI Object Storage source: ListObjects under the model's prefix (nextStartWith pages), object
// URLs on the regional endpoint, and a request-signing authorizer for the downloads.
//
// References (protocol facts only): OCI Object Storage API, "ListObjects"
// (GET /n/{namespaceName}/b/{bucketName}/o with prefix, start, limit, fields=name,size,md5,etag;
// answers ListObjects {objects: [ObjectSummary], nextStartWith}), "ObjectSummary" (md5 is the
// base64 Content-MD5 of the object; multipart uploads carry a "-N" suffix instead), "GetObject"
// (GET /n/{ns}/b/{bucket}/o/{objectName}), "API Errors" (JSON {code, message}: NotAuthenticated,
// BucketNotFound, NotAuthorizedOrNotFound, TooManyRequests), and "Request Signatures".
#include <string>

#include "omed/common/json.hpp"
#include "omed/common/strings.hpp"
#include "omed/common/base64.hpp"
#include "sources_internal.hpp"

namespace omed::model::detail {
namespace {

struct Oci {
  const SourceConfig& cfg;
  std::string uri_text;
  std::string bucket;
  std::shared_ptr<RequestAuthorizer> auth;
  bool signed_requests = false;
  std::optional<std::chrono::seconds> retry_after;

  ListResult error(const net::Response& r) {
    if (!r.transport_ok)
      return fail("NetworkError", transport_message(r, "OCI Object Storage " + uri_text));
    std::string code, msg;
    json::Value body;
    std::string perr;
    if (json::try_parse(r.body, body, perr) && body.is_object()) {
      code = net::sanitize_server_text(body.string_or("code"), 64);
      msg = net::sanitize_server_text(body.string_or("message"));
    }
    std::string said = code.empty() ? "" : " (" + code + (msg.empty() ? "" : ": " + msg) + ")";
    int s = r.status;
    ListResult out;
    if (s == 401) {
      out = fail("Unauthorized",
                 signed_requests ? "OCI Object Storage did not accept the API signing key in " + secret_phrase(cfg) +
                                     said + "; check the tenancy and user OCIDs, the fingerprint and the private key"
                                 : "OCI Object Storage needs credentials for " + uri_text + said +
                                     ": put the tenancy OCID, user OCID, key fingerprint and private key in " +
                                     secret_phrase(cfg),
                 s);
    } else if (s == 404 || s == 403) {
      out = fail("NotFound", "OCI bucket " + bucket + " was not found or the user may not read it" + said +
                               "; check the storageUri and the IAM policy for the user in " + secret_phrase(cfg),
                 s);
    } else if (s == 429 || s == 503) {
      out = fail("RateLimited", rate_limited_message("OCI Object Storage", retry_after) + said, s);
    } else if (s >= 500) {
      out = fail("ServerError", "OCI Object Storage answered HTTP " + std::to_string(s) + said + " for " + uri_text, s);
    } else {
      out = fail("InvalidListing",
                 "unexpected HTTP " + std::to_string(s) + " from OCI Object Storage for " + uri_text + said, s);
    }
    out.retry_after = retry_after;
    return out;
  }
};

std::string md5_hex_from_base64(std::string_view b64) {
  std::string raw;
  if (!common::base64_decode(b64, raw) || raw.size() != 16)
    return {};  // multipart ("...-N") or malformed: not the MD5 of the bytes
  return net::to_hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

}  // namespace

ListResult list_oci(const StorageUri& uri, const SourceConfig& cfg) {
  std::string ns = !uri.namespace_.empty() ? uri.namespace_ : cfg.oci_namespace;
  if (ns.empty())
    return fail("InvalidConfig", "the storageUri names no Object Storage namespace: use "
                                 "oci://n/NAMESPACE/b/BUCKET/o/PREFIX or oci://NAMESPACE@REGION/BUCKET/PREFIX");
  std::string region = !uri.region.empty() ? uri.region : cfg.oci_region;
  std::string endpoint = cfg.oci_endpoint;
  if (endpoint.empty()) {
    if (region.empty())
      return fail("InvalidConfig", "no OCI region: use oci://NAMESPACE@REGION/BUCKET/PREFIX or configure the "
                                   "agent's OCI region");
    endpoint = "https://objectstorage." + region + ".oraclecloud.com";
  }
  while (!endpoint.empty() && endpoint.back() == '/')
    endpoint.pop_back();
  auto ep = net::parse_url(endpoint);
  if (!ep)
    return fail("InvalidConfig", "the OCI endpoint '" + net::sanitize_server_text(endpoint) + "' is not an http(s) URL");

  Oci oci{cfg, "oci://n/" + ns + "/b/" + uri.bucket + "/o/" + uri.prefix, uri.bucket, nullptr, false, {}};
  const auto& c = cfg.credentials;
  bool any = !c.oci_tenancy.empty() || !c.oci_user.empty() || !c.oci_fingerprint.empty() ||
             !c.oci_private_key_pem.empty();
  if (any) {
    std::string err;
    oci.auth = make_oci_authorizer(
      OciCredentials{c.oci_tenancy, c.oci_user, c.oci_fingerprint, c.oci_private_key_pem, c.oci_private_key_passphrase},
      ep->origin(), err);
    if (!oci.auth)
      return fail("InvalidConfig", err + " (from " + secret_phrase(cfg) + ")");
    oci.signed_requests = true;
  } else {
    oci.auth = make_anonymous_authorizer();
  }

  std::string base = endpoint + "/n/" + net::encode_component(ns) + "/b/" + net::encode_component(uri.bucket) + "/o";
  std::string prefix = uri.prefix;
  while (!prefix.empty() && prefix.front() == '/')
    prefix.erase(prefix.begin());
  std::string dir = prefix.empty() || prefix.back() == '/' ? prefix : prefix + "/";

  auto list = [&](const std::string& pfx, std::vector<RemoteFile>& out) -> std::optional<ListResult> {
    std::string start;
    for (size_t pages = 0;; ++pages) {
      std::string url = base + "?prefix=" + net::encode_component(pfx) + "&fields=name,size,md5,etag&limit=" +
                        std::to_string(cfg.page_size ? cfg.page_size : 1000);
      if (!start.empty())
        url += "&start=" + net::encode_component(start);
      auto req = base_request(cfg, url, oci.auth.get());
      req.headers.emplace_back("Accept", "application/json");
      req.max_body = 32u << 20;
      req.accept_compressed = true;
      req.follow_redirects = false;
      auto r = net::perform_with_retry(req, retry_policy(cfg), oci.retry_after);
      if (!r.transport_ok || r.status != 200)
        return oci.error(r);
      json::Value doc;
      std::string perr;
      if (!json::try_parse(r.body, doc, perr) || !doc.is_object() || !doc.get("objects") ||
          !doc.get("objects")->is_array())
        return fail("InvalidListing", "OCI Object Storage answered the listing of " + oci.uri_text +
                                        " with something else than a ListObjects document");
      for (auto& o : doc.get("objects")->as_array()) {
        std::string name = o.string_or("name");
        auto size = o.int_at("size");
        if (name.empty() || !size || *size < 0)
          return fail("InvalidListing", "the listing of " + oci.uri_text + " has an entry without a name or size "
                                                                           "(fields=name,size was asked for)");
        if (name.back() == '/')
          continue;  // folder placeholder
        if (name.compare(0, pfx.size(), pfx) != 0)
          return fail("InvalidListing", "the listing of " + oci.uri_text + " returned an object outside the prefix");
        RemoteFile f;
        f.path = name;  // made relative by the caller
        f.url = base + "/" + net::encode_path(name);
        f.size = static_cast<uint64_t>(*size);
        f.md5 = md5_hex_from_base64(o.string_or("md5"));
        f.etag = o.string_or("etag");
        out.push_back(std::move(f));
        if (out.size() > cfg.max_files)
          return fail("InvalidListing", oci.uri_text + " has more than " + std::to_string(cfg.max_files) +
                                          " objects; narrow the prefix or the include patterns");
      }
      std::string next = doc.string_or("nextStartWith");
      if (next.empty())
        return std::nullopt;
      if (next == start || pages > 100000)
        return fail("InvalidListing", "OCI Object Storage's listing of " + oci.uri_text + " does not advance");
      start = next;
    }
  };

  std::vector<RemoteFile> files;
  if (auto err = list(dir, files))
    return *err;
  for (auto& f : files)
    f.path = f.path.substr(dir.size());
  if (files.empty() && !prefix.empty() && prefix.back() != '/') {
    std::vector<RemoteFile> single;
    if (auto err = list(prefix, single))
      return *err;
    for (auto& f : single) {
      if (f.path != prefix)
        continue;
      auto slash = f.path.rfind('/');
      f.path = slash == std::string::npos ? f.path : f.path.substr(slash + 1);
      files.push_back(std::move(f));
    }
  }
  for (auto& f : files) {
    if (auto bad = check_remote_path(f.path); !bad.empty())
      return fail("InvalidListing", "the listing of " + oci.uri_text + " contains an unsafe object name: " +
                                      net::sanitize_server_text(bad) + "; refusing the whole listing");
  }
  if (files.empty())
    return fail("EmptyListing", "there are no objects under " + oci.uri_text);
  size_t total = files.size();
  files = select_files(std::move(files), cfg.include_patterns, cfg.exclude_patterns, false);
  if (files.empty())
    return fail("EmptyListing", "none of the " + std::to_string(total) + " objects under " + oci.uri_text +
                                  " matches the include/exclude patterns");

  ListResult out;
  out.ok = true;
  out.http_status = 200;
  out.listing.files = std::move(files);
  out.authorizer = oci.auth;
  return out;
}

}  // namespace omed::model::detail
