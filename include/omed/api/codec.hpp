// JSON <-> C++ for omed's API types, driven by each struct's visit(). Decoding reports type
// mismatches as field errors and keeps unmodelled members; encoding writes them back.
#pragma once

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "omed/api/field_error.hpp"
#include "omed/api/types.hpp"

namespace omed::api {

namespace detail {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};
template <class T>
struct is_string_map : std::false_type {};
template <class T>
struct is_string_map<std::map<std::string, T>> : std::true_type {};

// A visitor that does nothing: used to detect visit() at compile time.
struct NullVisitor {
  template <class T>
  void field(const char*, T&, const Meta& = {}) {}
  void inline_k8s(const char*, const InlineMeta&) {}
  template <bool Array>
  void json_field(const char*, const Meta&) {}
};

template <class T>
concept Visitable = requires(T& t, NullVisitor& v) { t.visit(v); };

inline std::string join_path(const std::string& base, std::string_view key) {
  if (base.empty())
    return std::string(key);
  std::string out = base;
  out.push_back('.');
  out.append(key);
  return out;
}

inline std::string index_path(const std::string& base, size_t i) {
  return base + "[" + std::to_string(i) + "]";
}

inline FieldError type_error(const std::string& path, const json::Value& v, const char* want) {
  return invalid(path, v, std::string("must be of type ") + want);
}

}  // namespace detail

class Decoder;
template <class T>
void decode_value(const json::Value& v, T& out, const std::string& path, ErrorList& errs);
template <class T>
bool is_empty_value(const T& x);

class Decoder {
public:
  Decoder(const json::Object& obj, std::string path, ErrorList& errs)
    : obj_(obj), path_(std::move(path)), errs_(errs), used_(obj.size(), false) {}

  template <class T>
  void field(const char* key, T& out, const Meta& = {}) {
    size_t i = 0;
    for (auto& m : obj_) {
      if (m.key == key) {
        if (!m.value.is_null())
          decode_value(m.value, out, detail::join_path(path_, key), errs_);
        // An explicit empty value ("" or [] where Go would omit it) stays in `extra`, so the
        // encoder, which omits empty fields, still writes it back exactly as it came.
        used_[i] = !is_empty_value(out);
        return;
      }
      ++i;
    }
  }
  void inline_k8s(const char*, const InlineMeta&) {}
  // Fields kept verbatim in `extra` (Kubernetes pod fields of legacy specs).
  template <bool Array>
  void json_field(const char*, const Meta&) {}

  // Members no field consumed go to `extra`.
  void collect_extra(json::Object& extra) const {
    size_t i = 0;
    for (auto& m : obj_) {
      if (!used_[i])
        extra.push_back(m);
      ++i;
    }
  }

private:
  const json::Object& obj_;
  std::string path_;
  ErrorList& errs_;
  std::vector<bool> used_;
};

template <class T>
void decode_value(const json::Value& v, T& out, const std::string& path, ErrorList& errs) {
  using detail::type_error;
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string())
      return errs.push_back(type_error(path, v, "string"));
    out = v.as_string();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_bool())
      return errs.push_back(type_error(path, v, "boolean"));
    out = v.as_bool();
  } else if constexpr (std::is_integral_v<T>) {
    int64_t x;
    if (v.is_int())
      x = v.as_int();
    else if (v.is_double() && v.as_double() == static_cast<double>(static_cast<int64_t>(v.as_double())))
      x = static_cast<int64_t>(v.as_double());
    else
      return errs.push_back(type_error(path, v, "integer"));
    if (x < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
        x > static_cast<int64_t>(std::numeric_limits<T>::max()))
      return errs.push_back(invalid(path, v, "out of range"));
    out = static_cast<T>(x);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number())
      return errs.push_back(type_error(path, v, "number"));
    out = static_cast<T>(v.as_double());
  } else if constexpr (std::is_same_v<T, json::Value>) {
    out = v;
  } else if constexpr (detail::is_optional<T>::value) {
    typename T::value_type inner{};
    size_t before = errs.size();
    decode_value(v, inner, path, errs);
    if (errs.size() == before)
      out = std::move(inner);
  } else if constexpr (detail::is_vector<T>::value) {
    if (!v.is_array())
      return errs.push_back(type_error(path, v, "array"));
    out.clear();
    out.reserve(v.as_array().size());
    size_t i = 0;
    for (auto& x : v.as_array()) {
      typename T::value_type item{};
      decode_value(x, item, detail::index_path(path, i++), errs);
      out.push_back(std::move(item));
    }
  } else if constexpr (detail::is_string_map<T>::value) {
    if (!v.is_object())
      return errs.push_back(type_error(path, v, "object"));
    out.clear();
    for (auto& m : v.as_object()) {
      typename T::mapped_type item{};
      decode_value(m.value, item, detail::join_path(path, m.key), errs);
      out.emplace(m.key, std::move(item));
    }
  } else if constexpr (detail::Visitable<T>) {
    if (!v.is_object())
      return errs.push_back(type_error(path, v, "object"));
    Decoder d(v.as_object(), path, errs);
    out.visit(d);
    d.collect_extra(out.extra);
  } else {
    static_assert(sizeof(T) == 0, "type not supported by the codec");
  }
}

