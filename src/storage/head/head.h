#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "storage/head/head_column.h"

namespace liandu::storage::head {

// The fields of one series in the head, few per series: a linear search over
// a small vector beats a map here. Field names are ids the head hands out
// (head::field_id), so a series does not keep a copy of each name.
struct series_head {
  struct field {
    uint32_t name;
    head_column col;
  };
  std::vector<field> fields;
  head_column* find(uint32_t name);
  const head_column* find(uint32_t name) const;
};

// The in-memory head of one partition: points appended since the last flush.
// Each column is kept sorted while points come nearly in order; past a
// backfill it holds them in arrival order (out-of-order and duplicate times,
// resolved at scan and flush by sort_and_dedup, last write wins). See
// head_column.h.
//
// Series ids are small and dense (the index hands them out from 1), so the
// head finds a series by indexing pages of 256 slots rather than hashing:
// no hash, no node per series, and WAL replay (one append per value) spends
// its time on the columns. A page exists only where ids were written, so a
// partition that sees a few series of a large database stays small.
//
// Visibility: an appended point is visible to scans at once, before the WAL
// fsync completes; it is acknowledged to the writer only after the fsync.
// Thread safety: none; the engine serialises access.
class head {
 public:
  head() = default;
  head(head&&) = default;
  head& operator=(head&&) = default;

  void append(uint32_t series, std::string_view field, const model::field_value_view& v, int64_t time);
  const head_column* find(uint32_t series, std::string_view field) const;
  // Removes points of a series in [min_time, max_time].
  void delete_range(uint32_t series, int64_t min_time, int64_t max_time);

  // The id of a field name in this head, made on first use (one thread).
  uint32_t field_id(std::string_view name);
  const std::string& field_name(uint32_t id) const { return field_names_[id]; }

  // For appliers that fill disjoint series of one head on several threads
  // (WAL replay, sharded_appender): slot() finds or makes a series' slot
  // and field_id() interns the name (one thread: they may grow the head's
  // tables; slots never move), append_to fills a slot without touching the
  // head's totals and returns the bytes it added, and add_totals folds what
  // the appliers counted back in.
  series_head& slot(uint32_t series);
  static size_t append_to(series_head& s, uint32_t field, const model::field_value_view& v, int64_t time,
                          bool& new_series);
  void add_totals(size_t bytes, size_t values, size_t series) {
    bytes_ += bytes;
    values_ += values;
    series_count_ += series;
  }

  // Prefetch steps for an applier that learns a point's series some points
  // before it appends the point (engine::apply_batch_locked). Each step
  // starts loading what the next one reads: the series' slot, then its field
  // list, then the tails of its columns; called a few points apart in that
  // order they turn the three dependent misses of an append into hits. Read
  // only, and harmless for a series without a slot or data. Always inlined:
  // GCC deletes calls it did not inline to a function whose only effect is
  // a prefetch (it takes them for calls without effects).
  [[gnu::always_inline]] void prefetch_slot(uint32_t series) const {
    size_t p = series / page_slots;
    if (p < pages_.size() && pages_[p]) __builtin_prefetch(&(*pages_[p])[series % page_slots]);
  }
  [[gnu::always_inline]] void prefetch_fields(uint32_t series) const {
    const series_head* s = paged_slot(series);
    if (s != nullptr && !s->fields.empty()) __builtin_prefetch(s->fields.data());
  }
  [[gnu::always_inline]] void prefetch_tails(uint32_t series) const {
    const series_head* s = paged_slot(series);
    if (s == nullptr) return;
    size_t n = std::min<size_t>(s->fields.size(), max_prefetched_fields);
    for (size_t i = 0; i < n; ++i) s->fields[i].col.prefetch_tail();
  }

  bool empty() const { return series_count_ == 0; }
  size_t series_count() const { return series_count_; }
  size_t memory_bytes() const { return bytes_; }
  size_t point_values() const { return values_; }
  // Calls fn(id, series) for every series with data, in increasing id order.
  template <typename Fn>
  void for_each_series(Fn&& fn) const {
    for (size_t p = 0; p < pages_.size(); ++p) {
      if (!pages_[p]) continue;
      for (size_t i = 0; i < page_slots; ++i) {
        const series_head& s = (*pages_[p])[i];
        if (!s.fields.empty()) fn(static_cast<uint32_t>(p * page_slots + i), s);
      }
    }
  }

 private:
  static constexpr size_t page_slots = 256;
  using page = std::array<series_head, page_slots>;

  const series_head* find_series(uint32_t series) const;
  // The series' slot when its page exists (the slot may hold no data).
  [[gnu::always_inline]] const series_head* paged_slot(uint32_t series) const {
    size_t p = series / page_slots;
    return p < pages_.size() && pages_[p] ? &(*pages_[p])[series % page_slots] : nullptr;
  }
  // A series with more fields (a wide line) has its first ones prefetched;
  // past that the prefetches cost more than the misses they would hide.
  static constexpr size_t max_prefetched_fields = 8;
  // The id of a known name, or -1.
  int64_t find_field_id(std::string_view name) const;

  std::vector<std::unique_ptr<page>> pages_;
  // Field names by id; a deque keeps the views in field_ids_ and
  // first_names_ valid. Up to linear_field_names distinct names (a device
  // usually reports a handful) a name is found by comparing with each, past
  // that by hashing.
  static constexpr size_t linear_field_names = 16;
  std::deque<std::string> field_names_;
  // Views of the first names, for the linear search: indexing the deque and
  // comparing std::string with string_view took 71 instructions a point in
  // factory ingest (callgrind), the views 49. The search counts the names
  // by field_ids_.size(), a stored count, where the deque's size() is
  // computed from its node pointers.
  std::array<std::string_view, linear_field_names> first_names_{};
  std::unordered_map<std::string_view, uint32_t> field_ids_;
  size_t series_count_ = 0;
  size_t bytes_ = 0;
  size_t values_ = 0;
};

}  // namespace liandu::storage::head
