// Validation messages follow kube-openapi's ("spec.x in body must be of type integer"), so
// kubectl users see what a real cluster would tell them.
#include "omed/schema/validator.hpp"

#include <cmath>
#include <mutex>
#include <regex>
#include <set>
#include <unordered_map>

#include "omed/common/strings.hpp"

namespace omed::schema {

namespace {

using api::ErrorList;

std::string join(const std::string& base, const std::string& key) {
  return base.empty() ? key : base + "." + key;
}

const char* value_type(const json::Value& v) {
  switch (v.type()) {
    case json::Type::Null: return "null";
    case json::Type::Bool: return "boolean";
    case json::Type::Int: return "integer";
    case json::Type::Double: return "number";
    case json::Type::String: return "string";
    case json::Type::Array: return "array";
    case json::Type::Object: return "object";
  }
  return "unknown";
}

bool type_matches(const std::string& want, const json::Value& v) {
  if (want == "object") return v.is_object();
  if (want == "array") return v.is_array();
  if (want == "string") return v.is_string();
  if (want == "boolean") return v.is_bool();
  if (want == "number") return v.is_number();
  if (want == "integer")
    return v.is_int() || (v.is_double() && std::floor(v.as_double()) == v.as_double() && std::isfinite(v.as_double()));
  return true;
}

// std::regex compilation is slow; patterns repeat across requests, so cache per thread.
const std::regex* compiled(const std::string& pattern) {
  thread_local std::unordered_map<std::string, std::unique_ptr<std::regex>> cache;
  auto it = cache.find(pattern);
  if (it != cache.end())
    return it->second.get();
  std::unique_ptr<std::regex> re;
  try {
    re = std::make_unique<std::regex>(pattern, std::regex::ECMAScript | std::regex::optimize);
  } catch (const std::regex_error&) {
    re = nullptr;
  }
  auto* p = re.get();
  if (cache.size() > 4096)
    cache.clear();
  cache.emplace(pattern, std::move(re));
  return p;
}

// Inputs longer than this are not matched (std::regex recursion grows with input length).
constexpr size_t kMaxPatternInput = 4096;

class Validator {
public:
  Validator(const Options& o, Result& r) : opts_(o), res_(r) {}

