// Field ownership for the embedded API server: server-side apply and the bookkeeping that PUT,
// PATCH and POST do to metadata.managedFields, in the FieldsV1 encoding kubectl understands.
#include "omed/apiserver/apply.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace omed::apiserver {

namespace {

using json::Array;
using json::Object;
using json::Value;
using Path = std::vector<std::string>;  // FieldsV1 path elements: "f:spec", "k:{...}", "v:..."

[[noreturn]] void fail(int code, const std::string& msg) { throw PatchError(code, msg); }

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// Same contract as the one in patch.cpp: a hash key that agrees with json::Value equality.
void identity_to(const Value& v, std::string& out) {
  if (v.is_double()) {
    double d = v.as_double();
    if (std::trunc(d) == d && std::fabs(d) < 9.0e18) {
      out += std::to_string(static_cast<int64_t>(d));
      return;
    }
  }
  if (v.is_array()) {
    out.push_back('[');
    for (size_t i = 0; i < v.as_array().size(); ++i) {
      if (i)
        out.push_back(',');
      identity_to(v.as_array()[i], out);
    }
    out.push_back(']');
    return;
  }
  if (v.is_object()) {
    std::vector<const json::Member*> ms;
    for (auto& m : v.as_object())
      ms.push_back(&m);
    std::sort(ms.begin(), ms.end(), [](auto* a, auto* b) { return a->key < b->key; });
    out.push_back('{');
    for (size_t i = 0; i < ms.size(); ++i) {
      if (i)
        out.push_back(',');
      json::quote_to(ms[i]->key, out);
      out.push_back(':');
      identity_to(ms[i]->value, out);
    }
    out.push_back('}');
    return;
  }
  json::dump_to(v, out);
}

std::string identity(const Value& v) {
  std::string s;
  identity_to(v, s);
  return s;
}

// ------------------------------------------------------------------ field sets

struct FieldChild;

// One node of a FieldsV1 tree. `member` is "this path itself is owned" (a leaf, or "." next to
// children); a node without it only leads to owned descendants. Children stay sorted by key so
// that set operations are merges and lookups are binary searches.
struct FieldNode {
  bool member = false;
  std::vector<FieldChild> children;

