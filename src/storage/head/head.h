#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/column.h"

namespace liandu::storage::head {

// The fields of one series in the head, few per series: a linear search over
// a small vector beats a map here.
struct series_head {
  std::vector<std::pair<std::string, column>> fields;
  column* find(std::string_view field);
  const column* find(std::string_view field) const;
};

// The in-memory head of one partition: points appended since the last flush,
// in arrival order (out-of-order and duplicate times allowed; resolved at
// scan and flush by sort_and_dedup, last write wins).
//
// Visibility: an appended point is visible to scans at once, before the WAL
// fsync completes; it is acknowledged to the writer only after the fsync.
// Thread safety: none; the engine serialises access.
class head {
 public:
  void append(uint32_t series, std::string_view field, const model::field_value_view& v, int64_t time);
  const column* find(uint32_t series, std::string_view field) const;
  // Removes points of a series in [min_time, max_time].
  void delete_range(uint32_t series, int64_t min_time, int64_t max_time);

  bool empty() const { return series_.empty(); }
  size_t memory_bytes() const { return bytes_; }
  size_t point_values() const { return values_; }
  const std::unordered_map<uint32_t, series_head>& series() const { return series_; }

 private:
  std::unordered_map<uint32_t, series_head> series_;
  size_t bytes_ = 0;
  size_t values_ = 0;
};

}  // namespace liandu::storage::head
