#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "storage/column.h"

namespace liandu::storage::block {

struct entry {
  uint32_t series_id = 0;
  std::string field;
  model::field_type type = model::field_type::float64;
  uint32_t count = 0;
  int64_t min_time = 0;
  int64_t max_time = 0;
  uint64_t offset = 0;
  uint32_t times_length = 0;
  uint32_t values_length = 0;
  uint32_t crc = 0;
  // min/max of numeric values (float, integer, unsigned as double): lets a
  // query skip a column whose range cannot match a field condition.
  double min_value = 0;
  double max_value = 0;
};

// An opened block file. Reads only the footer and index at open; a column is
// checksummed and decoded when read(). The file is memory-mapped, so decoding
// reads from the page cache without copies.
//
// Thread safety: immutable after open; read() may be called concurrently.
class block_reader {
 public:
  // Opens a file on disk (mmap) or, for tests and fuzzing, a byte buffer.
  static result<std::unique_ptr<block_reader>> open(const std::string& path);
  static result<std::unique_ptr<block_reader>> open_bytes(std::string bytes);
  ~block_reader();

  const std::vector<entry>& entries() const { return entries_; }
  // The first entry of (series, field) or nullptr. A long column has several
  // consecutive entries in time order: use entries_of().
  const entry* find(uint32_t series_id, std::string_view field) const;
  std::vector<const entry*> entries_of(uint32_t series_id, std::string_view field) const;
  // Calls fn(const entry&) for each entry of (series, field) in time order;
  // entries_of() without building a vector (a query asks once per series).
  template <typename Fn>
  void for_each_entry_of(uint32_t series_id, std::string_view field, Fn&& fn) const {
    auto [lo, hi] = series_range(series_id);
    for (size_t i = lo; i < hi; ++i) {
      if (entries_[i].field == field) fn(entries_[i]);
    }
  }
  // Entries of one series: [first, last).
  std::pair<size_t, size_t> series_range(uint32_t series_id) const;
  // Whether any column of the block has a point in [lo, hi] by the index's
  // min/max times. A checkpoint's block holds the times that arrived since
  // the previous one, so a query over a recent window skips most older
  // blocks here instead of searching each one for each series.
  bool overlaps(int64_t lo, int64_t hi) const {
    return !entries_.empty() && min_time_ <= hi && max_time_ >= lo;
  }
  // Decodes a column and appends it to out (out.type must match or out be empty).
  status read(const entry& e, column& out) const;
  // Decodes only the times of a column (count(), elapsed, ...).
  status read_times(const entry& e, std::vector<int64_t>& out) const;
  size_t file_bytes() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  block_reader() = default;
  status parse();

  std::string path_;
  std::string owned_;  // when opened from bytes
  const char* data_ = nullptr;
  size_t size_ = 0;
  void* map_ = nullptr;
  std::vector<entry> entries_;
  int64_t min_time_ = std::numeric_limits<int64_t>::max();  // over all entries
  int64_t max_time_ = std::numeric_limits<int64_t>::min();
};

}  // namespace liandu::storage::block
