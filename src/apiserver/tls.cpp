// Serving material for the embedded API server: a throwaway CA plus a leaf certificate (OpenSSL 3
// EVP/X509 APIs only), bearer tokens, kubeconfig rendering and crash-safe private file writes.
#include "omed/apiserver/tls.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace omed::apiserver {

namespace {

// ------------------------------------------------------------------ OpenSSL plumbing

template <auto Free> struct Deleter {
  template <typename T> void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using GenNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using GenNamePtr = std::unique_ptr<GENERAL_NAME, Deleter<GENERAL_NAME_free>>;
using Ia5Ptr = std::unique_ptr<ASN1_IA5STRING, Deleter<ASN1_IA5STRING_free>>;
using OctetPtr = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING_free>>;
using EkuPtr = std::unique_ptr<EXTENDED_KEY_USAGE, Deleter<EXTENDED_KEY_USAGE_free>>;

// Drains OpenSSL's thread-local error queue into the exception so that the caller sees the
// library's reason (e.g. "unsupported algorithm") instead of a bare "failed"; draining also
// keeps stale entries from being blamed on the next, unrelated call on this thread.
[[noreturn]] void throw_openssl(const std::string& what) {
  std::string msg = "tls: " + what;
  bool first = true;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    msg += first ? ": " : "; ";
    msg += buf;
    first = false;
  }
  throw std::runtime_error(msg);
}

void check(int ok, const char* what) {
  if (ok != 1)
    throw_openssl(what);
}

template <typename T> T* check_ptr(T* p, const char* what) {
  if (!p)
    throw_openssl(what);
  return p;
}

// Certificates start slightly in the past: a peer whose clock lags ours by a few minutes must
// not reject a certificate minted a moment ago as "not yet valid".
constexpr long kBackdateSeconds = 5L * 60;

PkeyPtr generate_p256_key() {
  // EVP_PKEY_Q_keygen is the OpenSSL 3 one-shot; the EC_KEY API is deprecated there.
  return PkeyPtr(check_ptr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), "generating a P-256 key"));
}

// A 128-bit random serial. RFC 5280 caps serials at 20 octets and requires them positive; BIGNUMs
// built from unsigned bytes are non-negative and DER adds the sign octet when needed (17 octets
// at most). Zero is rejected by some verifiers, hence the retry.
void set_random_serial(X509* cert) {
  unsigned char bytes[16];
  BnPtr bn;
  do {
    check(RAND_bytes(bytes, sizeof bytes), "RAND_bytes for serial");
    bn.reset(check_ptr(BN_bin2bn(bytes, sizeof bytes, nullptr), "BN_bin2bn"));
  } while (BN_is_zero(bn.get()));
  ASN1_INTEGER* serial = check_ptr(BN_to_ASN1_INTEGER(bn.get(), nullptr), "BN_to_ASN1_INTEGER");
  int ok = X509_set_serialNumber(cert, serial);
  ASN1_INTEGER_free(serial);
  check(ok, "X509_set_serialNumber");
}

NamePtr make_name(const char* common_name) {
  NamePtr name(check_ptr(X509_NAME_new(), "X509_NAME_new"));
  check(X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0),
        "setting the common name");
  return name;
}

// Version, serial, names, validity and key: everything but extensions and the signature.
X509Ptr new_cert(X509_NAME* subject, X509_NAME* issuer, EVP_PKEY* key, long valid_days) {
  X509Ptr cert(check_ptr(X509_new(), "X509_new"));
  check(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");
  set_random_serial(cert.get());
  check(X509_set_subject_name(cert.get(), subject), "X509_set_subject_name");
  check(X509_set_issuer_name(cert.get(), issuer), "X509_set_issuer_name");
  check_ptr(X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -kBackdateSeconds, nullptr), "setting notBefore");
  check_ptr(X509_time_adj_ex(X509_getm_notAfter(cert.get()), static_cast<int>(valid_days), 0, nullptr),
            "setting notAfter");
  check(X509_set_pubkey(cert.get(), key), "X509_set_pubkey");
  return cert;
}

// Extensions whose textual form is fixed (no caller input reaches the config parser, so there is
// nothing to escape). `ctx` supplies the subject/issuer needed for key identifiers.
void add_conf_ext(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value));
  if (!ext)
    throw_openssl(std::string("building extension ") + OBJ_nid2sn(nid) + "=" + value);
  check(X509_add_ext(cert, ext.get(), -1), "X509_add_ext");
}

