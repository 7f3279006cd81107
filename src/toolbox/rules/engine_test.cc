#include "toolbox/rules/engine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>

namespace liandu::toolbox::rules {
namespace {

constexpr int64_t sec = 1'000'000'000;

// Records every event; expectations compare the compact form "state@seconds".
struct recorder {
  std::vector<alert_event> events;
  engine::event_sink sink() {
    return [this](const alert_event& e) { events.push_back(e); };
  }
  std::vector<std::string> summary() const {
    std::vector<std::string> out;
    for (const auto& e : events) {
      std::string s = std::string(alert_state_name(e.state)) + "@" + std::to_string(e.time / sec);
      for (const auto& t : e.group) s += "," + t.value;
      out.push_back(s);
    }
    return out;
  }
};

using strings = std::vector<std::string>;

rule must_parse(const std::string& json) {
  auto r = parse_rule(json);
  EXPECT_TRUE(r.ok()) << r.error().to_string();
  return r.ok() ? *r : rule();
}

model::point pt(const std::string& measurement, std::vector<model::tag> tags,
                std::vector<model::field> fields, int64_t seconds) {
  return model::point{measurement, std::move(tags), std::move(fields), seconds * sec};
}

// Feeds `values` of field v, one per second from t=first unless times given.
void feed(engine& e, const std::vector<double>& values, int64_t first = 1) {
  for (size_t i = 0; i < values.size(); ++i) {
    e.process(pt("m", {}, {{"v", values[i]}}, first + static_cast<int64_t>(i)));
  }
}

TEST(engine, threshold_fires_once_and_resolves) {
  recorder rec;
  engine e(rec.sink());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "hot", "measurement": "m",
      "when": {"type": "threshold", "field": "v", "op": ">", "value": 80}})"))
                  .ok());
  feed(e, {70, 85, 90, 95, 70, 81});
  EXPECT_EQ(rec.summary(), (strings{"firing@2", "resolved@5", "firing@6"}));
  EXPECT_EQ(rec.events[0].value, 85);
  EXPECT_EQ(rec.events[1].value, 70);
  EXPECT_EQ(rec.events[0].alert_id, rec.events[1].alert_id);
  EXPECT_NE(rec.events[1].alert_id, rec.events[2].alert_id);
  EXPECT_EQ(rec.events[1].previous, alert_state::firing);
}

TEST(engine, every_comparison_operator) {
  struct c {
    const char* op;
    strings want;
  };
  // Stream 1, 2, 3, 2, 1 against the value 2.
  const c cases[] = {{">", {"firing@3", "resolved@4"}},
                     {">=", {"firing@2", "resolved@5"}},
                     {"<", {"firing@1", "resolved@2", "firing@5"}},
                     {"<=", {"firing@1", "resolved@3", "firing@4"}},
                     {"==", {"firing@2", "resolved@3", "firing@4", "resolved@5"}},
                     {"!=", {"firing@1", "resolved@2", "firing@3", "resolved@4", "firing@5"}}};
  for (const auto& tc : cases) {
    recorder rec;
    engine e(rec.sink());
    ASSERT_TRUE(e.add_rule(must_parse(std::string(R"({"id": "r", "measurement": "m",
        "when": {"type": "threshold", "field": "v", "op": ")") +
                                      tc.op + R"(", "value": 2}})"))
                    .ok());
    feed(e, {1, 2, 3, 2, 1});
    EXPECT_EQ(rec.summary(), tc.want) << tc.op;
  }
}

TEST(engine, integer_and_boolean_fields_compare_as_numbers_strings_are_ignored) {
  recorder rec;
  engine e(rec.sink());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "r", "measurement": "m",
      "when": {"type": "threshold", "field": "v", "op": ">=", "value": 1}})"))
                  .ok());
  e.process(pt("m", {}, {{"v", int64_t{0}}}, 1));
  e.process(pt("m", {}, {{"v", std::string("5")}}, 2));
  e.process(pt("m", {}, {{"v", true}}, 3));
  e.process(pt("m", {}, {{"v", uint64_t{0}}}, 4));
  EXPECT_EQ(rec.summary(), (strings{"firing@3", "resolved@4"}));
}

TEST(engine, hysteresis_stops_flapping_at_the_limit) {
  const std::vector<double> hovering = {70, 81, 79, 81, 79, 76, 74, 81};
  recorder plain;
  engine e1(plain.sink());
  ASSERT_TRUE(e1.add_rule(must_parse(R"({"id": "r", "measurement": "m",
      "when": {"type": "threshold", "field": "v", "op": ">", "value": 80}})"))
                  .ok());
  feed(e1, hovering);
  EXPECT_EQ(plain.summary(), (strings{"firing@2", "resolved@3", "firing@4", "resolved@5", "firing@8"}));

  recorder rec;
  engine e2(rec.sink());
  ASSERT_TRUE(e2.add_rule(must_parse(R"({"id": "r", "measurement": "m",
      "when": {"type": "threshold", "field": "v", "op": ">", "value": 80, "clear": 75}})"))
                  .ok());
  feed(e2, hovering);
  EXPECT_EQ(rec.summary(), (strings{"firing@2", "resolved@7", "firing@8"}));
}

TEST(engine, hysteresis_downward) {
  recorder rec;
  engine e(rec.sink());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "low", "measurement": "m",
      "when": {"type": "threshold", "field": "v", "op": "<", "value": 10, "clear": 15}})"))
                  .ok());
  feed(e, {20, 9, 11, 14, 15, 9});
  EXPECT_EQ(rec.summary(), (strings{"firing@2", "resolved@5", "firing@6"}));
}

TEST(engine, minimum_duration_before_firing) {
  recorder rec;
  engine e(rec.sink());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "r", "measurement": "m", "for": "3s",
      "when": {"type": "threshold", "field": "v", "op": ">", "value": 80}})"))
                  .ok());
  // Hovering: never above 80 for 3 s.
  feed(e, {85, 85, 70, 85, 85, 70});
  EXPECT_EQ(rec.summary(), (strings{"pending@1", "inactive@3", "pending@4", "inactive@6"}));
  rec.events.clear();
  // Held: pending at 10, firing at 13, resolved at 15.
  feed(e, {85, 86, 87, 88, 89, 10}, 10);
  EXPECT_EQ(rec.summary(), (strings{"pending@10", "firing@13", "resolved@15"}));
  EXPECT_EQ(rec.events[1].started, 10 * sec);
  EXPECT_EQ(rec.events[0].alert_id, rec.events[2].alert_id);
}

TEST(engine, pending_fires_on_tick_without_new_points) {
  recorder rec;
  engine e(rec.sink());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "r", "measurement": "m", "for": "10s",
      "when": {"type": "threshold", "field": "v", "op": ">", "value": 80}})"))
                  .ok());
  feed(e, {90});
  e.tick(10 * sec);
  e.tick(11 * sec);
  e.tick(12 * sec);
  EXPECT_EQ(rec.summary(), (strings{"pending@1", "firing@11"}));
}

