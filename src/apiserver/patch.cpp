// The three PATCH content types of the embedded API server (merge patch, JSON patch, strategic
// merge patch) and the merge keys of the built-in kinds that strategic merge needs.
#include "omed/apiserver/patch.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace omed::apiserver {

namespace {

using json::Array;
using json::Member;
using json::Object;
using json::Value;

// The API server refuses larger JSON patches with 413, as kube-apiserver does.
constexpr size_t kMaxJsonPatchOps = 10000;
// Patches can build documents deeper than the parser would ever accept; every consumer (and
// the destructors) recurses, so results past this depth are refused instead of risking the stack.
constexpr size_t kMaxDepth = 512;
// "copy" duplicates subtrees; chained copies of the root double the document each time.
constexpr size_t kMaxCopiedNodes = size_t{1} << 20;

constexpr std::string_view kPatchDirective = "$patch";
constexpr std::string_view kRetainKeys = "$retainKeys";
constexpr std::string_view kSetElementOrder = "$setElementOrder/";
constexpr std::string_view kDeleteFromPrimitiveList = "$deleteFromPrimitiveList/";

// Codes follow kube's interpretPatchError: a directive of the wrong shape is a malformed
// document (400); content the target cannot take is 422.
[[noreturn]] void fail(int code, const std::string& msg) { throw PatchError(code, msg); }

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// A hash key that agrees with json::Value equality: 1 and 1.0 must land on the same key, and
// key order inside objects must not matter.
void identity_to(const Value& v, std::string& out) {
  switch (v.type()) {
    case json::Type::Double: {
      double d = v.as_double();
      if (std::trunc(d) == d && std::fabs(d) < 9.0e18) {
        out += std::to_string(static_cast<int64_t>(d));
        return;
      }
      json::dump_to(v, out);
      return;
    }
    case json::Type::Array: {
      out.push_back('[');
      bool first = true;
      for (auto& e : v.as_array()) {
        if (!first)
          out.push_back(',');
        first = false;
        identity_to(e, out);
      }
      out.push_back(']');
      return;
    }
    case json::Type::Object: {
      std::vector<const Member*> ms;
      ms.reserve(v.as_object().size());
      for (auto& m : v.as_object())
        ms.push_back(&m);
      std::sort(ms.begin(), ms.end(), [](auto* a, auto* b) { return a->key < b->key; });
      out.push_back('{');
      bool first = true;
      for (auto* m : ms) {
        if (!first)
          out.push_back(',');
        first = false;
        json::quote_to(m->key, out);
        out.push_back(':');
        identity_to(m->value, out);
      }
      out.push_back('}');
      return;
    }
    default: json::dump_to(v, out);
  }
}

std::string identity(const Value& v) {
  std::string s;
  identity_to(v, s);
  return s;
}

size_t depth_of(const Value& v) {
  size_t d = 0;
  if (v.is_array())
    for (auto& e : v.as_array())
      d = std::max(d, depth_of(e));
  else if (v.is_object())
    for (auto& m : v.as_object())
      d = std::max(d, depth_of(m.value));
  else
    return 0;
  return d + 1;
}

size_t node_count(const Value& v) {
  size_t n = 1;
  if (v.is_array())
    for (auto& e : v.as_array())
      n += node_count(e);
  else if (v.is_object())
    for (auto& m : v.as_object())
      n += node_count(m.value);
  return n;
}

// ------------------------------------------------------------------ RFC 7386

void merge_into(Value& target, const Value& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object())
    target = Object{};
  auto& obj = target.as_object();
  for (auto& m : patch.as_object()) {
    if (m.value.is_null()) {
      obj.erase(m.key);
      continue;
    }
    Value* cur = obj.find(m.key);
    if (!cur)
      cur = &obj.set(m.key, Value{});
    merge_into(*cur, m.value);
  }
}

// ------------------------------------------------------------------ RFC 6902 / RFC 6901

