#include "storage/write_batch.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace liandu::storage {
namespace {

// Up to max_len random lower-case letters.
std::string random_text(std::mt19937_64& rng, size_t max_len) {
  std::string s(rng() % (max_len + 1), 'x');
  for (char& c : s) c = static_cast<char>('a' + rng() % 26);
  return s;
}

}  // namespace

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

// Points of every field type with keys and strings of random lengths, some
// far longer than a buffer's growth step: the encoder sizes each point once
// (its bound), so a bound too small writes past the buffer (ASan) or loses
// bytes (the round trip).
TEST(write_batch, random_points_round_trip_through_both_adders) {
  std::mt19937_64 rng(42);
  auto text = [&](size_t max_len) { return random_text(rng, max_len); };
  struct expected {
    std::string key;
    int64_t time;
    std::vector<std::string> names;
    std::vector<model::field_value> values;
  };
  std::vector<expected> want;
  write_batch b("db", "rp");
  for (int i = 0; i < 2000; ++i) {
    expected e;
    e.key = "m" + text(i % 10 == 0 ? 300 : 40);
    e.time = static_cast<int64_t>(rng());
    size_t n = 1 + rng() % 6;
    for (size_t k = 0; k < n; ++k) {
      e.names.push_back("f" + std::to_string(k) + text(i % 7 == 0 ? 200 : 8));
      switch (rng() % 5) {
        case 0: e.values.emplace_back(std::bit_cast<double>(rng())); break;
        case 1: e.values.emplace_back(static_cast<int64_t>(rng())); break;
        case 2: e.values.emplace_back(static_cast<uint64_t>(rng())); break;
        case 3: e.values.emplace_back(rng() % 2 == 0); break;
        default: e.values.emplace_back(text(i % 5 == 0 ? 5000 : 20)); break;
      }
    }
    std::vector<model::field> owned;
    for (size_t k = 0; k < n; ++k) owned.push_back({e.names[k], e.values[k]});
    std::vector<model::field_view> fields;
    for (const model::field& f : owned) fields.push_back(model::view_of(f));
    if (i % 2 == 0) {
      b.add_keyed(e.key, fields.data(), fields.size(), e.time);
    } else {
      b.add(e.key, nullptr, 0, fields.data(), fields.size(), e.time, true);
    }
    want.push_back(std::move(e));
  }
  EXPECT_EQ(b.point_count(), want.size());
  batch_reader r(b.data());
  batch_point bp;
  for (const expected& e : want) {
    ASSERT_TRUE(r.next(bp));
    ASSERT_EQ(bp.series_key, e.key);
    ASSERT_EQ(bp.time, e.time);
    ASSERT_EQ(bp.fields.size(), e.names.size());
    for (size_t k = 0; k < e.names.size(); ++k) {
      ASSERT_EQ(bp.fields[k].key, e.names[k]);
      ASSERT_EQ(model::type_of(bp.fields[k].value), model::type_of(e.values[k]));
      const model::field_value_view& got = bp.fields[k].value;
      switch (got.index()) {
        case 0:  // bit for bit: NaN payloads too
          ASSERT_EQ(std::bit_cast<uint64_t>(std::get<0>(got)),
                    std::bit_cast<uint64_t>(std::get<0>(e.values[k])));
          break;
        case 1: ASSERT_EQ(std::get<1>(got), std::get<1>(e.values[k])); break;
        case 2: ASSERT_EQ(std::get<2>(got), std::get<2>(e.values[k])); break;
        case 3: ASSERT_EQ(std::get<3>(got), std::get<3>(e.values[k])); break;
        default: ASSERT_EQ(std::get<4>(got), std::get<4>(e.values[k])); break;
      }
    }
  }
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

// The listed points (and their hashes) are offered only while every point
// came with a hash: the engine reads them by point index, so a batch with a
// gap must offer none and be decoded from its bytes.
TEST(write_batch, live_points_are_offered_only_when_every_point_has_a_hash) {
  const model::field_view f[] = {{"v", 1.0}};
  write_batch b("db", "rp");
  EXPECT_FALSE(b.has_live_points());
  b.add_keyed("m,a=1", 11, f, 1, 1);
  b.add_keyed("m,a=2", 22, f, 1, 2);
  ASSERT_TRUE(b.has_live_points());
  batch_point bp;
  uint32_t hash = 0;
  b.live_point(0, bp, hash);
  EXPECT_EQ(hash, 11u);
  EXPECT_EQ(bp.series_key, "m,a=1");
  b.live_point(1, bp, hash);
  EXPECT_EQ(hash, 22u);
  EXPECT_EQ(bp.series_key, "m,a=2");
  b.add_keyed("m,a=3", f, 1, 3);
  EXPECT_FALSE(b.has_live_points());
  b.add_keyed("m,a=4", 44, f, 1, 4);
  EXPECT_FALSE(b.has_live_points());  // point 2 has none: never again
  // The bytes are the same either way.
  write_batch plain("db", "rp");
  for (int i = 1; i <= 4; ++i) plain.add_keyed("m,a=" + std::to_string(i), f, 1, i);
  EXPECT_EQ(b.data(), plain.data());
  // A batch made from bytes has points the list would not line up with.
  write_batch from_bytes(plain.data());
  from_bytes.add_keyed("m,a=5", 55, f, 1, 5);
  EXPECT_FALSE(from_bytes.has_live_points());
}

// A listed point is what decoding its bytes gives: key, time, byte range and
// every field bit for bit, over points of every type with keys and strings
// long enough that the buffer moves many times while the batch is built.
TEST(write_batch, live_points_equal_the_decoded_bytes) {
  std::mt19937_64 rng(5);
  auto text = [&](size_t max_len) { return random_text(rng, max_len); };
  write_batch b("db", "rp");
  write_batch same_bytes("db", "rp");
  std::vector<uint32_t> hashes;
  for (int i = 0; i < 2000; ++i) {
    std::string key = "m" + text(i % 10 == 0 ? 300 : 40);
    size_t n = 1 + rng() % 6;
    std::vector<model::field> owned;
    for (size_t k = 0; k < n; ++k) {
      std::string name = "f" + std::to_string(k) + text(i % 7 == 0 ? 200 : 8);
      switch (rng() % 5) {
        case 0: owned.push_back({name, std::bit_cast<double>(rng())}); break;
        case 1: owned.push_back({name, static_cast<int64_t>(rng())}); break;
        case 2: owned.push_back({name, static_cast<uint64_t>(rng())}); break;
        case 3: owned.push_back({name, rng() % 2 == 0}); break;
        default: owned.push_back({name, text(i % 5 == 0 ? 5000 : 20)}); break;
      }
    }
    std::vector<model::field_view> fields;
    for (const model::field& f : owned) fields.push_back(model::view_of(f));
    auto time = static_cast<int64_t>(rng());
    hashes.push_back(static_cast<uint32_t>(rng()));
    b.add_keyed(key, hashes.back(), fields.data(), fields.size(), time);
    same_bytes.add_keyed(key, fields.data(), fields.size(), time);
  }
  ASSERT_TRUE(b.has_live_points());
  EXPECT_EQ(b.data(), same_bytes.data());
  batch_reader r(b.data());
  batch_point want, got;
  for (size_t i = 0; i < b.point_count(); ++i) {
    ASSERT_TRUE(r.next(want));
    uint32_t hash = 0;
    b.live_point(i, got, hash);
    ASSERT_EQ(hash, hashes[i]);
    ASSERT_EQ(got.series_key, want.series_key);
    ASSERT_EQ(got.series_key.data(), want.series_key.data());  // views into data()
    ASSERT_EQ(got.time, want.time);
    ASSERT_EQ(got.offset, want.offset);
    ASSERT_EQ(got.end, want.end);
    ASSERT_EQ(got.fields.size(), want.fields.size());
    for (size_t k = 0; k < want.fields.size(); ++k) {
      ASSERT_EQ(got.fields[k].key, want.fields[k].key);
      ASSERT_EQ(got.fields[k].value.index(), want.fields[k].value.index());
      const model::field_value_view& g = got.fields[k].value;
      const model::field_value_view& w = want.fields[k].value;
      switch (w.index()) {
        case 0:
          ASSERT_EQ(std::bit_cast<uint64_t>(std::get<0>(g)), std::bit_cast<uint64_t>(std::get<0>(w)));
          break;
        case 1: ASSERT_EQ(std::get<1>(g), std::get<1>(w)); break;
        case 2: ASSERT_EQ(std::get<2>(g), std::get<2>(w)); break;
        case 3: ASSERT_EQ(std::get<3>(g), std::get<3>(w)); break;
        default:
          ASSERT_EQ(std::get<4>(g), std::get<4>(w));
          ASSERT_EQ(std::get<4>(g).data(), std::get<4>(w).data());
          break;
      }
    }
  }
  EXPECT_FALSE(r.next(want));
}

}  // namespace liandu::storage
