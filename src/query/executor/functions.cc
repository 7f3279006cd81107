#include "query/executor/functions.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <numeric>
#include <queue>
#include <type_traits>

namespace liandu::query::exec {

namespace {

template <typename T>
constexpr bool is_numeric_v =
    std::is_same_v<T, double> || std::is_same_v<T, int64_t> || std::is_same_v<T, uint64_t>;

template <typename T>
value to_value(const T& v) {
  if constexpr (std::is_same_v<T, uint8_t>) {
    return value(v != 0);
  } else {
    return value(v);
  }
}

// Calls fn with the typed value vector of col.
template <typename C, typename F>
auto with_values(C& col, F&& f) {
  switch (col.type) {
    case model::field_type::float64: return f(col.floats);
    case model::field_type::int64: return f(col.integers);
    case model::field_type::uint64: return f(col.unsigneds);
    case model::field_type::boolean: return f(col.booleans);
    case model::field_type::string: return f(col.strings);
  }
  return f(col.floats);
}

template <typename T>
bool reduce_typed(fn f, const fn_args& a, const std::vector<int64_t>& times, const std::vector<T>& vals,
                  size_t b, size_t e, int64_t wt, std::vector<out_point>& out) {
  size_t n = e - b;
  switch (f) {
    case fn::count: out.push_back({wt, value(static_cast<int64_t>(n))}); return true;
    case fn::count_distinct: {
      std::vector<T> v(vals.begin() + static_cast<std::ptrdiff_t>(b),
                       vals.begin() + static_cast<std::ptrdiff_t>(e));
      std::sort(v.begin(), v.end());
      out.push_back({wt, value(static_cast<int64_t>(std::unique(v.begin(), v.end()) - v.begin()))});
      return true;
    }
    case fn::distinct: {
      if (n == 0) return true;
      std::vector<T> v(vals.begin() + static_cast<std::ptrdiff_t>(b),
                       vals.begin() + static_cast<std::ptrdiff_t>(e));
      std::sort(v.begin(), v.end());
      v.erase(std::unique(v.begin(), v.end()), v.end());
      for (const T& x : v) out.push_back({wt, to_value(x)});
      return true;
    }
    case fn::first:
    case fn::last: {
      if (n == 0) return true;
      size_t best = b;
      for (size_t i = b + 1; i < e; ++i) {
        bool better = f == fn::first
                          ? (times[i] < times[best] || (times[i] == times[best] && vals[i] > vals[best]))
                          : (times[i] > times[best] || (times[i] == times[best] && vals[i] > vals[best]));
        if (better) best = i;
      }
      out.push_back({times[best], to_value(vals[best]), best});
      return true;
    }
    case fn::mode: {
      if (n == 0) return true;
      std::vector<T> v(vals.begin() + static_cast<std::ptrdiff_t>(b),
                       vals.begin() + static_cast<std::ptrdiff_t>(e));
      std::sort(v.begin(), v.end());
      size_t best = 0, best_count = 0;
      for (size_t i = 0; i < v.size();) {
        size_t j = i;
        while (j < v.size() && v[j] == v[i]) ++j;
        if (j - i > best_count) {
          best_count = j - i;
          best = i;
        }
        i = j;
      }
      out.push_back({wt, to_value(v[best])});
      return true;
    }
    case fn::min:
    case fn::max: {
      if constexpr (is_numeric_v<T> || std::is_same_v<T, uint8_t>) {
        if (n == 0) return true;
        size_t best = b;
        for (size_t i = b + 1; i < e; ++i) {
          bool better = f == fn::min ? vals[i] < vals[best] : vals[i] > vals[best];
          if (better || (vals[i] == vals[best] && times[i] < times[best])) best = i;
        }
        out.push_back({times[best], to_value(vals[best]), best});
        return true;
      } else {
        return false;
      }
    }
    case fn::top:
    case fn::bottom: {
      if constexpr (is_numeric_v<T>) {
        std::vector<size_t> idx(n);
        std::iota(idx.begin(), idx.end(), b);
        auto cmp = [&](size_t x, size_t y) {
          if (vals[x] != vals[y]) return f == fn::top ? vals[x] > vals[y] : vals[x] < vals[y];
          return times[x] < times[y];
        };
        size_t k = std::min<size_t>(n, static_cast<size_t>(std::max<int64_t>(a.n, 0)));
        std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(), cmp);
        idx.resize(k);
        std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return times[x] < times[y]; });
        for (size_t i : idx) out.push_back({times[i], to_value(vals[i]), i});
        return true;
      } else {
        return false;
      }
    }
    default: break;
  }
  if constexpr (!is_numeric_v<T>) {
    return false;
  } else {
    switch (f) {
      case fn::sum: {
        if (n == 0) return true;
        T s = 0;
        for (size_t i = b; i < e; ++i) s += vals[i];
        out.push_back({wt, to_value(s)});
        return true;
      }
      case fn::mean: {
        if (n == 0) return true;
        double s = 0;
        for (size_t i = b; i < e; ++i) s += static_cast<double>(vals[i]);
        out.push_back({wt, value(s / static_cast<double>(n))});
        return true;
      }
      case fn::median: {
        if (n == 0) return true;
        std::vector<T> v(vals.begin() + static_cast<std::ptrdiff_t>(b),
                         vals.begin() + static_cast<std::ptrdiff_t>(e));
        std::sort(v.begin(), v.end());
        double m = n % 2 == 1 ? static_cast<double>(v[n / 2])
                              : static_cast<double>(v[n / 2 - 1]) +
                                    (static_cast<double>(v[n / 2]) - static_cast<double>(v[n / 2 - 1])) / 2;
        out.push_back({wt, value(m)});
        return true;
      }
      case fn::spread: {
        if (n == 0) return true;
        T lo = vals[b], hi = vals[b];
        for (size_t i = b + 1; i < e; ++i) {
          lo = std::min(lo, vals[i]);
          hi = std::max(hi, vals[i]);
        }
        out.push_back({wt, to_value(static_cast<T>(hi - lo))});
        return true;
      }
      case fn::stddev: {
        if (n == 0) return true;
        if (n == 1) {
          out.push_back({wt, value()});
          return true;
        }
        double mean = 0;
        for (size_t i = b; i < e; ++i) mean += static_cast<double>(vals[i]);
        mean /= static_cast<double>(n);
        double ss = 0;
        for (size_t i = b; i < e; ++i) {
          double d = static_cast<double>(vals[i]) - mean;
          ss += d * d;
        }
        out.push_back({wt, value(std::sqrt(ss / static_cast<double>(n - 1)))});
        return true;
      }
      case fn::percentile: {
        if (n == 0) return true;
        std::vector<size_t> idx(n);
        std::iota(idx.begin(), idx.end(), b);
        std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return vals[x] < vals[y]; });
        auto i = static_cast<int64_t>(std::floor(static_cast<double>(n) * a.percentile / 100.0 + 0.5)) - 1;
        if (i < 0 || i >= static_cast<int64_t>(n)) return true;
        size_t p = idx[static_cast<size_t>(i)];
        out.push_back({times[p], to_value(vals[p]), p});
        return true;
      }
      case fn::integral: {
        if (n == 0) return true;
        double sum = 0;
        size_t prev = b;
        for (size_t i = b + 1; i < e; ++i) {
          if (times[i] == times[prev]) {
            prev = i;
            continue;
          }
          double elapsed = static_cast<double>(times[i] - times[prev]) / static_cast<double>(a.unit);
          sum += 0.5 * (static_cast<double>(vals[i]) + static_cast<double>(vals[prev])) * elapsed;
          prev = i;
        }
        out.push_back({wt, value(sum)});
        return true;
      }
      default: return false;
    }
  }
}