  const FieldNode* find(std::string_view key) const;
  FieldNode& child(const std::string& key);
  bool empty() const { return !member && children.empty(); }
};

struct FieldChild {
  std::string key;
  FieldNode node;
};

bool key_less(const FieldChild& c, std::string_view key) { return c.key < key; }

const FieldNode* FieldNode::find(std::string_view key) const {
  auto it = std::lower_bound(children.begin(), children.end(), key, key_less);
  return it != children.end() && it->key == key ? &it->node : nullptr;
}

FieldNode& FieldNode::child(const std::string& key) {
  auto it = std::lower_bound(children.begin(), children.end(), key, key_less);
  if (it == children.end() || it->key != key)
    it = children.insert(it, FieldChild{key, FieldNode{}});
  return it->node;
}

void unite_into(FieldNode& a, const FieldNode& b) {
  a.member = a.member || b.member;
  if (b.children.empty())
    return;
  std::vector<FieldChild> out;
  out.reserve(a.children.size() + b.children.size());
  size_t i = 0, j = 0;
  while (i < a.children.size() || j < b.children.size()) {
    if (j == b.children.size() || (i < a.children.size() && a.children[i].key < b.children[j].key)) {
      out.push_back(std::move(a.children[i++]));
    } else if (i == a.children.size() || b.children[j].key < a.children[i].key) {
      out.push_back(b.children[j++]);
    } else {
      unite_into(a.children[i].node, b.children[j].node);
      out.push_back(std::move(a.children[i++]));
      ++j;
    }
  }
  a.children = std::move(out);
}

// Builders append children in document order; this restores the sorted, unique invariant.
void sort_children(FieldNode& n) {
  std::stable_sort(n.children.begin(), n.children.end(),
                   [](const FieldChild& a, const FieldChild& b) { return a.key < b.key; });
  std::vector<FieldChild> out;
  out.reserve(n.children.size());
  for (auto& c : n.children) {
    if (!out.empty() && out.back().key == c.key)
      unite_into(out.back().node, c.node);
    else
      out.push_back(std::move(c));
  }
  n.children = std::move(out);
}

// Members of a that are not members of b.
FieldNode subtract(const FieldNode& a, const FieldNode& b) {
  FieldNode out;
  out.member = a.member && !b.member;
  for (auto& c : a.children) {
    const FieldNode* o = b.find(c.key);
    FieldNode sub = o ? subtract(c.node, *o) : c.node;
    if (!sub.empty())
      out.children.push_back(FieldChild{c.key, std::move(sub)});
  }
  return out;
}

// Drops from `a` every path at or below a member of `cut`: the value there was replaced or
// removed, so whatever was owned inside it no longer exists.
void strip_subtrees(FieldNode& a, const FieldNode& cut) {
  if (cut.member) {
    a = FieldNode{};
    return;
  }
  if (cut.children.empty() || a.children.empty())
    return;
  std::vector<FieldChild> out;
  out.reserve(a.children.size());
  for (auto& c : a.children) {
    if (const FieldNode* k = cut.find(c.key)) {
      strip_subtrees(c.node, *k);
      if (c.node.empty())
        continue;
    }
    out.push_back(std::move(c));
  }
  a.children = std::move(out);
}

bool has_members(const FieldNode& n) {
  if (n.member)
    return true;
  for (auto& c : n.children)
    if (has_members(c.node))
      return true;
  return false;
}

// An entry owns something unless its tree is empty; the root itself is never a field.
bool owns_fields(const FieldNode& root) {
  for (auto& c : root.children)
    if (has_members(c.node))
      return true;
  return false;
}

const FieldNode* node_at(const FieldNode& root, const Path& p, size_t n) {
  const FieldNode* cur = &root;
  for (size_t i = 0; i < n && cur; ++i)
    cur = cur->find(p[i]);
  return cur;
}

// The set owns the path itself or something below it.
bool covers(const FieldNode& root, const Path& p, size_t n) {
  const FieldNode* at = node_at(root, p, n);
  return at && has_members(*at);
}

void collect_members(const FieldNode& n, Path& path, std::vector<Path>& out) {
  if (n.member && !path.empty())
    out.push_back(path);
  for (auto& c : n.children) {
    path.push_back(c.key);
    collect_members(c.node, path, out);
    path.pop_back();
  }
}

// Members of `owned` at or below a member of `cut`.
void owned_under(const FieldNode& owned, const FieldNode& cut, Path& path, std::vector<Path>& out) {
  if (cut.member) {
    collect_members(owned, path, out);
    return;
  }
  for (auto& c : cut.children) {
    const FieldNode* o = owned.find(c.key);
    if (!o)
      continue;
    path.push_back(c.key);
    owned_under(*o, c.node, path, out);
    path.pop_back();
  }
}

FieldNode parse_fields(const Value& v) {
  FieldNode n;
  if (!v.is_object() || v.as_object().empty()) {
    n.member = true;
    return n;
  }
  for (auto& m : v.as_object()) {
    if (m.key == ".")
      n.member = true;
    else
      n.children.push_back(FieldChild{m.key, parse_fields(m.value)});
  }
  sort_children(n);
  return n;
}

Value dump_fields(const FieldNode& n) {
  Object o;
  if (n.member && !n.children.empty())
    o.push_back(json::Member{".", Object{}});
  for (auto& c : n.children)
    if (!c.node.empty())
      o.push_back(json::Member{c.key, dump_fields(c.node)});
  return o;
}

std::string field_element(const std::string& name) { return "f:" + name; }

std::string key_element(const std::string& key, const Value& v) {
  std::string s = "k:{";
  json::quote_to(key, s);
  s.push_back(':');
  json::dump_to(json::sorted(v), s);
  s.push_back('}');
  return s;
}

std::string value_element(const Value& v) { return "v:" + json::dump(json::sorted(v)); }

// ".spec.containers[name=\"c\"].image", the form kubectl prints in conflict messages.
std::string describe(const Path& p) {
  std::string out;
  for (auto& pe : p) {
    std::string_view rest = std::string_view(pe).substr(std::min<size_t>(2, pe.size()));
    if (starts_with(pe, "f:")) {
      out += ".";
      out += rest;
    } else if (starts_with(pe, "k:")) {
      Value key;
      std::string err;
      out += "[";
      if (json::try_parse(rest, key, err) && key.is_object()) {
        bool first = true;
        for (auto& m : key.as_object()) {
          if (!first)
            out += ",";
          first = false;
          out += m.key + "=" + json::dump(m.value);
        }
      } else {
        out += rest;
      }
      out += "]";
    } else if (starts_with(pe, "v:")) {
      out += "[=";
      out += rest;
      out += "]";
    } else if (starts_with(pe, "i:")) {
      out += "[";
      out += rest;
      out += "]";
    } else {
      out += pe;
    }
  }
  return out;
}

// ------------------------------------------------------------------ object navigation

bool matches_key(const Value& el, const Value& key) {
  if (!el.is_object())
    return false;
  for (auto& m : key.as_object()) {
    const Value* v = el.get(m.key);
    if (!v || !(*v == m.value))
      return false;
  }
  return true;
}

// The child of `container` a path element names, by index so that callers may erase it.
std::optional<size_t> child_index(const Value& container, const std::string& pe) {
  if (!container.is_array())
    return std::nullopt;
  auto& arr = container.as_array();
  std::string_view rest = std::string_view(pe).substr(std::min<size_t>(2, pe.size()));
  Value probe;
  std::string err;
  if (starts_with(pe, "k:")) {
    if (!json::try_parse(rest, probe, err) || !probe.is_object())
      return std::nullopt;
    for (size_t i = 0; i < arr.size(); ++i)
      if (matches_key(arr[i], probe))
        return i;
  } else if (starts_with(pe, "v:")) {
    if (!json::try_parse(rest, probe, err))
      return std::nullopt;
    for (size_t i = 0; i < arr.size(); ++i)
      if (arr[i] == probe)
        return i;
  } else if (starts_with(pe, "i:")) {
    size_t idx = 0;
    if (rest.empty() || rest.size() > 9 || rest.find_first_not_of("0123456789") != std::string_view::npos)
      return std::nullopt;
    for (char c : rest)
      idx = idx * 10 + static_cast<size_t>(c - '0');
    if (idx < arr.size())
      return idx;
  }
  return std::nullopt;
}

Value* locate(Value& container, const std::string& pe) {
  if (starts_with(pe, "f:"))
    return container.is_object() ? container.as_object().find(std::string_view(pe).substr(2)) : nullptr;
  auto idx = child_index(container, pe);
  return idx ? &container.as_array()[*idx] : nullptr;
}

Value* locate_path(Value& root, const Path& p, size_t n) {
  Value* cur = &root;
  for (size_t i = 0; i < n && cur; ++i)
    cur = locate(*cur, p[i]);
  return cur;
}

bool remove_child(Value& container, const std::string& pe) {
  if (starts_with(pe, "f:"))
    return container.is_object() && container.as_object().erase(std::string_view(pe).substr(2));
  auto idx = child_index(container, pe);
  if (!idx)
    return false;
  auto& arr = container.as_array();
  arr.erase(arr.begin() + static_cast<std::ptrdiff_t>(*idx));
  return true;
}

// ------------------------------------------------------------------ list semantics

// kube never tracks these: identity and bookkeeping the server owns.
bool untracked(const std::vector<std::string>& path, const std::string& key) {
  if (path.empty())
    return key == "apiVersion" || key == "kind";
  if (path.size() == 1 && path[0] == "metadata")
    return key == "name" || key == "namespace" || key == "uid" || key == "resourceVersion" ||
           key == "generation" || key == "creationTimestamp" || key == "managedFields" ||
           key == "selfLink";
  return false;
}

// Where the applied configuration may not write: server-set metadata. resourceVersion does go
// through (untracked): as in kube it is the caller's optimistic-concurrency precondition.
bool server_owned_metadata(const std::vector<std::string>& path, const std::string& key) {
  return path.size() == 1 && path[0] == "metadata" && key != "name" && key != "namespace" &&
         key != "resourceVersion" && untracked(path, key);
}

// List semantics for a walk: the caller's lookup (or the built-in merge keys for the kind), and
// for lists it knows nothing about, whatever earlier entries recorded ("k:" children mean a
// keyed list, "v:" children a set). The latter keeps Update tracking consistent with earlier
// applies of custom resources whose schemas only the applier's lookup knew.
class ListLookup {
public:
  ListLookup(StrategyLookup primary, std::string kind)
    : primary_(std::move(primary)), kind_(std::move(kind)) {}

