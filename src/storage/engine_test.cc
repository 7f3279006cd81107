#include "storage/engine.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "storage/index/series_index.h"
#include "storage/testing/temp_dir.h"

namespace liandu::storage {
namespace {

constexpr int64_t all_min = std::numeric_limits<int64_t>::min();
constexpr int64_t all_max = std::numeric_limits<int64_t>::max();

std::unique_ptr<engine> open_engine(const std::string& dir, engine_options o = {}) {
  o.data_dir = dir;
  o.background = false;
  auto e = engine::open(o);
  EXPECT_TRUE(e.ok()) << e.error().to_string();
  return std::move(e).value();
}

model::point pt(std::string m, std::vector<model::tag> tags, std::string field, model::field_value v,
                int64_t t) {
  return model::point{std::move(m), std::move(tags), {{std::move(field), std::move(v)}}, t};
}

write_result write(engine& e, const std::vector<model::point>& pts, std::string db = "db") {
  write_batch b(db, "");
  for (const auto& p : pts) b.add(p);
  return e.write(b);
}

// As the line-protocol writer adds points: each with its canonical key and
// the key's hash, so that the engine takes the batch's list of points
// (write_batch::live_point) instead of decoding its bytes.
write_result write_keyed(engine& e, const std::vector<model::point>& pts, std::string db = "db") {
  write_batch b(db, "");
  for (const auto& p : pts) {
    std::vector<model::tag_view> tags;
    for (const auto& t : p.tags) tags.push_back({t.key, t.value});
    std::string key;
    model::append_series_key(key, p.measurement, tags.data(), tags.size(), false);
    std::vector<model::field_view> fields;
    for (const auto& f : p.fields) fields.push_back(model::view_of(f));
    b.add_keyed(key, index::series_index::key_hash(key), fields.data(), fields.size(), p.time);
  }
  EXPECT_TRUE(b.has_live_points());
  return e.write(b);
}

column scan(engine& e, std::string_view key, std::string_view field, int64_t lo = all_min,
            int64_t hi = all_max) {
  column out;
  auto m = std::string(key.substr(0, key.find(',')));
  auto ss = e.series("db", m);
  for (const auto& s : *ss) {
    if (s.key == key) {
      EXPECT_TRUE(e.scan("db", "", s.id, field, lo, hi, out).ok());
    }
  }
  return out;
}

TEST(engine, write_then_read_back) {
  testing::temp_dir tmp;
  auto e = open_engine(tmp.path());
  ASSERT_TRUE(e->create_database("db").ok());
  auto r = write(*e, {pt("cpu", {{"host", "a"}}, "v", 1.0, 10), pt("cpu", {{"host", "a"}}, "v", 2.0, 20),
                      pt("cpu", {{"host", "b"}}, "v", 3.0, 10)});
  ASSERT_TRUE(r.st.ok());
  EXPECT_EQ(r.points_written, 3u);
  column c = scan(*e, "cpu,host=a", "v");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c.floats[1], 2.0);
  EXPECT_EQ(*e->measurements("db"), std::vector<std::string>{"cpu"});
  EXPECT_EQ(e->series("db", "cpu")->size(), 2u);
}

TEST(engine, unknown_database_is_not_found) {
  testing::temp_dir tmp;
  auto e = open_engine(tmp.path());
  auto r = write(*e, {pt("cpu", {}, "v", 1.0, 1)}, "nope");
  EXPECT_EQ(r.st.code(), errc::not_found);
  EXPECT_EQ(r.st.message(), "database not found: \"nope\"");
}

TEST(engine, out_of_order_and_duplicates_last_write_wins) {
  testing::temp_dir tmp;
  auto e = open_engine(tmp.path());
  ASSERT_TRUE(e->create_database("db").ok());
  write(*e, {pt("m", {}, "v", 1.0, 30), pt("m", {}, "v", 2.0, 10), pt("m", {}, "v", 3.0, 20)});
  write(*e, {pt("m", {}, "v", 9.0, 10)});
  column c = scan(*e, "m", "v");
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c.times, (std::vector<int64_t>{10, 20, 30}));
  EXPECT_EQ(c.floats, (std::vector<double>{9.0, 3.0, 1.0}));
  // Same after a flush to blocks, and across a block and the head.
  ASSERT_TRUE(e->checkpoint().ok());
  write(*e, {pt("m", {}, "v", 7.0, 20)});
  c = scan(*e, "m", "v");
  EXPECT_EQ(c.floats, (std::vector<double>{9.0, 7.0, 1.0}));
  ASSERT_TRUE(e->checkpoint().ok());
  c = scan(*e, "m", "v");
  EXPECT_EQ(c.floats, (std::vector<double>{9.0, 7.0, 1.0}));
}

