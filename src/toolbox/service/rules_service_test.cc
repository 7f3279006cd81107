#include "toolbox/service/rules_service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
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
  ro.send_webhook = [&](const std::string& db, const std::string& receiver, const std::string& body,
                        const std::string&) -> status {
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
// deliveries queued since, once, with the delivery id of its attempts before
// the restart.
TEST(rules_service, queued_webhook_deliveries_are_made_after_a_restart_before_new_ones) {
  plant p;
  ASSERT_TRUE(p.engine);

  std::mutex mu;
  std::condition_variable cv;
  int attempts = 0;
  std::vector<std::string> got;                               // rule id and state of each delivery
  std::map<std::string, std::set<std::string>> delivery_ids;  // of each rule's attempts
  bool up = false;
  rules_service::options ro = p.options();
  ro.send_webhook = [&](const std::string&, const std::string&, const std::string& body,
                        const std::string& delivery_id) -> status {
    std::lock_guard lock(mu);
    ++attempts;
    delivery_ids[nlohmann::json::parse(body)["rule_id"].get<std::string>()].insert(delivery_id);
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
    // One id for all attempts of a delivery, before and after the restart;
    // another for another delivery.
    ASSERT_EQ(delivery_ids["hot"].size(), 1u);
    ASSERT_EQ(delivery_ids["pressure"].size(), 1u);
    EXPECT_EQ(delivery_ids["hot"].begin()->size(), 36u) << *delivery_ids["hot"].begin();
    EXPECT_NE(*delivery_ids["hot"].begin(), *delivery_ids["pressure"].begin());
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

// What a kill -9 at this moment leaves: the service's folder as it is on
// disk now, copied to <tmp>/crash-<n>, for a service started there while the
// first one still runs (its stop() would save the state and hide the loss).
std::string crash_copy(const plant& p, int n) {
  const std::string to = storage::fs::join(p.tmp.path(), "crash-" + std::to_string(n));
  std::filesystem::copy(p.options().dir, to, std::filesystem::copy_options::recursive);
  return to;
}

// Options whose state is written whole only at stop() (not every 10 s), so
// that what a crash keeps is what the state log appended.
rules_service::options without_periodic_save(const plant& p) {
  rules_service::options ro = p.options();
  ro.state_save_interval_ms = 3'600'000;
  return ro;
}

// Waits (polling) until pred holds or 10 s have passed; returns pred().
template <typename Pred>
bool poll(Pred pred) {
  for (int i = 0; i < 1000 && !pred(); ++i) std::this_thread::sleep_for(10ms);
  return pred();
}

const char* const hot_rule = R"({"id": "hot", "measurement": "oven",
    "when": {"type": "threshold", "field": "temp", "op": ">", "value": 80}})";

// Starts rules as the stream's observer with hot_rule, writes a hot oven and
// waits until the alert is listed.
void fire_hot(plant& p, rules_service& rules) {
  p.engine->set_write_observer([&rules](std::string_view batch) { rules.on_batch(batch); });
  ASSERT_TRUE(rules.start().ok());
  ASSERT_TRUE(rules.put_rule("plant", hot_rule).ok());
  p.write("oven", "temp", 91);
  ASSERT_TRUE(poll([&] { return rules.alerts("plant").size() == 1; }));
}

// Issue #5: the alert state was saved only every state_save_interval_ms, so a
// kill -9 right after an alert fired forgot it and, while the condition
// still held, a second alert (new id, second webhook, second point) fired.
TEST(rules_service, a_firing_alert_survives_a_crash_right_after_it_is_visible) {
  plant p;
  ASSERT_TRUE(p.engine);
  rules_service::options ro = without_periodic_save(p);
  rules_service rules(*p.engine, ro);
  fire_hot(p, rules);
  const std::string crashed = crash_copy(p, 1);
  const uint64_t id = rules.alerts("plant")[0].alert_id;

  ro.dir = crashed;
  rules_service after(*p.engine, ro);
  p.engine->set_write_observer([&after](std::string_view batch) { after.on_batch(batch); });
  ASSERT_TRUE(after.start().ok());
  auto alerts = after.alerts("plant");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].alert_id, id);
  EXPECT_EQ(alerts[0].state, rules::alert_state::firing);
  // The condition still holds: the same alert stays open, nothing is emitted.
  p.write("oven", "temp", 92);
  ASSERT_TRUE(poll([&] { return after.stats().batches >= 1; }));
  EXPECT_EQ(after.stats().events, 0u);
  ASSERT_EQ(after.alerts("plant").size(), 1u);
  EXPECT_EQ(after.alerts("plant")[0].alert_id, id);
  p.engine->set_write_observer(nullptr);
}