  void learn(const FieldNode& n) {
    Path path;
    learn(n, path);
  }

  ListStrategy at(const std::vector<std::string>& path) const {
    ListStrategy s = primary_ ? primary_(path) : builtin_list_strategy(kind_, path);
    if (s.merge_key || s.merge_primitives)
      return s;
    auto it = learned_.find(path);
    return it == learned_.end() ? s : it->second;
  }

private:
  void learn(const FieldNode& n, std::vector<std::string>& path) {
    for (auto& c : n.children) {
      if (starts_with(c.key, "f:")) {
        path.push_back(c.key.substr(2));
        learn(c.node, path);
        path.pop_back();
        continue;
      }
      if (starts_with(c.key, "k:") && !learned_.count(path)) {
        Value key;
        std::string err;
        if (json::try_parse(std::string_view(c.key).substr(2), key, err) && key.is_object() &&
            key.as_object().size() == 1) {
          ListStrategy s;
          s.merge_key = key.as_object().begin()->key;
          learned_.emplace(path, s);
        }
      } else if (starts_with(c.key, "v:") && !learned_.count(path)) {
        ListStrategy s;
        s.merge_primitives = true;
        learned_.emplace(path, s);
      }
      path.push_back("[]");
      learn(c.node, path);
      path.pop_back();
    }
  }

