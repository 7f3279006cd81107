#include "connect/bridge/bridge_manager.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "connect/mqtt/broker/broker.h"

namespace liandu::connect::bridge {

namespace {

status io_error(const char* what, const std::string& path) {
  return error(errc::io_error, std::string(what) + " " + path + ": " + std::strerror(errno));
}

status fsync_path(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return io_error("open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? status{} : io_error("fsync", path);
}

}  // namespace

status write_private_file(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("create", tmp);
  // The temp file may be left over with another mode.
  if (::fchmod(fd, 0600) != 0) {
    status s = io_error("chmod", tmp);
    ::close(fd);
    return s;
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      status s = io_error("write", tmp);
      ::close(fd);
      return s;
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    status s = io_error("fsync", tmp);
    ::close(fd);
    return s;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return io_error("rename", tmp);
  auto slash = path.rfind('/');
  return fsync_path(slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash)),
                    O_RDONLY | O_DIRECTORY);
}

std::string sessions_path_for(const std::string& bridges_path) {
  auto slash = bridges_path.rfind('/');
  return (slash == std::string::npos ? std::string() : bridges_path.substr(0, slash + 1)) +
         "bridge_sessions.json";
}

namespace {

void add_missing(std::vector<std::string>& to, const std::vector<std::string>& from) {
  for (const auto& x : from)
    if (std::find(to.begin(), to.end(), x) == to.end()) to.push_back(x);
}

bool same_broker(const bridge_config& a, const bridge_config& b) {
  return a.host == b.host && a.port == b.port;
}

}  // namespace

bridge_manager::bridge_manager(manager_options o) : options_(std::move(o)) {}

bridge_manager::~bridge_manager() { stop(); }

std::shared_ptr<bridge> bridge_manager::make_bridge(bridge_config c) {
  return std::make_shared<bridge>(
      std::move(c), [this](const bridge_config& cfg, const inbound& m) { return on_message(cfg, m); },
      options_.bridge_timing);
}

status bridge_manager::load() {
  if (options_.path.empty()) return {};
  std::ifstream in(options_.path);
  if (!in) {
    if (errno != ENOENT) return io_error("open", options_.path);
    std::unique_lock lock(mu_);
    return load_sessions_locked();
  }
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, false);
  if (!j.is_array())
    return error(errc::invalid_argument, options_.path + ": expected a JSON array of bridges");
  std::unique_lock lock(mu_);
  for (size_t i = 0; i < j.size(); ++i) {
    auto c = parse_bridge_config(j[i], file_check::skip);
    if (!c.ok())
      return error(errc::invalid_argument,
                   options_.path + ": entry " + std::to_string(i) + ": " + c.error().message());
    std::string name = c->name;
    bridges_[name] = make_bridge(std::move(c).value());
  }
  return load_sessions_locked();
}

// bridge_sessions.json: a JSON array, one element per bridge and broker:
//   {"bridge": "site-b", "entry": {<the bridge entry, with its password>},
//    "client_ids": ["liandu-bridge-site-b-3", ...],
//    "filters": ["$share/liandu-bridge-site-b/remote/#", "remote/#"]}
// (docs/formats/bridge_sessions.md).
status bridge_manager::load_sessions_locked() {
  const std::string path = sessions_path_for(options_.path);
  std::ifstream in(path);
  if (!in) return errno == ENOENT ? status{} : io_error("open", path);
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, false);
  auto bad = [&](size_t i, const std::string& why) {
    return error(errc::invalid_argument, path + ": element " + std::to_string(i) + ": " + why);
  };
  if (!j.is_array())
    return error(errc::invalid_argument, path + ": expected a JSON array of sessions to end");
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& e = j[i];
    if (!e.is_object() || !e.contains("entry") || !e.value("bridge", nlohmann::json()).is_string())
      return bad(i, "expected {\"bridge\", \"entry\", \"client_ids\", \"filters\"}");
    auto c = parse_bridge_config(e["entry"], file_check::skip);
    if (!c.ok()) return bad(i, c.error().message());
    left_behind l;
    l.name = e["bridge"].get<std::string>();
    l.config = std::move(c).value();
    for (const char* key : {"client_ids", "filters"}) {
      auto& to = key[0] == 'c' ? l.sessions.client_ids : l.sessions.filters;
      if (!e.value(key, nlohmann::json()).is_array())
        return bad(i, std::string("\"") + key + "\" must be an array");
      for (const auto& x : e[key]) {
        if (!x.is_string()) return bad(i, std::string("\"") + key + "\" must hold strings");
        to.push_back(x.get<std::string>());
      }
    }
    left_.push_back(std::move(l));
  }
  // Written before bridges.json: a crash between the two leaves sessions the
  // bridge still connects with.
  for (auto& [name, b] : bridges_) reconcile_locked(name, nullptr, &b->config());
  return {};
}