// Array indices per RFC 6901: "0" or digits without a leading zero. "-" is handled by callers.
std::optional<size_t> array_index(const std::string& tok) {
  if (tok.empty() || tok.size() > 18 || (tok.size() > 1 && tok[0] == '0'))
    return std::nullopt;
  size_t v = 0;
  auto [ptr, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
  if (ec != std::errc{} || ptr != tok.data() + tok.size())
    return std::nullopt;
  return v;
}

class JsonPatcher {
public:
  explicit JsonPatcher(Value doc) : doc_(std::move(doc)) {}

  void apply(const Object& op, size_t index);
  Value take() { return std::move(doc_); }

private:
  using Tokens = std::vector<std::string>;

  std::string where_;  // "json patch operation 3 (move)", for messages

  Tokens pointer(const std::string& text) const;
  const std::string& member(const Object& op, std::string_view name) const;
  Value* walk(const Tokens& t, size_t n);
  void check_depth(const Tokens& t, const Value& v) const;
  void add(const Tokens& t, const std::string& path, Value v);
  Value remove(const Tokens& t, const std::string& path);

  Value doc_;
  size_t copied_ = 0;
};

JsonPatcher::Tokens JsonPatcher::pointer(const std::string& text) const {
  Tokens out;
  if (text.empty())
    return out;
  if (text[0] != '/')
    fail(422, where_ + ": JSON pointer \"" + text + "\" must be empty or start with '/'");
  std::string cur;
  for (size_t i = 1; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '/') {
      out.push_back(std::move(cur));
      cur.clear();
      if (out.size() > kMaxDepth)
        fail(422, where_ + ": JSON pointer is deeper than " + std::to_string(kMaxDepth) + " levels");
      continue;
    }
    char c = text[i];
    if (c == '~') {
      // RFC 6901: only ~0 and ~1 are escapes; anything else after '~' is an error.
      if (i + 1 < text.size() && (text[i + 1] == '0' || text[i + 1] == '1')) {
        cur.push_back(text[i + 1] == '0' ? '~' : '/');
        ++i;
        continue;
      }
      fail(422, where_ + ": JSON pointer \"" + text + "\" has an invalid '~' escape");
    }
    cur.push_back(c);
  }
  return out;
}

const std::string& JsonPatcher::member(const Object& op, std::string_view name) const {
  const Value* v = op.find(name);
  if (!v)
    fail(422, where_ + ": missing \"" + std::string(name) + "\"");
  if (!v->is_string())
    fail(422, where_ + ": \"" + std::string(name) + "\" must be a string");
  return v->as_string();
}

Value* JsonPatcher::walk(const Tokens& t, size_t n) {
  Value* cur = &doc_;
  for (size_t i = 0; i < n; ++i) {
    if (cur->is_object()) {
      cur = cur->as_object().find(t[i]);
      if (!cur)
        return nullptr;
    } else if (cur->is_array()) {
      auto idx = array_index(t[i]);
      auto& a = cur->as_array();
      if (!idx || *idx >= a.size())
        return nullptr;
      cur = &a[*idx];
    } else {
      return nullptr;
    }
  }
  return cur;
}

void JsonPatcher::check_depth(const Tokens& t, const Value& v) const {
  if (t.size() + depth_of(v) > kMaxDepth)
    fail(422, where_ + ": the patched document would nest deeper than " + std::to_string(kMaxDepth) +
                  " levels");
}

void JsonPatcher::add(const Tokens& t, const std::string& path, Value v) {
  check_depth(t, v);
  if (t.empty()) {
    doc_ = std::move(v);
    return;
  }
  Value* parent = walk(t, t.size() - 1);
  if (!parent)
    fail(422, where_ + ": the parent of \"" + path + "\" does not exist");
  const std::string& last = t.back();
  if (parent->is_object()) {
    parent->as_object().set(last, std::move(v));
    return;
  }
  if (parent->is_array()) {
    auto& a = parent->as_array();
    if (last == "-") {
      a.push_back(std::move(v));
      return;
    }
    auto idx = array_index(last);
    if (!idx)
      fail(422, where_ + ": \"" + last + "\" in \"" + path + "\" is not a valid array index");
    if (*idx > a.size())
      fail(422, where_ + ": index " + last + " in \"" + path + "\" is out of bounds (array of " +
                    std::to_string(a.size()) + ")");
    a.insert(a.begin() + static_cast<std::ptrdiff_t>(*idx), std::move(v));
    return;
  }
  fail(422, where_ + ": the parent of \"" + path + "\" is a " + json::type_name(parent->type()) +
                ", not an object or array");
}

