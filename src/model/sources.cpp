// list_model_files: picks the source for a storage URI and makes sure no credential ever leaves
// in a user-facing message, whatever a server echoed back.
#include <string>

#include "sources_internal.hpp"

namespace omed::model {
namespace {

class AnonymousAuthorizer : public RequestAuthorizer {
public:
  HeaderList headers_for(std::string_view, std::string_view) const override { return {}; }
};

void scrub(std::string& text, const std::string& secret) {
  // Short values ("a", "1") would mangle messages and are not worth hiding from them anyway.
  if (secret.size() < 4)
    return;
  for (size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos))
    text.replace(pos, secret.size(), "***");
}

}  // namespace

std::shared_ptr<RequestAuthorizer> make_anonymous_authorizer() {
  return std::make_shared<AnonymousAuthorizer>();
}

ListResult list_model_files(const StorageUri& uri, const SourceConfig& cfg) {
  ListResult r;
  switch (uri.type) {
    case StorageType::HuggingFace: r = detail::list_hf(uri, cfg); break;
    case StorageType::S3: r = detail::list_s3(uri, cfg); break;
    case StorageType::OCI: r = detail::list_oci(uri, cfg); break;
    case StorageType::Http: r = detail::list_http(uri, cfg); break;
    default:
      r = detail::fail("Unsupported", std::string("listing remote files is not supported for ") +
                                        storage_type_name(uri.type) + ":// storage URIs");
  }
  const auto& c = cfg.credentials;
  for (auto* secret : {&c.hf_token, &c.s3_secret_access_key, &c.s3_session_token, &c.oci_private_key_pem,
                       &c.oci_private_key_passphrase}) {
    scrub(r.error, *secret);
  }
  if (r.ok && !r.authorizer)
    r.authorizer = make_anonymous_authorizer();
  if (!r.ok)
    r.authorizer.reset();
  return r;
}

}  // namespace omed::model
