// Server-side printing for meta.k8s.io/v1 Table: the printer-column JSONPath subset, cell typing,
// kubectl's age format (apimachinery's HumanDuration) and RFC 3339 / MicroTime timestamps.
#include "omed/apiserver/table.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string_view>

namespace omed::apiserver {

// ------------------------------------------------------------------ JSONPath steps

struct JsonPath::Step {
  enum class Kind { Field, Wildcard, Index, Slice, Filter };
  enum class Cmp { Exists, Eq, Ne, Lt, Le, Gt, Ge };

  Kind kind = Kind::Field;
  std::string name;                          // Field
  int64_t index = 0;                         // Index; negative counts from the end
  std::optional<int64_t> start, end;         // Slice bounds, Python-style
  int64_t stride = 1;                        // Slice step, always positive
  std::vector<std::shared_ptr<Step>> lhs;    // Filter: path relative to '@'
  Cmp cmp = Cmp::Exists;                     // Filter operator
  json::Value rhs;                           // Filter literal
};

namespace {

using Step = JsonPath::Step;
using Steps = std::vector<std::shared_ptr<Step>>;

// Filters may nest ("[?(@.a[?(@.b=='x')])]"); the bound keeps the recursive parser's stack small
// whatever a CRD author (or a fuzzer) writes.
constexpr int kMaxFilterDepth = 16;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Characters allowed unescaped in a dotted field name. Anything else either ends the name
// (".", "[", an operator inside a filter) or must be written with a backslash or in ['...'].
bool is_name_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c))
    return true;
  switch (c) {
    case '-': case '_': case '/': case ':': case '~': case '+': case '%': return true;
    default: return static_cast<unsigned char>(c) >= 0x80;  // UTF-8 in keys is legitimate
  }
}

std::string describe(char c) {
  if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
    return buf;
  }
  return std::string(1, c);
}

class PathParser {
public:
  // `expr` is the part of `src` inside any braces; `base` is where it starts, so that offsets
  // in errors point into what the user wrote.
  PathParser(std::string_view expr, std::string_view src, size_t base)
    : s_(expr), src_(src), base_(base) {}

  Steps parse_top() {
    skip_spaces();
    if (peek() == '$')
      ++pos_;
    // A lone "." (or "$") selects the whole object.
    if (peek() == '.' && s_.find_first_not_of(" \t\r\n", pos_ + 1) == std::string_view::npos)
      return {};
    Steps steps = parse_steps(0);
    skip_spaces();
    if (pos_ != s_.size())
      fail("unexpected character '" + describe(s_[pos_]) + "'");
    return steps;
  }

private:
  [[noreturn]] void fail(const std::string& why) const {
    throw JsonPathError("invalid JSONPath '" + std::string(src_) + "': " + why + " at offset " +
                        std::to_string(base_ + pos_));
  }

  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool at_end() const { return pos_ >= s_.size(); }
  void skip_spaces() {
    while (!at_end() && is_space(s_[pos_]))
      ++pos_;
  }
  void expect(char c) {
    if (peek() != c)
      fail(std::string("expected '") + c + "'" +
           (at_end() ? std::string(", found end of expression")
                     : ", found '" + describe(s_[pos_]) + "'"));
    ++pos_;
  }

  // A run of ".name", ".*", "[...]" steps; stops at the first character that starts none, which
  // the caller judges (end of input at top level, an operator or ')' inside a filter).
  Steps parse_steps(int depth) {
    Steps steps;
    while (!at_end()) {
      char c = s_[pos_];
      if (c == '.') {
        ++pos_;
        steps.push_back(parse_dotted());
      } else if (c == '[') {
        ++pos_;
        steps.push_back(parse_bracket(depth));
      } else {
        break;
      }
    }
    return steps;
  }