TEST(engine, aggregate_mean_over_sliding_window) {
  recorder rec;
  engine e(rec.sink());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "r", "measurement": "m",
      "when": {"type": "aggregate", "fn": "mean", "field": "v", "window": "5m", "op": ">", "value": 80}})"))
                  .ok());
  // One point a minute: means 70, 80, 83.33 (fire), 77.5 (resolve).
  for (auto [t, v] : std::vector<std::pair<int64_t, double>>{{0, 70}, {60, 90}, {120, 90}, {180, 60}}) {
    e.process(pt("m", {}, {{"v", v}}, t));
  }
  // At 420 s the window (120, 420] holds 60 and 100: mean 80, still resolved;
  // at 480 s it holds 100 and 100: fires.
  e.process(pt("m", {}, {{"v", 100.0}}, 420));
  e.process(pt("m", {}, {{"v", 100.0}}, 480));
  EXPECT_EQ(rec.summary(), (strings{"firing@120", "resolved@180", "firing@480"}));
  EXPECT_NEAR(rec.events[0].value, 250.0 / 3, 1e-9);
  EXPECT_EQ(rec.events[1].value, 77.5);
  EXPECT_EQ(rec.events[2].value, 100);
}

TEST(engine, aggregate_min_max_sum_count) {
  struct c {
    const char* fn;
    const char* op;
    double value;
    strings want;
    std::vector<double> values;
  };
  // Window 3s, points every second from t=1.
  const c cases[] = {
      {"max", ">", 50, {"firing@1", "resolved@4"}, {60, 10, 20, 10, 10}},
      {"min", "<", 5, {"firing@2", "resolved@5"}, {10, 1, 20, 30, 30}},
      {"sum", ">", 100, {"firing@2", "resolved@4"}, {50, 60, 0, 0, 0}},
      {"count", ">=", 3, {"firing@3"}, {1, 1, 1, 1, 1}},
  };
  for (const auto& tc : cases) {
    recorder rec;
    engine e(rec.sink());
    ASSERT_TRUE(e.add_rule(must_parse(std::string(R"({"id": "r", "measurement": "m",
        "when": {"type": "aggregate", "fn": ")") +
                                      tc.fn + R"(", "field": "v", "window": "3s", "op": ")" + tc.op +
                                      R"(", "value": )" + std::to_string(tc.value) + "}}"))
                    .ok());
    feed(e, tc.values);
    EXPECT_EQ(rec.summary(), tc.want) << tc.fn;
  }
}

// The window's ring grows while it fills and, once wrapped, when the rate
// of points rises: every aggregate over it must still be the brute-force
// one, at every point (leaf values as serialize_state writes them).
TEST(engine, windows_keep_every_sample_while_the_rate_rises_and_falls) {
  engine e(nullptr);
  const std::vector<std::string> ids = {"count", "max", "min", "rate", "sum"};  // state order: by id
  for (const auto& id : ids) {
    std::string when = id == "rate"
                           ? R"({"type": "rate", "field": "v", "window": "100s", "op": ">", "value": 1e12})"
                           : R"({"type": "aggregate", "fn": ")" + id +
                                 R"(", "field": "v", "window": "100s", "op": ">", "value": 1e12})";
    ASSERT_TRUE(
        e.add_rule(must_parse(R"({"id": ")" + id + R"(", "measurement": "m", "when": )" + when + "}")).ok());
  }
  std::mt19937 rng(3);
  std::vector<std::pair<int64_t, double>> seen;
  int64_t t = 0;
  for (int i = 0; i < 3000; ++i) {
    // 10 s apart, then ever closer (down to 50 ms: 2,000 in the window),
    // then a second apart again.
    int64_t step = i < 40 ? 10 * sec : i < 2000 ? std::max<int64_t>(sec / 20, 10 * sec / (i - 38)) : sec;
    t += step;
    double v = static_cast<double>(rng() % 10000) / 8;
    e.process(model::point{"m", {}, {{"v", v}}, t});
    seen.emplace_back(t, v);
    std::vector<std::pair<int64_t, double>> in;
    for (const auto& s : seen) {
      if (s.first > t - 100 * sec) in.push_back(s);
    }
    double mn = in[0].second, mx = in[0].second, sum = 0;
    for (const auto& s : in) {
      mn = std::min(mn, s.second);
      mx = std::max(mx, s.second);
      sum += s.second;
    }
    auto j = nlohmann::json::parse(e.serialize_state());
    auto leaf = [&](const std::string& id) {
      return j["rules"][id]["groups"][0]["leaves"][0]["value"].get<double>();
    };
    ASSERT_EQ(leaf("count"), static_cast<double>(in.size())) << i;
    ASSERT_EQ(leaf("min"), mn) << i;
    ASSERT_EQ(leaf("max"), mx) << i;
    ASSERT_NEAR(leaf("sum"), sum, 1e-6 * std::max(1.0, sum)) << i;
    if (in.size() >= 2) {
      double rate = (in.back().second - in.front().second) /
                    (static_cast<double>(in.back().first - in.front().first) / 1e9);
      ASSERT_EQ(leaf("rate"), rate) << i;
    }
  }
}

TEST(engine, rate_of_change_per_second) {
  recorder rec;
  engine e(rec.sink());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "r", "measurement": "m",
      "when": {"type": "rate", "field": "v", "window": "1m", "op": ">", "value": 2}})"))
                  .ok());
  // (t, value): rate over the window: none, 1/s, 2.5/s (fires), 3/s over
  // (0, 60], then the window (40, 100] holds 160 and 170: 0.25/s (resolves).
  for (auto [t, v] :
       std::vector<std::pair<int64_t, double>>{{0, 0}, {10, 10}, {20, 50}, {60, 160}, {100, 170}}) {
    e.process(pt("m", {}, {{"v", v}}, t));
  }
  EXPECT_EQ(rec.summary(), (strings{"firing@20", "resolved@100"}));
  EXPECT_EQ(rec.events[0].value, 2.5);
  EXPECT_EQ(rec.events[1].value, 0.25);
}

TEST(engine, absence_detected_by_tick_per_group) {
  recorder rec;
  engine e(rec.sink());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "silent", "measurement": "m", "group_by": ["host"],
      "when": {"type": "absence", "for": "30s"}})"))
                  .ok());
  e.process(pt("m", {{"host", "a"}}, {{"v", 1.0}}, 0));
  e.process(pt("m", {{"host", "b"}}, {{"v", 1.0}}, 0));
  e.tick(20 * sec);
  e.process(pt("m", {{"host", "a"}}, {{"v", 1.0}}, 25));
  e.tick(30 * sec);  // b silent for 30 s
  e.tick(50 * sec);  // still silent: no second event
  e.process(pt("m", {{"host", "b"}}, {{"v", 1.0}}, 52));
  e.tick(54 * sec);
  e.tick(55 * sec);  // a silent for 30 s
  EXPECT_EQ(rec.summary(), (strings{"firing@30,b", "resolved@52,b", "firing@55,a"}));
  EXPECT_EQ(rec.events[0].value, 30);
}

