// Standard base64 (RFC 4648 §4, with padding), as Kubernetes uses it for Secret data and
// kubeconfig certificates.
#pragma once

#include <string>
#include <string_view>

namespace omed::common {

// Accepts padded or unpadded input and skips whitespace (Go's decoder skips line breaks, so
// wrapped data from hand-edited files decodes too). False on any other character or truncation.
bool base64_decode(std::string_view in, std::string& out);
std::string base64_encode(std::string_view in);

}  // namespace omed::common
