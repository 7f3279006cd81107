#include "connect/bridge/bridge_config.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>

#include "connect/mqtt/codec/topic.h"

namespace liandu::connect::bridge {

namespace {

// Keys GET adds to an entry; accepted and ignored on input so that a listed
// entry can be posted back unchanged.
const std::set<std::string, std::less<>> read_only_keys = {
    "status",       "last_error",       "connections_up", "messages_in",
    "messages_out", "messages_dropped", "sessions_to_end"};
const std::set<std::string, std::less<>> known_keys = {
    "name",        "database",          "host",          "port",      "client_id",   "username",
    "password",    "keepalive_s",       "clean_session", "subscribe", "forward",     "tls",
    "ca_file",     "ca_path",           "cert_file",     "key_file",  "insecure",    "tls_version",
    "connections", "key_password_file", "crl_file",      "psk",       "psk_identity"};
const std::set<std::string, std::less<>> tls_versions = {"tlsv1.2", "tlsv1.3"};

// Names end up in file names, metric labels and URLs: keep them plain.
bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

class checker {
 public:
  explicit checker(std::string who) : who_(std::move(who)) {}

  status fail(const std::string& key, const std::string& what) const {
    return error(errc::invalid_argument, who_ + ": \"" + key + "\" " + what);
  }

  // A string at j[key]; absent leaves `out` as is unless `required`.
  status string_at(const nlohmann::json& j, const char* key, std::string& out, bool required,
                   const std::string& path = "") const {
    std::string k = path.empty() ? key : path + "." + key;
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return required ? fail(k, "is required (a string)") : status{};
    if (!it->is_string()) return fail(k, "must be a string");
    out = it->get<std::string>();
    return {};
  }

  status int_at(const nlohmann::json& j, const char* key, int& out, int lo, int hi,
                const std::string& path = "") const {
    std::string k = path.empty() ? key : path + "." + key;
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return {};
    if (!it->is_number_integer() || it->get<int64_t>() < lo || it->get<int64_t>() > hi)
      return fail(k, "must be an integer " + std::to_string(lo) + ".." + std::to_string(hi));
    out = it->get<int>();
    return {};
  }

  status bool_at(const nlohmann::json& j, const char* key, bool& out) const {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return {};
    if (!it->is_boolean()) return fail(key, "must be true or false");
    out = it->get<bool>();
    return {};
  }

  // `path` (the value of `key`) must be a readable file, or with `folder` a
  // folder whose entries can be listed and opened.
  status readable_at(const char* key, const std::string& path, bool folder) const {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
      return fail(key, "cannot be read: " + path + ": " + std::strerror(errno));
    if (folder && !S_ISDIR(st.st_mode)) return fail(key, "must be a folder: " + path);
    if (!folder && !S_ISREG(st.st_mode)) return fail(key, "must be a file: " + path);
    if (::access(path.c_str(), folder ? R_OK | X_OK : R_OK) != 0)
      return fail(key, "cannot be read: " + path + ": " + std::strerror(errno));
    return {};
  }

 private:
  std::string who_;
};

status check_filters(const checker& ck, const nlohmann::json& j, const char* key, bool is_forward,
                     bridge_config& c) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_array()) return ck.fail(key, "must be an array of {\"filter\", \"qos\"} objects");
  for (size_t i = 0; i < it->size(); ++i) {
    const auto& e = (*it)[i];
    std::string path = std::string(key) + "[" + std::to_string(i) + "]";
    if (!e.is_object()) return ck.fail(path, "must be an object with \"filter\" and \"qos\"");
    for (const auto& [k, v] : e.items()) {
      bool ok = k == "filter" || k == "qos" || (is_forward && k == "remote_prefix");
      if (!ok) return ck.fail(path + "." + k, "is not a known key");
    }
    std::string filter;
    int qos = 0;
    LIANDU_RETURN_IF_ERROR(ck.string_at(e, "filter", filter, true, path));
    if (!mqtt::valid_topic_filter(filter))
      return ck.fail(path + ".filter", "is not a valid MQTT topic filter: \"" + filter +
                                           "\" ('+' and '#' only as whole levels, '#' last, not empty)");
    LIANDU_RETURN_IF_ERROR(ck.int_at(e, "qos", qos, 0, 2, path));
    if (!is_forward) {
      c.subscribe.push_back({filter, qos});
      continue;
    }
    std::string_view group, inner;
    if (mqtt::split_shared_filter(filter, &group, &inner))
      return ck.fail(path + ".filter", "must not be a shared subscription ($share/...)");
    forward_rule f{filter, qos, ""};
    LIANDU_RETURN_IF_ERROR(ck.string_at(e, "remote_prefix", f.remote_prefix, false, path));
    if (f.remote_prefix.find_first_of("+#") != std::string::npos)
      return ck.fail(path + ".remote_prefix", "must not contain '+' or '#'");
    c.forward.push_back(std::move(f));
  }
  return {};
}

