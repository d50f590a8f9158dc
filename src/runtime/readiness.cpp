// Readiness gates; thread-safe because actors, I/O threads and the signal thread all touch them.
#include "omed/runtime/readiness.hpp"

namespace omed::runtime {

void Readiness::add(const std::string& gate, std::string reason) {
  std::lock_guard<std::mutex> lk(mu_);
  gates_[gate] = Gate{gate, false, std::move(reason)};
}

void Readiness::open(const std::string& gate) {
  std::lock_guard<std::mutex> lk(mu_);
  auto& g = gates_[gate];
  g.name = gate;
  g.open = true;
  g.reason.clear();
}

void Readiness::close(const std::string& gate, std::string reason) {
  std::lock_guard<std::mutex> lk(mu_);
  auto& g = gates_[gate];
  g.name = gate;
  g.open = false;
  g.reason = std::move(reason);
}

bool Readiness::ready() const {
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& [_, g] : gates_)
    if (!g.open)
      return false;
  return true;
}

bool Readiness::is_open(const std::string& gate) const {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = gates_.find(gate);
  return it != gates_.end() && it->second.open;
}

std::vector<Readiness::Gate> Readiness::gates() const {
  std::lock_guard<std::mutex> lk(mu_);
  std::vector<Gate> out;
  for (auto& [_, g] : gates_)
    out.push_back(g);
  return out;
}

std::string Readiness::verbose() const {
  std::string out;
  bool all = true;
  for (auto& g : gates()) {
    if (g.open) {
      out += "[+]" + g.name + " ok\n";
    } else {
      all = false;
      out += "[-]" + g.name + " failed: " + g.reason + "\n";
    }
  }
  out += all ? "readyz check passed\n" : "readyz check failed\n";
  return out;
}

}  // namespace omed::runtime