  std::shared_ptr<Step> parse_dotted() {
    auto step = std::make_shared<Step>();
    if (peek() == '.')
      fail("recursive descent ('..') is not supported");
    if (peek() == '*') {
      ++pos_;
      step->kind = Step::Kind::Wildcard;
      return step;
    }
    // kubectl lets dots and other specials be escaped: .metadata.annotations.ome\.io/model
    while (!at_end()) {
      char c = s_[pos_];
      if (c == '\\') {
        if (pos_ + 1 == s_.size())
          fail("dangling '\\' in field name");
        step->name.push_back(s_[pos_ + 1]);
        pos_ += 2;
      } else if (is_name_char(c)) {
        step->name.push_back(c);
        ++pos_;
      } else {
        break;
      }
    }
    if (step->name.empty())
      fail(at_end() ? "expected a field name after '.', found end of expression"
                    : "expected a field name after '.', found '" + describe(s_[pos_]) + "'");
    return step;
  }

  std::string parse_quoted() {
    char quote = s_[pos_++];
    std::string out;
    while (true) {
      if (at_end())
        fail("unterminated string");
      char c = s_[pos_++];
      if (c == quote)
        return out;
      if (c == '\\') {
        if (at_end())
          fail("unterminated string");
        c = s_[pos_++];
      }
      out.push_back(c);
    }
  }

  std::optional<int64_t> parse_int_opt() {
    skip_spaces();
    size_t start = pos_;
    if (peek() == '-' || peek() == '+')
      ++pos_;
    while (is_digit(peek()))
      ++pos_;
    if (pos_ == start)
      return std::nullopt;
    std::string_view text = s_.substr(start, pos_ - start);
    if (text.front() == '+')
      text.remove_prefix(1);
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc::result_out_of_range)
      fail("array index out of range");
    if (ec != std::errc() || ptr != text.data() + text.size())
      fail("malformed array index");
    skip_spaces();
    return v;
  }

  std::shared_ptr<Step> parse_bracket(int depth) {
    auto step = std::make_shared<Step>();
    skip_spaces();
    char c = peek();
    if (c == '*') {
      ++pos_;
      step->kind = Step::Kind::Wildcard;
    } else if (c == '\'' || c == '"') {
      step->kind = Step::Kind::Field;
      step->name = parse_quoted();
    } else if (c == '?') {
      ++pos_;
      parse_filter(*step, depth + 1);
    } else if (c == '-' || c == '+' || c == ':' || is_digit(c)) {
      std::optional<int64_t> first = parse_int_opt();
      if (peek() == ':') {
        ++pos_;
        step->kind = Step::Kind::Slice;
        step->start = first;
        step->end = parse_int_opt();
        if (peek() == ':') {
          ++pos_;
          if (auto stride = parse_int_opt()) {
            if (*stride <= 0)
              fail("slice step must be positive");
            step->stride = *stride;
          }
        }
      } else {
        if (!first)
          fail("malformed array index");
        step->kind = Step::Kind::Index;
        step->index = *first;
      }
    } else if (at_end()) {
      fail("unterminated '['");
    } else {
      fail("unexpected character '" + describe(c) + "' after '['");
    }
    skip_spaces();
    if (peek() == ',')
      fail("unions are not supported");
    expect(']');
    return step;
  }

  // ?( @<path> [op literal] )
  void parse_filter(Step& step, int depth) {
    if (depth > kMaxFilterDepth)
      fail("filters nested too deeply");
    step.kind = Step::Kind::Filter;
    skip_spaces();
    expect('(');
    skip_spaces();
    expect('@');
    step.lhs = parse_steps(depth);
    skip_spaces();
    if (peek() == ')') {
      ++pos_;
      step.cmp = Step::Cmp::Exists;
      return;
    }
    step.cmp = parse_cmp();
    skip_spaces();
    step.rhs = parse_literal();
    skip_spaces();
    expect(')');
  }

  Step::Cmp parse_cmp() {
    auto two = [&](std::string_view op) { return s_.substr(pos_, 2) == op; };
    if (two("==")) return pos_ += 2, Step::Cmp::Eq;
    if (two("!=")) return pos_ += 2, Step::Cmp::Ne;
    if (two("<=")) return pos_ += 2, Step::Cmp::Le;
    if (two(">=")) return pos_ += 2, Step::Cmp::Ge;
    if (peek() == '<') return ++pos_, Step::Cmp::Lt;
    if (peek() == '>') return ++pos_, Step::Cmp::Gt;
    fail(at_end() ? std::string("expected a comparison operator, found end of expression")
                  : "expected a comparison operator (==, !=, <, <=, >, >=) or ')', found '" +
                      describe(s_[pos_]) + "'");
  }

  json::Value parse_literal() {
    char c = peek();
    if (c == '\'' || c == '"')
      return json::Value(parse_quoted());
    if (s_.substr(pos_, 4) == "true") {
      pos_ += 4;
      return json::Value(true);
    }
    if (s_.substr(pos_, 5) == "false") {
      pos_ += 5;
      return json::Value(false);
    }
    // -?digits[.digits][(e|E)[+-]digits]
    size_t start = pos_;
    if (peek() == '-' || peek() == '+')
      ++pos_;
    bool is_float = false;
    while (is_digit(peek()) || peek() == '.' || peek() == 'e' || peek() == 'E' ||
           ((peek() == '-' || peek() == '+') && (s_[pos_ - 1] == 'e' || s_[pos_ - 1] == 'E'))) {
      if (!is_digit(peek()))
        is_float = true;
      ++pos_;
    }
    std::string_view text = s_.substr(start, pos_ - start);
    if (!text.empty() && text.front() == '+')
      text.remove_prefix(1);
    if (text.empty() || text == "-")
      fail("expected a string, number, true or false");
    const char* end = text.data() + text.size();
    if (!is_float) {
      int64_t i = 0;
      auto [ptr, ec] = std::from_chars(text.data(), end, i);
      if (ec == std::errc() && ptr == end)
        return json::Value(i);
    }
    double d = 0;
    auto [ptr, ec] = std::from_chars(text.data(), end, d);
    if (ec != std::errc() || ptr != end || !std::isfinite(d))
      fail("malformed number '" + std::string(text) + "'");
    return json::Value(d);
  }

  std::string_view s_;
  std::string_view src_;
  size_t base_;
  size_t pos_ = 0;
};

