// Turns kubeconfig files or a pod's service account into a RestConfig, with the token sources
// that keep bearer tokens fresh (rotating token files, exec credential plugins).
#include "omed/k8s/config.hpp"

#include "omed/common/base64.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "omed/common/json.hpp"
#include "omed/common/yaml.hpp"
#include "omed/log/logger.hpp"

extern char** environ;

namespace omed::k8s {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kExecV1 = "client.authentication.k8s.io/v1";
constexpr const char* kExecV1beta1 = "client.authentication.k8s.io/v1beta1";
// The cluster extension whose value is handed to exec plugins as spec.cluster.config.
constexpr const char* kExecExtension = "client.authentication.k8s.io/exec";
// No plugin needs this long without a terminal; a hung one must not wedge the client forever.
constexpr auto kExecTimeout = std::chrono::seconds(120);
// An ExecCredential is a few KiB even with certificates; more means the plugin is broken.
constexpr size_t kMaxPluginStdout = 4 << 20;
constexpr size_t kStderrExcerpt = 1024;

std::string dq(std::string_view s) {
  std::string out = "\"";
  out += s;
  out += '"';
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b])))
    ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])))
    --e;
  return std::string(s.substr(b, e - b));
}

// POSIX read rather than ifstream: the errno makes the message say why (missing, permission,
// a directory), and ifstream happily "opens" directories.
bool read_whole_file(const std::string& path, std::string& out, int& err) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = errno;
    return false;
  }
  out.clear();
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      err = errno;
      ::close(fd);
      return false;
    }
    if (n == 0)
      break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return true;
}

// `what` says which field pointed at the file, so the message leads the user to the right line.
std::string read_referenced(const std::string& path, const std::string& what) {
  std::string data;
  int err = 0;
  if (!read_whole_file(path, data, err))
    throw ConfigError(what + ": cannot read " + path + ": " + std::strerror(err));
  return data;
}


int two_digits(std::string_view s, size_t at) {
  if (at + 2 > s.size() || !std::isdigit(static_cast<unsigned char>(s[at])) ||
      !std::isdigit(static_cast<unsigned char>(s[at + 1])))
    return -1;
  return (s[at] - '0') * 10 + (s[at + 1] - '0');
}

// RFC 3339 as Go's time.RFC3339 accepts it: fractional seconds and numeric offsets included.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view s) {
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':')
    return std::nullopt;
  int y1 = two_digits(s, 0), y2 = two_digits(s, 2), mo = two_digits(s, 5), d = two_digits(s, 8);
  int h = two_digits(s, 11), mi = two_digits(s, 14), sec = two_digits(s, 17);
  if (y1 < 0 || y2 < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
      sec < 0 || sec > 60)
    return std::nullopt;
  size_t i = 19;
  std::chrono::nanoseconds frac{0};
  if (i < s.size() && s[i] == '.') {
    ++i;
    int64_t scale = 100000000, ns = 0;
    size_t digits = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      if (scale > 0) {
        ns += (s[i] - '0') * scale;
        scale /= 10;
      }
      ++i;
      ++digits;
    }
    if (digits == 0)
      return std::nullopt;
    frac = std::chrono::nanoseconds(ns);
  }
  int offset_s = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh = two_digits(s, i + 1), om = two_digits(s, i + 4);
    if (oh < 0 || om < 0 || i + 3 >= s.size() || s[i + 3] != ':')
      return std::nullopt;
    offset_s = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != s.size())
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = y1 * 100 + y2 - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  using std::chrono::system_clock;
  // system_clock counts nanoseconds in 64 bits (years 1677..2262); plugins that mean "never"
  // write years like 9999, which must not wrap around into the past.
  const int64_t secs = static_cast<int64_t>(::timegm(&tm)) - offset_s;
  constexpr int64_t kLimit = 9'000'000'000;  // about year 2255
  if (secs >= kLimit)
    return system_clock::time_point::max();
  if (secs <= -kLimit)
    return system_clock::time_point::min();
  return system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(std::chrono::seconds(secs) + frac));
}

// ------------------------------------------------------------------ token sources

class StaticTokenSource : public TokenSource {
public:
  explicit StaticTokenSource(std::string t) : token_(std::move(t)) {}
  std::string token() override { return token_; }

private:
  std::string token_;
};

