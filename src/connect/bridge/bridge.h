#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "connect/bridge/bridge_config.h"

struct mosquitto;
struct mosquitto_message;
struct ssl_ctx_st;
struct ssl_st;
struct x509_store_ctx_st;

namespace liandu::connect::bridge {

enum class state { stopped, connecting, connected, error };
const char* state_name(state s);

// The QoS the bridge asks the remote broker for when the entry says
// `configured`: at most 1, so that every message is acknowledged only after
// it is stored (a QoS 2 publish is delivered at QoS 1 and may come twice).
int subscribed_qos(int configured);

// The filter each connection subscribes to for `s`: the filter itself with
// one connection; with more, "$share/<client_id>/<filter>", so that the
// remote broker hands each message to one connection of the group (a filter
// that already names a share group is kept as it is).
std::string subscribed_filter(const bridge_config& c, const subscription& s);

// The client id of connection `index` (0-based): the configured one for the
// first, "<client_id>-<index + 1>" for the others. Stable across restarts, so
// that `clean_session: false` sessions are resumed.
std::string connection_client_id(const bridge_config& c, int index);

// Every client id the bridge connects with, in connection order.
std::vector<std::string> connection_client_ids(const bridge_config& c);

// The client ids whose sessions `before` leaves on its remote broker when it
// is replaced by `after` (null: deleted): with `clean_session: false`, those
// `after` does not connect with on the same broker (host and port). Lowering
// `connections` from 4 to 2 leaves "<client_id>-3" and "<client_id>-4"; a
// deleted bridge, or one moved to another broker or client id, leaves all.
std::vector<std::string> sessions_left_behind(const bridge_config& before, const bridge_config* after);

// The filters a session of `c` may hold on the remote broker: the shared
// ones its connections subscribe to and, since the first connection of a
// bridge that had one connection holds them, the plain ones.
std::vector<std::string> session_filters(const bridge_config& c);

// Remote sessions left behind by a bridge (sessions_left_behind), for a
// bridge that ends them instead of serving (see bridge's second
// constructor).
struct left_sessions {
  std::vector<std::string> client_ids;
  // Unsubscribed before the session is drained (session_filters of the
  // bridge that left it).
  std::vector<std::string> filters;
};

// A message the remote broker delivered to the bridge.
struct inbound {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retain = false;
  // A retained message the broker replays because the bridge subscribed
  // again after a reconnect (it was taken in on an earlier connection).
  bool replay = false;
};

struct timing {
  // Reconnect delay: doubles after each failed attempt from `backoff_initial`
  // up to `backoff_max`; back to `backoff_initial` once connected.
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{30000};
  // A TCP connect plus CONNACK that takes longer counts as failed.
  std::chrono::milliseconds connect_timeout{10000};
  // A local message forwarded to the remote broker whose copy comes back on
  // one of our subscriptions within this time is dropped (loop prevention).
  std::chrono::milliseconds echo_window{30000};
  // Ending a session left behind: its queued messages are taken in until
  // none came for `drain_quiet` after the broker confirmed the unsubscribe,
  // or for `drain_max` in all (what is still queued then is lost).
  std::chrono::milliseconds drain_quiet{1000};
  std::chrono::milliseconds drain_max{30000};
};

struct bridge_stats {
  // `connected` only while every connection is; otherwise `error` when one
  // of them failed, else `connecting` (or `stopped`).
  state st = state::stopped;
  // The first connection's with one; "connection K: ..." of the first with
  // an error otherwise.
  std::string last_error;
  int connections_up = 0;
  uint64_t messages_in = 0;
  uint64_t messages_out = 0;
  uint64_t messages_dropped = 0;
  // Only for a bridge that ends sessions: the client ids not ended yet, and
  // how many were.
  std::vector<std::string> sessions_to_end;
  uint64_t sessions_ended = 0;
};

// A bridge to a remote broker: `config.connections` MQTT clients
// (libmosquitto, MQTT 3.1.1), each subscribing to the configured filters on
// every (re)connect (shared, see subscribed_filter, when there are several)
// and handing each message it receives to `on_message`; `forward` publishes
// a local message to the remote broker when its topic matches a forward
// filter.
//
// Loops: MQTT 3.1.1 has no "no local" option, so a message we forward that
// also matches one of our remote subscriptions comes back, on any of the
// connections. The bridge remembers (topic, payload) of what it forwarded
// for `echo_window` and drops the first copy that returns.
//
// Threads: one thread per connection runs its libmosquitto loop, its
// reconnect backoff and `on_message` for what it receives, so with several
// connections `on_message` runs on several threads at once. `forward` and
// `stats` may be called from any thread. start() and stop() from one owner
// thread.
class bridge {
 public:
  // Returns an error when the message must not be acknowledged (it could not
  // be stored, and trying again later may succeed): the bridge then drops the
  // connection before its PUBACK leaves, and reconnects with backoff; a
  // remote session kept with `clean_session: false` delivers it again.
  using message_fn = std::function<status(const bridge_config&, const inbound&)>;

  bridge(bridge_config config, message_fn on_message, timing t = {});
  // A bridge that ends the remote sessions `left` (connecting with the
  // settings of `config`) instead of serving: one connection per client id
  // resumes the session (clean_session false), unsubscribes `left.filters`
  // so the broker queues nothing more for it, takes in what the broker had
  // queued (handed to `on_message` and acknowledged as a serving bridge
  // does) until none comes for `drain_quiet` (at most `drain_max`),
  // disconnects, and connects once more with clean_session true, which
  // makes the broker discard the session; then its thread ends. Failures are
  // retried with the backoff and shown in stats() ("session <client id>: ...")
  // until it is done or stop(). Nothing is forwarded over it.
  bridge(bridge_config config, message_fn on_message, timing t, left_sessions left);
  ~bridge();
  bridge(const bridge&) = delete;
  bridge& operator=(const bridge&) = delete;

