#include "toolbox/twin/twin.h"

#include <gtest/gtest.h>

namespace liandu::toolbox::twin {
namespace {

using json = nlohmann::json;

definition def(const char* text) {
  auto d = parse_definition(json::parse(text));
  EXPECT_TRUE(d.ok()) << d.error().message();
  return d.ok() ? *d : definition{};
}

// Feeds one `setpoints` point for a machine.
std::vector<drift_event> report(registry& r, const std::string& machine,
                                std::vector<model::field_view> fields, int64_t time,
                                const std::string& measurement = "setpoints") {
  std::vector<drift_event> out;
  std::vector<model::tag> tags = {{"line", "l1"}, {"machine", machine}};
  r.observe(measurement, tags, fields, time, out);
  return out;
}

TEST(twin, parse_definition_defaults_and_errors) {
  definition d = def(R"({"device": "m1", "desired": {"speed": 1200, "on": true, "mode": "auto"}})");
  EXPECT_EQ(d.measurement, "setpoints");
  EXPECT_EQ(d.device_tag, "machine");
  EXPECT_EQ(d.desired.size(), 3u);
  EXPECT_EQ(std::get<double>(d.desired["speed"]), 1200);
  EXPECT_FALSE(d.tolerance.has_value());

  d = def(
      R"({"device": "m1", "desired": {"a": 1}, "tolerance": {"a": 0.5}, "measurement": "cfg", "tag": "dev"})");
  EXPECT_EQ(d.tolerances["a"], 0.5);
  EXPECT_EQ(d.measurement, "cfg");
  EXPECT_EQ(d.device_tag, "dev");
  EXPECT_EQ(*def(R"({"device": "m1", "desired": {}, "tolerance": 2})").tolerance, 2);

  auto err = [](const char* text) {
    auto d = parse_definition(json::parse(text));
    EXPECT_FALSE(d.ok()) << text;
    return d.ok() ? std::string() : d.error().message();
  };
  EXPECT_EQ(err(R"({"desired": {}})"), "device: required");
  EXPECT_EQ(err(R"({"device": "m1"})"), "desired: required");
  EXPECT_EQ(err(R"({"device": "m1", "desired": {"x": null}})"),
            "desired.x: must be a number, boolean or string");
  EXPECT_EQ(err(R"({"device": "m1", "desired": {"x": [1]}})"),
            "desired.x: must be a number, boolean or string");
  EXPECT_EQ(err(R"({"device": "m1", "desired": {}, "tolerance": -1})"),
            "tolerance: must be a non-negative number");
  EXPECT_EQ(err(R"({"device": "m1", "desired": {}, "desierd": {}})"), "desierd: unknown member");

  // round trip through JSON
  d = def(R"({"device": "m1", "desired": {"a": 1, "b": "x"}, "tolerance": 1, "tolerances": {"a": 0.1}})");
  auto again = parse_definition(definition_to_json(d));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, d);
}

TEST(twin, matches_with_tolerance_and_types) {
  EXPECT_TRUE(matches(1200.0, 1200.0, 0));
  EXPECT_FALSE(matches(1200.0, 1200.5, 0));
  EXPECT_TRUE(matches(1200.0, 1205.0, 5));
  EXPECT_FALSE(matches(1200.0, 1205.1, 5));
  EXPECT_TRUE(matches(true, true, 0));
  EXPECT_FALSE(matches(true, false, 100));
  EXPECT_TRUE(matches(std::string("auto"), std::string("auto"), 0));
  EXPECT_FALSE(matches(std::string("1200"), 1200.0, 0));  // type mismatch
  EXPECT_FALSE(matches(1.0, true, 0));
}

TEST(twin, drift_start_change_and_resolve_emit_one_event_each) {
  registry r;
  std::vector<drift_event> out;
  ASSERT_TRUE(r.put(def(R"({"device": "m1", "desired": {"speed": 1200, "temp": 60}, "tolerance": 5,
                            "tolerances": {"temp": 0.5}})"),
                    1, out)
                  .ok());
  EXPECT_TRUE(out.empty());  // nothing reported yet: pending, not drifted
  EXPECT_TRUE(r.watches("setpoints"));
  EXPECT_FALSE(r.watches("machine"));