  StrategyLookup primary_;
  std::string kind_;
  std::map<std::vector<std::string>, ListStrategy> learned_;
};

// Key identities of a keyed list, or nullopt when some element cannot be addressed by its key
// (not a map, key missing, duplicate key); such lists are then treated as atomic.
std::optional<std::vector<std::string>> element_ids(const Array& a, const std::string& key) {
  std::vector<std::string> ids;
  std::unordered_set<std::string> seen;
  ids.reserve(a.size());
  for (auto& el : a) {
    const Value* kv = el.get(key);
    if (!kv)
      return std::nullopt;
    ids.push_back(identity(*kv));
    if (!seen.insert(ids.back()).second)
      return std::nullopt;
  }
  return ids;
}

// Walks documents with the strategy path ({"spec","containers","[]","env"}) in step.
class Walker {
public:
  // strict: the applied configuration, where nulls mean "not set" and a keyed list whose
  // elements cannot be keyed is an error rather than an atomic value.
  Walker(const ListLookup& lists, bool strict) : lists_(lists), strict_(strict) {}

  FieldNode leaves(const Value& v);
  void diff(const Value& a, const Value& b, FieldNode& replaced, FieldNode& gained, FieldNode& removed);
  void merge(Value& target, const Value& cfg);

private:
  std::string where() const {
    std::string out;
    for (auto& p : path_)
      out += p == "[]" ? std::string("[]") : "." + p;
    return out.empty() ? "." : out;
  }
  void check_keyed(const Array& a, const std::string& key);

  const ListLookup& lists_;
  bool strict_;
  std::vector<std::string> path_;
};

void Walker::check_keyed(const Array& a, const std::string& key) {
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < a.size(); ++i) {
    const Value* kv = a[i].get(key);
    if (!a[i].is_object())
      fail(422, "list " + where() + ": element " + std::to_string(i) + " is not a map");
    if (!kv || kv->is_null())
      fail(422, "list " + where() + ": element " + std::to_string(i) + " is missing the key field \"" +
                    key + "\"");
    if (!seen.insert(identity(*kv)).second)
      fail(422, "list " + where() + ": duplicate entries for key [" + key + "=" + json::dump(*kv) + "]");
  }
}