TEST(engine, field_type_conflict_rejects_only_that_point) {
  testing::temp_dir tmp;
  auto e = open_engine(tmp.path());
  ASSERT_TRUE(e->create_database("db").ok());
  write(*e, {pt("m", {}, "v", 1.0, 1)});
  auto r = write(*e, {pt("m", {}, "v", int64_t{5}, 2), pt("m", {}, "v", 3.0, 3)});
  ASSERT_TRUE(r.st.ok());
  EXPECT_EQ(r.points_written, 1u);
  ASSERT_EQ(r.rejected.size(), 1u);
  EXPECT_EQ(r.rejected[0].index, 0u);
  EXPECT_EQ(r.rejected[0].message,
            "field type conflict: input field \"v\" on measurement \"m\" is type integer, already exists as "
            "type float");
  // The rejected point is not replayed either.
  e.reset();
  e = open_engine(tmp.path());
  column c = scan(*e, "m", "v");
  EXPECT_EQ(c.times, (std::vector<int64_t>{1, 3}));
}

// Field types are checked against the names a batch has already met (a few
// per measurement, compared as bytes) and then the partition's map: names
// of equal length that differ in one byte, more names than are kept, and a
// conflict on a name met earlier in the same batch.
TEST(engine, field_type_checks_tell_names_of_equal_length_apart) {
  testing::temp_dir tmp;
  auto e = open_engine(tmp.path());
  ASSERT_TRUE(e->create_database("db").ok());
  const std::vector<std::string> names = {"temp_a", "temp_b", "temp_c", "temp_d", "temp_e", "temp_f"};
  std::vector<model::point> first;
  for (size_t i = 0; i < names.size(); ++i) {
    // temp_a, temp_c and temp_e are floats; the others integers.
    model::field_value v = i % 2 == 0 ? model::field_value(1.0) : model::field_value(int64_t{1});
    first.push_back(pt("m", {}, names[i], v, 1));
  }
  ASSERT_EQ(write(*e, first).rejected.size(), 0u);
  std::vector<model::point> second;
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < names.size(); ++i) {
      // Right types, then each name with the other type.
      bool is_float = (i % 2 == 0) == (round == 0);
      model::field_value v = is_float ? model::field_value(2.0) : model::field_value(int64_t{2});
      second.push_back(pt("m", {}, names[i], v, 2 + round));
    }
  }
  auto r = write(*e, second);
  ASSERT_TRUE(r.st.ok());
  EXPECT_EQ(r.points_written, names.size());
  ASSERT_EQ(r.rejected.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(r.rejected[i].index, names.size() + i);
    EXPECT_NE(r.rejected[i].message.find("\"" + names[i] + "\""), std::string::npos) << r.rejected[i].message;
  }
}

// Points are decoded and their keys looked up ahead of the point being
// applied (apply_batch_locked's lookahead ring): batches shorter and longer
// than that window, with new series, several measurements, duplicates of a
// series inside the window and type conflicts at known indexes, must come
// out exactly as a point-by-point model says, live and after a replay.
// keyed: the batches as the line-protocol writer makes them (write_keyed).
void long_batches_apply_in_order(bool keyed) {
  testing::temp_dir tmp;
  auto e = open_engine(tmp.path());
  ASSERT_TRUE(e->create_database("db").ok());
  std::mt19937 rng(7);
  // model: (measurement, host) -> time -> value; types: measurement -> is_int
  std::map<std::pair<std::string, std::string>, std::map<int64_t, double>> want;
  std::map<std::string, bool> int_typed;
  for (size_t batch_len :
       {size_t{1}, size_t{3}, size_t{15}, size_t{16}, size_t{17}, size_t{40}, size_t{333}}) {
    std::vector<model::point> pts;
    std::vector<size_t> want_rejected;
    for (size_t i = 0; i < batch_len; ++i) {
      // More measurements than apply_batch_locked keeps field types of at once.
      std::string m = "m" + std::to_string(rng() % 6);
      std::string host = "h" + std::to_string(rng() % 25);  // repeats inside a 16-point window
      int64_t t = static_cast<int64_t>(rng() % 50);
      bool as_int = rng() % 10 == 0;
      auto known = int_typed.find(m);
      bool conflict = known != int_typed.end() && known->second != as_int;
      double v = static_cast<double>(rng() % 1000);
      if (as_int) {
        pts.push_back(pt(m, {{"host", host}}, "v", static_cast<int64_t>(v), t));
      } else {
        pts.push_back(pt(m, {{"host", host}}, "v", v, t));
      }
      if (conflict) {
        want_rejected.push_back(i);
        continue;
      }
      int_typed.emplace(m, as_int);
      want[{m, host}][t] = v;
    }
    auto r = keyed ? write_keyed(*e, pts) : write(*e, pts);
    ASSERT_TRUE(r.st.ok());
    EXPECT_EQ(r.points_written, batch_len - want_rejected.size());
    std::vector<size_t> got_rejected;
    for (const auto& rej : r.rejected) got_rejected.push_back(rej.index);
    EXPECT_EQ(got_rejected, want_rejected) << "batch of " << batch_len;
  }
  auto check = [&] {
    for (const auto& [key, points] : want) {
      column c = scan(*e, key.first + ",host=" + key.second, "v");
      ASSERT_EQ(c.size(), points.size()) << key.first << " " << key.second;
      size_t i = 0;
      for (const auto& [t, v] : points) {
        EXPECT_EQ(c.times[i], t);
        double got = int_typed[key.first] ? static_cast<double>(c.integers[i]) : c.floats[i];
        EXPECT_EQ(got, v) << key.first << " " << key.second << " t=" << t;
        ++i;
      }
    }
  };
  check();
  e.reset();  // the WAL replays through the same path, with the sharded appender
  e = open_engine(tmp.path());
  check();
}

