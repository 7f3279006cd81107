#include "toolbox/service/rules_service.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "base/clock.h"
#include "storage/fs/file_util.h"
#include "storage/write_batch.h"

namespace liandu::toolbox {
namespace {

uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

rules_service::rules_service(storage::engine& engine, options opts)
    : storage_(engine),
      opts_(std::move(opts)),
      webhooks_([this](const std::string& target, const std::string& body,
                       const std::string& delivery_id) -> status {
        if (!opts_.send_webhook) return error(errc::unsupported, "webhooks are not configured");
        // "<db>/<receiver>": receiver names hold no '/', database names may.
        size_t slash = target.rfind('/');
        return opts_.send_webhook(target.substr(0, slash), target.substr(slash + 1), body, delivery_id);
      }) {}

rules_service::~rules_service() { stop(); }

status rules_service::start() {
  LIANDU_RETURN_IF_ERROR(storage::fs::create_dirs(opts_.dir));
  auto names = storage::fs::list_dir(opts_.dir);
  if (!names.ok()) return names.error();
  {
    std::lock_guard lock(mu_);
    for (const auto& n : *names) {
      const std::string suffix = ".rules.json";
      if (n.size() <= suffix.size() || n.compare(n.size() - suffix.size(), suffix.size(), suffix) != 0)
        continue;
      std::string db = n.substr(0, n.size() - suffix.size());
      auto text = storage::fs::read_file(storage::fs::join(opts_.dir, n));
      if (!text.ok()) return text.error();
      auto& r = rules_for_locked(db);
      status s = r.engine->deserialize_rules(*text);
      if (!s.ok()) return error(s.code(), "rules of " + db + ": " + s.message());
      LIANDU_RETURN_IF_ERROR(open_state_locked(db, r));
    }
  }
  // Deliveries kept from before the restart, queued before any new one.
  auto log = webhook_log::open(storage::fs::join(opts_.dir, "webhooks.log"));
  if (!log.ok()) return error(log.error().code(), "webhook log: " + log.error().message());
  webhook_log_ = std::move(*log);
  for (const auto& m : webhook_log_->messages()) std::fprintf(stderr, "liandu: webhook log: %s\n", m.c_str());
  for (const auto& d : webhook_log_->restored()) {
    status s = webhooks_.restore(d.target, d.body, d.id, d.delivery_id, d.attempts, now_ns());
    if (!s.ok()) {
      std::fprintf(stderr, "liandu: webhook delivery to %s not restored: %s; body: %s\n", d.target.c_str(),
                   s.message().c_str(), d.body.c_str());
      (void)webhook_log_->end(d.id, webhook_log::end_kind::refused);
    }
  }
  if (!webhook_log_->restored().empty())
    std::fprintf(stderr, "liandu: webhook log: %zu deliveries restored\n", webhook_log_->restored().size());
  thread_ = std::thread([this] { loop(); });
  for (size_t i = 0; i < std::max<size_t>(opts_.webhook_threads, 1); ++i)
    webhook_threads_.emplace_back([this] { webhook_loop(); });
  return {};
}

void rules_service::stop() {
  {
    std::lock_guard lock(queue_mu_);
    if (stop_) return;
    stop_ = true;
  }
  queue_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    std::lock_guard lock(webhook_mu_);
    webhook_stop_ = true;
  }
  webhook_cv_.notify_all();
  // Each thread ends its attempt in progress, if any, all at once.
  for (auto& t : webhook_threads_) t.join();
  webhook_threads_.clear();
  if (webhook_log_) webhook_log_->sync();
  std::lock_guard lock(mu_);
  save_state_locked();
}

void rules_service::on_batch(std::string_view payload) {
  // The copy goes into a buffer the rules thread has given back, when there
  // is one: a fresh ~half-megabyte string per batch cost the writer a malloc
  // and its page faults (1.8% of ingest with 100 rules). Copied outside the
  // lock, which the rules thread takes to pop.
  std::string copy;
  {
    std::lock_guard lock(queue_mu_);
    // Not mu_: emitting writes alerts under mu_, and the writes come here.
    if (queue_.size() >= opts_.max_queued_batches) {
      ++dropped_batches_;
      return;
    }
    if (!spare_batches_.empty()) {
      copy = std::move(spare_batches_.back());
      spare_batches_.pop_back();
    }
  }
  copy.assign(payload);
  {
    std::lock_guard lock(queue_mu_);
    queue_.push_back(std::move(copy));
  }
  queue_cv_.notify_one();
}

void rules_service::give_back_batch(std::string buffer) {
  if (buffer.capacity() > max_spare_batch_bytes) return;
  std::lock_guard lock(queue_mu_);
  if (spare_batches_.size() < max_spare_batches) spare_batches_.push_back(std::move(buffer));
}

rules_service::db_rules& rules_service::rules_for_locked(const std::string& db) {
  auto it = engines_.find(db);
  if (it != engines_.end()) return it->second;
  db_rules& r = engines_[db];
  db_rules* self = &r;
  r.engine = std::make_unique<rules::engine>(
      [self](const rules::alert_event& e) { self->pending_events.push_back(e); });
  return r;
}

status rules_service::open_state_locked(const std::string& db, db_rules& r) {
  auto restore = [&](std::string_view what, std::string_view json) {
    status s = r.engine->deserialize_state(json);
    if (!s.ok())
      std::fprintf(stderr, "liandu: alert state of %s: %.*s not restored: %s\n", db.c_str(),
                   static_cast<int>(what.size()), what.data(), s.message().c_str());
  };
  // Before the state log there was only the whole state, saved now and then.
  const std::string legacy = storage::fs::join(opts_.dir, db + ".state.json");
  auto old = storage::fs::read_file(legacy);
  if (old.ok()) restore(legacy, *old);
  auto log = alert_state_log::open(storage::fs::join(opts_.dir, db + ".state.log"));
  if (!log.ok()) return error(log.error().code(), "alert state of " + db + ": " + log.error().message());
  r.state_log = std::move(*log);
  for (const auto& m : r.state_log->messages())
    std::fprintf(stderr, "liandu: alert state log: %s\n", m.c_str());
  for (const auto& rec : r.state_log->records())
    restore(rec.kind == alert_state_log::record_kind::state ? "state record" : "change record", rec.json);
  const bool clean = r.state_log->records().size() == 1 &&
                     r.state_log->records()[0].kind == alert_state_log::record_kind::state &&
                     r.state_log->messages().empty();
  r.state_log->release_records();
  // A new file, one with changes or damage: one state record from now on
  // (and new records never follow a damaged one).
  if (!clean || old.ok()) {
    status s = r.state_log->rewrite(r.engine->serialize_state());
    if (!s.ok()) return error(s.code(), "alert state of " + db + ": " + s.message());
  }
  if (old.ok()) (void)storage::fs::remove_file(legacy);
  return {};
}

status rules_service::save_rules_locked(const std::string& db) {
  auto& r = rules_for_locked(db);
  return storage::fs::write_file_atomic(storage::fs::join(opts_.dir, db + ".rules.json"),
                                        r.engine->serialize_rules());
}

void rules_service::save_state_locked(const std::string* only) {
  for (auto& [db, r] : engines_) {
    if (only != nullptr && db != *only) continue;
    status s = r.state_log ? r.state_log->rewrite(r.engine->serialize_state())
                           : error(errc::io_error, "no state log");
    if (!s.ok())
      std::fprintf(stderr, "liandu: saving alert state of %s: %s\n", db.c_str(), s.message().c_str());
  }
}

void rules_service::emit_locked(const std::string& db, db_rules& r) {
  if (r.pending_events.empty()) return;
  // Only the groups that moved, not the whole state: a transition costs a
  // small record and an fdatasync however many groups the rules have (see
  // alert_state_log).
  status s = r.state_log ? r.state_log->append(r.engine->serialize_state_of(r.pending_events))
                         : error(errc::io_error, "no state log");
  if (!s.ok()) {
    std::fprintf(stderr, "liandu: alert state of %s: %zu transitions not kept across a crash: %s\n",
                 db.c_str(), r.pending_events.size(), s.message().c_str());
  }
  std::vector<rules::alert_event> events;
  events.swap(r.pending_events);
  emit_events_locked(db, events);
}

// Writes transitions as points and hands actions out. Under mu_, so that
// nothing shows a transition before its effects are out (see the class
// comment); writing goes through the storage engine, whose observer calls
// on_batch(), which therefore must not take mu_.
void rules_service::emit_events_locked(const std::string& db, const std::vector<rules::alert_event>& events) {
  if (events.empty()) return;
  storage::write_batch batch(db, "");
  uint64_t published = 0, publish_errors = 0;
  bool webhooks = false;
  for (const auto& e : events) {
    batch.add(rules::to_point(e));
    for (const auto& a : e.actions) {
      if (a.kind == rules::action_kind::webhook) {
        webhooks |= queue_webhook(db + "/" + a.target, rules::to_json(e).dump());
      } else if (a.kind == rules::action_kind::write_point && !a.target.empty()) {
        batch.add(rules::to_point(e, a.target));
      } else if (a.kind == rules::action_kind::mqtt) {
        std::lock_guard lock(publish_mu_);
        status s = opts_.publish ? opts_.publish(a.target, rules::to_json(e).dump(), a.qos, a.retain)
                                 : error(errc::unsupported, "MQTT is not enabled");
        if (s.ok()) {
          ++published;
        } else {
          ++publish_errors;
          std::fprintf(stderr, "liandu: rule %s: MQTT action to %s: %s\n", e.rule_id.c_str(),
                       a.target.c_str(), s.message().c_str());
        }
      }
    }
  }
  if (webhooks) wake_webhooks();
  auto r = storage_.write(batch);
  stats_.events += events.size();
  stats_.mqtt_published += published;
  stats_.mqtt_errors += publish_errors;
  if (!r.st.ok() || !r.rejected.empty()) ++stats_.alert_write_errors;
}

// Logs the delivery with a new delivery id (fdatasynced), then queues it.
// Returns whether it was queued; one that is not is said on stderr.
bool rules_service::queue_webhook(const std::string& target, std::string body) {
  std::lock_guard lock(webhook_queue_mu_);
  uint64_t id = 0;
  std::string delivery_id = rules::new_delivery_id();
  if (webhook_log_) {
    auto logged = webhook_log_->append(target, body, delivery_id);
    if (logged.ok()) {
      id = *logged;
    } else {
      std::fprintf(stderr, "liandu: webhook delivery to %s not kept across a restart: %s\n", target.c_str(),
                   logged.error().message().c_str());
    }
  }
  status s = webhooks_.enqueue(target, body, now_ns(), id, delivery_id);
  if (s.ok()) return true;
  std::fprintf(stderr, "liandu: webhook delivery to %s dropped: %s; body: %s\n", target.c_str(),
               s.message().c_str(), body.c_str());
  if (webhook_log_) (void)webhook_log_->end(id, webhook_log::end_kind::refused);
  return false;
}

// Records the outcome of an attempt in the webhook log: a failure's attempt
// count (for the next compaction), or the delivery's end.
void rules_service::end_webhook(const rules::webhook_delivery::attempt& a, rules::webhook_delivery::outcome o,
                                const status& result) {
  using outcome = rules::webhook_delivery::outcome;
  if (o == outcome::given_up) {
    std::fprintf(stderr, "liandu: webhook delivery to %s given up after %d attempts (%s); body: %s\n",
                 a.target.c_str(), a.number, result.message().c_str(), a.body.c_str());
  }
  if (!webhook_log_) return;
  if (o == outcome::retry) {
    status s = webhook_log_->attempted(a.id, a.number);
    if (!s.ok())
      std::fprintf(stderr, "liandu: webhook log: %s (a restart may give the delivery more attempts)\n",
                   s.message().c_str());
    return;
  }
  status s = webhook_log_->end(
      a.id, o == outcome::delivered ? webhook_log::end_kind::delivered : webhook_log::end_kind::given_up);
  if (!s.ok())
    std::fprintf(stderr, "liandu: webhook log: %s (the delivery may be made again after a restart)\n",
                 s.message().c_str());
}

void rules_service::set_publisher(
    std::function<status(const std::string&, const std::string&, int, bool)> publish) {
  std::lock_guard lock(publish_mu_);
  opts_.publish = std::move(publish);
}

void rules_service::loop() {
  auto last_tick = std::chrono::steady_clock::now();
  auto last_save = last_tick;
  for (;;) {
    std::string payload;
    bool have = false;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      if (!queue_.empty()) {
        payload = std::move(queue_.front());
        queue_.pop_front();
        have = true;
      }
    }
    {
      std::lock_guard lock(mu_);
      if (have) {
        const uint64_t cpu_start = thread_cpu_ns();
        ++stats_.batches;
        storage::batch_reader reader(payload);
        auto it = engines_.find(reader.db());
        if (it != engines_.end()) {
          // The whole batch at once: the engine looks points ahead up
          // while it evaluates (see rules::engine::process_series).
          storage::batch_point p;
          points_.clear();
          fields_.clear();
          field_ranges_.clear();
          while (reader.next(p)) {
            points_.push_back({p.series_key, p.time, {}});
            field_ranges_.emplace_back(fields_.size(), p.fields.size());
            fields_.insert(fields_.end(), p.fields.begin(), p.fields.end());
          }
          for (size_t i = 0; i < points_.size(); ++i)
            points_[i].fields = std::span<const model::field_view>(fields_).subspan(field_ranges_[i].first,
                                                                                    field_ranges_[i].second);
          it->second.engine->process_series(points_);
        }
        stats_.batch_cpu_ns += thread_cpu_ns() - cpu_start;
        points_.clear();  // views of payload
        fields_.clear();
        give_back_batch(std::move(payload));
      }
      auto now = std::chrono::steady_clock::now();
      if (now - last_tick >= std::chrono::seconds(1)) {
        last_tick = now;
        for (auto& [db, r] : engines_) r.engine->tick(now_ns());
      }
      for (auto& [db, r] : engines_) {
        emit_locked(db, r);
      }
      if (now - last_save >= std::chrono::milliseconds(opts_.state_save_interval_ms)) {
        last_save = now;
        save_state_locked();
        if (webhook_log_) webhook_log_->sync();
      }
    }
  }
}

