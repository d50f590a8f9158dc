// `omed inspect-model`: what omed learns about a model, without a cluster. Local paths are parsed
// in place; hf://, s3://, oci:// and http(s):// URIs by a listing and Range requests only.
#include <cstdlib>
#include <iostream>
#include <string>

#include "commands.hpp"
#include "omed/common/json.hpp"
#include "omed/common/yaml.hpp"
#include "omed/model/model_inspector.hpp"
#include "omed/model/remote_inspector.hpp"
#include "omed/model/storage_uri.hpp"

namespace omed::cli {

namespace {

const char* kHelp = R"(Usage: omed inspect-model PATH|URI [-o json|yaml|table]

Prints what omed learns about a model: type, architecture, exact parameter count, format,
dtype, quantization, context length and capabilities (the facts the agent fills into a
BaseModel). PATH is a model directory, a lone config.json or a weight file (safetensors,
GGUF, ONNX, PyTorch). A URI (hf://org/repo[@rev], s3://bucket/prefix, oci://..., https://...)
is inspected remotely: the config by a small GET, weight headers by Range requests only.

Flags:
  -o, --output FORMAT   json (default), yaml or table
      --hf-endpoint URL Hugging Face endpoint (default $HF_ENDPOINT, else https://huggingface.co)
      --s3-endpoint URL S3-compatible endpoint
Environment: HF_TOKEN (a Hugging Face token), AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
Exit code: 0 inspected, 1 the model cannot be read, 2 bad usage.
)";

std::string or_dash(const json::Value* v) {
  if (!v || v->is_null())
    return "-";
  if (v->is_string())
    return v->as_string().empty() ? "-" : v->as_string();
  if (v->is_array()) {
    std::string out;
    for (auto& e : v->as_array())
      out += (out.empty() ? "" : ",") + (e.is_string() ? e.as_string() : json::dump(e));
    return out.empty() ? "-" : out;
  }
  return json::dump(*v);
}

void print_table(const json::Value& v) {
  const char* rows[][2] = {{"MODEL TYPE", "modelType"},     {"ARCHITECTURE", "architecture"},
                           {"PARAMETERS", "parameterCount"}, {"SIZE", "parameterSize"},
                           {"EXACT", "parameterCountExact"}, {"COUNTED FROM", "parameterCountSource"},
                           {"FORMAT", "format"},             {"FORMAT VERSION", "formatVersion"},
                           {"FRAMEWORK", "framework"},       {"FRAMEWORK VERSION", "frameworkVersion"},
                           {"DTYPE", "dtype"},               {"QUANTIZATION", "quantization"},
                           {"CONTEXT LENGTH", "contextLength"}, {"LAYERS", "numLayers"},
                           {"HIDDEN SIZE", "hiddenSize"},    {"HEADS", "numAttentionHeads"},
                           {"KV HEADS", "numKeyValueHeads"}, {"EXPERTS", "numExperts"},
                           {"CAPABILITIES", "capabilities"}};
  for (auto& r : rows) {
    std::string label = r[0];
    label.resize(19, ' ');
    std::cout << label << or_dash(v.get(r[1])) << "\n";
  }
  if (const json::Value* by = v.get("parametersByDtype"); by && by->is_object())
    for (auto& m : by->as_object()) {
      std::string label = "  " + m.key;
      label.resize(19, ' ');
      std::cout << label << json::dump(m.value) << "\n";
    }
  if (const json::Value* notes = v.get("notes"); notes && notes->is_array())
    for (auto& n : notes->as_array())
      std::cout << "note: " << (n.is_string() ? n.as_string() : json::dump(n)) << "\n";
}

}  // namespace

int run_inspect_model(int argc, char** argv) {
  std::string target, output = "json", hf_endpoint, s3_endpoint;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const std::string& flag) -> std::string {
      if (a.rfind(flag + "=", 0) == 0)
        return a.substr(flag.size() + 1);
      if (i + 1 < argc)
        return argv[++i];
      std::cerr << "omed inspect-model: " << flag << " needs a value\n";
      std::exit(2);
    };
    if (a == "-h" || a == "--help") {
      std::cout << kHelp;
      return 0;
    } else if (a == "-o" || a == "--output" || a.rfind("--output=", 0) == 0) {
      output = value(a == "-o" ? "-o" : "--output");
    } else if (a == "--hf-endpoint" || a.rfind("--hf-endpoint=", 0) == 0) {
      hf_endpoint = value("--hf-endpoint");
    } else if (a == "--s3-endpoint" || a.rfind("--s3-endpoint=", 0) == 0) {
      s3_endpoint = value("--s3-endpoint");
    } else if (!a.empty() && a[0] == '-') {
      std::cerr << "omed inspect-model: unknown flag " << a << "\n";
      return 2;
    } else if (target.empty()) {
      target = a;
    } else {
      std::cerr << "omed inspect-model: one PATH or URI, got also '" << a << "'\n";
      return 2;
    }
  }
  if (target.empty()) {
    std::cerr << kHelp;
    return 2;
  }
  if (output != "json" && output != "yaml" && output != "table") {
    std::cerr << "omed inspect-model: --output must be json, yaml or table\n";
    return 2;
  }

  model::ModelFacts facts;
  std::string err;
  bool remote = target.find("://") != std::string::npos && target.rfind("file://", 0) != 0 &&
                target.rfind("local://", 0) != 0;
  if (remote) {
    auto uri = model::parse_storage_uri(target, err);
    if (!uri) {
      std::cerr << "omed inspect-model: " << err << "\n";
      return 2;
    }
    model::SourceConfig cfg;
    if (!hf_endpoint.empty())
      cfg.hf_endpoint = hf_endpoint;
    else if (const char* e = std::getenv("HF_ENDPOINT"); e && *e)
      cfg.hf_endpoint = e;
    cfg.s3_endpoint = s3_endpoint;
    if (const char* t = std::getenv("HF_TOKEN"))
      cfg.credentials.hf_token = t;
    if (const char* k = std::getenv("AWS_ACCESS_KEY_ID"))
      cfg.credentials.s3_access_key_id = k;
    if (const char* k = std::getenv("AWS_SECRET_ACCESS_KEY"))
      cfg.credentials.s3_secret_access_key = k;
    if (const char* k = std::getenv("AWS_SESSION_TOKEN"))
      cfg.credentials.s3_session_token = k;
    err = model::inspect_remote_model(*uri, cfg, facts);
  } else {
    std::string path = target;
    for (const char* scheme : {"file://", "local://"})
      if (path.rfind(scheme, 0) == 0)
        path = path.substr(std::string(scheme).size());
    err = model::inspect_model_dir(path, facts);
  }
  if (!err.empty()) {
    std::cerr << "omed inspect-model: " << err << "\n";
    return 1;
  }
  json::Value v = model::facts_to_json(facts);
  if (output == "json")
    std::cout << json::pretty(v) << "\n";
  else if (output == "yaml")
    std::cout << yaml::dump(v);
  else
    print_table(v);
  return 0;
}

}  // namespace omed::cli