TEST(engine, absence_of_a_rule_without_groups_counts_from_the_first_tick) {
  recorder rec;
  engine e(rec.sink());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "silent", "measurement": "m",
      "when": {"type": "absence", "field": "v", "for": "30s"}})"))
                  .ok());
  e.tick(100 * sec);
  e.tick(129 * sec);
  e.process(pt("m", {}, {{"other", 1.0}}, 129));  // not the watched field
  e.tick(130 * sec);
  e.process(pt("m", {}, {{"v", 1.0}}, 131));
  EXPECT_EQ(rec.summary(), (strings{"firing@130", "resolved@131"}));
}

TEST(engine, state_held_too_long) {
  recorder rec;
  engine e(rec.sink());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "down", "measurement": "machine", "group_by": ["id"],
      "when": {"type": "state", "field": "status", "state": "down", "for": "10m"}})"))
                  .ok());
  auto status_at = [&](const char* id, const char* s, int64_t t) {
    e.process(pt("machine", {{"id", id}}, {{"status", std::string(s)}}, t));
  };
  status_at("m1", "down", 0);
  status_at("m2", "down", 0);
  status_at("m2", "up", 100);  // m2 back up, then down again at 200
  status_at("m2", "down", 200);
  status_at("m1", "down", 300);
  e.tick(599 * sec);
  e.tick(600 * sec);  // m1 down for 10 min
  status_at("m1", "up", 700);
  e.tick(799 * sec);
  status_at("m2", "down", 800);  // m2 down since 200: 10 min at 800
  EXPECT_EQ(rec.summary(), (strings{"firing@600,m1", "resolved@700,m1", "firing@800,m2"}));
  EXPECT_EQ(rec.events[0].value, 600);
}

TEST(engine, state_compares_numbers_and_booleans_as_text) {
  recorder rec;
  engine e(rec.sink());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "r", "measurement": "m",
      "when": {"any": [{"type": "state", "field": "code", "state": "3", "for": "2s"},
                       {"type": "state", "field": "ok", "op": "!=", "state": "true", "for": "2s"}]}})"))
                  .ok());
  e.process(pt("m", {}, {{"code", int64_t{3}}, {"ok", true}}, 0));
  e.process(pt("m", {}, {{"code", 3.0}, {"ok", true}}, 2));
  e.process(pt("m", {}, {{"code", 4.0}, {"ok", false}}, 3));
  e.process(pt("m", {}, {{"code", 4.0}, {"ok", false}}, 5));
  e.process(pt("m", {}, {{"code", 4.0}, {"ok", true}}, 6));
  EXPECT_EQ(rec.summary(), (strings{"firing@2", "resolved@3", "firing@5", "resolved@6"}));
}

// The state's text is formatted on the stack (no string per point): unsigned
// integers, fractions in shortest form, and strings as they are.
TEST(engine, state_text_of_unsigned_fractions_and_strings) {
  recorder rec;
  engine e(rec.sink());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "r", "measurement": "m",
      "when": {"any": [{"type": "state", "field": "u", "state": "18446744073709551615", "for": "2s"},
                       {"type": "state", "field": "x", "state": "2.5", "for": "2s"},
                       {"type": "state", "field": "s", "state": "down", "for": "2s"}]}})"))
                  .ok());
  e.process(pt("m", {}, {{"u", uint64_t{18446744073709551615u}}}, 0));
  e.process(pt("m", {}, {{"u", uint64_t{18446744073709551615u}}}, 2));  // held 2s: fires
  e.process(pt("m", {}, {{"u", uint64_t{1}}}, 3));
  e.process(pt("m", {}, {{"x", 2.5}}, 10));
  e.process(pt("m", {}, {{"x", 2.5}}, 12));  // fires; 2.50 would be "2.5" too
  e.process(pt("m", {}, {{"x", 25.0}}, 13));
  e.process(pt("m", {}, {{"s", std::string("down")}}, 20));
  e.process(pt("m", {}, {{"s", std::string("down")}}, 22));
  e.process(pt("m", {}, {{"s", std::string("downer")}}, 23));
  EXPECT_EQ(rec.summary(),
            (strings{"firing@2", "resolved@3", "firing@12", "resolved@13", "firing@22", "resolved@23"}));
}

// The alert state is kept in the first leaf's cache line; it must follow the
// group through a replaced rule, acknowledgement and a state restore.
TEST(engine, alert_state_kept_with_the_leaves_survives_ack_and_restore) {
  recorder rec;
  engine e(rec.sink());
  const char* json = R"({"id": "r", "measurement": "m", "group_by": ["h"],
      "when": {"all": [{"type": "threshold", "field": "t", "op": ">", "value": 80},
                       {"type": "aggregate", "fn": "max", "field": "t", "window": "10s", "op": ">", "value": 80}]}})";
  ASSERT_TRUE(e.add_rule(must_parse(json)).ok());
  e.process(pt("m", {{"h", "a"}}, {{"t", 90.0}}, 1));
  e.process(pt("m", {{"h", "b"}}, {{"t", 10.0}}, 1));
  ASSERT_TRUE(e.acknowledge("r", {{"h", "a"}}, "ann", "looking", 2).ok());
  EXPECT_EQ(e.acknowledge("r", {{"h", "a"}}, "bob", "", 3).code(), errc::conflict);
  EXPECT_EQ(e.acknowledge("r", {{"h", "b"}}, "bob", "", 3).code(), errc::not_found);
  std::string state = e.serialize_state();

  recorder rec2;
  engine e2(rec2.sink());
  ASSERT_TRUE(e2.add_rule(must_parse(json)).ok());
  ASSERT_TRUE(e2.deserialize_state(state).ok());
  auto open = e2.alerts();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_EQ(open[0].state, alert_state::acknowledged);
  e2.process(pt("m", {{"h", "a"}}, {{"t", 95.0}}, 4));  // still holds: no event
  EXPECT_TRUE(rec2.events.empty());
  e2.process(pt("m", {{"h", "a"}}, {{"t", 50.0}}, 5));
  ASSERT_EQ(rec2.events.size(), 1u);
  EXPECT_EQ(rec2.events[0].previous, alert_state::acknowledged);
  EXPECT_EQ(rec2.events[0].state, alert_state::resolved);
  EXPECT_TRUE(e2.alerts().empty());
}

