// yaml-cpp based reader: resolves plain scalars with YAML 1.1 rules (what sigs.k8s.io/yaml and
// therefore kubectl do), keeps quoted scalars as strings, and bounds nesting depth.
#include "omed/common/yaml.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace omed::yaml {

namespace {

bool is_one_of(const std::string& s, std::initializer_list<const char*> xs) {
  for (auto* x : xs)
    if (s == x)
      return true;
  return false;
}

bool parse_int(std::string s, int64_t& out) {
  if (s.empty())
    return false;
  std::string digits;
  for (char c : s)
    if (c != '_')
      digits.push_back(c);
  s = digits;
  bool neg = false;
  size_t i = 0;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    i = 1;
  }
  if (i >= s.size())
    return false;
  int base = 10;
  if (s.compare(i, 2, "0x") == 0) {
    base = 16;
    i += 2;
  } else if (s.compare(i, 2, "0o") == 0) {
    base = 8;
    i += 2;
  } else if (s.size() - i > 1 && s[i] == '0') {
    base = 8;  // YAML 1.1 octal
    i += 1;
  }
  if (i >= s.size())
    return false;
  for (size_t j = i; j < s.size(); ++j) {
    char c = s[j];
    bool ok = base == 16 ? std::isxdigit(static_cast<unsigned char>(c)) != 0
                         : (c >= '0' && c < static_cast<char>('0' + base));
    if (!ok)
      return false;
  }
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(s.c_str() + i, &end, base);
  if (errno == ERANGE)
    return false;
  if (neg) {
    if (v > static_cast<unsigned long long>(INT64_MAX) + 1ULL)
      return false;
    out = v == static_cast<unsigned long long>(INT64_MAX) + 1ULL ? INT64_MIN
                                                                : -static_cast<int64_t>(v);
  } else {
    if (v > static_cast<unsigned long long>(INT64_MAX))
      return false;
    out = static_cast<int64_t>(v);
  }
  return true;
}

bool parse_float(const std::string& s, double& out) {
  if (is_one_of(s, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"})) {
    out = 1e308;
    return true;
  }
  if (is_one_of(s, {"-.inf", "-.Inf", "-.INF"})) {
    out = -1e308;
    return true;
  }
  // Must look like a number: digits with a dot or an exponent.
  bool digit = false, marker = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9')
      digit = true;
    else if (c == '.' || c == 'e' || c == 'E')
      marker = true;
    else if ((c == '+' || c == '-') && (i == 0 || s[i - 1] == 'e' || s[i - 1] == 'E'))
      continue;
    else if (c == '_')
      continue;
    else
      return false;
  }
  if (!digit || !marker)
    return false;
  std::string clean;
  for (char c : s)
    if (c != '_')
      clean.push_back(c);
  char* end = nullptr;
  out = std::strtod(clean.c_str(), &end);
  return end && *end == '\0';
}

json::Value scalar(const YAML::Node& n) {
  const std::string& s = n.Scalar();
  const std::string& tag = n.Tag();
  // "!" marks a quoted (non-plain) scalar; explicit string tags also stay strings.
  if (tag == "!" || tag == "tag:yaml.org,2002:str" || tag == "!!str")
    return json::Value{s};
  if (tag == "tag:yaml.org,2002:int" || tag == "!!int") {
    int64_t i = 0;
    if (parse_int(s, i))
      return json::Value{i};
  }
  if (tag == "tag:yaml.org,2002:float" || tag == "!!float") {
    double d = 0;
    if (parse_float(s, d))
      return json::Value{d};
  }
  if (is_one_of(s, {"", "~", "null", "Null", "NULL"}))
    return json::Value{};
  if (is_one_of(s, {"true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y", "on", "On", "ON"}))
    return json::Value{true};
  if (is_one_of(s, {"false", "False", "FALSE", "no", "No", "NO", "n", "N", "off", "Off", "OFF"}))
    return json::Value{false};
  if (is_one_of(s, {".nan", ".NaN", ".NAN"}))
    return json::Value{};
  int64_t i = 0;
  if (parse_int(s, i))
    return json::Value{i};
  double d = 0;
  if (parse_float(s, d))
    return json::Value{d};
  return json::Value{s};
}

