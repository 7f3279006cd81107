#include "storage/head/head_column.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace liandu::storage::head {
namespace {

// Appends the same points to a head_column and to a plain column (the
// reference) and checks that every way of reading the head_column gives the
// reference's points.
template <typename Make>
void check_against_column(model::field_type type, Make make) {
  std::mt19937_64 rng(42);
  for (size_t n : {0, 1, 2, 3, 4, 5, 17, 1000}) {
    head_column hc(type);
    column ref;
    ref.type = type;
    std::vector<std::string> keep;  // string values outlive the views
    keep.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      int64_t t = static_cast<int64_t>(rng() % 50) - 25;  // out of order, duplicates, negatives
      model::field_value_view v = make(rng, keep);
      hc.append(t, v);
      ref.times.push_back(t);
      ref.append_value(v);
    }
    ASSERT_EQ(hc.size(), n);
    column all = hc.to_column();
    EXPECT_EQ(all.times, ref.times);
    EXPECT_EQ(all.integers, ref.integers);
    EXPECT_EQ(all.unsigneds, ref.unsigneds);
    EXPECT_EQ(all.booleans, ref.booleans);
    EXPECT_EQ(all.strings, ref.strings);
    ASSERT_EQ(all.floats.size(), ref.floats.size());
    for (size_t i = 0; i < all.floats.size(); ++i) {  // bit-identical, NaN and -0.0 included
      EXPECT_EQ(std::memcmp(&all.floats[i], &ref.floats[i], sizeof(double)), 0) << i;
    }
    bool sorted = true;
    for (size_t i = 1; i < n; ++i) sorted &= ref.times[i - 1] < ref.times[i];
    EXPECT_EQ(hc.is_sorted_unique(), sorted);

    column range;
    range.type = type;
    hc.append_range_to(range, -5, 5);
    column expect;
    expect.type = type;
    for (size_t i = 0; i < n; ++i) {
      if (ref.times[i] >= -5 && ref.times[i] <= 5) expect.append_from(ref, i);
    }
    EXPECT_EQ(range.times, expect.times);
    EXPECT_EQ(range.size(), expect.size());
    EXPECT_EQ(range.strings, expect.strings);
    EXPECT_EQ(range.integers, expect.integers);

    size_t removed = hc.erase_range(-5, 5);
    EXPECT_EQ(removed, expect.size());
    column rest = hc.to_column();
    column expect_rest;
    expect_rest.type = type;
    for (size_t i = 0; i < n; ++i) {
      if (ref.times[i] < -5 || ref.times[i] > 5) expect_rest.append_from(ref, i);
    }
    EXPECT_EQ(rest.times, expect_rest.times);
    EXPECT_EQ(rest.strings, expect_rest.strings);
    EXPECT_EQ(rest.unsigneds, expect_rest.unsigneds);
    // Still appendable after the erase, and the moved-to column keeps it all.
    hc.append(99, make(rng, keep));
    head_column moved = std::move(hc);
    EXPECT_EQ(moved.size(), rest.size() + 1);
    EXPECT_EQ(moved.time(moved.size() - 1), 99);
  }
}

TEST(HeadColumnTest, FloatsAreBitIdentical) {
  const double special[] = {0.0,
                            -0.0,
                            std::numeric_limits<double>::quiet_NaN(),
                            std::numeric_limits<double>::infinity(),
                            -std::numeric_limits<double>::infinity(),
                            std::numeric_limits<double>::denorm_min(),
                            23.45};
  check_against_column(model::field_type::float64, [&](std::mt19937_64& rng, auto&) {
    return model::field_value_view(rng() % 3 == 0 ? special[rng() % 7] : std::bit_cast<double>(rng()));
  });
}

TEST(HeadColumnTest, IntegersUnsignedsBooleans) {
  check_against_column(model::field_type::int64, [](std::mt19937_64& rng, auto&) {
    int64_t edge[] = {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), -1, 0};
    return model::field_value_view(rng() % 2 ? edge[rng() % 4] : static_cast<int64_t>(rng()));
  });
  check_against_column(model::field_type::uint64,
                       [](std::mt19937_64& rng, auto&) { return model::field_value_view(uint64_t{rng()}); });
  check_against_column(model::field_type::boolean,
                       [](std::mt19937_64& rng, auto&) { return model::field_value_view(rng() % 2 == 0); });
}

TEST(HeadColumnTest, Strings) {
  check_against_column(model::field_type::string, [](std::mt19937_64& rng, std::vector<std::string>& keep) {
    keep.push_back(rng() % 4 == 0 ? std::string()
                                  : std::string(rng() % 40, static_cast<char>('a' + rng() % 26)));
    return model::field_value_view(std::string_view(keep.back()));
  });
}

TEST(HeadColumnTest, MemoryCountsCapacity) {
  head_column c(model::field_type::float64);
  EXPECT_EQ(sizeof(head_column), 32u);
  size_t added = c.append(1, model::field_value_view(1.0));
  EXPECT_EQ(added, 2u * 16);  // room for two points
  EXPECT_EQ(c.append(2, model::field_value_view(2.0)), 0u);
  EXPECT_EQ(c.append(3, model::field_value_view(3.0)), 2u * 16);
  EXPECT_EQ(c.memory_bytes(), sizeof(head_column) + 4 * 16);
}

}  // namespace
}  // namespace liandu::storage::head
