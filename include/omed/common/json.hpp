// A small, copyable JSON document model used everywhere omed handles Kubernetes objects.
// Objects keep insertion order so that decode -> encode round-trips do not reshuffle manifests.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace omed::json {

class Value;
struct Member;

using Array = std::vector<Value>;

// An ordered JSON object. Lookups are linear: Kubernetes objects have few keys per level
// and ordered vectors are both smaller and faster than hash maps at that size.
class Object {
public:
  using iterator = std::vector<Member>::iterator;
  using const_iterator = std::vector<Member>::const_iterator;

  // Special members are defined after Member is complete: clang instantiates vector<Member>'s
  // destructor eagerly in C++20.
  Object();
  Object(std::initializer_list<Member> members);
  Object(const Object&);
  Object(Object&&) noexcept;
  Object& operator=(const Object&);
  Object& operator=(Object&&) noexcept;
  ~Object();

  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  // Returns the member, inserting null if absent.
  Value& operator[](std::string_view key);
  // Replaces or appends.
  Value& set(std::string key, Value v);
  bool erase(std::string_view key);

  // Defined after Member is complete (clang checks vector<Member> eagerly in C++20).
  size_t size() const;
  bool empty() const;
  void reserve(size_t n);
  void shrink_to_fit();
  iterator begin();
  iterator end();
  const_iterator begin() const;
  const_iterator end() const;
  // Appends without checking for duplicates (used by the parser; last key wins on lookup
  // only through set()).
  void push_back(Member m);

  friend bool operator==(const Object& a, const Object& b);
  friend bool operator!=(const Object& a, const Object& b) { return !(a == b); }

private:
  std::vector<Member> members_;
};

enum class Type { Null, Bool, Int, Double, String, Array, Object };

const char* type_name(Type t);

class Value {
public:
  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(static_cast<int64_t>(i)) {}
  Value(long i) : v_(static_cast<int64_t>(i)) {}
  Value(long long i) : v_(static_cast<int64_t>(i)) {}
  Value(unsigned i) : v_(static_cast<int64_t>(i)) {}
  Value(unsigned long i) : v_(static_cast<int64_t>(i)) {}
  Value(unsigned long long i) : v_(static_cast<int64_t>(i)) {}
  Value(double d) : v_(d) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(std::string_view s) : v_(std::string(s)) {}
  Value(Array a) : v_(std::move(a)) {}
  Value(Object o) : v_(std::move(o)) {}

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::Null; }
  bool is_bool() const { return type() == Type::Bool; }
  bool is_int() const { return type() == Type::Int; }
  bool is_double() const { return type() == Type::Double; }
  bool is_number() const { return is_int() || is_double(); }
  bool is_string() const { return type() == Type::String; }
  bool is_array() const { return type() == Type::Array; }
  bool is_object() const { return type() == Type::Object; }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  // Ints widen to double.
  double as_double() const;
  const std::string& as_string() const { return std::get<std::string>(v_); }
  std::string& as_string() { return std::get<std::string>(v_); }
  const Array& as_array() const { return std::get<Array>(v_); }
  Array& as_array() { return std::get<Array>(v_); }
  const Object& as_object() const { return std::get<Object>(v_); }
  Object& as_object() { return std::get<Object>(v_); }

  // Convenience accessors that never throw: null/empty when the shape does not match.
  const Value* get(std::string_view key) const;
  Value* get(std::string_view key);
  // Walks a dotted path of object keys ("metadata.name").
  const Value* at_path(std::string_view dotted) const;
  std::string string_or(std::string_view key, std::string fallback = {}) const;
  std::optional<int64_t> int_at(std::string_view key) const;

  // Object member access; converts null to an empty object first.
  Value& operator[](std::string_view key);

  friend bool operator==(const Value& a, const Value& b);
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

private:
  std::variant<std::monostate, bool, int64_t, double, std::string, Array, Object> v_;
};

struct Member {
  std::string key;
  Value value;
};

inline bool operator==(const Member& a, const Member& b) {
  return a.key == b.key && a.value == b.value;
}

inline Object::Object() = default;
inline Object::Object(const Object&) = default;
inline Object::Object(Object&&) noexcept = default;
inline Object& Object::operator=(const Object&) = default;
inline Object& Object::operator=(Object&&) noexcept = default;
inline Object::~Object() = default;

inline size_t Object::size() const { return members_.size(); }
inline bool Object::empty() const { return members_.empty(); }
inline void Object::reserve(size_t n) { members_.reserve(n); }
inline void Object::shrink_to_fit() { members_.shrink_to_fit(); }
inline Object::iterator Object::begin() { return members_.begin(); }
inline Object::iterator Object::end() { return members_.end(); }
inline Object::const_iterator Object::begin() const { return members_.begin(); }
inline Object::const_iterator Object::end() const { return members_.end(); }

class ParseError : public std::runtime_error {
public:
  ParseError(const std::string& what, size_t offset)
    : std::runtime_error(what), offset_(offset) {}
  size_t offset() const { return offset_; }

private:
  size_t offset_;
};

struct ParseOptions {
  // Deeper documents are rejected: recursion in consumers (and destructors) must stay bounded.
  size_t max_depth = 256;
  // Accept NaN/Infinity literals (Hugging Face configs contain them); they become null/±1e308.
  bool allow_nan_inf = false;
};

// Throws ParseError with a message that names the byte offset.
Value parse(std::string_view text, const ParseOptions& opts = {});
// Non-throwing variant: returns false and fills err.
bool try_parse(std::string_view text, Value& out, std::string& err, const ParseOptions& opts = {});

// Compact serialization (no spaces), keys in stored order.
std::string dump(const Value& v);
void dump_to(const Value& v, std::string& out);
// Two-space indented output for humans.
std::string pretty(const Value& v);
// Appends the JSON string literal for s (with quotes).
void quote_to(std::string_view s, std::string& out);

// A canonical form with keys sorted recursively; used for semantic equality and hashing.
Value sorted(const Value& v);

}  // namespace omed::json
