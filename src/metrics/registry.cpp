// Metric storage and text exposition. Doubles are stored as bit patterns in atomics and updated
// with CAS loops, so observation never takes a lock; only label lookup and scraping lock.
#include "omed/metrics/registry.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

namespace omed::metrics {

namespace {

uint64_t to_bits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

double from_bits(uint64_t u) {
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
}

void atomic_add(std::atomic<uint64_t>& bits, double v) {
  uint64_t cur = bits.load(std::memory_order_relaxed);
  while (!bits.compare_exchange_weak(cur, to_bits(from_bits(cur) + v), std::memory_order_relaxed)) {
  }
}

void escape_label(const std::string& v, std::string& out) {
  for (char c : v) {
    if (c == '\\') out.append("\\\\");
    else if (c == '"') out.append("\\\"");
    else if (c == '\n') out.append("\\n");
    else out.push_back(c);
  }
}

void escape_help(const std::string& v, std::string& out) {
  for (char c : v) {
    if (c == '\\') out.append("\\\\");
    else if (c == '\n') out.append("\\n");
    else out.push_back(c);
  }
}

void label_set(const std::vector<std::string>& names, const Labels& values,
               const char* extra_name, const std::string* extra_value, std::string& out) {
  if (names.empty() && !extra_name)
    return;
  out.push_back('{');
  bool first = true;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!first)
      out.push_back(',');
    first = false;
    out.append(names[i]).append("=\"");
    escape_label(values[i], out);
    out.push_back('"');
  }
  if (extra_name) {
    if (!first)
      out.push_back(',');
    out.append(extra_name).append("=\"");
    escape_label(*extra_value, out);
    out.push_back('"');
  }
  out.push_back('}');
}

void header(const std::string& name, const std::string& help, const char* type, std::string& out) {
  out.append("# HELP ").append(name).push_back(' ');
  escape_help(help, out);
  out.append("\n# TYPE ").append(name).push_back(' ');
  out.append(type).push_back('\n');
}

}  // namespace

std::string format_value(double v) {
  if (std::isnan(v))
    return "NaN";
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void Counter::inc(double v) {
  if (v < 0)
    return;  // counters never go down
  atomic_add(bits_, v);
}

double Counter::value() const { return from_bits(bits_.load(std::memory_order_relaxed)); }

void Gauge::set(double v) { bits_.store(to_bits(v), std::memory_order_relaxed); }
void Gauge::inc(double v) { atomic_add(bits_, v); }
double Gauge::value() const { return from_bits(bits_.load(std::memory_order_relaxed)); }

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  counts_.reset(new std::atomic<uint64_t>[bounds_.size() + 1]);
  for (size_t i = 0; i <= bounds_.size(); ++i)
    counts_[i] = 0;
}

void Histogram::observe(double v) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  counts_[static_cast<size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_bits_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::cumulative() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    acc += counts_[i].load(std::memory_order_relaxed);
    out[i] = acc;
  }
  return out;
}

double Histogram::sum() const { return from_bits(sum_bits_.load(std::memory_order_relaxed)); }
uint64_t Histogram::count() const { return count_.load(std::memory_order_relaxed); }

std::vector<double> exponential_buckets(double start, double factor, int count) {
  std::vector<double> out;
  double v = start;
  for (int i = 0; i < count; ++i, v *= factor)
    out.push_back(v);
  return out;
}

struct Registry::Impl {
  mutable std::mutex mu;
  std::map<std::string, std::unique_ptr<Family<Counter>>> counters;
  std::map<std::string, std::unique_ptr<Family<Gauge>>> gauges;
  std::map<std::string, std::unique_ptr<Family<Histogram>>> histograms;
  struct Computed {
    std::string help;
    std::function<double()> fn;
    bool counter = false;
  };
  std::map<std::string, Computed> computed;

  void check_unique(const std::string& name, int kind) const {
    int found = (counters.count(name) ? 1 : 0) | (gauges.count(name) ? 2 : 0) |
                (histograms.count(name) ? 4 : 0) | (computed.count(name) ? 8 : 0);
    if (found && found != kind)
      throw std::logic_error("metric " + name + " registered with two types");
  }
};

Registry::Registry() : impl_(std::make_unique<Impl>()) {}
Registry::~Registry() = default;

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->check_unique(name, 1);
  auto& slot = impl_->counters[name];
  if (!slot)
    slot = std::make_unique<Family<Counter>>(name, help, std::move(label_names),
                                             [] { return std::make_unique<Counter>(); });
  return *slot;
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names) {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->check_unique(name, 2);
  auto& slot = impl_->gauges[name];
  if (!slot)
    slot = std::make_unique<Family<Gauge>>(name, help, std::move(label_names),
                                           [] { return std::make_unique<Gauge>(); });
  return *slot;
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> bounds) {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->check_unique(name, 4);
  auto& slot = impl_->histograms[name];
  if (!slot)
    slot = std::make_unique<Family<Histogram>>(
      name, help, std::move(label_names),
      [bounds] { return std::make_unique<Histogram>(bounds); });
  return *slot;
}

