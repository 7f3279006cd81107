#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/prometheus_text.h"
#include "base/result.h"
#include "connect/modbus/device_config.h"
#include "connect/modbus/poller.h"

namespace liandu::connect::modbus {

struct manager_options {
  // The devices file (a JSON array of entries); empty: nothing is persisted.
  std::string path;
  timing poll_timing;
  // Stores the points of every poller (see poller.h).
  write_fn write;
};

// The Modbus devices of one server: their configuration (persisted) and one
// poller each.
//
// Thread safety: all methods may be called from any thread. Pollers start
// only after start(), so loading at boot does not poll before the engine and
// the rest of the server are up.
class device_manager {
 public:
  explicit device_manager(manager_options o);
  ~device_manager();
  device_manager(const device_manager&) = delete;
  device_manager& operator=(const device_manager&) = delete;

  // Reads the devices file; a missing file is not an error.
  status load();
  // Validates, adds or replaces (by name) and persists one entry; the new
  // poller starts at once when the manager runs (an old one stops first).
  status put(const nlohmann::json& entry);
  // Stops and forgets one device; not_found when there is none.
  status remove(std::string_view name);
  // Every entry with "status" (connecting, up, down, stopped), "last_error",
  // "polls", "errors" and "last_poll_ms" (latency of the last attempt).
  std::vector<nlohmann::json> list() const;

  void start();
  void stop();

  // For /metrics: up gauge, poll and error counters per device.
  void append_metrics(prometheus::text_writer& w) const;

 private:
  status save_locked() const;

  const manager_options options_;
  // Serialises put, remove, start and stop, which may wait for a poller to
  // stop (up to its timeout_ms while it connects); mu_ is held only briefly,
  // so list() and metrics never wait for that.
  std::mutex ops_mu_;
  mutable std::shared_mutex mu_;
  bool running_ = false;
  std::map<std::string, std::shared_ptr<poller>, std::less<>> devices_;
};

}  // namespace liandu::connect::modbus
