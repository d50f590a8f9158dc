// Certificates and kubeconfig for the embedded API server: a throwaway CA and a serving
// certificate for loopback names, and a kubeconfig that kubectl and client libraries accept.
#pragma once

#include <string>
#include <vector>

namespace omed::apiserver {

struct CertBundle {
  std::string ca_cert_pem;
  std::string ca_key_pem;
  std::string cert_pem;  // serving certificate, signed by the CA
  std::string key_pem;
};

// A new CA (valid 10 years) and a serving certificate for `dns_names` and `ips` (SANs), ECDSA
// P-256, signed by that CA. Throws std::runtime_error on OpenSSL failure.
CertBundle generate_serving_certs(const std::vector<std::string>& dns_names, const std::vector<std::string>& ips);

// A bearer token: 32 random bytes, base64url without padding.
std::string generate_token();

struct KubeconfigSpec {
  std::string server;        // "https://127.0.0.1:6443" or "http://..."
  std::string ca_cert_pem;   // empty for plain http
  std::string token;
  std::string cluster_name = "omed";
  std::string user_name = "omed-admin";
  std::string context_name = "omed";
  std::string namespace_ = "default";
};

// kubeconfig YAML (clusters/users/contexts/current-context, CA as certificate-authority-data).
std::string render_kubeconfig(const KubeconfigSpec& spec);

// Writes `content` to `path` with mode 0600 via a temporary file and rename.
void write_private_file(const std::string& path, const std::string& content);

}  // namespace omed::apiserver
