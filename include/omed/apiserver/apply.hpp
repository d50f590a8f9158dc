// Server-side apply (application/apply-patch+yaml): field ownership per manager recorded in
// metadata.managedFields (FieldsV1), conflicts unless forced, and removal of fields a manager
// stopped applying when nobody else owns them.
#pragma once

#include <string>
#include <vector>

#include "omed/apiserver/patch.hpp"
#include "omed/common/json.hpp"

namespace omed::apiserver {

struct ApplyConflict {
  std::string manager;  // the manager that owns the field now
  std::string field;    // ".spec.replicas" or ".data.key" (kubectl prints these)
};

struct ApplyResult {
  json::Value object;                   // the merged object, metadata.managedFields updated
  std::vector<ApplyConflict> conflicts; // non-empty: the apply was refused (409 unless force)
};

struct ApplyOptions {
  std::string manager;  // fieldManager (required by the caller's validation)
  bool force = false;   // take over conflicting fields
  std::string api_version;      // recorded in managedFields entries
  std::string time;             // RFC 3339 time recorded in managedFields entries
  std::string subresource;      // "" or "status"
  // List semantics (merge keys) for lists the applied config touches; lists without a key are
  // atomic (owned and replaced as a whole).
  StrategyLookup lists;
};

// `live` is the current object (null when absent: apply creates it). `config` is the applied
// configuration (already parsed from YAML/JSON). Fields other managers set to a different
// value are conflicts; with `force` the applier takes them over.
ApplyResult server_side_apply(const json::Value& live, const json::Value& config, const ApplyOptions& opts);

// Records an Update-operation ownership entry for `manager` covering every field that changed
// between `before` and `after` (what PUT/PATCH/POST do to managedFields). Fields move from
// other managers to this one.
json::Value track_update(const json::Value& before, const json::Value& after, const std::string& manager,
                         const std::string& api_version, const std::string& time, const std::string& subresource);

}  // namespace omed::apiserver