Value JsonPatcher::remove(const Tokens& t, const std::string& path) {
  if (t.empty())
    fail(422, where_ + ": the whole document cannot be removed");
  Value* parent = walk(t, t.size() - 1);
  const std::string& last = t.back();
  if (parent && parent->is_object()) {
    auto& o = parent->as_object();
    if (Value* v = o.find(last)) {
      Value out = std::move(*v);
      o.erase(last);
      return out;
    }
  } else if (parent && parent->is_array()) {
    auto& a = parent->as_array();
    auto idx = array_index(last);
    if (idx && *idx < a.size()) {
      Value out = std::move(a[*idx]);
      a.erase(a.begin() + static_cast<std::ptrdiff_t>(*idx));
      return out;
    }
  }
  fail(422, where_ + ": path \"" + path + "\" does not exist");
}

void JsonPatcher::apply(const Object& op, size_t index) {
  where_ = "json patch operation " + std::to_string(index);
  const std::string& name = member(op, "op");
  where_ += " (" + name + ")";
  auto value = [&]() -> const Value& {
    const Value* v = op.find("value");
    if (!v)
      fail(422, where_ + ": missing \"value\"");
    return *v;
  };

  if (name == "add") {
    const std::string& path = member(op, "path");
    const Value& v = value();
    add(pointer(path), path, v);
  } else if (name == "remove") {
    const std::string& path = member(op, "path");
    remove(pointer(path), path);
  } else if (name == "replace") {
    const std::string& path = member(op, "path");
    const Value& v = value();
    auto t = pointer(path);
    Value* target = walk(t, t.size());
    if (!target)
      fail(422, where_ + ": path \"" + path + "\" does not exist");
    check_depth(t, v);
    *target = v;
  } else if (name == "move" || name == "copy") {
    const std::string& path = member(op, "path");
    const std::string& from = member(op, "from");
    auto to = pointer(path);
    auto src = pointer(from);
    if (name == "move") {
      if (src == to) {
        if (!walk(src, src.size()))
          fail(422, where_ + ": path \"" + from + "\" does not exist");
        return;
      }
      if (src.size() < to.size() && std::equal(src.begin(), src.end(), to.begin()))
        fail(422, where_ + ": \"" + from + "\" cannot be moved into its own child \"" + path + "\"");
      Value v = remove(src, from);
      add(to, path, std::move(v));
    } else {
      Value* v = walk(src, src.size());
      if (!v)
        fail(422, where_ + ": path \"" + from + "\" does not exist");
      copied_ += node_count(*v);
      if (copied_ > kMaxCopiedNodes)
        fail(422, where_ + ": the patch copies more than " + std::to_string(kMaxCopiedNodes) +
                      " values in total");
      Value dup = *v;
      add(to, path, std::move(dup));
    }
  } else if (name == "test") {
    const std::string& path = member(op, "path");
    const Value& v = value();
    auto t = pointer(path);
    Value* target = walk(t, t.size());
    // The message matches kube-apiserver's (evanphx/json-patch) so clients see the familiar text.
    if (!target || !(*target == v))
      fail(422, "testing value " + path + " failed: test operation failed");
  } else {
    fail(422, "json patch operation " + std::to_string(index) + ": unknown op \"" + name + "\"");
  }
}

// ------------------------------------------------------------------ strategic merge patch

bool merges(const ListStrategy& s) { return s.merge_key.has_value() || s.merge_primitives; }

// One element of a list being merged: where it was in the live list and where the patch (or
// $setElementOrder) wants it. -1 means "not there".
struct Slot {
  Value value;
  long orig = -1;
  long rank = -1;
};

