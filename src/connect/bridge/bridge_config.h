#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/result.h"

struct x509_store_st;

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
//
// An encrypted `key_file` (PEM, PKCS#8 or traditional) takes its passphrase
// from `key_password_file`: the first line of that file, as `openssl
// -passin file:` reads it. A file rather than the passphrase in the entry,
// so that the secret never travels in a REST body (or shell history), is
// never in bridges.json or GET, and is provisioned and rotated like the key
// itself (a systemd credential, a mounted secret, mode 0400); the path is
// not a secret and GET shows it. Parsing with file_check::readable loads the
// key with it: an encrypted key without the file, or a passphrase that does
// not decrypt it, is an error naming the key (the passphrase is never
// quoted). The file is read again on each connection attempt.
//
// `crl_file` (PEM, one or more CRLs): the broker's certificate must not be
// listed as revoked in the CRL of the CA that issued it. That CRL must be in
// the file and current (OpenSSL refuses the handshake with "unable to get
// certificate CRL" or "CRL has expired" otherwise); only the broker's own
// certificate is checked, not intermediate CAs. Read again on each
// connection attempt, so a CRL renewed on disk is used without posting the
// bridge again.
//
// Instead of certificates, a pre-shared key (TLS-PSK, as mosquitto's
// `psk_hint`/`psk_file` listeners offer): `psk` (the key in hexadecimal) and
// `psk_identity`, both or neither. Not with `ca_file`, `ca_path`,
// `cert_file`, `key_file`, `key_password_file`, `crl_file` or `insecure`
// (a broker's listener takes one or the other, and with both it would be
// unclear which vouches for the broker). Works over TLS 1.2 and 1.3. The psk is a secret like the password:
// masked by GET and `to_json(c, false)`, and a POST that sends the mask back keeps it.
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
  std::string key_password_file;  // the passphrase of an encrypted key_file, first line
  std::string crl_file;
  bool insecure = false;
  std::string tls_version = "tlsv1.2";  // the lowest accepted: "tlsv1.2" or "tlsv1.3"
  std::string psk;                      // hexadecimal; a secret, masked like the password
  std::string psk_identity;
  int connections = 1;
};

inline constexpr int max_connections = 16;

// What GET shows instead of a password or psk; a POST that sends it back
// keeps the stored one.
inline constexpr const char* password_mask = "********";

// The longest psk, in hexadecimal digits (OpenSSL's PSK_MAX_PSK_LEN, 512
// bytes), and psk_identity, in bytes.
inline constexpr size_t max_psk_hex_digits = 1024;
inline constexpr size_t max_psk_identity = 128;

// Whether parse_bridge_config opens the TLS files an entry names.
enum class file_check {
  // POST and --bridges: a CA, certificate, key, passphrase or CRL file that
  // cannot be read is an error naming the key and the path, and so is a key
  // that does not load (encrypted without `key_password_file`, or a wrong
  // passphrase) and a `crl_file` holding no CRL.
  readable,
  // bridges.json at start: a file that went away since the entry was accepted
  // must not stop the server; the bridge reports the TLS error when it
  // connects instead.
  skip,
};

// Validates one entry. Errors name the bridge and the key, e.g.
// `bridge site-b: "subscribe"[1].qos must be 0, 1 or 2`. Read-only keys that
// GET adds (status, last_error, connections_up, messages_in,
// messages_out, messages_dropped, sessions_to_end) are ignored.
result<bridge_config> parse_bridge_config(const nlohmann::json& j, file_check files = file_check::readable);

// With "tls": the files the entry names can be read now, the key loads
// (with the passphrase from `key_password_file` when it is encrypted) and the
// CRL file holds CRLs; an error names the key and the path, never the
// passphrase. Also run by the bridge before each connection attempt.
status check_tls_files(const bridge_config& c);

// Adds the CRLs in `c.crl_file` (PEM) to `store` and has it check the
// broker's certificate against its issuer's CRL (X509_V_FLAG_CRL_CHECK). An
// error names `crl_file` and the path when the file holds no CRL.
status add_crls(const bridge_config& c, x509_store_st* store);

// OpenSSL's reason for this thread's last failure ("bad decrypt", "no crl
// found"); its error queue is cleared.
std::string openssl_reason();

// The passphrase in `c.key_password_file`: its first line, without the line
// end. An error names `key_password_file` and the path, not the content.
result<std::string> read_key_password(const bridge_config& c);

// The entry as JSON; the password and psk are replaced by `password_mask`
// (when set) unless `with_secrets` (bridges.json).
nlohmann::json to_json(const bridge_config& c, bool with_secrets);

}  // namespace liandu::connect::bridge