TEST(engine, and_or_trees) {
  recorder rec;
  engine e(rec.sink());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "and", "measurement": "m",
      "when": {"all": [{"type": "threshold", "field": "t", "op": ">", "value": 80},
                       {"type": "threshold", "field": "p", "op": "<", "value": 2}]}})"))
                  .ok());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "or", "measurement": "m",
      "when": {"any": [{"type": "threshold", "field": "t", "op": ">", "value": 80},
                       {"all": [{"type": "threshold", "field": "p", "op": "<", "value": 2},
                                {"type": "threshold", "field": "t", "op": ">", "value": 50}]}]}})"))
                  .ok());
  e.process(pt("m", {}, {{"t", 60.0}, {"p", 3.0}}, 1));  // and: F; or: F
  e.process(pt("m", {}, {{"p", 1.0}}, 2));               // t stays 60: and F; or: p<2 && t>50 → T
  e.process(pt("m", {}, {{"t", 90.0}}, 3));              // and: T; or: T
  e.process(pt("m", {}, {{"p", 5.0}}, 4));               // and: F; or: t>80 → T
  e.process(pt("m", {}, {{"t", 40.0}}, 5));              // or: F
  strings got;
  for (const auto& ev : rec.events)
    got.push_back(ev.rule_id + ":" + alert_state_name(ev.state) + "@" + std::to_string(ev.time / sec));
  EXPECT_EQ(got, (strings{"or:firing@2", "and:firing@3", "and:resolved@4", "or:resolved@5"}));
  // The value reported is that of the leaf that decided.
  EXPECT_EQ(rec.events[0].value, 1.0);
  EXPECT_EQ(rec.events[1].value, 90.0);
  EXPECT_EQ(rec.events[2].value, 5.0);
}

TEST(engine, lifecycle_with_acknowledgement_and_dedup) {
  recorder rec;
  engine e(rec.sink());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "hot", "name": "Hot", "measurement": "m", "group_by": ["host"],
      "severity": "critical", "message": "{rule} {state} on {host}: {value}",
      "actions": [{"type": "webhook", "receiver": "ops"}],
      "when": {"type": "threshold", "field": "v", "op": ">", "value": 80}})"))
                  .ok());
  EXPECT_EQ(e.acknowledge("hot", {{"host", "a"}}, "ann", "", 0).code(), errc::not_found);
  e.process(pt("m", {{"host", "a"}, {"rack", "1"}}, {{"v", 90.0}}, 1));
  e.process(pt("m", {{"host", "b"}}, {{"v", 95.0}}, 1));
  e.process(pt("m", {{"host", "a"}}, {{"v", 91.0}}, 2));  // deduplicated
  ASSERT_TRUE(e.acknowledge("hot", {{"host", "a"}}, "ann", "fan replaced", 3 * sec).ok());
  EXPECT_EQ(e.acknowledge("hot", {{"host", "a"}}, "bob", "", 4 * sec).code(), errc::conflict);
  EXPECT_EQ(e.acknowledge("nope", {{"host", "a"}}, "bob", "", 4 * sec).code(), errc::not_found);
  e.process(pt("m", {{"host", "a"}}, {{"v", 99.0}}, 5));  // still acknowledged: nothing
  auto open = e.alerts();
  ASSERT_EQ(open.size(), 2u);
  EXPECT_EQ(open[0].group, (std::vector<model::tag>{{"host", "a"}}));
  EXPECT_EQ(open[0].state, alert_state::acknowledged);
  EXPECT_EQ(open[0].user, "ann");
  EXPECT_EQ(open[0].value, 99.0);
  EXPECT_EQ(open[1].state, alert_state::firing);
  e.process(pt("m", {{"host", "a"}}, {{"v", 10.0}}, 6));
  EXPECT_EQ(rec.summary(), (strings{"firing@1,a", "firing@1,b", "acknowledged@3,a", "resolved@6,a"}));
  const alert_event& ack = rec.events[2];
  EXPECT_EQ(ack.user, "ann");
  EXPECT_EQ(ack.comment, "fan replaced");
  EXPECT_EQ(ack.previous, alert_state::firing);
  EXPECT_EQ(ack.alert_id, rec.events[0].alert_id);
  EXPECT_EQ(rec.events[3].alert_id, rec.events[0].alert_id);
  EXPECT_EQ(rec.events[0].message, "Hot firing on a: 90");
  EXPECT_EQ(rec.events[0].severity, "critical");
  ASSERT_EQ(rec.events[0].actions.size(), 1u);
  EXPECT_EQ(rec.events[0].actions[0].target, "ops");
  EXPECT_EQ(e.alerts().size(), 1u);
}

TEST(engine, tag_filters_equality_and_regex) {
  recorder rec;
  engine e(rec.sink());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "r", "measurement": "m", "group_by": ["line"],
      "where": [{"tag": "site", "value": "s1"}, {"tag": "line", "op": "=~", "value": "^L[12]$"},
                {"tag": "kind", "op": "!~", "value": "test"}],
      "when": {"type": "threshold", "field": "v", "op": ">", "value": 0}})"))
                  .ok());
  e.process(pt("m", {{"line", "L1"}, {"site", "s1"}}, {{"v", 1.0}}, 1));
  e.process(pt("m", {{"line", "L3"}, {"site", "s1"}}, {{"v", 1.0}}, 2));
  e.process(pt("m", {{"line", "L2"}, {"site", "s2"}}, {{"v", 1.0}}, 3));
  e.process(pt("m", {{"kind", "a-test"}, {"line", "L2"}, {"site", "s1"}}, {{"v", 1.0}}, 4));
  e.process(pt("other", {{"line", "L2"}, {"site", "s1"}}, {{"v", 1.0}}, 5));
  e.process(pt("m", {{"line", "L2"}, {"site", "s1"}}, {{"v", 1.0}}, 6));
  EXPECT_EQ(rec.summary(), (strings{"firing@1,L1", "firing@6,L2"}));
}