  // In tolerance: no event. Integers compare as numbers.
  EXPECT_TRUE(report(r, "m1", {{"speed", int64_t{1203}}, {"temp", 60.4}}, 10).empty());
  // Another device and another measurement are not this twin.
  EXPECT_TRUE(report(r, "m2", {{"speed", 9999.0}}, 11).empty());
  EXPECT_TRUE(report(r, "m1", {{"speed", 9999.0}}, 11, "machine").empty());

  // Drift starts: exactly one event, however many points keep it.
  auto e = report(r, "m1", {{"speed", 1210.0}}, 20);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].device, "m1");
  EXPECT_TRUE(e[0].drifted);
  EXPECT_EQ(e[0].params, std::vector<std::string>{"speed"});
  EXPECT_EQ(e[0].time, 20);
  EXPECT_EQ(std::get<double>(e[0].desired["speed"]), 1200);
  EXPECT_EQ(std::get<double>(e[0].reported["speed"]), 1210);
  EXPECT_TRUE(report(r, "m1", {{"speed", 1215.0}}, 30).empty());
  EXPECT_TRUE(report(r, "m1", {{"speed", 1215.0}, {"temp", 60.2}}, 40).empty());

  // The set of drifted params changes: one event.
  e = report(r, "m1", {{"temp", 61.0}}, 50);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_TRUE(e[0].drifted);
  EXPECT_EQ(e[0].params, (std::vector<std::string>{"speed", "temp"}));
  e = report(r, "m1", {{"speed", 1200.0}}, 60);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].params, std::vector<std::string>{"temp"});

  // An older point does not replace a newer report.
  EXPECT_TRUE(report(r, "m1", {{"temp", 60.0}}, 45).empty());
  EXPECT_EQ(std::get<double>(r.find("m1")->reported.at("temp").v), 61.0);

  // Resolved: one event with drifted false, then quiet.
  e = report(r, "m1", {{"temp", 60.0}}, 70);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_FALSE(e[0].drifted);
  EXPECT_TRUE(e[0].params.empty());
  EXPECT_TRUE(report(r, "m1", {{"temp", 60.1}, {"speed", 1201.0}}, 80).empty());

  auto p = to_point(e[0]);
  EXPECT_EQ(p.measurement, "twin_drift");
  EXPECT_EQ(p.tags, (std::vector<model::tag>{{"device", "m1"}}));
  EXPECT_EQ(p.fields, (std::vector<model::field>{
                          {"drifted", false}, {"params", std::string()}, {"count", int64_t{0}}}));
}

TEST(twin, type_mismatch_drifts_and_desired_change_reevaluates) {
  registry r(/*default_tolerance=*/0.01);
  std::vector<drift_event> out;
  ASSERT_TRUE(
      r.put(def(R"({"device": "m1", "desired": {"mode": "auto", "on": true, "sp": 10}})"), 1, out).ok());
  EXPECT_TRUE(report(r, "m1", {{"mode", std::string_view("auto")}, {"on", true}, {"sp", 10.005}}, 5).empty());
  auto e = report(r, "m1", {{"mode", int64_t{1}}}, 6);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].params, std::vector<std::string>{"mode"});
  EXPECT_EQ(to_point(e[0]).fields[1], (model::field{"params", std::string("mode")}));

  // Changing the desired value to what is reported resolves the drift at once.
  out.clear();
  ASSERT_TRUE(r.put(def(R"({"device": "m1", "desired": {"mode": 1, "on": true, "sp": 10}})"), 7, out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].drifted);
  EXPECT_EQ(out[0].time, 7);
  // ... and asking for something else starts one.
  out.clear();
  ASSERT_TRUE(r.put(def(R"({"device": "m1", "desired": {"mode": 1, "on": false, "sp": 10}})"), 8, out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].params, std::vector<std::string>{"on"});

  // Removing a drifted twin resolves it; removing again finds nothing.
  out.clear();
  EXPECT_TRUE(r.remove("m1", 9, out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].drifted);
  EXPECT_FALSE(r.remove("m1", 10, out));
  EXPECT_FALSE(r.watches("setpoints"));
}

