// URL facts the transfer engine decides on: the origin a request goes to (credentials never
// cross origins), redirect targets, and a form of a URL that is safe to show in messages.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace omed::model::transfer {

struct UrlOrigin {
  std::string scheme;  // lowercase
  std::string host;    // lowercase, IPv6 without brackets
  int port = 0;        // explicit or the scheme's default
  bool operator==(const UrlOrigin&) const = default;
  std::string to_string() const;
};

// nullopt for anything but an absolute http(s) URL.
std::optional<UrlOrigin> url_origin(std::string_view url);

// Resolves a Location header against the URL that produced it (relative forms included).
// nullopt when the result is not http(s).
std::optional<std::string> resolve_redirect(std::string_view base, std::string_view location);

// scheme://host[:port]/path without user info, query or fragment: signed URLs carry their
// credentials in the query, and error messages end up in statuses and logs.
std::string redact_url(std::string_view url);

}  // namespace omed::model::transfer