TEST(engine, long_batches_apply_in_order_with_conflicts_at_their_index) {
  long_batches_apply_in_order(false);
}

TEST(engine, listed_points_of_a_live_batch_apply_as_its_bytes_would) { long_batches_apply_in_order(true); }

// A field keeps one type per measurement and partition (InfluxDB: shard).
TEST(engine, field_type_is_fixed_per_partition_not_per_database) {
  testing::temp_dir tmp;
  const int64_t hour = 3600LL * 1000000000LL;
  auto conflict = [](engine& e, model::field_value v, int64_t t) {
    auto r = write(e, {pt("m", {}, "v", std::move(v), t)});
    EXPECT_TRUE(r.st.ok());
    return r.rejected.size() == 1 && r.points_written == 0;
  };
  auto keys = [](engine& e) {
    auto k = e.field_keys("db", "m");
    EXPECT_TRUE(k.ok());
    std::vector<std::string> out;
    for (const auto& [f, t] : *k) out.push_back(f + ":" + model::field_type_name(t));
    return out;
  };
  const std::vector<std::string> both{"v:float", "v:integer"};
  {
    auto e = open_engine(tmp.path());
    retention_policy rp{"r", 0, hour, 1};  // partitions one hour wide
    ASSERT_TRUE(e->create_database("db", &rp).ok());
    ASSERT_FALSE(conflict(*e, 1.5, 10));
    ASSERT_FALSE(conflict(*e, int64_t{7}, 2 * hour));  // another partition: a new type is fine
    EXPECT_TRUE(conflict(*e, int64_t{8}, 20));         // same partition as the float
    EXPECT_TRUE(conflict(*e, 2.5, 2 * hour + 5));      // same partition as the integer
    EXPECT_EQ(keys(*e), both);
  }
  for (int round = 0; round < 3; ++round) {
    // Rebuilt from the WAL (round 0), from each partition's fields.json
    // (round 1, after a checkpoint), and from the blocks alone (round 2: a
    // data folder from before types were per partition).
    auto e = open_engine(tmp.path());
    SCOPED_TRACE("round " + std::to_string(round));
    EXPECT_TRUE(conflict(*e, int64_t{8}, 30));
    EXPECT_TRUE(conflict(*e, 2.5, 2 * hour + 6));
    EXPECT_FALSE(conflict(*e, true, 4 * hour + round));
    EXPECT_EQ(keys(*e), (std::vector<std::string>{"v:float", "v:integer", "v:boolean"}));
    // A read spanning both answers in the type of highest precedence,
    // integers converted, as InfluxDB does across shards; booleans are left out.
    column c = scan(*e, "m", "v");
    EXPECT_EQ(c.type, model::field_type::float64);
    EXPECT_EQ(c.floats, (std::vector<double>{1.5, 7.0}));
    EXPECT_EQ(scan(*e, "m", "v", 4 * hour, all_max).booleans.size(), size_t(round + 1));
    ASSERT_TRUE(e->checkpoint().ok());
    if (round == 1) {
      e.reset();
      size_t removed = 0;
      for (const auto& entry : std::filesystem::recursive_directory_iterator(tmp.path())) {
        if (entry.path().filename() == "fields.json") removed += std::filesystem::remove(entry.path());
      }
      EXPECT_EQ(removed, 3u);  // one per partition
    }
  }
}

TEST(engine, retention_and_drop_forget_the_types_they_remove) {
  testing::temp_dir tmp;
  const int64_t day = 86400LL * 1000000000LL;
  auto e = open_engine(tmp.path());
  retention_policy rp{"week", 7 * day, day, 1};
  ASSERT_TRUE(e->create_database("db", &rp).ok());
  write(*e, {pt("m", {}, "v", 1.0, 10 * day), pt("m", {}, "v", int64_t{1}, 20 * day)});
  ASSERT_TRUE(e->checkpoint().ok());
  ASSERT_EQ(e->field_keys("db", "m")->size(), 2u);
  ASSERT_TRUE(e->enforce_retention(25 * day).ok());  // drops the day of the float
  auto k = e->field_keys("db", "m");
  ASSERT_EQ(k->size(), 1u);
  EXPECT_EQ((*k)[0].second, model::field_type::int64);
  ASSERT_TRUE(e->drop_measurement("db", "m").ok());
  EXPECT_TRUE(e->field_keys("db", "m")->empty());
  // Durably: after a restart the dropped measurement takes any type again.
  e.reset();
  e = open_engine(tmp.path());
  EXPECT_TRUE(e->field_keys("db", "m")->empty());
  auto r = write(*e, {pt("m", {}, "v", std::string("s"), 20 * day + 1)});
  EXPECT_EQ(r.points_written, 1u);
}

