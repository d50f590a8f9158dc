// Storage sources against loopback services (127.0.0.0/8 only): the Hub fixture, an OCI Object
// Storage fixture that verifies request signatures, a plain HTTP file server, npm's s3rver.
#include <catch2/catch.hpp>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <map>
#include <set>
#include <thread>

#include "../support/hub_fixture.hpp"
#include "../support/process.hpp"
#include "../support/s3rver_fixture.hpp"
#include "../support/test_env.hpp"
#include "omed/common/json.hpp"
#include "omed/common/strings.hpp"
#include "omed/http/server.hpp"
#include "omed/model/sources.hpp"

using namespace omed;
using namespace omed::model;
using omed::testing::HubFixture;

namespace {

StorageUri uri_of(const std::string& text) {
  std::string err;
  auto u = parse_storage_uri(text, err);
  INFO(err);
  REQUIRE(u);
  return *u;
}

SourceConfig hub_config(const HubFixture& hub) {
  SourceConfig cfg;
  cfg.hf_endpoint = hub.endpoint();
  cfg.connect_timeout = std::chrono::milliseconds(2000);
  cfg.request_timeout = std::chrono::milliseconds(10000);
  cfg.max_retry_wait = std::chrono::seconds(5);
  cfg.max_retries = 3;
  return cfg;
}

const RemoteFile* find(const ListResult& r, const std::string& path) {
  for (auto& f : r.listing.files)
    if (f.path == path)
      return &f;
  return nullptr;
}

std::set<std::string> paths(const ListResult& r) {
  std::set<std::string> out;
  for (auto& f : r.listing.files)
    out.insert(f.path);
  return out;
}

std::string hex(const unsigned char* p, size_t n) {
  static const char d[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(d[p[i] >> 4]);
    out.push_back(d[p[i] & 15]);
  }
  return out;
}

std::string digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, md, nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string md5_hex(std::string_view data) {
  auto d = digest(EVP_md5(), data);
  return hex(reinterpret_cast<const unsigned char*>(d.data()), d.size());
}

std::string b64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

struct Fetched {
  int status = 0;
  std::string body;
  std::string location;
};

size_t collect(char* p, size_t s, size_t n, void* u) {
  static_cast<std::string*>(u)->append(p, s * n);
  return s * n;
}

// One request with libcurl, no redirects followed.
Fetched fetch_once(const std::string& url, const HeaderList& headers, const std::string& method = "GET",
                   const std::string& body = {}) {
  Fetched f;
  CURL* h = curl_easy_init();
  curl_slist* list = nullptr;
  for (auto& [k, v] : headers)
    list = curl_slist_append(list, (k + ": " + v).c_str());
  list = curl_slist_append(list, "Expect:");
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &f.body);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  if (method == "PUT") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  if (curl_easy_perform(h) == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    f.status = static_cast<int>(status);
    char* loc = nullptr;
    curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc);
    if (loc)
      f.location = loc;
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(h);
  return f;
}

// Downloads a listed file the way the transfer engine does: the authorizer is asked for every
// hop, and answers only for its own origin.
Fetched download(const RemoteFile& f, const RequestAuthorizer& auth) {
  std::string url = f.url;
  for (int hop = 0; hop < 5; ++hop) {
    auto r = fetch_once(url, auth.headers_for("GET", url));
    if (r.status / 100 != 3)
      return r;
    url = r.location;
  }
  return {};
}

std::string shared_or_empty(const std::string& sub) {
  auto p = omed::testing::shared_dir() / sub;
  return std::filesystem::exists(p) ? p.string() : std::string();
}

}  // namespace

// ------------------------------------------------------------------------------------------
// File patterns

TEST_CASE("glob patterns match whole relative paths like fnmatch", "[model-sources]") {
  CHECK(glob_match("*.json", "config.json"));
  CHECK(glob_match("*.json", "sub/dir/config.json"));  // '*' crosses '/', as in huggingface_hub
  CHECK_FALSE(glob_match("*.json", "config.jsonl"));
  CHECK(glob_match("original/*", "original/params.json"));
  CHECK(glob_match("original/", "original/sub/x.pth"));
  CHECK_FALSE(glob_match("original/*", "x/original/params.json"));
  CHECK(glob_match("model-0000?-of-00002.safetensors", "model-00001-of-00002.safetensors"));
  CHECK(glob_match("model-[0-9]*.safetensors", "model-1.safetensors"));
  CHECK_FALSE(glob_match("model-[!0-9]*", "model-1.safetensors"));
  CHECK(glob_match("**/*.py", "a/b/modeling.py"));
  CHECK(glob_match("*", "anything/at/all"));
  CHECK(glob_match("[", "["));  // a malformed class is literal
  CHECK_FALSE(glob_match("", "x"));
}

TEST_CASE("default selection keeps what a runtime needs and drops duplicate weights", "[model-sources]") {
  auto make = [](std::vector<std::string> names) {
    std::vector<RemoteFile> out;
    for (auto& n : names)
      out.push_back(RemoteFile{n, "u", 1, "", "", ""});
    return out;
  };
  auto names = [](const std::vector<RemoteFile>& fs) {
    std::set<std::string> s;
    for (auto& f : fs)
      s.insert(f.path);
    return s;
  };
  auto repo = make({"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                    "special_tokens_map.json", "tokenizer.model", "model-00001-of-00002.safetensors",
                    "model-00002-of-00002.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                    "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack", "onnx/model.onnx",
                    "original/consolidated.00.pth", "original/params.json", "original/tokenizer.model",
                    "consolidated.safetensors", "README.md", ".gitattributes", "LICENSE.txt", "modeling_x.py",
                    "images/diagram.png", "qwen.tiktoken", "chat_template.jinja", "merges.txt"});
  auto picked = names(select_files(repo, {}, {}, true));
  CHECK(picked == std::set<std::string>{"config.json", "generation_config.json", "tokenizer.json",
                                        "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
                                        "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                                        "model.safetensors.index.json", "pytorch_model.bin.index.json",
                                        "LICENSE.txt", "modeling_x.py", "qwen.tiktoken", "chat_template.jinja",
                                        "merges.txt"});

  SECTION("without safetensors the PyTorch weights are the ones kept") {
    auto bin_only = names(select_files(make({"config.json", "pytorch_model.bin", "tf_model.h5", "flax_model.msgpack"}),
                                       {}, {}, true));
    CHECK(bin_only == std::set<std::string>{"config.json", "pytorch_model.bin"});
  }
  SECTION("only consolidated/original copies: they are the weights then") {
    auto mistral = names(select_files(make({"params.json", "consolidated.safetensors"}), {}, {}, true));
    CHECK(mistral == std::set<std::string>{"params.json", "consolidated.safetensors"});
  }
  SECTION("user include patterns replace the defaults and the pruning") {
    auto only = names(select_files(repo, {"original/*"}, {}, true));
    CHECK(only == std::set<std::string>{"original/consolidated.00.pth", "original/params.json",
                                        "original/tokenizer.model"});
  }
  SECTION("user excludes apply on top of the defaults") {
    auto no_tok = names(select_files(repo, {}, {"tokenizer*", "*.py"}, true));
    CHECK_FALSE(no_tok.count("tokenizer.json"));
    CHECK_FALSE(no_tok.count("modeling_x.py"));
    CHECK(no_tok.count("config.json"));
  }
  SECTION("no defaults (S3/OCI): everything unless the user says otherwise") {
    CHECK(select_files(repo, {}, {}, false).size() == repo.size());
  }
}