class Encoder;
template <class T>
json::Value encode_value(const T& x);
template <class T>
bool is_empty_value(const T& x);

class Encoder {
public:
  explicit Encoder(json::Object& out) : out_(out) {}

  template <class T>
  void field(const char* key, const T& x, const Meta& = {}) {
    if (is_empty_value(x))
      return;
    out_.set(key, encode_value(x));
  }
  void inline_k8s(const char*, const InlineMeta&) {}
  template <bool Array>
  void json_field(const char*, const Meta&) {}

private:
  json::Object& out_;
};

template <class T>
bool is_empty_value(const T& x) {
  if constexpr (std::is_same_v<T, std::string>)
    return x.empty();
  else if constexpr (std::is_same_v<T, bool>)
    return !x;
  else if constexpr (std::is_arithmetic_v<T>)
    return x == 0;
  else if constexpr (std::is_same_v<T, json::Value>)
    return x.is_null();
  else if constexpr (detail::is_optional<T>::value)
    return !x.has_value();
  else if constexpr (detail::is_vector<T>::value || detail::is_string_map<T>::value)
    return x.empty();
  else
    return encode_value(x).as_object().empty();
}

template <class T>
json::Value encode_value(const T& x) {
  if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool> || std::is_same_v<T, json::Value>) {
    return json::Value(x);
  } else if constexpr (std::is_integral_v<T>) {
    return json::Value(static_cast<int64_t>(x));
  } else if constexpr (std::is_floating_point_v<T>) {
    return json::Value(static_cast<double>(x));
  } else if constexpr (detail::is_optional<T>::value) {
    return x ? encode_value(*x) : json::Value{};
  } else if constexpr (detail::is_vector<T>::value) {
    json::Array a;
    a.reserve(x.size());
    for (auto& e : x)
      a.push_back(encode_value(e));
    return a;
  } else if constexpr (detail::is_string_map<T>::value) {
    json::Object o;
    for (auto& [k, e] : x)
      o.push_back(json::Member{k, encode_value(e)});
    return o;
  } else if constexpr (detail::Visitable<T>) {
    json::Object o;
    Encoder e(o);
    const_cast<T&>(x).visit(e);  // visit() does not modify through an Encoder
    for (auto& m : x.extra)
      if (!o.contains(m.key))
        o.push_back(m);
    return o;
  } else {
    static_assert(sizeof(T) == 0, "type not supported by the codec");
  }
}

// ------------------------------------------------------------------ top-level objects

template <class Spec, class Status>
void decode_value(const json::Value& v, Resource<Spec, Status>& out, const std::string& path, ErrorList& errs) {
  if (!v.is_object())
    return errs.push_back(detail::type_error(path.empty() ? "<root>" : path, v, "object"));
  for (auto& m : v.as_object()) {
    if (m.key == "apiVersion")
      decode_value(m.value, out.apiVersion, detail::join_path(path, "apiVersion"), errs);
    else if (m.key == "kind")
      decode_value(m.value, out.kind, detail::join_path(path, "kind"), errs);
    else if (m.key == "metadata") {
      if (!m.value.is_null())
        decode_value(m.value, out.metadata, detail::join_path(path, "metadata"), errs);
    } else if (m.key == "spec") {
      if (!m.value.is_null())
        decode_value(m.value, out.spec, detail::join_path(path, "spec"), errs);
    } else if (m.key == "status") {
      if (!m.value.is_null())
        decode_value(m.value, out.status, detail::join_path(path, "status"), errs);
    } else {
      out.extra.push_back(m);
    }
  }
}

template <class Spec, class Status>
json::Value encode_value(const Resource<Spec, Status>& x) {
  json::Object o;
  if (!x.apiVersion.empty())
    o.set("apiVersion", x.apiVersion);
  if (!x.kind.empty())
    o.set("kind", x.kind);
  o.set("metadata", encode_value(x.metadata));
  auto spec = encode_value(x.spec);
  if (!spec.as_object().empty())
    o.set("spec", std::move(spec));
  if (x.status)
    o.set("status", encode_value(*x.status));
  for (auto& m : x.extra)
    if (!o.contains(m.key))
      o.push_back(m);
  return o;
}

// Convenience entry points.
template <class T>
T decode(const json::Value& v, ErrorList& errs) {
  T out{};
  decode_value(v, out, "", errs);
  return out;
}

template <class T>
json::Value encode(const T& x) {
  return encode_value(x);
}

}  // namespace omed::api
