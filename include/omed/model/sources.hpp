// Storage sources: list a remote model's files (Hugging Face Hub, S3, OCI Object Storage, plain
// HTTP) and hand the transfer engine what it needs to fetch them: URLs, sizes, digests, auth.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "omed/model/remote_file.hpp"
#include "omed/model/storage_uri.hpp"

namespace omed::model {

// Secrets, as read from the Secret named by the model's storage.key. Never logged, never part
// of an error message (list_model_files scrubs every message it returns).
struct SourceCredentials {
  std::string hf_token;
  std::string s3_access_key_id;
  std::string s3_secret_access_key;
  std::string s3_session_token;
  std::string oci_tenancy;      // OCID of the tenancy
  std::string oci_user;         // OCID of the user
  std::string oci_fingerprint;  // of the uploaded API signing public key
  std::string oci_private_key_pem;
  std::string oci_private_key_passphrase;
};

struct SourceConfig {
  // HF_ENDPOINT: a mirror or a test fixture instead of the public Hub.
  std::string hf_endpoint = "https://huggingface.co";
  // An S3-compatible store ("http://127.0.0.1:9000"); path-style addressing is used with it.
  // Empty: AWS, https://{bucket}.s3.{region}.amazonaws.com.
  std::string s3_endpoint;
  std::string s3_region;        // when the URI has no "@region"; default us-east-1
  bool s3_path_style = false;   // forced on when s3_endpoint is set or the bucket has a '.'
  // A single-part ETag is the MD5 of the bytes, except for objects encrypted with SSE-KMS or SSE-C:
  // turn this off for such buckets, or every download fails its MD5 check.
  bool s3_etag_is_md5 = true;
  // Empty: https://objectstorage.{region}.oraclecloud.com.
  std::string oci_endpoint;
  std::string oci_region;       // when the URI has none
  std::string oci_namespace;    // for oci://BUCKET/PREFIX, which names no namespace
  SourceCredentials credentials;
  // Globs (see glob_match). Hugging Face: empty include means "what a runtime needs"
  // (default_include_patterns plus duplicate pruning); S3/OCI: empty include means everything.
  std::vector<std::string> include_patterns;
  std::vector<std::string> exclude_patterns;
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds request_timeout{60000};
  // 429/503/network retries per request, and the longest server-requested pause we sit out.
  int max_retries = 4;
  std::chrono::seconds max_retry_wait{60};
  size_t page_size = 1000;      // S3 max-keys, OCI limit
  size_t max_files = 100000;    // a listing longer than this is refused
  // Name of the Secret holding credentials (storage.key), used in messages that tell the user
  // where to put a token. Empty: messages say "the Secret named by storage.key".
  std::string secret_name;
};

struct ListResult {
  bool ok = false;
  RemoteListing listing;
  // User-facing: what went wrong and what to do about it. Never contains a credential.
  std::string error;
  // Machine-readable: "GatedRepo", "RepoNotFound", "RevisionNotFound", "Unauthorized",
  // "Forbidden", "NotFound", "RateLimited", "InvalidListing", "InvalidConfig", "NetworkError",
  // "ServerError", "Unsupported", "EmptyListing".
  std::string reason;
  int http_status = 0;
  // What the server last asked us to wait (429/503), when it did.
  std::optional<std::chrono::seconds> retry_after;
  // Adds per-request auth headers for the listed URLs (never null when ok). Only requests to the
  // listing's own origin get credentials: a Hub token is not sent to the CDN a resolve
  // redirects to.
  std::shared_ptr<RequestAuthorizer> authorizer;
};

// Makes every blocking source request on this thread (listing, metadata, remote parsing) give up
// soon after *flag becomes true: a node agent that shuts down is not held by a slow server.
class ScopedCancel {
public:
  explicit ScopedCancel(const std::atomic<bool>* flag);
  ~ScopedCancel();
  ScopedCancel(const ScopedCancel&) = delete;
  ScopedCancel& operator=(const ScopedCancel&) = delete;

private:
  const std::atomic<bool>* previous_;
};

// Lists the files of `uri` (hf, s3, oci, http/https). Blocking; safe to call from any thread.
// RemoteFile::etag is the entity-tag as the server's ETag header carries it (quoted for the Hub
// and S3), ready for If-Range.
ListResult list_model_files(const StorageUri& uri, const SourceConfig& cfg);

// ---- file patterns (src/model/file_patterns.cpp) ----

// fnmatch-style globs on the whole relative path, as huggingface_hub's allow/ignore patterns:
// '*' matches any run of characters including '/', '?' one character, "[abc]"/"[!a-z]" a class;
// a pattern ending in '/' matches everything below that directory.
bool glob_match(std::string_view pattern, std::string_view path);

// What a serving runtime needs from a Hugging Face repo: configs, tokenizers, generation config,
// chat templates, remote code, and weights.
const std::vector<std::string>& default_include_patterns();

// Applies include/exclude. With `runtime_defaults` and no include patterns, uses
// default_include_patterns() and prunes duplicate copies of the weights when *.safetensors exist
// (original/, consolidated*, *.bin, *.pt, *.pth, *.h5, *.msgpack, *.onnx, *.gguf, *.ckpt).
// User include patterns replace the defaults and the pruning; user excludes always apply.
std::vector<RemoteFile> select_files(std::vector<RemoteFile> files, const std::vector<std::string>& include,
                                     const std::vector<std::string>& exclude, bool runtime_defaults);

// ---- AWS Signature Version 4 (src/model/aws_sigv4.cpp) ----

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // STS; sent as x-amz-security-token (and signed)
};

