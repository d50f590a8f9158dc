// Hugging Face Hub source: resolves a revision to its commit, lists the commit's files with their
// sizes and LFS sha256, and builds pinned /resolve/{sha}/ download URLs.
//
// The Hub HTTP API as the public huggingface_hub library uses it (protocol facts only):
//   - hf_api.py model_info(): GET {endpoint}/api/models/{repo_id}/revision/{quote(revision, safe="")}
//     answers the model info whose "sha" is the commit the revision points to, "gated" false or
//     "auto"/"manual";
//   - hf_api.py list_repo_tree(): GET {endpoint}/api/models/{repo_id}/tree/{revision}?recursive=...
//     answers a JSON array of {"type": "file"|"directory", "path", "size", "oid",
//     "lfs": {"oid": sha256, "size", "pointerSize"}};
//   - utils/_pagination.py paginate(): further pages come from the `Link: <url>; rel="next"`
//     header (GitHub style) and the next URL already carries the query;
//   - file_download.py hf_hub_url(): {endpoint}/{repo_id}/resolve/{revision}/{quoted filename};
//   - utils/_http.py hf_raise_for_status(): X-Error-Code "RepoNotFound", "RevisionNotFound",
//     "EntryNotFound", "GatedRepo"; X-Error-Message; 401 is also what a private or missing repo
//     answers an anonymous caller;
//   - hub-docs rate-limits.md: 429 with the IETF RateLimit / RateLimit-Policy headers.
#include <set>
#include <string>

#include "omed/common/json.hpp"
#include "omed/common/strings.hpp"
#include "sources_internal.hpp"

namespace omed::model::detail {
namespace {

class HfAuthorizer : public RequestAuthorizer {
public:
  HfAuthorizer(std::string token, std::string origin) : token_(std::move(token)), origin_(std::move(origin)) {}
  HeaderList headers_for(std::string_view, std::string_view url) const override {
    if (token_.empty())
      return {};
    auto u = net::parse_url(url);
    if (!u || u->origin() != origin_)
      return {};  // a resolve redirect goes to a CDN: the token stays with the Hub
    return {{"Authorization", "Bearer " + token_}};
  }

private:
  const std::string token_;
  const std::string origin_;
};

bool is_hex(std::string_view s, size_t len) {
  if (s.size() != len)
    return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c)))
      return false;
  return true;
}

struct Hub {
  const SourceConfig& cfg;
  std::string endpoint;  // no trailing '/'
  std::string origin;
  std::string repo;
  std::string revision;
  std::shared_ptr<HfAuthorizer> auth;
  std::optional<std::chrono::seconds> retry_after;

  bool have_token() const { return !cfg.credentials.hf_token.empty(); }
  std::string page() const { return endpoint + "/" + repo; }

  net::Response get(const std::string& url, bool follow = true) {
    auto req = base_request(cfg, url, auth.get());
    req.headers.emplace_back("Accept", "application/json");
    req.accept_compressed = true;
    req.max_body = 64u << 20;
    req.follow_redirects = follow;
    return net::perform_with_retry(req, retry_policy(cfg), retry_after);
  }

  // Turns a failed Hub answer into what the user should do about it.
  ListResult error(const net::Response& r, std::string_view step) {
    if (!r.transport_ok)
      return fail("NetworkError", transport_message(r, "Hugging Face Hub " + std::string(step)));
    std::string code, server;
    if (auto* c = r.header("X-Error-Code"))
      code = net::sanitize_server_text(*c, 64);
    if (auto* m = r.header("X-Error-Message"))
      server = net::sanitize_server_text(*m);
    if (server.empty()) {
      json::Value body;
      std::string err;
      if (json::try_parse(r.body, body, err) && body.is_object())
        server = net::sanitize_server_text(body.string_or("error"));
    }
    std::string detail = server.empty() ? "" : " (Hub says: " + server + ")";
    int s = r.status;
    ListResult out;
    if (code == "GatedRepo") {
      out = fail("GatedRepo",
                 "model " + repo + " is gated on the Hugging Face Hub: open " + page() +
                   ", accept its license with the account that owns your access token, then put that token in " +
                   secret_phrase(cfg) +
                   (have_token() ? " (the token given has not been granted access yet)" : " (no token was given)"),
                 s);
    } else if (code == "RevisionNotFound") {
      out = fail("RevisionNotFound",
                 "revision '" + revision + "' does not exist in " + repo +
                   " on the Hugging Face Hub; use a branch, tag or commit sha from " + page() +
                   " in the storageUri (hf://" + repo + "@REVISION)",
                 s);
    } else if (code == "EntryNotFound") {
      out = fail("NotFound", "a file listed for " + repo + " is missing on the Hub" + detail, s);
    } else if (s == 401 && code.empty() && have_token()) {
      out = fail("Unauthorized",
                 "the Hugging Face Hub rejected the access token in " + secret_phrase(cfg) +
                   " (invalid or expired); create a new read token and update the Secret",
                 s);
    } else if (code == "RepoNotFound" || s == 401 || s == 404) {
      out = fail("RepoNotFound",
                 "repository " + repo + " was not found on the Hugging Face Hub (" + endpoint +
                   "); check the storageUri. If the repository is private, put an access token that can read it in " +
                   secret_phrase(cfg) + (have_token() ? " (the token given cannot see it)" : ""),
                 s);
    } else if (s == 403) {
      out = fail("Forbidden",
                 "the Hugging Face Hub refused access to " + repo + detail + "; give the token in " +
                   secret_phrase(cfg) + " read permission on this repository",
                 s);
    } else if (s == 429) {
      out = fail("RateLimited",
                 rate_limited_message("Hugging Face Hub", retry_after) + " while " + std::string(step) +
                   (have_token() ? "" : "; anonymous requests have the lowest limits: put a token in " + secret_phrase(cfg)),
                 s);
    } else if (s >= 500) {
      out = fail("ServerError", "the Hugging Face Hub answered HTTP " + std::to_string(s) + " while " +
                                  std::string(step) + detail + "; it will be retried",
                 s);
    } else {
      out = fail("InvalidListing", "unexpected HTTP " + std::to_string(s) + " from the Hugging Face Hub while " +
                                     std::string(step) + detail,
                 s);
    }
    out.retry_after = retry_after;
    return out;
  }

