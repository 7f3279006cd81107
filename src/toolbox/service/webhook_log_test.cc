#include "toolbox/service/webhook_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "storage/fs/file_util.h"
#include "storage/testing/temp_dir.h"
#include "toolbox/rules/webhook_delivery.h"

namespace liandu::toolbox {
namespace {

struct fixture {
  storage::testing::temp_dir tmp;
  std::string path = storage::fs::join(tmp.path(), "webhooks.log");

  std::unique_ptr<webhook_log> open(webhook_log::options o = {}) {
    auto log = webhook_log::open(path, o);
    EXPECT_TRUE(log.ok()) << log.error().message();
    return log.ok() ? std::move(*log) : nullptr;
  }
  uint64_t append(webhook_log& log, std::string_view target, std::string_view body) {
    auto id = log.append(target, body, rules::new_delivery_id());
    EXPECT_TRUE(id.ok()) << id.error().message();
    return id.ok() ? *id : 0;
  }
  std::string bytes() {
    auto data = storage::fs::read_file(path);
    EXPECT_TRUE(data.ok());
    return data.ok() ? *data : "";
  }
  void rewrite(const std::string& data) { ASSERT_TRUE(storage::fs::write_file_atomic(path, data).ok()); }
};

// (id, target, body) of what open() restored, in order.
using triple = std::tuple<uint64_t, std::string, std::string>;
std::vector<triple> restored(const webhook_log& log) {
  std::vector<triple> out;
  for (const auto& d : log.restored()) out.emplace_back(d.id, d.target, d.body);
  return out;
}

TEST(webhook_log, roundtrip_restores_what_has_no_end) {
  fixture f;
  {
    auto log = f.open();
    EXPECT_TRUE(log->restored().empty());
    EXPECT_EQ(f.append(*log, "plant/ops", R"({"state":"firing"})"), 1u);
    EXPECT_EQ(f.append(*log, "plant/audit", "a"), 2u);
    EXPECT_EQ(f.append(*log, "plant/ops", R"({"state":"resolved"})"), 3u);
    EXPECT_TRUE(log->end(2, webhook_log::end_kind::delivered).ok());
    EXPECT_TRUE(log->end(2, webhook_log::end_kind::delivered).ok());  // ended already: ignored
    EXPECT_EQ(log->stats().pending, 2u);
  }
  {
    auto log = f.open();
    EXPECT_EQ(restored(*log), (std::vector<triple>{{1, "plant/ops", R"({"state":"firing"})"},
                                                   {3, "plant/ops", R"({"state":"resolved"})"}}));
    EXPECT_TRUE(log->messages().empty());
    // The end record was dropped by rewriting the file at open.
    EXPECT_EQ(log->stats().compactions, 1u);
    EXPECT_EQ(f.append(*log, "plant/ops", "later"), 4u);
  }
  auto log = f.open();
  EXPECT_EQ(restored(*log).size(), 3u);
  EXPECT_EQ(std::get<0>(restored(*log).back()), 4u);
  // Nothing but pending deliveries: the file is kept as it is.
  EXPECT_EQ(log->stats().compactions, 0u);
}

TEST(webhook_log, torn_tail_is_dropped_and_earlier_records_kept) {
  fixture f;
  {
    auto log = f.open();
    f.append(*log, "db/a", "first");
    f.append(*log, "db/a", "second, torn by a crash during its append");
  }
  std::string data = f.bytes();
  f.rewrite(data.substr(0, data.size() - 5));
  {
    auto log = f.open();
    EXPECT_EQ(restored(*log), (std::vector<triple>{{1, "db/a", "first"}}));
    ASSERT_EQ(log->messages().size(), 1u);
    EXPECT_NE(log->messages()[0].find("torn or corrupt tail at offset"), std::string::npos)
        << log->messages()[0];
    EXPECT_EQ(f.append(*log, "db/a", "third"), 2u);
  }
  auto log = f.open();
  EXPECT_EQ(restored(*log), (std::vector<triple>{{1, "db/a", "first"}, {2, "db/a", "third"}}));
  EXPECT_TRUE(log->messages().empty());
}

TEST(webhook_log, flipped_byte_drops_only_its_record) {
  fixture f;
  uint64_t second_at = 0;
  {
    auto log = f.open();
    f.append(*log, "db/a", "one");
    second_at = log->stats().file_bytes;
    f.append(*log, "db/a", "two");
    f.append(*log, "db/b", "three");
    f.append(*log, "db/a", "four");
  }
  std::string data = f.bytes();
  data[second_at + 12] ^= 0x20;  // in the payload of "two"'s record
  f.rewrite(data);
  {
    auto log = f.open();
    EXPECT_EQ(restored(*log),
              (std::vector<triple>{{1, "db/a", "one"}, {3, "db/b", "three"}, {4, "db/a", "four"}}));
    ASSERT_EQ(log->messages().size(), 1u);
    EXPECT_NE(log->messages()[0].find("corrupt record at offset " + std::to_string(second_at)),
              std::string::npos)
        << log->messages()[0];
    EXPECT_EQ(f.append(*log, "db/a", "five"), 5u);
  }
  // The damaged bytes were rewritten away at open.
  auto log = f.open();
  EXPECT_TRUE(log->messages().empty());
  EXPECT_EQ(restored(*log).size(), 4u);
}

TEST(webhook_log, compaction_keeps_only_pending_with_their_attempts) {
  fixture f;
  const std::string body(100, 'x');
  std::vector<uint64_t> kept;
  {
    auto log = f.open({.compact_bytes = 2048});
    // The last 40 all end, so a compaction follows the last attempted().
    for (int i = 0; i < 240; ++i) {
      uint64_t id = f.append(*log, i % 2 ? "db/a" : "db/b", body + std::to_string(i));
      if (i % 20 == 0 && i < 200) {
        kept.push_back(id);
        EXPECT_TRUE(log->attempted(id, 3).ok());
      } else {
        EXPECT_TRUE(log->end(id, webhook_log::end_kind::delivered).ok());
      }
      // Bounded: at most the bound, or twice the pending records, plus one
      // record (at most 170 bytes: 103 of body, 37 of delivery id).
      EXPECT_LE(log->stats().file_bytes, std::max<uint64_t>(2048, 2 * 170 * kept.size()) + 170);
    }
    EXPECT_GE(log->stats().compactions, 5u);
  }
  auto log = f.open();
  std::vector<uint64_t> ids;
  for (const auto& d : log->restored()) {
    ids.push_back(d.id);
    EXPECT_EQ(d.body.substr(0, 100), body);
    EXPECT_EQ(d.attempts, 3) << d.id;  // noted by attempted(), written by compaction
  }
  EXPECT_EQ(ids, kept);
  EXPECT_TRUE(log->messages().empty());
}

// "A restored delivery may get more attempts than it had left": the count
// was written only by compaction, so a crash before one forgot it.
TEST(webhook_log, failed_attempts_survive_a_crash_before_any_compaction) {
  fixture f;
  {
    auto log = f.open();
    uint64_t id = f.append(*log, "plant/ops", "a");
    f.append(*log, "plant/ops", "b");
    EXPECT_TRUE(log->attempted(id, 1).ok());
    EXPECT_TRUE(log->attempted(id, 2).ok());
    EXPECT_EQ(log->stats().compactions, 0u);
  }  // no sync(): the records are written, as a killed process leaves them
  auto log = f.open();
  ASSERT_EQ(log->restored().size(), 2u);
  EXPECT_EQ(log->restored()[0].attempts, 2);
  EXPECT_EQ(log->restored()[1].attempts, 0);
  EXPECT_EQ(log->stats().compactions, 1u);  // the attempt records are folded in at open
  auto again = f.open();
  EXPECT_EQ(again->restored()[0].attempts, 2);
  EXPECT_EQ(again->stats().compactions, 0u);
}

// Restored into the delivery queue, each target's deliveries go out in the
// order they were queued before the restart, ahead of new ones, a failed one
// holding back those behind it.
TEST(webhook_log, restored_deliveries_keep_their_order_per_target) {
  fixture f;
  {
    auto log = f.open();
    for (const char* t : {"db/a", "db/b", "db/a", "db/a", "db/b", "db/a"}) f.append(*log, t, t);
    EXPECT_TRUE(log->end(3, webhook_log::end_kind::delivered).ok());
  }
  auto log = f.open();
  std::map<std::string, std::vector<std::string>> got;
  bool fail_once = true;
  rules::webhook_delivery d([&](const std::string& target, const std::string& body, const std::string&) {
    got[target].push_back(body);
    if (body == "db/b#2" && std::exchange(fail_once, false)) return error(errc::io_error, "down");
    return status();
  });
  for (const auto& r : log->restored())
    ASSERT_TRUE(
        d.restore(r.target, r.body + "#" + std::to_string(r.id), r.id, r.delivery_id, r.attempts, 0).ok());
  ASSERT_TRUE(d.enqueue("db/a", "db/a#new", 0, 7).ok());
  ASSERT_TRUE(d.enqueue("db/b", "db/b#new", 0, 8).ok());
  std::vector<uint64_t> delivered;
  for (int64_t now = 0; now <= 5'000'000'000; now += 500'000'000) {
    while (auto a = d.take(now)) {
      if (d.complete(*a, d.send(*a), now) == rules::webhook_delivery::outcome::delivered)
        delivered.push_back(a->id);
    }
  }
  EXPECT_EQ(got["db/a"], (std::vector<std::string>{"db/a#1", "db/a#4", "db/a#6", "db/a#new"}));
  EXPECT_EQ(got["db/b"], (std::vector<std::string>{"db/b#2", "db/b#2", "db/b#5", "db/b#new"}));
  std::sort(delivered.begin(), delivered.end());
  EXPECT_EQ(delivered, (std::vector<uint64_t>{1, 2, 4, 5, 6, 7, 8}));
  EXPECT_EQ(d.stats().restored, 5u);
  EXPECT_EQ(d.stats().enqueued, 2u);
}

// Each delivery's id is written with it: the same after attempts, crashes
// (no sync, no end), compactions and restarts, and different for each
// delivery, before and after a restart that counts log ids from 1 again.
TEST(webhook_log, delivery_id_is_kept_across_restarts_and_compaction) {
  fixture f;
  std::vector<std::string> ids;  // the delivery ids given, in order
  auto append = [&](webhook_log& log, std::string_view body) {
    ids.push_back(rules::new_delivery_id());
    auto id = log.append("plant/ops", body, ids.back());
    EXPECT_TRUE(id.ok());
    return id.ok() ? *id : 0;
  };
  {
    auto log = f.open();
    EXPECT_FALSE(log->append("plant/ops", "x", "").ok());  // every delivery has one
    append(*log, "a");
    uint64_t b = append(*log, "b");
    append(*log, "c");
    EXPECT_TRUE(log->end(1, webhook_log::end_kind::delivered).ok());
    EXPECT_TRUE(log->attempted(b, 1).ok());
  }  // as a kill leaves it
  auto delivery_ids = [](const webhook_log& log) {
    std::vector<std::string> out;
    for (const auto& d : log.restored()) out.push_back(d.delivery_id);
    return out;
  };
  {
    auto log = f.open();
    EXPECT_EQ(log->stats().compactions, 1u);
    EXPECT_EQ(delivery_ids(*log), (std::vector<std::string>{ids[1], ids[2]}));
    EXPECT_TRUE(log->end(2, webhook_log::end_kind::delivered).ok());
    EXPECT_TRUE(log->end(3, webhook_log::end_kind::given_up).ok());
  }
  EXPECT_TRUE(f.open()->restored().empty());  // rewritten empty
  {
    // Nothing pending: log ids count from 1 again, delivery ids do not repeat.
    auto log = f.open();
    EXPECT_EQ(append(*log, "d"), 1u);
  }
  auto log = f.open();
  EXPECT_EQ(delivery_ids(*log), (std::vector<std::string>{ids[3]}));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
}

// The saved sample of version 1 (enqueue records without a delivery id,
// written until 2026-12-06) still reads back: each pending delivery gets a
// delivery id at open, which rewrites the file so that it keeps it.
TEST(webhook_log, format_sample_v1_reads_and_gets_delivery_ids_it_keeps) {
  const std::string sample = std::string(LIANDU_SOURCE_DIR) + "/tests/formats/webhook_log_v1.log";
  auto saved = storage::fs::read_file(sample);
  ASSERT_TRUE(saved.ok()) << "missing " << sample;
  fixture f;
  f.rewrite(*saved);
  std::string delivery_id;
  {
    auto log = f.open();
    EXPECT_EQ(
        restored(*log),
        (std::vector<triple>{{2, "plant/audit", R"({"rule_id":"oven-hot","state":"firing","value":91})"}}));
    EXPECT_EQ(log->restored()[0].attempts, 1);
    EXPECT_TRUE(log->messages().empty());
    delivery_id = log->restored()[0].delivery_id;
    EXPECT_EQ(delivery_id.size(), 36u) << delivery_id;
    EXPECT_EQ(log->stats().compactions, 1u);
  }
  auto log = f.open();
  ASSERT_EQ(log->restored().size(), 1u);
  EXPECT_EQ(log->restored()[0].delivery_id, delivery_id);
  EXPECT_EQ(log->restored()[0].attempts, 1);
  EXPECT_EQ(log->stats().compactions, 0u);
  EXPECT_EQ(f.append(*log, "plant/ops", "new"), 3u);  // after the largest id in the file
}

// The saved sample of the format (version 2). If this fails, the encoding
// changed: bump the version and keep a reader for the old one, or
// regenerate deliberately with LIANDU_REGENERATE_FORMATS=1.
TEST(webhook_log, format_sample_v2) {
  const std::string sample = std::string(LIANDU_SOURCE_DIR) + "/tests/formats/webhook_log_v2.log";
  const std::string firing = R"({"rule_id":"oven-hot","state":"firing","value":91})";
  fixture f;
  {
    auto log = f.open();
    EXPECT_TRUE(log->append("plant/ops", firing, "0b7e3c52-6f0a-4d1e-9a43-2c5d8e1f7a60").ok());
    EXPECT_TRUE(log->append("plant/audit", firing, "5f1c9d24-8e3b-4a7f-b6d0-91e2a4c3f858").ok());
    EXPECT_TRUE(log->end(1, webhook_log::end_kind::delivered).ok());
    EXPECT_TRUE(log->append("plant/ops", R"({"rule_id":"oven-hot","state":"resolved","value":70})",
                            "c93a0e7b-2d4f-4c61-8b15-7e0f3a9d2b46")
                    .ok());
    EXPECT_TRUE(log->end(3, webhook_log::end_kind::given_up).ok());
    EXPECT_TRUE(log->attempted(2, 1).ok());
  }
  std::string now = f.bytes();
  if (std::getenv("LIANDU_REGENERATE_FORMATS") != nullptr) {
    ASSERT_TRUE(storage::fs::write_file_atomic(sample, now).ok());
  }
  auto saved = storage::fs::read_file(sample);
  ASSERT_TRUE(saved.ok()) << "missing " << sample;
  EXPECT_EQ(*saved, now) << "webhook log: encoding changed";
  // And the saved bytes still read back.
  f.rewrite(*saved);
  auto log = f.open();
  EXPECT_EQ(restored(*log), (std::vector<triple>{{2, "plant/audit", firing}}));
  EXPECT_EQ(log->restored()[0].attempts, 1);
  EXPECT_EQ(log->restored()[0].delivery_id, "5f1c9d24-8e3b-4a7f-b6d0-91e2a4c3f858");
  EXPECT_TRUE(log->messages().empty());
}

}  // namespace
}  // namespace liandu::toolbox
