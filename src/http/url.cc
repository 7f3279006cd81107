#include "http/url.h"

namespace liandu::http {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

result<std::string> percent_decode(std::string_view in, bool plus_as_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      int hi = i + 1 < in.size() ? hex_value(in[i + 1]) : -1;
      int lo = i + 2 < in.size() ? hex_value(in[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return error(errc::parse_error, "invalid URL escape \"" + std::string(in.substr(i, 3)) + "\"");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string percent_encode(std::string_view in) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size());
  for (unsigned char c : in) {
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

result<query_map> parse_query(std::string_view text) {
  query_map out;
  while (!text.empty()) {
    size_t amp = text.find('&');
    std::string_view pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    if (!key) return key.error();
    std::string value;
    if (eq != std::string_view::npos) {
      auto v = percent_decode(pair.substr(eq + 1), true);
      if (!v) return v.error();
      value = std::move(*v);
    }
    out.emplace(std::move(*key), std::move(value));
  }
  return out;
}

result<target_parts> split_target(std::string_view target) {
  size_t q = target.find('?');
  auto path = percent_decode(target.substr(0, q), false);
  if (!path) return path.error();
  target_parts parts;
  parts.path = std::move(*path);
  if (q != std::string_view::npos) {
    auto query = parse_query(target.substr(q + 1));
    if (!query) return query.error();
    parts.query = std::move(*query);
  }
  return parts;
}

}  // namespace liandu::http
