// Kubernetes' metav1.MicroTime text form ("2026-11-28T06:01:02.123456Z"), used by Leases,
// events.k8s.io Events and audit entries.
#pragma once

#include <chrono>
#include <string>

namespace omed {

std::string format_micro_time(std::chrono::system_clock::time_point t);

}  // namespace omed
