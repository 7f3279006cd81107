#include "toolbox/rules/webhook_delivery.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <numeric>
#include <set>
#include <thread>
#include <tuple>
#include <utility>

#include "toolbox/rules/engine.h"

namespace liandu::toolbox::rules {
namespace {

constexpr int64_t sec = 1'000'000'000;

TEST(webhook_delivery, retries_with_exponential_backoff_then_gives_up) {
  std::vector<int64_t> attempts_at;
  int64_t now = 0;
  webhook_delivery d(
      [&](const std::string&, const std::string&, const std::string&) {
        attempts_at.push_back(now);
        return error(errc::io_error, "connection refused");
      },
      webhook_delivery::options{
          .max_attempts = 5, .initial_backoff_ns = sec, .multiplier = 2, .max_backoff_ns = 6 * sec});
  ASSERT_TRUE(d.enqueue("http://h/x", "{}", 0).ok());
  for (now = 0; now <= 30 * sec; now += sec / 2) d.poll(now);
  // Backoffs 1, 2, 4, then capped at 6 seconds.
  EXPECT_EQ(attempts_at, (std::vector<int64_t>{0, 1 * sec, 3 * sec, 7 * sec, 13 * sec}));
  auto st = d.stats();
  EXPECT_EQ(st.attempts, 5u);
  EXPECT_EQ(st.retries, 4u);
  EXPECT_EQ(st.failed, 1u);
  EXPECT_EQ(st.delivered, 0u);
  EXPECT_EQ(st.queued, 0u);
  EXPECT_EQ(st.last_error_url, "http://h/x");
  EXPECT_NE(st.last_error.find("connection refused"), std::string::npos);
  EXPECT_EQ(st.last_error_time, 13 * sec);
  EXPECT_EQ(d.next_due(), INT64_MAX);
}

// GET /api/v1/webhooks shows each receiver's own state: one receiver's
// failures neither show on nor count for another.
TEST(webhook_delivery, counts_and_last_error_per_target) {
  webhook_delivery d(
      [](const std::string& target, const std::string&, const std::string&) {
        return target == "db/down" ? error(errc::io_error, "connect to http://h:80: Connection refused")
                                   : status();
      },
      webhook_delivery::options{.max_attempts = 2, .initial_backoff_ns = sec});
  ASSERT_TRUE(d.enqueue("db/down", "1", 0).ok());
  ASSERT_TRUE(d.enqueue("db/up", "2", 0).ok());
  ASSERT_TRUE(d.enqueue("db/up", "3", 0).ok());
  EXPECT_EQ(d.poll(5 * sec), 3u);
  auto down = d.target_stats("db/down");
  EXPECT_EQ(down.attempts, 1u);
  EXPECT_EQ(down.failed, 0u);
  EXPECT_EQ(down.queued, 1u);
  EXPECT_EQ(down.last_error, "connect to http://h:80: Connection refused");  // the message, no code
  EXPECT_EQ(down.last_error_time, 5 * sec);
  EXPECT_EQ(d.poll(7 * sec), 1u);
  down = d.target_stats("db/down");
  EXPECT_EQ(down.attempts, 2u);
  EXPECT_EQ(down.delivered, 0u);
  EXPECT_EQ(down.failed, 1u);
  EXPECT_EQ(down.queued, 0u);
  EXPECT_EQ(down.last_error_time, 7 * sec);
  auto up = d.target_stats("db/up");
  EXPECT_EQ(up.attempts, 2u);
  EXPECT_EQ(up.delivered, 2u);
  EXPECT_EQ(up.failed, 0u);
  EXPECT_EQ(up.last_error, "");
  EXPECT_EQ(up.last_error_time, 0);
  auto none = d.target_stats("db/never");
  EXPECT_EQ(none.attempts, 0u);
  EXPECT_EQ(none.last_error_time, 0);
}

// A delivery thread takes one delivery at a time, so that stopping waits
// for one attempt at most.
TEST(webhook_delivery, poll_attempts_at_most_max) {
  std::vector<std::string> sent;
  webhook_delivery d([&](const std::string&, const std::string& body, const std::string&) {
    sent.push_back(body);
    return status();
  });
  for (const char* body : {"1", "2", "3"}) ASSERT_TRUE(d.enqueue("db/r", body, 0).ok());
  EXPECT_EQ(d.poll(0, 1), 1u);
  EXPECT_EQ(d.stats().queued, 2u);
  EXPECT_EQ(d.poll(0, 5), 2u);
  EXPECT_EQ(sent, (std::vector<std::string>{"1", "2", "3"}));
}

// A failed delivery stays at the head of its target's queue: the later ones
// to that target wait for its retry (an alert's firing, acknowledged and
// resolved arrive in order), while other targets go on.
TEST(webhook_delivery, a_failed_delivery_holds_back_later_ones_to_its_target) {
  std::vector<std::string> attempted, delivered;
  bool fail_once = true;
  webhook_delivery d(
      [&](const std::string& target, const std::string& body, const std::string&) {
        attempted.push_back(target + ":" + body);
        if (body == "firing" && std::exchange(fail_once, false)) return error(errc::io_error, "HTTP 503");
        delivered.push_back(target + ":" + body);
        return status();
      },
      webhook_delivery::options{.initial_backoff_ns = sec});
  for (const char* body : {"firing", "acknowledged", "resolved"})
    ASSERT_TRUE(d.enqueue("db/a", body, 0).ok());
  ASSERT_TRUE(d.enqueue("db/b", "firing", 0).ok());
  ASSERT_TRUE(d.enqueue("db/b", "resolved", 0).ok());
  EXPECT_EQ(d.poll(sec / 2), 3u);
  EXPECT_EQ(attempted, (std::vector<std::string>{"db/a:firing", "db/b:firing", "db/b:resolved"}));
  EXPECT_EQ(d.target_stats("db/a").queued, 3u);
  EXPECT_EQ(d.next_due(), sec / 2 + sec);
  EXPECT_EQ(d.poll(sec), 0u);
  EXPECT_EQ(d.poll(2 * sec), 3u);
  EXPECT_EQ(delivered, (std::vector<std::string>{"db/b:firing", "db/b:resolved", "db/a:firing",
                                                 "db/a:acknowledged", "db/a:resolved"}));
  EXPECT_EQ(d.stats().queued, 0u);
  EXPECT_EQ(d.next_due(), INT64_MAX);
}

// A delivery restored after a restart keeps its id and the attempts it had
// used up (always getting at least one more); complete() says when a
// delivery ends, so the caller can record it.
TEST(webhook_delivery, restored_delivery_keeps_its_id_and_attempts_and_complete_says_how_it_ended) {
  webhook_delivery d([](const std::string& target, const std::string&, const std::string&) {
    return target == "db/down" ? error(errc::io_error, "refused") : status();
  });
  ASSERT_TRUE(d.restore("db/down", "a", 41, "delivery-a", 3, 0).ok());
  ASSERT_TRUE(d.restore("db/down", "b", 42, "delivery-b", 99, 0).ok());  // past max_attempts: one more
  ASSERT_TRUE(d.enqueue("db/up", "c", 0, 43).ok());
  std::vector<std::tuple<uint64_t, int, webhook_delivery::outcome>> ends;
  for (int64_t now = 0; now <= 10 * sec; now += sec / 2) {
    while (auto a = d.take(now)) ends.emplace_back(a->id, a->number, d.complete(*a, d.send(*a), now));
  }
  using enum webhook_delivery::outcome;
  EXPECT_EQ(ends, (std::vector<std::tuple<uint64_t, int, webhook_delivery::outcome>>{
                      {41, 4, retry}, {43, 1, delivered}, {41, 5, given_up}, {42, 5, given_up}}));
  auto st = d.stats();
  EXPECT_EQ((std::vector<uint64_t>{st.restored, st.enqueued, st.failed, st.delivered, st.queued}),
            (std::vector<uint64_t>{2, 1, 2, 1, 0}));
}

// Webhooks are at least once (a retry after a timeout may reach the
// receiver twice), so receivers drop repeats by delivery id: the same on
// every attempt of a delivery, the one given to enqueue() or restore() (kept
// across restarts by the caller), and different for different deliveries.
TEST(webhook_delivery, delivery_id_is_the_same_on_every_attempt_and_differs_between_deliveries) {
  std::map<std::string, std::vector<std::string>> ids;  // by body, of each attempt
  webhook_delivery d(
      [&](const std::string&, const std::string& body, const std::string& delivery_id) {
        ids[body].push_back(delivery_id);
        return ids[body].size() < 3 ? error(errc::io_error, "timed out") : status();
      },
      webhook_delivery::options{.initial_backoff_ns = sec, .max_backoff_ns = sec});
  ASSERT_TRUE(d.enqueue("db/a", "one", 0).ok());
  ASSERT_TRUE(d.enqueue("db/a", "two", 0).ok());
  ASSERT_TRUE(d.enqueue("db/b", "three", 0, 7, "given").ok());
  ASSERT_TRUE(d.restore("db/c", "four", 8, "kept", 2, 0).ok());
  for (int64_t now = 0; now <= 20 * sec; now += sec / 2) d.poll(now);
  EXPECT_EQ(d.stats().delivered, 4u);
  std::set<std::string> distinct;
  for (const char* body : {"one", "two", "three", "four"}) {
    ASSERT_EQ(ids[body].size(), 3u) << body;
    EXPECT_EQ(std::set<std::string>(ids[body].begin(), ids[body].end()).size(), 1u) << body;
    distinct.insert(ids[body][0]);
  }
  EXPECT_EQ(distinct.size(), 4u);
  EXPECT_EQ(ids["three"][0], "given");
  EXPECT_EQ(ids["four"][0], "kept");
  EXPECT_EQ(ids["one"][0].size(), 36u);
}

// Delivery ids are random version 4 UUIDs: 36 characters, lowercase hex and
// dashes, never repeated.
TEST(webhook_delivery, new_delivery_id_is_a_random_uuid) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    std::string id = new_delivery_id();
    ASSERT_EQ(id.size(), 36u) << id;
    for (size_t j = 0; j < id.size(); ++j) {
      if (j == 8 || j == 13 || j == 18 || j == 23) {
        ASSERT_EQ(id[j], '-') << id;
      } else {
        ASSERT_TRUE((id[j] >= '0' && id[j] <= '9') || (id[j] >= 'a' && id[j] <= 'f')) << id;
      }
    }
    EXPECT_EQ(id[14], '4') << id;                                          // version
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // variant
    seen.insert(std::move(id));
  }
  EXPECT_EQ(seen.size(), 10000u);
}

