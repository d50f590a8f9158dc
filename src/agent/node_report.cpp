// OME's per-node report protocol: the keys must match OME's byte for byte so that OME-aware
// tooling (and a mixed fleet during migration) reads what omed's agents write.
#include "omed/agent/node_report.hpp"

#include <openssl/sha.h>

#include <cstdio>

#include "omed/k8s/node_affinity.hpp"
#include "omed/model/model_facts.hpp"
#include "omed/model/storage_uri.hpp"

namespace omed::agent {

namespace {

std::string sha256_hex8(std::string_view s) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  char out[9];
  std::snprintf(out, sizeof out, "%02x%02x%02x%02x", md[0], md[1], md[2], md[3]);
  return out;
}

// Keeps `s` within `max` characters: "<8 hex of sha256(s)>-<tail of s>". The hash keeps two
// long names that share a tail apart; the tail keeps the result recognisable.
std::string fit(const std::string& s, size_t max) {
  if (s.size() <= max)
    return s;
  std::string tail = s.substr(s.size() - (max - 9));
  while (!tail.empty() && (tail.front() == '-' || tail.front() == '.'))
    tail.erase(tail.begin());
  return sha256_hex8(s) + "-" + tail;
}

// "<ns>.basemodel.<name>" within `max`: the name gives way first; when the namespace must be
// cut too it keeps at least 8 characters.
std::string scoped_key(const ModelRef& m, size_t max) {
  if (m.cluster()) {
    std::string prefix = m.kind == "FineTunedWeight" ? "finetunedweight." : "clusterbasemodel.";
    return prefix + fit(m.name, max - prefix.size());
  }
  const size_t fixed = std::string_view(".basemodel.").size();
  std::string ns = m.ns, name = m.name;
  if (ns.size() + fixed + name.size() <= max)
    return ns + ".basemodel." + name;
  size_t room = max - fixed;
  if (ns.size() + 8 + 9 <= room) {
    name = fit(name, room - ns.size());
  } else {
    size_t ns_room = std::max<size_t>(8 + 9, room / 2);
    ns = fit(ns, ns_room);
    name = fit(name, room - ns.size());
  }
  return ns + ".basemodel." + name;
}

}  // namespace

std::string ModelRef::display() const { return cluster() ? kind + "/" + name : kind + "/" + ns + "/" + name; }

ModelRef model_ref(const json::Value& obj) {
  ModelRef r;
  r.kind = obj.string_or("kind");
  if (const json::Value* md = obj.get("metadata")) {
    r.name = md->string_or("name");
    if (!r.cluster())
      r.ns = md->string_or("namespace");
  }
  return r;
}

std::string node_label_key(const ModelRef& m) { return kLabelPrefix + scoped_key(m, 63); }

std::string configmap_key(const ModelRef& m) { return scoped_key(m, 253); }

const char* state_name(NodeModelState s) {
  switch (s) {
    case NodeModelState::Updating: return "Updating";
    case NodeModelState::Ready: return "Ready";
    case NodeModelState::Failed: return "Failed";
    case NodeModelState::Deleted: return "Deleted";
  }
  return "Updating";
}

std::optional<NodeModelState> parse_state(std::string_view s) {
  for (auto st : {NodeModelState::Updating, NodeModelState::Ready, NodeModelState::Failed, NodeModelState::Deleted})
    if (s == state_name(st))
      return st;
  return std::nullopt;
}

json::Value entry_to_json(const ModelEntry& e) {
  json::Object o;
  o.set("name", json::Value(e.name));
  o.set("status", json::Value(state_name(e.state)));
  if (!e.config.is_null())
    o.set("config", e.config);
  if (e.progress) {
    const Progress& p = *e.progress;
    o.set("progress", json::Value(json::Object{
                        {"phase", json::Value(p.phase)},
                        {"totalBytes", json::Value(static_cast<int64_t>(p.total_bytes))},
                        {"completedBytes", json::Value(static_cast<int64_t>(p.completed_bytes))},
                        {"totalFiles", json::Value(static_cast<int64_t>(p.total_files))},
                        {"completedFiles", json::Value(static_cast<int64_t>(p.completed_files))},
                        {"speedBytesPerSec", json::Value(static_cast<int64_t>(p.bytes_per_second))},
                        {"lastUpdated", json::Value(p.last_updated)},
                      }));
  }
  if (!e.message.empty())
    o.set("message", json::Value(e.message));
  return json::Value(std::move(o));
}

