// SELECT execution.
//
// A statement runs per measurement, then per group of series (GROUP BY tags):
//  1. the time range is taken out of WHERE (time > now() - 1h AND ...);
//  2. the remaining condition's tag comparisons become a roaring bitmap of
//     series from the tag_values postings, so series that cannot match are
//     never scanned; a condition that also reads fields is then evaluated per
//     row on the surviving series;
//  3. only the fields the statement names are scanned;
//  4. raw queries merge rows across the group's series by time; count, sum,
//     mean, min and max fold storage batches into per-window state as they
//     arrive (no column is held); other aggregate queries merge each field's
//     column across the series and reduce windows of it with tight loops over
//     the column vectors (functions.cc);
//  5. a selector alone with fields or tags (SELECT max(x), host) outputs the
//     selected point's values of them; top(x, tag, n) keeps one point per
//     tag set before taking the top n;
//  6. with tz('Zone/Name') GROUP BY time windows are computed in local time
//     (time_zone.h) and the result carries the zone for the encoders.
#include <roaring/roaring.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <optional>
#include <set>
#include <type_traits>
#include <unordered_map>

#include "query/executor/functions.h"
#include "query/executor/internal.h"
#include "query/executor/time_zone.h"
#include "query/influxql/parser.h"

namespace liandu::query::exec {

using namespace influxql;

namespace {

std::string fmt_count_error(const std::string& name, const char* expected, size_t got) {
  return "invalid number of arguments for " + name + ", expected " + expected + ", got " +
         std::to_string(got);
}

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// ---------------------------------------------------------------- bitmaps

struct bitmap {
  roaring_bitmap_t* r;
  bitmap() : r(roaring_bitmap_create()) {}
  explicit bitmap(roaring_bitmap_t* x) : r(x) {}
  bitmap(const bitmap&) = delete;
  bitmap& operator=(const bitmap&) = delete;
  bitmap(bitmap&& o) noexcept : r(o.r) { o.r = nullptr; }
  bitmap& operator=(bitmap&& o) noexcept {
    std::swap(r, o.r);
    return *this;
  }
  ~bitmap() {
    if (r) roaring_bitmap_free(r);
  }
  static bitmap range(uint32_t n) {
    bitmap b;
    if (n > 0) roaring_bitmap_add_range(b.r, 0, n);
    return b;
  }
};

// ---------------------------------------------------------------- plans

// The series of a measurement as storage shares them (read-only).
struct series_list {
  std::shared_ptr<const series_set> p = std::make_shared<const series_set>();
  size_t size() const { return p->list().size(); }
  const series_info& operator[](size_t i) const { return p->list()[i]; }
  auto begin() const { return p->list().begin(); }
  auto end() const { return p->list().end(); }
};

struct mplan {
  std::string db, rp, name;
  series_list series;

  // Position of a series id in series, or -1.
  int64_t position_of(uint64_t id) const { return series.p->position_of(id); }
  std::vector<std::string> tag_keys;
  std::map<std::string, model::field_type> fields;
  std::map<std::string, std::vector<std::pair<std::string, std::vector<uint64_t>>>> postings;