// The TLS file keys of an entry, with whether each names a folder. All of
// them belong to certificate authentication (none goes with a psk).
struct tls_file {
  const char* key;
  std::string bridge_config::*value;
  bool folder;
};
constexpr tls_file tls_files[] = {{"ca_file", &bridge_config::ca_file, false},
                                  {"ca_path", &bridge_config::ca_path, true},
                                  {"cert_file", &bridge_config::cert_file, false},
                                  {"key_file", &bridge_config::key_file, false},
                                  {"key_password_file", &bridge_config::key_password_file, false},
                                  {"crl_file", &bridge_config::crl_file, false}};

bool is_hex(const std::string& s) {
  return s.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
}

// The pre-shared key pair. The psk's value is never quoted in an error.
status check_psk(const checker& ck, const bridge_config& c) {
  if (c.psk.empty() != c.psk_identity.empty()) {
    std::string missing = c.psk.empty() ? "psk" : "psk_identity";
    std::string given = c.psk.empty() ? "psk_identity" : "psk";
    return ck.fail(missing, "is required with \"" + given + "\" (a pre-shared key needs both)");
  }
  if (c.psk.empty()) return {};
  // The mask stands for the stored key; bridge_manager::put swaps it in.
  if (c.psk != password_mask &&
      (!is_hex(c.psk) || c.psk.size() % 2 != 0 || c.psk.size() > max_psk_hex_digits))
    return ck.fail("psk", "must be the key in hexadecimal: an even number of 0-9 a-f digits, at most " +
                              std::to_string(max_psk_hex_digits));
  if (c.psk_identity.size() > max_psk_identity)
    return ck.fail("psk_identity", "is longer than " + std::to_string(max_psk_identity) + " bytes");
  // A broker's listener takes certificates or a psk (mosquitto refuses
  // both on one listener), and with both it would be unclear which one
  // vouches for the broker: exclusive.
  for (const auto& f : tls_files)
    if (!(c.*f.value).empty())
      return ck.fail("psk",
                     "cannot be used with \"" + std::string(f.key) +
                         "\": a bridge authenticates with certificates or with a pre-shared key, not both");
  if (c.insecure)
    return ck.fail("insecure", "has no meaning with \"psk\" (there is no certificate to check)");
  return {};
}

// The TLS keys. Given without "tls": true they are an error rather than
// ignored, so that a forgotten flag never sends the password in the clear.
// Empty strings count as absent.
status check_tls(const checker& ck, const nlohmann::json& j, bridge_config& c) {
  LIANDU_RETURN_IF_ERROR(ck.bool_at(j, "tls", c.tls));
  for (const auto& f : tls_files) LIANDU_RETURN_IF_ERROR(ck.string_at(j, f.key, c.*f.value, false));
  LIANDU_RETURN_IF_ERROR(ck.bool_at(j, "insecure", c.insecure));
  std::string version;
  LIANDU_RETURN_IF_ERROR(ck.string_at(j, "tls_version", version, false));
  LIANDU_RETURN_IF_ERROR(ck.string_at(j, "psk", c.psk, false));
  LIANDU_RETURN_IF_ERROR(ck.string_at(j, "psk_identity", c.psk_identity, false));
  if (!c.tls) {
    for (const auto& f : tls_files)
      if (!(c.*f.value).empty()) return ck.fail(f.key, "needs \"tls\": true");
    if (c.insecure) return ck.fail("insecure", "needs \"tls\": true");
    if (!version.empty()) return ck.fail("tls_version", "needs \"tls\": true");
    if (!c.psk.empty()) return ck.fail("psk", "needs \"tls\": true");
    if (!c.psk_identity.empty()) return ck.fail("psk_identity", "needs \"tls\": true");
    return {};
  }
  if (!version.empty()) {
    if (!tls_versions.count(version)) return ck.fail("tls_version", "must be \"tlsv1.2\" or \"tlsv1.3\"");
    c.tls_version = version;
  }
  LIANDU_RETURN_IF_ERROR(check_psk(ck, c));
  if (!c.psk.empty()) return {};
  // libmosquitto verifies the broker against these CAs only (not the system
  // store), so one of them is needed.
  if (c.ca_file.empty() && c.ca_path.empty())
    return ck.fail("ca_file",
                   "is required with \"tls\": true (or \"ca_path\"): the CA the broker's certificate must "
                   "chain to (or \"psk\" and \"psk_identity\" for a pre-shared key)");
  if (c.cert_file.empty() != c.key_file.empty()) {
    std::string missing = c.cert_file.empty() ? "cert_file" : "key_file";
    std::string given = c.cert_file.empty() ? "key_file" : "cert_file";
    return ck.fail(missing, "is required with \"" + given + "\" (a client certificate needs both)");
  }
  if (!c.key_password_file.empty() && c.key_file.empty())
    return ck.fail("key_password_file", "needs \"key_file\" (it holds the passphrase of that key)");
  return {};
}

