// API server lifecycle and the front door: TLS and token set-up, kubeconfig, authentication,
// fault injection, and routing of each request to discovery or a resource verb.
#include <filesystem>
#include <thread>
#include <fstream>
#include <sstream>

#include "internal.hpp"
#include "omed/apiserver/table.hpp"
#include "omed/apiserver/tls.hpp"
#include "omed/common/strings.hpp"
#include "omed/common/yaml.hpp"
#include "omed/metrics/registry.hpp"

namespace omed::apiserver {

std::string now_rfc3339() { return format_rfc3339(std::chrono::system_clock::now()); }

// ------------------------------------------------------------------ faults

void FaultInjector::set(const FaultOptions& f) {
  std::lock_guard<std::mutex> lk(mu_);
  opts_ = f;
  rng_.seed(f.seed);
  drop_watch_.store(f.drop_watch, std::memory_order_relaxed);
}

FaultOptions FaultInjector::get() const {
  std::lock_guard<std::mutex> lk(mu_);
  return opts_;
}

bool FaultInjector::roll(double p) {
  if (p <= 0)
    return false;
  std::lock_guard<std::mutex> lk(mu_);
  return std::uniform_real_distribution<double>(0, 1)(rng_) < p;
}

namespace {

json::Value faults_to_json(const FaultOptions& f) {
  return json::Object{{"seed", static_cast<int64_t>(f.seed)},
                      {"dropWatch", f.drop_watch},
                      {"tooManyRequests", f.too_many_requests},
                      {"retryAfterSeconds", f.retry_after_seconds},
                      {"internalError", f.internal_error},
                      {"watchExpired", f.watch_expired},
                      {"latencyMs", f.latency_ms}};
}

bool faults_from_json(const json::Value& v, FaultOptions& f, std::string& err) {
  if (!v.is_object()) {
    err = "expected a JSON object";
    return false;
  }
  for (auto& m : v.as_object()) {
    auto num = [&](double& out) {
      if (!m.value.is_number() || m.value.as_double() < 0 || m.value.as_double() > 1) {
        err = m.key + " must be a probability between 0 and 1";
        return false;
      }
      out = m.value.as_double();
      return true;
    };
    if (m.key == "seed" && m.value.is_int())
      f.seed = static_cast<uint64_t>(m.value.as_int());
    else if (m.key == "dropWatch") {
      if (!num(f.drop_watch)) return false;
    } else if (m.key == "tooManyRequests") {
      if (!num(f.too_many_requests)) return false;
    } else if (m.key == "internalError") {
      if (!num(f.internal_error)) return false;
    } else if (m.key == "watchExpired") {
      if (!num(f.watch_expired)) return false;
    } else if (m.key == "retryAfterSeconds" && m.value.is_int())
      f.retry_after_seconds = static_cast<int>(m.value.as_int());
    else if (m.key == "latencyMs" && m.value.is_int())
      f.latency_ms = static_cast<int>(m.value.as_int());
    else {
      err = "unknown or mistyped fault setting " + m.key;
      return false;
    }
  }
  return true;
}

}  // namespace

// ------------------------------------------------------------------ Impl basics

std::string ApiServer::Impl::new_uid() {
  std::lock_guard<std::mutex> lk(rng_mu);
  uint64_t a = rng(), b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

std::string ApiServer::Impl::random_suffix(size_t n) {
  // The alphabet Kubernetes uses for generateName (no vowels, no confusable digits).
  static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
  std::lock_guard<std::mutex> lk(rng_mu);
  std::string out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(alphabet[rng() % (sizeof(alphabet) - 1)]);
  return out;
}

void ApiServer::Impl::respond_json(const std::shared_ptr<http::Exchange>& ex, int code, const json::Value& body,
                                   bool pretty, std::vector<http::Header> extra) {
  http::Response resp;
  resp.status = code;
  resp.body = pretty ? json::pretty(body) : json::dump(body);
  resp.body.push_back('\n');
  resp.headers.push_back({"Content-Type", "application/json"});
  resp.headers.push_back({"Cache-Control", "no-cache, private"});
  for (auto& h : extra)
    resp.headers.push_back(std::move(h));
  ex->respond(std::move(resp));
}

void ApiServer::Impl::respond(const ApiRequest& r, int code, const json::Value& body) {
  respond_json(r.ex, code, body, r.pretty);
}

void ApiServer::Impl::respond_error(const std::shared_ptr<http::Exchange>& ex, const ApiError& e) {
  std::vector<http::Header> extra;
  if (e.retry_after > 0)
    extra.push_back({"Retry-After", std::to_string(e.retry_after)});
  respond_json(ex, e.code, e.to_status(), false, std::move(extra));
}

bool ApiServer::Impl::authorized(const http::Request& r) const {
  auto* h = r.header("Authorization");
  if (!h)
    return false;
  static const std::string prefix = "Bearer ";
  if (h->size() != prefix.size() + token.size() || h->compare(0, prefix.size(), prefix) != 0)
    return false;
  // Constant-time comparison: the token is the only credential.
  unsigned char diff = 0;
  for (size_t i = 0; i < token.size(); ++i)
    diff |= static_cast<unsigned char>((*h)[prefix.size() + i] ^ token[i]);
  return diff == 0;
}

namespace {

// Go's strconv.ParseBool truth values: clients send "true", "1" or (Python) "True".
bool parse_bool_true(const std::string& v) {
  return v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "true" || v == "True";
}

bool query_is_watch(const std::string& query) {
  for (auto& [k, v] : http::parse_query(query))
    if (k == "watch")
      return parse_bool_true(v);
  return false;
}

// Counts every answer by verb and status code, whichever thread answers.
class CountedExchange : public http::Exchange {
public:
  CountedExchange(std::shared_ptr<http::Exchange> inner, metrics::Family<metrics::Counter>* fam)
    : inner_(std::move(inner)), fam_(fam) {
    auto& r = inner_->request();
    verb_ = query_is_watch(r.query) ? "WATCH" : r.method;
  }
  const http::Request& request() const override { return inner_->request(); }
  void respond(http::Response r) override {
    fam_->with({verb_, std::to_string(r.status)}).inc();
    inner_->respond(std::move(r));
  }
  std::shared_ptr<http::Stream> stream(int status, std::vector<http::Header> h) override {
    fam_->with({verb_, std::to_string(status)}).inc();
    return inner_->stream(status, std::move(h));
  }

private:
  std::shared_ptr<http::Exchange> inner_;
  metrics::Family<metrics::Counter>* fam_;
  std::string verb_;
};

}  // namespace

void ApiServer::Impl::handle(std::shared_ptr<http::Exchange> ex) {
  if (req_counter)
    ex = std::make_shared<CountedExchange>(std::move(ex), req_counter);
  auto& req = ex->request();
  const auto& path = req.path;
  // Health and version are public, as on a real cluster (system:public-info-viewer).
  if (path == "/version" || path == "/version/") {
    json::Object v{{"major", "1"},       {"minor", "32"},           {"gitVersion", "v1.32.0-omed"},
                   {"gitCommit", "omed-" OMED_VERSION}, {"gitTreeState", "clean"}, {"buildDate", "2026-11-01T00:00:00Z"},
                   {"goVersion", "go1.23.0"}, {"compiler", "gc"},   {"platform", "linux/amd64"}};
    return respond_json(ex, 200, v);
  }
  if (path == "/healthz" || path == "/livez" || path == "/readyz") {
    ex->respond(http::Response::text(200, "ok"));
    return;
  }
  if (!authorized(req))
    return respond_error(ex, unauthorized());
  if (path.rfind("/omed/", 0) != 0)
    ex = audit.wrap(std::move(ex));

  auto f = faults.get();
  if (f.enabled() && path.rfind("/omed/", 0) != 0) {
    bool is_watch = query_is_watch(req.query);
    if (!is_watch && faults.roll(f.too_many_requests))
      return respond_error(ex, too_many_requests(f.retry_after_seconds));
    if (!is_watch && faults.roll(f.internal_error))
      return respond_error(ex, internal("injected fault"));
    if (f.latency_ms > 0) {
      auto self = shared_from_this();
      workers->post_after(std::chrono::milliseconds(f.latency_ms), [self, ex] { self->handle_after_faults(ex); });
      return;
    }
  }
  handle_after_faults(std::move(ex));
}

void ApiServer::Impl::handle_after_faults(std::shared_ptr<http::Exchange> ex) {
  auto& req = ex->request();
  const auto& path = req.path;
  if (path == "/omed/faults") {
    if (req.method == "GET")
      return respond_json(ex, 200, faults_to_json(faults.get()));
    if (req.method == "POST" || req.method == "PUT") {
      json::Value v;
      std::string err;
      auto f = faults.get();
      if (!json::try_parse(req.body, v, err) || !faults_from_json(v, f, err))
        return respond_error(ex, bad_request("fault settings: " + err));
      faults.set(f);
      log.warn("fault injection changed").kv("faults", json::dump(faults_to_json(f)));
      return respond_json(ex, 200, faults_to_json(f));
    }
    return respond_error(ex, method_not_allowed(req.method, "FaultSettings"));
  }
  if (path == "/omed/audit") {
    if (req.method != "GET")
      return respond_error(ex, method_not_allowed(req.method, "EventList"));
    uint64_t since = 0;
    for (auto& [k, v] : http::parse_query(req.query))
      if (k == "since")
        since = std::strtoull(v.c_str(), nullptr, 10);
    return respond_json(ex, 200, audit.list(since));
  }
  if (path.rfind("/omed/", 0) == 0) {
    ApiServer::AdminHandler handler;
    {
      std::lock_guard<std::mutex> lk(admin_mu);
      for (auto& [prefix, h] : admin_routes)
        if (path.rfind(prefix, 0) == 0)
          handler = h;
    }
    if (handler)
      return ex->respond(handler(ex->request()));
  }
  if (serve_discovery(ex))
    return;
  ApiRequest r;
  r.ex = ex;
  if (!parse_api_path(path, r))
    return respond_error(ex, path_not_found());
  for (auto& [k, v] : http::parse_query(req.query))
    r.q[k] = v;
  // Boolean options decode like Go's strconv.ParseBool: the Python client sends "watch=True".
  for (const char* k : {"watch", "allowWatchBookmarks", "sendInitialEvents", "force", "pretty", "orphanDependents"}) {
    auto it = r.q.find(k);
    if (it == r.q.end())
      continue;
    const auto& v = it->second;
    if (parse_bool_true(v))
      it->second = "true";
    else if (v == "0" || v == "f" || v == "F" || v == "FALSE" || v == "false" || v == "False")
      it->second = "false";
  }
  r.rt = registry.find(r.group, r.version, r.plural);
  if (!r.rt)
    return respond_error(ex, path_not_found());
  if (auto* accept = req.header("Accept"))
    r.table = accept->find("as=Table") != std::string::npos;
  r.pretty = r.param("pretty") == "true" || r.param("pretty") == "1";
  r.dry_run = r.param("dryRun") == "All";
  r.field_manager = r.param("fieldManager");
  // Case-sensitive, as ValidateFieldValidation is upstream.
  r.field_validation = r.param("fieldValidation", "Warn");
  if (auto* ua = req.header("User-Agent"))
    r.user_agent = *ua;
  if (r.has("dryRun") && !r.dry_run)
    return respond_error(ex, invalid("DeleteOptions", "", "", {api::not_supported("dryRun", r.param("dryRun"), {"All"})}));
  if (r.field_validation != "Strict" && r.field_validation != "Warn" && r.field_validation != "Ignore")
    return respond_error(ex, bad_request("fieldValidation: Unsupported value: \"" + r.field_validation +
                                         "\": supported values: \"Ignore\", \"Warn\", \"Strict\""));
  // Verb from method and shape.
  auto& m = req.method;
  bool watch = r.param("watch") == "true" || r.param("watch") == "1";
  if (m == "GET")
    r.verb = r.name.empty() ? (watch ? "watch" : "list") : "get";
  else if (m == "POST")
    r.verb = r.name.empty() ? "create" : (r.sub == "binding" ? "binding" : "create-sub");
  else if (m == "PUT")
    r.verb = "update";
  else if (m == "PATCH")
    r.verb = "patch";
  else if (m == "DELETE")
    r.verb = r.name.empty() ? "deletecollection" : "delete";
  else
    return respond_error(ex, method_not_allowed(m, r.rt->kind));
  // Requests that only compute run right here on the I/O thread: a hop to another thread costs
  // more than the work. What may block goes to the workers: durable writes wait for their fsync,
  // and reads of a future resourceVersion wait for the store to reach it.
  bool may_block = store->durable() && r.verb != "get" && r.verb != "list" && r.verb != "watch";
  uint64_t want_rv = 0;
  auto rvp = r.param("resourceVersion");
  if (!rvp.empty() && rvp.size() < 20 && rvp.find_first_not_of("0123456789") == std::string::npos)
    want_rv = std::stoull(rvp);
  if (want_rv > store->current_rv())
    may_block = true;
  if (!may_block)
    return dispatch(r);
  auto self = shared_from_this();
  workers->post([self, r]() mutable { self->dispatch(r); });
}

// ------------------------------------------------------------------ bootstrap

void ApiServer::Impl::bootstrap() {
  for (auto& rt : builtin_resources())
    registry.add(rt);
  core_events = registry.find("", "v1", "events");
  // CRDs recovered from durable storage are served again.
  auto crds = store->list("apiextensions.k8s.io/v1/customresourcedefinitions", "", {}, 0);
  for (auto& o : crds.items) {
    json::Value crd;
    std::string err;
    if (json::try_parse(*o.json, crd, err))
      register_crd(crd);
  }
  // The namespaces every cluster has.
  auto ns_rt = registry.find("", "v1", "namespaces");
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    if (store->get(ns_rt->id(), ns))
      continue;
    json::Value obj = json::Object{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", json::Object{{"name", ns}}}};
    prepare_create(*ns_rt, obj);
    store->create(ns_rt->id(), ns, std::move(obj), indexer(*ns_rt));
  }
}

}  // namespace omed::apiserver

// ------------------------------------------------------------------ public facade

namespace omed::apiserver {

ApiServer::ApiServer(ApiServerOptions opts) : impl_(std::make_shared<Impl>()) { impl_->opts = std::move(opts); }

ApiServer::~ApiServer() { stop(); }

void ApiServer::start() {
  auto& im = *impl_;
  auto& o = im.opts;
  if (!o.data_dir.empty())
    std::filesystem::create_directories(o.data_dir);
  Store::Options so;
  so.history_limit = o.history_limit;
  if (!o.data_dir.empty())
    so.data_dir = (std::filesystem::path(o.data_dir) / "storage").string();
  im.store = std::make_unique<Store>(so);
  if (!so.data_dir.empty()) {
    // The built-in registry must exist to index recovered objects.
    for (auto& rt : builtin_resources())
      im.registry.add(rt);
    auto n = im.store->recover([&im](const std::string& res, const json::Value& obj, StoredObject& out) {
      if (auto rt = im.registry.find_by_id(res))
        im.index_object(*rt, obj, out);
      else if (auto* labels = obj.at_path("metadata.labels"); labels && labels->is_object())
        for (auto& m : labels->as_object())
          if (m.value.is_string())
            out.labels.emplace_back(m.key, m.value.as_string());
    });
    im.log.info("storage recovered").kv("objects", n).kv("resourceVersion", im.store->current_rv());
  }
  if (!o.builtin_schemas_dir.empty()) {
    im.builtin_schemas = std::make_unique<api::K8sSchemas>(api::K8sSchemas::load_dir(o.builtin_schemas_dir));
  }
  im.faults.set(o.faults);
  im.token = o.token.empty() ? generate_token() : o.token;
  log::register_secret(im.token);
  if (o.metrics)
    im.req_counter = &o.metrics->counter("omed_apiserver_requests_total",
                                         "Requests served by the embedded API server.", {"verb", "code"});
  im.workers = std::make_unique<ThreadPool>(16, "api-worker");
  im.bootstrap();

  http::ServerOptions ho;
  ho.host = o.host;
  ho.port = o.port;
  ho.threads = o.io_threads > 0 ? o.io_threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency() / 2));
  ho.max_body_bytes = o.max_body_bytes;
  ho.stream_coalesce = std::chrono::microseconds(4000);  // watches: <= 4 ms added, far fewer writes
  ho.error_response = [](int status, const std::string& msg) {
    ApiError e = status == 413 ? entity_too_large(3 * 1024 * 1024) : bad_request(msg);
    if (status != 413)
      e.code = status;
    http::Response r;
    r.status = status;
    r.body = json::dump(e.to_status()) + "\n";
    r.headers.push_back({"Content-Type", "application/json"});
    return r;
  };
  if (o.tls) {
    std::vector<std::string> ips = {"127.0.0.1", "::1"};
    if (o.host != "127.0.0.1" && o.host != "::1" && o.host != "localhost" && o.host != "0.0.0.0")
      ips.push_back(o.host);
    auto certs = generate_serving_certs({"localhost", "omed-apiserver"}, ips);
    im.ca_pem = certs.ca_cert_pem;
    ho.tls = http::TlsOptions{certs.cert_pem + certs.ca_cert_pem, certs.key_pem};
  }
  std::weak_ptr<Impl> weak = impl_;
  im.http = std::make_unique<http::Server>(ho, [weak](std::shared_ptr<http::Exchange> ex) {
    if (auto self = weak.lock())
      self->handle(std::move(ex));
    else
      ex->respond(http::Response::text(503, "shutting down\n"));
  });
  im.http->start();
  im.running = true;
  im.start_controllers();
  im.housekeeper = std::thread([&im] { im.housekeeping_loop(); });
  if (o.kubeconfig_path.empty() && !o.data_dir.empty())
    o.kubeconfig_path = (std::filesystem::path(o.data_dir) / "kubeconfig").string();
  if (!o.kubeconfig_path.empty()) {
    KubeconfigSpec ks;
    ks.server = url();
    ks.ca_cert_pem = im.ca_pem;
    ks.token = im.token;
    write_private_file(o.kubeconfig_path, render_kubeconfig(ks));
  }
  im.log.info("API server listening")
    .kv("url", url())
    .kv("storage", im.store->durable() ? "durable" : "memory")
    .kv("kubeconfig", o.kubeconfig_path);
}