double as_double(const value& v) {
  switch (v.index()) {
    case 1: return std::get<double>(v);
    case 2: return static_cast<double>(std::get<int64_t>(v));
    case 3: return static_cast<double>(std::get<uint64_t>(v));
    default: return 0;
  }
}

bool numeric(const value& v) { return v.index() >= 1 && v.index() <= 3; }

value subtract(const value& x, const value& y) {
  if (x.index() == 2 && y.index() == 2) return value(std::get<int64_t>(x) - std::get<int64_t>(y));
  if (x.index() == 3 && y.index() == 3) return value(std::get<uint64_t>(x) - std::get<uint64_t>(y));
  return value(as_double(x) - as_double(y));
}

value add(const value& x, const value& y) {
  if (x.index() == 2 && y.index() == 2) return value(std::get<int64_t>(x) + std::get<int64_t>(y));
  if (x.index() == 3 && y.index() == 3) return value(std::get<uint64_t>(x) + std::get<uint64_t>(y));
  return value(as_double(x) + as_double(y));
}

}  // namespace

bool lookup_fn(std::string_view name, fn& out) {
  static const std::map<std::string_view, fn> table = {
      {"count", fn::count},
      {"distinct", fn::distinct},
      {"sum", fn::sum},
      {"mean", fn::mean},
      {"median", fn::median},
      {"mode", fn::mode},
      {"spread", fn::spread},
      {"stddev", fn::stddev},
      {"min", fn::min},
      {"max", fn::max},
      {"first", fn::first},
      {"last", fn::last},
      {"percentile", fn::percentile},
      {"integral", fn::integral},
      {"top", fn::top},
      {"bottom", fn::bottom},
      {"difference", fn::difference},
      {"non_negative_difference", fn::non_negative_difference},
      {"derivative", fn::derivative},
      {"non_negative_derivative", fn::non_negative_derivative},
      {"moving_average", fn::moving_average},
      {"cumulative_sum", fn::cumulative_sum},
      {"elapsed", fn::elapsed},
  };
  auto it = table.find(name);
  if (it == table.end()) return false;
  out = it->second;
  return true;
}

