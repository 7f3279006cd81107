#include "storage/column.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace liandu::storage {
namespace {

TEST(column, read_precedence_is_influxdbs_order) {
  using model::field_type;
  EXPECT_LT(read_precedence(field_type::float64), read_precedence(field_type::int64));
  EXPECT_LT(read_precedence(field_type::int64), read_precedence(field_type::uint64));
  EXPECT_LT(read_precedence(field_type::uint64), read_precedence(field_type::string));
  EXPECT_LT(read_precedence(field_type::string), read_precedence(field_type::boolean));
}

TEST(column, convert_numeric_casts_like_go_and_saturates_floats) {
  column c;
  c.type = model::field_type::float64;
  c.times = {1, 2, 3, 4, 5};
  c.floats = {2.9, -2.9, std::nan(""), 1e300, -1e300};
  ASSERT_TRUE(convert_numeric(c, model::field_type::int64));
  EXPECT_EQ(c.type, model::field_type::int64);
  EXPECT_TRUE(c.floats.empty());
  EXPECT_EQ(c.integers, (std::vector<int64_t>{2, -2, 0, std::numeric_limits<int64_t>::max(),
                                              std::numeric_limits<int64_t>::min()}));
  ASSERT_TRUE(convert_numeric(c, model::field_type::float64));
  EXPECT_EQ(c.floats[0], 2.0);
  EXPECT_EQ(c.times.size(), 5u);

  column u;
  u.type = model::field_type::int64;
  u.times = {1};
  u.integers = {-1};
  ASSERT_TRUE(convert_numeric(u, model::field_type::uint64));
  EXPECT_EQ(u.unsigneds, (std::vector<uint64_t>{std::numeric_limits<uint64_t>::max()}));

  column s;
  s.type = model::field_type::string;
  s.times = {1};
  s.strings = {"x"};
  EXPECT_FALSE(convert_numeric(s, model::field_type::float64));
  EXPECT_EQ(s.type, model::field_type::string);
  EXPECT_FALSE(convert_numeric(c, model::field_type::boolean));
}

}  // namespace
}  // namespace liandu::storage
