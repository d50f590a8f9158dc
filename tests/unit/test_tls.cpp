// Tests for the API server's TLS material: certificates parsed back and verified by OpenSSL, a
// real TLS handshake over loopback, kubeconfig read by yaml-cpp and kubectl, private file writes.
#include "omed/apiserver/tls.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <thread>

#include <catch2/catch.hpp>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <yaml-cpp/yaml.h>

#include "../support/test_env.hpp"

using namespace omed::apiserver;
namespace fs = std::filesystem;

namespace {

template <auto Free> struct Deleter {
  template <typename T> void operator()(T* p) const { Free(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using StorePtr = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Deleter<SSL_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using GenNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;

X509Ptr parse_cert(const std::string& pem) {
  std::unique_ptr<BIO, Deleter<BIO_free>> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(cert);
  return cert;
}

PkeyPtr parse_key(const std::string& pem) {
  std::unique_ptr<BIO, Deleter<BIO_free>> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  REQUIRE(key);
  return key;
}

// The bundle is reused across sections: generating keys costs little, but one bundle keeps the
// properties and the handshake tests talking about the same certificates.
const CertBundle& bundle() {
  static const CertBundle b = generate_serving_certs({"localhost", "omed-apiserver.omed-system.svc"},
                                                     {"127.0.0.1", "::1"});
  return b;
}

// X509_verify_cert with only `ca` as trust anchor, checked for the TLS server purpose.
int verify_chain(X509* leaf, X509* ca, int* error = nullptr) {
  StorePtr store(X509_STORE_new());
  REQUIRE(X509_STORE_add_cert(store.get(), ca) == 1);
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  REQUIRE(X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) == 1);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  int rc = X509_verify_cert(ctx.get());
  if (error)
    *error = X509_STORE_CTX_get_error(ctx.get());
  return rc;
}

bool ext_is_critical(X509* cert, int nid) {
  int idx = X509_get_ext_by_NID(cert, nid, -1);
  REQUIRE(idx >= 0);
  return X509_EXTENSION_get_critical(X509_get_ext(cert, idx)) == 1;
}

// Days between notBefore and notAfter.
int validity_days(X509* cert) {
  int days = 0, secs = 0;
  REQUIRE(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert)) == 1);
  return days;
}

std::string ssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += buf;
    out += "; ";
  }
  return out;
}

struct HandshakeResult {
  bool connected = false;
  long verify_result = -1;
  std::string reply;
  std::string errors;
};

// A real TLS handshake over a loopback TCP socket. The server runs in a thread with the serving
// certificate; the client trusts only `ca_pem` and checks `expected` as hostname or IP, exactly as
// client-go does (it pins the kubeconfig's CA and verifies the server name).
HandshakeResult handshake(const CertBundle& server, const std::string& ca_pem, int family, const std::string& expected,
                          bool expected_is_ip) {
  int lfd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(lfd >= 0);
  sockaddr_storage addr{};
  socklen_t addr_len;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr_len = sizeof(sockaddr_in);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    addr_len = sizeof(sockaddr_in6);
  }
  REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), addr_len) == 0);
  REQUIRE(::listen(lfd, 1) == 0);
  REQUIRE(::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &addr_len) == 0);

  // Bounded waits: a failed handshake on one side must not hang the other forever.
  timeval tv{10, 0};

  SslCtxPtr sctx(SSL_CTX_new(TLS_server_method()));
  REQUIRE(sctx);
  X509Ptr cert = parse_cert(server.cert_pem);
  PkeyPtr key = parse_key(server.key_pem);
  REQUIRE(SSL_CTX_use_certificate(sctx.get(), cert.get()) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey(sctx.get(), key.get()) == 1);
  REQUIRE(SSL_CTX_check_private_key(sctx.get()) == 1);

  std::thread server_thread([&] {
    int cfd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (cfd < 0)
      return;
    ::setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    SslPtr ssl(SSL_new(sctx.get()));
    SSL_set_fd(ssl.get(), cfd);
    if (SSL_accept(ssl.get()) == 1) {
      char buf[16];
      int n = SSL_read(ssl.get(), buf, sizeof buf);
      if (n == 4 && std::string(buf, 4) == "ping")
        SSL_write(ssl.get(), "pong", 4);
      SSL_shutdown(ssl.get());
    }
    ERR_clear_error();  // the server thread's queue: a rejected handshake leaves entries here
    ::close(cfd);
  });

  HandshakeResult result;
  SslCtxPtr cctx(SSL_CTX_new(TLS_client_method()));
  REQUIRE(cctx);
  REQUIRE(SSL_CTX_set_min_proto_version(cctx.get(), TLS1_2_VERSION) == 1);
  X509Ptr ca = parse_cert(ca_pem);
  REQUIRE(X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx.get()), ca.get()) == 1);
  SSL_CTX_set_verify(cctx.get(), SSL_VERIFY_PEER, nullptr);

  int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) == 0);
  SslPtr ssl(SSL_new(cctx.get()));
  SSL_set_fd(ssl.get(), fd);
  if (expected_is_ip) {
    REQUIRE(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), expected.c_str()) == 1);
  } else {
    REQUIRE(SSL_set_tlsext_host_name(ssl.get(), expected.c_str()) == 1);
    REQUIRE(SSL_set1_host(ssl.get(), expected.c_str()) == 1);
  }
  if (SSL_connect(ssl.get()) == 1) {
    result.connected = true;
    if (SSL_write(ssl.get(), "ping", 4) == 4) {
      char buf[16];
      int n = SSL_read(ssl.get(), buf, sizeof buf);
      if (n > 0)
        result.reply.assign(buf, static_cast<size_t>(n));
    }
    SSL_shutdown(ssl.get());
  }
  result.verify_result = SSL_get_verify_result(ssl.get());
  result.errors = ssl_errors();
  ssl.reset();
  ::close(fd);
  server_thread.join();
  ::close(lfd);
  return result;
}

