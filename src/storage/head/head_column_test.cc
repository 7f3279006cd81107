#include "storage/head/head_column.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace liandu::storage::head {
namespace {

// How the test's times arrive.
enum class arrival {
  dense,   // few distinct times, many repeats: stays sorted, values overwritten
  nearly,  // increasing with jitter of a few places: stays sorted
  far,     // random over a wide range: goes unsorted
};

int64_t next_time(arrival a, std::mt19937_64& rng, size_t i) {
  switch (a) {
    case arrival::dense: return static_cast<int64_t>(rng() % 50) - 25;
    case arrival::nearly: return static_cast<int64_t>(i) * 2 - 25 + static_cast<int64_t>(rng() % 21) - 10;
    case arrival::far: break;
  }
  return static_cast<int64_t>(rng() % 100000) - 50000;
}

void expect_same_points(const column& a, const column& b) {
  EXPECT_EQ(a.times, b.times);
  EXPECT_EQ(a.integers, b.integers);
  EXPECT_EQ(a.unsigneds, b.unsigneds);
  EXPECT_EQ(a.booleans, b.booleans);
  EXPECT_EQ(a.strings, b.strings);
  ASSERT_EQ(a.floats.size(), b.floats.size());
  for (size_t i = 0; i < a.floats.size(); ++i) {  // bit-identical, NaN and -0.0 included
    EXPECT_EQ(std::memcmp(&a.floats[i], &b.floats[i], sizeof(double)), 0) << i;
  }
}

column sorted(column c) {
  c.sort_and_dedup();
  return c;
}

// The points of c with lo <= time <= hi (inside) or the others.
column filtered(const column& c, int64_t lo, int64_t hi, bool inside) {
  column out;
  out.type = c.type;
  for (size_t i = 0; i < c.size(); ++i) {
    if ((c.times[i] >= lo && c.times[i] <= hi) == inside) out.append_from(c, i);
  }
  return out;
}

// Appends the same points to a head_column and to a plain column (the
// reference, in arrival order) and checks that every way of reading the
// head_column gives the reference's points once resolved (sorted, last write
// of each time kept); a column that says it is sorted must hold exactly those.
template <typename Make>
void check_against_column(model::field_type type, Make make) {
  std::mt19937_64 rng(42);
  for (arrival a : {arrival::dense, arrival::nearly, arrival::far}) {
    for (size_t n : {0, 1, 2, 3, 4, 5, 17, 1000}) {
      SCOPED_TRACE(testing::Message() << "arrival " << static_cast<int>(a) << ", n " << n);
      head_column hc(type);
      column ref;
      ref.type = type;
      std::vector<std::string> keep;  // string values outlive the views
      keep.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        int64_t t = next_time(a, rng, i);
        model::field_value_view v = make(rng, keep);
        hc.append(t, v);
        ref.times.push_back(t);
        ref.append_value(v);
      }
      column want = sorted(ref);
      column all = hc.to_column();
      expect_same_points(sorted(all), want);
      if (hc.is_sorted_unique()) {
        EXPECT_TRUE(all.is_sorted_unique());
        expect_same_points(all, want);
      } else {
        EXPECT_EQ(all.size(), n);  // arrival order past the first backfill: every point kept
      }
      if (a != arrival::far) {
        EXPECT_TRUE(hc.is_sorted_unique());
      } else if (n == 1000) {
        EXPECT_FALSE(hc.is_sorted_unique());
      }

      int64_t lo = a == arrival::far ? -20000 : -5;
      int64_t hi = a == arrival::far ? 20000 : 5;
      column range;
      range.type = type;
      hc.append_range_to(range, lo, hi);
      expect_same_points(sorted(range), filtered(want, lo, hi, true));
      EXPECT_EQ(range.size(), filtered(all, lo, hi, true).size());

      size_t removed = hc.erase_range(lo, hi);
      EXPECT_EQ(removed, filtered(all, lo, hi, true).size());
      expect_same_points(sorted(hc.to_column()), filtered(want, lo, hi, false));
      // Still appendable after the erase, and the moved-to column keeps it all.
      size_t rest = hc.size();
      hc.append(100001, make(rng, keep));
      head_column moved = std::move(hc);
      EXPECT_EQ(moved.size(), rest + 1);
      EXPECT_EQ(moved.time(moved.size() - 1), 100001);
    }
  }
}

// Several writers' batches interleave: each point lands a few places before
// the end. The column stays sorted and a repeated time keeps the last value.
TEST(HeadColumnTest, InterleavedWritersStaySortedLastWriteWins) {
  head_column hc(model::field_type::int64);
  for (int64_t t = 0; t < 1000; t += 2) hc.append(t, model::field_value_view(t));
  for (int64_t t = 940; t < 1000; t += 2) hc.append(t + 1, model::field_value_view(t + 1));  // fill gaps
  hc.append(998, model::field_value_view(int64_t{-7}));  // rewrite near the end
  ASSERT_TRUE(hc.is_sorted_unique());
  column c = hc.to_column();
  ASSERT_EQ(c.size(), 500u + 30u);
  for (size_t i = 1; i < c.size(); ++i) ASSERT_LT(c.times[i - 1], c.times[i]);
  EXPECT_EQ(c.times.back(), 999);
  EXPECT_EQ(c.integers[c.size() - 2], -7);
}

// A point further back than kMaxInsertShift is not moved into place: the
// column goes unsorted and readers resolve it, the later write still winning.
TEST(HeadColumnTest, BackfillPastTheShiftLimitGoesUnsorted) {
  head_column hc(model::field_type::float64);
  const int64_t n = head_column::kMaxInsertShift + 10;
  for (int64_t t = 0; t < n; ++t) hc.append(t, model::field_value_view(1.0));
  hc.append(3, model::field_value_view(2.0));  // 70 places back, same time as a held point
  EXPECT_FALSE(hc.is_sorted_unique());
  column c = hc.to_column();
  EXPECT_EQ(c.size(), static_cast<size_t>(n) + 1);
  c.sort_and_dedup();
  ASSERT_EQ(c.size(), static_cast<size_t>(n));
  EXPECT_EQ(c.floats[3], 2.0);
  // Later in-order points are appended, still unsorted.
  hc.append(n, model::field_value_view(3.0));
  EXPECT_FALSE(hc.is_sorted_unique());
  EXPECT_EQ(hc.time(hc.size() - 1), n);
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