status bridge_manager::save_sessions_locked() const {
  if (options_.path.empty()) return {};
  nlohmann::json j = nlohmann::json::array();
  for (const auto& l : left_) {
    j.push_back({{"bridge", l.name},
                 {"entry", to_json(l.config, true)},
                 {"client_ids", l.sessions.client_ids},
                 {"filters", l.sessions.filters}});
  }
  return write_private_file(sessions_path_for(options_.path), j.dump(2));
}

void bridge_manager::stop_workers_locked() {
  for (auto& l : left_) {
    if (!l.worker) continue;
    l.worker->stop();
    bridge_stats s = l.worker->stats();
    sessions_ended_[l.name] += s.sessions_ended;
    l.sessions.client_ids = std::move(s.sessions_to_end);
    l.worker.reset();
  }
}

void bridge_manager::start_workers_locked() {
  if (!running_) return;
  for (auto& l : left_) {
    if (l.worker) continue;
    l.worker = std::make_shared<bridge>(
        l.config, [this](const bridge_config& cfg, const inbound& m) { return on_message(cfg, m); },
        options_.bridge_timing, l.sessions);
    l.worker->start();
  }
}

void bridge_manager::reconcile_locked(std::string_view name, const bridge_config* before,
                                      const bridge_config* after) {
  // All of them: a session left by one bridge may be one another bridge now
  // connects with (same broker and client id).
  stop_workers_locked();
  if (before != nullptr) {
    if (auto ids = sessions_left_behind(*before, after); !ids.empty()) {
      auto it = std::find_if(left_.begin(), left_.end(), [&](const left_behind& l) {
        return l.name == name && same_broker(l.config, *before);
      });
      if (it == left_.end()) {
        it = left_.insert(left_.end(), left_behind{});
        it->name = std::string(name);
      }
      it->config = *before;
      add_missing(it->sessions.client_ids, ids);
      add_missing(it->sessions.filters, session_filters(*before));
    }
  }
  if (after != nullptr) {
    const auto kept = connection_client_ids(*after);
    for (auto& l : left_) {
      if (!same_broker(l.config, *after)) continue;
      std::erase_if(l.sessions.client_ids, [&](const std::string& id) {
        return std::find(kept.begin(), kept.end(), id) != kept.end();
      });
      if (l.name == name) l.config = *after;
    }
  }
  std::erase_if(left_, [](const left_behind& l) { return l.sessions.client_ids.empty(); });
}

status bridge_manager::save_locked() const {
  if (options_.path.empty()) return {};
  nlohmann::json j = nlohmann::json::array();
  for (const auto& [name, b] : bridges_) j.push_back(to_json(b->config(), true));
  return write_private_file(options_.path, j.dump(2));
}

