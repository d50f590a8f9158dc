// Node selection semantics as kube-scheduler's NodeAffinity plugin implements them
// (k8s.io/component-helpers/scheduling/corev1/nodeaffinity), written for omed's JSON.
#include "omed/k8s/node_affinity.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>

#include "omed/common/json.hpp"

namespace omed::k8s {

namespace {

const std::string& text(const json::Value& obj, std::string_view key) {
  static const std::string empty;
  const json::Value* v = obj.get(key);
  return v && v->is_string() ? v->as_string() : empty;
}

const json::Array* array_at(const json::Value& obj, std::string_view key) {
  const json::Value* v = obj.get(key);
  return v && v->is_array() ? &v->as_array() : nullptr;
}

// strconv.ParseInt(s, 10, 64): optional sign, decimal digits, nothing else.
std::optional<int64_t> parse_go_int(std::string_view s) {
  if (!s.empty() && s[0] == '+') {
    s.remove_prefix(1);
    if (!s.empty() && s[0] == '-')
      return std::nullopt;
  }
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size())
    return std::nullopt;
  return v;
}

bool contains_string(const json::Array& values, std::string_view s) {
  return std::any_of(values.begin(), values.end(),
                     [&](const json::Value& v) { return v.is_string() && v.as_string() == s; });
}

// One matchExpressions entry. An invalid requirement (wrong number of values, a Gt bound that is
// not an integer, an unknown operator) makes its whole term fail, which returning false does.
bool expression_matches(const json::Value& req, const std::map<std::string, std::string>& labels) {
  const std::string& op = text(req, "operator");
  const json::Array* values = array_at(req, "values");
  const size_t count = values ? values->size() : 0;
  auto label = labels.find(text(req, "key"));
  const bool has = label != labels.end();
  if (op == "In" || op == "NotIn") {
    if (count == 0)
      return false;
    bool in = has && contains_string(*values, label->second);
    return op == "In" ? in : !in;
  }
  if (op == "Exists" || op == "DoesNotExist")
    return count == 0 && (op == "Exists") == has;
  if (op == "Gt" || op == "Lt") {
    if (count != 1 || !(*values)[0].is_string())
      return false;
    auto bound = parse_go_int((*values)[0].as_string());
    if (!bound || !has)
      return false;
    auto value = parse_go_int(label->second);
    return value && (op == "Gt" ? *value > *bound : *value < *bound);
  }
  return false;
}

// One matchFields entry: only metadata.name, only In/NotIn with exactly one value.
bool field_matches(const json::Value& req, const std::string& node_name) {
  const std::string& op = text(req, "operator");
  const json::Array* values = array_at(req, "values");
  if (text(req, "key") != "metadata.name" || !values || values->size() != 1 ||
      !(*values)[0].is_string())
    return false;
  bool equal = (*values)[0].as_string() == node_name;
  if (op == "In")
    return equal;
  if (op == "NotIn")
    return !equal;
  return false;
}

bool term_matches(const json::Value& term, const std::map<std::string, std::string>& labels,
                  const std::string& node_name) {
  const json::Array* exprs = array_at(term, "matchExpressions");
  const json::Array* fields = array_at(term, "matchFields");
  const bool has_exprs = exprs && !exprs->empty();
  const bool has_fields = fields && !fields->empty();
  if (!has_exprs && !has_fields)
    return false;
  if (has_exprs && !std::all_of(exprs->begin(), exprs->end(), [&](const json::Value& r) {
        return expression_matches(r, labels);
      }))
    return false;
  return !has_fields || std::all_of(fields->begin(), fields->end(), [&](const json::Value& r) {
    return field_matches(r, node_name);
  });
}

}  // namespace

bool node_selector_matches(const std::map<std::string, std::string>& selector,
                           const std::map<std::string, std::string>& labels) {
  for (const auto& [key, value] : selector) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value)
      return false;
  }
  return true;
}

bool node_selector_terms_match(const json::Value& required, const std::map<std::string, std::string>& labels,
                               const std::string& node_name) {
  if (required.is_null())
    return true;
  const json::Array* terms = array_at(required, "nodeSelectorTerms");
  return terms && std::any_of(terms->begin(), terms->end(),
                              [&](const json::Value& t) { return term_matches(t, labels, node_name); });
}

std::map<std::string, std::string> node_labels(const json::Value& node) {
  std::map<std::string, std::string> out;
  if (const json::Value* labels = node.at_path("metadata.labels"); labels && labels->is_object())
    for (const auto& m : labels->as_object())
      if (m.value.is_string())
        out.emplace(m.key, m.value.as_string());
  return out;
}

}  // namespace omed::k8s
