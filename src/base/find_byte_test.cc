#include "base/find_byte.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace liandu {

// Against memchr at every length up to 70 (the 16-byte steps and the byte
// tail), with the byte absent, at every position, and several times; the
// span sits inside a larger buffer so a read past its end would find the
// byte planted just outside.
TEST(find_byte, agrees_with_memchr_at_every_length_and_position) {
  std::mt19937 rng(3);
  for (size_t len = 0; len <= 70; ++len) {
    for (int trial = 0; trial < 200; ++trial) {
      std::string buf(len + 32, 'x');
      for (char& ch : buf) ch = static_cast<char>('a' + rng() % 20);
      const char* p = buf.data() + 16;
      const char* e = p + len;
      buf[15] = ' ';  // just before and just after the span
      buf[16 + len] = ' ';
      int plants = static_cast<int>(rng() % 3);
      for (int k = 0; k < plants && len > 0; ++k) buf[16 + rng() % len] = ' ';
      const void* want = len == 0 ? nullptr : std::memchr(p, ' ', len);
      ASSERT_EQ(static_cast<const void*>(find_byte(p, e, ' ')), want) << "len " << len;
    }
  }
}

TEST(find_byte, finds_high_bytes_and_nul) {
  std::string s = std::string(20, 'a') + '\xff' + std::string(5, 'b') + '\0';
  EXPECT_EQ(find_byte(s.data(), s.data() + s.size(), '\xff'), s.data() + 20);
  EXPECT_EQ(find_byte(s.data(), s.data() + s.size(), '\0'), s.data() + 26);
  EXPECT_EQ(find_byte(s.data(), s.data() + 20, '\xff'), nullptr);
}

}  // namespace liandu
