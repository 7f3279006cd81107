#include "toolbox/service/twin_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "storage/fs/file_util.h"
#include "storage/testing/temp_dir.h"
#include "storage/write_batch.h"
#include "toolbox/service/rules_service.h"

namespace liandu::toolbox {
namespace {

struct published {
  std::string topic, payload;
  int qos = 0;
  bool retain = false;
};

// A storage engine whose durable batches go to the services under test, and
// records of the twin_drift points and MQTT messages they produce.
struct fixture {
  storage::testing::temp_dir tmp;
  std::unique_ptr<storage::engine> engine;
  std::mutex mu;
  std::vector<model::point> drift_points;
  std::vector<published> messages;
  twin_service* twins = nullptr;
  rules_service* rules = nullptr;

  fixture() {
    storage::engine_options eo;
    eo.data_dir = storage::fs::join(tmp.path(), "data");
    auto e = storage::engine::open(eo);
    EXPECT_TRUE(e.ok());
    engine = std::move(*e);
    EXPECT_TRUE(engine->create_database("plant").ok());
    engine->set_write_observer([this](std::string_view batch) {
      storage::batch_reader reader(batch);
      storage::batch_point p;
      while (reader.next(p)) {
        model::point pt;
        if (!model::parse_series_key(p.series_key, pt.measurement, pt.tags) || pt.measurement != "twin_drift")
          continue;
        for (const auto& f : p.fields) {
          if (auto* s = std::get_if<std::string_view>(&f.value)) {
            pt.fields.push_back({std::string(f.key), std::string(*s)});
          } else if (auto* b = std::get_if<bool>(&f.value)) {
            pt.fields.push_back({std::string(f.key), *b});
          } else if (auto* i = std::get_if<int64_t>(&f.value)) {
            pt.fields.push_back({std::string(f.key), *i});
          }
        }
        pt.time = p.time;
        std::lock_guard lock(mu);
        drift_points.push_back(std::move(pt));
      }
      if (twins) twins->on_batch(batch);
      if (rules) rules->on_batch(batch);
    });
  }
  ~fixture() { engine->set_write_observer(nullptr); }

  twin_service::options twin_options(const std::string& dir) {
    twin_service::options o;
    o.dir = dir;
    o.publish = publisher();
    return o;
  }

  twin_service::publisher publisher() {
    return [this](const std::string& t, const std::string& p, int qos, bool retain) {
      std::lock_guard lock(mu);
      messages.push_back({t, p, qos, retain});
      return status();
    };
  }

  void write(const std::string& machine, double feed, int64_t time) {
    storage::write_batch b("plant", "");
    model::point p{"setpoints", {{"line", "l1"}, {"machine", machine}}, {{"feed_rate_sp", feed}}, time};
    b.add(p);
    ASSERT_TRUE(engine->write(b).st.ok());
  }

  template <class F>
  bool wait_for(F ok) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mu);
        if (ok()) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::lock_guard lock(mu);
    return ok();
  }
};