// Several delivery threads share one queue: a target whose attempt is in
// flight is given to nobody else, so a silent receiver holds one thread and
// its own queue, and the others are served meanwhile.
TEST(webhook_delivery, a_target_in_flight_is_skipped_by_other_takers) {
  webhook_delivery d([](const std::string&, const std::string&, const std::string&) { return status(); });
  ASSERT_TRUE(d.enqueue("db/silent", "1", 0).ok());
  ASSERT_TRUE(d.enqueue("db/silent", "2", 0).ok());
  ASSERT_TRUE(d.enqueue("db/ok", "3", 1).ok());
  ASSERT_TRUE(d.enqueue("db/ok", "4", 2).ok());
  auto silent = d.take(5);  // the longest waiting first
  ASSERT_TRUE(silent.has_value());
  EXPECT_EQ((std::pair{silent->target, silent->body}),
            (std::pair<std::string, std::string>{"db/silent", "1"}));
  EXPECT_EQ(silent->number, 1);
  EXPECT_EQ(d.next_due(), 1);  // db/ok's head: the silent target's next waits for its head
  auto ok = d.take(5);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->body, "3");
  EXPECT_FALSE(d.take(5).has_value()) << "both targets are in flight";
  d.complete(*ok, status(), 6);
  ok = d.take(6);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->body, "4");
  d.complete(*ok, status(), 7);
  EXPECT_FALSE(d.take(7).has_value());
  EXPECT_EQ(d.target_stats("db/ok").delivered, 2u);
  EXPECT_EQ(d.target_stats("db/silent").queued, 2u);
  EXPECT_EQ(d.target_stats("db/silent").attempts, 0u);
  // Its attempt times out: retried at the head, after the backoff.
  d.complete(*silent, error(errc::io_error, "timed out after 10000 ms"), 10 * sec);
  EXPECT_FALSE(d.take(10 * sec).has_value());
  silent = d.take(11 * sec);
  ASSERT_TRUE(silent.has_value());
  EXPECT_EQ(silent->body, "1");
  EXPECT_EQ(silent->number, 2);
  d.complete(*silent, status(), 11 * sec);
  auto st = d.target_stats("db/silent");
  EXPECT_EQ((std::tuple{st.attempts, st.delivered, st.queued}),
            (std::tuple{uint64_t{2}, uint64_t{1}, size_t{1}}));
  EXPECT_EQ(st.last_error, "timed out after 10000 ms");
  EXPECT_EQ(st.last_error_time, 10 * sec);
}