std::optional<ModelEntry> entry_from_json(const json::Value& v) {
  if (!v.is_object())
    return std::nullopt;
  auto state = parse_state(v.string_or("status"));
  if (!state)
    return std::nullopt;
  ModelEntry e;
  e.name = v.string_or("name");
  e.state = *state;
  e.message = v.string_or("message");
  if (const json::Value* c = v.get("config"); c && c->is_object())
    e.config = *c;
  if (const json::Value* p = v.get("progress"); p && p->is_object()) {
    Progress pr;
    pr.phase = p->string_or("phase");
    auto u = [&](const char* k) { return static_cast<uint64_t>(std::max<int64_t>(0, p->int_at(k).value_or(0))); };
    pr.total_bytes = u("totalBytes");
    pr.completed_bytes = u("completedBytes");
    pr.total_files = u("totalFiles");
    pr.completed_files = u("completedFiles");
    pr.bytes_per_second = static_cast<double>(u("speedBytesPerSec"));
    pr.last_updated = p->string_or("lastUpdated");
    e.progress = pr;
  }
  return e;
}

json::Value facts_to_config(const model::ModelFacts& f, const std::string& revision, const std::string& path) {
  json::Object c;
  if (!f.model_type.empty())
    c.set("modelType", json::Value(f.model_type));
  if (!f.architecture.empty())
    c.set("modelArchitecture", json::Value(f.architecture));
  if (!f.framework.empty()) {
    json::Object fw{{"name", json::Value(f.framework)}};
    if (!f.framework_version.empty())
      fw.set("version", json::Value(f.framework_version));
    c.set("modelFramework", json::Value(std::move(fw)));
  }
  if (!f.format.empty()) {
    json::Object fmt{{"name", json::Value(f.format)}};
    if (!f.format_version.empty())
      fmt.set("version", json::Value(f.format_version));
    c.set("modelFormat", json::Value(std::move(fmt)));
  }
  if (f.parameter_count) {
    c.set("modelParameterSize", json::Value(model::format_parameter_count(static_cast<double>(*f.parameter_count))));
    c.set("parameterCount", json::Value(static_cast<int64_t>(*f.parameter_count)));
    c.set("parameterCountExact", json::Value(f.parameter_count_exact()));
  }
  if (f.context_length)
    c.set("maxTokens", json::Value(*f.context_length));
  if (f.hidden_size)
    c.set("hiddenSize", json::Value(*f.hidden_size));
  if (f.num_layers)
    c.set("numHiddenLayers", json::Value(*f.num_layers));
  json::Array caps;
  for (const auto& cap : f.capabilities)
    caps.emplace_back(cap);
  c.set("modelCapabilities", json::Value(std::move(caps)));
  if (!f.quantization.empty())
    c.set("quantization", json::Value(f.quantization));
  json::Object artifact;
  if (!revision.empty())
    artifact.set("sha", json::Value(revision));
  if (!path.empty())
    artifact.set("path", json::Value(path));
  c.set("artifact", json::Value(std::move(artifact)));
  return json::Value(std::move(c));
}

bool storage_targets_node(const json::Value& model, const json::Value& node) {
  const json::Value* storage = model.at_path("spec.storage");
  if (!storage || !storage->is_object())
    return true;
  auto labels = k8s::node_labels(node);
  std::map<std::string, std::string> selector;
  if (const json::Value* sel = storage->get("nodeSelector"); sel && sel->is_object())
    for (const auto& m : sel->as_object())
      if (m.value.is_string())
        selector.emplace(m.key, m.value.as_string());
  if (!k8s::node_selector_matches(selector, labels))
    return false;
  const json::Value* req = storage->at_path("nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution");
  if (!req || req->is_null())
    return true;
  const json::Value* name = node.at_path("metadata.name");
  return k8s::node_selector_terms_match(*req, labels, name && name->is_string() ? name->as_string() : std::string());
}

}  // namespace omed::agent
