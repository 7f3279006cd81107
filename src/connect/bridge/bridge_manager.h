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
  // is persisted. The sessions left behind on remote brokers that are still
  // to be ended are kept beside it, in bridge_sessions.json (sessions_path).
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
// Sessions left behind: when a `clean_session: false` bridge is replaced by
// one that no longer connects with some of its client ids on the same broker
// (`connections` lowered, client id or broker changed) or is removed, the
// remote broker would keep those sessions, members of the share group, and
// queue their share of the messages for clients that never come back. The
// manager ends them (sessions_left_behind, and bridge's second constructor:
// drained, then discarded with a clean session), in the background, with the
// bridge's settings and backoff, until done or the bridge changes again (a
// client id that any bridge connects with again on that broker is no longer
// ended). They are
// persisted in bridge_sessions.json before bridges.json changes, so a
// restart goes on with them; at start, one that a loaded bridge connects
// with is dropped. GET shows them as "sessions_to_end" (and the reason they
// are not ended yet in "last_error" while the bridge itself has none), and
// /metrics as liandu_bridge_sessions_to_end and
// liandu_bridge_sessions_ended_total.
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
  // error), "last_error", "connections_up", message counters and
  // "sessions_to_end".
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
  // Sessions one bridge left behind on one broker (host, port), not ended
  // yet.
  struct left_behind {
    std::string name;  // of the bridge
    // The settings the sessions are ended with: the newest entry of that
    // bridge for that broker.
    bridge_config config;
    left_sessions sessions;
    std::shared_ptr<bridge> worker;  // ending them, while running
  };

  std::shared_ptr<bridge> make_bridge(bridge_config c);
  status on_message(const bridge_config& c, const inbound& m);
  status save_locked() const;
  status save_sessions_locked() const;
  status load_sessions_locked();
  // Bridge `name` changes from `before` to `after` (either null: added,
  // removed): stops the workers ending sessions (keeping what they ended),
  // adds the sessions `before` leaves behind and drops those `after`
  // connects with (left by any bridge on that broker). Workers are started
  // again by start_workers_locked.
  void reconcile_locked(std::string_view name, const bridge_config* before, const bridge_config* after);
  void stop_workers_locked();
  void start_workers_locked();

  const manager_options options_;
  std::atomic<mqtt::broker*> local_broker_{nullptr};
  mutable std::shared_mutex mu_;
  bool running_ = false;
  std::map<std::string, std::shared_ptr<bridge>, std::less<>> bridges_;
  std::vector<left_behind> left_;
  // Sessions ended by workers since stopped, per bridge name.
  std::map<std::string, uint64_t, std::less<>> sessions_ended_;
};

// The file beside `bridges_path` that holds the sessions left behind:
// "<folder>/bridge_sessions.json".
std::string sessions_path_for(const std::string& bridges_path);

// Writes `data` to `path` atomically (temp file, fsync, rename, fsync of the
// folder) with mode 0600: the file holds remote passwords.
status write_private_file(const std::string& path, std::string_view data);

}  // namespace liandu::connect::bridge