// ------------------------------------------------------------------ evaluation

// Only like types compare; a filter comparing a string with a number simply does not match
// (client-go reports an error for the whole column instead, which would hide every other row).
std::optional<int> compare(const json::Value& a, const json::Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int())
      return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
    double x = a.as_double(), y = b.as_double();
    if (std::isnan(x) || std::isnan(y))
      return std::nullopt;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    int c = a.as_string().compare(b.as_string());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_bool() && b.is_bool())
    return a.as_bool() == b.as_bool() ? 0 : a.as_bool() ? 1 : -1;
  return std::nullopt;
}

void eval_steps(const Steps& steps, std::vector<const json::Value*>& nodes);

bool filter_keeps(const Step& f, const json::Value& item) {
  std::vector<const json::Value*> lhs{&item};
  eval_steps(f.lhs, lhs);
  if (f.cmp == Step::Cmp::Exists)
    return !lhs.empty();
  // One value to compare against, as client-go requires; none (a missing key) never matches,
  // not even "!=", so "[?(@.reason!='x')]" skips conditions without a reason.
  if (lhs.size() != 1)
    return false;
  std::optional<int> c = compare(*lhs.front(), f.rhs);
  switch (f.cmp) {
    case Step::Cmp::Eq: return c && *c == 0;
    case Step::Cmp::Ne: return !c || *c != 0;
    case Step::Cmp::Lt: return c && *c < 0 && !lhs.front()->is_bool();
    case Step::Cmp::Le: return c && *c <= 0 && !lhs.front()->is_bool();
    case Step::Cmp::Gt: return c && *c > 0 && !lhs.front()->is_bool();
    case Step::Cmp::Ge: return c && *c >= 0 && !lhs.front()->is_bool();
    case Step::Cmp::Exists: break;
  }
  return false;
}

