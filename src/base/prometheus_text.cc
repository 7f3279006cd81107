#include "base/prometheus_text.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>

#include "base/backslash_escape.h"

namespace liandu::prometheus {

namespace {

// Families a scrape of liandu writes are a few dozen; more only grow the table.
constexpr size_t expected_families = 96;

std::string_view type_name(metric_type t) {
  switch (t) {
    case metric_type::counter: return "counter";
    case metric_type::gauge: return "gauge";
    case metric_type::histogram: return "histogram";
    case metric_type::untyped: return "untyped";
  }
  return "untyped";
}

// A buffer large enough for any value: the shortest round-trip form of a
// double is at most 24 characters, a 64-bit integer 20.
struct value_text {
  char buf[32];
  size_t len = 0;
  std::string_view view() const { return {buf, len}; }
};

value_text format(double v) {
  value_text t;
  std::string_view special;
  if (std::isnan(v)) {
    special = "NaN";
  } else if (std::isinf(v)) {
    special = v > 0 ? "+Inf" : "-Inf";
  }
  if (!special.empty()) {
    std::copy(special.begin(), special.end(), t.buf);
    t.len = special.size();
    return t;
  }
  // Go's strconv.FormatFloat(v, 'g', -1, 64), as Prometheus' own clients
  // write: the shortest digits that read back as v, in exponent form when
  // the exponent is below -4 or at least 6 (0.0005, 2.5, 123456, 1e-05,
  // 1.5e+06), the choice C's %g makes, so bucket bounds keep their `le`.
  auto r = std::to_chars(t.buf, t.buf + sizeof(t.buf), v, std::chars_format::scientific);
  t.len = static_cast<size_t>(r.ptr - t.buf);
  std::string_view sci = t.view();
  int exponent = 0;
  size_t e = sci.find('e');
  const char* exp_begin = sci.data() + e + 1;
  if (*exp_begin == '+') ++exp_begin;
  std::from_chars(exp_begin, sci.data() + sci.size(), exponent);
  if (exponent < -4 || exponent >= 6) return t;
  r = std::to_chars(t.buf, t.buf + sizeof(t.buf), v, std::chars_format::fixed);
  t.len = static_cast<size_t>(r.ptr - t.buf);
  return t;
}

template <typename T>
value_text format_integer(T v) {
  value_text t;
  auto r = std::to_chars(t.buf, t.buf + sizeof(t.buf), v);
  t.len = static_cast<size_t>(r.ptr - t.buf);
  return t;
}

void append_label(std::string& out, const label& l) {
  out.append(l.name);
  out += "=\"";
  append_backslash_escaped(out, l.value, '"');
  out.push_back('"');
}

}  // namespace

text_writer::text_writer(std::string& out) : out_(out), open_(0) { families_.reserve(expected_families); }

void text_writer::family(std::string_view name, std::string_view help, metric_type type) {
  auto is = [&](const family_slot& f) {
    return std::string_view(out_).substr(f.name_pos, f.name_len) == name;
  };
  if (open_ < families_.size() && is(families_[open_])) {
    assert(families_[open_].type == type);
    return;
  }
  for (size_t i = 0; i < families_.size(); ++i) {
    if (is(families_[i])) {
      assert(families_[i].type == type && "a family opened again keeps its type");
      open_ = i;
      return;
    }
  }
  family_slot f{0, name.size(), 0, type};
  if (!help.empty()) {
    out_ += "# HELP ";
    f.name_pos = out_.size();
    out_.append(name);
    out_.push_back(' ');
    append_backslash_escaped(out_, help, '\0');
    out_.push_back('\n');
  }
  out_ += "# TYPE ";
  if (help.empty()) f.name_pos = out_.size();
  out_.append(name);
  out_.push_back(' ');
  out_.append(type_name(type));
  out_.push_back('\n');
  f.end = out_.size();
  open_ = families_.size();
  families_.push_back(f);
}

void text_writer::place(size_t start) {
  family_slot& f = families_[open_];
  size_t added = out_.size() - start;
  if (f.end != start) {
    // The family was opened again after others: rotate the new lines into
    // place and move the families after it along.
    std::rotate(out_.begin() + static_cast<std::ptrdiff_t>(f.end),
                out_.begin() + static_cast<std::ptrdiff_t>(start), out_.end());
    for (size_t i = open_ + 1; i < families_.size(); ++i) {
      families_[i].name_pos += added;
      families_[i].end += added;
    }
  }
  f.end += added;
}

void text_writer::write_sample(std::string_view suffix, std::initializer_list<label> labels,
                               const label* extra, std::string_view value) {
  assert(open_ < families_.size() && "a sample needs a family");
  if (open_ >= families_.size()) return;
  const family_slot& f = families_[open_];
  size_t start = out_.size();
  out_.append(out_, f.name_pos, f.name_len);
  out_.append(suffix);
  if (labels.size() > 0 || extra != nullptr) {
    out_.push_back('{');
    bool first = true;
    for (const label& l : labels) {
      if (!first) out_.push_back(',');
      first = false;
      append_label(out_, l);
    }
    if (extra != nullptr) {
      if (!first) out_.push_back(',');
      append_label(out_, *extra);
    }
    out_.push_back('}');
  }
  out_.push_back(' ');
  out_.append(value);
  out_.push_back('\n');
  place(start);
}

void text_writer::sample(double value, std::initializer_list<label> labels) {
  write_sample({}, labels, nullptr, format(value).view());
}

void text_writer::sample_int(int64_t value, std::initializer_list<label> labels) {
  write_sample({}, labels, nullptr, format_integer(value).view());
}

void text_writer::sample_uint(uint64_t value, std::initializer_list<label> labels) {
  write_sample({}, labels, nullptr, format_integer(value).view());
}

void text_writer::histogram(std::span<const double> bounds, std::span<const uint64_t> counts, double sum,
                            std::initializer_list<label> labels) {
  assert(counts.size() == bounds.size() + 1);
  assert(open_ < families_.size() && families_[open_].type == metric_type::histogram);
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds.size(); ++i) {
    if (i < counts.size()) cumulative += counts[i];
    value_text le = i < bounds.size() ? format(bounds[i]) : format(INFINITY);
    label le_label{"le", le.view()};
    write_sample("_bucket", labels, &le_label, format_integer(cumulative).view());
  }
  write_sample("_sum", labels, nullptr, format(sum).view());
  write_sample("_count", labels, nullptr, format_integer(cumulative).view());
}

}  // namespace liandu::prometheus
