// Splits a de-chunked watch stream into events: newline-delimited JSON objects that may span or
// share transport chunks. Unknown event types are reported, not fatal.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "omed/common/json.hpp"

namespace omed::k8s {

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK, ERROR (or an unknown type, passed through)
  std::shared_ptr<const json::Value> object;
};

class WatchDecoder {
public:
  using Sink = std::function<void(WatchEvent&&)>;
  // Lines that are not a {"type","object"} JSON event.
  using ErrorSink = std::function<void(const std::string& error, std::string_view line)>;

  explicit WatchDecoder(size_t max_line_bytes = 64 * 1024 * 1024) : max_line_(max_line_bytes) {}

  // Feeds the next piece of the byte stream; emits every complete event in it.
  void feed(std::string_view data, const Sink& sink, const ErrorSink& on_error = {});
  // Bytes of an event still incomplete.
  size_t pending() const { return buf_.size(); }

  // Applied to each event's object before it is shared (e.g. dropping managedFields from a cache).
  std::function<void(json::Value&)> transform;

private:
  void line(std::string_view l, const Sink& sink, const ErrorSink& on_error);
  size_t max_line_;
  std::string buf_;
  bool skipping_ = false;  // discarding an over-long line up to its newline
};

}  // namespace omed::k8s
