#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "storage/fs/file_util.h"
#include "storage/testing/temp_dir.h"
#include "storage/wal/wal_reader.h"
#include "storage/wal/wal_writer.h"

namespace liandu::storage::wal {
namespace {

std::vector<std::string> replay_all(const std::string& dir, replay_report& report) {
  auto w = writer::open(dir, {});
  EXPECT_TRUE(w.ok());
  std::vector<std::string> got;
  EXPECT_TRUE((*w)->replay([&](record_type, std::string_view p) { got.emplace_back(p); }, report).ok());
  return got;
}

std::string only_segment(const std::string& dir) {
  auto names = fs::list_dir(dir);
  return fs::join(dir, names->front());
}

TEST(wal, round_trip_including_empty_and_huge_records) {
  testing::temp_dir tmp;
  std::vector<std::string> records = {"", "a", std::string(5 << 20, 'x'), "last"};
  {
    auto w = writer::open(tmp.path(), {});
    ASSERT_TRUE(w.ok());
    replay_report r;
    ASSERT_TRUE((*w)->replay([](record_type, std::string_view) {}, r).ok());
    uint64_t seq = 0;
    for (const auto& rec : records) seq = (*w)->append(record_type::write, rec);
    (*w)->sync(seq);
  }
  replay_report report;
  auto got = replay_all(tmp.path(), report);
  EXPECT_EQ(got, records);
  EXPECT_FALSE(report.torn_tail);
  EXPECT_EQ(report.corrupt_records, 0u);
}

TEST(wal, torn_tail_is_dropped_and_earlier_records_kept) {
  testing::temp_dir tmp;
  {
    auto w = writer::open(tmp.path(), {});
    replay_report r;
    ASSERT_TRUE((*w)->replay([](record_type, std::string_view) {}, r).ok());
    uint64_t seq = 0;
    for (int i = 0; i < 10; ++i) seq = (*w)->append(record_type::write, "record-" + std::to_string(i));
    (*w)->sync(seq);
  }
  std::string seg = only_segment(tmp.path());
  auto data = fs::read_file(seg);
  // Cut the last record in half, as a crash during append would.
  std::filesystem::resize_file(seg, data->size() - 4);
  replay_report report;
  auto got = replay_all(tmp.path(), report);
  ASSERT_EQ(got.size(), 9u);
  EXPECT_EQ(got.back(), "record-8");
  EXPECT_TRUE(report.torn_tail);
  EXPECT_FALSE(report.messages.empty());
  // New records after the truncated tail replay cleanly.
  {
    auto w = writer::open(tmp.path(), {});
    replay_report r;
    ASSERT_TRUE((*w)->replay([](record_type, std::string_view) {}, r).ok());
    EXPECT_FALSE(r.torn_tail) << "the torn tail was truncated by the previous replay";
    (*w)->sync((*w)->append(record_type::write, "after"));
  }
  replay_report again;
  got = replay_all(tmp.path(), again);
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(got.back(), "after");
}

TEST(wal, flipped_byte_in_earlier_record_skips_only_that_record) {
  testing::temp_dir tmp;
  {
    auto w = writer::open(tmp.path(), {});
    replay_report r;
    ASSERT_TRUE((*w)->replay([](record_type, std::string_view) {}, r).ok());
    uint64_t seq = 0;
    for (int i = 0; i < 5; ++i) seq = (*w)->append(record_type::write, "payload-number-" + std::to_string(i));
    (*w)->sync(seq);
  }
  std::string seg = only_segment(tmp.path());
  auto data = fs::read_file(seg);
  std::string bytes = *data;
  size_t rec_len = 9 + std::string("payload-number-0").size();
  bytes[rec_len + 12] ^= 0x40;  // inside record 1's payload
  ASSERT_TRUE(fs::write_file_atomic(seg, bytes).ok());
  replay_report report;
  auto got = replay_all(tmp.path(), report);
  std::vector<std::string> want = {"payload-number-0", "payload-number-2", "payload-number-3",
                                   "payload-number-4"};
  EXPECT_EQ(got, want);
  EXPECT_EQ(report.corrupt_records, 1u);
  EXPECT_FALSE(report.torn_tail);
}

TEST(wal, random_corruption_never_crashes_and_keeps_a_prefix) {
  std::mt19937_64 rng(42);
  std::string seg;
  std::vector<std::string> payloads;
  for (int i = 0; i < 50; ++i) {
    std::string p(rng() % 200, 'a' + i % 26);
    payloads.push_back(p);
  }
  testing::temp_dir tmp;
  {
    auto w = writer::open(tmp.path(), {});
    replay_report r;
    ASSERT_TRUE((*w)->replay([](record_type, std::string_view) {}, r).ok());
    uint64_t seq = 0;
    for (const auto& p : payloads) seq = (*w)->append(record_type::write, p);
    (*w)->sync(seq);
  }
  auto data = fs::read_file(only_segment(tmp.path()));
  for (int trial = 0; trial < 200; ++trial) {
    std::string bytes = *data;
    size_t pos = rng() % bytes.size();
    bytes[pos] ^= static_cast<char>(1 + rng() % 255);
    std::vector<std::string> got;
    replay_report r = read_segment(bytes, "t", [&](record_type, std::string_view p) { got.emplace_back(p); });
    EXPECT_GE(got.size(), payloads.size() - 2);
    // Every record returned is one that was written, in order.
    size_t j = 0;
    for (const auto& g : got) {
      while (j < payloads.size() && payloads[j] != g) ++j;
      ASSERT_LT(j, payloads.size());
      ++j;
    }
  }
}

// The pipelined reader (checksums on a helper thread) must give exactly
// read_segment's records and report: many chunks' worth of records, a
// corrupt one in the middle and a torn tail.
TEST(wal, pipelined_read_matches_read_segment) {
  std::mt19937_64 rng(7);
  testing::temp_dir tmp;
  {
    auto w = writer::open(tmp.path(), {});
    replay_report r;
    ASSERT_TRUE((*w)->replay([](record_type, std::string_view) {}, r).ok());
    uint64_t seq = 0;
    for (int i = 0; i < 2000; ++i) {
      seq = (*w)->append(i % 7 == 0 ? record_type::delete_ : record_type::write,
                         std::string(rng() % 100, static_cast<char>('a' + i % 26)) + std::to_string(i));
    }
    (*w)->sync(seq);
  }
  auto data = fs::read_file(only_segment(tmp.path()));
  ASSERT_TRUE(data.ok());
  for (int trial = 0; trial < 20; ++trial) {
    std::string bytes = *data;
    if (trial > 0) bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
    if (trial % 2 == 1) bytes.resize(bytes.size() - 1 - rng() % 50);
    std::vector<std::pair<record_type, std::string>> want, got;
    replay_report a =
        read_segment(bytes, "t", [&](record_type t, std::string_view p) { want.emplace_back(t, p); });
    replay_report b = read_segment_pipelined(
        bytes, "t", [&](record_type t, std::string_view p) { got.emplace_back(t, p); });
    ASSERT_EQ(got, want) << "trial " << trial;
    EXPECT_GE(got.size(), trial == 0 ? 2000u : 1990u);
    EXPECT_EQ(b.records, a.records);
    EXPECT_EQ(b.corrupt_records, a.corrupt_records);
    EXPECT_EQ(b.skipped_bytes, a.skipped_bytes);
    EXPECT_EQ(b.torn_tail, a.torn_tail);
    EXPECT_EQ(b.valid_end, a.valid_end);
    EXPECT_EQ(b.messages, a.messages);
  }
}

// 8 threads append 200 records each, every one synced on its own: all are
// replayed once; concurrent syncs share fsyncs.
void write_from_threads(bool borrowed) {
  testing::temp_dir tmp;
  {
    auto w = writer::open(tmp.path(), {});
    replay_report r;
    ASSERT_TRUE((*w)->replay([](record_type, std::string_view) {}, r).ok());
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 200; ++i) {
          const std::string payload = std::to_string(t * 1000 + i);
          (*w)->sync(borrowed ? (*w)->append_borrowed(record_type::write, payload)
                              : (*w)->append(record_type::write, payload));
        }
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_LE((*w)->fsync_count(), 1600u);
  }
  replay_report report;
  auto got = replay_all(tmp.path(), report);
  ASSERT_EQ(got.size(), 1600u);
  std::multiset<std::string> want, seen(got.begin(), got.end());
  for (int t = 0; t < 8; ++t) {
    for (int i = 0; i < 200; ++i) want.insert(std::to_string(t * 1000 + i));
  }
  EXPECT_EQ(seen, want);  // each record once: a reused buffer carries nothing over
}

TEST(wal, group_commit_from_many_threads) { write_from_threads(false); }

TEST(wal, borrowed_records_from_many_threads) { write_from_threads(true); }

// The writer reuses the buffer of the group it wrote last for the next
// group; every record must still be written once, in order, whatever the
// sizes (one record larger than the buffer it keeps).
TEST(wal, successive_groups_write_each_record_once_in_order) {
  testing::temp_dir tmp;
  std::vector<std::string> records;
  {
    auto w = writer::open(tmp.path(), {});
    replay_report r;
    ASSERT_TRUE((*w)->replay([](record_type, std::string_view) {}, r).ok());
    std::mt19937 rng(3);
    for (int g = 0; g < 40; ++g) {
      uint64_t seq = 0;
      for (int i = 0, n = 1 + static_cast<int>(rng() % 5); i < n; ++i) {
        size_t len = g == 20 && i == 0 ? (17u << 20) : rng() % 3000;
        records.push_back(std::to_string(g) + "/" + std::to_string(i) + std::string(len, 'a' + g % 26));
        seq = (*w)->append(record_type::write, records.back());
      }
      (*w)->sync(seq);
    }
  }
  replay_report report;
  auto got = replay_all(tmp.path(), report);
  EXPECT_EQ(got == records, true) << got.size() << " records replayed, " << records.size() << " written";
}

// Borrowed payloads are written from the caller's memory, in place among
// copied records: groups mixing both, empty and 17 MiB borrowed payloads, and
// one group of more records than one writev takes (64 pieces) replay as
// written, in order, once each.
TEST(wal, borrowed_and_copied_records_replay_in_order) {
  testing::temp_dir tmp;
  std::vector<std::string> records;
  {
    auto w = writer::open(tmp.path(), {});
    replay_report r;
    ASSERT_TRUE((*w)->replay([](record_type, std::string_view) {}, r).ok());
    std::mt19937 rng(7);
    for (int g = 0; g < 30; ++g) {
      // Reserved so the borrowed strings stay put until the sync.
      const size_t n = g == 10 ? 1500 : 1 + rng() % 6;
      std::vector<std::string> group;
      group.reserve(n);
      uint64_t seq = 0;
      for (size_t i = 0; i < n; ++i) {
        size_t len = g == 20 && i == 0 ? (17u << 20) : (rng() % 4 == 0 ? 0 : rng() % 3000);
        group.push_back(len == 0
                            ? std::string()
                            : std::to_string(g) + "/" + std::to_string(i) + std::string(len, 'a' + g % 26));
        records.push_back(group.back());
        seq = rng() % 3 == 0 ? (*w)->append(record_type::write, group.back())
                             : (*w)->append_borrowed(record_type::write, group.back());
      }
      (*w)->sync(seq);
    }
  }
  replay_report report;
  auto got = replay_all(tmp.path(), report);
  EXPECT_EQ(report.corrupt_records, 0u);
  ASSERT_EQ(got.size(), records.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], records[i]) << "record " << i;
}

TEST(wal, segments_rotate_and_are_removed) {
  testing::temp_dir tmp;
  auto w = writer::open(tmp.path(), {.segment_bytes = 1024});
  replay_report r;
  ASSERT_TRUE((*w)->replay([](record_type, std::string_view) {}, r).ok());
  for (int i = 0; i < 100; ++i) (*w)->sync((*w)->append(record_type::write, std::string(100, 'z')));
  EXPECT_GT((*w)->segment_count(), 5u);
  uint64_t last = (*w)->rotate();
  ASSERT_TRUE((*w)->remove_up_to(last).ok());
  EXPECT_EQ((*w)->segment_count(), 1u);
}

}  // namespace
}  // namespace liandu::storage::wal
