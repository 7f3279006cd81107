#include "query/executor/result.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <stdexcept>

namespace liandu::query {

row_table::row_table(std::initializer_list<std::initializer_list<value>> rows) {
  for (const auto& r : rows) push_back(r);
}

std::span<const value> row_table::at(size_t r) const {
  if (r >= rows_) throw std::out_of_range("row_table::at: row " + std::to_string(r));
  return (*this)[r];
}

// A row of another width is a bug in the code that builds the result, not
// bad input: it throws rather than pad or cut cells silently.
void row_table::set_width(size_t width) {
  if (rows_ == 0) {
    width_ = width;
  } else if (width != width_) {
    throw std::length_error("row_table: a row of " + std::to_string(width) + " cells in a table of " +
                            std::to_string(width_));
  }
}

void row_table::push_back(std::initializer_list<value> cells) {
  set_width(cells.size());
  cells_.insert(cells_.end(), cells.begin(), cells.end());
  ++rows_;
}

std::span<value> row_table::add_row(size_t width) {
  set_width(width);
  cells_.resize(cells_.size() + width);
  ++rows_;
  return (*this)[rows_ - 1];
}

void row_table::add_rows(size_t n, size_t width) {
  if (n == 0) return;
  set_width(width);
  cells_.resize(cells_.size() + n * width);
  rows_ += n;
}

void row_table::reserve(size_t rows, size_t width) { cells_.reserve(rows * width); }

void row_table::clear() {
  cells_.clear();
  width_ = 0;
  rows_ = 0;
}

void row_table::erase_front(size_t n) {
  n = std::min(n, rows_);
  cells_.erase(cells_.begin(), cells_.begin() + static_cast<std::ptrdiff_t>(n * width_));
  rows_ -= n;
}

void row_table::truncate(size_t n) {
  if (n >= rows_) return;
  cells_.resize(n * width_);
  rows_ = n;
}

void row_table::page(int64_t offset, int64_t limit) {
  if (offset > 0) erase_front(static_cast<size_t>(offset));
  if (limit > 0) truncate(static_cast<size_t>(limit));
}

void row_table::reverse() {
  for (size_t a = 0, b = rows_; a + 1 < b; ++a, --b) {
    std::swap_ranges((*this)[a].begin(), (*this)[a].end(), (*this)[b - 1].begin());
  }
}

void row_table::stable_sort_by_time() {
  if (rows_ < 2 || width_ == 0) return;
  auto time_of = [&](size_t r) {
    const value& v = cells_[r * width_];
    return v.index() == 2 ? std::get<int64_t>(v) : 0;
  };
  std::vector<size_t> order(rows_);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return time_of(a) < time_of(b); });
  std::vector<value> sorted;
  sorted.reserve(cells_.size());
  for (size_t r : order) {
    for (size_t c = 0; c < width_; ++c) sorted.push_back(std::move(cells_[r * width_ + c]));
  }
  cells_ = std::move(sorted);
}

row_table row_table::slice(size_t begin, size_t end) const {
  row_table out;
  end = std::min(end, rows_);
  if (begin >= end) return out;
  out.width_ = width_;
  out.rows_ = end - begin;
  out.cells_.assign(cells_.begin() + static_cast<std::ptrdiff_t>(begin * width_),
                    cells_.begin() + static_cast<std::ptrdiff_t>(end * width_));
  return out;
}

