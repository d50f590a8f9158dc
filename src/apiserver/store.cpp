// Storage engine: a lock around sorted maps of JSON strings, a bounded history deque, and in
// durable mode a journal thread that makes batches durable before they are published.
#include "omed/apiserver/store.hpp"

#include <stdexcept>

#include "omed/apiserver/journal.hpp"
#include "omed/log/logger.hpp"

namespace omed::apiserver {

const char* event_type_name(EventType t) {
  switch (t) {
    case EventType::Added: return "ADDED";
    case EventType::Modified: return "MODIFIED";
    case EventType::Deleted: return "DELETED";
  }
  return "MODIFIED";
}

namespace {

void stamp_rv(json::Value& obj, uint64_t rv) {
  obj["metadata"]["resourceVersion"] = std::to_string(rv);
}

size_t kv_bytes(const KeyValues& kv) {
  size_t n = kv.capacity() * sizeof(KeyValues::value_type);
  for (auto& [k, v] : kv)
    n += (k.capacity() > 15 ? k.capacity() : 0) + (v.capacity() > 15 ? v.capacity() : 0);
  return n;
}

}  // namespace

Store::Store(Options opts) : opts_(std::move(opts)) {
  if (!opts_.data_dir.empty())
    journal_ = Journal::open(opts_.data_dir);
}

Store::~Store() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  journal_cv_.notify_all();
  if (journal_thread_.joinable())
    journal_thread_.join();
}

size_t Store::recover(const RecoverIndexer& index) {
  if (!journal_)
    return 0;
  std::unique_lock<std::mutex> lk(mu_);
  auto index_json = [&](const std::string& resource, const std::string& text, StoredObject& so) {
    json::Value v;
    std::string err;
    if (!text.empty() && json::try_parse(text, v, err) && index)
      index(resource, v, so);
  };
  auto apply = [&](const JournalRecord& r, bool from_journal) {
    auto& m = data_[r.resource];
    auto it = m.find(r.key);
    std::optional<StoredObject> prev;
    if (it != m.end())
      prev = it->second;
    StoredObject so;
    so.rv = r.rv;
    so.json = std::make_shared<const std::string>(r.object);
    index_json(r.resource, r.object, so);
    if (r.deleted) {
      if (it != m.end()) {
        json_bytes_ -= it->second.json->size();
        --objects_;
        m.erase(it);
      }
    } else {
      if (it != m.end()) {
        json_bytes_ -= it->second.json->size();
        it->second = so;
      } else {
        m.emplace(r.key, so);
        ++objects_;
      }
      json_bytes_ += so.json->size();
    }
    rv_ = std::max(rv_, r.rv);
    if (from_journal) {
      StoreEvent ev;
      ev.rv = r.rv;
      ev.resource = r.resource;
      ev.key = r.key;
      ev.type = r.deleted ? EventType::Deleted : (prev ? EventType::Modified : EventType::Added);
      ev.object = so;
      ev.previous = prev;
      history_.push_back(std::move(ev));
    }
  };
  journal_->replay([&](const JournalRecord& r) { apply(r, false); },
                   [&](const JournalRecord& r) { apply(r, true); });
  rv_ = std::max(rv_, journal_->snapshot_rv());
  compacted_rv_ = journal_->snapshot_rv();
  while (history_.size() > opts_.history_limit) {
    compacted_rv_ = history_.front().rv;
    history_.pop_front();
  }
  durable_rv_ = rv_;
  published_rv_ = rv_;
  journal_thread_ = std::thread([this] { journal_loop(); });
  return objects_;
}

uint64_t Store::current_rv() const {
  std::lock_guard<std::mutex> lk(mu_);
  return rv_;
}

uint64_t Store::published_rv() const {
  std::lock_guard<std::mutex> lk(mu_);
  return std::max(published_rv_, compacted_rv_);
}

uint64_t Store::compacted_rv() const {
  std::lock_guard<std::mutex> lk(mu_);
  return compacted_rv_;
}

