#include "toolbox/service/rules_service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "base/clock.h"
#include "storage/fs/file_util.h"
#include "storage/testing/temp_dir.h"
#include "storage/write_batch.h"

namespace liandu::toolbox {
namespace {

using namespace std::chrono_literals;

// A storage engine with database "plant" in a fresh folder, and rules
// service options whose dir is in that folder too.
struct plant {
  storage::testing::temp_dir tmp;
  std::unique_ptr<storage::engine> engine;

  plant() {
    storage::engine_options eo;
    eo.data_dir = storage::fs::join(tmp.path(), "data");
    auto e = storage::engine::open(eo);
    EXPECT_TRUE(e.ok());
    if (!e.ok()) return;
    engine = std::move(*e);
    EXPECT_TRUE(engine->create_database("plant").ok());
  }
  rules_service::options options() const {
    rules_service::options ro;
    ro.dir = storage::fs::join(tmp.path(), "rules");
    return ro;
  }
  // A point with one field, now.
  void write(const char* measurement, const char* field, double v) {
    storage::write_batch b("plant", "");
    b.add(model::point{measurement, {}, {{field, v}}, now_ns()});
    EXPECT_TRUE(engine->write(b).st.ok());
  }
};

// Two receivers: "silent" holds every attempt until released (as a receiver
// that accepts the connection and never answers holds an attempt until the
// timeout), "ok" fails its first attempt and accepts the rest. The healthy
// receiver gets its transitions while the silent one's attempt hangs, in
// order, its failed first delivery retried before the later ones.
TEST(rules_service, a_silent_webhook_receiver_delays_only_its_own_deliveries) {
  plant p;
  ASSERT_TRUE(p.engine);

  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  int silent_calls = 0, ok_calls = 0;
  std::vector<std::string> ok_states;
  rules_service::options ro = p.options();
  ro.send_webhook = [&](const std::string& db, const std::string& receiver,
                        const std::string& body) -> status {
    EXPECT_EQ(db, "plant");
    std::unique_lock lock(mu);
    if (receiver == "silent") {
      ++silent_calls;
      cv.notify_all();
      cv.wait_for(lock, 30s, [&] { return release; });
      return error(errc::io_error, "timed out");
    }
    if (++ok_calls == 1) return error(errc::io_error, "HTTP 503");
    ok_states.push_back(nlohmann::json::parse(body)["state"]);
    cv.notify_all();
    return status();
  };
  rules_service rules(*p.engine, ro);
  p.engine->set_write_observer([&rules](std::string_view batch) { rules.on_batch(batch); });
  ASSERT_TRUE(rules.start().ok());
  for (const char* rule :
       {R"({"id": "hot", "measurement": "oven", "actions": [{"type": "webhook", "receiver": "silent"}],
                              "when": {"type": "threshold", "field": "temp", "op": ">", "value": 80}})",
        R"({"id": "pressure", "measurement": "press", "actions": [{"type": "webhook", "receiver": "ok"}],
                              "when": {"type": "threshold", "field": "bar", "op": ">", "value": 5}})"}) {
    auto r = rules.put_rule("plant", rule);
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  p.write("oven", "temp", 90);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return silent_calls == 1; }));
  }
  // The silent receiver's attempt now hangs.
  const auto start = std::chrono::steady_clock::now();
  p.write("press", "bar", 9);
  for (int i = 0; i < 500 && rules.alerts("plant").size() < 2; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(rules.acknowledge("plant", "pressure", {}, "ann", "on it").ok());
  p.write("press", "bar", 1);
  {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, 10s, [&] { return ok_states.size() >= 3; }));
    // The first delivery is retried after 1 s; nothing waits for the silent receiver.
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
    EXPECT_EQ(ok_states, (std::vector<std::string>{"firing", "acknowledged", "resolved"}));
    EXPECT_EQ(silent_calls, 1);
  }
  // A delivery is counted once the sender has returned.
  for (int i = 0; i < 500 && rules.webhook_receiver_stats("plant", "ok").delivered < 3; ++i)
    std::this_thread::sleep_for(10ms);
  auto ok = rules.webhook_receiver_stats("plant", "ok");
  EXPECT_EQ((std::vector<uint64_t>{ok.attempts, ok.delivered, ok.failed, ok.queued}),
            (std::vector<uint64_t>{4, 3, 0, 0}));
  EXPECT_EQ(ok.last_error, "HTTP 503");
  auto silent = rules.webhook_receiver_stats("plant", "silent");
  EXPECT_EQ((std::vector<uint64_t>{silent.attempts, silent.delivered, silent.queued}),
            (std::vector<uint64_t>{0, 0, 1}));
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  rules.stop();  // waits for the attempt in progress, which now ends
  p.engine->set_write_observer(nullptr);
  silent = rules.webhook_receiver_stats("plant", "silent");
  EXPECT_EQ((std::vector<uint64_t>{silent.attempts, silent.failed, silent.queued}),
            (std::vector<uint64_t>{1, 0, 1}));
  EXPECT_EQ(silent.last_error, "timed out");
}