  bool is_tag(const std::string& name) const {
    return std::binary_search(tag_keys.begin(), tag_keys.end(), name);
  }
};

bool ref_is_field(const expr& v, const mplan& mp) {
  if (v.type == data_type::tag) return false;
  if (v.type != data_type::unknown) return true;
  return mp.fields.count(v.text) > 0;
}

bool ref_is_tag(const expr& v, const mplan& mp) {
  if (v.type == data_type::tag) return true;
  if (v.type != data_type::unknown) return false;
  // A key that is neither a field nor a tag here is a tag no series carries:
  // it compares as "" (InfluxDB's rule for missing tags).
  return mp.fields.count(v.text) == 0 && v.text != "time";
}

const std::string* series_tag(const series_info& s, const std::string& key) {
  for (const auto& t : s.tags) {
    if (t.key == key) return &t.value;
  }
  return nullptr;
}

// ---------------------------------------------------------------- bound expressions

// An expression bound to one series: tags became literals, fields and calls
// became slots, regexes are compiled. Evaluated per row without lookups.
enum class bkind : uint8_t { literal, field, call, binary, regex };

struct bound {
  bkind kind = bkind::literal;
  value lit;
  size_t slot = 0;
  binary_op op = binary_op::add;
  std::shared_ptr<const liandu::regex> re;
  std::vector<bound> args;
};

struct binder {
  context* ctx = nullptr;
  const mplan* mp = nullptr;
  const series_info* series = nullptr;
  const std::vector<std::string>* field_slots = nullptr;  // names of row slots
  const std::vector<const expr*>* call_slots = nullptr;   // call nodes of aggregate rows
  bool missing_tag_is_empty = true;                       // conditions: "" ; output: null
};

status bind(const expr& e, const binder& b, bound& out) {
  switch (e.kind) {
    case expr_kind::paren: return bind(e.args[0], b, out);
    case expr_kind::integer: out.lit = value(e.integer); return {};
    case expr_kind::duration: out.lit = value(e.integer); return {};
    case expr_kind::number: out.lit = value(e.number); return {};
    case expr_kind::string: out.lit = value(e.text); return {};
    case expr_kind::boolean: out.lit = value(e.boolean); return {};
    case expr_kind::regex: {
      out.kind = bkind::regex;
      auto re = b.ctx->regex(e.text);
      if (!re.ok()) return re.error();
      out.re = *re;
      return {};
    }
    case expr_kind::var_ref: {
      if (b.field_slots) {
        for (size_t i = 0; i < b.field_slots->size(); ++i) {
          if ((*b.field_slots)[i] == e.text && e.type != data_type::tag) {
            out.kind = bkind::field;
            out.slot = i;
            return {};
          }
        }
      }
      if (b.series && (e.type == data_type::tag || e.type == data_type::unknown)) {
        if (const std::string* v = series_tag(*b.series, e.text)) {
          out.lit = value(*v);
          return {};
        }
      }
      if (b.missing_tag_is_empty && b.mp && (e.type == data_type::tag || ref_is_tag(e, *b.mp))) {
        out.lit = value(std::string());
      }
      return {};
    }
    case expr_kind::call: {
      if (b.call_slots) {
        for (size_t i = 0; i < b.call_slots->size(); ++i) {
          if ((*b.call_slots)[i] == &e) {
            out.kind = bkind::call;
            out.slot = i;
            return {};
          }
        }
      }
      return error(errc::invalid_argument, "invalid function call in condition: " + format(e));
    }
    case expr_kind::binary: {
      out.kind = bkind::binary;
      out.op = e.op;
      out.args.resize(2);
      LIANDU_RETURN_IF_ERROR(bind(e.args[0], b, out.args[0]));
      return bind(e.args[1], b, out.args[1]);
    }
    case expr_kind::wildcard: return error(errc::invalid_argument, "unexpected wildcard");
  }
  return {};
}

bool is_num(const value& v) { return v.index() >= 1 && v.index() <= 3; }

double num(const value& v) {
  switch (v.index()) {
    case 1: return std::get<double>(v);
    case 2: return static_cast<double>(std::get<int64_t>(v));
    case 3: return static_cast<double>(std::get<uint64_t>(v));
    default: return 0;
  }
}

bool truthy(const value& v) { return v.index() == 4 && std::get<bool>(v); }

value eval(const bound& b, const value* fields, const value* calls);

value eval_binary(const bound& b, const value* fields, const value* calls) {
  binary_op op = b.op;
  if (op == binary_op::and_) {
    return value(truthy(eval(b.args[0], fields, calls)) && truthy(eval(b.args[1], fields, calls)));
  }
  if (op == binary_op::or_) {
    return value(truthy(eval(b.args[0], fields, calls)) || truthy(eval(b.args[1], fields, calls)));
  }
  value l = eval(b.args[0], fields, calls);
  if (op == binary_op::eq_regex || op == binary_op::neq_regex) {
    const bound& r = b.args[1];
    if (l.index() != 5 || r.kind != bkind::regex) return value(false);
    bool m = r.re->search(std::get<std::string>(l));
    return value(op == binary_op::eq_regex ? m : !m);
  }
  value r = eval(b.args[1], fields, calls);
  if (is_comparison(op)) {
    int c = 0;
    if (is_num(l) && is_num(r)) {
      if (l.index() == 2 && r.index() == 2) {
        int64_t x = std::get<int64_t>(l), y = std::get<int64_t>(r);
        c = x < y ? -1 : (x > y ? 1 : 0);
      } else {
        double x = num(l), y = num(r);
        if (std::isnan(x) || std::isnan(y)) return value(false);
        c = x < y ? -1 : (x > y ? 1 : 0);
      }
    } else if (l.index() == 5 && r.index() == 5) {
      int k = std::get<std::string>(l).compare(std::get<std::string>(r));
      c = k < 0 ? -1 : (k > 0 ? 1 : 0);
    } else if (l.index() == 4 && r.index() == 4) {
      if (op != binary_op::eq && op != binary_op::neq) return value(false);
      c = std::get<bool>(l) == std::get<bool>(r) ? 0 : 1;
    } else {
      return value(false);
    }
    return value(influxql::comparison_holds(op, c));
  }
  // Arithmetic.
  if (l.index() == 4 && r.index() == 4) {
    bool x = std::get<bool>(l), y = std::get<bool>(r);
    switch (op) {
      case binary_op::bit_and: return value(x && y);
      case binary_op::bit_or: return value(x || y);
      case binary_op::bit_xor: return value(x != y);
      default: return value();
    }
  }
  if (!is_num(l) || !is_num(r)) return value();
  if (l.index() == 2 && r.index() == 2) {
    int64_t x = std::get<int64_t>(l), y = std::get<int64_t>(r);
    switch (op) {
      case binary_op::add:
        return value(static_cast<int64_t>(static_cast<uint64_t>(x) + static_cast<uint64_t>(y)));
      case binary_op::sub:
        return value(static_cast<int64_t>(static_cast<uint64_t>(x) - static_cast<uint64_t>(y)));
      case binary_op::mul:
        return value(static_cast<int64_t>(static_cast<uint64_t>(x) * static_cast<uint64_t>(y)));
      case binary_op::div:
        return y == 0 ? value(0.0) : value(static_cast<double>(x) / static_cast<double>(y));
      case binary_op::mod:
        if (y == 0 || (x == std::numeric_limits<int64_t>::min() && y == -1)) return value(int64_t{0});
        return value(x % y);
      case binary_op::bit_and: return value(x & y);
      case binary_op::bit_or: return value(x | y);
      case binary_op::bit_xor: return value(x ^ y);
      default: return value();
    }
  }
  double x = num(l), y = num(r);
  switch (op) {
    case binary_op::add: return value(x + y);
    case binary_op::sub: return value(x - y);
    case binary_op::mul: return value(x * y);
    case binary_op::div: return y == 0 ? value(0.0) : value(x / y);
    case binary_op::mod: return y == 0 ? value(0.0) : value(std::fmod(x, y));
    default: return value();
  }
}

value eval(const bound& b, const value* fields, const value* calls) {
  switch (b.kind) {
    case bkind::literal: return b.lit;
    case bkind::field: return fields[b.slot];
    case bkind::call: return calls[b.slot];
    case bkind::binary: return eval_binary(b, fields, calls);
    case bkind::regex: return value();
  }
  return value();
}

// ---------------------------------------------------------------- time

status eval_time(const expr& e, int64_t now, int64_t& out, bool& is_duration) {
  is_duration = false;
  switch (e.kind) {
    case expr_kind::paren: return eval_time(e.args[0], now, out, is_duration);
    case expr_kind::call:
      if (e.text == "now" && e.args.empty()) {
        out = now;
        return {};
      }
      return error(errc::invalid_argument, "invalid function call in time condition: " + format(e));
    case expr_kind::string:
      if (!parse_time_string(e.text, out)) {
        return error(errc::invalid_argument, "invalid timestamp string: " + e.text);
      }
      return {};
    case expr_kind::integer: out = e.integer; return {};
    case expr_kind::number: out = static_cast<int64_t>(e.number); return {};
    case expr_kind::duration:
      out = e.integer;
      is_duration = true;
      return {};
    case expr_kind::binary: {
      if (e.op != binary_op::add && e.op != binary_op::sub) break;
      int64_t l = 0, r = 0;
      bool ld = false, rd = false;
      LIANDU_RETURN_IF_ERROR(eval_time(e.args[0], now, l, ld));
      LIANDU_RETURN_IF_ERROR(eval_time(e.args[1], now, r, rd));
      out = e.op == binary_op::add ? l + r : l - r;
      is_duration = ld && rd;
      return {};
    }
    default: break;
  }
  return error(errc::invalid_argument, "invalid time expression: " + format(e));
}

bool is_time_ref(const expr& e) { return e.kind == expr_kind::var_ref && e.text == "time"; }

bool mentions_time(const expr& e) {
  if (is_time_ref(e)) return true;
  for (const auto& a : e.args) {
    if (mentions_time(a)) return true;
  }
  return false;
}

// Takes the time comparisons out of an AND tree into [lo, hi], replacing
// them by `true`.
status extract_time(expr& e, int64_t now, int64_t& lo, int64_t& hi) {
  if (e.kind == expr_kind::paren) return extract_time(e.args[0], now, lo, hi);
  if (e.kind != expr_kind::binary) return {};
  if (e.op == binary_op::and_) {
    LIANDU_RETURN_IF_ERROR(extract_time(e.args[0], now, lo, hi));
    return extract_time(e.args[1], now, lo, hi);
  }
  if (e.op == binary_op::or_) {
    if (mentions_time(e)) return error(errc::invalid_argument, "invalid condition: OR with time");
    return {};
  }
  if (!is_comparison(e.op)) return {};
  bool left = is_time_ref(e.args[0]);
  bool right = is_time_ref(e.args[1]);
  if (!left && !right) return {};
  binary_op op = e.op;
  const expr& other = left ? e.args[1] : e.args[0];
  if (right) {
    switch (op) {
      case binary_op::lt: op = binary_op::gt; break;
      case binary_op::lte: op = binary_op::gte; break;
      case binary_op::gt: op = binary_op::lt; break;
      case binary_op::gte: op = binary_op::lte; break;
      default: break;
    }
  }
  int64_t t = 0;
  bool dur = false;
  LIANDU_RETURN_IF_ERROR(eval_time(other, now, t, dur));
  switch (op) {
    case binary_op::gt: lo = std::max(lo, t == std::numeric_limits<int64_t>::max() ? t : t + 1); break;
    case binary_op::gte: lo = std::max(lo, t); break;
    case binary_op::lt: hi = std::min(hi, t == std::numeric_limits<int64_t>::min() ? t : t - 1); break;
    case binary_op::lte: hi = std::min(hi, t); break;
    case binary_op::eq:
      lo = std::max(lo, t);
      hi = std::min(hi, t);
      break;
    default:
      return error(errc::invalid_argument,
                   "invalid time comparison operator: " + std::string(binary_op_text(op)));
  }
  expr yes;
  yes.kind = expr_kind::boolean;
  yes.boolean = true;
  e = yes;
  return {};
}

// ---------------------------------------------------------------- series filter

// True when the condition only compares tags with strings/regexes (and
// constants): then the bitmap of series is exact and no row needs evaluating.
bool tag_only(const expr& e, const mplan& mp) {
  switch (e.kind) {
    case expr_kind::paren: return tag_only(e.args[0], mp);
    case expr_kind::boolean: return true;
    case expr_kind::binary: {
      if (e.op == binary_op::and_ || e.op == binary_op::or_)
        return tag_only(e.args[0], mp) && tag_only(e.args[1], mp);
      if (!is_comparison(e.op)) return false;
      const expr& l = e.args[0];
      const expr& r = e.args[1];
      auto lit = [](const expr& x) { return x.kind == expr_kind::string || x.kind == expr_kind::regex; };
      return (l.kind == expr_kind::var_ref && ref_is_tag(l, mp) && lit(r)) ||
             (r.kind == expr_kind::var_ref && ref_is_tag(r, mp) && lit(l));
    }
    default: return false;
  }
}

status postings_of(context& ctx, mplan& mp, const std::string& key,
                   const std::vector<std::pair<std::string, std::vector<uint64_t>>>*& out) {
  auto it = mp.postings.find(key);
  if (it == mp.postings.end()) {
    auto r = ctx.s->tag_values(mp.db, mp.name, key);
    if (!r.ok()) return r.error();
    it = mp.postings.emplace(key, std::move(*r)).first;
  }
  out = &it->second;
  return {};
}

// The series (positions in mp.series) that can satisfy cond. Exact for the
// tag comparisons; anything else may match any series.
status filter_series(context& ctx, mplan& mp, const expr& e, bitmap& out) {
  uint32_t n = static_cast<uint32_t>(mp.series.size());
  switch (e.kind) {
    case expr_kind::paren: return filter_series(ctx, mp, e.args[0], out);
    case expr_kind::boolean: out = e.boolean ? bitmap::range(n) : bitmap(); return {};
    case expr_kind::binary: {
      if (e.op == binary_op::and_ || e.op == binary_op::or_) {
        bitmap l, r;
        LIANDU_RETURN_IF_ERROR(filter_series(ctx, mp, e.args[0], l));
        LIANDU_RETURN_IF_ERROR(filter_series(ctx, mp, e.args[1], r));
        if (e.op == binary_op::and_) {
          roaring_bitmap_and_inplace(l.r, r.r);
        } else {
          roaring_bitmap_or_inplace(l.r, r.r);
        }
        out = std::move(l);
        return {};
      }
      if (!tag_only(e, mp)) break;
      bool tag_left = e.args[0].kind == expr_kind::var_ref;
      const expr& tag = tag_left ? e.args[0] : e.args[1];
      const expr& lit = tag_left ? e.args[1] : e.args[0];
      binary_op op = e.op;
      if (!tag_left) {
        switch (op) {
          case binary_op::lt: op = binary_op::gt; break;
          case binary_op::lte: op = binary_op::gte; break;
          case binary_op::gt: op = binary_op::lt; break;
          case binary_op::gte: op = binary_op::lte; break;
          default: break;
        }
      }
      std::shared_ptr<const liandu::regex> re;
      if (lit.kind == expr_kind::regex) {
        if (op != binary_op::eq_regex && op != binary_op::neq_regex) {
          out = bitmap();
          return {};
        }
        auto compiled = ctx.regex(lit.text);
        if (!compiled.ok()) return compiled.error();
        re = *compiled;
      } else if (op == binary_op::eq_regex || op == binary_op::neq_regex) {
        out = bitmap();
        return {};
      }
      if (!re && op == binary_op::eq && !lit.text.empty()) {
        // tag = 'v': one posting list, not every value of the tag.
        auto ids = ctx.s->series_with_tag(mp.db, mp.name, tag.text, lit.text);
        if (!ids.ok()) return ids.error();
        bitmap hit;
        for (uint64_t id : *ids) {
          int64_t pos = mp.position_of(id);
          if (pos >= 0) roaring_bitmap_add(hit.r, static_cast<uint32_t>(pos));
        }
        out = std::move(hit);
        return {};
      }
      auto matches = [&](const std::string& v) {
        if (re) {
          bool m = re->search(v);
          return op == binary_op::eq_regex ? m : !m;
        }
        return influxql::comparison_holds(op, v.compare(lit.text));
      };
      const std::vector<std::pair<std::string, std::vector<uint64_t>>>* pv = nullptr;
      LIANDU_RETURN_IF_ERROR(postings_of(ctx, mp, tag.text, pv));
      bitmap hit, present;
      for (const auto& [v, ids] : *pv) {
        bool m = matches(v);
        for (uint64_t id : ids) {
          int64_t pos = mp.position_of(id);
          if (pos < 0) continue;
          roaring_bitmap_add(present.r, static_cast<uint32_t>(pos));
          if (m) roaring_bitmap_add(hit.r, static_cast<uint32_t>(pos));
        }
      }
      if (matches(std::string())) {
        bitmap missing = bitmap::range(n);
        roaring_bitmap_andnot_inplace(missing.r, present.r);
        roaring_bitmap_or_inplace(hit.r, missing.r);
      }
      out = std::move(hit);
      return {};
    }
    default: break;
  }
  out = bitmap::range(n);
  return {};
}

void collect_field_refs(const expr& e, const mplan& mp, std::set<std::string>& out) {
  if (e.kind == expr_kind::var_ref) {
    if (ref_is_field(e, mp)) out.insert(e.text);
    return;
  }
  for (const auto& a : e.args) collect_field_refs(a, mp, out);
}

// ---------------------------------------------------------------- reading

status read_column(context& ctx, const mplan& mp, const series_info& s, const std::string& field, int64_t lo,
                   int64_t hi, column_batch& out) {
  out = column_batch{};
  bool typed = false;
  bool over = false;
  status st = ctx.s->scan(mp.db, mp.rp, s.id, field, lo, hi, [&](const column_batch& b) {
    if (b.size() == 0) return true;
    if (!typed) {
      out.type = b.type;
      typed = true;
    } else if (b.type != out.type) {
      return true;  // a field has one type; points of another are not part of it
    }
    if (!ctx.charge(column_bytes(b))) {
      over = true;
      return false;
    }
    out.times.insert(out.times.end(), b.times.begin(), b.times.end());
    out.floats.insert(out.floats.end(), b.floats.begin(), b.floats.end());
    out.integers.insert(out.integers.end(), b.integers.begin(), b.integers.end());
    out.unsigneds.insert(out.unsigneds.end(), b.unsigneds.begin(), b.unsigneds.end());
    out.booleans.insert(out.booleans.end(), b.booleans.begin(), b.booleans.end());
    out.strings.insert(out.strings.end(), b.strings.begin(), b.strings.end());
    return true;
  });
  if (over) return error(errc::limit_exceeded, memory_limit_error);
  return st;
}

// The newest (oldest) point of a series' field in [lo, hi] as a column of at
// most one point: what read_column's column ends with (starts with).
status read_edge(context& ctx, const mplan& mp, const series_info& s, const std::string& field, int64_t lo,
                 int64_t hi, bool newest, column_batch& out) {
  LIANDU_RETURN_IF_ERROR(ctx.s->scan_edge(mp.db, mp.rp, s.id, field, lo, hi, newest, out));
  if (!ctx.charge(column_bytes(out))) return error(errc::limit_exceeded, memory_limit_error);
  return {};
}

// Aligns several columns of one series on their timestamps: the union of
// times, and per column the value at each time (null where absent).
struct aligned_rows {
  std::vector<int64_t> times;
  std::vector<std::vector<value>> cols;  // cols[c][row]
};

void align(const std::vector<column_batch>& cols, aligned_rows& out) {
  std::vector<int64_t> times;
  for (const auto& c : cols) times.insert(times.end(), c.times.begin(), c.times.end());
  // One column's times are already in order and distinct.
  if (cols.size() > 1) {
    std::sort(times.begin(), times.end());
    times.erase(std::unique(times.begin(), times.end()), times.end());
  }
  out.times = times;
  out.cols.assign(cols.size(), std::vector<value>(times.size()));
  for (size_t c = 0; c < cols.size(); ++c) {
    size_t r = 0;
    for (size_t i = 0; i < cols[c].size(); ++i) {
      while (times[r] < cols[c].times[i]) ++r;
      out.cols[c][r] = column_value(cols[c], i);
    }
  }
}

// ---------------------------------------------------------------- statement analysis

struct call_plan {
  const expr* node = nullptr;  // the outermost function call of a column
  fn f = fn::count;
  fn_args args;
  std::string field;    // field the innermost function reads
  bool nested = false;  // transformation of an aggregate
  fn inner = fn::count;
  fn_args inner_args;
  std::vector<std::string> tags;  // top()/bottom() tag arguments: one point per tag set
};

struct column_plan {
  expr e;
  std::string name;
};

std::string field_name(const expr& e) {
  switch (e.kind) {
    case expr_kind::call: return e.text;
    case expr_kind::var_ref: return e.text;
    case expr_kind::paren: return field_name(e.args[0]);
    case expr_kind::binary: {
      std::string l = field_name(e.args[0]);
      std::string r = field_name(e.args[1]);
      if (l.empty()) return r;
      if (r.empty()) return l;
      return l + "_" + r;
    }
    default: return "";
  }
}

bool has_call(const expr& e) {
  if (e.kind == expr_kind::call) return true;
  for (const auto& a : e.args) {
    if (has_call(a)) return true;
  }
  return false;
}

bool has_var_outside_call(const expr& e) {
  if (e.kind == expr_kind::var_ref || e.kind == expr_kind::wildcard) return true;
  if (e.kind == expr_kind::call) return false;
  for (const auto& a : e.args) {
    if (has_var_outside_call(a)) return true;
  }
  return false;
}

status duration_arg(const expr& call, size_t i, int64_t& out) {
  const expr& a = call.args[i];
  if (a.kind != expr_kind::duration || a.integer <= 0) {
    return error(errc::invalid_argument, "second argument to " + call.text + " must be a duration");
  }
  out = a.integer;
  return {};
}

status plan_aggregate(const expr& c, call_plan& p) {
  if (!lookup_fn(c.text, p.f)) return error(errc::invalid_argument, "undefined function " + c.text + "()");
  const std::string& name = c.text;
  size_t n = c.args.size();
  auto field_arg = [&](const expr& a) -> status {
    if (a.kind != expr_kind::var_ref)
      return error(errc::invalid_argument, "expected field argument in " + name + "()");
    p.field = a.text;
    return {};
  };
  switch (p.f) {
    case fn::percentile: {
      if (n != 2) return error(errc::invalid_argument, fmt_count_error(name, "2", n));
      LIANDU_RETURN_IF_ERROR(field_arg(c.args[0]));
      const expr& a = c.args[1];
      if (a.kind == expr_kind::integer) {
        p.args.percentile = static_cast<double>(a.integer);
      } else if (a.kind == expr_kind::number) {
        p.args.percentile = a.number;
      } else {
        return error(errc::invalid_argument, "expected float argument in percentile()");
      }
      return {};
    }
    case fn::top:
    case fn::bottom: {
      if (n < 2) return error(errc::invalid_argument, fmt_count_error(name, "at least 2", n));
      const expr& last = c.args.back();
      if (last.kind != expr_kind::integer) {
        return error(errc::invalid_argument,
                     "expected integer as last argument in " + name + "(), found " + format(last));
      }
      if (c.args[0].kind != expr_kind::var_ref) {
        return error(errc::invalid_argument,
                     "only fields or tags are allowed in " + name + "(), found " + format(c.args[0]));
      }
      for (size_t i = 1; i + 1 < n; ++i) {
        if (c.args[i].kind != expr_kind::var_ref) {
          return error(errc::invalid_argument,
                       "only fields or tags are allowed in " + name + "(), found " + format(c.args[i]));
        }
        p.tags.push_back(c.args[i].text);
      }
      p.field = c.args[0].text;
      p.args.n = last.integer;
      if (p.args.n <= 0)
        return error(errc::invalid_argument,
                     "limit (" + std::to_string(p.args.n) + ") in " + name + " function must be at least 1");
      return {};
    }
    case fn::integral: {
      if (n < 1 || n > 2)
        return error(errc::invalid_argument, fmt_count_error(name, "at least 1 but no more than 2", n));
      LIANDU_RETURN_IF_ERROR(field_arg(c.args[0]));
      if (n == 2) LIANDU_RETURN_IF_ERROR(duration_arg(c, 1, p.args.unit));
      return {};
    }
    case fn::count:
      if (n != 1) return error(errc::invalid_argument, fmt_count_error(name, "1", n));
      if (c.args[0].kind == expr_kind::call && c.args[0].text == "distinct") {
        const expr& d = c.args[0];
        if (d.args.size() != 1)
          return error(errc::invalid_argument, "count(distinct <field>) can only have one argument");
        p.f = fn::count_distinct;
        return field_arg(d.args[0]);
      }
      return field_arg(c.args[0]);
    case fn::distinct:
      if (n == 0) return error(errc::invalid_argument, "distinct function requires at least one argument");
      if (n != 1) return error(errc::invalid_argument, "distinct function can only have one argument");
      return field_arg(c.args[0]);
    default:
      if (is_transformation(p.f)) return error(errc::invalid_argument, "invalid nested call " + name + "()");
      if (n != 1) return error(errc::invalid_argument, fmt_count_error(name, "1", n));
      return field_arg(c.args[0]);
  }
}

status plan_call(const expr& c, bool has_interval, call_plan& p) {
  p.node = &c;
  fn f;
  if (!lookup_fn(c.text, f)) return error(errc::invalid_argument, "undefined function " + c.text + "()");
  if (!is_transformation(f)) return plan_aggregate(c, p);
  p.f = f;
  const std::string& name = c.text;
  size_t n = c.args.size();
  switch (f) {
    case fn::derivative:
    case fn::non_negative_derivative:
    case fn::elapsed:
      if (n < 1 || n > 2)
        return error(errc::invalid_argument, fmt_count_error(name, "at least 1 but no more than 2", n));
      if (n == 2) LIANDU_RETURN_IF_ERROR(duration_arg(c, 1, p.args.unit));
      break;
    case fn::moving_average:
      if (n != 2) return error(errc::invalid_argument, fmt_count_error(name, "2", n));
      if (c.args[1].kind != expr_kind::integer || c.args[1].integer < 1) {
        return error(errc::invalid_argument,
                     "second argument for moving_average must be an integer greater than 0");
      }
      p.args.n = c.args[1].integer;
      break;
    default:
      if (n != 1) return error(errc::invalid_argument, fmt_count_error(name, "1", n));
      break;
  }
  const expr& a = c.args[0];
  if (a.kind == expr_kind::call) {
    if (!has_interval) return error(errc::invalid_argument, name + " aggregate requires a GROUP BY interval");
    call_plan inner;
    LIANDU_RETURN_IF_ERROR(plan_aggregate(a, inner));
    p.nested = true;
    p.inner = inner.f;
    p.inner_args = inner.args;
    p.field = inner.field;
  } else {
    if (has_interval)
      return error(errc::invalid_argument, "aggregate function required inside the call to " + name);
    if (a.kind != expr_kind::var_ref)
      return error(errc::invalid_argument, "expected field argument in " + name + "()");
    p.field = a.text;
  }
  if (f == fn::derivative || f == fn::non_negative_derivative) {
    if (n == 1) p.args.unit = 0;  // filled with the GROUP BY interval or 1s later
  }
  if (f == fn::elapsed && n == 1) p.args.unit = 1;
  return {};
}

void collect_calls(const expr& e, std::vector<const expr*>& out) {
  if (e.kind == expr_kind::call) {
    out.push_back(&e);
    return;
  }
  for (const auto& a : e.args) collect_calls(a, out);
}

// ---------------------------------------------------------------- execution

struct statement_plan {
  const select_statement* stmt = nullptr;
  std::vector<column_plan> columns;
  bool aggregate = false;
  int64_t lo = min_time, hi = max_time;
  bool hi_given = false;
  int64_t interval = 0, offset = 0;
  std::optional<expr> cond;  // without the time comparisons
  bool group_all_tags = false;
  std::vector<std::string> group_tags;         // explicit GROUP BY tag names
  std::vector<std::string> group_tag_regexes;  // GROUP BY /re/
  std::vector<call_plan> calls;
  std::vector<const expr*> call_nodes;
  std::shared_ptr<const time_zone> zone;  // tz(); null = UTC
  // One selector with fields or tags beside it (SELECT max(x), host): those
  // columns (bare var_refs) take the values of the selected point.
  bool aux = false;
};

std::vector<std::string> group_keys_for(context& ctx, const statement_plan& sp, const mplan& mp) {
  std::set<std::string> keys(sp.group_tags.begin(), sp.group_tags.end());
  if (sp.group_all_tags) keys.insert(mp.tag_keys.begin(), mp.tag_keys.end());
  for (const auto& pattern : sp.group_tag_regexes) {
    auto compiled = ctx.regex(pattern);  // checked when the plan was made
    if (!compiled.ok()) continue;
    const auto& re = *compiled;
    for (const auto& k : mp.tag_keys) {
      if (re->search(k)) keys.insert(k);
    }
  }
  return std::vector<std::string>(keys.begin(), keys.end());
}

void apply_fill(const select_statement& st, std::vector<out_point>& rows, bool is_count) {
  fill_option fill = st.fill;
  if (fill == fill_option::null && is_count) {
    for (auto& r : rows) {
      if (r.v.index() == 0) r.v = value(int64_t{0});
    }
    return;
  }
  switch (fill) {
    case fill_option::null: return;
    case fill_option::none: std::erase_if(rows, [](const out_point& p) { return p.v.index() == 0; }); return;
    case fill_option::number: {
      value fv;
      if (st.fill_value && st.fill_value->kind == expr_kind::integer) {
        fv = value(st.fill_value->integer);
      } else if (st.fill_value) {
        fv = value(st.fill_value->number);
      }
      for (auto& r : rows) {
        if (r.v.index() != 0) continue;
        r.v = fv;
      }
      return;
    }
    case fill_option::previous: {
      value prev;
      for (auto& r : rows) {
        if (r.v.index() == 0) {
          r.v = prev;
        } else {
          prev = r.v;
        }
      }
      return;
    }
    case fill_option::linear: {
      size_t last = rows.size();
      for (size_t i = 0; i < rows.size(); ++i) {
        if (rows[i].v.index() == 0) continue;
        if (last != rows.size() && i > last + 1 && is_num(rows[last].v) && is_num(rows[i].v)) {
          for (size_t k = last + 1; k < i; ++k) {
            double frac = static_cast<double>(rows[k].time - rows[last].time) /
                          static_cast<double>(rows[i].time - rows[last].time);
            if (rows[last].v.index() == 2 && rows[i].v.index() == 2) {
              int64_t a = std::get<int64_t>(rows[last].v), b = std::get<int64_t>(rows[i].v);
              rows[k].v = value(a + static_cast<int64_t>(static_cast<double>(b - a) * frac));
            } else {
              double a = num(rows[last].v), b = num(rows[i].v);
              rows[k].v = value(a + (b - a) * frac);
            }
          }
        }
        last = i;
      }
      return;
    }
  }
}

struct group {
  std::vector<std::string> key;   // values of the group tag keys
  std::vector<uint32_t> members;  // positions in mp.series
};

status run_raw_group(context& ctx, const statement_plan& sp, const mplan& mp, const group& g,
                     const std::vector<std::string>& needed, const std::vector<std::string>& select_fields,
                     row_table& rows) {
  bool row_eval = sp.cond && !tag_only(*sp.cond, mp);
  const size_t width = sp.columns.size() + 1;
  // Two passes. First each member's columns, aligned on time, and the rows
  // it keeps (a selected field set, the condition true); from their times
  // the order merged by (time, member order), as InfluxDB orders them. Then
  // each member's cells are evaluated straight into their merged row: no
  // rows are staged and moved (moving 60,000 staged rows into merged order
  // cost about as much as building them).
  // With one needed field (SELECT f, no condition on another) its column
  // is used as it is: no alignment, no column of values.
  const bool one = needed.size() == 1;
  struct member {
    column_batch col;            // the needed field, when it is the one
    aligned_rows ar;             // the needed fields aligned on time, otherwise
    std::vector<uint32_t> kept;  // rows (of col or ar) kept, ascending
    std::vector<bound> outs;     // the output columns bound to the series
  };
  std::vector<member> members(g.members.size());
  std::vector<int64_t> times;   // the time of each kept row, member by member
  std::vector<size_t> run_end;  // where each member's rows end in times
  std::vector<value> rowvals(needed.size());
  for (size_t order = 0; order < g.members.size(); ++order) {
    member& m = members[order];
    const series_info& s = mp.series[g.members[order]];
    std::vector<column_batch> cols(needed.size());
    for (size_t i = 0; i < needed.size(); ++i) {
      LIANDU_RETURN_IF_ERROR(read_column(ctx, mp, s, needed[i], sp.lo, sp.hi, cols[i]));
    }
    if (one) {
      m.col = std::move(cols[0]);
    } else {
      align(cols, m.ar);
    }
    const std::vector<int64_t>& mtimes = one ? m.col.times : m.ar.times;
    binder b{&ctx, &mp, &s, &needed, nullptr, true};
    bound cond;
    if (row_eval) LIANDU_RETURN_IF_ERROR(bind(*sp.cond, b, cond));
    b.missing_tag_is_empty = false;
    m.outs.resize(sp.columns.size());
    for (size_t c = 0; c < sp.columns.size(); ++c)
      LIANDU_RETURN_IF_ERROR(bind(sp.columns[c].e, b, m.outs[c]));
    std::vector<size_t> select_slots;
    for (const auto& f : select_fields) {
      for (size_t i = 0; i < needed.size(); ++i) {
        if (needed[i] == f) select_slots.push_back(i);
      }
    }
    for (size_t r = 0; r < mtimes.size(); ++r) {
      if (one) {
        // Every point of the column is a value of the selected field.
        if (row_eval) rowvals[0] = column_value(m.col, r);
      } else {
        bool any = false;
        for (size_t slot : select_slots) any = any || m.ar.cols[slot][r].index() != 0;
        if (!any) continue;
        if (row_eval) {
          for (size_t i = 0; i < needed.size(); ++i) rowvals[i] = m.ar.cols[i][r];
        }
      }
      if (row_eval && !truthy(eval(cond, rowvals.data(), nullptr))) continue;
      if (!ctx.charge(64 + 24 * width)) return error(errc::limit_exceeded, memory_limit_error);
      m.kept.push_back(static_cast<uint32_t>(r));
      times.push_back(mtimes[r]);
    }
    if (times.size() != (run_end.empty() ? 0 : run_end.back())) run_end.push_back(times.size());
  }
  // dest[k]: the merged row of the k-th kept row; the identity for one run.
  std::vector<uint32_t> dest;
  if (run_end.size() > 1) {
    std::vector<uint32_t> order = merge_order(times, run_end);
    dest.resize(order.size());
    for (size_t p = 0; p < order.size(); ++p) dest[order[p]] = static_cast<uint32_t>(p);
  }
  rows.clear();
  rows.add_rows(times.size(), width);
  size_t k = 0;
  for (member& m : members) {
    // SELECT of the one needed field (under names or repeated): each cell is
    // made in place from the column, the row's cells being null until now.
    // Through a staged value and variant assignments, a raw query of 60,000
    // rows took 10% more server CPU (bench/query_ab.sh).
    const bool plain = one && std::all_of(m.outs.begin(), m.outs.end(),
                                          [](const bound& o) { return o.kind == bkind::field; });
    if (plain) {
      auto fill = [&](const auto& vals, auto make) {
        for (uint32_t r : m.kept) {
          std::span<value> cells = rows[dest.empty() ? k : dest[k]];
          ++k;
          cells[0].emplace<int64_t>(m.col.times[r]);
          for (size_t c = 0; c < m.outs.size(); ++c) make(cells[c + 1], vals[r]);
        }
      };
      switch (m.col.type) {
        case model::field_type::float64:
          fill(m.col.floats, [](value& v, double x) { v.emplace<double>(x); });
          break;
        case model::field_type::int64:
          fill(m.col.integers, [](value& v, int64_t x) { v.emplace<int64_t>(x); });
          break;
        case model::field_type::uint64:
          fill(m.col.unsigneds, [](value& v, uint64_t x) { v.emplace<uint64_t>(x); });
          break;
        case model::field_type::boolean:
          fill(m.col.booleans, [](value& v, auto x) { v.emplace<bool>(x != 0); });
          break;
        case model::field_type::string:
          fill(m.col.strings, [](value& v, const std::string& x) { v.emplace<std::string>(x); });
          break;
      }
      m = member{};  // its columns are no longer needed
      continue;
    }
    for (uint32_t r : m.kept) {
      if (one) {
        rowvals[0] = column_value(m.col, r);
      } else {
        for (size_t i = 0; i < needed.size(); ++i) rowvals[i] = std::move(m.ar.cols[i][r]);
      }
      std::span<value> cells = rows[dest.empty() ? k : dest[k]];
      ++k;
      cells[0] = value(one ? m.col.times[r] : m.ar.times[r]);
      for (size_t c = 0; c < m.outs.size(); ++c) {
        // A plain field (SELECT f) is copied, without eval's temporary.
        if (m.outs[c].kind == bkind::field) {
          cells[c + 1] = rowvals[m.outs[c].slot];
        } else {
          cells[c + 1] = eval(m.outs[c], rowvals.data(), nullptr);
        }
      }
    }
    m = member{};  // its columns are no longer needed
  }
  return {};
}

int64_t window_start(int64_t t, int64_t interval, int64_t offset) {
  return floor_div(t - offset, interval) * interval + offset;
}

int64_t window_of(const statement_plan& sp, int64_t t) {
  return window_start_in(sp.zone.get(), sp.interval, sp.offset, t);
}

// The windows from the one holding lo to the one holding hi, stepped as
// InfluxDB's fill iterator steps them with tz(): one interval further, then
// corrected by an offset change smaller than the interval.
status zoned_windows(context& ctx, const statement_plan& sp, int64_t lo, int64_t hi, size_t calls,
                     std::vector<int64_t>& out) {
  int64_t t = window_of(sp, lo);
  int64_t last = window_of(sp, hi);
  int64_t off = sp.zone->offset_ns_at(t);
  while (t <= last) {
    if (!ctx.charge(16 + 32 * calls)) return error(errc::limit_exceeded, memory_limit_error);
    out.push_back(t);
    int64_t next = 0;
    if (__builtin_add_overflow(t, sp.interval, &next)) break;
    int64_t o = sp.zone->offset_ns_at(next - 1);
    if (o != off) {
      int64_t diff = off - o;
      if ((diff < 0 ? -diff : diff) < sp.interval) next += diff;
      off = o;
    }
    if (next <= t) break;
    t = next;
  }
  return {};
}

// The windows of a group whose first point is at earliest: from the window
// of the time range's start (of earliest when the range is open) to the one
// of its end; one window stamped with the range start without GROUP BY
// time. With tz(), starts (sorted, the windows the points fall in) are
// added to the stepped windows, as InfluxDB emits every window a point falls in.
status make_windows(context& ctx, const statement_plan& sp, int64_t earliest,
                    const std::vector<int64_t>& starts, std::vector<int64_t>& windows) {
  if (sp.interval > 0 && sp.zone) {
    LIANDU_RETURN_IF_ERROR(
        zoned_windows(ctx, sp, sp.lo == min_time ? earliest : sp.lo, sp.hi, sp.calls.size(), windows));
    std::vector<int64_t> all;
    std::set_union(windows.begin(), windows.end(), starts.begin(), starts.end(), std::back_inserter(all));
    if (!ctx.charge((all.size() - windows.size()) * (16 + 32 * sp.calls.size())))
      return error(errc::limit_exceeded, memory_limit_error);
    windows = std::move(all);
  } else if (sp.interval > 0) {
    int64_t lo = sp.lo == min_time ? earliest : sp.lo;
    int64_t first = window_start(lo, sp.interval, sp.offset);
    int64_t last = window_start(sp.hi, sp.interval, sp.offset);
    if (last >= first) {
      uint64_t count = static_cast<uint64_t>((last - first) / sp.interval) + 1;
      if (!ctx.charge(count * (16 + 32 * sp.calls.size())))
        return error(errc::limit_exceeded, memory_limit_error);
      windows.reserve(count);
      for (uint64_t i = 0; i < count; ++i) windows.push_back(first + static_cast<int64_t>(i) * sp.interval);
    }
  } else {
    windows.push_back(sp.lo == min_time ? 0 : sp.lo);
  }
  return {};
}

// ---------------------------------------------------------------- streaming aggregates

// count, sum, mean, min and max need only a few numbers per window, so they
// fold each storage batch as it arrives instead of merging the group's
// columns first: memory grows with the windows, not with the points. Field
// conditions need the fields aligned row by row and take the column path.
bool streamable(const statement_plan& sp, const mplan& mp) {
  if (sp.calls.empty() || sp.aux || (sp.cond && !tag_only(*sp.cond, mp))) return false;
  for (const auto& c : sp.calls) {
    if (c.nested || !c.tags.empty()) return false;
    switch (c.f) {
      case fn::count:
      case fn::sum:
      case fn::mean:
      case fn::min:
      case fn::max: break;
      default: return false;
    }
  }
  return true;
}

// One window of one field. Sums wrap like the column path's; mean divides
// the float sum. Extremes keep the earliest point of equal values and, for
// equal times, the one of the earlier series (the merged column's order).
struct window_acc {
  int64_t count = 0;
  double fsum = 0;
  int64_t isum = 0;
  uint64_t usum = 0;
  bool has = false;
  double fmin = 0, fmax = 0;
  int64_t imin = 0, imax = 0;  // integers, and booleans as 0/1
  uint64_t umin = 0, umax = 0;
  int64_t tmin = 0, tmax = 0;
};

template <typename T>
void fold(window_acc& a, T v, int64_t t) {
  ++a.count;
  using S = std::conditional_t<std::is_same_v<T, uint8_t>, int64_t, T>;
  S x = static_cast<S>(v);
  S* lo = nullptr;
  S* hi = nullptr;
  if constexpr (std::is_same_v<S, double>) {
    a.fsum += x;
    lo = &a.fmin;
    hi = &a.fmax;
  } else if constexpr (std::is_same_v<S, uint64_t>) {
    a.usum += x;
    a.fsum += static_cast<double>(x);
    lo = &a.umin;
    hi = &a.umax;
  } else {
    a.isum = static_cast<int64_t>(static_cast<uint64_t>(a.isum) + static_cast<uint64_t>(x));
    a.fsum += static_cast<double>(x);
    lo = &a.imin;
    hi = &a.imax;
  }
  if (!a.has) {
    a.has = true;
    *lo = *hi = x;
    a.tmin = a.tmax = t;
    return;
  }
  if (x < *lo || (x == *lo && t < a.tmin)) {
    *lo = x;
    a.tmin = t;
  }
  if (x > *hi || (x == *hi && t < a.tmax)) {
    *hi = x;
    a.tmax = t;
  }
}

status stream_aggregate(context& ctx, const statement_plan& sp, const mplan& mp, const group& g,
                        std::vector<std::vector<out_point>>& call_rows, bool& any) {
  struct field_state {
    std::optional<model::field_type> type;  // of the first series with points
    std::map<int64_t, window_acc> windows;  // by window start (0 without GROUP BY time)
  };
  std::map<std::string, field_state> fields;
  for (const auto& c : sp.calls) fields[c.field];
  int64_t earliest = std::numeric_limits<int64_t>::max();
  constexpr size_t window_bytes = sizeof(window_acc) + 64;
  // Only count() over the whole group: storage counts without reading values
  // (a block column inside the range from its index entry alone).
  bool counts_only = sp.interval == 0;
  for (const auto& c : sp.calls) counts_only = counts_only && c.f == fn::count;
  for (auto& [name, fs] : fields) {
    if (counts_only) {
      window_acc* acc = nullptr;
      for (uint32_t pos : g.members) {
        model::field_type type = model::field_type::float64;
        uint64_t n = 0;
        LIANDU_RETURN_IF_ERROR(ctx.s->count(mp.db, mp.rp, mp.series[pos].id, name, sp.lo, sp.hi, type, n));
        if (n == 0) continue;
        if (!fs.type) fs.type = type;
        // A field has one type: a series of another is not part of it.
        if (type != *fs.type) continue;
        any = true;
        if (acc == nullptr) {
          if (!ctx.charge(window_bytes)) return error(errc::limit_exceeded, memory_limit_error);
          acc = &fs.windows[0];
        }
        acc->count += static_cast<int64_t>(n);
      }
      continue;
    }
    for (uint32_t pos : g.members) {
      std::optional<model::field_type> series_type;
      bool over = false;
      int64_t cur_start = 0, cur_end = 0;
      window_acc* cur = nullptr;
      status st =
          ctx.s->scan(mp.db, mp.rp, mp.series[pos].id, name, sp.lo, sp.hi, [&](const column_batch& b) {
            if (b.size() == 0) return true;
            if (!series_type) series_type = b.type;
            if (!fs.type) fs.type = series_type;
            // A field has one type: a series (or batch) of another is not part of it.
            if (*series_type != *fs.type) return false;
            if (b.type != *series_type) return true;
            earliest = std::min(earliest, b.times.front());
            any = true;
            auto at = [&](int64_t t) -> window_acc* {
              if (cur && t >= cur_start && t < cur_end) return cur;
              int64_t key = 0;
              if (sp.interval > 0) {
                key = window_of(sp, t);
                cur_start = key;
                // Without tz() the window is [key, key + interval); with it the
                // next point's window is computed afresh.
                cur_end = sp.zone ? key : key + std::min(sp.interval, max_time - key);
              } else {
                cur_start = min_time;
                cur_end = max_time;
              }
              auto [it, fresh] = fs.windows.try_emplace(key);
              if (fresh && !ctx.charge(window_bytes)) {
                over = true;
                return nullptr;
              }
              cur = &it->second;
              return cur;
            };
            auto run = [&](const auto& vals) {
              for (size_t i = 0; i < b.times.size(); ++i) {
                window_acc* a = at(b.times[i]);
                if (!a) return false;
                fold(*a, vals[i], b.times[i]);
              }
              return true;
            };
            switch (b.type) {
              case model::field_type::float64: return run(b.floats);
              case model::field_type::int64: return run(b.integers);
              case model::field_type::uint64: return run(b.unsigneds);
              case model::field_type::boolean: return run(b.booleans);
              case model::field_type::string: {
                // Only count applies to strings; the others fail below.
                for (size_t i = 0; i < b.times.size(); ++i) {
                  window_acc* a = at(b.times[i]);
                  if (!a) return false;
                  ++a->count;
                }
                return true;
              }
            }
            return true;
          });
      if (over) return error(errc::limit_exceeded, memory_limit_error);
      LIANDU_RETURN_IF_ERROR(st);
    }
  }
  if (!any) return {};

  std::vector<int64_t> starts;
  if (sp.interval > 0 && sp.zone) {
    for (const auto& [name, fs] : fields) {
      for (const auto& [key, a] : fs.windows) starts.push_back(key);
    }
    std::sort(starts.begin(), starts.end());
    starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
  }
  std::vector<int64_t> windows;
  LIANDU_RETURN_IF_ERROR(make_windows(ctx, sp, earliest, starts, windows));
  bool single_selector = sp.interval == 0 && sp.calls.size() == 1 && is_selector(sp.calls[0].f);
  for (size_t ci = 0; ci < sp.calls.size(); ++ci) {
    const call_plan& cp = sp.calls[ci];
    const field_state& fs = fields[cp.field];
    model::field_type type = fs.type.value_or(model::field_type::float64);
    bool numeric = type == model::field_type::float64 || type == model::field_type::int64 ||
                   type == model::field_type::uint64;
    bool applies = cp.f == fn::count || numeric ||
                   (type == model::field_type::boolean && cp.f != fn::sum && cp.f != fn::mean);
    if (!applies) {
      return error(errc::unsupported, "unsupported " + cp.node->text +
                                          " iterator type: " + std::string(model::field_type_name(type)));
    }
    std::vector<out_point> per_window;
    per_window.reserve(windows.size());
    for (int64_t w : windows) {
      auto it = fs.windows.find(sp.interval > 0 ? w : 0);
      const window_acc* a = it == fs.windows.end() ? nullptr : &it->second;
      out_point p{w, value()};
      if (cp.f == fn::count) {
        p.v = value(a ? a->count : int64_t{0});
      } else if (a && a->count > 0) {
        switch (cp.f) {
          case fn::sum:
            p.v = type == model::field_type::float64 ? value(a->fsum)
                  : type == model::field_type::int64 ? value(a->isum)
                                                     : value(a->usum);
            break;
          case fn::mean: p.v = value(a->fsum / static_cast<double>(a->count)); break;
          case fn::min:
          case fn::max: {
            bool mx = cp.f == fn::max;
            switch (type) {
              case model::field_type::float64: p.v = value(mx ? a->fmax : a->fmin); break;
              case model::field_type::int64: p.v = value(mx ? a->imax : a->imin); break;
              case model::field_type::uint64: p.v = value(mx ? a->umax : a->umin); break;
              case model::field_type::boolean: p.v = value((mx ? a->imax : a->imin) != 0); break;
              case model::field_type::string: break;
            }
            if (single_selector) p.time = mx ? a->tmax : a->tmin;
            break;
          }
          default: break;
        }
      }
      per_window.push_back(std::move(p));
    }
    apply_fill(*sp.stmt, per_window, cp.f == fn::count);
    call_rows[ci] = std::move(per_window);
  }
  return {};
}

status run_aggregate_group(context& ctx, const statement_plan& sp, const mplan& mp, const group& g,
                           row_table& rows) {
  const select_statement& st = *sp.stmt;
  // per_field[f][k] is the column of g.members[k]; origins[f][i] names the
  // member the i-th merged point of f came from. picked_col (and its
  // origins) is the column the selector of an aux query picked from.
  std::map<std::string, std::vector<column_batch>> per_field;
  std::map<std::string, column_batch> merged;
  std::map<std::string, std::vector<uint32_t>> origins;
  std::vector<std::vector<out_point>> call_rows(sp.calls.size());
  const column_batch* picked_col = nullptr;
  const std::vector<uint32_t>* picked_origin = nullptr;
  column_batch per_tag_col;
  std::vector<uint32_t> per_tag_origin;
  if (streamable(sp, mp)) {
    bool any = false;
    LIANDU_RETURN_IF_ERROR(stream_aggregate(ctx, sp, mp, g, call_rows, any));
    if (!any) return {};
  } else {
    bool row_eval = sp.cond && !tag_only(*sp.cond, mp);
    std::set<std::string> needed_set;
    for (const auto& c : sp.calls) needed_set.insert(c.field);
    std::set<std::string> cond_fields;
    if (row_eval) collect_field_refs(*sp.cond, mp, cond_fields);
    // Fields output beside a selector are read per series, to be looked up at
    // the selected point's time.
    std::set<std::string> aux_fields;
    bool need_origin = false;
    if (sp.aux) {
      need_origin = true;
      for (const auto& c : sp.columns) {
        if (c.e.kind == expr_kind::var_ref && ref_is_field(c.e, mp)) aux_fields.insert(c.e.text);
      }
    }
    for (const auto& c : sp.calls) need_origin = need_origin || !c.tags.empty();
    std::vector<std::string> read_fields(needed_set.begin(), needed_set.end());
    for (const auto& f : cond_fields) {
      if (!needed_set.count(f)) read_fields.push_back(f);
    }
    for (const auto& f : aux_fields) {
      if (std::find(read_fields.begin(), read_fields.end(), f) == read_fields.end()) read_fields.push_back(f);
    }
    // first() and last() over the whole range pick, from the merged
    // columns, a point that is the oldest (newest) of its own series: each
    // series' column can be just that point. edge[i]: 1 newest, 0 oldest, -1
    // the whole column.
    std::vector<int> edge(read_fields.size(), -1);
    if (sp.interval == 0 && !row_eval && !sp.aux) {
      for (const auto& c : sp.calls) {
        if (c.nested || !c.tags.empty() || (c.f != fn::first && c.f != fn::last)) {
          edge.assign(read_fields.size(), -1);
          break;
        }
        auto at = std::find(read_fields.begin(), read_fields.end(), c.field) - read_fields.begin();
        int want = c.f == fn::last ? 1 : 0;
        int& e = edge[static_cast<size_t>(at)];
        if (e != -1 && e != want) {  // first(x) and last(x): read x whole
          edge.assign(read_fields.size(), -1);
          break;
        }
        e = want;
      }
    }
    // Per field, one column per series; filtered by the condition.
    for (uint32_t pos : g.members) {
      const series_info& s = mp.series[pos];
      std::vector<column_batch> cols(read_fields.size());
      for (size_t i = 0; i < read_fields.size(); ++i) {
        if (edge[i] >= 0) {
          LIANDU_RETURN_IF_ERROR(read_edge(ctx, mp, s, read_fields[i], sp.lo, sp.hi, edge[i] == 1, cols[i]));
        } else {
          LIANDU_RETURN_IF_ERROR(read_column(ctx, mp, s, read_fields[i], sp.lo, sp.hi, cols[i]));
        }
      }
      if (row_eval) {
        aligned_rows ar;
        align(cols, ar);
        binder b{&ctx, &mp, &s, &read_fields, nullptr, true};
        bound cond;
        LIANDU_RETURN_IF_ERROR(bind(*sp.cond, b, cond));
        std::vector<uint8_t> pass(ar.times.size());
        std::vector<value> rowvals(read_fields.size());
        for (size_t r = 0; r < ar.times.size(); ++r) {
          for (size_t i = 0; i < read_fields.size(); ++i) rowvals[i] = ar.cols[i][r];
          pass[r] = truthy(eval(cond, rowvals.data(), nullptr)) ? 1 : 0;
        }
        for (auto& col : cols) {
          std::vector<uint8_t> keep(col.size());
          size_t r = 0;
          for (size_t i = 0; i < col.size(); ++i) {
            while (ar.times[r] < col.times[i]) ++r;
            keep[i] = pass[r];
          }
          filter_column(col, keep);
        }
      }
      for (size_t i = 0; i < read_fields.size(); ++i) {
        if (needed_set.count(read_fields[i]) || aux_fields.count(read_fields[i]))
          per_field[read_fields[i]].push_back(std::move(cols[i]));
      }
    }
    int64_t earliest = std::numeric_limits<int64_t>::max();
    bool any_points = false;
    for (auto& [name, cols] : per_field) {
      if (!needed_set.count(name)) continue;
      std::vector<uint32_t>* origin = need_origin ? &origins[name] : nullptr;
      column_batch m = merge_columns(cols, origin);
      if (origin && !ctx.charge(origin->size() * sizeof(uint32_t)))
        return error(errc::limit_exceeded, memory_limit_error);
      if (m.size() > 0) {
        any_points = true;
        earliest = std::min(earliest, m.times.front());
      }
      merged.emplace(name, std::move(m));
    }
    if (!any_points) return {};

    std::vector<int64_t> starts;  // windows the points fall in (tz() only)
    if (sp.interval > 0 && sp.zone) {
      for (const auto& [name, col] : merged) {
        for (size_t i = 0; i < col.size(); ++i) {
          int64_t w = window_of(sp, col.times[i]);
          if (starts.empty() || starts.back() != w) starts.push_back(w);
        }
      }
      std::sort(starts.begin(), starts.end());
      starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
    }
    std::vector<int64_t> windows;
    LIANDU_RETURN_IF_ERROR(make_windows(ctx, sp, earliest, starts, windows));

    // Points [b, e) of col in window w; b starts where window w - 1 ended.
    auto window_range = [&](const column_batch& col, size_t w, size_t& b, size_t& e) {
      if (sp.interval > 0 && sp.zone) {
        while (b < col.size() && window_of(sp, col.times[b]) < windows[w]) ++b;
        e = b;
        while (e < col.size() && window_of(sp, col.times[e]) == windows[w]) ++e;
      } else if (sp.interval > 0) {
        int64_t wend = windows[w] + sp.interval;
        while (b < col.size() && col.times[b] < windows[w]) ++b;
        e = b;
        while (e < col.size() && col.times[e] < wend) ++e;
      } else {
        b = 0;
        e = col.size();
      }
    };

    bool single_selector = sp.interval == 0 && sp.calls.size() == 1 && is_selector(sp.calls[0].f);
    // The column (and its origins) the selector of an aux query picked from.
    for (size_t ci = 0; ci < sp.calls.size(); ++ci) {
      const call_plan& cp = sp.calls[ci];
      const column_batch* colp = &merged[cp.field];
      const std::vector<uint32_t>* originp = &origins[cp.field];
      if (!cp.tags.empty() && colp->size() > 0) {
        // top(x, tag..., n): first the max (min for bottom) of each tag set
        // in each window, then the top n of those.
        std::map<std::vector<std::string>, uint32_t> ids;
        std::vector<uint32_t> member_group(g.members.size());
        for (size_t k = 0; k < g.members.size(); ++k) {
          std::vector<std::string> key;
          for (const auto& t : cp.tags) {
            const std::string* v = series_tag(mp.series[g.members[k]], t);
            key.push_back(v ? *v : std::string());
          }
          member_group[k] = ids.emplace(std::move(key), static_cast<uint32_t>(ids.size())).first->second;
        }
        std::vector<uint32_t> group(colp->size());
        for (size_t i = 0; i < colp->size(); ++i) group[i] = member_group[(*originp)[i]];
        std::vector<uint8_t> keep(colp->size());
        size_t b = 0, e = 0;
        for (size_t w = 0; w < windows.size(); ++w) {
          window_range(*colp, w, b, e);
          if (!keep_best_per_group(cp.f, *colp, b, e, group, keep)) {
            return error(errc::unsupported, "unsupported " + cp.node->text + " iterator type: " +
                                                std::string(model::field_type_name(colp->type)));
          }
          b = e;
        }
        per_tag_col = *colp;
        filter_column(per_tag_col, keep);
        per_tag_origin.clear();
        for (size_t i = 0; i < keep.size(); ++i) {
          if (keep[i]) per_tag_origin.push_back((*originp)[i]);
        }
        if (!ctx.charge(column_bytes(per_tag_col) + 5 * colp->size()))
          return error(errc::limit_exceeded, memory_limit_error);
        colp = &per_tag_col;
        originp = &per_tag_origin;
      }
      if (ci == 0) {
        picked_col = colp;
        picked_origin = originp;
      }
      const column_batch& col = *colp;
      auto& out = call_rows[ci];
      fn_args args = cp.args;
      if ((cp.f == fn::derivative || cp.f == fn::non_negative_derivative) && args.unit == 0) {
        args.unit = sp.interval > 0 ? sp.interval : 1000000000;
      }
      if (is_transformation(cp.f) && !cp.nested) {
        std::vector<out_point> in;
        to_points(col, 0, col.size(), in);
        if (!transform(cp.f, args, in, out)) {
          return error(errc::unsupported, "unsupported " + std::string(cp.node->text) + " iterator type");
        }
        continue;
      }
      fn agg = cp.nested ? cp.inner : cp.f;
      const fn_args& agg_args = cp.nested ? cp.inner_args : cp.args;
      std::vector<out_point> per_window;
      if (agg == fn::integral && sp.interval > 0) {
        // One pass across windows, as InfluxDB's integral: not per window.
        auto start_of = [&](int64_t t) { return window_of(sp, t); };
        auto end_of = [&](int64_t start) {
          // With tz() a window is up to an hour (DST) shorter or longer
          // than the interval: the next start is found from mid-window.
          int64_t probe = 0;
          if (__builtin_add_overflow(start, sp.interval + (sp.zone ? sp.interval / 2 : 0), &probe))
            return max_time;
          return sp.zone ? window_of(sp, probe) : probe;
        };
        if (!integral_windows(col, agg_args.unit, start_of, end_of, per_window)) {
          const std::string& fname = cp.nested ? cp.node->args[0].text : cp.node->text;
          return error(errc::unsupported, "unsupported " + fname + " iterator type: " +
                                              std::string(model::field_type_name(col.type)));
        }
        if (cp.nested) {
          if (!transform(cp.f, args, per_window, out)) {
            return error(errc::unsupported, "unsupported " + cp.node->text + " iterator type");
          }
        } else {
          out = std::move(per_window);
        }
        continue;
      }
      size_t b = 0;
      for (size_t w = 0; w < windows.size(); ++w) {
        size_t e = b;
        window_range(col, w, b, e);
        size_t before = per_window.size();
        if (!reduce(agg, agg_args, col, b, e, windows[w], per_window)) {
          const std::string& fname = cp.nested ? cp.node->args[0].text : cp.node->text;
          return error(errc::unsupported, "unsupported " + fname + " iterator type: " +
                                              std::string(model::field_type_name(col.type)));
        }
        if (!is_multi_row(agg)) {
          if (per_window.size() == before) {
            per_window.push_back({windows[w], value()});
          } else if (!single_selector) {
            per_window.back().time = windows[w];
          }
        }
        b = e;
      }
      if (cp.nested) {
        std::vector<out_point> in;
        for (auto& p : per_window) {
          if (p.v.index() != 0) in.push_back(std::move(p));
        }
        if (!transform(cp.f, args, in, out)) {
          return error(errc::unsupported, "unsupported " + cp.node->text + " iterator type");
        }
      } else {
        if (!is_multi_row(agg)) apply_fill(st, per_window, agg == fn::count || agg == fn::count_distinct);
        out = std::move(per_window);
      }
    }
  }

  // Rows: with one call its points in order; with several, one row per time.
  std::vector<int64_t> times;
  std::vector<std::vector<value>> call_values;  // [row][call]
  std::vector<size_t> picked;                   // [row] selected point in picked_col (aux queries)
  if (sp.calls.size() == 1) {
    for (auto& p : call_rows[0]) {
      times.push_back(p.time);
      picked.push_back(p.index);
      call_values.push_back({std::move(p.v)});
    }
  } else {
    std::map<int64_t, std::vector<value>> by_time;
    for (size_t ci = 0; ci < call_rows.size(); ++ci) {
      for (auto& p : call_rows[ci]) {
        auto& slot = by_time[p.time];
        if (slot.empty()) slot.resize(sp.calls.size());
        if (slot[ci].index() == 0) slot[ci] = std::move(p.v);
      }
    }
    for (auto& [t, v] : by_time) {
      bool any = false;
      for (const auto& x : v) any = any || x.index() != 0;
      if (!any && st.fill == fill_option::none) continue;
      times.push_back(t);
      call_values.push_back(std::move(v));
    }
  }
  const series_info* first_series = g.members.empty() ? nullptr : &mp.series[g.members[0]];
  binder b{&ctx, &mp, first_series, nullptr, &sp.call_nodes, false};
  std::vector<bound> outs(sp.columns.size());
  for (size_t c = 0; c < sp.columns.size(); ++c) LIANDU_RETURN_IF_ERROR(bind(sp.columns[c].e, b, outs[c]));
  // A field or tag beside a selector: its value at the selected point (null
  // for windows without one).
  auto aux_value = [&](const expr& e, size_t r) -> value {
    if (!picked_col || r >= picked.size() || picked[r] == no_index) return value();
    size_t i = picked[r];
    uint32_t k = (*picked_origin)[i];
    if (ref_is_field(e, mp)) {
      auto it = per_field.find(e.text);
      if (it == per_field.end() || k >= it->second.size()) return value();
      const column_batch& c = it->second[k];
      auto at = std::lower_bound(c.times.begin(), c.times.end(), picked_col->times[i]);
      if (at == c.times.end() || *at != picked_col->times[i]) return value();
      return column_value(c, static_cast<size_t>(at - c.times.begin()));
    }
    const std::string* v = series_tag(mp.series[g.members[k]], e.text);
    return v ? value(*v) : value();
  };
  rows.clear();
  rows.reserve(times.size(), outs.size() + 1);
  for (size_t r = 0; r < times.size(); ++r) {
    if (!ctx.charge(64 + 24 * (outs.size() + 1))) return error(errc::limit_exceeded, memory_limit_error);
    std::span<value> cells = rows.add_row(outs.size() + 1);
    cells[0] = value(times[r]);
    for (size_t c = 0; c < outs.size(); ++c) {
      const expr& e = sp.columns[c].e;
      cells[c + 1] = sp.aux && e.kind == expr_kind::var_ref ? aux_value(e, r)
                                                            : eval(outs[c], nullptr, call_values[r].data());
    }
  }
  return {};
}

}  // namespace

namespace {

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool digits(const std::string& s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// Materialised results of subqueries, served through the storage interface
// so the outer statement runs like any other. One database, read-only.
class result_storage : public storage {
 public:
  static constexpr const char* db_name = "_subquery";

  explicit result_storage(std::vector<series_result> series) : series_(std::move(series)) {
    std::stable_sort(series_.begin(), series_.end(), [](const series_result& a, const series_result& b) {
      return a.name != b.name ? a.name < b.name : a.tags < b.tags;
    });
    for (size_t i = 0; i < series_.size(); ++i) {
      // Keep rows in time order; drop the time column from the field set.
      series_[i].values.stable_sort_by_time();
    }
  }

  std::vector<std::string> databases() override { return {db_name}; }
  status create_database(std::string_view) override { return read_only(); }
  status drop_database(std::string_view) override { return read_only(); }
  result<std::vector<retention_policy_info>> retention_policies(std::string_view) override {
    return std::vector<retention_policy_info>{};
  }
  status create_retention_policy(std::string_view, const retention_policy_info&) override {
    return read_only();
  }
  status alter_retention_policy(std::string_view, const retention_policy_info&) override {
    return read_only();
  }
  status drop_retention_policy(std::string_view, std::string_view) override { return read_only(); }
  result<std::vector<std::string>> measurements(std::string_view) override {
    std::set<std::string> names;
    for (const auto& s : series_) names.insert(s.name);
    return std::vector<std::string>(names.begin(), names.end());
  }
  result<std::vector<std::pair<std::string, model::field_type>>> field_keys(std::string_view,
                                                                            std::string_view m) override {
    std::map<std::string, model::field_type> keys;
    for (const auto& s : series_) {
      if (s.name != m) continue;
      for (size_t c = 1; c < s.columns.size(); ++c) {
        for (const auto& row : s.values) {
          if (row[c].index() == 0) continue;
          keys.emplace(s.columns[c], type_of(row[c]));
          break;
        }
      }
    }
    return std::vector<std::pair<std::string, model::field_type>>(keys.begin(), keys.end());
  }
  result<std::vector<std::string>> tag_keys(std::string_view, std::string_view m) override {
    std::set<std::string> keys;
    for (const auto& s : series_) {
      if (s.name != m) continue;
      for (const auto& [k, v] : s.tags) keys.insert(k);
    }
    return std::vector<std::string>(keys.begin(), keys.end());
  }
  result<std::vector<series_info>> series(std::string_view, std::string_view m) override {
    std::vector<series_info> out;
    for (size_t i = 0; i < series_.size(); ++i) {
      if (series_[i].name != m) continue;
      series_info si;
      si.id = i + 1;
      si.measurement = series_[i].name;
      for (const auto& [k, v] : series_[i].tags) {
        if (!v.empty()) si.tags.push_back({k, v});
      }
      out.push_back(std::move(si));
    }
    return out;
  }
  result<std::vector<std::pair<std::string, std::vector<uint64_t>>>> tag_values(
      std::string_view, std::string_view m, std::string_view key) override {
    std::map<std::string, std::vector<uint64_t>> values;
    for (size_t i = 0; i < series_.size(); ++i) {
      if (series_[i].name != m) continue;
      auto it = series_[i].tags.find(std::string(key));
      if (it != series_[i].tags.end() && !it->second.empty()) values[it->second].push_back(i + 1);
    }
    return std::vector<std::pair<std::string, std::vector<uint64_t>>>(values.begin(), values.end());
  }
  status scan(std::string_view, std::string_view, uint64_t id, std::string_view field, int64_t lo, int64_t hi,
              const batch_sink& sink) override {
    if (id == 0 || id > series_.size()) return {};
    const series_result& s = series_[id - 1];
    size_t c = 0;
    for (size_t i = 1; i < s.columns.size(); ++i) {
      if (s.columns[i] == field) c = i;
    }
    if (c == 0) return {};
    column_batch b;
    bool typed = false;
    for (const auto& row : s.values) {
      int64_t t = std::get<int64_t>(row[0]);
      if (t < lo || t > hi || row[c].index() == 0) continue;
      model::field_type ty = type_of(row[c]);
      if (!typed) {
        b.type = ty;
        typed = true;
      } else if (ty != b.type) {
        continue;
      }
      b.times.push_back(t);
      switch (row[c].index()) {
        case 1: b.floats.push_back(std::get<double>(row[c])); break;
        case 2: b.integers.push_back(std::get<int64_t>(row[c])); break;
        case 3: b.unsigneds.push_back(std::get<uint64_t>(row[c])); break;
        case 4: b.booleans.push_back(std::get<bool>(row[c]) ? 1 : 0); break;
        case 5: b.strings.push_back(std::get<std::string>(row[c])); break;
      }
    }
    if (b.size() > 0) sink(b);
    return {};
  }
  status write(std::string_view, std::string_view, const std::vector<model::point>&) override {
    return read_only();
  }
  status delete_series(std::string_view, const std::vector<uint64_t>&, int64_t, int64_t) override {
    return read_only();
  }
  status drop_measurement(std::string_view, std::string_view) override { return read_only(); }

 private:
  static status read_only() { return error(errc::unsupported, "subquery results are read-only"); }
  static model::field_type type_of(const value& v) {
    switch (v.index()) {
      case 2: return model::field_type::int64;
      case 3: return model::field_type::uint64;
      case 4: return model::field_type::boolean;
      case 5: return model::field_type::string;
      default: return model::field_type::float64;
    }
  }
  std::vector<series_result> series_;
};

status load_plan(context& ctx, mplan& mp) {
  auto series = ctx.s->shared_series(mp.db, mp.name);
  if (!series.ok()) return series.error();
  mp.series.p = std::move(*series);
  if (mp.series.size() > std::numeric_limits<uint32_t>::max()) {
    return error(errc::limit_exceeded, "too many series in measurement " + mp.name);
  }
  auto tags = ctx.s->tag_keys(mp.db, mp.name);
  if (!tags.ok()) return tags.error();
  mp.tag_keys = std::move(*tags);
  std::sort(mp.tag_keys.begin(), mp.tag_keys.end());
  auto fields = ctx.s->field_keys(mp.db, mp.name);
  if (!fields.ok()) return fields.error();
  for (auto& [k, t] : *fields) mp.fields.emplace(k, t);
  size_t bytes = 0;
  for (const auto& s : mp.series) bytes += 64 + s.measurement.size() + 32 * s.tags.size();
  if (!ctx.charge(bytes)) return error(errc::limit_exceeded, memory_limit_error);
  return {};
}

bool numeric_fn(const std::string& name) {
  fn f;
  if (!lookup_fn(name, f)) return false;
  switch (f) {
    case fn::count:
    case fn::distinct:
    case fn::mode:
    case fn::first:
    case fn::last:
    case fn::count_distinct:
    case fn::elapsed: return false;
    default: return true;
  }
}

bool numeric_type(model::field_type t) {
  return t == model::field_type::float64 || t == model::field_type::int64 || t == model::field_type::uint64;
}

// Expands `*`, `*::field`, `*::tag`, `fn(*)` and `fn(/re/)` against the
// statement's measurements. Raw `*` leaves out the GROUP BY tags.
status expand_fields(context& ctx, const select_statement& st, const std::vector<mplan>& plans,
                     const std::set<std::string>& grouped_tags, bool group_all, std::vector<field>& out) {
  std::map<std::string, model::field_type> fields;
  std::set<std::string> tags;
  for (const auto& mp : plans) {
    for (const auto& [k, t] : mp.fields) fields.emplace(k, t);
    tags.insert(mp.tag_keys.begin(), mp.tag_keys.end());
  }
  for (const auto& f : st.fields) {
    const expr& e = f.e;
    if (e.kind == expr_kind::wildcard) {
      std::map<std::string, data_type> cols;
      if (e.type != data_type::tag) {
        for (const auto& [k, t] : fields) cols.emplace(k, data_type::unknown);
      }
      if (e.type != data_type::any_field) {
        for (const auto& k : tags) {
          if (group_all || grouped_tags.count(k)) continue;
          cols.emplace(k, data_type::tag);
        }
      }
      for (const auto& [k, t] : cols)
        out.push_back({expr::var(k, fields.count(k) ? data_type::unknown : t), ""});
      continue;
    }
    if (e.kind == expr_kind::call && !e.args.empty() &&
        (e.args[0].kind == expr_kind::wildcard || e.args[0].kind == expr_kind::regex)) {
      std::shared_ptr<const liandu::regex> re;
      if (e.args[0].kind == expr_kind::regex) {
        auto compiled = ctx.regex(e.args[0].text);
        if (!compiled.ok()) return compiled.error();
        re = *compiled;
      }
      for (const auto& [k, t] : fields) {
        if (re && !re->search(k)) continue;
        if (numeric_fn(e.text) && !numeric_type(t)) continue;
        expr c = e;
        c.args[0] = expr::var(k);
        std::string prefix = f.alias.empty() ? e.text : f.alias;
        out.push_back({std::move(c), prefix + "_" + k});
      }
      continue;
    }
    out.push_back(f);
  }
  return {};
}

std::vector<std::string> column_names(const std::vector<field>& fields) {
  std::vector<std::string> names(fields.size());
  std::map<std::string, int> seen;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!fields[i].alias.empty()) {
      names[i] = fields[i].alias;
      seen[names[i]] = 1;
    }
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!names[i].empty()) continue;
    std::string name = field_name(fields[i].e);
    auto it = seen.find(name);
    if (it != seen.end()) {
      int count = it->second;
      while (true) {
        std::string candidate = name + "_" + std::to_string(count);
        if (!seen.count(candidate)) {
          it->second = count + 1;
          name = candidate;
          break;
        }
        ++count;
      }
    }
    seen[name]++;
    names[i] = name;
  }
  return names;
}

