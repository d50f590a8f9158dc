// Typed Kubernetes API calls over RestClient: get, paginated list, create, update (with
// resourceVersion), status, patches (merge, JSON, server-side apply), delete. Errors are ApiError.
#pragma once

#include <functional>

#include <optional>
#include <string>

#include "omed/common/json.hpp"
#include "omed/k8s/api_error.hpp"
#include "omed/k8s/resource.hpp"
#include "omed/k8s/rest_client.hpp"

namespace omed::k8s {

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;   // "" most recent, "0" any
  // "NotOlderThan" or "Exact". Unset with a limit and a resource_version means Exact on a real
  // API server: a reflector catching up after a 410 wants NotOlderThan.
  std::string resource_version_match;
  // Applied to each item as its page arrives, before the next page is read: trimming here (e.g.
  // managedFields) keeps a long list's peak memory to the trimmed objects.
  std::function<void(json::Value&)> transform;
  int limit = 500;                // page size; 0: no pagination
};

struct ListResult {
  std::vector<json::Value> items;  // each with apiVersion/kind filled in (typed lists omit them)
  std::string resource_version;    // the list's, the watch start point
};

enum class PatchType { Merge, Json, Apply };
const char* content_type(PatchType t);

struct WriteOptions {
  bool dry_run = false;
  std::string field_manager = "omed";
  bool force = false;              // apply patches only
};

struct DeleteOptions {
  std::string propagation;         // "", Background, Foreground, Orphan
  std::string precondition_uid;
  std::string precondition_rv;
  bool dry_run = false;
};

class Client {
public:
  explicit Client(RestClient& rest) : rest_(rest) {}

  json::Value get(const ResourceInfo& r, const std::string& ns, const std::string& name,
                  const std::string& subresource = {});
  std::optional<json::Value> try_get(const ResourceInfo& r, const std::string& ns, const std::string& name);
  // Follows continue tokens to the end; a 410 on a continue restarts the list from scratch once.
  ListResult list(const ResourceInfo& r, const std::string& ns, const ListOptions& opts = {});
  json::Value create(const ResourceInfo& r, const json::Value& obj, const WriteOptions& w = {});
  // PUT with the object's metadata.resourceVersion (a Conflict surfaces as ApiError).
  json::Value update(const ResourceInfo& r, const json::Value& obj, const WriteOptions& w = {});
  json::Value update_status(const ResourceInfo& r, const json::Value& obj, const WriteOptions& w = {});
  json::Value patch(const ResourceInfo& r, const std::string& ns, const std::string& name, PatchType type,
                    const std::string& body, const WriteOptions& w = {}, const std::string& subresource = {});
  // Server-side apply of a whole object with the field manager.
  json::Value apply(const ResourceInfo& r, const json::Value& obj, const WriteOptions& w = {});
  // True when deleted or already gone (404 counts as success); the response may be a Status or the
  // object (finalizers pending).
  bool remove(const ResourceInfo& r, const std::string& ns, const std::string& name, const DeleteOptions& d = {});

  RestClient& rest() { return rest_; }

private:
  json::Value call(const std::string& method, const std::string& target, const std::string& body,
                   const std::string& content_type);
  RestClient& rest_;
};

// ns/name of an object, for paths.
std::string namespace_of(const json::Value& obj);
std::string name_of(const json::Value& obj);

}  // namespace omed::k8s
