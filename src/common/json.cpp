// JSON parsing (RapidJSON SAX, iterative, depth-bounded) and serialization for omed::json::Value.
// The writer is our own so that number formatting and escaping are stable across versions.
#include "omed/common/json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <unordered_set>

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace omed::json {

// ------------------------------------------------------------------ Object

Object::Object(std::initializer_list<Member> members) : members_(members) {}

const Value* Object::find(std::string_view key) const {
  for (auto& m : members_)
    if (m.key == key)
      return &m.value;
  return nullptr;
}

Value* Object::find(std::string_view key) {
  for (auto& m : members_)
    if (m.key == key)
      return &m.value;
  return nullptr;
}

Value& Object::operator[](std::string_view key) {
  if (auto* v = find(key))
    return *v;
  members_.push_back(Member{std::string(key), Value{}});
  return members_.back().value;
}

Value& Object::set(std::string key, Value v) {
  if (auto* cur = find(key)) {
    *cur = std::move(v);
    return *cur;
  }
  members_.push_back(Member{std::move(key), std::move(v)});
  return members_.back().value;
}

bool Object::erase(std::string_view key) {
  auto it = std::find_if(members_.begin(), members_.end(),
                         [&](const Member& m) { return m.key == key; });
  if (it == members_.end())
    return false;
  members_.erase(it);
  return true;
}

void Object::push_back(Member m) { members_.push_back(std::move(m)); }

// Key order is irrelevant for equality: JSON objects are unordered.
bool operator==(const Object& a, const Object& b) {
  if (a.size() != b.size())
    return false;
  for (auto& m : a) {
    auto* o = b.find(m.key);
    if (!o || !(*o == m.value))
      return false;
  }
  return true;
}

// ------------------------------------------------------------------ Value

const char* type_name(Type t) {
  switch (t) {
    case Type::Null: return "null";
    case Type::Bool: return "boolean";
    case Type::Int: return "integer";
    case Type::Double: return "number";
    case Type::String: return "string";
    case Type::Array: return "array";
    case Type::Object: return "object";
  }
  return "unknown";
}

double Value::as_double() const {
  if (is_int())
    return static_cast<double>(as_int());
  return std::get<double>(v_);
}

const Value* Value::get(std::string_view key) const {
  return is_object() ? as_object().find(key) : nullptr;
}

Value* Value::get(std::string_view key) {
  return is_object() ? as_object().find(key) : nullptr;
}

const Value* Value::at_path(std::string_view dotted) const {
  const Value* cur = this;
  while (cur && !dotted.empty()) {
    auto dot = dotted.find('.');
    auto part = dotted.substr(0, dot);
    cur = cur->get(part);
    dotted = dot == std::string_view::npos ? std::string_view{} : dotted.substr(dot + 1);
  }
  return cur;
}

std::string Value::string_or(std::string_view key, std::string fallback) const {
  auto* v = get(key);
  return v && v->is_string() ? v->as_string() : fallback;
}

std::optional<int64_t> Value::int_at(std::string_view key) const {
  auto* v = get(key);
  if (v && v->is_int())
    return v->as_int();
  return std::nullopt;
}

Value& Value::operator[](std::string_view key) {
  if (!is_object())
    v_ = Object{};
  return as_object()[key];
}

bool operator==(const Value& a, const Value& b) {
  // 1 and 1.0 are the same JSON number.
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int())
      return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  return a.v_ == b.v_;
}

// ------------------------------------------------------------------ parsing

namespace {

class Builder {
public:
  explicit Builder(size_t max_depth) : max_depth_(max_depth) {}

