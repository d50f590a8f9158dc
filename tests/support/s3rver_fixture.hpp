// npm's s3rver (installed into .omed/npm by deploy/local/bootstrap.sh) as a loopback S3 for tests,
// with objects uploaded by SigV4-signed PUTs (the real protocol, not a back door into its files).
#pragma once

#include <catch2/catch.hpp>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "hub_fixture.hpp"
#include "process.hpp"
#include "test_env.hpp"
#include "omed/model/sources.hpp"

namespace omed::testing {

// s3rver checks that the access key exists and that requests carry x-amz-content-sha256, but not
// the SigV4 signature itself (the known-answer vectors in test_sources.cpp cover that).
class S3rver {
public:
  static constexpr const char* kKey = "S3RVER";  // s3rver's built-in account (key id = secret)

  // Starts s3rver with `bucket` configured; available() is false (after a loud warning) when it
  // is not installed, and the caller skips.
  explicit S3rver(const std::string& bucket) {
    std::string bin = path();
    if (bin.empty()) {
      WARN("*** SKIPPING: s3rver not found (run deploy/local/bootstrap.sh, which installs s3rver@3.7.1 into "
           ".omed/npm, or set OMED_S3RVER) ***");
      std::cerr << "\n*** SKIPPING: s3rver not installed ***\n\n";
      return;
    }
    port_ = free_port();
    // Node 17+ ships OpenSSL 3, whose default provider lacks the DES cipher s3rver 3.7.1 uses for
    // continuation tokens: the legacy provider brings it back.
    proc_ = std::make_unique<Process>(
      std::vector<std::string>{bin, "-d", (dir_.path() / "data").string(), "-a", "127.0.0.1", "-p",
                               std::to_string(port_), "-s", "--configure-bucket", bucket},
      dir_.path() / "s3rver.log", std::vector<std::string>{"NODE_OPTIONS=--openssl-legacy-provider"});
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!port_open(port_) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    INFO(proc_->output());
    REQUIRE(port_open(port_));
  }

  bool available() const { return proc_ != nullptr; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // PUT s3://bucket/key (SigV4, path-style). Returns the HTTP status.
  int put(const std::string& bucket, const std::string& key, const std::string& body) const {
    model::SigV4Request req;
    req.method = "PUT";
    req.url = endpoint() + "/" + bucket + "/" + key;
    for (size_t p = req.url.find(' '); p != std::string::npos; p = req.url.find(' '))
      req.url.replace(p, 1, "%20");
    for (size_t p = req.url.find('+'); p != std::string::npos; p = req.url.find('+'))
      req.url.replace(p, 1, "%2B");
    req.payload_sha256 = HubFixture::sha256_hex(body);
    char date[32];
    std::time_t t = std::time(nullptr);
    struct tm tm {};
    gmtime_r(&t, &tm);
    std::strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &tm);
    req.amz_date = date;
    auto sig = model::sigv4_sign(req, model::AwsCredentials{kKey, kKey, ""});

    CURL* h = curl_easy_init();
    curl_slist* list = nullptr;
    for (auto& [k, v] : sig.headers)
      list = curl_slist_append(list, (k + ": " + v).c_str());
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, +[](char*, size_t n, size_t m, void*) { return n * m; });
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK)
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(list);
    curl_easy_cleanup(h);
    return static_cast<int>(status);
  }

private:
  static std::string path() {
    if (const char* env = std::getenv("OMED_S3RVER"))
      return env;
    auto p = source_root() / ".omed" / "npm" / "node_modules" / ".bin" / "s3rver";
    return std::filesystem::exists(p) ? p.string() : std::string();
  }
  static uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
  }
  static bool port_open(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
  }

  TempDir dir_;
  uint16_t port_ = 0;
  std::unique_ptr<Process> proc_;
};

}  // namespace omed::testing
