// Saved samples of the WAL and series-log formats (version 1). If a test here
// fails, an encoding changed: bump the format version and keep a reader for
// the old one, or regenerate deliberately with LIANDU_REGENERATE_FORMATS=1.
#include <gtest/gtest.h>

#include <cstdlib>

#include "storage/fs/file_util.h"
#include "storage/index/series_index.h"
#include "storage/testing/temp_dir.h"
#include "storage/wal/wal_reader.h"
#include "storage/wal/wal_writer.h"
#include "storage/write_batch.h"

namespace liandu::storage {
namespace {

std::string sample_path(const char* name) { return std::string(LIANDU_SOURCE_DIR) + "/tests/formats/" + name; }

void compare_or_regenerate(const char* name, const std::string& now) {
  if (std::getenv("LIANDU_REGENERATE_FORMATS") != nullptr) {
    ASSERT_TRUE(fs::write_file_atomic(sample_path(name), now).ok());
  }
  auto saved = fs::read_file(sample_path(name));
  ASSERT_TRUE(saved.ok()) << "missing " << sample_path(name);
  EXPECT_EQ(*saved, now) << name << ": encoding changed";
}

write_batch sample_batch() {
  write_batch b("plant", "autogen");
  b.add(model::point{"machine",
                     {{"line", "l1"}, {"site", "s 1"}},
                     {{"temp", 61.25}, {"count", int64_t{-3}}, {"u", uint64_t{7}}, {"ok", true},
                      {"state", std::string("running")}},
                     1700000000000000000});
  b.add(model::point{"m", {}, {{"v", 1.0}}, -1});
  return b;
}

TEST(format_samples, wal_v1) {
  testing::temp_dir tmp;
  {
    auto w = wal::writer::open(tmp.path(), {});
    ASSERT_TRUE(w.ok());
    wal::replay_report r;
    ASSERT_TRUE((*w)->replay([](wal::record_type, std::string_view) {}, r).ok());
    (*w)->append(wal::record_type::write, sample_batch().data());
    (*w)->sync((*w)->append(wal::record_type::write, ""));
  }
  auto now = fs::read_file(tmp.path() + "/00000000000000000001.wal");
  ASSERT_TRUE(now.ok());
  compare_or_regenerate("wal_v1.wal", *now);
  // And the saved bytes still decode to the sample batch.
  auto saved = fs::read_file(sample_path("wal_v1.wal"));
  ASSERT_TRUE(saved.ok());
  std::vector<std::string> payloads;
  wal::read_segment(*saved, "sample", [&](wal::record_type, std::string_view p) { payloads.emplace_back(p); });
  ASSERT_EQ(payloads.size(), 2u);
  batch_reader br(payloads[0]);
  batch_point p;
  ASSERT_TRUE(br.next(p));
  EXPECT_EQ(p.series_key, "machine,line=l1,site=s\\ 1");
  EXPECT_EQ(std::get<std::string_view>(p.fields[4].value), "running");
}

TEST(format_samples, series_log_v1) {
  testing::temp_dir tmp;
  {
    index::series_index idx;
    ASSERT_TRUE(idx.open(tmp.path()).ok());
    idx.find_or_create("machine,line=l1,site=s1");
    uint32_t b = idx.find_or_create("machine,line=l2,site=s1");
    idx.drop(b);
    ASSERT_TRUE(idx.write_log(idx.take_pending_log()).ok());
  }
  auto now = fs::read_file(tmp.path() + "/series.log");
  ASSERT_TRUE(now.ok());
  compare_or_regenerate("series_log_v1.log", *now);
}

}  // namespace
}  // namespace liandu::storage
