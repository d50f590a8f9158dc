// Maps apiVersion/kind to resource names and scope through the server's discovery documents
// (aggregated v2 when offered, else the legacy per-group-version lists), re-discovering on a miss.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "omed/k8s/resource.hpp"

namespace omed::k8s {

class RestClient;

class Discovery {
public:
  explicit Discovery(RestClient& client, std::chrono::seconds min_refresh_interval = std::chrono::seconds(2));

  // Resolves a kind; refreshes from the server when it is unknown (a CRD created since), at most
  // once per min_refresh_interval. nullopt when the server does not serve it.
  std::optional<ResourceInfo> resolve(const std::string& api_version, const std::string& kind);
  // Every resource the server serves (after a refresh if never fetched).
  std::vector<ResourceInfo> resources();
  // Fetches the documents now; throws ApiError/TransportError.
  void refresh();
  // Which documents the last refresh used: "aggregated" or "legacy".
  std::string last_format() const;

private:
  RestClient& client_;
  std::chrono::seconds min_refresh_;
  mutable std::mutex mu_;
  std::vector<ResourceInfo> resources_;
  std::chrono::steady_clock::time_point last_refresh_{};
  bool fetched_ = false;
  std::string format_;
};

// Parses discovery documents (exposed for tests with golden files).
std::vector<ResourceInfo> parse_aggregated_discovery(const std::string& body);
std::vector<ResourceInfo> parse_api_resource_list(const std::string& body);  // one GV's APIResourceList

}  // namespace omed::k8s