// ------------------------------------------------------------------------------------------
// Hugging Face Hub

TEST_CASE("HF listing resolves the revision, pages through the tree and pins URLs", "[model-sources]") {
  HubFixture hub;
  std::map<std::string, std::string> files;
  auto dir = shared_or_empty("testdata/tiny-random-phi");
  std::string sha;
  if (!dir.empty()) {
    sha = hub.add_repo_from_dir("hf-internal/tiny-random-phi", dir);
    for (auto& e : std::filesystem::directory_iterator(dir))
      files[e.path().filename().string()] = omed::testing::read_file(e.path());
  } else {
    omed::testing::have_shared("testdata/tiny-random-phi");  // prints the loud notice
    files = {{"config.json", "{\"model_type\":\"phi\"}"},
             {"model-1-of-2.safetensors", std::string(5000, 'a')},
             {"model-2-of-2.safetensors", std::string(7000, 'b')}};
    sha = hub.add_commit("hf-internal/tiny-random-phi", files);
  }
  REQUIRE(files.size() >= 3);
  hub.set_page_size(1);

  auto cfg = hub_config(hub);
  auto r = list_model_files(uri_of("hf://hf-internal/tiny-random-phi"), cfg);
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.listing.revision == sha);
  CHECK(r.listing.files.size() == files.size());
  // One page per entry plus nothing more: the Link header chain was followed to its end.
  CHECK(hub.count_requests("hub", "/api/models/hf-internal/tiny-random-phi/tree/" + sha) == files.size());
  CHECK(hub.count_requests("hub", "/api/models/hf-internal/tiny-random-phi/revision/main") == 1);

  for (auto& [name, content] : files) {
    auto* f = find(r, name);
    REQUIRE(f);
    CHECK(f->size == content.size());
    CHECK(f->url == hub.endpoint() + "/hf-internal/tiny-random-phi/resolve/" + sha + "/" + name);
    if (HubFixture::is_lfs(name, content.size())) {
      CHECK(f->sha256 == HubFixture::sha256_hex(content));
      CHECK(f->etag == "\"" + f->sha256 + "\"");
    } else {
      CHECK(f->sha256.empty());
      CHECK(f->etag == "\"" + HubFixture::git_blob_oid(content) + "\"");
    }
    // The URL really serves these bytes (LFS via a 302 to the CDN).
    auto got = download(*f, *r.authorizer);
    CHECK(got.status == 200);
    CHECK(got.body == content);
  }
  CHECK(hub.count_requests("cdn", "/cdn/") >= 1);
}

TEST_CASE("HF revisions: branches, tags and commit shas", "[model-sources]") {
  HubFixture hub;
  auto v1 = hub.add_commit("org/model", {{"config.json", "{\"v\":1}"}, {"model.safetensors", "one"}});
  hub.add_tag("org/model", "v1.0", v1);
  auto v2 = hub.add_commit("org/model", {{"config.json", "{\"v\":2}"}, {"model.safetensors", "two!"}});
  REQUIRE(v1 != v2);
  auto cfg = hub_config(hub);

  auto main = list_model_files(uri_of("hf://org/model"), cfg);
  REQUIRE(main.ok);
  CHECK(main.listing.revision == v2);
  CHECK(find(main, "model.safetensors")->size == 4u);

  auto tag = list_model_files(uri_of("hf://org/model@v1.0"), cfg);
  REQUIRE(tag.ok);
  CHECK(tag.listing.revision == v1);
  CHECK(find(tag, "model.safetensors")->size == 3u);
  CHECK(find(tag, "model.safetensors")->url.find("/resolve/" + v1 + "/") != std::string::npos);

  auto by_sha = list_model_files(uri_of("hf://org/model@" + v1), cfg);
  REQUIRE(by_sha.ok);
  CHECK(by_sha.listing.revision == v1);
}

