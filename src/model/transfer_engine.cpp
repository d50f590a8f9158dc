// TransferEngine::run: validate, lock, plan, check disk space, place what needs no download,
// run the network thread with its helper threads, then link duplicates.
#include "omed/model/transfer.hpp"

#include <curl/curl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>

#include "omed/model/transfer/content_store.hpp"
#include "omed/model/transfer/disk_space.hpp"
#include "omed/model/transfer/durable_io.hpp"
#include "omed/model/transfer/file_verifier.hpp"
#include "omed/model/transfer/partial_state.hpp"
#include "omed/model/transfer/progress_meter.hpp"
#include "omed/model/transfer/run_lock.hpp"
#include "transfer_checkpointer.hpp"
#include "transfer_fetcher.hpp"
#include "transfer_finisher.hpp"
#include "transfer_planner.hpp"
#include "transfer_syncer.hpp"

namespace omed::model {

namespace fs = std::filesystem;
using namespace transfer;

namespace {

constexpr const char* kPartialDir = ".omed-partial";

void init_curl_once() {
  // curl_global_init is not thread-safe on older libcurl; the first run does it.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Empty directories left under .omed-partial once everything is in place.
void remove_empty_dirs(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    return;
  std::vector<fs::path> dirs;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_directory(ec))
      dirs.push_back(it->path());
  std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
    return a.string().size() > b.string().size();
  });
  for (auto& d : dirs)
    ::rmdir(d.c_str());
  ::rmdir(root.c_str());
}

// The fast-state directory when it can be trusted: ours and writable by nobody else (a record
// planted there could make a resume skip bytes). Else empty.
fs::path usable_fast_dir(const fs::path& dir) {
  if (dir.empty())
    return {};
  std::error_code ec;
  if (fs::create_directories(dir, ec))
    fs::permissions(dir, fs::perms::owner_all, ec);
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() ||
      (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 || ::access(dir.c_str(), W_OK | X_OK) != 0)
    return {};
  // Records of downloads that were abandoned (their model directory deleted, say) would stay
  // until reboot; a live download rewrites its record every second, so a day-old one is dead.
  auto now = fs::file_time_type::clock::now();
  for (auto& e : fs::directory_iterator(dir, ec)) {
    auto t = e.last_write_time(ec);
    if (!ec && now - t > std::chrono::hours(24))
      fs::remove(e.path(), ec);
  }
  return dir;
}

// Temporary siblings of state files (write_file_atomically's "<name>.tmp<digits>") that a
// killed process left half-written. Only called under the run lock: no live writer owns them.
void remove_stale_temp_files(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    auto at = name.rfind(".tmp");
    if (at == std::string::npos || at + 4 == name.size() || !it->is_regular_file(ec))
      continue;
    if (std::all_of(name.begin() + static_cast<std::ptrdiff_t>(at + 4), name.end(),
                    [](char c) { return c >= '0' && c <= '9'; }))
      stale.push_back(it->path());
  }
  for (auto& p : stale)
    ::unlink(p.c_str());
}

}  // namespace

const char* file_action_name(FileAction a) {
  switch (a) {
    case FileAction::Fetched: return "fetched";
    case FileAction::Present: return "present";
    case FileAction::Linked: return "linked";
    case FileAction::Failed: return "failed";
    case FileAction::NotStarted: return "not-started";
  }
  return "unknown";
}

TransferEngine::TransferEngine(TransferOptions opts) : opts_(std::move(opts)) {
  opts_.max_connections = std::max(1, opts_.max_connections);
  opts_.max_per_host = std::clamp(opts_.max_per_host, 1, opts_.max_connections);
  opts_.parallel_files = std::max(1, opts_.parallel_files);
  opts_.max_attempts = std::max(1, opts_.max_attempts);
  opts_.min_range_bytes = std::max<uint64_t>(opts_.min_range_bytes, 256 * 1024);
  if (opts_.receive_buffer_bytes < 16 * 1024)
    opts_.receive_buffer_bytes = 16 * 1024;
}

fs::path TransferEngine::partial_path(const fs::path& dest_dir, const std::string& path) {
  return dest_dir / kPartialDir / (path + ".part");
}