// Projected service-account tokens and kubeconfig tokenFiles are rotated in place, so the file
// is read again after `period` or after a 401.
class FileTokenSource : public TokenSource {
public:
  FileTokenSource(std::string path, std::chrono::seconds period, std::string fallback)
    : path_(std::move(path)), period_(period), fallback_(std::move(fallback)) {}

  std::string token() override {
    std::lock_guard<std::mutex> lk(mu_);
    auto now = Clock::now();
    if (have_ && now - read_at_ < period_)
      return cached_;
    std::string data;
    int err = 0;
    std::string problem;
    if (!read_whole_file(path_, data, err)) {
      problem = "cannot read token file " + path_ + ": " + std::strerror(err);
    } else {
      std::string t = trim(data);
      if (!t.empty()) {
        if (t != cached_)
          log::register_secret(t);
        cached_ = std::move(t);
        have_ = true;
        read_at_ = now;
        return cached_;
      }
      problem = "token file " + path_ + " is empty";
    }
    // As client-go does: a rotation hiccup (the kubelet swaps the file) must not fail requests
    // while the last token may still be good; a 401 will invalidate it.
    if (have_)
      return cached_;
    if (!fallback_.empty())
      return fallback_;
    throw ConfigError(problem);
  }

  void invalidate() override {
    std::lock_guard<std::mutex> lk(mu_);
    have_ = false;
  }

private:
  std::string path_;
  std::chrono::seconds period_;
  std::string fallback_;  // the kubeconfig's `token`, used while the file cannot be read
  std::mutex mu_;
  std::string cached_;
  bool have_ = false;
  Clock::time_point read_at_{};
};

struct ExecSpec {
  std::string command;  // resolved against the kubeconfig's directory when it has a '/'
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string api_version;
  std::string install_hint;
  std::string exec_info;  // the KUBERNETES_EXEC_INFO document
  std::string user;       // for messages
};

struct PluginResult {
  int status = 0;  // waitpid status
  std::string out, err;
};

class Fd {
public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = fd;
  }

private:
  int fd_ = -1;
};

std::string plugin_name(const ExecSpec& s) {
  return "exec plugin " + dq(s.command) + " (user " + dq(s.user) + ")";
}

