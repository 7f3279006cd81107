#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace liandu::app {

struct serve_options {
  std::string data_dir = "./data";
  std::string http_bind = "127.0.0.1:8086";
  std::string https_bind;  // optional TLS listener
  std::string tls_cert;
  std::string tls_key;
  size_t http_threads = 0;  // 0 = number of cores
  size_t max_body_bytes = 25ull << 20;
  size_t max_line_bytes = 64ull << 10;
  int64_t header_timeout_ms = 10000;
  int64_t idle_timeout_ms = 60000;
  size_t max_connections = 1024;
  size_t head_memory_limit = 512ull << 20;
  size_t checkpoint_bytes = 16ull << 20;
  size_t max_series_per_database = 1000000;
  size_t query_memory_limit = 256ull << 20;
  bool auth = true;
  std::string mqtt_bind = "127.0.0.1:1883";  // "off": no plain MQTT listener
  std::string mqtt_tls_bind;                 // optional MQTT over TLS listener (--tls-cert/--tls-key)
  std::string mqtt_mappings;                 // JSON file of topic mapping rules to load
  std::string bridges;                       // JSON file of MQTT bridges to other brokers, added at start
  std::string modbus_devices;                // JSON file of Modbus TCP devices to poll, added at start
  std::string sparkplug;                     // JSON file of Sparkplug B group entries, added at start
  std::string webhooks;                      // JSON file of webhook receivers, added at start (before rules)
  std::string webhook_ca_file;               // PEM CAs for https:// webhook receivers (and the system store)
  int64_t webhook_timeout_ms = 10000;        // bound of each step of a webhook attempt
  size_t webhook_threads = 4;                // receivers attempted at once
  std::string rules;                         // JSON file of rules (each with its "database"), added at start
  size_t mqtt_max_connections = 10000;
  std::string sparkplug_host_id = "liandu";  // STATE topic id of the primary host; "off": none
  bool simulate = false;                     // run the simulated plant against this server
  std::string simulate_backfill;             // e.g. "1d"
  double simulate_speed = 1.0;
  int64_t shutdown_grace_ms = 10000;
};

// Runs `liandu serve` until SIGTERM/SIGINT; returns the exit code.
int serve(const serve_options& o);

}  // namespace liandu::app
