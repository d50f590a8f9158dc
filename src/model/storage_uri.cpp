// Storage URI syntax (OME's pkg/utils/storage semantics), stricter where OME let bad input
// through: empty segments, traversal and control characters are rejected here.
#include "omed/model/storage_uri.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <vector>

#include "omed/common/strings.hpp"

namespace omed::model {

const char* storage_type_name(StorageType t) {
  switch (t) {
    case StorageType::HuggingFace: return "hf";
    case StorageType::S3: return "s3";
    case StorageType::OCI: return "oci";
    case StorageType::Http: return "http";
    case StorageType::Local: return "local";
    case StorageType::PVC: return "pvc";
    case StorageType::Vendor: return "vendor";
    case StorageType::Azure: return "az";
    case StorageType::GCS: return "gs";
    case StorageType::GitHub: return "github";
  }
  return "unknown";
}

bool is_dns_label(std::string_view s) {
  if (s.empty() || s.size() > 63)
    return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0 && i + 1 < s.size());
    if (!ok)
      return false;
  }
  return true;
}

bool is_dns_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253)
    return false;
  for (auto& part : str::split(s, '.'))
    if (!is_dns_label(part))
      return false;
  return true;
}

namespace {

bool has_bad_chars(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f || c == '\\')
      return true;
  return false;
}

bool has_traversal(std::string_view path) {
  for (auto& seg : str::split(path, '/'))
    if (seg == "..")
      return true;
  return false;
}

bool fail(std::string& err, std::string msg) {
  err = std::move(msg);
  return false;
}

bool repo_part_ok(std::string_view s) {
  if (s.empty() || s.size() > 96)
    return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
      return false;
  return s != "." && s != "..";
}

bool parse_hf(std::string_view rest, StorageUri& u, std::string& err) {
  std::string_view repo = rest, rev;
  auto at = rest.find('@');
  if (at != std::string_view::npos) {
    repo = rest.substr(0, at);
    rev = rest.substr(at + 1);
    if (rev.empty())
      return fail(err, "revision after '@' is empty (use hf://org/repo@main or a commit sha)");
  }
  auto parts = str::split(repo, '/');
  if (parts.size() == 1 && repo_part_ok(parts[0])) {
    u.repo = parts[0];  // canonical models without an org, e.g. hf://gpt2
  } else if (parts.size() == 2 && repo_part_ok(parts[0]) && repo_part_ok(parts[1])) {
    u.repo = std::string(repo);
  } else {
    return fail(err, "expected hf://org/repo[@revision] (letters, digits, '-', '_', '.')");
  }
  u.revision = rev.empty() ? "main" : std::string(rev);
  return true;
}

bool parse_bucket_prefix(std::string_view rest, StorageUri& u, std::string& err, bool allow_region,
                         const char* scheme) {
  auto slash = rest.find('/');
  std::string_view bucket = rest.substr(0, slash);
  std::string_view prefix = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  auto at = bucket.find('@');
  if (at != std::string_view::npos) {
    if (!allow_region)
      return fail(err, std::string("a region ('@') is not allowed in ") + scheme + ":// URIs");
    u.region = std::string(bucket.substr(at + 1));
    bucket = bucket.substr(0, at);
    if (u.region.empty())
      return fail(err, "region after '@' is empty");
  }
  if (bucket.size() < 3 || bucket.size() > 63)
    return fail(err, std::string("bucket name must be 3 to 63 characters: ") + scheme + "://BUCKET[/PREFIX]");
  for (char c : bucket)
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-' ||
          c == '.' || c == '_'))
      return fail(err, "bucket name may contain lowercase letters, digits, '-', '.', '_' only");
  if (has_traversal(prefix))
    return fail(err, "prefix must not contain '..'");
  u.bucket = std::string(bucket);
  u.prefix = std::string(prefix);
  return true;
}

