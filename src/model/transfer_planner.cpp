// Planning of a transfer run. It only reads: the hostile-listing checks, the disk space check
// and the dedup decisions all happen before the engine creates a single file.
#include "transfer_planner.hpp"

#include <sys/stat.h>

#include <map>
#include <set>

#include "omed/model/transfer.hpp"
#include "omed/model/transfer/file_verifier.hpp"
#include "omed/model/transfer/url.hpp"

namespace omed::model::transfer {

namespace fs = std::filesystem;

namespace {

bool is_hex(const std::string& s, size_t len) {
  if (s.size() != len)
    return false;
  for (char c : s)
    if (!std::isxdigit(static_cast<unsigned char>(c)))
      return false;
  return true;
}

// Our own bookkeeping lives next to the model files; a listing must not reach into it.
bool reserved(const std::string& path) {
  auto first = path.substr(0, path.find('/'));
  return first == ".omed-partial" || first == ".omed-blobs";
}

}  // namespace

std::string validate_listing(const std::vector<RemoteFile>& files) {
  std::set<std::string> paths;
  for (auto& f : files) {
    if (auto err = check_remote_path(f.path); !err.empty())
      return "unsafe file name in the listing: " + err;
    if (reserved(f.path))
      return "file name '" + f.path + "' is reserved for omed's own bookkeeping";
    if (!paths.insert(f.path).second)
      return "file '" + f.path + "' is listed twice";
    if (!url_origin(f.url))
      return "file '" + f.path + "' has no usable http(s) URL";
    if (!f.sha256.empty() && !is_hex(f.sha256, 64))
      return "file '" + f.path + "' has a malformed sha256 '" + f.sha256 + "'";
    if (!f.md5.empty() && !is_hex(f.md5, 32))
      return "file '" + f.path + "' has a malformed md5 '" + f.md5 + "'";
  }
  // "a" and "a/b" cannot both be files.
  for (auto& p : paths) {
    for (size_t slash = p.find('/'); slash != std::string::npos; slash = p.find('/', slash + 1))
      if (paths.count(p.substr(0, slash)))
        return "file '" + p.substr(0, slash) + "' is also listed as a directory (by '" + p + "')";
  }
  return {};
}

std::optional<Resume> resume_from(const RemoteFile& f, const std::string& sha256,
                                  const std::optional<PartialState>& on_disk,
                                  const std::optional<PartialState>& fast, const std::string& boot_id) {
  auto matches = [&](const PartialState& st) {
    return f.size && st.size == *f.size && st.sha256 == sha256 && st.listing_etag == f.etag;
  };
  std::optional<Resume> out;
  if (on_disk && matches(*on_disk)) {
    out.emplace();
    out->usable = on_disk->usable(boot_id);
    out->durable = on_disk->durable;
    out->server_etag = on_disk->server_etag;
  }
  // The fast record is newer, but only speaks for the same content as the one on disk.
  if (fast && matches(*fast) && (!on_disk || fast->server_etag == on_disk->server_etag)) {
    if (!out) {
      out.emplace();
      out->server_etag = fast->server_etag;
    }
    for (auto& s : fast->usable(boot_id).spans())
      out->usable.add(s.begin, s.end);
  }
  return out;
}

Plan make_plan(const std::vector<RemoteFile>& files, const fs::path& dest, const ContentStore& store,
               bool link_from_store, const fs::path& fast_dir, const std::atomic<bool>* cancel) {
  Plan plan;
  plan.error = validate_listing(files);
  if (!plan.error.empty())
    return plan;
  plan.files.resize(files.size());
  std::map<std::string, size_t> first_by_sha;  // sha256 -> first listing index that will have it

  for (size_t i = 0; i < files.size(); ++i) {
    if (cancel && cancel->load()) {
      plan.error = "cancelled";
      return plan;
    }
    const RemoteFile& f = files[i];
    PlannedFile& pf = plan.files[i];
    std::string sha = lowercase(f.sha256);
    std::string md5 = lowercase(f.md5);
    pf.sha256 = sha;
    fs::path final_path = dest / f.path;

    // 1. The final file is already there and matches.
    struct stat st {};
    if (::lstat(final_path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        (!f.size || static_cast<uint64_t>(st.st_size) == *f.size)) {
      bool ok = true;
      if (!sha.empty() || !md5.empty()) {
        auto blob = store.find(sha, f.size);
        if (blob && blob->inode == st.st_ino && blob->device == st.st_dev && md5.empty()) {
          pf.verified = true;  // the very inode that was verified when it entered the store
        } else {
          Digests got;
          auto err = hash_file(final_path, !sha.empty(), !md5.empty(), got, cancel);
          ok = err.empty() && compare_digests(f.path, {sha, md5}, got).empty();
          pf.verified = ok;
        }
      }
      if (ok) {
        pf.kind = PlannedFile::Kind::Present;
        if (!sha.empty())
          first_by_sha.emplace(sha, i);
        continue;
      }
    }
    // 2. Same content elsewhere: the store, or an earlier entry of this listing.
    if (!sha.empty()) {
      if (link_from_store && store.find(sha, f.size)) {
        pf.kind = PlannedFile::Kind::LinkStore;
        continue;
      }
      auto it = first_by_sha.find(sha);
      if (it != first_by_sha.end() && files[it->second].size == f.size) {
        pf.kind = PlannedFile::Kind::LinkDuplicate;
        pf.primary = it->second;
        continue;
      }
      first_by_sha.emplace(sha, i);
    }
    // 3. Download, resuming what an earlier run left when it is provably the same file.
    pf.kind = PlannedFile::Kind::Fetch;
    if (f.size) {
      pf.missing = *f.size;
      fs::path part = TransferEngine::partial_path(dest, f.path);
      fs::path state = TransferEngine::partial_state_path(dest, f.path);
      struct stat pst {};
      if (::stat(part.c_str(), &pst) == 0 && static_cast<uint64_t>(pst.st_size) == *f.size) {
        std::optional<PartialState> on_disk, fast;
        PartialState tmp;
        if (load_partial_state(state, tmp))
          on_disk = tmp;
        if (!fast_dir.empty() && load_partial_state(fast_state_path(fast_dir, state), tmp))
          fast = tmp;
        pf.resume = resume_from(f, sha, on_disk, fast, current_boot_id());
        if (pf.resume)
          pf.missing = *f.size - pf.resume->usable.bytes();
      }
      plan.bytes_to_fetch += pf.missing;
    }
  }
  return plan;
}

}  // namespace omed::model::transfer