// Rules found through the equality index (by sensor, by site, on a missing
// tag = "") and rules without one all see exactly the points they match, and
// a point's events come in rule id order whichever bucket a rule sits in.
TEST(engine, indexed_equality_filters_match_exactly_and_keep_id_order) {
  recorder rec;
  engine e(rec.sink());
  auto add = [&](const std::string& id, const std::string& where) {
    ASSERT_TRUE(
        e.add_rule(must_parse(R"({"id": ")" + id + R"(", "measurement": "m", "where": [)" + where +
                              R"(], "when": {"type": "threshold", "field": "v", "op": ">", "value": 0}})"))
            .ok());
  };
  add("a-temp", R"({"tag": "sensor", "value": "temp"})");
  add("b-any", "");
  add("c-site", R"({"tag": "site", "value": "s1"})");
  add("d-temp-s2", R"({"tag": "sensor", "value": "temp"}, {"tag": "site", "value": "s2"})");
  add("e-no-sensor", R"({"tag": "sensor", "value": ""})");
  add("f-not-temp", R"({"tag": "sensor", "op": "!=", "value": "temp"})");
  std::vector<std::string> fired;
  auto at = [&](std::vector<model::tag> tags, int64_t t) {
    rec.events.clear();
    e.process(pt("m", std::move(tags), {{"v", 1.0}}, t));
    std::string ids;
    for (const auto& ev : rec.events) ids += (ids.empty() ? "" : " ") + ev.rule_id;
    return ids;
  };
  EXPECT_EQ(at({{"sensor", "temp"}, {"site", "s1"}}, 1), "a-temp b-any c-site");
  // Each rule has one group: a second point of an open alert raises nothing.
  EXPECT_EQ(at({{"sensor", "temp"}, {"site", "s2"}}, 2), "d-temp-s2");
  EXPECT_EQ(at({{"sensor", "rpm"}, {"site", "s1"}}, 3), "f-not-temp");
  EXPECT_EQ(at({{"site", "s3"}}, 4), "e-no-sensor");
  // Removing a rule takes it out of its bucket.
  ASSERT_TRUE(e.remove_rule("d-temp-s2", 5 * sec).ok());
  rec.events.clear();
  add("d-temp-s2b", R"({"tag": "sensor", "value": "temp"}, {"tag": "site", "value": "s2"})");
  EXPECT_EQ(at({{"sensor", "temp"}, {"site", "s2"}}, 6), "d-temp-s2b");
}

// The stream's form caches what each series meets; it must raise the same
// events in the same order as process() with the key's parts, also across
// rule changes and restored state.
TEST(engine, process_series_raises_what_process_raises) {
  recorder a, b, c;
  engine by_parts(a.sink()), by_key(b.sink()), by_batch(c.sink());
  engine* keyed[] = {&by_key, &by_batch};
  const std::string rules[] = {
      R"({"id": "r1", "measurement": "m", "where": [{"tag": "sensor", "value": "temp"}], "group_by": ["host"],
          "when": {"type": "threshold", "field": "v", "op": ">", "value": 60, "clear": 50}})",
      R"({"id": "r2", "measurement": "m", "group_by": ["host"], "for": "3s",
          "when": {"type": "aggregate", "fn": "mean", "field": "v", "window": "5s", "op": ">", "value": 55}})",
      R"({"id": "r3", "measurement": "m", "where": [{"tag": "host", "op": "=~", "value": "^h[12]$"}],
          "when": {"type": "rate", "field": "v", "window": "4s", "op": ">", "value": 5}})",
      R"({"id": "r4", "measurement": "m, x", "group_by": ["a=b"],
          "when": {"type": "state", "field": "s", "state": "bad", "for": "2s"}})",
      R"({"id": "r5", "measurement": "m", "where": [{"tag": "sensor", "value": "temp"}, {"tag": "host", "op": "!=", "value": "h3"}],
          "when": {"any": [{"type": "threshold", "field": "v", "op": "<", "value": 10},
                           {"type": "anomaly", "field": "v", "method": "ewma", "threshold": 3}]}})",
  };
  for (const auto& r : rules) {
    ASSERT_TRUE(by_parts.add_rule(must_parse(r)).ok());
    for (engine* e : keyed) ASSERT_TRUE(e->add_rule(must_parse(r)).ok());
  }
  struct series {
    std::string measurement;
    std::vector<model::tag> tags;
  };
  std::vector<series> all;
  for (const char* host : {"h1", "h2", "h3", "h4"}) {
    for (const char* sensor : {"temp", "rpm"}) all.push_back({"m", {{"host", host}, {"sensor", sensor}}});
  }
  all.push_back({"m", {}});
  all.push_back({"m, x", {{"a=b", "x y"}}});
  all.push_back({"m, x", {{"a=b", "z,w"}}});
  all.push_back({"other", {{"host", "h1"}}});
  std::mt19937 rng(7);
  for (int t = 1; t <= 400; ++t) {
    if (t == 150) {  // replace a rule: its groups go, the cached targets must too
      const std::string r2 = R"({"id": "r2", "measurement": "m", "group_by": ["sensor"],
          "when": {"type": "aggregate", "fn": "max", "field": "v", "window": "3s", "op": ">", "value": 70}})";
      ASSERT_TRUE(by_parts.add_rule(must_parse(r2), t * sec).ok());
      for (engine* e : keyed) ASSERT_TRUE(e->add_rule(must_parse(r2), t * sec).ok());
    }
    if (t == 250) {
      ASSERT_TRUE(by_parts.remove_rule("r1", t * sec).ok());
      for (engine* e : keyed) ASSERT_TRUE(e->remove_rule("r1", t * sec).ok());
    }
    if (t == 300) {
      std::string state = by_key.serialize_state();
      ASSERT_TRUE(by_parts.deserialize_state(state).ok());
      for (engine* e : keyed) ASSERT_TRUE(e->deserialize_state(state).ok());
    }
    // One batch a second; the first brings 2,000 new series at once (the
    // series table grows within the batch) and a key that does not parse.
    std::vector<std::string> keys;
    std::vector<std::vector<model::field_view>> fields;
    const int points = t == 1 ? 2000 : 6;
    for (int n = 0; n < points; ++n) {
      series s = t == 1 && n >= 6 ? series{"m", {{"host", "x" + std::to_string(n)}, {"sensor", "temp"}}}
                                  : all[rng() % all.size()];
      double v = static_cast<double>(rng() % 100);
      fields.push_back({{"v", v}, {"s", std::string_view(rng() % 3 ? "bad" : "ok")}});
      by_parts.process(s.measurement, s.tags, fields.back(), t * sec);
      keys.push_back(model::series_key(s.measurement, s.tags));
      by_key.process_series(keys.back(), fields.back(), t * sec);
    }
    if (t == 1) {
      keys.push_back("m,host");
      fields.emplace_back();
    }
    std::vector<engine::series_point> batch;
    for (size_t i = 0; i < keys.size(); ++i) batch.push_back({keys[i], t * sec, fields[i]});
    by_batch.process_series(batch);
    if (t % 7 == 0) {
      by_parts.tick(t * sec);
      for (engine* e : keyed) e->tick(t * sec);
    }
  }
  ASSERT_GT(a.events.size(), 50u);
  for (const recorder* r : {&b, &c}) {
    ASSERT_EQ(a.events.size(), r->events.size());
    for (size_t i = 0; i < a.events.size(); ++i) {
      EXPECT_EQ(to_json(a.events[i]).dump(), to_json(r->events[i]).dump()) << i;
    }
  }
  for (const engine* e : keyed) {
    EXPECT_EQ(by_parts.stats().points, e->stats().points);
    EXPECT_EQ(by_parts.stats().evaluations, e->stats().evaluations);
    EXPECT_EQ(by_parts.serialize_state(), e->serialize_state());
  }
}

