// Where the API server is and how to authenticate to it: kubeconfig files (contexts, CA, client
// certificates, tokens, token files, exec credential plugins) or a pod's service account.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

namespace omed::k8s {

// A kubeconfig or in-cluster setting that cannot be used; the message names the file and field.
class ConfigError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Supplies the bearer token for each request. Implementations cache what they can: a token file
// is re-read as it rotates, an exec plugin is re-run when its credential expires.
class TokenSource {
public:
  virtual ~TokenSource() = default;
  // The current token; throws ConfigError when it cannot be obtained (plugin failed, file gone).
  virtual std::string token() = 0;
  // The server answered 401 with the last token: drop any cached credential.
  virtual void invalidate() {}
};

// Everything a client needs to reach one API server.
struct RestConfig {
  std::string server;                   // "https://127.0.0.1:6443", no trailing slash
  std::string ca_pem;                   // CA bundle (PEM); empty: the system's roots
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;          // SNI and name to verify, when not the server's host
  std::string client_cert_pem;          // client certificate authentication (PEM)
  std::string client_key_pem;
  std::shared_ptr<TokenSource> token;   // null: no bearer token
  std::string namespace_ = "default";  // the context's namespace (or the pod's)
  std::string context;                  // the context used ("in-cluster" inside a pod), for logs
};

struct KubeconfigOptions {
  std::string path;     // explicit file (--kubeconfig); empty: $KUBECONFIG (colon list), else ~/.kube/config
  std::string context;  // overrides current-context
  std::chrono::seconds token_reread{60};  // a user's tokenFile is re-read at least this often
};

// Loads and merges kubeconfig files as kubectl does (first file to set a value wins).
RestConfig load_kubeconfig(const KubeconfigOptions& opts = {});

struct InClusterOptions {
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  std::chrono::seconds token_reread{60};  // projected tokens rotate; re-read at least this often
};

// True when running in a pod: KUBERNETES_SERVICE_HOST/PORT are set and the token file exists.
bool in_cluster_available(const InClusterOptions& opts = {});
RestConfig in_cluster_config(const InClusterOptions& opts = {});

// An explicit kubeconfig path or $KUBECONFIG wins; else in-cluster when available; else
// ~/.kube/config (controller-runtime's order).
RestConfig load_config(const KubeconfigOptions& opts = {}, const InClusterOptions& in_cluster = {});

}  // namespace omed::k8s
