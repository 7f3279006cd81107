#include "model/point.h"

#include <gtest/gtest.h>

namespace liandu::model {

TEST(series_key, escapes_and_round_trips) {
  std::vector<tag> tags = {{"host", "a b"}, {"k=1", "v,2"}};
  std::string key = series_key("my cpu,x", tags);
  EXPECT_EQ(key, "my\\ cpu\\,x,host=a\\ b,k\\=1=v\\,2");
  std::string m;
  std::vector<tag> back;
  ASSERT_TRUE(parse_series_key(key, m, back));
  EXPECT_EQ(m, "my cpu,x");
  EXPECT_EQ(back, tags);
}

TEST(series_key, no_tags) {
  std::string m;
  std::vector<tag> back;
  ASSERT_TRUE(parse_series_key("cpu", m, back));
  EXPECT_EQ(m, "cpu");
  EXPECT_TRUE(back.empty());
}

TEST(precision, parses_all_spellings) {
  precision p;
  ASSERT_TRUE(parse_precision("ms", p));
  EXPECT_EQ(precision_multiplier(p), 1000000);
  ASSERT_TRUE(parse_precision("h", p));
  EXPECT_EQ(precision_multiplier(p), 3600LL * 1000000000LL);
  EXPECT_FALSE(parse_precision("days", p));
}

}  // namespace liandu::model