TEST(engine, recovers_from_wal_and_blocks_after_restart) {
  testing::temp_dir tmp;
  std::mt19937_64 rng(7);
  std::map<int64_t, double> want;
  {
    auto e = open_engine(tmp.path());
    ASSERT_TRUE(e->create_database("db").ok());
    for (int round = 0; round < 5; ++round) {
      std::vector<model::point> pts;
      for (int i = 0; i < 1000; ++i) {
        int64_t t = static_cast<int64_t>(rng() % 100000) * 1000000000LL;
        double v = static_cast<double>(rng() % 10000) / 100.0;
        want[t] = v;
        pts.push_back(pt("sensor", {{"id", "1"}}, "temp", v, t));
      }
      ASSERT_TRUE(write(*e, pts).st.ok());
      if (round % 2 == 1) {
        ASSERT_TRUE(e->checkpoint().ok());
      }
    }
  }
  auto e = open_engine(tmp.path());
  EXPECT_GT(e->recovery().wal_records, 0u);
  column c = scan(*e, "sensor,id=1", "temp");
  ASSERT_EQ(c.size(), want.size());
  size_t k = 0;
  for (const auto& [t, v] : want) {
    EXPECT_EQ(c.times[k], t);
    EXPECT_EQ(c.floats[k], v);
    ++k;
  }
}

// Replay decodes on one thread and appends on one per core in chunks: many
// series (more values than one chunk), strings whose bytes live in the WAL
// mapping, a delete between writes (it must see every value before it and
// none after), and the head memory a write path would have counted.
TEST(engine, replay_through_sharded_appends_matches_what_was_written) {
  testing::temp_dir tmp;
  size_t head_bytes_before = 0;
  {
    auto e = open_engine(tmp.path());
    ASSERT_TRUE(e->create_database("db").ok());
    for (int round = 0; round < 4; ++round) {
      std::vector<model::point> pts;
      for (int s = 0; s < 3000; ++s) {
        std::string id = std::to_string(s);
        pts.push_back(pt("m", {{"id", id}}, "v", double(round * 10000 + s), round * 100 + s % 7));
        if (s % 10 == 0) pts.push_back(pt("st", {{"id", id}}, "s", "state-" + std::to_string(round), round));
      }
      ASSERT_TRUE(write(*e, pts).st.ok());
      if (round == 1) {
        auto ss = e->series("db", "m");
        std::vector<uint32_t> ids;
        for (const auto& x : *ss) {
          if (x.key == "m,id=5" || x.key == "m,id=2999") ids.push_back(x.id);
        }
        ASSERT_EQ(ids.size(), 2u);
        ASSERT_TRUE(e->delete_series("db", ids, all_min, all_max).ok());
      }
    }
    head_bytes_before = e->head_bytes();
  }
  auto e = open_engine(tmp.path());
  EXPECT_EQ(e->recovery().points, 4u * 3300u);
  EXPECT_EQ(e->head_bytes(), head_bytes_before);
  EXPECT_EQ(scan(*e, "m,id=5", "v").floats, (std::vector<double>{20005, 30005}));
  EXPECT_EQ(scan(*e, "m,id=2999", "v").floats, (std::vector<double>{22999, 32999}));
  EXPECT_EQ(scan(*e, "m,id=6", "v").floats, (std::vector<double>{6, 10006, 20006, 30006}));
  EXPECT_EQ(scan(*e, "st,id=10", "s").strings,
            (std::vector<std::string>{"state-0", "state-1", "state-2", "state-3"}));
}