bool is_transformation(fn f) { return f >= fn::difference; }

bool is_selector(fn f) {
  return f == fn::min || f == fn::max || f == fn::first || f == fn::last || f == fn::percentile ||
         f == fn::top || f == fn::bottom;
}

bool is_multi_row(fn f) { return f == fn::top || f == fn::bottom || f == fn::distinct; }

bool reduce(fn f, const fn_args& a, const column_batch& col, size_t begin, size_t end, int64_t window_time,
            std::vector<out_point>& out) {
  return with_values(col, [&](const auto& vals) {
    return reduce_typed(f, a, col.times, vals, begin, end, window_time, out);
  });
}

bool integral_windows(const column_batch& col, int64_t unit, const std::function<int64_t(int64_t)>& window_of,
                      const std::function<int64_t(int64_t)>& window_end_of, std::vector<out_point>& out) {
  return with_values(col, [&](const auto& vals) {
    using T = std::remove_cv_t<std::remove_reference_t<decltype(vals[0])>>;
    if constexpr (!is_numeric_v<T>) {
      return false;
    } else {
      if (col.size() == 0) return true;
      const auto& times = col.times;
      const double per_unit = static_cast<double>(unit);
      int64_t prev_time = times[0];
      double prev_value = static_cast<double>(vals[0]);
      int64_t start = window_of(prev_time);
      int64_t end = window_end_of(start);
      double sum = 0;
      for (size_t i = 1; i < col.size(); ++i) {
        const int64_t t = times[i];
        const double v = static_cast<double>(vals[i]);
        if (t == prev_time) {  // a later duplicate replaces the point
          prev_value = v;
          continue;
        }
        if (t >= end) {
          // Close the window at its end, on the line to this point.
          if (prev_time != end) {
            double at_end = prev_value + (v - prev_value) * (static_cast<double>(end - prev_time) /
                                                             static_cast<double>(t - prev_time));
            sum += 0.5 * (at_end + prev_value) * (static_cast<double>(end - prev_time) / per_unit);
            prev_value = at_end;
            prev_time = end;
          }
          out.push_back({start, value(sum)});
          start = window_of(t);
          end = window_end_of(start);
          sum = 0;
        }
        sum += 0.5 * (v + prev_value) * (static_cast<double>(t - prev_time) / per_unit);
        prev_time = t;
        prev_value = v;
      }
      // The last window has no area when its only point is its start.
      if (prev_time != start) out.push_back({start, value(sum)});
      return true;
    }
  });
}

bool transform(fn f, const fn_args& a, const std::vector<out_point>& in, std::vector<out_point>& out) {
  if (f != fn::elapsed) {
    for (const auto& p : in) {
      if (!numeric(p.v)) return false;
    }
  }
  switch (f) {
    case fn::difference:
    case fn::non_negative_difference:
      for (size_t i = 1; i < in.size(); ++i) {
        if (in[i].time == in[i - 1].time) continue;
        value d = subtract(in[i].v, in[i - 1].v);
        if (f == fn::non_negative_difference && as_double(d) < 0) continue;
        out.push_back({in[i].time, d});
      }
      return true;
    case fn::derivative:
    case fn::non_negative_derivative:
      for (size_t i = 1; i < in.size(); ++i) {
        if (in[i].time == in[i - 1].time) continue;
        double diff = as_double(in[i].v) - as_double(in[i - 1].v);
        double elapsed = static_cast<double>(in[i].time - in[i - 1].time) / static_cast<double>(a.unit);
        double d = diff / elapsed;
        if (f == fn::non_negative_derivative && d < 0) continue;
        out.push_back({in[i].time, value(d)});
      }
      return true;
    case fn::moving_average: {
      size_t w = static_cast<size_t>(std::max<int64_t>(a.n, 1));
      double sum = 0;
      for (size_t i = 0; i < in.size(); ++i) {
        sum += as_double(in[i].v);
        if (i >= w) sum -= as_double(in[i - w].v);
        if (i + 1 >= w) out.push_back({in[i].time, value(sum / static_cast<double>(w))});
      }
      return true;
    }
    case fn::cumulative_sum: {
      if (in.empty()) return true;
      value acc = in[0].v;
      out.push_back({in[0].time, acc});
      for (size_t i = 1; i < in.size(); ++i) {
        acc = add(acc, in[i].v);
        out.push_back({in[i].time, acc});
      }
      return true;
    }
    case fn::elapsed:
      for (size_t i = 1; i < in.size(); ++i) {
        out.push_back({in[i].time, value((in[i].time - in[i - 1].time) / std::max<int64_t>(a.unit, 1))});
      }
      return true;
    default: return false;
  }
}