// Four threads deliver from one queue while deliveries are enqueued: each
// target is attempted by one thread at a time, and gets its deliveries once
// each, in order, failed first attempts included.
TEST(webhook_delivery, threads_deliver_each_target_in_order) {
  constexpr int targets = 10, per_target = 200;
  std::mutex mu;
  std::map<std::string, std::vector<int>> received;
  std::map<std::string, int> in_flight;
  std::map<std::string, std::set<int>> failed_once;
  int overlaps = 0;
  webhook_delivery d(
      [&](const std::string& target, const std::string& body, const std::string&) {
        const int n = std::stoi(body);
        {
          std::lock_guard lock(mu);
          if (in_flight[target]++ > 0) ++overlaps;
        }
        std::this_thread::yield();
        std::lock_guard lock(mu);
        --in_flight[target];
        if (n % 7 == 0 && failed_once[target].insert(n).second) return error(errc::io_error, "HTTP 503");
        received[target].push_back(n);
        return status();
      },
      webhook_delivery::options{.initial_backoff_ns = 0, .max_backoff_ns = 0});
  std::atomic<bool> enqueued{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (;;) {
        const bool last = enqueued.load();
        if (d.poll(0) == 0) {
          if (last && d.stats().queued == 0) return;
          std::this_thread::yield();
        }
      }
    });
  }
  for (int n = 0; n < per_target; ++n) {
    for (int t = 0; t < targets; ++t)
      ASSERT_TRUE(d.enqueue("db/r" + std::to_string(t), std::to_string(n), 0).ok());
  }
  enqueued = true;
  for (auto& t : threads) t.join();
  std::vector<int> all(per_target);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(overlaps, 0);
  ASSERT_EQ(received.size(), size_t{targets});
  for (const auto& [target, got] : received) EXPECT_EQ(got, all) << target;
  auto st = d.stats();
  EXPECT_EQ(st.delivered, uint64_t{targets * per_target});
  EXPECT_EQ(st.attempts, st.delivered + st.retries);
  EXPECT_EQ(st.failed, 0u);
}

