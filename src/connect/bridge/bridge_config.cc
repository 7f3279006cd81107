#include "connect/bridge/bridge_config.h"

#include <set>

#include "connect/mqtt/codec/topic.h"

namespace liandu::connect::bridge {

namespace {

// Keys GET adds to an entry; accepted and ignored on input so that a listed
// entry can be posted back unchanged.
const std::set<std::string, std::less<>> read_only_keys = {"status", "last_error", "messages_in",
                                                           "messages_out", "messages_dropped"};
const std::set<std::string, std::less<>> known_keys = {
    "name",     "database",    "host",          "port",      "client_id", "username",
    "password", "keepalive_s", "clean_session", "subscribe", "forward"};

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

}  // namespace

result<bridge_config> parse_bridge_config(const nlohmann::json& j) {
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
  if (auto it = j.find("clean_session"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) return ck.fail("clean_session", "must be true or false");
    c.clean_session = it->get<bool>();
  }
  LIANDU_RETURN_IF_ERROR(check_filters(ck, j, "subscribe", false, c));
  LIANDU_RETURN_IF_ERROR(check_filters(ck, j, "forward", true, c));
  if (c.subscribe.empty() && c.forward.empty())
    return ck.fail("subscribe", "and \"forward\" are both empty: the bridge would carry nothing");
  return c;
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
  j["subscribe"] = nlohmann::json::array();
  for (const auto& s : c.subscribe) j["subscribe"].push_back({{"filter", s.filter}, {"qos", s.qos}});
  j["forward"] = nlohmann::json::array();
  for (const auto& f : c.forward) {
    nlohmann::json e = {{"filter", f.filter}, {"qos", f.qos}};
    if (!f.remote_prefix.empty()) e["remote_prefix"] = f.remote_prefix;
    j["forward"].push_back(std::move(e));
  }
  return j;
}

}  // namespace liandu::connect::bridge