// The fields a value sets: leaves, empty maps, atomic lists, and for keyed lists every element
// (".") with its own fields, for sets every member.
FieldNode Walker::leaves(const Value& v) {
  FieldNode n;
  if (v.is_object()) {
    const Object& o = v.as_object();
    if (o.empty()) {
      n.member = true;
      return n;
    }
    for (auto& m : o) {
      if ((strict_ && m.value.is_null()) || untracked(path_, m.key))
        continue;
      path_.push_back(m.key);
      FieldNode c = leaves(m.value);
      path_.pop_back();
      if (!c.empty())
        n.children.push_back(FieldChild{field_element(m.key), std::move(c)});
    }
    sort_children(n);
    return n;
  }
  if (v.is_array()) {
    const Array& a = v.as_array();
    ListStrategy s = lists_.at(path_);
    if (a.empty()) {
      n.member = true;
      return n;
    }
    if (s.merge_key) {
      if (strict_)
        check_keyed(a, *s.merge_key);
      if (strict_ || element_ids(a, *s.merge_key)) {
        path_.push_back("[]");
        for (auto& el : a) {
          FieldNode c = leaves(el);
          c.member = true;
          n.children.push_back(FieldChild{key_element(*s.merge_key, *el.get(*s.merge_key)), std::move(c)});
        }
        path_.pop_back();
        sort_children(n);
        return n;
      }
    } else if (s.merge_primitives) {
      for (auto& el : a) {
        FieldNode c;
        c.member = true;
        n.children.push_back(FieldChild{value_element(el), std::move(c)});
      }
      sort_children(n);
      return n;
    }
  }
  n.member = true;
  return n;
}

// What changed from a to b: `replaced` marks paths whose value was added or replaced (anything
// owned below them is gone), `gained` the fields b sets there, `removed` paths that disappeared.
void Walker::diff(const Value& a, const Value& b, FieldNode& replaced, FieldNode& gained, FieldNode& removed) {
  auto attach = [](FieldNode& parent, const std::string& key, FieldNode&& child) {
    if (!child.empty())
      parent.children.push_back(FieldChild{key, std::move(child)});
  };
  if (a.is_object() && b.is_object()) {
    const Object& ao = a.as_object();
    const Object& bo = b.as_object();
    for (auto& m : ao)
      if (!untracked(path_, m.key) && !bo.contains(m.key))
        removed.children.push_back(FieldChild{field_element(m.key), FieldNode{true, {}}});
    for (auto& m : bo) {
      if (untracked(path_, m.key))
        continue;
      std::string pe = field_element(m.key);
      FieldNode r, g, x;
      path_.push_back(m.key);
      if (const Value* av = ao.find(m.key)) {
        diff(*av, m.value, r, g, x);
      } else {
        r.member = true;
        g = leaves(m.value);
      }
      path_.pop_back();
      attach(replaced, pe, std::move(r));
      attach(gained, pe, std::move(g));
      attach(removed, pe, std::move(x));
    }
    sort_children(replaced);
    sort_children(gained);
    sort_children(removed);
    return;
  }
  if (a.is_array() && b.is_array()) {
    const Array& aa = a.as_array();
    const Array& ba = b.as_array();
    ListStrategy s = lists_.at(path_);
    std::optional<std::vector<std::string>> aid, bid;
    if (s.merge_key && (aid = element_ids(aa, *s.merge_key)) && (bid = element_ids(ba, *s.merge_key))) {
      std::unordered_map<std::string, size_t> in_a, in_b;
      for (size_t i = 0; i < aa.size(); ++i)
        in_a.emplace((*aid)[i], i);
      for (size_t i = 0; i < ba.size(); ++i)
        in_b.emplace((*bid)[i], i);
      for (size_t i = 0; i < aa.size(); ++i)
        if (!in_b.count((*aid)[i]))
          removed.children.push_back(
              FieldChild{key_element(*s.merge_key, *aa[i].get(*s.merge_key)), FieldNode{true, {}}});
      path_.push_back("[]");
      for (size_t i = 0; i < ba.size(); ++i) {
        std::string pe = key_element(*s.merge_key, *ba[i].get(*s.merge_key));
        FieldNode r, g, x;
        auto it = in_a.find((*bid)[i]);
        if (it != in_a.end()) {
          diff(aa[it->second], ba[i], r, g, x);
        } else {
          r.member = true;
          g = leaves(ba[i]);
          g.member = true;
        }
        attach(replaced, pe, std::move(r));
        attach(gained, pe, std::move(g));
        attach(removed, pe, std::move(x));
      }
      path_.pop_back();
      sort_children(replaced);
      sort_children(gained);
      sort_children(removed);
      return;
    }
    if (!s.merge_key && s.merge_primitives) {
      std::unordered_set<std::string> as, bs;
      for (auto& v : aa)
        as.insert(identity(v));
      for (auto& v : ba)
        bs.insert(identity(v));
      for (auto& v : aa)
        if (!bs.count(identity(v)))
          removed.children.push_back(FieldChild{value_element(v), FieldNode{true, {}}});
      for (auto& v : ba)
        if (!as.count(identity(v))) {
          replaced.children.push_back(FieldChild{value_element(v), FieldNode{true, {}}});
          gained.children.push_back(FieldChild{value_element(v), FieldNode{true, {}}});
        }
      sort_children(replaced);
      sort_children(gained);
      sort_children(removed);
      return;
    }
  }
  if (a == b)
    return;
  replaced.member = true;
  unite_into(gained, leaves(b));
}