// One receiver that never answers must not fill the queue that every
// receiver shares: its own queue is bounded, and the drops are counted.
TEST(webhook_delivery, full_target_queue_refuses_and_counts_for_that_target) {
  webhook_delivery d([](const std::string&, const std::string&, const std::string&) { return status(); },
                     webhook_delivery::options{.max_queue = 5, .max_queue_per_target = 2});
  EXPECT_TRUE(d.enqueue("db/dead", "1", 0).ok());
  EXPECT_TRUE(d.enqueue("db/dead", "2", 0).ok());
  status s = d.enqueue("db/dead", "3", 0);
  EXPECT_EQ(s.code(), errc::limit_exceeded);
  EXPECT_EQ(s.message(), "webhook queue of db/dead full (2)");
  EXPECT_TRUE(d.enqueue("db/ok", "4", 0).ok());
  EXPECT_TRUE(d.enqueue("db/ok2", "5", 0).ok());
  EXPECT_TRUE(d.enqueue("db/ok2", "6", 0).ok());
  EXPECT_EQ(d.enqueue("db/ok3", "7", 0).message(), "webhook queue full (5)");
  EXPECT_EQ(d.target_stats("db/dead").rejected, 1u);
  EXPECT_EQ(d.target_stats("db/dead").queued, 2u);
  EXPECT_EQ(d.target_stats("db/ok").rejected, 0u);
  EXPECT_EQ(d.target_stats("db/ok3").rejected, 1u);
  EXPECT_EQ(d.stats().rejected, 2u);
  EXPECT_EQ(d.stats().queued, 5u);
}