bool ipv6_loopback_available() {
  int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::string base64_decode(const std::string& in) {
  std::string out(in.size() / 4 * 3 + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  REQUIRE(n >= 0);
  // EVP_DecodeBlock counts the padding's zero bytes; strip them.
  size_t pad = in.size() >= 2 && in.substr(in.size() - 2) == "==" ? 2 : (!in.empty() && in.back() == '=' ? 1 : 0);
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

// Runs a command, returns its stdout (stderr is left to the test log) and exit status.
std::pair<std::string, int> run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  int st = ::pclose(p);
  return {out, WIFEXITED(st) ? WEXITSTATUS(st) : -1};
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

bool on_path(const char* tool) {
  return run(std::string("command -v ") + tool + " >/dev/null 2>&1 && echo yes").first == "yes\n";
}

}  // namespace

TEST_CASE("CA certificate: self-signed P-256 CA with the required extensions", "[tls]") {
  X509Ptr ca = parse_cert(bundle().ca_cert_pem);
  PkeyPtr ca_key = parse_key(bundle().ca_key_pem);

  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(ca.get()), NID_commonName, cn, sizeof cn);
  CHECK(std::string(cn) == "omed-ca");
  CHECK(X509_NAME_cmp(X509_get_subject_name(ca.get()), X509_get_issuer_name(ca.get())) == 0);
  CHECK(X509_get_version(ca.get()) == X509_VERSION_3);

  // Self-signature, key pair, algorithm.
  CHECK(X509_verify(ca.get(), ca_key.get()) == 1);
  CHECK(X509_check_private_key(ca.get(), ca_key.get()) == 1);
  CHECK(X509_get_signature_nid(ca.get()) == NID_ecdsa_with_SHA256);
  CHECK(EVP_PKEY_is_a(ca_key.get(), "EC") == 1);
  char group[64] = {};
  REQUIRE(EVP_PKEY_get_utf8_string_param(ca_key.get(), "group", group, sizeof group, nullptr) == 1);
  CHECK(std::string(group) == "prime256v1");

  // basicConstraints CA:TRUE critical, keyUsage keyCertSign+cRLSign critical, SKID present.
  CHECK(X509_check_ca(ca.get()) == 1);
  CHECK(ext_is_critical(ca.get(), NID_basic_constraints));
  CHECK(ext_is_critical(ca.get(), NID_key_usage));
  CHECK(X509_get_key_usage(ca.get()) == (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  REQUIRE(X509_get0_subject_key_id(ca.get()) != nullptr);
  CHECK(ASN1_STRING_length(X509_get0_subject_key_id(ca.get())) == 20);

  // Ten years, give or take leap days and the clock-skew backdating.
  int days = validity_days(ca.get());
  CHECK(days >= 3650);
  CHECK(days <= 3655);
  CHECK(X509_cmp_current_time(X509_get0_notBefore(ca.get())) < 0);

  // 128-bit random serial: positive, and two CAs never share one.
  BnPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(ca.get()), nullptr));
  REQUIRE(serial);
  CHECK(BN_is_negative(serial.get()) == 0);
  CHECK(BN_num_bits(serial.get()) <= 128);
  CHECK(BN_num_bits(serial.get()) > 64);  // fails with probability 2^-64
  X509Ptr other = parse_cert(generate_serving_certs({"localhost"}, {}).ca_cert_pem);
  CHECK(ASN1_INTEGER_cmp(X509_get0_serialNumber(ca.get()), X509_get0_serialNumber(other.get())) != 0);
}

TEST_CASE("serving certificate: chain, SANs, EKU, key", "[tls]") {
  X509Ptr ca = parse_cert(bundle().ca_cert_pem);
  X509Ptr leaf = parse_cert(bundle().cert_pem);
  PkeyPtr key = parse_key(bundle().key_pem);

  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(leaf.get()), NID_commonName, cn, sizeof cn);
  CHECK(std::string(cn) == "omed-apiserver");
  CHECK(X509_NAME_cmp(X509_get_issuer_name(leaf.get()), X509_get_subject_name(ca.get())) == 0);

  SECTION("chain verifies with the CA as the only trust anchor") {
    int err = 0;
    CHECK(verify_chain(leaf.get(), ca.get(), &err) == 1);
    CHECK(err == X509_V_OK);
  }
  SECTION("a different CA does not verify it") {
    X509Ptr stranger = parse_cert(generate_serving_certs({"localhost"}, {}).ca_cert_pem);
    int err = 0;
    CHECK(verify_chain(leaf.get(), stranger.get(), &err) != 1);
    CHECK(err != X509_V_OK);
  }
  SECTION("the key matches and the signature is ECDSA P-256 with SHA-256") {
    CHECK(X509_check_private_key(leaf.get(), key.get()) == 1);
    CHECK(X509_get_signature_nid(leaf.get()) == NID_ecdsa_with_SHA256);
    CHECK(EVP_PKEY_is_a(key.get(), "EC") == 1);
    CHECK(EVP_PKEY_get_bits(key.get()) == 256);
    // The CA key must not match the leaf: they are separate key pairs.
    PkeyPtr ca_key = parse_key(bundle().ca_key_pem);
    CHECK(EVP_PKEY_eq(key.get(), ca_key.get()) != 1);
  }
  SECTION("extensions") {
    CHECK(X509_check_ca(leaf.get()) == 0);
    CHECK(ext_is_critical(leaf.get(), NID_key_usage));
    CHECK(X509_get_key_usage(leaf.get()) == KU_DIGITAL_SIGNATURE);
    CHECK((X509_get_extension_flags(leaf.get()) & EXFLAG_XKUSAGE) != 0);
    CHECK(X509_get_extended_key_usage(leaf.get()) == XKU_SSL_SERVER);
    // authorityKeyIdentifier names the CA's subjectKeyIdentifier.
    const ASN1_OCTET_STRING* akid = X509_get0_authority_key_id(leaf.get());
    REQUIRE(akid != nullptr);
    CHECK(ASN1_OCTET_STRING_cmp(akid, X509_get0_subject_key_id(ca.get())) == 0);
    int days = validity_days(leaf.get());
    CHECK(days >= 365);
    CHECK(days <= 366);
  }
  SECTION("SANs hold every DNS name and IP") {
    GenNamesPtr sans(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf.get(), NID_subject_alt_name, nullptr, nullptr)));
    REQUIRE(sans);
    std::set<std::string> dns;
    std::set<std::string> ips;
    for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans.get(), i);
      if (gn->type == GEN_DNS) {
        dns.insert(std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)),
                               static_cast<size_t>(ASN1_STRING_length(gn->d.dNSName))));
      } else if (gn->type == GEN_IPADD) {
        int len = ASN1_STRING_length(gn->d.iPAddress);
        char text[INET6_ADDRSTRLEN] = {};
        REQUIRE(inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(gn->d.iPAddress), text, sizeof text));
        ips.insert(text);
      }
    }
    CHECK(dns == std::set<std::string>{"localhost", "omed-apiserver.omed-system.svc"});
    CHECK(ips == std::set<std::string>{"127.0.0.1", "::1"});
    // And OpenSSL's own matchers agree.
    CHECK(X509_check_host(leaf.get(), "localhost", 0, 0, nullptr) == 1);
    CHECK(X509_check_host(leaf.get(), "omed-apiserver.omed-system.svc", 0, 0, nullptr) == 1);
    CHECK(X509_check_host(leaf.get(), "example.com", 0, 0, nullptr) == 0);
    CHECK(X509_check_ip_asc(leaf.get(), "127.0.0.1", 0) == 1);
    CHECK(X509_check_ip_asc(leaf.get(), "0:0:0:0:0:0:0:1", 0) == 1);
    CHECK(X509_check_ip_asc(leaf.get(), "127.0.0.2", 0) == 0);
  }
}