std::optional<StoredObject> Store::get(const std::string& resource, const std::string& key) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto r = data_.find(resource);
  if (r == data_.end())
    return std::nullopt;
  auto it = r->second.find(key);
  if (it == r->second.end())
    return std::nullopt;
  return it->second;
}

Store::ListPage Store::list(const std::string& resource, const std::string& key_prefix,
                            const std::function<bool(const StoredObject&)>& filter, size_t limit,
                            const std::string& start_after, uint64_t at_rv) const {
  ListPage page;
  std::lock_guard<std::mutex> lk(mu_);
  page.rv = rv_;
  // Undo every change after at_rv: for each key touched since, its state at at_rv (none when
  // it was created later). Newest first, so the earliest change after at_rv has the last word.
  std::map<std::string, std::optional<StoredObject>> then;
  if (at_rv && at_rv < rv_) {
    if (at_rv < compacted_rv_) {
      page.expired = true;
      return page;
    }
    page.rv = at_rv;
    auto undo = [&](const StoreEvent& e) {
      if (e.rv > at_rv && e.resource == resource && e.key.compare(0, key_prefix.size(), key_prefix) == 0)
        then[e.key] = e.type == EventType::Added ? std::nullopt : e.previous;
    };
    for (auto it = unjournaled_.rbegin(); it != unjournaled_.rend(); ++it)
      undo(*it);
    for (auto it = history_.rbegin(); it != history_.rend() && it->rv > at_rv; ++it)
      undo(*it);
  }
  static const std::map<std::string, StoredObject> kEmpty;
  auto r = data_.find(resource);
  const auto& m = r == data_.end() ? kEmpty : r->second;
  auto first = [&](const auto& map) {
    if (start_after.empty() || start_after < key_prefix)
      return map.lower_bound(key_prefix);
    return map.upper_bound(start_after);
  };
  auto in_prefix = [&](const std::string& k) { return k.compare(0, key_prefix.size(), key_prefix) == 0; };
  auto take = [&](const std::string& key, const StoredObject& obj) {
    if (filter && !filter(obj))
      return;
    if (limit && page.items.size() >= limit) {
      page.more = true;
      ++page.remaining;
      return;
    }
    page.items.push_back(obj);
    page.keys.push_back(key);
  };
  // Merge the live objects with the rewound ones, in key order.
  auto ci = first(m);
  auto ti = first(then);
  for (;;) {
    bool c_ok = ci != m.end() && in_prefix(ci->first);
    bool t_ok = ti != then.end() && in_prefix(ti->first);
    if (!c_ok && !t_ok)
      break;
    if (t_ok && (!c_ok || ti->first <= ci->first)) {
      if (c_ok && ci->first == ti->first)
        ++ci;
      if (ti->second)
        take(ti->first, *ti->second);
      ++ti;
    } else {
      take(ci->first, ci->second);
      ++ci;
    }
  }
  return page;
}

size_t Store::count(const std::string& resource) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto r = data_.find(resource);
  return r == data_.end() ? 0 : r->second.size();
}

void Store::publish_locked(StoreEvent ev) {
  published_rv_ = ev.rv;
  for (auto& [id, sub] : subs_) {
    if (ev.rv <= sub.start_rv)
      continue;
    if (!sub.resource.empty() && sub.resource != ev.resource)
      continue;
    sub.listener->on_event(ev);
  }
  history_.push_back(std::move(ev));
  while (history_.size() > opts_.history_limit) {
    compacted_rv_ = history_.front().rv;
    history_.pop_front();
  }
}

void Store::wait_durable(uint64_t rv, std::unique_lock<std::mutex>& lk) {
  durable_cv_.wait(lk, [&] { return durable_rv_ >= rv || !journal_error_.empty() || stopping_; });
  if (durable_rv_ < rv)
    throw std::runtime_error(journal_error_.empty() ? "storage is shutting down"
                                                    : "cannot persist the write: " + journal_error_);
}