  std::string resolve_url(const std::string& sha, const std::string& path) const {
    return endpoint + "/" + repo + "/resolve/" + sha + "/" + net::encode_path(path);
  }
};

// The URL of rel="next" in a Link header (RFC 8288), empty when there is none.
std::string next_link(const std::string& link) {
  size_t pos = 0;
  while (pos < link.size()) {
    auto open = link.find('<', pos);
    if (open == std::string::npos)
      return {};
    auto close = link.find('>', open);
    if (close == std::string::npos)
      return {};
    auto end = link.find(",", close);
    std::string params = link.substr(close + 1, end == std::string::npos ? std::string::npos : end - close - 1);
    auto lower = str::lower(params);
    if (lower.find("rel=\"next\"") != std::string::npos || lower.find("rel=next") != std::string::npos)
      return link.substr(open + 1, close - open - 1);
    if (end == std::string::npos)
      return {};
    pos = end + 1;
  }
  return {};
}

}  // namespace

ListResult list_hf(const StorageUri& uri, const SourceConfig& cfg) {
  std::string endpoint = cfg.hf_endpoint.empty() ? "https://huggingface.co" : cfg.hf_endpoint;
  while (!endpoint.empty() && endpoint.back() == '/')
    endpoint.pop_back();
  auto ep = net::parse_url(endpoint);
  if (!ep)
    return fail("InvalidConfig", "the Hugging Face endpoint '" + net::sanitize_server_text(endpoint) +
                                   "' is not an http(s) URL (HF_ENDPOINT)");
  Hub hub{cfg, endpoint, ep->origin(), uri.repo, uri.revision.empty() ? "main" : uri.revision, nullptr, {}};
  hub.auth = std::make_shared<HfAuthorizer>(cfg.credentials.hf_token, hub.origin);

  // 1. The revision's commit: every later request and URL is pinned to it, so a branch moving
  //    during the download cannot mix files of two commits.
  auto info_url = endpoint + "/api/models/" + hub.repo + "/revision/" + net::encode_component(hub.revision);
  auto info = hub.get(info_url);
  if (!info.transport_ok || info.status != 200)
    return hub.error(info, "resolving revision '" + hub.revision + "'");
  json::Value doc;
  std::string perr;
  if (!json::try_parse(info.body, doc, perr) || !doc.is_object())
    return fail("InvalidListing", "the Hugging Face Hub answered the model info of " + hub.repo +
                                    " with something that is not a JSON object");
  std::string sha = doc.string_or("sha");
  if (!is_hex(sha, 40))
    return fail("InvalidListing", "the Hugging Face Hub gave no valid commit sha for " + hub.repo + "@" +
                                    hub.revision);
  sha = str::lower(sha);
  bool gated = false;
  if (auto* g = doc.get("gated"))
    gated = (g->is_bool() && g->as_bool()) || (g->is_string() && !g->as_string().empty() && g->as_string() != "false");

  // 2. The commit's tree, page by page.
  std::vector<RemoteFile> files;
  std::set<std::string> seen_paths, seen_pages;
  std::string page_url = endpoint + "/api/models/" + hub.repo + "/tree/" + sha + "?recursive=true";
  for (size_t pages = 0; !page_url.empty(); ++pages) {
    if (!seen_pages.insert(page_url).second || pages > 100000)
      return fail("InvalidListing", "the Hugging Face Hub's tree pagination for " + hub.repo + " loops");
    auto page = hub.get(page_url);
    if (!page.transport_ok || page.status != 200)
      return hub.error(page, "listing the files of " + hub.repo + "@" + sha);
    json::Value arr;
    if (!json::try_parse(page.body, arr, perr) || !arr.is_array())
      return fail("InvalidListing", "the Hugging Face Hub's file list for " + hub.repo + " is not a JSON array");
    for (auto& e : arr.as_array()) {
      if (!e.is_object())
        return fail("InvalidListing", "the Hugging Face Hub's file list for " + hub.repo + " has a non-object entry");
      std::string type = e.string_or("type");
      if (type != "file")
        continue;  // directories are implied by the file paths
      std::string path = e.string_or("path");
      if (auto bad = check_remote_path(path); !bad.empty())
        return fail("InvalidListing", "the file list of " + hub.repo + "@" + sha + " contains an unsafe entry: " +
                                        net::sanitize_server_text(bad) +
                                        "; refusing the whole listing (nothing is downloaded)");
      if (!seen_paths.insert(path).second)
        return fail("InvalidListing", "the file list of " + hub.repo + " names '" + net::sanitize_server_text(path) +
                                        "' twice");
      RemoteFile f;
      f.path = path;
      f.url = hub.resolve_url(sha, path);
      auto size = e.int_at("size");
      if (auto* lfs = e.get("lfs"); lfs && lfs->is_object()) {
        std::string oid = lfs->string_or("oid");
        if (!is_hex(oid, 64))
          return fail("InvalidListing", "the LFS entry of '" + net::sanitize_server_text(path) + "' in " + hub.repo +
                                          " has no valid sha256");
        f.sha256 = str::lower(oid);
        f.etag = "\"" + f.sha256 + "\"";  // what resolve answers in X-Linked-Etag
        if (auto ls = lfs->int_at("size"))
          size = ls;
      } else if (auto oid = e.string_or("oid"); !oid.empty() && is_hex(oid, 40)) {
        f.etag = "\"" + str::lower(oid) + "\"";  // the git blob id, the ETag of a small file
      }
      if (!size || *size < 0)
        return fail("InvalidListing", "the file list of " + hub.repo + " has no size for '" +
                                        net::sanitize_server_text(path) + "'");
      f.size = static_cast<uint64_t>(*size);
      files.push_back(std::move(f));
      if (files.size() > cfg.max_files)
        return fail("InvalidListing", hub.repo + " has more than " + std::to_string(cfg.max_files) +
                                        " files; narrow the selection with include patterns");
    }
    std::string next;
    if (auto* link = page.header("Link"))
      next = next_link(*link);
    if (next.empty())
      break;
    next = net::resolve_reference(page.url, next);
    auto nu = net::parse_url(next);
    if (!nu)
      return fail("InvalidListing", "the Hugging Face Hub's next-page link for " + hub.repo + " is not a URL");
    // Follow the page on our endpoint (a mirror may echo the public Hub's host): the token and
    // the listing must not wander to another origin.
    page_url = hub.origin + nu->target();
  }
  if (files.empty())
    return fail("EmptyListing", "revision " + hub.revision + " of " + hub.repo + " has no files");

  size_t total = files.size();
  files = select_files(std::move(files), cfg.include_patterns, cfg.exclude_patterns, true);
  if (files.empty())
    return fail("EmptyListing", "none of the " + std::to_string(total) + " files of " + hub.repo +
                                  " matches the include/exclude patterns");

  // 3. A gated repo lists fine but refuses downloads to whoever has not accepted its terms: ask
  //    once now, so the user hears about the license instead of a failed download later.
  if (gated) {
    const RemoteFile* probe = &files.front();
    for (auto& f : files)
      if (f.path == "config.json")
        probe = &f;
    auto req = base_request(cfg, probe->url, hub.auth.get());
    req.headers.emplace_back("Range", "bytes=0-0");
    req.follow_redirects = false;
    req.truncate_ok = true;
    req.max_body = 1024;
    auto r = net::perform_with_retry(req, retry_policy(cfg), hub.retry_after);
    if (!r.transport_ok || r.status == 401 || r.status == 403 || r.status == 429)
      return hub.error(r, "checking access to the gated repository");
  }

  ListResult out;
  out.ok = true;
  out.http_status = 200;
  out.listing.revision = sha;
  out.listing.files = std::move(files);
  out.authorizer = hub.auth;
  return out;
}

}  // namespace omed::model::detail
