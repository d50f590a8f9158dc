// Dispatch and per-route accounting. The exchange is wrapped so the status code is counted when
// the handler answers, whichever thread it answers from.
#include "omed/http/router.hpp"

#include "omed/common/strings.hpp"
#include "omed/metrics/registry.hpp"

namespace omed::http {

namespace {

class CountingExchange : public Exchange {
public:
  CountingExchange(std::shared_ptr<Exchange> inner, metrics::Family<metrics::Counter>* fam, std::string route)
    : inner_(std::move(inner)), fam_(fam), route_(std::move(route)) {}
  const Request& request() const override { return inner_->request(); }
  void respond(Response r) override {
    count(r.status);
    inner_->respond(std::move(r));
  }
  std::shared_ptr<Stream> stream(int status, std::vector<Header> headers) override {
    count(status);
    return inner_->stream(status, std::move(headers));
  }

private:
  void count(int status) {
    if (fam_)
      fam_->with({route_, std::to_string(status)}).inc();
  }
  std::shared_ptr<Exchange> inner_;
  metrics::Family<metrics::Counter>* fam_;
  std::string route_;
};

}  // namespace

Router::Router(metrics::Registry* metrics) : metrics_(metrics) {}

Router& Router::add(std::string method, std::string path, std::string name, Handler h) {
  bool prefix = !path.empty() && path.back() == '*';
  if (prefix)
    path.pop_back();
  routes_.push_back({std::move(method), std::move(path), std::move(name), prefix, std::move(h)});
  return *this;
}

Handler Router::handler() {
  metrics::Family<metrics::Counter>* fam = nullptr;
  if (metrics_)
    fam = &metrics_->counter("omed_http_requests_total", "HTTP requests served by omed's own endpoints.",
                             {"handler", "code"});
  auto routes = routes_;
  return [routes, fam](std::shared_ptr<Exchange> ex) {
    auto& req = ex->request();
    bool path_known = false;
    for (auto& r : routes) {
      bool match = r.prefix ? str::starts_with(req.path, r.path) : req.path == r.path;
      if (!match)
        continue;
      path_known = true;
      if (!r.method.empty() && r.method != req.method)
        continue;
      r.h(std::make_shared<CountingExchange>(std::move(ex), fam, r.name));
      return;
    }
    auto code = path_known ? 405 : 404;
    if (fam)
      fam->with({"unknown", std::to_string(code)}).inc();
    ex->respond(Response::text(code, path_known ? "method not allowed\n" : "not found\n"));
  };
}

}  // namespace omed::http
