#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/point.h"
#include "storage/column.h"

namespace liandu::storage::head {

// The points of one field of one series in the head.
//
// Kept in time order, one point per time, while the points come in order or
// nearly so: a point up to kMaxInsertShift places before the end is inserted
// where it belongs, and one with a time already held replaces that point's
// value (last write wins, as a merge would decide). A column written by several
// writers at once (their batches interleave by a few ticks) stays sorted, so
// readers slice it instead of copying and sorting it. A point further back
// (a backfill) is appended at the end and the column is unsorted from then on:
// arrival order, duplicates resolved by readers (column::sort_and_dedup keeps
// the last written), as before.
//
// `column` (six vectors, 152 bytes before any data) is the shape scans and
// blocks work in; the head holds one of these per (series, field) and with a
// million series that fixed cost was most of its memory. This one is 32 bytes:
// times and values share one allocation (times[capacity] then the values as
// 64-bit words: float bits, int64, uint64, 0/1), and only string fields carry
// a vector of strings. Readers copy what they need into a `column`.
//
// At most 2^32 - 1 points (a head flushes long before: that is 64 GiB).
// Thread safety: none; the head's owner serialises access.
class head_column {
 public:
  explicit head_column(model::field_type type) : type_(type) {}
  head_column(head_column&& o) noexcept;
  head_column& operator=(head_column&& o) noexcept;
  head_column(const head_column&) = delete;
  head_column& operator=(const head_column&) = delete;
  ~head_column() = default;

  model::field_type type() const { return type_; }
  size_t size() const { return size_; }
  const int64_t* times() const { return data_.get(); }
  int64_t time(size_t i) const { return data_[i]; }

  // Appends a point of this column's type; returns the heap bytes it added.
  size_t append(int64_t time, const model::field_value_view& v);
  // Appends point i to out (out.type must be this type).
  void append_point_to(column& out, size_t i) const;
  // How far back (points from the end) an out-of-order point is inserted.
  static constexpr uint32_t kMaxInsertShift = 64;

  // Appends the points with lo <= time <= hi, in the column's order.
  void append_range_to(column& out, int64_t lo, int64_t hi) const;
  // Appends every point, in the column's order.
  void append_all_to(column& out) const;
  // Every point as a column of this type, in the column's order.
  column to_column() const;
  // Times strictly increasing. O(1): kept as points arrive.
  bool is_sorted_unique() const { return !unsorted_; }
  // Removes the points with lo <= time <= hi; returns how many.
  size_t erase_range(int64_t lo, int64_t hi);
  size_t memory_bytes() const;
  // Starts loading the lines append() reads and writes next: the last time
  // (compared with the new one) and the slots of the next time and value.
  // With thousands of series per batch these are cache misses at every
  // append; issued a point ahead they overlap with other work. Always inlined
  // (see head::prefetch_slot).
  [[gnu::always_inline]] void prefetch_tail() const {
    if (size_ == 0 || size_ == capacity_) return;  // append() allocates first
    __builtin_prefetch(data_.get() + size_ - 1, 1);
    if (type_ != model::field_type::string) __builtin_prefetch(words() + size_, 1);
  }

 private:
  uint64_t* words() const { return reinterpret_cast<uint64_t*>(data_.get() + capacity_); }
  void grow();
  // Writes v at index i (a slot of the column's capacity); returns the heap
  // bytes a string added.
  size_t set_value(size_t i, const model::field_value_view& v);

  std::unique_ptr<int64_t[]> data_;
  std::unique_ptr<std::vector<std::string>> strings_;  // string fields only
  uint32_t size_ = 0;
  uint32_t capacity_ = 0;
  model::field_type type_;
  bool unsorted_ = false;  // in the padding: the column stays 32 bytes
};

}  // namespace liandu::storage::head
