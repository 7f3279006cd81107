#include "base/coding.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace liandu {

TEST(coding, varint_round_trip) {
  std::vector<uint64_t> values = {0, 1, 127, 128, 300, 1ull << 32, std::numeric_limits<uint64_t>::max()};
  std::string buf;
  for (auto v : values) put_varint(buf, v);
  std::string_view in = buf;
  for (auto v : values) {
    uint64_t got;
    ASSERT_TRUE(get_varint(in, got));
    EXPECT_EQ(got, v);
  }
  EXPECT_TRUE(in.empty());
}

TEST(coding, varint_truncated_fails) {
  std::string buf;
  put_varint(buf, 1ull << 40);
  buf.pop_back();
  std::string_view in = buf;
  uint64_t v;
  EXPECT_FALSE(get_varint(in, v));
}

TEST(coding, zigzag) {
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{1}, std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max()}) {
    EXPECT_EQ(zigzag_decode(zigzag_encode(v)), v);
  }
  EXPECT_EQ(zigzag_encode(-1), 1u);
  EXPECT_EQ(zigzag_encode(1), 2u);
}

namespace {

// The byte-at-a-time LEB128 the word-at-a-time code must match.
std::string reference_encode(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

// Returns the bytes read, or 0 on truncation or overflow.
size_t reference_decode(std::string_view in, uint64_t& v) {
  v = 0;
  for (size_t i = 0; i < in.size() && i < 10; ++i) {
    uint64_t byte = static_cast<uint8_t>(in[i]);
    if (i == 9 && byte > 1) return 0;
    v |= (byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) return i + 1;
  }
  return 0;
}

}  // namespace

// Every width from 0 to 64 bits, encoded into a buffer of garbage: the same
// bytes as the reference, and read back with and without 10 bytes after.
TEST(coding, word_at_a_time_varints_match_the_byte_loop) {
  std::mt19937_64 rng(5);
  for (int width = 0; width <= 64; ++width) {
    for (int k = 0; k < 200; ++k) {
      uint64_t v = width == 0 ? 0 : (rng() >> (64 - width)) | (uint64_t{1} << (width - 1));
      char buf[16];
      for (char& c : buf) c = static_cast<char>(rng());
      char* end = encode_varint(buf, v);
      std::string want = reference_encode(v);
      ASSERT_EQ(std::string(buf, end), want) << v;
      std::string padded = want + std::string(10, '\x81');
      for (std::string_view in : {std::string_view(want), std::string_view(padded)}) {
        const size_t after = in.size() - want.size();
        uint64_t got = 0;
        ASSERT_TRUE(get_varint(in, got)) << v;
        EXPECT_EQ(got, v);
        EXPECT_EQ(in.size(), after);
      }
      std::string put;
      put_varint(put, v);
      EXPECT_EQ(put, want);
    }
  }
}

// Random bytes, mostly with continuation bits: get_varint succeeds where the
// reference does, with the same value and length, and fails where it fails
// (a tenth byte over 1, or too few bytes).
TEST(coding, varints_decode_like_the_byte_loop_on_any_bytes) {
  std::mt19937_64 rng(6);
  for (int k = 0; k < 200000; ++k) {
    std::string bytes(rng() % 14, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 4 == 0 ? rng() : (rng() | 0x80));
    if (!bytes.empty() && rng() % 3 == 0) bytes[rng() % bytes.size()] = static_cast<char>(rng() % 4);
    uint64_t want = 0;
    size_t want_len = reference_decode(bytes, want);
    std::string_view in = bytes;
    uint64_t got = 0;
    bool ok = get_varint(in, got);
    ASSERT_EQ(ok, want_len != 0) << k;
    if (ok) {
      EXPECT_EQ(got, want);
      EXPECT_EQ(bytes.size() - in.size(), want_len);
    } else {
      // As the byte loop did: the bytes looked at are consumed.
      EXPECT_EQ(bytes.size() - in.size(), std::min<size_t>(bytes.size(), 10));
    }
  }
}

}  // namespace liandu
