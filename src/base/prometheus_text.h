#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace liandu::prometheus {

// The Prometheus text exposition format, version 0.0.4, as GET /metrics
// serves it (Content-Type: text/plain; version=0.0.4):
//
//   # HELP liandu_series Series per database.
//   # TYPE liandu_series gauge
//   liandu_series{database="we\"ird\\db"} 2
//   liandu_series{database="plant"} 14
//
// A metric family is one group of lines: HELP and TYPE once, then every
// sample of the family. HELP text escapes backslash and newline as \\ and \n;
// label values escape backslash, double quote and newline as \\, \" and \n.
// Values are integers or floats, NaN, +Inf and -Inf spelled so. A histogram
// `h` is the samples h_bucket{le="<bound>"} (cumulative counts, the last
// le="+Inf"), h_sum and h_count (equal to the +Inf bucket).

enum class metric_type { counter, gauge, histogram, untyped };

// A label of a sample; the value is any bytes (escaped on output), the name
// a label name chosen in code ([a-zA-Z_][a-zA-Z0-9_]*).
struct label {
  std::string_view name;
  std::string_view value;
};

// Writes metric families onto the end of a string, for one scrape on one
// thread. A family's samples may come from several places: opening a family
// again writes no second header and places the samples after its earlier
// ones, so each family stays one group. No allocation beyond the output
// string's own growth and the family table (reserved once).
class text_writer {
 public:
  explicit text_writer(std::string& out);
  text_writer(const text_writer&) = delete;
  text_writer& operator=(const text_writer&) = delete;

  // Makes `name` the family the next samples belong to, writing its HELP
  // (left out when `help` is empty) and TYPE lines the first time the name is
  // seen. `name` is a metric name chosen in code ([a-zA-Z_:][a-zA-Z0-9_:]*);
  // a family opened again keeps the help and type it was opened with.
  void family(std::string_view name, std::string_view help, metric_type type);

  // A sample of the open counter, gauge or untyped family: name{labels} value.
  template <std::integral T>
  void sample(T value, std::initializer_list<label> labels = {}) {
    if constexpr (std::is_signed_v<T>) {
      sample_int(static_cast<int64_t>(value), labels);
    } else {
      sample_uint(static_cast<uint64_t>(value), labels);
    }
  }
  void sample(double value, std::initializer_list<label> labels = {});

  // One histogram of the open histogram family: `counts` holds a count per
  // bucket, not cumulative (counts[i] observations in (bounds[i-1],
  // bounds[i]]), with one more for the +Inf bucket; `sum` the sum of the
  // observed values. Writes the cumulative _bucket lines (`le` after
  // `labels`), _sum, and _count as the total of `counts`.
  void histogram(std::span<const double> bounds, std::span<const uint64_t> counts, double sum,
                 std::initializer_list<label> labels = {});

  // A family of one unlabelled sample.
  template <typename T>
  void counter(std::string_view name, std::string_view help, T value) {
    family(name, help, metric_type::counter);
    sample(value);
  }
  template <typename T>
  void gauge(std::string_view name, std::string_view help, T value) {
    family(name, help, metric_type::gauge);
    sample(value);
  }

 private:
  struct family_slot {
    size_t name_pos;  // where the name sits in out_ (in its first header line)
    size_t name_len;
    size_t end;  // one past its last line in out_
    metric_type type;
  };

  void sample_int(int64_t value, std::initializer_list<label> labels);
  void sample_uint(uint64_t value, std::initializer_list<label> labels);
  // Writes name+suffix{labels,extra} value\n into the open family.
  void write_sample(std::string_view suffix, std::initializer_list<label> labels, const label* extra,
                    std::string_view value);
  // Moves what was appended since `start` to the open family's end when that
  // is not the end of out_, and records the family's new end.
  void place(size_t start);

  std::string& out_;
  std::vector<family_slot> families_;
  size_t open_;  // index into families_, or families_.size() when none is open
};

}  // namespace liandu::prometheus
