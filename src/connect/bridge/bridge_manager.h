#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/prometheus_text.h"
#include "base/result.h"
#include "connect/bridge/bridge.h"
#include "connect/bridge/bridge_config.h"

namespace liandu::connect::mqtt {
class broker;
}

namespace liandu::connect::bridge {

struct manager_options {
  // The bridges file (JSON array, with passwords, mode 0600); empty: nothing
  // is persisted.
  std::string path;
  timing bridge_timing;
  // Stores a message that came in over a bridge: the mapping rules of
  // `database` only. Runs on the thread of the bridge connection that
  // received it: on several threads at once for a bridge with more than one
  // connection (their durable writes then share WAL commits). Optional.
  std::function<status(std::string_view database, std::string_view topic, std::string_view payload)> ingest;
};

// The set of bridges of one server: their configuration (persisted), their
// connections, and the glue to the local broker.
//
// Inbound: every message a bridge receives is stored through `ingest` (not
// for retained messages replayed after a reconnect) and published on the
// local broker (set_local_broker) with its QoS and retain flag. A QoS 1
// message is acknowledged to the remote broker after `ingest` returned; when
// it returns io_error, limit_exceeded or internal, the message is neither
// acknowledged nor published locally, and the bridge reconnects. Messages
// from a bridge never reach on_local_publish (the broker calls its publish hook only for
// client PUBLISH packets), so nothing that came in over a bridge is sent back
// out.
// Outbound: on_local_publish (from the MQTT server's publish hook) hands a
// local client's message to every bridge with a matching forward filter.
//
// Thread safety: all methods may be called from any thread. Bridges are
// started only after start(), so that loading at boot does not connect before
// the local broker exists.
class bridge_manager {
 public:
  explicit bridge_manager(manager_options o);
  ~bridge_manager();
  bridge_manager(const bridge_manager&) = delete;
  bridge_manager& operator=(const bridge_manager&) = delete;

  // Reads the bridges file; a missing file is not an error.
  status load();
  // Validates, adds or replaces (by name) and persists one entry; (re)starts
  // the bridge at once when the manager runs. A password or psk equal to the
  // mask GET shows keeps the stored one of the entry it replaces.
  status put(const nlohmann::json& entry);
  // Stops and forgets one bridge; not_found when there is none.
  status remove(std::string_view name);
  // Every entry, password and psk masked, with "status" (connecting, connected,
  // error), "last_error", "connections_up" and message counters.
  std::vector<nlohmann::json> list() const;

  // The local broker messages from bridges are published on (null: none).
  void set_local_broker(mqtt::broker* b) { local_broker_ = b; }
  void start();
  void stop();

  // A message a local MQTT client published.
  void on_local_publish(std::string_view topic, std::string_view payload);

  // For /metrics: connected gauge and message counters per bridge.
  void append_metrics(prometheus::text_writer& w) const;

 private:
  std::shared_ptr<bridge> make_bridge(bridge_config c);
  status on_message(const bridge_config& c, const inbound& m);
  status save_locked() const;

  const manager_options options_;
  std::atomic<mqtt::broker*> local_broker_{nullptr};
  mutable std::shared_mutex mu_;
  bool running_ = false;
  std::map<std::string, std::shared_ptr<bridge>, std::less<>> bridges_;
};

// Writes `data` to `path` atomically (temp file, fsync, rename, fsync of the
// folder) with mode 0600: the file holds remote passwords.
status write_private_file(const std::string& path, std::string_view data);

}  // namespace liandu::connect::bridge