// posix_spawn rather than fork: the client runs in a multi-threaded daemon, where only
// async-signal-safe work may happen between fork and exec.
PluginResult run_plugin(const ExecSpec& spec) {
  std::vector<std::string> env_storage;
  auto overridden = [&](std::string_view entry) {
    auto eq = entry.find('=');
    std::string_view name = entry.substr(0, eq);
    if (name == "KUBERNETES_EXEC_INFO")
      return true;
    for (auto& [k, v] : spec.env)
      if (k == name)
        return true;
    return false;
  };
  for (char** e = environ; e && *e; ++e)
    if (!overridden(*e))
      env_storage.emplace_back(*e);
  for (auto& [k, v] : spec.env)
    env_storage.push_back(k + "=" + v);
  env_storage.push_back("KUBERNETES_EXEC_INFO=" + spec.exec_info);
  std::vector<char*> envp;
  for (auto& s : env_storage)
    envp.push_back(s.data());
  envp.push_back(nullptr);

  std::vector<std::string> argv_storage;
  argv_storage.push_back(spec.command);
  argv_storage.insert(argv_storage.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv;
  for (auto& s : argv_storage)
    argv.push_back(s.data());
  argv.push_back(nullptr);

  // O_CLOEXEC: other threads may spawn children at the same time and must not inherit these.
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0)
    throw ConfigError(plugin_name(spec) + ": pipe: " + std::strerror(errno));
  Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0)
    throw ConfigError(plugin_name(spec) + ": pipe: " + std::strerror(errno));
  Fd err_r(err_pipe[0]), err_w(err_pipe[1]);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  // Never interactive: a plugin that prompts gets EOF instead of hanging the daemon.
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // The daemon blocks or ignores signals for its own handling; the plugin must start clean
  // (an inherited SIG_IGN for SIGPIPE, for one, survives exec).
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2})
    sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  pid_t pid = -1;
  // Like exec.Command: a bare name is looked up on PATH, anything with a '/' is a path.
  int rc = spec.command.find('/') == std::string::npos
               ? ::posix_spawnp(&pid, spec.command.c_str(), &fa, &attr, argv.data(), envp.data())
               : ::posix_spawn(&pid, spec.command.c_str(), &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    std::string msg = plugin_name(spec) + ": cannot run: " + std::strerror(rc);
    if (!spec.install_hint.empty())
      msg += "\n" + trim(spec.install_hint);
    throw ConfigError(msg);
  }
  out_w.reset();
  err_w.reset();

  PluginResult res;
  bool timed_out = false, too_big = false;
  auto deadline = Clock::now() + kExecTimeout;
  bool out_open = true, err_open = true;
  char buf[8192];
  while (out_open || err_open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd fds[2];
    nfds_t n = 0;
    if (out_open)
      fds[n++] = {out_r.get(), POLLIN, 0};
    if (err_open)
      fds[n++] = {err_r.get(), POLLIN, 0};
    int pr = ::poll(fds, n, static_cast<int>(std::min<long long>(left, 1000)));
    if (pr < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    for (nfds_t i = 0; i < n; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      ssize_t r = ::read(fds[i].fd, buf, sizeof buf);
      if (r < 0 && errno == EINTR)
        continue;
      bool is_out = fds[i].fd == out_r.get();
      if (r <= 0) {
        (is_out ? out_open : err_open) = false;
        continue;
      }
      if (is_out) {
        if (res.out.size() + static_cast<size_t>(r) > kMaxPluginStdout)
          too_big = true;
        else
          res.out.append(buf, static_cast<size_t>(r));
      } else if (res.err.size() < 4 * kStderrExcerpt) {
        // Only an excerpt is ever reported; the rest is drained so the plugin does not block.
        res.err.append(buf, static_cast<size_t>(r));
      }
    }
    if (too_big)
      break;
  }
  if (timed_out || too_big)
    ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      // ECHILD: the process set SIGCHLD to SIG_IGN, so the exit status is gone; judge by output.
      status = 0;
      break;
    }
  }
  if (timed_out)
    throw ConfigError(plugin_name(spec) + ": no answer within " + std::to_string(kExecTimeout.count()) +
                      " s, killed");
  if (too_big)
    throw ConfigError(plugin_name(spec) + ": wrote more than " + std::to_string(kMaxPluginStdout) +
                      " bytes to stdout, killed");
  res.status = status;
  return res;
}

// The stderr excerpt may echo what the plugin printed on stdout; tokens found there are cut out
// so that no message can carry a credential.
std::string stderr_excerpt(const PluginResult& r) {
  std::string e = trim(r.err);
  json::Value doc;
  std::string ignored;
  if (json::try_parse(r.out, doc, ignored)) {
    if (const auto* t = doc.at_path("status.token"); t && t->is_string() && !t->as_string().empty()) {
      const std::string& tok = t->as_string();
      for (size_t at; (at = e.find(tok)) != std::string::npos;)
        e.replace(at, tok.size(), "[redacted]");
    }
  }
  e = log::scrub(std::move(e));
  if (e.size() > kStderrExcerpt) {
    size_t cut = kStderrExcerpt;
    // Do not split a UTF-8 sequence.
    while (cut > 0 && (static_cast<unsigned char>(e[cut]) & 0xC0) == 0x80)
      --cut;
    e = e.substr(0, cut) + "...";
  }
  return e;
}

std::string with_stderr(std::string msg, const PluginResult& r) {
  std::string e = stderr_excerpt(r);
  if (!e.empty())
    msg += "; stderr: " + e;
  return msg;
}

// Credentials from exec plugins are cached until their expirationTimestamp (or until a 401
// invalidates them when the plugin gives none), as client-go's exec authenticator does.
class ExecTokenSource : public TokenSource {
public:
  explicit ExecTokenSource(ExecSpec spec) : spec_(std::move(spec)) {}

