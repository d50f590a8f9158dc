// Streaming verification and the final, crash-safe placement of downloaded files: hash,
// compare, fdatasync, rename into place, fsync the directory, add to the content store.
#include "transfer_finisher.hpp"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "omed/log/logger.hpp"
#include "omed/model/transfer/durable_io.hpp"
#include "transfer_checkpointer.hpp"

// Hashing follows the contiguous prefix of each .part file (read back while still in the page
// cache), so a ranged download is verified almost as soon as its last byte arrives.
namespace omed::model::transfer {

namespace fs = std::filesystem;

namespace {
constexpr size_t kReadBytes = 4u << 20;
// Per job and pass, so one large file does not hold up the finalization of small ones.
constexpr uint64_t kPassBudget = 64ull << 20;
}  // namespace

Finisher::Finisher(const TransferOptions& opts, EventQueue& events, const ContentStore& store)
  : opts_(opts), events_(events), store_(store) {}

Finisher::~Finisher() { stop(); }

void Finisher::start() {
  buf_.resize(kReadBytes);
  thread_ = std::thread([this] {
    // Hashing can always catch up later; receiving cannot (bytes pile up in socket buffers and
    // are lost to a crash). On a busy CPU the network thread goes first.
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 5);
    loop();
  });
}

void Finisher::stop() {
  stop_ = true;
  {
    std::lock_guard<std::mutex> lk(mu_);
    kicked_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
}

void Finisher::add(const std::shared_ptr<FileJob>& job) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& j : jobs_)
      if (j == job)
        return;
    jobs_.push_back(job);
  }
  kick();
}

void Finisher::kick() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    kicked_ = true;
  }
  cv_.notify_one();
}

void Finisher::loop() {
  while (!stop_) {
    std::vector<std::shared_ptr<FileJob>> jobs;
    {
      std::lock_guard<std::mutex> lk(mu_);
      jobs = jobs_;
    }
    bool progressed = false;
    std::vector<std::shared_ptr<FileJob>> finished;
    for (auto& j : jobs) {
      if (stop_)
        return;
      if (work_on(j, progressed))
        finished.push_back(j);
    }
    std::unique_lock<std::mutex> lk(mu_);
    std::erase_if(jobs_, [&](const std::shared_ptr<FileJob>& j) {
      for (auto& f : finished)
        if (f == j)
          return true;
      return false;
    });
    if (!progressed) {
      // Polling at a short interval is cheap and keeps the network thread free of notifies on
      // every write; completion events kick us at once.
      cv_.wait_for(lk, std::chrono::milliseconds(20), [&] { return kicked_ || stop_.load(); });
      kicked_ = false;
    }
  }
}

bool Finisher::work_on(const std::shared_ptr<FileJob>& ref, bool& progressed) {
  FileJob& job = *ref;
  if (job.abandoned.load())
    return true;
  {
    std::lock_guard<std::mutex> sl(job.state_mu);
    if (job.retired)
      return true;
  }
  if (job.need_digest) {
    uint64_t gen = 0, prefix = 0;
    std::shared_ptr<PartFile> part;
    {
      std::lock_guard<std::mutex> lk(job.mu);
      gen = job.generation;
      prefix = job.done.prefix_end();
      part = job.part;
    }
    if (!part)
      return false;
    if (gen != job.digest_generation || !job.digest) {
      if (!job.digest)
        job.digest.emplace(!job.remote.sha256.empty(), !job.remote.md5.empty());
      else
        job.digest->reset();
      job.hashed = 0;
      job.digest_generation = gen;
    }
    uint64_t budget = kPassBudget;
    while (job.hashed < prefix && budget > 0 && !stop_) {
      size_t want = static_cast<size_t>(std::min<uint64_t>({kReadBytes, prefix - job.hashed, budget}));
      ssize_t n = ::pread(part->fd, buf_.data(), want, static_cast<off_t>(job.hashed));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0) {
        events_.push({JobEvent::Kind::IoFailed, ref,
                      "reading back " + job.part_path.string() + ": " +
                          (n < 0 ? describe_errno(errno) : std::string("unexpected end of file")),
                      {}});
        job.abandoned = true;
        return true;
      }
      job.digest->update(buf_.data(), static_cast<size_t>(n));
      job.hashed += static_cast<uint64_t>(n);
      budget -= static_cast<uint64_t>(n);
      progressed = true;
    }
  }
  if (!job.network_done.load(std::memory_order_acquire))
    return false;
  if (job.need_digest) {
    std::lock_guard<std::mutex> lk(job.mu);
    // The network thread only sets network_done once `done` covers the whole file.
    if (job.generation != job.digest_generation || job.hashed < job.done.prefix_end() ||
        job.hashed < job.size_for_finisher)
      return false;
  }
  finalize(ref);
  progressed = true;
  return true;
}

