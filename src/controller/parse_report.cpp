// Encoding and vetting of the parse Job's termination message. The message crosses a trust
// boundary (any file on the claim shaped it), so the reader keeps only known fields of known types.
#include "omed/controller/parse_report.hpp"

namespace omed::controller {

namespace {

bool is_short_string(const json::Value* v) { return v && v->is_string() && v->as_string().size() <= 253; }

// {"name": ..., "version": ...} with string members only.
bool name_version(const json::Value* v) {
  if (!v || !v->is_object() || !is_short_string(v->get("name")))
    return false;
  for (auto& m : v->as_object())
    if ((m.key != "name" && m.key != "version") || !is_short_string(&m.value))
      return false;
  return true;
}

}  // namespace

std::string encode_parse_report(const json::Value& config) {
  json::Value c = config;
  std::string out = json::dump(c);
  for (const char* optional : {"artifact", "modelCapabilities"}) {
    if (out.size() <= kTerminationMessageLimit)
      break;
    if (c.is_object())
      c.as_object().erase(optional);
    out = json::dump(c);
  }
  return out.size() <= kTerminationMessageLimit ? out : std::string();
}

std::string failure_line(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (char ch : message) {
    auto u = static_cast<unsigned char>(ch);
    out += (u < 0x20 || u == 0x7f) ? ' ' : ch;
  }
  // Leave room for the kubelet's and the controller's own words around it.
  constexpr size_t kMax = 1024;
  if (out.size() > kMax) {
    out.resize(kMax - 3);
    // Do not cut a UTF-8 sequence in half: the status would not be valid JSON text.
    while (!out.empty() && (static_cast<unsigned char>(out.back()) & 0xC0) == 0x80)
      out.pop_back();
    if (!out.empty() && static_cast<unsigned char>(out.back()) >= 0xC0)
      out.pop_back();
    out += "...";
  }
  return out;
}

ParseReport decode_parse_report(std::string_view message) {
  ParseReport r;
  if (message.empty()) {
    r.error = "the parse container ended without a report (empty termination message)";
    return r;
  }
  if (message.size() > kTerminationMessageLimit) {
    r.error = "the parse report is larger than the " + std::to_string(kTerminationMessageLimit) +
              "-byte termination message limit";
    return r;
  }
  json::Value v;
  std::string err;
  if (!json::try_parse(message, v, err)) {
    r.error = "the parse report is not JSON: " + failure_line(err);
    return r;
  }
  if (!v.is_object()) {
    r.error = std::string("the parse report is a JSON ") + json::type_name(v.type()) + ", not an object";
    return r;
  }
  json::Object c;
  std::string bad;
  auto note_bad = [&](const char* key) { bad += (bad.empty() ? "" : ", ") + std::string(key); };
  for (const char* key : {"modelType", "modelArchitecture", "modelParameterSize", "quantization"}) {
    const json::Value* f = v.get(key);
    if (!f)
      continue;
    if (is_short_string(f))
      c.set(key, *f);
    else
      note_bad(key);
  }
  for (const char* key : {"modelFramework", "modelFormat"}) {
    const json::Value* f = v.get(key);
    if (!f)
      continue;
    if (name_version(f))
      c.set(key, *f);
    else
      note_bad(key);
  }
  for (const char* key : {"maxTokens", "parameterCount"}) {
    const json::Value* f = v.get(key);
    if (!f)
      continue;
    if (f->is_int() && f->as_int() >= 0)
      c.set(key, *f);
    else
      note_bad(key);
  }
  if (const json::Value* f = v.get("parameterCountExact")) {
    if (f->is_bool())
      c.set("parameterCountExact", *f);
    else
      note_bad("parameterCountExact");
  }
  if (const json::Value* f = v.get("modelCapabilities")) {
    bool ok = f->is_array();
    if (ok)
      for (auto& e : f->as_array())
        ok = ok && is_short_string(&e);
    if (ok)
      c.set("modelCapabilities", *f);
    else
      note_bad("modelCapabilities");
  }
  if (!bad.empty()) {
    r.error = "the parse report has fields of the wrong type: " + bad;
    return r;
  }
  r.config = json::Value(std::move(c));
  return r;
}

}  // namespace omed::controller
