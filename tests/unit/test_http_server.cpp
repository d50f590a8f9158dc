#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <thread>

#include "omed/http/server.hpp"
#include "../support/raw_http.hpp"

using namespace omed;
using omed::testing::RawConn;

namespace {
std::string body_of(const std::string& resp) {
  auto p = resp.find("\r\n\r\n");
  return p == std::string::npos ? "" : resp.substr(p + 4);
}
}  // namespace

TEST_CASE("http server answers, keeps connections alive and parses queries", "[http]") {
  http::Server srv({}, [](std::shared_ptr<http::Exchange> ex) {
    auto& r = ex->request();
    std::string out = r.method + " " + r.path + " ?" + r.query + " body=" + r.body;
    for (auto& [k, v] : http::parse_query(r.query))
      out += " [" + k + "=" + v + "]";
    ex->respond(http::Response::text(200, out));
  });
  srv.start();
  REQUIRE(srv.port() != 0);
  RawConn c(srv.port());
  c.send("GET /a%20b?x=1&y=a%2Cb+c HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r1 = c.read_response();
  CHECK_THAT(r1, Catch::StartsWith("HTTP/1.1 200 OK"));
  CHECK(body_of(r1) == "GET /a b ?x=1&y=a%2Cb+c body= [x=1] [y=a,b c]");
  // Same connection, second request with a body.
  c.send("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  auto r2 = c.read_response();
  CHECK(body_of(r2) == "POST /p ? body=hello");
  srv.stop();
}

TEST_CASE("http server answers 100-continue and enforces the body limit", "[http]") {
  http::ServerOptions o;
  o.max_body_bytes = 1000;
  http::Server srv(o, [](std::shared_ptr<http::Exchange> ex) {
    ex->respond(http::Response::text(200, std::to_string(ex->request().body.size())));
  });
  srv.start();
  {
    RawConn c(srv.port());
    c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n");
    auto cont = c.read_until("\r\n\r\n");
    CHECK_THAT(cont, Catch::StartsWith("HTTP/1.1 100 Continue"));
    c.send("0123456789");
    CHECK(body_of(c.read_response()) == "10");
  }
  {
    RawConn c(srv.port());
    c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'x'));
    auto r = c.read_response();
    CHECK_THAT(r, Catch::StartsWith("HTTP/1.1 413"));
    CHECK_THAT(r, Catch::Contains("limit is 1000 bytes"));
  }
  {
    RawConn c(srv.port());
    c.send("GARBAGE\r\n\r\n");
    CHECK_THAT(c.read_response(), Catch::StartsWith("HTTP/1.1 400"));
  }
  srv.stop();
}

TEST_CASE("http server streams chunks and notices a client going away", "[http]") {
  std::shared_ptr<http::Stream> stream;
  std::atomic<bool> closed{false};
  std::mutex mu;
  http::Server srv({}, [&](std::shared_ptr<http::Exchange> ex) {
    auto s = ex->stream(200, {{"Content-Type", "application/json"}});
    s->on_close([&] { closed = true; });
    s->write("{\"a\":1}\n");
    std::lock_guard<std::mutex> lk(mu);
    stream = s;
  });
  srv.start();
  {
    RawConn c(srv.port());
    c.send("GET /watch HTTP/1.1\r\nHost: x\r\n\r\n");
    auto head = c.read_until("{\"a\":1}\n\r\n");
    CHECK_THAT(head, Catch::Contains("Transfer-Encoding: chunked"));
    CHECK_THAT(head, Catch::Contains("\r\n8\r\n{\"a\":1}\n\r\n"));
    std::shared_ptr<http::Stream> s;
    {
      std::lock_guard<std::mutex> lk(mu);
      s = stream;
    }
    REQUIRE(s);
    CHECK(s->write("{\"b\":2}\n"));
    CHECK_THAT(c.read_until("{\"b\":2}\n"), Catch::Equals("8\r\n{\"b\":2}\n"));
    c.close();
  }
  for (int i = 0; i < 200 && !closed; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(closed);
  CHECK_FALSE(stream->write("late"));
  stream.reset();
  srv.stop();
}

TEST_CASE("http server ends a stream with the terminal chunk", "[http]") {
  http::Server srv({}, [](std::shared_ptr<http::Exchange> ex) {
    auto s = ex->stream(200, {});
    s->write("x\n");
    s->end();
  });
  srv.start();
  RawConn c(srv.port());
  c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  auto all = c.read_until("0\r\n\r\n");
  CHECK_THAT(all, Catch::EndsWith("2\r\nx\n\r\n0\r\n\r\n"));
  srv.stop();
}

TEST_CASE("http server: an unanswered exchange gets a 500, a throwing handler too", "[http]") {
  http::Server srv({}, [](std::shared_ptr<http::Exchange> ex) {
    if (ex->request().path == "/throw")
      throw std::runtime_error("boom");
    // dropped without answering
  });
  srv.start();
  CHECK_THAT(omed::testing::http_get(srv.port(), "/drop"), Catch::StartsWith("HTTP/1.1 500"));
  auto r = omed::testing::http_get(srv.port(), "/throw");
  CHECK_THAT(r, Catch::StartsWith("HTTP/1.1 500"));
  CHECK_THAT(r, Catch::Contains("boom"));
  srv.stop();
}

TEST_CASE("http server stop closes open streams and returns", "[http]") {
  std::atomic<int> closes{0};
  auto srv = std::make_unique<http::Server>(http::ServerOptions{}, [&](std::shared_ptr<http::Exchange> ex) {
    auto s = ex->stream(200, {});
    s->on_close([&] { ++closes; });
  });
  srv->start();
  RawConn c1(srv->port()), c2(srv->port());
  c1.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  c2.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  c1.read_until("\r\n\r\n");
  c2.read_until("\r\n\r\n");
  srv->stop();
  CHECK(closes == 2);
}

TEST_CASE("address helpers", "[http]") {
  std::string h;
  uint16_t p;
  REQUIRE(http::split_host_port("127.0.0.1:8080", h, p));
  CHECK((h == "127.0.0.1" && p == 8080));
  REQUIRE(http::split_host_port("[::1]:9", h, p));
  CHECK((h == "::1" && p == 9));
  REQUIRE(http::split_host_port(":9090", h, p));
  CHECK(h == "0.0.0.0");
  CHECK_FALSE(http::split_host_port("::1:9", h, p));
  CHECK_FALSE(http::split_host_port("host:99999", h, p));
  CHECK(http::is_loopback("127.0.0.53"));
  CHECK_FALSE(http::is_loopback("0.0.0.0"));
  CHECK(http::url_encode("a b/c") == "a%20b%2Fc");
}