  std::string token() override {
    // One lock over the whole run: concurrent requests after expiry share one plugin run.
    std::lock_guard<std::mutex> lk(mu_);
    if (have_ && (!expiry_ || std::chrono::system_clock::now() < *expiry_))
      return cached_;
    have_ = false;
    PluginResult r = run_plugin(spec_);
    if (WIFSIGNALED(r.status))
      throw ConfigError(with_stderr(plugin_name(spec_) + ": killed by signal " + std::to_string(WTERMSIG(r.status)), r));
    if (WIFEXITED(r.status) && WEXITSTATUS(r.status) != 0)
      throw ConfigError(
          with_stderr(plugin_name(spec_) + ": exited with status " + std::to_string(WEXITSTATUS(r.status)), r));
    json::Value doc;
    std::string perr;
    if (!json::try_parse(r.out, doc, perr) || !doc.is_object())
      throw ConfigError(with_stderr(plugin_name(spec_) + ": output is not an ExecCredential JSON document", r));
    std::string kind = doc.string_or("kind");
    if (!kind.empty() && kind != "ExecCredential")
      throw ConfigError(plugin_name(spec_) + ": returned kind " + dq(kind) + ", want ExecCredential");
    std::string api = doc.string_or("apiVersion");
    if (!api.empty() && api != spec_.api_version)
      throw ConfigError(plugin_name(spec_) + ": configured for " + spec_.api_version + " but returned " + api);
    const json::Value* status = doc.get("status");
    if (!status || !status->is_object())
      throw ConfigError(with_stderr(plugin_name(spec_) + ": ExecCredential has no status", r));
    const json::Value* tok = status->get("token");
    if (!tok || !tok->is_string() || tok->as_string().empty()) {
      if (status->get("clientCertificateData"))
        throw ConfigError(plugin_name(spec_) +
                          ": returned a client certificate instead of a token, which omed does not support");
      throw ConfigError(with_stderr(plugin_name(spec_) + ": ExecCredential has no status.token", r));
    }
    std::optional<std::chrono::system_clock::time_point> expiry;
    if (const json::Value* ts = status->get("expirationTimestamp"); ts && !ts->is_null()) {
      if (!ts->is_string() || !(expiry = parse_rfc3339(ts->as_string())))
        throw ConfigError(plugin_name(spec_) + ": status.expirationTimestamp is not an RFC 3339 time");
    }
    log::register_secret(tok->as_string());
    cached_ = tok->as_string();
    expiry_ = expiry;
    have_ = true;
    return cached_;
  }

  void invalidate() override {
    std::lock_guard<std::mutex> lk(mu_);
    have_ = false;
  }

private:
  ExecSpec spec_;
  std::mutex mu_;
  bool have_ = false;
  std::string cached_;
  std::optional<std::chrono::system_clock::time_point> expiry_;
};

// ------------------------------------------------------------------ kubeconfig model

// A named cluster, user or context with the file that defined it: relative paths resolve
// against that file's directory and messages name it.
struct Entry {
  json::Value body;
  std::string file;
};

struct Merged {
  std::vector<std::string> files;
  std::map<std::string, Entry> clusters, users, contexts;
  std::string current_context;
};

std::string prefix(const std::string& file) { return "kubeconfig " + file + ": "; }

// Go unmarshals into typed fields; a number or boolean where a string belongs is accepted here
// as its text because YAML 1.1 makes `token: 12345` an integer without the author meaning it.
std::string get_string(const json::Value& obj, std::string_view key, const std::string& where) {
  const json::Value* v = obj.get(key);
  if (!v || v->is_null())
    return {};
  if (v->is_string())
    return v->as_string();
  if (v->is_int())
    return std::to_string(v->as_int());
  if (v->is_bool())
    return v->as_bool() ? "true" : "false";
  throw ConfigError(where + ": " + std::string(key) + " must be a string");
}

bool get_bool(const json::Value& obj, std::string_view key, const std::string& where) {
  const json::Value* v = obj.get(key);
  if (!v || v->is_null())
    return false;
  if (v->is_bool())
    return v->as_bool();
  if (v->is_string() && (v->as_string() == "true" || v->as_string() == "false"))
    return v->as_string() == "true";
  throw ConfigError(where + ": " + std::string(key) + " must be true or false");
}