// String values are applied from views into the WAL segment's mapping, and
// replay releases a segment only after its values are in the heads: with
// many small segments (and a delete, which drains the appender midway)
// every string must come back intact.
TEST(engine, replay_across_many_segments_keeps_string_values) {
  testing::temp_dir tmp;
  engine_options o;
  o.wal_segment_bytes = 8 << 10;
  {
    auto e = open_engine(tmp.path(), o);
    ASSERT_TRUE(e->create_database("db").ok());
    for (int batch = 0; batch < 120; ++batch) {
      std::vector<model::point> pts;
      for (int s = 0; s < 20; ++s) {
        pts.push_back(pt("st", {{"id", std::to_string(s)}}, "s",
                         "batch-" + std::to_string(batch) + "-series-" + std::to_string(s), batch));
      }
      ASSERT_TRUE(write(*e, pts).st.ok());
      if (batch == 60) {
        auto ss = e->series("db", "st");
        std::vector<uint32_t> ids;
        for (const auto& x : *ss) {
          if (x.key == "st,id=3") ids.push_back(x.id);
        }
        ASSERT_TRUE(e->delete_series("db", ids, 10, 19).ok());
      }
    }
  }
  auto e = open_engine(tmp.path(), o);
  EXPECT_EQ(e->recovery().points, 120u * 20u);
  for (int s = 0; s < 20; ++s) {
    column c = scan(*e, "st,id=" + std::to_string(s), "s");
    std::vector<std::string> want;
    for (int batch = 0; batch < 120; ++batch) {
      if (s == 3 && batch >= 10 && batch <= 19) continue;
      want.push_back("batch-" + std::to_string(batch) + "-series-" + std::to_string(s));
    }
    EXPECT_EQ(c.strings, want) << s;
  }
}

TEST(engine, time_range_scan_prunes) {
  testing::temp_dir tmp;
  auto e = open_engine(tmp.path());
  ASSERT_TRUE(e->create_database("db").ok());
  std::vector<model::point> pts;
  const int64_t day = 86400LL * 1000000000LL;
  for (int d = 0; d < 20; ++d) pts.push_back(pt("m", {}, "v", int64_t{d}, d * day));
  write(*e, pts);
  ASSERT_TRUE(e->checkpoint().ok());
  column c = scan(*e, "m", "v", 5 * day, 7 * day);
  EXPECT_EQ(c.integers, (std::vector<int64_t>{5, 6, 7}));
}

// Blocks whose time range misses the query's are skipped whole
// (block_reader::overlaps); windows on the blocks' edges must still see
// every point, from blocks and the head.
TEST(engine, scan_windows_on_block_edges_see_every_point) {
  testing::temp_dir tmp;
  auto e = open_engine(tmp.path());
  ASSERT_TRUE(e->create_database("db").ok());
  for (int64_t first : {1, 11, 21}) {  // three checkpoints: blocks [1,10], [11,20], [21,30]
    std::vector<model::point> pts;
    for (int64_t t = first; t < first + 10; ++t) {
      pts.push_back(pt("m", {{"s", "a"}}, "v", t, t));
      pts.push_back(pt("m", {{"s", "b"}}, "v", -t, t));
    }
    write(*e, pts);
    ASSERT_TRUE(e->checkpoint().ok());
  }
  write(*e, {pt("m", {{"s", "a"}}, "v", int64_t{31}, 31)});  // in the head
  auto times = [&](std::string_view key, int64_t lo, int64_t hi) { return scan(*e, key, "v", lo, hi).times; };
  EXPECT_EQ(times("m,s=a", 10, 11), (std::vector<int64_t>{10, 11}));
  EXPECT_EQ(times("m,s=b", 20, 21), (std::vector<int64_t>{20, 21}));
  EXPECT_EQ(times("m,s=a", 30, 31), (std::vector<int64_t>{30, 31}));
  EXPECT_EQ(times("m,s=a", -5, 1), (std::vector<int64_t>{1}));
  EXPECT_EQ(times("m,s=b", 31, 100), (std::vector<int64_t>{}));
  EXPECT_EQ(times("m,s=a", 0, 100).size(), 31u);
  EXPECT_EQ(scan(*e, "m,s=b", "v", 15, 15).integers, (std::vector<int64_t>{-15}));
}

TEST(engine, delete_and_drop_are_durable) {
  testing::temp_dir tmp;
  {
    auto e = open_engine(tmp.path());
    ASSERT_TRUE(e->create_database("db").ok());
    write(*e, {pt("m", {{"h", "a"}}, "v", 1.0, 10), pt("m", {{"h", "a"}}, "v", 2.0, 20),
               pt("m", {{"h", "a"}}, "v", 3.0, 30), pt("m", {{"h", "b"}}, "v", 4.0, 10),
               pt("gone", {}, "v", 1.0, 10)});
    ASSERT_TRUE(e->checkpoint().ok());
    write(*e, {pt("m", {{"h", "a"}}, "v", 5.0, 25)});
    auto ss = e->series("db", "m");
    ASSERT_TRUE(e->delete_series("db", {(*ss)[0].id}, 15, 25).ok());
    ASSERT_TRUE(e->drop_measurement("db", "gone").ok());
    EXPECT_EQ(scan(*e, "m,h=a", "v").floats, (std::vector<double>{1.0, 3.0}));
    // Written after the delete: visible.
    write(*e, {pt("m", {{"h", "a"}}, "v", 6.0, 20)});
    EXPECT_EQ(scan(*e, "m,h=a", "v").floats, (std::vector<double>{1.0, 6.0, 3.0}));
  }
  for (int pass = 0; pass < 2; ++pass) {
    auto e = open_engine(tmp.path());
    EXPECT_EQ(scan(*e, "m,h=a", "v").floats, (std::vector<double>{1.0, 6.0, 3.0}));
    EXPECT_EQ(scan(*e, "m,h=b", "v").floats, (std::vector<double>{4.0}));
    EXPECT_EQ(*e->measurements("db"), std::vector<std::string>{"m"});
    ASSERT_TRUE(e->checkpoint().ok());
  }
}

