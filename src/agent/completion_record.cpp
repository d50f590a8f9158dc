// The completion record of a model directory: written after a verified transfer, read when the
// source is unreachable and the policy allows reusing what is on the node.
#include "omed/agent/completion_record.hpp"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "omed/common/json.hpp"
#include "omed/common/micro_time.hpp"
#include "omed/model/remote_file.hpp"
#include "omed/model/transfer/durable_io.hpp"

namespace omed::agent {

std::string write_completion_record(const std::filesystem::path& dir, const std::string& storage_uri,
                                    const model::RemoteListing& listing) {
  json::Array files;
  for (auto& f : listing.files) {
    json::Object o{{"path", f.path}};
    if (f.size)
      o.set("size", static_cast<int64_t>(*f.size));
    if (!f.sha256.empty())
      o.set("sha256", f.sha256);
    files.push_back(std::move(o));
  }
  // URLs and ETags are left out: a presigned URL may carry credentials, and neither is needed
  // to recognise the files again.
  json::Object rec{{"storageUri", storage_uri}, {"revision", listing.revision},
                   {"completedAt", format_micro_time(std::chrono::system_clock::now())}, {"files", std::move(files)}};
  return model::transfer::write_file_atomically(dir / kCompletionRecordName, json::dump(json::Value(std::move(rec))),
                                                true);
}

std::optional<CompletionRecord> read_completion_record(const std::filesystem::path& dir,
                                                       const std::string& storage_uri) {
  std::ifstream in(dir / kCompletionRecordName, std::ios::binary);
  if (!in)
    return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  json::Value v;
  std::string err;
  if (!json::try_parse(ss.str(), v, err) || !v.is_object() || v.string_or("storageUri") != storage_uri)
    return std::nullopt;
  CompletionRecord r;
  r.storage_uri = storage_uri;
  r.revision = v.string_or("revision");
  r.completed_at = v.string_or("completedAt");
  r.listing.revision = r.revision;
  const json::Value* files = v.get("files");
  if (!files || !files->is_array())
    return std::nullopt;
  for (auto& f : files->as_array()) {
    if (!f.is_object())
      return std::nullopt;
    model::RemoteFile rf;
    rf.path = f.string_or("path");
    // The record sits in a directory others may write to: its paths get the listing's checks.
    if (!model::check_remote_path(rf.path).empty())
      return std::nullopt;
    if (const json::Value* s = f.get("size"); s && s->is_int() && s->as_int() >= 0)
      rf.size = static_cast<uint64_t>(s->as_int());
    rf.sha256 = f.string_or("sha256");
    r.listing.files.push_back(std::move(rf));
  }
  return r;
}

std::string check_recorded_files(const std::filesystem::path& dir, const CompletionRecord& record) {
  for (auto& f : record.listing.files) {
    struct stat st {};
    auto p = dir / f.path;
    if (::lstat(p.c_str(), &st) != 0)
      return f.path + " is missing";
    if (!S_ISREG(st.st_mode))
      return f.path + " is not a regular file";
    if (f.size && static_cast<uint64_t>(st.st_size) != *f.size)
      return f.path + " has " + std::to_string(st.st_size) + " bytes, " + std::to_string(*f.size) + " expected";
  }
  return {};
}

}  // namespace omed::agent
