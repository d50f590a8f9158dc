// Label and field selectors as the Kubernetes API parses and applies them.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace omed::apiserver {

// labelSelector: "k=v", "k==v", "k!=v", "k in (a,b)", "k notin (a,b)", "k", "!k", joined by ','.
class LabelSelector {
public:
  enum class Op { Equals, NotEquals, In, NotIn, Exists, DoesNotExist };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };

  // Parses; on error returns nullopt and a message like the API server's
  // ("unable to parse requirement: ...").
  static std::optional<LabelSelector> parse(const std::string& text, std::string& error);
  bool matches(const std::map<std::string, std::string>& labels) const;
  bool empty() const { return reqs_.empty(); }
  const std::vector<Requirement>& requirements() const { return reqs_; }

private:
  std::vector<Requirement> reqs_;
};

// fieldSelector: "f=v", "f==v", "f!=v" joined by ','. Which fields exist is the resource's
// business: the caller checks names and supplies values.
class FieldSelector {
public:
  struct Requirement {
    std::string field;
    bool negate;
    std::string value;
  };
  static std::optional<FieldSelector> parse(const std::string& text, std::string& error);
  // `get` returns the object's value for a field name.
  bool matches(const std::function<std::string(const std::string& field)>& get) const;
  bool empty() const { return reqs_.empty(); }
  const std::vector<Requirement>& requirements() const { return reqs_; }

private:
  std::vector<Requirement> reqs_;
};

}  // namespace omed::apiserver