model::field_value to_field_value(const value& v) {
  switch (v.index()) {
    case 1: return std::get<double>(v);
    case 2: return std::get<int64_t>(v);
    case 3: return std::get<uint64_t>(v);
    case 4: return std::get<bool>(v);
    default: return std::get<std::string>(v);
  }
}

result<std::vector<series_result>> write_into(context& ctx, const select_statement& st,
                                              const std::vector<series_result>& series) {
  const into_target& into = *st.into;
  std::string db = into.m.database.empty() ? ctx.opts->db : into.m.database;
  if (db.empty()) return error(errc::invalid_argument, "database name required");
  std::vector<model::point> batch;
  int64_t written = 0;
  for (const auto& s : series) {
    for (const auto& row : s.values) {
      model::point p;
      p.measurement = into.source_name ? s.name : into.m.name;
      for (const auto& [k, v] : s.tags) {
        if (!v.empty()) p.tags.push_back({k, v});
      }
      p.time = std::get<int64_t>(row[0]);
      for (size_t c = 1; c < row.size() && c < s.columns.size(); ++c) {
        if (row[c].index() == 0) continue;
        p.fields.push_back({s.columns[c], to_field_value(row[c])});
      }
      if (p.fields.empty()) continue;
      batch.push_back(std::move(p));
      if (batch.size() >= 10000) {
        LIANDU_RETURN_IF_ERROR(ctx.s->write(db, into.m.retention_policy, batch));
        written += static_cast<int64_t>(batch.size());
        batch.clear();
      }
    }
  }
  if (!batch.empty()) {
    LIANDU_RETURN_IF_ERROR(ctx.s->write(db, into.m.retention_policy, batch));
    written += static_cast<int64_t>(batch.size());
  }
  series_result r;
  r.name = "result";
  r.columns = {"time", "written"};
  r.values.push_back({value(int64_t{0}), value(written)});
  r.time_column = true;
  return std::vector<series_result>{std::move(r)};
}

}  // namespace