Store::WriteResult Store::commit_locked(std::unique_lock<std::mutex>& lk, StoreEvent ev, bool erase) {
  auto& m = data_[ev.resource];
  auto it = m.find(ev.key);
  if (erase) {
    if (it != m.end()) {
      json_bytes_ -= it->second.json->size();
      --objects_;
      m.erase(it);
    }
  } else if (it != m.end()) {
    json_bytes_ -= it->second.json->size();
    it->second = ev.object;
    json_bytes_ += ev.object.json->size();
  } else {
    m.emplace(ev.key, ev.object);
    json_bytes_ += ev.object.json->size();
    ++objects_;
  }
  WriteResult res{Status::Ok, ev.object};
  uint64_t rv = ev.rv;
  if (journal_) {
    unjournaled_.push_back(std::move(ev));
    journal_cv_.notify_one();
    wait_durable(rv, lk);
  } else {
    publish_locked(std::move(ev));
  }
  return res;
}

Store::WriteResult Store::create(const std::string& resource, const std::string& key, json::Value obj,
                                 const Indexer& idx) {
  std::unique_lock<std::mutex> lk(mu_);
  auto& m = data_[resource];
  if (auto it = m.find(key); it != m.end())
    return WriteResult{Status::Exists, it->second};
  if (journal_ && !journal_error_.empty())
    throw std::runtime_error("storage is unavailable: " + journal_error_);
  StoreEvent ev;
  ev.rv = ++rv_;
  ev.resource = resource;
  ev.key = key;
  ev.type = EventType::Added;
  stamp_rv(obj, ev.rv);
  ev.object.rv = ev.rv;
  if (idx)
    idx(obj, ev.object);
  ev.object.json = std::make_shared<const std::string>(json::dump(obj));
  return commit_locked(lk, std::move(ev), false);
}

Store::WriteResult Store::update(const std::string& resource, const std::string& key, uint64_t expected_rv,
                                 json::Value obj, const Indexer& idx) {
  std::unique_lock<std::mutex> lk(mu_);
  auto& m = data_[resource];
  auto it = m.find(key);
  if (it == m.end())
    return WriteResult{Status::NotFound, {}};
  if (it->second.rv != expected_rv)
    return WriteResult{Status::Conflict, it->second};
  if (journal_ && !journal_error_.empty())
    throw std::runtime_error("storage is unavailable: " + journal_error_);
  StoreEvent ev;
  ev.rv = ++rv_;
  ev.resource = resource;
  ev.key = key;
  ev.type = EventType::Modified;
  ev.previous = it->second;
  stamp_rv(obj, ev.rv);
  ev.object.rv = ev.rv;
  if (idx)
    idx(obj, ev.object);
  ev.object.json = std::make_shared<const std::string>(json::dump(obj));
  return commit_locked(lk, std::move(ev), false);
}

Store::WriteResult Store::remove(const std::string& resource, const std::string& key, uint64_t expected_rv,
                                 json::Value final_obj, const Indexer& idx) {
  std::unique_lock<std::mutex> lk(mu_);
  auto& m = data_[resource];
  auto it = m.find(key);
  if (it == m.end())
    return WriteResult{Status::NotFound, {}};
  if (expected_rv && it->second.rv != expected_rv)
    return WriteResult{Status::Conflict, it->second};
  if (journal_ && !journal_error_.empty())
    throw std::runtime_error("storage is unavailable: " + journal_error_);
  StoreEvent ev;
  ev.rv = ++rv_;
  ev.resource = resource;
  ev.key = key;
  ev.type = EventType::Deleted;
  ev.previous = it->second;
  stamp_rv(final_obj, ev.rv);
  ev.object.rv = ev.rv;
  if (idx)
    idx(final_obj, ev.object);
  ev.object.json = std::make_shared<const std::string>(json::dump(final_obj));
  return commit_locked(lk, std::move(ev), true);
}