TEST_CASE("HF token: sent to the Hub as a Bearer token, never to the CDN, never in errors", "[model-sources]") {
  const std::string token = "hf_SecretToken1234567890";
  HubFixture::Options opts;
  opts.required_token = token;
  HubFixture hub(opts);
  hub.add_commit("org/private-model", {{"config.json", "{}"}, {"model.safetensors", std::string(100, 'x')}});
  auto cfg = hub_config(hub);

  SECTION("with the token") {
    cfg.credentials.hf_token = token;
    auto r = list_model_files(uri_of("hf://org/private-model"), cfg);
    INFO(r.error);
    REQUIRE(r.ok);
    for (auto& req : hub.requests()) {
      REQUIRE(req.header("Authorization"));
      CHECK(*req.header("Authorization") == "Bearer " + token);
    }
    auto* st = find(r, "model.safetensors");
    REQUIRE(st);
    auto h = r.authorizer->headers_for("GET", st->url);
    REQUIRE(h.size() == 1);
    CHECK(h[0] == std::make_pair(std::string("Authorization"), "Bearer " + token));
    CHECK(r.authorizer->headers_for("GET", hub.cdn_origin() + "/cdn/abc").empty());
    // A download through the 302: the CDN must not see the token.
    auto got = download(*st, *r.authorizer);
    CHECK(got.status == 200);
    CHECK(got.body == std::string(100, 'x'));
    for (auto& req : hub.requests())
      if (req.server == "cdn")
        CHECK(req.header("Authorization") == nullptr);
  }
  SECTION("without a token the repository looks missing") {
    auto r = list_model_files(uri_of("hf://org/private-model"), cfg);
    CHECK_FALSE(r.ok);
    CHECK(r.reason == "RepoNotFound");
    CHECK(r.http_status == 401);
    CHECK(r.error.find("private") != std::string::npos);
    CHECK(r.error.find("storage.key") != std::string::npos);
    CHECK_FALSE(r.authorizer);
  }
  SECTION("a wrong token is reported as such, and not echoed") {
    cfg.credentials.hf_token = "hf_WrongToken0987654321";
    cfg.secret_name = "hf-token";
    auto r = list_model_files(uri_of("hf://org/private-model"), cfg);
    CHECK_FALSE(r.ok);
    CHECK(r.reason == "Unauthorized");
    CHECK(r.error.find("'hf-token'") != std::string::npos);
    CHECK(r.error.find("hf_WrongToken0987654321") == std::string::npos);
  }
}

TEST_CASE("HF gated, missing repository and missing revision tell the user what to do", "[model-sources]") {
  const std::string token = "hf_UserToken5555555555";
  HubFixture hub;
  hub.add_commit("meta-llama/Llama-3.2-1B", {{"config.json", "{}"}, {"model.safetensors", "w"}});
  hub.set_gated("meta-llama/Llama-3.2-1B", {"hf_Granted999999999"});
  hub.add_commit("org/model", {{"config.json", "{}"}});
  auto cfg = hub_config(hub);
  cfg.secret_name = "hf-secret";
  std::vector<std::string> errors;

  SECTION("gated without a token") {
    auto r = list_model_files(uri_of("hf://meta-llama/Llama-3.2-1B"), cfg);
    CHECK_FALSE(r.ok);
    CHECK(r.reason == "GatedRepo");
    CHECK(r.http_status == 401);
    CHECK(r.error.find("accept its license") != std::string::npos);
    CHECK(r.error.find(hub.endpoint() + "/meta-llama/Llama-3.2-1B") != std::string::npos);
    CHECK(r.error.find("'hf-secret'") != std::string::npos);
    CHECK(r.error.find("no token was given") != std::string::npos);
  }
  SECTION("gated with a token that has not been granted access") {
    cfg.credentials.hf_token = token;
    auto r = list_model_files(uri_of("hf://meta-llama/Llama-3.2-1B"), cfg);
    CHECK_FALSE(r.ok);
    CHECK(r.reason == "GatedRepo");
    CHECK(r.http_status == 403);
    CHECK(r.error.find("not been granted") != std::string::npos);
    CHECK(r.error.find(token) == std::string::npos);
  }
  SECTION("gated with a granted token") {
    cfg.credentials.hf_token = "hf_Granted999999999";
    auto r = list_model_files(uri_of("hf://meta-llama/Llama-3.2-1B"), cfg);
    INFO(r.error);
    CHECK(r.ok);
  }
  SECTION("missing repository") {
    cfg.credentials.hf_token = token;
    auto r = list_model_files(uri_of("hf://org/no-such-model"), cfg);
    CHECK_FALSE(r.ok);
    CHECK(r.reason == "RepoNotFound");
    CHECK(r.http_status == 404);
    CHECK(r.error.find("org/no-such-model was not found") != std::string::npos);
    CHECK(r.error.find(token) == std::string::npos);
  }
  SECTION("missing revision") {
    auto r = list_model_files(uri_of("hf://org/model@no-such-branch"), cfg);
    CHECK_FALSE(r.ok);
    CHECK(r.reason == "RevisionNotFound");
    CHECK(r.http_status == 404);
    CHECK(r.error.find("revision 'no-such-branch' does not exist") != std::string::npos);
    CHECK(r.error.find("hf://org/model@REVISION") != std::string::npos);
  }
}

TEST_CASE("HF 429: Retry-After and RateLimit are honoured a bounded number of times", "[model-sources]") {
  HubFixture hub;
  hub.add_commit("org/model", {{"config.json", "{}"}, {"model.safetensors", "w"}});
  auto cfg = hub_config(hub);
  using clock = std::chrono::steady_clock;

  SECTION("Retry-After: 1, twice, then success") {
    hub.fail_next(2, 429, 1);
    auto t0 = clock::now();
    auto r = list_model_files(uri_of("hf://org/model"), cfg);
    auto took = clock::now() - t0;
    INFO(r.error);
    CHECK(r.ok);
    CHECK(took >= std::chrono::milliseconds(1900));
    CHECK(hub.count_requests("hub", "/api/models/org/model/revision/") == 3);
  }
  SECTION("the IETF RateLimit header's t= is read when there is no Retry-After") {
    hub.fail_next(1, 429, 1, true);
    auto t0 = clock::now();
    auto r = list_model_files(uri_of("hf://org/model"), cfg);
    CHECK(r.ok);
    CHECK(clock::now() - t0 >= std::chrono::milliseconds(950));
  }
  SECTION("retries are bounded; retry_after is reported") {
    cfg.max_retries = 1;
    hub.fail_next(10, 429, 1);
    auto r = list_model_files(uri_of("hf://org/model"), cfg);
    CHECK_FALSE(r.ok);
    CHECK(r.reason == "RateLimited");
    CHECK(r.http_status == 429);
    REQUIRE(r.retry_after);
    CHECK(r.retry_after->count() == 1);
    CHECK(hub.count_requests("hub", "/api/models/") == 2);
    CHECK(r.error.find("retry in 1s") != std::string::npos);
    CHECK(r.error.find("token") != std::string::npos);  // anonymous: suggests a token
  }
  SECTION("a pause longer than max_retry_wait is reported, not slept") {
    hub.fail_next(1, 429, 3600);
    auto t0 = clock::now();
    auto r = list_model_files(uri_of("hf://org/model"), cfg);
    CHECK(clock::now() - t0 < std::chrono::seconds(3));
    CHECK(r.reason == "RateLimited");
    REQUIRE(r.retry_after);
    CHECK(r.retry_after->count() == 3600);
  }
  SECTION("503 is retried too") {
    hub.fail_next(1, 503, 0);
    CHECK(list_model_files(uri_of("hf://org/model"), cfg).ok);
  }
  SECTION("a 500 is reported, not retried") {
    hub.fail_next(1, 500);
    auto r = list_model_files(uri_of("hf://org/model"), cfg);
    CHECK(r.reason == "ServerError");
    CHECK(r.http_status == 500);
    CHECK(hub.count_requests("hub", "/") == 1);
  }
  SECTION("an injected 404 with an error code") {
    hub.fail_next(1, 404, -1, false, "RepoNotFound");
    CHECK(list_model_files(uri_of("hf://org/model"), cfg).reason == "RepoNotFound");
  }
}