result<std::shared_ptr<const liandu::regex>> context::regex(const std::string& pattern) {
  auto it = regexes.find(pattern);
  if (it != regexes.end()) return it->second;
  // RE2 reads InfluxQL's (?i) prefix itself; a pattern that does not compile
  // keeps its error, so each use reports RE2's reason.
  auto compiled = liandu::regex::compile(pattern);
  result<std::shared_ptr<const liandu::regex>> r =
      compiled.ok() ? result<std::shared_ptr<const liandu::regex>>(
                          std::make_shared<const liandu::regex>(std::move(compiled).value()))
                    : result<std::shared_ptr<const liandu::regex>>(compiled.error());
  return regexes.emplace(pattern, std::move(r)).first->second;
}

bool parse_time_string(const std::string& s, int64_t& ns) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return false;
  int64_t frac = 0;
  int64_t offset_s = 0;
  size_t i = 10;
  if (i < s.size()) {
    if (s[i] != 'T' && s[i] != ' ') return false;
    if (!digits(s, i + 1, 2, h) || s.size() < i + 9 || s[i + 3] != ':' || !digits(s, i + 4, 2, mi) ||
        s[i + 6] != ':' || !digits(s, i + 7, 2, sec)) {
      return false;
    }
    if (h > 23 || mi > 59 || sec > 60) return false;
    i += 9;
    if (i < s.size() && s[i] == '.') {
      ++i;
      int64_t scale = 100000000;
      size_t start = i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (i - start < 9) {
          frac += (s[i] - '0') * scale;
          scale /= 10;
        }
        ++i;
      }
      if (i == start) return false;
    }
    if (i < s.size()) {
      if (s[i] == 'Z' || s[i] == 'z') {
        ++i;
      } else if (s[i] == '+' || s[i] == '-') {
        int oh = 0, om = 0;
        if (!digits(s, i + 1, 2, oh) || s.size() < i + 6 || s[i + 3] != ':' || !digits(s, i + 4, 2, om))
          return false;
        offset_s = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
        i += 6;
      } else {
        return false;
      }
    }
    if (i != s.size()) return false;
  }
  int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
  ns = secs * 1000000000 + frac;
  return true;
}