TEST_CASE("serving certificate: SAN input edge cases", "[tls]") {
  SECTION("IPv6 addresses in full and compressed forms") {
    auto b = generate_serving_certs({}, {"fd00::1", "2001:db8:0:0:0:0:0:42", "10.0.0.7"});
    X509Ptr leaf = parse_cert(b.cert_pem);
    CHECK(X509_check_ip_asc(leaf.get(), "fd00:0:0:0:0:0:0:1", 0) == 1);
    CHECK(X509_check_ip_asc(leaf.get(), "2001:db8::42", 0) == 1);
    CHECK(X509_check_ip_asc(leaf.get(), "10.0.0.7", 0) == 1);
    X509Ptr ca = parse_cert(b.ca_cert_pem);
    CHECK(verify_chain(leaf.get(), ca.get()) == 1);
  }
  SECTION("an invalid IP is a runtime_error naming it") {
    try {
      generate_serving_certs({"localhost"}, {"127.0.0.300"});
      FAIL("expected an exception");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find("127.0.0.300") != std::string::npos);
    }
    CHECK_THROWS_AS(generate_serving_certs({"localhost"}, {"not-an-ip"}), std::runtime_error);
    CHECK_THROWS_AS(generate_serving_certs({""}, {}), std::runtime_error);
  }
  SECTION("DNS names with config-syntax characters stay one SAN each") {
    // Through the "DNS:a,IP:b" config syntax this would have become two names.
    auto b = generate_serving_certs({"a.example,IP:1.2.3.4"}, {});
    X509Ptr leaf = parse_cert(b.cert_pem);
    CHECK(X509_check_ip_asc(leaf.get(), "1.2.3.4", 0) == 0);
    GenNamesPtr sans(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf.get(), NID_subject_alt_name, nullptr, nullptr)));
    REQUIRE(sans);
    CHECK(sk_GENERAL_NAME_num(sans.get()) == 1);
  }
}

