#include "base/prometheus_text.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <limits>

namespace liandu::prometheus {
namespace {

std::string write(void (*fn)(text_writer&)) {
  std::string out;
  text_writer w(out);
  fn(w);
  return out;
}

TEST(PrometheusText, CounterAndGaugeFamilies) {
  std::string out = write([](text_writer& w) {
    w.counter("liandu_points_written_total", "Points written to storage.", uint64_t{42});
    w.gauge("liandu_head_bytes", "Memory held by in-memory heads.", size_t{7});
  });
  EXPECT_EQ(out,
            "# HELP liandu_points_written_total Points written to storage.\n"
            "# TYPE liandu_points_written_total counter\n"
            "liandu_points_written_total 42\n"
            "# HELP liandu_head_bytes Memory held by in-memory heads.\n"
            "# TYPE liandu_head_bytes gauge\n"
            "liandu_head_bytes 7\n");
}

TEST(PrometheusText, HelpEscapesBackslashAndNewlineOnly) {
  std::string out = write([](text_writer& w) { w.gauge("g", "a \\ b\nc \"q\"", 1); });
  EXPECT_EQ(out, "# HELP g a \\\\ b\\nc \"q\"\n# TYPE g gauge\ng 1\n");
}

TEST(PrometheusText, EmptyHelpLeavesOutTheHelpLine) {
  std::string out = write([](text_writer& w) { w.counter("c_total", "", 3); });
  EXPECT_EQ(out, "# TYPE c_total counter\nc_total 3\n");
}

TEST(PrometheusText, UntypedFamily) {
  std::string out = write([](text_writer& w) {
    w.family("u", "Untyped.", metric_type::untyped);
    w.sample(int64_t{-5});
  });
  EXPECT_EQ(out, "# HELP u Untyped.\n# TYPE u untyped\nu -5\n");
}

TEST(PrometheusText, LabelValuesEscapeBackslashQuoteAndNewline) {
  std::string out = write([](text_writer& w) {
    w.family("liandu_series", "Series per database.", metric_type::gauge);
    w.sample(2, {{"database", "we\"ird\\db\nx"}});
    w.sample(3, {{"a", "1"}, {"b", ""}});
  });
  EXPECT_EQ(out,
            "# HELP liandu_series Series per database.\n"
            "# TYPE liandu_series gauge\n"
            "liandu_series{database=\"we\\\"ird\\\\db\\nx\"} 2\n"
            "liandu_series{a=\"1\",b=\"\"} 3\n");
}

TEST(PrometheusText, SpecialAndFractionalFloats) {
  std::string out = write([](text_writer& w) {
    w.family("f", "F.", metric_type::gauge);
    w.sample(std::numeric_limits<double>::quiet_NaN(), {{"k", "nan"}});
    w.sample(std::numeric_limits<double>::infinity(), {{"k", "inf"}});
    w.sample(-std::numeric_limits<double>::infinity(), {{"k", "-inf"}});
    w.sample(0.000123, {{"k", "small"}});
    w.sample(1.5, {{"k", "x"}});
    w.sample(2.0, {{"k", "whole"}});
    w.sample(-0.25, {{"k", "neg"}});
    w.sample(1e300, {{"k", "big"}});
    w.sample(0.00001, {{"k", "tiny"}});
    w.sample(123456.5, {{"k", "e5"}});
    w.sample(1500000.0, {{"k", "e6"}});
  });
  EXPECT_EQ(out,
            "# HELP f F.\n# TYPE f gauge\n"
            "f{k=\"nan\"} NaN\n"
            "f{k=\"inf\"} +Inf\n"
            "f{k=\"-inf\"} -Inf\n"
            "f{k=\"small\"} 0.000123\n"
            "f{k=\"x\"} 1.5\n"
            "f{k=\"whole\"} 2\n"
            "f{k=\"neg\"} -0.25\n"
            "f{k=\"big\"} 1e+300\n"
            "f{k=\"tiny\"} 1e-05\n"
            "f{k=\"e5\"} 123456.5\n"
            "f{k=\"e6\"} 1.5e+06\n");
}

TEST(PrometheusText, IntegerExtremes) {
  std::string out = write([](text_writer& w) {
    w.family("i", "I.", metric_type::gauge);
    w.sample(std::numeric_limits<uint64_t>::max());
    w.sample(std::numeric_limits<int64_t>::min());
    w.sample(true);
  });
  EXPECT_EQ(out, "# HELP i I.\n# TYPE i gauge\ni 18446744073709551615\ni -9223372036854775808\ni 1\n");
}

TEST(PrometheusText, HistogramBucketsAreCumulativeAndCountIsTheInfBucket) {
  std::string out = write([](text_writer& w) {
    static constexpr std::array<double, 3> bounds = {0.0005, 0.25, 10};
    std::array<uint64_t, 4> counts = {1, 0, 2, 3};
    w.family("liandu_query_duration_seconds", "Query latency.", metric_type::histogram);
    w.histogram(bounds, counts, 41.5);
  });
  EXPECT_EQ(out,
            "# HELP liandu_query_duration_seconds Query latency.\n"
            "# TYPE liandu_query_duration_seconds histogram\n"
            "liandu_query_duration_seconds_bucket{le=\"0.0005\"} 1\n"
            "liandu_query_duration_seconds_bucket{le=\"0.25\"} 1\n"
            "liandu_query_duration_seconds_bucket{le=\"10\"} 3\n"
            "liandu_query_duration_seconds_bucket{le=\"+Inf\"} 6\n"
            "liandu_query_duration_seconds_sum 41.5\n"
            "liandu_query_duration_seconds_count 6\n");
}

TEST(PrometheusText, HistogramLabelsComeBeforeLe) {
  std::string out = write([](text_writer& w) {
    static constexpr std::array<double, 1> bounds = {1};
    std::array<uint64_t, 2> counts = {0, 0};
    w.family("h", "H.", metric_type::histogram);
    w.histogram(bounds, counts, 0, {{"db", "a\"b"}});
  });
  EXPECT_EQ(out,
            "# HELP h H.\n# TYPE h histogram\n"
            "h_bucket{db=\"a\\\"b\",le=\"1\"} 0\n"
            "h_bucket{db=\"a\\\"b\",le=\"+Inf\"} 0\n"
            "h_sum{db=\"a\\\"b\"} 0\n"
            "h_count{db=\"a\\\"b\"} 0\n");
}

// Samples of one family written from two places (per-bridge loops, sources
// after the handler's own): one header, and the family's lines stay together.
TEST(PrometheusText, FamilyOpenedAgainHasOneHeaderAndStaysOneGroup) {
  std::string out = write([](text_writer& w) {
    for (const char* bridge : {"a", "b"}) {
      w.family("up", "Up.", metric_type::gauge);
      w.sample(1, {{"bridge", bridge}});
      w.family("in_total", "In.", metric_type::counter);
      w.sample(10, {{"bridge", bridge}});
    }
    w.counter("last_total", "Last.", 5);
    w.family("up", "Up.", metric_type::gauge);
    w.sample(0, {{"bridge", "c"}});
  });
  EXPECT_EQ(out,
            "# HELP up Up.\n# TYPE up gauge\n"
            "up{bridge=\"a\"} 1\nup{bridge=\"b\"} 1\nup{bridge=\"c\"} 0\n"
            "# HELP in_total In.\n# TYPE in_total counter\n"
            "in_total{bridge=\"a\"} 10\nin_total{bridge=\"b\"} 10\n"
            "# HELP last_total Last.\n# TYPE last_total counter\nlast_total 5\n");
}

// The writer appends: what the string held before stays in front.
TEST(PrometheusText, AppendsToWhatTheStringHolds) {
  std::string out = "# prefix\n";
  text_writer w(out);
  w.gauge("g", "G.", 1);
  w.gauge("h", "H.", 2);
  w.family("g", "G.", metric_type::gauge);
  w.sample(3, {{"x", "y"}});
  EXPECT_EQ(out,
            "# prefix\n# HELP g G.\n# TYPE g gauge\ng 1\ng{x=\"y\"} 3\n# HELP h H.\n# TYPE h gauge\nh 2\n");
}

}  // namespace
}  // namespace liandu::prometheus
