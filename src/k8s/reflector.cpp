// client-go's reflector loop in C++ (reference k8s-api.md §2.4): the cache it keeps is only what a
// relist needs to tell vanished objects from present ones; consumers hold the objects themselves.
#include "omed/k8s/reflector.hpp"

#include <random>

#include "omed/k8s/api_error.hpp"
#include "omed/k8s/client.hpp"
#include "omed/k8s/watch_decoder.hpp"
#include "omed/log/logger.hpp"

namespace omed::k8s {

std::string cache_key(const json::Value& obj) {
  std::string ns = namespace_of(obj);
  return ns.empty() ? name_of(obj) : ns + "/" + name_of(obj);
}

namespace {

void drop_managed_fields(json::Value& obj) {
  if (auto* md = obj.get("metadata"); md && md->is_object())
    md->as_object().erase("managedFields");
}

std::string rv_of(const json::Value& obj) {
  auto* rv = obj.at_path("metadata.resourceVersion");
  return rv && rv->is_string() ? rv->as_string() : std::string();
}

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

Reflector::Reflector(Client& client, ReflectorOptions opts, ReflectorHandler& handler)
  : client_(client), opts_(std::move(opts)), handler_(handler) {
  rng_state_ = opts_.seed ? opts_.seed : std::random_device{}() ^ (uint64_t(std::random_device{}()) << 32);
}

Reflector::~Reflector() { stop(); }

void Reflector::stop() {
  stop_ = true;
  std::lock_guard<std::mutex> lk(mu_);
  cv_.notify_all();
}

void Reflector::request_replay() {
  replay_ = true;
  std::lock_guard<std::mutex> lk(mu_);
  cv_.notify_all();
}

void Reflector::replay_if_requested() {
  if (!replay_.exchange(false) || !synced_once_)
    return;  // before the first list there is nothing to replay: the list delivers everything
  std::vector<std::shared_ptr<const json::Value>> all;
  {
    std::lock_guard<std::mutex> lk(mu_);
    all.reserve(cache_.size());
    for (auto& [k, e] : cache_)
      all.push_back(e.object);
  }
  for (auto& o : all)
    handler_.on_event("ADDED", o);
}

std::string Reflector::last_resource_version() const {
  std::lock_guard<std::mutex> lk(mu_);
  return rv_;
}

size_t Reflector::size() const {
  std::lock_guard<std::mutex> lk(mu_);
  return cache_.size();
}

void Reflector::backoff_wait(std::chrono::milliseconds at_least) {
  auto next = backoff_.count() == 0 ? opts_.backoff_initial : std::min(backoff_ * 2, opts_.backoff_max);
  backoff_ = next;
  // Up to 20% jitter so that many reflectors do not retry in lock step.
  double jitter = 1.0 + 0.2 * static_cast<double>(splitmix(rng_state_) % 1000) / 1000.0;
  auto wait = std::max(at_least, std::chrono::milliseconds(static_cast<int64_t>(next.count() * jitter)));
  auto deadline = std::chrono::steady_clock::now() + wait;
  std::unique_lock<std::mutex> lk(mu_);
  while (!stop_) {
    if (!cv_.wait_until(lk, deadline, [&] { return stop_.load() || replay_.load(); }))
      break;  // waited the whole backoff
    if (stop_)
      break;
    lk.unlock();  // a replay does not cut the backoff short
    replay_if_requested();
    lk.lock();
  }
}

void Reflector::apply_event(const std::string& type, const std::shared_ptr<const json::Value>& obj) {
  std::string key = cache_key(*obj);
  std::string rv = rv_of(*obj);
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (type == "DELETED")
      cache_.erase(key);
    else
      cache_[key] = Entry{rv, obj};
    if (!rv.empty())
      rv_ = rv;
  }
  handler_.on_event(type, obj);
}

bool Reflector::list_and_replace(const std::string& rv) {
  ListOptions lo;
  lo.label_selector = opts_.label_selector;
  lo.field_selector = opts_.field_selector;
  lo.limit = opts_.page_size;
  lo.resource_version = rv;
  if (opts_.drop_managed_fields)
    lo.transform = drop_managed_fields;
  if (!rv.empty() && rv != "0")
    lo.resource_version_match = "NotOlderThan";  // catch up, do not rewind to a snapshot
  ListResult res = client_.list(opts_.resource, opts_.ns, lo);
  lists_++;
  std::unordered_map<std::string, Entry> fresh;
  fresh.reserve(res.items.size());
  std::vector<std::pair<std::string, std::shared_ptr<const json::Value>>> changes;
  std::unordered_map<std::string, Entry> old;
  {
    std::lock_guard<std::mutex> lk(mu_);
    old.swap(cache_);
  }
  for (auto& item : res.items) {
    auto obj = std::make_shared<const json::Value>(std::move(item));
    std::string key = cache_key(*obj);
    std::string item_rv = rv_of(*obj);
    auto it = old.find(key);
    if (it == old.end())
      changes.emplace_back("ADDED", obj);
    else if (it->second.rv != item_rv)
      changes.emplace_back("MODIFIED", obj);
    else
      obj = it->second.object;  // unchanged: keep sharing the object consumers already hold
    if (it != old.end())
      old.erase(it);
    fresh.emplace(std::move(key), Entry{std::move(item_rv), std::move(obj)});
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    cache_.swap(fresh);
    rv_ = res.resource_version;
  }
  for (auto& [type, obj] : changes)
    handler_.on_event(type, obj);
  // Whatever the old cache still holds vanished while we were not watching.
  for (auto& [key, e] : old)
    handler_.on_event("DELETED", e.object);
  synced_once_ = true;
  replay_ = false;  // the list just delivered everything
  handler_.on_synced(res.resource_version);
  return true;
}

void Reflector::run() {
  auto log = log::Logger("reflector").with_object(opts_.resource.resource);
  // A dead API server must not flood the log: the first failure and every tenth one are warnings,
  // the rest debug lines; the recovery is said once.
  int failures = 0;
  auto failed = [&](std::string_view msg) {
    ++failures;
    auto lvl = failures == 1 || failures % 10 == 0 ? log::Level::Warn : log::Level::Debug;
    log::Entry e(lvl, "reflector", opts_.resource.resource, msg);
    e.kv("failures", failures);
    return e;
  };
  auto recovered = [&] {
    if (failures > 0)
      log.info("API server reachable again").kv("after_failures", failures);
    failures = 0;
  };
  bool need_list = true;
  bool relist_from_last = false;
  while (!stop_) {
    if (need_list) {
      std::string from = relist_from_last ? last_resource_version() : std::string();
      try {
        list_and_replace(from);
        recovered();
        need_list = false;
        relist_from_last = false;
        backoff_ = std::chrono::milliseconds(0);
      } catch (const ApiError& e) {
        // "Not older than" our last RV failed: the server lost that history; read the latest.
        if (relist_from_last && (e.expired() || e.timeout()))
          relist_from_last = false;
        handler_.on_restart("error", "list: " + std::string(e.what()));
        failed("list failed; retrying").kv("code", e.code()).kv("reason", e.reason()).kv("error", e.what());
        backoff_wait(std::chrono::seconds(e.retry_after_seconds()));
        continue;
      } catch (const std::exception& e) {
        handler_.on_restart("error", "list: " + std::string(e.what()));
        failed("list failed; retrying").kv("error", e.what());
        backoff_wait();
        continue;
      }
    }
    if (stop_)
      break;

    // One watch from the last resourceVersion we saw.
    int timeout_s = opts_.watch_timeout_min_s;
    if (opts_.watch_timeout_max_s > opts_.watch_timeout_min_s)
      timeout_s += static_cast<int>(splitmix(rng_state_) % (opts_.watch_timeout_max_s - opts_.watch_timeout_min_s + 1));
    Query q{{"watch", "1"}, {"allowWatchBookmarks", "true"}, {"resourceVersion", last_resource_version()},
            {"timeoutSeconds", std::to_string(timeout_s)}};
    if (!opts_.label_selector.empty())
      q.emplace_back("labelSelector", opts_.label_selector);
    if (!opts_.field_selector.empty())
      q.emplace_back("fieldSelector", opts_.field_selector);
    watches_++;
    WatchDecoder dec;
    if (opts_.drop_managed_fields)
      dec.transform = drop_managed_fields;
    size_t delivered = 0;
    std::optional<ApiError> error_event;
    auto started = std::chrono::steady_clock::now();
    auto on_event = [&](WatchEvent&& ev) {
      if (ev.type == "ADDED" || ev.type == "MODIFIED" || ev.type == "DELETED") {
        apply_event(ev.type, ev.object);
        delivered++;
      } else if (ev.type == "BOOKMARK") {
        std::string rv = rv_of(*ev.object);
        std::lock_guard<std::mutex> lk(mu_);
        if (!rv.empty())
          rv_ = rv;
      } else if (ev.type == "ERROR") {
        auto code = ev.object->int_at("code");
        error_event = error_from_response(code ? static_cast<int>(*code) : 500, json::dump(*ev.object));
      } else {
        log.warn("unknown watch event type ignored").kv("type", ev.type);
      }
    };
    auto on_bad = [&](const std::string& err, std::string_view) { log.warn("bad watch line skipped").kv("error", err); };
    RestClient::StreamEnd end;
    try {
      end = client_.rest().stream(
        collection_path(opts_.resource, opts_.ns) + query_string(q),
        [&](std::string_view data) {
          replay_if_requested();
          dec.feed(data, on_event, on_bad);
          return !error_event.has_value();  // an ERROR event ends this watch
        },
        &stop_, std::chrono::seconds(timeout_s + 30), [this] { replay_if_requested(); });
    } catch (const std::exception& e) {
      handler_.on_restart("error", e.what());
      failed("watch failed; retrying").kv("error", e.what());
      backoff_wait();
      continue;
    }
    if (stop_ || end.cancelled)
      break;
    bool productive = delivered > 0 || std::chrono::steady_clock::now() - started > std::chrono::seconds(1);
    if (error_event) {
      if (error_event->expired()) {
        handler_.on_restart("expired", error_event->what());
        need_list = relist_from_last = true;
        continue;
      }
      handler_.on_restart("error", error_event->what());
      failed("watch ended with an error event").kv("code", error_event->code()).kv("error", error_event->what());
      backoff_wait(std::chrono::seconds(error_event->retry_after_seconds()));
      continue;
    }
    if (end.code != 200) {
      auto err = error_from_response(end.code, end.error_body, end.retry_after);
      if (err.expired()) {
        handler_.on_restart("expired", err.what());
        need_list = relist_from_last = true;
        continue;
      }
      handler_.on_restart("error", err.what());
      failed("watch refused; retrying").kv("code", end.code).kv("error", err.what());
      backoff_wait(std::chrono::seconds(err.retry_after_seconds()));
      continue;
    }
    handler_.on_restart(end.broken ? "dropped" : "timeout", end.broken ? "connection lost" : "stream ended");
    if (productive)
      backoff_ = std::chrono::milliseconds(0);
    else
      backoff_wait();  // a stream that ends at once, again and again, must not spin
  }
}

}  // namespace omed::k8s