// SANs are built as GENERAL_NAMEs rather than through the "DNS:a,IP:b" config syntax: caller
// strings never pass through a parser where a comma or colon could inject extra names.
void add_subject_alt_names(X509* cert, const std::vector<std::string>& dns_names, const std::vector<std::string>& ips) {
  if (dns_names.empty() && ips.empty())
    return;  // RFC 5280 forbids an empty SAN extension.
  GenNamesPtr names(check_ptr(GENERAL_NAMES_new(), "GENERAL_NAMES_new"));
  for (const auto& dns : dns_names) {
    if (dns.empty())
      throw std::runtime_error("tls: empty DNS name for the serving certificate");
    Ia5Ptr ia5(check_ptr(ASN1_IA5STRING_new(), "ASN1_IA5STRING_new"));
    check(ASN1_STRING_set(ia5.get(), dns.data(), static_cast<int>(dns.size())), "ASN1_STRING_set");
    GenNamePtr gn(check_ptr(GENERAL_NAME_new(), "GENERAL_NAME_new"));
    GENERAL_NAME_set0_value(gn.get(), GEN_DNS, ia5.release());
    check(sk_GENERAL_NAME_push(names.get(), gn.get()) > 0 ? 1 : 0, "sk_GENERAL_NAME_push");
    gn.release();
  }
  for (const auto& ip : ips) {
    // a2i_IPADDRESS takes dotted IPv4 and textual IPv6 and yields the 4/16 octets SANs hold.
    OctetPtr octets(a2i_IPADDRESS(ip.c_str()));
    if (!octets)
      throw_openssl("invalid IP address '" + ip + "' for the serving certificate");
    GenNamePtr gn(check_ptr(GENERAL_NAME_new(), "GENERAL_NAME_new"));
    GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, octets.release());
    check(sk_GENERAL_NAME_push(names.get(), gn.get()) > 0 ? 1 : 0, "sk_GENERAL_NAME_push");
    gn.release();
  }
  check(X509_add1_ext_i2d(cert, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT), "adding subjectAltName");
}

void add_server_auth_eku(X509* cert) {
  EkuPtr eku(check_ptr(sk_ASN1_OBJECT_new_null(), "sk_ASN1_OBJECT_new_null"));
  ASN1_OBJECT* server_auth = check_ptr(OBJ_nid2obj(NID_server_auth), "OBJ_nid2obj(serverAuth)");
  check(sk_ASN1_OBJECT_push(eku.get(), server_auth) > 0 ? 1 : 0, "sk_ASN1_OBJECT_push");
  // OBJ_nid2obj hands out the built-in, non-dynamic object; freeing the stack leaves it alone.
  check(X509_add1_ext_i2d(cert, NID_ext_key_usage, eku.get(), 0, X509V3_ADD_DEFAULT), "adding extendedKeyUsage");
}

void sign(X509* cert, EVP_PKEY* key) {
  // X509_sign returns the signature length on success, 0 on failure.
  if (X509_sign(cert, key, EVP_sha256()) <= 0)
    throw_openssl("signing the certificate");
}

std::string bio_to_string(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || !data)
    throw_openssl("reading PEM output");
  return std::string(data, static_cast<size_t>(len));
}

std::string cert_pem(X509* cert) {
  BioPtr bio(check_ptr(BIO_new(BIO_s_mem()), "BIO_new"));
  check(PEM_write_bio_X509(bio.get(), cert), "PEM_write_bio_X509");
  return bio_to_string(bio.get());
}

std::string key_pem(EVP_PKEY* key) {
  // PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted: the file mode protects it, and Go's crypto/tls,
  // client-go and OpenSSL all read this form.
  BioPtr bio(check_ptr(BIO_new(BIO_s_mem()), "BIO_new"));
  check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), "PEM_write_bio_PrivateKey");
  return bio_to_string(bio.get());
}

// ------------------------------------------------------------------ text helpers

constexpr char kStd64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64(const unsigned char* p, size_t n, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  if (size_t rest = n - i) {
    uint32_t v = uint32_t{p[i]} << 16;
    if (rest == 2)
      v |= uint32_t{p[i + 1]} << 8;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (rest == 2)
      out.push_back(alphabet[(v >> 6) & 63]);
    if (pad)
      out.append(rest == 2 ? "=" : "==");
  }
  return out;
}

// A YAML double-quoted scalar. Always quoting means no value can turn into another type ("true",
// "0x1", "~"), start a comment or flow collection, or break the document structure. Non-ASCII
// UTF-8 passes through except the characters YAML 1.1 parsers (go-yaml under kubectl) treat as
// line breaks or a byte-order mark, which are escaped.
std::string yaml_quote(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      default: break;
    }
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x85) {
      out += "\\u0085";  // NEL; not "\\N", which yaml-cpp 0.7 decodes to a lone 0x85 byte
      ++i;
    } else if (c == 0xe2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(s[i + 2]) == 0xa8 || static_cast<unsigned char>(s[i + 2]) == 0xa9)) {
      out += static_cast<unsigned char>(s[i + 2]) == 0xa8 ? "\\u2028" : "\\u2029";
      i += 2;
    } else if (c == 0xef && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xbb &&
               static_cast<unsigned char>(s[i + 2]) == 0xbf) {
      out += "\\uFEFF";
      i += 2;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out += '"';
  return out;
}

bool starts_with_icase(const std::string& s, const char* prefix) {
  size_t n = std::strlen(prefix);
  if (s.size() < n)
    return false;
  for (size_t i = 0; i < n; ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i])
      return false;
  return true;
}

