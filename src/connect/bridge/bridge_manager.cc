#include "connect/bridge/bridge_manager.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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
  if (!in) return errno == ENOENT ? status{} : io_error("open", options_.path);
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
  return {};
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
    bridges_[fresh->config().name] = fresh;
    status s = save_locked();
    if (!s.ok()) {
      if (old) {
        bridges_[old->config().name] = old;
      } else {
        bridges_.erase(fresh->config().name);
      }
      return s;
    }
    // The old connection goes before the new one connects, so the remote
    // broker never sees two clients with one client id.
    if (old) old->stop();
    if (running_) fresh->start();
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
    bridges_.erase(it);
    status s = save_locked();
    if (!s.ok()) {
      bridges_[old->config().name] = old;
      return s;
    }
  }
  old->stop();
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
    out.push_back(std::move(j));
  }
  return out;
}

void bridge_manager::start() {
  std::unique_lock lock(mu_);
  running_ = true;
  for (auto& [name, b] : bridges_) b->start();
}

void bridge_manager::stop() {
  std::map<std::string, std::shared_ptr<bridge>, std::less<>> all;
  {
    std::unique_lock lock(mu_);
    running_ = false;
    all = bridges_;
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
}

}  // namespace liandu::connect::bridge
