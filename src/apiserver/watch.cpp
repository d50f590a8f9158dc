// Watch streams: list-then-watch without gaps, resume from a resourceVersion or 410, selector
// transitions as ADDED/DELETED, Table-wrapped events, bookmarks, timeouts and injected drops.
#include <random>

#include "internal.hpp"
#include "omed/apiserver/selectors.hpp"
#include "omed/common/strings.hpp"

namespace omed::apiserver {

class WatchSession : public StoreListener {
public:
  WatchSession(ApiServer::Impl* srv, std::shared_ptr<http::Stream> stream, ResourcePtr rt, const ResourceType* st,
               std::string ns_prefix, LabelSelector ls, FieldSelector fs, bool table, bool bookmarks,
               std::chrono::steady_clock::time_point deadline)
    : srv_(srv), stream_(std::move(stream)), rt_(std::move(rt)), st_(st), prefix_(std::move(ns_prefix)),
      ls_(std::move(ls)), fs_(std::move(fs)), table_(table), bookmarks_(bookmarks), deadline_(deadline),
      next_bookmark_(std::chrono::steady_clock::now() + srv->opts.bookmark_interval) {}

  // Under the store lock: filter, encode, queue. Never blocks.
  void on_event(const StoreEvent& ev) override {
    if (closed_)
      return;
    if (!prefix_.empty() && ev.key.compare(0, prefix_.size(), prefix_) != 0)
      return;
    bool now = matches(ev.object);
    bool before = ev.previous ? matches(*ev.previous) : false;
    const char* type;
    if (ev.type == EventType::Deleted) {
      if (!before && !now)
        return;
      type = "DELETED";
    } else if (ev.type == EventType::Added) {
      if (!now)
        return;
      type = "ADDED";
    } else if (now && before) {
      type = "MODIFIED";
    } else if (now) {
      type = "ADDED";  // started matching the selector
    } else if (before) {
      type = "DELETED";  // stopped matching
    } else {
      return;
    }
    if (table_ || st_ != rt_.get()) {
      send(type, *ev.object.json);
    } else {
      // Every plain watcher of this event sends the same line: build it once per event.
      thread_local uint64_t cached_rv = 0;
      thread_local const char* cached_type = nullptr;
      thread_local const std::string* cached_obj = nullptr;
      thread_local std::string cached_line;
      if (cached_rv != ev.rv || cached_type != type || cached_obj != ev.object.json.get()) {
        cached_line.clear();
        cached_line.reserve(ev.object.json->size() + 32);
        cached_line.append("{\"type\":\"").append(type).append("\",\"object\":").append(*ev.object.json).append("}\n");
        cached_rv = ev.rv;
        cached_type = type;
        cached_obj = ev.object.json.get();
      }
      if (!stream_->write(cached_line))
        closed_ = true;
    }
    last_rv_ = ev.rv;
    if (double p = srv_->faults.drop_watch(); p > 0 && srv_->faults.roll(p)) {
      closed_ = true;
      stream_->abort();
    }
  }

  void send_initial(const StoredObject& o) {
    if (!prefix_.empty())
      return;  // caller filters by key
    if (matches(o))
      send("ADDED", *o.json);
  }

  bool matches(const StoredObject& o) const {
    if (!ls_.empty()) {
      // Every watcher with a label selector asks about the same object in a row: build its label
      // map once per object version and thread (a resourceVersion names one version).
      thread_local uint64_t cached_rv = 0;
      thread_local const std::string* cached_json = nullptr;
      thread_local std::map<std::string, std::string> labels;
      if (cached_rv != o.rv || cached_json != o.json.get()) {
        labels = std::map<std::string, std::string>(o.labels.begin(), o.labels.end());
        cached_rv = o.rv;
        cached_json = o.json.get();
      }
      if (!ls_.matches(labels))
        return false;
    }
    if (!fs_.empty())
      return fs_.matches([&](const std::string& f) {
        for (auto& [k, v] : o.fields)
          if (k == f)
            return v;
        return std::string();
      });
    return true;
  }

