#include "storage/index/key_arena.h"

#include <gtest/gtest.h>

#include <string>

namespace liandu::storage::index {
namespace {

TEST(KeyArenaTest, ViewsStayValidAcrossChunksAndOversizedKeys) {
  key_arena arena;
  std::vector<std::string> keys;
  std::vector<std::string_view> views;
  for (int i = 0; i < 20000; ++i) {
    // Mostly short keys, an empty one, and now and then one larger than a chunk.
    std::string k = i % 5000 == 7 ? std::string(100000 + i, 'x')
                    : i == 3      ? std::string()
                                  : "m,host=h" + std::to_string(i) + ",line=l" + std::to_string(i % 7);
    keys.push_back(k);
    views.push_back(arena.add(k));
  }
  for (size_t i = 0; i < keys.size(); ++i) ASSERT_EQ(views[i], keys[i]) << i;
  EXPECT_GE(arena.memory_bytes(), 4 * 100000u);
  EXPECT_LT(arena.memory_bytes(), 4 * 200000u + 20000 * 40u);
}

}  // namespace
}  // namespace liandu::storage::index