// scan_edge() and count() answer from the heads and the block index what
// scan() answers from the full merge: checked against scan() on random data
// in the active head and in (compacted) blocks of several partitions, with
// out-of-order and duplicate times (last write wins) and deletes.
TEST(engine, scan_edge_and_count_match_scan) {
  std::mt19937 rng(42);
  for (int round = 0; round < 12; ++round) {
    testing::temp_dir tmp;
    engine_options o;
    o.compact_after_blocks = 3;
    auto e = open_engine(tmp.path(), o);
    retention_policy rp{"r", 0, 1000, 1};  // partitions 1,000 ns wide
    ASSERT_TRUE(e->create_database("db", &rp).ok());
    const std::vector<std::string> hosts{"a", "b", "c"};
    for (int phase = 0; phase < 8; ++phase) {
      std::vector<model::point> pts;
      int n = std::uniform_int_distribution<int>(1, 60)(rng);
      // Times mostly ahead of what is there, some behind, some repeated.
      int64_t base = phase * 300;
      for (int i = 0; i < n; ++i) {
        int64_t t = base + std::uniform_int_distribution<int64_t>(-400, 400)(rng);
        if (t < 0) t = -t;
        const std::string& h = hosts[std::uniform_int_distribution<size_t>(0, hosts.size() - 1)(rng)];
        pts.push_back(pt("m", {{"h", h}}, "v", double(std::uniform_int_distribution<int>(0, 9)(rng)), t));
      }
      ASSERT_TRUE(write(*e, pts).st.ok());
      int what = std::uniform_int_distribution<int>(0, 3)(rng);
      if (what == 0 || what == 1) {
        ASSERT_TRUE(e->checkpoint().ok());
      }
      if (what == 2 && round % 2 == 1) {
        auto ss = e->series("db", "m");
        uint32_t id = (*ss)[std::uniform_int_distribution<size_t>(0, ss->size() - 1)(rng)].id;
        int64_t lo = std::uniform_int_distribution<int64_t>(0, 2500)(rng);
        ASSERT_TRUE(
            e->delete_series("db", {id}, lo, lo + std::uniform_int_distribution<int64_t>(0, 500)(rng)).ok());
      }
      auto ss = e->series("db", "m");
      for (const auto& s : *ss) {
        std::vector<std::pair<int64_t, int64_t>> ranges{{all_min, all_max}};
        for (int k = 0; k < 6; ++k) {
          int64_t lo = std::uniform_int_distribution<int64_t>(-100, 2800)(rng);
          ranges.emplace_back(lo, lo + std::uniform_int_distribution<int64_t>(0, 1500)(rng));
        }
        for (auto [lo, hi] : ranges) {
          column all;
          ASSERT_TRUE(e->scan("db", "r", s.id, "v", lo, hi, all).ok());
          for (bool newest : {true, false}) {
            column edge;
            ASSERT_TRUE(e->scan_edge("db", "r", s.id, "v", lo, hi, newest, edge).ok());
            SCOPED_TRACE(s.key + " [" + std::to_string(lo) + ", " + std::to_string(hi) + "] newest " +
                         std::to_string(newest) + " round " + std::to_string(round));
            if (all.size() == 0) {
              EXPECT_EQ(edge.size(), 0u);
              continue;
            }
            ASSERT_EQ(edge.size(), 1u);
            size_t i = newest ? all.size() - 1 : 0;
            EXPECT_EQ(edge.times[0], all.times[i]);
            EXPECT_EQ(edge.floats[0], all.floats[i]);
          }
          model::field_type type = model::field_type::string;
          uint64_t count = 0;
          ASSERT_TRUE(e->count("db", "r", s.id, "v", lo, hi, type, count).ok());
          EXPECT_EQ(count, all.size()) << s.key << " [" << lo << ", " << hi << "]";
          if (count > 0) {
            EXPECT_EQ(type, model::field_type::float64);
          }
        }
      }
    }
  }
}

