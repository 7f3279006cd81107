#include "toolbox/rules/rule.h"

#include <gtest/gtest.h>

namespace liandu::toolbox::rules {
namespace {

constexpr int64_t sec = 1'000'000'000;

TEST(duration, parses_and_formats) {
  EXPECT_EQ(*parse_duration("5m"), 300 * sec);
  EXPECT_EQ(*parse_duration("1h30m"), 5400 * sec);
  EXPECT_EQ(*parse_duration("250ms"), 250'000'000);
  EXPECT_EQ(*parse_duration("2d"), 172'800 * sec);
  EXPECT_FALSE(parse_duration("").ok());
  EXPECT_FALSE(parse_duration("5").ok());
  EXPECT_FALSE(parse_duration("5x").ok());
  EXPECT_FALSE(parse_duration("-5s").ok());
  EXPECT_FALSE(parse_duration("99999999999999d").ok());
  EXPECT_EQ(format_duration(5400 * sec), "1h30m");
  EXPECT_EQ(format_duration(1500'000'000), "1s500ms");
  EXPECT_EQ(format_duration(0), "0s");
}

constexpr const char* full_rule = R"({
  "id": "oven-hot", "name": "Oven too hot", "version": 3, "measurement": "oven",
  "where": [{"tag": "site", "value": "s1"}, {"tag": "line", "op": "=~", "value": "^L[12]$"}],
  "group_by": ["machine"],
  "when": {"any": [
    {"type": "threshold", "field": "temp", "op": ">", "value": 80, "clear": 75},
    {"all": [
      {"type": "aggregate", "fn": "mean", "field": "temp", "window": "5m", "op": ">", "value": 70},
      {"type": "rate", "field": "pressure", "window": "1m", "op": ">=", "value": 2}
    ]},
    {"type": "absence", "for": "30s"},
    {"type": "state", "field": "status", "state": "down", "for": "10m"},
    {"type": "anomaly", "field": "vibration", "method": "ewma", "threshold": 4, "clear": 3, "alpha": 0.1}
  ]},
  "for": "1m", "severity": "critical", "message": "{rule} on {machine}: {value}",
  "actions": [{"type": "webhook", "receiver": "ops"}, {"type": "mqtt", "topic": "alerts/oven", "qos": 1, "retain": true},
              {"type": "write_point"}]
})";

TEST(rule_json, parses_every_member) {
  auto r = parse_rule(full_rule);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->id, "oven-hot");
  EXPECT_EQ(r->version, 3);
  ASSERT_EQ(r->where.size(), 2u);
  EXPECT_EQ(r->where[1].match, tag_match::regex);
  EXPECT_EQ(r->group_by, std::vector<std::string>{"machine"});
  ASSERT_EQ(r->when.kind, condition_kind::any);
  ASSERT_EQ(r->when.children.size(), 5u);
  EXPECT_EQ(r->when.children[0].clear, 75.0);
  EXPECT_EQ(r->when.children[1].children[0].window_ns, 300 * sec);
  EXPECT_EQ(r->when.children[1].children[1].op, compare_op::ge);
  EXPECT_EQ(r->when.children[2].kind, condition_kind::absence);
  EXPECT_EQ(r->when.children[3].for_ns, 600 * sec);
  EXPECT_EQ(r->when.children[4].detector.kind, anomaly::method::ewma);
  EXPECT_EQ(r->when.children[4].detector.alpha, 0.1);
  EXPECT_EQ(r->for_ns, 60 * sec);
  ASSERT_EQ(r->actions.size(), 3u);
  EXPECT_EQ(r->actions[0].kind, action_kind::webhook);
  EXPECT_EQ(r->actions[0].target, "ops");
  EXPECT_EQ(r->actions[2].target, "alerts");
  EXPECT_EQ(r->actions[1].kind, action_kind::mqtt);
  EXPECT_EQ(r->actions[1].target, "alerts/oven");
  EXPECT_EQ(r->actions[1].qos, 1);
  EXPECT_TRUE(r->actions[1].retain);
  auto plain = parse_rule(R"({"id": "a", "measurement": "m", "when": {"type": "absence", "for": "1s"},
                              "actions": [{"type": "mqtt", "topic": "t"}]})");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->actions[0].qos, 0);
  EXPECT_FALSE(plain->actions[0].retain);
}

TEST(rule_json, round_trips) {
  auto r = parse_rule(full_rule);
  ASSERT_TRUE(r.ok());
  auto again = rule_from_json(rule_to_json(*r));
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  EXPECT_EQ(*again, *r);
}

// Each bad rule and the start of the error it must give, naming the member.
struct bad_case {
  const char* json;
  const char* error;
};

