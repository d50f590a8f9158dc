// Benchmark of the embedded API server over loopback HTTP: create throughput (memory and
// durable), listing 10,000 objects, watch fan-out lag with 100 watchers, memory per object.
// Prints a table and a last line "BENCH apiserver key=value ...".
#include <algorithm>
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "omed/apiserver/server.hpp"
#include "omed/log/logger.hpp"
#include "../support/api_client.hpp"
#include "../support/raw_http.hpp"
#include "../support/test_env.hpp"

using namespace omed;
using namespace omed::testing;
using Clock = std::chrono::steady_clock;

namespace {

const char* kToken = "bench-token";

double rss_mib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

// One keep-alive connection issuing requests back to back (what client libraries do).
struct Conn : KeepAliveClient {
  explicit Conn(uint16_t port) : KeepAliveClient(port, kToken) {}
};

std::string configmap(const std::string& name, size_t pad) {
  return "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" + name +
         "\",\"labels\":{\"app\":\"bench\"}},\"data\":{\"payload\":\"" + std::string(pad, 'x') + "\"}}";
}

struct CreateResult {
  double seconds = 0;
  int ok = 0;
};

CreateResult create_many(uint16_t port, int n, int threads, const std::string& prefix) {
  std::atomic<int> next{0}, ok{0};
  auto t0 = Clock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&] {
      Conn c(port);
      while (true) {
        int i = next++;
        if (i >= n)
          break;
        if (c.request("POST", "/api/v1/namespaces/default/configmaps", configmap(prefix + std::to_string(i), 400)) == 201)
          ++ok;
      }
    });
  for (auto& t : ts)
    t.join();
  return {std::chrono::duration<double>(Clock::now() - t0).count(), ok.load()};
}