TEST_CASE("HF hostile listings are refused whole", "[model-sources]") {
  for (std::string bad : std::vector<std::string>{"../../etc/passwd", "/etc/passwd", "a/../../b", "dir\\file",
                                                  std::string("x\0y", 3)}) {
    HubFixture hub;
    hub.add_commit("evil/model", {{"config.json", "{}"}, {"model.safetensors", "w"}});
    hub.add_listing_entries("evil/model", {bad});
    auto cfg = hub_config(hub);
    cfg.include_patterns = {"*"};  // the check must not depend on the selection
    auto r = list_model_files(uri_of("hf://evil/model"), cfg);
    INFO(bad);
    CHECK_FALSE(r.ok);
    CHECK(r.reason == "InvalidListing");
    CHECK(r.error.find("refusing the whole listing") != std::string::npos);
    CHECK(r.listing.files.empty());
  }
  HubFixture hub;
  hub.add_commit("evil/model", {{"config.json", "{}"}});
  hub.add_listing_entries("evil/model", {"../../etc/passwd"});
  auto r = list_model_files(uri_of("hf://evil/model"), hub_config(hub));
  CHECK(r.error.find("../../etc/passwd") != std::string::npos);
  CHECK(r.error.find("escapes the model directory") != std::string::npos);
}

TEST_CASE("HF default include/exclude on a repo with original/ and .bin duplicates", "[model-sources]") {
  HubFixture hub;
  hub.set_page_size(3);
  hub.add_commit("meta/llama", {{"config.json", "{}"},
                                {"generation_config.json", "{}"},
                                {"tokenizer.json", "{}"},
                                {"tokenizer_config.json", "{}"},
                                {"model-00001-of-00002.safetensors", "aa"},
                                {"model-00002-of-00002.safetensors", "bb"},
                                {"model.safetensors.index.json", "{}"},
                                {"pytorch_model-00001-of-00002.bin", "cc"},
                                {"pytorch_model-00002-of-00002.bin", "dd"},
                                {"original/consolidated.00.pth", "ee"},
                                {"original/params.json", "{}"},
                                {"original/tokenizer.model", "ff"},
                                {"README.md", "# hi"},
                                {".gitattributes", "*.bin filter=lfs"},
                                {"configuration_llama.py", "# code"}});
  auto cfg = hub_config(hub);
  auto r = list_model_files(uri_of("hf://meta/llama"), cfg);
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(paths(r) == std::set<std::string>{"config.json", "generation_config.json", "tokenizer.json",
                                          "tokenizer_config.json", "model-00001-of-00002.safetensors",
                                          "model-00002-of-00002.safetensors", "model.safetensors.index.json",
                                          "configuration_llama.py"});
  cfg.include_patterns = {"*.bin", "config.json"};
  auto bins = list_model_files(uri_of("hf://meta/llama"), cfg);
  REQUIRE(bins.ok);
  CHECK(paths(bins) == std::set<std::string>{"config.json", "pytorch_model-00001-of-00002.bin",
                                             "pytorch_model-00002-of-00002.bin"});
  cfg.include_patterns = {"*.gguf"};
  auto none = list_model_files(uri_of("hf://meta/llama"), cfg);
  CHECK(none.reason == "EmptyListing");
  CHECK(none.error.find("15 files") != std::string::npos);
}

TEST_CASE("HF: no credential in any error message", "[model-sources]") {
  const std::string token = "hf_NeverShowMe_abcdef123456";
  HubFixture hub;
  hub.add_commit("g/gated", {{"config.json", "{}"}});
  hub.set_gated("g/gated", {});
  hub.add_commit("e/evil", {{"config.json", "{}"}});
  hub.add_listing_entries("e/evil", {"../" + token});
  auto cfg = hub_config(hub);
  cfg.credentials.hf_token = token;
  cfg.max_retries = 0;
  std::vector<ListResult> results;
  results.push_back(list_model_files(uri_of("hf://g/gated"), cfg));
  results.push_back(list_model_files(uri_of("hf://x/missing"), cfg));
  results.push_back(list_model_files(uri_of("hf://g/gated@nope"), cfg));
  results.push_back(list_model_files(uri_of("hf://e/evil"), cfg));  // a Hub echoing the token back
  hub.fail_next(1, 429, 1);
  results.push_back(list_model_files(uri_of("hf://g/gated"), cfg));
  auto unreachable = cfg;
  unreachable.hf_endpoint = "http://127.0.0.1:1";
  results.push_back(list_model_files(uri_of("hf://g/gated"), unreachable));
  std::set<std::string> reasons;
  for (auto& r : results) {
    CHECK_FALSE(r.ok);
    CHECK_FALSE(r.error.empty());
    CHECK(r.error.find(token) == std::string::npos);
    reasons.insert(r.reason);
  }
  CHECK(reasons == std::set<std::string>{"GatedRepo", "RepoNotFound", "RevisionNotFound", "InvalidListing",
                                         "RateLimited", "NetworkError"});
  for (auto& req : hub.requests())
    CHECK(req.target.find(token) == std::string::npos);  // never in a URL either
}

// ------------------------------------------------------------------------------------------
// AWS Signature Version 4: the examples published in the Amazon S3 API Reference
// ("Signature Calculations for the Authorization Header: Transferring Payload in a Single Chunk",
// Examples) and the AWS SigV4 test suite, with their documented signatures.