void rules_service::wake_webhooks() {
  {
    std::lock_guard lock(webhook_mu_);
    ++webhook_wake_;
  }
  webhook_cv_.notify_all();
}

// One of the delivery threads. webhooks_.take() gives each a different
// receiver, so a receiver's deliveries are made one after another, in order.
void rules_service::webhook_loop() {
  for (;;) {
    uint64_t seen;
    {
      std::lock_guard lock(webhook_mu_);
      if (webhook_stop_) return;
      seen = webhook_wake_;
    }
    if (auto a = webhooks_.take(now_ns())) {
      status s = webhooks_.send(*a);
      end_webhook(*a, webhooks_.complete(*a, s, now_ns()), s);
      // The receiver is free again: its next delivery, or its retry's due
      // time, is for any thread to see.
      wake_webhooks();
      continue;
    }
    std::unique_lock lock(webhook_mu_);
    // Checked at least every second: due times are wall-clock times. A wake
    // between take() and here is not lost: it changed webhook_wake_.
    auto wait = std::chrono::nanoseconds(std::max<int64_t>(webhooks_.next_due() - now_ns(), 0));
    webhook_cv_.wait_for(lock, std::min<std::chrono::nanoseconds>(wait, std::chrono::seconds(1)),
                         [&] { return webhook_stop_ || webhook_wake_ != seen; });
  }
}

