// The loopback Hugging Face Hub used by the model tests: routes, tokens, knobs and the request
// log. The endpoints and headers follow huggingface_hub's client (see hub_fixture.hpp).
#include "hub_fixture.hpp"

#include <openssl/sha.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "omed/common/json.hpp"
#include "omed/common/strings.hpp"

namespace omed::testing {
namespace {

std::string hex(const unsigned char* p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 15]);
  }
  return out;
}

std::string sha1_hex(std::string_view data) {
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return hex(md, sizeof md);
}

http::Response hub_error(int status, const std::string& code, const std::string& message) {
  auto body = "{\"error\":" + [&] {
    std::string q;
    json::quote_to(message, q);
    return q;
  }() + "}";
  auto r = http::Response::json(status, body);
  if (!code.empty())
    r.header("X-Error-Code", code);
  r.header("X-Error-Message", message);
  return r;
}

std::string presented_token(const http::Request& req) {
  auto* a = req.header("Authorization");
  if (!a || !str::starts_with(*a, "Bearer "))
    return {};
  return a->substr(7);
}

}  // namespace

const std::string* HubFixture::LoggedRequest::header(std::string_view name) const {
  for (auto& h : headers)
    if (str::iequals(h.name, name))
      return &h.value;
  return nullptr;
}

HubFixture::HubFixture() : HubFixture(Options{}) {}

HubFixture::HubFixture(Options opts) : opts_(std::move(opts)) {
  http::ServerOptions hub_opts;
  hub_ = std::make_unique<http::Server>(hub_opts, [this](std::shared_ptr<http::Exchange> ex) {
    auto res = handle_hub(ex->request());
    log("hub", ex->request(), res);
    ex->respond(std::move(res));
  });
  hub_->start();
  auto cdn_handler = [this](std::shared_ptr<http::Exchange> ex) {
    auto res = handle_cdn(ex->request());
    log("cdn", ex->request(), res);
    ex->respond(std::move(res));
  };
  http::ServerOptions cdn_opts;
  cdn_opts.host = opts_.cdn_host;
  try {
    cdn_ = std::make_unique<http::Server>(cdn_opts, cdn_handler);
    cdn_->start();
  } catch (const std::exception&) {
    // Some sandboxes only have 127.0.0.1; another port is still another origin.
    cdn_opts.host = "127.0.0.1";
    cdn_ = std::make_unique<http::Server>(cdn_opts, cdn_handler);
    cdn_->start();
  }
}

HubFixture::~HubFixture() {
  cdn_->stop();
  hub_->stop();
}

std::string HubFixture::endpoint() const { return "http://127.0.0.1:" + std::to_string(hub_->port()); }

std::string HubFixture::cdn_origin() const { return "http://" + cdn_->host() + ":" + std::to_string(cdn_->port()); }

bool HubFixture::is_lfs(std::string_view path, size_t size) {
  if (size >= 10u * 1024 * 1024)
    return true;
  auto dot = path.rfind('.');
  if (dot == std::string_view::npos)
    return false;
  auto ext = str::lower(path.substr(dot + 1));
  for (const char* e : {"safetensors", "bin", "pt", "pth", "h5", "msgpack", "onnx", "gguf", "ckpt", "model",
                        "tflite", "ot", "pkl", "pickle", "zip", "tar", "gz", "npy", "npz", "arrow", "parquet"})
    if (ext == e)
      return true;
  return false;
}

std::string HubFixture::sha256_hex(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return hex(md, sizeof md);
}

std::string HubFixture::git_blob_oid(std::string_view data) {
  std::string obj = "blob " + std::to_string(data.size());
  obj.push_back('\0');
  obj.append(data);
  return sha1_hex(obj);
}

std::string HubFixture::add_commit(const std::string& repo, const std::map<std::string, std::string>& files,
                                   const std::string& branch) {
  return add_commit(repo, files, {}, branch);
}

std::string HubFixture::add_commit(const std::string& repo, const std::map<std::string, std::string>& files,
                                   const std::map<std::string, GeneratedFile>& generated, const std::string& branch) {
  std::lock_guard<std::mutex> lock(mu_);
  Commit c;
  std::string seed = repo + "\n" + branch + "\n" + std::to_string(++commit_counter_);
  auto add = [&](const std::string& path, Blob b) {
    if (b.lfs) {
      // The git-lfs pointer file the repository really stores (git-lfs spec v1).
      std::string pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:" + b.sha256 + "\nsize " +
                            std::to_string(b.size) + "\n";
      b.oid = git_blob_oid(pointer);
      b.pointer_size = pointer.size();
      cdn_blobs_[b.sha256] = CdnObject{b.content, b.size};
    } else {
      b.oid = git_blob_oid(b.content);
    }
    seed += path + ":" + b.oid + "\n";
    c.files.insert_or_assign(path, std::move(b));
  };
  for (auto& [path, content] : files) {
    Blob b;
    b.content = content;
    b.size = content.size();
    b.lfs = is_lfs(path, content.size());
    b.sha256 = sha256_hex(content);
    add(path, std::move(b));
  }
  for (auto& [path, g] : generated) {
    if (g.size < g.head.size())
      throw std::invalid_argument("generated file " + path + " is smaller than its head");
    Blob b;
    b.content = g.head;
    b.size = g.size;
    b.lfs = true;
    b.sha256 = g.sha256;
    add(path, std::move(b));
  }
  c.sha = sha1_hex(seed);
  auto& r = repos_[repo];
  r.refs[branch] = c.sha;
  std::string sha = c.sha;
  r.commits[sha] = std::move(c);
  return sha;
}

