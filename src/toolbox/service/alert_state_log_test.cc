#include "toolbox/service/alert_state_log.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <utility>

#include "storage/fs/file_util.h"
#include "storage/testing/temp_dir.h"
#include "toolbox/rules/engine.h"

namespace liandu::toolbox {
namespace {

using kind = alert_state_log::record_kind;

struct fixture {
  storage::testing::temp_dir tmp;
  std::string path = storage::fs::join(tmp.path(), "plant.state.log");

  std::unique_ptr<alert_state_log> open() {
    auto log = alert_state_log::open(path);
    EXPECT_TRUE(log.ok()) << log.error().message();
    return log.ok() ? std::move(*log) : nullptr;
  }
  std::string bytes() {
    auto data = storage::fs::read_file(path);
    EXPECT_TRUE(data.ok());
    return data.ok() ? *data : "";
  }
  void replace(const std::string& data) { ASSERT_TRUE(storage::fs::write_file_atomic(path, data).ok()); }
  // A state and two changes: {"s":1}, {"c":2}, {"c":3}.
  void write_three() {
    auto log = open();
    EXPECT_TRUE(log->rewrite("{\"s\":1}").ok());
    EXPECT_TRUE(log->append("{\"c\":2}").ok());
    EXPECT_TRUE(log->append("{\"c\":3}").ok());
  }
};

std::vector<std::pair<kind, std::string>> records(const alert_state_log& log) {
  std::vector<std::pair<kind, std::string>> out;
  for (const auto& r : log.records()) out.emplace_back(r.kind, r.json);
  return out;
}

TEST(alert_state_log, appended_changes_follow_the_state_until_a_rewrite) {
  fixture f;
  EXPECT_TRUE(f.open()->records().empty());
  f.write_three();
  {
    auto log = f.open();
    EXPECT_EQ(records(*log),
              (std::vector<std::pair<kind, std::string>>{
                  {kind::state, "{\"s\":1}"}, {kind::change, "{\"c\":2}"}, {kind::change, "{\"c\":3}"}}));
    EXPECT_TRUE(log->messages().empty());
    EXPECT_TRUE(log->rewrite("{\"s\":4}").ok());
    EXPECT_TRUE(log->append("{\"c\":5}").ok());  // appends to the new file
  }
  auto log = f.open();
  EXPECT_EQ(records(*log), (std::vector<std::pair<kind, std::string>>{{kind::state, "{\"s\":4}"},
                                                                      {kind::change, "{\"c\":5}"}}));
}

TEST(alert_state_log, torn_tail_is_dropped_and_earlier_records_kept) {
  fixture f;
  f.write_three();
  std::string data = f.bytes();
  f.replace(data.substr(0, data.size() - 3));  // a crash in the middle of the last append
  auto log = f.open();
  EXPECT_EQ(records(*log), (std::vector<std::pair<kind, std::string>>{{kind::state, "{\"s\":1}"},
                                                                      {kind::change, "{\"c\":2}"}}));
  EXPECT_FALSE(log->messages().empty());
}

TEST(alert_state_log, damaged_record_is_dropped_and_the_ones_after_it_kept) {
  fixture f;
  f.write_three();
  std::string data = f.bytes();
  data[data.find("{\"c\":2}") + 2] ^= 0x20;
  f.replace(data);
  auto log = f.open();
  EXPECT_EQ(records(*log), (std::vector<std::pair<kind, std::string>>{{kind::state, "{\"s\":1}"},
                                                                      {kind::change, "{\"c\":3}"}}));
  ASSERT_EQ(log->messages().size(), 1u);
  EXPECT_NE(log->messages()[0].find("corrupt"), std::string::npos) << log->messages()[0];
}

// The saved sample of the format (version 1): an engine's whole state with
// an alert pending, then the change that made it fire. If this fails, the
// encoding (the framing or the engine's state JSON) changed: bump the
// version and keep a reader for the old one, or regenerate deliberately with
// LIANDU_REGENERATE_FORMATS=1.
TEST(alert_state_log, format_sample_v1) {
  const std::string sample = std::string(LIANDU_SOURCE_DIR) + "/tests/formats/alert_state_log_v1.log";
  const char* rule = R"({"id":"oven-hot","measurement":"oven","group_by":["machine"],"for":"1m",
      "when":{"type":"threshold","field":"temp","op":">","value":80,"clear":75}})";
  std::vector<rules::alert_event> events;
  rules::engine e([&](const rules::alert_event& ev) { events.push_back(ev); });
  auto parsed = rules::parse_rule(rule);
  ASSERT_TRUE(parsed.ok());
  ASSERT_TRUE(e.add_rule(*parsed).ok());
  constexpr int64_t s = 1'000'000'000;
  e.process(model::point{"oven", {{"machine", "m1"}}, {{"temp", 91.0}}, 1000 * s});
  fixture f;
  {
    auto log = f.open();
    EXPECT_TRUE(log->rewrite(e.serialize_state()).ok());
    events.clear();
    e.process(model::point{"oven", {{"machine", "m1"}}, {{"temp", 92.5}}, 1060 * s});
    ASSERT_EQ(events.size(), 1u);
    EXPECT_TRUE(log->append(e.serialize_state_of(events)).ok());
  }
  std::string now = f.bytes();
  if (std::getenv("LIANDU_REGENERATE_FORMATS") != nullptr) {
    ASSERT_TRUE(storage::fs::write_file_atomic(sample, now).ok());
  }
  auto saved = storage::fs::read_file(sample);
  ASSERT_TRUE(saved.ok()) << "missing " << sample;
  EXPECT_EQ(*saved, now) << "alert state log: encoding changed";
  // And the saved bytes still restore the firing alert.
  f.replace(*saved);
  auto log = f.open();
  ASSERT_EQ(log->records().size(), 2u);
  EXPECT_TRUE(log->messages().empty());
  rules::engine restored(nullptr);
  ASSERT_TRUE(restored.add_rule(*parsed).ok());
  for (const auto& r : log->records()) ASSERT_TRUE(restored.deserialize_state(r.json).ok());
  auto alerts = restored.alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].state, rules::alert_state::firing);
  EXPECT_EQ(alerts[0].alert_id, 1u);
  EXPECT_EQ(alerts[0].started, 1000 * s);
  EXPECT_EQ(alerts[0].value, 92.5);
}

}  // namespace
}  // namespace liandu::toolbox
