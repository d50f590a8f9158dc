// A loopback stand-in for the Hugging Face Hub (the real one cannot be reached from tests): model
// info by revision, the paginated tree API, resolve with a 302 to a second "CDN" server, tokens.
//
// It follows the Hub HTTP API as the public huggingface_hub library uses it:
//   - GET /api/models/{repo}/revision/{rev}  (hf_api.py model_info; rev quoted with safe=""):
//     {"id", "modelId", "sha", "private", "gated", "siblings": [{"rfilename"}]}
//   - GET /api/models/{repo}/tree/{rev}[/{path}]?recursive=true  (hf_api.py list_repo_tree):
//     [{"type": "file"|"directory", "oid", "size", "path", "lfs": {"oid", "size", "pointerSize"}}],
//     further pages announced by `Link: <url>; rel="next"` (utils/_pagination.py)
//   - GET|HEAD /{repo}/resolve/{rev}/{path}  (file_download.py hf_hub_url / get_hf_file_metadata):
//     LFS files answer 302 to the CDN with X-Repo-Commit, X-Linked-Etag, X-Linked-Size, ETag;
//     small files are served directly with ETag (the git blob id) and X-Repo-Commit
//   - errors as utils/_http.py hf_raise_for_status reads them: X-Error-Code RepoNotFound /
//     RevisionNotFound / EntryNotFound / GatedRepo, X-Error-Message; an anonymous caller gets 401
//     for a private or missing repo; 429 with Retry-After or the IETF RateLimit headers
//     (hub-docs rate-limits.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "omed/http/server.hpp"

namespace omed::testing {

class HubFixture {
public:
  struct Options {
    size_t page_size = 1000;        // tree entries per page
    std::string required_token;     // when set, every Hub request needs "Bearer <token>"
    std::string cdn_host = "127.0.0.2";  // falls back to 127.0.0.1 when it cannot bind
  };

  struct LoggedRequest {
    std::string server;  // "hub" or "cdn"
    std::string method, target, path;
    std::vector<http::Header> headers;
    int status = 0;
    size_t body_bytes = 0;  // what the answer carried (benchmarks count bytes served)
    const std::string* header(std::string_view name) const;
  };

  HubFixture();
  explicit HubFixture(Options opts);
  ~HubFixture();
  HubFixture(const HubFixture&) = delete;
  HubFixture& operator=(const HubFixture&) = delete;

  // "http://127.0.0.1:PORT": what HF_ENDPOINT would be.
  std::string endpoint() const;
  std::string cdn_origin() const;

  // A new commit on `branch` (created or moved) holding exactly `files` (path -> bytes).
  // Returns the commit sha (40 hex).
  std::string add_commit(const std::string& repo, const std::map<std::string, std::string>& files,
                         const std::string& branch = "main");

  // A file too large to hold (a 5 GB shard of a 405B model): `head` is real (say, a safetensors
  // header), then zeros up to `size`, made on demand for each Range. Hashing hundreds of GB on
  // every run is unaffordable, so the caller names the sha256 the Hub reports (LFS oid,
  // X-Linked-Etag, CDN path): a client verifying a full download of it will see a mismatch, which
  // is why these suit Range readers only. A whole-body GET over 256 MiB answers 500.
  struct GeneratedFile {
    std::string head;
    uint64_t size = 0;
    std::string sha256;
  };
  // As add_commit, with `generated` files in the same commit (always LFS, served by the CDN).
  std::string add_commit(const std::string& repo, const std::map<std::string, std::string>& files,
                         const std::map<std::string, GeneratedFile>& generated, const std::string& branch = "main");
  // Every regular file under `dir`, as one commit.
  std::string add_repo_from_dir(const std::string& repo, const std::filesystem::path& dir,
                                const std::string& branch = "main");
  void add_tag(const std::string& repo, const std::string& tag, const std::string& sha);
  // Private: invisible (RepoNotFound) without a token in `tokens`.
  void set_private(const std::string& repo, std::set<std::string> tokens);
  // Gated ("manual"): info and tree answer, resolve needs a token in `tokens` (401/403 GatedRepo).
  void set_gated(const std::string& repo, std::set<std::string> tokens);
  // Extra tree entries for the repo's every commit (names a hostile Hub might send); no content.
  void add_listing_entries(const std::string& repo, std::vector<std::string> paths);
  void set_page_size(size_t n);
  // The next `n` Hub requests answer `status` (with X-Error-Code `error_code` when given). 429 and
  // 503 carry Retry-After: retry_after_s (none when negative), or the IETF RateLimit /
  // RateLimit-Policy headers (t=retry_after_s) when `ratelimit_header`.
  void fail_next(size_t n, int status = 429, int retry_after_s = 1, bool ratelimit_header = false,
                 std::string error_code = {});

  std::vector<LoggedRequest> requests() const;
  void clear_requests();
  // Requests to `server` whose path starts with `path_prefix`.
  size_t count_requests(std::string_view server, std::string_view path_prefix) const;

  // The Hub's default .gitattributes sends these to LFS (and anything of 10 MiB or more).
  static bool is_lfs(std::string_view path, size_t size);
  static std::string sha256_hex(std::string_view data);
  static std::string git_blob_oid(std::string_view data);

private:
  struct Blob {
    std::string content;  // the head only, for a generated file
    uint64_t size = 0;
    bool lfs = false;
    std::string sha256, oid;  // oid: git blob id (of the LFS pointer for LFS files)
    size_t pointer_size = 0;
  };
  struct Commit {
    std::string sha;
    std::map<std::string, Blob> files;
  };
  struct Repo {
    std::map<std::string, Commit> commits;  // by sha
    std::map<std::string, std::string> refs;  // branch/tag -> sha
    bool is_private = false, gated = false;
    std::set<std::string> tokens;
    std::vector<std::string> extra_entries;
  };

  http::Response handle_hub(const http::Request& req);
  http::Response handle_cdn(const http::Request& req);
  // `content` then zeros up to `size`.
  http::Response serve_bytes(const http::Request& req, const std::string& content, uint64_t size,
                             const std::string& etag);
  void log(const std::string& server, const http::Request& req, const http::Response& res);
  const Commit* find_commit(const Repo& repo, const std::string& rev) const;

  Options opts_;
  mutable std::mutex mu_;
  std::map<std::string, Repo> repos_;
  struct CdnObject {
    std::string head;
    uint64_t size = 0;
  };
  std::map<std::string, CdnObject> cdn_blobs_;  // by sha256
  size_t fail_count_ = 0;
  int fail_status_ = 429, fail_retry_after_ = 1;
  bool fail_ratelimit_header_ = false;
  std::string fail_code_;
  uint64_t commit_counter_ = 0;
  std::vector<LoggedRequest> log_;
  std::unique_ptr<http::Server> hub_, cdn_;
};

}  // namespace omed::testing