result<rules::rule> rules_service::put_rule(std::string_view db, std::string_view json) {
  auto r = rules::parse_rule(json);
  if (!r.ok()) return r.error();
  if (opts_.check_webhook) {
    for (size_t i = 0; i < r->actions.size(); ++i) {
      if (r->actions[i].kind != rules::action_kind::webhook) continue;
      status s = opts_.check_webhook(db, r->actions[i].target);
      if (!s.ok()) {
        return error(s.code() == errc::not_found ? errc::invalid_argument : s.code(),
                     "actions[" + std::to_string(i) + "].receiver: " + s.message());
      }
    }
  }
  {
    std::lock_guard lock(mu_);
    const std::string name(db);
    auto& d = rules_for_locked(name);
    if (!d.state_log) LIANDU_RETURN_IF_ERROR(open_state_locked(name, d));
    // (The same definition again changes nothing: see engine::add_rule.)
    const rules::rule* old = d.engine->find_rule(r->id);
    const bool replaces = old != nullptr && !(*old == *r);
    LIANDU_RETURN_IF_ERROR(d.engine->add_rule(*r, now_ns()));
    LIANDU_RETURN_IF_ERROR(save_rules_locked(name));
    // A replaced rule's groups are gone, which only the whole state says.
    if (replaces) save_state_locked(&name);
    emit_locked(name, d);
  }
  return r;
}

