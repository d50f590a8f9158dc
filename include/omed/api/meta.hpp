// Field metadata for omed's API types: one description per field drives the JSON codec,
// the CRD schema generator and validation, so the three can never disagree.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>

namespace omed::api {

// Designated initializers must follow this member order.
struct Meta {
  const char* doc = "";
  bool required = false;
  std::initializer_list<const char*> enums = {};       // allowed string values
  std::initializer_list<const char*> item_enums = {};  // allowed values of array items
  const char* pattern = nullptr;
  std::optional<int64_t> minimum = std::nullopt;
  std::optional<int64_t> maximum = std::nullopt;
  int64_t min_length = -1;
  const char* default_json = nullptr;  // CRD default, as JSON text
  const char* k8s = nullptr;           // json::Value fields: the Kubernetes OpenAPI component
  bool free_form = false;              // x-kubernetes-preserve-unknown-fields
  bool int_or_string = false;          // x-kubernetes-int-or-string
  bool quantity = false;               // a resource.Quantity (int-or-string with its pattern)
  const char* list_type = nullptr;     // x-kubernetes-list-type
  const char* list_map_key = nullptr;  // x-kubernetes-list-map-keys (single key)
  const char* map_type = nullptr;      // x-kubernetes-map-type
  const char* format = nullptr;        // OpenAPI format (date-time, int32, ...)
};

// For inline Kubernetes types (a PodSpec or Container embedded in an omed struct).
struct InlineMeta {
  // Properties of the referenced type that become optional when inlined (OME's PodSpec copy
  // makes `containers` optional).
  std::initializer_list<const char*> optional = {};
};

}  // namespace omed::api
