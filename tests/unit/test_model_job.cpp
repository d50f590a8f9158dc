// One model on one node (run_model_job) against the loopback Hub: what downloadPolicy changes,
// the AlwaysDownload / ReuseIfExists contract, and the completion record a finished copy keeps.
#include <catch2/catch.hpp>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "../support/hub_fixture.hpp"
#include "../support/test_env.hpp"
#include "omed/agent/completion_record.hpp"
#include "omed/agent/download_metrics.hpp"
#include "omed/agent/model_job.hpp"
#include "omed/common/json.hpp"
#include "omed/metrics/registry.hpp"

using namespace omed;
using omed::testing::HubFixture;
using omed::testing::TempDir;
using omed::testing::have_shared;
namespace fs = std::filesystem;

namespace {

const char* kRepo = "omed-test/tiny-random-phi";
const char* kShard = "model-1-of-2.safetensors";

json::Value model_object(const std::string& name, const std::string& uri, const std::string& policy = "") {
  json::Object storage{{"storageUri", uri}};
  if (!policy.empty())
    storage.set("downloadPolicy", policy);
  return json::Value(json::Object{
    {"apiVersion", "ome.io/v1beta1"},
    {"kind", "ClusterBaseModel"},
    {"metadata", json::Object{{"name", name}}},
    {"spec", json::Object{{"storage", std::move(storage)}}}});
}

agent::AgentSettings settings(const HubFixture& hub, const fs::path& root) {
  agent::AgentSettings s;
  s.node_name = "node-a";
  s.models_root = root;
  s.blob_dir = root / ".omed-blobs";
  s.hf_endpoint = hub.endpoint();
  return s;
}

agent::JobResult run(const json::Value& m, const agent::AgentSettings& s) {
  std::atomic<bool> cancel{false};
  return agent::run_model_job(m, s, cancel, nullptr);
}

ino_t inode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_ino;
}

int64_t parameters(const agent::JobResult& r) {
  const json::Value* v = r.config.at_path("parameterCount");
  return v && v->is_int() ? v->as_int() : -1;
}

}  // namespace

TEST_CASE("AlwaysDownload fetches every byte from the source; ReuseIfExists links what the node has",
          "[model-job]") {
  if (!have_shared("testdata/tiny-random-phi"))
    return;
  HubFixture hub;
  std::string sha = hub.add_repo_from_dir(kRepo, omed::testing::shared_dir() / "testdata" / "tiny-random-phi");
  hub.add_tag(kRepo, "v1", sha);
  hub.add_tag(kRepo, "v2", sha);
  TempDir root;
  auto s = settings(hub, root.path());

  // The default policy (OME's: AlwaysDownload) on an empty node.
  auto first = model_object("phi", std::string("hf://") + kRepo);
  auto a = run(first, s);
  INFO(a.message);
  REQUIRE(a.state == agent::NodeModelState::Ready);
  CHECK(parameters(a) == 46282);
  const fs::path dir_a = agent::model_dir(first, s);
  CHECK(hub.count_requests("cdn", "") > 0);

  // The same commit under another name, ReuseIfExists: not one byte from the CDN, the very
  // same verified inodes, the same facts.
  hub.clear_requests();
  auto reuse = model_object("phi-v1", std::string("hf://") + kRepo + "@v1", "ReuseIfExists");
  auto b = run(reuse, s);
  INFO(b.message);
  REQUIRE(b.state == agent::NodeModelState::Ready);
  const fs::path dir_b = agent::model_dir(reuse, s);
  REQUIRE(dir_b != dir_a);
  CHECK(hub.count_requests("cdn", "") == 0);
  CHECK(inode_of(dir_b / kShard) == inode_of(dir_a / kShard));
  CHECK(parameters(b) == 46282);

  // AlwaysDownload of the same content again: fetched from the source into its own files.
  hub.clear_requests();
  auto always = model_object("phi-v2", std::string("hf://") + kRepo + "@v2", "AlwaysDownload");
  auto c = run(always, s);
  INFO(c.message);
  REQUIRE(c.state == agent::NodeModelState::Ready);
  const fs::path dir_c = agent::model_dir(always, s);
  CHECK(hub.count_requests("cdn", "") > 0);
  CHECK(inode_of(dir_c / kShard) != inode_of(dir_a / kShard));
  CHECK(omed::testing::read_file(dir_c / kShard) == omed::testing::read_file(dir_a / kShard));
  CHECK(parameters(c) == 46282);

  // Deleting one model's directory leaves the others whole (hard links, not symlinks).
  fs::remove_all(dir_a);
  CHECK(fs::file_size(dir_b / kShard) == fs::file_size(dir_c / kShard));
}

