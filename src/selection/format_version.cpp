// Format and framework versions ("1.0.0", "4.50.0.dev0", "v2") and OME's three operators.
// Ordering only matters for official versions: OME compares unofficial ones for equality alone.
#include <cctype>
#include <charconv>
#include <tuple>

#include "omed/selection/runtime_selector.hpp"

namespace omed::selection {

namespace {

bool read_number(std::string_view& s, int64_t& out) {
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s.front())))
    return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc())
    return false;
  s.remove_prefix(static_cast<size_t>(end - s.data()));
  return true;
}

bool ident_chars(std::string_view s) {
  if (s.empty())
    return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.'))
      return false;
  return true;
}

// 0 when equal, <0 / >0 like strcmp. Missing minor/patch count as 0, so "1.0" == "1.0.0" under
// Equal; precision only matters for the ordering operators (versionOK checks it there).
int compare(const FormatVersion& a, const FormatVersion& b) {
  auto ta = std::tie(a.major, a.minor, a.patch);
  auto tb = std::tie(b.major, b.minor, b.patch);
  if (ta != tb)
    return ta < tb ? -1 : 1;
  // Same numbers: an unofficial build equals only the identical unofficial build.
  auto sa = std::tie(a.dev, a.pre, a.build);
  auto sb = std::tie(b.dev, b.pre, b.build);
  if (sa == sb)
    return 0;
  return sa < sb ? -1 : 1;
}

}  // namespace

std::optional<FormatVersion> FormatVersion::parse(std::string_view text) {
  FormatVersion v;
  if (!text.empty() && (text.front() == 'v' || text.front() == 'V')) {
    v.v_prefix = true;
    text.remove_prefix(1);
  }
  if (auto plus = text.find('+'); plus != std::string_view::npos) {
    v.build = std::string(text.substr(plus + 1));
    if (!ident_chars(v.build))
      return std::nullopt;
    text = text.substr(0, plus);
  }
  if (auto dash = text.find('-'); dash != std::string_view::npos) {
    v.pre = std::string(text.substr(dash + 1));
    if (!ident_chars(v.pre))
      return std::nullopt;
    text = text.substr(0, dash);
  }
  int64_t* parts[] = {&v.major, &v.minor, &v.patch};
  for (int i = 0; i < 3; ++i) {
    if (!read_number(text, *parts[i]))
      return std::nullopt;
    v.precision = i + 1;
    if (text.empty())
      return v;
    if (text.front() != '.')
      return std::nullopt;
    text.remove_prefix(1);
  }
  // A fourth dotted segment is a Python dev/post/rc tag (transformers writes "4.50.0.dev0").
  if (!ident_chars(text) || !std::isalpha(static_cast<unsigned char>(text.front())))
    return std::nullopt;
  v.dev = std::string(text);
  return v;
}

bool version_ok(const std::string& supported, const std::string& op, const std::string& model) {
  const bool equal_text = supported == model;
  // Identical text is equal under any parse; only GreaterThan needs to know more.
  if (equal_text && op != "GreaterThan")
    return op.empty() || op == "Equal" || op == "GreaterThanOrEqual";
  auto s = FormatVersion::parse(supported);
  auto m = FormatVersion::parse(model);
  const bool equal_op = op.empty() || op == "Equal";
  if (!s || !m)
    return equal_op && equal_text;  // nothing to order: identical text is the only match
  if (s->unofficial() || m->unofficial() || equal_op)
    return compare(*s, *m) == 0;
  if (s->precision != m->precision || s->v_prefix != m->v_prefix)
    return false;
  // OME compares runtime against model: "GreaterThan" means the runtime's version is newer.
  if (op == "GreaterThan")
    return compare(*s, *m) > 0;
  if (op == "GreaterThanOrEqual")
    return compare(*s, *m) >= 0;
  return false;
}

}  // namespace omed::selection
