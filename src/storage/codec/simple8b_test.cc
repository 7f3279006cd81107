#include "storage/codec/simple8b.h"

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <vector>

#include "base/coding.h"

namespace liandu::storage::codec {
namespace {

std::vector<uint64_t> round_trip(const std::vector<uint64_t>& values) {
  std::string buf;
  simple8b_encode(values.data(), values.size(), buf);
  EXPECT_EQ(buf.size() % 8, 0u);
  std::vector<uint64_t> got(values.size());
  status s = simple8b_decode(buf, values.size(), got.data());
  EXPECT_TRUE(s.ok()) << s.to_string();
  return got;
}

TEST(simple8b, empty_is_no_words) {
  std::string buf;
  simple8b_encode(nullptr, 0, buf);
  EXPECT_TRUE(buf.empty());
  EXPECT_TRUE(simple8b_decode("", 0, nullptr).ok());
}

TEST(simple8b, every_width_and_length) {
  std::mt19937_64 rng(7);
  for (int width = 0; width <= 64; ++width) {
    for (size_t n : {1, 2, 3, 7, 59, 60, 61, 119, 121, 250}) {
      std::vector<uint64_t> v(n);
      for (auto& x : v) x = width == 0 ? 0 : rng() >> (64 - width);
      EXPECT_EQ(round_trip(v), v) << "width " << width << " n " << n;
    }
  }
}

TEST(simple8b, mixed_widths_and_escapes) {
  std::mt19937_64 rng(11);
  for (int iter = 0; iter < 200; ++iter) {
    std::vector<uint64_t> v(rng() % 500);
    for (auto& x : v) x = rng() >> (rng() % 64);
    EXPECT_EQ(round_trip(v), v);
  }
}

TEST(simple8b, runs_take_one_word) {
  std::vector<uint64_t> v(100000, 7);
  std::string buf;
  simple8b_encode(v.data(), v.size(), buf);
  EXPECT_EQ(buf.size(), 8u);
  EXPECT_EQ(round_trip(v), v);
  std::vector<uint64_t> zeros(1000, 0);
  zeros.push_back(1);
  buf.clear();
  simple8b_encode(zeros.data(), zeros.size(), buf);
  EXPECT_EQ(buf.size(), 16u);
  EXPECT_EQ(round_trip(zeros), zeros);
}

TEST(simple8b, runs_of_wide_values_are_packed_or_escaped) {
  std::vector<uint64_t> v(10, uint64_t{1} << 40);  // too wide for a run word
  EXPECT_EQ(round_trip(v), v);
  std::vector<uint64_t> max(5, std::numeric_limits<uint64_t>::max());
  std::string buf;
  simple8b_encode(max.data(), max.size(), buf);
  EXPECT_EQ(buf.size(), 5u * 16);
  EXPECT_EQ(round_trip(max), max);
}

TEST(simple8b, small_values_pack_densely) {
  std::vector<uint64_t> v(120);
  for (size_t i = 0; i < v.size(); ++i) v[i] = i % 2;
  std::string buf;
  simple8b_encode(v.data(), v.size(), buf);
  EXPECT_EQ(buf.size(), 16u);  // 60 one-bit values a word
}

TEST(simple8b, rejects_bad_words) {
  std::vector<uint64_t> out(300);
  std::string buf;
  put_fixed64(buf, 0);  // run of zero values
  EXPECT_EQ(simple8b_decode(buf, 1, out.data()).code(), errc::corruption);
  buf.clear();
  put_fixed64(buf, (uint64_t{5} << 32) | 1);  // run of 5 where 4 are left
  EXPECT_EQ(simple8b_decode(buf, 4, out.data()).code(), errc::corruption);
  EXPECT_TRUE(simple8b_decode(buf, 5, out.data()).ok());
  EXPECT_EQ(simple8b_decode(buf, 6, out.data()).code(), errc::corruption);  // missing word
  buf.clear();
  put_fixed64(buf, uint64_t{15} << 60);  // escape without its value
  EXPECT_EQ(simple8b_decode(buf, 1, out.data()).code(), errc::corruption);
  put_fixed64(buf, 42);
  EXPECT_TRUE(simple8b_decode(buf, 1, out.data()).ok());
  EXPECT_EQ(out[0], 42u);
  buf.clear();
  put_fixed64(buf, (uint64_t{15} << 60) | 1);  // escape with a payload
  put_fixed64(buf, 42);
  EXPECT_EQ(simple8b_decode(buf, 1, out.data()).code(), errc::corruption);
  buf.clear();
  put_fixed64(buf, uint64_t{14} << 60);
  put_fixed64(buf, uint64_t{14} << 60);  // trailing word
  EXPECT_EQ(simple8b_decode(buf, 1, out.data()).code(), errc::corruption);
  EXPECT_EQ(simple8b_decode("1234567", 1, out.data()).code(), errc::corruption);
}

}  // namespace
}  // namespace liandu::storage::codec