TEST_CASE("ReuseIfExists keeps a verified copy Ready when the source cannot be listed; AlwaysDownload fails",
          "[model-job]") {
  if (!have_shared("testdata/tiny-random-phi"))
    return;
  HubFixture hub;
  std::string sha = hub.add_repo_from_dir(kRepo, omed::testing::shared_dir() / "testdata" / "tiny-random-phi");
  TempDir root;
  auto s = settings(hub, root.path());
  const std::string uri = std::string("hf://") + kRepo;
  auto m = model_object("phi", uri, "ReuseIfExists");
  auto first = run(m, s);
  INFO(first.message);
  REQUIRE(first.state == agent::NodeModelState::Ready);
  const fs::path dir = agent::model_dir(m, s);

  // The record names the listing it satisfied: commit, files, sizes, digests; no URL.
  auto rec = agent::read_completion_record(dir, uri);
  REQUIRE(rec);
  CHECK(rec->revision == sha);
  CHECK(rec->listing.files.size() >= 3);
  CHECK(agent::check_recorded_files(dir, *rec).empty());
  CHECK(omed::testing::read_file(dir / agent::kCompletionRecordName).find("http") == std::string::npos);
  CHECK_FALSE(agent::read_completion_record(dir, uri + "@other"));

  // Access revoked (as an expired token looks): the listing fails, the copy stays in use.
  hub.set_private(kRepo, {"hf_not_ours"});
  auto again = run(m, s);
  INFO(again.message);
  REQUIRE(again.state == agent::NodeModelState::Ready);
  CHECK_THAT(again.message, Catch::Contains("reusing the copy completed at " + rec->completed_at));
  CHECK_THAT(again.message, Catch::Contains("the source cannot be listed"));
  CHECK(parameters(again) == 46282);

  auto strict = run(model_object("phi", uri, "AlwaysDownload"), s);
  CHECK(strict.state == agent::NodeModelState::Failed);
  CHECK(strict.retryable);

  // A copy that lost a file is not reused: the listing error comes through.
  fs::remove(dir / kShard);
  auto broken = run(m, s);
  CHECK(broken.state == agent::NodeModelState::Failed);
  CHECK(broken.retryable);
  CHECK_THAT(agent::check_recorded_files(dir, *rec), Catch::Contains(std::string(kShard) + " is missing"));
}