// kube's element order rule: patch-ranked elements keep the patch's relative order, live-only
// elements keep theirs, and the two are interleaved by live position where both have one. New
// elements therefore land before the remaining live ones, exactly as kubectl users see it.
Array interleave(std::vector<Slot>& slots) {
  std::vector<Slot*> right, left;
  for (auto& s : slots)
    (s.rank >= 0 ? right : left).push_back(&s);
  std::stable_sort(right.begin(), right.end(), [](Slot* a, Slot* b) { return a->rank < b->rank; });
  auto live_pos = [](const Slot* s) {
    return s->orig >= 0 ? static_cast<unsigned long>(s->orig) : ~0UL;
  };
  std::stable_sort(left.begin(), left.end(),
                   [&](Slot* a, Slot* b) { return live_pos(a) < live_pos(b); });
  Array out;
  out.reserve(slots.size());
  size_t i = 0, j = 0;
  while (i < left.size() || j < right.size()) {
    bool take_left;
    if (j == right.size())
      take_left = true;
    else if (i == left.size())
      take_left = false;
    else
      take_left = left[i]->orig >= 0 && right[j]->orig >= 0 && left[i]->orig < right[j]->orig;
    out.push_back(std::move(take_left ? left[i++]->value : right[j++]->value));
  }
  return out;
}

class StrategicMerge {
public:
  explicit StrategicMerge(const StrategyLookup& lookup) : lookup_(lookup) {}

  void merge_object(Value& target, const Object& patch);

private:
  ListStrategy strategy(const std::string& key);
  std::string here() const;
  void merge_fields(Value& target, const Object& patch);
  void merge_value(Value& cur, const Value& pv, const std::string& key, const Value* order);
  Value fresh(const Value& pv, const std::string& key, const Value* order);
  void merge_list(Value& target, const Array& patch, const ListStrategy& s, const Value* order);
  std::vector<Slot> merge_keyed(const Array& live, const Array& patch, const std::string& mkey);
  void rank_by_order(std::vector<Slot>& slots, const Array& order, const Array& patch,
                     const std::optional<std::string>& mkey);

  const StrategyLookup& lookup_;
  std::vector<std::string> path_;
};

ListStrategy StrategicMerge::strategy(const std::string& key) {
  if (!lookup_)
    return {};
  path_.push_back(key);
  ListStrategy s = lookup_(path_);
  path_.pop_back();
  return s;
}

// The list being merged, for messages: ".spec.containers[].env".
std::string StrategicMerge::here() const {
  std::string out;
  for (auto& p : path_)
    out += p == "[]" ? std::string("[]") : "." + p;
  return out;
}

void StrategicMerge::merge_object(Value& target, const Object& patch) {
  if (const Value* d = patch.find(kPatchDirective)) {
    if (!d->is_string())
      fail(422, "the $patch directive must be a string");
    const std::string& s = d->as_string();
    if (s == "delete") {
      // kube answers a map-level delete with an empty map, not a missing key.
      target = Object{};
      return;
    }
    if (s == "replace") {
      Object rest;
      for (auto& m : patch)
        if (m.key != kPatchDirective)
          rest.push_back(m);
      target = Object{};
      merge_fields(target, rest);
      return;
    }
    if (s != "merge")
      fail(422, "unknown $patch directive \"" + s + "\" in a map");
  }
  if (!target.is_object())
    target = Object{};
  merge_fields(target, patch);
}

