#include "ingest/topic_mapping.h"

#include <gtest/gtest.h>

namespace liandu::ingest {

TEST(topic_mapping, match_patterns) {
  std::vector<std::pair<std::string, std::string>> caps;
  EXPECT_TRUE(match_topic("factory/{site}/{line}/telemetry", "factory/s1/l2/telemetry", caps));
  ASSERT_EQ(caps.size(), 2u);
  EXPECT_EQ(caps[0], (std::pair<std::string, std::string>{"site", "s1"}));
  EXPECT_FALSE(match_topic("factory/{site}/telemetry", "factory/s1/l2/telemetry", caps));
  EXPECT_TRUE(match_topic("factory/+/#", "factory/s1/l2/telemetry", caps));
  EXPECT_TRUE(match_topic("factory/#", "factory", caps));
  EXPECT_FALSE(match_topic("#", "$SYS/broker", caps));
  EXPECT_FALSE(match_topic("{x}/a", "/a", caps)) << "an empty level does not capture";
}

TEST(topic_mapping, json_payload_with_paths_and_time) {
  auto r = parse_mapping_rule(R"({"name":"t","topic":"factory/{site}/{machine}/telemetry","database":"plant",
      "measurement":"machine","fields":{"temperature":"temp","rpm":"spindle.rpm"},"tags":{"shift":"shift"},
      "time_path":"ts","time_precision":"ms"})");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  topic_mapper m;
  ASSERT_TRUE(m.add(*r).ok());
  auto out = m.map("factory/s1/m07/telemetry",
                   R"({"temp":61.5,"spindle":{"rpm":12000},"shift":"B","ts":1700000000123})", 5);
  ASSERT_TRUE(out.ok()) << out.error().to_string();
  ASSERT_EQ(out->points.size(), 1u);
  const auto& p = out->points[0];
  EXPECT_EQ(p.measurement, "machine");
  EXPECT_EQ(p.tags, (std::vector<model::tag>{{"machine", "m07"}, {"shift", "B"}, {"site", "s1"}}));
  EXPECT_EQ(p.time, 1700000000123000000);
  ASSERT_EQ(p.fields.size(), 2u);  // in the rule's key order: rpm, temperature
  EXPECT_EQ(p.fields[0].key, "rpm");
  EXPECT_EQ(std::get<int64_t>(p.fields[0].value), 12000);
  EXPECT_EQ(std::get<double>(p.fields[1].value), 61.5);
}

TEST(topic_mapping, json_all_fields_array_and_rfc3339) {
  topic_mapper m;
  ASSERT_TRUE(m.add(*parse_mapping_rule(R"({"name":"a","topic":"s/{id}","database":"d","measurement":"m_{id}",
      "time_path":"t"})"))
                  .ok());
  auto out = m.map("s/7", R"([{"v":1,"ok":true,"state":"run","t":"2024-01-02T03:04:05.5Z"},
                              {"v":2.5,"t":"2024-01-02T04:04:05+01:00","nested":{"x":1}}])",
                   0);
  ASSERT_TRUE(out.ok()) << out.error().to_string();
  ASSERT_EQ(out->points.size(), 2u);
  EXPECT_EQ(out->points[0].measurement, "m_7");
  EXPECT_EQ(out->points[0].fields.size(), 3u);
  EXPECT_EQ(out->points[0].time, 1704164645500000000);
  EXPECT_EQ(out->points[1].time, 1704164645000000000);
  EXPECT_EQ(out->points[1].fields.size(), 1u) << "objects are not fields";
}

TEST(topic_mapping, line_protocol_and_value_payloads) {
  topic_mapper m;
  ASSERT_TRUE(
      m.add(*parse_mapping_rule(R"({"name":"lp","topic":"lp/{gw}","database":"d","format":"line_protocol"})"))
          .ok());
  ASSERT_TRUE(
      m
          .add(*parse_mapping_rule(
              R"({"name":"v","topic":"v/{sensor}","database":"d","measurement":"reading","format":"value"})"))
          .ok());
  auto lp = m.map("lp/g1", "cpu,host=a usage=1 10\ncpu usage=2 20\n", 0);
  ASSERT_TRUE(lp.ok()) << lp.error().to_string();
  ASSERT_EQ(lp->points.size(), 2u);
  EXPECT_EQ(lp->points[1].tags, (std::vector<model::tag>{{"gw", "g1"}}));
  auto v = m.map("v/t1", "23.5\n", 99);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->points[0].time, 99);
  EXPECT_EQ(std::get<double>(v->points[0].fields[0].value), 23.5);
}

TEST(topic_mapping, errors_name_topic_rule_and_what) {
  topic_mapper m;
  ASSERT_TRUE(m.add(*parse_mapping_rule(
                        R"({"name":"j","topic":"j/#","database":"d","measurement":"m","time_path":"ts"})"))
                  .ok());
  auto bad = m.map("j/x", "{not json", 0);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "topic j/x (rule \"j\"): payload is not valid JSON");
  auto no_time = m.map("j/x", R"({"v":1})", 0);
  EXPECT_NE(no_time.error().message().find("missing time"), std::string::npos);
  auto none = m.map("other", "1", 0);
  EXPECT_EQ(none.error().code(), errc::not_found);

  auto r = parse_mapping_rule(R"({"name":"x","topic":"a/#/b","database":"d","measurement":"m"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "mapping rule \"x\": '#' must be the last level of the topic pattern");
  r = parse_mapping_rule(R"({"name":"x","topic":"a","database":"d","measurement":"m","format":"xml"})");
  EXPECT_NE(r.error().message().find("\"format\""), std::string::npos);
  r = parse_mapping_rule(R"({"name":"x","topic":"a","measurement":"m"})");
  EXPECT_EQ(r.error().message(), "mapping rule \"x\": missing \"database\"");
}

TEST(topic_mapping, rule_json_round_trip) {
  auto r = parse_mapping_rule(R"({"name":"t","topic":"f/{a}","database":"d","measurement":"m",
      "fields":{"x":"p.x"},"time_path":"ts","time_precision":"s"})");
  ASSERT_TRUE(r.ok());
  auto again = parse_mapping_rule(mapping_rule_to_json(*r));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(mapping_rule_to_json(*again), mapping_rule_to_json(*r));
}

}  // namespace liandu::ingest
