// Remote-parse benchmark: the facts of a 160-shard, 405B-parameter safetensors model on the loopback
// Hugging Face Hub fixture, learned by omed through Range requests, against curl doing the same.
//
// The model: the Llama 3.1 config from the shared test data with the published 405B dimensions,
// its index and 160 shards whose headers are real safetensors headers; the weights behind them are
// zeros the fixture makes per Range request, so nothing of the ~810 GB is ever held or written.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "../support/hub_fixture.hpp"
#include "omed/common/json.hpp"
#include "omed/model/model_facts.hpp"
#include "omed/model/remote_inspector.hpp"
#include "omed/model/storage_uri.hpp"

extern char** environ;

namespace fs = std::filesystem;
namespace json = omed::json;
using omed::testing::HubFixture;

namespace {

constexpr int kShards = 160;
constexpr const char* kRepo = "omed-bench/llama-3.1-405b-160";
constexpr double kTargetSeconds = 1.0;

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

std::string le64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

// --- the model -------------------------------------------------------------------------------

struct Tensor {
  std::string name;
  std::vector<uint64_t> shape;
  uint64_t elems() const {
    uint64_t n = 1;
    for (auto d : shape)
      n *= d;
    return n;
  }
};

struct Shard {
  std::string name;
  std::vector<Tensor> tensors;
  std::string head;  // 8-byte length + header JSON: the real start of the file
  uint64_t size = 0;
  std::string sha256;
};

struct Model {
  std::string config_text, index_text, dtype;
  uint64_t params = 0, tensor_bytes = 0, file_bytes = 0;
  std::vector<Shard> shards;
};

int64_t cfg_int(const json::Value& c, const char* key) {
  const json::Value* v = c.get(key);
  if (!v || !v->is_int())
    throw std::runtime_error(std::string("config has no integer ") + key);
  return v->as_int();
}

// The tensors a Llama checkpoint stores, in the order transformers writes them, with the shapes
// the config implies (nn.Linear weights are [out, in]).
std::vector<Tensor> llama_tensors(const json::Value& c) {
  const uint64_t h = cfg_int(c, "hidden_size"), inter = cfg_int(c, "intermediate_size"),
                 layers = cfg_int(c, "num_hidden_layers"), heads = cfg_int(c, "num_attention_heads"),
                 kv = cfg_int(c, "num_key_value_heads"), vocab = cfg_int(c, "vocab_size");
  const json::Value* hd_v = c.get("head_dim");
  const uint64_t hd = hd_v && hd_v->is_int() ? static_cast<uint64_t>(hd_v->as_int()) : h / heads;
  const json::Value* tie = c.get("tie_word_embeddings");
  std::vector<Tensor> ts{{"model.embed_tokens.weight", {vocab, h}}};
  for (uint64_t l = 0; l < layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    ts.push_back({p + "input_layernorm.weight", {h}});
    ts.push_back({p + "mlp.down_proj.weight", {h, inter}});
    ts.push_back({p + "mlp.gate_proj.weight", {inter, h}});
    ts.push_back({p + "mlp.up_proj.weight", {inter, h}});
    ts.push_back({p + "post_attention_layernorm.weight", {h}});
    ts.push_back({p + "self_attn.k_proj.weight", {kv * hd, h}});
    ts.push_back({p + "self_attn.o_proj.weight", {h, heads * hd}});
    ts.push_back({p + "self_attn.q_proj.weight", {heads * hd, h}});
    ts.push_back({p + "self_attn.v_proj.weight", {kv * hd, h}});
  }
  ts.push_back({"model.norm.weight", {h}});
  if (!(tie && tie->is_bool() && tie->as_bool()))
    ts.push_back({"lm_head.weight", {vocab, h}});
  return ts;
}

std::string shard_name(int i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05d-of-%05d.safetensors", i + 1, kShards);
  return buf;
}

Model build_model(const fs::path& shared_config) {
  Model m;
  json::Value c = json::parse(slurp(shared_config), json::ParseOptions{256, true});
  // Meta-Llama-3.1-405B's published dimensions on the shared (70B) Llama 3.1 config: the rest
  // (vocabulary, RoPE scaling, dtype, architecture) is the same in both.
  c["hidden_size"] = 16384;
  c["intermediate_size"] = 53248;
  c["num_attention_heads"] = 128;
  c["num_hidden_layers"] = 126;
  c["num_key_value_heads"] = 8;
  m.config_text = json::pretty(c);
  m.dtype = c.string_or("torch_dtype");
  uint64_t elem = m.dtype == "float32" ? 4 : 2;
  std::string st_dtype = m.dtype == "float32" ? "F32" : m.dtype == "float16" ? "F16" : "BF16";

  auto tensors = llama_tensors(c);
  for (auto& t : tensors) {
    m.params += t.elems();
    m.tensor_bytes += t.elems() * elem;
  }
  // A tensor goes to the shard its middle byte falls in: shards of even size, none empty as long
  // as no tensor is bigger than a shard (true here: the largest is the 4 GiB embedding).
  m.shards.resize(kShards);
  uint64_t at = 0;
  for (auto& t : tensors) {
    uint64_t bytes = t.elems() * elem;
    size_t s = static_cast<size_t>((static_cast<unsigned __int128>(at + bytes / 2) * kShards) / m.tensor_bytes);
    m.shards[std::min<size_t>(s, kShards - 1)].tensors.push_back(t);
    at += bytes;
  }
  std::map<std::string, std::string> weight_map;  // sorted, as transformers writes it
  for (int i = 0; i < kShards; ++i) {
    Shard& sh = m.shards[i];
    sh.name = shard_name(i);
    if (sh.tensors.empty())
      throw std::runtime_error(sh.name + " got no tensor");
    std::string h = "{\"__metadata__\":{\"format\":\"pt\"}";
    uint64_t off = 0;
    for (auto& t : sh.tensors) {
      uint64_t bytes = t.elems() * elem;
      h += ",\"" + t.name + "\":{\"dtype\":\"" + st_dtype + "\",\"shape\":[";
      for (size_t d = 0; d < t.shape.size(); ++d)
        h += (d ? "," : "") + std::to_string(t.shape[d]);
      h += "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + bytes) + "]}";
      off += bytes;
      weight_map[t.name] = sh.name;
    }
    h += "}";
    // The safetensors writer pads the header with spaces so the data starts 8-aligned.
    while (h.size() % 8 != 0)
      h += ' ';
    sh.head = le64(h.size()) + h;
    sh.size = sh.head.size() + off;
    // A stand-in: the real digest would mean hashing ~5 GB per shard on every run.
    sh.sha256 = HubFixture::sha256_hex("omed-bench generated shard\n" + sh.head + std::to_string(sh.size));
    m.file_bytes += sh.size;
  }
  json::Object wm;
  for (auto& [k, v] : weight_map)
    wm.set(k, v);
  json::Object index{{"metadata", json::Object{{"total_size", m.tensor_bytes}}}, {"weight_map", std::move(wm)}};
  m.index_text = json::pretty(json::Value(std::move(index)));
  return m;
}

