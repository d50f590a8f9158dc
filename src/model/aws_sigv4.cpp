// AWS Signature Version 4 for S3 requests: canonical request, string to sign, signing key and
// the Authorization header, written from AWS's "Signature Version 4 signing process" docs.
//
// References (protocol facts only):
//   AWS General Reference, "Create a canonical request" / "Create a string to sign" /
//   "Calculate the signature" (Signature Version 4 signing process);
//   Amazon S3 API Reference, "Authenticating Requests: Using the Authorization Header (AWS
//   Signature Version 4)" and its "Examples" section (GET Object, PUT Object, GET Bucket
//   Lifecycle, GET Bucket (List Objects)), whose published signatures our tests check.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <utility>

#include "http_get.hpp"
#include "omed/common/strings.hpp"
#include "omed/http/server.hpp"
#include "omed/model/sources.hpp"

namespace omed::model {
namespace {

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string signing_key(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service) {
  std::string k = hmac(std::string("AWS4") + std::string(secret), date);
  k = hmac(k, region);
  k = hmac(k, service);
  return hmac(k, "aws4_request");
}

// Header values: trimmed, runs of spaces folded to one (the spec's "Trimall").
std::string trimall(std::string_view v) {
  v = str::trim(v);
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty())
      out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

// S3 keeps the path as sent, URI-encoded once per byte outside the unreserved set ('/' kept).
// Decoding first makes "/test$file.text" and "/test%24file.text" sign the same.
std::string canonical_uri(std::string_view path) {
  if (path.empty())
    return "/";
  return net::encode_path(http::url_decode(path));
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  for (auto& part : str::split(query, '&')) {
    if (part.empty())
      continue;
    auto eq = part.find('=');
    std::string k = part.substr(0, eq);
    std::string v = eq == std::string::npos ? std::string() : part.substr(eq + 1);
    params.emplace_back(net::encode_component(http::url_decode(k)), net::encode_component(http::url_decode(v)));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (auto& [k, v] : params) {
    if (!out.empty())
      out += '&';
    out += k + "=" + v;
  }
  return out;
}

}  // namespace

std::string sigv4_signing_key_hex(std::string_view secret, std::string_view yyyymmdd, std::string_view region,
                                  std::string_view service) {
  auto k = signing_key(secret, yyyymmdd, region, service);
  return net::to_hex(reinterpret_cast<const unsigned char*>(k.data()), k.size());
}

SigV4Signature sigv4_sign(const SigV4Request& req, const AwsCredentials& creds) {
  SigV4Signature sig;
  auto url = net::parse_url(req.url);
  if (!url)
    return sig;

  // name -> values, sorted by lowercase name; repeated headers join with ','.
  std::map<std::string, std::string> headers;
  auto put = [&](std::string_view name, std::string_view value) {
    auto key = str::lower(name);
    auto v = trimall(value);
    auto it = headers.find(key);
    if (it == headers.end())
      headers.emplace(key, v);
    else
      it->second += "," + v;
  };
  bool has_host = false;
  for (auto& [k, v] : req.headers) {
    has_host = has_host || str::iequals(k, "host");
    put(k, v);
  }
  if (!has_host)
    put("host", url->host_header());
  put("x-amz-date", req.amz_date);
  if (req.content_sha256_header)
    put("x-amz-content-sha256", req.payload_sha256);
  if (!creds.session_token.empty())
    put("x-amz-security-token", creds.session_token);

  std::string canonical_headers, signed_headers;
  for (auto& [k, v] : headers) {
    canonical_headers += k + ":" + v + "\n";
    if (!signed_headers.empty())
      signed_headers += ';';
    signed_headers += k;
  }
  sig.signed_headers = signed_headers;
  sig.canonical_request = req.method + "\n" + canonical_uri(url->path) + "\n" + canonical_query(url->query) + "\n" +
                          canonical_headers + "\n" + signed_headers + "\n" + req.payload_sha256;

  std::string date = req.amz_date.substr(0, 8);
  std::string scope = date + "/" + req.region + "/" + req.service + "/aws4_request";
  sig.string_to_sign =
    "AWS4-HMAC-SHA256\n" + req.amz_date + "\n" + scope + "\n" + net::sha256_hex(sig.canonical_request);
  auto key = signing_key(creds.secret_access_key, date, req.region, req.service);
  auto mac = hmac(key, sig.string_to_sign);
  sig.signature = net::to_hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
  sig.authorization = "AWS4-HMAC-SHA256 Credential=" + creds.access_key_id + "/" + scope +
                      ",SignedHeaders=" + signed_headers + ",Signature=" + sig.signature;

  sig.headers.emplace_back("x-amz-date", req.amz_date);
  if (req.content_sha256_header)
    sig.headers.emplace_back("x-amz-content-sha256", req.payload_sha256);
  if (!creds.session_token.empty())
    sig.headers.emplace_back("x-amz-security-token", creds.session_token);
  sig.headers.emplace_back("Authorization", sig.authorization);
  return sig;
}

namespace {

class S3Authorizer : public RequestAuthorizer {
public:
  S3Authorizer(AwsCredentials creds, std::string region, std::string origin)
    : creds_(std::move(creds)), region_(std::move(region)), origin_(std::move(origin)) {}

  HeaderList headers_for(std::string_view method, std::string_view url) const override {
    auto u = net::parse_url(url);
    if (!u || u->origin() != origin_)
      return {};
    if (creds_.access_key_id.empty()) {
      // Anonymous access to a public bucket; S3-compatible stores still want this header.
      return {{"x-amz-content-sha256", "UNSIGNED-PAYLOAD"}};
    }
    SigV4Request req;
    req.method = std::string(method);
    req.url = std::string(url);
    req.amz_date = net::amz_date(std::time(nullptr));
    req.region = region_;
    return sigv4_sign(req, creds_).headers;
  }

private:
  const AwsCredentials creds_;
  const std::string region_;
  const std::string origin_;
};

}  // namespace

std::shared_ptr<RequestAuthorizer> make_s3_authorizer(AwsCredentials creds, std::string region, std::string origin) {
  return std::make_shared<S3Authorizer>(std::move(creds), std::move(region), std::move(origin));
}

}  // namespace omed::model
