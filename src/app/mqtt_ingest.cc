#include "app/mqtt_ingest.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "app/sparkplug_ingest.h"
#include "base/clock.h"
#include "storage/fs/file_util.h"
#include "storage/write_batch.h"

namespace liandu::app {

mqtt_ingest::mqtt_ingest(storage::engine& engine, catalog::catalog& cat, bool auth_enabled,
                         std::string rules_path)
    : engine_(engine), catalog_(cat), auth_enabled_(auth_enabled), rules_path_(std::move(rules_path)) {}

status mqtt_ingest::load() {
  auto text = storage::fs::read_file(rules_path_);
  if (!text.ok()) return text.error().code() == errc::not_found ? status{} : text.error();
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_array())
    return error(errc::invalid_argument, rules_path_ + ": expected a JSON array of mapping rules");
  std::unique_lock lock(rules_mu_);
  for (size_t i = 0; i < j.size(); ++i) {
    auto r = ingest::parse_mapping_rule(j[i].dump());
    if (!r.ok())
      return error(errc::invalid_argument,
                   rules_path_ + ": rule " + std::to_string(i) + ": " + r.error().message());
    LIANDU_RETURN_IF_ERROR(mapper_.add(std::move(r).value()));
  }
  return {};
}

status mqtt_ingest::save_locked() const {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : mapper_.rules()) j.push_back(nlohmann::json::parse(ingest::mapping_rule_to_json(r)));
  return storage::fs::write_file_atomic(rules_path_, j.dump(2));
}

status mqtt_ingest::add_rule(std::string_view json) {
  auto r = ingest::parse_mapping_rule(json);
  if (!r.ok()) return r.error();
  std::unique_lock lock(rules_mu_);
  LIANDU_RETURN_IF_ERROR(mapper_.add(std::move(r).value()));
  return save_locked();
}

bool mqtt_ingest::remove_rule(std::string_view name) {
  std::unique_lock lock(rules_mu_);
  bool removed = mapper_.remove(name);
  if (removed) (void)save_locked();
  return removed;
}

std::vector<nlohmann::json> mqtt_ingest::list() const {
  std::shared_lock lock(rules_mu_);
  std::vector<nlohmann::json> out;
  for (const auto& r : mapper_.rules()) out.push_back(nlohmann::json::parse(ingest::mapping_rule_to_json(r)));
  return out;
}

status mqtt_ingest::remove(std::string_view name) {
  if (!remove_rule(name)) return error(errc::not_found, "no mapping named " + std::string(name));
  return {};
}

bool mqtt_ingest::authenticate(std::string_view, std::string_view username, std::string_view password) {
  if (!auth_enabled_) return true;
  auto who = catalog_.authenticate_token(password);
  if (!who.ok() && !username.empty()) who = catalog_.authenticate_user(username, password);
  if (!who.ok()) return false;
  std::lock_guard lock(principals_mu_);
  auto it = principals_.find(username);
  if (it != principals_.end() && it->second.subject != who->subject) return false;
  principals_[std::string(username)] = *who;
  return true;
}

status mqtt_ingest::authorize_write(std::string_view username, const std::string& db) {
  if (!auth_enabled_) return {};
  catalog::principal who;
  {
    std::lock_guard lock(principals_mu_);
    auto it = principals_.find(username);
    if (it == principals_.end())
      return error(errc::unauthorized, "MQTT user " + std::string(username) + " unknown");
    who = it->second;
  }
  return catalog_.authorize(who, db, catalog::access::write);
}

status mqtt_ingest::on_publish(std::string_view username, std::string_view topic, std::string_view payload) {
  connect::mqtt::publish_view one{topic, payload};
  status st;
  on_publish_batch(username, std::span(&one, 1), std::span(&st, 1));
  return st;
}

