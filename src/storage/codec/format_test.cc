// Encodings are on disk: these bytes must keep decoding to the same values,
// and a change in what the encoder writes must be deliberate. Each case was
// checked by hand against docs/formats/codecs.md; the spec walks through
// several of them. When the encoder changes on purpose, keep the old bytes
// as decode-only cases.

#include <gtest/gtest.h>

#include <bit>
#include <limits>
#include <string>
#include <vector>

#include "storage/codec/bool_codec.h"
#include "storage/codec/float_codec.h"
#include "storage/codec/integer_codec.h"
#include "storage/codec/string_codec.h"
#include "storage/codec/timestamp_codec.h"

namespace liandu::storage::codec {
namespace {

std::string hex(const std::string& s) {
  static const char digits[] = "0123456789abcdef";
  std::string h;
  for (unsigned char c : s) {
    h.push_back(digits[c >> 4]);
    h.push_back(digits[c & 15]);
  }
  return h;
}

std::string unhex(std::string_view h) {
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::string s;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    s.push_back(static_cast<char>(nibble(h[i]) << 4 | nibble(h[i + 1])));
  return s;
}

template <typename T, typename Encode, typename Decode>
void check_format(const std::vector<T>& values, std::string_view want_hex, Encode encode, Decode decode) {
  std::string buf;
  encode(values.data(), values.size(), buf);
  EXPECT_EQ(hex(buf), want_hex);
  std::vector<T> got;
  status s = decode(unhex(want_hex), values.size(), got);
  ASSERT_TRUE(s.ok()) << s.to_string();
  ASSERT_EQ(got.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if constexpr (std::is_same_v<T, double>) {
      EXPECT_EQ(std::bit_cast<uint64_t>(got[i]), std::bit_cast<uint64_t>(values[i])) << i;
    } else {
      EXPECT_EQ(got[i], values[i]) << i;
    }
  }
}

TEST(format, timestamps) {
  check_format<int64_t>({1700000000000000000, 1700000010000000000, 1700000020000000000, 1700000030000000000},
                        "038080d0e2c6bfce972f8090dfc04a", encode_timestamps, decode_timestamps);
  check_format<int64_t>({1000, 2000, 3001, 3999, 5000, 6000}, "06d00fd00f0205020272", encode_timestamps,
                        decode_timestamps);
}

TEST(format, integers) {
  check_format<int64_t>({5, 7, 6, 9, 100, -3}, "04030e010803000104ba13", encode_integers, decode_integers);
  check_format<int64_t>({-2, -2, -2}, "0203", encode_integers, decode_integers);
  check_format<int64_t>({}, "00", encode_integers, decode_integers);
  check_format<uint64_t>({0, std::numeric_limits<uint64_t>::max(), 3}, "060001020a0100", encode_unsigneds,
                         decode_unsigneds);
}

TEST(format, floats) {
  check_format<double>({23.45, 23.5, 23.41, 23.41}, "03020402ca2401049400", encode_floats, decode_floats);
  check_format<double>({1.5, 1.5, 1.75, -0.0}, "023ff80000000000006681c036fff0", encode_floats,
                       decode_floats);
}

TEST(format, booleans) {
  std::vector<uint8_t> runs(40, 0);
  std::fill(runs.begin(), runs.begin() + 20, 1);
  check_format<uint8_t>(runs, "02011414", encode_booleans, decode_booleans);
  check_format<uint8_t>({1, 0, 1, 1, 0, 0, 0, 0, 1, 1}, "010d03", encode_booleans, decode_booleans);
}

TEST(format, strings) {
  check_format<std::string>({"idle", "run", "idle", "idle"}, "02020469646c650372756e040200010102",
                            encode_strings, decode_strings);
  check_format<std::string>({"a", "bc"}, "0103030102616263", encode_strings, decode_strings);
}

TEST(format, simple8b_words_decode) {
  // The encoder picks blocks for so few values; a simple8b sequence must
  // decode all the same. delta scheme (05), first zz(10) = 0x14, sequence
  // mode 01 (zig-zag, simple8b), base 0, g 1, one word 0x2000000000000039:
  // selector 2 (30 x 2 bits) holding 1, 2, 3 = zz(-1), zz(+1), zz(-2).
  std::vector<int64_t> got;
  const std::string word = unhex(
      "0514010001"
      "3900000000000020");
  ASSERT_TRUE(decode_integers(word, 4, got).ok());
  EXPECT_EQ(got, (std::vector<int64_t>{10, 9, 10, 8}));
}

}  // namespace
}  // namespace liandu::storage::codec