std::string resolve(const std::string& file, const std::string& p) {
  if (p.empty() || p.front() == '/')
    return p;
  std::error_code ec;
  fs::path abs = fs::absolute(fs::path(file), ec);
  if (ec)  // the working directory is gone; the file's own spelling is the best left
    abs = fs::path(file);
  return (abs.parent_path() / p).lexically_normal().string();
}

json::Value parse_file(const std::string& path, const std::string& text) {
  try {
    size_t i = 0;
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])))
      ++i;
    // JSON is parsed as JSON: YAML 1.1 would mangle some of its scalars and tabs. A YAML flow
    // mapping also starts with '{', so a failed JSON parse falls through to YAML.
    if (i < text.size() && text[i] == '{') {
      json::Value v;
      std::string err;
      if (json::try_parse(text, v, err))
        return v;
    }
    return yaml::parse_one(text);
  } catch (const yaml::Error& e) {
    throw ConfigError(prefix(path) + e.what());
  }
}

// Within one file a repeated name replaces the earlier entry (Go's list-to-map conversion);
// across files the first file keeps it.
void merge_list(const json::Value& doc, const char* list, const char* inner, const std::string& file,
                std::map<std::string, Entry>& into) {
  const json::Value* arr = doc.get(list);
  if (!arr || arr->is_null())
    return;
  if (!arr->is_array())
    throw ConfigError(prefix(file) + list + " must be a list");
  std::map<std::string, Entry> mine;
  for (const auto& item : arr->as_array()) {
    if (!item.is_object())
      throw ConfigError(prefix(file) + list + " entries must be mappings");
    std::string name = get_string(item, "name", prefix(file) + list);
    const json::Value* body = item.get(inner);
    json::Value b = body ? *body : json::Value(json::Object{});
    if (!b.is_object())
      b = json::Object{};
    mine[name] = Entry{std::move(b), file};
  }
  for (auto& [name, e] : mine)
    into.emplace(name, std::move(e));
}

void merge_file(Merged& m, const std::string& file, const json::Value& doc) {
  m.files.push_back(file);
  if (doc.is_null())
    return;
  if (!doc.is_object())
    throw ConfigError(prefix(file) + "not a kubeconfig (expected a mapping at the top)");
  merge_list(doc, "clusters", "cluster", file, m.clusters);
  merge_list(doc, "users", "user", file, m.users);
  merge_list(doc, "contexts", "context", file, m.contexts);
  if (m.current_context.empty())
    m.current_context = get_string(doc, "current-context", prefix(file));
}

std::string home_dir() {
  if (const char* h = std::getenv("HOME"); h && *h)
    return h;
  struct passwd pw, *res = nullptr;
  char buf[4096];
  if (::getpwuid_r(::getuid(), &pw, buf, sizeof buf, &res) == 0 && res && res->pw_dir)
    return res->pw_dir;
  return {};
}

std::vector<std::string> kubeconfig_env_list() {
  std::vector<std::string> out;
  const char* env = std::getenv("KUBECONFIG");
  if (!env)
    return out;
  std::string_view s(env);
  size_t start = 0;
  while (start <= s.size()) {
    size_t colon = s.find(':', start);
    if (colon == std::string_view::npos)
      colon = s.size();
    std::string f(s.substr(start, colon - start));
    bool dup = false;
    for (auto& o : out)
      dup = dup || o == f;
    if (!f.empty() && !dup)
      out.push_back(std::move(f));
    start = colon + 1;
  }
  return out;
}

Merged load_merged(const KubeconfigOptions& opts) {
  Merged m;
  std::string text;
  int err = 0;
  if (!opts.path.empty()) {
    if (!read_whole_file(opts.path, text, err))
      throw ConfigError(prefix(opts.path) + "cannot read: " + std::strerror(err));
    merge_file(m, opts.path, parse_file(opts.path, text));
    return m;
  }
  auto list = kubeconfig_env_list();
  if (!list.empty()) {
    for (const auto& f : list) {
      if (!read_whole_file(f, text, err)) {
        // kubectl skips listed files that do not exist (a shared KUBECONFIG often names
        // optional ones), but a file it cannot read is a real problem.
        if (err == ENOENT)
          continue;
        throw ConfigError(prefix(f) + "cannot read: " + std::strerror(err));
      }
      merge_file(m, f, parse_file(f, text));
    }
    if (m.files.empty())
      throw ConfigError("no kubeconfig found: none of the files in KUBECONFIG exist (" +
                        std::string(std::getenv("KUBECONFIG")) + ")");
    return m;
  }
  std::string home = home_dir();
  std::string path = home.empty() ? std::string() : home + "/.kube/config";
  if (path.empty() || !read_whole_file(path, text, err)) {
    if (path.empty() || err == ENOENT)
      throw ConfigError("no kubeconfig found: set KUBECONFIG or --kubeconfig");
    throw ConfigError(prefix(path) + "cannot read: " + std::strerror(err));
  }
  merge_file(m, path, parse_file(path, text));
  return m;
}