  bool Null() { return put(Value{}); }
  bool Bool(bool b) { return put(Value{b}); }
  bool Int(int i) { return put(Value{i}); }
  bool Uint(unsigned u) { return put(Value{static_cast<int64_t>(u)}); }
  bool Int64(int64_t i) { return put(Value{i}); }
  bool Uint64(uint64_t u) {
    if (u > static_cast<uint64_t>(INT64_MAX))
      return put(Value{static_cast<double>(u)});
    return put(Value{static_cast<int64_t>(u)});
  }
  bool Double(double d) {
    if (std::isnan(d))
      return put(Value{});
    if (std::isinf(d))
      return put(Value{d > 0 ? 1e308 : -1e308});
    return put(Value{d});
  }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return false; }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    return put(Value{std::string(s, n)});
  }
  bool StartObject() { return open(Value{Object{}}); }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    key_.assign(s, n);
    return true;
  }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool StartArray() { return open(Value{Array{}}); }
  bool EndArray(rapidjson::SizeType) { return close(); }

  Value take() { return std::move(root_); }
  bool too_deep() const { return too_deep_; }

private:
  struct Frame {
    Value value;
    std::string key;  // key under which this container goes into its parent
  };

  bool put(Value v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return true;
    }
    auto& top = stack_.back().value;
    if (top.is_array())
      top.as_array().push_back(std::move(v));
    else
      top.as_object().push_back(Member{std::move(key_), std::move(v)});
    return true;
  }

  bool open(Value v) {
    if (stack_.size() >= max_depth_) {
      too_deep_ = true;
      return false;
    }
    stack_.push_back(Frame{std::move(v), std::move(key_)});
    return true;
  }

  bool close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    // Parsed documents are often kept (caches, stores): no spare capacity from push_back growth,
    // which averages a third of every container.
    if (f.value.is_object()) {
      drop_duplicate_keys(f.value.as_object());
      f.value.as_object().shrink_to_fit();
    } else if (f.value.is_array()) {
      f.value.as_array().shrink_to_fit();
    }
    key_ = std::move(f.key);
    return put(std::move(f.value));
  }

  // Duplicate keys: the last one wins, as with Go's encoding/json (what the API server does).
  static void drop_duplicate_keys(Object& o) {
    if (o.size() < 2)
      return;
    std::unordered_set<std::string_view> seen;
    bool dup = false;
    for (auto it = o.end(); it != o.begin();) {
      --it;
      if (!seen.insert(it->key).second) {
        dup = true;
        break;
      }
    }
    if (!dup)
      return;
    std::unordered_set<std::string> kept;
    std::vector<Member> keep;
    for (auto it = o.end(); it != o.begin();) {
      --it;
      if (kept.insert(it->key).second)
        keep.push_back(std::move(*it));
    }
    Object fresh;
    fresh.reserve(keep.size());
    for (auto it = keep.rbegin(); it != keep.rend(); ++it)
      fresh.push_back(std::move(*it));
    o = std::move(fresh);
  }

  size_t max_depth_;
  bool too_deep_ = false;
  std::vector<Frame> stack_;
  std::string key_;
  Value root_;
};

template <unsigned Flags>
bool run_parse(std::string_view text, Builder& b, rapidjson::ParseResult& res, size_t& end) {
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::Reader reader;
  res = reader.Parse<Flags>(ms, b);
  end = ms.Tell();
  return !res.IsError();
}

}  // namespace

bool try_parse(std::string_view text, Value& out, std::string& err, const ParseOptions& opts) {
  // No kParseFullPrecisionFlag: RapidJSON 1.1's full-precision path reads out of bounds on
  // inputs like 0E111 (found by fuzzing); the default path is exact to within one ulp.
  constexpr unsigned base = rapidjson::kParseIterativeFlag |
                            rapidjson::kParseStopWhenDoneFlag;
  Builder b(opts.max_depth);
  rapidjson::ParseResult res;
  size_t end = 0;
  bool ok = opts.allow_nan_inf ? run_parse<base | rapidjson::kParseNanAndInfFlag>(text, b, res, end)
                               : run_parse<base>(text, b, res, end);
  if (ok) {
    // kParseStopWhenDoneFlag stops after the first value; anything but whitespace after it
    // is an error (a second document, trailing garbage).
    for (size_t i = end; i < text.size(); ++i) {
      char c = text[i];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
        err = "invalid JSON at offset " + std::to_string(i) + ": unexpected data after the document";
        return false;
      }
    }
    out = b.take();
    return true;
  }
  if (b.too_deep())
    err = "invalid JSON at offset " + std::to_string(res.Offset()) + ": nesting deeper than " +
          std::to_string(opts.max_depth) + " levels";
  else
    err = "invalid JSON at offset " + std::to_string(res.Offset()) + ": " +
          rapidjson::GetParseError_En(res.Code());
  return false;
}