// Applied configuration into the object: maps recursively, keyed lists by key, sets by value,
// everything else replaced. Nulls in the configuration mean "not set".
void Walker::merge(Value& target, const Value& cfg) {
  if (cfg.is_object()) {
    if (!target.is_object())
      target = Object{};
    for (auto& m : cfg.as_object()) {
      if (m.value.is_null() || server_owned_metadata(path_, m.key))
        continue;
      Value* cur = target.as_object().find(m.key);
      if (!cur)
        cur = &target.as_object().set(m.key, Value{});
      path_.push_back(m.key);
      merge(*cur, m.value);
      path_.pop_back();
    }
    return;
  }
  if (cfg.is_array()) {
    ListStrategy s = lists_.at(path_);
    if (s.merge_key) {
      if (!target.is_array())
        target = Array{};
      Array& arr = target.as_array();
      std::unordered_map<std::string, size_t> pos;
      for (size_t i = 0; i < arr.size(); ++i)
        if (const Value* kv = arr[i].get(*s.merge_key))
          pos.emplace(identity(*kv), i);
      path_.push_back("[]");
      for (auto& el : cfg.as_array()) {
        const Value* kv = el.get(*s.merge_key);
        if (!kv)
          fail(422, "list " + where() + ": an element is missing the key field \"" + *s.merge_key + "\"");
        std::string id = identity(*kv);
        auto it = pos.find(id);
        size_t at = it != pos.end() ? it->second : arr.size();
        if (it == pos.end()) {
          arr.push_back(Value{});
          pos.emplace(id, at);
        }
        merge(arr[at], el);
      }
      path_.pop_back();
      return;
    }
    if (s.merge_primitives) {
      if (!target.is_array())
        target = Array{};
      Array& arr = target.as_array();
      std::unordered_set<std::string> have;
      for (auto& v : arr)
        have.insert(identity(v));
      for (auto& v : cfg.as_array())
        if (have.insert(identity(v)).second)
          arr.push_back(v);
      return;
    }
  }
  target = cfg;
}

// ------------------------------------------------------------------ managedFields entries

struct Entry {
  std::string manager;
  std::string operation;
  std::string api_version;
  std::string time;
  std::string subresource;
  FieldNode fields;

  bool is(const std::string& m, const std::string& op, const std::string& sub) const {
    return manager == m && operation == op && subresource == sub;
  }
};

std::vector<Entry> read_entries(const Value& obj) {
  std::vector<Entry> out;
  const Value* mf = obj.at_path("metadata.managedFields");
  if (!mf || !mf->is_array())
    return out;
  for (auto& e : mf->as_array()) {
    const Value* fields = e.get("fieldsV1");
    if (!e.is_object() || !fields || !fields->is_object())
      continue;  // kube resets entries it cannot decode; dropping them is the same outcome
    Entry en;
    en.manager = e.string_or("manager");
    en.operation = e.string_or("operation");
    en.api_version = e.string_or("apiVersion");
    en.time = e.string_or("time");
    en.subresource = e.string_or("subresource");
    en.fields = parse_fields(*fields);
    en.fields.member = false;
    auto dup = std::find_if(out.begin(), out.end(),
                            [&](const Entry& o) { return o.is(en.manager, en.operation, en.subresource); });
    if (dup != out.end())
      unite_into(dup->fields, en.fields);
    else
      out.push_back(std::move(en));
  }
  return out;
}