// Each rule's groups as "tags: leaves" (the leaves' active flags, since and
// values, as serialize_state writes them: exact doubles).
std::map<std::string, std::string> leaves_of(const engine& e, const std::string& rule_id) {
  std::map<std::string, std::string> out;
  auto j = nlohmann::json::parse(e.serialize_state());
  if (!j["rules"].contains(rule_id)) return out;
  for (const auto& g : j["rules"][rule_id]["groups"]) out[g["tags"].dump()] = g["leaves"].dump();
  return out;
}

// An event without its alert id (numbered per engine).
std::string without_id(const alert_event& e) {
  auto j = to_json(e);
  j.erase("alert_id");
  return j.dump();
}

// Rules with the same measurement, filters and group-by keep one window per
// field and window length (and one detector per field and options) for the
// groups they create together. Each rule must still see exactly what it
// sees alone: the same events and, after every batch, the same leaf values
// (exact doubles), through rule replacement, removal, a rule added later
// (own windows, not the older rules' history) and restored state.
TEST(engine, shared_windows_give_what_separate_windows_give) {
  const std::string same = R"("measurement": "m", "where": [{"tag": "sensor", "value": "temp"}],
      "group_by": ["host"], )";
  auto with = [&](const std::string& id, const std::string& rest) {
    return R"({"id": ")" + id + R"(", )" + same + rest + "}";
  };
  std::vector<std::string> rules = {
      with(
          "a1",
          R"("when": {"type": "aggregate", "fn": "mean", "field": "v", "window": "10s", "op": ">", "value": 50, "clear": 45})"),
      with(
          "a2",
          R"("for": "3s", "when": {"type": "aggregate", "fn": "sum", "field": "v", "window": "10s", "op": ">", "value": 300})"),
      with("a3", R"("when": {"type": "rate", "field": "v", "window": "10s", "op": ">", "value": 3})"),
      with(
          "a4",
          R"("when": {"type": "aggregate", "fn": "max", "field": "v", "window": "10s", "op": ">", "value": 90})"),
      with(
          "a5",
          R"("when": {"type": "aggregate", "fn": "max", "field": "v", "window": "10s", "op": ">", "value": 80})"),
      with(
          "a6",
          R"("when": {"type": "aggregate", "fn": "min", "field": "v", "window": "10s", "op": "<", "value": 10})"),
      with(
          "a7",
          R"("when": {"any": [{"type": "aggregate", "fn": "count", "field": "v", "window": "10s", "op": ">=", "value": 9},
                                     {"type": "aggregate", "fn": "mean", "field": "v", "window": "10s", "op": "<", "value": 40}]})"),
      with(
          "a8",
          R"("when": {"type": "anomaly", "field": "v", "method": "ewma", "threshold": 1.5, "min_samples": 3})"),
      with(
          "a9",
          R"("when": {"type": "anomaly", "field": "v", "method": "ewma", "threshold": 2, "min_samples": 3})"),
      with(
          "a10",
          R"("when": {"type": "anomaly", "field": "v", "method": "robust_z", "threshold": 2, "window": 20, "min_samples": 5})"),
      with(
          "c1",
          R"("when": {"type": "aggregate", "fn": "mean", "field": "v", "window": "20s", "op": ">", "value": 50})"),
      with("c2", R"("when": {"type": "rate", "field": "w", "window": "10s", "op": "<", "value": -3})"),
      R"({"id": "b1", "measurement": "m", "where": [{"tag": "sensor", "value": "temp"}, {"tag": "host", "op": "!=", "value": "h3"}],
          "group_by": ["host"], "when": {"type": "aggregate", "fn": "mean", "field": "v", "window": "10s", "op": ">", "value": 50}})",
      R"({"id": "b2", "measurement": "m", "group_by": ["host"],
          "when": {"type": "aggregate", "fn": "mean", "field": "v", "window": "10s", "op": ">", "value": 50}})",
  };
  recorder shared_rec;
  engine shared(shared_rec.sink());
  struct alone {
    recorder rec;
    std::unique_ptr<engine> e;
  };
  std::map<std::string, alone> separate;
  auto add = [&](const std::string& json, int64_t t) {
    rule r = must_parse(json);
    ASSERT_TRUE(shared.add_rule(r, t).ok());
    alone& a = separate[r.id];
    if (!a.e) a.e = std::make_unique<engine>(a.rec.sink());
    ASSERT_TRUE(a.e->add_rule(r, t).ok());
  };
  for (const auto& r : rules) add(r, 0);

  std::mt19937 rng(5);
  int64_t now = 0;
  for (int t = 1; t <= 300; ++t) {
    // A second apart, and every 25th batch after a gap longer than the
    // windows (one sample left: the sum's drift is reset).
    now += t % 25 == 0 ? 11 : 1;
    if (t == 80) {  // replaced: new groups with their own windows; the others keep theirs
      add(with(
              "a2",
              R"("when": {"type": "aggregate", "fn": "sum", "field": "v", "window": "10s", "op": ">", "value": 350})"),
          now * sec);
    }
    if (t == 120) {
      ASSERT_TRUE(shared.remove_rule("a1", now * sec).ok());
      ASSERT_TRUE(separate["a1"].e->remove_rule("a1", now * sec).ok());
    }
    if (t == 150) {  // added later: starts empty, unlike the windows of a3..a7
      add(with(
              "a11",
              R"("when": {"type": "aggregate", "fn": "mean", "field": "v", "window": "10s", "op": ">", "value": 50})"),
          now * sec);
    }
    if (t == 200) {
      std::string state = shared.serialize_state();
      ASSERT_TRUE(shared.deserialize_state(state).ok());
      for (auto& [id, a] : separate) ASSERT_TRUE(a.e->deserialize_state(state).ok());
    }
    // A batch a second, series in random order, values with fractions (a
    // sum that took a sample twice or in another order would differ).
    std::vector<std::string> keys;
    std::vector<std::vector<model::field_view>> fields;
    for (const char* host : {"h1", "h2", "h3"}) {
      for (const char* sensor : {"temp", "rpm"}) {
        if (rng() % 4 == 0) continue;
        keys.push_back(model::series_key("m", {{"host", host}, {"sensor", sensor}}));
        double v = static_cast<double>(rng() % 1000) / 10.0 + 0.1;
        if (rng() % 5 == 0) {
          fields.push_back({{"v", v}});
        } else {
          fields.push_back({{"v", v}, {"w", static_cast<double>(rng() % 300) / 7.0}});
        }
      }
    }
    std::vector<engine::series_point> batch;
    for (size_t i = 0; i < keys.size(); ++i) batch.push_back({keys[i], now * sec, fields[i]});
    shared.process_series(batch);
    for (auto& [id, a] : separate) {
      for (size_t i = 0; i < keys.size(); ++i) a.e->process_series(keys[i], fields[i], now * sec);
    }
    for (auto& [id, a] : separate) {
      ASSERT_EQ(leaves_of(shared, id), leaves_of(*a.e, id)) << id << " at " << now;
    }
  }
  // a3..a7 share one window, a8 and a9 one detector, a7's two leaves one
  // window; a10, b1, b2, c1, c2 and the later a2 and a11 keep their own.
  EXPECT_GT(shared.stats().shared_states, 0u);
  size_t total = 0;
  for (auto& [id, a] : separate) {
    std::vector<std::string> want, got;
    for (const auto& e : a.rec.events) want.push_back(without_id(e));
    for (const auto& e : shared_rec.events) {
      if (e.rule_id == id) got.push_back(without_id(e));
    }
    EXPECT_EQ(got, want) << id;
    EXPECT_EQ(a.e->stats().shared_states, id == "a7" ? 3u : 0u) << id;  // a7's second leaf, per host
    total += want.size();
  }
  EXPECT_GT(total, 100u);
}