  void send(const char* type, const std::string& obj_json) {
    std::string line;
    if (table_ || st_ != rt_.get()) {
      json::Value obj = json::parse(obj_json);
      if (st_ != rt_.get())
        obj = srv_->event_to_events_v1(obj);
      json::Value payload = obj;
      if (table_) {
        payload = srv_->to_table(*st_, {obj}, !headers_sent_, obj.at_path("metadata.resourceVersion")
                                                                  ? obj.at_path("metadata.resourceVersion")->as_string()
                                                                  : "",
                                 "");
        headers_sent_ = true;
      }
      line = "{\"type\":\"" + std::string(type) + "\",\"object\":" + json::dump(payload) + "}\n";
    } else {
      line.reserve(obj_json.size() + 32);
      line.append("{\"type\":\"").append(type).append("\",\"object\":").append(obj_json).append("}\n");
    }
    if (!stream_->write(std::move(line)))
      closed_ = true;
  }

  void send_bookmark(uint64_t rv, bool initial_end) {
    json::Object md{{"resourceVersion", std::to_string(rv)}, {"creationTimestamp", json::Value{}}};
    if (initial_end)
      md.set("annotations", json::Object{{"k8s.io/initial-events-end", "true"}});
    json::Object obj{{"kind", rt_->kind}, {"apiVersion", rt_->group_version()}, {"metadata", md}};
    std::string line = "{\"type\":\"BOOKMARK\",\"object\":" + json::dump(obj) + "}\n";
    if (!stream_->write(std::move(line)))
      closed_ = true;
  }

  void send_error(const ApiError& e) {
    stream_->write("{\"type\":\"ERROR\",\"object\":" + json::dump(e.to_status()) + "}\n");
    stream_->end();
    closed_ = true;
  }

  // Housekeeping: timeouts and periodic bookmarks. Returns false when the session is over.
  bool tick(std::chrono::steady_clock::time_point now) {
    if (closed_ || stream_->closed())
      return false;
    if (now >= deadline_) {
      closed_ = true;
      stream_->end();
      return false;
    }
    if (bookmarks_ && now >= next_bookmark_) {
      next_bookmark_ = now + srv_->opts.bookmark_interval;
      send_bookmark(srv_->store->published_rv(), false);
    }
    return true;
  }

  void close() {
    closed_ = true;
    stream_->end();
  }