void ApiServer::stop() {
  auto& im = *impl_;
  if (!im.running.exchange(false))
    return;
  if (im.housekeeper.joinable())
    im.housekeeper.join();
  im.stop_controllers();
  // Workers first, while the I/O thread still runs: dropping a request that was delayed (fault
  // latency) releases its exchange, and that release must reach the HTTP session to free it.
  if (im.workers)
    im.workers->stop();
  if (im.http)
    im.http->stop();
  {
    std::lock_guard<std::mutex> lk(im.watch_mu);
    im.watches.clear();
  }
  im.store.reset();
}

uint16_t ApiServer::port() const { return impl_->http ? impl_->http->port() : 0; }

std::string ApiServer::url() const {
  auto host = impl_->opts.host == "0.0.0.0" ? std::string("127.0.0.1") : impl_->opts.host;
  if (host.find(':') != std::string::npos)
    host = "[" + host + "]";
  return std::string(impl_->opts.tls ? "https://" : "http://") + host + ":" + std::to_string(port());
}

const std::string& ApiServer::token() const { return impl_->token; }
const std::string& ApiServer::ca_pem() const { return impl_->ca_pem; }
std::string ApiServer::kubeconfig_path() const { return impl_->opts.kubeconfig_path; }
uint64_t ApiServer::current_rv() const { return impl_->store ? impl_->store->current_rv() : 0; }
void ApiServer::set_faults(const FaultOptions& f) { impl_->faults.set(f); }

void ApiServer::serve_local(std::shared_ptr<http::Exchange> ex) { impl_->handle(std::move(ex)); }

void ApiServer::add_admin_route(std::string prefix, AdminHandler handler) {
  std::lock_guard<std::mutex> lk(impl_->admin_mu);
  impl_->admin_routes.emplace_back(std::move(prefix), std::move(handler));
}

}  // namespace omed::apiserver
