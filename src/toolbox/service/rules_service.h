#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.h"
#include "storage/engine.h"
#include "toolbox/rules/engine.h"
#include "toolbox/rules/webhook_delivery.h"
#include "toolbox/service/alert_state_log.h"
#include "toolbox/service/webhook_log.h"

namespace liandu::toolbox {

// Runs the rules of every database against the stream of durable writes.
//
// The storage engine's write observer hands each durable batch to
// on_batch(), which only copies it into a bounded queue (ingest never waits
// on rules). One thread drains the queue, feeds each database's
// rules::engine, calls tick() every second (absence, pending → firing), and
// turns transitions into
//   - points in measurement `alerts` of the same database, written through
//     the ordinary write path (so alerts are queryable and streamable),
//   - webhook deliveries to the tenant's named receivers (queued per
//     receiver, retried with backoff, by rules::webhook_delivery, whose
//     target is "<db>/<receiver>"), made by a pool of delivery threads
//     (options.webhook_threads) of which a receiver occupies at most one at a
//     time: its deliveries arrive in order, and a slow or silent receiver
//     delays only its own (each attempt is bounded by the sender's timeout),
//     never other receivers' unless webhook_threads of them hang at once,
//     and never rule evaluation,
//   - `write_point` actions: the same point into the action's measurement,
//   - `mqtt` actions: to_json(event) published through the publisher (the
//     local broker in liandu serve) to the action's topic.
// Rules are kept per database in <dir>/<db>.rules.json, alert state in
// <dir>/<db>.state.log (alert_state_log), so both survive restarts.
//
// Alert transitions survive kill -9 at any moment. The batch, tick or API
// call that makes them, under mu_ and in this order: appends them to the
// state log (fdatasynced), then emits them (the `alerts` point written,
// webhooks logged and queued, MQTT published), then releases mu_, so
// alerts() lists a transition, and an acknowledge() returns, only after
// both. A restart therefore knows every transition whose effects went out:
// no second firing with a new id for the same episode, no lost resolve or
// acknowledgement. A crash between the two steps keeps the transition and
// loses the effects not yet out (at most once, never repeated); nothing had
// shown it yet. Holding mu_ while emitting also keeps transitions in the
// order they were made, whichever thread made them: an acknowledgement on
// an API thread cannot be written or delivered before the firing it
// acknowledges. The whole state (absence last-seen times, state-held start
// times, hysteresis flags of groups without a transition since) is written
// every state_save_interval_ms and at stop(); after a crash those are as of
// that save, so such a timer can end early or late by up to that interval.
// Window contents and anomaly baselines are not kept.
//
// Webhook deliveries are kept in <dir>/webhooks.log (webhook_log) from
// before they are queued until they are delivered or given up: those pending
// at start() are queued again, each receiver's in their original order and
// before any new one, and made at least once, with the delivery id they had.
//
// Thread safety: every public method may be called from any thread.
class rules_service {
 public:
  struct options {
    std::string dir;
    // POSTs body to webhook receiver `receiver` of the tenant that owns db
    // (null: webhook actions fail with "webhooks are not configured"), with
    // delivery_id (for the X-Liandu-Delivery-Id header): the same on every
    // attempt of a delivery, before and after restarts, and different for
    // every delivery. Called on the delivery threads, at once for different
    // receivers, one call at a time per receiver; it should bound its own
    // time (stop() waits for the attempts in progress).
    std::function<status(const std::string& db, const std::string& receiver, const std::string& body,
                         const std::string& delivery_id)>
        send_webhook;
    // When set, put_rule refuses a rule whose webhook receiver does not
    // exist for db's tenant (the error says which).
    std::function<status(std::string_view db, std::string_view receiver)> check_webhook;
    // Publishes an MQTT message (null: mqtt actions are counted as failed).
    std::function<status(const std::string& topic, const std::string& payload, int qos, bool retain)> publish;
    // Delivery threads: up to this many receivers are attempted at once.
    size_t webhook_threads = 4;
    size_t max_queued_batches = 10000;
    int64_t state_save_interval_ms = 10000;
  };
  struct counters {
    uint64_t batches = 0;
    uint64_t dropped_batches = 0;  // queue full: rules fell behind
    uint64_t events = 0;
    uint64_t alert_write_errors = 0;
    uint64_t mqtt_published = 0;
    uint64_t mqtt_errors = 0;   // no publisher, or it failed
    uint64_t batch_cpu_ns = 0;  // CPU time of the rules thread spent decoding and evaluating batches
  };