void StrategicMerge::merge_fields(Value& target, const Object& patch) {
  auto& obj = target.as_object();

  if (const Value* rk = patch.find(kRetainKeys)) {
    if (!rk->is_array())
      fail(400, "$retainKeys must be a list of field names");
    std::unordered_set<std::string> keep;
    for (auto& k : rk->as_array())
      if (k.is_string())
        keep.insert(k.as_string());
    for (auto& m : patch)
      if (!m.value.is_null() && !starts_with(m.key, "$") && !keep.count(m.key))
        fail(422, "field \"" + m.key + "\" is set by the patch but missing from $retainKeys");
    Object kept;
    for (auto& m : obj)
      if (keep.count(m.key))
        kept.push_back(std::move(m));
    obj = std::move(kept);
  }

  for (auto& m : patch) {
    if (!starts_with(m.key, kDeleteFromPrimitiveList))
      continue;
    std::string field = m.key.substr(kDeleteFromPrimitiveList.size());
    if (field.empty() || !m.value.is_array())
      fail(400, "\"" + m.key + "\" must name a field and hold a list of values to delete");
    Value* cur = obj.find(field);
    if (!cur || !cur->is_array())
      continue;
    std::unordered_set<std::string> drop;
    for (auto& v : m.value.as_array())
      drop.insert(identity(v));
    auto& a = cur->as_array();
    a.erase(std::remove_if(a.begin(), a.end(), [&](const Value& v) { return drop.count(identity(v)) > 0; }),
            a.end());
  }

  for (auto& m : patch) {
    const std::string& key = m.key;
    if (starts_with(key, "$")) {
      if (key == kPatchDirective || key == kRetainKeys || starts_with(key, kDeleteFromPrimitiveList))
        continue;
      if (starts_with(key, kSetElementOrder) && key.size() > kSetElementOrder.size()) {
        if (!m.value.is_array())
          fail(400, "\"" + key + "\" must be a list");
        continue;
      }
      fail(422, "unknown strategic merge patch directive \"" + key + "\"");
    }
    if (m.value.is_null()) {
      obj.erase(key);
      continue;
    }
    const Value* order = patch.find(std::string(kSetElementOrder) + key);
    Value* cur = obj.find(key);
    if (!cur) {
      // Deleting something that is not there is a no-op, not an empty map.
      if (m.value.is_object()) {
        const Value* d = m.value.get(kPatchDirective);
        if (d && d->is_string() && d->as_string() == "delete")
          continue;
      }
      Value v = fresh(m.value, key, order);
      obj.set(key, std::move(v));
      continue;
    }
    merge_value(*cur, m.value, key, order);
  }

  // An order directive may come without its list: it then only reorders the live list.
  for (auto& m : patch) {
    if (!starts_with(m.key, kSetElementOrder))
      continue;
    std::string field = m.key.substr(kSetElementOrder.size());
    if (patch.contains(field))
      continue;
    Value* cur = obj.find(field);
    if (!cur || !cur->is_array())
      continue;
    ListStrategy s = strategy(field);
    if (!merges(s))
      continue;
    path_.push_back(field);
    merge_list(*cur, Array{}, s, &m.value);
    path_.pop_back();
  }
}

void StrategicMerge::merge_value(Value& cur, const Value& pv, const std::string& key,
                                 const Value* order) {
  if (pv.is_object() && cur.is_object()) {
    path_.push_back(key);
    merge_object(cur, pv.as_object());
    path_.pop_back();
    return;
  }
  if (pv.is_array() && cur.is_array()) {
    ListStrategy s = strategy(key);
    if (!merges(s)) {
      cur = pv;
      return;
    }
    path_.push_back(key);
    merge_list(cur, pv.as_array(), s, order);
    path_.pop_back();
    return;
  }
  cur = fresh(pv, key, order);
}

// The patch value applied to nothing: directives are resolved and nulls dropped rather than
// stored verbatim in the object (kube stores them as-is here, which leaves "$patch" keys behind).
Value StrategicMerge::fresh(const Value& pv, const std::string& key, const Value* order) {
  if (pv.is_object()) {
    Value out = Object{};
    path_.push_back(key);
    merge_object(out, pv.as_object());
    path_.pop_back();
    return out;
  }
  if (pv.is_array()) {
    ListStrategy s = strategy(key);
    if (!merges(s))
      return pv;
    Value out = Array{};
    path_.push_back(key);
    merge_list(out, pv.as_array(), s, order);
    path_.pop_back();
    return out;
  }
  return pv;
}

