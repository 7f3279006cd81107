#include "connect/modbus/poller.h"

#include <modbus/modbus.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "base/clock.h"

namespace liandu::connect::modbus {

namespace {

// Exception responses: the device answered, the connection is fine.
bool is_exception(int e) { return e >= EMBXILFUN && e <= EMBXGTAR; }

std::string describe(const read_request& r) {
  return std::string(table_name(r.tab)) + " " + std::to_string(r.address) + "+" + std::to_string(r.count);
}

}  // namespace

const char* state_name(device_state s) {
  switch (s) {
    case device_state::stopped: return "stopped";
    case device_state::connecting: return "connecting";
    case device_state::up: return "up";
    case device_state::down: return "down";
  }
  return "?";
}

poller::poller(device_config config, write_fn write, timing t)
    : config_(std::move(config)),
      write_(std::move(write)),
      timing_(t),
      plan_(plan_reads(config_.registers)) {}

poller::~poller() { stop(); }

void poller::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  {
    std::lock_guard lock(mu_);
    stats_.st = device_state::connecting;
  }
  thread_ = std::thread([this] { run(); });
}

void poller::stop() {
  {
    std::lock_guard lock(wait_mu_);
    stopping_ = true;
  }
  wait_cv_.notify_all();
  {
    std::lock_guard lock(sock_mu_);
    if (sock_ >= 0) ::shutdown(sock_, SHUT_RDWR);
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  stats_.st = device_state::stopped;
}

poll_stats poller::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool poller::wait(std::chrono::steady_clock::duration d) {
  std::unique_lock lock(wait_mu_);
  wait_cv_.wait_for(lock, d, [this] { return stopping_.load(); });
  return !stopping_.load();
}

void poller::record(device_state st, const std::string& err, double latency_ms, bool good_poll) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  stats_.st = st;
  if (!err.empty()) {
    stats_.last_error = err;
    ++stats_.errors;
  }
  if (good_poll) ++stats_.polls;
  stats_.last_latency_ms = latency_ms;
}

void poller::run() {
  using clock = std::chrono::steady_clock;
  const std::string where = config_.host + ":" + std::to_string(config_.port);
  const auto interval = std::chrono::milliseconds(config_.interval_ms);
  std::vector<model::tag> tags;
  {
    std::map<std::string, std::string> all(config_.tags.begin(), config_.tags.end());
    all["device"] = config_.name;
    for (auto& [k, v] : all) tags.push_back({k, v});
  }
  std::vector<std::vector<uint16_t>> registers(plan_.reads.size());
  std::vector<std::vector<uint8_t>> bits(plan_.reads.size());
  for (size_t i = 0; i < plan_.reads.size(); ++i) {
    (is_bit_table(plan_.reads[i].tab) ? bits[i].resize(plan_.reads[i].count)
                                      : registers[i].resize(plan_.reads[i].count));
  }

  modbus_t* ctx = nullptr;
  auto close_ctx = [&] {
    if (ctx == nullptr) return;
    {
      std::lock_guard lock(sock_mu_);
      sock_ = -1;
      modbus_close(ctx);
    }
    modbus_free(ctx);
    ctx = nullptr;
  };
  auto backoff = timing_.backoff_initial;
  uint64_t errors = 0;
  auto next = clock::now();
  while (!stopping_) {
    const auto t0 = clock::now();
    const int64_t time = now_ns();
    std::string err;
    bool transport_error = false;
    if (ctx == nullptr) {
      ctx = modbus_new_tcp_pi(config_.host.c_str(), std::to_string(config_.port).c_str());
      if (ctx == nullptr) {
        err = "connect " + where + ": " + modbus_strerror(errno);
        transport_error = true;
      } else {
        modbus_set_slave(ctx, config_.unit_id);
        modbus_set_response_timeout(ctx, static_cast<uint32_t>(config_.timeout_ms / 1000),
                                    static_cast<uint32_t>(config_.timeout_ms % 1000) * 1000);
        if (modbus_connect(ctx) != 0) {
          err = "connect " + where + ": " + modbus_strerror(errno);
          modbus_free(ctx);
          ctx = nullptr;
          transport_error = true;
        } else {
          std::lock_guard lock(sock_mu_);
          sock_ = modbus_get_socket(ctx);
          // stop() may have run between the check above and here.
          if (stopping_) ::shutdown(sock_, SHUT_RDWR);
        }
      }
    }
    for (size_t i = 0; ctx != nullptr && err.empty() && i < plan_.reads.size(); ++i) {
      const read_request& r = plan_.reads[i];
      int n = -1;
      switch (r.tab) {
        case table::coil: n = modbus_read_bits(ctx, r.address, r.count, bits[i].data()); break;
        case table::discrete_input:
          n = modbus_read_input_bits(ctx, r.address, r.count, bits[i].data());
          break;
        case table::holding_register:
          n = modbus_read_registers(ctx, r.address, r.count, registers[i].data());
          break;
        case table::input_register:
          n = modbus_read_input_registers(ctx, r.address, r.count, registers[i].data());
          break;
      }
      if (n != r.count) {
        int e = errno;
        err = where + " unit " + std::to_string(config_.unit_id) + ": read " + describe(r) + ": " +
              (n < 0 ? modbus_strerror(e) : "short answer");
        transport_error = n >= 0 || !is_exception(e);
      }
    }
    const bool read_ok = ctx != nullptr && err.empty();
    std::vector<model::point> points;
    if (read_ok) {
      model::point p{config_.measurement, tags, {}, time};
      for (size_t k = 0; k < config_.registers.size(); ++k) {
        const register_spec& spec = config_.registers[k];
        const read_slot& s = plan_.slots[k];
        if (is_bit_table(spec.tab)) {
          p.fields.push_back({spec.field, decode_bit(bits[s.read][s.offset] != 0)});
          continue;
        }
        auto v = decode_registers(spec, std::span<const uint16_t>(registers[s.read]).subspan(s.offset));
        if (v.ok()) {
          p.fields.push_back({spec.field, std::move(v).value()});
        } else if (err.empty()) {
          err = v.error().message();
        }
      }
      if (!p.fields.empty()) points.push_back(std::move(p));
    }
    const double latency_ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    if (!err.empty()) ++errors;
    points.push_back(model::point{"modbus_status",
                                  {{"device", config_.name}},
                                  {{"error", err},
                                   {"errors", static_cast<int64_t>(errors)},
                                   {"latency_ms", latency_ms},
                                   {"up", read_ok}},
                                  time});
    record(read_ok ? device_state::up : device_state::down, err, latency_ms, read_ok && err.empty());
    status stored = write_ ? write_(config_.database, std::move(points)) : status{};
    if (!stored.ok()) {
      ++errors;
      record(read_ok ? device_state::up : device_state::down,
             "store in " + config_.database + ": " + stored.message(), latency_ms, false);
    }
    if (transport_error) {
      close_ctx();
      if (!wait(backoff)) break;
      backoff = std::min(backoff * 2, timing_.backoff_max);
      next = clock::now();
      continue;
    }
    if (read_ok) backoff = timing_.backoff_initial;
    next += interval;
    auto now = clock::now();
    if (next < now) next = now;  // a slow poll: skip the missed ticks instead of bursting
    if (!wait(next - now)) break;
  }
  close_ctx();
}

}  // namespace liandu::connect::modbus