TEST_CASE("TLS handshake over loopback verifies the server against the CA", "[tls]") {
  const CertBundle& b = bundle();

  SECTION("by hostname") {
    auto r = handshake(b, b.ca_cert_pem, AF_INET, "localhost", false);
    INFO(r.errors);
    CHECK(r.connected);
    CHECK(r.verify_result == X509_V_OK);
    CHECK(r.reply == "pong");
  }
  SECTION("by IPv4 address") {
    auto r = handshake(b, b.ca_cert_pem, AF_INET, "127.0.0.1", true);
    INFO(r.errors);
    CHECK(r.connected);
    CHECK(r.verify_result == X509_V_OK);
    CHECK(r.reply == "pong");
  }
  SECTION("by IPv6 address") {
    if (!ipv6_loopback_available()) {
      WARN("*** SKIPPING: no IPv6 loopback on this machine ***");
      return;
    }
    auto r = handshake(b, b.ca_cert_pem, AF_INET6, "::1", true);
    INFO(r.errors);
    CHECK(r.connected);
    CHECK(r.verify_result == X509_V_OK);
    CHECK(r.reply == "pong");
  }
  SECTION("a name outside the SANs is rejected") {
    auto r = handshake(b, b.ca_cert_pem, AF_INET, "kubernetes.default.svc", false);
    CHECK_FALSE(r.connected);
    CHECK(r.verify_result == X509_V_ERR_HOSTNAME_MISMATCH);
  }
  SECTION("an IP outside the SANs is rejected") {
    auto r = handshake(b, b.ca_cert_pem, AF_INET, "127.0.0.2", true);
    CHECK_FALSE(r.connected);
    CHECK(r.verify_result == X509_V_ERR_IP_ADDRESS_MISMATCH);
  }
  SECTION("a client trusting another CA is rejected") {
    auto other = generate_serving_certs({"localhost"}, {"127.0.0.1"});
    auto r = handshake(b, other.ca_cert_pem, AF_INET, "localhost", false);
    CHECK_FALSE(r.connected);
    CHECK(r.verify_result != X509_V_OK);
  }
}

