// The libcurl transport of the Kubernetes client: pooled easy handles (kept-alive connections),
// a token-bucket rate limiter, bearer tokens with one retry after 401, and streaming watches.
#include "omed/k8s/rest_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <mutex>
#include <strings.h>
#include <thread>

#include "omed/k8s/api_error.hpp"
#include "omed/metrics/registry.hpp"

namespace omed::k8s {

namespace {

std::once_flag curl_init_once;

void ensure_curl_initialised() {
  std::call_once(curl_init_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
  void add(const std::string& h) { list = curl_slist_append(list, h.c_str()); }
};

// Collects response headers; a new status line (redirects, 100-continue) starts over.
size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    headers->clear();
    return size * n;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    auto value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    (*headers)[name] = std::string(value);
  }
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// Host and port of "https://host:port" (IPv6 in brackets kept as is).
void split_server(const std::string& server, std::string& scheme, std::string& host, std::string& port) {
  auto p = server.find("://");
  scheme = p == std::string::npos ? "https" : server.substr(0, p);
  std::string rest = p == std::string::npos ? server : server.substr(p + 3);
  auto slash = rest.find('/');
  if (slash != std::string::npos)
    rest = rest.substr(0, slash);
  auto colon = rest.rfind(':');
  if (colon != std::string::npos && rest.find(']', colon) == std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  } else {
    host = rest;
    port = scheme == "http" ? "80" : "443";
  }
}

}  // namespace

struct RestClient::Impl {
  ClientOptions opts;
  std::string base;          // scheme://host:port used in URLs (tls-server-name replaces the host)
  std::string connect_to;    // CURLOPT_CONNECT_TO entry when tls-server-name is set

  std::mutex pool_mu;
  std::vector<CURL*> pool;

  std::mutex bucket_mu;
  double tokens = 0;
  std::chrono::steady_clock::time_point last_refill = std::chrono::steady_clock::now();
  std::atomic<uint64_t> throttled{0};

  metrics::Family<metrics::Counter>* requests = nullptr;

  ~Impl() {
    for (auto* h : pool)
      curl_easy_cleanup(h);
  }

  CURL* acquire() {
    {
      std::lock_guard<std::mutex> lk(pool_mu);
      if (!pool.empty()) {
        CURL* h = pool.back();
        pool.pop_back();
        curl_easy_reset(h);  // keeps the connection cache, drops the previous request's options
        return h;
      }
    }
    CURL* h = curl_easy_init();
    if (!h)
      throw TransportError("libcurl could not create a handle");
    return h;
  }

  void release(CURL* h) {
    std::lock_guard<std::mutex> lk(pool_mu);
    if (pool.size() < 32)
      pool.push_back(h);
    else
      curl_easy_cleanup(h);
  }

  // Blocks until the token bucket allows one more request (client-go's flowcontrol defaults).
  void wait_for_token() {
    if (opts.qps <= 0)
      return;
    std::unique_lock<std::mutex> lk(bucket_mu);
    bool waited = false;
    while (true) {
      auto now = std::chrono::steady_clock::now();
      double elapsed = std::chrono::duration<double>(now - last_refill).count();
      tokens = std::min<double>(opts.burst, tokens + elapsed * opts.qps);
      last_refill = now;
      if (tokens >= 1) {
        tokens -= 1;
        break;
      }
      waited = true;
      auto wait = std::chrono::duration<double>((1 - tokens) / opts.qps);
      lk.unlock();
      std::this_thread::sleep_for(wait);
      lk.lock();
    }
    if (waited)
      throttled++;
  }