status time_range(const expr& cond, int64_t now, int64_t& lo, int64_t& hi, expr& rest) {
  rest = cond;
  return extract_time(rest, now, lo, hi);
}

result<std::vector<series_info>> matching_series(context& ctx, const std::string& db,
                                                 const std::string& measurement, const expr* cond,
                                                 bool* exact) {
  mplan mp;
  mp.db = db;
  mp.name = measurement;
  LIANDU_RETURN_IF_ERROR(load_plan(ctx, mp));
  if (exact) *exact = true;
  if (!cond) return mp.series.p->list();
  int64_t lo = min_time, hi = max_time;
  expr rest;
  LIANDU_RETURN_IF_ERROR(time_range(*cond, ctx.opts->now_ns, lo, hi, rest));
  if (exact) *exact = tag_only(rest, mp);
  bitmap sel;
  LIANDU_RETURN_IF_ERROR(filter_series(ctx, mp, rest, sel));
  std::vector<series_info> out;
  roaring_uint32_iterator_t* it = roaring_create_iterator(sel.r);
  while (it->has_value) {
    out.push_back(mp.series[it->current_value]);
    roaring_advance_uint32_iterator(it);
  }
  roaring_free_uint32_iterator(it);
  return out;
}

result<std::vector<series_result>> run_select(context& ctx, const select_statement& stmt) {
  const query_options& opts = *ctx.opts;
  // Subqueries: run them, then run this statement over their results.
  bool has_subquery = false;
  for (const auto& src : stmt.sources) has_subquery = has_subquery || src.subquery != nullptr;
  if (has_subquery) {
    std::vector<series_result> inner;
    for (const auto& src : stmt.sources) {
      if (!src.subquery) return error(errc::unsupported, "cannot mix subqueries and measurements in FROM");
      auto r = run_select(ctx, *src.subquery);
      if (!r.ok()) return r.error();
      for (auto& s : *r) inner.push_back(std::move(s));
    }
    result_storage rs(std::move(inner));
    select_statement outer = stmt;
    outer.sources.clear();
    auto names = rs.measurements(result_storage::db_name);
    for (const auto& n : *names) {
      source src;
      src.m.database = result_storage::db_name;
      src.m.name = n;
      outer.sources.push_back(std::move(src));
    }
    outer.into.reset();
    query_options child_opts = opts;
    context child{&rs, &child_opts, ctx.used, {}};
    auto r = run_select(child, outer);
    ctx.used = child.used;
    if (!r.ok() || !stmt.into) return r;
    return write_into(ctx, stmt, *r);
  }

  statement_plan sp;
  sp.stmt = &stmt;
  if (stmt.tz) {
    auto zone = time_zone::load(*stmt.tz);
    if (!zone.ok()) return zone.error();
    sp.zone = *zone;
  }
  if (stmt.condition) {
    expr c = *stmt.condition;
    LIANDU_RETURN_IF_ERROR(extract_time(c, opts.now_ns, sp.lo, sp.hi));
    sp.cond = std::move(c);
  }
  sp.hi_given = sp.hi != max_time;
  std::set<std::string> grouped_tags;
  for (const auto& d : stmt.dimensions) {
    if (d.kind == expr_kind::call && d.text == "time") {
      if (sp.interval != 0) return error(errc::invalid_argument, "multiple time dimensions not allowed");
      if (d.args.empty() || d.args.size() > 2)
        return error(errc::invalid_argument, "time dimension expected 1 or 2 arguments");
      if (d.args[0].kind != expr_kind::duration)
        return error(errc::invalid_argument, "time dimension must have duration argument");
      if (d.args[0].integer <= 0)
        return error(errc::invalid_argument, "time dimension must have a positive duration");
      if (d.args.size() == 2) {
        if (d.args[1].kind == expr_kind::duration) {
          sp.offset = d.args[1].integer;
        } else if (d.args[1].kind == expr_kind::call && d.args[1].text == "now") {
          sp.offset = opts.now_ns;
        } else {
          return error(errc::invalid_argument, "time dimension offset must be duration or now()");
        }
      }
      sp.interval = d.args[0].integer;
      sp.offset %= sp.interval;
      if (sp.offset < 0) sp.offset += sp.interval;
    } else if (d.kind == expr_kind::var_ref) {
      sp.group_tags.push_back(d.text);
      grouped_tags.insert(d.text);
    } else if (d.kind == expr_kind::wildcard) {
      sp.group_all_tags = true;
    } else if (d.kind == expr_kind::regex) {
      auto compiled = ctx.regex(d.text);
      if (!compiled.ok()) return compiled.error();
      sp.group_tag_regexes.push_back(d.text);
    } else {
      return error(errc::invalid_argument, "only time and tag dimensions allowed");
    }
  }
  if (sp.interval > 0 && !sp.hi_given) sp.hi = opts.now_ns;

  // Sources -> measurements.
  std::vector<mplan> plans;
  std::set<std::tuple<std::string, std::string, std::string>> seen;
  std::vector<std::string> dbs;
  for (const auto& src : stmt.sources) {
    std::string db = src.m.database.empty() ? opts.db : src.m.database;
    if (db.empty()) return error(errc::invalid_argument, "database name required");
    if (dbs.empty() || std::find(dbs.begin(), dbs.end(), db) == dbs.end()) {
      if (!ctx.s->has_database(db)) return error(errc::not_found, "database not found: " + db);
      dbs.push_back(db);
    }
    std::string rp = src.m.retention_policy.empty() ? opts.rp : src.m.retention_policy;
    std::vector<std::string> names;
    if (src.m.regex) {
      auto compiled = ctx.regex(*src.m.regex);
      if (!compiled.ok()) return compiled.error();
      const auto& re = *compiled;
      auto all = ctx.s->measurements(db);
      if (!all.ok()) return all.error();
      for (const auto& n : *all) {
        if (re->search(n)) names.push_back(n);
      }
    } else {
      names.push_back(src.m.name);
    }
    for (const auto& n : names) {
      if (!seen.insert({db, rp, n}).second) continue;
      mplan mp;
      mp.db = db;
      mp.rp = rp;
      mp.name = n;
      LIANDU_RETURN_IF_ERROR(load_plan(ctx, mp));
      plans.push_back(std::move(mp));
    }
  }
  std::sort(plans.begin(), plans.end(), [](const mplan& a, const mplan& b) { return a.name < b.name; });

  // Fields.
  std::vector<field> fields;
  LIANDU_RETURN_IF_ERROR(expand_fields(ctx, stmt, plans, grouped_tags, sp.group_all_tags, fields));
  if (fields.empty()) return std::vector<series_result>{};
  // top(x, host, 3) also outputs the tag arguments, after its own column.
  for (size_t i = 0; i < fields.size(); ++i) {
    const expr& e = fields[i].e;
    if (e.kind != expr_kind::call || (e.text != "top" && e.text != "bottom") || e.args.size() <= 2) continue;
    std::vector<field> tag_fields;
    for (size_t a = 1; a + 1 < e.args.size(); ++a) {
      if (e.args[a].kind == expr_kind::var_ref) tag_fields.push_back({e.args[a], ""});
    }
    fields.insert(fields.begin() + static_cast<std::ptrdiff_t>(i) + 1, tag_fields.begin(), tag_fields.end());
    i += tag_fields.size();
  }
  std::vector<std::string> names = column_names(fields);
  for (size_t i = 0; i < fields.size(); ++i) sp.columns.push_back({fields[i].e, names[i]});
  for (const auto& c : sp.columns) sp.aggregate = sp.aggregate || has_call(c.e);
  if (sp.aggregate) {
    for (const auto& c : sp.columns) collect_calls(c.e, sp.call_nodes);
    for (const expr* node : sp.call_nodes) {
      call_plan cp;
      LIANDU_RETURN_IF_ERROR(plan_call(*node, sp.interval > 0, cp));
      sp.calls.push_back(std::move(cp));
    }
    // Fields and tags may stand beside one selector (InfluxDB's auxiliary
    // fields); with anything else they would have no point to come from.
    bool one_selector = sp.calls.size() == 1 && !sp.calls[0].nested && is_selector(sp.calls[0].f);
    for (const auto& c : sp.columns) {
      if (!has_var_outside_call(c.e)) continue;
      if (!one_selector || c.e.kind != expr_kind::var_ref) {
        return error(errc::invalid_argument, "mixing aggregate and non-aggregate queries is not supported");
      }
      sp.aux = true;
    }
    for (const auto& cp : sp.calls) {
      fn outer = cp.nested ? cp.inner : cp.f;
      if (is_multi_row(outer) && sp.calls.size() > 1) {
        if (outer == fn::distinct) {
          return error(errc::invalid_argument,
                       "aggregate function distinct() cannot be combined with other functions or fields");
        }
        return error(errc::invalid_argument,
                     "selector function " + cp.node->text + "() cannot be combined with other functions");
      }
    }
  } else if (sp.interval > 0) {
    return error(errc::invalid_argument, "GROUP BY requires at least one aggregate function");
  }

  std::vector<std::string> columns{"time"};
  for (const auto& c : sp.columns) columns.push_back(c.name);
  std::vector<series_result> out;
  for (auto& mp : plans) {
    bitmap selected = bitmap::range(static_cast<uint32_t>(mp.series.size()));
    if (sp.cond) LIANDU_RETURN_IF_ERROR(filter_series(ctx, mp, *sp.cond, selected));
    std::vector<std::string> keys = group_keys_for(ctx, sp, mp);
    std::map<std::vector<std::string>, group> groups;
    roaring_uint32_iterator_t* it = roaring_create_iterator(selected.r);
    while (it->has_value) {
      uint32_t pos = it->current_value;
      const series_info& s = mp.series[pos];
      std::vector<std::string> key;
      for (const auto& k : keys) {
        const std::string* v = series_tag(s, k);
        key.push_back(v ? *v : std::string());
      }
      auto& g = groups[key];
      g.key = key;
      g.members.push_back(pos);
      roaring_advance_uint32_iterator(it);
    }
    roaring_free_uint32_iterator(it);

    std::set<std::string> select_set;
    for (const auto& c : sp.columns) collect_field_refs(c.e, mp, select_set);
    std::vector<std::string> select_fields(select_set.begin(), select_set.end());
    std::vector<std::string> needed = select_fields;
    if (sp.cond && !tag_only(*sp.cond, mp)) {
      std::set<std::string> cf;
      collect_field_refs(*sp.cond, mp, cf);
      for (const auto& f : cf) {
        if (!select_set.count(f)) needed.push_back(f);
      }
    }
    for (const auto& [key, g] : groups) {
      row_table rows;
      if (sp.aggregate) {
        LIANDU_RETURN_IF_ERROR(run_aggregate_group(ctx, sp, mp, g, rows));
      } else {
        if (select_fields.empty()) continue;
        LIANDU_RETURN_IF_ERROR(run_raw_group(ctx, sp, mp, g, needed, select_fields, rows));
      }
      if (rows.empty()) continue;
      series_result sr;
      sr.name = mp.name;
      for (size_t i = 0; i < keys.size(); ++i) sr.tags.emplace(keys[i], key[i]);
      sr.columns = columns;
      sr.values = std::move(rows);
      sr.time_column = true;
      sr.zone = sp.zone;
      out.push_back(std::move(sr));
    }
  }
  // SOFFSET / SLIMIT over series, ORDER BY / OFFSET / LIMIT over rows.
  if (stmt.soffset > 0) {
    size_t n = std::min(out.size(), static_cast<size_t>(stmt.soffset));
    out.erase(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
  }
  if (stmt.slimit > 0 && out.size() > static_cast<size_t>(stmt.slimit))
    out.resize(static_cast<size_t>(stmt.slimit));
  for (auto& s : out) {
    if (!stmt.ascending) s.values.reverse();
    s.values.page(stmt.offset, stmt.limit);
  }
  std::erase_if(out, [](const series_result& s) { return s.values.empty(); });
  if (stmt.into) return write_into(ctx, stmt, out);
  return out;
}

// With tz() InfluxDB truncates in local time: t plus the zone's offset at t
// is rounded down to the interval, and when the offset at that start differs
// from the offset at t by less than the interval (a DST change inside a
// day-long window, say) the start moves by the difference, so that daily
// windows begin at local midnight (23 or 25 hours long around DST changes)
// while hourly windows stay one hour apart.
int64_t window_start_in(const time_zone* zone, int64_t interval, int64_t offset, int64_t t) {
  auto utc = [&] { return floor_div(t - offset, interval) * interval + offset; };
  if (zone == nullptr) return utc();
  int64_t u = 0;
  int64_t local = 0;
  if (__builtin_sub_overflow(t, offset, &u)) return utc();
  int64_t zone_offset = zone->offset_ns_at(u);
  if (__builtin_add_overflow(u, zone_offset, &local)) return utc();
  int64_t dt = local % interval;
  if (dt < 0) dt += interval;
  if (min_time + dt >= u) return min_time;
  int64_t start = u - dt;
  int64_t diff = zone_offset - zone->offset_ns_at(start);
  if (diff != 0 && (diff < 0 ? -diff : diff) < interval) start += diff;
  return start + offset;
}

}  // namespace liandu::query::exec