TEST_CASE("bearer tokens: 32 random bytes, base64url without padding", "[tls]") {
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    std::string t = generate_token();
    REQUIRE(t.size() == 43);  // ceil(32 * 4 / 3) without '=' padding
    for (char c : t)
      REQUIRE((std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'));
    // The last two bytes fill 3 characters (18 bits for 16): the final one's low 2 bits are 0.
    CHECK(std::string("AEIMQUYcgkosw048").find(t.back()) != std::string::npos);
    seen.insert(t);
  }
  CHECK(seen.size() == 200);
}

TEST_CASE("kubeconfig renders valid YAML with the right fields", "[tls]") {
  const CertBundle& b = bundle();

  SECTION("https with CA data") {
    KubeconfigSpec spec;
    spec.server = "https://127.0.0.1:6443";
    spec.ca_cert_pem = b.ca_cert_pem;
    spec.token = "tok-123";
    YAML::Node y = YAML::Load(render_kubeconfig(spec));
    CHECK(y["apiVersion"].as<std::string>() == "v1");
    CHECK(y["kind"].as<std::string>() == "Config");
    REQUIRE(y["clusters"].IsSequence());
    REQUIRE(y["clusters"].size() == 1);
    CHECK(y["clusters"][0]["name"].as<std::string>() == "omed");
    CHECK(y["clusters"][0]["cluster"]["server"].as<std::string>() == "https://127.0.0.1:6443");
    std::string ca_data = y["clusters"][0]["cluster"]["certificate-authority-data"].as<std::string>();
    CHECK(base64_decode(ca_data) == b.ca_cert_pem);
    REQUIRE(y["users"].size() == 1);
    CHECK(y["users"][0]["name"].as<std::string>() == "omed-admin");
    CHECK(y["users"][0]["user"]["token"].as<std::string>() == "tok-123");
    REQUIRE(y["contexts"].size() == 1);
    CHECK(y["contexts"][0]["name"].as<std::string>() == "omed");
    CHECK(y["contexts"][0]["context"]["cluster"].as<std::string>() == "omed");
    CHECK(y["contexts"][0]["context"]["user"].as<std::string>() == "omed-admin");
    CHECK(y["contexts"][0]["context"]["namespace"].as<std::string>() == "default");
    CHECK(y["current-context"].as<std::string>() == "omed");
  }
  SECTION("plain http leaves the CA field out") {
    KubeconfigSpec spec;
    spec.server = "http://127.0.0.1:8080";
    spec.ca_cert_pem = b.ca_cert_pem;  // ignored for http
    spec.token = "t";
    YAML::Node y = YAML::Load(render_kubeconfig(spec));
    CHECK(y["clusters"][0]["cluster"]["server"].as<std::string>() == "http://127.0.0.1:8080");
    CHECK_FALSE(y["clusters"][0]["cluster"]["certificate-authority-data"].IsDefined());
  }
  SECTION("hostile names and values round-trip as plain strings") {
    KubeconfigSpec spec;
    spec.server = "https://[::1]:6443/#frag";
    spec.token = "a: b\n- c # d\t\"q\" 'x' \\ {e} [f] & * ! | > % @ `";
    spec.cluster_name = "true";
    spec.user_name = "~";
    spec.context_name = "0x10";
    spec.namespace_ = "caf\xc3\xa9 \xe2\x80\xa8 \xc2\x85 \x01 end";
    YAML::Node y = YAML::Load(render_kubeconfig(spec));
    CHECK(y["clusters"][0]["cluster"]["server"].as<std::string>() == spec.server);
    CHECK(y["users"][0]["user"]["token"].as<std::string>() == spec.token);
    CHECK(y["clusters"][0]["name"].as<std::string>() == "true");
    CHECK(y["users"][0]["name"].as<std::string>() == "~");
    CHECK(y["contexts"][0]["name"].as<std::string>() == "0x10");
    CHECK(y["contexts"][0]["context"]["namespace"].as<std::string>() == spec.namespace_);
    CHECK(y["current-context"].as<std::string>() == "0x10");
    // The scalars are strings, not a bool, a null or an int.
    CHECK(y["users"][0]["name"].Tag() == "!");
  }
}

TEST_CASE("kubectl reads the written kubeconfig", "[tls]") {
  if (!on_path("kubectl")) {
    WARN("\n*** SKIPPING kubectl check: kubectl is not on PATH; the kubeconfig was only checked with yaml-cpp ***\n");
    return;
  }
  omed::testing::TempDir dir;
  std::string path = (dir.path() / "kubeconfig").string();
  KubeconfigSpec spec;
  spec.server = "https://127.0.0.1:6443";
  spec.ca_cert_pem = bundle().ca_cert_pem;
  spec.token = generate_token();
  spec.namespace_ = "omed-system";
  write_private_file(path, render_kubeconfig(spec));

  // HOME points into the temp dir so kubectl never touches the user's own ~/.kube.
  std::string env = "HOME=" + shell_quote(dir.path().string()) + " KUBECONFIG= ";
  std::string base = env + "kubectl config view --kubeconfig " + shell_quote(path) + " ";
  auto server = run(base + "-o jsonpath='{.clusters[0].cluster.server}'");
  CHECK(server.second == 0);
  CHECK(server.first == "https://127.0.0.1:6443");
  auto token = run(base + "--raw -o jsonpath='{.users[0].user.token}'");
  CHECK(token.first == spec.token);
  auto ca = run(base + "--raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}'");
  CHECK(base64_decode(ca.first) == spec.ca_cert_pem);
  auto ns = run(base + "--minify -o jsonpath='{.contexts[0].context.namespace}'");
  CHECK(ns.first == "omed-system");
  auto current = run(env + "kubectl config current-context --kubeconfig " + shell_quote(path));
  CHECK(current.first == "omed\n");

  // go-yaml (YAML 1.1) under kubectl reads the quoted hostile scalars back unchanged, too.
  KubeconfigSpec hostile = spec;
  hostile.token = "a: b # c \"q\" 'x' \\ {e} [f] & * ! | > % @ `";
  hostile.cluster_name = "true";
  hostile.namespace_ = "caf\xc3\xa9 \xe2\x80\xa8 \xc2\x85 end";
  write_private_file(path, render_kubeconfig(hostile));
  CHECK(run(base + "--raw -o jsonpath='{.users[0].user.token}'").first == hostile.token);
  CHECK(run(base + "-o jsonpath='{.contexts[0].context.cluster}'").first == "true");
  CHECK(run(base + "-o jsonpath='{.contexts[0].context.namespace}'").first == hostile.namespace_);
}

TEST_CASE("write_private_file: atomic replace with mode 0600", "[tls]") {
  omed::testing::TempDir dir;
  fs::path path = dir.path() / "admin.kubeconfig";

  SECTION("new file") {
    write_private_file(path.string(), "secret\n");
    CHECK(omed::testing::read_file(path) == "secret\n");
    struct stat st{};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
  }
  SECTION("replacing a world-readable file tightens the mode and leaves no temporary behind") {
    omed::testing::write_file(path, "old");
    fs::permissions(path, fs::perms(0644));
    std::string big(1 << 20, 'x');
    write_private_file(path.string(), big);
    CHECK(omed::testing::read_file(path) == big);
    struct stat st{};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    int entries = 0;
    for ([[maybe_unused]] auto& e : fs::directory_iterator(dir.path()))
      ++entries;
    CHECK(entries == 1);
  }
  SECTION("a restrictive umask still yields exactly 0600") {
    mode_t old = ::umask(0277);
    write_private_file(path.string(), "x");
    ::umask(old);
    struct stat st{};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
  }
  SECTION("a relative path without a directory part") {
    auto cwd = fs::current_path();
    fs::current_path(dir.path());
    write_private_file("token", "abc");
    fs::current_path(cwd);
    CHECK(omed::testing::read_file(dir.path() / "token") == "abc");
  }
  SECTION("errors name the path") {
    std::string bad = (dir.path() / "missing" / "file").string();
    try {
      write_private_file(bad, "x");
      FAIL("expected an exception");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find(bad) != std::string::npos);
    }
  }
}
