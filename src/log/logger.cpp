// Log line rendering and the process-wide sink. Rendering happens on the caller's thread; the
// sink write is serialised by a mutex so lines never interleave.
#include "omed/log/logger.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <unistd.h>

#include "omed/common/json.hpp"
#include "omed/common/strings.hpp"

namespace omed::log {

namespace {

struct SinkState {
  std::mutex mu;
  std::function<void(const std::string&)> sink;
  std::vector<std::string> secrets;
};

SinkState& state() {
  static SinkState s;
  return s;
}

std::atomic<int> g_level{static_cast<int>(Level::Info)};
std::atomic<int> g_format{static_cast<int>(Format::Logfmt)};

std::string timestamp() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = time_point_cast<seconds>(now);
  auto ms = duration_cast<milliseconds>(now - secs).count();
  std::time_t t = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

bool logfmt_needs_quotes(std::string_view v) {
  if (v.empty())
    return true;
  for (char c : v)
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
      return true;
  return false;
}

void logfmt_value(std::string_view v, std::string& out) {
  if (logfmt_needs_quotes(v))
    json::quote_to(v, out);
  else
    out.append(v);
}

}  // namespace

bool parse_level(std::string_view s, Level& out) {
  if (s == "debug") out = Level::Debug;
  else if (s == "info") out = Level::Info;
  else if (s == "warn" || s == "warning") out = Level::Warn;
  else if (s == "error") out = Level::Error;
  else return false;
  return true;
}

bool parse_format(std::string_view s, Format& out) {
  if (s == "logfmt") out = Format::Logfmt;
  else if (s == "json") out = Format::Json;
  else return false;
  return true;
}

const char* level_name(Level l) {
  switch (l) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
  }
  return "info";
}

void configure(Level lvl, Format fmt) {
  g_level = static_cast<int>(lvl);
  g_format = static_cast<int>(fmt);
}

Level level() { return static_cast<Level>(g_level.load()); }

bool enabled(Level l) { return static_cast<int>(l) >= g_level.load(); }

void set_sink(std::function<void(const std::string&)> sink) {
  auto& s = state();
  std::lock_guard<std::mutex> lk(s.mu);
  s.sink = std::move(sink);
}

void register_secret(std::string value) {
  if (value.size() < 4)
    return;
  auto& s = state();
  std::lock_guard<std::mutex> lk(s.mu);
  for (auto& x : s.secrets)
    if (x == value)
      return;
  s.secrets.push_back(std::move(value));
}

bool is_secret_key(std::string_view key) {
  auto k = str::lower(key);
  for (const char* word : {"token", "password", "passwd", "secret", "authorization", "apikey",
                           "api_key", "api-key", "access_key", "accesskey", "credential",
                           "private_key", "privatekey"})
    if (k.find(word) != std::string::npos)
      return true;
  return false;
}

std::string scrub(std::string text) {
  auto& s = state();
  std::vector<std::string> secrets;
  {
    std::lock_guard<std::mutex> lk(s.mu);
    secrets = s.secrets;
  }
  for (auto& secret : secrets) {
    size_t pos = 0;
    while ((pos = text.find(secret, pos)) != std::string::npos) {
      text.replace(pos, secret.size(), "[redacted]");
      pos += 10;
    }
  }
  return text;
}

Entry::Entry(Level lvl, std::string_view actor, std::string_view object, std::string_view msg)
  : active_(enabled(lvl)), level_(lvl) {
  if (!active_)
    return;
  fields_.reserve(8);
  fields_.emplace_back("actor", std::string(actor));
  fields_.emplace_back("object", std::string(object));
  fields_.emplace_back("msg", std::string(msg));
}

Entry& Entry::kv(std::string_view key, std::string_view value) {
  if (active_)
    fields_.emplace_back(std::string(key),
                         is_secret_key(key) ? std::string("[redacted]") : std::string(value));
  return *this;
}

Entry::~Entry() {
  if (!active_)
    return;
  std::string line;
  line.reserve(160);
  auto ts = timestamp();
  if (static_cast<Format>(g_format.load()) == Format::Json) {
    line.append("{\"ts\":");
    json::quote_to(ts, line);
    line.append(",\"level\":");
    json::quote_to(level_name(level_), line);
    for (auto& [k, v] : fields_) {
      line.push_back(',');
      json::quote_to(k, line);
      line.push_back(':');
      json::quote_to(v, line);
    }
    line.push_back('}');
  } else {
    line.append("ts=").append(ts).append(" level=").append(level_name(level_));
    for (auto& [k, v] : fields_) {
      line.push_back(' ');
      line.append(k).push_back('=');
      logfmt_value(v, line);
    }
  }
  line = scrub(std::move(line));
  line.push_back('\n');
  auto& s = state();
  std::lock_guard<std::mutex> lk(s.mu);
  if (s.sink) {
    s.sink(line);
  } else {
    // One write() per line keeps lines whole even with other writers on stderr.
    ssize_t r = ::write(2, line.data(), line.size());
    (void)r;
  }
}

}  // namespace omed::log