std::string HubFixture::add_repo_from_dir(const std::string& repo, const std::filesystem::path& dir,
                                          const std::string& branch) {
  std::map<std::string, std::string> files;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file())
      continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::ostringstream os;
    os << in.rdbuf();
    files[std::filesystem::relative(e.path(), dir).generic_string()] = os.str();
  }
  return add_commit(repo, files, branch);
}

void HubFixture::add_tag(const std::string& repo, const std::string& tag, const std::string& sha) {
  std::lock_guard<std::mutex> lock(mu_);
  repos_[repo].refs[tag] = sha;
}

void HubFixture::set_private(const std::string& repo, std::set<std::string> tokens) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& r = repos_[repo];
  r.is_private = true;
  r.tokens = std::move(tokens);
}

void HubFixture::set_gated(const std::string& repo, std::set<std::string> tokens) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& r = repos_[repo];
  r.gated = true;
  r.tokens = std::move(tokens);
}

void HubFixture::add_listing_entries(const std::string& repo, std::vector<std::string> paths) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& extra = repos_[repo].extra_entries;
  extra.insert(extra.end(), paths.begin(), paths.end());
}

void HubFixture::set_page_size(size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  opts_.page_size = n ? n : 1;
}

void HubFixture::fail_next(size_t n, int status, int retry_after_s, bool ratelimit_header, std::string error_code) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_code_ = std::move(error_code);
  fail_count_ = n;
  fail_status_ = status;
  fail_retry_after_ = retry_after_s;
  fail_ratelimit_header_ = ratelimit_header;
}

std::vector<HubFixture::LoggedRequest> HubFixture::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_;
}

void HubFixture::clear_requests() {
  std::lock_guard<std::mutex> lock(mu_);
  log_.clear();
}

size_t HubFixture::count_requests(std::string_view server, std::string_view path_prefix) const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (auto& r : log_)
    if (r.server == server && str::starts_with(r.path, path_prefix))
      ++n;
  return n;
}

void HubFixture::log(const std::string& server, const http::Request& req, const http::Response& res) {
  std::lock_guard<std::mutex> lock(mu_);
  log_.push_back(LoggedRequest{server, req.method, req.target, req.path, req.headers, res.status, res.body.size()});
}

const HubFixture::Commit* HubFixture::find_commit(const Repo& repo, const std::string& rev) const {
  if (auto it = repo.refs.find(rev); it != repo.refs.end())
    return &repo.commits.at(it->second);
  if (auto it = repo.commits.find(rev); it != repo.commits.end())
    return &it->second;
  return nullptr;
}