std::string joined(const std::vector<std::string>& files) {
  std::string s;
  for (const auto& f : files)
    s += (s.empty() ? "" : ":") + f;
  return s;
}

// PEM from `<field>-data` (base64) or from the `<field>` file; the data wins, as in client-go.
std::string pem_from(const Entry& e, const std::string& field, const std::string& where) {
  std::string data = get_string(e.body, field + "-data", where);
  if (!data.empty()) {
    std::string out;
    if (!common::base64_decode(data, out))
      throw ConfigError(where + ": " + field + "-data is not valid base64");
    return out;
  }
  std::string file = get_string(e.body, field, where);
  if (file.empty())
    return {};
  return read_referenced(resolve(e.file, file), where + ": " + field);
}

ExecSpec exec_spec(const json::Value& ex, const Entry& user_entry, const std::string& user_name,
                   const Entry& cluster_entry, const RestConfig& rc, const std::string& where) {
  if (!ex.is_object())
    throw ConfigError(where + ": exec must be a mapping");
  ExecSpec s;
  s.user = user_name;
  s.api_version = get_string(ex, "apiVersion", where + ": exec");
  if (s.api_version.empty())
    throw ConfigError(where + ": exec.apiVersion is required (" + kExecV1 + ")");
  if (s.api_version != kExecV1 && s.api_version != kExecV1beta1)
    throw ConfigError(where + ": exec.apiVersion " + dq(s.api_version) + " is not supported (use " + kExecV1 +
                      ")");
  s.command = get_string(ex, "command", where + ": exec");
  if (s.command.empty())
    throw ConfigError(where + ": exec.command is required");
  // Only path-like commands are relative to the kubeconfig; bare names go through PATH.
  if (s.command.find('/') != std::string::npos)
    s.command = resolve(user_entry.file, s.command);
  if (const json::Value* args = ex.get("args"); args && !args->is_null()) {
    if (!args->is_array())
      throw ConfigError(where + ": exec.args must be a list");
    for (const auto& a : args->as_array()) {
      if (!a.is_string())
        throw ConfigError(where + ": exec.args must be strings");
      s.args.push_back(a.as_string());
    }
  }
  if (const json::Value* env = ex.get("env"); env && !env->is_null()) {
    if (!env->is_array())
      throw ConfigError(where + ": exec.env must be a list of {name, value}");
    for (const auto& e : env->as_array()) {
      if (!e.is_object())
        throw ConfigError(where + ": exec.env must be a list of {name, value}");
      std::string name = get_string(e, "name", where + ": exec.env");
      if (name.empty() || name.find('=') != std::string::npos)
        throw ConfigError(where + ": exec.env entry has an invalid name " + dq(name));
      s.env.emplace_back(name, get_string(e, "value", where + ": exec.env " + name));
    }
  }
  s.install_hint = get_string(ex, "installHint", where + ": exec");
  // v1 makes interactiveMode required and kubectl rejects its absence; a daemon loses nothing
  // by assuming IfAvailable, which here means "never", since there is no terminal.
  std::string mode = get_string(ex, "interactiveMode", where + ": exec");
  if (!mode.empty() && mode != "Never" && mode != "IfAvailable" && mode != "Always")
    throw ConfigError(where + ": exec.interactiveMode " + dq(mode) +
                      " is invalid (Never, IfAvailable or Always)");
  if (mode == "Always")
    throw ConfigError(where + ": exec plugin " + dq(s.command) +
                      " requires interactive mode (interactiveMode: Always), which omed cannot provide");

  json::Object spec;
  if (get_bool(ex, "provideClusterInfo", where + ": exec")) {
    json::Object cluster;
    cluster.set("server", rc.server);
    if (!rc.tls_server_name.empty())
      cluster.set("tls-server-name", rc.tls_server_name);
    if (rc.insecure_skip_tls_verify)
      cluster.set("insecure-skip-tls-verify", true);
    if (!rc.ca_pem.empty())
      cluster.set("certificate-authority-data", common::base64_encode(rc.ca_pem));
    std::string proxy = get_string(cluster_entry.body, "proxy-url", where);
    if (!proxy.empty())
      cluster.set("proxy-url", proxy);
    if (get_bool(cluster_entry.body, "disable-compression", where))
      cluster.set("disable-compression", true);
    if (const json::Value* exts = cluster_entry.body.get("extensions"); exts && exts->is_array())
      for (const auto& x : exts->as_array())
        if (x.string_or("name") == kExecExtension)
          if (const json::Value* v = x.get("extension"))
            cluster.set("config", *v);
    spec.set("cluster", json::Value(std::move(cluster)));
  }
  spec.set("interactive", false);
  json::Object info;
  info.set("kind", "ExecCredential");
  info.set("apiVersion", s.api_version);
  info.set("spec", json::Value(std::move(spec)));
  s.exec_info = json::dump(json::Value(std::move(info)));
  return s;
}

