// Object names within Kubernetes' limits: a long name keeps its head and gains a hash of the
// whole, so two long InferenceService names never render to the same child.
#include <cstdint>
#include <cstdio>

#include "omed/render/inference_service.hpp"

namespace omed::render {

std::string bounded_name(const std::string& name, size_t max) {
  if (name.size() <= max)
    return name;
  uint64_t h = 1469598103934665603ull;  // FNV-1a: stable across builds and machines
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  std::string head = name.substr(0, max - 9);
  while (!head.empty() && (head.back() == '-' || head.back() == '.'))
    head.pop_back();
  return head + "-" + std::string(hex, 8);
}

}  // namespace omed::render