namespace {

// The longest text write_go_float writes ("-0.0000012345678901234567", a
// 21-digit integer, "-1.2345678901234567e-308").
constexpr size_t max_go_float_chars = 40;
char* write_go_float(char* p, double v);

// The JSON text of a cell that is not a string (null, float, integer,
// boolean) into p, at most max_go_float_chars; returns the end.
char* write_json_scalar(char* p, const value& v) {
  switch (v.index()) {
    case 0: return std::copy_n("null", 4, p);
    case 1: return write_go_float(p, std::get<double>(v));
    case 2: return std::to_chars(p, p + 24, std::get<int64_t>(v)).ptr;
    case 3: return std::to_chars(p, p + 24, std::get<uint64_t>(v)).ptr;
    case 4: return std::get<bool>(v) ? std::copy_n("true", 4, p) : std::copy_n("false", 5, p);
  }
  return p;
}

// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

template <typename T>
void append_integer(std::string& out, T v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_time_cell(std::string& out, int64_t ns, const time_format& tf, const time_zone* zone) {
  if (tf.epoch.empty()) {
    out.push_back('"');
    append_rfc3339_nano(out, ns, zone ? zone->offset_at(floor_div(ns, 1000000000)) : 0);
    out.push_back('"');
    return;
  }
  int64_t v = 0;
  if (!convert_epoch(ns, tf.epoch, v)) v = ns;
  append_integer(out, v);
}

void append_series_json(std::string& out, const series_result& s, const time_format& tf) {
  out.push_back('{');
  if (!s.name.empty()) {
    out += "\"name\":";
    append_json_string(out, s.name);
    out.push_back(',');
  }
  if (!s.tags.empty()) {
    out += "\"tags\":{";
    bool first = true;
    for (const auto& [k, v] : s.tags) {
      if (!first) out.push_back(',');
      first = false;
      append_json_string(out, k);
      out.push_back(':');
      append_json_string(out, v);
    }
    out += "},";
  }
  out += "\"columns\":[";
  for (size_t i = 0; i < s.columns.size(); ++i) {
    if (i) out.push_back(',');
    append_json_string(out, s.columns[i]);
  }
  out.push_back(']');
  if (!s.values.empty()) {
    out += ",\"values\":[";
    // Rows of many series at one time (a raw query over many series, rows
    // of one window) repeat their time cell: it is formatted once. Rows are
    // written into a local buffer appended to out when nearly full: a raw
    // response is ~30 bytes a row in a dozen pieces, and appending each to
    // the string (push_back's checks) cost as much as formatting them.
    int64_t cached_time = 0;
    std::string cached_cell;
    bool have_cached = false;
    char buf[16384];
    char* p = buf;
    auto flush = [&] {
      out.append(buf, p);
      p = buf;
    };
    // Makes room for n more bytes in buf.
    auto reserve = [&](size_t n) {
      if (static_cast<size_t>(buf + sizeof buf - p) < n) flush();
    };
    for (size_t r = 0; r < s.values.size(); ++r) {
      const auto& row = s.values[r];
      reserve(2);
      if (r) *p++ = ',';
      *p++ = '[';
      for (size_t c = 0; c < row.size(); ++c) {
        const value& v = row[c];
        if (c == 0 && s.time_column && v.index() == 2) {
          int64_t t = std::get<int64_t>(v);
          if (!have_cached || t != cached_time) {
            cached_cell.clear();
            append_time_cell(cached_cell, t, tf, s.zone.get());
            cached_time = t;
            have_cached = true;
          }
          reserve(cached_cell.size());  // a time cell is a few dozen bytes
          p = std::copy(cached_cell.begin(), cached_cell.end(), p);
          continue;
        }
        reserve(1 + max_go_float_chars);
        if (c) *p++ = ',';
        if (v.index() == 5) {  // strings go to out directly
          flush();
          append_json_string(out, std::get<std::string>(v));
        } else {
          p = write_json_scalar(p, v);
        }
      }
      reserve(1);
      *p++ = ']';
    }
    flush();
    out.push_back(']');
  }
  if (s.partial) out += ",\"partial\":true";
  out.push_back('}');
}

// Go's encoding/csv quoting rule.
void append_csv_field(std::string& out, std::string_view f) {
  bool quote = false;
  if (!f.empty()) {
    if (f == "\\.") quote = true;
    for (char c : f) {
      if (c == ',' || c == '"' || c == '\r' || c == '\n') quote = true;
    }
    if (f[0] == ' ' || f[0] == '\t') quote = true;
  }
  if (!quote) {
    out += f;
    return;
  }
  out.push_back('"');
  for (char c : f) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

void append_csv_row(std::string& out, const std::vector<std::string>& fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out.push_back(',');
    append_csv_field(out, fields[i]);
  }
  out.push_back('\n');
}

std::string csv_value(const value& v) {
  switch (v.index()) {
    case 1: {
      char buf[400];
      auto r = std::to_chars(buf, buf + sizeof buf, std::get<double>(v), std::chars_format::fixed);
      return std::string(buf, r.ptr);
    }
    case 2: return std::to_string(std::get<int64_t>(v));
    case 3: return std::to_string(std::get<uint64_t>(v));
    case 4: return std::get<bool>(v) ? "true" : "false";
    case 5: return std::get<std::string>(v);
    default: return "";
  }
}

void append_escaped_tag(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c == ',' || c == '=' || c == ' ') out.push_back('\\');
    out.push_back(c);
  }
}

}  // namespace

std::string format_rfc3339_nano(int64_t ns, int32_t utc_offset_s) {
  std::string out;
  append_rfc3339_nano(out, ns, utc_offset_s);
  return out;
}

