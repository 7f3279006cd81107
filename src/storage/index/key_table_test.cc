#include "storage/index/key_table.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>

namespace liandu::storage::index {
namespace {

// Random inserts, lookups and erases against std::unordered_map, with keys
// that share long prefixes (as series keys do) and a table small enough to
// grow several times and wrap its probes around the end.
TEST(KeyTableTest, BehavesLikeAMapUnderRandomInsertsAndErases) {
  std::mt19937_64 rng(11);
  std::vector<std::string> keys{""};  // id -> key; id 0 unused
  std::unordered_map<std::string, uint32_t> want;
  key_table t;
  auto key_of = [&](uint32_t id) { return std::string_view(keys[id]); };
  for (int step = 0; step < 200000; ++step) {
    std::string k =
        "sensors,line=line_" + std::to_string(rng() % 5) + ",machine=m" + std::to_string(rng() % 3000);
    uint32_t got = t.find(k, key_of);
    auto it = want.find(k);
    ASSERT_EQ(got, it == want.end() ? 0u : it->second) << k;
    if (rng() % 3 == 0 && it != want.end()) {
      t.erase(k, key_of);
      want.erase(it);
    } else if (it == want.end()) {
      keys.push_back(k);
      uint32_t id = static_cast<uint32_t>(keys.size() - 1);
      t.insert(k, id);
      want[k] = id;
    }
    ASSERT_EQ(t.size(), want.size());
  }
  for (const auto& [k, id] : want) EXPECT_EQ(t.find(k, key_of), id);
  EXPECT_EQ(t.find("absent", key_of), 0u);
}

TEST(KeyTableTest, EmptyTableFindsNothingAndErasesNothing) {
  key_table t;
  auto key_of = [](uint32_t) { return std::string_view(); };
  EXPECT_EQ(t.find("x", key_of), 0u);
  t.erase("x", key_of);
  EXPECT_EQ(t.size(), 0u);
}

TEST(HashBytesTest, DependsOnEveryByteAndTheLength) {
  std::string base(70, 'a');
  uint64_t h = hash_bytes(base);
  EXPECT_EQ(h, hash_bytes(std::string(70, 'a')));
  for (size_t i = 0; i < base.size(); ++i) {
    std::string k = base;
    k[i] = 'b';
    EXPECT_NE(hash_bytes(k), h) << i;
  }
  // Every byte counts at every length, whichever loads read the tail.
  for (size_t n = 1; n < 40; ++n) {
    std::string key(n, 'a');
    const uint64_t hk = hash_bytes(key);
    for (size_t i = 0; i < n; ++i) {
      std::string k = key;
      k[i] = 'b';
      EXPECT_NE(hash_bytes(k), hk) << n << " " << i;
    }
  }
  // Lengths around the 8- and 16-byte steps, and zero bytes at the end.
  for (size_t n = 0; n < 40; ++n) {
    EXPECT_NE(hash_bytes(std::string(n, '\0')), hash_bytes(std::string(n + 1, '\0'))) << n;
  }
  // Low bits (the slot) spread: 4,096 similar keys over 1,024 slots.
  std::vector<int> count(1024);
  for (int i = 0; i < 4096; ++i) ++count[hash_bytes("m,host=h" + std::to_string(i)) & 1023];
  int max = *std::max_element(count.begin(), count.end());
  EXPECT_LT(max, 16);
}

}  // namespace
}  // namespace liandu::storage::index
