#include "storage/codec/integer_codec.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <vector>

#include "storage/codec/codec_limits.h"
#include "storage/codec/testing/sample_columns.h"
#include "storage/codec/timestamp_codec.h"

namespace liandu::storage::codec {
namespace {

constexpr int64_t i64_min = std::numeric_limits<int64_t>::min();
constexpr int64_t i64_max = std::numeric_limits<int64_t>::max();
constexpr uint64_t u64_max = std::numeric_limits<uint64_t>::max();

// Encodes, checks the decoded values, and returns the encoding.
std::string check_integers(const std::vector<int64_t>& v) {
  std::string buf;
  encode_integers(v.data(), v.size(), buf);
  std::vector<int64_t> got = {-5};  // decoding appends
  status s = decode_integers(buf, v.size(), got);
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(got.size(), v.size() + 1);
  if (got.size() == v.size() + 1) {
    EXPECT_EQ(got[0], -5);
    EXPECT_EQ(std::vector<int64_t>(got.begin() + 1, got.end()), v);
  }
  return buf;
}

std::string check_timestamps(const std::vector<int64_t>& v) {
  std::string buf;
  encode_timestamps(v.data(), v.size(), buf);
  std::vector<int64_t> got;
  status s = decode_timestamps(buf, v.size(), got);
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(got, v);
  return buf;
}

std::string check_unsigneds(const std::vector<uint64_t>& v) {
  std::string buf;
  encode_unsigneds(v.data(), v.size(), buf);
  std::vector<uint64_t> got;
  status s = decode_unsigneds(buf, v.size(), got);
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(got, v);
  return buf;
}

integer_scheme scheme_of(const std::string& buf) { return static_cast<integer_scheme>(buf.at(0)); }

TEST(integer_codec, zero_values) {
  EXPECT_EQ(scheme_of(check_integers({})), integer_scheme::empty);
  EXPECT_EQ(check_unsigneds({}).size(), 1u);
  std::vector<int64_t> got;
  EXPECT_TRUE(decode_integers("", 0, got).ok());
}

TEST(integer_codec, one_value) {
  for (int64_t x : {int64_t{0}, int64_t{-1}, int64_t{1}, i64_min, i64_max}) {
    EXPECT_EQ(scheme_of(check_integers({x})), integer_scheme::constant);
  }
  check_unsigneds({u64_max});
  check_unsigneds({0});
}

TEST(integer_codec, all_equal_is_constant) {
  const std::string buf = check_integers(std::vector<int64_t>(5000, -42));
  EXPECT_EQ(scheme_of(buf), integer_scheme::constant);
  EXPECT_EQ(buf.size(), 2u);
  EXPECT_EQ(scheme_of(check_unsigneds(std::vector<uint64_t>(100, u64_max))), integer_scheme::constant);
}

TEST(integer_codec, extremes_and_huge_deltas) {
  check_integers({i64_min, i64_max});
  check_integers({i64_max, i64_min, i64_max, i64_min, 0, -1, 1});
  check_integers({0, i64_max, i64_min, i64_min + 1, i64_max - 1, 0});
  check_integers({i64_min, i64_min, i64_min, i64_max});
  check_unsigneds({0, u64_max, 0, u64_max, 1, u64_max - 1});
  check_unsigneds({u64_max, 0, 5, 6, 7, u64_max});
  // Wrapping arithmetic progression.
  std::vector<int64_t> wrap(100);
  for (size_t i = 0; i < wrap.size(); ++i) wrap[i] = static_cast<int64_t>((uint64_t{1} << 62) * (i % 4));
  check_integers(wrap);
  std::vector<uint64_t> uwrap(100);
  for (size_t i = 0; i < uwrap.size(); ++i) uwrap[i] = u64_max - 3 + i;  // wraps through zero
  EXPECT_EQ(scheme_of(check_unsigneds(uwrap)), integer_scheme::linear);
}

TEST(integer_codec, linear_columns) {
  std::vector<int64_t> down(1000);
  for (size_t i = 0; i < down.size(); ++i) down[i] = 1000 - 7 * static_cast<int64_t>(i);
  EXPECT_EQ(scheme_of(check_integers(down)), integer_scheme::linear);
  EXPECT_EQ(scheme_of(check_integers({i64_min, i64_max})), integer_scheme::linear);
}

TEST(integer_codec, regular_timestamps_are_linear) {
  const std::string buf = check_timestamps(testing::regular_timestamps_for_test(8640));
  EXPECT_EQ(scheme_of(buf), integer_scheme::linear);
  EXPECT_LT(buf.size(), 20u);
}

TEST(integer_codec, timestamps_with_a_gap_stay_small) {
  auto t = testing::regular_timestamps_for_test(8640);
  for (size_t i = 4000; i < t.size(); ++i) t[i] += 3'600'000'000'000;  // an hour offline
  EXPECT_LT(check_timestamps(t).size(), 64u);
}

TEST(integer_codec, millisecond_timestamps_share_a_divisor) {
  // Every 10 s +- 3 ms, stamped with millisecond precision in nanoseconds.
  auto t = testing::regular_timestamps_for_test(8640);
  const auto jitter = testing::jittered_timestamps_for_test(8640, 3, 1, 0);
  for (size_t i = 0; i < t.size(); ++i) t[i] += (jitter[i] - jitter[0]) * 1'000'000;
  EXPECT_LT(check_timestamps(t).size(), 8640u * 5 / 8);  // differences of -6..6 ms: 4 bits, not 23
}

TEST(integer_codec, counter_reset_is_an_outlier) {
  std::vector<int64_t> v(5000);
  int64_t c = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i == 2500) c = 0;
    v[i] = c += static_cast<int64_t>(i % 4);
  }
  EXPECT_LT(check_integers(v).size(), 5000u * 3 / 8);
}