Value parse(std::string_view text, const ParseOptions& opts) {
  Value v;
  std::string err;
  if (!try_parse(text, v, err, opts)) {
    throw ParseError(err, 0);
  }
  return v;
}

// ------------------------------------------------------------------ writing

void quote_to(std::string_view s, std::string& out) {
  static const char hex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;  // start of a run of bytes that need no escaping
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    const char* esc = nullptr;
    switch (c) {
      case '"': esc = "\\\""; break;
      case '\\': esc = "\\\\"; break;
      case '\n': esc = "\\n"; break;
      case '\r': esc = "\\r"; break;
      case '\t': esc = "\\t"; break;
      case '\b': esc = "\\b"; break;
      case '\f': esc = "\\f"; break;
      default:
        if (c >= 0x20)
          continue;
    }
    out.append(s.data() + run, i - run);
    run = i + 1;
    if (esc) {
      out.append(esc);
    } else {
      out.append("\\u00");
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

namespace {

void number_to(double d, std::string& out) {
  if (!std::isfinite(d)) {
    out.append("null");
    return;
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d);
  std::string_view s(buf, static_cast<size_t>(res.ptr - buf));
  out.append(s);
  // Keep doubles recognisable as doubles so that a round trip preserves the type.
  if (s.find_first_of(".eE") == std::string_view::npos)
    out.append(".0");
}

void write(const Value& v, std::string& out, int indent, int level) {
  auto newline = [&](int lvl) {
    if (indent < 0)
      return;
    out.push_back('\n');
    out.append(static_cast<size_t>(lvl * indent), ' ');
  };
  switch (v.type()) {
    case Type::Null: out.append("null"); break;
    case Type::Bool: out.append(v.as_bool() ? "true" : "false"); break;
    case Type::Int: {
      char buf[32];
      auto res = std::to_chars(buf, buf + sizeof buf, v.as_int());
      out.append(buf, static_cast<size_t>(res.ptr - buf));
      break;
    }
    case Type::Double: number_to(v.as_double(), out); break;
    case Type::String: quote_to(v.as_string(), out); break;
    case Type::Array: {
      auto& a = v.as_array();
      out.push_back('[');
      for (size_t i = 0; i < a.size(); ++i) {
        if (i)
          out.push_back(',');
        newline(level + 1);
        write(a[i], out, indent, level + 1);
      }
      if (!a.empty())
        newline(level);
      out.push_back(']');
      break;
    }
    case Type::Object: {
      auto& o = v.as_object();
      out.push_back('{');
      bool first = true;
      for (auto& m : o) {
        if (!first)
          out.push_back(',');
        first = false;
        newline(level + 1);
        quote_to(m.key, out);
        out.push_back(':');
        if (indent >= 0)
          out.push_back(' ');
        write(m.value, out, indent, level + 1);
      }
      if (!o.empty())
        newline(level);
      out.push_back('}');
      break;
    }
  }
}

}  // namespace

void dump_to(const Value& v, std::string& out) { write(v, out, -1, 0); }

std::string dump(const Value& v) {
  std::string out;
  dump_to(v, out);
  return out;
}

std::string pretty(const Value& v) {
  std::string out;
  write(v, out, 2, 0);
  return out;
}

Value sorted(const Value& v) {
  if (v.is_array()) {
    Array a;
    a.reserve(v.as_array().size());
    for (auto& x : v.as_array())
      a.push_back(sorted(x));
    return a;
  }
  if (!v.is_object())
    return v;
  std::vector<const Member*> ms;
  for (auto& m : v.as_object())
    ms.push_back(&m);
  std::sort(ms.begin(), ms.end(), [](auto* a, auto* b) { return a->key < b->key; });
  Object o;
  o.reserve(ms.size());
  for (auto* m : ms)
    o.push_back(Member{m->key, sorted(m->value)});
  return o;
}

}  // namespace omed::json