// A delivery still queued when the service stops (its receiver was down) is
// kept in <dir>/webhooks.log and made after the restart, before the
// deliveries queued since, once.
TEST(rules_service, queued_webhook_deliveries_are_made_after_a_restart_before_new_ones) {
  plant p;
  ASSERT_TRUE(p.engine);

  std::mutex mu;
  std::condition_variable cv;
  int attempts = 0;
  std::vector<std::string> got;  // rule id and state of each delivery
  bool up = false;
  rules_service::options ro = p.options();
  ro.send_webhook = [&](const std::string&, const std::string&, const std::string& body) -> status {
    std::lock_guard lock(mu);
    ++attempts;
    cv.notify_all();
    if (!up) return error(errc::io_error, "connection refused");
    auto j = nlohmann::json::parse(body);
    got.push_back(j["rule_id"].get<std::string>() + " " + j["state"].get<std::string>());
    return status();
  };
  {
    rules_service rules(*p.engine, ro);
    p.engine->set_write_observer([&rules](std::string_view batch) { rules.on_batch(batch); });
    ASSERT_TRUE(rules.start().ok());
    ASSERT_TRUE(rules
                    .put_rule("plant", R"({"id": "hot", "measurement": "oven",
        "actions": [{"type": "webhook", "receiver": "ops"}],
        "when": {"type": "threshold", "field": "temp", "op": ">", "value": 80}})")
                    .ok());
    p.write("oven", "temp", 90);
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return attempts >= 1; }));
    lock.unlock();
    rules.stop();
    p.engine->set_write_observer(nullptr);
    EXPECT_EQ(rules.webhook_stats().queued, 1u);
  }
  {
    std::lock_guard lock(mu);
    up = true;
  }
  rules_service rules(*p.engine, ro);
  p.engine->set_write_observer([&rules](std::string_view batch) { rules.on_batch(batch); });
  {
    // The receiver is held until a new alert is queued behind the restored one.
    std::unique_lock lock(mu);
    ASSERT_TRUE(rules.start().ok());
    EXPECT_EQ(rules.webhook_stats().restored, 1u);
    ASSERT_TRUE(rules
                    .put_rule("plant", R"({"id": "pressure", "measurement": "press",
        "actions": [{"type": "webhook", "receiver": "ops"}],
        "when": {"type": "threshold", "field": "bar", "op": ">", "value": 5}})")
                    .ok());
    p.write("press", "bar", 9);
    for (int i = 0; i < 500 && rules.webhook_stats().enqueued < 1; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(rules.webhook_stats().queued, 2u);
  }
  {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, 10s, [&] { return got.size() >= 2; }));
    EXPECT_EQ(got, (std::vector<std::string>{"hot firing", "pressure firing"}));
  }
  rules.stop();
  p.engine->set_write_observer(nullptr);
  EXPECT_EQ(rules.webhook_stats().queued, 0u);
  // Delivered: nothing is made again at the next start.
  rules_service again(*p.engine, ro);
  ASSERT_TRUE(again.start().ok());
  EXPECT_EQ(again.webhook_stats().restored, 0u);
  again.stop();
}

}  // namespace
}  // namespace liandu::toolbox
