#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/result.h"
#include "connect/mqtt/broker/broker.h"
#include "connect/mqtt/broker/hooks.h"

namespace liandu::connect::mqtt {

// An MQTT over TLS listener: same broker, sessions, hooks and limits as the
// plain one. The TLS handshake counts against connect_timeout.
struct mqtt_tls_listener {
  std::string host = "127.0.0.1";
  uint16_t port = 8883;          // 0 picks a free port
  std::string cert_chain_file;   // PEM
  std::string private_key_file;  // PEM
};

struct mqtt_server_options {
  std::string host = "127.0.0.1";
  uint16_t port = 1883;  // 0 picks a free port
  // false: no plain TCP listener (host and port unused), TLS only.
  bool plain = true;
  std::optional<mqtt_tls_listener> tls;
  // Open connections at most, over both listeners; one more is closed at
  // once.
  size_t max_connections = 10000;
  // Largest packet a client may send (and the v5 Maximum Packet Size);
  // bigger is "packet too large" and closes that connection.
  uint32_t max_packet_size = 1 << 20;
  // From accept until CONNECT; a silent socket is closed after it.
  std::chrono::milliseconds connect_timeout{10000};
  // Bytes queued for a slow reader before its connection is dropped.
  size_t max_write_queue_bytes = 64 << 20;
  size_t io_threads = 1;
  // Threads that run packet handling and the on_publish hook (which may
  // block on an fsync), so an I/O thread never waits on the disk.
  size_t worker_threads = 4;
  // Threads that run the on_publish calls of one read batch side by side
  // while the hook is slow (durable writes share one group commit); 0: the
  // hook is always called one message after another.
  size_t hook_threads = 64;
  // Broker settings; broker.data_dir empty: nothing persisted.
  broker_config broker;
};

// The MQTT 3.1.1/5.0 server: TCP and TLS listeners on its own io_context, a read
// loop per connection feeding the codec, keep-alive timers, and the broker.
//
// Threads: `io_threads` run the io_context (sockets, one strand per
// connection); `worker_threads` run the broker handlers and the hooks, at
// most one task per connection at a time so its packets are handled in
// order. Packets that arrive while a connection's batch is being handled
// wait in its inbox and are handled next as one batch; a slow on_publish hook is then called for
// that batch's messages on `hook_threads` side by side (see
// connection::handle_batch). Outgoing packets are appended to one buffer per
// connection and written with one write at a time (no per-packet write).
// Connect timeouts and keep-alives are checked by one sweep every 250 ms.
// Once a second the broker drops expired sessions and messages and writes
// its state file when it changed (on a worker).
//
// Lifecycle: construct, start() (loads the state, binds, starts threads),
// stop() (closes every connection, saves the state, joins). The destructor
// calls stop().
class mqtt_server {
 public:
  mqtt_server(mqtt_server_options options, mqtt_hooks hooks);
  ~mqtt_server();
  mqtt_server(const mqtt_server&) = delete;
  mqtt_server& operator=(const mqtt_server&) = delete;

  // Loads the broker state, loads the TLS certificate and key, binds the
  // listeners and starts the threads. Returns the bound plain port (0 when
  // plain is false; see tls_port()).
  result<uint16_t> start();
  // The bound TLS port after start(); 0 without a TLS listener.
  uint16_t tls_port() const;
  // Idempotent; safe from any thread except the server's own.
  void stop();

  size_t open_connections() const;
  mqtt::broker& broker();

  struct impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace liandu::connect::mqtt
