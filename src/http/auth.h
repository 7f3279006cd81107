#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace liandu::http {

// Credentials carried by an Authorization header. InfluxDB 1.8 clients use:
//   "Basic " + base64(user ":" password)    (RFC 7617)
//   "Token " + token                         (v2 API, also "Token user:password" in 1.8)
//   "Bearer " + token
// Scheme names are case-insensitive; surrounding spaces are ignored.

struct basic_credentials {
  std::string user;
  std::string password;
};

// Decodes "Basic <base64>"; nullopt when the header is not Basic auth or the
// base64 or the ':' separator is missing. The password may contain ':'.
std::optional<basic_credentials> parse_basic_auth(std::string_view authorization);

// Returns what follows "<scheme> " when the header uses that scheme, e.g.
// auth_parameter("Token abc", "token") == "abc".
std::optional<std::string_view> auth_parameter(std::string_view authorization, std::string_view scheme);

// Standard base64 (RFC 4648 section 4), padding optional; nullopt on a bad
// character.
std::optional<std::string> base64_decode(std::string_view in);
std::string base64_encode(std::string_view in);

}  // namespace liandu::http
