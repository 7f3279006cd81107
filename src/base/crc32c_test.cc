#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

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

// The fast path splits long inputs into three interleaved blocks (8 KiB and
// 256 B) and joins their states; every length around those block sizes, any
// alignment and seed must give the table's answer.
TEST(crc32c, fast_path_matches_the_table) {
  std::mt19937_64 rng(20261205);
  std::string buf(3 * 3 * 8192 + 3 * 256 + 64, '\0');
  for (auto& c : buf) c = static_cast<char>(rng());
  std::vector<size_t> lengths;
  for (size_t n = 0; n < 3 * 256 + 40; ++n) lengths.push_back(n);
  for (size_t base : {size_t{3 * 256}, size_t{3 * 8192}, size_t{2 * 3 * 8192}, size_t{3 * 3 * 8192}})
    for (size_t d = 0; d < 24; ++d) lengths.push_back(base + d - 12);
  for (int i = 0; i < 200; ++i) lengths.push_back(rng() % (3 * 3 * 8192));
  for (size_t n : lengths) {
    size_t offset = rng() % 16;
    uint32_t seed = static_cast<uint32_t>(rng());
    ASSERT_EQ(crc32c(buf.data() + offset, n, seed), crc32c_portable(buf.data() + offset, n, seed))
        << "length " << n << " offset " << offset;
  }
}

}  // namespace liandu
