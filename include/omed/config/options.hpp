// Command-line options with a YAML config file underneath: defaults < config file < flags.
// Every option documents itself, so `--help` is generated rather than hand-written.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "omed/common/json.hpp"

namespace omed::config {

enum class OptionKind { String, Int, Bool, Duration };

struct Option {
  std::string name;  // without dashes: "http-addr"
  OptionKind kind = OptionKind::String;
  std::string default_value;
  std::string help;
  std::string value;
  enum class Source { Default, File, Flag } source = Source::Default;
};

class Options {
public:
  Options& add(std::string name, OptionKind kind, std::string default_value, std::string help);

  // Reads a flat YAML/JSON mapping of option names to values. Unknown keys are errors.
  bool load_file_values(const json::Value& doc, std::string& err);
  // Parses argv[start..]: "--name=value", "--name value", "--flag" (bool true).
  // Non-option words go to `positional`. Returns false with a message on bad input.
  bool parse_args(int argc, const char* const* argv, int start, std::vector<std::string>& positional,
                  std::string& err);

  bool has(const std::string& name) const;
  const Option* find(const std::string& name) const;
  std::string str(const std::string& name) const;
  int64_t integer(const std::string& name) const;
  bool boolean(const std::string& name) const;
  std::chrono::milliseconds duration(const std::string& name) const;
  bool explicitly_set(const std::string& name) const;

  std::string help_text() const;

private:
  Option* lookup(const std::string& name);
  bool assign(Option& o, const std::string& value, Option::Source src, std::string& err);
  std::vector<Option> options_;
};

// "1500ms", "5s", "2m", "1h", "1h30m"; plain numbers are seconds.
bool parse_duration(const std::string& s, std::chrono::milliseconds& out);
std::string format_duration(std::chrono::milliseconds d);

}  // namespace omed::config