void to_points(const column_batch& col, size_t begin, size_t end, std::vector<out_point>& out) {
  with_values(col, [&](const auto& vals) {
    for (size_t i = begin; i < end; ++i) out.push_back({col.times[i], to_value(vals[i])});
    return true;
  });
}

column_batch merge_columns(std::vector<column_batch>& cols, std::vector<uint32_t>* origin) {
  column_batch out;
  if (origin) origin->clear();
  const column_batch* first = nullptr;
  for (const auto& c : cols) {
    if (c.size() > 0) {
      first = &c;
      break;
    }
  }
  if (!first) return out;
  out.type = first->type;
  std::vector<const column_batch*> use;
  std::vector<uint32_t> use_pos;
  for (size_t k = 0; k < cols.size(); ++k) {
    if (cols[k].size() > 0 && cols[k].type == out.type) {
      use.push_back(&cols[k]);
      use_pos.push_back(static_cast<uint32_t>(k));
    }
  }
  if (use.size() == 1) {
    if (origin) origin->assign(use[0]->size(), use_pos[0]);
    return *use[0];
  }
  // Stable k-way merge over a min-heap of (time, column): O(n log k), ties
  // keep column (series) order.
  struct cursor {
    const column_batch* c;
    size_t i;
  };
  std::vector<cursor> cur;
  size_t total = 0;
  for (const auto* c : use) {
    cur.push_back({c, 0});
    total += c->size();
  }
  using entry = std::pair<int64_t, uint32_t>;  // (time, column index)
  std::priority_queue<entry, std::vector<entry>, std::greater<entry>> heap;
  for (uint32_t k = 0; k < cur.size(); ++k) heap.push({cur[k].c->times[0], k});
  out.times.reserve(total);
  if (origin) origin->reserve(total);
  with_values(out, [&](auto& dst) {
    using vec_t = std::remove_cv_t<std::remove_reference_t<decltype(dst)>>;
    dst.reserve(total);
    while (!heap.empty()) {
      uint32_t best = heap.top().second;
      heap.pop();
      const column_batch* src = cur[best].c;
      size_t i = cur[best].i++;
      if (cur[best].i < src->size()) heap.push({src->times[cur[best].i], best});
      out.times.push_back(src->times[i]);
      if (origin) origin->push_back(use_pos[best]);
      with_values(*src, [&](const auto& sv) {
        if constexpr (std::is_same_v<std::remove_cv_t<std::remove_reference_t<decltype(sv)>>, vec_t>) {
          dst.push_back(sv[i]);
        }
        return true;
      });
    }
    return true;
  });
  return out;
}

namespace {

// The heap merge of merge_order, for runs of many distinct times.
std::vector<uint32_t> heap_merge_order(std::span<const int64_t> times, std::span<const size_t> run_end) {
  struct cursor {
    int64_t time;
    uint32_t run;
    uint32_t row;
  };
  auto later = [](const cursor& a, const cursor& b) {
    return a.time != b.time ? a.time > b.time : a.run > b.run;
  };
  std::vector<cursor> heap;
  heap.reserve(run_end.size());
  for (size_t k = 0, begin = 0; k < run_end.size(); begin = run_end[k++]) {
    if (run_end[k] > begin)
      heap.push_back({times[begin], static_cast<uint32_t>(k), static_cast<uint32_t>(begin)});
  }
  std::make_heap(heap.begin(), heap.end(), later);
  std::vector<uint32_t> order;
  order.reserve(times.size());
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    cursor& c = heap.back();
    order.push_back(c.row);
    if (++c.row < run_end[c.run]) {
      c.time = times[c.row];
      std::push_heap(heap.begin(), heap.end(), later);
    } else {
      heap.pop_back();
    }
  }
  return order;
}

}  // namespace