// kube's order (sortEncodedManagedFields): operation, time (to the second), manager, apiVersion,
// subresource. RFC 3339 times in one format compare correctly as strings.
void write_entries(Value& obj, std::vector<Entry>& entries) {
  entries.erase(std::remove_if(entries.begin(), entries.end(), [](const Entry& e) { return !owns_fields(e.fields); }),
                entries.end());
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& p, const Entry& q) {
    if (p.operation != q.operation)
      return p.operation < q.operation;
    auto ps = p.time.substr(0, 19), qs = q.time.substr(0, 19);
    if (ps != qs)
      return ps < qs;
    if (p.manager != q.manager)
      return p.manager < q.manager;
    if (p.api_version != q.api_version)
      return p.api_version < q.api_version;
    return p.subresource < q.subresource;
  });
  if (!obj.is_object())
    return;
  Value& md = obj["metadata"];
  if (!md.is_object())
    md = Object{};
  if (entries.empty()) {
    md.as_object().erase("managedFields");
    return;
  }
  Array list;
  list.reserve(entries.size());
  for (auto& e : entries) {
    Object o;
    o.push_back(json::Member{"manager", e.manager});
    o.push_back(json::Member{"operation", e.operation});
    o.push_back(json::Member{"apiVersion", e.api_version});
    if (!e.time.empty())
      o.push_back(json::Member{"time", e.time});
    o.push_back(json::Member{"fieldsType", "FieldsV1"});
    o.push_back(json::Member{"fieldsV1", dump_fields(e.fields)});
    if (!e.subresource.empty())
      o.push_back(json::Member{"subresource", e.subresource});
    list.push_back(std::move(o));
  }
  md.as_object().set("managedFields", std::move(list));
}

// Equality of two objects apart from their managedFields (which this module rewrites anyway).
bool same_content(const Value& a, const Value& b) {
  if (!a.is_object() || !b.is_object())
    return a == b;
  auto strip = [](const Value& v) {
    const Value* md = v.get("metadata");
    if (!md || !md->is_object() || !md->as_object().contains("managedFields"))
      return std::optional<Value>{};
    Value copy = *md;
    copy.as_object().erase("managedFields");
    return std::optional<Value>{std::move(copy)};
  };
  auto am = strip(a), bm = strip(b);
  if (a.as_object().size() != b.as_object().size())
    return false;
  for (auto& m : a.as_object()) {
    const Value* o = b.get(m.key);
    if (!o)
      return false;
    if (m.key == "metadata" && (am || bm)) {
      if (!((am ? *am : m.value) == (bm ? *bm : *o)))
        return false;
    } else if (!(m.value == *o)) {
      return false;
    }
  }
  return true;
}

// Removes a path the applier gave up, then any map or list that only existed to hold it, unless
// somebody still owns that container.
void prune(Value& obj, const Path& p, const std::vector<const FieldNode*>& keepers) {
  Value* parent = locate_path(obj, p, p.size() - 1);
  if (!parent || !remove_child(*parent, p.back()))
    return;
  for (size_t n = p.size() - 1; n >= 1; --n) {
    if (!starts_with(p[n - 1], "f:"))
      return;
    Value* c = locate_path(obj, p, n);
    bool empty = c && ((c->is_object() && c->as_object().empty()) || (c->is_array() && c->as_array().empty()));
    if (!empty)
      return;
    for (auto* k : keepers)
      if (covers(*k, p, n))
        return;
    Value* up = locate_path(obj, p, n - 1);
    if (!up || !remove_child(*up, p[n - 1]))
      return;
  }
}

// A key field of a list element that stays must stay too, or the element loses its identity.
bool is_key_of_parent(const Path& p) {
  if (p.size() < 2 || !starts_with(p.back(), "f:") || !starts_with(p[p.size() - 2], "k:"))
    return false;
  Value key;
  std::string err;
  return json::try_parse(std::string_view(p[p.size() - 2]).substr(2), key, err) && key.is_object() &&
         key.as_object().contains(std::string_view(p.back()).substr(2));
}

}  // namespace

