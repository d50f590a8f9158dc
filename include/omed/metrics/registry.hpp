// Prometheus metrics: counters, gauges and histograms with labels, rendered in the text
// exposition format 0.0.4. Every family has HELP and TYPE; updates are lock-free atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace omed::metrics {

using Labels = std::vector<std::string>;

class Counter {
public:
  void inc(double v = 1.0);
  double value() const;

private:
  std::atomic<uint64_t> bits_{0};
};

class Gauge {
public:
  void set(double v);
  void inc(double v = 1.0);
  void dec(double v = 1.0) { inc(-v); }
  double value() const;

private:
  std::atomic<uint64_t> bits_{0};
};

class Histogram {
public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  // Cumulative counts per bound (and +Inf last), sum, count.
  std::vector<uint64_t> cumulative() const;
  double sum() const;
  uint64_t count() const;
  const std::vector<double>& bounds() const { return bounds_; }

private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1 (the +Inf bucket)
  std::atomic<uint64_t> sum_bits_{0};
  std::atomic<uint64_t> count_{0};
};

// Buckets growing by `factor` from `start`: exponential_buckets(0.001, 2, 16).
std::vector<double> exponential_buckets(double start, double factor, int count);

template <class M>
class Family {
public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<M>()> make)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)),
      make_(std::move(make)) {}

  // The returned reference stays valid for the registry's lifetime; cache it on hot paths.
  M& with(const Labels& values) {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = children_.find(values);
    if (it == children_.end())
      it = children_.emplace(values, make_()).first;
    return *it->second;
  }
  M& get() { return with({}); }
  // Drops one labelled series (e.g. when a kind disappears).
  void remove(const Labels& values) {
    std::lock_guard<std::mutex> lk(mu_);
    children_.erase(values);
  }

  template <class F>
  void for_each(F&& f) const {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& [labels, m] : children_)
      f(labels, *m);
  }

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<M>()> make_;
  mutable std::mutex mu_;
  std::map<Labels, std::unique_ptr<M>> children_;
};

class Registry {
public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registering the same name twice returns the existing family (so modules can share).
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names, std::vector<double> bounds);
  // A gauge computed at scrape time.
  void gauge_fn(const std::string& name, const std::string& help, std::function<double()> fn);
  // Adds process_* metrics (RSS, CPU seconds, open fds, start time, threads).
  void add_process_metrics();

  // The text exposition format, families sorted by name.
  std::string expose() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Formats a sample value the way Prometheus clients do (integers without a fraction, +Inf).
std::string format_value(double v);

}  // namespace omed::metrics