// A rule of one leaf holds when the leaf is active, with the leaf's value,
// without walking its tree (engine::evaluate); all/any of that one leaf, at
// any depth, decide the same way. Each leaf alone and under one- and
// two-child trees that the full walk decides (the second child never active
// under any, always active under all) must raise the same events, value
// included, on random points.
TEST(engine, one_leaf_rules_decide_as_their_tree_would) {
  const std::vector<std::string> leaves = {
      R"({"type": "threshold", "field": "v", "op": ">", "value": 60, "clear": 50})",
      R"({"type": "aggregate", "fn": "mean", "field": "v", "window": "5s", "op": ">", "value": 55})",
      R"({"type": "aggregate", "fn": "max", "field": "v", "window": "4s", "op": ">", "value": 90, "clear": 70})",
      R"({"type": "aggregate", "fn": "min", "field": "v", "window": "4s", "op": "<", "value": 10})",
      R"({"type": "rate", "field": "v", "window": "3s", "op": "<", "value": -5})",
      R"({"type": "anomaly", "field": "v", "method": "ewma", "threshold": 1.5, "min_samples": 3})",
      R"({"type": "state", "field": "s", "state": "down", "for": "3s"})",
  };
  const std::vector<std::string> trees = {
      "LEAF",                           // one leaf: no walk
      R"({"all": [LEAF]})",             // one leaf: no walk
      R"({"any": [{"all": [LEAF]}]})",  // one leaf: no walk
      R"({"any": [LEAF, {"type": "threshold", "field": "never", "op": ">", "value": 0}]})",  // walked
      R"({"all": [LEAF, {"type": "threshold", "field": "v", "op": ">", "value": -1}]})",     // walked
  };
  for (size_t l = 0; l < leaves.size(); ++l) {
    std::vector<std::vector<std::string>> got(trees.size());
    for (size_t t = 0; t < trees.size(); ++t) {
      std::string when = trees[t];
      when.replace(when.find("LEAF"), 4, leaves[l]);
      recorder rec;
      engine e(rec.sink());
      ASSERT_TRUE(
          e.add_rule(must_parse(R"({"id": "r", "name": "same", "measurement": "m", "group_by": ["host"],
                                            "for": "2s", "when": )" +
                                when + "}"))
              .ok())
          << when;
      std::mt19937 rng(static_cast<unsigned>(l) + 11);
      for (int i = 1; i <= 400; ++i) {
        const std::string host = rng() % 2 ? "h1" : "h2";
        double v = static_cast<double>(rng() % 1000) / 10.0;
        e.process(pt("m", {{"host", host}}, {{"v", v}, {"s", std::string(rng() % 3 ? "up" : "down")}}, i));
        if (i % 7 == 0) e.tick(i * sec);
      }
      for (const auto& ev : rec.events) got[t].push_back(without_id(ev));
      EXPECT_GT(got[t].size(), 2u) << when;
    }
    for (size_t t = 1; t < trees.size(); ++t) EXPECT_EQ(got[t], got[0]) << leaves[l] << " under " << trees[t];
  }
}

// A leaf finds its field by comparing names in pieces (leaf_plan::is_field:
// overlapping words up to 12 bytes, memcmp beyond): at every name length,
// a point whose other fields differ from the name in one byte anywhere, or
// are one byte shorter or longer, must not reach the rule.
TEST(engine, field_names_match_exactly_at_every_length) {
  for (size_t len = 1; len <= 20; ++len) {
    std::string name;
    for (size_t i = 0; i < len; ++i) name += static_cast<char>('a' + i % 26);
    recorder rec;
    engine e(rec.sink());
    ASSERT_TRUE(
        e.add_rule(must_parse(R"({"id": "r", "measurement": "m", "when": {"type": "threshold", "field": ")" +
                              name + R"(", "op": ">", "value": 50}})"))
            .ok());
    std::vector<model::field> near;
    for (size_t i = 0; i < len; ++i) {
      std::string other = name;
      other[i] = 'Z';
      near.push_back({other, 100.0});
    }
    near.push_back({name.substr(0, len - 1), 100.0});
    near.push_back({name + "a", 100.0});
    std::vector<model::field> fields = near;
    fields.push_back({name, 0.0});
    e.process(pt("m", {}, fields, 1));
    fields.back().value = 100.0;
    e.process(pt("m", {}, fields, 2));
    EXPECT_EQ(rec.summary(), strings({"firing@2"})) << name;
    e.process(pt("m", {}, near, 3));  // no field of the rule: nothing changes
    e.process(pt("m", {}, {{name, 0.0}}, 4));
    EXPECT_EQ(rec.summary(), strings({"firing@2", "resolved@4"})) << name;
  }
}

TEST(engine, anomaly_condition) {
  recorder rec;
  engine e(rec.sink());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "vib", "measurement": "m",
      "when": {"type": "anomaly", "field": "v", "method": "robust_z", "threshold": 6, "clear": 3,
               "window": 30, "min_samples": 20}})"))
                  .ok());
  std::mt19937 rng(11);
  std::normal_distribution<double> noise(0.0, 1.0);
  for (int64_t t = 0; t < 100; ++t) e.process(pt("m", {}, {{"v", 10 + noise(rng)}}, t));
  EXPECT_TRUE(rec.events.empty());
  e.process(pt("m", {}, {{"v", 30.0}}, 100));
  e.process(pt("m", {}, {{"v", 10.0}}, 101));
  EXPECT_EQ(rec.summary(), (strings{"firing@100", "resolved@101"}));
  EXPECT_GT(rec.events[0].value, 6);
}