status rules_service::delete_rule(std::string_view db, std::string_view id) {
  {
    std::lock_guard lock(mu_);
    auto it = engines_.find(db);
    if (it == engines_.end()) return error(errc::not_found, "rule not found: " + std::string(id));
    LIANDU_RETURN_IF_ERROR(it->second.engine->remove_rule(id, now_ns()));
    LIANDU_RETURN_IF_ERROR(save_rules_locked(it->first));
    // The removed rule's groups are gone, which only the whole state says.
    save_state_locked(&it->first);
    emit_locked(it->first, it->second);
  }
  return {};
}

std::vector<rules::rule> rules_service::list_rules(std::string_view db) {
  std::lock_guard lock(mu_);
  auto it = engines_.find(db);
  return it == engines_.end() ? std::vector<rules::rule>{} : it->second.engine->rules();
}

std::vector<rules::alert_info> rules_service::alerts(std::string_view db) {
  std::lock_guard lock(mu_);
  auto it = engines_.find(db);
  return it == engines_.end() ? std::vector<rules::alert_info>{} : it->second.engine->alerts();
}

status rules_service::acknowledge(std::string_view db, std::string_view rule_id,
                                  const std::vector<model::tag>& group, std::string user,
                                  std::string comment) {
  std::lock_guard lock(mu_);
  auto it = engines_.find(db);
  if (it == engines_.end()) return error(errc::not_found, "no alert for rule " + std::string(rule_id));
  LIANDU_RETURN_IF_ERROR(
      it->second.engine->acknowledge(rule_id, group, std::move(user), std::move(comment), now_ns()));
  // Durable and emitted before the caller answers 2xx.
  emit_locked(it->first, it->second);
  return {};
}

rules_service::counters rules_service::stats() const {
  counters c;
  {
    std::lock_guard lock(mu_);
    c = stats_;
  }
  std::lock_guard lock(queue_mu_);
  c.dropped_batches = dropped_batches_;
  return c;
}

rules::webhook_delivery::counters rules_service::webhook_stats() const { return webhooks_.stats(); }

rules::webhook_delivery::target_counters rules_service::webhook_receiver_stats(
    std::string_view db, std::string_view receiver) const {
  return webhooks_.target_stats(std::string(db) + "/" + std::string(receiver));
}

}  // namespace liandu::toolbox