// Each step maps the current node set to its selected children. Nodes are pointers into the
// document, so a step never copies subtrees and the set never outgrows the document.
void eval_steps(const Steps& steps, std::vector<const json::Value*>& nodes) {
  std::vector<const json::Value*> next;
  for (const auto& sp : steps) {
    const Step& step = *sp;
    next.clear();
    for (const json::Value* node : nodes) {
      switch (step.kind) {
        case Step::Kind::Field:
          if (node->is_object())
            if (const json::Value* v = node->as_object().find(step.name))
              next.push_back(v);
          break;
        case Step::Kind::Wildcard:
          if (node->is_array())
            for (const auto& v : node->as_array())
              next.push_back(&v);
          else if (node->is_object())
            for (const auto& m : node->as_object())
              next.push_back(&m.value);
          break;
        case Step::Kind::Index: {
          if (!node->is_array())
            break;
          const auto& a = node->as_array();
          int64_t n = static_cast<int64_t>(a.size());
          int64_t i = step.index < 0 ? step.index + n : step.index;
          if (i >= 0 && i < n)
            next.push_back(&a[static_cast<size_t>(i)]);
          break;
        }
        case Step::Kind::Slice: {
          if (!node->is_array())
            break;
          const auto& a = node->as_array();
          int64_t n = static_cast<int64_t>(a.size());
          auto clamp = [n](std::optional<int64_t> v, int64_t dflt) {
            if (!v)
              return dflt;
            int64_t x = *v < 0 ? (*v < -n ? 0 : *v + n) : *v;
            return x > n ? n : x;
          };
          int64_t from = clamp(step.start, 0), to = clamp(step.end, n);
          for (int64_t i = from; i < to; i += step.stride) {
            next.push_back(&a[static_cast<size_t>(i)]);
            if (step.stride > to - i)
              break;  // no overflow when the stride is huge
          }
          break;
        }
        case Step::Kind::Filter:
          if (node->is_array())
            for (const auto& v : node->as_array())
              if (filter_keeps(step, v))
                next.push_back(&v);
          break;
      }
    }
    nodes.swap(next);
    if (nodes.empty())
      return;
  }
}

// ------------------------------------------------------------------ time

struct Timestamp {
  int64_t secs;   // since the Unix epoch, may be far outside system_clock's range
  int64_t nanos;  // [0, 1e9)
};

// Proleptic Gregorian calendar arithmetic (the well-known era-based day counting). Hand-written
// rather than <chrono>'s C++20 calendar so that the file also builds as C++17, which is what
// clang 14 needs for the fuzz target (it rejects json.hpp in C++20 mode with libstdc++ 12).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t z, int64_t& y, int64_t& m, int64_t& d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = yoe + era * 400 + (m <= 2);
}

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size())
    return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!is_digit(s[i]))
      return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// RFC 3339 as Go's time.RFC3339(Nano) layout accepts it: exact field widths, optional fraction
// of any length (digits past nanoseconds are truncated), "Z" or a ±hh:mm offset.
std::optional<Timestamp> parse_timestamp(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, mo) ||
      s[7] != '-' || !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') ||
      !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' ||
      !digits(s, 17, 2, sec))
    return std::nullopt;
  if (h > 23 || mi > 59 || sec > 59)
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
    return std::nullopt;
  size_t pos = 19;
  int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int64_t scale = 100000000;
    while (pos < s.size() && is_digit(s[pos])) {
      nanos += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start)
      return std::nullopt;
  }
  int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset = (s[pos] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size())
    return std::nullopt;
  int64_t days = days_from_civil(y, mo, d);
  return Timestamp{days * 86400 + h * 3600 + mi * 60 + sec - offset, nanos};
}

