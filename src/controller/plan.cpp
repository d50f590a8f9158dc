// The reconcile skeleton's decisions: which writes are still needed, what status to store and
// when a desired object already holds on the server. Pure functions, tested without actors.
#include "omed/controller/plan.hpp"

#include <algorithm>
#include <set>
#include <cstdio>
#include <ctime>

namespace omed::controller {

namespace {

std::string rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool is_server_metadata(const std::string& key) {
  static const char* fields[] = {"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields",
                                 "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"};
  return std::any_of(std::begin(fields), std::end(fields), [&](const char* f) { return key == f; });
}

bool subset(const json::Value& want, const json::Value& have, bool at_metadata) {
  if (want.is_object()) {
    if (!have.is_object())
      return false;
    for (auto& m : want.as_object()) {
      if (at_metadata && is_server_metadata(m.key))
        continue;
      auto* h = have.get(m.key);
      if (!h) {
        if (m.value.is_null())
          continue;  // asking for absence, and it is absent
        return false;
      }
      if (!subset(m.value, *h, false))
        return false;
    }
    return true;
  }
  if (want.is_number() && have.is_number())
    return want.as_double() == have.as_double();
  return want == have;
}

}  // namespace

std::string owned_key(const json::Value& obj) {
  auto* ns = obj.at_path("metadata.namespace");
  auto* name = obj.at_path("metadata.name");
  return obj.string_or("kind") + "/" + (ns && ns->is_string() ? ns->as_string() : "") + "/" +
         (name && name->is_string() ? name->as_string() : "");
}

OwnerRef controller_of(const json::Value& obj) {
  auto* refs = obj.at_path("metadata.ownerReferences");
  if (!refs || !refs->is_array())
    return {};
  for (auto& r : refs->as_array()) {
    auto* c = r.get("controller");
    if (c && c->is_bool() && c->as_bool())
      return {r.string_or("kind"), r.string_or("name"), r.string_or("uid")};
  }
  return {};
}

std::string owner_key(const json::Value& obj, const OwnerRef& owner, bool owner_namespaced) {
  auto* ns = obj.at_path("metadata.namespace");
  std::string n = ns && ns->is_string() ? ns->as_string() : "";
  // A namespaced owner lives in its dependents' namespace (ownerReferences cannot cross namespaces).
  return owner_namespaced && !n.empty() ? n + "/" + owner.name : owner.name;
}

const char* to_string(StepOp op) {
  switch (op) {
    case StepOp::AddFinalizer: return "add-finalizer";
    case StepOp::RemoveFinalizer: return "remove-finalizer";
    case StepOp::Apply: return "apply";
    case StepOp::Delete: return "delete";
    case StepOp::PatchSpec: return "patch-spec";
    case StepOp::Status: return "status";
    case StepOp::Event: return "event";
  }
  return "?";
}

bool has_finalizer(const json::Value& obj, const std::string& finalizer) {
  auto* f = obj.at_path("metadata.finalizers");
  if (!f || !f->is_array())
    return false;
  for (auto& v : f->as_array())
    if (v.is_string() && v.as_string() == finalizer)
      return true;
  return false;
}

const json::Value* find_condition(const json::Value& obj, const std::string& type) {
  auto* cs = obj.at_path("status.conditions");
  if (!cs || !cs->is_array())
    return nullptr;
  for (auto& c : cs->as_array())
    if (c.is_object() && c.string_or("type") == type)
      return &c;
  return nullptr;
}

bool is_deleting(const json::Value& obj) {
  auto* d = obj.at_path("metadata.deletionTimestamp");
  return d && !d->is_null();
}

int64_t generation_of(const json::Value& obj) {
  auto* md = obj.get("metadata");
  return md ? md->int_at("generation").value_or(0) : 0;
}

json::Value with_desired_hash(const json::Value& desired) {
  if (!desired.is_object())
    return desired;
  json::Value out = desired;
  if (auto* a = out.at_path("metadata.annotations"); a && a->is_object())
    out["metadata"]["annotations"].as_object().erase(kDesiredHashAnnotation);
  std::string text = json::dump(json::sorted(out));
  uint64_t h = 1469598103934665603ull;  // FNV-1a: stable across processes, so restarts apply nothing
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  out["metadata"]["annotations"][kDesiredHashAnnotation] = std::string(hex);
  return out;
}

bool subset_equal(const json::Value& desired, const json::Value& live) {
  if (!desired.is_object() || !live.is_object())
    return desired == live;
  for (auto& m : desired.as_object()) {
    auto* h = live.get(m.key);
    if (!h)
      return false;
    if (!subset(m.value, *h, m.key == "metadata"))
      return false;
  }
  return true;
}

json::Value desired_status(const json::Value& obj, const Plan& plan, std::chrono::system_clock::time_point now) {
  json::Value status = obj.get("status") && obj.get("status")->is_object() ? *obj.get("status") : json::Value(json::Object{});
  for (auto& m : plan.status) {
    if (m.value.is_null())
      status.as_object().erase(m.key);  // null in a plan means "no longer there"
    else
      status[m.key] = m.value;
  }
  if (!plan.conditions.empty() || !plan.drop_conditions.empty()) {
    json::Array current;
    if (auto* c = status.get("conditions"); c && c->is_array())
      for (auto& cond : c->as_array())
        if (std::find(plan.drop_conditions.begin(), plan.drop_conditions.end(), cond.string_or("type")) ==
            plan.drop_conditions.end())
          current.push_back(cond);
    for (auto& want : plan.conditions) {
      auto it = std::find_if(current.begin(), current.end(),
                             [&](const json::Value& c) { return c.string_or("type") == want.type; });
      std::string transition = rfc3339(now);
      if (it != current.end() && it->string_or("status") == want.status && !it->string_or("lastTransitionTime").empty())
        transition = it->string_or("lastTransitionTime");  // the status did not flip: keep when it last did
      json::Value c = json::Object{{"type", want.type},
                                   {"status", want.status},
                                   {"reason", want.reason},
                                   {"message", want.message},
                                   {"lastTransitionTime", transition}};
      if (generation_of(obj) > 0)
        c["observedGeneration"] = generation_of(obj);
      if (it != current.end())
        *it = std::move(c);
      else
        current.push_back(std::move(c));
    }
    status["conditions"] = std::move(current);
  }
  if (generation_of(obj) > 0)
    status["observedGeneration"] = generation_of(obj);
  return status;
}

std::vector<Step> steps_for(const json::Value& obj, const Plan& plan, const Owned& owned,
                            std::chrono::system_clock::time_point now) {
  std::vector<Step> steps;
  if (is_deleting(obj)) {
    // Never add a finalizer to a deleting object; remove ours once cleanup is done.
    if (has_finalizer(obj) && plan.cleanup_done)
      steps.push_back({StepOp::RemoveFinalizer, {}, {}});
    for (auto& e : plan.events)
      steps.push_back({StepOp::Event, {}, e});
    return steps;
  }
  if (plan.wants_finalizer && !has_finalizer(obj)) {
    steps.push_back({StepOp::AddFinalizer, {}, {}});
    return steps;  // nothing outside may happen before the finalizer is stored
  }
  if (!plan.spec_fill.empty()) {
    // Alone: the patch changes the resourceVersion the status write below would be guarded by.
    json::Object meta{{"resourceVersion", json::Value(obj.at_path("metadata.resourceVersion")
                                                        ? *obj.at_path("metadata.resourceVersion")
                                                        : json::Value(""))}};
    steps.push_back({StepOp::PatchSpec,
                     json::Value(json::Object{{"metadata", json::Value(std::move(meta))},
                                              {"spec", json::Value(plan.spec_fill)}}),
                     {}});
    for (auto& e : plan.events)
      steps.push_back({StepOp::Event, {}, e});
    return steps;
  }
  for (auto& plain : plan.apply) {
    json::Value want = with_desired_hash(plain);
    auto it = owned.find(owned_key(want));
    if (it != owned.end() && it->second && subset_equal(want, *it->second))
      continue;
    steps.push_back({StepOp::Apply, std::move(want), {}});
  }
  if (plan.prune_owned) {
    std::set<std::string> wanted;
    for (auto& want : plan.apply)
      wanted.insert(owned_key(want));
    for (auto& [key, live] : owned)
      if (live && !wanted.count(key) && !is_deleting(*live))
        steps.push_back({StepOp::Delete, *live, {}});
  }
  if (plan.write_status) {
    auto status = desired_status(obj, plan, now);
    auto* current = obj.get("status");
    if (!current || *current != status)
      steps.push_back({StepOp::Status, std::move(status), {}});
  }
  for (auto& e : plan.events)
    steps.push_back({StepOp::Event, {}, e});
  return steps;
}

std::chrono::milliseconds failure_backoff(int consecutive_failures) {
  if (consecutive_failures <= 0)
    return std::chrono::milliseconds(0);
  int64_t ms = 500;
  for (int i = 1; i < consecutive_failures && ms < 300000; ++i)
    ms *= 2;
  return std::chrono::milliseconds(std::min<int64_t>(ms, 300000));
}

}  // namespace omed::controller
