// Newline framing of watch streams (apimachinery's JSON framer): complete lines are parsed in
// place from the incoming piece; only a trailing partial event is buffered.
#include "omed/k8s/watch_decoder.hpp"

namespace omed::k8s {

void WatchDecoder::feed(std::string_view data, const Sink& sink, const ErrorSink& on_error) {
  while (!data.empty()) {
    auto nl = data.find('\n');
    if (nl == std::string_view::npos) {
      if (skipping_)
        return;
      if (buf_.size() + data.size() > max_line_) {
        // An event larger than any object the server may store: drop it rather than grow forever.
        if (on_error)
          on_error("watch event exceeds " + std::to_string(max_line_) + " bytes; skipped", {});
        buf_.clear();
        skipping_ = true;
        return;
      }
      buf_.append(data);
      return;
    }
    if (skipping_) {
      skipping_ = false;
    } else if (buf_.empty()) {
      line(data.substr(0, nl), sink, on_error);
    } else {
      buf_.append(data.substr(0, nl));
      std::string l;
      l.swap(buf_);
      line(l, sink, on_error);
    }
    data.remove_prefix(nl + 1);
  }
}

void WatchDecoder::line(std::string_view l, const Sink& sink, const ErrorSink& on_error) {
  if (!l.empty() && l.back() == '\r')
    l.remove_suffix(1);
  if (l.find_first_not_of(" \t") == std::string_view::npos)
    return;
  json::Value v;
  std::string err;
  if (!json::try_parse(l, v, err)) {
    if (on_error)
      on_error("malformed watch event: " + err, l.substr(0, 200));
    return;
  }
  auto* type = v.is_object() ? v.get("type") : nullptr;
  auto* obj = v.is_object() ? v.get("object") : nullptr;
  if (!type || !type->is_string() || !obj || !obj->is_object()) {
    if (on_error)
      on_error("watch event without string \"type\" and object \"object\"", l.substr(0, 200));
    return;
  }
  WatchEvent ev;
  ev.type = type->as_string();
  if (transform)
    transform(*obj);
  ev.object = std::make_shared<const json::Value>(std::move(*obj));
  sink(std::move(ev));
}

}  // namespace omed::k8s
