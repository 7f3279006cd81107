#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace liandu::model {

// The data model is InfluxDB 1.x's: a series is a measurement plus a tag set
// sorted by key; a point is a series, a timestamp (int64 ns since the Unix
// epoch, UTC) and one or more typed fields.

// Field types. The numeric values are part of on-disk formats (WAL, blocks).
enum class field_type : uint8_t {
  float64 = 1,
  int64 = 2,
  uint64 = 3,
  boolean = 4,
  string = 5,
};

const char* field_type_name(field_type t);  // "float", "integer", "unsigned", "boolean", "string"

// Owning field value. Alternative order matches field_type - 1.
using field_value = std::variant<double, int64_t, uint64_t, bool, std::string>;
// Non-owning field value; the string points into a buffer the caller keeps alive.
using field_value_view = std::variant<double, int64_t, uint64_t, bool, std::string_view>;

inline field_type type_of(const field_value& v) { return static_cast<field_type>(v.index() + 1); }
inline field_type type_of(const field_value_view& v) { return static_cast<field_type>(v.index() + 1); }

struct tag {
  std::string key;
  std::string value;
  bool operator==(const tag&) const = default;
};

struct field {
  std::string key;
  field_value value;
  bool operator==(const field&) const = default;
};

struct point {
  std::string measurement;
  std::vector<tag> tags;  // sorted by key, keys unique
  std::vector<field> fields;
  int64_t time = 0;  // ns since epoch
  bool operator==(const point&) const = default;
};

struct tag_view {
  std::string_view key;
  std::string_view value;
};

struct field_view {
  std::string_view key;
  field_value_view value;
};

// A view of an owning field; valid while f lives.
inline field_view view_of(const field& f) {
  field_view v{f.key, 0.0};
  if (const auto* text = std::get_if<std::string>(&f.value)) {
    v.value = std::string_view(*text);
  } else {
    std::visit([&](const auto& x) { v.value = x; }, f.value);
  }
  return v;
}

// Timestamp precision of line protocol and the `epoch` query parameter.
enum class precision { ns, us, ms, s, m, h };

// Parses "ns", "n", "u", "us", "ms", "s", "m", "h" (InfluxDB 1.x and 2.x spellings).
bool parse_precision(std::string_view text, precision& out);
int64_t precision_multiplier(precision p);  // ns per unit

// Canonical series key: the measurement and tags in line-protocol form with
// escaping ("cpu,host=a,region=eu"). Tags must be sorted by key.
std::string series_key(std::string_view measurement, const std::vector<tag>& tags);
// names_plain: the caller knows that no name holds a character that needs
// escaping (',' or ' ', and '=' in tags), so the escape scan is skipped.
void append_series_key(std::string& out, std::string_view measurement, const tag_view* tags, size_t n,
                       bool names_plain = false);

// Splits a canonical series key back into measurement and tags. Returns false
// when the key is malformed.
bool parse_series_key(std::string_view key, std::string& measurement, std::vector<tag>& tags);

}  // namespace liandu::model