// Whole seconds (floored) and the nanoseconds past them. Integer arithmetic on the tick count
// rather than chrono::floor, which overflows for time points within a second of the minimum.
std::chrono::seconds floor_seconds(std::chrono::system_clock::time_point t, int64_t& nanos) {
  int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  int64_t secs = ns / 1000000000;
  nanos = ns % 1000000000;
  if (nanos < 0) {
    --secs;
    nanos += 1000000000;
  }
  return std::chrono::seconds(secs);
}

std::string format_date_time(std::chrono::seconds since_epoch) {
  int64_t secs = since_epoch.count();
  int64_t days = secs / 86400 - (secs % 86400 < 0);  // floor, also before 1970
  int64_t rem = secs - days * 86400;
  int64_t y, m, d;
  civil_from_days(days, y, m, d);
  char buf[128];  // room for any int64 fields, which keeps -Wformat-truncation quiet
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld",
                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                static_cast<long long>(rem / 3600), static_cast<long long>(rem / 60 % 60),
                static_cast<long long>(rem % 60));
  return buf;
}

// A cell's text for a value of the wrong type: strings as they are, everything else as JSON.
std::string text_of(const json::Value& v) { return v.is_string() ? v.as_string() : json::dump(v); }

}  // namespace

// ------------------------------------------------------------------ JsonPath

JsonPath JsonPath::compile(const std::string& expr) {
  std::string_view s = expr;
  while (!s.empty() && is_space(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_space(s.back()))
    s.remove_suffix(1);
  // Printer columns are written without braces; the apiserver wraps them as "{...}" itself,
  // and kubectl users write the braces, so both spellings are accepted.
  if (!s.empty() && s.front() == '{') {
    if (s.back() != '}' || s.size() < 2)
      throw JsonPathError("invalid JSONPath '" + expr + "': unclosed '{'");
    s = s.substr(1, s.size() - 2);
  }
  if (s.find_first_not_of(" \t\r\n") == std::string_view::npos)
    throw JsonPathError("invalid JSONPath '" + expr + "': empty expression");
  if (s.front() != '.' && s.front() != '[' && s.front() != '$' && !is_space(s.front()))
    throw JsonPathError("invalid JSONPath '" + expr +
                        "': must start with '.', '[' or '$' (e.g. '.status.phase')");
  JsonPath path;
  path.steps_ = PathParser(s, expr, static_cast<size_t>(s.data() - expr.data())).parse_top();
  return path;
}

std::vector<json::Value> JsonPath::eval(const json::Value& root) const {
  std::vector<const json::Value*> nodes{&root};
  eval_steps(steps_, nodes);
  std::vector<json::Value> out;
  out.reserve(nodes.size());
  for (const json::Value* v : nodes)
    out.push_back(*v);
  return out;
}

// ------------------------------------------------------------------ cells

std::string human_duration(std::chrono::seconds d) {
  // Thresholds are apimachinery's duration.HumanDuration, boundary for boundary; a second of
  // clock skew into the future still prints as "0s".
  int64_t seconds = d.count();
  if (seconds < -1)
    return "<invalid>";
  if (seconds < 0)
    return "0s";
  if (seconds < 60 * 2)
    return std::to_string(seconds) + "s";
  int64_t minutes = seconds / 60;
  if (minutes < 10) {
    int64_t s = seconds % 60;
    return s == 0 ? std::to_string(minutes) + "m"
                  : std::to_string(minutes) + "m" + std::to_string(s) + "s";
  }
  if (minutes < 60 * 3)
    return std::to_string(minutes) + "m";
  int64_t hours = seconds / 3600;
  if (hours < 8) {
    int64_t m = minutes % 60;
    return m == 0 ? std::to_string(hours) + "h"
                  : std::to_string(hours) + "h" + std::to_string(m) + "m";
  }
  if (hours < 48)
    return std::to_string(hours) + "h";
  if (hours < 24 * 8) {
    int64_t h = hours % 24;
    return h == 0 ? std::to_string(hours / 24) + "d"
                  : std::to_string(hours / 24) + "d" + std::to_string(h) + "h";
  }
  if (hours < 24 * 365 * 2)
    return std::to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    int64_t dy = (hours / 24) % 365;
    return dy == 0 ? std::to_string(hours / 24 / 365) + "y"
                   : std::to_string(hours / 24 / 365) + "y" + std::to_string(dy) + "d";
  }
  return std::to_string(hours / 24 / 365) + "y";
}

