// libFuzzer target for what the API server parses before touching storage: the request path,
// the query string, JSON and YAML bodies, and admission of an ome.io manifest.
#include <cstddef>
#include <cstdint>
#include <string>

#include "../../src/apiserver/internal.hpp"
#include "omed/api/validation.hpp"
#include "omed/common/yaml.hpp"
#include "omed/http/server.hpp"

using namespace omed;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024)
    return 0;
  std::string in(reinterpret_cast<const char*>(data), size);
  // First line: a request target; the rest: a body.
  auto nl = in.find('\n');
  std::string target = in.substr(0, nl);
  std::string body = nl == std::string::npos ? "" : in.substr(nl + 1);
  auto q = target.find('?');
  apiserver::ApiRequest r;
  apiserver::parse_api_path(http::url_decode(target.substr(0, q)), r);
  if (q != std::string::npos)
    for (auto& kv : http::parse_query(target.substr(q + 1)))
      r.q[kv.first] = kv.second;
  json::Value v;
  std::string err;
  if (json::try_parse(body, v, err)) {
    (void)json::dump(v);
    if (v.is_object())
      (void)api::validate_object(api::default_object(v));
  }
  try {
    for (auto& doc : yaml::parse_all(body))
      (void)json::dump(doc);
  } catch (const yaml::Error&) {
  }
  return 0;
}
