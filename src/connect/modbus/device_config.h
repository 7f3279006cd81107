#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace liandu::connect::modbus {

// One Modbus TCP device Liandu polls, as given to the REST API, the
// --modbus-devices file and the persisted modbus_devices.json:
//
//   {"name": "press-7", "database": "plant", "host": "10.0.0.17", "port": 502,
//    "unit_id": 1, "interval_ms": 1000, "timeout_ms": 1000,
//    "measurement": "machine", "tags": {"line": "line1"},
//    "registers": [
//      {"field": "temperature", "table": "input_register", "address": 1,
//       "type": "int16", "scale": 0.01, "unit": "degC"},
//      {"field": "spindle_speed", "table": "input_register", "address": 2,
//       "type": "float32", "word_order": "big"},
//      {"field": "running", "table": "discrete_input", "address": 0}]}
//
// Defaults: port 502, unit_id 1, interval_ms 1000, timeout_ms 1000,
// measurement "modbus", type bool on bit tables and uint16 on register
// tables, byte_order and word_order "big" (the Modbus convention: the first
// register holds the most significant word, each register's high byte comes
// first). Addresses are the 0-based protocol addresses (holding register
// 40001 in the old 1-based notation is address 0).
enum class table { coil, discrete_input, input_register, holding_register };
enum class value_type { boolean, int16, uint16, int32, uint32, int64, float32, float64 };
enum class order { big, little };

const char* table_name(table t);
const char* type_name(value_type t);
// True for coils and discrete inputs (one bit per address).
inline bool is_bit_table(table t) { return t == table::coil || t == table::discrete_input; }
// How many 16-bit registers a value of type `t` spans (1 for bool).
int register_count(value_type t);

struct register_spec {
  std::string field;
  table tab = table::holding_register;
  uint16_t address = 0;
  value_type type = value_type::uint16;
  order byte_order = order::big;  // of the two bytes inside each register
  order word_order = order::big;  // of the registers of a 32/64-bit value
  std::optional<double> scale;    // stored = raw * scale + offset, as a float
  std::optional<double> offset;
  std::string unit;  // documentation only (shown by GET)
};

struct device_config {
  std::string name;
  std::string database;
  std::string host;
  int port = 502;
  int unit_id = 1;
  int64_t interval_ms = 1000;
  int64_t timeout_ms = 1000;
  std::string measurement = "modbus";
  std::map<std::string, std::string> tags;  // besides device=<name>
  std::vector<register_spec> registers;
};

// Limits of one entry.
inline constexpr size_t max_registers = 1000;
inline constexpr int64_t min_interval_ms = 50;
inline constexpr int64_t max_interval_ms = 24LL * 3600 * 1000;

// Validates one entry. Errors name the device, the register index and the
// key, e.g. `device press-7: "registers"[2].type: unknown type "int8" (bool,
// int16, ...)`. Read-only keys that GET adds (status, last_error, polls,
// errors, last_poll_ms) are ignored, so a listed entry can be posted back.
result<device_config> parse_device_config(const nlohmann::json& j);

nlohmann::json to_json(const device_config& c);

}  // namespace liandu::connect::modbus