bool parse_oci(std::string_view rest, StorageUri& u, std::string& err) {
  auto parts = str::split(rest, '/');
  // oci://n/{namespace}/b/{bucket}/o/{prefix...}
  if (parts.size() >= 5 && parts[0] == "n" && parts[2] == "b" && parts[4] == "o") {
    if (parts[1].empty() || parts[3].empty())
      return fail(err, "namespace and bucket must not be empty: oci://n/NAMESPACE/b/BUCKET/o/PREFIX");
    u.namespace_ = parts[1];
    u.bucket = parts[3];
    std::vector<std::string> pre(parts.begin() + 5, parts.end());
    u.prefix = str::join(pre, "/");
  } else if (!parts.empty() && parts[0].find('@') != std::string::npos) {
    // oci://{namespace}@{region}/{bucket}/{prefix}
    auto at = parts[0].find('@');
    u.namespace_ = parts[0].substr(0, at);
    u.region = parts[0].substr(at + 1);
    if (parts.size() < 2 || parts[1].empty() || u.namespace_.empty() || u.region.empty())
      return fail(err, "expected oci://NAMESPACE@REGION/BUCKET/PREFIX");
    u.bucket = parts[1];
    std::vector<std::string> pre(parts.begin() + 2, parts.end());
    u.prefix = str::join(pre, "/");
  } else if (parts.size() >= 1 && !parts[0].empty()) {
    // oci://{bucket}/{prefix}
    u.bucket = parts[0];
    std::vector<std::string> pre(parts.begin() + 1, parts.end());
    u.prefix = str::join(pre, "/");
  } else {
    return fail(err, "expected oci://n/NAMESPACE/b/BUCKET/o/PREFIX");
  }
  if (has_traversal(u.prefix))
    return fail(err, "prefix must not contain '..'");
  return true;
}

bool parse_pvc(std::string_view rest, StorageUri& u, std::string& err) {
  auto slash = rest.find('/');
  std::string_view head = rest.substr(0, slash);
  std::string_view sub = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
  auto colon = head.find(':');
  if (colon != std::string_view::npos) {
    u.namespace_ = std::string(head.substr(0, colon));
    head = head.substr(colon + 1);
    if (!is_dns_label(u.namespace_))
      return fail(err, "namespace '" + u.namespace_ + "' is not a valid DNS label");
  }
  if (!is_dns_subdomain(head))
    return fail(err, "claim name '" + std::string(head) + "' is not a valid name: pvc://[NAMESPACE:]CLAIM/SUBPATH");
  if (has_traversal(sub))
    return fail(err, "sub-path must not contain '..'");
  u.claim = std::string(head);
  u.prefix = std::string(sub);
  return true;
}

}  // namespace

