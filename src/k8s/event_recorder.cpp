// events.k8s.io/v1 Events about omed's objects, with client-go's correlation: a repeat within the
// window becomes a merge PATCH of the first Event's series instead of another object.
#include "omed/k8s/event_recorder.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <iterator>

#include "omed/common/micro_time.hpp"
#include "omed/k8s/client.hpp"
#include "omed/k8s/leader_election.hpp"
#include "omed/log/logger.hpp"

namespace omed::k8s {

namespace {

// events.k8s.io validation rejects longer notes.
constexpr size_t kMaxNoteBytes = 1024;
// Object names are DNS subdomains; the suffix ".<16 hex>" takes 17 of them.
constexpr size_t kMaxNameBytes = 253;


// Cuts at a character boundary so the note stays valid UTF-8.
std::string truncate_utf8(std::string s, size_t max) {
  if (s.size() <= max)
    return s;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
    --cut;
  s.resize(cut);
  return s;
}

// client-go names events "<name>.<UnixNano in hex>"; the process-wide floor keeps names unique even
// when two events share a nanosecond or the clock steps back.
std::string event_name(const std::string& regarding) {
  static std::atomic<uint64_t> last{0};
  uint64_t now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::system_clock::now().time_since_epoch())
                                         .count());
  uint64_t prev = last.load();
  uint64_t v;
  do {
    v = std::max(now, prev + 1);
  } while (!last.compare_exchange_weak(prev, v));
  char hex[20];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(v));
  std::string base = regarding.empty() ? std::string("omed") : regarding.substr(0, kMaxNameBytes - 17);
  return base + "." + hex;
}

std::string text_at(const json::Value& obj, std::string_view path) {
  auto* v = obj.at_path(path);
  return v && v->is_string() ? v->as_string() : std::string();
}

const ResourceInfo& events_resource() {
  static const ResourceInfo* r = find_well_known("events.k8s.io/v1", "Event");
  return *r;
}

json::Value regarding_json(const ObjectRef& r) {
  json::Object o;
  auto put = [&](const char* key, const std::string& v) {
    if (!v.empty())
      o.set(key, v);
  };
  put("apiVersion", r.api_version);
  put("kind", r.kind);
  put("namespace", r.ns);
  put("name", r.name);
  put("uid", r.uid);
  put("resourceVersion", r.resource_version);
  return o;
}

}  // namespace

ObjectRef ObjectRef::of(const json::Value& obj) {
  ObjectRef r;
  r.api_version = text_at(obj, "apiVersion");
  r.kind = text_at(obj, "kind");
  r.ns = text_at(obj, "metadata.namespace");
  r.name = text_at(obj, "metadata.name");
  r.uid = text_at(obj, "metadata.uid");
  r.resource_version = text_at(obj, "metadata.resourceVersion");
  return r;
}

EventRecorder::EventRecorder(Client& client, EventRecorderOptions opts) : client_(client), opts_(std::move(opts)) {
  // events.k8s.io requires both; an empty one would make every write fail validation.
  if (opts_.reporting_instance.empty())
    opts_.reporting_instance = default_identity();
  if (opts_.reporting_controller.empty())
    opts_.reporting_controller = "ome.io/omed";
  opts_.max_tracked = std::max<size_t>(1, opts_.max_tracked);
}

json::Value EventRecorder::record(const EventSpec& ev) {
  // Scrub before truncating: a secret cut in half by the limit would no longer match.
  const std::string note = truncate_utf8(log::scrub(ev.message), kMaxNoteBytes);
  const auto& r = ev.regarding;
  // client-go's events land in the object's namespace, cluster-scoped objects' in "default".
  const std::string ns = r.ns.empty() ? std::string("default") : r.ns;
  // The action is part of the key too: one Event shows one action, so merging would misreport it.
  const std::string key = r.uid + '\x1f' + r.kind + '\x1f' + r.ns + '\x1f' + r.name + '\x1f' + ev.type + '\x1f' +
                          ev.reason + '\x1f' + ev.action + '\x1f' + note;
  WriteOptions w;
  w.dry_run = opts_.dry_run;
  const auto& rt = events_resource();

  // Held across the API call: two threads recording the same event must not both create one, and
  // series counts must reach the server in order. Events are rare enough for one writer at a time.
  std::lock_guard<std::mutex> lk(mu_);
  const auto t = now();
  if (auto it = seen_.find(key); it != seen_.end()) {
    if (t - it->second.last < opts_.aggregation_window) {
      Seen& s = it->second;
      int64_t count = s.count + 1;  // the created Event is occurrence 1, so the first repeat says 2
      json::Value patch = json::Object{
        {"series", json::Object{{"count", count}, {"lastObservedTime", format_micro_time(t)}}}};
      try {
        json::Value stored = client_.patch(rt, s.ns, s.name, PatchType::Merge, json::dump(patch), w);
        s.count = count;
        s.last = t;
        return stored;
      } catch (const ApiError& e) {
        if (!e.not_found())
          throw;
        // The Event expired (or was deleted): start over with a new one.
      }
    }
    seen_.erase(it);
  }

  json::Value event = json::Object{
    {"apiVersion", "events.k8s.io/v1"},
    {"kind", "Event"},
    {"metadata", json::Object{{"name", ""}, {"namespace", ns}}},
    {"eventTime", format_micro_time(t)},
    {"reportingController", opts_.reporting_controller},
    {"reportingInstance", opts_.reporting_instance},
    {"action", ev.action},
    {"reason", ev.reason},
    {"type", ev.type},
    {"regarding", regarding_json(r)},
    {"note", note}};
  json::Value stored;
  for (int attempt = 0;; ++attempt) {
    event["metadata"]["name"] = event_name(r.name);
    try {
      stored = client_.create(rt, event, w);
      break;
    } catch (const ApiError& e) {
      // Another process picked the same name (same object, same nanosecond): take another.
      if (!e.already_exists() || attempt >= 2)
        throw;
    }
  }

  if (seen_.size() >= opts_.max_tracked) {
    for (auto it = seen_.begin(); it != seen_.end();)
      it = t - it->second.last >= opts_.aggregation_window ? seen_.erase(it) : std::next(it);
    // Still full: forget the entry repeated least recently (its next repeat becomes a new Event).
    while (seen_.size() >= opts_.max_tracked) {
      auto oldest = std::min_element(seen_.begin(), seen_.end(),
                                     [](const auto& a, const auto& b) { return a.second.last < b.second.last; });
      seen_.erase(oldest);
    }
  }
  Seen s;
  s.name = name_of(stored).empty() ? event["metadata"]["name"].as_string() : name_of(stored);
  s.ns = ns;
  s.count = 1;
  s.first = s.last = t;
  seen_[key] = std::move(s);
  return stored;
}

}  // namespace omed::k8s
