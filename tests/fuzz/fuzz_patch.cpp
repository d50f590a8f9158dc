// libFuzzer target for the PATCH engines and field ownership: whatever a client sends as target
// and patch, every engine must answer with a result or a PatchError, never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "omed/apiserver/apply.hpp"
#include "omed/apiserver/patch.hpp"
#include "omed/common/json.hpp"

namespace {

using omed::apiserver::PatchError;
namespace json = omed::json;

constexpr size_t kMaxInput = 64 * 1024;

constexpr std::string_view kDefaultTarget = R"({"apiVersion":"apps/v1","kind":"Deployment",
  "metadata":{"name":"d","labels":{"a":"1"},"finalizers":["f"],"managedFields":[
    {"manager":"m","operation":"Apply","apiVersion":"apps/v1","fieldsType":"FieldsV1",
     "fieldsV1":{"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{}}}}}}}}]},
  "spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"c","image":"i","env":[{"name":"E","value":"v"}]}],
          "volumes":[{"name":"v","emptyDir":{}}]}}}})";

const char* const kKinds[] = {"Deployment", "Pod", "CronJob", "Service", "Node", "ConfigMap", "StatefulSet", "Custom"};

// Exercises the API the way the server does; only PatchError is an acceptable failure.
template <typename Fn>
void guarded(Fn&& fn) {
  try {
    fn();
  } catch (const PatchError&) {
  }
}

}  // namespace

// Input: <target JSON>\0<patch JSON>\0<selector byte>. A bare JSON document (a seed written by
// hand) is the patch against a small Deployment; without a selector byte the length stands in.
// The selector picks the kind for the merge keys, force, subresource and whether apply gets an
// explicit lookup.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > kMaxInput)
    return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view parts[3];
  size_t n = 0, start = 0;
  for (size_t nul; n < 2 && (nul = in.find('\0', start)) != std::string_view::npos; start = nul + 1)
    parts[n++] = in.substr(start, nul - start);
  parts[n++] = in.substr(start);
  std::string_view target_text = n == 1 ? kDefaultTarget : parts[0];
  std::string_view patch_text = n == 1 ? parts[0] : parts[1];
  const uint8_t selector = n == 3 && !parts[2].empty() ? static_cast<uint8_t>(parts[2][0]) : static_cast<uint8_t>(size);

  json::Value target, patch;
  std::string err;
  if (!json::try_parse(target_text, target, err) || !json::try_parse(patch_text, patch, err))
    return 0;

  std::string kind = kKinds[selector & 7];
  if (const json::Value* k = target.get("kind"); k && k->is_string() && (selector & 8))
    kind = k->as_string();
  omed::apiserver::StrategyLookup lists = [kind](const std::vector<std::string>& path) {
    return omed::apiserver::builtin_list_strategy(kind, path);
  };

  json::Value merged = omed::apiserver::merge_patch(target, patch);
  guarded([&] { omed::apiserver::json_patch(target, patch); });
  guarded([&] { omed::apiserver::strategic_merge_patch(target, patch, lists); });

  // Apply the patch as a configuration onto the target, then let another manager apply the
  // target over the result, and record the merge patch as an update: this walks managedFields
  // written by the module itself as well as whatever the input carried.
  guarded([&] {
    omed::apiserver::ApplyOptions o;
    o.manager = "fuzz";
    o.force = (selector & 16) != 0;
    o.api_version = "v1";
    o.time = "2024-01-01T00:00:00Z";
    o.subresource = (selector & 32) ? "status" : "";
    if (selector & 64)
      o.lists = lists;
    auto first = omed::apiserver::server_side_apply(target.is_object() ? target : json::Value{}, patch, o);
    o.manager = "other";
    o.force = !o.force;
    if (first.object.is_object() && target.is_object())
      omed::apiserver::server_side_apply(first.object, target, o);
  });
  guarded([&] {
    omed::apiserver::track_update(target, merged, "updater", "v1", "2024-01-02T00:00:00Z", "");
  });
  return 0;
}
