// sha256/md5 through OpenSSL's EVP interface (which picks the SHA extensions of the CPU), fed
// incrementally while a download progresses or in one pass over an existing file.
#include "omed/model/transfer/file_verifier.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <vector>

#include "omed/model/transfer/durable_io.hpp"

namespace omed::model::transfer {

struct StreamingDigest::Impl {
  EVP_MD_CTX* sha = nullptr;
  EVP_MD_CTX* md5 = nullptr;
  ~Impl() {
    EVP_MD_CTX_free(sha);
    EVP_MD_CTX_free(md5);
  }
};

StreamingDigest::StreamingDigest(bool sha256, bool md5) : impl_(std::make_unique<Impl>()) {
  if (sha256)
    impl_->sha = EVP_MD_CTX_new();
  if (md5)
    impl_->md5 = EVP_MD_CTX_new();
  reset();
}

StreamingDigest::~StreamingDigest() = default;
StreamingDigest::StreamingDigest(StreamingDigest&&) noexcept = default;
StreamingDigest& StreamingDigest::operator=(StreamingDigest&&) noexcept = default;

void StreamingDigest::reset() {
  if (impl_->sha)
    EVP_DigestInit_ex(impl_->sha, EVP_sha256(), nullptr);
  if (impl_->md5)
    EVP_DigestInit_ex(impl_->md5, EVP_md5(), nullptr);
  bytes_ = 0;
}

void StreamingDigest::update(const void* data, size_t n) {
  if (impl_->sha)
    EVP_DigestUpdate(impl_->sha, data, n);
  if (impl_->md5)
    EVP_DigestUpdate(impl_->md5, data, n);
  bytes_ += n;
}

Digests StreamingDigest::finish() {
  Digests d;
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (impl_->sha && EVP_DigestFinal_ex(impl_->sha, buf, &len) == 1)
    d.sha256 = to_hex(buf, len);
  if (impl_->md5 && EVP_DigestFinal_ex(impl_->md5, buf, &len) == 1)
    d.md5 = to_hex(buf, len);
  return d;
}

std::string hash_fd(int fd, uint64_t length, StreamingDigest& digest, const std::atomic<bool>* cancel) {
  // 4 MiB reads: large enough that syscalls vanish next to the hashing, small enough for cache.
  std::vector<unsigned char> buf(4u << 20);
  uint64_t off = 0;
  while (off < length) {
    if (cancel && cancel->load())
      return "cancelled";
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - off));
    ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(off));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return "reading back: " + describe_errno(errno);
    }
    if (n == 0)
      return "reading back: the file is shorter than expected";
    digest.update(buf.data(), static_cast<size_t>(n));
    off += static_cast<uint64_t>(n);
  }
  return {};
}

std::string hash_file(const std::filesystem::path& path, bool sha256, bool md5, Digests& out,
                      const std::atomic<bool>* cancel) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return "opening " + path.string() + ": " + describe_errno(errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return "reading " + path.string() + ": " + describe_errno(e);
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  StreamingDigest d(sha256, md5);
  std::string err = hash_fd(fd, static_cast<uint64_t>(st.st_size), d, cancel);
  ::close(fd);
  if (!err.empty())
    return path.string() + ": " + err;
  out = d.finish();
  return {};
}

std::string compare_digests(const std::string& file, const Digests& expected, const Digests& actual) {
  if (!expected.sha256.empty() && lowercase(expected.sha256) != actual.sha256)
    return "checksum mismatch for '" + file + "': expected sha256 " + lowercase(expected.sha256) +
           ", got " + actual.sha256;
  if (!expected.md5.empty() && lowercase(expected.md5) != actual.md5)
    return "checksum mismatch for '" + file + "': expected md5 " + lowercase(expected.md5) + ", got " +
           actual.md5;
  return {};
}

std::string to_hex(const unsigned char* data, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  return out;
}

std::string lowercase(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace omed::model::transfer