// Single byte ranges (RFC 9110 14.2) with If-Range, as a CDN serving model files does.
http::Response HubFixture::serve_bytes(const http::Request& req, const std::string& content, uint64_t size,
                                       const std::string& etag) {
  http::Response r;
  r.header("ETag", etag).header("Accept-Ranges", "bytes").header("Content-Type", "application/octet-stream");
  auto* range = req.header("Range");
  auto* if_range = req.header("If-Range");
  bool use_range = range && (!if_range || *if_range == etag);
  const uint64_t n = size;
  // Bytes [first, last] of content-then-zeros; refused past a size no test needs in memory.
  auto slice = [&](uint64_t first, uint64_t last) {
    std::string out;
    if (last - first + 1 > (256ull << 20))
      return false;
    if (first < content.size())
      out = content.substr(first, std::min<uint64_t>(last + 1, content.size()) - first);
    out.resize(last - first + 1, '\0');
    r.body = std::move(out);
    return true;
  };
  if (use_range && str::starts_with(*range, "bytes=") && range->find(',') == std::string::npos) {
    std::string spec = range->substr(6);
    auto dash = spec.find('-');
    bool ok = dash != std::string::npos;
    uint64_t first = 0, last = n ? n - 1 : 0;
    try {
      if (ok && dash == 0) {
        uint64_t suffix = std::stoull(spec.substr(1));
        first = suffix >= n ? 0 : n - suffix;
      } else if (ok) {
        first = std::stoull(spec.substr(0, dash));
        if (dash + 1 < spec.size())
          last = std::min<uint64_t>(std::stoull(spec.substr(dash + 1)), n ? n - 1 : 0);
      }
    } catch (const std::exception&) {
      ok = false;
    }
    if (!ok || first >= n || first > last) {
      r.status = 416;
      r.header("Content-Range", "bytes */" + std::to_string(n));
      return r;
    }
    r.status = 206;
    r.header("Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(n));
    if (req.method != "HEAD" && !slice(first, last))
      return http::Response::text(500, "fixture: range too large to generate");
    return r;
  }
  r.status = 200;
  if (req.method != "HEAD" && n > 0 && !slice(0, n - 1))
    return http::Response::text(500, "fixture: body too large to generate");
  return r;
}

http::Response HubFixture::handle_cdn(const http::Request& req) {
  if (req.method != "GET" && req.method != "HEAD")
    return http::Response::text(405, "method not allowed");
  if (!str::starts_with(req.path, "/cdn/"))
    return http::Response::text(404, "not found");
  std::string sha = req.path.substr(5);
  CdnObject obj;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cdn_blobs_.find(sha);
    if (it == cdn_blobs_.end())
      return http::Response::text(404, "no such object");
    obj = it->second;
  }
  return serve_bytes(req, obj.head, obj.size, "\"" + sha + "\"");
}

