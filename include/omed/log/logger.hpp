// Structured logging (logfmt or JSON lines) with levels, the emitting actor and object on every
// line, and secret scrubbing: values registered as secrets never reach the sink.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace omed::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };
enum class Format { Logfmt, Json };

bool parse_level(std::string_view s, Level& out);
bool parse_format(std::string_view s, Format& out);
const char* level_name(Level l);

// Process-wide sink configuration. The default writes logfmt at Info to stderr.
void configure(Level level, Format format);
Level level();
bool enabled(Level l);
// Replaces the sink (tests capture lines with it). Pass nullptr to restore stderr.
void set_sink(std::function<void(const std::string& line)> sink);

// Registers a secret value: every later log line has it replaced by "[redacted]".
// Short values (under 4 bytes) are ignored to avoid mangling ordinary text.
void register_secret(std::string value);
// Keys that name secrets (token, password, secret, authorization, apikey, ...) always have
// their values redacted.
bool is_secret_key(std::string_view key);
// Applies both rules to a rendered line (exposed for status/event writers and tests).
std::string scrub(std::string text);

// One log line under construction; it is written when the object is destroyed.
class Entry {
public:
  Entry(Level lvl, std::string_view actor, std::string_view object, std::string_view msg);
  Entry(Entry&& o) noexcept : active_(o.active_), level_(o.level_), fields_(std::move(o.fields_)) {
    o.active_ = false;
  }
  Entry(const Entry&) = delete;
  ~Entry();

  Entry& kv(std::string_view key, std::string_view value);
  Entry& kv(std::string_view key, const char* value) { return kv(key, std::string_view(value)); }
  Entry& kv(std::string_view key, const std::string& value) { return kv(key, std::string_view(value)); }
  Entry& kv(std::string_view key, bool value) { return kv(key, value ? "true" : "false"); }
  template <class T>
  Entry& kv(std::string_view key, const T& value) {
    std::ostringstream os;
    os << value;
    return kv(key, std::string_view(os.str()));
  }

private:
  bool active_;
  Level level_;
  std::vector<std::pair<std::string, std::string>> fields_;
};

// A named emitter: every line it writes carries its actor and object.
class Logger {
public:
  explicit Logger(std::string actor = "main", std::string object = "-")
    : actor_(std::move(actor)), object_(std::move(object)) {}

  Logger with_object(std::string object) const { return Logger(actor_, std::move(object)); }
  const std::string& actor() const { return actor_; }
  const std::string& object() const { return object_; }

  Entry debug(std::string_view msg) const { return Entry(Level::Debug, actor_, object_, msg); }
  Entry info(std::string_view msg) const { return Entry(Level::Info, actor_, object_, msg); }
  Entry warn(std::string_view msg) const { return Entry(Level::Warn, actor_, object_, msg); }
  Entry error(std::string_view msg) const { return Entry(Level::Error, actor_, object_, msg); }

private:
  std::string actor_;
  std::string object_;
};

}  // namespace omed::log