status bridge_manager::put(const nlohmann::json& entry) {
  auto parsed = parse_bridge_config(entry);
  if (!parsed.ok()) return parsed.error();
  bridge_config c = std::move(parsed).value();
  std::shared_ptr<bridge> old, fresh;
  {
    std::unique_lock lock(mu_);
    auto it = bridges_.find(c.name);
    if (c.password == password_mask) {
      if (it == bridges_.end())
        return error(errc::invalid_argument,
                     "bridge " + c.name + ": \"password\" is the mask GET shows; send the real password");
      c.password = it->second->config().password;
    }
    if (c.psk == password_mask) {
      if (it == bridges_.end() || it->second->config().psk.empty())
        return error(errc::invalid_argument,
                     "bridge " + c.name + ": \"psk\" is the mask GET shows; send the real key");
      c.psk = it->second->config().psk;
    }
    if (it != bridges_.end()) old = it->second;
    fresh = make_bridge(std::move(c));
    const std::string& name = fresh->config().name;
    // The sessions to end are saved first: a crash before bridges.json is
    // written leaves some the old entry still connects with, which load()
    // drops again.
    const auto left_before = left_;
    reconcile_locked(name, old ? &old->config() : nullptr, &fresh->config());
    status s = save_sessions_locked();
    if (s.ok()) {
      bridges_[name] = fresh;
      s = save_locked();
      if (!s.ok()) {
        if (old) {
          bridges_[name] = old;
        } else {
          bridges_.erase(name);
        }
      }
    }
    if (!s.ok()) {
      left_ = left_before;
      (void)save_sessions_locked();  // best effort: load() drops what the bridge still connects with
      start_workers_locked();
      return s;
    }
    // The old connections go before the new ones (and those ending the
    // sessions left behind) connect, so the remote broker never sees two
    // clients with one client id.
    if (old) old->stop();
    if (running_) fresh->start();
    start_workers_locked();
  }
  return {};
}

status bridge_manager::remove(std::string_view name) {
  std::shared_ptr<bridge> old;
  {
    std::unique_lock lock(mu_);
    auto it = bridges_.find(name);
    if (it == bridges_.end()) return error(errc::not_found, "no bridge named " + std::string(name));
    old = it->second;
    const std::string name = old->config().name;
    const auto left_before = left_;
    reconcile_locked(name, &old->config(), nullptr);
    status s = save_sessions_locked();
    if (s.ok()) {
      bridges_.erase(it);
      s = save_locked();
      if (!s.ok()) bridges_[name] = old;
    }
    if (!s.ok()) {
      left_ = left_before;
      (void)save_sessions_locked();
      start_workers_locked();
      return s;
    }
    // Its sessions are ended (in the background) once it is gone.
    old->stop();
    start_workers_locked();
  }
  return {};
}

std::vector<nlohmann::json> bridge_manager::list() const {
  std::shared_lock lock(mu_);
  std::vector<nlohmann::json> out;
  for (const auto& [name, b] : bridges_) {
    nlohmann::json j = to_json(b->config(), false);
    bridge_stats s = b->stats();
    j["status"] = state_name(s.st);
    j["last_error"] = s.last_error;
    j["connections_up"] = s.connections_up;
    j["messages_in"] = s.messages_in;
    j["messages_out"] = s.messages_out;
    j["messages_dropped"] = s.messages_dropped;
    nlohmann::json to_end = nlohmann::json::array();
    for (const auto& l : left_) {
      if (l.name != name) continue;
      bridge_stats w = l.worker ? l.worker->stats() : bridge_stats{};
      for (const auto& id : l.worker ? w.sessions_to_end : l.sessions.client_ids) to_end.push_back(id);
      if (s.last_error.empty() && !w.last_error.empty()) j["last_error"] = s.last_error = w.last_error;
    }
    j["sessions_to_end"] = std::move(to_end);
    out.push_back(std::move(j));
  }
  return out;
}

void bridge_manager::start() {
  std::unique_lock lock(mu_);
  running_ = true;
  for (auto& [name, b] : bridges_) b->start();
  start_workers_locked();
}

void bridge_manager::stop() {
  std::map<std::string, std::shared_ptr<bridge>, std::less<>> all;
  {
    std::unique_lock lock(mu_);
    running_ = false;
    all = bridges_;
    stop_workers_locked();
    // What was ended need not be ended again after a restart (it would be
    // harmless: an empty session, made and discarded).
    std::erase_if(left_, [](const left_behind& l) { return l.sessions.client_ids.empty(); });
    (void)save_sessions_locked();
  }
  for (auto& [name, b] : all) b->stop();
}

