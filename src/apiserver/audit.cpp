// Records mutating requests when their response goes out (the ResponseComplete stage).
#include "audit.hpp"

#include <chrono>

#include "omed/common/micro_time.hpp"

namespace omed::apiserver {

namespace {


// Kubernetes' audit verbs for the HTTP methods that change state.
const char* verb_of(const std::string& method) {
  if (method == "POST")
    return "create";
  if (method == "PUT")
    return "update";
  if (method == "PATCH")
    return "patch";
  if (method == "DELETE")
    return "delete";
  return nullptr;
}

}  // namespace

class AuditedExchange : public http::Exchange {
public:
  AuditedExchange(std::shared_ptr<http::Exchange> inner, AuditLog* log, const char* verb)
    : inner_(std::move(inner)), log_(log), verb_(verb), received_(format_micro_time(std::chrono::system_clock::now())) {}
  const http::Request& request() const override { return inner_->request(); }
  void respond(http::Response r) override {
    note(r.status);
    inner_->respond(std::move(r));
  }
  std::shared_ptr<http::Stream> stream(int status, std::vector<http::Header> h) override {
    note(status);
    return inner_->stream(status, std::move(h));
  }

private:
  void note(int code) {
    auto& req = inner_->request();
    auto* ua = req.header("User-Agent");
    log_->record(AuditLog::Entry{0, verb_, req.query.empty() ? req.path : req.path + "?" + req.query,
                                 ua ? *ua : std::string(), received_, format_micro_time(std::chrono::system_clock::now()), code});
  }
  std::shared_ptr<http::Exchange> inner_;
  AuditLog* log_;
  const char* verb_;
  std::string received_;
};

std::shared_ptr<http::Exchange> AuditLog::wrap(std::shared_ptr<http::Exchange> ex) {
  const char* verb = verb_of(ex->request().method);
  if (!verb)
    return ex;
  return std::make_shared<AuditedExchange>(std::move(ex), this, verb);
}

void AuditLog::record(Entry e) {
  std::lock_guard<std::mutex> lk(mu_);
  e.seq = next_seq_++;
  entries_.push_back(std::move(e));
  while (entries_.size() > capacity_)
    entries_.pop_front();
}

json::Value AuditLog::list(uint64_t since) const {
  json::Array items;
  uint64_t last = since;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& e : entries_) {
      if (e.seq <= since)
        continue;
      last = e.seq;
      items.push_back(json::Object{{"level", "Metadata"},
                                   {"auditID", std::to_string(e.seq)},
                                   {"stage", "ResponseComplete"},
                                   {"verb", e.verb},
                                   {"requestURI", e.uri},
                                   {"userAgent", e.user_agent},
                                   {"responseStatus", json::Object{{"code", e.code}}},
                                   {"requestReceivedTimestamp", e.received},
                                   {"stageTimestamp", e.completed}});
    }
  }
  // metadata.resourceVersion carries the last sequence number: pass it back as ?since=.
  return json::Object{{"kind", "EventList"},
                      {"apiVersion", "audit.k8s.io/v1"},
                      {"metadata", json::Object{{"resourceVersion", std::to_string(last)}}},
                      {"items", std::move(items)}};
}

}  // namespace omed::apiserver
