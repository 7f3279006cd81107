// Honest compression checks on columns shaped like plant data: one day of a
// sensor sampled every 10 s (8640 points). Prints bytes per value and fails
// when a change makes them worse than the stated bound.

#include <gtest/gtest.h>

#include <cstdio>
#include <vector>

#include "storage/codec/bool_codec.h"
#include "storage/codec/float_codec.h"
#include "storage/codec/integer_codec.h"
#include "storage/codec/string_codec.h"
#include "storage/codec/testing/sample_columns.h"
#include "storage/codec/timestamp_codec.h"

namespace liandu::storage::codec {
namespace {

constexpr size_t day = 8640;

double report(const char* what, size_t bytes, size_t n) {
  const double per_value = static_cast<double>(bytes) / static_cast<double>(n);
  std::printf("  %-44s %6zu bytes  %7.4f bytes/value  %7.3f bits/value\n", what, bytes, per_value,
              per_value * 8);
  return per_value;
}

TEST(compression, day_of_10s_sensor_data) {
  const auto t = testing::regular_timestamps_for_test(day);
  // A temperature with two decimals moving by up to 0.10 a sample.
  const auto v = testing::random_walk_for_test(day, 2, 10);
  std::string ts_buf;
  encode_timestamps(t.data(), t.size(), ts_buf);
  std::string v_buf;
  encode_floats(v.data(), v.size(), v_buf);
  const double ts = report("timestamps, 10 s interval", ts_buf.size(), day);
  const double fv = report("floats, random walk 2 decimals, step <= 0.10", v_buf.size(), day);
  const double both = report("timestamp + float, per point", ts_buf.size() + v_buf.size(), day);
  EXPECT_LT(ts * 8, 0.1);  // well under one bit a timestamp
  EXPECT_LE(fv, 0.8);
  EXPECT_LT(both, 1.0);

  std::vector<int64_t> t_back;
  std::vector<double> v_back;
  ASSERT_TRUE(decode_timestamps(ts_buf, day, t_back).ok());
  ASSERT_TRUE(decode_floats(v_buf, day, v_back).ok());
  EXPECT_EQ(t_back, t);
  EXPECT_EQ(v_back, v);
}

TEST(compression, other_shapes) {
  std::string buf;
  auto ts = [&](const char* what, const std::vector<int64_t>& v, double bound) {
    buf.clear();
    encode_timestamps(v.data(), v.size(), buf);
    EXPECT_LE(report(what, buf.size(), v.size()), bound) << what;
  };
  auto fl = [&](const char* what, const std::vector<double>& v, double bound) {
    buf.clear();
    encode_floats(v.data(), v.size(), buf);
    EXPECT_LE(report(what, buf.size(), v.size()), bound) << what;
  };
  auto in = [&](const char* what, const std::vector<int64_t>& v, double bound) {
    buf.clear();
    encode_integers(v.data(), v.size(), buf);
    EXPECT_LE(report(what, buf.size(), v.size()), bound) << what;
  };
  ts("timestamps, 10 s +- 1 ms jitter", testing::jittered_timestamps_for_test(day, 1'000'000), 3.5);
  ts("timestamps, 10 s +- 1 us jitter", testing::jittered_timestamps_for_test(day, 1000), 2.0);
  auto gap = testing::regular_timestamps_for_test(day);
  for (size_t i = day / 2; i < day; ++i) gap[i] += 3'600'000'000'000;
  ts("timestamps, 10 s with one gap", gap, 0.01);
  fl("floats, random walk 1 decimal, step <= 0.3", testing::random_walk_for_test(day, 1, 3), 0.5);
  fl("floats, random walk 2 decimals, step <= 0.05", testing::random_walk_for_test(day, 2, 5), 0.7);
  fl("floats, counter +0..3", testing::counter_for_test(day, 3), 0.3);
  std::vector<double> states;
  for (int64_t s : testing::states_for_test(day, 200)) states.push_back(static_cast<double>(s));
  fl("floats, machine state 0/1/2", states, 0.05);
  fl("floats, noisy sine (not decimal, Gorilla)", testing::noisy_for_test(day), 8.0);
  in("integers, machine state 0/1/2", testing::states_for_test(day, 200), 0.05);
  std::vector<int64_t> pieces(day);
  int64_t c = 0;
  for (size_t i = 0; i < day; ++i) pieces[i] = c += static_cast<int64_t>(i % 7 == 0);
  in("integers, piece counter", pieces, 0.2);

  std::vector<uint8_t> running(day, 1);
  for (size_t i = 3000; i < 3400; ++i) running[i] = 0;
  buf.clear();
  encode_booleans(running.data(), day, buf);
  EXPECT_LE(report("booleans, running with one stop", buf.size(), day), 0.01);

  const auto names = testing::state_names_for_test(day, 200);
  buf.clear();
  encode_strings(names.data(), day, buf);
  EXPECT_LE(report("strings, machine state names", buf.size(), day), 0.1);
  const auto lots = testing::lot_numbers_for_test(day);
  buf.clear();
  encode_strings(lots.data(), day, buf);
  EXPECT_LE(report("strings, distinct lot numbers (15 bytes each)", buf.size(), day), 8.0);
}

}  // namespace
}  // namespace liandu::storage::codec