RestConfig build(const Merged& m, const KubeconfigOptions& opts) {
  const std::string all = joined(m.files);
  std::string ctx_name = opts.context.empty() ? m.current_context : opts.context;
  if (ctx_name.empty())
    throw ConfigError(prefix(all) + "no current-context is set and no context was given");
  auto ctx_it = m.contexts.find(ctx_name);
  if (ctx_it == m.contexts.end())
    throw ConfigError(prefix(all) + "context " + dq(ctx_name) + " not found");
  const Entry& ctx = ctx_it->second;
  const std::string ctx_where = prefix(ctx.file) + "context " + dq(ctx_name);

  RestConfig rc;
  rc.context = ctx_name;
  std::string ns = get_string(ctx.body, "namespace", ctx_where);
  rc.namespace_ = ns.empty() ? "default" : ns;

  std::string cluster_name = get_string(ctx.body, "cluster", ctx_where);
  if (cluster_name.empty())
    throw ConfigError(ctx_where + " names no cluster");
  auto cl_it = m.clusters.find(cluster_name);
  if (cl_it == m.clusters.end())
    throw ConfigError(ctx_where + ": cluster " + dq(cluster_name) + " not found");
  const Entry& cluster = cl_it->second;
  const std::string cl_where = prefix(cluster.file) + "cluster " + dq(cluster_name);

  std::string server = get_string(cluster.body, "server", cl_where);
  while (!server.empty() && server.back() == '/')
    server.pop_back();
  if (server.empty())
    throw ConfigError(cl_where + " has no server");
  rc.insecure_skip_tls_verify = get_bool(cluster.body, "insecure-skip-tls-verify", cl_where);
  rc.tls_server_name = get_string(cluster.body, "tls-server-name", cl_where);
  rc.ca_pem = pem_from(cluster, "certificate-authority", cl_where);
  if (rc.insecure_skip_tls_verify && !rc.ca_pem.empty())
    throw ConfigError(cl_where + ": certificate-authority and insecure-skip-tls-verify are both set");

  std::string user_name = get_string(ctx.body, "user", ctx_where);
  const Entry* user = nullptr;
  if (!user_name.empty()) {
    auto u_it = m.users.find(user_name);
    if (u_it == m.users.end())
      throw ConfigError(ctx_where + ": user " + dq(user_name) + " not found");
    user = &u_it->second;
  }
  std::string u_where;
  if (user) {
    u_where = prefix(user->file) + "user " + dq(user_name);
    rc.client_cert_pem = pem_from(*user, "client-certificate", u_where);
    rc.client_key_pem = pem_from(*user, "client-key", u_where);
    if (rc.client_cert_pem.empty() != rc.client_key_pem.empty())
      throw ConfigError(u_where + (rc.client_cert_pem.empty() ? ": has a client key but no client certificate"
                                                              : ": has a client certificate but no client key"));
    if (!rc.client_key_pem.empty())
      log::register_secret(rc.client_key_pem);
  }

  // Without a scheme client-go picks https only when TLS settings are present.
  if (server.find("://") == std::string::npos) {
    bool tls = !rc.ca_pem.empty() || rc.insecure_skip_tls_verify || !rc.client_cert_pem.empty();
    server = (tls ? "https://" : "http://") + server;
  }
  rc.server = server;
  if (!user)
    return rc;

  if (user->body.get("auth-provider"))
    throw ConfigError(u_where + ": auth-provider plugins are not supported; use an exec plugin");
  if (!get_string(user->body, "username", u_where).empty() || !get_string(user->body, "password", u_where).empty())
    throw ConfigError(u_where + ": basic authentication (username/password) is not supported");
  std::string token = get_string(user->body, "token", u_where);
  std::string token_file = resolve(user->file, get_string(user->body, "tokenFile", u_where));
  const json::Value* exec = user->body.get("exec");
  if (exec && exec->is_null())
    exec = nullptr;

  if (!token_file.empty()) {
    // The file wins whenever it can be read; `token` only covers for a missing file.
    if (!token.empty())
      log::register_secret(token);
    auto src = std::make_shared<FileTokenSource>(token_file, opts.token_reread, token);
    if (token.empty()) {
      try {
        src->token();
      } catch (const ConfigError& e) {
        throw ConfigError(u_where + ": tokenFile: " + e.what());
      }
    }
    rc.token = src;
  } else if (!token.empty()) {
    log::register_secret(token);
    rc.token = std::make_shared<StaticTokenSource>(token);
  } else if (exec) {
    ExecSpec spec = exec_spec(*exec, *user, user_name, cluster, rc, u_where);
    // client-go skips the plugin when a client certificate already authenticates.
    if (rc.client_cert_pem.empty())
      rc.token = std::make_shared<ExecTokenSource>(std::move(spec));
  }
  return rc;
}

}  // namespace