// An acknowledgement is durable when acknowledge() returns (the API's 2xx),
// and a resolve as soon as alerts() stops listing the alert.
TEST(rules_service, acknowledge_and_resolve_survive_a_crash_right_after_they_are_visible) {
  plant p;
  ASSERT_TRUE(p.engine);
  rules_service::options ro = without_periodic_save(p);
  {
    // The firing is in the whole state, as a clean stop() leaves it.
    rules_service rules(*p.engine, ro);
    fire_hot(p, rules);
    rules.stop();
    p.engine->set_write_observer(nullptr);
  }
  rules_service rules(*p.engine, ro);
  p.engine->set_write_observer([&rules](std::string_view batch) { rules.on_batch(batch); });
  ASSERT_TRUE(rules.start().ok());
  ASSERT_TRUE(rules.acknowledge("plant", "hot", {}, "ann", "on it").ok());
  const std::string acked = crash_copy(p, 1);
  p.write("oven", "temp", 70);
  ASSERT_TRUE(poll([&] { return rules.alerts("plant").empty(); }));
  const std::string resolved = crash_copy(p, 2);
  p.engine->set_write_observer(nullptr);

  ro.dir = acked;
  rules_service after_ack(*p.engine, ro);
  ASSERT_TRUE(after_ack.start().ok());
  auto alerts = after_ack.alerts("plant");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].state, rules::alert_state::acknowledged);
  EXPECT_EQ(alerts[0].user, "ann");
  EXPECT_EQ(alerts[0].comment, "on it");
  after_ack.stop();

  ro.dir = resolved;
  rules_service after_resolve(*p.engine, ro);
  ASSERT_TRUE(after_resolve.start().ok());
  EXPECT_TRUE(after_resolve.alerts("plant").empty());
}

// Replacing or removing a rule resolves its alerts and drops its groups,
// which a change record cannot say: the whole state is written at once.
TEST(rules_service, alerts_of_a_replaced_or_removed_rule_stay_resolved_after_a_crash) {
  plant p;
  ASSERT_TRUE(p.engine);
  rules_service::options ro = without_periodic_save(p);
  rules_service rules(*p.engine, ro);
  fire_hot(p, rules);
  ASSERT_TRUE(rules.put_rule("plant", hot_rule).ok());  // the same again: nothing changes
  ASSERT_EQ(rules.alerts("plant").size(), 1u);
  ASSERT_TRUE(rules
                  .put_rule("plant", R"({"id": "hot", "measurement": "oven",
      "when": {"type": "threshold", "field": "temp", "op": ">", "value": 95}})")
                  .ok());
  ASSERT_TRUE(rules.alerts("plant").empty());
  const std::string replaced = crash_copy(p, 1);
  ASSERT_TRUE(rules.put_rule("plant", hot_rule).ok());
  p.write("oven", "temp", 91);
  ASSERT_TRUE(poll([&] { return rules.alerts("plant").size() == 1; }));
  ASSERT_TRUE(rules.delete_rule("plant", "hot").ok());
  ASSERT_TRUE(rules.put_rule("plant", hot_rule).ok());  // back, without groups
  const std::string removed = crash_copy(p, 2);
  p.engine->set_write_observer(nullptr);

  for (const std::string& dir : {replaced, removed}) {
    ro.dir = dir;
    rules_service after(*p.engine, ro);
    ASSERT_TRUE(after.start().ok());
    EXPECT_TRUE(after.alerts("plant").empty()) << dir;
  }
}

