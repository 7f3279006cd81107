#include "base/bytes_equal.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>

namespace liandu {
namespace {

// Every length the word paths and memcmp take (0 to 80), equal and with one
// byte changed at every position; each run sits at the very end of its own
// allocation, so a read past the end is an ASan error.
TEST(bytes_equal, agrees_with_memcmp_at_every_length_and_position) {
  std::mt19937 rng(7);
  for (size_t n = 0; n <= 80; ++n) {
    auto a_mem = std::make_unique<char[]>(n + 1);
    auto b_mem = std::make_unique<char[]>(n + 1);
    char* a = a_mem.get() + 1;  // [a, a + n) ends where the allocation does
    char* b = b_mem.get() + 1;
    for (size_t i = 0; i < n; ++i) a[i] = static_cast<char>(rng());
    std::memcpy(b, a, n);
    EXPECT_TRUE(bytes_equal(a, b, n)) << "n=" << n;
    for (size_t at = 0; at < n; ++at) {
      for (int bit = 0; bit < 8; bit += 7) {  // a low and the sign bit
        b[at] = static_cast<char>(a[at] ^ (1 << bit));
        EXPECT_FALSE(bytes_equal(a, b, n)) << "n=" << n << " at=" << at << " bit=" << bit;
        b[at] = a[at];
      }
    }
  }
}

TEST(bytes_equal, random_pairs_agree_with_memcmp) {
  std::mt19937 rng(11);
  for (int round = 0; round < 200000; ++round) {
    size_t n = rng() % 48;
    std::string a(n, '\0'), b(n, '\0');
    // Few distinct bytes, so that equal and nearly equal pairs are common.
    for (size_t i = 0; i < n; ++i) {
      a[i] = static_cast<char>('a' + rng() % 2);
      b[i] = static_cast<char>('a' + rng() % 2);
    }
    if (rng() % 2 == 0) b = a;
    ASSERT_EQ(bytes_equal(a.data(), b.data(), n), std::memcmp(a.data(), b.data(), n) == 0) << a << " / " << b;
  }
}

TEST(bytes_equal, string_views_compare_sizes_first) {
  EXPECT_TRUE(bytes_equal(std::string_view("value"), std::string_view("value")));
  EXPECT_FALSE(bytes_equal(std::string_view("value"), std::string_view("values")));
  EXPECT_FALSE(bytes_equal(std::string_view("value"), std::string_view("state")));
  EXPECT_TRUE(bytes_equal(std::string_view(), std::string_view("")));
}

}  // namespace
}  // namespace liandu