RestConfig load_kubeconfig(const KubeconfigOptions& opts) {
  return build(load_merged(opts), opts);
}

bool in_cluster_available(const InClusterOptions& opts) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    return false;
  struct stat st;
  return ::stat((opts.service_account_dir + "/token").c_str(), &st) == 0;
}

RestConfig in_cluster_config(const InClusterOptions& opts) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    throw ConfigError("not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  RestConfig rc;
  std::string h = host;
  // As net.JoinHostPort: an IPv6 literal needs brackets to be told apart from the port.
  if (h.find(':') != std::string::npos && h.front() != '[')
    h = "[" + h + "]";
  rc.server = "https://" + h + ":" + port;
  rc.context = "in-cluster";
  const std::string& dir = opts.service_account_dir;

  auto src = std::make_shared<FileTokenSource>(dir + "/token", opts.token_reread, std::string());
  try {
    src->token();
  } catch (const ConfigError& e) {
    throw ConfigError(std::string("in-cluster configuration: ") + e.what());
  }
  rc.token = src;

  std::string data;
  int err = 0;
  // client-go tolerates a missing CA (falling back to the system roots); so does this.
  if (read_whole_file(dir + "/ca.crt", data, err))
    rc.ca_pem = std::move(data);
  else if (err != ENOENT)
    throw ConfigError("in-cluster configuration: cannot read " + dir + "/ca.crt: " + std::strerror(err));
  if (read_whole_file(dir + "/namespace", data, err)) {
    std::string ns = trim(data);
    if (!ns.empty())
      rc.namespace_ = ns;
  }
  return rc;
}

RestConfig load_config(const KubeconfigOptions& opts, const InClusterOptions& in_cluster) {
  // controller-runtime's order, which OME's operator follows: a KUBECONFIG set in a pod's
  // environment is a deliberate choice and beats the service account.
  if (!opts.path.empty() || !kubeconfig_env_list().empty())
    return load_kubeconfig(opts);
  if (in_cluster_available(in_cluster))
    return in_cluster_config(in_cluster);
  return load_kubeconfig(opts);
}

}  // namespace omed::k8s
