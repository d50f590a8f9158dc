// Request paths of the Kubernetes API: /api/v1/... and /apis/GROUP/VERSION/..., namespaced or
// cluster-scoped, with an optional subresource. Kept apart so that fuzzers can link it alone.
#include "internal.hpp"
#include "omed/common/strings.hpp"

namespace omed::apiserver {

bool parse_api_path(const std::string& path, ApiRequest& r) {
  auto parts = str::split(path, '/');
  // parts[0] is "" (leading slash)
  std::vector<std::string> seg;
  for (size_t i = 1; i < parts.size(); ++i)
    seg.push_back(parts[i]);
  while (!seg.empty() && seg.back().empty())
    seg.pop_back();
  size_t i = 0;
  if (seg.size() >= 2 && seg[0] == "api") {
    r.group = "";
    r.version = seg[1];
    i = 2;
  } else if (seg.size() >= 3 && seg[0] == "apis") {
    r.group = seg[1];
    r.version = seg[2];
    i = 3;
  } else {
    return false;
  }
  std::vector<std::string> rest(seg.begin() + static_cast<long>(i), seg.end());
  for (auto& s : rest)
    if (s.empty())
      return false;
  if (rest.empty())
    return false;
  if (rest[0] == "namespaces" && rest.size() >= 3 &&
      !(rest.size() == 3 && (rest[2] == "status" || rest[2] == "finalize"))) {
    r.ns = rest[1];
    r.plural = rest[2];
    if (rest.size() >= 4)
      r.name = rest[3];
    if (rest.size() >= 5)
      r.sub = rest[4];
    return rest.size() <= 5;
  }
  r.plural = rest[0];
  if (rest.size() >= 2)
    r.name = rest[1];
  if (rest.size() >= 3)
    r.sub = rest[2];
  return rest.size() <= 3;
}

}  // namespace omed::apiserver
