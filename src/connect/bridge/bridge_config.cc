#include "connect/bridge/bridge_config.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "connect/mqtt/codec/topic.h"

namespace liandu::connect::bridge {

namespace {

// Keys GET adds to an entry; accepted and ignored on input so that a listed
// entry can be posted back unchanged.
const std::set<std::string, std::less<>> read_only_keys = {"status",      "last_error",   "connections_up",
                                                           "messages_in", "messages_out", "messages_dropped"};
const std::set<std::string, std::less<>> known_keys = {
    "name",        "database",      "host",      "port",        "client_id",  "username", "password",
    "keepalive_s", "clean_session", "subscribe", "forward",     "tls",        "ca_file",  "ca_path",
    "cert_file",   "key_file",      "insecure",  "tls_version", "connections"};
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

// The TLS file keys of an entry, with whether each names a folder.
struct tls_file {
  const char* key;
  std::string bridge_config::*value;
  bool folder;
};
constexpr tls_file tls_files[] = {{"ca_file", &bridge_config::ca_file, false},
                                  {"ca_path", &bridge_config::ca_path, true},
                                  {"cert_file", &bridge_config::cert_file, false},
                                  {"key_file", &bridge_config::key_file, false}};

// The TLS keys. Given without "tls": true they are an error rather than
// ignored, so that a forgotten flag never sends the password in the clear.
// Empty strings count as absent.
status check_tls(const checker& ck, const nlohmann::json& j, bridge_config& c) {
  LIANDU_RETURN_IF_ERROR(ck.bool_at(j, "tls", c.tls));
  for (const auto& f : tls_files) LIANDU_RETURN_IF_ERROR(ck.string_at(j, f.key, c.*f.value, false));
  LIANDU_RETURN_IF_ERROR(ck.bool_at(j, "insecure", c.insecure));
  std::string version;
  LIANDU_RETURN_IF_ERROR(ck.string_at(j, "tls_version", version, false));
  if (!c.tls) {
    for (const auto& f : tls_files)
      if (!(c.*f.value).empty()) return ck.fail(f.key, "needs \"tls\": true");
    if (c.insecure) return ck.fail("insecure", "needs \"tls\": true");
    if (!version.empty()) return ck.fail("tls_version", "needs \"tls\": true");
    return {};
  }
  if (!version.empty()) {
    if (!tls_versions.count(version)) return ck.fail("tls_version", "must be \"tlsv1.2\" or \"tlsv1.3\"");
    c.tls_version = version;
  }
  // libmosquitto verifies the broker against these CAs only (not the system
  // store), so one of them is needed.
  if (c.ca_file.empty() && c.ca_path.empty())
    return ck.fail(
        "ca_file",
        "is required with \"tls\": true (or \"ca_path\"): the CA the broker's certificate must chain to");
  if (c.cert_file.empty() != c.key_file.empty()) {
    std::string missing = c.cert_file.empty() ? "cert_file" : "key_file";
    std::string given = c.cert_file.empty() ? "key_file" : "cert_file";
    return ck.fail(missing, "is required with \"" + given + "\" (a client certificate needs both)");
  }
  return {};
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
  return {};
}

nlohmann::json to_json(const bridge_config& c, bool with_password) {
  nlohmann::json j;
  j["name"] = c.name;
  j["database"] = c.database;
  j["host"] = c.host;
  j["port"] = c.port;
  j["client_id"] = c.client_id;
  j["username"] = c.username;
  j["password"] = with_password || c.password.empty() ? c.password : std::string(password_mask);
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
  }
  return j;
}

}  // namespace liandu::connect::bridge
