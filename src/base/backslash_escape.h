#pragma once

#include <string>
#include <string_view>

namespace liandu {

// Appends s with backslash, newline (as \n) and, when quote is not '\0',
// that quote character escaped by a backslash: the quoting of InfluxQL
// identifiers ('"') and strings ('\''), and of Prometheus HELP text ('\0')
// and label values ('"').
inline void append_backslash_escaped(std::string& out, std::string_view s, char quote) {
  for (char c : s) {
    if (c == '\\' || (quote != '\0' && c == quote)) {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace liandu
