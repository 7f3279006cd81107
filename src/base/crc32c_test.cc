#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace liandu {

TEST(crc32c, known_vectors) {
  // RFC 3720 B.4 test vectors.
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8a9136aau);
  std::string ones(32, '\xff');
  EXPECT_EQ(crc32c(ones.data(), ones.size()), 0x62a8ab43u);
  EXPECT_EQ(crc32c("123456789", 9), 0xe3069283u);
}

TEST(crc32c, seed_extends) {
  std::string s = "hello, world";
  uint32_t whole = crc32c(s.data(), s.size());
  uint32_t part = crc32c(s.data(), 5);
  EXPECT_EQ(crc32c(s.data() + 5, s.size() - 5, part), whole);
}

}  // namespace liandu