std::vector<uint32_t> merge_order(std::span<const int64_t> times, std::span<const size_t> run_end) {
  const size_t n = times.size();
  auto run_of = [&](size_t k) {
    size_t begin = k == 0 ? 0 : run_end[k - 1];
    return times.subspan(begin, run_end[k] - begin);
  };
  // The distinct times of all runs, ascending, built run by run. A run that
  // is a stretch of the times seen so far (the common case: every sensor
  // reported at the same ticks) costs a binary search and a compare; others
  // are merged in, and once that merging has cost more than a few passes
  // over the rows, or the distinct times are many, the heap is cheaper.
  std::vector<int64_t> distinct, merged;
  const size_t max_distinct = n / 4 + 16;
  size_t merge_work = 0;
  for (size_t k = 0; k < run_end.size(); ++k) {
    std::span<const int64_t> run = run_of(k);
    if (run.empty()) continue;
    auto at = std::lower_bound(distinct.begin(), distinct.end(), run.front());
    if (static_cast<size_t>(distinct.end() - at) >= run.size() && std::equal(run.begin(), run.end(), at))
      continue;
    merged.clear();
    std::set_union(distinct.begin(), distinct.end(), run.begin(), run.end(), std::back_inserter(merged));
    merged.erase(std::unique(merged.begin(), merged.end()), merged.end());
    distinct.swap(merged);
    merge_work += distinct.size();
    if (distinct.size() > max_distinct || merge_work > 4 * n + 1024) return heap_merge_order(times, run_end);
  }
  // Each row's bucket (its time's index among the distinct times), counted.
  std::vector<uint32_t> bucket(n);
  std::vector<uint32_t> next(distinct.size() + 1, 0);
  for (size_t k = 0, begin = 0; k < run_end.size(); begin = run_end[k++]) {
    std::span<const int64_t> run = run_of(k);
    if (run.empty()) continue;
    auto at = std::lower_bound(distinct.begin(), distinct.end(), run.front());
    auto b0 = static_cast<uint32_t>(at - distinct.begin());
    if (static_cast<size_t>(distinct.end() - at) >= run.size() && std::equal(run.begin(), run.end(), at)) {
      for (size_t i = 0; i < run.size(); ++i) bucket[begin + i] = b0 + static_cast<uint32_t>(i);
    } else {
      for (size_t i = 0; i < run.size(); ++i) {
        at = std::lower_bound(at, distinct.end(), run[i]);
        bucket[begin + i] = static_cast<uint32_t>(at - distinct.begin());
      }
    }
    for (size_t i = 0; i < run.size(); ++i) ++next[bucket[begin + i] + 1];
  }
  for (size_t b = 1; b < next.size(); ++b) next[b] += next[b - 1];
  // Rows are placed in index order, so equal times keep run, then row, order.
  std::vector<uint32_t> order(n);
  for (size_t r = 0; r < n; ++r) order[next[bucket[r]]++] = static_cast<uint32_t>(r);
  return order;
}

bool keep_best_per_group(fn f, const column_batch& col, size_t begin, size_t end,
                         const std::vector<uint32_t>& group, std::vector<uint8_t>& keep) {
  return with_values(col, [&](const auto& vals) {
    using T = std::remove_cv_t<std::remove_reference_t<decltype(vals[0])>>;
    if constexpr (!is_numeric_v<T>) {
      return false;
    } else {
      std::map<uint32_t, size_t> best;
      for (size_t i = begin; i < end; ++i) {
        auto [it, fresh] = best.emplace(group[i], i);
        if (fresh) continue;
        size_t j = it->second;
        bool better = f == fn::bottom ? vals[i] < vals[j] : vals[i] > vals[j];
        if (better || (vals[i] == vals[j] && col.times[i] < col.times[j])) it->second = i;
      }
      for (const auto& [g, i] : best) keep[i] = 1;
      return true;
    }
  });
}

void filter_column(column_batch& col, const std::vector<uint8_t>& keep) {
  size_t w = 0;
  with_values(col, [&](auto& vals) {
    for (size_t i = 0; i < col.times.size(); ++i) {
      if (!keep[i]) continue;
      col.times[w] = col.times[i];
      vals[w] = std::move(vals[i]);
      ++w;
    }
    vals.resize(w);
    return true;
  });
  col.times.resize(w);
}

value column_value(const column_batch& col, size_t i) {
  return with_values(col, [&](const auto& vals) { return to_value(vals[i]); });
}

size_t column_bytes(const column_batch& col) {
  size_t n = col.times.size() * 16;
  for (const auto& s : col.strings) n += s.size();
  return n;
}

}  // namespace liandu::query::exec
