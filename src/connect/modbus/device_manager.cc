#include "connect/modbus/device_manager.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace liandu::connect::modbus {

namespace {

status io_error(const char* what, const std::string& path) {
  return error(errc::io_error, std::string(what) + " " + path + ": " + std::strerror(errno));
}

// Writes `data` to `path` atomically: temp file, fsync, rename, fsync of the
// folder, so a crash leaves the old or the new list, never a torn one.
status write_file_atomic(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("create", tmp);
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
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return io_error("open", dir);
  int rc = ::fsync(dfd);
  ::close(dfd);
  return rc == 0 ? status{} : io_error("fsync", dir);
}

}  // namespace

device_manager::device_manager(manager_options o) : options_(std::move(o)) {}

device_manager::~device_manager() { stop(); }

status device_manager::load() {
  if (options_.path.empty()) return {};
  std::ifstream in(options_.path);
  if (!in) return errno == ENOENT ? status{} : io_error("open", options_.path);
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, false);
  if (!j.is_array())
    return error(errc::invalid_argument, options_.path + ": expected a JSON array of Modbus devices");
  std::lock_guard ops(ops_mu_);
  std::unique_lock lock(mu_);
  for (size_t i = 0; i < j.size(); ++i) {
    auto c = parse_device_config(j[i]);
    if (!c.ok())
      return error(errc::invalid_argument,
                   options_.path + ": entry " + std::to_string(i) + ": " + c.error().message());
    std::string name = c->name;
    devices_[name] = std::make_shared<poller>(std::move(c).value(), options_.write, options_.poll_timing);
  }
  return {};
}

status device_manager::save_locked() const {
  if (options_.path.empty()) return {};
  nlohmann::json j = nlohmann::json::array();
  for (const auto& [name, p] : devices_) j.push_back(to_json(p->config()));
  return write_file_atomic(options_.path, j.dump(2));
}

status device_manager::put(const nlohmann::json& entry) {
  auto parsed = parse_device_config(entry);
  if (!parsed.ok()) return parsed.error();
  std::lock_guard ops(ops_mu_);
  auto fresh = std::make_shared<poller>(std::move(parsed).value(), options_.write, options_.poll_timing);
  const std::string& name = fresh->config().name;
  std::shared_ptr<poller> old;
  bool running = false;
  {
    std::unique_lock lock(mu_);
    auto it = devices_.find(name);
    if (it != devices_.end()) old = it->second;
    devices_[name] = fresh;
    status s = save_locked();
    if (!s.ok()) {
      if (old) {
        devices_[name] = old;
      } else {
        devices_.erase(name);
      }
      return s;
    }
    running = running_;
  }
  // The old poller lets go of the device before the new one connects: small
  // PLCs accept only a few connections.
  if (old) old->stop();
  if (running) fresh->start();
  return {};
}

status device_manager::remove(std::string_view name) {
  std::lock_guard ops(ops_mu_);
  std::shared_ptr<poller> old;
  {
    std::unique_lock lock(mu_);
    auto it = devices_.find(name);
    if (it == devices_.end()) return error(errc::not_found, "no Modbus device named " + std::string(name));
    old = it->second;
    devices_.erase(it);
    status s = save_locked();
    if (!s.ok()) {
      devices_[old->config().name] = old;
      return s;
    }
  }
  old->stop();
  return {};
}

std::vector<nlohmann::json> device_manager::list() const {
  std::shared_lock lock(mu_);
  std::vector<nlohmann::json> out;
  for (const auto& [name, p] : devices_) {
    nlohmann::json j = to_json(p->config());
    poll_stats s = p->stats();
    j["status"] = state_name(s.st);
    j["last_error"] = s.last_error;
    j["polls"] = s.polls;
    j["errors"] = s.errors;
    j["last_poll_ms"] = s.last_latency_ms;
    out.push_back(std::move(j));
  }
  return out;
}

void device_manager::start() {
  std::lock_guard ops(ops_mu_);
  std::unique_lock lock(mu_);
  running_ = true;
  for (auto& [name, p] : devices_) p->start();
}

void device_manager::stop() {
  std::lock_guard ops(ops_mu_);
  std::map<std::string, std::shared_ptr<poller>, std::less<>> all;
  {
    std::unique_lock lock(mu_);
    running_ = false;
    all = devices_;
  }
  for (auto& [name, p] : all) p->stop();
}

void device_manager::append_metrics(prometheus::text_writer& w) const {
  using prometheus::metric_type;
  std::shared_lock lock(mu_);
  // One snapshot per device, so that its figures agree across the families.
  std::vector<std::pair<std::string_view, poll_stats>> all;
  all.reserve(devices_.size());
  for (const auto& [name, p] : devices_) all.emplace_back(name, p->stats());
  w.family("liandu_modbus_up", "1 while the last poll of the Modbus device read every register.",
           metric_type::gauge);
  for (const auto& [name, s] : all) w.sample(s.st == device_state::up, {{"device", name}});
  w.family("liandu_modbus_polls_total", "Polls that read every register of the device.",
           metric_type::counter);
  for (const auto& [name, s] : all) w.sample(s.polls, {{"device", name}});
  w.family("liandu_modbus_errors_total", "Failed connects, reads, decodes and stores of the device.",
           metric_type::counter);
  for (const auto& [name, s] : all) w.sample(s.errors, {{"device", name}});
}

}  // namespace liandu::connect::modbus
