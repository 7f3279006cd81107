#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>

#include "base/crc32c.h"
#include "storage/block/block_reader.h"
#include "storage/block/block_writer.h"
#include "storage/fs/file_util.h"

namespace liandu::storage::block {
namespace {

// Deterministic contents used for the saved format sample: every field type.
std::string sample_block() {
  block_writer w;
  column f;
  f.type = model::field_type::float64;
  column i;
  i.type = model::field_type::int64;
  column u;
  u.type = model::field_type::uint64;
  column b;
  b.type = model::field_type::boolean;
  column s;
  s.type = model::field_type::string;
  for (int k = 0; k < 100; ++k) {
    int64_t t = 1700000000000000000LL + k * 10000000000LL;
    for (column* c : {&f, &i, &u, &b, &s}) c->times.push_back(t);
    f.floats.push_back(20.0 + (k % 7) * 0.25);
    i.integers.push_back(k * 3 - 50);
    u.unsigneds.push_back(static_cast<uint64_t>(k) * 1000);
    b.booleans.push_back(k % 3 == 0);
    s.strings.push_back(k % 2 ? "running" : "idle");
  }
  w.add(1, "b", b);
  w.add(1, "f", f);
  w.add(1, "i", i);
  w.add(2, "s", s);
  w.add(2, "u", u);
  return w.finish();
}

// Many short columns, as a checkpoint of a fleet writes them: the index
// repeats field names and near-equal times, so it is stored compressed.
std::string fleet_block(uint32_t series) {
  block_writer w;
  for (uint32_t id = 1; id <= series; ++id) {
    column load, state;
    load.type = model::field_type::float64;
    state.type = model::field_type::int64;
    for (int k = 0; k < 10; ++k) {
      int64_t t = 1700000000000000000LL + k * 10000000000LL;
      load.times.push_back(t);
      state.times.push_back(t);
      load.floats.push_back(id * 0.5 + k);
      state.integers.push_back(k % 3);
    }
    w.add(id, "load", load);
    w.add(id, "state", state);
  }
  return w.finish();
}

// The index section's first byte (format version 2): 0 plain, 1 zstd.
int index_kind_of(const std::string& bytes) {
  uint64_t index_offset;
  std::memcpy(&index_offset, bytes.data() + bytes.size() - 28, 8);
  return static_cast<unsigned char>(bytes[index_offset]);
}

TEST(block, round_trip_all_types) {
  auto r = block_reader::open_bytes(sample_block());
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ((*r)->entries().size(), 5u);
  const entry* e = (*r)->find(1, "f");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->count, 100u);
  EXPECT_EQ(e->min_value, 20.0);
  EXPECT_EQ(e->max_value, 21.5);
  column c;
  ASSERT_TRUE((*r)->read(*e, c).ok());
  ASSERT_EQ(c.size(), 100u);
  EXPECT_EQ(c.floats[3], 20.75);
  column s;
  ASSERT_TRUE((*r)->read(*(*r)->find(2, "s"), s).ok());
  EXPECT_EQ(s.strings[1], "running");
  EXPECT_EQ((*r)->find(3, "f"), nullptr);
  EXPECT_EQ((*r)->find(1, "zz"), nullptr);
}

TEST(block, overlaps_is_the_union_of_its_columns_time_ranges_inclusive) {
  block_writer w;
  column early, late;
  early.type = late.type = model::field_type::float64;
  for (int64_t t : {100, 150, 200}) {
    early.times.push_back(t);
    early.floats.push_back(1.0);
  }
  for (int64_t t : {500, 900}) {
    late.times.push_back(t);
    late.floats.push_back(2.0);
  }
  w.add(1, "v", early);
  w.add(7, "v", late);
  auto r = block_reader::open_bytes(w.finish());
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  const block_reader& b = **r;
  EXPECT_TRUE(b.overlaps(900, 1000));  // the last time, inclusive
  EXPECT_TRUE(b.overlaps(0, 100));     // the first time, inclusive
  EXPECT_TRUE(b.overlaps(300, 400));   // between columns: the block's range, not a column's
  EXPECT_TRUE(b.overlaps(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
  EXPECT_FALSE(b.overlaps(901, 2000));
  EXPECT_FALSE(b.overlaps(0, 99));
  auto empty = block_reader::open_bytes(block_writer().finish());
  ASSERT_TRUE(empty.ok()) << empty.error().to_string();
  EXPECT_FALSE((*empty)->overlaps(std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
}

TEST(block, adversarial_floats_round_trip_bit_identical) {
  std::vector<double> vals = {0.0,
                              -0.0,
                              std::numeric_limits<double>::infinity(),
                              -std::numeric_limits<double>::infinity(),
                              std::nan("1"),
                              std::numeric_limits<double>::denorm_min(),
                              std::numeric_limits<double>::max(),
                              -std::numeric_limits<double>::max(),
                              1e-300,
                              23.45};
  column c;
  c.type = model::field_type::float64;
  for (size_t k = 0; k < vals.size(); ++k) {
    c.times.push_back(static_cast<int64_t>(k) * 1000 - 5000);
    c.floats.push_back(vals[k]);
  }
  block_writer w;
  w.add(7, "x", c);
  auto r = block_reader::open_bytes(w.finish());
  ASSERT_TRUE(r.ok());
  column out;
  ASSERT_TRUE((*r)->read(*(*r)->find(7, "x"), out).ok());
  ASSERT_EQ(out.size(), vals.size());
  for (size_t k = 0; k < vals.size(); ++k) {
    uint64_t a, b;
    std::memcpy(&a, &vals[k], 8);
    std::memcpy(&b, &out.floats[k], 8);
    EXPECT_EQ(a, b) << k;
  }
}

TEST(block, compressed_index_reads_back) {
  std::string bytes = fleet_block(500);
  EXPECT_EQ(index_kind_of(bytes), 1);
  auto r = block_reader::open_bytes(bytes);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  ASSERT_EQ((*r)->entries().size(), 1000u);
  for (uint32_t id : {1u, 250u, 500u}) {
    const entry* e = (*r)->find(id, "load");
    ASSERT_NE(e, nullptr) << id;
    EXPECT_EQ(e->min_value, id * 0.5);
    EXPECT_EQ(e->max_value, id * 0.5 + 9);
    EXPECT_EQ(e->min_time, 1700000000000000000LL);
    column c;
    ASSERT_TRUE((*r)->read(*e, c).ok());
    EXPECT_EQ(c.floats[9], id * 0.5 + 9);
    column st;
    ASSERT_TRUE((*r)->read(*(*r)->find(id, "state"), st).ok());
    EXPECT_EQ(st.integers[4], 1);
  }
}

TEST(block, index_too_small_to_compress_is_stored_plain) {
  column c;
  c.type = model::field_type::boolean;
  c.times.push_back(5);
  c.booleans.push_back(true);
  block_writer w;
  w.add(3, "on", c);
  std::string bytes = w.finish();
  EXPECT_EQ(index_kind_of(bytes), 0);
  auto r = block_reader::open_bytes(bytes);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  column out;
  ASSERT_TRUE((*r)->read(*(*r)->find(3, "on"), out).ok());
  ASSERT_EQ(out.booleans.size(), 1u);
  EXPECT_EQ(out.booleans[0], 1);
}

TEST(block, every_truncation_and_flip_is_an_error_or_valid) {
  for (const std::string& bytes : {sample_block(), fleet_block(40)}) {
    for (size_t n = 0; n < bytes.size(); n += 7) {
      auto r = block_reader::open_bytes(bytes.substr(0, n));
      EXPECT_FALSE(r.ok());
    }
    std::mt19937 rng(1);
    for (int trial = 0; trial < 500; ++trial) {
      std::string b = bytes;
      b[rng() % b.size()] ^= static_cast<char>(1 + rng() % 255);
      auto r = block_reader::open_bytes(b);
      if (!r.ok()) continue;
      for (const auto& e : (*r)->entries()) {
        column c;
        (void)(*r)->read(e, c);  // must not crash; checksum catches data flips
      }
    }
  }
}

// A compressed index whose frame is damaged (the index checksum recomputed,
// as a bug in the writer would leave it) is refused, naming the index. The
// index checksum is what catches damage on disk.
TEST(block, damaged_compressed_index_is_an_error) {
  std::string bytes = fleet_block(40);
  ASSERT_EQ(index_kind_of(bytes), 1);
  uint64_t index_offset;
  uint32_t index_length;
  std::memcpy(&index_offset, bytes.data() + bytes.size() - 28, 8);
  std::memcpy(&index_length, bytes.data() + bytes.size() - 20, 4);
  // The zstd magic, after the kind byte and the size varint.
  size_t frame = index_offset + 1;
  while (static_cast<unsigned char>(bytes[frame]) & 0x80) ++frame;
  bytes[frame + 1] ^= 0x5a;
  uint32_t crc = crc32c(bytes.data() + index_offset, index_length);
  std::memcpy(bytes.data() + bytes.size() - 16, &crc, 4);
  auto r = block_reader::open_bytes(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("index: frame at byte"), std::string::npos) << r.error().message();
}

// Version 1 files (index never compressed) are still read.
TEST(block, saved_format_v1_sample_still_reads) {
  std::string path = std::string(LIANDU_SOURCE_DIR) + "/tests/formats/block_v1.blk";
  auto saved = fs::read_file(path);
  ASSERT_TRUE(saved.ok()) << "missing " << path;
  auto r = block_reader::open_bytes(*saved);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ((*r)->entries().size(), 5u);
  column c;
  ASSERT_TRUE((*r)->read(*(*r)->find(1, "i"), c).ok());
  EXPECT_EQ(c.integers[99], 99 * 3 - 50);
  column s;
  ASSERT_TRUE((*r)->read(*(*r)->find(2, "s"), s).ok());
  EXPECT_EQ(s.strings[1], "running");
}

// The saved sample of block format v2 (a compressed index). If this fails,
// the encoding changed: bump the format version and keep a reader for the old
// one, or regenerate the sample deliberately with LIANDU_REGENERATE_FORMATS=1.
TEST(block, saved_format_v2_sample_is_stable) {
  std::string path = std::string(LIANDU_SOURCE_DIR) + "/tests/formats/block_v2.blk";
  std::string now = fleet_block(40);
  if (std::getenv("LIANDU_REGENERATE_FORMATS") != nullptr) {
    ASSERT_TRUE(fs::write_file_atomic(path, now).ok());
  }
  auto saved = fs::read_file(path);
  ASSERT_TRUE(saved.ok()) << "missing " << path;
  EXPECT_EQ(*saved, now) << "block encoding changed";
  EXPECT_EQ(index_kind_of(*saved), 1);
  auto r = block_reader::open_bytes(*saved);
  ASSERT_TRUE(r.ok());
  column c;
  ASSERT_TRUE((*r)->read(*(*r)->find(40, "load"), c).ok());
  EXPECT_EQ(c.floats[0], 20.0);
}

}  // namespace
}  // namespace liandu::storage::block

namespace liandu::storage::block {
namespace {

TEST(block, long_column_is_split_into_entries) {
  column c;
  c.type = model::field_type::int64;
  size_t n = max_entry_values + max_entry_values / 2;
  for (size_t i = 0; i < n; ++i) {
    c.times.push_back(static_cast<int64_t>(i));
    c.integers.push_back(static_cast<int64_t>(i % 1000));
  }
  block_writer w;
  w.add(1, "v", c);
  auto r = block_reader::open_bytes(w.finish());
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  auto entries = (*r)->entries_of(1, "v");
  ASSERT_EQ(entries.size(), 2u);
  column out;
  for (const auto* e : entries) ASSERT_TRUE((*r)->read(*e, out).ok());
  EXPECT_EQ(out.size(), n);
  EXPECT_EQ(out.times.back(), static_cast<int64_t>(n - 1));
}

}  // namespace
}  // namespace liandu::storage::block