void Registry::gauge_fn(const std::string& name, const std::string& help, std::function<double()> fn) {
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->check_unique(name, 8);
  impl_->computed[name] = Impl::Computed{help, std::move(fn), false};
}

namespace {

double read_proc_stat_field(int field) {
  std::ifstream f("/proc/self/stat");
  std::string content((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto rp = content.rfind(')');
  if (rp == std::string::npos)
    return 0;
  std::istringstream is(content.substr(rp + 2));
  std::string tok;
  // Fields after the command name start at field 3 (state).
  for (int i = 3; i <= field && is >> tok; ++i) {
    if (i == field)
      return std::stod(tok);
  }
  return 0;
}

}  // namespace

void Registry::add_process_metrics() {
  static const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  static const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::lock_guard<std::mutex> lk(impl_->mu);
  impl_->computed["process_resident_memory_bytes"] = {
    "Resident memory size in bytes.", [] { return read_proc_stat_field(24) * page; }, false};
  impl_->computed["process_virtual_memory_bytes"] = {
    "Virtual memory size in bytes.", [] { return read_proc_stat_field(23); }, false};
  impl_->computed["process_cpu_seconds_total"] = {
    "Total user and system CPU time spent in seconds.",
    [] { return (read_proc_stat_field(14) + read_proc_stat_field(15)) / tick; }, true};
  impl_->computed["process_threads"] = {"Number of OS threads in the process.",
                                        [] { return read_proc_stat_field(20); }, false};
  impl_->computed["process_open_fds"] = {"Number of open file descriptors.", [] {
    double n = 0;
    if (DIR* d = opendir("/proc/self/fd")) {
      while (auto* e = readdir(d))
        if (e->d_name[0] != '.')
          ++n;
      closedir(d);
    }
    return n > 0 ? n - 1 : 0;  // minus the directory handle itself
  }, false};
  // Boot time plus the process start offset, computed once.
  double start = 0;
  {
    std::ifstream f("/proc/stat");
    std::string key;
    double btime = 0;
    while (f >> key) {
      if (key == "btime") {
        f >> btime;
        break;
      }
    }
    start = btime + read_proc_stat_field(22) / tick;
  }
  impl_->computed["process_start_time_seconds"] = {
    "Start time of the process since unix epoch in seconds.", [start] { return start; }, false};
}

std::string Registry::expose() const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  // Collect every family's rendering under its name so that output is sorted by name.
  std::map<std::string, std::string> blocks;
  for (auto& [name, fam] : impl_->counters) {
    std::string out;
    header(name, fam->help(), "counter", out);
    fam->for_each([&](const Labels& l, const Counter& c) {
      out.append(name);
      label_set(fam->label_names(), l, nullptr, nullptr, out);
      out.append(" ").append(format_value(c.value())).push_back('\n');
    });
    blocks[name] = std::move(out);
  }
  for (auto& [name, fam] : impl_->gauges) {
    std::string out;
    header(name, fam->help(), "gauge", out);
    fam->for_each([&](const Labels& l, const Gauge& g) {
      out.append(name);
      label_set(fam->label_names(), l, nullptr, nullptr, out);
      out.append(" ").append(format_value(g.value())).push_back('\n');
    });
    blocks[name] = std::move(out);
  }
  for (auto& [name, fam] : impl_->histograms) {
    std::string out;
    header(name, fam->help(), "histogram", out);
    fam->for_each([&](const Labels& l, const Histogram& h) {
      auto cum = h.cumulative();
      for (size_t i = 0; i <= h.bounds().size(); ++i) {
        std::string le = i < h.bounds().size() ? format_value(h.bounds()[i]) : "+Inf";
        out.append(name).append("_bucket");
        label_set(fam->label_names(), l, "le", &le, out);
        out.append(" ").append(std::to_string(cum[i])).push_back('\n');
      }
      out.append(name).append("_sum");
      label_set(fam->label_names(), l, nullptr, nullptr, out);
      out.append(" ").append(format_value(h.sum())).push_back('\n');
      out.append(name).append("_count");
      label_set(fam->label_names(), l, nullptr, nullptr, out);
      out.append(" ").append(std::to_string(h.count())).push_back('\n');
    });
    blocks[name] = std::move(out);
  }
  for (auto& [name, c] : impl_->computed) {
    std::string out;
    header(name, c.help, c.counter ? "counter" : "gauge", out);
    out.append(name).append(" ").append(format_value(c.fn())).push_back('\n');
    blocks[name] = std::move(out);
  }
  std::string all;
  for (auto& [_, b] : blocks)
    all.append(b);
  return all;
}

}  // namespace omed::metrics
