// Discovery: the aggregated v2 documents from /api and /apis in two requests when the server
// offers them (by the response's Content-Type), else /api/v1 and every /apis/{g}/{v} list.
#include "omed/k8s/discovery.hpp"

#include "omed/common/json.hpp"
#include "omed/k8s/api_error.hpp"
#include "omed/k8s/rest_client.hpp"

namespace omed::k8s {

namespace {

const char* kAggregatedAccept =
  "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
  "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

json::Value parse_or_throw(const std::string& what, const std::string& body) {
  json::Value v;
  std::string err;
  if (!json::try_parse(body, v, err) || !v.is_object())
    throw ApiError(500, "InternalError", "discovery " + what + ": not a JSON object: " + err);
  return v;
}

HttpResponse get_ok(RestClient& c, const std::string& target, const std::string& accept) {
  auto r = c.request("GET", target, {}, {}, {{"Accept", accept}});
  if (r.code != 200)
    throw error_from_response(r.code, r.body, r.header("retry-after"));
  return r;
}

}  // namespace

std::vector<ResourceInfo> parse_aggregated_discovery(const std::string& body) {
  auto doc = parse_or_throw("APIGroupDiscoveryList", body);
  std::vector<ResourceInfo> out;
  auto* items = doc.get("items");
  if (!items || !items->is_array())
    return out;
  for (auto& g : items->as_array()) {
    auto* name = g.at_path("metadata.name");
    std::string group = name && name->is_string() ? name->as_string() : "";
    auto* versions = g.get("versions");
    if (!versions || !versions->is_array())
      continue;
    for (auto& v : versions->as_array()) {
      std::string version = v.string_or("version");
      auto* resources = v.get("resources");
      if (!resources || !resources->is_array())
        continue;
      for (auto& r : resources->as_array()) {
        ResourceInfo ri;
        ri.group = group;
        ri.version = version;
        ri.resource = r.string_or("resource");
        auto* kind = r.at_path("responseKind.kind");
        ri.kind = kind && kind->is_string() ? kind->as_string() : "";
        ri.namespaced = r.string_or("scope") == "Namespaced";
        if (!ri.resource.empty() && !ri.kind.empty())
          out.push_back(std::move(ri));
      }
    }
  }
  return out;
}

std::vector<ResourceInfo> parse_api_resource_list(const std::string& body) {
  auto doc = parse_or_throw("APIResourceList", body);
  std::vector<ResourceInfo> out;
  std::string gv = doc.string_or("groupVersion");
  auto slash = gv.find('/');
  std::string group = slash == std::string::npos ? "" : gv.substr(0, slash);
  std::string version = slash == std::string::npos ? gv : gv.substr(slash + 1);
  auto* resources = doc.get("resources");
  if (!resources || !resources->is_array())
    return out;
  for (auto& r : resources->as_array()) {
    std::string name = r.string_or("name");
    if (name.empty() || name.find('/') != std::string::npos)
      continue;  // subresources ("pods/status") are not kinds of their own
    ResourceInfo ri{group, version, name, r.string_or("kind"), r.get("namespaced") && r.get("namespaced")->is_bool() &&
                                                                    r.get("namespaced")->as_bool()};
    if (!ri.kind.empty())
      out.push_back(std::move(ri));
  }
  return out;
}

Discovery::Discovery(RestClient& client, std::chrono::seconds min_refresh_interval)
  : client_(client), min_refresh_(min_refresh_interval) {}

void Discovery::refresh() {
  std::vector<ResourceInfo> all;
  std::string format = "aggregated";
  for (const char* root : {"/api", "/apis"}) {
    auto r = get_ok(client_, root, kAggregatedAccept);
    if (r.header("content-type").find("as=APIGroupDiscoveryList") != std::string::npos) {
      auto part = parse_aggregated_discovery(r.body);
      all.insert(all.end(), part.begin(), part.end());
      continue;
    }
    // A server without aggregated discovery: walk the group versions one by one.
    format = "legacy";
    auto doc = parse_or_throw(root, r.body);
    std::vector<std::string> gvs;
    if (std::string(root) == "/api") {
      if (auto* vs = doc.get("versions"); vs && vs->is_array())
        for (auto& v : vs->as_array())
          if (v.is_string())
            gvs.push_back("/api/" + v.as_string());
    } else if (auto* groups = doc.get("groups"); groups && groups->is_array()) {
      for (auto& g : groups->as_array())
        if (auto* vs = g.get("versions"); vs && vs->is_array())
          for (auto& v : vs->as_array())
            gvs.push_back("/apis/" + v.string_or("groupVersion"));
    }
    for (auto& gv : gvs) {
      auto list = get_ok(client_, gv, "application/json");
      auto part = parse_api_resource_list(list.body);
      all.insert(all.end(), part.begin(), part.end());
    }
  }
  std::lock_guard<std::mutex> lk(mu_);
  resources_ = std::move(all);
  fetched_ = true;
  format_ = format;
  last_refresh_ = std::chrono::steady_clock::now();
}

std::optional<ResourceInfo> Discovery::resolve(const std::string& api_version, const std::string& kind) {
  auto find = [&]() -> std::optional<ResourceInfo> {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& r : resources_)
      if (r.kind == kind && r.api_version() == api_version)
        return r;
    return std::nullopt;
  };
  if (auto r = find())
    return r;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (fetched_ && std::chrono::steady_clock::now() - last_refresh_ < min_refresh_)
      return std::nullopt;  // a miss right after a refresh: do not hammer the server
  }
  refresh();  // a CRD created since the last look
  return find();
}

std::vector<ResourceInfo> Discovery::resources() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (fetched_)
      return resources_;
  }
  refresh();
  std::lock_guard<std::mutex> lk(mu_);
  return resources_;
}

std::string Discovery::last_format() const {
  std::lock_guard<std::mutex> lk(mu_);
  return format_;
}

}  // namespace omed::k8s
