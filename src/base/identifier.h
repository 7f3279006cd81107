#pragma once

#include <string_view>

namespace liandu {

// The names users give things referred to from other configuration (rule
// ids, webhook receivers): 1 to 128 characters of A-Z a-z 0-9 _ - . :, so
// they fit a URL path segment and a topic level unescaped.
inline constexpr size_t max_identifier_bytes = 128;

inline bool is_identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.' || c == ':';
}

inline bool is_identifier(std::string_view s) {
  if (s.empty() || s.size() > max_identifier_bytes) return false;
  for (char c : s) {
    if (!is_identifier_char(c)) return false;
  }
  return true;
}

}  // namespace liandu
