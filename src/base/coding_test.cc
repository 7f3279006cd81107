#include "base/coding.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
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

}  // namespace liandu