// Parameters in a fetched safetensors header, as a script would sum them (the peer's check).
// Throws on anything that is not a header: a wrong range must fail the row, not crash the bench.
uint64_t header_params(const std::string& header_json) {
  json::Value h = json::parse(header_json);
  if (!h.is_object())
    throw std::runtime_error("not a JSON object");
  uint64_t n = 0;
  for (auto& member : h.as_object()) {
    if (member.key == "__metadata__")
      continue;
    const json::Value* shape = member.value.is_object() ? member.value.get("shape") : nullptr;
    if (!shape || !shape->is_array())
      throw std::runtime_error(member.key + " has no shape");
    uint64_t e = 1;
    for (auto& d : shape->as_array())
      e *= d.is_int() ? static_cast<uint64_t>(d.as_int()) : 0;
    n += e;
  }
  return n;
}

// --- processes -------------------------------------------------------------------------------

// The environment of every child: no proxy may take a loopback request elsewhere, no token or
// endpoint of the caller's may leak in.
std::vector<std::string> child_env(const std::string& hf_endpoint) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    std::string lower = key;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (lower.find("proxy") != std::string::npos || key.rfind("HF_", 0) == 0 || key.rfind("AWS_", 0) == 0)
      continue;
    env.push_back(kv);
  }
  env.push_back("HF_ENDPOINT=" + hf_endpoint);
  return env;
}

// Runs `args` to completion with stdout to `out` and stderr to `err`; returns the exit status.
int run(const std::vector<std::string>& args, const std::vector<std::string>& env, const std::string& out,
        const std::string& err) {
  std::vector<std::string> a = args, e = env;
  std::vector<char*> argv, envp;
  for (auto& s : a)
    argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : e)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    return -1;
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// --- measurement -----------------------------------------------------------------------------

