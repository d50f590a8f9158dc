// Download figures of one agent for /metrics. The engines count into plain atomics on their own
// threads; publish() moves the deltas into the registry's counters, so no hot loop touches it.
#include "omed/agent/download_metrics.hpp"

#include "omed/metrics/registry.hpp"

namespace omed::agent {

DownloadMetrics::DownloadMetrics(metrics::Registry* registry, std::string node) : node_(std::move(node)) {
  if (!registry)
    return;
  fetched_ = &registry->counter("omed_agent_download_bytes_total", "Bytes of model files fetched from the network.",
                                {"node"}).with({node_});
  reused_ = &registry->counter("omed_agent_download_reused_bytes_total",
                               "Bytes of model files kept, resumed or hard-linked instead of fetched.", {"node"})
               .with({node_});
  retries_ = &registry->counter("omed_agent_download_retries_total", "Transfer requests that failed and were retried.",
                                {"node"}).with({node_});
  failures_ = &registry->counter("omed_agent_download_failed_files_total", "Model files that could not be transferred.",
                                 {"node"}).with({node_});
  done_ = &registry->gauge("omed_agent_model_downloaded_bytes", "Bytes of the model present on the node so far.",
                           {"node", "model"});
  total_ = &registry->gauge("omed_agent_model_size_bytes", "Bytes of the model's files (as listed by the source).",
                            {"node", "model"});
  rate_ = &registry->gauge("omed_agent_model_download_bytes_per_second", "Current download rate of the model.",
                           {"node", "model"});
  eta_ = &registry->gauge("omed_agent_model_download_eta_seconds",
                          "Estimated seconds until the model's download completes (0 when done or unknown).",
                          {"node", "model"});
}

void DownloadMetrics::publish() {
  if (!fetched_)
    return;
  std::lock_guard<std::mutex> lk(mu_);
  auto move = [](const std::atomic<uint64_t>& from, uint64_t& published, metrics::Counter* to) {
    uint64_t now = from.load(std::memory_order_relaxed);
    if (now > published) {
      to->inc(static_cast<double>(now - published));
      published = now;
    }
  };
  move(counters_.bytes_fetched, published_.fetched, fetched_);
  move(counters_.bytes_reused, published_.reused, reused_);
  move(counters_.retries, published_.retries, retries_);
  move(counters_.failures, published_.failures, failures_);
}

void DownloadMetrics::progress(const std::string& model, const Progress& p) {
  publish();
  if (!done_)
    return;
  metrics::Labels l{node_, model};
  done_->with(l).set(static_cast<double>(p.completed_bytes));
  total_->with(l).set(static_cast<double>(p.total_bytes));
  rate_->with(l).set(p.bytes_per_second);
  double left = p.total_bytes > p.completed_bytes ? static_cast<double>(p.total_bytes - p.completed_bytes) : 0;
  eta_->with(l).set(p.bytes_per_second > 0 ? left / p.bytes_per_second : 0);
}

void DownloadMetrics::finished(const std::string& model, bool ready) {
  publish();
  if (!done_)
    return;
  metrics::Labels l{node_, model};
  if (ready)
    done_->with(l).set(total_->with(l).value());
  rate_->with(l).set(0);
  eta_->with(l).set(0);
}

void DownloadMetrics::forget(const std::string& model) {
  if (!done_)
    return;
  metrics::Labels l{node_, model};
  for (auto* f : {done_, total_, rate_, eta_})
    f->remove(l);
}

}  // namespace omed::agent
