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

// Two receivers: "silent" holds every attempt until released (as a receiver
// that accepts the connection and never answers holds an attempt until the
// timeout), "ok" fails its first attempt and accepts the rest. The healthy
// receiver gets its transitions while the silent one's attempt hangs, in
// order, its failed first delivery retried before the later ones.
TEST(rules_service, a_silent_webhook_receiver_delays_only_its_own_deliveries) {
  storage::testing::temp_dir tmp;
  storage::engine_options eo;
  eo.data_dir = storage::fs::join(tmp.path(), "data");
  auto engine = storage::engine::open(eo);
  ASSERT_TRUE(engine.ok());
  ASSERT_TRUE((*engine)->create_database("plant").ok());

  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  int silent_calls = 0, ok_calls = 0;
  std::vector<std::string> ok_states;
  rules_service::options ro;
  ro.dir = storage::fs::join(tmp.path(), "rules");
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
  rules_service rules(**engine, ro);
  (*engine)->set_write_observer([&rules](std::string_view batch) { rules.on_batch(batch); });
  ASSERT_TRUE(rules.start().ok());
  for (const char* rule :
       {R"({"id": "hot", "measurement": "oven", "actions": [{"type": "webhook", "receiver": "silent"}],
                              "when": {"type": "threshold", "field": "temp", "op": ">", "value": 80}})",
        R"({"id": "pressure", "measurement": "press", "actions": [{"type": "webhook", "receiver": "ok"}],
                              "when": {"type": "threshold", "field": "bar", "op": ">", "value": 5}})"}) {
    auto r = rules.put_rule("plant", rule);
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  auto write = [&](const char* measurement, const char* field, double v) {
    storage::write_batch b("plant", "");
    b.add(model::point{measurement, {}, {{field, v}}, now_ns()});
    ASSERT_TRUE((*engine)->write(b).st.ok());
  };
  write("oven", "temp", 90);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return silent_calls == 1; }));
  }
  // The silent receiver's attempt now hangs.
  const auto start = std::chrono::steady_clock::now();
  write("press", "bar", 9);
  for (int i = 0; i < 500 && rules.alerts("plant").size() < 2; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(rules.acknowledge("plant", "pressure", {}, "ann", "on it").ok());
  write("press", "bar", 1);
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
  (*engine)->set_write_observer(nullptr);
  silent = rules.webhook_receiver_stats("plant", "silent");
  EXPECT_EQ((std::vector<uint64_t>{silent.attempts, silent.failed, silent.queued}),
            (std::vector<uint64_t>{1, 0, 1}));
  EXPECT_EQ(silent.last_error, "timed out");
}

}  // namespace
}  // namespace liandu::toolbox
