// OCI API request signing (signature version 1): an HTTP signature over (request-target), host
// and date with the user's RSA key, in the Authorization header.
//
// References (protocol facts only): Oracle Cloud Infrastructure documentation, "Request
// Signatures" (required headers per method, keyId = TENANCY_OCID/USER_OCID/KEY_FINGERPRINT,
// algorithm rsa-sha256, the Signature scheme in Authorization) and the IETF draft it builds on,
// draft-cavage-http-signatures-08 section 2.3 (the signing string).
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>

#include "http_get.hpp"
#include "omed/common/base64.hpp"
#include "omed/common/strings.hpp"
#include "omed/model/sources.hpp"

namespace omed::model {

std::string oci_signing_string(std::string_view method, std::string_view url, std::string_view date,
                               const std::vector<std::string>& headers) {
  auto u = net::parse_url(url);
  if (!u)
    return {};
  std::string out;
  for (auto& h : headers) {
    if (!out.empty())
      out += '\n';
    if (h == "(request-target)")
      out += "(request-target): " + str::lower(method) + " " + u->target();
    else if (h == "host")
      out += "host: " + u->host_header();
    else if (h == "date")
      out += "date: " + std::string(date);
  }
  return out;
}

namespace {

const std::vector<std::string>& signed_headers() {
  static const std::vector<std::string> h = {"(request-target)", "host", "date"};
  return h;
}

class OciAuthorizer : public RequestAuthorizer {
public:
  OciAuthorizer(EVP_PKEY* key, std::string key_id, std::string origin)
    : key_(key), key_id_(std::move(key_id)), origin_(std::move(origin)) {}
  ~OciAuthorizer() override { EVP_PKEY_free(key_); }

  HeaderList headers_for(std::string_view method, std::string_view url) const override {
    auto u = net::parse_url(url);
    if (!u || u->origin() != origin_)
      return {};
    std::string date = net::http_date(std::time(nullptr));
    std::string to_sign = oci_signing_string(method, url, date, signed_headers());
    std::string sig = sign(to_sign);
    if (sig.empty())
      return {{"date", date}};
    std::string names;
    for (auto& h : signed_headers())
      names += (names.empty() ? "" : " ") + h;
    std::string auth = "Signature version=\"1\",keyId=\"" + key_id_ + "\",algorithm=\"rsa-sha256\",headers=\"" +
                       names + "\",signature=\"" + sig + "\"";
    return {{"date", date}, {"Authorization", auth}};
  }

private:
  std::string sign(const std::string& data) const {
    // An EVP_PKEY may be shared between threads for signing, but the mutex keeps us clear of
    // older OpenSSL builds that cache state in the key.
    std::lock_guard<std::mutex> lock(mu_);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_) != 1)
      return {};
    size_t len = 0;
    if (EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
      return {};
    std::string out(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
      return {};
    out.resize(len);
    return common::base64_encode(out);
  }

  EVP_PKEY* key_;
  const std::string key_id_;
  const std::string origin_;
  mutable std::mutex mu_;
};

}  // namespace

std::shared_ptr<RequestAuthorizer> make_oci_authorizer(const OciCredentials& creds, std::string origin,
                                                       std::string& error) {
  if (creds.tenancy.empty() || creds.user.empty() || creds.fingerprint.empty() || creds.private_key_pem.empty()) {
    error = "OCI credentials need the tenancy OCID, user OCID, key fingerprint and private key";
    return nullptr;
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
    BIO_new_mem_buf(creds.private_key_pem.data(), static_cast<int>(creds.private_key_pem.size())), BIO_free);
  if (!bio) {
    error = "cannot read the OCI private key";
    return nullptr;
  }
  // Our own callback: OpenSSL's default one would prompt on a terminal for an encrypted key.
  auto cb = [](char* buf, int size, int, void* user) -> int {
    auto* pass = static_cast<const std::string*>(user);
    if (pass->empty() || static_cast<int>(pass->size()) > size)
      return 0;
    std::memcpy(buf, pass->data(), pass->size());
    return static_cast<int>(pass->size());
  };
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, cb, const_cast<std::string*>(&creds.passphrase));
  if (!key) {
    error = "the OCI private key is not a readable PEM private key (wrong format or passphrase)";
    return nullptr;
  }
  if (EVP_PKEY_base_id(key) != EVP_PKEY_RSA) {
    EVP_PKEY_free(key);
    error = "the OCI private key must be an RSA key (API signing keys are RSA)";
    return nullptr;
  }
  return std::make_shared<OciAuthorizer>(key, creds.key_id(), std::move(origin));
}

}  // namespace omed::model
