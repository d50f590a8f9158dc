// Boost.Beast implementation of omed::http::Server: async sessions on strands, keep-alive,
// 100-continue, chunked streams with backlog limits, optional TLS, and an orderly stop.
// Ownership: every session holds the server Impl, so the io_context outlives every socket.
#include "omed/http/server.hpp"

#include <atomic>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

namespace omed::http {

namespace {

class StreamImpl;

class SessionBase {
public:
  virtual ~SessionBase() = default;
  virtual void close() = 0;
  virtual void send_response(Response r) = 0;
  virtual void start_stream(int status, std::vector<Header> headers,
                            std::shared_ptr<StreamImpl> stream) = 0;
  // Asks the session to collect what the stream has buffered (one post per burst of writes).
  virtual void stream_flush(std::shared_ptr<StreamImpl> st) = 0;
  virtual void stream_end() = 0;
  // Sends what was written, then closes without the terminal chunk.
  virtual void stream_abort() = 0;
};

class StreamImpl : public Stream {
public:
  StreamImpl(std::shared_ptr<SessionBase> s, size_t max_backlog)
    : session_(std::move(s)), max_backlog_(max_backlog) {}

  bool write(std::string chunk) override {
    std::shared_ptr<SessionBase> s;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (closed_ || ended_)
        return false;
      s = session_;
    }
    if (chunk.empty())
      return true;  // an empty chunk would terminate the body
    if (pending_.load() + chunk.size() > max_backlog_) {
      s->close();  // the client cannot keep up; real API servers drop such watchers too
      return false;
    }
    pending_ += chunk.size();
    bool schedule = false;
    {
      std::lock_guard<std::mutex> lk(mu_);
      buffered_.append(chunk);
      if (!flush_scheduled_) {
        flush_scheduled_ = true;
        schedule = true;
      }
    }
    // Under load many writes share one hop to the I/O thread.
    if (schedule)
      s->stream_flush(self_.lock());
    return true;
  }

  // Session side: everything written since the last flush.
  std::string take_buffered() {
    std::lock_guard<std::mutex> lk(mu_);
    flush_scheduled_ = false;
    std::string out;
    out.swap(buffered_);
    return out;
  }
  void set_self(const std::shared_ptr<StreamImpl>& me) { self_ = me; }

  void end() override {
    std::shared_ptr<SessionBase> s;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (closed_ || ended_)
        return;
      ended_ = true;
      s = session_;
    }
    s->stream_end();
  }

  void abort() override {
    std::shared_ptr<SessionBase> s;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (closed_)
        return;
      s = session_;
    }
    if (s)
      s->stream_abort();
  }

  bool closed() const override {
    std::lock_guard<std::mutex> lk(mu_);
    return closed_ || ended_;
  }

  void on_close(std::function<void()> fn) override {
    bool run_now = false;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (closed_)
        run_now = true;
      else
        callbacks_.push_back(std::move(fn));
    }
    if (run_now)
      fn();
  }

  size_t pending_bytes() const override { return pending_.load(); }

  // Session side.
  void written(size_t n) { pending_ -= n; }
  void mark_closed() {
    std::vector<std::function<void()>> cbs;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (closed_)
        return;
      closed_ = true;
      cbs.swap(callbacks_);
      session_.reset();  // breaks the session <-> stream cycle
    }
    for (auto& f : cbs)
      f();
  }

private:
  mutable std::mutex mu_;
  std::shared_ptr<SessionBase> session_;
  size_t max_backlog_;
  std::atomic<size_t> pending_{0};
  std::string buffered_;
  bool flush_scheduled_ = false;
  std::weak_ptr<StreamImpl> self_;
  bool closed_ = false;
  bool ended_ = false;
  std::vector<std::function<void()>> callbacks_;
};

class ExchangeImpl : public Exchange {
public:
  ExchangeImpl(std::shared_ptr<SessionBase> s, Request req, size_t max_backlog)
    : session_(std::move(s)), req_(std::move(req)), max_backlog_(max_backlog) {}

  ~ExchangeImpl() override {
    // A handler that dropped the exchange without answering must not leave the client hanging.
    if (!answered_.exchange(true))
      session_->send_response(Response::text(500, "internal error: request was not answered\n"));
  }

  const Request& request() const override { return req_; }

  void respond(Response r) override {
    if (answered_.exchange(true))
      return;
    session_->send_response(std::move(r));
  }

  std::shared_ptr<Stream> stream(int status, std::vector<Header> headers) override {
    if (answered_.exchange(true))
      return nullptr;
    auto st = std::make_shared<StreamImpl>(session_, max_backlog_);
    st->set_self(st);
    session_->start_stream(status, std::move(headers), st);
    return st;
  }