// Query layers cache parsed series lists by generation: it must move on
// every new or dropped series and never repeat, even for a database dropped
// and created again with the same series.
TEST(engine, series_generation_changes_with_the_series) {
  testing::temp_dir tmp;
  auto e = open_engine(tmp.path());
  ASSERT_TRUE(e->create_database("db").ok());
  std::set<uint64_t> seen;
  auto gen = [&] {
    auto g = e->series_generation("db");
    EXPECT_TRUE(g.ok());
    return g.ok() ? *g : 0;
  };
  uint64_t g0 = gen();
  seen.insert(g0);
  write(*e, {pt("m", {{"h", "a"}}, "v", 1.0, 10)});
  uint64_t g1 = gen();
  EXPECT_TRUE(seen.insert(g1).second);
  write(*e, {pt("m", {{"h", "a"}}, "v", 2.0, 20)});  // no new series
  EXPECT_EQ(gen(), g1);
  write(*e, {pt("m", {{"h", "b"}}, "v", 2.0, 20)});
  EXPECT_TRUE(seen.insert(gen()).second);
  auto ss = e->series("db", "m");
  ASSERT_TRUE(e->delete_series("db", {(*ss)[0].id}, all_min, all_max).ok());
  EXPECT_TRUE(seen.insert(gen()).second);
  ASSERT_TRUE(e->drop_database("db").ok());
  EXPECT_FALSE(e->series_generation("db").ok());
  ASSERT_TRUE(e->create_database("db").ok());
  EXPECT_TRUE(seen.insert(gen()).second);
  write(*e, {pt("m", {{"h", "a"}}, "v", 1.0, 10)});
  EXPECT_TRUE(seen.insert(gen()).second);
}

TEST(engine, compaction_merges_blocks) {
  testing::temp_dir tmp;
  engine_options o;
  o.compact_after_blocks = 3;
  auto e = open_engine(tmp.path(), o);
  ASSERT_TRUE(e->create_database("db").ok());
  for (int i = 0; i < 6; ++i) {
    write(*e, {pt("m", {}, "v", double(i), i * 1000)});
    ASSERT_TRUE(e->checkpoint().ok());
  }
  EXPECT_LE(e->stats().block_files, 3u);
  EXPECT_GE(e->stats().compactions, 1u);
  EXPECT_EQ(scan(*e, "m", "v").size(), 6u);
  e.reset();
  e = open_engine(tmp.path(), o);
  EXPECT_EQ(scan(*e, "m", "v").size(), 6u);
}

// Size-tiered compaction merges only the newest, small blocks: a big old
// block stays as it is, and what was written later (an overwrite, a point
// after a delete) still wins over it, before and after a reopen.
TEST(engine, compaction_merges_the_newest_small_blocks) {
  testing::temp_dir tmp;
  engine_options o;
  o.compact_after_blocks = 3;
  auto e = open_engine(tmp.path(), o);
  ASSERT_TRUE(e->create_database("db").ok());
  std::vector<model::point> big;  // random values: a block far larger than a one-point block
  std::mt19937 rng(1);
  for (int64_t t = 0; t < 2000; ++t)
    big.push_back(pt("m", {}, "v", std::uniform_real_distribution<>(0, 1)(rng), t));
  ASSERT_TRUE(write(*e, big).st.ok());
  ASSERT_TRUE(e->checkpoint().ok());
  auto ss = e->series("db", "m");
  ASSERT_EQ(ss->size(), 1u);
  ASSERT_TRUE(e->delete_series("db", {(*ss)[0].id}, 100, 199).ok());
  ASSERT_TRUE(write(*e, {pt("m", {}, "v", 7.0, 150)}).st.ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(write(*e, {pt("m", {}, "v", 10.0 + i, 5)}).st.ok());
    ASSERT_TRUE(e->checkpoint().ok());
  }
  EXPECT_EQ(e->stats().compactions, 1u);
  EXPECT_EQ(e->stats().block_files, 2u);  // the big block and the merged small ones
  auto check = [&](engine& en) {
    column c = scan(en, "m", "v");
    ASSERT_EQ(c.size(), 1901u);  // 2000 - 100 deleted + the point written after the delete
    EXPECT_EQ(scan(en, "m", "v", 5, 5).floats, std::vector<double>{12.0});
    EXPECT_EQ(scan(en, "m", "v", 150, 150).floats, std::vector<double>{7.0});
    EXPECT_EQ(scan(en, "m", "v", 100, 199).size(), 1u);
  };
  check(*e);
  e.reset();
  e = open_engine(tmp.path(), o);
  check(*e);
  // With compact_after_blocks 0 everything merges into one block.
  e.reset();
  o.compact_after_blocks = 0;
  e = open_engine(tmp.path(), o);
  ASSERT_TRUE(write(*e, {pt("m", {}, "v", 3.0, 3000)}).st.ok());
  ASSERT_TRUE(e->checkpoint().ok());
  EXPECT_EQ(e->stats().block_files, 1u);
  EXPECT_EQ(scan(*e, "m", "v").size(), 1902u);
  EXPECT_EQ(scan(*e, "m", "v", 5, 5).floats, std::vector<double>{12.0});
}

