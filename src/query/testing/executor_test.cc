#include "query/executor/executor.h"

#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <random>

#include "query/executor/continuous_query.h"
#include "query/executor/internal.h"
#include "query/testing/memory_storage.h"

namespace liandu::query {
namespace {

constexpr int64_t sec = 1000000000;

model::point pt(std::string m, std::vector<model::tag> tags, std::string field, model::field_value v,
                int64_t t) {
  model::point p;
  p.measurement = std::move(m);
  p.tags = std::move(tags);
  p.fields.push_back({std::move(field), std::move(v)});
  p.time = t;
  return p;
}

TEST(encoding, go_float_format) {
  auto f = [](double v) {
    std::string s;
    append_go_float(s, v);
    return s;
  };
  EXPECT_EQ(f(92.5), "92.5");
  EXPECT_EQ(f(1), "1");
  EXPECT_EQ(f(0), "0");
  EXPECT_EQ(f(-0.1), "-0.1");
  EXPECT_EQ(f(1e21), "1e+21");
  EXPECT_EQ(f(1e20), "100000000000000000000");
  EXPECT_EQ(f(1e-7), "1e-7");
  EXPECT_EQ(f(0.000001), "0.000001");
  EXPECT_EQ(f(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(f(123456789.125), "123456789.125");
}

// to_json writes rows through a buffer of its own: every cell type, rows
// across many refills of it, strings between, a row wider than the buffer,
// times in RFC3339 and as epoch integers, against the cells appended one by
// one with the exposed helpers.
TEST(encoding, to_json_rows_match_cell_by_cell) {
  std::mt19937_64 rng(7);
  const std::vector<value> samples = {value(),
                                      value(77.2),
                                      value(-0.5),
                                      value(1e-7),
                                      value(1e21),
                                      value(1.0 / 3),
                                      value(std::nan("")),
                                      value(int64_t{-9223372036854775807 - 1}),
                                      value(uint64_t{18446744073709551615u}),
                                      value(true),
                                      value(false),
                                      value(std::string("a\"b<\n\xff")),
                                      value(std::string(3000, 'x'))};
  for (const std::string epoch : {"", "ms"}) {
    for (size_t width : {2u, 6u, 1200u}) {
      series_result sr;
      sr.name = "m";
      sr.columns.push_back("time");
      for (size_t c = 1; c < width; ++c) sr.columns.push_back("c" + std::to_string(c));
      sr.time_column = true;
      size_t n = width > 100 ? 3 : 4000;
      int64_t t = 1704067200 * sec;
      std::string want_rows;
      for (size_t r = 0; r < n; ++r) {
        if (rng() % 3 == 0) t += static_cast<int64_t>(rng() % 2000) * 1000000;
        std::span<value> cells = sr.values.add_row(width);
        cells[0] = value(t);
        if (r) want_rows += ",";
        want_rows += "[";
        if (epoch.empty()) {
          want_rows += "\"" + format_rfc3339_nano(t) + "\"";
        } else {
          want_rows += std::to_string(t / 1000000);
        }
        for (size_t c = 1; c < width; ++c) {
          cells[c] = samples[rng() % samples.size()];
          want_rows += ",";
          const value& v = cells[c];
          switch (v.index()) {
            case 0: want_rows += "null"; break;
            case 1: append_go_float(want_rows, std::get<double>(v)); break;
            case 2: want_rows += std::to_string(std::get<int64_t>(v)); break;
            case 3: want_rows += std::to_string(std::get<uint64_t>(v)); break;
            case 4: want_rows += std::get<bool>(v) ? "true" : "false"; break;
            case 5: append_json_string(want_rows, std::get<std::string>(v)); break;
          }
        }
        want_rows += "]";
      }
      std::string cols;
      for (size_t c = 0; c < sr.columns.size(); ++c) cols += (c ? ",\"" : "\"") + sr.columns[c] + "\"";
      statement_result st;
      st.series.push_back(sr);
      std::string want = "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[" +
                         cols + "],\"values\":[" + want_rows + "]}]}]}";
      EXPECT_EQ(to_json({st}, time_format{epoch}), want) << "epoch " << epoch << " width " << width;
    }
  }
}

TEST(encoding, rfc3339_nano_and_epoch) {
  EXPECT_EQ(format_rfc3339_nano(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339_nano(1704067200 * sec + 500000000), "2024-01-01T00:00:00.5Z");
  EXPECT_EQ(format_rfc3339_nano(1704067200 * sec + 123), "2024-01-01T00:00:00.000000123Z");
  EXPECT_EQ(format_rfc3339_nano(-1), "1969-12-31T23:59:59.999999999Z");
  int64_t v = 0;
  ASSERT_TRUE(convert_epoch(1704067200 * sec + 999, "ms", v));
  EXPECT_EQ(v, 1704067200000);
  int64_t t = 0;
  ASSERT_TRUE(exec::parse_time_string("2024-01-01T01:00:00+01:00", t));
  EXPECT_EQ(t, 1704067200 * sec);
  ASSERT_TRUE(exec::parse_time_string("2024-01-01 00:00:00.25", t));
  EXPECT_EQ(t, 1704067200 * sec + 250000000);
  ASSERT_TRUE(exec::parse_time_string("2024-01-01", t));
  EXPECT_EQ(t, 1704067200 * sec);
  EXPECT_FALSE(exec::parse_time_string("2024-13-01", t));
}

// The RFC3339 writer is hand-made (a raw query prints one per row): every
// field, offsets, InfluxDB's extreme times, and a round trip through the parser.
TEST(encoding, rfc3339_nano_fields_and_round_trip) {
  EXPECT_EQ(format_rfc3339_nano(1704067200 * sec, 5 * 3600 + 1800), "2024-01-01T05:30:00+05:30");
  EXPECT_EQ(format_rfc3339_nano(1704067200 * sec + 10, -8 * 3600), "2023-12-31T16:00:00.00000001-08:00");
  EXPECT_EQ(format_rfc3339_nano(951782400 * sec + 86399 * sec + 120000), "2000-02-29T23:59:59.00012Z");
  EXPECT_EQ(format_rfc3339_nano(exec::min_time), "1677-09-21T00:12:43.145224194Z");
  EXPECT_EQ(format_rfc3339_nano(exec::max_time), "2262-04-11T23:47:16.854775806Z");
  std::string out = "x";
  append_rfc3339_nano(out, 0);
  EXPECT_EQ(out, "x1970-01-01T00:00:00Z");
  uint64_t state = 88172645463325252ULL;
  for (int i = 0; i < 20000; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    int64_t ns = static_cast<int64_t>(state % (8000000000ULL * sec)) - 2000000000LL * sec;
    if (i % 3 == 0) ns -= ns % sec;  // whole seconds print no fraction
    int64_t back = 0;
    std::string text = format_rfc3339_nano(ns);
    ASSERT_TRUE(exec::parse_time_string(text, back)) << text;
    ASSERT_EQ(back, ns) << text;
  }
}

TEST(encoding, json_strings_are_go_escaped) {
  std::string s;
  append_json_string(s, "a\"b\\c\n<&>\x01\xff");
  EXPECT_EQ(s, "\"a\\\"b\\\\c\\n\\u003c\\u0026\\u003e\\u0001\xEF\xBF\xBD\"");
}

TEST(encoding, csv_shape) {
  statement_result r;
  series_result s;
  s.name = "cpu";
  s.tags = {{"host", "a"}, {"region", "eu west"}};
  s.columns = {"time", "value", "note"};
  s.time_column = true;
  s.values.push_back({value(int64_t{1704067200} * sec), value(1.5), value(std::string("x,y"))});
  s.values.push_back({value(int64_t{1704067260} * sec), value(), value(std::string("z"))});
  r.series.push_back(s);
  EXPECT_EQ(to_csv({r}, {}),
            "name,tags,time,value,note\n"
            "cpu,\"host=a,region=eu\\ west\",1704067200000000000,1.5,\"x,y\"\n"
            "cpu,\"host=a,region=eu\\ west\",1704067260000000000,,z\n");
  EXPECT_NE(to_csv({r}, {"s"}).find("west\",1704067200,1.5,"), std::string::npos);
}

TEST(encoding, chunks) {
  statement_result r;
  series_result s;
  s.name = "m";
  s.columns = {"time", "v"};
  s.time_column = true;
  for (int i = 0; i < 5; ++i) s.values.push_back({value(int64_t{i}), value(int64_t{i})});
  r.series.push_back(s);
  auto chunks = split_chunks(r, 2);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_TRUE(chunks[0].partial);
  EXPECT_TRUE(chunks[0].series[0].partial);
  EXPECT_FALSE(chunks[2].partial);
  EXPECT_EQ(to_json({chunks[0]}, {"ns"}),
            "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"m\",\"columns\":[\"time\",\"v\"],"
            "\"values\":[[0,0],"
            "[1,1]],\"partial\":true}],\"partial\":true}]}");
}

// The decimal fast path of append_go_float prints what the shortest
// round-trip conversion (std::to_chars) prints, on values with a few
// decimals, on their neighbours one ulp away, and on random doubles.
TEST(encoding, go_float_fast_path_matches_shortest_round_trip) {
  auto shortest = [](double v) {
    char buf[400];
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
    return std::string(buf, r.ptr);
  };
  auto go = [](double v) {
    std::string s;
    append_go_float(s, v);
    return s;
  };
  std::mt19937_64 rng(11);
  for (int i = 0; i < 200000; ++i) {
    int decimals = static_cast<int>(rng() % 7);
    int64_t m = static_cast<int64_t>(rng() % 2000000000000ULL) - 1000000000000LL;
    double v = static_cast<double>(m) / std::pow(10.0, decimals + static_cast<int>(rng() % 4));
    for (double x : {v, std::nextafter(v, 1e300), std::nextafter(v, -1e300)}) {
      double a = std::fabs(x);
      if (a < 1e-6 || a >= 1e21) continue;
      ASSERT_EQ(go(x), shortest(x)) << "m=" << m;
    }
    double r;
    uint64_t bits = rng();
    std::memcpy(&r, &bits, sizeof r);
    if (std::isfinite(r) && std::fabs(r) >= 1e-6 && std::fabs(r) < 1e21) {
      ASSERT_EQ(go(r), shortest(r));
    }
  }
  EXPECT_EQ(go(77.2), "77.2");
  EXPECT_EQ(go(-0.05), "-0.05");
  EXPECT_EQ(go(100), "100");
  EXPECT_EQ(go(999999999.999), "999999999.999");
  EXPECT_EQ(go(0.1 + 0.2), "0.30000000000000004");
}

TEST(encoding, row_table_keeps_rows_in_one_buffer) {
  row_table t;
  EXPECT_TRUE(t.empty());
  for (int64_t i = 0; i < 6; ++i) t.push_back({value(i % 3 * 10), value(std::string(1, char('a' + i)))});
  ASSERT_EQ(t.size(), 6u);
  EXPECT_EQ(t.width(), 2u);
  EXPECT_EQ(std::get<std::string>(t[4][1]), "e");
  EXPECT_THROW(t.at(6), std::out_of_range);
  EXPECT_THROW(t.push_back({value(int64_t{1})}), std::length_error);  // a row of another width
  EXPECT_EQ(t.size(), 6u);

  // Ties in time keep their order: a d | b e | c f.
  row_table sorted = t;
  sorted.stable_sort_by_time();
  std::string order;
  for (const auto& row : sorted) order += std::get<std::string>(row[1]);
  EXPECT_EQ(order, "adbecf");

  row_table page = sorted.slice(1, 4);  // d b e
  EXPECT_EQ(page, (row_table{{value(int64_t{0}), value(std::string("d"))},
                             {value(int64_t{10}), value(std::string("b"))},
                             {value(int64_t{10}), value(std::string("e"))}}));
  page.reverse();
  EXPECT_EQ(std::get<std::string>(page[0][1]), "e");
  EXPECT_EQ(std::get<std::string>(page.back()[1]), "d");
  page.erase_front(1);
  page.truncate(1);
  EXPECT_EQ(page, (row_table{{value(int64_t{10}), value(std::string("b"))}}));
  page.erase_front(5);
  EXPECT_TRUE(page.empty());
  EXPECT_TRUE(sorted.slice(4, 2).empty());

  auto cells = t.add_row(2);
  cells[0] = value(int64_t{99});
  EXPECT_EQ(std::get<int64_t>(t.back()[0]), 99);
  EXPECT_EQ(t.back()[1].index(), 0u);  // null until filled
  t.clear();
  t.push_back({value(1.5)});  // a cleared table takes a new width
  EXPECT_EQ(t.width(), 1u);
}

class executor_fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store.create_database("db").ok());
    opts.db = "db";
    opts.now_ns = 3600 * sec;
    std::vector<model::point> points;
    for (int h = 0; h < 50; ++h) {
      for (int i = 0; i < 20; ++i) {
        points.push_back(
            pt("cpu", {{"host", "h" + std::to_string(h)}}, "v", static_cast<double>(i), i * 60 * sec));
      }
    }
    ASSERT_TRUE(store.write("db", "", points).ok());
  }
  testing::memory_storage store;
  query_options opts;
};

TEST_F(executor_fixture, tag_filter_is_pushed_into_the_index) {
  size_t before = store.scans_for_test();
  execution e = execute(store, "SELECT sum(v) FROM cpu WHERE host = 'h7' OR host =~ /^h4[12]$/", opts);
  ASSERT_EQ(e.results.size(), 1u);
  ASSERT_TRUE(e.results[0].error.empty()) << e.results[0].error;
  EXPECT_EQ(store.scans_for_test() - before, 3u);  // only the three matching series are read
  EXPECT_EQ(std::get<double>(e.results[0].series.at(0).values.at(0)[1]), 3 * 190.0);
}

TEST_F(executor_fixture, only_named_fields_are_scanned) {
  ASSERT_TRUE(store.write("db", "", {pt("cpu", {{"host", "h0"}}, "other", 1.0, 0)}).ok());
  size_t before = store.scans_for_test();
  execution e = execute(store, "SELECT v FROM cpu WHERE host = 'h0'", opts);
  ASSERT_TRUE(e.results[0].error.empty());
  EXPECT_EQ(store.scans_for_test() - before, 1u);
}

TEST_F(executor_fixture, memory_limit_is_a_clear_error) {
  opts.memory_limit_bytes = 4096;
  std::string json = execute_to_json(store, "SELECT v FROM cpu", opts);
  EXPECT_EQ(json, "{\"results\":[{\"statement_id\":0,\"error\":\"query exceeded memory limit\"}]}");
  std::string windows = execute_to_json(
      store, "SELECT count(v) FROM cpu WHERE host = 'h1' AND time >= 0 GROUP BY time(1ns)", opts);
  EXPECT_EQ(windows, "{\"results\":[{\"statement_id\":0,\"error\":\"query exceeded memory limit\"}]}");
}

// count/sum/mean/min/max fold storage batches into per-window state instead
// of holding the group's column: 1000 points (16 KB as columns) aggregate
// under an 8 KB limit, while median(), which needs the column, cannot.
TEST_F(executor_fixture, streaming_aggregates_do_not_hold_columns) {
  opts.memory_limit_bytes = 8192;
  execution e = execute(store, "SELECT count(v), sum(v), mean(v), min(v), max(v) FROM cpu", opts);
  ASSERT_EQ(e.results.size(), 1u);
  ASSERT_TRUE(e.results[0].error.empty()) << e.results[0].error;
  const auto row = e.results[0].series.at(0).values.at(0);
  ASSERT_EQ(row.size(), 6u);
  EXPECT_EQ(std::get<int64_t>(row[1]), 1000);
  EXPECT_EQ(std::get<double>(row[2]), 50 * 190.0);
  EXPECT_EQ(std::get<double>(row[3]), 9.5);
  EXPECT_EQ(std::get<double>(row[4]), 0.0);
  EXPECT_EQ(std::get<double>(row[5]), 19.0);
  e = execute(store, "SELECT count(v) FROM cpu WHERE time >= 0 AND time < 20m GROUP BY time(10m)", opts);
  ASSERT_TRUE(e.results[0].error.empty()) << e.results[0].error;
  EXPECT_EQ(std::get<int64_t>(e.results[0].series.at(0).values.at(1)[1]), 500);
  EXPECT_EQ(execute_to_json(store, "SELECT median(v) FROM cpu", opts),
            "{\"results\":[{\"statement_id\":0,\"error\":\"query exceeded memory limit\"}]}");
}

// A pattern RE2 cannot compile is refused with RE2's reason, wherever the
// statement holds it (tag filter, field comparison, FROM, GROUP BY, a
// function's field pattern, SHOW ... FROM and WITH KEY), and nothing runs.
TEST_F(executor_fixture, bad_regex_names_the_reason_everywhere) {
  const char* queries[] = {
      "SELECT v FROM cpu WHERE host =~ /h(1/",
      "SELECT v FROM cpu WHERE v =~ /h(1/",
      "SELECT v FROM /h(1/",
      "SELECT v FROM cpu GROUP BY /h(1/",
      "SELECT count(/h(1/) FROM cpu",
      "SHOW TAG KEYS FROM /h(1/",
      "SHOW TAG VALUES FROM cpu WITH KEY =~ /h(1/",
  };
  for (const char* q : queries) {
    execution e = execute(store, q, opts);
    ASSERT_EQ(e.results.size(), 1u) << q;
    EXPECT_EQ(e.results[0].error, "error parsing regexp: missing ): h(1") << q;
    EXPECT_TRUE(e.results[0].series.empty()) << q;
  }
}

TEST_F(executor_fixture, database_required) {
  opts.db.clear();
  EXPECT_EQ(execute_to_json(store, "SELECT v FROM cpu; SHOW MEASUREMENTS", opts),
            "{\"results\":[{\"statement_id\":0,\"error\":\"database name required\"}]}");
}

// A database "db" in memory and a CQ registry the queries use.
struct cq_env {
  testing::memory_storage store;
  continuous_query_registry cqs;
  query_options opts;
  cq_env() {
    EXPECT_TRUE(store.create_database("db").ok());
    opts.db = "db";
    opts.cqs = &cqs;
  }
};

TEST(continuous_queries, registry_round_trips_and_runs_completed_intervals) {
  cq_env env;
  auto& [store, cqs, opts] = env;
  std::vector<model::point> points;
  for (int i = 0; i < 120; ++i)
    points.push_back(pt("cpu", {{"host", "a"}}, "v", static_cast<double>(i), i * 60 * sec));
  ASSERT_TRUE(store.write("db", "", points).ok());
  EXPECT_EQ(
      execute_to_json(store,
                      "CREATE CONTINUOUS QUERY cq ON db BEGIN SELECT mean(v) AS v INTO cpu_1h FROM cpu GROUP "
                      "BY time(1h), * END",
                      opts),
      "{\"results\":[{\"statement_id\":0}]}");

  continuous_query_registry restored;
  ASSERT_TRUE(restored.deserialize(cqs.serialize()).ok());
  EXPECT_EQ(restored.list(), cqs.list());
  EXPECT_FALSE(restored.deserialize("{").ok());

  // At 01:00:30 the first hour is complete: mean of 0..59.
  auto r = run_continuous_queries(store, cqs, 3600 * sec + 30 * sec);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_TRUE(r[0].error.empty()) << r[0].error;
  // Not due again within the same hour.
  EXPECT_TRUE(run_continuous_queries(store, cqs, 3600 * sec + 50 * sec).empty());
  // At 02:00:10 the second hour is written.
  ASSERT_EQ(run_continuous_queries(store, cqs, 7200 * sec + 10 * sec).size(), 1u);
  opts.now_ns = 3 * 3600 * sec;
  EXPECT_EQ(
      execute_to_json(store, "SELECT v FROM cpu_1h GROUP BY host", opts),
      "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu_1h\",\"tags\":{\"host\":\"a\"},"
      "\"columns\":"
      "[\"time\",\"v\"],\"values\":[[\"1970-01-01T00:00:00Z\",29.5],[\"1970-01-01T01:00:00Z\",89.5]]}]}]}");
}

// With tz() a CQ runs when a local window ends and covers whole local
// windows: a daily count in Europe/Berlin across the change to summer time
// (2024-03-31 is 23 hours long there) counts 24, 23 and 24 hourly points.
TEST(continuous_queries, tz_windows_are_whole_local_days) {
  cq_env env;
  auto& [store, cqs, opts] = env;
  auto at = [](const char* text) {
    int64_t t = 0;
    EXPECT_TRUE(exec::parse_time_string(text, t)) << text;
    return t;
  };
  std::vector<model::point> points;
  for (int64_t t = at("2024-03-29T23:00:00Z"); t < at("2024-04-01T22:00:00Z"); t += 3600 * sec)
    points.push_back(pt("m", {}, "v", 1.0, t));
  ASSERT_TRUE(store.write("db", "", points).ok());
  EXPECT_EQ(execute_to_json(store,
                            "CREATE CONTINUOUS QUERY daily ON db BEGIN SELECT count(v) AS n INTO m_1d FROM m "
                            "GROUP BY time(1d) tz('Europe/Berlin') END",
                            opts),
            "{\"results\":[{\"statement_id\":0}]}");
  auto run = [&](const char* now) {
    auto r = run_continuous_queries(store, cqs, at(now));
    for (const auto& x : r) EXPECT_TRUE(x.error.empty()) << x.error;
    return r.size();
  };
  EXPECT_EQ(run("2024-03-30T23:00:30Z"), 1u);  // local midnight: March 30 is complete
  EXPECT_EQ(run("2024-03-31T00:00:30Z"), 0u);  // UTC midnight is not a window end here
  EXPECT_EQ(run("2024-03-31T22:00:30Z"), 1u);  // March 31 ends at 22:00Z (summer time)
  EXPECT_EQ(run("2024-04-01T22:00:30Z"), 1u);
  opts.now_ns = at("2024-04-02T00:00:00Z");
  execution e = execute(store, "SELECT n FROM m_1d", opts);
  ASSERT_EQ(e.results.size(), 1u);
  ASSERT_EQ(e.results[0].series.size(), 1u);
  const auto& rows = e.results[0].series[0].values;
  ASSERT_EQ(rows.size(), 3u);
  const int64_t want_time[] = {at("2024-03-30T00:00:00+01:00"), at("2024-03-31T00:00:00+01:00"),
                               at("2024-04-01T00:00:00+02:00")};
  const int64_t want_count[] = {24, 23, 24};
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(std::get<int64_t>(rows[i][0]), want_time[i]) << "row " << i;
    EXPECT_EQ(std::get<int64_t>(rows[i][1]), want_count[i]) << "row " << i;
  }
}

}  // namespace
}  // namespace liandu::query
