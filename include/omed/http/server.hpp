// The HTTP/1.1 server every omed endpoint runs on (metrics, probes, admin API, webhooks and the
// embedded API server). Beast stays behind this header: handlers see plain request/response values.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace omed::http {

struct Header {
  std::string name;
  std::string value;
};

struct Request {
  std::string method;   // "GET", "POST", ...
  std::string target;   // raw request target: path plus "?query"
  std::string path;     // percent-decoded path without the query
  std::string query;    // raw query string without '?'
  std::vector<Header> headers;
  std::string body;
  std::string remote;   // peer address "ip:port"
  bool tls = false;

  // Case-insensitive lookup; nullptr when absent.
  const std::string* header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::vector<Header> headers;
  std::string body;

  static Response text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
  static Response json(int status, std::string body);
  Response& header(std::string name, std::string value) {
    headers.push_back({std::move(name), std::move(value)});
    return *this;
  }
};

// A chunked response body written incrementally (watch streams, live traces).
// All methods are thread-safe; writes after the client went away return false.
class Stream {
public:
  virtual ~Stream() = default;
  virtual bool write(std::string chunk) = 0;
  // Sends the terminal chunk; the connection may then serve the next request.
  virtual void end() = 0;
  // Closes the connection without the terminal chunk (a dropped stream, as a network fault).
  virtual void abort() = 0;
  virtual bool closed() const = 0;
  // Runs once when the stream ends for any reason (end(), client gone, server stopping).
  virtual void on_close(std::function<void()> fn) = 0;
  // Bytes queued but not yet written to the socket (slow-client detection).
  virtual size_t pending_bytes() const = 0;
};

// One request and the means to answer it, exactly once, from any thread.
class Exchange {
public:
  virtual ~Exchange() = default;
  virtual const Request& request() const = 0;
  virtual void respond(Response r) = 0;
  virtual std::shared_ptr<Stream> stream(int status, std::vector<Header> headers) = 0;
};

// Handlers run on an I/O thread and must not block; long work goes elsewhere and answers later.
using Handler = std::function<void(std::shared_ptr<Exchange>)>;

struct TlsOptions {
  std::string cert_chain_pem;  // PEM text (not a path)
  std::string private_key_pem;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0 picks a free port
  int threads = 1;
  size_t max_body_bytes = 3 * 1024 * 1024;
  size_t max_header_bytes = 64 * 1024;
  std::chrono::seconds idle_timeout{120};
  // A stream whose queued bytes exceed this is closed (the client is too slow).
  size_t max_stream_backlog = 64 * 1024 * 1024;
  // How long a stream's writes may gather before they go to the socket (0: at once). A watch
  // fanned out to many clients trades this much latency for far fewer syscalls per event.
  std::chrono::microseconds stream_coalesce{0};
  std::optional<TlsOptions> tls;
  // Renders error responses the server produces itself (413, 400); defaults to plain text.
  std::function<Response(int status, const std::string& message)> error_response;
};

class Server {
public:
  Server(ServerOptions opts, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts the I/O threads. Throws std::runtime_error if the address is unusable.
  void start();
  // Stops accepting, closes every connection (ending streams), joins the threads.
  void stop();
  uint16_t port() const;
  const std::string& host() const;
  size_t open_connections() const;

  struct Impl;

private:
  std::shared_ptr<Impl> impl_;
};

// Splits "host:port" (IPv6 as "[::1]:8080"). Returns false on malformed input.
bool split_host_port(std::string_view addr, std::string& host, uint16_t& port);
// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback(std::string_view host);
// Percent-decoding of a URL component ('+' stays '+').
std::string url_decode(std::string_view s);
std::string url_encode(std::string_view s);
// Parses "a=1&b=x%20y" into ordered pairs.
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view q);

}  // namespace omed::http
