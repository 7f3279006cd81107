#include "storage/head/head.h"

#include <gtest/gtest.h>

#include <string>

namespace liandu::storage::head {
namespace {

TEST(HeadTest, FindsSeriesAcrossPagesAndVisitsThemInIdOrder) {
  head h;
  EXPECT_TRUE(h.empty());
  // Ids on the first page, at a page edge, and far apart (sparse pages).
  const uint32_t ids[] = {70000, 1, 255, 256, 3};
  for (uint32_t id : ids) {
    h.append(id, "v", model::field_value_view(double(id)), 10);
    h.append(id, "v", model::field_value_view(double(id) + 0.5), 20);
  }
  h.append(3, "s", model::field_value_view(std::string_view("on")), 30);
  EXPECT_EQ(h.series_count(), 5u);
  EXPECT_EQ(h.point_values(), 11u);
  for (uint32_t id : ids) {
    const head_column* c = h.find(id, "v");
    ASSERT_NE(c, nullptr) << id;
    ASSERT_EQ(c->size(), 2u);
    EXPECT_EQ(c->to_column().floats[1], double(id) + 0.5);
  }
  EXPECT_EQ(h.find(2, "v"), nullptr);       // an empty slot of a live page
  EXPECT_EQ(h.find(512, "v"), nullptr);     // a page never written
  EXPECT_EQ(h.find(900000, "v"), nullptr);  // past the last page
  EXPECT_EQ(h.find(3, "w"), nullptr);
  ASSERT_NE(h.find(3, "s"), nullptr);
  EXPECT_EQ(h.find(3, "s")->to_column().strings[0], "on");

  std::vector<uint32_t> seen;
  h.for_each_series([&](uint32_t id, const series_head& s) {
    seen.push_back(id);
    EXPECT_FALSE(s.fields.empty());
  });
  EXPECT_EQ(seen, (std::vector<uint32_t>{1, 3, 255, 256, 70000}));
}

// A head finds its first field names by comparing and later ones through a
// hash map; names on both sides of the switch, and names never written,
// must map to their own columns (a device with 20 fields of mixed types).
TEST(HeadTest, ManyFieldNamesKeepTheirOwnColumns) {
  head h;
  const int n = 40;
  for (int i = 0; i < n; ++i) {
    std::string name = "f" + std::to_string(i);
    if (i % 2 == 0) {
      h.append(1, name, model::field_value_view(std::string_view(name)), 10);
    } else {
      h.append(1, name, model::field_value_view(int64_t{i}), 10);
    }
    // A name not yet written is not found, at every table size.
    EXPECT_EQ(h.find(1, "f" + std::to_string(i + 1)), nullptr) << i;
  }
  for (int i = 0; i < n; ++i) {
    std::string name = "f" + std::to_string(i);
    const head_column* c = h.find(1, name);
    ASSERT_NE(c, nullptr) << name;
    ASSERT_EQ(c->size(), 1u) << name;
    column got = c->to_column();
    if (i % 2 == 0) {
      ASSERT_EQ(got.type, model::field_type::string) << name;
      EXPECT_EQ(got.strings[0], name);
    } else {
      ASSERT_EQ(got.type, model::field_type::int64) << name;
      EXPECT_EQ(got.integers[0], i);
    }
  }
  EXPECT_EQ(h.find(1, "absent"), nullptr);
  EXPECT_EQ(h.point_values(), size_t{n});
}

// The linear search reads views of the names: they must survive a move of
// the head (heads are moved into and out of partitions), short names held
// inside their strings included.
TEST(HeadTest, FieldNamesAreFoundAfterTheHeadMoves) {
  head h;
  const std::vector<std::string> names = {"v", "value", "a_field_name_longer_than_fifteen", "x"};
  for (size_t i = 0; i < names.size(); ++i) h.append(1, names[i], model::field_value_view(int64_t(i)), 10);
  head moved(std::move(h));
  head again;
  again = std::move(moved);
  for (size_t i = 0; i < names.size(); ++i) {
    const head_column* c = again.find(1, names[i]);
    ASSERT_NE(c, nullptr) << names[i];
    EXPECT_EQ(c->to_column().integers[0], int64_t(i));
  }
  EXPECT_EQ(again.find(1, "valu"), nullptr);
  EXPECT_EQ(again.field_id("value"), 1u);
}

TEST(HeadTest, DeleteRangeKeepsPointsOutsideIt) {
  head h;
  for (int64_t t = 0; t < 10; ++t) h.append(7, "v", model::field_value_view(int64_t{t}), t);
  h.delete_range(7, 3, 5);
  h.delete_range(8, 0, 100);  // a series the head never saw
  const head_column* c = h.find(7, "v");
  ASSERT_NE(c, nullptr);
  column kept = c->to_column();
  EXPECT_EQ(kept.times, (std::vector<int64_t>{0, 1, 2, 6, 7, 8, 9}));
  EXPECT_EQ(kept.integers, (std::vector<int64_t>{0, 1, 2, 6, 7, 8, 9}));
  EXPECT_EQ(h.point_values(), 7u);
}

TEST(HeadTest, MemoryGrowsWithPagesAndValues) {
  head h;
  h.append(1, "v", model::field_value_view(1.0), 1);
  size_t one = h.memory_bytes();
  h.append(1, "v", model::field_value_view(2.0), 2);
  EXPECT_EQ(h.memory_bytes(), one);  // the first append made room for two
  h.append(1, "v", model::field_value_view(3.0), 3);
  EXPECT_EQ(h.memory_bytes(), one + 2 * 16);               // room for two more: time and value each
  h.append(100000, "v", model::field_value_view(1.0), 1);  // a second page
  EXPECT_GT(h.memory_bytes(), one + 2 * 16 + sizeof(series_head) * 256);
}

}  // namespace
}  // namespace liandu::storage::head
