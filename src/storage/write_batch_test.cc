#include "storage/write_batch.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace liandu::storage {

TEST(write_batch, round_trips_every_field_type) {
  write_batch b("db", "rp");
  model::point p;
  p.measurement = "cpu load";
  p.tags = {{"host", "a,b"}, {"region", "eu"}};
  p.fields = {{"f", 1.5},
              {"i", int64_t{-7}},
              {"u", std::numeric_limits<uint64_t>::max()},
              {"b", true},
              {"s", std::string("hello \"world\"")}};
  p.time = -123456789;
  b.add(p);
  std::string long_measurement(300, 'm');
  p.measurement = long_measurement;
  p.time = std::numeric_limits<int64_t>::max();
  b.add(p);

  batch_reader r(b.data());
  ASSERT_TRUE(r.header_status().ok());
  EXPECT_EQ(r.db(), "db");
  EXPECT_EQ(r.rp(), "rp");
  batch_point bp;
  ASSERT_TRUE(r.next(bp));
  EXPECT_EQ(bp.series_key, "cpu\\ load,host=a\\,b,region=eu");
  EXPECT_EQ(bp.time, -123456789);
  ASSERT_EQ(bp.fields.size(), 5u);
  EXPECT_EQ(std::get<double>(bp.fields[0].value), 1.5);
  EXPECT_EQ(std::get<int64_t>(bp.fields[1].value), -7);
  EXPECT_EQ(std::get<uint64_t>(bp.fields[2].value), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(std::get<bool>(bp.fields[3].value), true);
  EXPECT_EQ(std::get<std::string_view>(bp.fields[4].value), "hello \"world\"");
  ASSERT_TRUE(r.next(bp));
  std::string m;
  measurement_of(bp.series_key, m);
  EXPECT_EQ(m, long_measurement);
  EXPECT_EQ(bp.time, std::numeric_limits<int64_t>::max());
  EXPECT_FALSE(r.next(bp));
  EXPECT_TRUE(r.status_of_read().ok());
}

TEST(write_batch, truncation_is_reported_not_crashed) {
  write_batch b("db", "");
  model::point p{"m", {}, {{"v", 1.0}}, 5};
  b.add(p);
  b.add(p);
  for (size_t n = 0; n < b.data().size(); ++n) {
    batch_reader r(std::string_view(b.data()).substr(0, n));
    batch_point bp;
    while (r.next(bp)) {
    }
  }
}

}  // namespace liandu::storage
