#include "storage/head/sharded_appender.h"

#include <gtest/gtest.h>

#include <string>

namespace liandu::storage::head {
namespace {

// Appending through the appender on several threads must leave the heads
// exactly as appending one value at a time does: same columns, same order
// within each series (including duplicate times, resolved later by
// last-write-wins), same totals.
TEST(ShardedAppenderTest, MatchesAppendingInOrder) {
  for (size_t threads : {1, 2, 3}) {
    head direct_a, direct_b, sharded_a, sharded_b;
    std::vector<std::string> strings;  // string values must outlive finish()
    for (int i = 0; i < 50000; ++i) strings.push_back("s" + std::to_string(i % 97));
    {
      sharded_appender appender(threads);
      for (int i = 0; i < 50000; ++i) {
        uint32_t series = 1 + static_cast<uint32_t>((i * 7919) % 1000);
        int64_t time = i / 3;  // runs of equal times
        head& d = (i % 5 == 0) ? direct_b : direct_a;
        head& s = (i % 5 == 0) ? sharded_b : sharded_a;
        model::field_value_view v = (i % 4 == 0) ? model::field_value_view(std::string_view(strings[i]))
                                                 : model::field_value_view(double(i));
        std::string_view field = (i % 4 == 0) ? "state" : "value";
        d.append(series, field, v, time);
        appender.add(s, series, field, v, time);
        if (i == 30000) appender.finish();  // finishing midway changes nothing
      }
      appender.finish();
    }
    for (auto [d, s] : {std::pair{&direct_a, &sharded_a}, std::pair{&direct_b, &sharded_b}}) {
      EXPECT_EQ(s->memory_bytes(), d->memory_bytes()) << threads;
      EXPECT_EQ(s->point_values(), d->point_values());
      EXPECT_EQ(s->series_count(), d->series_count());
      size_t compared = 0;
      d->for_each_series([&](uint32_t id, const series_head& ds) {
        for (const auto& f : ds.fields) {
          const head_column* shc = s->find(id, d->field_name(f.name));
          ASSERT_NE(shc, nullptr);
          column sc = shc->to_column(), col = f.col.to_column();
          EXPECT_EQ(sc.type, col.type);
          EXPECT_EQ(sc.times, col.times);
          EXPECT_EQ(sc.floats, col.floats);
          EXPECT_EQ(sc.strings, col.strings);
          ++compared;
        }
      });
      EXPECT_GE(compared, 200u);
    }
  }
}

// wait_applied(mark()) must not return before every value added before the
// mark is in its head (replay unmaps a WAL segment then), and marks taken
// with nothing new to hand over must not wait for anything more.
TEST(ShardedAppenderTest, WaitAppliedCoversEverythingBeforeTheMark) {
  head h;
  sharded_appender appender(2);
  uint64_t last = 0;
  int added = 0;
  for (int round = 0; round < 20; ++round) {
    // Several chunks' worth, then a mark: all of it is applied after the wait.
    for (int i = 0; i < 10000; ++i, ++added) {
      appender.add(h, 1 + static_cast<uint32_t>(added % 500), "v", model::field_value_view(double(added)),
                   added);
    }
    uint64_t m = appender.mark();
    EXPECT_GT(m, last);
    appender.wait_applied(m);
    last = m;
    size_t values = 0;
    for (uint32_t id = 1; id <= 500; ++id) {
      const head_column* c = h.find(id, "v");
      ASSERT_NE(c, nullptr);
      values += c->size();
    }
    ASSERT_EQ(values, static_cast<size_t>(added)) << "round " << round;
  }
  EXPECT_EQ(appender.mark(), last);  // nothing new: the same mark, at once
  appender.wait_applied(last);
  appender.finish();
  EXPECT_EQ(h.point_values(), static_cast<size_t>(added));
}

TEST(ShardedAppenderTest, DestroyingWithoutFinishStillAppends) {
  head h;
  {
    sharded_appender appender(2);
    for (int i = 0; i < 10; ++i) appender.add(h, 3, "v", model::field_value_view(int64_t{i}), i);
  }
  ASSERT_NE(h.find(3, "v"), nullptr);
  EXPECT_EQ(h.find(3, "v")->to_column().integers.size(), 10u);
  EXPECT_EQ(h.point_values(), 10u);
}

}  // namespace
}  // namespace liandu::storage::head
