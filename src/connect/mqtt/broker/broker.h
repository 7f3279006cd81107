#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "connect/mqtt/broker/hooks.h"
#include "connect/mqtt/broker/message.h"
#include "connect/mqtt/broker/subscription_tree.h"
#include "connect/mqtt/codec/codec.h"

namespace liandu::connect::mqtt {

struct broker_config {
  // Inbound QoS 2 messages a client may have awaiting PUBREL (advertised as
  // Receive Maximum in v5 CONNACK; more is "receive maximum exceeded").
  uint16_t receive_maximum = 1024;
  // Outbound QoS 1/2 messages in flight per session; a v5 client's smaller
  // Receive Maximum wins. The rest wait in the session queue.
  uint16_t max_inflight = 64;
  // Topic aliases a v5 client may set on its PUBLISH packets (0: none).
  uint16_t topic_alias_maximum = 64;
  // Largest packet accepted (advertised in v5 CONNACK; the server enforces it
  // while decoding).
  uint32_t max_packet_size = 1 << 20;
  // Queued messages per offline or slow session; newer ones are dropped.
  size_t max_queued_messages = 10000;
  // Folder for broker.state (persistent sessions and retained messages);
  // empty: nothing is persisted.
  std::string data_dir;
  // Runs fn(0) … fn(n - 1), possibly on several threads, and returns when
  // all have returned. Set by the server (its hook threads); null: the
  // on_publish hook is always called one message after another.
  std::function<void(size_t n, const std::function<void(size_t)>& fn)> run_parallel;
  // Hook calls of one batch run on at most this many threads at once, and
  // only while the hook's average duration is at least slow_hook_ns (a
  // hook that returns at once is cheaper called in place).
  size_t max_parallel_hooks = 16;
  int64_t slow_hook_ns = 50000;
  // Milliseconds of a monotonic clock; injected by tests.
  std::function<int64_t()> clock_ms;
};

struct broker_stats {
  std::atomic<uint64_t> messages_received{0};
  std::atomic<uint64_t> messages_sent{0};
  std::atomic<uint64_t> messages_dropped{0};
  std::atomic<uint64_t> on_publish_errors{0};
  std::atomic<uint64_t> protocol_errors{0};
};

// The transport of one client connection, implemented by the server.
// Thread-safe: the broker calls it from any worker thread, possibly while
// holding the broker lock, so it must only queue work and never call back
// into the broker synchronously.
class link {
 public:
  virtual ~link() = default;
  // Queues the bytes of one or more encoded packets, written in call order.
  virtual void send(std::string bytes) = 0;
  // Writes what is queued, then closes the connection.
  virtual void close() = 0;
};

class broker;
struct session;

// The broker side of one network connection. The server calls its methods
// for one connection one at a time (never concurrently), on worker threads.
class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(broker* b, std::shared_ptr<link> l) : broker_(b), link_(std::move(l)) {}

  // One decoded packet from the client.
  void handle(packet p);
  // Packets read together, in order (see handle_publish.cc).
  void handle_batch(std::vector<packet>& packets);
  // The decoder failed: closes with the reason (v5 DISCONNECT when connected).
  void decode_failed(const decode_error& err);
  // No packet within 1.5 × keep-alive: will, DISCONNECT 0x8D (v5), close.
  void keep_alive_expired();
  // The socket closed or failed. Publishes the will unless the client sent
  // DISCONNECT. Idempotent.
  void transport_closed();

  // Keep-alive in seconds from CONNECT (0: none); 0 before CONNECT.
  uint16_t keep_alive() const { return keep_alive_; }
  bool connected() const { return phase_ == phase::connected; }
  uint8_t protocol_level() const { return level_; }
  const std::string& client_id() const { return client_id_; }

 private:
  friend class broker;
  enum class phase { awaiting_connect, connected, closed };

  void handle_connect(connect_packet& c);
  void handle_publish(publish_packet& p);
  std::optional<std::pair<reason_code, const char*>> check_publish(publish_packet& p);
  status call_on_publish(const publish_packet& p);
  void call_on_publish_batch(const std::vector<publish_packet*>& run, std::vector<status>& out);
  void finish_publish(publish_packet& p, const status& st);
  void handle_puback(const ack_packet& a);
  void handle_pubrec(const ack_packet& a);
  void handle_pubrel(const ack_packet& a);
  void handle_pubcomp(const ack_packet& a);
  void handle_subscribe(const subscribe_packet& s);
  void handle_unsubscribe(const unsubscribe_packet& u);
  void handle_pingreq();
  void handle_disconnect(const disconnect_packet& d);

  // Closes for a protocol violation: DISCONNECT with `rc` when v5 and
  // connected, the will is published.
  void violation(reason_code rc, const std::string& why);
  bool refuse_publish(const publish_packet& p, const status& st);
  // Ends the connection: will (when `publish_will`), session detach, close.
  void end(bool publish_will);
  void send(const packet& p);