// path_ already ends with the list's own key here.
void StrategicMerge::merge_list(Value& target, const Array& patch, const ListStrategy& s,
                                const Value* order) {
  const Array& live = target.as_array();
  bool objects = false, scalars = false;
  for (const Array* a : {&live, &patch})
    for (auto& v : *a) {
      if (v.is_array())
        fail(422, "list " + here() + ": lists of lists cannot be merged");
      (v.is_object() ? objects : scalars) = true;
    }
  if (objects && scalars)
    fail(422, "list " + here() + ": elements are not all of the same type");
  if (objects && !s.merge_key)
    fail(422, "list " + here() + ": a list of maps cannot be merged without a merge key");

  std::vector<Slot> slots;
  if (objects) {
    slots = merge_keyed(live, patch, *s.merge_key);
  } else {
    // Union of scalars; duplicates collapse, as in kube.
    std::unordered_map<std::string, size_t> pos;
    slots.reserve(live.size() + patch.size());
    for (size_t i = 0; i < live.size(); ++i)
      if (pos.emplace(identity(live[i]), slots.size()).second)
        slots.push_back(Slot{live[i], static_cast<long>(i), -1});
    for (size_t j = 0; j < patch.size(); ++j) {
      auto [it, fresh_value] = pos.emplace(identity(patch[j]), slots.size());
      if (fresh_value)
        slots.push_back(Slot{patch[j], -1, static_cast<long>(j)});
      else if (slots[it->second].rank < 0)
        slots[it->second].rank = static_cast<long>(j);
    }
  }
  if (order) {
    if (!order->is_array())
      fail(400, "$setElementOrder for " + here() + " must be a list");
    rank_by_order(slots, order->as_array(), patch, objects ? s.merge_key : std::nullopt);
  }
  target = interleave(slots);
}

std::vector<Slot> StrategicMerge::merge_keyed(const Array& live, const Array& patch,
                                              const std::string& mkey) {
  std::vector<const Object*> items;
  std::unordered_set<std::string> deleted;
  bool replace = false;
  for (size_t j = 0; j < patch.size(); ++j) {
    const Object& po = patch[j].as_object();
    const Value* d = po.find(kPatchDirective);
    if (!d) {
      items.push_back(&po);
      continue;
    }
    if (!d->is_string())
      fail(422, "list " + here() + ": the $patch directive must be a string");
    const std::string& s = d->as_string();
    if (s == "delete") {
      const Value* kv = po.find(mkey);
      if (!kv)
        fail(422, "list " + here() + ": a $patch: delete element does not contain the merge key \"" +
                      mkey + "\"");
      deleted.insert(identity(*kv));
    } else if (s == "replace") {
      replace = true;
    } else if (s == "merge") {
      fail(422, "list " + here() + ": merging lists cannot yet be specified in the patch");
    } else {
      fail(422, "list " + here() + ": unknown $patch directive \"" + s + "\"");
    }
  }
  for (size_t j = 0; j < items.size(); ++j)
    if (!items[j]->contains(mkey))
      fail(422, "list " + here() + ": an element does not contain the merge key \"" + mkey + "\"");

  std::vector<Slot> slots;
  slots.reserve(live.size() + items.size());
  path_.push_back("[]");
  if (replace) {
    // "$patch: replace" as an element: the list becomes the other elements of the patch.
    for (size_t j = 0; j < items.size(); ++j) {
      Value v = Object{};
      merge_object(v, *items[j]);
      slots.push_back(Slot{std::move(v), static_cast<long>(j), -1});
    }
    path_.pop_back();
    return slots;
  }
  std::unordered_map<std::string, size_t> pos;
  for (size_t i = 0; i < live.size(); ++i) {
    const Value* kv = live[i].get(mkey);
    std::string id = kv ? identity(*kv) : std::string();
    if (kv && deleted.count(id))
      continue;
    if (kv)
      pos.emplace(id, slots.size());
    slots.push_back(Slot{live[i], static_cast<long>(i), -1});
  }
  for (size_t j = 0; j < items.size(); ++j) {
    std::string id = identity(*items[j]->find(mkey));
    auto it = pos.find(id);
    if (it != pos.end()) {
      Slot& sl = slots[it->second];
      merge_object(sl.value, *items[j]);
      if (sl.rank < 0)
        sl.rank = static_cast<long>(j);
      continue;
    }
    Value v = Object{};
    merge_object(v, *items[j]);
    pos.emplace(id, slots.size());
    slots.push_back(Slot{std::move(v), -1, static_cast<long>(j)});
  }
  path_.pop_back();
  return slots;
}