void Finisher::finalize(const std::shared_ptr<FileJob>& ref) {
  FileJob& job = *ref;
  std::lock_guard<std::mutex> sl(job.state_mu);
  if (job.retired)
    return;
  job.retired = true;
  std::shared_ptr<PartFile> part;
  {
    std::lock_guard<std::mutex> lk(job.mu);
    part = std::move(job.part);
  }
  auto fail = [&](JobEvent::Kind kind, std::string msg, bool discard, Digests d = {}) {
    part.reset();
    if (discard) {
      ::unlink(job.part_path.c_str());
      remove_states(job);
    }
    events_.push({kind, ref, std::move(msg), std::move(d)});
  };
  if (!part)
    return fail(JobEvent::Kind::IoFailed, "internal error: no open file for '" + job.remote.path + "'", false);

  // Size first: a digest check is meaningless on a file of the wrong length.
  uint64_t size = job.size_for_finisher;
  struct stat st {};
  if (::fstat(part->fd, &st) != 0)
    return fail(JobEvent::Kind::IoFailed, "checking " + job.part_path.string() + ": " + describe_errno(errno), false);
  if (static_cast<uint64_t>(st.st_size) != size && ::ftruncate(part->fd, static_cast<off_t>(size)) != 0)
    return fail(JobEvent::Kind::IoFailed, "resizing " + job.part_path.string() + ": " + describe_errno(errno), false);

  Digests actual;
  if (job.need_digest) {
    actual = job.digest->finish();
    job.digest_generation = UINT64_MAX;  // finish() consumed it
    auto mismatch = compare_digests(job.remote.path, {job.remote.sha256, job.remote.md5}, actual);
    if (!mismatch.empty())
      return fail(JobEvent::Kind::VerifyFailed, mismatch, true, actual);
  }
  if (opts_.durable && ::fdatasync(part->fd) != 0)
    return fail(JobEvent::Kind::IoFailed, "syncing " + job.part_path.string() + ": " + describe_errno(errno), false);
  part.reset();

  std::error_code ec;
  fs::create_directories(job.final_path.parent_path(), ec);
  if (ec)
    return fail(JobEvent::Kind::IoFailed, "creating " + job.final_path.parent_path().string() + ": " + ec.message(), false);
  if (::rename(job.part_path.c_str(), job.final_path.c_str()) != 0)
    return fail(JobEvent::Kind::IoFailed,
                "moving '" + job.remote.path + "' into place: " + describe_errno(errno), false);
  if (opts_.durable) {
    auto err = fsync_directory(job.final_path.parent_path());
    if (!err.empty())
      return fail(JobEvent::Kind::IoFailed, err, false);
  }
  remove_states(job);

  std::string sha = !job.remote.sha256.empty() ? job.remote.sha256 : actual.sha256;
  if (!sha.empty()) {
    auto err = store_.adopt(job.final_path, sha);
    if (!err.empty())
      omed::log::Logger("transfer").warn("cannot add file to the content store").kv("file", job.remote.path).kv("error", err);
  }
  events_.push({JobEvent::Kind::Finalized, ref, {}, actual});
}

}  // namespace omed::model::transfer