TEST(twin, custom_measurement_and_tag) {
  registry r;
  std::vector<drift_event> out;
  ASSERT_TRUE(
      r.put(def(R"({"device": "gw-7", "desired": {"fw": "1.2"}, "measurement": "cfg", "tag": "dev"})"), 1,
            out)
          .ok());
  std::vector<model::tag> tags = {{"dev", "gw-7"}};
  EXPECT_TRUE(r.observe("cfg", tags, {{"fw", std::string_view("1.1")}}, 2, out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(report(r, "gw-7", {{"fw", std::string_view("1.2")}}, 3).empty());  // tag machine: not it
}

TEST(twin, state_survives_serialize_and_restart) {
  registry r;
  std::vector<drift_event> out;
  ASSERT_TRUE(
      r.put(def(R"({"device": "m1", "desired": {"sp": 100, "mode": "auto"}, "tolerance": 1})"), 1, out).ok());
  ASSERT_TRUE(r.put(def(R"({"device": "m2", "desired": {"sp": 5}})"), 1, out).ok());
  report(r, "m1", {{"sp", 110.0}, {"mode", std::string_view("auto")}}, 10);
  report(r, "m2", {{"sp", 5.0}}, 10);
  std::string saved = r.serialize();

  registry back;
  ASSERT_TRUE(back.deserialize(saved).ok());
  ASSERT_NE(back.find("m1"), nullptr);
  EXPECT_EQ(back.find("m1")->def, r.find("m1")->def);
  EXPECT_EQ(back.find("m1")->reported, r.find("m1")->reported);
  EXPECT_EQ(back.find("m1")->drift, std::vector<std::string>{"sp"});
  EXPECT_EQ(back.find("m1")->drift_changed, 10);
  EXPECT_TRUE(back.find("m2")->drift.empty());
  EXPECT_EQ(back.serialize(), saved);
  // The restored drift state is not announced again, and resolving it is.
  EXPECT_TRUE(report(back, "m1", {{"sp", 111.0}}, 20).empty());
  auto e = report(back, "m1", {{"sp", 100.5}}, 30);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_FALSE(e[0].drifted);

  registry bad;
  EXPECT_FALSE(bad.deserialize("{").ok());
  EXPECT_FALSE(bad.deserialize(R"({"twins": [{"desired": {}}]})").ok());
  EXPECT_FALSE(bad.deserialize(R"({"twins": [{"device": "x", "desired": {}, "reported": {"a": 1}}]})").ok());
  EXPECT_TRUE(bad.empty());
}

TEST(twin, json_views) {
  registry r;
  std::vector<drift_event> out;
  ASSERT_TRUE(r.put(def(R"({"device": "m1", "desired": {"sp": 100, "mode": "auto"}})"), 1, out).ok());
  report(r, "m1", {{"sp", 90.0}, {"extra", true}}, 10);
  json j = twin_to_json(*r.find("m1"));
  EXPECT_EQ(j["desired"], json({{"sp", 100.0}, {"mode", "auto"}}));
  EXPECT_EQ(j["reported"], json({{"sp", 90.0}, {"extra", true}}));
  EXPECT_EQ(j["pending"], json::array({"mode"}));
  EXPECT_EQ(j["drift"]["drifted"], true);
  EXPECT_EQ(j["drift"]["params"], json::array({"sp"}));
  drift_event e{"m1", true, {"sp"}, 10, {{"sp", 100.0}}, {{"sp", 90.0}}};
  EXPECT_EQ(to_json(e),
            json::parse(R"({"device": "m1", "drifted": true, "params": ["sp"], "count": 1, "time": 10,
                                        "desired": {"sp": 100.0}, "reported": {"sp": 90.0}})"));
}

}  // namespace
}  // namespace liandu::toolbox::twin
