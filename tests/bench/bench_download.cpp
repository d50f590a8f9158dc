// Download benchmark: one 2 GiB file served by a local nginx on loopback, fetched with sha256
// verification by omed's transfer engine, aria2c and curl, against the disk's own write rate.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "../support/file_server.hpp"
#include "omed/model/transfer.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace {

constexpr double MiB = 1024.0 * 1024.0;
constexpr double GiB = 1024.0 * MiB;

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_s(int who) {
  struct rusage ru {};
  getrusage(who, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  std::vector<std::string> copy = args;
  for (auto& a : copy)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  if (posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0)
    pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

int run(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = spawn(args, log);
  if (pid < 0)
    return -1;
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return s;
}

uint16_t free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

bool port_open(uint16_t port) {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(s);
  return ok;
}

struct Row {
  std::string tool;
  double seconds = 0;
  double cpu = 0;
  bool ok = false;
  double first_seconds = 0;  // the first command alone (the download without the hashing)
};

}  // namespace

int main() {
  const uint64_t size = 2ull << 30;
  const uint64_t seed = 7;
  const char* dir_env = std::getenv("OMED_BENCH_DIR");
  fs::path root = dir_env ? fs::path(dir_env) : fs::temp_directory_path();
  std::string tmpl = (root / "omed-bench-dl-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) {
    std::perror("mkdtemp");
    return 1;
  }
  fs::path dir = tmpl;
  // nginx started as root serves through unprivileged workers: they must be able to read.
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
  fs::path www = dir / "www", prefix = dir / "nginx", out = dir / "out";
  fs::create_directories(www);
  fs::create_directories(prefix / "tmp");
  fs::create_directories(out);
  std::string log = (dir / "tools.log").string();

  std::printf("generating a %.0f MiB file ...\n", static_cast<double>(size) / MiB);
  {
    std::vector<char> buf(16 << 20);
    int fd = ::open((www / "model.bin").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    for (uint64_t off = 0; off < size; off += buf.size()) {
      omed::testing::generate_content(seed, off, buf.data(), buf.size());
      if (::write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) {
        std::perror("write");
        return 1;
      }
    }
    ::fsync(fd);
    ::close(fd);
  }
  const std::string sha = omed::testing::content_sha256(seed, size);

  uint16_t port = free_port();
  {
    std::ofstream conf(prefix / "nginx.conf");
    conf << "worker_processes 2;\n"
         << "daemon off;\n"
         << "pid " << (prefix / "nginx.pid").string() << ";\n"
         << "error_log " << (prefix / "error.log").string() << " warn;\n"
         << "events { worker_connections 512; }\n"
         << "http {\n"
         << "  access_log off;\n"
         << "  sendfile on;\n"
         << "  tcp_nopush on;\n"
         << "  keepalive_requests 100000;\n"
         << "  default_type application/octet-stream;\n";
    for (auto t : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
      conf << "  " << t << "_temp_path " << (prefix / "tmp" / t).string() << ";\n";
    conf << "  server {\n"
         << "    listen 127.0.0.1:" << port << ";\n"
         << "    root " << www.string() << ";\n"
         << "  }\n"
         << "}\n";
  }
  pid_t nginx = spawn({"nginx", "-e", (prefix / "error.log").string(), "-p", prefix.string(), "-c",
                       (prefix / "nginx.conf").string()},
                      log);
  if (nginx < 0) {
    std::printf("SKIP: nginx not available\n");
    return 77;
  }
  for (int i = 0; i < 500 && !port_open(port); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!port_open(port)) {
    std::printf("nginx did not start:\n%s\n", slurp(prefix / "error.log").c_str());
    kill(nginx, SIGTERM);
    return 1;
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/model.bin";
  std::printf("nginx on %s\n", url.c_str());

  auto settle = [&] {
    // Each measurement starts with no dirty pages left over from the previous one.
    ::sync();
    for (auto& e : fs::directory_iterator(out))
      fs::remove_all(e.path());
    ::sync();
  };
  auto timed_children = [&](const std::vector<std::vector<std::string>>& cmds, Row& row) {
    double c0 = cpu_s(RUSAGE_CHILDREN);
    double t0 = now_s();
    row.ok = true;
    for (auto& cmd : cmds) {
      if (run(cmd, log) != 0)
        row.ok = false;
      if (&cmd == &cmds.front())
        row.first_seconds = now_s() - t0;
    }
    row.seconds = now_s() - t0;
    row.cpu = cpu_s(RUSAGE_CHILDREN) - c0;
  };
  auto check_sha = [&](const fs::path& f) { return omed::testing::sha256_of_file(f.string()) == sha; };

  std::vector<Row> rows;
  settle();
  Row disk{"dd (disk write limit)"};
  timed_children({{"dd", "if=/dev/zero", "of=" + (out / "dd.bin").string(), "bs=16M", "count=128", "conv=fdatasync"}},
                 disk);
  rows.push_back(disk);

  int repeat = 1;
  if (const char* r = std::getenv("OMED_BENCH_REPEAT"))
    repeat = std::max(1, std::atoi(r));
  Row omed{"omed (sha256, fsync)"}, omed_nosync{"omed (sha256, no fsync)"};
  Row aria{"aria2c -x16 -s16 + sha256sum"}, aria_sync{"aria2c + sha256sum + sync"};
  Row curl{"curl + sha256sum"}, curl_sync{"curl + sha256sum + sync"};
  auto best = [](Row& into, const Row& r) {
    if (into.seconds == 0 || (r.ok && r.seconds < into.seconds))
      into = Row{into.tool, r.seconds, r.cpu, r.ok, r.first_seconds};
  };
  for (int rep = 0; rep < repeat; ++rep) {
    for (bool durable : {true, false}) {
      settle();
      omed::model::TransferOptions o;
      o.durable = durable;
      omed::model::RemoteFile f;
      f.path = "model.bin";
      f.url = url;
      f.size = size;
      f.sha256 = sha;
      double c0 = cpu_s(RUSAGE_SELF);
      double t0 = now_s();
      auto report = omed::model::TransferEngine(o).run({f}, out / "omed");
      Row r{"", now_s() - t0, cpu_s(RUSAGE_SELF) - c0, report.ok};
      if (!report.ok)
        std::printf("omed failed: %s\n", report.error.c_str());
      best(durable ? omed : omed_nosync, r);
    }
    for (bool sync_after : {false, true}) {
      settle();
      Row r;
      std::vector<std::vector<std::string>> cmds = {
          {"aria2c", "-x16", "-s16", "-k1M", "--file-allocation=falloc", "--allow-overwrite=true",
           "--auto-file-renaming=false", "--console-log-level=error", "--summary-interval=0",
           "--download-result=hide", "-d", out.string(), "-o", "aria.bin", url},
          {"sha256sum", (out / "aria.bin").string()}};
      if (sync_after)
        cmds.push_back({"sync"});
      timed_children(cmds, r);
      r.ok = r.ok && check_sha(out / "aria.bin");
      best(sync_after ? aria_sync : aria, r);
    }
    for (bool sync_after : {false, true}) {
      settle();
      Row r;
      std::vector<std::vector<std::string>> cmds = {{"curl", "-sS", "-o", (out / "curl.bin").string(), url},
                                                    {"sha256sum", (out / "curl.bin").string()}};
      if (sync_after)
        cmds.push_back({"sync"});
      timed_children(cmds, r);
      r.ok = r.ok && check_sha(out / "curl.bin");
      best(sync_after ? curl_sync : curl, r);
    }
  }
  // For context: the downloads alone, without the separate sha256sum pass the others need.
  Row aria_dl{"  aria2c alone (no verification)", aria.first_seconds, 0, aria.ok};
  Row curl_dl{"  curl alone (no verification)", curl.first_seconds, 0, curl.ok};
  rows.insert(rows.end(), {omed, omed_nosync, aria, aria_dl, aria_sync, curl, curl_dl, curl_sync});
  settle();
  kill(nginx, SIGTERM);
  waitpid(nginx, nullptr, 0);

  auto rate = [&](const Row& r) { return r.seconds > 0 ? static_cast<double>(size) / MiB / r.seconds : 0.0; };
  const double disk_rate = rate(disk);
  std::printf("\n%-32s %9s %10s %12s %14s %s\n", "tool", "seconds", "MiB/s", "% of disk", "CPU s/GiB", "ok");
  for (auto& r : rows)
    std::printf("%-32s %9.2f %10.1f %11.0f%% %14s %s\n", r.tool.c_str(), r.seconds, rate(r),
                disk_rate > 0 ? 100.0 * rate(r) / disk_rate : 0.0,
                r.cpu > 0 ? std::to_string(r.cpu / (static_cast<double>(size) / GiB)).substr(0, 5).c_str() : "-",
                r.ok ? "yes" : "NO");
  std::printf("\nBENCH download omed_mib_s=%.1f aria2c_mib_s=%.1f curl_mib_s=%.1f disk_mib_s=%.1f "
              "omed_cpu_s_per_gib=%.2f omed_nosync_mib_s=%.1f aria2c_sync_mib_s=%.1f curl_sync_mib_s=%.1f "
              "aria2c_download_only_mib_s=%.1f curl_download_only_mib_s=%.1f\n",
              rate(omed), rate(aria), rate(curl), disk_rate, omed.cpu / (static_cast<double>(size) / GiB),
              rate(omed_nosync), rate(aria_sync), rate(curl_sync), rate(aria_dl), rate(curl_dl));
  std::error_code ec;
  fs::remove_all(dir, ec);
  bool all_ok = true;
  for (auto& r : rows)
    all_ok = all_ok && r.ok;
  return all_ok ? 0 : 1;
}