struct Traffic {
  uint64_t requests = 0, bytes = 0;
  uint64_t past_header = 0;  // bytes served beyond a shard's header, over all requests
  std::vector<std::string> problems;
};

// What the fixture saw since the log was cleared, checked against the shards' header regions.
Traffic traffic(const HubFixture& hub, const Model& m) {
  std::map<std::string, const Shard*> by_sha;
  for (auto& sh : m.shards)
    by_sha["/cdn/" + sh.sha256] = &sh;
  Traffic t;
  for (auto& r : hub.requests()) {
    ++t.requests;
    t.bytes += r.body_bytes;
    if (r.server != "cdn")
      continue;
    auto it = by_sha.find(r.path);
    const std::string* range = r.header("Range");
    if (it == by_sha.end()) {
      t.problems.push_back("CDN request for an unknown object " + r.path);
      continue;
    }
    const Shard& sh = *it->second;
    uint64_t first = 0, last = 0;
    if (!range || r.status != 206 ||
        std::sscanf(range->c_str(), "bytes=%lu-%lu", &first, &last) != 2) {
      t.problems.push_back(sh.name + ": not a bounded Range request (" + (range ? *range : "no Range") +
                           ", status " + std::to_string(r.status) + ")");
      continue;
    }
    const uint64_t header_end = sh.head.size();
    last = std::min(last, sh.size - 1);
    uint64_t past = last + 1 > header_end ? last + 1 - header_end : 0;
    t.past_header += past;
    if (first >= header_end)
      t.problems.push_back(sh.name + ": " + *range + " starts in the weight data (header ends at " +
                           std::to_string(header_end) + ")");
    else if (past > 0)
      t.problems.push_back(sh.name + ": " + *range + " reaches " + std::to_string(past) +
                           " bytes past the header into the weight data");
  }
  return t;
}

struct Row {
  std::string tool;
  std::vector<double> seconds{};
  Traffic last{};
  bool ok = true;
  std::string error{};
  double best() const { return seconds.empty() ? 0 : *std::min_element(seconds.begin(), seconds.end()); }
  double median() const {
    if (seconds.empty())
      return 0;
    auto s = seconds;
    std::sort(s.begin(), s.end());
    return s.size() % 2 ? s[s.size() / 2] : (s[s.size() / 2 - 1] + s[s.size() / 2]) / 2;
  }
  void fail(const std::string& why) {
    if (ok)
      error = why;
    ok = false;
  }
};

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30))
    std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(b) / (1ull << 30));
  else if (b >= (1ull << 20))
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(b) / (1ull << 20));
  else if (b >= 1024)
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(b) / 1024);
  else
    std::snprintf(buf, sizeof buf, "%lu B", static_cast<unsigned long>(b));
  return buf;
}