// $setElementOrder/<field>: checks that the patch list agrees with the requested order, then
// ranks every element by it (kube's validatePatchWithSetOrderList + normalizeElementOrder).
void StrategicMerge::rank_by_order(std::vector<Slot>& slots, const Array& order, const Array& patch,
                                   const std::optional<std::string>& mkey) {
  auto id_of = [&](const Value& v) -> std::optional<std::string> {
    if (!mkey)
      return identity(v);
    const Value* kv = v.get(*mkey);
    if (!kv)
      return std::nullopt;
    return identity(*kv);
  };
  std::vector<std::string> order_ids;
  order_ids.reserve(order.size());
  for (auto& o : order) {
    auto id = id_of(o);
    if (!id)
      fail(422, "list " + here() + ": a $setElementOrder entry does not contain the merge key \"" +
                    *mkey + "\"");
    order_ids.push_back(std::move(*id));
  }
  if (!order_ids.empty() && !patch.empty()) {
    std::vector<std::string> wanted;
    for (auto& p : patch) {
      if (p.is_object() && p.as_object().contains(kPatchDirective))
        continue;  // deletions and replace markers carry no position
      if (auto id = id_of(p))
        wanted.push_back(std::move(*id));
    }
    size_t pi = 0;
    for (size_t oi = 0; oi < order_ids.size() && pi < wanted.size(); ++oi)
      if (wanted[pi] == order_ids[oi])
        ++pi;
    if (pi < wanted.size())
      fail(422, "list " + here() + ": the order in the patch list doesn't match the $setElementOrder list");
  }
  std::unordered_map<std::string, long> rank;
  for (size_t k = 0; k < order_ids.size(); ++k)
    rank.emplace(order_ids[k], static_cast<long>(k));
  for (auto& s : slots) {
    auto id = id_of(s.value);
    auto it = id ? rank.find(*id) : rank.end();
    s.rank = it == rank.end() ? -1 : it->second;
  }
}

// ------------------------------------------------------------------ built-in merge keys

ListStrategy keyed(const char* key, bool retain = false) {
  ListStrategy s;
  s.merge_key = key;
  s.retain_keys = retain;
  return s;
}

ListStrategy primitives() {
  ListStrategy s;
  s.merge_primitives = true;
  return s;
}

using Path = std::vector<std::string>;

// If `path` starts with `prefix`, the remainder; used to find ObjectMeta/PodSpec wherever a kind
// embeds one.
std::optional<Path> under(const Path& path, const Path& prefix) {
  if (path.size() <= prefix.size() || !std::equal(prefix.begin(), prefix.end(), path.begin()))
    return std::nullopt;
  return Path(path.begin() + static_cast<std::ptrdiff_t>(prefix.size()), path.end());
}

ListStrategy object_meta(const Path& rest) {
  if (rest.size() != 1)
    return {};
  if (rest[0] == "finalizers")
    return primitives();
  if (rest[0] == "ownerReferences")
    return keyed("uid");
  return {};
}

bool is_container_list(const std::string& f) {
  return f == "containers" || f == "initContainers" || f == "ephemeralContainers";
}

ListStrategy pod_spec(const Path& rest) {
  if (rest.size() == 1) {
    const std::string& f = rest[0];
    if (is_container_list(f) || f == "imagePullSecrets" || f == "schedulingGates")
      return keyed("name");
    if (f == "volumes" || f == "resourceClaims")
      return keyed("name", true);
    if (f == "hostAliases")
      return keyed("ip");
    if (f == "topologySpreadConstraints")
      return keyed("topologyKey");
    return {};
  }
  if (rest.size() == 3 && is_container_list(rest[0]) && rest[1] == "[]") {
    const std::string& f = rest[2];
    if (f == "env")
      return keyed("name");
    if (f == "ports")
      return keyed("containerPort");
    if (f == "volumeMounts")
      return keyed("mountPath");
    if (f == "volumeDevices")
      return keyed("devicePath");
  }
  return {};
}

