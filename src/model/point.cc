#include "model/point.h"

#include <cstring>

namespace liandu::model {

const char* field_type_name(field_type t) {
  switch (t) {
    case field_type::float64: return "float";
    case field_type::int64: return "integer";
    case field_type::uint64: return "unsigned";
    case field_type::boolean: return "boolean";
    case field_type::string: return "string";
  }
  return "unknown";
}

bool parse_precision(std::string_view text, precision& out) {
  if (text.empty() || text == "ns" || text == "n") {
    out = precision::ns;
  } else if (text == "u" || text == "us" || text == "\xc2\xb5") {
    out = precision::us;
  } else if (text == "ms") {
    out = precision::ms;
  } else if (text == "s") {
    out = precision::s;
  } else if (text == "m") {
    out = precision::m;
  } else if (text == "h") {
    out = precision::h;
  } else {
    return false;
  }
  return true;
}

int64_t precision_multiplier(precision p) {
  switch (p) {
    case precision::ns: return 1;
    case precision::us: return 1000;
    case precision::ms: return 1000000;
    case precision::s: return 1000000000LL;
    case precision::m: return 60LL * 1000000000LL;
    case precision::h: return 3600LL * 1000000000LL;
  }
  return 1;
}

namespace {

// Line protocol escaping: measurement escapes ',' and ' '; tag keys/values
// escape ',', '=' and ' '. Backslashes are kept as they are.
//
// Series keys are built for every point written, so the common case — no
// character needs escaping — is one bulk append of each run between escapes
// rather than a push_back per character.
void append_escaped(std::string& out, std::string_view s, bool escape_equals) {
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == ',' || c == ' ' || (escape_equals && c == '=')) {
      out.append(s.data() + start, i - start);
      out.push_back('\\');
      start = i;  // the special character goes out with the next run
    }
  }
  out.append(s.data() + start, s.size() - start);
}

}  // namespace

void append_series_key(std::string& out, std::string_view measurement, const tag_view* tags, size_t n,
                       bool names_plain) {
  if (names_plain) {
    // One resize and plain copies: appending the 2n + 1 pieces one by one
    // (a capacity check and a call each) was most of the cost of a key.
    size_t len = measurement.size();
    for (size_t i = 0; i < n; ++i) len += 2 + tags[i].key.size() + tags[i].value.size();
    size_t at = out.size();
    out.resize(at + len);
    char* d = out.data() + at;
    auto put = [&d](std::string_view s) {
      if (s.empty()) return;  // data() may be null, which memcpy must not see
      std::memcpy(d, s.data(), s.size());
      d += s.size();
    };
    put(measurement);
    for (size_t i = 0; i < n; ++i) {
      *d++ = ',';
      put(tags[i].key);
      *d++ = '=';
      put(tags[i].value);
    }
    return;
  }
  append_escaped(out, measurement, false);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(',');
    append_escaped(out, tags[i].key, true);
    out.push_back('=');
    append_escaped(out, tags[i].value, true);
  }
}

std::string series_key(std::string_view measurement, const std::vector<tag>& tags) {
  std::vector<tag_view> views;
  views.reserve(tags.size());
  for (const auto& t : tags) views.push_back({t.key, t.value});
  std::string out;
  append_series_key(out, measurement, views.data(), views.size());
  return out;
}

bool parse_series_key(std::string_view key, std::string& measurement, std::vector<tag>& tags) {
  measurement.clear();
  tags.clear();
  std::string cur;
  std::string tag_key;
  int part = 0;  // 0 measurement, 1 tag key, 2 tag value
  for (size_t i = 0; i < key.size(); ++i) {
    char c = key[i];
    if (c == '\\' && i + 1 < key.size() && (key[i + 1] == ',' || key[i + 1] == ' ' || key[i + 1] == '=')) {
      cur.push_back(key[++i]);
      continue;
    }
    if (c == ',') {
      if (part == 0) {
        measurement = std::move(cur);
      } else if (part == 2) {
        tags.push_back({std::move(tag_key), std::move(cur)});
      } else {
        return false;
      }
      cur.clear();
      part = 1;
      continue;
    }
    if (c == '=' && part == 1) {
      tag_key = std::move(cur);
      cur.clear();
      part = 2;
      continue;
    }
    cur.push_back(c);
  }
  if (part == 0) {
    measurement = std::move(cur);
  } else if (part == 2) {
    tags.push_back({std::move(tag_key), std::move(cur)});
  } else {
    return false;
  }
  return true;
}

}  // namespace liandu::model