std::optional<StorageUri> parse_storage_uri(std::string_view uri, std::string& error) {
  StorageUri u;
  u.raw = std::string(uri);
  if (uri.empty()) {
    error = "storageUri is empty";
    return std::nullopt;
  }
  if (has_bad_chars(uri)) {
    error = "storageUri contains control characters or backslashes";
    return std::nullopt;
  }
  auto sep = uri.find("://");
  if (sep == std::string_view::npos) {
    error = "storageUri has no scheme (expected hf://, s3://, oci://, http(s)://, local://, pvc://, vendor://, ...)";
    return std::nullopt;
  }
  auto scheme = str::lower(uri.substr(0, sep));
  auto rest = uri.substr(sep + 3);
  std::string err;
  bool ok = false;
  if (scheme == "hf") {
    u.type = StorageType::HuggingFace;
    ok = parse_hf(rest, u, err);
  } else if (scheme == "s3") {
    u.type = StorageType::S3;
    ok = parse_bucket_prefix(rest, u, err, true, "s3");
  } else if (scheme == "gs") {
    u.type = StorageType::GCS;
    ok = parse_bucket_prefix(rest, u, err, false, "gs");
  } else if (scheme == "oci") {
    u.type = StorageType::OCI;
    ok = parse_oci(rest, u, err);
  } else if (scheme == "http" || scheme == "https") {
    u.type = StorageType::Http;
    u.url = std::string(uri);
    auto host = rest.substr(0, rest.find('/'));
    ok = !host.empty() || fail(err, "URL has no host");
  } else if (scheme == "local" || scheme == "file") {
    u.type = StorageType::Local;
    u.path = std::string(rest);
    if (u.path.empty())
      ok = fail(err, "path is empty: local:///absolute/path");
    else if (has_traversal(u.path))
      ok = fail(err, "path must not contain '..'");
    else {
      if (u.path.front() != '/')
        u.path = "/" + u.path;  // local://models/x means /models/x, as OME reads it
      ok = true;
    }
  } else if (scheme == "pvc") {
    u.type = StorageType::PVC;
    ok = parse_pvc(rest, u, err);
  } else if (scheme == "vendor") {
    u.type = StorageType::Vendor;
    auto parts = str::split(rest, '/');
    if (parts.size() < 2 || parts[0].empty() || parts[1].empty()) {
      ok = fail(err, "expected vendor://VENDOR/RESOURCE_TYPE/PATH");
    } else {
      u.vendor = parts[0];
      u.resource_type = parts[1];
      std::vector<std::string> pre(parts.begin() + 2, parts.end());
      u.prefix = str::join(pre, "/");
      ok = true;
    }
  } else if (scheme == "az") {
    u.type = StorageType::Azure;
    auto parts = str::split(rest, '/');
    if (parts.size() < 2 || parts[0].empty() || parts[1].empty()) {
      ok = fail(err, "expected az://ACCOUNT[.blob.core.windows.net]/CONTAINER/PATH");
    } else {
      auto acct = parts[0];
      auto dot = acct.find(".blob.core.windows.net");
      u.account = dot == std::string::npos ? acct : acct.substr(0, dot);
      u.container = parts[1];
      std::vector<std::string> pre(parts.begin() + 2, parts.end());
      u.prefix = str::join(pre, "/");
      ok = !has_traversal(u.prefix) || fail(err, "path must not contain '..'");
    }
  } else if (scheme == "github") {
    u.type = StorageType::GitHub;
    std::string_view repo = rest, tag = "latest";
    auto at = rest.find('@');
    if (at != std::string_view::npos) {
      repo = rest.substr(0, at);
      tag = rest.substr(at + 1);
    }
    auto parts = str::split(repo, '/');
    if (parts.size() != 2 || !repo_part_ok(parts[0]) || !repo_part_ok(parts[1]) || tag.empty()) {
      ok = fail(err, "expected github://OWNER/REPO[@TAG]");
    } else {
      u.repo = std::string(repo);
      u.revision = std::string(tag);
      ok = true;
    }
  } else {
    err = "unsupported storage URI scheme '" + scheme +
          "' (supported: hf, s3, oci, http, https, local, file, pvc, vendor, az, gs, github)";
  }
  if (!ok) {
    error = err;
    return std::nullopt;
  }
  return u;
}

std::optional<double> parse_parameter_size(std::string_view s) {
  s = str::trim(s);
  if (s.empty())
    return std::nullopt;
  double mult = 1;
  char last = s.back();
  switch (std::toupper(static_cast<unsigned char>(last))) {
    case 'T': mult = 1e12; s.remove_suffix(1); break;
    case 'B': mult = 1e9; s.remove_suffix(1); break;
    case 'M': mult = 1e6; s.remove_suffix(1); break;
    case 'K': mult = 1e3; s.remove_suffix(1); break;
    default: break;
  }
  if (s.empty())
    return std::nullopt;
  bool dot = false;
  for (char c : s) {
    if (c == '.' && !dot)
      dot = true;
    else if (!std::isdigit(static_cast<unsigned char>(c)))
      return std::nullopt;
  }
  return std::stod(std::string(s)) * mult;
}

std::string format_parameter_count(double n) {
  struct Unit {
    double v;
    const char* s;
  } units[] = {{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "K"}};
  for (auto& u : units) {
    if (n >= u.v) {
      double x = n / u.v;
      char buf[32];
      if (std::fabs(x - std::round(x)) < 1e-9)
        std::snprintf(buf, sizeof buf, "%.0f%s", x, u.s);
      else if (std::fabs(x * 10 - std::round(x * 10)) < 1e-9)
        std::snprintf(buf, sizeof buf, "%.1f%s", x, u.s);
      else
        std::snprintf(buf, sizeof buf, "%.2f%s", x, u.s);
      return buf;
    }
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}

}  // namespace omed::model
