// labelSelector and fieldSelector parsing and matching with the Kubernetes API server's grammar,
// validation rules and error wording, so that clients see the errors they already know.
#include "omed/apiserver/selectors.hpp"

#include <algorithm>
#include <string_view>

namespace omed::apiserver {

namespace {

// ------------------------------------------------------------------ validation

// Length of the well-formed UTF-8 sequence at s[i], or 0 if the bytes there are not one.
size_t utf8_len(std::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size() || c == 0xc0 || c == 0xc1 || c > 0xf4)
    return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2)
      return 0;
  return n;
}

// Go's %q for the bad values quoted in errors: selectors arrive from URLs and may hold any byte,
// and an error message must not smuggle control characters into logs or terminals.
std::string go_quote(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      // Well-formed UTF-8 stays readable; stray bytes are escaped, as %q does.
      if (size_t n = utf8_len(s, i)) {
        out.append(s.substr(i, n));
        i += n - 1;
      } else {
        out.append("\\x");
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 15]);
      }
      continue;
    }
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\a': out.append("\\a"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      case '\v': out.append("\\v"); break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out.append("\\x");
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 15]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
  return out;
}

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] — the name part of a label key and a non-empty value.
bool matches_label_name(std::string_view s) {
  if (s.empty() || !is_alnum(s.front()) || !is_alnum(s.back()))
    return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*
bool matches_dns1123_subdomain(std::string_view s) {
  if (s.empty())
    return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (label.empty() || !is_lower_alnum(label.front()) || !is_lower_alnum(label.back()))
      return false;
    for (char c : label)
      if (!is_lower_alnum(c) && c != '-')
        return false;
    if (dot == std::string_view::npos)
      return true;
    start = dot + 1;
  }
}

// The wording below is apimachinery's (validation.IsQualifiedName / IsValidLabelValue) so that
// clients matching on it keep working; the double spaces after the commas are theirs too.
constexpr std::string_view kLabelKeyMsg =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
  "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
  "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
constexpr std::string_view kSubdomainMsg =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
  "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
  "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
constexpr std::string_view kLabelValueMsg =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
  "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
  "'my_value',  or '12345', regex used for validation is "
  "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
constexpr size_t kMaxNameLength = 63;
constexpr size_t kMaxPrefixLength = 253;

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i)
      out.append(sep);
    out.append(parts[i]);
  }
  return out;
}