// What OpenSSL's passphrase callback sees while check_key loads a key.
struct passphrase_request {
  const std::string* passphrase = nullptr;  // null: none configured
  bool asked = false;
};

int give_passphrase(char* buf, int size, int, void* userdata) {
  auto* r = static_cast<passphrase_request*>(userdata);
  r->asked = true;
  if (r->passphrase == nullptr || r->passphrase->size() > static_cast<size_t>(size)) return 0;
  std::memcpy(buf, r->passphrase->data(), r->passphrase->size());
  return static_cast<int>(r->passphrase->size());
}

// The key file loads as a private key, with the configured passphrase when
// it is encrypted.
status check_key(const checker& ck, const bridge_config& c) {
  std::string passphrase;
  passphrase_request request;
  if (!c.key_password_file.empty()) {
    auto p = read_key_password(c);
    if (!p.ok()) return p.error();
    passphrase = std::move(p).value();
    request.passphrase = &passphrase;
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(c.key_file.c_str(), "r"), &BIO_free);
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, &give_passphrase, &request) : nullptr;
  OPENSSL_cleanse(passphrase.data(), passphrase.size());
  if (key != nullptr) {
    EVP_PKEY_free(key);
    return {};
  }
  std::string reason = openssl_reason();
  if (request.asked && request.passphrase == nullptr)
    return ck.fail("key_file", "is encrypted: " + c.key_file +
                                   " (give its passphrase in a file named by \"key_password_file\")");
  if (request.asked)
    return ck.fail("key_password_file", "does not decrypt \"key_file\" " + c.key_file +
                                            " (wrong passphrase? OpenSSL: " + reason + ")");
  return ck.fail("key_file",
                 "holds no private key OpenSSL can read (PEM): " + c.key_file + " (" + reason + ")");
}

// The CRL file holds at least one CRL in PEM.
status check_crl(const bridge_config& c) {
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), &X509_STORE_free);
  if (!store) return error(errc::io_error, "bridge " + c.name + ": cannot create a certificate store");
  return add_crls(c, store.get());
}

}  // namespace

result<bridge_config> parse_bridge_config(const nlohmann::json& j, file_check files) {
  if (!j.is_object()) return error(errc::invalid_argument, "bridge: expected a JSON object");
  bridge_config c;
  {
    checker anonymous("bridge");
    LIANDU_RETURN_IF_ERROR(anonymous.string_at(j, "name", c.name, true));
    if (!valid_name(c.name)) return anonymous.fail("name", "must be 1..128 characters of A-Z a-z 0-9 _ - .");
  }
  checker ck("bridge " + c.name);
  for (const auto& [k, v] : j.items()) {
    if (!known_keys.count(k) && !read_only_keys.count(k)) return ck.fail(k, "is not a known key");
  }
  LIANDU_RETURN_IF_ERROR(ck.string_at(j, "database", c.database, true));
  if (c.database.empty()) return ck.fail("database", "must not be empty");
  LIANDU_RETURN_IF_ERROR(ck.string_at(j, "host", c.host, true));
  if (c.host.empty()) return ck.fail("host", "must not be empty");
  LIANDU_RETURN_IF_ERROR(ck.int_at(j, "port", c.port, 1, 65535));
  c.client_id = "liandu-bridge-" + c.name;
  LIANDU_RETURN_IF_ERROR(ck.string_at(j, "client_id", c.client_id, false));
  if (c.client_id.empty()) return ck.fail("client_id", "must not be empty");
  if (c.client_id.size() > 65535) return ck.fail("client_id", "is longer than 65535 bytes");
  LIANDU_RETURN_IF_ERROR(ck.string_at(j, "username", c.username, false));
  LIANDU_RETURN_IF_ERROR(ck.string_at(j, "password", c.password, false));
  if (!c.password.empty() && c.username.empty())
    return ck.fail("password", "needs a \"username\" (MQTT 3.1.1 sends no password without one)");
  // libmosquitto refuses a keep-alive under 5 seconds.
  LIANDU_RETURN_IF_ERROR(ck.int_at(j, "keepalive_s", c.keepalive_s, 5, 65535));
  LIANDU_RETURN_IF_ERROR(ck.bool_at(j, "clean_session", c.clean_session));
  LIANDU_RETURN_IF_ERROR(check_filters(ck, j, "subscribe", false, c));
  LIANDU_RETURN_IF_ERROR(check_filters(ck, j, "forward", true, c));
  if (c.subscribe.empty() && c.forward.empty())
    return ck.fail("subscribe", "and \"forward\" are both empty: the bridge would carry nothing");
  LIANDU_RETURN_IF_ERROR(ck.int_at(j, "connections", c.connections, 1, max_connections));
  if (c.connections > 1) {
    // Extra connections only share what the subscriptions bring in; the
    // client id becomes the share group, a single topic level.
    if (c.subscribe.empty())
      return ck.fail("connections", "needs \"subscribe\" filters (the connections share their messages)");
    if (c.client_id.find_first_of("/+#") != std::string::npos)
      return ck.fail(
          "client_id",
          "must not contain '/', '+' or '#' with \"connections\" over 1 (it names the share group)");
  }
  LIANDU_RETURN_IF_ERROR(check_tls(ck, j, c));
  if (files == file_check::readable) LIANDU_RETURN_IF_ERROR(check_tls_files(c));
  return c;
}