  std::shared_ptr<SessionBase> session_;
  Request req_;
  size_t max_backlog_;
  std::atomic<bool> answered_{false};
};

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  ServerOptions opts;
  Handler handler;
  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  tcp::acceptor acceptor{ioc};
  std::optional<ssl::context> tls_ctx;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  std::atomic<size_t> connections{0};
  std::mutex mu;
  std::vector<std::weak_ptr<SessionBase>> sessions;
  uint16_t bound_port = 0;

  Response error(int status, const std::string& msg) const {
    if (opts.error_response)
      return opts.error_response(status, msg);
    return Response::text(status, msg + "\n");
  }

  void track(const std::shared_ptr<SessionBase>& s) {
    std::lock_guard<std::mutex> lk(mu);
    // Compact occasionally so the list does not grow with connection churn.
    if (sessions.size() > 64 && sessions.size() % 64 == 0) {
      std::vector<std::weak_ptr<SessionBase>> live;
      for (auto& w : sessions)
        if (!w.expired())
          live.push_back(w);
      sessions.swap(live);
    }
    sessions.push_back(s);
  }

  void do_accept();
};

namespace {

bhttp::status to_status(int code) { return static_cast<bhttp::status>(code); }

template <class S>
class Session : public SessionBase, public std::enable_shared_from_this<Session<S>> {
public:
  template <class... Args>
  Session(std::shared_ptr<Server::Impl> srv, Args&&... args)
    : srv_(std::move(srv)), stream_(std::forward<Args>(args)...) {
    ++srv_->connections;
  }

  ~Session() override { --srv_->connections; }

  void run() {
    net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->begin(); });
  }

  void close() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->do_close(); });
  }

  void send_response(Response r) override {
    net::post(stream_.get_executor(), [self = this->shared_from_this(), r = std::move(r)]() mutable {
      self->do_send(std::move(r));
    });
  }

  void start_stream(int status, std::vector<Header> headers,
                    std::shared_ptr<StreamImpl> st) override {
    net::post(stream_.get_executor(), [self = this->shared_from_this(), status,
                                       h = std::move(headers), st = std::move(st)]() mutable {
      self->stream_obj_ = std::move(st);
      self->do_start_stream(status, std::move(h));
    });
  }

  void stream_flush(std::shared_ptr<StreamImpl> st) override {
    net::post(stream_.get_executor(), [self = this->shared_from_this(), st = std::move(st)]() mutable {
      if (!st)
        return;
      auto delay = self->srv_->opts.stream_coalesce;
      if (delay.count() <= 0)
        return self->flush_now(st);
      // The stream keeps gathering until the timer fires: it does not schedule another flush
      // while this one is pending.
      self->flush_timer_.expires_after(delay);
      self->flush_timer_.async_wait([self, st](const beast::error_code& ec) {
        if (!ec)
          self->flush_now(st);
      });
    });
  }

  void flush_now(const std::shared_ptr<StreamImpl>& st) {
    auto data = st->take_buffered();
    if (!data.empty())
      queue_.push_back(std::move(data));
    pump();
  }

  void stream_abort() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      // What was written before the fault still goes out (it may be waiting to be coalesced).
      if (self->stream_obj_) {
        auto data = self->stream_obj_->take_buffered();
        if (!data.empty())
          self->queue_.push_back(std::move(data));
      }
      self->abort_requested_ = true;
      if (!self->streaming_)
        return self->do_close();
      self->pump();
    });
  }

  void stream_end() override {
    net::post(stream_.get_executor(), [self = this->shared_from_this()] {
      // Whatever was written before end() goes out before the terminal chunk.
      if (self->stream_obj_) {
        auto data = self->stream_obj_->take_buffered();
        if (!data.empty())
          self->queue_.push_back(std::move(data));
      }
      self->end_requested_ = true;
      self->pump();
    });
  }