  void run(json::Value& v, const json::Value& s, const std::string& path, bool is_root) {
    if (!s.is_object())
      return;
    auto& so = s.as_object();
    bool int_or_string = so.contains("x-kubernetes-int-or-string") && so.find("x-kubernetes-int-or-string")->as_bool();
    bool preserve = so.contains("x-kubernetes-preserve-unknown-fields") &&
                    so.find("x-kubernetes-preserve-unknown-fields")->as_bool();
    if (v.is_null()) {
      if (auto* n = so.find("nullable"); n && n->is_bool() && n->as_bool())
        return;
      // A null where a value is declared: the API server drops it during pruning unless nullable.
      return;
    }
    std::string type = so.find("type") && so.find("type")->is_string() ? so.find("type")->as_string() : "";
    if (int_or_string) {
      if (!v.is_int() && !v.is_string() && !(v.is_double() && type_matches("integer", v))) {
        res_.errors.push_back(api::invalid(path, value_type(v), path + " in body must be of type integer,string: \"" +
                                                               std::string(value_type(v)) + "\""));
        mismatch(path, v, "IntOrString");
        return;
      }
    } else if (!type.empty() && !type_matches(type, v)) {
      res_.errors.push_back(api::invalid(path, value_type(v), path + " in body must be of type " + type + ": \"" +
                                                             value_type(v) + "\""));
      mismatch(path, v, go_type(type, so));
      return;
    }
    scalar_checks(v, so, path);
    if (v.is_object())
      object(v, so, path, is_root, preserve);
    else if (v.is_array())
      array(v, so, path);
    for (const char* comb : {"allOf", "anyOf", "oneOf"}) {
      auto* c = so.find(comb);
      if (!c || !c->is_array())
        continue;
      // Value validations only (structural schemas); int-or-string's anyOf is always satisfied
      // once the type check above passed.
      if (int_or_string && std::string(comb) == "anyOf")
        continue;
      size_t passed = 0;
      for (auto& sub : c->as_array()) {
        Result tmp;
        Options o2 = opts_;
        o2.prune = false;
        o2.apply_defaults = false;
        Validator inner(o2, tmp);
        json::Value copy = v;
        inner.run(copy, sub, path, false);
        if (tmp.ok())
          ++passed;
        else if (std::string(comb) == "allOf")
          for (auto& e : tmp.errors)
            res_.errors.push_back(e);
      }
      if (std::string(comb) == "anyOf" && passed == 0)
        res_.errors.push_back(api::invalid(path, v, "must validate at least one schema (anyOf)"));
      if (std::string(comb) == "oneOf" && passed != 1)
        res_.errors.push_back(api::invalid(path, v, "must validate one and only one schema (oneOf)"));
    }
  }

private:
  void scalar_checks(const json::Value& v, const json::Object& s, const std::string& path) {
    if (auto* e = s.find("enum"); e && e->is_array()) {
      bool found = false;
      for (auto& x : e->as_array())
        if (x == v)
          found = true;
      if (!found) {
        std::vector<std::string> allowed;
        for (auto& x : e->as_array())
          allowed.push_back(x.is_string() ? x.as_string() : json::dump(x));
        res_.errors.push_back(api::not_supported(path, v, allowed));
      }
    }
    if (v.is_string()) {
      auto& str = v.as_string();
      if (auto* p = s.find("pattern"); p && p->is_string()) {
        const std::regex* re = compiled(p->as_string());
        if (re && (str.size() > kMaxPatternInput || !std::regex_search(str, *re)))
          res_.errors.push_back(api::invalid(path, v, path + " in body should match '" + p->as_string() + "'"));
      }
      if (auto* ml = s.find("minLength"); ml && ml->is_int() && static_cast<int64_t>(utf8_len(str)) < ml->as_int())
        res_.errors.push_back(api::invalid(path, v, path + " in body should be at least " +
                                                      std::to_string(ml->as_int()) + " chars long"));
      if (auto* ml = s.find("maxLength"); ml && ml->is_int() && static_cast<int64_t>(utf8_len(str)) > ml->as_int())
        res_.errors.push_back(api::too_long(path, v, static_cast<size_t>(ml->as_int())));
    }
    if (v.is_number()) {
      double x = v.as_double();
      if (auto* mn = s.find("minimum"); mn && mn->is_number()) {
        bool excl = s.find("exclusiveMinimum") && s.find("exclusiveMinimum")->is_bool() &&
                    s.find("exclusiveMinimum")->as_bool();
        if (excl ? x <= mn->as_double() : x < mn->as_double())
          res_.errors.push_back(api::invalid(path, v, path + " in body should be greater than " +
                                                        std::string(excl ? "" : "or equal to ") + json::dump(*mn)));
      }
      if (auto* mx = s.find("maximum"); mx && mx->is_number()) {
        bool excl = s.find("exclusiveMaximum") && s.find("exclusiveMaximum")->is_bool() &&
                    s.find("exclusiveMaximum")->as_bool();
        if (excl ? x >= mx->as_double() : x > mx->as_double())
          res_.errors.push_back(api::invalid(path, v, path + " in body should be less than " +
                                                        std::string(excl ? "" : "or equal to ") + json::dump(*mx)));
      }
      if (auto* f = s.find("format"); f && f->is_string() && f->as_string() == "int32" && v.is_int() &&
                                      (v.as_int() > INT32_MAX || v.as_int() < INT32_MIN))
        res_.errors.push_back(api::invalid(path, v, path + " in body must be of type int32"));
    }
  }

  void mismatch(const std::string& path, const json::Value& v, std::string want) {
    static const char* names[] = {"null", "bool", "number", "number", "string", "array", "object"};
    res_.type_mismatches.push_back({path, names[static_cast<int>(v.type())], std::move(want)});
  }

  // The Go type a built-in's field decodes into, as encoding/json names it in its errors.
  static std::string go_type(const std::string& type, const json::Object& s) {
    std::string format = s.find("format") && s.find("format")->is_string() ? s.find("format")->as_string() : "";
    if (type == "integer")
      return format.empty() ? "int64" : format;
    if (type == "number")
      return "float64";
    if (type == "boolean")
      return "bool";
    if (type == "array")
      return "[]interface {}";
    if (type == "object")
      return "map[string]interface {}";
    return type;
  }

  static size_t utf8_len(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s)
      if ((c & 0xC0) != 0x80)
        ++n;
    return n;
  }