status check_tls_files(const bridge_config& c) {
  if (!c.tls) return {};
  checker ck("bridge " + c.name);
  for (const auto& f : tls_files) {
    const std::string& path = c.*f.value;
    if (!path.empty()) LIANDU_RETURN_IF_ERROR(ck.readable_at(f.key, path, f.folder));
  }
  if (!c.key_file.empty()) LIANDU_RETURN_IF_ERROR(check_key(ck, c));
  if (!c.crl_file.empty()) LIANDU_RETURN_IF_ERROR(check_crl(c));
  return {};
}

std::string openssl_reason() {
  unsigned long e = ERR_peek_last_error();
  const char* reason = e == 0 ? nullptr : ERR_reason_error_string(e);
  ERR_clear_error();
  if (reason != nullptr) return reason;
  return e == 0 ? "no reason given" : "error " + std::to_string(e);
}

status add_crls(const bridge_config& c, x509_store_st* store) {
  X509_LOOKUP* lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
  if (lookup == nullptr || X509_load_crl_file(lookup, c.crl_file.c_str(), X509_FILETYPE_PEM) <= 0)
    return checker("bridge " + c.name)
        .fail("crl_file",
              "holds no certificate revocation list (PEM): " + c.crl_file + " (" + openssl_reason() + ")");
  ERR_clear_error();
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
  return {};
}

result<std::string> read_key_password(const bridge_config& c) {
  checker ck("bridge " + c.name);
  LIANDU_RETURN_IF_ERROR(ck.readable_at("key_password_file", c.key_password_file, false));
  std::ifstream in(c.key_password_file, std::ios::binary);
  std::string line;
  if (!in) return ck.fail("key_password_file", "cannot be read: " + c.key_password_file);
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty())
    return ck.fail("key_password_file",
                   "is empty (its first line is the passphrase): " + c.key_password_file);
  return line;
}

nlohmann::json to_json(const bridge_config& c, bool with_secrets) {
  nlohmann::json j;
  j["name"] = c.name;
  j["database"] = c.database;
  j["host"] = c.host;
  j["port"] = c.port;
  j["client_id"] = c.client_id;
  j["username"] = c.username;
  j["password"] = with_secrets || c.password.empty() ? c.password : std::string(password_mask);
  j["keepalive_s"] = c.keepalive_s;
  j["clean_session"] = c.clean_session;
  j["connections"] = c.connections;
  j["subscribe"] = nlohmann::json::array();
  for (const auto& s : c.subscribe) j["subscribe"].push_back({{"filter", s.filter}, {"qos", s.qos}});
  j["forward"] = nlohmann::json::array();
  for (const auto& f : c.forward) {
    nlohmann::json e = {{"filter", f.filter}, {"qos", f.qos}};
    if (!f.remote_prefix.empty()) e["remote_prefix"] = f.remote_prefix;
    j["forward"].push_back(std::move(e));
  }
  j["tls"] = c.tls;
  if (c.tls) {
    for (const auto& f : tls_files) j[f.key] = c.*f.value;
    j["insecure"] = c.insecure;
    j["tls_version"] = c.tls_version;
    j["psk"] = with_secrets || c.psk.empty() ? c.psk : std::string(password_mask);
    j["psk_identity"] = c.psk_identity;
  }
  return j;
}

}  // namespace liandu::connect::bridge
