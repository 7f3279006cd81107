#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "query/executor/result.h"
#include "query/storage.h"

namespace liandu::query::exec {

// InfluxQL functions by what they do to points:
//  aggregates reduce a window to one value stamped with the window start;
//  selectors pick a point and, alone in a query without GROUP BY time, keep
//    that point's time;
//  multi-row functions (top, bottom, distinct) emit several rows per window;
//  transformations map a point sequence (raw points, or one aggregate per
//    window) to another.
enum class fn : uint8_t {
  count,
  distinct,
  sum,
  mean,
  median,
  mode,
  spread,
  stddev,
  min,
  max,
  first,
  last,
  percentile,
  integral,
  top,
  bottom,
  count_distinct,  // count(distinct(x))
  difference,
  non_negative_difference,
  derivative,
  non_negative_derivative,
  moving_average,
  cumulative_sum,
  elapsed,
};

bool lookup_fn(std::string_view name, fn& out);
bool is_transformation(fn f);
bool is_selector(fn f);   // min max first last percentile top bottom (mode/median are not)
bool is_multi_row(fn f);  // top bottom distinct

inline constexpr size_t no_index = static_cast<size_t>(-1);

// One output point of a function. Selectors also say which point of the
// reduced column they picked (index), so that the executor can output that
// point's other fields and tags; no_index otherwise.
struct out_point {
  int64_t time = 0;
  value v;
  size_t index = no_index;
};

struct fn_args {
  double percentile = 0;
  int64_t n = 0;              // top/bottom count, moving_average window
  int64_t unit = 1000000000;  // integral/derivative/elapsed unit in ns
};

// Reduces column points [begin, end) of one window. `col` is sorted by time.
// Appends the result (one point, several for multi-row functions, none when
// the window has nothing to report). window_time stamps aggregates.
// Returns false when the function does not apply to the column's type.
bool reduce(fn f, const fn_args& a, const column_batch& col, size_t begin, size_t end, int64_t window_time,
            std::vector<out_point>& out);

// integral() under GROUP BY time, as InfluxDB computes it: one pass over the
// time-sorted column by the trapezoidal rule, each window closed at its end by
// linear interpolation to the next point, so the area between two points in
// different windows is split at the window edge (the area across empty
// windows goes to the window of the later point). A window is reported when
// the pass enters it, except a last window whose only point is its start;
// windows without points are not reported (InfluxDB does not fill them).
// window_of gives the start of the window holding a time, window_end_of the
// end of the window with a start. False for non-numeric columns.
bool integral_windows(const column_batch& col, int64_t unit, const std::function<int64_t(int64_t)>& window_of,
                      const std::function<int64_t(int64_t)>& window_end_of, std::vector<out_point>& out);

// Applies a transformation to a time-ordered sequence of non-null points.
// Returns false when the function does not apply to the values' type.
bool transform(fn f, const fn_args& a, const std::vector<out_point>& in, std::vector<out_point>& out);

// Appends col's points [begin, end) as out_points (for transformations of raw points).
void to_points(const column_batch& col, size_t begin, size_t end, std::vector<out_point>& out);

// Stable merge of several time-sorted columns into one; columns whose type
// differs from the first non-empty one are dropped (a field has one type).
// When origin is given it receives, per merged point, the position in cols
// of the column the point came from.
column_batch merge_columns(std::vector<column_batch>& cols, std::vector<uint32_t>* origin = nullptr);
// The order that merges runs by time. times holds the runs one after another
// (run k ends at run_end[k], ascending), each in ascending time; the result
// lists every index of times once, by time, equal times by run and then by
// position: a stable merge, the order a heap of (time, run) gives. When the
// runs share few distinct times (sensors sampled on one clock) it is a
// counting sort over those times, O(n); otherwise a heap, O(n log runs).
std::vector<uint32_t> merge_order(std::span<const int64_t> times, std::span<const size_t> run_end);
// top()/bottom() with tag arguments: among col's points [begin, end), sets
// keep[i] for the point of each group (group[i]) with the greatest (top) or
// least (bottom) value, the earliest on ties, as InfluxDB's max()/min() per
// tag set before top/bottom. False when the column is not numeric.
bool keep_best_per_group(fn f, const column_batch& col, size_t begin, size_t end,
                         const std::vector<uint32_t>& group, std::vector<uint8_t>& keep);
// Keeps the points of col whose index has keep[i] set.
void filter_column(column_batch& col, const std::vector<uint8_t>& keep);
value column_value(const column_batch& col, size_t i);
size_t column_bytes(const column_batch& col);

}  // namespace liandu::query::exec
