// storageUri parsing for every scheme OME accepts (hf, s3, oci, http(s), local, file, pvc, vendor,
// az, gs, github). Syntax only: no network, no filesystem.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace omed::model {

enum class StorageType { HuggingFace, S3, OCI, Http, Local, PVC, Vendor, Azure, GCS, GitHub };

const char* storage_type_name(StorageType t);

struct StorageUri {
  StorageType type = StorageType::Local;
  std::string raw;
  // hf: repo "org/name", revision (default "main")
  // s3/gs: bucket, region (s3 only, optional), prefix
  // oci: namespace_, bucket, prefix, region
  // http: url
  // local/file: path
  // pvc: namespace_ (optional), claim, prefix (sub path)
  // vendor: vendor, resource_type, prefix (path)
  // az: account, container, prefix
  // github: owner + "/" + repo in repo, revision (tag, default "latest")
  std::string repo, revision, bucket, region, prefix, namespace_, url, path, claim, vendor,
    resource_type, account, container;
};

// Parses `uri`; on failure returns nullopt and a message that says what is wrong.
std::optional<StorageUri> parse_storage_uri(std::string_view uri, std::string& error);

// Parameter sizes like "7B", "8.03B", "1.5T", "500M", "70000" (a plain number). Returns the
// count, or nullopt if unparsable.
std::optional<double> parse_parameter_size(std::string_view s);

// OME's formatting: >=1T "T", >=1B "B", >=1M "M", >=1K "K"; integers without decimals, one
// decimal when exact to a tenth... (1.5B, 8.03B, 151.5K).
std::string format_parameter_count(double n);

// A DNS-1123 label (namespace names, claim names).
bool is_dns_label(std::string_view s);
// A DNS-1123 subdomain (object names, bucket-like names).
bool is_dns_subdomain(std::string_view s);

}  // namespace omed::model