// Maps every message, gathers the points of each (database, retention
// policy) into one write_batch, and writes each batch once: one WAL record
// and one commit wait for the whole run. A failed write fails exactly the
// messages whose points were in it; a rejected point (field type conflict)
// fails the message it came from.
void mqtt_ingest::on_publish_batch(std::string_view username,
                                   std::span<const connect::mqtt::publish_view> messages,
                                   std::span<status> out) {
  struct target {
    std::string db, rp;
    storage::write_batch batch;
    std::vector<size_t> messages;      // message index, per point run
    std::vector<size_t> first_points;  // index of that message's first point in `batch`
  };
  std::vector<target> targets;
  std::map<std::string, status, std::less<>> access;   // write check per database, once per batch
  std::vector<std::string> error_db(messages.size());  // where a failed message's error point goes
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    if (sparkplug_ != nullptr) {
      auto handled = sparkplug_->on_publish(
          m.topic, m.payload, [&](const std::string& db) { return authorize_write(username, db); });
      if (handled) {
        out[i] = *handled;
        continue;
      }
    }
    result<ingest::mapped_points> mapped = error(errc::not_found, "");
    std::string db, rp;
    {
      std::shared_lock lock(rules_mu_);
      mapped = mapper_.map(m.topic, m.payload, arrivals_.next());
      if (mapped.ok()) {
        db = mapped->rule->database;
        rp = mapped->rule->retention_policy;
      } else if (mapped.error().code() == errc::parse_error) {
        std::vector<std::pair<std::string, std::string>> caps;
        for (const auto& r : mapper_.rules()) {
          if (ingest::match_topic(r.topic, m.topic, caps)) {
            db = r.database;
            break;
          }
        }
      }
    }
    if (!mapped.ok() && mapped.error().code() == errc::not_found) {
      ++unmapped_;
      out[i] = {};  // only routed to subscribers
      continue;
    }
    error_db[i] = db;
    if (!mapped.ok()) {
      out[i] = mapped.error();
      continue;
    }
    auto seen = access.find(db);
    if (seen == access.end()) seen = access.emplace(db, authorize_write(username, db)).first;
    if (!seen->second.ok()) {
      out[i] = error(seen->second.code(), "topic " + std::string(m.topic) + ": " + seen->second.message());
      continue;
    }
    auto t = std::find_if(targets.begin(), targets.end(),
                          [&](const target& x) { return x.db == db && x.rp == rp; });
    if (t == targets.end()) {
      targets.push_back(target{db, rp, storage::write_batch(db, rp), {}, {}});
      t = targets.end() - 1;
    }
    t->messages.push_back(i);
    t->first_points.push_back(t->batch.point_count());
    for (const auto& p : mapped->points) t->batch.add(p);
    out[i] = {};
  }
  for (target& t : targets) {
    if (t.batch.empty()) continue;
    auto w = engine_.write(t.batch);
    auto topic_of = [&](size_t i) { return std::string(messages[i].topic); };
    if (!w.st.ok()) {
      for (size_t i : t.messages) out[i] = error(w.st.code(), "topic " + topic_of(i) + ": " + w.st.message());
      continue;
    }
    for (const auto& r : w.rejected) {
      // The message whose first point is the last one at or before r.index.
      size_t k =
          std::upper_bound(t.first_points.begin(), t.first_points.end(), r.index) - t.first_points.begin();
      size_t i = t.messages[k == 0 ? 0 : k - 1];
      if (out[i].ok()) out[i] = error(errc::conflict, "topic " + topic_of(i) + ": " + r.message);
    }
  }
  // Errors: counted, logged, and written as points so that they can be
  // queried and alerted on.
  std::vector<target> error_points;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (out[i].ok()) {
      if (!error_db[i].empty()) ++mapped_;
      continue;
    }
    ++errors_;
    std::fprintf(stderr, "liandu: mqtt: %s\n", out[i].message().c_str());
    if (error_db[i].empty()) continue;
    auto t = std::find_if(error_points.begin(), error_points.end(),
                          [&](const target& x) { return x.db == error_db[i]; });
    if (t == error_points.end()) {
      error_points.push_back(target{error_db[i], "", storage::write_batch(error_db[i], ""), {}, {}});
      t = error_points.end() - 1;
    }
    t->batch.add(model::point{"mqtt_errors",
                              {},
                              {{"topic", std::string(messages[i].topic)}, {"message", out[i].message()}},
                              arrivals_.next()});
  }
  for (target& t : error_points) (void)engine_.write(t.batch);
}

status mqtt_ingest::ingest_for_database(std::string_view db, std::string_view topic,
                                        std::string_view payload) {
  ingest::topic_mapper only_db;  // the first rule of `db` whose pattern matches
  {
    std::shared_lock lock(rules_mu_);
    std::vector<std::pair<std::string, std::string>> caps;
    for (const auto& r : mapper_.rules()) {
      if (r.database == db && ingest::match_topic(r.topic, topic, caps)) {
        (void)only_db.add(r);
        break;
      }
    }
  }
  if (only_db.rules().empty()) {
    ++unmapped_;
    return {};
  }
  const ingest::mapping_rule& rule = only_db.rules().front();
  auto mapped = only_db.map(topic, payload, arrivals_.next());
  status st = mapped.ok() ? status{} : mapped.error();
  if (st.ok()) {
    storage::write_batch batch(rule.database, rule.retention_policy);
    for (const auto& p : mapped->points) batch.add(p);
    auto w = engine_.write(batch);
    if (!w.st.ok()) {
      st = error(w.st.code(), "topic " + std::string(topic) + ": " + w.st.message());
    } else if (!w.rejected.empty()) {
      st = error(errc::conflict, "topic " + std::string(topic) + ": " + w.rejected.front().message);
    } else {
      ++mapped_;
      return {};
    }
  }
  ++errors_;
  std::fprintf(stderr, "liandu: mqtt bridge: %s\n", st.message().c_str());
  storage::write_batch batch(rule.database, "");
  batch.add(
      model::point{"mqtt_errors", {}, {{"topic", std::string(topic)}, {"message", st.message()}}, now_ns()});
  (void)engine_.write(batch);
  return st;
}

}  // namespace liandu::app