// Every complaint about a label key, empty when it is a valid qualified name.
std::vector<std::string> label_key_errors(std::string_view key) {
  std::vector<std::string> errs;
  std::string_view name = key;
  size_t slash = key.find('/');
  if (slash != std::string_view::npos) {
    if (key.find('/', slash + 1) != std::string_view::npos) {
      errs.push_back(std::string("a valid label key ").append(kLabelKeyMsg).append(
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"));
      return errs;
    }
    std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (prefix.empty()) {
      errs.emplace_back("prefix part must be non-empty");
    } else {
      if (prefix.size() > kMaxPrefixLength)
        errs.push_back("prefix part must be no more than " + std::to_string(kMaxPrefixLength) +
                       " bytes");
      if (!matches_dns1123_subdomain(prefix))
        errs.push_back(std::string("prefix part ").append(kSubdomainMsg));
    }
  }
  if (name.empty())
    errs.emplace_back("name part must be non-empty");
  else if (name.size() > kMaxNameLength)
    errs.push_back("name part must be no more than " + std::to_string(kMaxNameLength) + " bytes");
  if (!matches_label_name(name))
    errs.push_back(std::string("name part ").append(kLabelKeyMsg));
  return errs;
}

std::vector<std::string> label_value_errors(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > kMaxNameLength)
    errs.push_back("must be no more than " + std::to_string(kMaxNameLength) + " bytes");
  if (!value.empty() && !matches_label_name(value))
    errs.emplace_back(kLabelValueMsg);
  return errs;
}

// ------------------------------------------------------------------ label selector lexer

enum class Tok {
  End, Ident, Comma, OpenPar, ClosePar, Not, Equals, DoubleEquals, NotEquals, Greater, Less,
  In, NotIn
};

struct Token {
  Tok tok;
  std::string_view text;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool is_special(char c) {
  switch (c) {
    case '=': case '!': case '(': case ')': case ',': case '>': case '<': return true;
    default: return false;
  }
}

// Operators are the longest run of special characters that still spells a token ("!=" rather
// than "!" then "="), as apimachinery's lexer does; every single special character is a token,
// so this never fails.
Token lex_symbol(std::string_view s, size_t& pos) {
  auto one = [](char c) {
    switch (c) {
      case '=': return Tok::Equals;
      case '!': return Tok::Not;
      case '(': return Tok::OpenPar;
      case ')': return Tok::ClosePar;
      case ',': return Tok::Comma;
      case '>': return Tok::Greater;
      default: return Tok::Less;
    }
  };
  size_t start = pos;
  if (pos + 1 < s.size() && s[pos + 1] == '=' && (s[pos] == '=' || s[pos] == '!')) {
    pos += 2;
    return {s[start] == '=' ? Tok::DoubleEquals : Tok::NotEquals, s.substr(start, 2)};
  }
  ++pos;
  return {one(s[start]), s.substr(start, 1)};
}

std::vector<Token> lex(std::string_view s) {
  std::vector<Token> out;
  size_t pos = 0;
  while (true) {
    while (pos < s.size() && is_space(s[pos]))
      ++pos;
    if (pos == s.size()) {
      out.push_back({Tok::End, {}});
      return out;
    }
    if (is_special(s[pos])) {
      out.push_back(lex_symbol(s, pos));
      continue;
    }
    size_t start = pos;
    while (pos < s.size() && !is_special(s[pos]) && !is_space(s[pos]))
      ++pos;
    std::string_view word = s.substr(start, pos - start);
    Tok t = word == "in" ? Tok::In : word == "notin" ? Tok::NotIn : Tok::Ident;
    out.push_back({t, word});
  }
}

// ------------------------------------------------------------------ label selector parser

// A predictive parser over the token list. "in" and "notin" are keywords only where an operator is
// expected; anywhere else they are ordinary identifiers ("in in (in)" is a valid selector).
class LabelParser {
public:
  explicit LabelParser(std::string_view text) : toks_(lex(text)) {}

  bool parse(std::vector<LabelSelector::Requirement>& out, std::string& error) {
    while (true) {
      Token t = peek();
      if (t.tok == Tok::End)
        return true;
      if (t.tok != Tok::Ident && t.tok != Tok::Not) {
        error = found(t, "!, identifier, or 'end of string'");
        return false;
      }
      LabelSelector::Requirement r;
      std::string err;
      if (!parse_requirement(r, err)) {
        error = "unable to parse requirement: " + err;
        return false;
      }
      out.push_back(std::move(r));
      Token next = take();
      if (next.tok == Tok::End)
        return true;
      if (next.tok != Tok::Comma) {
        error = found(next, "',' or 'end of string'");
        return false;
      }
      Token after = peek();
      if (after.tok != Tok::Ident && after.tok != Tok::Not) {
        error = found(after, "identifier after ','");
        return false;
      }
    }
  }

private:
  // Values context: keywords demoted to identifiers.
  Token peek() const { return as_value(toks_[pos_]); }
  Token take() { return as_value(take_operator()); }
  // The End token is sticky so that no error path can walk off the token list.
  Token take_operator() {
    Token t = toks_[pos_];
    if (t.tok != Tok::End)
      ++pos_;
    return t;
  }

  static Token as_value(Token t) {
    if (t.tok == Tok::In || t.tok == Tok::NotIn)
      t.tok = Tok::Ident;
    return t;
  }

  static std::string found(const Token& t, std::string_view expected) {
    return "found '" + std::string(t.text) + "', expected: " + std::string(expected);
  }

  bool parse_requirement(LabelSelector::Requirement& r, std::string& err) {
    Token t = take();
    bool negated = t.tok == Tok::Not;
    if (negated)
      t = take();
    if (t.tok != Tok::Ident) {
      err = found(t, "identifier");
      return false;
    }
    r.key = std::string(t.text);
    if (auto errs = label_key_errors(r.key); !errs.empty()) {
      err = "key: Invalid value: " + go_quote(r.key) + ": " + join(errs, "; ");
      return false;
    }
    // "!key" is complete on its own; whatever follows is the caller's problem (it wants ',').
    if (negated) {
      r.op = LabelSelector::Op::DoesNotExist;
      return true;
    }
    Tok next = peek().tok;
    if (next == Tok::End || next == Tok::Comma) {
      r.op = LabelSelector::Op::Exists;
      return true;
    }
    Token op = take_operator();
    switch (op.tok) {
      case Tok::In: r.op = LabelSelector::Op::In; break;
      case Tok::NotIn: r.op = LabelSelector::Op::NotIn; break;
      case Tok::Equals:
      case Tok::DoubleEquals: r.op = LabelSelector::Op::Equals; break;
      case Tok::NotEquals: r.op = LabelSelector::Op::NotEquals; break;
      default:
        // Kubernetes also has gt/lt; omed's Op has no such operators, so they are refused here.
        err = found(op, "in, notin, =, ==, !=");
        return false;
    }
    bool ok = (r.op == LabelSelector::Op::In || r.op == LabelSelector::Op::NotIn)
                ? parse_value_set(r.values, err)
                : parse_exact_value(r.values, err);
    if (!ok)
      return false;
    // Sets are sets: sorted and without duplicates, which also fixes the index that the value
    // error below reports (apimachinery reports the index in the sorted set too).
    std::sort(r.values.begin(), r.values.end());
    r.values.erase(std::unique(r.values.begin(), r.values.end()), r.values.end());
    for (size_t i = 0; i < r.values.size(); ++i) {
      if (auto errs = label_value_errors(r.values[i]); !errs.empty()) {
        err = "values[" + std::to_string(i) + "][" + r.key + "]: Invalid value: " +
              go_quote(r.values[i]) + ": " + join(errs, "; ");
        return false;
      }
    }
    return true;
  }

  // "k=" and "k!=" compare against the empty value, which is a valid label value.
  bool parse_exact_value(std::vector<std::string>& values, std::string& err) {
    Token t = peek();
    if (t.tok == Tok::End || t.tok == Tok::Comma) {
      values.emplace_back();
      return true;
    }
    take();
    if (t.tok != Tok::Ident) {
      err = found(t, "identifier");
      return false;
    }
    values.emplace_back(t.text);
    return true;
  }

  // "(" [value] {"," [value]} ")": an empty element is the empty value, so "()", "(,)" and
  // "(a,)" all contain "".
  bool parse_value_set(std::vector<std::string>& values, std::string& err) {
    Token t = take();
    if (t.tok != Tok::OpenPar) {
      err = "found '" + std::string(t.text) + "' expected: '('";
      return false;
    }
    t = peek();
    if (t.tok == Tok::ClosePar) {
      take();
      values.emplace_back();
      return true;
    }
    if (t.tok != Tok::Ident && t.tok != Tok::Comma) {
      err = found(t, "',', ')' or identifier");
      return false;
    }
    while (true) {
      t = take();
      if (t.tok == Tok::Ident) {
        values.emplace_back(t.text);
        Token sep = take();
        if (sep.tok == Tok::ClosePar)
          return true;
        if (sep.tok != Tok::Comma) {
          err = found(sep, "',' or ')'");
          return false;
        }
      } else if (t.tok == Tok::Comma) {
        values.emplace_back();
      } else if (t.tok == Tok::ClosePar) {
        values.emplace_back();  // "a,)" ends with an empty element
        return true;
      } else {
        err = found(t, "',', or identifier");
        return false;
      }
    }
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
};

// ------------------------------------------------------------------ field selector

// The bytes of one UTF-8 sequence starting at s[i], so an error never splits a character.
std::string_view utf8_char(std::string_view s, size_t i) {
  size_t n = utf8_len(s, i);
  return s.substr(i, n == 0 ? 1 : n);
}

// Field values escape '\', ',' and '=' with a backslash (fields.EscapeValue); anything else after
// a backslash, and a bare ',' or '=', is an error.
bool unescape_field_value(std::string_view s, std::string& out, std::string& error) {
  out.clear();
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\') {
      if (i + 1 == s.size()) {
        error = "invalid field selector: invalid escape sequence: \\";
        return false;
      }
      char e = s[i + 1];
      if (e != '\\' && e != ',' && e != '=') {
        error = "invalid field selector: invalid escape sequence: \\" +
                std::string(utf8_char(s, i + 1));
        return false;
      }
      out.push_back(e);
      ++i;
    } else if (c == ',' || c == '=') {
      error = std::string("invalid field selector: unescaped character in value: ") + c;
      return false;
    } else {
      out.push_back(c);
    }
  }
  return true;
}

}  // namespace

