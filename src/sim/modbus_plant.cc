#include "sim/modbus_plant.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <map>

namespace liandu::sim {

namespace {

// Writes the `n` registers of the big-endian value `bits` at `at`, in the
// given byte and word order (the inverse of connect/modbus decode).
void put(std::span<uint16_t> regs, size_t at, uint64_t bits, int n, bool bytes_little = false,
         bool words_little = false) {
  for (int i = 0; i < n; ++i) {
    auto w = static_cast<uint16_t>(bits >> (16 * (n - 1 - i)));  // i-th most significant word
    if (bytes_little) w = static_cast<uint16_t>(w << 8 | w >> 8);
    size_t slot = at + static_cast<size_t>(words_little ? n - 1 - i : i);
    if (slot < regs.size()) regs[slot] = w;
  }
}

void put_f32(std::span<uint16_t> regs, size_t at, double v) {
  put(regs, at, std::bit_cast<uint32_t>(static_cast<float>(v)), 2);
}

void put_u32(std::span<uint16_t> regs, size_t at, double v) {
  put(regs, at, static_cast<uint32_t>(std::clamp(v, 0.0, 4294967295.0)), 2);
}

// The numeric fields of a line-protocol line of the simulator (no escapes,
// no spaces in tags); strings are skipped.
std::map<std::string, double, std::less<>> numeric_fields(std::string_view line) {
  std::map<std::string, double, std::less<>> out;
  auto sp = line.find(' ');
  if (sp == std::string_view::npos) return out;
  std::string_view rest = line.substr(sp + 1);
  auto end = rest.rfind(' ');
  std::string_view fields = end == std::string_view::npos ? rest : rest.substr(0, end);
  while (!fields.empty()) {
    auto comma = fields.find(',');
    std::string_view kv = fields.substr(0, comma);
    fields = comma == std::string_view::npos ? std::string_view() : fields.substr(comma + 1);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string value(kv.substr(eq + 1));
    if (value.empty() || value.front() == '"') continue;
    if (value.back() == 'i' || value.back() == 'u') value.pop_back();
    char* stop = nullptr;
    double d = std::strtod(value.c_str(), &stop);
    if (stop != value.c_str() && std::isfinite(d)) out[std::string(kv.substr(0, eq))] = d;
  }
  return out;
}

}  // namespace

void fill_test_block(std::span<uint16_t> h) {
  put(h, 100, static_cast<uint16_t>(-12345), 1);
  put(h, 101, 54321, 1);
  put(h, 102, static_cast<uint32_t>(-123456789), 2);
  put(h, 104, static_cast<uint32_t>(-123456789), 2, false, true);
  put(h, 106, 3000000000u, 2);
  put(h, 108, static_cast<uint64_t>(-1234567890123LL), 4);
  put(h, 112, static_cast<uint64_t>(-1234567890123LL), 4, false, true);
  const uint32_t pi = std::bit_cast<uint32_t>(3.14159f);
  put(h, 116, pi, 2, false, false);
  put(h, 118, pi, 2, false, true);
  put(h, 120, pi, 2, true, false);
  put(h, 122, pi, 2, true, true);
  const uint64_t e = std::bit_cast<uint64_t>(2.718281828459045);
  put(h, 124, e, 4, false, false);
  put(h, 128, e, 4, true, true);
}

void fill_machine_registers(std::string_view line, uint8_t unit, connect::modbus::bank_ref b) {
  auto f = numeric_fields(line);
  auto get = [&](std::string_view k) {
    auto it = f.find(k);
    return it == f.end() ? 0.0 : it->second;
  };
  const int state = static_cast<int>(get("state_code"));
  auto set_bit = [](std::span<uint8_t> bits, size_t i, bool v) {
    if (i < bits.size()) bits[i] = v ? 1 : 0;
  };
  set_bit(b.coils, 0, state == 0);
  set_bit(b.coils, 1, state == 3);
  for (int i = 0; i < 4; ++i) set_bit(b.discrete_inputs, static_cast<size_t>(i), state == i);
  auto& in = b.input_registers;
  put(in, 0, static_cast<uint16_t>(state), 1);
  put(in, 1,
      static_cast<uint16_t>(
          static_cast<int16_t>(std::clamp(std::lround(get("temperature") * 100), -32768L, 32767L))),
      1);
  put_f32(in, 2, get("spindle_speed"));
  put_f32(in, 4, get("vibration"));
  put_f32(in, 6, get("pressure"));
  put_f32(in, 8, get("power"));
  put_f32(in, 10, get("feed_rate"));
  put_u32(in, 12, get("cycle_count"));
  put_u32(in, 14, get("good_count"));
  put_u32(in, 16, get("scrap_count"));
  auto& h = b.holding_registers;
  put_f32(h, 0, get("feed_setpoint"));
  put(h, 2, static_cast<uint16_t>(std::clamp(std::lround(get("feed_setpoint") * 10), 0L, 65535L)), 1);
  put(h, 3, unit, 1);
}

modbus_plant::modbus_plant(size_t machines) : units_(std::min(machines, modbus_max_units)) {
  for (size_t u = 1; u <= units_; ++u) {
    (void)server_.add_unit(static_cast<uint8_t>(u), modbus_bits, modbus_input_registers,
                           modbus_holding_registers);
    (void)server_.edit(static_cast<uint8_t>(u), [u](connect::modbus::bank_ref b) {
      fill_test_block(b.holding_registers);
      put(b.holding_registers, 3, u, 1);
    });
  }
}

result<uint16_t> modbus_plant::start(const std::string& bind) {
  auto colon = bind.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return error(errc::invalid_argument, "--modbus-bind " + bind + ": expected host:port");
  std::string host = bind.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  char* stop = nullptr;
  std::string port_text = bind.substr(colon + 1);
  long port = std::strtol(port_text.c_str(), &stop, 10);
  if (port_text.empty() || *stop != '\0' || port < 0 || port > 65535)
    return error(errc::invalid_argument, "--modbus-bind " + bind + ": bad port");
  return server_.start(host, static_cast<uint16_t>(port));
}

void modbus_plant::update(std::string_view lines) {
  size_t unit = 1;
  while (!lines.empty() && unit <= units_) {
    auto nl = lines.find('\n');
    std::string_view line = lines.substr(0, nl);
    lines = nl == std::string_view::npos ? std::string_view() : lines.substr(nl + 1);
    if (line.empty()) continue;
    auto u = static_cast<uint8_t>(unit++);
    (void)server_.edit(u, [&](connect::modbus::bank_ref b) { fill_machine_registers(line, u, b); });
  }
}

}  // namespace liandu::sim