private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void begin() {
    if constexpr (std::is_same_v<S, beast::tcp_stream>) {
      do_read();
    } else {
      lowest().expires_after(std::chrono::seconds(30));
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec)
                                  return self->do_close();
                                self->do_read();
                              });
    }
  }

  void do_read() {
    if (srv_->stopping || closed_)
      return do_close();
    parser_.emplace();
    parser_->body_limit(srv_->opts.max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(srv_->opts.max_header_bytes));
    lowest().expires_after(srv_->opts.idle_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](beast::error_code ec, size_t) {
                               self->on_header(ec);
                             });
  }

  void on_header(beast::error_code ec) {
    if (ec)
      return on_read_error(ec);
    auto& req = parser_->get();
    auto expect = req[bhttp::field::expect];
    if (!expect.empty() && beast::iequals(expect, "100-continue")) {
      if (parser_->content_length() && *parser_->content_length() > srv_->opts.max_body_bytes)
        return reject(413, "request body too large: limit is " +
                             std::to_string(srv_->opts.max_body_bytes) + " bytes");
      continue_res_.emplace(bhttp::status::continue_, req.version());
      bhttp::async_write(stream_, *continue_res_,
                         [self = this->shared_from_this()](beast::error_code ec2, size_t) {
                           if (ec2)
                             return self->do_close();
                           self->read_body();
                         });
      return;
    }
    read_body();
  }

  void read_body() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        if (ec)
                          return self->on_read_error(ec);
                        self->dispatch_request();
                      });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == bhttp::error::body_limit)
      return reject(413, "request body too large: limit is " +
                           std::to_string(srv_->opts.max_body_bytes) + " bytes");
    if (ec == bhttp::error::header_limit)
      return reject(431, "request header fields too large");
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() && ec != bhttp::error::end_of_stream &&
        ec != bhttp::error::partial_message)
      return reject(400, "malformed HTTP request: " + ec.message());
    do_close();
  }

  void reject(int status, const std::string& msg) {
    keep_alive_ = false;
    do_send(srv_->error(status, msg));
  }

  void dispatch_request() {
    auto msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    auto q = req.target.find('?');
    req.path = url_decode(std::string_view(req.target).substr(0, q));
    if (q != std::string::npos)
      req.query = req.target.substr(q + 1);
    for (auto& f : msg)
      req.headers.push_back({std::string(f.name_string()), std::string(f.value())});
    req.body = std::move(msg.body());
    beast::error_code ec;
    auto ep = lowest().socket().remote_endpoint(ec);
    if (!ec)
      req.remote = ep.address().to_string() + ":" + std::to_string(ep.port());
    req.tls = !std::is_same_v<S, beast::tcp_stream>;

    auto ex = std::make_shared<ExchangeImpl>(this->shared_from_this(), std::move(req),
                                             srv_->opts.max_stream_backlog);
    current_exchange_ = ex;
    lowest().expires_never();  // the handler may take its time; we are not reading meanwhile
    try {
      srv_->handler(ex);
    } catch (const std::exception& e) {
      ex->respond(srv_->error(500, std::string("internal error: ") + e.what()));
    } catch (...) {
      ex->respond(srv_->error(500, "internal error"));
    }
  }

  void do_send(Response r) {
    if (closed_)
      return;
    res_ = std::make_unique<bhttp::response<bhttp::string_body>>(to_status(r.status), 11);
    for (auto& h : r.headers)
      res_->set(h.name, h.value);
    res_->body() = std::move(r.body);
    res_->keep_alive(keep_alive_ && !srv_->stopping);
    res_->prepare_payload();
    lowest().expires_after(std::chrono::seconds(60));
    bhttp::async_write(stream_, *res_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      bool keep = self->res_->keep_alive();
      self->res_.reset();
      self->current_exchange_.reset();
      if (ec || !keep)
        return self->do_close();
      self->do_read();
    });
  }

  void do_start_stream(int status, std::vector<Header> headers) {
    if (closed_) {
      if (stream_obj_)
        stream_obj_->mark_closed();
      return;
    }
    sres_ = std::make_unique<bhttp::response<bhttp::empty_body>>(to_status(status), 11);
    for (auto& h : headers)
      sres_->set(h.name, h.value);
    sres_->chunked(true);
    sres_->keep_alive(false);  // a finished stream ends the connection; clients reconnect
    ssr_ = std::make_unique<bhttp::response_serializer<bhttp::empty_body>>(*sres_);
    streaming_ = true;
    writing_ = true;
    lowest().expires_never();
    bhttp::async_write_header(stream_, *ssr_, [self = this->shared_from_this()](beast::error_code ec, size_t) {
      self->writing_ = false;
      if (ec)
        return self->do_close();
      self->probe_disconnect();
      self->pump();
    });
  }

  // While a stream is open we are not parsing requests; a pending read tells us when the
  // client goes away (EOF) so that watchers are released promptly.
  void probe_disconnect() {
    stream_.async_read_some(net::buffer(probe_buf_),
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              if (ec)
                                return self->do_close();
                              if (!self->closed_)
                                self->probe_disconnect();
                            });
  }

  void pump() {
    if (!streaming_ || writing_ || closed_)
      return;
    if (!queue_.empty()) {
      // Coalesce queued chunks into one write.
      out_.clear();
      while (!queue_.empty()) {
        out_.append(queue_.front());
        queue_.pop_front();
      }
      writing_ = true;
      net::async_write(stream_, bhttp::make_chunk(net::buffer(out_)),
                       [self = this->shared_from_this()](beast::error_code ec, size_t) {
                         self->writing_ = false;
                         if (self->stream_obj_)
                           self->stream_obj_->written(self->out_.size());
                         if (ec)
                           return self->do_close();
                         self->pump();
                       });
      return;
    }
    if (abort_requested_)
      return do_close();
    if (end_requested_) {
      writing_ = true;
      net::async_write(stream_, bhttp::make_chunk_last(),
                       [self = this->shared_from_this()](beast::error_code, size_t) {
                         self->writing_ = false;
                         self->do_close();
                       });
    }
  }

  void do_close() {
    if (closed_)
      return;
    closed_ = true;
    streaming_ = false;
    if (stream_obj_) {
      auto s = std::move(stream_obj_);
      s->mark_closed();
    }
    queue_.clear();
    beast::error_code ec;
    lowest().socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest().close();
  }

  std::shared_ptr<Server::Impl> srv_;
  S stream_;
  net::steady_timer flush_timer_{stream_.get_executor()};
  bool abort_requested_ = false;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::empty_body>> continue_res_;
  std::unique_ptr<bhttp::response<bhttp::string_body>> res_;
  std::unique_ptr<bhttp::response<bhttp::empty_body>> sres_;
  std::unique_ptr<bhttp::response_serializer<bhttp::empty_body>> ssr_;
  std::weak_ptr<ExchangeImpl> current_exchange_;
  std::shared_ptr<StreamImpl> stream_obj_;
  std::deque<std::string> queue_;
  std::string out_;
  std::array<char, 512> probe_buf_{};
  bool keep_alive_ = true;
  bool streaming_ = false;
  bool writing_ = false;
  bool end_requested_ = false;
  bool closed_ = false;
};

}  // namespace