[[noreturn]] void throw_errno(const std::string& what, const std::string& path) {
  throw std::runtime_error("tls: " + what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

// ------------------------------------------------------------------ public API

CertBundle generate_serving_certs(const std::vector<std::string>& dns_names, const std::vector<std::string>& ips) {
  // Stale errors left by unrelated code on this thread would otherwise be reported as ours.
  ERR_clear_error();

  PkeyPtr ca_key = generate_p256_key();
  NamePtr ca_name = make_name("omed-ca");
  X509Ptr ca = new_cert(ca_name.get(), ca_name.get(), ca_key.get(), 10 * 365 + 3);  // + leap days
  {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, ca.get(), ca.get(), nullptr, nullptr, 0);
    add_conf_ext(ca.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
    add_conf_ext(ca.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_conf_ext(ca.get(), &ctx, NID_subject_key_identifier, "hash");
  }
  sign(ca.get(), ca_key.get());

  PkeyPtr key = generate_p256_key();
  NamePtr name = make_name("omed-apiserver");
  X509Ptr cert = new_cert(name.get(), X509_get_subject_name(ca.get()), key.get(), 365);
  {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, ca.get(), cert.get(), nullptr, nullptr, 0);
    // An explicit CA:FALSE keeps strict verifiers from treating the leaf as a possible issuer.
    add_conf_ext(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
    add_conf_ext(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature");
    add_server_auth_eku(cert.get());
    add_conf_ext(cert.get(), &ctx, NID_subject_key_identifier, "hash");
    add_conf_ext(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
    add_subject_alt_names(cert.get(), dns_names, ips);
  }
  sign(cert.get(), ca_key.get());

  CertBundle out;
  out.ca_cert_pem = cert_pem(ca.get());
  out.ca_key_pem = key_pem(ca_key.get());
  out.cert_pem = cert_pem(cert.get());
  out.key_pem = key_pem(key.get());
  return out;
}

std::string generate_token() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    throw_openssl("RAND_bytes for token");
  std::string token = base64(bytes, sizeof bytes, kUrl64, false);
  OPENSSL_cleanse(bytes, sizeof bytes);
  return token;
}

std::string render_kubeconfig(const KubeconfigSpec& spec) {
  // A plain-http server has no CA to pin; client-go also rejects CA data on an http:// server
  // in some versions, so the field is left out rather than emitted empty.
  const bool with_ca = !spec.ca_cert_pem.empty() && !starts_with_icase(spec.server, "http://");
  std::string y;
  y += "apiVersion: v1\n";
  y += "kind: Config\n";
  y += "clusters:\n";
  y += "- name: " + yaml_quote(spec.cluster_name) + "\n";
  y += "  cluster:\n";
  y += "    server: " + yaml_quote(spec.server) + "\n";
  if (with_ca)
    y += "    certificate-authority-data: " +
         yaml_quote(base64(reinterpret_cast<const unsigned char*>(spec.ca_cert_pem.data()), spec.ca_cert_pem.size(),
                           kStd64, true)) +
         "\n";
  y += "users:\n";
  y += "- name: " + yaml_quote(spec.user_name) + "\n";
  y += "  user:\n";
  y += "    token: " + yaml_quote(spec.token) + "\n";
  y += "contexts:\n";
  y += "- name: " + yaml_quote(spec.context_name) + "\n";
  y += "  context:\n";
  y += "    cluster: " + yaml_quote(spec.cluster_name) + "\n";
  y += "    user: " + yaml_quote(spec.user_name) + "\n";
  y += "    namespace: " + yaml_quote(spec.namespace_) + "\n";
  y += "current-context: " + yaml_quote(spec.context_name) + "\n";
  y += "preferences: {}\n";
  return y;
}

void write_private_file(const std::string& path, const std::string& content) {
  // The temporary lives in the target's directory: rename(2) is only atomic within one file
  // system, and readers must see either the old file or the complete new one.
  std::string dir = ".";
  if (auto slash = path.rfind('/'); slash != std::string::npos)
    dir = slash == 0 ? "/" : path.substr(0, slash);

  std::string tmp = path + ".tmp.XXXXXX";
  // mkstemp creates the file 0600 from the start, so the secret is never world-readable, not
  // even between create and chmod.
  int fd = ::mkstemp(tmp.data());
  if (fd < 0)
    throw_errno("cannot create temporary file for", path);
  auto fail = [&](const char* what) {
    int saved = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    errno = saved;
    throw_errno(what, path);
  };
  // A restrictive umask could have left the owner without read access; pin the mode exactly.
  if (::fchmod(fd, 0600) != 0)
    fail("cannot chmod");
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      fail("cannot write");
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  // Data must be on disk before the rename is: otherwise a crash can leave the new name pointing
  // at an empty file.
  if (::fsync(fd) != 0)
    fail("cannot fsync");
  if (::close(fd) != 0) {
    int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    throw_errno("cannot close", path);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    throw_errno("cannot rename into", path);
  }
  // The rename itself is a directory update; it is durable only once the directory is synced.
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    throw_errno("cannot open directory of", path);
  int rc = ::fsync(dfd);
  int saved = errno;
  ::close(dfd);
  errno = saved;
  if (rc != 0)
    throw_errno("cannot fsync directory of", path);
}

}  // namespace omed::apiserver