  void start();
  // Disconnects and joins the threads; idempotent.
  void stop();

  // Sends a message a local client published to the remote broker when its
  // topic matches a forward filter (the first one wins), over the first
  // connection that is up. Dropped and counted while none is. Never blocks
  // on the network.
  void forward(std::string_view topic, std::string_view payload);

  bridge_stats stats() const;
  const bridge_config& config() const { return config_; }

 private:
  // What a connection ending a session left behind does next.
  enum class phase { serve, drain, clean, done };

  // One MQTT client of the bridge: its own socket, thread and backoff.
  struct connection {
    bridge* owner = nullptr;
    int index = 0;  // 0-based
    std::string client_id;
    // serve, or drain -> clean -> done for a session left behind. Written
    // by its thread under mu_ (stats() reads it).
    phase ph = phase::serve;
    // Ending a session: UNSUBACKs still awaited, steady clock ns of the last
    // message or UNSUBACK. Its thread's (libmosquitto's callbacks run on it).
    size_t unsubacks_pending = 0;
    int64_t last_activity_ns = 0;
    mosquitto* mosq = nullptr;
    std::thread thread;
    std::atomic<bool> connected{false};
    std::atomic<uint64_t> connects{0};  // successful connects so far
    // With "tls": the TLS context libmosquitto uses for this client, made
    // and configured by us (see configure_tls); one reference is ours,
    // dropped after mosq is destroyed. Its thread's.
    ssl_ctx_st* ssl_ctx = nullptr;
    // Guarded by the bridge's mu_.
    state st = state::stopped;
    std::string last_error;
    std::string attempt_error;  // set by the CONNACK callback for the current attempt
    // libmosquitto's error log lines during the current attempt (OpenSSL's
    // reasons for a failed handshake: "certificate verify failed", ...).
    std::string attempt_log;
  };

  void make_connection(int index, std::string client_id, phase ph);
  // Creates c.mosq (again: dropping the old client and its TLS context) with
  // `clean_session` and our options and callbacks; the reason on failure.
  std::string make_client(connection& c, bool clean_session);
  void run(connection& c);
  // With "tls", before each attempt: checks the files again (a key that no
  // longer decrypts is named here), then sets up the client's TLS context
  // from the files as they are on disk now: CA and CRLs in a fresh store,
  // client certificate and key, or the psk. The reason on failure.
  std::string configure_tls(connection& c);
  // Makes c.ssl_ctx and hands it to libmosquitto, once per client.
  std::string make_tls_context(connection& c);
  // One connection attempt, kept up until it fails or stop(); why it failed
  // ("" after stop()). Resets `delay` once connected.
  std::string connect_and_run(connection& c, std::chrono::milliseconds& delay);
  // One attempt to end c's session (see the second constructor), from its
  // current phase; why it failed ("" when done or after stop()).
  std::string end_session(connection& c, std::chrono::milliseconds& delay);
  // Connects and runs the loop until CONNACK; why it failed.
  std::string connect_until_connack(connection& c, std::chrono::milliseconds& delay);
  void set_phase(connection& c, phase ph);
  // Sends DISCONNECT and lets it reach the socket.
  void disconnect(connection& c);
  void set_state(connection& c, state s, const std::string& err);
  void wait(std::chrono::milliseconds d);
  bool is_echo(const std::string& topic, std::string_view payload);
  void remember_forwarded(const std::string& remote_topic, std::string_view payload);

  // libmosquitto callbacks; `self` is the connection.
  static void on_connect(mosquitto*, void* self, int rc);
  static void on_disconnect(mosquitto*, void* self, int rc);
  static void on_unsubscribe(mosquitto*, void* self, int mid);
  static void on_message_cb(mosquitto*, void* self, const mosquitto_message* m);
  static void on_log(mosquitto*, void* self, int level, const char* text);
  // OpenSSL callbacks, run by the connection's thread inside libmosquitto.
  // The passphrase of an encrypted key_file, read from key_password_file
  // (`self` is the connection). The psk and its identity (the context's app
  // data is the connection). Verifying the broker's chain, which keeps
  // OpenSSL's reason ("certificate revoked", "Hostname mismatch") for
  // last_error (`self` is the connection).
  static int on_key_passphrase(char* buf, int size, int rwflag, void* self);
  static unsigned int on_psk(ssl_st* ssl, const char* hint, char* identity, unsigned int max_identity_len,
                             unsigned char* psk, unsigned int max_psk_len);
  static int verify_broker(x509_store_ctx_st* store, void* self);
  void append_attempt_log(connection& c, std::string_view text);

  const bridge_config config_;
  const message_fn on_message_;
  const timing timing_;
  const std::vector<std::string> unsubscribe_filters_;  // for sessions left behind
  // Made in the constructor, never resized: stats() and forward() read it
  // from any thread.
  std::vector<std::unique_ptr<connection>> connections_;
  std::atomic<bool> stopping_{false};
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;

  mutable std::mutex mu_;  // guards the connections' state fields
  std::atomic<uint64_t> in_{0}, out_{0}, dropped_{0};

  std::mutex echo_mu_;
  // hash of (remote topic, payload) -> deadlines (steady clock ns) of copies
  // forwarded and not yet seen coming back.
  std::map<uint64_t, std::vector<int64_t>> echoes_;
};

}  // namespace liandu::connect::bridge