std::optional<Store::Subscription> Store::subscribe(
  const std::string& resource, StoreListener* listener, std::optional<uint64_t> from_rv,
  const std::function<void(const StoredObject&, const std::string& key)>& snapshot) {
  std::lock_guard<std::mutex> lk(mu_);
  Subscription s;
  s.id = next_sub_++;
  if (snapshot) {
    auto r = data_.find(resource);
    if (r != data_.end())
      for (auto& [k, o] : r->second)
        snapshot(o, k);
    s.start_rv = rv_;
  } else if (from_rv) {
    if (*from_rv < compacted_rv_)
      return std::nullopt;
    for (auto& ev : history_)
      if (ev.rv > *from_rv && (resource.empty() || ev.resource == resource))
        listener->on_event(ev);
    // Events committed but not yet durable (durable mode) are published later, in order.
    s.start_rv = *from_rv;
    if (!history_.empty())
      s.start_rv = std::max(s.start_rv, history_.back().rv);
  } else {
    s.start_rv = rv_;
  }
  subs_.emplace(s.id, Sub{resource, listener, s.start_rv});
  return s;
}

void Store::unsubscribe(uint64_t id) {
  std::lock_guard<std::mutex> lk(mu_);
  subs_.erase(id);
}

size_t Store::listeners() const {
  std::lock_guard<std::mutex> lk(mu_);
  return subs_.size();
}

size_t Store::json_bytes() const {
  std::lock_guard<std::mutex> lk(mu_);
  return json_bytes_;
}

size_t Store::overhead_bytes() const {
  std::lock_guard<std::mutex> lk(mu_);
  // Map node (key, value, tree links), the shared string's control block and object, and the
  // index vectors. History entries of current objects share the same strings.
  size_t n = 0;
  for (auto& [res, m] : data_)
    for (auto& [k, o] : m)
      n += 48 + sizeof(std::string) + (k.capacity() > 15 ? k.capacity() : 0) + sizeof(StoredObject) + 16 +
           sizeof(std::string) + kv_bytes(o.labels) + kv_bytes(o.fields);
  n += history_.size() * (sizeof(StoreEvent) + 32);
  return n;
}

void Store::journal_loop() {
  std::unique_lock<std::mutex> lk(mu_);
  while (true) {
    journal_cv_.wait(lk, [&] { return stopping_ || !unjournaled_.empty(); });
    if (unjournaled_.empty() && stopping_)
      break;
    std::deque<StoreEvent> batch;
    batch.swap(unjournaled_);
    std::vector<JournalRecord> recs;
    recs.reserve(batch.size());
    for (auto& ev : batch)
      recs.push_back(JournalRecord{ev.rv, ev.resource, ev.key, ev.type == EventType::Deleted,
                                   ev.type == EventType::Deleted ? std::string() : *ev.object.json});
    lk.unlock();
    std::string err;
    try {
      journal_->append(recs);
    } catch (const std::exception& e) {
      err = e.what();
    }
    lk.lock();
    if (!err.empty()) {
      // Nothing after a failed append may be acknowledged: the server stops accepting writes.
      journal_error_ = err;
      log::Logger("apiserver.store").error("journal append failed; writes are refused").kv("error", err);
      durable_cv_.notify_all();
      continue;
    }
    durable_rv_ = batch.back().rv;
    for (auto& ev : batch)
      publish_locked(std::move(ev));
    durable_cv_.notify_all();
    if (journal_->journal_bytes() > opts_.snapshot_bytes) {
      // Everything in memory up to rv_ goes into the snapshot; writes queued meanwhile are
      // re-journaled after it and skipped on replay when already covered.
      uint64_t snap_rv = rv_;
      std::vector<JournalRecord> all;
      for (auto& [res, m] : data_)
        for (auto& [k, o] : m)
          all.push_back(JournalRecord{o.rv, res, k, false, *o.json});
      lk.unlock();
      try {
        journal_->snapshot(snap_rv, [&](const std::function<void(const JournalRecord&)>& emit) {
          for (auto& r : all)
            emit(r);
        });
      } catch (const std::exception& e) {
        log::Logger("apiserver.store").error("snapshot failed; the journal keeps growing").kv("error", e.what());
      }
      lk.lock();
    }
  }
}

}  // namespace omed::apiserver
