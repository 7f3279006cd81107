#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "base/result.h"

namespace liandu::connect::modbus {

// The four data tables of one unit id, as views into the server's libmodbus
// mapping (addresses 0..size-1). Bits are 0 or 1.
struct bank_ref {
  std::span<uint8_t> coils;
  std::span<uint8_t> discrete_inputs;
  std::span<uint16_t> input_registers;
  std::span<uint16_t> holding_registers;
};

// A small Modbus TCP server (libmodbus: modbus_receive + modbus_reply) with
// one register bank per unit id — the simulator's plant and the poller's
// tests use it. Requests for a unit id without a bank are answered with
// exception 0x0B (gateway target device failed to respond); addresses past a
// bank's size with 0x02 (illegal data address), as libmodbus does. Clients
// may write coils and holding registers.
//
// Threads: one thread runs a select() loop over the listening socket and
// every client (so several clients are served), and replies under the
// server's mutex; add_unit and edit may be called from any thread.
class server {
 public:
  server() = default;
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Binds host:port (port 0: any free port) and starts the thread; returns
  // the bound port.
  result<uint16_t> start(const std::string& host, uint16_t port);
  // Closes the listener and every client connection and joins the thread;
  // idempotent. Banks are kept, so start() again serves the same data.
  void stop();

  // Creates (or replaces with zeros) the bank of `unit` with these sizes.
  status add_unit(uint8_t unit, uint16_t bits, uint16_t input_registers, uint16_t holding_registers);
  // Runs `fn` on the bank of `unit` under the server's mutex, so a client
  // never reads a half-written value. not_found when there is no such bank.
  status edit(uint8_t unit, const std::function<void(bank_ref)>& fn);

  size_t clients() const { return clients_.load(); }
  uint64_t requests() const { return requests_.load(); }

 private:
  void run(int listen_fd, int wake_fd);

  std::mutex mu_;                   // guards banks_ and the mappings' contents
  std::map<uint8_t, void*> banks_;  // unit id -> modbus_mapping_t*
  std::thread thread_;
  int wake_write_ = -1;
  std::atomic<size_t> clients_{0};
  std::atomic<uint64_t> requests_{0};
};

}  // namespace liandu::connect::modbus
