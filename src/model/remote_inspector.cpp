// Remote parsing: a ByteSource over HTTP Range requests lets the weight parsers read headers in
// place, fetching safetensors headers exactly and in parallel, never the weights behind them.
#include "omed/model/remote_inspector.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "http_get.hpp"
#include "omed/common/json.hpp"
#include "omed/common/strings.hpp"
#include "omed/model/byte_source.hpp"
#include "omed/model/config_parser.hpp"
#include "omed/model/parameter_count.hpp"
#include "omed/model/weight_formats.hpp"

namespace omed::model {

namespace {

// safetensors reads are exact (the 8-byte length, then the header): a read-ahead would save a
// round trip per shard but fetch weight bytes, tens of MiB across 160 shards. Formats parsed by
// many small reads (GGUF metadata) get a window, or they would cost a request per field.
constexpr uint64_t kReadAhead = 256 * 1024;
constexpr size_t kMaxConfigBytes = 16u << 20;

struct Meter {
  std::atomic<uint64_t> requests{0}, bytes{0};
};

// Range reads of one remote file through a one-window cache.
class HttpRangeSource final : public ByteSource {
public:
  HttpRangeSource(const RemoteFile& f, const RequestAuthorizer* auth, Meter& meter)
    : file_(f), auth_(auth), meter_(meter), read_ahead_(str::ends_with(f.path, ".safetensors") ? 0 : kReadAhead) {}
  uint64_t size() const override { return file_.size.value_or(0); }
  std::string name() const override { return file_.path; }
  [[nodiscard]] std::string read(uint64_t offset, uint64_t len, std::string& out) override {
    if (auto err = check_read_range(offset, len, size(), file_.path); !err.empty())
      return err;
    if (!cached(offset, len))
      if (auto err = fetch(offset, std::min(size() - offset, std::max(len, read_ahead_))); !err.empty())
        return err;
    out.assign(cache_, offset - cache_off_, len);
    return {};
  }

  // Fetches [offset, offset+len) into the window later reads are served from.
  [[nodiscard]] std::string fetch(uint64_t offset, uint64_t len) {
    if (auto err = check_read_range(offset, len, size(), file_.path); !err.empty())
      return err;
    if (cached(offset, len))
      return {};
    net::Request rq;
    rq.url = file_.url;
    rq.auth = auth_;
    rq.headers.push_back({"Range", "bytes=" + std::to_string(offset) + "-" + std::to_string(offset + len - 1)});
    rq.max_body = static_cast<size_t>(len) + 1;
    std::optional<std::chrono::seconds> ra;
    net::Response r = net::perform_with_retry(rq, net::RetryPolicy{}, ra);
    meter_.requests++;
    meter_.bytes += r.body.size();
    if (!r.transport_ok)
      return file_.path + ": " + r.transport_error;
    if (r.status != 206)
      return file_.path + ": range request answered " + std::to_string(r.status) +
             (r.status == 200 ? " (the server ignores Range; remote parsing needs it)" : "");
    if (r.body.size() < len)
      return file_.path + ": short range response (" + std::to_string(r.body.size()) + " of " +
             std::to_string(len) + " bytes)";
    cache_ = std::move(r.body);
    cache_.resize(len);
    cache_off_ = offset;
    return {};
  }

private:
  bool cached(uint64_t offset, uint64_t len) const {
    return offset >= cache_off_ && offset + len <= cache_off_ + cache_.size();
  }