TEST_CASE("SigV4 signing key derivation matches the AWS documentation", "[model-sources]") {
  // AWS General Reference, "Derive a signing key for Signature Version 4" example.
  CHECK(sigv4_signing_key_hex("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam") ==
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

TEST_CASE("SigV4 known-answer vectors from the S3 documentation", "[model-sources]") {
  AwsCredentials creds{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  const std::string empty_sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

  SECTION("GET Object with a Range header") {
    SigV4Request req;
    req.url = "https://examplebucket.s3.amazonaws.com/test.txt";
    req.headers = {{"Range", "bytes=0-9"}};
    req.payload_sha256 = empty_sha;
    req.amz_date = "20130524T000000Z";
    auto sig = sigv4_sign(req, creds);
    CHECK(sig.canonical_request ==
          "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
          "x-amz-content-sha256:" + empty_sha + "\nx-amz-date:20130524T000000Z\n\n"
          "host;range;x-amz-content-sha256;x-amz-date\n" + empty_sha);
    CHECK(sig.string_to_sign ==
          "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
          "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    CHECK(sig.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    CHECK(sig.authorization ==
          "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
          "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
          "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  }
  SECTION("PUT Object (a '$' in the key, a Date header, a storage class)") {
    SigV4Request req;
    req.method = "PUT";
    req.url = "https://examplebucket.s3.amazonaws.com/test$file.text";
    req.headers = {{"Date", "Fri, 24 May 2013 00:00:00 GMT"}, {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
    req.payload_sha256 = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    CHECK(req.payload_sha256 == HubFixture::sha256_hex("Welcome to Amazon S3."));
    req.amz_date = "20130524T000000Z";
    auto sig = sigv4_sign(req, creds);
    CHECK(sig.canonical_request.find("PUT\n/test%24file.text\n") == 0);
    CHECK(sig.signed_headers == "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
    CHECK(sig.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  }
  SECTION("GET Bucket Lifecycle (a valueless query parameter)") {
    SigV4Request req;
    req.url = "https://examplebucket.s3.amazonaws.com/?lifecycle";
    req.payload_sha256 = empty_sha;
    req.amz_date = "20130524T000000Z";
    auto sig = sigv4_sign(req, creds);
    CHECK(sig.canonical_request.find("GET\n/\nlifecycle=\n") == 0);
    CHECK(sig.signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  }
  SECTION("GET Bucket (List Objects): sorted query") {
    SigV4Request req;
    req.url = "https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J";
    req.payload_sha256 = empty_sha;
    req.amz_date = "20130524T000000Z";
    auto sig = sigv4_sign(req, creds);
    CHECK(sig.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    req.url = "https://examplebucket.s3.amazonaws.com/?prefix=J&max-keys=2";  // order does not matter
    CHECK(sigv4_sign(req, creds).signature == sig.signature);
  }
  SECTION("AWS SigV4 test suite: get-vanilla and get-vanilla-query-order-key-case") {
    AwsCredentials suite{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
    SigV4Request req;
    req.url = "https://example.amazonaws.com/";
    req.payload_sha256 = empty_sha;
    req.content_sha256_header = false;
    req.amz_date = "20150830T123600Z";
    req.service = "service";
    CHECK(sigv4_sign(req, suite).signature == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    req.url = "https://example.amazonaws.com/?Param2=value2&Param1=value1";
    CHECK(sigv4_sign(req, suite).signature == "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
  }
  SECTION("a session token is sent and signed") {
    SigV4Request req;
    req.url = "https://examplebucket.s3.amazonaws.com/test.txt";
    req.amz_date = "20130524T000000Z";
    auto sig = sigv4_sign(req, AwsCredentials{"AKID", "SECRET", "SESSIONTOKEN"});
    CHECK(sig.signed_headers == "host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
    bool sent = false;
    for (auto& [k, v] : sig.headers)
      sent = sent || (k == "x-amz-security-token" && v == "SESSIONTOKEN");
    CHECK(sent);
  }
  SECTION("the S3 authorizer signs only its own origin") {
    auto auth = make_s3_authorizer(creds, "us-east-1", "https://examplebucket.s3.us-east-1.amazonaws.com");
    auto h = auth->headers_for("GET", "https://examplebucket.s3.us-east-1.amazonaws.com/model/config.json");
    std::map<std::string, std::string> m(h.begin(), h.end());
    CHECK(m["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD");
    CHECK(m["x-amz-date"].size() == 16);
    CHECK(str::starts_with(m["Authorization"], "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/"));
    CHECK(auth->headers_for("GET", "https://elsewhere.example.com/x").empty());
  }
}

// ------------------------------------------------------------------------------------------
// OCI Object Storage: a loopback fixture (the real service cannot be reached) that answers
// ListObjects / GetObject as the OCI Object Storage API documents them and verifies each
// request's signature with the public key, following Oracle's "Request Signatures" document
// (draft-cavage-http-signatures-08: rebuild the signing string from the received request and
// check the RSA-SHA256 signature; 401 NotAuthenticated otherwise).

namespace {

struct RsaKey {
  EVP_PKEY* key = nullptr;
  RsaKey() { key = EVP_RSA_gen(2048); }
  ~RsaKey() { EVP_PKEY_free(key); }
  std::string private_pem() const {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
    char* p = nullptr;
    long n = BIO_get_mem_data(b, &p);
    std::string out(p, static_cast<size_t>(n));
    BIO_free(b);
    return out;
  }
};

class OciFixture {
public:
  OciFixture(EVP_PKEY* public_key, std::string key_id) : key_(public_key), key_id_(std::move(key_id)) {
    server_ = std::make_unique<http::Server>(http::ServerOptions{}, [this](std::shared_ptr<http::Exchange> ex) {
      ex->respond(handle(ex->request()));
    });
    server_->start();
  }
  ~OciFixture() { server_->stop(); }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  std::map<std::string, std::string> objects;
  std::set<std::string> multipart;  // objects whose md5 is a multipart "...-N" value
  std::atomic<int> verified{0}, rejected{0}, list_pages{0}, gets{0};
  std::string last_error;

private:
  static std::string param(const std::string& auth, const std::string& name) {
    auto p = auth.find(name + "=\"");
    if (p == std::string::npos)
      return {};
    p += name.size() + 2;
    auto e = auth.find('"', p);
    return e == std::string::npos ? std::string() : auth.substr(p, e - p);
  }

  std::string check_signature(const http::Request& req) {
    auto* auth = req.header("Authorization");
    if (!auth || !str::starts_with(*auth, "Signature "))
      return "no Signature authorization";
    if (param(*auth, "version") != "1")
      return "version is not 1";
    if (param(*auth, "keyId") != key_id_)
      return "unknown keyId";
    if (param(*auth, "algorithm") != "rsa-sha256")
      return "algorithm is not rsa-sha256";
    auto headers = str::split(param(*auth, "headers"), ' ');
    std::set<std::string> hs(headers.begin(), headers.end());
    for (const char* need : {"(request-target)", "host", "date"})
      if (!hs.count(need))
        return std::string("GET requests must sign ") + need;
    std::string signing;
    for (auto& h : headers) {
      if (!signing.empty())
        signing += "\n";
      if (h == "(request-target)") {
        signing += "(request-target): " + str::lower(req.method) + " " + req.target;
      } else {
        auto* v = req.header(h);
        if (!v)
          return "signed header " + h + " is missing";
        signing += h + ": " + *v;
      }
    }
    // The documented 5-minute clock skew limit.
    struct tm tm {};
    auto* date = req.header("date");
    if (!strptime(date->c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) || std::llabs(timegm(&tm) - std::time(nullptr)) > 300)
      return "date is missing or skewed";
    std::string sig_b64 = param(*auth, "signature");
    std::string sig(sig_b64.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(sig.data()),
                            reinterpret_cast<const unsigned char*>(sig_b64.data()), static_cast<int>(sig_b64.size()));
    if (n <= 0)
      return "signature is not base64";
    sig.resize(static_cast<size_t>(n));
    while (!sig_b64.empty() && sig_b64.back() == '=') {
      sig.pop_back();
      sig_b64.pop_back();
    }
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key_) == 1 &&
              EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                               reinterpret_cast<const unsigned char*>(signing.data()), signing.size()) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? "" : "signature does not verify";
  }

  http::Response handle(const http::Request& req) {
    if (auto err = check_signature(req); !err.empty()) {
      ++rejected;
      last_error = err;
      return http::Response::json(401, "{\"code\":\"NotAuthenticated\",\"message\":\"" + err + "\"}");
    }
    ++verified;
    const std::string base = "/n/tenancyns/b/models/o";
    if (!str::starts_with(req.path, "/n/tenancyns/b/"))
      return http::Response::json(404, "{\"code\":\"NamespaceNotFound\",\"message\":\"no such namespace\"}");
    if (!str::starts_with(req.path, base))
      return http::Response::json(404, "{\"code\":\"BucketNotFound\",\"message\":\"Either the bucket does not "
                                       "exist or you are not authorized\"}");
    if (req.path == base) {
      ++list_pages;
      std::string prefix, start;
      size_t limit = 1000;
      for (auto& [k, v] : http::parse_query(req.query)) {
        if (k == "prefix") prefix = v;
        if (k == "start") start = v;
        if (k == "limit") limit = std::stoul(v);
      }
      json::Array list;
      std::string next;
      for (auto& [name, content] : objects) {
        if (!str::starts_with(name, prefix) || name < start)
          continue;
        if (list.size() == limit) {
          next = name;
          break;
        }
        std::string md5 = b64(digest(EVP_md5(), content));
        if (multipart.count(name))
          md5 = md5.substr(0, 22) + "-3";
        list.push_back(json::Object{{"name", name}, {"size", content.size()}, {"md5", md5}, {"etag", "e-" + name}});
      }
      json::Object doc{{"objects", list}};
      if (!next.empty())
        doc.set("nextStartWith", next);
      return http::Response::json(200, json::dump(doc));
    }
    ++gets;
    auto it = objects.find(req.path.substr(base.size() + 1));
    if (it == objects.end())
      return http::Response::json(404, "{\"code\":\"ObjectNotFound\",\"message\":\"no such object\"}");
    return http::Response::text(200, it->second, "application/octet-stream");
  }

  EVP_PKEY* key_;
  std::string key_id_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace

TEST_CASE("OCI: signed ListObjects with nextStartWith pages, md5 from base64", "[model-sources]") {
  RsaKey key;
  REQUIRE(key.key);
  OciCredentials oc{"ocid1.tenancy.oc1..aaaa", "ocid1.user.oc1..bbbb", "20:3b:97:13:55:1c:5b:0d:d3:37:d8:50:4e:c5:3a:34",
                    key.private_pem(), ""};
  OciFixture oci(key.key, oc.key_id());
  oci.objects = {{"llama/config.json", "{\"a\":1}"},
                 {"llama/model-00001-of-00002.safetensors", std::string(3000, 'q')},
                 {"llama/model-00002-of-00002.safetensors", std::string(2000, 'r')},
                 {"llama/sub dir/tokenizer.json", "{}"},
                 {"llama/", ""},
                 {"llama2/other.bin", "x"},
                 {"single.gguf", "GGUF"}};
  oci.multipart = {"llama/model-00002-of-00002.safetensors"};

  SourceConfig cfg;
  cfg.oci_endpoint = oci.endpoint();
  cfg.page_size = 2;
  cfg.credentials.oci_tenancy = oc.tenancy;
  cfg.credentials.oci_user = oc.user;
  cfg.credentials.oci_fingerprint = oc.fingerprint;
  cfg.credentials.oci_private_key_pem = oc.private_key_pem;

  auto r = list_model_files(uri_of("oci://n/tenancyns/b/models/o/llama"), cfg);
  INFO(r.error << " / fixture: " << oci.last_error);
  REQUIRE(r.ok);
  CHECK(oci.rejected == 0);
  CHECK(oci.list_pages == 3);  // 5 names under "llama/" at 2 per page
  CHECK(paths(r) == std::set<std::string>{"config.json", "model-00001-of-00002.safetensors",
                                          "model-00002-of-00002.safetensors", "sub dir/tokenizer.json"});
  auto* cfgf = find(r, "config.json");
  REQUIRE(cfgf);
  CHECK(cfgf->size == 7u);
  CHECK(cfgf->md5 == md5_hex("{\"a\":1}"));
  CHECK(cfgf->etag == "e-llama/config.json");
  CHECK(find(r, "model-00002-of-00002.safetensors")->md5.empty());  // multipart: no usable md5
  CHECK(find(r, "sub dir/tokenizer.json")->url == oci.endpoint() + "/n/tenancyns/b/models/o/llama/sub%20dir/tokenizer.json");

  // The download authorizer signs GetObject the same way.
  auto got = download(*find(r, "model-00001-of-00002.safetensors"), *r.authorizer);
  CHECK(got.status == 200);
  CHECK(got.body == std::string(3000, 'q'));
  CHECK(oci.gets == 1);
  CHECK(oci.rejected == 0);
  CHECK(r.authorizer->headers_for("GET", "http://192.0.2.1/elsewhere").empty());

  SECTION("the other URI forms") {
    auto alt = list_model_files(uri_of("oci://tenancyns@us-phoenix-1/models/llama"), cfg);
    REQUIRE(alt.ok);
    CHECK(alt.listing.files.size() == 4);
    cfg.oci_namespace = "tenancyns";
    auto bare = list_model_files(uri_of("oci://models/single.gguf"), cfg);
    INFO(bare.error);
    REQUIRE(bare.ok);
    REQUIRE(bare.listing.files.size() == 1);
    CHECK(bare.listing.files[0].path == "single.gguf");
    CHECK(bare.listing.files[0].md5 == md5_hex("GGUF"));
  }
  SECTION("a key the fixture does not know is rejected") {
    RsaKey other;
    cfg.credentials.oci_private_key_pem = other.private_pem();
    auto bad = list_model_files(uri_of("oci://n/tenancyns/b/models/o/llama"), cfg);
    CHECK_FALSE(bad.ok);
    CHECK(bad.reason == "Unauthorized");
    CHECK(bad.http_status == 401);
    CHECK(oci.last_error == "signature does not verify");
    CHECK(bad.error.find("BEGIN") == std::string::npos);
  }
  SECTION("no credentials: told what to put in the Secret") {
    cfg.credentials = {};
    auto anon = list_model_files(uri_of("oci://n/tenancyns/b/models/o/llama"), cfg);
    CHECK(anon.reason == "Unauthorized");
    CHECK(anon.error.find("tenancy OCID") != std::string::npos);
  }
  SECTION("a broken private key is a configuration error") {
    cfg.credentials.oci_private_key_pem = "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n";
    auto broken = list_model_files(uri_of("oci://n/tenancyns/b/models/o/llama"), cfg);
    CHECK(broken.reason == "InvalidConfig");
    CHECK(broken.error.find("nope") == std::string::npos);
  }
  SECTION("missing bucket") {
    auto missing = list_model_files(uri_of("oci://n/tenancyns/b/nobucket/o/llama"), cfg);
    CHECK(missing.reason == "NotFound");
    CHECK(missing.http_status == 404);
  }
  SECTION("the signing string follows the document's layout") {
    CHECK(oci_signing_string("GET", "https://objectstorage.us-phoenix-1.oraclecloud.com/n/ns/b/b/o?prefix=a&limit=2",
                             "Thu, 05 Jan 2014 21:31:40 GMT", {"(request-target)", "host", "date"}) ==
          "(request-target): get /n/ns/b/b/o?prefix=a&limit=2\nhost: objectstorage.us-phoenix-1.oraclecloud.com\n"
          "date: Thu, 05 Jan 2014 21:31:40 GMT");
  }
}

// ------------------------------------------------------------------------------------------
// Plain HTTP(S) files

TEST_CASE("HTTP: one file named after the URL, size and ETag from a ranged GET", "[model-sources]") {
  const std::string content(12345, 'g');
  std::atomic<int> ranged{0};
  http::Server server(http::ServerOptions{}, [&](std::shared_ptr<http::Exchange> ex) {
    auto& req = ex->request();
    if (req.path == "/files/tiny-model.gguf") {
      auto* range = req.header("Range");
      if (range && *range == "bytes=0-0") {
        ++ranged;
        ex->respond(http::Response::text(206, content.substr(0, 1), "application/octet-stream")
                      .header("Content-Range", "bytes 0-0/" + std::to_string(content.size()))
                      .header("ETag", "\"v1-abc\""));
        return;
      }
      ex->respond(http::Response::text(200, content, "application/octet-stream"));
      return;
    }
    if (req.path == "/moved/model.bin") {
      ex->respond(http::Response::text(302, "").header("Location", "/files/tiny-model.gguf"));
      return;
    }
    if (req.path == "/plain/weights.bin") {  // ignores Range, weak ETag
      ex->respond(http::Response::text(200, content, "application/octet-stream").header("ETag", "W/\"weak\""));
      return;
    }
    ex->respond(http::Response::text(404, "not found"));
  });
  server.start();
  std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  SourceConfig cfg;

  auto r = list_model_files(uri_of(base + "/files/tiny-model.gguf?X-Amz-Signature=s3cr3t"), cfg);
  INFO(r.error);
  REQUIRE(r.ok);
  REQUIRE(r.listing.files.size() == 1);
  auto& f = r.listing.files[0];
  CHECK(f.path == "tiny-model.gguf");
  CHECK(f.size == content.size());
  CHECK(f.etag == "\"v1-abc\"");
  CHECK(f.url == base + "/files/tiny-model.gguf?X-Amz-Signature=s3cr3t");
  CHECK(ranged == 1);
  CHECK(r.authorizer->headers_for("GET", f.url).empty());

  auto moved = list_model_files(uri_of(base + "/moved/model.bin"), cfg);
  REQUIRE(moved.ok);
  CHECK(moved.listing.files[0].path == "model.bin");  // the name the user asked for
  CHECK(moved.listing.files[0].size == content.size());

  auto plain = list_model_files(uri_of(base + "/plain/weights.bin"), cfg);
  REQUIRE(plain.ok);
  CHECK(plain.listing.files[0].size == content.size());
  CHECK(plain.listing.files[0].etag.empty());

  auto missing = list_model_files(uri_of(base + "/files/nope.bin?sig=s3cr3t"), cfg);
  CHECK(missing.reason == "NotFound");
  CHECK(missing.http_status == 404);
  CHECK(missing.error.find("s3cr3t") == std::string::npos);  // presigned queries stay out of messages

  auto dir = list_model_files(uri_of(base + "/files/"), cfg);
  CHECK(dir.reason == "InvalidConfig");
  auto dots = list_model_files(uri_of(base + "/files/.."), cfg);
  CHECK_FALSE(dots.ok);
  server.stop();
}

TEST_CASE("HF: a relative next-page link stays on the endpoint", "[model-sources]") {
  // The Hub sends absolute links; a mirror may send relative ones ("?cursor=..." or "/api/...").
  std::atomic<int> pages{0};
  http::Server mirror(http::ServerOptions{}, [&](std::shared_ptr<http::Exchange> ex) {
    auto& req = ex->request();
    if (str::contains(req.path, "/revision/")) {
      ex->respond(http::Response::json(200, "{\"sha\":\"" + std::string(40, 'a') + "\"}"));
      return;
    }
    ++pages;
    if (req.query == "recursive=true") {
      ex->respond(http::Response::json(200, "[{\"type\":\"file\",\"path\":\"a.json\",\"size\":1}]")
                    .header("Link", "<?recursive=true&cursor=1>; rel=\"next\""));
    } else if (req.query == "recursive=true&cursor=1") {
      ex->respond(http::Response::json(200, "[{\"type\":\"file\",\"path\":\"b.json\",\"size\":2}]")
                    .header("Link", "<https://huggingface.co" + req.path + "?cursor=2>; rel=\"next\""));
    } else {
      ex->respond(http::Response::json(200, "[{\"type\":\"file\",\"path\":\"c.json\",\"size\":3}]"));
    }
  });
  mirror.start();
  SourceConfig cfg;
  cfg.hf_endpoint = "http://127.0.0.1:" + std::to_string(mirror.port()) + "/";
  auto r = list_model_files(uri_of("hf://org/m"), cfg);
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(paths(r) == std::set<std::string>{"a.json", "b.json", "c.json"});
  CHECK(pages == 3);
  mirror.stop();
}

TEST_CASE("unsupported storage types are reported, not listed", "[model-sources]") {
  auto r = list_model_files(uri_of("pvc://claim/models"), SourceConfig{});
  CHECK_FALSE(r.ok);
  CHECK(r.reason == "Unsupported");
}

// ------------------------------------------------------------------------------------------
TEST_CASE("S3 against s3rver: signed PUTs, paginated ListObjectsV2, sizes and md5", "[model-sources-s3]") {
  omed::testing::S3rver s3("models");
  if (!s3.available())
    return;
  std::string endpoint = s3.endpoint();

  std::map<std::string, std::string> objects = {
    {"llama/config.json", "{\"model_type\":\"llama\"}"},
    {"llama/model-00001-of-00002.safetensors", std::string(40000, '\x01')},
    {"llama/model-00002-of-00002.safetensors", std::string(30000, '\x02')},
    {"llama/tokenizer/tokenizer.json", "{\"v\":1}"},
    {"llama/weird name+1.txt", "plus"},
    {"llama2/config.json", "{}"},
  };
  for (auto& [key, body] : objects) {
    INFO(key);
    REQUIRE(s3.put("models", key, body) == 200);
  }

  SourceConfig cfg;
  cfg.s3_endpoint = endpoint;
  cfg.credentials.s3_access_key_id = "S3RVER";
  cfg.credentials.s3_secret_access_key = "S3RVER";
  cfg.page_size = 2;

  auto r = list_model_files(uri_of("s3://models/llama"), cfg);
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(paths(r) == std::set<std::string>{"config.json", "model-00001-of-00002.safetensors",
                                          "model-00002-of-00002.safetensors", "tokenizer/tokenizer.json",
                                          "weird name+1.txt"});
  for (auto& f : r.listing.files) {
    auto& body = objects.at("llama/" + f.path);
    CHECK(f.size == body.size());
    CHECK(f.md5 == md5_hex(body));
    CHECK(f.etag == "\"" + f.md5 + "\"");
    CHECK(str::starts_with(f.url, endpoint + "/models/llama/"));
  }
  // The URL and the authorizer fetch the object.
  auto* weird = find(r, "weird name+1.txt");
  REQUIRE(weird);
  auto got = download(*weird, *r.authorizer);
  CHECK(got.status == 200);
  CHECK(got.body == "plus");

  SECTION("one object named by the URI") {
    auto one = list_model_files(uri_of("s3://models/llama/config.json"), cfg);
    REQUIRE(one.ok);
    REQUIRE(one.listing.files.size() == 1);
    CHECK(one.listing.files[0].path == "config.json");
  }
  SECTION("ETags of SSE-KMS buckets are not MD5s: the check can be turned off") {
    cfg.s3_etag_is_md5 = false;
    auto no_md5 = list_model_files(uri_of("s3://models/llama"), cfg);
    REQUIRE(no_md5.ok);
    for (auto& f : no_md5.listing.files) {
      CHECK(f.md5.empty());
      CHECK_FALSE(f.etag.empty());
    }
  }
  SECTION("include patterns") {
    cfg.include_patterns = {"*.safetensors"};
    auto st = list_model_files(uri_of("s3://models/llama"), cfg);
    REQUIRE(st.ok);
    CHECK(st.listing.files.size() == 2);
  }
  SECTION("an unknown access key is refused") {
    cfg.credentials.s3_access_key_id = "NOTAKEY";
    auto bad = list_model_files(uri_of("s3://models/llama"), cfg);
    CHECK_FALSE(bad.ok);
    CHECK(bad.reason == "Unauthorized");
    CHECK(bad.http_status == 403);
    CHECK(bad.error.find("InvalidAccessKeyId") != std::string::npos);
    CHECK(bad.error.find("S3RVER") == std::string::npos);  // the secret
  }
  SECTION("a missing bucket") {
    auto missing = list_model_files(uri_of("s3://nobucket/llama"), cfg);
    CHECK(missing.reason == "NotFound");
    CHECK(missing.http_status == 404);
  }
  SECTION("an empty prefix") {
    auto empty = list_model_files(uri_of("s3://models/nothing-here"), cfg);
    CHECK(empty.reason == "EmptyListing");
  }
}
