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
// A `subscribe` qos of 2 is asked of the remote broker as 1 (subscribed_qos in
// bridge.h): messages are acknowledged only once stored, at least once.
//
// `connections` (1..max_connections, default 1): how many MQTT clients the
// bridge opens to the remote broker. Each stores one message at a time and
// waits for its WAL commit, so one connection carries at most one message
// per fsync; N connections store N messages at once, sharing WAL commits.
// With more than one, every connection subscribes to
// "$share/<client_id>/<filter>" (a filter that already names a share group
// is kept), so the remote broker hands each message to one of them, and the
// client ids are "<client_id>", "<client_id>-2", ... (connection_client_id
// in bridge.h). Messages of one topic may then be stored in another order
// than they arrived: points of the same series and timestamp keep the last
// one stored. Needs `subscribe` filters; the client id names the share
// group and must hold no '/', '+' or '#'.
//
// TLS to the remote broker (off unless "tls": true):
//
//   "tls": true, "ca_file": "/etc/liandu/site-b-ca.pem",
//   "cert_file": "/etc/liandu/bridge.crt", "key_file": "/etc/liandu/bridge.key",
//   "tls_version": "tlsv1.2", "insecure": false
//
// `ca_file` (PEM) or `ca_path` (a folder prepared with `openssl rehash`), or
// both, hold the CAs the broker's certificate must chain to; `cert_file` and
// `key_file` (PEM, key not encrypted) are the client certificate, both or
// neither. The broker's certificate must name `host` (DNS or IP
// subjectAltName) unless `insecure`, which skips that check and is meant for
// tests only: anyone with a certificate from the same CA could then pose as
// the broker. `tls_version` is the lowest version accepted ("tlsv1.2", the
// default, or "tlsv1.3").
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
  bool tls = false;
  std::string ca_file;
  std::string ca_path;
  std::string cert_file;
  std::string key_file;
  bool insecure = false;
  std::string tls_version = "tlsv1.2";  // the lowest accepted: "tlsv1.2" or "tlsv1.3"
  int connections = 1;
};

inline constexpr int max_connections = 16;

// What GET shows instead of a password; a POST that sends it back keeps the
// stored password.
inline constexpr const char* password_mask = "********";

// Whether parse_bridge_config opens the TLS files an entry names.
enum class file_check {
  // POST and --bridges: a CA, certificate or key that cannot be read is an
  // error naming the key and the path.
  readable,
  // bridges.json at start: a file that went away since the entry was accepted
  // must not stop the server; the bridge reports the TLS error when it
  // connects instead.
  skip,
};

// Validates one entry. Errors name the bridge and the key, e.g.
// `bridge site-b: "subscribe"[1].qos must be 0, 1 or 2`. Read-only keys that
// GET adds (status, last_error, connections_up, messages_in,
// messages_out, messages_dropped) are ignored.
result<bridge_config> parse_bridge_config(const nlohmann::json& j, file_check files = file_check::readable);

// With "tls": the CA, certificate and key files the entry names can be read
// now (an error names the key and the path).
status check_tls_files(const bridge_config& c);

// The entry as JSON; the password is replaced by `password_mask` (when one is
// set) unless `with_password`.
nlohmann::json to_json(const bridge_config& c, bool with_password);

}  // namespace liandu::connect::bridge
