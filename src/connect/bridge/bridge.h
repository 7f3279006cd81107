#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "connect/bridge/bridge_config.h"

struct mosquitto;
struct mosquitto_message;

namespace liandu::connect::bridge {

enum class state { stopped, connecting, connected, error };
const char* state_name(state s);

// The QoS the bridge asks the remote broker for when the entry says
// `configured`: at most 1, so that every message is acknowledged only after
// it is stored (a QoS 2 publish is delivered at QoS 1 and may come twice).
int subscribed_qos(int configured);

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
};

struct bridge_stats {
  state st = state::stopped;
  std::string last_error;
  uint64_t messages_in = 0;
  uint64_t messages_out = 0;
  uint64_t messages_dropped = 0;
};

// One MQTT client connection (libmosquitto, MQTT 3.1.1) from Liandu to a
// remote broker. It subscribes to the configured filters on every (re)connect
// and hands each message it receives to `on_message`; `forward` publishes a
// local message to the remote broker when its topic matches a forward filter.
//
// Loops: MQTT 3.1.1 has no "no local" option, so a message we forward that
// also matches one of our remote subscriptions comes back. The bridge
// remembers (topic, payload) of what it forwarded for `echo_window` and drops
// the first copy that returns.
//
// Threads: one thread per bridge runs the libmosquitto loop, the reconnect
// backoff and `on_message`. `forward` and `stats` may be called from any
// thread. start() and stop() from one owner thread.
class bridge {
 public:
  // Returns an error when the message must not be acknowledged (it could not
  // be stored, and trying again later may succeed): the bridge then drops the
  // connection before its PUBACK leaves, and reconnects with backoff; a
  // remote session kept with `clean_session: false` delivers it again.
  using message_fn = std::function<status(const bridge_config&, const inbound&)>;

  bridge(bridge_config config, message_fn on_message, timing t = {});
  ~bridge();
  bridge(const bridge&) = delete;
  bridge& operator=(const bridge&) = delete;

  void start();
  // Disconnects and joins the thread; idempotent.
  void stop();

  // Sends a message a local client published to the remote broker when its
  // topic matches a forward filter (the first one wins). Dropped and counted
  // while not connected. Never blocks on the network.
  void forward(std::string_view topic, std::string_view payload);

  bridge_stats stats() const;
  const bridge_config& config() const { return config_; }

 private:
  void run();
  // With "tls": hands the CA, certificate and key to libmosquitto, once
  // (retried on each attempt until it works). The reason on failure.
  std::string configure_tls();
  // One connection attempt, kept up until it fails or stop(); why it failed
  // ("" after stop()). Resets `delay` once connected.
  std::string connect_and_run(std::chrono::milliseconds& delay);
  void set_state(state s, const std::string& err);
  void wait(std::chrono::milliseconds d);
  bool is_echo(const std::string& topic, std::string_view payload);
  void remember_forwarded(const std::string& remote_topic, std::string_view payload);

  static void on_connect(mosquitto*, void* self, int rc);
  static void on_disconnect(mosquitto*, void* self, int rc);
  static void on_message_cb(mosquitto*, void* self, const mosquitto_message* m);
  static void on_log(mosquitto*, void* self, int level, const char* text);

  const bridge_config config_;
  const message_fn on_message_;
  const timing timing_;
  mosquitto* mosq_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> connected_{false};
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;
  bool tls_ready_ = false;  // the connect thread's

  mutable std::mutex mu_;  // guards the fields below
  state state_ = state::stopped;
  std::string last_error_;
  std::string attempt_error_;  // set by the CONNACK callback for the current attempt
  // libmosquitto's error log lines during the current attempt (OpenSSL's
  // reasons for a failed handshake: "certificate verify failed", ...).
  std::string attempt_log_;
  uint64_t connections_ = 0;  // successful connects so far
  std::atomic<uint64_t> in_{0}, out_{0}, dropped_{0};

  std::mutex echo_mu_;
  // hash of (remote topic, payload) -> deadlines (steady clock ns) of copies
  // forwarded and not yet seen coming back.
  std::map<uint64_t, std::vector<int64_t>> echoes_;
};

}  // namespace liandu::connect::bridge
