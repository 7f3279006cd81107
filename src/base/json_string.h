#pragma once

#include <string>
#include <string_view>

namespace liandu {

// Appends s as a JSON string literal, the way Go's encoding/json writes it
// (InfluxDB's responses): ", \ and control characters escaped, <, > and &
// as \u00XX, U+2028/U+2029 escaped, and each invalid UTF-8 byte replaced by
// U+FFFD, so the output is always valid JSON whatever bytes s holds.
void append_json_string(std::string& out, std::string_view s);

}  // namespace liandu
