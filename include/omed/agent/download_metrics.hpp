// One node agent's download figures on /metrics: totals from the transfer engines' counters and
// each model's progress (bytes, rate, ETA), so a stuck or slow download shows on a dashboard.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "omed/agent/node_report.hpp"
#include "omed/metrics/registry.hpp"
#include "omed/model/transfer.hpp"

namespace omed::agent {

class DownloadMetrics {
public:
  // `registry` may be null (no metrics); `node` labels every series.
  DownloadMetrics(metrics::Registry* registry, std::string node);
  DownloadMetrics(const DownloadMetrics&) = delete;
  DownloadMetrics& operator=(const DownloadMetrics&) = delete;

  // What the transfer engines of this agent count into (TransferOptions::counters).
  model::TransferCounters* counters() { return &counters_; }

  // A progress report of model `model` (the agent's key for it); also publishes the counters.
  void progress(const std::string& model, const Progress& p);
  // The model's run ended: its rate and ETA drop to 0; a ready model has all its bytes.
  void finished(const std::string& model, bool ready);
  // The model is gone from this node: its series go too.
  void forget(const std::string& model);
  // Moves what the engines counted since the last call into the exported counters.
  void publish();

private:
  model::TransferCounters counters_;
  std::string node_;
  std::mutex mu_;
  struct Published {
    uint64_t fetched = 0, reused = 0, retries = 0, failures = 0;
  } published_;
  metrics::Counter* fetched_ = nullptr;
  metrics::Counter* reused_ = nullptr;
  metrics::Counter* retries_ = nullptr;
  metrics::Counter* failures_ = nullptr;
  metrics::Family<metrics::Gauge>* done_ = nullptr;
  metrics::Family<metrics::Gauge>* total_ = nullptr;
  metrics::Family<metrics::Gauge>* rate_ = nullptr;
  metrics::Family<metrics::Gauge>* eta_ = nullptr;
};

}  // namespace omed::agent