double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main() {
  log::configure(log::Level::Warn, log::Format::Logfmt);
  const int kObjects = 20000;
  const int kThreads = 16;

  // ---- in-memory creates and memory per object
  apiserver::ApiServerOptions o;
  o.tls = false;
  o.token = kToken;
  double rss0 = rss_mib();
  auto mem = std::make_unique<apiserver::ApiServer>(o);
  mem->start();
  // Warm up allocator and connections so the memory figure is about stored objects.
  create_many(mem->port(), 500, kThreads, "warm-");
  double rss1 = rss_mib();
  auto cr = create_many(mem->port(), kObjects, kThreads, "cm-");
  double mem_wps = cr.ok / cr.seconds;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  double rss2 = rss_mib();

  // ---- list 10,000
  std::vector<double> list_ms;
  size_t list_bytes = 0;
  {
    Conn c(mem->port());
    for (int i = 0; i < 5; ++i) {
      std::string raw;
      auto t0 = Clock::now();
      c.request("GET", "/api/v1/namespaces/default/configmaps?limit=10000", "", "", &raw);
      list_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      list_bytes = raw.size();
    }
  }
  double list_p50 = percentile(list_ms, 0.5);
  double json_per_object = static_cast<double>(list_bytes) / 10000.0;
  double overhead_kib = ((rss2 - rss1) * 1024.0 * 1024.0 / kObjects - json_per_object) / 1024.0;

  // ---- watch fan-out: 100 watchers, 5,000 events/s for 4 s
  // The watchers are 100 connections served by one client thread with poll(): a thread per
  // watcher would measure the kernel's scheduler on two cores, not the server.
  const int kWatchers = 100;
  const int kRate = 5000;
  const int kSeconds = 4;
  std::vector<double> all_lags;
  size_t delivered = 0;
  std::atomic<bool> stop{false};
  std::atomic<bool> watchers_ready{false};
  auto start_rv = std::to_string(mem->current_rv());
  auto t_origin = Clock::now();
  std::thread watcher_loop([&] {
    struct W {
      int fd;
      std::string raw;  // bytes after the response head, still chunked
      bool head_done = false;
      omed::testing::Dechunker dechunk;
      std::string lines;
    };
    std::vector<W> ws(kWatchers);
    for (auto& w : ws) {
      w.fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(mem->port());
      inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
      if (::connect(w.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        std::abort();
      std::string req = "GET /api/v1/namespaces/default/configmaps?watch=true&labelSelector=app%3Dlag&resourceVersion=" +
                        start_rv + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(kToken) + "\r\n\r\n";
      ::send(w.fd, req.data(), req.size(), MSG_NOSIGNAL);
    }
    watchers_ready = true;
    std::vector<pollfd> pfds(kWatchers);
    char buf[65536];
    while (!stop) {
      for (size_t i = 0; i < ws.size(); ++i)
        pfds[i] = pollfd{ws[i].fd, POLLIN, 0};
      if (::poll(pfds.data(), pfds.size(), 100) <= 0)
        continue;
      double now = std::chrono::duration<double, std::milli>(Clock::now() - t_origin).count();
      for (size_t i = 0; i < ws.size(); ++i) {
        if (!(pfds[i].revents & POLLIN))
          continue;
        auto n = ::recv(ws[i].fd, buf, sizeof buf, 0);
        if (n <= 0)
          continue;
        auto& w = ws[i];
        std::string data(buf, static_cast<size_t>(n));
        if (!w.head_done) {
          w.raw += data;
          auto p = w.raw.find("\r\n\r\n");
          if (p == std::string::npos)
            continue;
          w.head_done = true;
          data = w.raw.substr(p + 4);
        }
        w.lines += w.dechunk.feed(data);
        // Scan by offset and erase once: erasing (or copying the rest) per line is quadratic in
        // the bytes one recv brings, and would make the reader, not the server, the bottleneck.
        size_t at = 0, nl;
        while ((nl = w.lines.find('\n', at)) != std::string::npos) {
          auto pos = w.lines.find("\"sent\":\"", at);
          if (pos != std::string::npos && pos < nl) {
            all_lags.push_back(now - std::strtod(w.lines.c_str() + pos + 8, nullptr));
            ++delivered;
          }
          at = nl + 1;
        }
        w.lines.erase(0, at);
      }
    }
    for (auto& w : ws)
      ::close(w.fd);
  });
  while (!watchers_ready)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  int sent = 0;
  {
    // Sixteen writers pace themselves to kRate in total (the rate must not hinge on one
    // request's latency).
    std::vector<std::thread> writers;
    std::atomic<int> count{0};
    auto begin = Clock::now();
    for (int wtr = 0; wtr < 16; ++wtr)
      writers.emplace_back([&, wtr] {
        Conn c(mem->port());
        int k = 0;
        while (true) {
          auto elapsed = std::chrono::duration<double>(Clock::now() - begin).count();
          if (elapsed >= kSeconds)
            break;
          int due = static_cast<int>(elapsed * kRate);
          if (count >= due) {
            std::this_thread::sleep_for(std::chrono::microseconds(100));
            continue;
          }
          ++count;
          double now = std::chrono::duration<double, std::milli>(Clock::now() - t_origin).count();
          char buf[64];
          std::snprintf(buf, sizeof buf, "%.3f", now);
          auto name = "lag-" + std::to_string(wtr) + "-" + std::to_string(k++);
          std::string body = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" + name +
                             "\",\"labels\":{\"app\":\"lag\"}},\"data\":{\"sent\":\"" + buf + "\"}}";
          c.request("POST", "/api/v1/namespaces/default/configmaps", body);
        }
      });
    for (auto& w : writers)
      w.join();
    sent = count.load();
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  stop = true;
  watcher_loop.join();
  double lag_p50 = percentile(all_lags, 0.5), lag_p99 = percentile(all_lags, 0.99);
  double events_per_s = static_cast<double>(sent) / kSeconds;
  mem->stop();
  mem.reset();

  // ---- durable creates
  TempDir dir;
  apiserver::ApiServerOptions d = o;
  d.data_dir = dir.path().string();
  auto dur = std::make_unique<apiserver::ApiServer>(d);
  dur->start();
  auto dr = create_many(dur->port(), kObjects, 32, "cm-");
  double dur_wps = dr.ok / dr.seconds;
  dur->stop();

  auto pass = [](bool b) { return b ? "yes" : "NO"; };
  std::printf("\nembedded API server benchmark (loopback HTTP, %d client threads; no peer API server runs here,\n"
              "so the targets of the issue are the reference column)\n\n", kThreads);
  std::printf("%-42s %14s %14s %6s\n", "measure", "omed", "target", "met");
  std::printf("%-42s %14.0f %14s %6s\n", "create 20,000, in memory (writes/s)", mem_wps, ">= 10000", pass(mem_wps >= 10000));
  std::printf("%-42s %14.0f %14s %6s\n", "create 20,000, durable fsync (writes/s)", dur_wps, ">= 2000", pass(dur_wps >= 2000));
  std::printf("%-42s %14.1f %14s %6s\n", "list 10,000 objects (ms, p50 of 5)", list_p50, "< 100", pass(list_p50 < 100));
  std::printf("%-42s %14.1f %14s %6s\n", "watch lag p50, 100 watchers (ms)", lag_p50, "", "");
  std::printf("%-42s %14.1f %14s %6s\n", "watch lag p99, 100 watchers (ms)", lag_p99, "< 50", pass(lag_p99 < 50));
  std::printf("%-42s %14.0f %14s %6s\n", "events written per second", events_per_s, "5000", "");
  std::printf("%-42s %14zu %14s %6s\n", "events delivered (all watchers)", delivered, "", "");
  std::printf("%-42s %14.2f %14s %6s\n", "memory beyond JSON per object (KiB)", overhead_kib, "< 2", pass(overhead_kib < 2));
  std::printf("%-42s %14.0f %14s %6s\n", "JSON per object (bytes)", json_per_object, "", "");
  std::printf("%-42s %14.1f %14s %6s\n", "RSS after 20,000 objects (MiB)", rss2, "", "");
  std::printf("\nBENCH apiserver mem_writes_per_s=%.0f durable_writes_per_s=%.0f list10k_ms=%.1f watch_lag_p50_ms=%.1f "
              "watch_lag_p99_ms=%.1f watchers=%d events_per_s=%.0f overhead_kib_per_object=%.2f rss_mib=%.1f\n",
              mem_wps, dur_wps, list_p50, lag_p50, lag_p99, kWatchers, events_per_s, overhead_kib, rss2);
  (void)rss0;
  bool ok = cr.ok == kObjects && dr.ok == kObjects && delivered > 0;
  return ok ? 0 : 1;
}