TEST(twin_service, drift_is_written_published_and_survives_restart) {
  fixture f;
  const std::string dir = storage::fs::join(f.tmp.path(), "twins");
  {
    twin_service svc(*f.engine, f.twin_options(dir));
    ASSERT_TRUE(svc.start().ok());
    f.twins = &svc;
    auto bad = svc.put("plant", R"({"device": "m1", "desired": {"feed_rate_sp": "x"}, "colour": 1})");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().message(), "colour: unknown member");
    auto t = svc.put("plant", R"({"device": "m1", "desired": {"feed_rate_sp": 1200}, "tolerance": 5})");
    ASSERT_TRUE(t.ok()) << t.error().message();
    EXPECT_EQ((*t)["pending"], nlohmann::json::array({"feed_rate_sp"}));

    f.write("m1", 1202, 100);  // in tolerance
    f.write("m2", 9999, 101);  // no twin
    f.write("m1", 1300, 200);  // drift starts
    f.write("m1", 1301, 300);  // still drifted: nothing new
    ASSERT_TRUE(f.wait_for([&] { return f.drift_points.size() >= 1 && f.messages.size() >= 1; }));
    // Wait until the last point is applied.
    ASSERT_TRUE(f.wait_for([&] { return svc.get("plant", "m1")->at("reported")["feed_rate_sp"] == 1301.0; }));
    {
      std::lock_guard lock(f.mu);
      ASSERT_EQ(f.drift_points.size(), 1u);
      EXPECT_EQ(f.drift_points[0].tags, (std::vector<model::tag>{{"device", "m1"}}));
      EXPECT_EQ(f.drift_points[0].fields,
                (std::vector<model::field>{
                    {"drifted", true}, {"params", std::string("feed_rate_sp")}, {"count", int64_t{1}}}));
      EXPECT_EQ(f.drift_points[0].time, 200);
      ASSERT_EQ(f.messages.size(), 1u);
      EXPECT_EQ(f.messages[0].topic, "liandu/plant/twins/m1/drift");
      EXPECT_EQ(f.messages[0].qos, 1);
      auto body = nlohmann::json::parse(f.messages[0].payload);
      EXPECT_EQ(body["drifted"], true);
      EXPECT_EQ(body["db"], "plant");
      EXPECT_EQ(body["reported"]["feed_rate_sp"], 1300.0);
    }
    auto list = svc.list("plant");
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0]["drift"]["params"], nlohmann::json::array({"feed_rate_sp"}));
    EXPECT_TRUE(svc.list("other").empty());
    EXPECT_EQ(svc.get("plant", "nope").error().code(), errc::not_found);
    EXPECT_EQ(svc.stats().drift_events, 1u);
    svc.stop();
    f.twins = nullptr;
  }
  {
    // After a restart the twin is drifted still, and resolving emits once.
    twin_service svc(*f.engine, f.twin_options(dir));
    ASSERT_TRUE(svc.start().ok());
    f.twins = &svc;
    auto t = svc.get("plant", "m1");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ((*t)["drift"]["drifted"], true);
    EXPECT_EQ((*t)["reported"]["feed_rate_sp"], 1301.0);
    f.write("m1", 1305, 400);
    f.write("m1", 1200, 500);
    ASSERT_TRUE(f.wait_for([&] { return f.drift_points.size() >= 2; }));
    ASSERT_TRUE(f.wait_for([&] { return svc.get("plant", "m1")->at("reported")["feed_rate_sp"] == 1200.0; }));
    std::lock_guard lock(f.mu);
    ASSERT_EQ(f.drift_points.size(), 2u);
    EXPECT_EQ(f.drift_points[1].fields[0], (model::field{"drifted", false}));
    EXPECT_EQ(f.drift_points[1].time, 500);
    f.twins = nullptr;
  }
}

TEST(twin_service, put_and_remove_change_the_drift_state) {
  fixture f;
  twin_service svc(*f.engine, f.twin_options(storage::fs::join(f.tmp.path(), "twins")));
  ASSERT_TRUE(svc.start().ok());
  f.twins = &svc;
  ASSERT_TRUE(svc.put("plant", R"({"device": "m1", "desired": {"feed_rate_sp": 1200}})").ok());
  f.write("m1", 1200, 100);
  ASSERT_TRUE(f.wait_for([&] { return svc.get("plant", "m1")->at("pending").empty(); }));
  EXPECT_TRUE(f.drift_points.empty());
  // A new desired value drifts at once; removing the twin resolves it.
  ASSERT_TRUE(svc.put("plant", R"({"device": "m1", "desired": {"feed_rate_sp": 1000}})").ok());
  EXPECT_EQ(svc.remove("plant", "m1").code(), errc::ok);
  EXPECT_EQ(svc.remove("plant", "m1").code(), errc::not_found);
  ASSERT_TRUE(f.wait_for([&] { return f.drift_points.size() >= 2 && f.messages.size() >= 2; }));
  std::lock_guard lock(f.mu);
  EXPECT_EQ(f.drift_points[0].fields[0], (model::field{"drifted", true}));
  EXPECT_EQ(f.drift_points[1].fields[0], (model::field{"drifted", false}));
  f.twins = nullptr;
}

