// yaml-cpp based reader: resolves plain scalars with YAML 1.1 rules (what sigs.k8s.io/yaml and
// therefore kubectl do), keeps quoted scalars as strings, and bounds nesting depth.
#include "omed/common/yaml.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>

#include <yaml-cpp/eventhandler.h>
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

// The YAML 1.1 resolution of a plain scalar (what go-yaml v2, hence kubectl, does).
json::Value plain(const std::string& s) {
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

// Documents are built from parser events rather than yaml-cpp's node tree: that bounds what a
// hostile input can cost. Aliases let a few bytes describe an exponentially large document
// ("billion laughs"), so every node, alias copies included, spends from a budget proportional
// to the input; documents and nesting are capped too.
class Builder : public YAML::EventHandler {
public:
  explicit Builder(size_t input_size) : budget_(input_size * 4 + 10000), max_docs_(input_size + 16) {}

  std::vector<json::Value> docs;

  void OnDocumentStart(const YAML::Mark&) override {
    if (docs.size() >= max_docs_)
      throw Error("YAML stream has too many documents");
    root_ = json::Value{};
    have_root_ = false;
  }
  void OnDocumentEnd() override {
    if (have_root_ && !root_.is_null())
      docs.push_back(std::move(root_));
    anchors_.clear();
  }
  void OnNull(const YAML::Mark& m, YAML::anchor_t anchor) override { add(json::Value{}, anchor, m, true); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end())
      throw Error("YAML alias to an unknown anchor (line " + std::to_string(m.line + 1) + ")");
    spend(count_nodes(it->second));
    add(it->second, 0, m, false);
  }
  void OnScalar(const YAML::Mark& m, const std::string& tag, YAML::anchor_t anchor, const std::string& value) override {
    // Mapping keys keep their text: "y:" or "on:" as keys are names, not booleans.
    if (!stack_.empty() && stack_.back().value.is_object() && !stack_.back().has_key) {
      add(json::Value{value}, anchor, m, true);
      return;
    }
    add(resolve(tag, value), anchor, m, true);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    open(json::Value(json::Array{}), anchor, m);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t anchor, YAML::EmitterStyle::value) override {
    open(json::Value(json::Object{}), anchor, m);
  }
  void OnMapEnd() override { close(); }

private:
  struct Frame {
    json::Value value;
    YAML::anchor_t anchor;
    bool has_key = false;
    std::string key;
  };

  void spend(size_t n) {
    if (n > budget_)
      throw Error("YAML document expands to too many nodes (aliases?)");
    budget_ -= n;
  }

  static size_t count_nodes(const json::Value& v) {
    size_t n = 1;
    if (v.is_array())
      for (auto& x : v.as_array())
        n += count_nodes(x);
    else if (v.is_object())
      for (auto& m : v.as_object())
        n += count_nodes(m.value);
    return n;
  }

  void open(json::Value v, YAML::anchor_t anchor, const YAML::Mark& m) {
    if (stack_.size() >= 256)
      throw Error("YAML nesting deeper than 256 levels");
    spend(1);
    if (!stack_.empty()) {
      auto& top = stack_.back();
      if (top.value.is_object() && !top.has_key)
        throw Error("YAML mapping keys must be scalars (line " + std::to_string(m.line + 1) + ")");
    }
    stack_.push_back(Frame{std::move(v), anchor, false, {}});
  }

  void close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    if (f.anchor)
      anchors_[f.anchor] = f.value;
    place(std::move(f.value));
  }

  void add(json::Value v, YAML::anchor_t anchor, const YAML::Mark& m, bool fresh) {
    if (fresh)
      spend(1);
    if (anchor)
      anchors_[anchor] = v;
    if (!stack_.empty() && stack_.back().value.is_object() && !stack_.back().has_key) {
      // A mapping key.
      if (v.is_object() || v.is_array())
        throw Error("YAML mapping keys must be scalars (line " + std::to_string(m.line + 1) + ")");
      auto& top = stack_.back();
      top.key = v.is_string() ? v.as_string() : (v.is_null() ? std::string("null") : json::dump(v));
      top.has_key = true;
      return;
    }
    place(std::move(v));
  }

  void place(json::Value v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      have_root_ = true;
      return;
    }
    auto& top = stack_.back();
    if (top.value.is_array()) {
      top.value.as_array().push_back(std::move(v));
    } else {
      top.value.as_object().set(std::move(top.key), std::move(v));
      top.has_key = false;
    }
  }

  static json::Value resolve(const std::string& tag, const std::string& s) {
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
    return plain(s);
  }

  size_t budget_;
  size_t max_docs_;
  std::vector<Frame> stack_;
  std::map<YAML::anchor_t, json::Value> anchors_;
  json::Value root_;
  bool have_root_ = false;
};

std::vector<json::Value> load(std::string_view text) {
  std::istringstream in{std::string(text)};
  YAML::Parser parser(in);
  Builder b(text.size());
  while (parser.HandleNextDocument(b)) {
  }
  return std::move(b.docs);
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
  try {
    return load(text);
  } catch (const YAML::Exception& e) {
    throw Error(describe(e));
  }
}

json::Value parse_one(std::string_view text) {
  auto docs = parse_all(text);
  if (docs.empty())
    return json::Value{};
  if (docs.size() > 1)
    throw Error("expected one YAML document, found " + std::to_string(docs.size()));
  return std::move(docs[0]);
}

namespace {

// Plain scalars that YAML would read back as something else must be quoted.
bool needs_quotes(const std::string& s) {
  if (s.empty())
    return true;
  json::Value probe = plain(s);
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