  void object(json::Value& v, const json::Object& s, const std::string& path, bool is_root, bool preserve) {
    auto& o = v.as_object();
    const json::Value* props = s.find("properties");
    const json::Value* addl = s.find("additionalProperties");
    // Defaulting runs before validation, as in the API server.
    if (opts_.apply_defaults && props && props->is_object()) {
      for (auto& p : props->as_object()) {
        if (o.contains(p.key))
          continue;
        if (auto* d = p.value.get("default"))
          o.set(p.key, *d);
      }
    }
    if (auto* req = s.find("required"); req && req->is_array()) {
      for (auto& r : req->as_array()) {
        if (!r.is_string())
          continue;
        auto* x = o.find(r.as_string());
        if (!x || x->is_null())
          res_.errors.push_back(api::required(join(path, r.as_string())));
      }
    }
    std::vector<std::string> drop;
    for (auto& m : o) {
      if (is_root && opts_.root_is_object && (m.key == "apiVersion" || m.key == "kind" || m.key == "metadata"))
        continue;
      std::string child = join(path, m.key);
      const json::Value* ps = props && props->is_object() ? props->as_object().find(m.key) : nullptr;
      if (ps) {
        if (m.value.is_null() && !(ps->get("nullable") && ps->get("nullable")->as_bool())) {
          drop.push_back(m.key);  // null values of non-nullable fields are pruned
          continue;
        }
        run(m.value, *ps, child, false);
      } else if (addl && addl->is_object()) {
        run(m.value, *addl, child, false);
      } else if (addl && addl->is_bool() && addl->as_bool()) {
        // allowed
      } else if (!preserve) {
        res_.unknown_fields.push_back(child);
        if (opts_.prune)
          drop.push_back(m.key);
      }
    }
    for (auto& k : drop)
      o.erase(k);
    if (auto* mp = s.find("maxProperties"); mp && mp->is_int() && static_cast<int64_t>(o.size()) > mp->as_int())
      res_.errors.push_back(api::too_long(path, "object", static_cast<size_t>(mp->as_int())));
  }

  void array(json::Value& v, const json::Object& s, const std::string& path) {
    auto& a = v.as_array();
    if (auto* mi = s.find("minItems"); mi && mi->is_int() && static_cast<int64_t>(a.size()) < mi->as_int())
      res_.errors.push_back(api::invalid(path, static_cast<int64_t>(a.size()),
                                         path + " in body should have at least " + json::dump(*mi) + " items"));
    if (auto* mx = s.find("maxItems"); mx && mx->is_int() && static_cast<int64_t>(a.size()) > mx->as_int())
      res_.errors.push_back(api::too_long(path, static_cast<int64_t>(a.size()), static_cast<size_t>(mx->as_int())));
    const json::Value* items = s.find("items");
    if (items)
      for (size_t i = 0; i < a.size(); ++i)
        run(a[i], *items, path + "[" + std::to_string(i) + "]", false);
    auto* lt = s.find("x-kubernetes-list-type");
    if (lt && lt->is_string() && lt->as_string() == "set") {
      for (size_t i = 0; i < a.size(); ++i)
        for (size_t j = 0; j < i; ++j)
          if (a[i] == a[j])
            res_.errors.push_back(api::duplicate(path + "[" + std::to_string(i) + "]", a[i]));
    } else if (lt && lt->is_string() && lt->as_string() == "map") {
      auto* keys = s.find("x-kubernetes-list-map-keys");
      if (keys && keys->is_array()) {
        std::set<std::string> seen;
        for (size_t i = 0; i < a.size(); ++i) {
          if (!a[i].is_object())
            continue;
          json::Array key;
          for (auto& k : keys->as_array())
            if (auto* x = a[i].get(k.as_string()))
              key.push_back(*x);
            else
              key.push_back(json::Value{});
          auto ks = json::dump(key);
          if (!seen.insert(ks).second) {
            json::Object dupkey;
            size_t n = 0;
            for (auto& k : keys->as_array())
              dupkey.set(k.as_string(), key[n++]);
            res_.errors.push_back(api::duplicate(path + "[" + std::to_string(i) + "]", dupkey));
          }
        }
      }
    }
  }