http::Response HubFixture::handle_hub(const http::Request& req) {
  std::unique_lock<std::mutex> lock(mu_);
  if (fail_count_ > 0) {
    --fail_count_;
    bool throttle = fail_status_ == 429 || fail_status_ == 503;
    auto r = hub_error(fail_status_, fail_code_,
                       fail_status_ == 429   ? "Too Many Requests"
                       : fail_status_ == 503 ? "Service Unavailable"
                                             : "Injected failure " + std::to_string(fail_status_));
    if (!throttle) {
      return r;
    } else if (fail_ratelimit_header_) {
      r.header("RateLimit", "\"api\";r=0;t=" + std::to_string(fail_retry_after_));
      r.header("RateLimit-Policy", "\"fixed window\";\"api\";q=500;w=300");
    } else if (fail_retry_after_ >= 0) {
      r.header("Retry-After", std::to_string(fail_retry_after_));
    }
    return r;
  }
  std::string token = presented_token(req);
  if (!opts_.required_token.empty() && token != opts_.required_token) {
    if (token.empty())
      return hub_error(401, "RepoNotFound", "Repository not found");
    return hub_error(401, "", "Invalid credentials in Authorization header");
  }
  if (req.method != "GET" && req.method != "HEAD")
    return hub_error(405, "", "Method not allowed");

  // The raw target: revisions arrive quoted with safe="" ("refs%2Fpr%2F1"), so split first and
  // decode the pieces.
  std::string raw = req.target.substr(0, req.target.find('?'));
  auto visible = [&](const std::string& name) -> const Repo* {
    auto it = repos_.find(name);
    if (it == repos_.end())
      return nullptr;
    if (it->second.is_private && !it->second.tokens.count(token))
      return nullptr;
    return &it->second;
  };
  auto repo_missing = [&] {
    // An anonymous caller cannot tell missing from private: the Hub answers 401 then.
    return hub_error(token.empty() ? 401 : 404, "RepoNotFound", "Repository not found");
  };

  if (str::starts_with(raw, "/api/models/")) {
    std::string rest = raw.substr(12);
    bool is_tree = false;
    auto pos = rest.find("/revision/");
    if (pos == std::string::npos) {
      pos = rest.find("/tree/");
      is_tree = true;
    }
    if (pos == std::string::npos)
      return hub_error(404, "", "Not found");
    std::string name = http::url_decode(rest.substr(0, pos));
    std::string tail = rest.substr(pos + (is_tree ? 6 : 10));
    std::string rev_raw = tail.substr(0, tail.find('/'));
    std::string sub = tail.find('/') == std::string::npos ? "" : http::url_decode(tail.substr(tail.find('/') + 1));
    std::string rev = http::url_decode(rev_raw);
    const Repo* repo = visible(name);
    if (!repo)
      return repo_missing();
    const Commit* c = find_commit(*repo, rev);
    if (!c)
      return hub_error(404, "RevisionNotFound", "Invalid rev id: " + rev);

    if (!is_tree) {
      json::Array siblings;
      for (auto& [p, b] : c->files)
        siblings.push_back(json::Object{{"rfilename", p}});
      json::Value gated = repo->gated ? json::Value("manual") : json::Value(false);
      json::Object info{{"_id", c->sha.substr(0, 24)}, {"id", name}, {"modelId", name}, {"sha", c->sha},
                        {"private", repo->is_private}, {"gated", gated}, {"disabled", false},
                        {"siblings", siblings}};
      return http::Response::json(200, json::dump(info));
    }

    // Tree entries: directories and files under `sub`, recursive or one level.
    bool recursive = false;
    size_t offset = 0;
    for (auto& [k, v] : http::parse_query(req.query)) {
      if (k == "recursive")
        recursive = v == "true" || v == "True" || v == "1";
      if (k == "cursor")
        offset = std::stoull(v);
    }
    std::string base = sub.empty() ? "" : sub + "/";
    std::map<std::string, json::Value> entries;  // sorted by path
    auto add_dirs = [&](const std::string& path) {
      for (size_t slash = path.find('/', base.size()); slash != std::string::npos; slash = path.find('/', slash + 1)) {
        std::string dir = path.substr(0, slash);
        if (!recursive && dir.find('/', base.size()) != std::string::npos)
          break;
        entries.emplace(dir, json::Object{{"type", "directory"}, {"oid", sha1_hex("tree " + dir)}, {"size", 0},
                                          {"path", dir}});
        if (!recursive)
          break;
      }
    };
    for (auto& [p, b] : c->files) {
      if (!str::starts_with(p, base))
        continue;
      add_dirs(p);
      if (!recursive && p.find('/', base.size()) != std::string::npos)
        continue;
      json::Object e{{"type", "file"}, {"oid", b.oid}, {"size", b.size}, {"path", p}};
      if (b.lfs)
        e.set("lfs", json::Object{{"oid", b.sha256}, {"size", b.size}, {"pointerSize", b.pointer_size}});
      entries.emplace(p, std::move(e));
    }
    json::Array all;
    for (auto& [p, e] : entries)
      all.push_back(e);
    for (auto& p : repo->extra_entries)
      all.push_back(json::Object{{"type", "file"}, {"oid", git_blob_oid(p)}, {"size", 1}, {"path", p}});
    json::Array page;
    for (size_t i = offset; i < all.size() && page.size() < opts_.page_size; ++i)
      page.push_back(all[i]);
    auto res = http::Response::json(200, json::dump(json::Value(page)));
    if (offset + page.size() < all.size()) {
      std::string next = endpoint() + "/api/models/" + name + "/tree/" + rev_raw +
                         (sub.empty() ? "" : "/" + http::url_encode(sub)) + "?recursive=" +
                         (recursive ? "true" : "false") + "&cursor=" + std::to_string(offset + page.size());
      res.header("Link", "<" + next + ">; rel=\"next\"");
    }
    return res;
  }

  // /{repo}/resolve/{rev}/{path}
  auto pos = raw.find("/resolve/");
  if (pos == std::string::npos || pos == 0)
    return hub_error(404, "", "Not found");
  std::string name = http::url_decode(raw.substr(1, pos - 1));
  std::string tail = raw.substr(pos + 9);
  auto slash = tail.find('/');
  if (slash == std::string::npos)
    return hub_error(404, "EntryNotFound", "Entry not found");
  std::string rev = http::url_decode(tail.substr(0, slash));
  std::string path = http::url_decode(tail.substr(slash + 1));
  const Repo* repo = visible(name);
  if (!repo)
    return repo_missing();
  if (repo->gated && !repo->tokens.count(token)) {
    std::string msg = "Access to model " + name + " is restricted. You must have access to it and be authenticated "
                      "to access it. Please log in.";
    return hub_error(token.empty() ? 401 : 403, "GatedRepo", msg);
  }
  const Commit* c = find_commit(*repo, rev);
  if (!c)
    return hub_error(404, "RevisionNotFound", "Invalid rev id: " + rev);
  auto it = c->files.find(path);
  if (it == c->files.end())
    return hub_error(404, "EntryNotFound", "Entry not found");
  const Blob& b = it->second;
  if (b.lfs) {
    http::Response r;
    r.status = 302;
    r.header("Location", cdn_origin() + "/cdn/" + b.sha256 + "?X-Amz-Expires=3600&response-content-disposition=" +
                           http::url_encode("attachment; filename=\"" + path + "\""));
    r.header("X-Repo-Commit", c->sha);
    r.header("X-Linked-Etag", "\"" + b.sha256 + "\"");
    r.header("X-Linked-Size", std::to_string(b.size));
    r.header("ETag", "\"" + b.oid + "\"");
    return r;
  }
  std::string content = b.content, etag = "\"" + b.oid + "\"", sha = c->sha;
  lock.unlock();
  auto r = serve_bytes(req, content, content.size(), etag);
  r.header("X-Repo-Commit", sha);
  return r;
}

}  // namespace omed::testing
