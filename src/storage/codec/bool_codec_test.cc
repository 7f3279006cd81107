#include "storage/codec/bool_codec.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace liandu::storage::codec {
namespace {

std::string check_booleans(const std::vector<uint8_t>& v) {
  std::string buf;
  encode_booleans(v.data(), v.size(), buf);
  std::vector<uint8_t> got = {1};  // decoding appends
  status s = decode_booleans(buf, v.size(), got);
  EXPECT_TRUE(s.ok()) << s.to_string();
  std::vector<uint8_t> want = {1};
  for (uint8_t x : v) want.push_back(x != 0 ? 1 : 0);
  EXPECT_EQ(got, want);
  return buf;
}

bool_scheme scheme_of(const std::string& buf) { return static_cast<bool_scheme>(buf.at(0)); }

TEST(bool_codec, zero_and_one_value) {
  EXPECT_EQ(scheme_of(check_booleans({})), bool_scheme::empty);
  check_booleans({0});
  check_booleans({1});
}

TEST(bool_codec, long_runs_are_rle) {
  std::vector<uint8_t> v(8640, 1);
  for (size_t i = 3000; i < 3100; ++i) v[i] = 0;
  for (size_t i = 7000; i < 7500; ++i) v[i] = 0;
  const std::string buf = check_booleans(v);
  EXPECT_EQ(scheme_of(buf), bool_scheme::rle);
  EXPECT_LT(buf.size(), 15u);
  EXPECT_EQ(check_booleans(std::vector<uint8_t>(1000000, 0)).size(), 5u);
}

TEST(bool_codec, alternating_is_bitpacked) {
  std::vector<uint8_t> v(1001);
  for (size_t i = 0; i < v.size(); ++i) v[i] = i % 2;
  const std::string buf = check_booleans(v);
  EXPECT_EQ(scheme_of(buf), bool_scheme::bitpacked);
  EXPECT_EQ(buf.size(), 1 + 126u);
}

TEST(bool_codec, any_non_zero_byte_is_true) { check_booleans({0, 2, 255, 0, 1, 0x80}); }

TEST(bool_codec, random_columns) {
  std::mt19937_64 rng(17);
  for (int iter = 0; iter < 500; ++iter) {
    std::vector<uint8_t> v(rng() % 300);
    const uint64_t flip = 1 + rng() % 100;  // mean run length
    uint8_t x = rng() % 2;
    for (auto& e : v) {
      if (rng() % flip == 0) x ^= 1;
      e = x;
    }
    check_booleans(v);
  }
}

TEST(bool_codec, rejects_bad_encodings) {
  std::vector<uint8_t> out = {1};
  EXPECT_EQ(decode_booleans(std::string("\x01\xff", 2), 3, out).code(), errc::corruption);  // padding bits
  EXPECT_EQ(decode_booleans(std::string("\x02\x00\x02\x02", 4), 5, out).code(), errc::corruption);
  EXPECT_EQ(decode_booleans(std::string("\x02\x00\x00", 3), 0, out).code(), errc::corruption);
  EXPECT_EQ(decode_booleans(std::string("\x02\x00\x03\x00", 4), 3, out).code(),
            errc::corruption);                                                                  // empty run
  EXPECT_EQ(decode_booleans(std::string("\x02\x02\x03", 3), 3, out).code(), errc::corruption);  // value 2
  EXPECT_EQ(out.size(), 1u);
  EXPECT_TRUE(decode_booleans(std::string("\x02\x00\x02\x03", 4), 5, out).ok());
  EXPECT_EQ(out, (std::vector<uint8_t>{1, 0, 0, 1, 1, 1}));
}

}  // namespace
}  // namespace liandu::storage::codec
