// Property tests: the executor against a naive reference computed with plain
// loops over the raw points, on random data, for every aggregate and each
// GROUP BY time / tags / fill combination.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <set>

#include "query/executor/executor.h"
#include "query/executor/functions.h"
#include "query/executor/time_zone.h"
#include "query/testing/memory_storage.h"

namespace liandu::query {
namespace {

constexpr int64_t sec = 1000000000;
constexpr int64_t span = 3 * 3600 * sec;

struct raw {
  int host;
  int64_t time;
  double v;
};

// m,host=h<host> v=<v> <t>
model::point host_point(int host, double v, int64_t t) {
  model::point p;
  p.measurement = "m";
  p.tags = {{"host", "h" + std::to_string(host)}};
  p.fields = {{"v", v}};
  p.time = t;
  return p;
}

struct ref_row {
  int64_t time;
  std::optional<double> v;
};

// One aggregate over the points of a window (in time order, ties by host),
// the reference way. Returns the value and the selected point's time.
std::optional<double> reference(const std::string& fn, std::vector<raw> pts, int64_t& sel_time) {
  size_t n = pts.size();
  if (fn == "count") return static_cast<double>(n);
  if (n == 0) return std::nullopt;
  std::vector<double> vals;
  for (const auto& p : pts) vals.push_back(p.v);
  std::vector<double> sorted = vals;
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (double x : vals) sum += x;
  if (fn == "sum") return sum;
  if (fn == "mean") return sum / static_cast<double>(n);
  if (fn == "median") return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  if (fn == "spread") return sorted.back() - sorted.front();
  if (fn == "stddev") {
    if (n < 2) return std::nullopt;
    double mean = sum / static_cast<double>(n), ss = 0;
    for (double x : vals) ss += (x - mean) * (x - mean);
    return std::sqrt(ss / static_cast<double>(n - 1));
  }
  if (fn == "mode") {
    double best = sorted[0];
    size_t best_count = 0;
    for (double x : sorted) {
      size_t c = static_cast<size_t>(std::count(sorted.begin(), sorted.end(), x));
      if (c > best_count) {
        best_count = c;
        best = x;
      }
    }
    return best;
  }
  if (fn == "min" || fn == "max") {
    size_t best = 0;
    for (size_t i = 1; i < n; ++i) {
      if (fn == "min" ? pts[i].v < pts[best].v : pts[i].v > pts[best].v) best = i;
    }
    sel_time = pts[best].time;
    return pts[best].v;
  }
  if (fn == "first" || fn == "last") {
    size_t best = 0;
    for (size_t i = 1; i < n; ++i) {
      bool better = fn == "first" ? pts[i].time < pts[best].time : pts[i].time > pts[best].time;
      if (better || (pts[i].time == pts[best].time && pts[i].v > pts[best].v)) best = i;
    }
    sel_time = pts[best].time;
    return pts[best].v;
  }
  if (fn == "percentile") {
    std::stable_sort(pts.begin(), pts.end(), [](const raw& a, const raw& b) { return a.v < b.v; });
    auto i = static_cast<int64_t>(std::floor(static_cast<double>(n) * 90 / 100.0 + 0.5)) - 1;
    if (i < 0 || i >= static_cast<int64_t>(n)) return std::nullopt;
    sel_time = pts[static_cast<size_t>(i)].time;
    return pts[static_cast<size_t>(i)].v;
  }
  ADD_FAILURE() << "no reference for " << fn;
  return std::nullopt;
}

void fill_rows(const std::string& fill, const std::string& fn, std::vector<ref_row>& rows) {
  if (fill == "null") {
    if (fn == "count") {
      for (auto& r : rows) {
        if (!r.v) r.v = 0;
      }
    }
  } else if (fill == "none") {
    std::erase_if(rows, [](const ref_row& r) { return !r.v; });
  } else if (fill == "0") {
    for (auto& r : rows) {
      if (!r.v) r.v = 0;
    }
  } else if (fill == "previous") {
    std::optional<double> prev;
    for (auto& r : rows) {
      if (!r.v) r.v = prev;
      prev = r.v;
    }
  } else if (fill == "linear") {
    std::optional<size_t> last;
    for (size_t i = 0; i < rows.size(); ++i) {
      if (!rows[i].v) continue;
      if (last && i > *last + 1) {
        for (size_t k = *last + 1; k < i; ++k) {
          double frac = static_cast<double>(rows[k].time - rows[*last].time) /
                        static_cast<double>(rows[i].time - rows[*last].time);
          rows[k].v = *rows[*last].v + (*rows[i].v - *rows[*last].v) * frac;
        }
      }
      last = i;
    }
  }
}

double as_double(const value& v) {
  switch (v.index()) {
    case 1: return std::get<double>(v);
    case 2: return static_cast<double>(std::get<int64_t>(v));
    default: return std::nan("");
  }
}

TEST(query_property, aggregates_match_reference) {
  std::mt19937_64 rng(20240101);
  const std::vector<std::string> fns = {"count",  "sum", "mean", "median", "mode", "spread",
                                        "stddev", "min", "max",  "first",  "last", "percentile"};
  const std::vector<int64_t> intervals = {0, 7 * 60 * sec, 3600 * sec};
  const std::vector<std::string> fills = {"null", "none", "previous", "linear", "0"};
  for (int round = 0; round < 4; ++round) {
    testing::memory_storage store(7);
    ASSERT_TRUE(store.create_database("db").ok());
    std::vector<raw> points;
    std::vector<model::point> lp;
    for (int h = 0; h < 3; ++h) {
      int n = static_cast<int>(rng() % 60);
      if (round == 0 && h == 1) n = 0;
      std::set<int64_t> used;
      for (int i = 0; i < n; ++i) {
        // Coarse times so hosts share timestamps (ties) and windows are sparse.
        int64_t t = static_cast<int64_t>(rng() % 180) * 60 * sec;
        if (!used.insert(t).second) continue;
        double v = static_cast<double>(rng() % 21) / 2;
        points.push_back({h, t, v});
        lp.push_back(host_point(h, v, t));
      }
    }
    if (!lp.empty()) {
      ASSERT_TRUE(store.write("db", "", lp).ok());
    }
    std::sort(points.begin(), points.end(), [](const raw& a, const raw& b) {
      return a.time != b.time ? a.time < b.time : a.host < b.host;
    });
    query_options opts;
    opts.db = "db";
    opts.now_ns = span + 3600 * sec;
    for (const auto& fn : fns) {
      for (int64_t interval : intervals) {
        for (const auto& fill : fills) {
          if (interval == 0 && fill != "null") continue;
          for (bool by_host : {false, true}) {
            std::string call = fn == "percentile" ? "percentile(v, 90)" : fn + "(v)";
            std::string q = "SELECT " + call + " FROM m WHERE time >= 0 AND time < " + std::to_string(span);
            std::string group;
            if (interval > 0) group = "time(" + std::to_string(interval / sec) + "s)";
            if (by_host) group += std::string(group.empty() ? "" : ", ") + "host";
            if (!group.empty()) q += " GROUP BY " + group;
            if (interval > 0) q += " fill(" + fill + ")";
            SCOPED_TRACE(q);

            // Reference.
            std::map<int, std::vector<raw>> groups;
            for (const auto& p : points) groups[by_host ? p.host : -1].push_back(p);
            std::vector<std::pair<int, std::vector<ref_row>>> want;
            for (auto& [g, pts] : groups) {
              std::vector<ref_row> rows;
              if (interval == 0) {
                int64_t sel = 0;
                auto v = reference(fn, pts, sel);
                bool selector =
                    fn == "min" || fn == "max" || fn == "first" || fn == "last" || fn == "percentile";
                rows.push_back({selector && v ? sel : 0, v});
              } else {
                for (int64_t w = 0; w < span; w += interval) {
                  std::vector<raw> in;
                  for (const auto& p : pts) {
                    if (p.time >= w && p.time < w + interval) in.push_back(p);
                  }
                  int64_t sel = 0;
                  rows.push_back({w, reference(fn, in, sel)});
                }
                fill_rows(fill, fn, rows);
              }
              if (!rows.empty()) want.emplace_back(g, rows);
            }

            execution e = execute(store, q, opts);
            ASSERT_TRUE(e.parse_error.empty()) << e.parse_error;
            ASSERT_EQ(e.results.size(), 1u);
            ASSERT_TRUE(e.results[0].error.empty()) << e.results[0].error;
            const auto& got = e.results[0].series;
            ASSERT_EQ(got.size(), want.size());
            for (size_t s = 0; s < want.size(); ++s) {
              if (by_host) {
                EXPECT_EQ(got[s].tags.at("host"), "h" + std::to_string(want[s].first));
              }
              const auto& rows = want[s].second;
              ASSERT_EQ(got[s].values.size(), rows.size());
              for (size_t r = 0; r < rows.size(); ++r) {
                EXPECT_EQ(std::get<int64_t>(got[s].values[r][0]), rows[r].time) << "row " << r;
                const value& v = got[s].values[r][1];
                if (!rows[r].v) {
                  EXPECT_EQ(v.index(), 0u) << "row " << r;
                } else {
                  ASSERT_NE(v.index(), 0u) << "row " << r;
                  EXPECT_NEAR(as_double(v), *rows[r].v, 1e-9 * std::max(1.0, std::fabs(*rows[r].v)))
                      << "row " << r;
                }
              }
            }
          }
        }
      }
    }
  }
}

// The area under the line through (t0, v0) and (t1, v1), between a and b
// (clipped to [t0, t1]), in value × seconds.
double line_area(int64_t t0, double v0, int64_t t1, double v1, int64_t a, int64_t b) {
  a = std::max(a, t0);
  b = std::min(b, t1);
  if (a >= b) return 0;
  auto at = [&](int64_t t) {
    return v0 + (v1 - v0) * static_cast<double>(t - t0) / static_cast<double>(t1 - t0);
  };
  return 0.5 * (at(a) + at(b)) * static_cast<double>(b - a) / static_cast<double>(sec);
}

// integral() under GROUP BY time against InfluxDB's definition, computed
// differently: the series is the polyline through its points; a window with points reports the area
// under the polyline from where the previous reported window ended (its
// first point for the first) to its own end or the last point; a last window
// whose only point is its start reports nothing.
TEST(query_property, integral_across_windows_matches_reference) {
  std::mt19937_64 rng(20261205);
  for (int round = 0; round < 20; ++round) {
    testing::memory_storage store(7);
    ASSERT_TRUE(store.create_database("db").ok());
    std::map<int64_t, double> line;  // time → value; one host per time
    std::vector<model::point> lp;
    int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      // Minute steps: points on window edges and empty windows. Hosts do not
      // share a time: which one a merge puts last is not defined (InfluxDB:
      // heap order), and the reducer keeps the last.
      int64_t t = static_cast<int64_t>(rng() % 180) * 60 * sec;
      double v = static_cast<double>(static_cast<int>(rng() % 41) - 20) / 4;
      int host = static_cast<int>(t / (60 * sec) % 3);
      lp.push_back(host_point(host, v, t));
      line[t] = v;  // a rewrite of a point replaces it
    }
    ASSERT_TRUE(store.write("db", "", lp).ok());
    std::vector<std::pair<int64_t, double>> pts(line.begin(), line.end());

    for (int64_t interval : {5 * 60 * sec, 17 * 60 * sec, 3600 * sec}) {
      std::string q = "SELECT integral(v) FROM m WHERE time >= 0 AND time < " + std::to_string(span) +
                      " GROUP BY time(" + std::to_string(interval / sec) + "s)";
      SCOPED_TRACE(q);
      std::vector<ref_row> want;
      std::set<int64_t> windows;
      for (const auto& [t, _] : pts) windows.insert(t / interval * interval);
      int64_t from = pts.front().first;
      for (int64_t w : windows) {
        int64_t to = std::min(w + interval, pts.back().first);
        double area = 0;
        for (size_t i = 0; i + 1 < pts.size(); ++i) {
          area += line_area(pts[i].first, pts[i].second, pts[i + 1].first, pts[i + 1].second, from, to);
        }
        bool last = w == *windows.rbegin();
        if (!(last && pts.back().first == w)) want.push_back({w, area});
        from = w + interval;
      }
      query_options opts;
      opts.db = "db";
      opts.now_ns = span;
      execution e = execute(store, q, opts);
      ASSERT_TRUE(e.parse_error.empty()) << e.parse_error;
      ASSERT_EQ(e.results.size(), 1u);
      ASSERT_TRUE(e.results[0].error.empty()) << e.results[0].error;
      const auto& got = e.results[0].series;
      if (want.empty()) {
        EXPECT_TRUE(got.empty());
        continue;
      }
      ASSERT_EQ(got.size(), 1u);
      ASSERT_EQ(got[0].values.size(), want.size());
      for (size_t r = 0; r < want.size(); ++r) {
        EXPECT_EQ(std::get<int64_t>(got[0].values[r][0]), want[r].time) << "row " << r;
        EXPECT_NEAR(as_double(got[0].values[r][1]), *want[r].v, 1e-9 * std::max(1.0, std::fabs(*want[r].v)))
            << "row " << r;
      }
    }
  }
}

int64_t floor_mod(int64_t a, int64_t b) { return ((a % b) + b) % b; }

// tz(): daily windows are local calendar days starting at local midnight,
// hourly ones local clock hours; summed and averaged with plain loops over
// local dates (seconds) and compared with GROUP BY time(...) tz(...).
TEST(query_property, time_zone_windows_match_local_calendar) {
  std::mt19937_64 rng(20240310);
  constexpr int64_t day = 86400;
  const int64_t from = 1672531200;  // 2023-01-01T00:00:00Z
  const int64_t to = from + 2 * 365 * day;
  for (const std::string zone_name :
       {"America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata"}) {
    auto loaded = time_zone::load(zone_name);
    ASSERT_TRUE(loaded.ok()) << zone_name;
    const time_zone& zone = **loaded;
    testing::memory_storage store(5);
    ASSERT_TRUE(store.create_database("db").ok());
    std::vector<model::point> lp;
    std::set<int64_t> used;
    for (int i = 0; i < 3000; ++i) {
      // Denser around the zone's changes: every point lies within two days of
      // a random instant, a fifth of them within an hour of an offset change.
      int64_t t = from + static_cast<int64_t>(rng() % static_cast<uint64_t>(to - from));
      if (i % 5 == 0) {
        int64_t probe = t;
        int32_t before = zone.offset_at(t);
        while (probe < t + 200 * day && zone.offset_at(probe) == before) probe += day;
        while (probe - 1800 > t && zone.offset_at(probe - 1800) != before) probe -= 1800;
        t = probe - 3600 + static_cast<int64_t>(rng() % 7200);
      }
      if (t < from || t >= to || !used.insert(t).second) continue;
      model::point p;
      p.measurement = "m";
      p.fields = {{"v", static_cast<double>(rng() % 100)}};
      p.time = t * sec;
      lp.push_back(p);
    }
    ASSERT_TRUE(store.write("db", "", lp).ok());
    query_options opts;
    opts.db = "db";
    opts.now_ns = to * sec;
    for (int64_t interval : {day, int64_t{3600}}) {
      // Reference: window start per point from its local wall clock.
      std::map<int64_t, std::pair<int64_t, double>> want;  // start -> count, sum
      for (const auto& p : lp) {
        int64_t t = p.time / sec;
        int64_t local = t + zone.offset_at(t);
        int64_t start = t - floor_mod(local, 3600);
        if (interval == day) {
          int64_t midnight = local - floor_mod(local, day);  // local date at 00:00, as if UTC
          start = midnight - zone.offset_at(midnight);
          if (start + zone.offset_at(start) != midnight) start = midnight - zone.offset_at(start);
          ASSERT_EQ(start + zone.offset_at(start), midnight) << zone_name;
        }
        auto& w = want[start];
        w.first++;
        w.second += std::get<double>(p.fields[0].value);
      }
      std::string q = "SELECT sum(v), mean(v) FROM m WHERE time >= " + std::to_string(from * sec) +
                      " AND time < " + std::to_string(to * sec) + " GROUP BY time(" +
                      std::to_string(interval) + "s) fill(none) tz('" + zone_name + "')";
      SCOPED_TRACE(q);
      execution e = execute(store, q, opts);
      ASSERT_TRUE(e.parse_error.empty()) << e.parse_error;
      ASSERT_EQ(e.results.size(), 1u);
      ASSERT_TRUE(e.results[0].error.empty()) << e.results[0].error;
      ASSERT_EQ(e.results[0].series.size(), 1u);
      const auto& rows = e.results[0].series[0].values;
      ASSERT_EQ(rows.size(), want.size());
      size_t r = 0;
      for (const auto& [start, cs] : want) {
        EXPECT_EQ(std::get<int64_t>(rows[r][0]), start * sec) << "row " << r;
        EXPECT_DOUBLE_EQ(as_double(rows[r][1]), cs.second) << "row " << r;
        EXPECT_DOUBLE_EQ(as_double(rows[r][2]), cs.second / static_cast<double>(cs.first)) << "row " << r;
        ++r;
      }
    }
  }
}

// top(v, host, k) is the top k of each host's maximum per window, and
// max(v), host, w outputs the maximum point's host and w; values are distinct
// so that the reference's order is the only one.
TEST(query_property, selectors_with_tags_and_fields_match_reference) {
  std::mt19937_64 rng(20240102);
  for (int round = 0; round < 4; ++round) {
    testing::memory_storage store(3);
    ASSERT_TRUE(store.create_database("db").ok());
    struct pt {
      int host;
      int64_t time;
      double v;
      std::optional<int64_t> w;
    };
    std::vector<pt> pts;
    std::vector<model::point> lp;
    std::vector<double> values(400);
    for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<double>(i) / 4;
    std::shuffle(values.begin(), values.end(), rng);
    std::set<std::pair<int, int64_t>> used;
    for (size_t i = 0; i < 150; ++i) {
      int host = static_cast<int>(rng() % 4);
      int64_t t = static_cast<int64_t>(rng() % 180) * 60 * sec;
      if (!used.insert({host, t}).second) continue;
      pt p{host, t, values[i], std::nullopt};
      model::point m;
      m.measurement = "m";
      m.tags = {{"host", "h" + std::to_string(host)}};
      m.fields = {{"v", p.v}};
      if (rng() % 3 != 0) {
        p.w = static_cast<int64_t>(rng() % 1000);
        m.fields.push_back({"w", *p.w});
      }
      m.time = t;
      pts.push_back(p);
      lp.push_back(m);
    }
    ASSERT_TRUE(store.write("db", "", lp).ok());
    query_options opts;
    opts.db = "db";
    opts.now_ns = span;
    for (int64_t interval : {int64_t{0}, 20 * 60 * sec, 3600 * sec}) {
      std::vector<std::pair<int64_t, int64_t>> windows;  // [start, end)
      if (interval == 0) {
        windows.push_back({0, span});
      } else {
        for (int64_t w = 0; w < span; w += interval) windows.push_back({w, w + interval});
      }
      std::string where = " FROM m WHERE time >= 0 AND time < " + std::to_string(span);
      std::string group = interval ? " GROUP BY time(" + std::to_string(interval / sec) + "s)" : "";
      for (int k : {1, 2, 3, 5}) {
        for (bool top : {true, false}) {
          std::string fn = top ? "top" : "bottom";
          std::string q = "SELECT " + fn + "(v, host, " + std::to_string(k) + ")" + where + group;
          SCOPED_TRACE(q);
          std::vector<pt> want;
          for (auto [lo, hi] : windows) {
            std::map<int, pt> best;
            for (const auto& p : pts) {
              if (p.time < lo || p.time >= hi) continue;
              auto it = best.find(p.host);
              if (it == best.end() || (top ? p.v > it->second.v : p.v < it->second.v)) best[p.host] = p;
            }
            std::vector<pt> cand;
            for (const auto& [h, p] : best) cand.push_back(p);
            std::sort(cand.begin(), cand.end(),
                      [&](const pt& a, const pt& b) { return top ? a.v > b.v : a.v < b.v; });
            if (cand.size() > static_cast<size_t>(k)) cand.resize(static_cast<size_t>(k));
            std::stable_sort(cand.begin(), cand.end(),
                             [](const pt& a, const pt& b) { return a.time < b.time; });
            want.insert(want.end(), cand.begin(), cand.end());
          }
          execution e = execute(store, q, opts);
          ASSERT_EQ(e.results.size(), 1u);
          ASSERT_TRUE(e.results[0].error.empty()) << e.results[0].error;
          ASSERT_EQ(e.results[0].series.size(), 1u);
          const auto& rows = e.results[0].series[0].values;
          ASSERT_EQ(rows.size(), want.size());
          for (size_t r = 0; r < rows.size(); ++r) {
            EXPECT_EQ(std::get<int64_t>(rows[r][0]), want[r].time) << "row " << r;
            EXPECT_EQ(as_double(rows[r][1]), want[r].v) << "row " << r;
            EXPECT_EQ(std::get<std::string>(rows[r][2]), "h" + std::to_string(want[r].host)) << "row " << r;
          }
        }
      }
      std::string q = "SELECT max(v), host, w" + where + group;
      SCOPED_TRACE(q);
      execution e = execute(store, q, opts);
      ASSERT_EQ(e.results.size(), 1u);
      ASSERT_TRUE(e.results[0].error.empty()) << e.results[0].error;
      ASSERT_EQ(e.results[0].series.size(), 1u);
      const auto& rows = e.results[0].series[0].values;
      ASSERT_EQ(rows.size(), windows.size());
      for (size_t r = 0; r < windows.size(); ++r) {
        std::optional<pt> best;
        for (const auto& p : pts) {
          if (p.time < windows[r].first || p.time >= windows[r].second) continue;
          if (!best || p.v > best->v) best = p;
        }
        if (!best) {
          EXPECT_EQ(rows[r][1].index(), 0u);
          EXPECT_EQ(rows[r][2].index(), 0u);
          continue;
        }
        EXPECT_EQ(std::get<int64_t>(rows[r][0]), interval ? windows[r].first : best->time) << "row " << r;
        EXPECT_EQ(as_double(rows[r][1]), best->v) << "row " << r;
        EXPECT_EQ(std::get<std::string>(rows[r][2]), "h" + std::to_string(best->host)) << "row " << r;
        if (best->w) {
          EXPECT_EQ(std::get<int64_t>(rows[r][3]), *best->w) << "row " << r;
        } else {
          EXPECT_EQ(rows[r][3].index(), 0u) << "row " << r;
        }
      }
    }
  }
}

// The streaming path (count, sum, mean, min, max folded from storage
// batches) against the column path, which a field condition that every
// point passes forces, on floats, integers, unsigned and booleans.
TEST(query_property, streaming_aggregates_match_column_path) {
  std::mt19937_64 rng(20240103);
  testing::memory_storage store(4);
  ASSERT_TRUE(store.create_database("db").ok());
  std::vector<model::point> lp;
  for (int h = 0; h < 4; ++h) {
    for (int i = 0; i < 80; ++i) {
      model::point p;
      p.measurement = "m";
      p.tags = {{"host", "h" + std::to_string(h)}};
      int64_t k = static_cast<int64_t>(rng() % 50);
      p.fields = {{"f", static_cast<double>(k) / 8},
                  {"i", k - 25},
                  {"u", static_cast<uint64_t>(k)},
                  {"b", k % 2 == 0},
                  {"all", int64_t{1}}};
      p.time = static_cast<int64_t>(rng() % 240) * 60 * sec;
      lp.push_back(p);
    }
  }
  ASSERT_TRUE(store.write("db", "", lp).ok());
  query_options opts;
  opts.db = "db";
  opts.now_ns = span;
  for (const std::string field : {"f", "i", "u", "b"}) {
    std::vector<std::string> fns = {"count", "min", "max"};
    if (field != "b") fns.insert(fns.end(), {"sum", "mean"});
    for (const auto& fn : fns) {
      for (const std::string group :
           {"", " GROUP BY time(17m)", " GROUP BY time(1h), host", " GROUP BY time(30m) fill(previous)",
            " GROUP BY host", " GROUP BY time(1h) tz('Asia/Kolkata')"}) {
        std::string q =
            "SELECT " + fn + "(" + field + ") FROM m WHERE time >= 0 AND time < " + std::to_string(span);
        std::string streamed = q + group;
        std::string columns = q + " AND \"all\" = 1" + group;
        SCOPED_TRACE(streamed);
        execution a = execute(store, streamed, opts);
        execution b = execute(store, columns, opts);
        ASSERT_EQ(a.results.size(), 1u);
        ASSERT_EQ(b.results.size(), 1u);
        ASSERT_EQ(a.results[0].error, b.results[0].error);
        ASSERT_EQ(a.results[0].series.size(), b.results[0].series.size());
        for (size_t s = 0; s < a.results[0].series.size(); ++s) {
          const auto& x = a.results[0].series[s];
          const auto& y = b.results[0].series[s];
          EXPECT_EQ(x.tags, y.tags);
          ASSERT_EQ(x.values.size(), y.values.size());
          for (size_t r = 0; r < x.values.size(); ++r) {
            EXPECT_EQ(x.values[r][0], y.values[r][0]) << "row " << r;
            const value& u = x.values[r][1];
            const value& v = y.values[r][1];
            ASSERT_EQ(u.index(), v.index()) << "row " << r;
            if (u.index() == 1) {
              EXPECT_NEAR(std::get<double>(u), std::get<double>(v), 1e-9) << "row " << r;
            } else {
              EXPECT_EQ(u, v) << "row " << r;
            }
          }
        }
      }
    }
  }
  // Types a function does not apply to fail the same way on both paths.
  for (const std::string q : {"SELECT sum(b) FROM m", "SELECT mean(b) FROM m"}) {
    execution a = execute(store, q, opts);
    EXPECT_EQ(a.results.at(0).error,
              "unsupported " + q.substr(7, q.find('(') - 7) + " iterator type: boolean");
  }
}

// merge_order against a stable sort by (time, run) on random runs: runs on
// one clock (the counting sort), runs with times of their own (the heap),
// and mixtures, with empty runs between.
TEST(query_property, merge_order_matches_stable_sort) {
  std::mt19937_64 rng(20240104);
  for (int round = 0; round < 400; ++round) {
    const int shape = round % 4;
    const size_t runs = 1 + rng() % (round < 200 ? 6 : 200);
    std::vector<int64_t> times;
    std::vector<size_t> run_end;
    std::vector<uint32_t> run_of;
    for (size_t k = 0; k < runs; ++k) {
      std::set<int64_t> ts;
      size_t n = rng() % 5 == 0 ? 0 : rng() % 40;
      for (size_t i = 0; i < n; ++i) {
        bool grid = shape == 0 || (shape == 2 && k % 3 != 0) || (shape == 3 && rng() % 10 != 0);
        int64_t t =
            grid ? static_cast<int64_t>(rng() % 50) * 10 : static_cast<int64_t>(rng() % 100000) - 5000;
        if (shape == 0 && rng() % 4 != 0) t = static_cast<int64_t>(i) * 10;  // long shared stretches
        ts.insert(t);
      }
      for (int64_t t : ts) {
        times.push_back(t);
        run_of.push_back(static_cast<uint32_t>(k));
      }
      run_end.push_back(times.size());
    }
    std::vector<uint32_t> want(times.size());
    std::iota(want.begin(), want.end(), 0u);
    std::stable_sort(want.begin(), want.end(), [&](uint32_t a, uint32_t b) {
      return times[a] != times[b] ? times[a] < times[b] : run_of[a] < run_of[b];
    });
    EXPECT_EQ(exec::merge_order(times, run_end), want) << "round " << round << " shape " << shape;
  }
}

// A raw SELECT without GROUP BY merges the rows of all series into one, by
// time and, at equal times, in series (key) order, as InfluxDB does; with
// fields present in some points only, a field condition, DESC, LIMIT and
// OFFSET. The reference sorts all points with a plain stable sort.
TEST(query_property, raw_select_merges_series_like_reference) {
  std::mt19937_64 rng(20240105);
  struct pt {
    int host;
    int64_t time;
    std::optional<double> v;
    std::optional<int64_t> w;
  };
  for (int round = 0; round < 12; ++round) {
    const int shape = round % 3;  // 0: one clock, 1: own times, 2: mixed
    testing::memory_storage store(5);
    ASSERT_TRUE(store.create_database("db").ok());
    const int hosts = 1 + static_cast<int>(rng() % 30);
    std::vector<pt> points;
    std::vector<model::point> lp;
    for (int h = 0; h < hosts; ++h) {
      std::set<int64_t> used;
      int n = static_cast<int>(rng() % 50);
      for (int i = 0; i < n; ++i) {
        bool grid = shape == 0 || (shape == 2 && h % 2 == 0);
        int64_t t = grid ? static_cast<int64_t>(rng() % 60) * 10 * sec
                         : static_cast<int64_t>(rng() % 600000) * (sec / 1000);
        if (!used.insert(t).second) continue;
        pt p{h, t, std::nullopt, std::nullopt};
        model::point m;
        m.measurement = "m";
        char name[8];
        std::snprintf(name, sizeof name, "h%02d", h);
        m.tags = {{"host", name}};
        if (rng() % 5 != 0) {
          p.v = static_cast<double>(rng() % 100) / 4;
          m.fields.push_back({"v", *p.v});
        }
        if (!p.v || rng() % 2 == 0) {
          p.w = static_cast<int64_t>(rng() % 10);
          m.fields.push_back({"w", *p.w});
        }
        m.time = t;
        points.push_back(p);
        lp.push_back(std::move(m));
      }
    }
    if (!lp.empty()) {
      ASSERT_TRUE(store.write("db", "", lp).ok());
    }
    std::stable_sort(points.begin(), points.end(), [](const pt& a, const pt& b) {
      return a.time != b.time ? a.time < b.time : a.host < b.host;
    });
    query_options opts;
    opts.db = "db";
    opts.now_ns = span;
    const std::string range = " WHERE time >= 0 AND time < " + std::to_string(span);
    for (const std::string& q :
         {"SELECT v FROM m" + range, "SELECT v, w FROM m" + range, "SELECT v FROM m" + range + " AND w > 4",
          "SELECT v, w FROM m" + range + " ORDER BY time DESC LIMIT 40 OFFSET 3"}) {
      SCOPED_TRACE(q);
      const bool both = q.find("v, w") != std::string::npos;
      const bool cond = q.find("w > 4") != std::string::npos;
      const bool desc = q.find("DESC") != std::string::npos;
      std::vector<std::vector<value>> want;
      for (const auto& p : points) {
        if (!p.v && !(both && p.w)) continue;
        if (cond && !(p.w && *p.w > 4)) continue;
        std::vector<value> row(both ? 3 : 2);
        row[0] = p.time;
        if (p.v) row[1] = *p.v;
        if (both && p.w) row[2] = *p.w;
        want.push_back(std::move(row));
      }
      if (desc) {
        // The ascending rows reversed (series order too, within a time), as the executor always did.
        std::reverse(want.begin(), want.end());
        want.erase(want.begin(), want.begin() + std::min<size_t>(3, want.size()));
        if (want.size() > 40) want.resize(40);
      }
      execution ex = execute(store, q, opts);
      ASSERT_EQ(ex.results.size(), 1u);
      ASSERT_EQ(ex.results[0].error, "");
      if (want.empty()) {
        EXPECT_TRUE(ex.results[0].series.empty());
        continue;
      }
      ASSERT_EQ(ex.results[0].series.size(), 1u);
      const row_table& got = ex.results[0].series[0].values;
      ASSERT_EQ(got.size(), want.size());
      for (size_t r = 0; r < want.size(); ++r) {
        std::vector<value> row(got[r].begin(), got[r].end());
        EXPECT_EQ(row, want[r]) << "row " << r;
      }
    }
  }
}

}  // namespace
}  // namespace liandu::query
