// Internal to the transfer engine: the network thread. One libcurl multi handle drives every
// request (parallel files, parallel ranges, redirects, retries) and writes bodies to .part files.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "omed/model/transfer.hpp"
#include "omed/model/transfer/progress_meter.hpp"
#include "transfer_checkpointer.hpp"
#include "transfer_finisher.hpp"
#include "transfer_syncer.hpp"
#include "transfer_job.hpp"

namespace omed::model::transfer {

struct FetchContext {
  const TransferOptions& opts;
  const RequestAuthorizer* authorizer;
  const std::atomic<bool>* cancel;
  ProgressMeter& progress;
  SyncLedger& ledger;
  EventQueue& events;
  Checkpointer& checkpointer;
  Syncer* syncer;  // null when not durable
  Finisher& finisher;
};

class Fetcher {
public:
  explicit Fetcher(FetchContext ctx);
  ~Fetcher();
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  // Runs until every job is in place or has failed (or the run stops: fail-fast, cancel).
  // Jobs are started in the given order. Returns the first fatal error, "" on success.
  std::string run(const std::vector<std::shared_ptr<FileJob>>& jobs);
  uint64_t retries() const;

  struct Impl;

private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace omed::model::transfer
