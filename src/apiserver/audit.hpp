// The API server's audit trail of mutating requests, shaped like audit.k8s.io/v1 Events, so that
// tests (and operators) can ask who wrote what, and when: e.g. that only the leader writes.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "omed/common/json.hpp"
#include "omed/http/server.hpp"

namespace omed::apiserver {

class AuditLog {
public:
  explicit AuditLog(size_t capacity = 20000) : capacity_(capacity) {}

  // Wraps an exchange so that its response is recorded; reads pass through untouched.
  std::shared_ptr<http::Exchange> wrap(std::shared_ptr<http::Exchange> ex);

  // audit.k8s.io/v1 EventList of the entries after sequence number `since`, oldest first.
  json::Value list(uint64_t since) const;

private:
  friend class AuditedExchange;
  struct Entry {
    uint64_t seq;
    std::string verb, uri, user_agent, received, completed;
    int code;
  };
  void record(Entry e);

  size_t capacity_;
  mutable std::mutex mu_;
  std::deque<Entry> entries_;
  uint64_t next_seq_ = 1;
};

}  // namespace omed::apiserver
