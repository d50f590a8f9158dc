// The PATCH engines of the embedded API server: JSON merge patch (RFC 7386), JSON patch
// (RFC 6902) and Kubernetes strategic merge patch for built-in kinds. Pure functions.
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "omed/common/json.hpp"

namespace omed::apiserver {

// A patch that cannot be applied. `code` is the HTTP status the API server answers with:
// 400 (malformed patch document) or 422 (well-formed but not applicable: failed "test",
// missing path, bad index, a $patch directive that makes no sense).
class PatchError : public std::runtime_error {
public:
  PatchError(int code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  int code() const { return code_; }

private:
  int code_;
};

// RFC 7386: objects merge recursively, null deletes, everything else (arrays too) replaces.
json::Value merge_patch(const json::Value& target, const json::Value& patch);

// RFC 6902 on a copy of `target`: add, remove, replace, move, copy, test; JSON pointers with
// ~0/~1 escapes and "-" for appending. Throws PatchError.
json::Value json_patch(const json::Value& target, const json::Value& ops);

// How lists at a path merge in a strategic merge patch. The path is the list of object keys
// from the root, with "[]" standing for "inside an element of a list"
// (e.g. {"spec","template","spec","containers","[]","env"}).
struct ListStrategy {
  std::optional<std::string> merge_key;  // merge elements by this key (containers: "name")
  bool merge_primitives = false;         // a list of scalars with patchStrategy=merge: union
  bool retain_keys = false;              // patchStrategy "merge,retainKeys" (volumes)
};
using StrategyLookup = std::function<ListStrategy(const std::vector<std::string>& path)>;

// The merge keys Kubernetes declares for the built-in kinds omed serves (pods, deployments,
// jobs, services, ...), for use when no OpenAPI document is loaded.
ListStrategy builtin_list_strategy(const std::string& kind, const std::vector<std::string>& path);

// Kubernetes strategic merge patch (apimachinery/pkg/util/strategicpatch): maps merge, null
// deletes, lists merge by key where the schema says so and are replaced otherwise; directives
// $patch (replace, merge, delete), $retainKeys, $deleteFromPrimitiveList/<field> and
// $setElementOrder/<field>. Throws PatchError.
json::Value strategic_merge_patch(const json::Value& target, const json::Value& patch,
                                  const StrategyLookup& strategy);

}  // namespace omed::apiserver