TEST_CASE("a completion record with a hostile path or the wrong shape is ignored", "[model-job]") {
  TempDir dir;
  auto write = [&](const std::string& text) { omed::testing::write_file(dir.path() / agent::kCompletionRecordName, text); };
  const std::string uri = "hf://org/repo";
  write(R"({"storageUri":"hf://org/repo","revision":"r","completedAt":"t","files":[{"path":"../../etc/passwd","size":1}]})");
  CHECK_FALSE(agent::read_completion_record(dir.path(), uri));
  write(R"({"storageUri":"hf://org/repo","files":[{"path":"/etc/passwd"}]})");
  CHECK_FALSE(agent::read_completion_record(dir.path(), uri));
  write(R"({"storageUri":"hf://org/repo","files":"config.json"})");
  CHECK_FALSE(agent::read_completion_record(dir.path(), uri));
  write("not json");
  CHECK_FALSE(agent::read_completion_record(dir.path(), uri));
  write(R"({"storageUri":"hf://org/repo","revision":"r","completedAt":"t","files":[{"path":"a/config.json","size":2}]})");
  auto rec = agent::read_completion_record(dir.path(), uri);
  REQUIRE(rec);
  CHECK(agent::check_recorded_files(dir.path(), *rec) == "a/config.json is missing");
  omed::testing::write_file(dir.path() / "a" / "config.json", "{}");
  CHECK(agent::check_recorded_files(dir.path(), *rec).empty());
  // A symlink where a file was recorded could point anywhere: not a verified copy.
  fs::remove(dir.path() / "a" / "config.json");
  fs::create_symlink("/etc/hostname", dir.path() / "a" / "config.json");
  CHECK(agent::check_recorded_files(dir.path(), *rec) == "a/config.json is not a regular file");
}

namespace {
// The value of the series `name{labels}` in Prometheus text, or -1.
double sample(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos)
    return -1;
  return std::stod(text.substr(at + series.size() + 2));
}
}  // namespace

TEST_CASE("download totals and per-model progress reach the metrics registry", "[model-job]") {
  if (!have_shared("testdata/tiny-random-phi"))
    return;
  HubFixture hub;
  std::string sha = hub.add_repo_from_dir(kRepo, omed::testing::shared_dir() / "testdata" / "tiny-random-phi");
  hub.add_tag(kRepo, "v1", sha);
  TempDir root;
  metrics::Registry reg;
  agent::DownloadMetrics dm(&reg, "node-a");
  auto s = settings(hub, root.path());
  s.counters = dm.counters();

  uint64_t model_bytes = 0;
  for (auto& e : fs::directory_iterator(omed::testing::shared_dir() / "testdata" / "tiny-random-phi"))
    if (e.is_regular_file())
      model_bytes += e.file_size();
  std::atomic<bool> cancel{false};
  agent::Progress last;
  auto r = agent::run_model_job(model_object("phi", std::string("hf://") + kRepo), s, cancel,
                                [&](const agent::Progress& p) {
                                  last = p;
                                  dm.progress("phi", p);
                                });
  REQUIRE(r.state == agent::NodeModelState::Ready);
  dm.finished("phi", true);
  std::string text = reg.expose();
  INFO(text);
  // The two shards of tiny-random-phi are byte-identical: one is fetched, the other linked to it.
  const double shard = static_cast<double>(fs::file_size(omed::testing::shared_dir() / "testdata" / "tiny-random-phi" / kShard));
  const double fetched = static_cast<double>(model_bytes) - shard;
  CHECK(sample(text, R"(omed_agent_download_bytes_total{node="node-a"})") == fetched);
  CHECK(sample(text, R"(omed_agent_download_reused_bytes_total{node="node-a"})") == shard);
  CHECK(sample(text, R"(omed_agent_model_size_bytes{node="node-a",model="phi"})") == static_cast<double>(model_bytes));
  CHECK(sample(text, R"(omed_agent_model_downloaded_bytes{node="node-a",model="phi"})") ==
        static_cast<double>(model_bytes));
  CHECK(sample(text, R"(omed_agent_model_download_eta_seconds{node="node-a",model="phi"})") == 0);
  CHECK(last.total_bytes == model_bytes);

  // Reused content counts as reused, not fetched; a forgotten model's series go away.
  auto again = run(model_object("phi-v1", std::string("hf://") + kRepo + "@v1", "ReuseIfExists"), s);
  REQUIRE(again.state == agent::NodeModelState::Ready);
  dm.publish();
  dm.forget("phi");
  text = reg.expose();
  // Only the small files the Hub lists without a sha256 (config, tokenizer) are fetched again.
  CHECK(sample(text, R"(omed_agent_download_bytes_total{node="node-a"})") - fetched < 4096);
  CHECK(sample(text, R"(omed_agent_download_reused_bytes_total{node="node-a"})") >= 3 * shard);
  CHECK(text.find(R"(model="phi")") == std::string::npos);
}