// ------------------------------------------------------------------ LabelSelector

std::optional<LabelSelector> LabelSelector::parse(const std::string& text, std::string& error) {
  LabelSelector sel;
  LabelParser parser(text);
  if (!parser.parse(sel.reqs_, error))
    return std::nullopt;
  return sel;
}

bool LabelSelector::matches(const std::map<std::string, std::string>& labels) const {
  for (const auto& r : reqs_) {
    auto it = labels.find(r.key);
    bool has = it != labels.end();
    bool in = has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    bool ok = false;
    switch (r.op) {
      case Op::Equals:
      case Op::In: ok = in; break;
      // Absent keys satisfy negative requirements: "env!=prod" selects unlabelled objects too.
      case Op::NotEquals:
      case Op::NotIn: ok = !in; break;
      case Op::Exists: ok = has; break;
      case Op::DoesNotExist: ok = !has; break;
    }
    if (!ok)
      return false;
  }
  return true;
}

// ------------------------------------------------------------------ FieldSelector

std::optional<FieldSelector> FieldSelector::parse(const std::string& text, std::string& error) {
  FieldSelector sel;
  std::string_view s = text;
  // Terms split on unescaped commas; the escape stays in the term for unescape_field_value.
  std::vector<std::string_view> terms;
  size_t start = 0;
  bool escaped = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (escaped)
      escaped = false;
    else if (s[i] == '\\')
      escaped = true;
    else if (s[i] == ',') {
      terms.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  if (!s.empty())
    terms.push_back(s.substr(start));

  for (std::string_view term : terms) {
    if (term.empty())
      continue;
    // The field name has no escaping, so the first operator splits: "!=" before "==" before "=".
    size_t at = std::string_view::npos;
    size_t len = 0;
    bool negate = false;
    for (size_t i = 0; i < term.size(); ++i) {
      if (term.compare(i, 2, "!=") == 0) {
        at = i, len = 2, negate = true;
        break;
      }
      if (term.compare(i, 2, "==") == 0) {
        at = i, len = 2;
        break;
      }
      if (term[i] == '=') {
        at = i, len = 1;
        break;
      }
    }
    if (at == std::string_view::npos) {
      error = "invalid selector: '" + text + "'; can't understand '" + std::string(term) + "'";
      return std::nullopt;
    }
    Requirement r{std::string(term.substr(0, at)), negate, {}};
    if (!unescape_field_value(term.substr(at + len), r.value, error))
      return std::nullopt;
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool FieldSelector::matches(const std::function<std::string(const std::string& field)>& get) const {
  for (const auto& r : reqs_)
    if ((get(r.field) == r.value) == r.negate)
      return false;
  return true;
}

}  // namespace omed::apiserver