json::Value convert(const YAML::Node& n, int depth) {
  if (depth > 256)
    throw Error("YAML nesting deeper than 256 levels");
  switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return json::Value{};
    case YAML::NodeType::Scalar:
      return scalar(n);
    case YAML::NodeType::Sequence: {
      json::Array a;
      a.reserve(n.size());
      for (const auto& x : n)
        a.push_back(convert(x, depth + 1));
      return a;
    }
    case YAML::NodeType::Map: {
      json::Object o;
      o.reserve(n.size());
      for (const auto& kv : n) {
        std::string key;
        if (kv.first.IsScalar())
          key = kv.first.Scalar();
        else
          throw Error("YAML mapping keys must be scalars (line " +
                      std::to_string(kv.first.Mark().line + 1) + ")");
        o.set(std::move(key), convert(kv.second, depth + 1));
      }
      return o;
    }
  }
  return json::Value{};
}

std::string describe(const YAML::Exception& e) {
  std::ostringstream os;
  os << "invalid YAML";
  if (!e.mark.is_null())
    os << " at line " << (e.mark.line + 1) << ", column " << (e.mark.column + 1);
  os << ": " << e.msg;
  return os.str();
}

}  // namespace

std::vector<json::Value> parse_all(std::string_view text) {
  std::vector<json::Value> out;
  try {
    auto docs = YAML::LoadAll(std::string(text));
    for (auto& d : docs) {
      auto v = convert(d, 0);
      if (!v.is_null())
        out.push_back(std::move(v));
    }
  } catch (const YAML::Exception& e) {
    throw Error(describe(e));
  }
  return out;
}

json::Value parse_one(std::string_view text) {
  try {
    return convert(YAML::Load(std::string(text)), 0);
  } catch (const YAML::Exception& e) {
    throw Error(describe(e));
  }
}

namespace {

// Plain scalars that YAML would read back as something else must be quoted.
bool needs_quotes(const std::string& s) {
  if (s.empty())
    return true;
  json::Value probe;
  {
    YAML::Node n(s);
    n.SetTag("?");
    probe = scalar(n);
  }
  if (!probe.is_string())
    return true;
  static const std::string specials = ":#{}[],&*!|>'\"%@`";
  if (specials.find(s[0]) != std::string::npos || s[0] == '-' || s[0] == '?' || s[0] == ' ' ||
      s.back() == ' ')
    return true;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos)
    return true;
  for (char c : s)
    if (c == '\n' || c == '\t' || static_cast<unsigned char>(c) < 0x20)
      return true;
  return false;
}

void emit_scalar(const json::Value& v, std::string& out) {
  if (v.is_string()) {
    if (needs_quotes(v.as_string()))
      json::quote_to(v.as_string(), out);
    else
      out.append(v.as_string());
  } else {
    json::dump_to(v, out);
  }
}

bool is_block(const json::Value& v) {
  return (v.is_object() && !v.as_object().empty()) || (v.is_array() && !v.as_array().empty());
}

void emit(const json::Value& v, std::string& out, int indent) {
  std::string pad(static_cast<size_t>(indent), ' ');
  if (v.is_object()) {
    for (auto& m : v.as_object()) {
      out.append(pad);
      emit_scalar(json::Value{m.key}, out);
      out.push_back(':');
      if (is_block(m.value)) {
        out.push_back('\n');
        emit(m.value, out, m.value.is_array() ? indent : indent + 2);
      } else {
        out.push_back(' ');
        if (m.value.is_object())
          out.append("{}");
        else if (m.value.is_array())
          out.append("[]");
        else
          emit_scalar(m.value, out);
        out.push_back('\n');
      }
    }
  } else if (v.is_array()) {
    for (auto& x : v.as_array()) {
      out.append(pad);
      out.append("- ");
      if (is_block(x)) {
        std::string inner;
        emit(x, inner, indent + 2);
        // The first line of the nested block goes after the dash.
        out.append(inner.substr(static_cast<size_t>(indent + 2)));
      } else {
        if (x.is_object())
          out.append("{}");
        else if (x.is_array())
          out.append("[]");
        else
          emit_scalar(x, out);
        out.push_back('\n');
      }
    }
  } else {
    out.append(pad);
    emit_scalar(v, out);
    out.push_back('\n');
  }
}

}  // namespace

std::string dump(const json::Value& v) {
  std::string out;
  if (!is_block(v)) {
    if (v.is_object())
      return "{}\n";
    if (v.is_array())
      return "[]\n";
  }
  emit(v, out, 0);
  return out;
}

}  // namespace omed::yaml
