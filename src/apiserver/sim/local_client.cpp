// In-process API requests for the simulated cluster (see local_client.hpp).
#include "local_client.hpp"

#include <future>
#include <mutex>

#include "omed/apiserver/server.hpp"
#include "omed/http/server.hpp"

namespace omed::apiserver::sim {

namespace {

// A watch body delivered to a callback instead of a socket; split into lines here because the
// server may hand over several events, or part of one, per write.
class LineStream : public http::Stream {
public:
  LineStream(std::function<void(std::string)> on_line, std::function<void()> on_close)
    : on_line_(std::move(on_line)), on_close_(std::move(on_close)) {}

  bool write(std::string chunk) override {
    std::vector<std::string> lines;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (closed_)
        return false;
      buf_ += chunk;
      size_t start = 0;
      for (size_t nl; (nl = buf_.find('\n', start)) != std::string::npos; start = nl + 1)
        if (nl > start)
          lines.emplace_back(buf_, start, nl - start);
      buf_.erase(0, start);
    }
    for (auto& l : lines)
      on_line_(std::move(l));
    return true;
  }
  void end() override { finish(); }
  void abort() override { finish(); }
  bool closed() const override {
    std::lock_guard<std::mutex> lk(mu_);
    return closed_;
  }
  void on_close(std::function<void()> fn) override {
    bool run_now;
    {
      std::lock_guard<std::mutex> lk(mu_);
      run_now = closed_;
      if (!run_now)
        closers_.push_back(fn);
    }
    if (run_now)
      fn();
  }
  size_t pending_bytes() const override { return 0; }

private:
  void finish() {
    std::vector<std::function<void()>> closers;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (closed_)
        return;
      closed_ = true;
      closers.swap(closers_);
    }
    for (auto& f : closers)
      f();
    on_close_();
  }

  mutable std::mutex mu_;
  bool closed_ = false;
  std::string buf_;
  std::vector<std::function<void()>> closers_;
  std::function<void(std::string)> on_line_;
  std::function<void()> on_close_;
};

class LocalExchange : public http::Exchange {
public:
  LocalExchange(http::Request req, std::function<void(std::string)> on_line = {}, std::function<void()> on_close = {})
    : req_(std::move(req)), on_line_(std::move(on_line)), on_close_(std::move(on_close)) {}

  const http::Request& request() const override { return req_; }
  void respond(http::Response r) override {
    std::call_once(once_, [&] { done_.set_value(std::move(r)); });
    if (on_close_)
      on_close_();  // a watch answered with an error instead of a stream
  }
  std::shared_ptr<http::Stream> stream(int status, std::vector<http::Header> headers) override {
    auto s = std::make_shared<LineStream>(on_line_ ? on_line_ : [](std::string) {},
                                          on_close_ ? on_close_ : [] {});
    stream_ = s;
    http::Response head;
    head.status = status;
    head.headers = std::move(headers);
    std::call_once(once_, [&] { done_.set_value(std::move(head)); });
    return s;
  }
  std::future<http::Response> result() { return done_.get_future(); }
  std::weak_ptr<http::Stream> stream_handle() const { return stream_; }

private:
  http::Request req_;
  std::function<void(std::string)> on_line_;
  std::function<void()> on_close_;
  std::once_flag once_;
  std::promise<http::Response> done_;
  std::weak_ptr<http::Stream> stream_;
};

class LocalWatchImpl : public LocalWatch {
public:
  explicit LocalWatchImpl(std::weak_ptr<http::Stream> s) : stream_(std::move(s)) {}
  ~LocalWatchImpl() override { close(); }
  void close() override {
    if (auto s = stream_.lock())
      s->abort();
  }

private:
  std::weak_ptr<http::Stream> stream_;
};

ApiResult to_result(http::Response r) {
  ApiResult out;
  out.code = r.status;
  std::string err;
  if (!r.body.empty() && !json::try_parse(r.body, out.body, err))
    out.body = json::Object{{"message", r.body}};
  return out;
}

}  // namespace

std::string ApiResult::message() const {
  if (body.is_object())
    if (auto m = body.string_or("message"); !m.empty())
      return m;
  return "HTTP " + std::to_string(code);
}

LocalClient::LocalClient(ApiServer& server, std::string agent) : server_(server), agent_(std::move(agent)) {}

ApiResult LocalClient::call(const std::string& method, const std::string& target, const std::string& body,
                            const std::string& content_type) {
  http::Request req;
  req.method = method;
  req.target = target;
  auto q = target.find('?');
  req.path = http::url_decode(target.substr(0, q));
  req.query = q == std::string::npos ? "" : target.substr(q + 1);
  req.headers = {{"Authorization", "Bearer " + server_.token()}, {"User-Agent", agent_ + "/v1.32.0 (omed-sim)"},
                 {"Accept", "application/json"}};
  if (!body.empty())
    req.headers.push_back({"Content-Type", content_type});
  req.body = body;
  req.remote = "in-process";
  auto ex = std::make_shared<LocalExchange>(std::move(req));
  auto fut = ex->result();
  server_.serve_local(ex);
  return to_result(fut.get());
}

namespace {
std::string with_manager(const std::string& path, const std::string& agent) {
  return path + (path.find('?') == std::string::npos ? "?" : "&") + "fieldManager=" + agent;
}
}  // namespace

ApiResult LocalClient::get(const std::string& path) { return call("GET", path, "", ""); }

ApiResult LocalClient::create(const std::string& collection_path, const json::Value& obj) {
  return call("POST", with_manager(collection_path, agent_), json::dump(obj), "application/json");
}

ApiResult LocalClient::update(const std::string& path, const json::Value& obj) {
  return call("PUT", with_manager(path, agent_), json::dump(obj), "application/json");
}

ApiResult LocalClient::merge_patch(const std::string& path, const json::Value& patch) {
  return call("PATCH", with_manager(path, agent_), json::dump(patch), "application/merge-patch+json");
}

ApiResult LocalClient::remove(const std::string& path, int64_t grace_seconds, const std::string& uid) {
  json::Object opts{{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (grace_seconds >= 0)
    opts.set("gracePeriodSeconds", grace_seconds);
  if (!uid.empty())
    opts.set("preconditions", json::Object{{"uid", uid}});
  return call("DELETE", path, json::dump(opts), "application/json");
}

std::unique_ptr<LocalWatch> LocalClient::watch(const std::string& path_and_query, std::function<void(std::string)> on_line,
                                               std::function<void()> on_close) {
  http::Request req;
  req.method = "GET";
  req.target = path_and_query;
  auto q = path_and_query.find('?');
  req.path = http::url_decode(path_and_query.substr(0, q));
  req.query = q == std::string::npos ? "" : path_and_query.substr(q + 1);
  req.headers = {{"Authorization", "Bearer " + server_.token()}, {"User-Agent", agent_ + "/v1.32.0 (omed-sim)"}};
  req.remote = "in-process";
  // on_close may be called twice (an error response, then nothing; or a stream end): once is enough.
  auto fired = std::make_shared<std::once_flag>();
  auto close_once = [fired, on_close = std::move(on_close)] { std::call_once(*fired, on_close); };
  auto ex = std::make_shared<LocalExchange>(std::move(req), std::move(on_line), close_once);
  auto fut = ex->result();
  server_.serve_local(ex);
  fut.wait();
  return std::make_unique<LocalWatchImpl>(ex->stream_handle());
}

}  // namespace omed::apiserver::sim