fs::path TransferEngine::partial_state_path(const fs::path& dest_dir, const std::string& path) {
  return dest_dir / kPartialDir / (path + ".part.state");
}

TransferReport TransferEngine::run(const std::vector<RemoteFile>& files, const fs::path& dest_dir,
                                   const RequestAuthorizer* authorizer, const std::atomic<bool>* cancel,
                                   const ProgressCallback& progress) const {
  init_curl_once();
  const auto t0 = Clock::now();
  TransferReport rep;
  rep.files.resize(files.size());
  uint64_t total = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    rep.files[i].path = files[i].path;
    rep.files[i].size = files[i].size.value_or(0);
    rep.files[i].sha256 = lowercase(files[i].sha256);
    total += files[i].size.value_or(0);
  }
  ContentStore store(opts_.content_store_dir);
  ProgressMeter meter(opts_.progress_interval, progress, t0);
  meter.set_totals(total, files.size());

  auto finish = [&](std::string error) {
    for (auto& f : rep.files) {
      if (f.action == FileAction::Fetched)
        rep.bytes_reused += f.bytes_resumed;
      else if (f.action == FileAction::Present || f.action == FileAction::Linked)
        rep.bytes_reused += f.size;
      rep.bytes_fetched += f.bytes_fetched;
      if (error.empty() && (f.action == FileAction::Failed || f.action == FileAction::NotStarted))
        error = f.error.empty() ? "'" + f.path + "' was not transferred" : f.error;
    }
    rep.error = std::move(error);
    rep.ok = rep.error.empty();
    rep.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    meter.final_report();
    return rep;
  };
  auto place = [&](size_t i, FileAction action, bool verified) {
    rep.files[i].action = action;
    rep.files[i].verified = verified;
    meter.add_done(static_cast<int64_t>(rep.files[i].size));
    meter.file_done();
    if (opts_.counters) {
      opts_.counters->files_reused++;
      opts_.counters->bytes_reused += rep.files[i].size;
    }
  };

  // 1. Nothing is written for a listing with a hostile entry.
  if (auto err = validate_listing(files); !err.empty())
    return finish(err);

  // 2. Two agents (or a restarted one whose old process lingers) must not interleave writes,
  // and planning must see a directory nobody else is changing: lock first.
  std::vector<fs::path> created;  // directories this run made, deepest first
  for (fs::path p = fs::absolute(dest_dir); !p.empty() && !fs::exists(p); p = p.parent_path()) {
    created.push_back(p);
    if (p == p.parent_path())
      break;
  }
  std::error_code ec;
  fs::create_directories(dest_dir, ec);
  if (ec)
    return finish("creating " + dest_dir.string() + ": " + ec.message());
  RunLock lock;
  if (auto err = lock.acquire(dest_dir / kPartialDir / "lock"); !err.empty())
    return finish(err);
  remove_stale_temp_files(dest_dir / kPartialDir);
  // A run that stops before downloading leaves the filesystem as it found it.
  auto give_up = [&](std::string err) {
    lock.release(true);
    remove_empty_dirs(dest_dir / kPartialDir);
    for (auto& d : created)
      ::rmdir(d.c_str());
    return finish(std::move(err));
  };

  // 3. Planning reads only: present files, the content store, partial downloads.
  fs::path fast_dir = usable_fast_dir(opts_.fast_state_dir);
  Plan plan = make_plan(files, dest_dir, store, opts_.link_from_store, fast_dir, cancel);
  if (!plan.error.empty())
    return give_up(plan.error);
  if (auto err = check_disk_space(dest_dir, plan.bytes_to_fetch, opts_.disk_margin_bytes); !err.empty())
    return give_up(err);

  // 4. What needs no network: present files and store links.
  for (size_t i = 0; i < files.size(); ++i) {
    auto& pf = plan.files[i];
    if (pf.kind == PlannedFile::Kind::Present) {
      place(i, FileAction::Present, pf.verified);
      if (!pf.sha256.empty() && pf.verified)
        store.adopt(dest_dir / files[i].path, pf.sha256);
    } else if (pf.kind == PlannedFile::Kind::LinkStore) {
      auto err = store.link_out(pf.sha256, dest_dir / files[i].path, opts_.durable);
      if (err.empty()) {
        place(i, FileAction::Linked, true);
      } else {
        pf.kind = PlannedFile::Kind::Fetch;  // e.g. the store is on another filesystem
        pf.missing = files[i].size.value_or(0);
      }
    }
  }

  // 5. Downloads.
  std::vector<std::shared_ptr<FileJob>> jobs;
  for (size_t i = 0; i < files.size(); ++i) {
    auto& pf = plan.files[i];
    if (pf.kind != PlannedFile::Kind::Fetch)
      continue;
    auto job = std::make_shared<FileJob>();
    job->index = i;
    job->remote = files[i];
    job->remote.sha256 = lowercase(job->remote.sha256);
    job->remote.md5 = lowercase(job->remote.md5);
    job->final_path = dest_dir / files[i].path;
    job->part_path = partial_path(dest_dir, files[i].path);
    job->state_path = partial_state_path(dest_dir, files[i].path);
    job->origin = *url_origin(files[i].url);  // validated by the planner
    job->need_digest = !job->remote.sha256.empty() || !job->remote.md5.empty();
    job->persist = files[i].size.has_value();
    job->size = files[i].size;
    if (!fast_dir.empty())
      job->fast_state_path = fast_state_path(fast_dir, job->state_path);
    if (pf.resume) {
      job->resume = true;
      job->done = pf.resume->usable;
      job->durable = pf.resume->durable;
      job->server_etag = pf.resume->server_etag;
    }
    jobs.push_back(std::move(job));
  }
  std::string fetch_error;
  if (!jobs.empty()) {
    SyncLedger ledger;
    EventQueue events;
    Checkpointer checkpointer(opts_, ledger);
    Syncer syncer(opts_, events);
    Finisher finisher(opts_, events, store);
    checkpointer.start();
    if (opts_.durable)
      syncer.start();
    finisher.start();
    {
      Fetcher fetcher({opts_, authorizer, cancel, meter, ledger, events, checkpointer,
                       opts_.durable ? &syncer : nullptr, finisher});
      fetch_error = fetcher.run(jobs);
      rep.retries = fetcher.retries();
    }
    finisher.stop();
    syncer.stop();
    checkpointer.stop();
    for (auto& job : jobs) {
      auto& out = rep.files[job->index];
      out.bytes_fetched = job->bytes_fetched;
      out.bytes_resumed = job->bytes_resumed;
      if (job->terminal && !job->failed) {
        out.action = FileAction::Fetched;
        out.verified = job->need_digest;
        out.size = job->size.value_or(0);
        if (out.sha256.empty())
          out.sha256 = job->final_digests.sha256;
      } else if (job->failed) {
        out.action = FileAction::Failed;
        out.error = job->last_error;
      } else {
        out.error = fetch_error.empty() ? "not transferred" : fetch_error;
      }
    }
  }

  // 6. Duplicates within the listing, from their now verified first copy.
  for (size_t i = 0; i < files.size(); ++i) {
    auto& pf = plan.files[i];
    if (pf.kind != PlannedFile::Kind::LinkDuplicate)
      continue;
    auto& primary = rep.files[pf.primary];
    if (primary.action == FileAction::Failed || primary.action == FileAction::NotStarted) {
      rep.files[i].error = "not transferred: its identical copy '" + primary.path + "' failed";
      continue;
    }
    auto err = link_replacing(dest_dir / files[pf.primary].path, dest_dir / files[i].path, opts_.durable);
    if (!err.empty()) {
      rep.files[i].action = FileAction::Failed;
      rep.files[i].error = err;
      if (fetch_error.empty())
        fetch_error = err;
      continue;
    }
    place(i, FileAction::Linked, primary.verified);
  }

  // The lock file goes when nothing else is left in .omed-partial.
  bool leftovers = false;
  for (auto& e : fs::recursive_directory_iterator(dest_dir / kPartialDir, ec))
    if (!e.is_directory(ec) && e.path().filename() != "lock")
      leftovers = true;
  lock.release(!leftovers);
  remove_empty_dirs(dest_dir / kPartialDir);
  return finish(fetch_error);
}

}  // namespace omed::model