ApplyResult server_side_apply(const json::Value& live, const json::Value& config, const ApplyOptions& opts) {
  if (!config.is_object())
    fail(400, "the applied configuration must be a JSON object");
  if (!live.is_null() && !live.is_object())
    fail(422, std::string("the live object is a ") + json::type_name(live.type()) + ", not an object");

  const Value empty = Object{};
  const Value& base = live.is_null() ? empty : live;
  std::string kind = config.string_or("kind", base.string_or("kind"));
  std::vector<Entry> entries = read_entries(base);
  ListLookup lists(opts.lists, kind);
  if (!opts.lists)
    for (auto& e : entries)
      lists.learn(e.fields);

  FieldNode applied = Walker(lists, true).leaves(config);
  applied.member = false;

  Value merged = base;
  Walker(lists, true).merge(merged, config);

  // A conflict is a field that applying would change while another manager owns it.
  FieldNode replaced, gained, removed;
  Walker(lists, false).diff(base, merged, replaced, gained, removed);
  ApplyResult result;
  std::vector<FieldNode> taken(entries.size());
  std::set<std::pair<std::string, std::string>> reported;
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.is(opts.manager, "Apply", opts.subresource))
      continue;
    std::vector<Path> hits;
    Path path;
    owned_under(e.fields, replaced, path, hits);
    for (auto& h : hits) {
      FieldNode* n = &taken[i];
      for (auto& pe : h)
        n = &n->child(pe);
      n->member = true;
      std::string field = describe(h);
      if (reported.emplace(e.manager, field).second)
        result.conflicts.push_back(ApplyConflict{e.manager, field});
    }
  }
  if (!result.conflicts.empty() && !opts.force) {
    result.object = live;
    return result;
  }
  result.conflicts.clear();
  for (size_t i = 0; i < entries.size(); ++i)
    if (!taken[i].empty())
      entries[i].fields = subtract(entries[i].fields, taken[i]);

  auto self = std::find_if(entries.begin(), entries.end(),
                           [&](const Entry& e) { return e.is(opts.manager, "Apply", opts.subresource); });
  bool is_new = self == entries.end();
  if (is_new) {
    entries.push_back(Entry{opts.manager, "Apply", "", "", opts.subresource, FieldNode{}});
    self = entries.end() - 1;
  }

  // Fields this manager applied before and no longer does go away, unless someone else (or the
  // new configuration, through a descendant) still owns them.
  std::vector<const FieldNode*> keepers = {&applied};
  for (auto& e : entries)
    if (&e != &*self)
      keepers.push_back(&e.fields);
  std::vector<Path> stale;
  Path path;
  collect_members(subtract(self->fields, applied), path, stale);
  for (auto& p : stale) {
    bool kept = is_key_of_parent(p);
    for (size_t k = 0; k < keepers.size() && !kept; ++k)
      kept = covers(*keepers[k], p, p.size());
    if (!kept)
      prune(merged, p, keepers);
  }

  bool set_changed = !(dump_fields(self->fields) == dump_fields(applied));
  self->fields = std::move(applied);
  self->api_version = !opts.api_version.empty() ? opts.api_version : config.string_or("apiVersion");
  if (is_new || set_changed || self->time.empty() || !same_content(base, merged))
    self->time = opts.time;
  write_entries(merged, entries);
  result.object = std::move(merged);
  return result;
}

json::Value track_update(const json::Value& before, const json::Value& after, const std::string& manager,
                         const std::string& api_version, const std::string& time,
                         const std::string& subresource) {
  Value out = after;
  if (!out.is_object())
    return out;
  const Value empty = Object{};
  const Value& base = before.is_object() ? before : empty;

  // A client that sends managedFields different from the stored ones is rewriting them; one
  // that echoes them back (or omits them) is not.
  const Value* mine = after.at_path("metadata.managedFields");
  const Value* theirs = base.at_path("metadata.managedFields");
  bool rewritten = mine && mine->is_array() && !mine->as_array().empty() && (!theirs || !(*mine == *theirs));
  std::vector<Entry> entries = read_entries(rewritten ? after : base);

  ListLookup lists({}, after.string_or("kind", base.string_or("kind")));
  for (auto& e : entries)
    lists.learn(e.fields);
  FieldNode replaced, gained, removed;
  Walker(lists, false).diff(base, after, replaced, gained, removed);

  for (auto& e : entries) {
    strip_subtrees(e.fields, replaced);
    strip_subtrees(e.fields, removed);
  }
  gained.member = false;
  if (owns_fields(gained)) {
    auto self = std::find_if(entries.begin(), entries.end(),
                             [&](const Entry& e) { return e.is(manager, "Update", subresource); });
    if (self == entries.end()) {
      entries.push_back(Entry{manager, "Update", "", "", subresource, FieldNode{}});
      self = entries.end() - 1;
    }
    unite_into(self->fields, gained);
    self->api_version = api_version;
    self->time = time;
  }
  write_entries(out, entries);
  return out;
}

}  // namespace omed::apiserver