// A twin created after its device reported starts from the newest stored
// value (over every series of the device), not from nothing: its drift is
// known at once. An older stored value never replaces a newer report.
TEST(twin_service, new_twin_learns_what_the_device_already_reported) {
  fixture f;
  f.write("m1", 1100, 100);
  f.write("m1", 1300, 300);  // the newest: drifted against 1200 +- 5
  f.write("m1", 1200, 200);  // out of order, older
  {
    // The same device on another line: another series, older still.
    storage::write_batch b("plant", "");
    b.add(model::point{"setpoints", {{"line", "l2"}, {"machine", "m1"}}, {{"feed_rate_sp", 1201.0}}, 50});
    ASSERT_TRUE(f.engine->write(b).st.ok());
  }
  f.write("m2", 1200, 400);  // another device
  twin_service svc(*f.engine, f.twin_options(storage::fs::join(f.tmp.path(), "twins")));
  ASSERT_TRUE(svc.start().ok());
  f.twins = &svc;
  auto t =
      svc.put("plant", R"({"device": "m1", "desired": {"feed_rate_sp": 1200, "speed": 5}, "tolerance": 5})");
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_EQ((*t)["reported"]["feed_rate_sp"], 1300.0);
  EXPECT_EQ((*t)["reported_time"]["feed_rate_sp"], 300);
  EXPECT_EQ((*t)["pending"], nlohmann::json::array({"speed"}));  // never reported
  EXPECT_EQ((*t)["drift"]["drifted"], true);
  EXPECT_EQ((*t)["drift"]["params"], nlohmann::json::array({"feed_rate_sp"}));
  ASSERT_TRUE(f.wait_for([&] { return f.drift_points.size() >= 1; }));
  // A twin of a device with nothing stored starts pending, as before.
  auto fresh = svc.put("plant", R"({"device": "m9", "desired": {"feed_rate_sp": 1}})");
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ((*fresh)["pending"], nlohmann::json::array({"feed_rate_sp"}));
  // Re-putting m1 keeps the newer report it already has.
  f.write("m1", 1199, 600);
  ASSERT_TRUE(f.wait_for([&] { return svc.get("plant", "m1")->at("reported")["feed_rate_sp"] == 1199.0; }));
  auto again = svc.put("plant", R"({"device": "m1", "desired": {"feed_rate_sp": 1200}, "tolerance": 5})");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)["reported"]["feed_rate_sp"], 1199.0);
  EXPECT_EQ((*again)["drift"]["drifted"], false);
  f.twins = nullptr;
}

TEST(rules_service, mqtt_action_publishes_the_transition) {
  fixture f;
  rules_service::options ro;
  ro.dir = storage::fs::join(f.tmp.path(), "rules");
  rules_service rules(*f.engine, ro);
  ASSERT_TRUE(rules.start().ok());
  f.rules = &rules;
  // Without a publisher, an MQTT action is counted as an error; with one it is sent.
  ASSERT_TRUE(rules
                  .put_rule("plant", R"({"id": "drift", "measurement": "twin_drift", "group_by": ["device"],
                       "when": {"type": "threshold", "field": "drifted", "op": "==", "value": 1},
                       "actions": [{"type": "mqtt", "topic": "alerts/drift", "qos": 1, "retain": true}]})")
                  .ok());
  rules.set_publisher(f.publisher());
  storage::write_batch b("plant", "");
  b.add(model::point{"twin_drift", {{"device", "m1"}}, {{"drifted", true}}, 10});
  b.add(model::point{"twin_drift", {{"device", "m1"}}, {{"drifted", false}}, 20});
  ASSERT_TRUE(f.engine->write(b).st.ok());
  ASSERT_TRUE(f.wait_for([&] { return f.messages.size() >= 2; }));
  std::lock_guard lock(f.mu);
  EXPECT_EQ(f.messages[0].topic, "alerts/drift");
  EXPECT_EQ(f.messages[0].qos, 1);
  EXPECT_TRUE(f.messages[0].retain);
  auto firing = nlohmann::json::parse(f.messages[0].payload);
  EXPECT_EQ(firing["state"], "firing");
  EXPECT_EQ(firing["group"]["device"], "m1");
  EXPECT_EQ(nlohmann::json::parse(f.messages[1].payload)["state"], "resolved");
  f.rules = nullptr;
  rules.stop();
}

TEST(twin_service, drift_topic_escapes_topic_characters) {
  EXPECT_EQ(twin_service::drift_topic("db", "a/b+c#"), "liandu/db/twins/a_b_c_/drift");
}

}  // namespace
}  // namespace liandu::toolbox