// The facts omed reported, against what the generator put in the headers.
std::string check_facts(const json::Value& f, const Model& m) {
  auto num = [&](const char* k) { return f.int_at(k).value_or(-1); };
  if (num("parameterCount") != static_cast<int64_t>(m.params))
    return "parameterCount " + std::to_string(num("parameterCount")) + ", the headers hold " + std::to_string(m.params);
  if (f.string_or("parameterCountSource") != "weights")
    return "parameterCountSource is '" + f.string_or("parameterCountSource") + "', not the shards' headers";
  const json::Value* by = f.get("parametersByDtype");
  const json::Value* bf16 = by ? by->get("BF16") : nullptr;
  if (!bf16 || !bf16->is_int() || bf16->as_int() != static_cast<int64_t>(m.params) || by->as_object().size() != 1)
    return "parametersByDtype is " + (by ? json::dump(*by) : std::string("missing"));
  if (f.string_or("architecture") != "LlamaForCausalLM" || f.string_or("format") != "safetensors")
    return "architecture/format " + f.string_or("architecture") + "/" + f.string_or("format");
  if (num("weightBytes") != static_cast<int64_t>(m.file_bytes))
    return "weightBytes " + std::to_string(num("weightBytes")) + ", the shards total " + std::to_string(m.file_bytes);
  if (num("numLayers") != 126 || num("hiddenSize") != 16384 || num("numAttentionHeads") != 128)
    return "shape facts wrong: layers " + std::to_string(num("numLayers")) + ", hidden " +
           std::to_string(num("hiddenSize"));
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  const char* shared = std::getenv("OMED_SHARED_DIR");
  fs::path config_src = fs::path(shared ? shared : "") / "testdata" / "hf-configs" / "llama3_1.json";
  if (!shared || !fs::exists(config_src)) {
    std::printf("SKIP: %s not found (OMED_SHARED_DIR)\n", config_src.c_str());
    return 77;
  }
  std::string omed_bin = argc > 1 ? argv[1] : (std::getenv("OMED_BIN") ? std::getenv("OMED_BIN") : "");
  int repeat = 5;
  if (const char* r = std::getenv("OMED_BENCH_REPEAT"))
    repeat = std::max(1, std::atoi(r));
  // The in-process runs must not be sent to a proxy either.
  for (const char* v : {"http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"})
    unsetenv(v);

  Model m;
  try {
    m = build_model(config_src);
  } catch (const std::exception& e) {
    std::printf("cannot build the model: %s\n", e.what());
    return 1;
  }
  size_t tensors = 0, max_header = 0;
  for (auto& sh : m.shards) {
    tensors += sh.tensors.size();
    max_header = std::max(max_header, sh.head.size());
  }
  std::printf("model: %d shards, %zu tensors, %lu parameters (%s), %s of files, headers up to %zu bytes\n", kShards,
              tensors, static_cast<unsigned long>(m.params), m.dtype.c_str(), human_bytes(m.file_bytes).c_str(),
              max_header);

  HubFixture hub;
  std::map<std::string, HubFixture::GeneratedFile> generated;
  for (auto& sh : m.shards)
    generated[sh.name] = HubFixture::GeneratedFile{sh.head, sh.size, sh.sha256};
  hub.add_commit(kRepo, {{"config.json", m.config_text}, {"model.safetensors.index.json", m.index_text}}, generated);
  const std::string uri = std::string("hf://") + kRepo;
  const std::string resolve = hub.endpoint() + "/" + kRepo + "/resolve/main/";
  std::printf("hub %s, cdn %s\n", hub.endpoint().c_str(), hub.cdn_origin().c_str());

  char tmpl[] = "/tmp/omed-bench-rp-XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::perror("mkdtemp");
    return 1;
  }
  const fs::path dir = tmpl;
  const std::string errlog = (dir / "stderr.log").string();
  const auto env = child_env(hub.endpoint());

  auto finish_run = [&](Row& row, double seconds) {
    row.seconds.push_back(seconds);
    row.last = traffic(hub, m);
    for (auto& p : row.last.problems)
      row.fail(p);
    // Far below the model: a ten-thousandth of it would already be 80 MB.
    if (row.last.bytes * 10000 > m.file_bytes)
      row.fail("served " + human_bytes(row.last.bytes) + ", a download rather than a header read");
  };

  // 1. The user-facing path: `omed inspect-model hf://...` as a process.
  Row bin{"omed inspect-model (process)"};
  if (omed_bin.empty()) {
    bin.fail("no omed binary given (argv[1] or OMED_BIN)");
  } else {
    for (int i = 0; i < repeat && bin.ok; ++i) {
      hub.clear_requests();
      fs::path out = dir / "facts.json";
      double t0 = now_s();
      int rc = run({omed_bin, "inspect-model", uri, "-o", "json"}, env, out.string(), errlog);
      double t = now_s() - t0;
      finish_run(bin, t);
      if (rc != 0) {
        bin.fail("exit " + std::to_string(rc) + ": " + slurp(errlog));
        break;
      }
      json::Value facts;
      std::string err;
      if (!json::try_parse(slurp(out), facts, err))
        bin.fail("output is not JSON: " + err);
      else if (auto e = check_facts(facts, m); !e.empty())
        bin.fail(e);
    }
  }

  // 2. The same call in-process: the process start and the JSON printing left out.
  Row inproc{"omed inspect_remote_model (in-process)"};
  omed::model::RemoteInspectStats stats;
  for (int i = 0; i < repeat && inproc.ok; ++i) {
    hub.clear_requests();
    std::string err;
    auto parsed = omed::model::parse_storage_uri(uri, err);
    omed::model::SourceConfig cfg;
    cfg.hf_endpoint = hub.endpoint();
    omed::model::ModelFacts facts;
    stats = {};
    double t0 = now_s();
    err = parsed ? omed::model::inspect_remote_model(*parsed, cfg, facts, &stats) : err;
    double t = now_s() - t0;
    finish_run(inproc, t);
    if (!err.empty())
      inproc.fail(err);
    else if (auto e = check_facts(omed::model::facts_to_json(facts), m); !e.empty())
      inproc.fail(e);
    else if (stats.weight_files != kShards || stats.weight_bytes != m.file_bytes)
      inproc.fail("stats: " + std::to_string(stats.weight_files) + " shards, " + std::to_string(stats.weight_bytes) +
                  " bytes");
  }

  // The peers get the config and the index whole, then each shard's 8-byte length and header, as
  // a script would; what they fetched is checked after the clock stops.
  auto shard_list = [&](const fs::path& index_file, std::vector<std::string>& names) {
    json::Value idx;
    std::string err;
    if (!json::try_parse(slurp(index_file), idx, err) || !idx.get("weight_map"))
      return false;
    for (auto& member : idx.get("weight_map")->as_object())
      if (std::find(names.begin(), names.end(), member.value.as_string()) == names.end())
        names.push_back(member.value.as_string());
    std::sort(names.begin(), names.end());
    return true;
  };
  auto peer_check = [&](Row& row, const fs::path& out, const std::vector<std::string>& names) {
    if (names.size() != static_cast<size_t>(kShards))
      return row.fail("the index named " + std::to_string(names.size()) + " shards");
    uint64_t params = 0;
    for (auto& n : names) {
      std::string hdr = slurp(out / (n + ".hdr"));
      try {
        params += header_params(hdr);
      } catch (const std::exception& e) {
        return row.fail(n + ": fetched header does not parse: " + e.what());
      }
    }
    if (params != m.params)
      row.fail("headers fetched hold " + std::to_string(params) + " parameters, expected " + std::to_string(m.params));
    json::Value config;
    std::string err;
    if (!json::try_parse(slurp(out / "config.json"), config, err, json::ParseOptions{256, true}) ||
        config.int_at("num_hidden_layers") != 126)
      row.fail("config.json fetched is not the model's");
  };
  const std::vector<std::string> curl_common = {"-sS", "-f", "-L", "--noproxy", "*"};
  auto curl_cmd = [&](std::vector<std::string> extra) {
    std::vector<std::string> c{"curl"};
    c.insert(c.end(), curl_common.begin(), curl_common.end());
    c.insert(c.end(), extra.begin(), extra.end());
    return c;
  };
  auto length_of = [](const fs::path& f) -> int64_t {
    std::string b = slurp(f);
    if (b.size() != 8)
      return -1;
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i)
      n = (n << 8) | static_cast<unsigned char>(b[i]);
    return static_cast<int64_t>(n);
  };
  const bool have_curl = run({"curl", "--version"}, env, "/dev/null", "/dev/null") == 0;

  // 3. curl, one process per request, one request after another.
  Row seq{"curl sequential (2 Range GETs/shard)"};
  for (int i = 0; have_curl && i < repeat && seq.ok; ++i) {
    hub.clear_requests();
    fs::path out = dir / ("seq" + std::to_string(i));
    fs::create_directories(out);
    std::vector<std::string> names;
    double t0 = now_s();
    bool ok = run(curl_cmd({"-o", (out / "config.json").string(), resolve + "config.json"}), env, "/dev/null", errlog) == 0 &&
              run(curl_cmd({"-o", (out / "index.json").string(), resolve + "model.safetensors.index.json"}), env,
                  "/dev/null", errlog) == 0 &&
              shard_list(out / "index.json", names);
    for (size_t s = 0; ok && s < names.size(); ++s) {
      fs::path len = out / (names[s] + ".len");
      ok = run(curl_cmd({"-r", "0-7", "-o", len.string(), resolve + names[s]}), env, "/dev/null", errlog) == 0;
      int64_t n = ok ? length_of(len) : -1;
      ok = ok && n > 0 &&
           run(curl_cmd({"-r", "8-" + std::to_string(8 + n - 1), "-o", (out / (names[s] + ".hdr")).string(),
                         resolve + names[s]}),
               env, "/dev/null", errlog) == 0;
    }
    double t = now_s() - t0;
    finish_run(seq, t);
    if (!ok)
      seq.fail("curl failed: " + slurp(errlog));
    else
      peer_check(seq, out, names);
  }

  // 4. curl --parallel (16 at once, as omed): config and index, then all lengths, then all headers.
  Row par{"curl --parallel (16, 3 invocations)"};
  for (int i = 0; have_curl && i < repeat && par.ok; ++i) {
    hub.clear_requests();
    fs::path out = dir / ("par" + std::to_string(i));
    fs::create_directories(out);
    std::vector<std::string> names;
    const std::vector<std::string> par_opts = {"-Z", "--parallel-max", "16"};
    double t0 = now_s();
    auto c1 = curl_cmd(par_opts);
    for (auto [file, remote] :
         {std::pair{"config.json", "config.json"}, std::pair{"index.json", "model.safetensors.index.json"}})
      c1.insert(c1.end(), {"-o", (out / file).string(), resolve + remote});
    bool ok = run(c1, env, "/dev/null", errlog) == 0 && shard_list(out / "index.json", names);
    if (ok) {
      auto c2 = curl_cmd(par_opts);
      c2.insert(c2.end(), {"-r", "0-7"});
      for (auto& n : names)
        c2.insert(c2.end(), {"-o", (out / (n + ".len")).string(), resolve + n});
      ok = run(c2, env, "/dev/null", errlog) == 0;
    }
    if (ok) {
      // Each header has its own range: one --next section per shard, still one parallel run.
      auto c3 = curl_cmd(par_opts);
      for (size_t s = 0; ok && s < names.size(); ++s) {
        int64_t n = length_of(out / (names[s] + ".len"));
        ok = n > 0;
        if (s > 0) {
          c3.push_back("--next");
          c3.insert(c3.end(), curl_common.begin(), curl_common.end());
        }
        c3.insert(c3.end(), {"-r", "8-" + std::to_string(8 + n - 1), "-o", (out / (names[s] + ".hdr")).string(),
                             resolve + names[s]});
      }
      ok = ok && run(c3, env, "/dev/null", errlog) == 0;
    }
    double t = now_s() - t0;
    finish_run(par, t);
    if (!ok)
      par.fail("curl --parallel failed: " + slurp(errlog));
    else
      peer_check(par, out, names);
  }
  if (!have_curl) {
    seq.fail("curl not available");
    par.fail("curl not available");
  }

  std::printf("\n%-40s %9s %9s %9s %12s %14s %s\n", "tool", "best s", "median s", "requests", "bytes",
              "past headers", "ok");
  for (const Row* r : {&bin, &inproc, &seq, &par})
    std::printf("%-40s %9.3f %9.3f %9lu %12s %14s %s\n", r->tool.c_str(), r->best(), r->median(),
                static_cast<unsigned long>(r->last.requests), human_bytes(r->last.bytes).c_str(),
                human_bytes(r->last.past_header).c_str(), r->ok ? "yes" : ("NO: " + r->error).c_str());
  std::printf("\n%d runs each; requests and bytes are the fixture's count for one run (Hub and CDN, 302s "
              "included); model files total %s\n",
              repeat, human_bytes(m.file_bytes).c_str());
  if (inproc.ok)
    std::printf("omed's own count: %lu requests after the listing, %s\n", static_cast<unsigned long>(stats.requests),
                human_bytes(stats.bytes).c_str());
  std::printf("target: omed under %.1f s on loopback: %s\n", kTargetSeconds,
              bin.ok && bin.best() < kTargetSeconds ? "met" : "NOT met");
  std::printf("\nBENCH remote_parse shards=%d omed_s=%.3f curl_seq_s=%.3f curl_parallel_s=%.3f requests=%lu bytes=%lu "
              "params=%lu omed_median_s=%.3f omed_inproc_s=%.3f curl_seq_requests=%lu curl_seq_bytes=%lu "
              "curl_parallel_requests=%lu past_header_bytes=%lu model_bytes=%lu\n",
              kShards, bin.best(), seq.best(), par.best(), static_cast<unsigned long>(bin.last.requests),
              static_cast<unsigned long>(bin.last.bytes), static_cast<unsigned long>(m.params), bin.median(),
              inproc.best(), static_cast<unsigned long>(seq.last.requests), static_cast<unsigned long>(seq.last.bytes),
              static_cast<unsigned long>(par.last.requests), static_cast<unsigned long>(bin.last.past_header),
              static_cast<unsigned long>(m.file_bytes));

  std::error_code ec;
  fs::remove_all(dir, ec);
  // The facts and the traffic decide; the peers failing (say, no curl) does not make omed wrong.
  bool omed_ok = bin.ok && inproc.ok;
  if (!seq.ok || !par.ok)
    std::printf("peer measurement incomplete: %s\n", (!seq.ok ? seq.error : par.error).c_str());
  return omed_ok ? 0 : 1;
}