// The state field of the alerts points in a write batch.
std::vector<std::string> alert_states(std::string_view batch) {
  std::vector<std::string> out;
  storage::batch_reader reader(batch);
  storage::batch_point pt;
  while (reader.next(pt)) {
    if (pt.series_key.rfind("alerts,", 0) != 0) continue;
    for (const auto& f : pt.fields)
      if (f.key == "state") out.emplace_back(std::get<std::string_view>(f.value));
  }
  return out;
}

// Batches are copied into buffers of batches already evaluated: a small
// batch after large ones must be read as itself (no bytes of the earlier
// batch before or after it), and every batch must be evaluated.
TEST(rules_service, batches_copied_into_reused_buffers_are_read_whole) {
  plant p;
  ASSERT_TRUE(p.engine);
  rules_service rules(*p.engine, p.options());
  p.engine->set_write_observer([&rules](std::string_view batch) { rules.on_batch(batch); });
  ASSERT_TRUE(rules.start().ok());
  ASSERT_TRUE(rules.put_rule("plant", hot_rule).ok());
  const int64_t t0 = now_ns();
  for (int round = 0; round < 6; ++round) {
    // Large batches of cool ovens, each followed by a one-point batch.
    storage::write_batch big("plant", "");
    for (int i = 0; i < 2000; ++i) {
      big.add(model::point{"oven", {{"line", "l" + std::to_string(i)}}, {{"temp", 50.0}}, t0 + round});
    }
    ASSERT_TRUE(p.engine->write(big).st.ok());
    storage::write_batch small("plant", "");
    small.add(model::point{"oven", {{"line", "solo"}}, {{"temp", round == 5 ? 91.0 : 40.0}}, t0 + round});
    ASSERT_TRUE(p.engine->write(small).st.ok());
  }
  ASSERT_TRUE(poll([&] { return rules.stats().batches >= 12; }));
  ASSERT_TRUE(poll([&] { return rules.alerts("plant").size() == 1; }));
  std::this_thread::sleep_for(100ms);
  auto alerts = rules.alerts("plant");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(rules.stats().dropped_batches, 0u);
}

// An acknowledgement made on an API thread while the rules thread is still
// emitting the firing (the alert was listed as soon as it fired) used to be
// written and delivered before the firing.
TEST(rules_service, an_acknowledgement_is_emitted_after_the_firing_it_acknowledges) {
  plant p;
  ASSERT_TRUE(p.engine);
  rules_service rules(*p.engine, p.options());
  const auto test_thread = std::this_thread::get_id();
  std::mutex mu;
  std::condition_variable cv;
  bool held = false, release = false;
  std::vector<std::string> written;  // states of the alerts points, in the order written
  p.engine->set_write_observer([&](std::string_view batch) {
    auto states = alert_states(batch);
    std::unique_lock lock(mu);
    // The rules thread's first alerts point (the firing) is held.
    if (!held && !states.empty() && std::this_thread::get_id() != test_thread) {
      held = true;
      cv.notify_all();
      cv.wait_for(lock, 10s, [&] { return release; });
    }
    written.insert(written.end(), states.begin(), states.end());
    lock.unlock();
    rules.on_batch(batch);
  });
  ASSERT_TRUE(rules.start().ok());
  ASSERT_TRUE(rules.put_rule("plant", hot_rule).ok());
  p.write("oven", "temp", 91);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return held; }));
  }
  std::thread api([&] { EXPECT_TRUE(rules.acknowledge("plant", "hot", {}, "ann", "").ok()); });
  {
    // When acknowledge() does not wait for the firing to be emitted, its
    // point is written now, ahead of the held firing: give it the chance
    // (the wait times out when the code is right; nothing asserts on time).
    std::unique_lock lock(mu);
    cv.wait_for(lock, 200ms, [&] { return !written.empty(); });
    release = true;
  }
  cv.notify_all();
  api.join();
  std::lock_guard lock(mu);
  EXPECT_EQ(written, (std::vector<std::string>{"firing", "acknowledged"}));
}

}  // namespace
}  // namespace liandu::toolbox