json::Value table_cell(const std::string& type, const std::vector<json::Value>& values,
                       std::chrono::system_clock::time_point now) {
  // A null at the end of the path is as good as a missing key: Kubernetes prints <none>.
  std::vector<const json::Value*> present;
  for (const auto& v : values)
    if (!v.is_null())
      present.push_back(&v);
  if (present.empty())
    return nullptr;
  const json::Value& first = *present.front();

  if (type == "integer") {
    if (first.is_int())
      return first;
    // Go's int64(float64) truncation, as the CRD table convertor does; out-of-range doubles
    // keep their text rather than wrap.
    if (first.is_double()) {
      double d = first.as_double();
      if (std::isfinite(d) && d >= -9.2e18 && d <= 9.2e18)
        return json::Value(static_cast<int64_t>(d));
    }
    return text_of(first);
  }
  if (type == "number")
    return first.is_number() ? first : json::Value(text_of(first));
  if (type == "boolean")
    return first.is_bool() ? first : json::Value(text_of(first));
  if (type == "date") {
    if (!first.is_string())
      return text_of(first);
    auto ts = parse_timestamp(first.as_string());
    if (!ts)
      return first;
    // metav1.Time's zero value marshals as 0001-01-01T00:00:00Z; kubectl shows it as unknown.
    if (ts->secs == -62135596800LL && ts->nanos == 0)
      return "<unknown>";
    int64_t now_nanos = 0;
    int64_t now_secs = floor_seconds(now, now_nanos).count();
    // now - t, truncated toward zero like Go's int(d.Seconds()).
    int64_t diff = now_secs - ts->secs;
    int64_t frac = now_nanos - ts->nanos;
    if (diff > 0 && frac < 0)
      --diff;
    else if (diff < 0 && frac > 0)
      ++diff;
    return human_duration(std::chrono::seconds(diff));
  }
  // "string" and anything unrecognised: every value, comma-joined as kubectl's custom columns do.
  std::string out;
  for (size_t i = 0; i < present.size(); ++i) {
    if (i)
      out.push_back(',');
    out.append(text_of(*present[i]));
  }
  return out;
}

// ------------------------------------------------------------------ RFC 3339

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& s) {
  using namespace std::chrono;
  auto ts = parse_timestamp(s);
  if (!ts)
    return std::nullopt;
  // system_clock counts nanoseconds in 64 bits on libstdc++ (years 1678..2261); anything
  // outside would overflow, so it is reported as unparsable rather than wrapped.
  constexpr int64_t limit = duration_cast<seconds>(system_clock::duration::max()).count() - 1;
  if (ts->secs > limit || ts->secs < -limit)
    return std::nullopt;
  return system_clock::time_point{duration_cast<system_clock::duration>(seconds(ts->secs)) +
                                  duration_cast<system_clock::duration>(nanoseconds(ts->nanos))};
}

std::string format_rfc3339(std::chrono::system_clock::time_point t) {
  int64_t nanos = 0;
  return format_date_time(floor_seconds(t, nanos)) + "Z";
}

std::string format_rfc3339_micro(std::chrono::system_clock::time_point t) {
  int64_t nanos = 0;
  std::string out = format_date_time(floor_seconds(t, nanos));
  char frac[32];
  std::snprintf(frac, sizeof frac, ".%06lldZ", static_cast<long long>(nanos / 1000));
  return out + frac;
}

}  // namespace omed::apiserver