TEST(integer_codec, jittered_timestamps) {
  for (int64_t jitter : {0, 1, 1000, 1'000'000, 100'000'000}) {
    check_timestamps(testing::jittered_timestamps_for_test(5000, jitter));
  }
}

TEST(integer_codec, random_walk_uses_delta) {
  std::mt19937_64 rng(3);
  std::vector<int64_t> v(4096);
  int64_t x = 0;
  for (auto& e : v) {
    e = x;
    x += static_cast<int64_t>(rng() % 21) - 10;
  }
  const std::string buf = check_integers(v);
  EXPECT_EQ(scheme_of(buf), integer_scheme::delta);
  EXPECT_LE(buf.size(), 4096u * 5 / 8 + 64);  // 5 bits a value
}

TEST(integer_codec, states_are_runs) {
  const std::string buf = check_integers(testing::states_for_test(8640, 500));
  EXPECT_LT(buf.size(), 8640u / 8);
}

TEST(integer_codec, random_columns) {
  std::mt19937_64 rng(5);
  for (int iter = 0; iter < 500; ++iter) {
    const size_t n = rng() % 300;
    const int shape = static_cast<int>(rng() % 5);
    std::vector<int64_t> v(n);
    int64_t acc = static_cast<int64_t>(rng());
    for (auto& e : v) {
      switch (shape) {
        case 0: e = static_cast<int64_t>(rng()); break;                  // full range
        case 1: e = static_cast<int64_t>(rng() >> (rng() % 64)); break;  // mixed widths
        case 2:
          acc += static_cast<int64_t>(rng() % 1000) - 500;
          e = acc;
          break;
        case 3: e = static_cast<int64_t>(rng() % 3) - 1; break;
        default: e = (rng() % 10 == 0) ? static_cast<int64_t>(rng()) : 17; break;  // outliers
      }
    }
    const std::string buf = check_integers(v);
    EXPECT_LE(buf.size(), 1 + 8 * n) << "never worse than raw";
    std::vector<uint64_t> u(v.begin(), v.end());
    check_unsigneds(u);
  }
}

TEST(integer_codec, error_leaves_output_unchanged) {
  std::vector<int64_t> out = {1, 2, 3};
  EXPECT_EQ(decode_integers("\x05", 10, out).code(), errc::corruption);
  EXPECT_EQ(out, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(decode_integers("\x7f", 1, out).code(), errc::corruption);  // unknown scheme
  EXPECT_EQ(decode_integers("\x02\x01", max_column_values + 1, out).code(), errc::corruption);
  EXPECT_EQ(out.size(), 3u);
}

}  // namespace
}  // namespace liandu::storage::codec
