#include "storage/codec/float_codec.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "storage/codec/testing/sample_columns.h"

namespace liandu::storage::codec {
namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

double from_bits(uint64_t b) { return std::bit_cast<double>(b); }

std::vector<uint64_t> bits_of(const std::vector<double>& v) {
  std::vector<uint64_t> b(v.size());
  for (size_t i = 0; i < v.size(); ++i) b[i] = std::bit_cast<uint64_t>(v[i]);
  return b;
}

// Encodes, checks the decoded values bit for bit, and returns the encoding.
std::string check_floats(const std::vector<double>& v) {
  std::string buf;
  encode_floats(v.data(), v.size(), buf);
  EXPECT_LE(buf.size(), 1 + 8 * v.size()) << "never worse than raw";
  std::vector<double> got = {1.5};  // decoding appends
  status s = decode_floats(buf, v.size(), got);
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(got.size(), v.size() + 1);
  if (got.size() == v.size() + 1) {
    EXPECT_EQ(std::bit_cast<uint64_t>(got[0]), std::bit_cast<uint64_t>(1.5));
    EXPECT_EQ(bits_of(std::vector<double>(got.begin() + 1, got.end())), bits_of(v));
  }
  return buf;
}

float_scheme scheme_of(const std::string& buf) { return static_cast<float_scheme>(buf.at(0)); }

TEST(float_codec, zero_and_one_value) {
  EXPECT_EQ(scheme_of(check_floats({})), float_scheme::empty);
  EXPECT_EQ(scheme_of(check_floats({23.45})), float_scheme::decimal);
  check_floats({-0.0});
  check_floats({std::nan("")});
}

TEST(float_codec, special_values) {
  const std::vector<double> specials = {
      0.0,
      -0.0,
      inf,
      -inf,
      std::numeric_limits<double>::quiet_NaN(),
      -std::numeric_limits<double>::quiet_NaN(),
      std::numeric_limits<double>::signaling_NaN(),
      from_bits(0x7ff0000000000001),  // signalling NaN, smallest payload
      from_bits(0x7ff8dead0000beef),  // quiet NaN with a payload
      from_bits(0xfff123456789abcd),
      std::numeric_limits<double>::denorm_min(),
      -std::numeric_limits<double>::denorm_min(),
      from_bits(0x000fffffffffffff),  // largest denormal
      std::numeric_limits<double>::min(),
      std::numeric_limits<double>::max(),
      std::numeric_limits<double>::lowest(),
      std::numeric_limits<double>::epsilon(),
      1e300,
      -1e-300,
  };
  check_floats(specials);
  for (double s : specials) {
    check_floats(std::vector<double>(100, s));
    check_floats({1.0, s, 2.5, s, s});
  }
}

TEST(float_codec, negative_zero_is_not_decimal) {
  const std::string buf = check_floats({1.5, -0.0, 2.25});
  EXPECT_NE(scheme_of(buf), float_scheme::decimal);
  EXPECT_EQ(scheme_of(check_floats({1.5, 0.0, 2.25})), float_scheme::decimal);
}

TEST(float_codec, random_bit_patterns) {
  std::mt19937_64 rng(9);
  for (int iter = 0; iter < 300; ++iter) {
    std::vector<double> v(rng() % 200);
    for (auto& x : v) x = from_bits(rng());
    check_floats(v);
  }
}

TEST(float_codec, decimals_pick_the_smallest_scale) {
  const std::string buf = check_floats({23.45, 23.5, 23.41, -0.07, 100});
  ASSERT_EQ(scheme_of(buf), float_scheme::decimal);
  EXPECT_EQ(buf[1], 2);
  std::vector<double> integral;
  std::vector<double> thousandths;
  for (int i = 0; i < 50; ++i) {
    integral.insert(integral.end(), {1, 2, 3, 1e15, -7});
    thousandths.insert(thousandths.end(), {0.001, 0.1, 0.015});
  }
  EXPECT_EQ(check_floats(integral).substr(0, 2), std::string("\x03\x00", 2));
  EXPECT_EQ(check_floats(thousandths).substr(0, 2), std::string("\x03\x03", 2));
}

TEST(float_codec, values_near_decimal_limits) {
  check_floats({9007199254740992.0, 9007199254740993.0, -9007199254740992.0});  // 2^53 and neighbours
  check_floats({4611686018427387904.0, 1e18, -1e18});                           // 2^62
  check_floats({1e22, 1e23, 123456789.123456789});
  check_floats({0.1 + 0.2, 0.3});
  check_floats({1e-15, 5e-16, 1.234567890123456});
  check_floats({static_cast<double>(0.1f), static_cast<double>(23.45f)});  // float32 readings
}

TEST(float_codec, random_walks) {
  for (int digits = 0; digits <= 4; ++digits) {
    for (int64_t step : {0, 1, 10, 1000, 1'000'000}) {
      const auto v =
          testing::random_walk_for_test(3000, digits, step, static_cast<uint64_t>(digits * 100 + step));
      const std::string buf = check_floats(v);
      EXPECT_EQ(scheme_of(buf), float_scheme::decimal) << "digits " << digits << " step " << step;
    }
  }
}

TEST(float_codec, noisy_values_use_gorilla) {
  const std::string buf = check_floats(testing::noisy_for_test(3000));
  EXPECT_EQ(scheme_of(buf), float_scheme::gorilla);
}

TEST(float_codec, mixed_columns) {
  std::mt19937_64 rng(13);
  for (int iter = 0; iter < 300; ++iter) {
    const size_t n = rng() % 400;
    std::vector<double> v(n);
    double walk = 20;
    for (auto& x : v) {
      switch (rng() % 8) {
        case 0: x = from_bits(rng()); break;
        case 1: x = std::nan(""); break;
        case 2: x = static_cast<double>(static_cast<int64_t>(rng() % 2001) - 1000) / 100; break;
        case 3: x = -0.0; break;
        case 4: x = (rng() % 2) ? inf : -inf; break;
        case 5: x = std::numeric_limits<double>::denorm_min() * static_cast<double>(rng() % 100); break;
        default:
          walk += static_cast<double>(static_cast<int64_t>(rng() % 21) - 10) / 10;
          x = walk;
          break;
      }
    }
    check_floats(v);
  }
}

TEST(float_codec, error_leaves_output_unchanged) {
  std::vector<double> out = {1, 2};
  EXPECT_EQ(decode_floats("\x03\x10\x02\x01", 3, out).code(), errc::corruption);  // k = 16
  EXPECT_EQ(decode_floats("\x02", 3, out).code(), errc::corruption);
  EXPECT_EQ(decode_floats("\x09", 3, out).code(), errc::corruption);
  EXPECT_EQ(out.size(), 2u);
}

}  // namespace
}  // namespace liandu::storage::codec