// RFC 4231, test cases 1 and 2.
TEST(webhook_delivery, signature_is_hmac_sha256_hex) {
  EXPECT_EQ(webhook_signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(webhook_signature(std::string(20, '\x0b'), "Hi There"),
            "sha256=b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(webhook_delivery, full_queue_refuses) {
  webhook_delivery d([](const std::string&, const std::string&, const std::string&) { return status(); },
                     webhook_delivery::options{.max_queue = 2});
  EXPECT_TRUE(d.enqueue("http://a", "1", 0).ok());
  EXPECT_TRUE(d.enqueue("http://a", "2", 0).ok());
  EXPECT_EQ(d.enqueue("http://a", "3", 0).code(), errc::limit_exceeded);
  EXPECT_EQ(d.stats().rejected, 1u);
  EXPECT_EQ(d.poll(0), 2u);
  EXPECT_EQ(d.stats().delivered, 2u);
}

// The engine's transitions go to a webhook through the queue; the fake
// receiver fails the first attempt of every body once, then accepts it.
// Every transition is delivered exactly once, in order.
TEST(webhook_delivery, each_transition_delivered_exactly_once_despite_a_failure) {
  std::map<std::string, int> tries;
  std::map<std::string, int> delivered;
  std::vector<std::string> order;
  webhook_delivery d(
      [&](const std::string& url, const std::string& body, const std::string&) {
        EXPECT_EQ(url, "alerts");
        if (tries[body]++ == 0) return error(errc::io_error, "503 Service Unavailable");
        ++delivered[body];
        order.push_back(body);
        return status();
      },
      webhook_delivery::options{.initial_backoff_ns = 2 * sec});
  int64_t now = 0;
  engine e([&](const alert_event& ev) {
    for (const auto& a : ev.actions) {
      if (a.kind == action_kind::webhook) {
        ASSERT_TRUE(d.enqueue(a.target, to_json(ev).dump(), now).ok());
      }
    }
  });
  auto r = parse_rule(R"({"id": "hot", "measurement": "m", "for": "2s",
      "actions": [{"type": "webhook", "receiver": "alerts"}, {"type": "mqtt", "topic": "t"}],
      "when": {"type": "threshold", "field": "v", "op": ">", "value": 80}})");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(e.add_rule(*r).ok());
  const double values[] = {90, 90, 90, 90, 10, 10, 10};  // pending@0, firing@2, resolved@4
  for (now = 0; now < 7 * sec; now += sec) {
    e.process(model::point{"m", {}, {{"v", values[now / sec]}}, now});
    if (now == 3 * sec) {
      ASSERT_TRUE(e.acknowledge("hot", {}, "ann", "on it", now).ok());
    }
    d.poll(now);
  }
  for (; now < 20 * sec; now += sec) d.poll(now);
  ASSERT_EQ(delivered.size(), 4u);  // pending, firing, acknowledged, resolved
  for (const auto& [body, n] : delivered) {
    EXPECT_EQ(n, 1) << body;
    EXPECT_EQ(tries[body], 2) << body;
  }
  auto st = d.stats();
  EXPECT_EQ(st.delivered, 4u);
  EXPECT_EQ(st.attempts, 8u);
  EXPECT_EQ(st.retries, 4u);
  EXPECT_EQ(st.failed, 0u);
  EXPECT_EQ(st.queued, 0u);
  std::vector<std::string> states;
  for (const auto& body : order) states.push_back(nlohmann::json::parse(body)["state"]);
  EXPECT_EQ(states, (std::vector<std::string>{"pending", "firing", "acknowledged", "resolved"}));
}

}  // namespace
}  // namespace liandu::toolbox::rules