  RemoteFile file_;
  const RequestAuthorizer* auth_;
  Meter& meter_;
  uint64_t read_ahead_;
  std::string cache_;
  uint64_t cache_off_ = 0;
};

std::string fetch_small(const RemoteFile& f, const RequestAuthorizer* auth, Meter& meter, std::string& body) {
  if (f.size && *f.size > kMaxConfigBytes)
    return f.path + " is too large for a config (" + std::to_string(*f.size) + " bytes)";
  net::Request rq;
  rq.url = f.url;
  rq.auth = auth;
  rq.max_body = kMaxConfigBytes;
  std::optional<std::chrono::seconds> ra;
  net::Response r = net::perform_with_retry(rq, net::RetryPolicy{}, ra);
  meter.requests++;
  meter.bytes += r.body.size();
  if (!r.transport_ok)
    return f.path + ": " + r.transport_error;
  if (r.status != 200)
    return f.path + ": GET answered " + std::to_string(r.status);
  body = std::move(r.body);
  return {};
}

const RemoteFile* find(const std::vector<RemoteFile>& files, const std::string& path) {
  for (const auto& f : files)
    if (f.path == path)
      return &f;
  return nullptr;
}

// The config's directory decides where weights are looked for, as for a local directory.
const RemoteFile* find_config(const std::vector<RemoteFile>& files) {
  for (const char* p : {"model_index.json", "config.json", "safetensors/config.json", "pytorch_model/config.json",
                        "model/config.json"})
    if (auto* f = find(files, p))
      return f;
  return nullptr;
}

}  // namespace

std::string inspect_remote_model(const StorageUri& uri, const SourceConfig& cfg, ModelFacts& out,
                                 RemoteInspectStats* stats, int parallel) {
  ListResult listing = list_model_files(uri, cfg);
  if (!listing.ok)
    return listing.error;
  const auto& files = listing.listing.files;
  const RequestAuthorizer* auth = listing.authorizer.get();
  Meter meter;

  std::string dir;  // prefix of the config's directory ("" or "safetensors/")
  if (const RemoteFile* config = find_config(files)) {
    auto slash = config->path.rfind('/');
    dir = slash == std::string::npos ? "" : config->path.substr(0, slash + 1);
    std::string text, err;
    if (auto e = fetch_small(*config, auth, meter, text); !e.empty())
      return e;
    bool diffusers = str::ends_with(config->path, "model_index.json");
    if (!(diffusers ? parse_diffusers_index(text, out, err) : parse_model_config(text, out, err)))
      return config->path + ": " + err;
    if (auto* st = find(files, dir + "config_sentence_transformers.json")) {
      std::string st_text;
      if (fetch_small(*st, auth, meter, st_text).empty() && !parse_sentence_transformers_config(st_text, out, err))
        out.notes.push_back("config_sentence_transformers.json ignored: " + err);
    }
    if (out.parameter_source == CountSource::None) {
      json::Value doc;
      json::ParseOptions po;
      po.allow_nan_inf = true;
      if (json::try_parse(text, doc, err, po)) {
        auto est = count_parameters(doc);
        if (est.source != CountSource::None) {
          out.parameter_count = est.count;
          out.parameter_source = est.source;
          if (!est.note.empty())
            out.notes.push_back(est.note);
        }
      }
    }
  }

  // Weights: the safetensors index when present, else every safetensors file beside the config,
  // else a single GGUF file.
  std::vector<const RemoteFile*> shards;
  std::string index_text;
  if (auto* idx = find(files, dir + "model.safetensors.index.json")) {
    if (auto e = fetch_small(*idx, auth, meter, index_text); !e.empty())
      return e;
  } else {
    for (const auto& f : files)
      if (f.path.rfind(dir, 0) == 0 && f.path.find('/', dir.size()) == std::string::npos &&
          (str::ends_with(f.path, ".safetensors") || str::ends_with(f.path, ".gguf")))
        shards.push_back(&f);
  }
  WeightSummary ws;
  if (!index_text.empty()) {
    // Headers of all shards at once: the index parser asks for them one by one, so fetch them
    // ahead in parallel into memory sources it then reads from.
    std::map<std::string, std::unique_ptr<ByteSource>> prefetched;
    std::mutex mu;
    json::Value index;
    std::string err;
    if (!json::try_parse(index_text, index, err))
      return dir + "model.safetensors.index.json: " + err;
    std::vector<const RemoteFile*> wanted;
    if (const json::Value* wm = index.get("weight_map"); wm && wm->is_object()) {
      std::set<std::string> seen;
      for (const auto& m : wm->as_object())
        if (m.value.is_string() && seen.insert(m.value.as_string()).second)
          if (auto* f = find(files, dir + m.value.as_string()))
            wanted.push_back(f);
    }
    std::atomic<size_t> next{0};
    auto worker = [&] {
      for (size_t i; (i = next++) < wanted.size();) {
        auto src = std::make_unique<HttpRangeSource>(*wanted[i], auth, meter);
        std::string head;
        // The length, then exactly the header into the window the parser will read it from.
        if (src->size() >= 8 && src->read(0, 8, head).empty()) {
          uint64_t n = 0;
          for (int b = 7; b >= 0; --b)
            n = (n << 8) | static_cast<unsigned char>(head[static_cast<size_t>(b)]);
          // A hostile length is left to the parser, which rejects it with the reason.
          if (n <= WeightLimits{}.max_header_bytes && n <= src->size() - 8)
            (void)src->fetch(0, 8 + n);
          std::lock_guard<std::mutex> lk(mu);
          prefetched[wanted[i]->path] = std::move(src);
        }
      }
    };
    std::vector<std::thread> pool;
    for (int t = 0; t < std::max(1, std::min<int>(parallel, static_cast<int>(wanted.size()))); ++t)
      pool.emplace_back(worker);
    for (auto& t : pool)
      t.join();
    auto open = [&](const std::string& rel, std::unique_ptr<ByteSource>& src) -> std::string {
      std::lock_guard<std::mutex> lk(mu);
      auto it = prefetched.find(dir + rel);
      if (it != prefetched.end() && it->second) {
        src = std::move(it->second);
        return {};
      }
      const RemoteFile* f = find(files, dir + rel);
      if (!f)
        return "shard " + rel + " named by the index is not in the repository";
      src = std::make_unique<HttpRangeSource>(*f, auth, meter);
      return {};
    };
    if (auto e = parse_safetensors_index(index_text, open, ws); !e.empty())
      return e;
    if (stats) {
      stats->weight_files = wanted.size();
      for (auto* f : wanted)
        stats->weight_bytes += f->size.value_or(0);
    }
  } else if (!shards.empty()) {
    std::vector<std::unique_ptr<HttpRangeSource>> owned;
    std::vector<ByteSource*> srcs;
    for (auto* f : shards) {
      owned.push_back(std::make_unique<HttpRangeSource>(*f, auth, meter));
      srcs.push_back(owned.back().get());
    }
    std::string e = shards.size() == 1 ? parse_weights(*srcs[0], ws) : parse_safetensors_shards(srcs, ws);
    if (!e.empty())
      return e;
    if (stats) {
      stats->weight_files = shards.size();
      for (auto* f : shards)
        stats->weight_bytes += f->size.value_or(0);
    }
  }
  if (ws.files > 0)
    apply_weight_summary(ws, out);
  if (out.model_type.empty() && out.parameter_source == CountSource::None)
    return "no config.json, model_index.json or readable weights in the listing of " + uri.raw;
  if (stats) {
    stats->requests = meter.requests;
    stats->bytes = meter.bytes;
  }
  return {};
}

}  // namespace omed::model