bool is_pod_template_owner(const std::string& kind) {
  return kind == "Deployment" || kind == "ReplicaSet" || kind == "StatefulSet" || kind == "DaemonSet" ||
         kind == "Job" || kind == "ReplicationController";
}

}  // namespace

json::Value merge_patch(const json::Value& target, const json::Value& patch) {
  Value out = target;
  merge_into(out, patch);
  return out;
}

json::Value json_patch(const json::Value& target, const json::Value& ops) {
  if (!ops.is_array())
    fail(400, "a json patch must be a JSON array of operations");
  const Array& list = ops.as_array();
  for (size_t i = 0; i < list.size(); ++i)
    if (!list[i].is_object())
      fail(400, "json patch operation " + std::to_string(i) + " is not a JSON object");
  if (list.size() > kMaxJsonPatchOps)
    fail(413, "the allowed maximum operations in a JSON patch is " + std::to_string(kMaxJsonPatchOps) +
                  ", got " + std::to_string(list.size()));
  JsonPatcher p(target);
  for (size_t i = 0; i < list.size(); ++i)
    p.apply(list[i].as_object(), i);
  return p.take();
}

json::Value strategic_merge_patch(const json::Value& target, const json::Value& patch,
                                  const StrategyLookup& strategy) {
  if (!patch.is_object())
    fail(400, "a strategic merge patch must be a JSON object");
  if (!target.is_null() && !target.is_object())
    fail(422, std::string("a strategic merge patch cannot be applied to a ") + json::type_name(target.type()));
  Value out = target.is_null() ? Value(Object{}) : target;
  StrategicMerge(strategy).merge_object(out, patch.as_object());
  return out;
}

ListStrategy builtin_list_strategy(const std::string& kind, const std::vector<std::string>& path) {
  // Object metadata, including the metadata of embedded templates.
  std::vector<Path> metas = {{"metadata"}};
  std::optional<Path> pod_spec_at;
  if (kind == "Pod") {
    pod_spec_at = Path{"spec"};
  } else if (is_pod_template_owner(kind)) {
    pod_spec_at = Path{"spec", "template", "spec"};
    metas.push_back({"spec", "template", "metadata"});
    if (kind == "StatefulSet")
      metas.push_back({"spec", "volumeClaimTemplates", "[]", "metadata"});
  } else if (kind == "CronJob") {
    pod_spec_at = Path{"spec", "jobTemplate", "spec", "template", "spec"};
    metas.push_back({"spec", "jobTemplate", "metadata"});
    metas.push_back({"spec", "jobTemplate", "spec", "template", "metadata"});
  } else if (kind == "PodTemplate") {
    pod_spec_at = Path{"template", "spec"};
    metas.push_back({"template", "metadata"});
  }
  for (auto& m : metas)
    if (auto rest = under(path, m))
      return object_meta(*rest);
  if (pod_spec_at)
    if (auto rest = under(path, *pod_spec_at))
      return pod_spec(*rest);

  static const Path status_conditions = {"status", "conditions"};
  if (kind == "Pod") {
    if (path == status_conditions)
      return keyed("type");
    if (path == Path{"status", "podIPs"} || path == Path{"status", "hostIPs"})
      return keyed("ip");
  } else if (kind == "Service") {
    if (path == Path{"spec", "ports"})
      return keyed("port");
    if (path == status_conditions)
      return keyed("type");
  } else if (kind == "Node") {
    if (path == status_conditions || path == Path{"status", "addresses"})
      return keyed("type");
    if (path == Path{"spec", "podCIDRs"})
      return primitives();
  } else if (kind == "ServiceAccount") {
    if (path == Path{"secrets"})
      return keyed("name");
  } else if (is_pod_template_owner(kind) || kind == "Namespace" || kind == "PersistentVolumeClaim" ||
             kind == "HorizontalPodAutoscaler") {
    if (path == status_conditions)
      return keyed("type");
    if (kind == "Deployment" && path == Path{"spec", "strategy"}) {
      ListStrategy s;
      s.retain_keys = true;  // a map, not a list: only $retainKeys applies
      return s;
    }
  }
  return {};
}

}  // namespace omed::apiserver