// Written by hand rather than with snprintf: a raw query formats one of these
// per row, and the printf machinery was most of the cost of a response.
void append_rfc3339_nano(std::string& out, int64_t ns, int32_t utc_offset_s) {
  // Seconds and fraction are split before the offset is added: near the ends
  // of the int64 range ns + offset, or secs * 1e9, would overflow.
  int64_t secs = floor_div(ns, 1000000000) + utc_offset_s;
  int64_t frac = ns % 1000000000;
  if (frac < 0) frac += 1000000000;
  int64_t days = floor_div(secs, 86400);
  int64_t sod = secs - days * 86400;
  int64_t y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(days, y, m, d);
  char buf[64];
  char* p = buf;
  auto put2 = [&p](unsigned v) {
    *p++ = static_cast<char>('0' + v / 10);
    *p++ = static_cast<char>('0' + v % 10);
  };
  if (y >= 0 && y <= 9999) {
    put2(static_cast<unsigned>(y / 100));
    put2(static_cast<unsigned>(y % 100));
  } else {
    p += std::snprintf(p, 24, "%04lld", static_cast<long long>(y));
  }
  *p++ = '-';
  put2(m);
  *p++ = '-';
  put2(d);
  *p++ = 'T';
  put2(static_cast<unsigned>(sod / 3600));
  *p++ = ':';
  put2(static_cast<unsigned>(sod / 60 % 60));
  *p++ = ':';
  put2(static_cast<unsigned>(sod % 60));
  if (frac != 0) {
    // Nine digits, trailing zeros dropped.
    *p++ = '.';
    char digits[9];
    for (int i = 8; i >= 0; --i) {
      digits[i] = static_cast<char>('0' + frac % 10);
      frac /= 10;
    }
    int n = 9;
    while (digits[n - 1] == '0') --n;
    for (int i = 0; i < n; ++i) *p++ = digits[i];
  }
  if (utc_offset_s == 0) {
    *p++ = 'Z';
  } else {
    int32_t off = utc_offset_s < 0 ? -utc_offset_s : utc_offset_s;
    *p++ = utc_offset_s < 0 ? '-' : '+';
    put2(static_cast<unsigned>(off / 3600));
    *p++ = ':';
    put2(static_cast<unsigned>(off / 60 % 60));
  }
  out.append(buf, p);
}

namespace {

// Go's float64 text into p, at most max_go_float_chars; returns the end.
char* write_go_float(char* p, double v) {
  char* const end = p + max_go_float_chars;
  if (!std::isfinite(v)) {
    std::memcpy(p, "null", 4);
    return p + 4;
  }
  double a = std::fabs(v);
  if (a != 0 && (a < 1e-6 || a >= 1e21)) {
    // to_chars writes e-07 where Go's encoding/json writes e-7.
    char* e = std::to_chars(p, end, v, std::chars_format::scientific).ptr;
    if (e - p >= 4 && e[-4] == 'e' && e[-3] == '-' && e[-2] == '0') {
      e[-2] = e[-1];
      --e;
    }
    return e;
  }
  // Sensor values mostly carry a few decimals (77.2, 23.45): when v is
  // exactly the double nearest m / 10^k for k <= 3, that decimal is its
  // shortest form, written with integer arithmetic (to_chars' shortest
  // search was a sixth of a raw query). Below 1e9 the spacing of doubles is
  // far under 10^-3, so at most one m rounds to v at each k.
  if (a != 0 && a < 1e9) {
    static constexpr double scale[] = {1, 10, 100, 1000};
    for (int k = 0; k <= 3; ++k) {
      double m = std::nearbyint(v * scale[k]);
      if (m / scale[k] != v) continue;
      int64_t im = static_cast<int64_t>(m);
      if (im < 0) {
        *p++ = '-';
        im = -im;
      }
      int64_t p10 = static_cast<int64_t>(scale[k]);
      p = std::to_chars(p, end, im / p10).ptr;
      if (k > 0) {
        *p++ = '.';
        int64_t frac = im % p10;
        for (int64_t d = p10 / 10; d > 0; d /= 10) *p++ = static_cast<char>('0' + frac / d % 10);
      }
      return p;
    }
  }
  // Below 1e21 the shortest fixed form has at most 21 integer digits, or
  // "0.00000" and 17 significant digits: well inside max_go_float_chars.
  return std::to_chars(p, end, v, std::chars_format::fixed).ptr;
}

}  // namespace

void append_go_float(std::string& out, double v) {
  char buf[max_go_float_chars];
  out.append(buf, write_go_float(buf, v));
}

