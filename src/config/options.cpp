// Option parsing and validation; errors name the option and the offending value.
#include "omed/config/options.hpp"

#include <cctype>
#include <cstdlib>
#include <sstream>

#include "omed/common/strings.hpp"

namespace omed::config {

bool parse_duration(const std::string& s, std::chrono::milliseconds& out) {
  if (s.empty())
    return false;
  bool all_digits = true;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c)))
      all_digits = false;
  if (all_digits) {
    out = std::chrono::seconds(std::stoll(s));
    return true;
  }
  double total_ms = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.'))
      ++j;
    if (j == i)
      return false;
    double n = std::strtod(s.substr(i, j - i).c_str(), nullptr);
    size_t k = j;
    while (k < s.size() && std::isalpha(static_cast<unsigned char>(s[k])))
      ++k;
    std::string unit = s.substr(j, k - j);
    double mult;
    if (unit == "ms") mult = 1;
    else if (unit == "s") mult = 1000;
    else if (unit == "m") mult = 60000;
    else if (unit == "h") mult = 3600000;
    else return false;
    total_ms += n * mult;
    i = k;
  }
  out = std::chrono::milliseconds(static_cast<int64_t>(total_ms));
  return true;
}

std::string format_duration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 != 0)
    return std::to_string(ms) + "ms";
  auto s = ms / 1000;
  if (s % 3600 == 0 && s > 0)
    return std::to_string(s / 3600) + "h";
  if (s % 60 == 0 && s > 0)
    return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

Options& Options::add(std::string name, OptionKind kind, std::string default_value, std::string help) {
  Option o;
  o.name = std::move(name);
  o.kind = kind;
  o.default_value = default_value;
  o.value = std::move(default_value);
  o.help = std::move(help);
  options_.push_back(std::move(o));
  return *this;
}

Option* Options::lookup(const std::string& name) {
  for (auto& o : options_)
    if (o.name == name)
      return &o;
  return nullptr;
}

const Option* Options::find(const std::string& name) const {
  for (auto& o : options_)
    if (o.name == name)
      return &o;
  return nullptr;
}

bool Options::has(const std::string& name) const { return find(name) != nullptr; }

bool Options::assign(Option& o, const std::string& value, Option::Source src, std::string& err) {
  switch (o.kind) {
    case OptionKind::Int: {
      char* end = nullptr;
      errno = 0;
      std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno == ERANGE) {
        err = "--" + o.name + ": invalid integer '" + value + "'";
        return false;
      }
      break;
    }
    case OptionKind::Bool:
      if (value != "true" && value != "false") {
        err = "--" + o.name + ": expected true or false, got '" + value + "'";
        return false;
      }
      break;
    case OptionKind::Duration: {
      std::chrono::milliseconds d;
      if (!parse_duration(value, d)) {
        err = "--" + o.name + ": invalid duration '" + value + "' (use e.g. 500ms, 5s, 2m)";
        return false;
      }
      break;
    }
    case OptionKind::String:
      break;
  }
  // A flag given on the command line beats the config file regardless of order.
  if (src == Option::Source::File && o.source == Option::Source::Flag)
    return true;
  o.value = value;
  o.source = src;
  return true;
}

bool Options::load_file_values(const json::Value& doc, std::string& err) {
  if (doc.is_null())
    return true;
  if (!doc.is_object()) {
    err = "config file: expected a mapping of option names to values";
    return false;
  }
  for (auto& m : doc.as_object()) {
    Option* o = lookup(m.key);
    if (!o) {
      err = "config file: unknown option '" + m.key + "'";
      return false;
    }
    std::string v;
    if (m.value.is_string())
      v = m.value.as_string();
    else if (m.value.is_bool())
      v = m.value.as_bool() ? "true" : "false";
    else if (m.value.is_int())
      v = std::to_string(m.value.as_int());
    else {
      err = "config file: option '" + m.key + "' must be a scalar";
      return false;
    }
    if (!assign(*o, v, Option::Source::File, err)) {
      err = "config file: " + err;
      return false;
    }
  }
  return true;
}

bool Options::parse_args(int argc, const char* const* argv, int start,
                         std::vector<std::string>& positional, std::string& err) {
  for (int i = start; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (++i; i < argc; ++i)
        positional.emplace_back(argv[i]);
      break;
    }
    if (!str::starts_with(arg, "-") || arg == "-") {
      positional.push_back(arg);
      continue;
    }
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string name = body, value;
    bool has_value = false;
    auto eq = body.find('=');
    if (eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    Option* o = lookup(name);
    if (!o) {
      err = "unknown flag --" + name + " (see --help)";
      return false;
    }
    if (!has_value) {
      if (o->kind == OptionKind::Bool) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        err = "flag --" + name + " needs a value";
        return false;
      }
    }
    if (!assign(*o, value, Option::Source::Flag, err))
      return false;
  }
  return true;
}

std::string Options::str(const std::string& name) const {
  auto* o = find(name);
  return o ? o->value : std::string();
}

int64_t Options::integer(const std::string& name) const {
  auto* o = find(name);
  return o && !o->value.empty() ? std::stoll(o->value) : 0;
}

bool Options::boolean(const std::string& name) const {
  auto* o = find(name);
  return o && o->value == "true";
}

std::chrono::milliseconds Options::duration(const std::string& name) const {
  std::chrono::milliseconds d{0};
  if (auto* o = find(name))
    parse_duration(o->value, d);
  return d;
}

bool Options::explicitly_set(const std::string& name) const {
  auto* o = find(name);
  return o && o->source != Option::Source::Default;
}

std::string Options::help_text() const {
  std::ostringstream os;
  size_t width = 0;
  for (auto& o : options_)
    width = std::max(width, o.name.size() + 10);
  for (auto& o : options_) {
    std::string left = "  --" + o.name;
    switch (o.kind) {
      case OptionKind::String: left += " STR"; break;
      case OptionKind::Int: left += " N"; break;
      case OptionKind::Duration: left += " DUR"; break;
      case OptionKind::Bool: break;
    }
    os << left << std::string(left.size() < width + 2 ? width + 2 - left.size() : 1, ' ') << o.help;
    if (!o.default_value.empty())
      os << " (default " << o.default_value << ")";
    os << "\n";
  }
  return os.str();
}

}  // namespace omed::config
