#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/result.h"

namespace liandu::connect::bridge {

// One bridge to another MQTT broker, as given to the REST API, the
// --bridges file and the persisted bridges.json:
//
//   {"name": "site-b", "database": "plant",
//    "host": "broker.site-b.example", "port": 1883,
//    "client_id": "liandu-site-a", "username": "bridge", "password": "secret",
//    "keepalive_s": 60, "clean_session": true,
//    "subscribe": [{"filter": "factory/+/telemetry", "qos": 1}],
//    "forward":   [{"filter": "commands/#", "qos": 1, "remote_prefix": "site-a/"}]}
//
// `subscribe`: remote topics Liandu takes in (ingested into `database` and
// republished on the local broker). `forward`: local topics Liandu sends to
// the remote broker, as `remote_prefix` + topic. Defaults: port 1883,
// client_id "liandu-bridge-<name>", keepalive_s 60, qos 0, clean_session true.
struct subscription {
  std::string filter;
  int qos = 0;
};

struct forward_rule {
  std::string filter;
  int qos = 0;
  std::string remote_prefix;
};

struct bridge_config {
  std::string name;
  std::string database;
  std::string host;
  int port = 1883;
  std::string client_id;
  std::string username;
  std::string password;
  int keepalive_s = 60;
  bool clean_session = true;
  std::vector<subscription> subscribe;
  std::vector<forward_rule> forward;
};

// What GET shows instead of a password; a POST that sends it back keeps the
// stored password.
inline constexpr const char* password_mask = "********";

// Validates one entry. Errors name the bridge and the key, e.g.
// `bridge site-b: "subscribe"[1].qos must be 0, 1 or 2`. Read-only keys that
// GET adds (status, last_error, messages_in,
// messages_out, messages_dropped) are ignored.
result<bridge_config> parse_bridge_config(const nlohmann::json& j);

// The entry as JSON; the password is replaced by `password_mask` (when one is
// set) unless `with_password`.
nlohmann::json to_json(const bridge_config& c, bool with_password);

}  // namespace liandu::connect::bridge
