#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/result.h"
#include "catalog/catalog.h"
#include "connect/mqtt/broker/hooks.h"
#include "http/handlers/config_collection.h"
#include "ingest/topic_mapping.h"
#include "storage/engine.h"

namespace liandu::app {

class sparkplug_ingest;

// Joins the MQTT server to storage: authenticates MQTT clients against the
// catalog (a user's password, or any user name with a token as the
// password), maps each PUBLISH through the topic mapping rules, checks that
// the client may write the rule's database, and writes the points durably
// before the broker acknowledges a QoS 1/2 message. Mapping errors are
// counted, logged with the topic, and written as points to measurement
// `mqtt_errors` of the rule's database; the message is still routed.
//
// The rules are also the config collection behind /api/v1/mqtt/mappings.
//
// Thread safety: all methods may be called from any thread.
class mqtt_ingest final : public http::handlers::config_collection {
 public:
  mqtt_ingest(storage::engine& engine, catalog::catalog& cat, bool auth_enabled, std::string rules_path);

  status load();  // reads the rules file (a JSON array of mapping rules)
  status add_rule(std::string_view json);
  bool remove_rule(std::string_view name);

  // config_collection
  std::vector<nlohmann::json> list() const override;
  status put(const nlohmann::json& entry) override { return add_rule(entry.dump()); }
  status remove(std::string_view name) override;

  bool authenticate(std::string_view client_id, std::string_view username, std::string_view password);
  status on_publish(std::string_view username, std::string_view topic, std::string_view payload);
  // The messages of one client's read at once (mqtt_hooks::on_publish_batch):
  // their points are written with one durable write per database.
  void on_publish_batch(std::string_view username, std::span<const connect::mqtt::publish_view> messages,
                        std::span<status> out);
  // A message that came in over a bridge to another broker: only the rules of
  // database `db` apply, and no MQTT credentials are checked (whoever created
  // the bridge was allowed to write `db`). Errors are counted and logged like
  // on_publish's.
  status ingest_for_database(std::string_view db, std::string_view topic, std::string_view payload);

  // Sparkplug B: spBv1.0 topics of a configured group go to `s` (set before
  // the MQTT server starts; null: none), with this class's write check.
  void set_sparkplug(sparkplug_ingest* s) { sparkplug_ = s; }
  // Whether the MQTT user may write database `db` (always, with auth off).
  status authorize_write(std::string_view username, const std::string& db);

  uint64_t mapped() const { return mapped_.load(); }
  uint64_t unmapped() const { return unmapped_.load(); }
  uint64_t errors() const { return errors_.load(); }

 private:
  status save_locked() const;

  storage::engine& engine_;
  catalog::catalog& catalog_;
  const bool auth_enabled_;
  const std::string rules_path_;
  mutable std::shared_mutex rules_mu_;
  ingest::topic_mapper mapper_;
  std::mutex principals_mu_;
  // MQTT gives the publish hook only the user name, so one user name stands
  // for one set of credentials at a time: a second client presenting other
  // credentials under the same name is refused.
  std::map<std::string, catalog::principal, std::less<>> principals_;
  std::atomic<uint64_t> mapped_{0}, unmapped_{0}, errors_{0};
  arrival_clock arrivals_;  // timestamps for payloads without one
  sparkplug_ingest* sparkplug_ = nullptr;
};

}  // namespace liandu::app