TEST(engine, replacing_and_removing_rules_resolves_open_alerts) {
  recorder rec;
  engine e(rec.sink());
  const char* json = R"({"id": "r", "measurement": "m",
      "when": {"type": "threshold", "field": "v", "op": ">", "value": 80}})";
  ASSERT_TRUE(e.add_rule(must_parse(json)).ok());
  feed(e, {90});
  // The identical definition again keeps the open alert.
  ASSERT_TRUE(e.add_rule(must_parse(json), 3 * sec).ok());
  EXPECT_EQ(e.alerts().size(), 1u);
  rule r2 = must_parse(json);
  r2.version = 2;
  ASSERT_TRUE(e.add_rule(r2, 5 * sec).ok());
  EXPECT_EQ(e.find_rule("r")->version, 2);
  feed(e, {90}, 6);
  ASSERT_TRUE(e.remove_rule("r", 7 * sec).ok());
  EXPECT_EQ(e.remove_rule("r", 7 * sec).code(), errc::not_found);
  EXPECT_EQ(rec.summary(), (strings{"firing@1", "resolved@5", "firing@6", "resolved@7"}));
  EXPECT_EQ(rec.events[1].message, "r resolved value=90 (rule replaced)");
  EXPECT_EQ(e.rule_count(), 0u);
}

TEST(engine, invalid_rule_is_refused) {
  engine e(nullptr);
  rule r;
  r.id = "x";
  EXPECT_EQ(e.add_rule(r).code(), errc::invalid_argument);
  EXPECT_EQ(e.rule_count(), 0u);
}

TEST(engine, persistence_round_trip) {
  recorder rec;
  engine e(rec.sink());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "hot", "measurement": "m", "group_by": ["host"],
      "when": {"type": "threshold", "field": "v", "op": ">", "value": 80, "clear": 70}})"))
                  .ok());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "silent", "measurement": "m", "group_by": ["host"],
      "when": {"type": "absence", "for": "30s"}})"))
                  .ok());
  e.process(pt("m", {{"host", "a"}}, {{"v", 90.0}}, 1));
  e.process(pt("m", {{"host", "b"}}, {{"v", 95.0}}, 2));
  ASSERT_TRUE(e.acknowledge("hot", {{"host", "b"}}, "ann", "known", 3 * sec).ok());
  std::string rules_json = e.serialize_rules();
  std::string state_json = e.serialize_state();

  recorder rec2;
  engine restored(rec2.sink());
  ASSERT_TRUE(restored.deserialize_rules(rules_json).ok());
  ASSERT_TRUE(restored.deserialize_state(state_json).ok());
  EXPECT_EQ(restored.rules(), e.rules());
  auto before = e.alerts();
  auto after = restored.alerts();
  ASSERT_EQ(after.size(), 2u);
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].alert_id, before[i].alert_id);
    EXPECT_EQ(after[i].state, before[i].state);
    EXPECT_EQ(after[i].user, before[i].user);
    EXPECT_EQ(after[i].started, before[i].started);
  }
  // No duplicate firing after the restart; hysteresis state kept (75 > 70:
  // still firing); below the clear level resolves with the same alert id.
  restored.process(pt("m", {{"host", "a"}}, {{"v", 75.0}}, 10));
  EXPECT_TRUE(rec2.events.empty());
  restored.process(pt("m", {{"host", "a"}}, {{"v", 60.0}}, 11));
  // Absence clocks survive too: b last seen at 2 s.
  restored.tick(32 * sec);
  EXPECT_EQ(rec2.summary(), (strings{"resolved@11,a", "firing@32,b"}));
  EXPECT_EQ(rec2.events[0].alert_id, before[0].alert_id);
  // New alerts continue the id sequence.
  EXPECT_GT(rec2.events[1].alert_id, before[1].alert_id);
}

// The state file is written by hand: awkward text (quotes, control bytes,
// invalid UTF-8 in a tag, a comment with newlines) and non-finite values
// still give JSON that loads, and a second save of the loaded state is the
// same as the first.
TEST(engine, state_with_awkward_text_round_trips) {
  recorder rec;
  engine e(rec.sink());
  ASSERT_TRUE(e.add_rule(must_parse(R"({"id": "quote", "measurement": "m", "group_by": ["host"],
      "when": {"type": "threshold", "field": "v", "op": ">", "value": 0}})"))
                  .ok());
  e.process(pt("m", {{"host", "a\"b\\c\n\x01\xff"}}, {{"v", 1.0}}, 1));
  e.process(pt("m", {{"host", "nan"}}, {{"v", std::nan("")}}, 2));
  ASSERT_TRUE(
      e.acknowledge("quote", {{"host", "a\"b\\c\n\x01\xff"}}, "ann", "line 1\nline \"2\"", 3 * sec).ok());
  std::string state = e.serialize_state();
  ASSERT_TRUE(nlohmann::json::accept(state)) << state;
  recorder rec2;
  engine restored(rec2.sink());
  ASSERT_TRUE(restored.deserialize_rules(e.serialize_rules()).ok());
  ASSERT_TRUE(restored.deserialize_state(state).ok());
  auto after = restored.alerts();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].comment, "line 1\nline \"2\"");
  // The invalid byte became U+FFFD; everything else is kept exactly.
  EXPECT_EQ(after[0].group.at(0).value, "a\"b\\c\n\x01\xEF\xBF\xBD");
}

TEST(engine, bad_state_is_refused_without_changes) {
  engine e(nullptr);
  EXPECT_EQ(e.deserialize_state("{").code(), errc::corruption);
  EXPECT_EQ(e.deserialize_state(R"({"format": 2})").code(), errc::corruption);
  EXPECT_EQ(e.deserialize_rules(R"([{"id": "x"}])").code(), errc::invalid_argument);
  EXPECT_EQ(e.rule_count(), 0u);
}

TEST(alert_event, as_point_and_json) {
  alert_event ev;
  ev.rule_id = "hot";
  ev.rule_name = "Hot";
  ev.rule_version = 2;
  ev.severity = "critical";
  ev.group = {{"host", "a"}};
  ev.alert_id = 7;
  ev.state = alert_state::acknowledged;
  ev.previous = alert_state::firing;
  ev.value = 90;
  ev.message = "m";
  ev.time = 5;
  ev.started = 1;
  ev.user = "ann";
  model::point p = to_point(ev);
  EXPECT_EQ(p.measurement, "alerts");
  EXPECT_EQ(p.tags, (std::vector<model::tag>{{"host", "a"}, {"rule_id", "hot"}, {"severity", "critical"}}));
  EXPECT_EQ(p.time, 5);
  EXPECT_EQ(p.fields[3], (model::field{"state", std::string("acknowledged")}));
  EXPECT_EQ(p.fields.back(), (model::field{"user", std::string("ann")}));
  auto j = to_json(ev);
  EXPECT_EQ(j["group"]["host"], "a");
  EXPECT_EQ(j["state"], "acknowledged");
  EXPECT_EQ(j["alert_id"], 7);
}

}  // namespace
}  // namespace liandu::toolbox::rules
