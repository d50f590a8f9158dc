// Readiness as a set of named gates: /readyz is ready only when every gate is open. Roles add
// the gates they need (API server up, watches synced, leadership) and flip them as state changes.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace omed::runtime {

class Readiness {
public:
  // Adds (or resets) a gate, closed by default, with a reason shown while closed.
  void add(const std::string& gate, std::string reason = "not started");
  void open(const std::string& gate);
  void close(const std::string& gate, std::string reason);
  bool ready() const;
  // Whether one gate exists and is open.
  bool is_open(const std::string& gate) const;
  struct Gate {
    std::string name;
    bool open = false;
    std::string reason;
  };
  std::vector<Gate> gates() const;
  // "[+]actors ok\n[-]watches not synced: ..." as kube-apiserver's ?verbose output.
  std::string verbose() const;

private:
  mutable std::mutex mu_;
  std::map<std::string, Gate> gates_;
};

}  // namespace omed::runtime
