#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "connect/modbus/decode.h"
#include "connect/modbus/device_config.h"
#include "model/point.h"

namespace liandu::connect::modbus {

struct timing {
  // Reconnect delay after a failed connect or a broken connection: doubles
  // from `backoff_initial` up to `backoff_max`; back to `backoff_initial`
  // after a good poll.
  std::chrono::milliseconds backoff_initial{1000};
  std::chrono::milliseconds backoff_max{30000};
};

// Stores points durably in `database`; returns only once they are (or with
// the reason they are not). Called on the poller's thread.
using write_fn = std::function<status(const std::string& database, std::vector<model::point> points)>;

enum class device_state { stopped, connecting, up, down };
const char* state_name(device_state s);

struct poll_stats {
  device_state st = device_state::stopped;
  std::string last_error;  // kept after recovery; empty if there never was one
  uint64_t polls = 0;      // polls that read every register
  uint64_t errors = 0;     // failed connects, reads, decodes and stores
  double last_latency_ms = 0;
};

// Polls one Modbus TCP device (libmodbus client) on its own thread:
// connect (timeout_ms), then every interval_ms read the coalesced plan
// (plan_reads), decode, and write one point to `measurement` with tags
// device=<name> plus the configured tags, time = start of the poll.
//
// Every attempt also writes a point to measurement `modbus_status` (tag
// device) of the same database, in the same write: up (bool), latency_ms
// (float: the attempt's duration), errors (int, cumulative since the poller
// started), error (string: why this attempt failed, empty when up).
//
// A failed connect or transport error (timeout, reset) closes the connection
// and retries after the backoff (timing). A Modbus exception (the device
// answered, e.g. illegal data address) keeps the connection and retries at
// the next interval; the poll counts as down with that error.
//
// Threads: start() and stop() from one owner thread; stats() from any.
// stop() interrupts a read or connect in progress.
class poller {
 public:
  poller(device_config config, write_fn write, timing t = {});
  ~poller();
  poller(const poller&) = delete;
  poller& operator=(const poller&) = delete;

  void start();
  void stop();  // idempotent; joins the thread

  poll_stats stats() const;
  const device_config& config() const { return config_; }

 private:
  void run();
  // Waits up to `d` or until stop(); false when stopping.
  bool wait(std::chrono::steady_clock::duration d);
  void record(device_state st, const std::string& err, double latency_ms, bool good_poll);

  const device_config config_;
  const write_fn write_;
  const timing timing_;
  const read_plan plan_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;

  // The connected socket, so that stop() can shut it down under a blocked
  // read; -1 while there is none. Changed under sock_mu_.
  std::mutex sock_mu_;
  int sock_ = -1;

  mutable std::mutex mu_;  // guards stats_
  poll_stats stats_;
};

}  // namespace liandu::connect::modbus