void bridge_manager::on_local_publish(std::string_view topic, std::string_view payload) {
  std::shared_lock lock(mu_);
  for (const auto& [name, b] : bridges_) b->forward(topic, payload);
}

// Whether a failed ingest may succeed when the message comes again: a write
// that failed on disk or hit the head memory limit (back-pressure while a
// checkpoint runs). A payload no rule can map, or a field type conflict, fails
// the same way every time; such a message is acknowledged and counted.
namespace {
bool worth_redelivery(const status& st) {
  return st.code() == errc::io_error || st.code() == errc::limit_exceeded || st.code() == errc::internal;
}
}  // namespace

status bridge_manager::on_message(const bridge_config& c, const inbound& m) {
  if (options_.ingest && !m.replay) {
    status st = options_.ingest(c.database, m.topic, m.payload);
    // Not stored and not acknowledged: local subscribers will see it when it
    // comes again.
    if (!st.ok() && m.qos > 0 && worth_redelivery(st)) return st;
  }
  if (mqtt::broker* b = local_broker_.load()) {
    mqtt::message msg;
    msg.topic = m.topic;
    msg.payload = m.payload;
    msg.qos = static_cast<uint8_t>(m.qos);
    msg.retain = m.retain;
    msg.publisher = "$bridge/" + c.name;
    b->publish(std::move(msg));
  }
  return {};
}

void bridge_manager::append_metrics(prometheus::text_writer& w) const {
  using prometheus::metric_type;
  std::shared_lock lock(mu_);
  // One snapshot per bridge, so that its figures agree across the families.
  std::vector<std::pair<std::string_view, bridge_stats>> all;
  all.reserve(bridges_.size());
  for (const auto& [name, b] : bridges_) all.emplace_back(name, b->stats());
  w.family("liandu_bridge_connected",
           "1 while every connection of the bridge to its remote MQTT broker is up.", metric_type::gauge);
  for (const auto& [name, s] : all) w.sample(s.st == state::connected, {{"bridge", name}});
  w.family("liandu_bridge_connections_up", "Connections of the bridge to its remote MQTT broker that are up.",
           metric_type::gauge);
  for (const auto& [name, s] : all) w.sample(s.connections_up, {{"bridge", name}});
  w.family("liandu_bridge_messages_in_total", "Messages received from the remote broker.",
           metric_type::counter);
  for (const auto& [name, s] : all) w.sample(s.messages_in, {{"bridge", name}});
  w.family("liandu_bridge_messages_out_total", "Local messages forwarded to the remote broker.",
           metric_type::counter);
  for (const auto& [name, s] : all) w.sample(s.messages_out, {{"bridge", name}});
  w.family("liandu_bridge_messages_dropped_total", "Local messages not forwarded (bridge not connected).",
           metric_type::counter);
  for (const auto& [name, s] : all) w.sample(s.messages_dropped, {{"bridge", name}});
  // Sessions left behind, of bridges removed too.
  std::map<std::string, std::pair<uint64_t, uint64_t>, std::less<>> sessions;  // to end, ended
  for (const auto& [name, b] : bridges_) sessions[name];
  for (const auto& [name, n] : sessions_ended_) sessions[name].second += n;
  for (const auto& l : left_) {
    auto& [to_end, ended] = sessions[l.name];
    if (!l.worker) {
      to_end += l.sessions.client_ids.size();
      continue;
    }
    bridge_stats s = l.worker->stats();
    to_end += s.sessions_to_end.size();
    ended += s.sessions_ended;
  }
  w.family(
      "liandu_bridge_sessions_to_end",
      "Sessions the bridge left on its remote broker (connections lowered, bridge removed) not ended yet.",
      metric_type::gauge);
  for (const auto& [name, s] : sessions) w.sample(s.first, {{"bridge", name}});
  w.family("liandu_bridge_sessions_ended_total",
           "Sessions the bridge left on its remote broker that were drained and ended.",
           metric_type::counter);
  for (const auto& [name, s] : sessions) w.sample(s.second, {{"bridge", name}});
}

}  // namespace liandu::connect::bridge