  const Options& opts_;
  Result& res_;
};

void structural(const json::Value& s, const std::string& path, ErrorList& errs, bool in_combinator) {
  if (!s.is_object()) {
    errs.push_back(api::invalid(path, s, "must be a schema object"));
    return;
  }
  auto& o = s.as_object();
  bool ios = o.find("x-kubernetes-int-or-string") && o.find("x-kubernetes-int-or-string")->as_bool();
  bool pres = o.find("x-kubernetes-preserve-unknown-fields") && o.find("x-kubernetes-preserve-unknown-fields")->as_bool();
  auto* type = o.find("type");
  if (!in_combinator && !type && !ios && !pres)
    errs.push_back(api::required(path + ".type", "must not be empty for specified object fields"));
  if (in_combinator) {
    for (const char* k : {"type", "additionalProperties", "default", "nullable", "x-kubernetes-preserve-unknown-fields"})
      if (o.contains(k) && !(ios && std::string(k) == "type"))
        errs.push_back(api::forbidden(path + "." + k, "must be empty inside anyOf/allOf/oneOf/not"));
  }
  if (o.contains("properties") && o.contains("additionalProperties"))
    errs.push_back(api::forbidden(path + ".additionalProperties", "additionalProperties and properties are mutual exclusive"));
  if (type && type->is_string() && type->as_string() == "array" && !o.contains("items"))
    errs.push_back(api::required(path + ".items", "must be specified for arrays"));
  if (auto* p = o.find("properties"); p && p->is_object())
    for (auto& m : p->as_object())
      structural(m.value, path + ".properties[" + m.key + "]", errs, in_combinator);
  if (auto* i = o.find("items"))
    structural(*i, path + ".items", errs, in_combinator);
  if (auto* ap = o.find("additionalProperties"); ap && ap->is_object())
    structural(*ap, path + ".additionalProperties", errs, in_combinator);
  for (const char* comb : {"anyOf", "allOf", "oneOf"}) {
    if (auto* c = o.find(comb); c && c->is_array()) {
      // int-or-string's anyOf: [{type: integer}, {type: string}] is the one allowed typed form.
      bool ios_form = ios && std::string(comb) == "anyOf";
      size_t i = 0;
      for (auto& sub : c->as_array()) {
        if (!ios_form)
          structural(sub, path + "." + comb + "[" + std::to_string(i) + "]", errs, true);
        ++i;
      }
    }
  }
  // list-type=map keys must be required or defaulted in the item schema.
  auto* lt = o.find("x-kubernetes-list-type");
  if (lt && lt->is_string() && lt->as_string() == "map") {
    auto* keys = o.find("x-kubernetes-list-map-keys");
    auto* items = o.find("items");
    if (!keys || !keys->is_array() || keys->as_array().empty()) {
      errs.push_back(api::required(path + ".x-kubernetes-list-map-keys", "must not be empty if x-kubernetes-list-type is map"));
    } else if (items && items->is_object()) {
      std::set<std::string> req;
      if (auto* r = items->get("required"); r && r->is_array())
        for (auto& x : r->as_array())
          req.insert(x.as_string());
      for (auto& k : keys->as_array()) {
        auto* prop = items->at_path("properties");
        auto* ks = prop ? prop->get(k.as_string()) : nullptr;
        if (!ks)
          errs.push_back(api::invalid(path + ".x-kubernetes-list-map-keys", k, "entries must all be names of item properties"));
        else if (!req.count(k.as_string()) && !ks->get("default"))
          errs.push_back(api::invalid(path + ".items.properties." + k.as_string(), k,
                                      "all map keys must be required or have a default value"));
      }
    }
  }
}

// Splits ".a.b[*].c[?(@.type=='Ready')].d" into property steps; array steps are "[]".
bool path_steps(const std::string& p, std::vector<std::string>& steps) {
  size_t i = 0;
  while (i < p.size()) {
    if (p[i] == '.') {
      ++i;
      size_t j = i;
      while (j < p.size() && p[j] != '.' && p[j] != '[')
        ++j;
      if (j == i)
        return false;
      steps.push_back(p.substr(i, j - i));
      i = j;
    } else if (p[i] == '[') {
      int depth = 0;
      size_t j = i;
      for (; j < p.size(); ++j) {
        if (p[j] == '[') ++depth;
        if (p[j] == ']' && --depth == 0)
          break;
      }
      if (j >= p.size())
        return false;
      steps.push_back("[]");
      i = j + 1;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

Result validate(json::Value& value, const json::Value& schema, const Options& opts) {
  Result r;
  Validator v(opts, r);
  v.run(value, schema, "", true);
  return r;
}

api::ErrorList check_structural(const json::Value& schema, const std::string& path) {
  api::ErrorList errs;
  structural(schema, path, errs, false);
  return errs;
}

bool json_path_in_schema(const std::string& json_path, const json::Value& schema, std::string& why) {
  std::vector<std::string> steps;
  if (!path_steps(json_path, steps)) {
    why = "malformed JSONPath " + json_path;
    return false;
  }
  const json::Value* s = &schema;
  std::string walked;
  for (auto& step : steps) {
    if (step == "metadata" && walked.empty())
      return true;  // ObjectMeta is the server's
    if (s->get("x-kubernetes-preserve-unknown-fields") && s->get("x-kubernetes-preserve-unknown-fields")->as_bool() &&
        !s->get("properties"))
      return true;  // free-form below here
    if (step == "[]") {
      auto* items = s->get("items");
      if (!items) {
        why = walked + " is not an array";
        return false;
      }
      s = items;
      walked += "[]";
      continue;
    }
    const json::Value* next = nullptr;
    if (auto* p = s->get("properties"))
      next = p->get(step);
    if (!next && s->get("additionalProperties") && s->get("additionalProperties")->is_object())
      next = s->get("additionalProperties");
    if (!next) {
      why = "no field " + step + " under " + (walked.empty() ? "<root>" : walked);
      return false;
    }
    s = next;
    walked += "." + step;
  }
  return true;
}

}  // namespace omed::schema