struct SigV4Request {
  std::string method = "GET";
  std::string url;              // absolute; host, path and query are taken from it
  HeaderList headers;           // further headers to sign (Range, Date, x-amz-storage-class, ...)
  std::string payload_sha256 = "UNSIGNED-PAYLOAD";
  bool content_sha256_header = true;  // S3 wants x-amz-content-sha256; other services do not
  std::string amz_date;         // "20130524T000000Z"
  std::string region = "us-east-1";
  std::string service = "s3";
};

struct SigV4Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;
  std::string signature;        // lowercase hex
  std::string authorization;    // the Authorization header value
  HeaderList headers;           // what to add to the request: x-amz-*, Authorization
};

// Canonical request, string to sign and signature as the AWS "Signature Version 4 signing
// process" describes (S3 flavour: the path is URI-encoded once, not twice).
SigV4Signature sigv4_sign(const SigV4Request& req, const AwsCredentials& creds);
// The derived signing key (hex), for checking against the documentation's examples.
std::string sigv4_signing_key_hex(std::string_view secret, std::string_view yyyymmdd, std::string_view region,
                                  std::string_view service);
// Signs every request to `origin` (scheme://host[:port]) with the current time,
// UNSIGNED-PAYLOAD. With empty credentials it adds only x-amz-content-sha256 (public buckets).
std::shared_ptr<RequestAuthorizer> make_s3_authorizer(AwsCredentials creds, std::string region,
                                                      std::string origin);

// ---- OCI request signatures (src/model/oci_signer.cpp) ----

struct OciCredentials {
  std::string tenancy, user, fingerprint, private_key_pem, passphrase;
  std::string key_id() const { return tenancy + "/" + user + "/" + fingerprint; }
};

// The draft-cavage signing string for `headers` ("(request-target)", "host", "date", ...),
// one "name: value" line each, as Oracle's "Request Signatures" document describes.
std::string oci_signing_string(std::string_view method, std::string_view url, std::string_view date,
                               const std::vector<std::string>& headers);
// Signs GETs to `origin` with (request-target), host and date (RSA-SHA256). Returns null and sets
// `error` when the private key cannot be loaded.
std::shared_ptr<RequestAuthorizer> make_oci_authorizer(const OciCredentials& creds, std::string origin,
                                                       std::string& error);

// An authorizer that adds nothing (public HTTP files).
std::shared_ptr<RequestAuthorizer> make_anonymous_authorizer();

}  // namespace omed::model