  broker* broker_;
  std::shared_ptr<link> link_;
  std::atomic<phase> phase_{phase::awaiting_connect};
  uint8_t level_ = protocol_v311;
  std::string client_id_;
  std::string username_;
  uint16_t keep_alive_ = 0;
  // Pointers: most connections have no will and use no topic alias, and an
  // idle connection should cost little (a std::map is 48 bytes even empty).
  std::unique_ptr<will_message> will_;
  std::unique_ptr<std::map<uint16_t, std::string>> aliases_;  // inbound topic aliases (v5)
};

// What a session holds for its subscriptions and QoS 1/2 flows (the
// "session state" of MQTT 5 4.1 beyond the will). Many clients never need
// it (idle ones, devices that only publish QoS 0/1), so a session allocates
// it on first use.
struct session_state {
  std::map<std::string, subscription_entry> subscriptions;  // by filter
  // Lists, not deques: an empty std::deque allocates about 600 bytes.
  std::list<outgoing> inflight;      // sent, awaiting the acknowledgement, in send order
  std::list<outgoing> queue;         // not yet sent
  std::set<uint16_t> incoming_qos2;  // received QoS 2 ids awaiting PUBREL
};

// A persistent or live session. Guarded by the broker lock.
// Its client id is the key in broker::sessions_ (not repeated here: one
// copy fewer per connection).
struct session {
  uint8_t level = protocol_v311;
  uint32_t expiry_interval = 0;  // seconds; 0xFFFFFFFF never; 3.1.1 clean=0 → never
  int64_t expires_at_ms = -1;    // while offline; -1 while online or never
  uint16_t next_packet_id = 1;
  uint16_t client_receive_maximum = 65535;
  uint32_t client_max_packet_size = 0;  // 0: no limit given
  std::shared_ptr<connection> conn;     // null while offline

  // Empty (and shared) until mutable_state() first allocated it.
  const session_state& state() const { return state_ ? *state_ : empty_state(); }
  session_state& mutable_state() {
    if (!state_) state_ = std::make_unique<session_state>();
    return *state_;
  }

 private:
  static const session_state& empty_state() {
    static const session_state empty;
    return empty;
  }
  std::unique_ptr<session_state> state_;
};

// The MQTT broker: sessions, the subscription tree, retained messages and
// routing. No I/O except the optional state file. Thread-safe: one lock
// guards all state; hooks run outside it.
class broker {
 public:
  broker(broker_config config, mqtt_hooks hooks);
  ~broker();
  broker(const broker&) = delete;
  broker& operator=(const broker&) = delete;

  // A new network connection; the result is fed its packets.
  std::shared_ptr<connection> open(std::shared_ptr<link> l);

  // Housekeeping, called about once a second: drops expired offline
  // sessions and expired queued or retained messages.
  void tick();

  // Reads data_dir/broker.state (persistent sessions, their subscriptions and
  // queued messages, retained messages). A missing file is not an error.
  status load();
  // Writes the state atomically (temp file, fsync, rename, fsync of the
  // folder) when anything persistent changed since the last save, or always
  // when `force`.
  status save(bool force = false);

  // Publishes a message as if a client had (used for wills and by tests).
  void publish(message m);

  const broker_config& config() const { return config_; }
  const broker_stats& stats() const { return stats_; }
  size_t session_count();
  size_t retained_count();
  size_t subscription_count();

 private:
  friend class connection;

  int64_t now_ms() const { return config_.clock_ms(); }
  // The session of c, or end() when c no longer owns it (taken over).
  std::map<std::string, std::shared_ptr<session>>::iterator own_session_locked(const connection* c);
  // All under mu_:
  void route_locked(const message_ptr& m);
  void deliver_locked(session& s, const message_ptr& m, uint8_t qos, bool retain,
                      std::vector<uint32_t> sub_ids);
  void pump_locked(session& s);
  void send_publish_locked(session& s, const outgoing& o, bool dup);
  void resend_locked(session& s);
  void remove_session_locked(const std::string& client_id);
  void deliver_retained_locked(session& s, const subscription_entry& e);
  uint16_t next_packet_id_locked(session& s);
  std::string serialize_locked();

  broker_config config_;
  mqtt_hooks hooks_;
  broker_stats stats_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<session>> sessions_;
  subscription_tree tree_;
  std::map<std::string, message_ptr> retained_;
  // Wills waiting out their v5 Will Delay Interval, by client id: published
  // by tick() when due, dropped when the client connects again in time.
  std::map<std::string, std::pair<int64_t, message_ptr>> delayed_wills_;
  uint64_t changes_ = 0;  // persistent state changes
  uint64_t saved_changes_ = 0;
  std::mutex save_mu_;
  uint64_t client_id_counter_ = 0;
  // Moving average of the on_publish hook's duration (handle_batch).
  std::atomic<int64_t> hook_ns_avg_{0};
};

}  // namespace liandu::connect::mqtt
