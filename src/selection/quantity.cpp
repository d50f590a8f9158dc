// Kubernetes Quantity strings as doubles, for accelerator prices, memory and bandwidth: values
// that are compared and scored, never summed into exact resource accounting.
#include <charconv>
#include <cmath>

#include "omed/selection/accelerator_selector.hpp"

namespace omed::selection {

std::optional<double> quantity_value(std::string_view q) {
  while (!q.empty() && q.front() == ' ')
    q.remove_prefix(1);
  while (!q.empty() && q.back() == ' ')
    q.remove_suffix(1);
  if (!q.empty() && q.front() == '+')
    q.remove_prefix(1);
  if (q.empty())
    return std::nullopt;
  double v = 0;
  // general format reads "1.5e3" whole and stops before a suffix letter ("2E" is 2 exa).
  auto [end, ec] = std::from_chars(q.data(), q.data() + q.size(), v, std::chars_format::general);
  if (ec != std::errc() || !std::isfinite(v))
    return std::nullopt;
  std::string_view suffix = q.substr(static_cast<size_t>(end - q.data()));
  struct Suffix { std::string_view text; double scale; };
  static constexpr Suffix kSuffixes[] = {
      {"", 1},       {"Ki", 0x1p10}, {"Mi", 0x1p20}, {"Gi", 0x1p30}, {"Ti", 0x1p40}, {"Pi", 0x1p50},
      {"Ei", 0x1p60}, {"n", 1e-9},   {"u", 1e-6},    {"m", 1e-3},    {"k", 1e3},     {"M", 1e6},
      {"G", 1e9},    {"T", 1e12},    {"P", 1e15},    {"E", 1e18}};
  for (const Suffix& s : kSuffixes)
    if (suffix == s.text)
      return v * s.scale;
  return std::nullopt;
}

std::optional<double> quantity_value(const json::Value& q) {
  if (q.is_number())
    return q.as_double();
  if (q.is_string())
    return quantity_value(std::string_view(q.as_string()));
  return std::nullopt;
}

}  // namespace omed::selection