void Server::Impl::do_accept() {
  acceptor.async_accept(net::make_strand(ioc), [self = shared_from_this()](beast::error_code ec,
                                                                           tcp::socket sock) {
    if (self->stopping)
      return;
    if (!ec) {
      sock.set_option(tcp::no_delay(true), ec);
      if (self->tls_ctx) {
        auto s = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(self, std::move(sock),
                                                                                 *self->tls_ctx);
        self->track(s);
        s->run();
      } else {
        auto s = std::make_shared<Session<beast::tcp_stream>>(self, std::move(sock));
        self->track(s);
        s->run();
      }
    }
    self->do_accept();
  });
}

Server::Server(ServerOptions opts, Handler handler) : impl_(std::make_shared<Impl>()) {
  impl_->opts = std::move(opts);
  impl_->handler = std::move(handler);
}

Server::~Server() { stop(); }

void Server::start() {
  auto& im = *impl_;
  if (im.opts.tls) {
    im.tls_ctx.emplace(ssl::context::tls_server);
    im.tls_ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                            ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    beast::error_code ec;
    im.tls_ctx->use_certificate_chain(net::buffer(im.opts.tls->cert_chain_pem), ec);
    if (ec)
      throw std::runtime_error("TLS certificate is unusable: " + ec.message());
    im.tls_ctx->use_private_key(net::buffer(im.opts.tls->private_key_pem), ssl::context::pem, ec);
    if (ec)
      throw std::runtime_error("TLS private key is unusable: " + ec.message());
  }
  beast::error_code ec;
  auto addr = net::ip::make_address(im.opts.host == "localhost" ? "127.0.0.1" : im.opts.host, ec);
  if (ec)
    throw std::runtime_error("invalid listen address '" + im.opts.host + "': " + ec.message());
  tcp::endpoint ep(addr, im.opts.port);
  im.acceptor.open(ep.protocol(), ec);
  if (!ec)
    im.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec)
    im.acceptor.bind(ep, ec);
  if (!ec)
    im.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + im.opts.host + ":" + std::to_string(im.opts.port) +
                             ": " + ec.message());
  im.bound_port = im.acceptor.local_endpoint().port();
  im.work.emplace(net::make_work_guard(im.ioc));
  im.do_accept();
  int n = std::max(1, im.opts.threads);
  for (int i = 0; i < n; ++i)
    im.threads.emplace_back([&im] { im.ioc.run(); });
}

void Server::stop() {
  auto& im = *impl_;
  if (im.stopping.exchange(true))
    return;
  if (im.threads.empty())
    return;
  net::post(im.ioc, [&im] {
    beast::error_code ec;
    im.acceptor.close(ec);
  });
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    std::lock_guard<std::mutex> lk(im.mu);
    for (auto& w : im.sessions)
      if (auto s = w.lock())
        live.push_back(std::move(s));
    im.sessions.clear();
  }
  for (auto& s : live)
    s->close();
  live.clear();
  im.work.reset();
  for (auto& t : im.threads)
    t.join();
  im.threads.clear();
  // Run what was posted after the threads left (answers to closed sessions), releasing the
  // handlers' references so nothing outlives the io_context.
  im.ioc.restart();
  im.ioc.poll();
}

uint16_t Server::port() const { return impl_->bound_port; }
const std::string& Server::host() const { return impl_->opts.host; }
size_t Server::open_connections() const { return impl_->connections.load(); }

}  // namespace omed::http
