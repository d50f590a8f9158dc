// A file of a remote model as a source lists it, and how to ask for its bytes. Sources
// (Hugging Face Hub, S3, OCI, HTTP) produce these; the transfer engine consumes them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace omed::model {

struct RemoteFile {
  std::string path;                  // relative path inside the model directory (validated)
  std::string url;                   // absolute URL of the bytes (GET, Range allowed)
  std::optional<uint64_t> size;      // from the listing; always checked when known
  std::string sha256;                // lowercase hex when the source publishes it (HF LFS oid)
  std::string md5;                   // lowercase hex when meaningful (S3 single-part ETag)
  std::string etag;                  // opaque validator, sent as If-Range when resuming
};

struct RemoteListing {
  std::string revision;              // resolved commit sha (HF) or empty
  std::vector<RemoteFile> files;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Signs or authorizes one request. Implementations must be thread-safe: the transfer engine
// calls them from its worker thread for every attempt (SigV4 signatures embed the time).
class RequestAuthorizer {
public:
  virtual ~RequestAuthorizer() = default;
  // Headers to add to a GET of `url` (e.g. "Authorization: Bearer ..."). Never logged.
  virtual HeaderList headers_for(std::string_view method, std::string_view url) const = 0;
};

// Rejects names a hostile listing could use to escape the model directory: empty, absolute,
// "..", NUL, backslashes, control characters. Returns an error message, empty when safe.
std::string check_remote_path(std::string_view path);

}  // namespace omed::model