TEST(engine, retention_drops_whole_partitions) {
  testing::temp_dir tmp;
  auto e = open_engine(tmp.path());
  retention_policy rp{"week", 7 * 86400LL * 1000000000LL, 86400LL * 1000000000LL, 1};
  ASSERT_TRUE(e->create_database("db", &rp).ok());
  const int64_t day = 86400LL * 1000000000LL;
  int64_t now = 100 * day;
  std::vector<model::point> pts;
  for (int d = 80; d < 100; ++d) pts.push_back(pt("m", {}, "v", int64_t{d}, d * day));
  write(*e, pts);
  ASSERT_TRUE(e->enforce_retention(now).ok());
  column c = scan(*e, "m", "v");
  ASSERT_FALSE(c.integers.empty());
  EXPECT_EQ(c.integers.front(), 93);
}

TEST(engine, series_limit) {
  testing::temp_dir tmp;
  engine_options o;
  o.max_series_per_database = 2;
  auto e = open_engine(tmp.path(), o);
  ASSERT_TRUE(e->create_database("db").ok());
  auto r = write(*e, {pt("m", {{"h", "1"}}, "v", 1.0, 1), pt("m", {{"h", "2"}}, "v", 1.0, 1),
                      pt("m", {{"h", "3"}}, "v", 1.0, 1), pt("m", {{"h", "1"}}, "v", 1.0, 2)});
  EXPECT_EQ(r.points_written, 3u);
  ASSERT_EQ(r.rejected.size(), 1u);
  EXPECT_NE(r.rejected[0].message.find("max-series-per-database"), std::string::npos);
}

// apply_batch_locked looks series up several points before it applies
// them; a series created by an earlier point of the same batch was not found
// then and must be found when its point is applied (not counted as new
// against the limit, not given another point's id), in any partition.
TEST(engine, series_created_earlier_in_the_batch_are_found_at_the_series_limit) {
  testing::temp_dir tmp;
  engine_options o;
  o.max_series_per_database = 10;
  auto e = open_engine(tmp.path(), o);
  ASSERT_TRUE(e->create_database("db").ok());
  constexpr int64_t week = 7 * 24 * 3600 * int64_t{1'000'000'000};
  std::vector<model::point> pts;
  auto add = [&](int h, double v, int64_t t) {
    pts.push_back(pt("m", {{"h", std::to_string(h)}}, "v", v, t));
  };
  for (int h = 0; h < 10; ++h) add(h, h, 1);        // creates the ten series the limit allows
  for (int h = 9; h >= 0; --h) add(h, 100 + h, 2);  // each 1, 3, 5, ... 19 points after its creation
  add(10, 0, 3);                                    // an eleventh series: refused
  for (int h = 0; h < 10; ++h) add(h, 200 + h, week + h % 2);  // another partition
  auto r = write(*e, pts);
  ASSERT_TRUE(r.st.ok());
  EXPECT_EQ(r.points_written, 30u);
  ASSERT_EQ(r.rejected.size(), 1u);
  EXPECT_EQ(r.rejected[0].index, 20u);
  EXPECT_EQ(e->series("db", "m")->size(), 10u);
  for (int h = 0; h < 10; ++h) {
    column c = scan(*e, "m,h=" + std::to_string(h), "v");
    ASSERT_EQ(c.size(), 3u) << h;
    EXPECT_EQ(c.floats[0], h);
    EXPECT_EQ(c.floats[1], 100 + h);
    EXPECT_EQ(c.floats[2], 200 + h);
  }
}

TEST(engine, drop_database_then_recreate_starts_empty) {
  testing::temp_dir tmp;
  {
    auto e = open_engine(tmp.path());
    ASSERT_TRUE(e->create_database("db").ok());
    write(*e, {pt("m", {}, "v", 1.0, 1)});
    ASSERT_TRUE(e->drop_database("db").ok());
    ASSERT_TRUE(e->create_database("db").ok());
    EXPECT_TRUE(e->measurements("db")->empty());
  }
  auto e = open_engine(tmp.path());
  EXPECT_TRUE(e->measurements("db")->empty());
}

}  // namespace
}  // namespace liandu::storage

namespace liandu::storage {
namespace {

TEST(engine, write_observer_sees_only_accepted_points_after_durability) {
  testing::temp_dir tmp;
  auto e = open_engine(tmp.path());
  ASSERT_TRUE(e->create_database("db").ok());
  write(*e, {pt("m", {}, "v", 1.0, 1)});
  std::vector<std::string> seen;
  e->set_write_observer([&](std::string_view payload) {
    batch_reader r(payload);
    batch_point p;
    while (r.next(p)) seen.push_back(std::string(p.series_key) + "@" + std::to_string(p.time));
  });
  write(*e, {pt("m", {}, "v", int64_t{2}, 2), pt("m", {{"h", "x"}}, "v", 3.0, 3)});
  EXPECT_EQ(seen, (std::vector<std::string>{"m,h=x@3"}));
}

}  // namespace
}  // namespace liandu::storage
