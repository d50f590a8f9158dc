// Model parameter sizes as runtimes and models write them ("7B", "8.03B", "1.5T") and back.
// Unparsable text is reported as such: OME's parser turns it into 0, which silently passes minimums.
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

#include "omed/selection/runtime_selector.hpp"

namespace omed::selection {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<double> parse_model_size(std::string_view text) {
  text = trim(text);
  if (text.empty())
    return std::nullopt;
  double scale = 1;
  switch (text.back()) {
    case 'T': case 't': scale = 1e12; break;
    case 'B': case 'b': scale = 1e9; break;
    case 'M': case 'm': scale = 1e6; break;
    case 'K': case 'k': scale = 1e3; break;
    default: break;
  }
  if (scale != 1)
    text.remove_suffix(1);
  text = trim(text);
  // from_chars accepts neither '+' nor hex nor "inf" here: exactly the digits a size is written with.
  if (text.empty() || !(std::isdigit(static_cast<unsigned char>(text.front())) || text.front() == '.'))
    return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::fixed);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v))
    return std::nullopt;
  return v * scale;
}

std::string format_model_size(double params) {
  struct Unit { double scale; const char* suffix; };
  static constexpr Unit kUnits[] = {{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "K"}};
  if (!std::isfinite(params) || params < 0)
    return "?";
  for (const Unit& u : kUnits) {
    if (params >= u.scale) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.2f", params / u.scale);
      std::string s = buf;
      // 70.50 -> 70.5, 7.00 -> 7: sizes are read by people, not parsed back exactly.
      while (s.back() == '0')
        s.pop_back();
      if (s.back() == '.')
        s.pop_back();
      return s + u.suffix;
    }
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f", params);
  return buf;
}

}  // namespace omed::selection
