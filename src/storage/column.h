#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/point.h"

namespace liandu::storage {

// The values of one field of one series: parallel vectors of times and
// values. Exactly one value vector is used, chosen by `type`; booleans are
// 0/1 bytes. Used by the head (append order) and by scans (time order).
struct column {
  model::field_type type = model::field_type::float64;
  std::vector<int64_t> times;
  std::vector<double> floats;
  std::vector<int64_t> integers;
  std::vector<uint64_t> unsigneds;
  std::vector<uint8_t> booleans;
  std::vector<std::string> strings;

  size_t size() const { return times.size(); }
  void clear();
  void reserve(size_t n);
  void append_value(const model::field_value_view& v);
  // Appends element i of other (same type).
  void append_from(const column& other, size_t i);
  // Appends all of other (same type), vector by vector.
  void append_all(const column& other);
  // Appends elements [begin, end) of other (same type).
  void append_range(const column& other, size_t begin, size_t end);
  // Keeps elements [begin, end) only.
  void keep_range(size_t begin, size_t end);
  // Sorts by time, keeping the last of equal times (last write wins). Stable:
  // callers append older data first.
  void sort_and_dedup();
  bool is_sorted_unique() const;
  size_t memory_bytes() const;
};

// When a field's type differs between partitions (InfluxDB: shards), a read
// answers in the type of highest precedence any of them holds, InfluxDB's
// order: float, integer, unsigned, string, boolean (smaller ranks first).
int read_precedence(model::field_type t);
// Converts a numeric column's values to numeric type `to` (InfluxDB's casts:
// float → integer truncates); false, and `c` unchanged, unless both types are
// numeric.
bool convert_numeric(column& c, model::field_type to);

}  // namespace liandu::storage
