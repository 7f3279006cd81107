#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/json_string.h"
#include "query/executor/time_zone.h"

namespace liandu::query {

// One cell of a result: null, float, integer, unsigned, boolean or string.
using value = std::variant<std::monostate, double, int64_t, uint64_t, bool, std::string>;

// The rows of a series, flat and row-major: a result of many rows is one
// allocation rather than one vector per row (a raw query of 60,000 rows
// spent about a quarter of its time allocating, moving and freeing per-row
// vectors). Every row has the width of the first; a row is a span of cells.
class row_table {
 public:
  row_table() = default;
  row_table(std::initializer_list<std::initializer_list<value>> rows);

  size_t size() const { return rows_; }
  bool empty() const { return rows_ == 0; }
  size_t width() const { return width_; }
  std::span<const value> operator[](size_t r) const { return {cells_.data() + r * width_, width_}; }
  std::span<value> operator[](size_t r) { return {cells_.data() + r * width_, width_}; }
  std::span<const value> at(size_t r) const;  // throws std::out_of_range
  std::span<const value> back() const { return (*this)[rows_ - 1]; }

  // Appends a row; the first sets the width, later rows must match it.
  void push_back(std::initializer_list<value> cells);
  // Appends a row of `width` null cells to be filled in place.
  std::span<value> add_row(size_t width);
  // Appends n rows of `width` null cells, to be filled in any order.
  void add_rows(size_t n, size_t width);
  void reserve(size_t rows, size_t width);
  void clear();
  void erase_front(size_t n);  // drops the first n rows (all if fewer)
  void truncate(size_t n);     // keeps the first n rows
  // OFFSET then LIMIT, as InfluxQL applies them; 0 or less means none.
  void page(int64_t offset, int64_t limit);
  void reverse();
  // Orders rows by their time cell (column 0, int64), keeping ties in order.
  void stable_sort_by_time();
  row_table slice(size_t begin, size_t end) const;  // rows [begin, end)

  class const_iterator {
   public:
    const_iterator(const row_table* t, size_t r) : t_(t), r_(r) {}
    std::span<const value> operator*() const { return (*t_)[r_]; }
    const_iterator& operator++() {
      ++r_;
      return *this;
    }
    bool operator==(const const_iterator& o) const { return r_ == o.r_; }

   private:
    const row_table* t_;
    size_t r_;
  };
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, rows_}; }

  bool operator==(const row_table& o) const = default;

 private:
  void set_width(size_t width);

  std::vector<value> cells_;
  size_t width_ = 0;
  size_t rows_ = 0;
};

// One series of a result, InfluxDB's "series" object. When time_column is
// set, column 0 is "time" and its cells are int64 ns since the epoch; the
// encoders print them as RFC3339Nano or in the requested epoch precision.
// zone (set by tz() in SELECT) gives RFC3339 times that zone's UTC offset at
// each instant, as InfluxDB does; null prints UTC ("Z").
struct series_result {
  std::string name;
  std::map<std::string, std::string> tags;
  std::vector<std::string> columns;
  row_table values;
  bool time_column = false;
  bool partial = false;
  std::shared_ptr<const time_zone> zone;
};

// The result of one statement: series, or an error text InfluxDB would give.
struct statement_result {
  int statement_id = 0;
  std::vector<series_result> series;
  std::string error;
  bool partial = false;
};

// Output time format. epoch empty = RFC3339Nano (in the series' zone),
// otherwise "ns", "u"/"us"/"µ", "ms", "s", "m", "h" integers.
struct time_format {
  std::string epoch;
};

// {"results":[...]} exactly as InfluxDB 1.8 writes it (compact, Go float
// formatting, HTML-safe string escaping).
std::string to_json(const std::vector<statement_result>& results, const time_format& tf);
// {"error":"..."} for a request-level error such as a parse error.
std::string error_json(std::string_view message);
// InfluxDB's CSV: a header "name,tags,time,..." per statement (and whenever
// the columns change), tags as "k=v,k=v", times as integers.
std::string to_csv(const std::vector<statement_result>& results, const time_format& tf);
// Splits every series into chunks of at most chunk_size rows; all but the
// last chunk of a series are marked partial, as InfluxDB's chunked responses.
std::vector<statement_result> split_chunks(const statement_result& r, size_t chunk_size);

// Helpers, exposed for tests and other encoders.
std::string format_rfc3339_nano(int64_t ns, int32_t utc_offset_s = 0);
void append_rfc3339_nano(std::string& out, int64_t ns, int32_t utc_offset_s = 0);
void append_go_float(std::string& out, double v);  // Go encoding/json float64
using liandu::append_json_string;                  // base/json_string.h
// Converts ns to the epoch unit; false for an unknown unit.
bool convert_epoch(int64_t ns, std::string_view epoch, int64_t& out);

}  // namespace liandu::query