  void count(const std::string& verb, int code) {
    if (requests)
      requests->with({verb, code ? std::to_string(code) : std::string("<error>")}).inc();
  }
};

namespace {

// The current bearer token (empty: none); a credential plugin that fails is a transport error.
std::string bearer_token(const RestConfig& c) {
  if (!c.token)
    return {};
  try {
    return c.token->token();
  } catch (const ConfigError& e) {
    throw TransportError(std::string("cannot obtain credentials: ") + e.what());
  }
}

}  // namespace

RestClient::RestClient(RestConfig config, ClientOptions opts) : config_(std::move(config)), impl_(std::make_unique<Impl>()) {
  ensure_curl_initialised();
  impl_->opts = std::move(opts);
  impl_->tokens = impl_->opts.burst;
  if (config_.server.empty())
    throw ConfigError("no API server address configured");
  while (!config_.server.empty() && config_.server.back() == '/')
    config_.server.pop_back();
  std::string scheme, host, port;
  split_server(config_.server, scheme, host, port);
  impl_->base = config_.server;
  if (!config_.tls_server_name.empty() && scheme == "https") {
    // Verify the certificate against tls-server-name while connecting to the configured host.
    impl_->base = scheme + "://" + config_.tls_server_name + ":" + port;
    std::string bare = host;
    if (bare.size() > 2 && bare.front() == '[')
      bare = bare.substr(1, bare.size() - 2);
    impl_->connect_to = config_.tls_server_name + ":" + port + ":" + bare + ":" + port;
  }
  if (impl_->opts.metrics)
    impl_->requests = &impl_->opts.metrics->counter("omed_api_requests_total",
                                                     "Requests omed made to the Kubernetes API server.",
                                                     {"verb", "code"});
}

RestClient::~RestClient() = default;

uint64_t RestClient::throttled_requests() const { return impl_->throttled.load(); }

namespace {

struct Prepared {
  HeaderList headers;
  curl_slist* connect_to = nullptr;
  ~Prepared() { curl_slist_free_all(connect_to); }
};

void set_tls(CURL* h, const RestConfig& c, Prepared& p, const std::string& connect_to) {
  if (c.insecure_skip_tls_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  } else {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  }
  if (!c.ca_pem.empty()) {
    curl_blob blob{const_cast<char*>(c.ca_pem.data()), c.ca_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
  }
  if (!c.client_cert_pem.empty()) {
    curl_blob cert{const_cast<char*>(c.client_cert_pem.data()), c.client_cert_pem.size(), CURL_BLOB_COPY};
    curl_blob key{const_cast<char*>(c.client_key_pem.data()), c.client_key_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
  }
  if (!connect_to.empty()) {
    p.connect_to = curl_slist_append(nullptr, connect_to.c_str());
    curl_easy_setopt(h, CURLOPT_CONNECT_TO, p.connect_to);
  }
}

}  // namespace

HttpResponse RestClient::request(const std::string& method, const std::string& target, const std::string& body,
                                 const std::string& content_type,
                                 const std::vector<std::pair<std::string, std::string>>& headers) {
  for (int attempt = 0;; ++attempt) {
    impl_->wait_for_token();
    std::string token = bearer_token(config_);
    CURL* h = impl_->acquire();
    Prepared p;
    HttpResponse resp;
    std::string url = impl_->base + target;
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(impl_->opts.timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(impl_->opts.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_USERAGENT, impl_->opts.user_agent.c_str());
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp.headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp.body);
    if (method == "GET") {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    bool has_accept = std::any_of(headers.begin(), headers.end(), [](auto& kv) {
      return kv.first.size() == 6 && strncasecmp(kv.first.c_str(), "accept", 6) == 0;
    });
    if (!has_accept)
      p.headers.add("Accept: application/json");
    if (method != "GET" && method != "HEAD")
      p.headers.add("Content-Type: " + content_type);
    p.headers.add("Expect:");  // no 100-continue round trip: bodies are small
    if (!token.empty())
      p.headers.add("Authorization: Bearer " + token);
    for (auto& [k, v] : headers)
      p.headers.add(k + ": " + v);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, p.headers.list);
    set_tls(h, config_, p, impl_->connect_to);

    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    impl_->release(h);
    if (rc != CURLE_OK) {
      impl_->count(method, 0);
      throw TransportError(method + " " + config_.server + target.substr(0, target.find('?')) + ": " +
                           curl_easy_strerror(rc));
    }
    resp.code = static_cast<int>(code);
    impl_->count(method, resp.code);
    if (resp.code == 401 && attempt == 0 && config_.token) {
      config_.token->invalidate();  // a rotated token or an expired exec credential
      continue;
    }
    return resp;
  }
}

namespace {

struct StreamState {
  const std::function<bool(std::string_view)>* on_data;
  std::map<std::string, std::string> headers;
  CURL* handle = nullptr;
  int code = 0;
  bool stopped = false;
  std::string error_body;
  std::chrono::steady_clock::time_point last_data = std::chrono::steady_clock::now();
};

size_t on_stream(char* data, size_t size, size_t n, void* user) {
  auto* st = static_cast<StreamState*>(user);
  st->last_data = std::chrono::steady_clock::now();
  if (st->code == 0) {
    long code = 0;
    curl_easy_getinfo(st->handle, CURLINFO_RESPONSE_CODE, &code);
    st->code = static_cast<int>(code);
  }
  if (st->code != 200) {
    if (st->error_body.size() < 64 * 1024)
      st->error_body.append(data, size * n);
    return size * n;
  }
  if (!(*st->on_data)(std::string_view(data, size * n))) {
    st->stopped = true;
    return 0;  // aborts the transfer
  }
  return size * n;
}

}  // namespace

RestClient::StreamEnd RestClient::stream(const std::string& target, const std::function<bool(std::string_view)>& on_data,
                                         const std::atomic<bool>* cancel, std::chrono::milliseconds idle_timeout,
                                         const std::function<void()>& on_tick) {
  impl_->wait_for_token();
  std::string token = bearer_token(config_);
  CURL* h = impl_->acquire();
  CURLM* multi = curl_multi_init();
  Prepared p;
  StreamState st;
  st.on_data = &on_data;
  st.handle = h;
  std::string url = impl_->base + target;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(impl_->opts.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_USERAGENT, impl_->opts.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &st.headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_stream);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  p.headers.add("Accept: application/json");
  if (!token.empty())
    p.headers.add("Authorization: Bearer " + token);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, p.headers.list);
  set_tls(h, config_, p, impl_->connect_to);
  curl_multi_add_handle(multi, h);

  StreamEnd end;
  CURLcode result = CURLE_OK;
  bool done = false;
  while (!done) {
    int running = 0;
    if (curl_multi_perform(multi, &running) != CURLM_OK)
      break;
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left))
      if (m->msg == CURLMSG_DONE) {
        result = m->data.result;
        done = true;
      }
    if (done || running == 0)
      break;
    if (cancel && cancel->load()) {
      end.cancelled = true;
      break;
    }
    if (on_tick)
      on_tick();
    if (std::chrono::steady_clock::now() - st.last_data > idle_timeout) {
      end.broken = true;  // a silent connection: the server or a middlebox lost it
      break;
    }
    // Short polls keep cancellation and the idle check responsive without a wakeup pipe.
    curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  }
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  curl_multi_remove_handle(multi, h);
  curl_multi_cleanup(multi);
  curl_easy_cleanup(h);  // a streamed connection is not worth keeping: it may be half-read
  end.code = static_cast<int>(code);
  impl_->count("WATCH", end.code);
  if (end.code == 0 && !end.cancelled) {
    if (result != CURLE_OK && !st.stopped)
      throw TransportError("watch " + config_.server + target.substr(0, target.find('?')) + ": " +
                           curl_easy_strerror(result));
    if (end.broken)
      throw TransportError("watch " + config_.server + target.substr(0, target.find('?')) + ": no response");
  }
  if (result != CURLE_OK && !st.stopped && !end.cancelled)
    end.broken = true;
  end.error_body = std::move(st.error_body);
  auto ra = st.headers.find("retry-after");
  if (ra != st.headers.end())
    end.retry_after = ra->second;
  if (end.code == 401 && config_.token)
    config_.token->invalidate();
  return end;
}

}  // namespace omed::k8s
