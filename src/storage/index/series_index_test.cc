#include "storage/index/series_index.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "model/point.h"
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

// Keys made by model::append_series_key from names with and without the
// characters a key escapes (',', ' ', '=', and a backslash): the postings,
// tag keys and measurements the index derives must match a plain model of
// the same series, when created and after a reopen from the log.
TEST(series_index, postings_match_a_model_for_plain_and_escaped_keys) {
  testing::temp_dir tmp;
  std::mt19937 rng(11);
  const std::vector<std::string> names = {"a", "b", "host", "x,y", "sp ace", "eq=ual", "back\\slash", "z"};
  auto pick = [&] { return names[rng() % names.size()]; };
  // measurement -> tag key -> value -> ids; measurement -> ids
  std::map<std::string, std::map<std::string, std::map<std::string, std::set<uint32_t>>>> want;
  std::map<std::string, std::set<uint32_t>> all;
  auto check = [&](const series_index& idx) {
    std::vector<std::string> ms;
    for (const auto& [m, ids] : all) ms.push_back(m);
    EXPECT_EQ(idx.measurements(), ms);
    for (const auto& [m, keys] : want) {
      std::vector<std::string> ks;
      for (const auto& [k, values] : keys) ks.push_back(k);
      EXPECT_EQ(idx.tag_keys(m), ks) << m;
      for (const auto& [k, values] : keys) {
        // Sorted by value, as SHOW TAG VALUES lists them.
        std::vector<std::pair<std::string, std::vector<uint32_t>>> listed;
        for (const auto& [v, ids] : values)
          listed.emplace_back(v, std::vector<uint32_t>(ids.begin(), ids.end()));
        EXPECT_EQ(idx.tag_values(m, k), listed) << m << " " << k;
        for (const auto& [v, ids] : values) {
          EXPECT_EQ(idx.series_with_tag(m, k, v), std::vector<uint32_t>(ids.begin(), ids.end()))
              << m << " " << k << "=" << v;
        }
      }
    }
    for (const auto& [m, ids] : all)
      EXPECT_EQ(idx.series_of(m), std::vector<uint32_t>(ids.begin(), ids.end())) << m;
  };
  {
    series_index idx;
    ASSERT_TRUE(idx.open(tmp.path()).ok());
    for (int i = 0; i < 400; ++i) {
      std::string m = pick();
      std::map<std::string, std::string> tags;  // sorted, unique keys
      size_t n = rng() % 4;
      for (size_t k = 0; k < n; ++k) tags[pick()] = pick() + std::to_string(rng() % 5);
      std::vector<model::tag_view> views;
      for (const auto& [k, v] : tags) views.push_back({k, v});
      std::string key;
      model::append_series_key(key, m, views.data(), views.size());
      uint32_t id = idx.find_or_create(key);
      all[m].insert(id);
      for (const auto& [k, v] : tags) want[m][k][v].insert(id);
    }
    check(idx);
    ASSERT_TRUE(idx.write_log(idx.take_pending_log()).ok());
  }
  series_index idx;
  ASSERT_TRUE(idx.open(tmp.path()).ok());
  check(idx);
}

}  // namespace liandu::storage::index