bool convert_epoch(int64_t ns, std::string_view epoch, int64_t& out) {
  int64_t div = 0;
  if (epoch == "ns" || epoch == "n") {
    div = 1;
  } else if (epoch == "u" || epoch == "us" || epoch == "\xc2\xb5") {
    div = 1000;
  } else if (epoch == "ms") {
    div = 1000000;
  } else if (epoch == "s") {
    div = 1000000000;
  } else if (epoch == "m") {
    div = 60LL * 1000000000;
  } else if (epoch == "h") {
    div = 3600LL * 1000000000;
  } else {
    return false;
  }
  out = ns / div;
  return true;
}

std::string to_json(const std::vector<statement_result>& results, const time_format& tf) {
  // Room for the rows up front: growing a response of megabytes by doubling
  // copies it several times.
  size_t cells = 0;
  for (const auto& r : results) {
    for (const auto& sr : r.series) cells += sr.values.size() * (sr.columns.size() + 1);
  }
  std::string out;
  out.reserve(256 + cells * 16);
  out += "{\"results\":[";
  for (size_t i = 0; i < results.size(); ++i) {
    if (i) out.push_back(',');
    const statement_result& r = results[i];
    out += "{\"statement_id\":" + std::to_string(r.statement_id);
    if (!r.error.empty()) {
      out += ",\"error\":";
      append_json_string(out, r.error);
    } else if (!r.series.empty()) {
      out += ",\"series\":[";
      for (size_t s = 0; s < r.series.size(); ++s) {
        if (s) out.push_back(',');
        append_series_json(out, r.series[s], tf);
      }
      out.push_back(']');
    }
    if (r.partial) out += ",\"partial\":true";
    out.push_back('}');
  }
  out += "]}";
  return out;
}

std::string error_json(std::string_view message) {
  std::string out = "{\"error\":";
  append_json_string(out, message);
  out.push_back('}');
  return out;
}

std::string to_csv(const std::vector<statement_result>& results, const time_format& tf) {
  std::string out;
  int current = -1;
  std::vector<std::string> header;
  for (const statement_result& r : results) {
    if (r.series.empty()) continue;
    const std::vector<std::string>* prev_cols = nullptr;
    for (const series_result& s : r.series) {
      bool new_statement = r.statement_id != current;
      bool cols_changed = prev_cols && *prev_cols != s.columns;
      if (new_statement || cols_changed) {
        if (current >= 0 || cols_changed) out.push_back('\n');
        current = r.statement_id;
        header.assign({"name", "tags"});
        header.insert(header.end(), s.columns.begin(), s.columns.end());
        append_csv_row(out, header);
      }
      prev_cols = &s.columns;
      std::string tags;
      for (const auto& [k, v] : s.tags) {
        if (!tags.empty()) tags.push_back(',');
        append_escaped_tag(tags, k);
        tags.push_back('=');
        append_escaped_tag(tags, v);
      }
      for (const auto& row : s.values) {
        std::vector<std::string> fields{s.name, tags};
        for (size_t c = 0; c < row.size(); ++c) {
          if (c == 0 && s.time_column && row[c].index() == 2) {
            int64_t v = std::get<int64_t>(row[c]);
            if (!tf.epoch.empty()) convert_epoch(v, tf.epoch, v);
            fields.push_back(std::to_string(v));
          } else {
            fields.push_back(csv_value(row[c]));
          }
        }
        append_csv_row(out, fields);
      }
    }
  }
  return out;
}

std::vector<statement_result> split_chunks(const statement_result& r, size_t chunk_size) {
  std::vector<statement_result> out;
  if (chunk_size == 0 || !r.error.empty() || r.series.empty()) {
    out.push_back(r);
    return out;
  }
  for (size_t si = 0; si < r.series.size(); ++si) {
    const series_result& s = r.series[si];
    size_t n = s.values.size();
    size_t start = 0;
    do {
      size_t end = std::min(n, start + chunk_size);
      statement_result part;
      part.statement_id = r.statement_id;
      series_result piece;
      piece.name = s.name;
      piece.tags = s.tags;
      piece.columns = s.columns;
      piece.time_column = s.time_column;
      piece.zone = s.zone;
      piece.values = s.values.slice(start, end);
      piece.partial = end < n;
      part.series.push_back(std::move(piece));
      part.partial = end < n || si + 1 < r.series.size();
      out.push_back(std::move(part));
      start = end;
    } while (start < n);
  }
  return out;
}

}  // namespace liandu::query