  uint64_t sub_id = 0;
  std::atomic<uint64_t> last_rv_{0};

private:
  ApiServer::Impl* srv_;
  std::shared_ptr<http::Stream> stream_;
  ResourcePtr rt_;
  const ResourceType* st_;
  std::string prefix_;
  LabelSelector ls_;
  FieldSelector fs_;
  bool table_;
  bool bookmarks_;
  bool headers_sent_ = false;
  std::chrono::steady_clock::time_point deadline_;
  std::chrono::steady_clock::time_point next_bookmark_;
  std::atomic<bool> closed_{false};
};

namespace {

bool parse_rv(const std::string& s, uint64_t& out) {
  if (s.empty() || s.size() > 19)
    return false;
  for (char c : s)
    if (c < '0' || c > '9')
      return false;
  out = std::stoull(s);
  return true;
}

}  // namespace

void ApiServer::Impl::do_watch(ApiRequest& r) {
  auto& rt = *r.rt;
  auto* st = storage_type(rt);
  std::string err;
  auto ls = LabelSelector::parse(r.param("labelSelector"), err);
  if (!ls)
    return respond_error(r.ex, bad_request("unable to parse requirement: " + err));
  auto fs = FieldSelector::parse(r.param("fieldSelector"), err);
  if (!fs)
    return respond_error(r.ex, bad_request(err));
  // Translate the events.k8s.io field names to the stored ones.
  if (st != r.rt.get()) {
    std::string text;
    for (auto& req : fs->requirements()) {
      auto f = req.field;
      if (str::starts_with(f, "regarding."))
        f = "involvedObject." + f.substr(10);
      else if (f == "reportingController")
        f = "reportingComponent";
      text += (text.empty() ? "" : ",") + f + (req.negate ? "!=" : "=") + req.value;
    }
    fs = FieldSelector::parse(text, err);
  }
  for (auto& req : fs->requirements()) {
    bool known = req.field == "metadata.name" || (st->namespaced && req.field == "metadata.namespace");
    for (auto& sf : st->field_selectors)
      known = known || sf == req.field;
    if (!known)
      return respond_error(r.ex, bad_request("field label not supported: " + req.field));
  }
  bool bookmarks = r.param("allowWatchBookmarks") == "true" || r.param("allowWatchBookmarks") == "1";
  bool initial = r.param("sendInitialEvents") == "true";
  auto rv_param = r.param("resourceVersion");
  if (r.has("sendInitialEvents")) {
    if (r.param("resourceVersionMatch") != "NotOlderThan" || !bookmarks)
      return respond_error(r.ex, invalid("ListOptions", "meta.k8s.io", "",
                                         {api::forbidden("sendInitialEvents",
                                                         "sendInitialEvents requires setting resourceVersionMatch to "
                                                         "NotOlderThan and allowWatchBookmarks to true")}));
  } else if (r.has("resourceVersionMatch")) {
    return respond_error(r.ex, invalid("ListOptions", "meta.k8s.io", "",
                                       {api::forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden for watch")}));
  }
  int64_t timeout_s;
  if (r.has("timeoutSeconds")) {
    try {
      timeout_s = std::stoll(r.param("timeoutSeconds"));
    } catch (...) {
      return respond_error(r.ex, bad_request("timeoutSeconds must be an integer"));
    }
    if (timeout_s <= 0)
      timeout_s = 1800;
  } else {
    std::lock_guard<std::mutex> lk(rng_mu);
    timeout_s = 1800 + static_cast<int64_t>(rng() % 1800);
  }
  std::optional<uint64_t> from;
  bool snapshot = true;
  if (!initial && !rv_param.empty() && rv_param != "0") {
    uint64_t v;
    if (!parse_rv(rv_param, v))
      return respond_error(r.ex, bad_request("invalid resourceVersion: " + rv_param));
    auto cur = store->current_rv();
    if (v > cur) {
      for (int i = 0; i < 30 && store->current_rv() < v; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (v > store->current_rv())
        return respond_error(r.ex, too_large_rv(v, store->current_rv()));
    }
    from = v;
    snapshot = false;
  }
  auto stream = r.ex->stream(200, {{"Content-Type", "application/json"}, {"Cache-Control", "no-cache, private"}});
  if (!stream)
    return;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  std::string prefix = r.ns.empty() ? "" : r.ns + "/";
  auto session = std::make_shared<WatchSession>(this, stream, r.rt, st, prefix, *ls, *fs, r.table, bookmarks, deadline);
  auto f = faults.get();
  if (from && faults.roll(f.watch_expired)) {
    session->send_error(expired("too old resource version: " + rv_param + " (" + std::to_string(store->current_rv()) + ")"));
    return;
  }
  std::optional<Store::Subscription> sub;
  if (snapshot) {
    sub = store->subscribe(st->id(), session.get(), std::nullopt, [&](const StoredObject& o, const std::string& key) {
      if (prefix.empty() || key.compare(0, prefix.size(), prefix) == 0)
        if (session->matches(o))
          session->send("ADDED", *o.json);
    });
  } else {
    sub = store->subscribe(st->id(), session.get(), from);
  }
  if (!sub) {
    session->send_error(expired("too old resource version: " + rv_param + " (" + std::to_string(store->compacted_rv()) + ")"));
    return;
  }
  session->sub_id = sub->id;
  if (initial)
    session->send_bookmark(sub->start_rv, true);
  {
    std::lock_guard<std::mutex> lk(watch_mu);
    watches.insert(session);
  }
  // Unsubscribe as soon as the client goes away, not at the next housekeeping tick.
  std::weak_ptr<WatchSession> weak = session;
  auto self = shared_from_this();
  stream->on_close([self, weak] {
    if (auto s = weak.lock())
      self->workers->post([self, s] {
        if (self->store)
          self->store->unsubscribe(s->sub_id);
        std::lock_guard<std::mutex> lk(self->watch_mu);
        self->watches.erase(s);
      });
  });
}

void ApiServer::Impl::housekeeping_loop() {
  while (running) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto now = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<WatchSession>> ended;
    {
      std::lock_guard<std::mutex> lk(watch_mu);
      for (auto& w : watches)
        if (!w->tick(now))
          ended.push_back(w);
      for (auto& w : ended)
        watches.erase(w);
    }
    for (auto& w : ended)
      store->unsubscribe(w->sub_id);
  }
  std::vector<std::shared_ptr<WatchSession>> all;
  {
    std::lock_guard<std::mutex> lk(watch_mu);
    all.assign(watches.begin(), watches.end());
    watches.clear();
  }
  for (auto& w : all) {
    store->unsubscribe(w->sub_id);
    w->close();
  }
}

}  // namespace omed::apiserver