TEST(rule_json, errors_name_the_offending_member) {
  const bad_case cases[] = {
      {R"({"measurement": "m", "when": {"type": "threshold", "field": "x", "op": ">", "value": 1}})",
       "id: required"},
      {R"({"id": "a b", "measurement": "m", "when": {"type": "threshold", "field": "x", "op": ">", "value": 1}})",
       "id: must be"},
      {R"({"id": "a", "when": {"type": "threshold", "field": "x", "op": ">", "value": 1}})",
       "measurement: required"},
      {R"({"id": "a", "measurement": "m"})", "when: required"},
      {R"({"id": "a", "measurement": "m", "when": {"type": "threshold", "field": "x", "op": "=>", "value": 1}})",
       "when.op: unknown operator"},
      {R"({"id": "a", "measurement": "m", "when": {"type": "threshold", "field": "x", "op": ">", "value": "1"}})",
       "when.value: must be a number"},
      {R"({"id": "a", "measurement": "m", "when": {"type": "threshold", "field": "x", "op": ">", "value": 1, "valeu": 2}})",
       "when.valeu: unknown member"},
      {R"({"id": "a", "measurement": "m", "when": {"any": [{"type": "threshold", "field": "x", "op": ">", "value": 1},
          {"type": "aggregate", "fn": "mean", "field": "x", "window": "5x", "op": ">", "value": 1}]}})",
       "when.any[1].window: bad duration"},
      {R"({"id": "a", "measurement": "m", "when": {"type": "aggregate", "fn": "median", "field": "x", "window": "5m", "op": ">", "value": 1}})",
       "when.fn: must be"},
      {R"({"id": "a", "measurement": "m", "when": {"type": "threshold", "field": "x", "op": ">", "value": 80, "clear": 85}})",
       "when.clear: must not be above value"},
      {R"({"id": "a", "measurement": "m", "when": {"type": "threshold", "field": "x", "op": "==", "value": 80, "clear": 85}})",
       "when.clear: needs an ordering operator"},
      {R"({"id": "a", "measurement": "m", "when": {"type": "state", "field": "s", "op": ">", "state": "down", "for": "1m"}})",
       "when.op: must be == or !="},
      {R"({"id": "a", "measurement": "m", "when": {"type": "anomaly", "field": "x", "method": "magic", "threshold": 3}})",
       "when.method: must be"},
      {R"({"id": "a", "measurement": "m", "when": {"type": "absence", "for": "0s"}})",
       "when.for: must be positive"},
      {R"({"id": "a", "measurement": "m", "when": {"type": "fuzzy"}})", "when.type: unknown condition type"},
      {R"({"id": "a", "measurement": "m", "where": [{"tag": "t", "op": "=~", "value": "(["}],
          "when": {"type": "absence", "for": "1s"}})",
       "where[0].value: bad regular expression"},
      {R"({"id": "a", "measurement": "m", "when": {"type": "absence", "for": "1s"},
          "actions": [{"type": "webhook", "url": "http://169.254.169.254/"}]})",
       "actions[0].url: is not accepted: a webhook action names a receiver of the tenant"},
      {R"({"id": "a", "measurement": "m", "when": {"type": "absence", "for": "1s"},
          "actions": [{"type": "webhook"}]})",
       "actions[0].receiver: required"},
      {R"({"id": "a", "measurement": "m", "when": {"type": "absence", "for": "1s"},
          "actions": [{"type": "webhook", "receiver": "a/b"}]})",
       "actions[0].receiver: must be 1-128 characters"},
      {R"({"id": "a", "measurement": "m", "when": {"type": "absence", "for": "1s"},
          "actions": [{"type": "mqtt", "topic": "alerts/#"}]})",
       "actions[0].topic: must be a non-empty topic without wildcards"},
      {R"({"id": "a", "measurement": "m", "when": {"type": "absence", "for": "1s"},
          "actions": [{"type": "mqtt", "topic": "a", "qos": 2}]})",
       "actions[0].qos: must be 0 or 1"},
      {R"({"id": "a", "measurement": "m", "when": {"type": "absence", "for": "1s"},
          "actions": [{"type": "mqtt", "topic": "a", "retain": "yes"}]})",
       "actions[0].retain: must be true or false"},
      {R"({"id": "a", "measurement": "m", "when": {"type": "absence", "for": "1s"},
          "actions": [{"type": "webhook", "receiver": "x", "qos": 1}]})",
       "actions[0].qos: unknown member"},
      {R"({"id": "a", "measurement": "m", "when": {"all": []}})", "when.all: must be a non-empty array"},
      {R"({"id": "a", "measurement": "m", "when": {"type": "absence", "for": "1s"}, "colour": 1})",
       "colour: unknown member"},
      {R"([1, 2])", "rule: must be a JSON object"},
      {R"({"id": )", "rule: not valid JSON"},
  };
  for (const auto& c : cases) {
    auto r = parse_rule(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.error().code(), errc::invalid_argument);
    EXPECT_TRUE(r.error().message().starts_with(c.error))
        << "got: " << r.error().message() << "\nwant: " << c.error;
  }
}

TEST(rule_struct, validate_checks_structs_built_in_code) {
  rule r;
  r.id = "x";
  r.measurement = "m";
  r.when.kind = condition_kind::aggregate;
  r.when.field = "v";
  EXPECT_EQ(validate(r).message(), "when.window: must be positive");
  r.when.window_ns = sec;
  EXPECT_TRUE(validate(r).ok());
}

}  // namespace
}  // namespace liandu::toolbox::rules
