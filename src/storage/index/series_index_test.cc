#include "storage/index/series_index.h"

#include <gtest/gtest.h>

#include "storage/testing/temp_dir.h"

namespace liandu::storage::index {

TEST(series_index, postings_and_persistence) {
  testing::temp_dir tmp;
  uint32_t a, b, c;
  {
    series_index idx;
    ASSERT_TRUE(idx.open(tmp.path()).ok());
    a = idx.find_or_create("cpu,host=a,region=eu");
    b = idx.find_or_create("cpu,host=b,region=eu");
    c = idx.find_or_create("mem,host=a");
    EXPECT_EQ(idx.find_or_create("cpu,host=a,region=eu"), a);
    EXPECT_EQ(idx.series_count(), 3u);
    auto vals = idx.tag_values("cpu", "host");
    ASSERT_EQ(vals.size(), 2u);
    EXPECT_EQ(vals[0].first, "a");
    EXPECT_EQ(vals[0].second, std::vector<uint32_t>{a});
    EXPECT_EQ(idx.tag_values("cpu", "region")[0].second, (std::vector<uint32_t>{a, b}));
    // One value's posting list, as tag_values has it.
    EXPECT_EQ(idx.series_with_tag("cpu", "region", "eu"), (std::vector<uint32_t>{a, b}));
    EXPECT_EQ(idx.series_with_tag("cpu", "host", "b"), std::vector<uint32_t>{b});
    EXPECT_TRUE(idx.series_with_tag("cpu", "host", "zz").empty());
    EXPECT_TRUE(idx.series_with_tag("cpu", "rack", "a").empty());
    EXPECT_TRUE(idx.series_with_tag("nope", "host", "a").empty());
    idx.drop(b);
    EXPECT_EQ(idx.series_with_tag("cpu", "region", "eu"), std::vector<uint32_t>{a});
    ASSERT_TRUE(idx.write_log(idx.take_pending_log()).ok());
    // Not persisted: must vanish on reopen.
    idx.find_or_create("disk,host=z");
  }
  series_index idx;
  ASSERT_TRUE(idx.open(tmp.path()).ok());
  EXPECT_EQ(idx.series_count(), 2u);
  EXPECT_EQ(idx.find("cpu,host=a,region=eu"), a);
  EXPECT_EQ(idx.find("cpu,host=b,region=eu"), 0u);
  EXPECT_EQ(idx.find("mem,host=a"), c);
  EXPECT_EQ(idx.find("disk,host=z"), 0u);
  EXPECT_EQ(idx.measurements(), (std::vector<std::string>{"cpu", "mem"}));
  EXPECT_EQ(idx.tag_keys("cpu"), (std::vector<std::string>{"host", "region"}));
  // Ids are never reused.
  EXPECT_GT(idx.find_or_create("cpu,host=b,region=eu"), c);
}

}  // namespace liandu::storage::index