  rules_service(storage::engine& engine, options opts);
  ~rules_service();

  status start();
  void stop();

  void on_batch(std::string_view batch_payload);
  // Replaces options.publish; for a broker that starts after this service.
  void set_publisher(std::function<status(const std::string&, const std::string&, int, bool)> publish);

  result<rules::rule> put_rule(std::string_view db, std::string_view json);
  status delete_rule(std::string_view db, std::string_view id);
  std::vector<rules::rule> list_rules(std::string_view db);
  std::vector<rules::alert_info> alerts(std::string_view db);
  status acknowledge(std::string_view db, std::string_view rule_id, const std::vector<model::tag>& group,
                     std::string user, std::string comment);
  counters stats() const;
  rules::webhook_delivery::counters webhook_stats() const;
  // Delivery state of one receiver for the rules of db.
  rules::webhook_delivery::target_counters webhook_receiver_stats(std::string_view db,
                                                                  std::string_view receiver) const;

 private:
  struct db_rules {
    std::unique_ptr<rules::engine> engine;
    std::vector<rules::alert_event> pending_events;
    std::unique_ptr<alert_state_log> state_log;  // opened by open_state_locked
  };
  db_rules& rules_for_locked(const std::string& db);
  status save_rules_locked(const std::string& db);
  // Opens db's state log and applies it to the engine, whose rules must be
  // loaded; rewrites it with the whole state unless it is one clean state
  // record already.
  status open_state_locked(const std::string& db, db_rules& r);
  // Writes the whole state of db (of every database without db).
  void save_state_locked(const std::string* db = nullptr);
  // Appends db's pending transitions to its state log, then emits them.
  void emit_locked(const std::string& db, db_rules& r);
  void loop();
  // Keeps an evaluated batch's buffer for on_batch to copy a later batch into.
  void give_back_batch(std::string buffer);
  void webhook_loop();
  void wake_webhooks();
  void emit_events_locked(const std::string& db, const std::vector<rules::alert_event>& events);
  bool queue_webhook(const std::string& target, std::string body);
  void end_webhook(const rules::webhook_delivery::attempt& a, rules::webhook_delivery::outcome o,
                   const status& result);

  storage::engine& storage_;
  options opts_;
  rules::webhook_delivery webhooks_;
  std::unique_ptr<webhook_log> webhook_log_;  // set by start()
  // Held from a delivery's log record until it is queued, so that each
  // receiver's deliveries are in the same order in the log and the queue.
  std::mutex webhook_queue_mu_;

  std::mutex publish_mu_;  // guards opts_.publish
  mutable std::mutex mu_;  // guards engines_ and stats_
  std::map<std::string, db_rules, std::less<>> engines_;
  counters stats_;

  mutable std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::string> queue_;
  // Buffers of evaluated batches, for on_batch to copy the next ones into
  // (guarded by queue_mu_); a few, and none over max_spare_batch_bytes.
  std::vector<std::string> spare_batches_;
  static constexpr size_t max_spare_batches = 4;
  static constexpr size_t max_spare_batch_bytes = size_t{2} << 20;  // 4 x 2 MiB kept at most
  uint64_t dropped_batches_ = 0;                                    // guarded by queue_mu_
  bool stop_ = false;
  std::thread thread_;

  // A delivery thread with nothing to take sleeps until the next delivery
  // is due, or until emit() enqueues one or an attempt ends (either bumps
  // webhook_wake_), or stop() (webhook_stop_).
  std::mutex webhook_mu_;
  std::condition_variable webhook_cv_;
  uint64_t webhook_wake_ = 0;  // guarded by webhook_mu_
  bool webhook_stop_ = false;  // guarded by webhook_mu_
  std::vector<std::thread> webhook_threads_;

  // The rules thread's decoded batch, reused between batches.
  std::vector<rules::engine::series_point> points_;
  std::vector<model::field_view> fields_;
  std::vector<std::pair<size_t, size_t>> field_ranges_;  // (first, count) in fields_, per point
};

}  // namespace liandu::toolbox
