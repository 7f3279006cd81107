#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "connect/modbus/server.h"

namespace liandu::sim {

// The simulated plant as Modbus TCP devices (`liandu simulate --modbus-bind`):
// one unit id per machine, in the plant's order (site1-line1-m01 is unit 1,
// site1-line1-m02 unit 2, …, at most 247), all behind one address. Values are
// those of the machine's latest `machine` point. Register map, 0-based
// protocol addresses; 32/64-bit values are big-endian (ABCD) unless noted:
//
//   coils              0  running (state == running)
//                      1  alarm (state == down)
//   discrete inputs    0..3  one-hot state: running, idle, setup, down
//   input registers    0      state_code        uint16  0 running, 1 idle, 2 setup, 3 down
//                      1      temperature       int16   °C × 100 (scale 0.01)
//                      2-3    spindle_speed     float32 rpm
//                      4-5    vibration         float32 mm/s
//                      6-7    pressure          float32 bar
//                      8-9    power             float32 kW
//                      10-11  feed_rate         float32 mm/min
//                      12-13  cycle_count       uint32
//                      14-15  good_count        uint32
//                      16-17  scrap_count       uint32
//   holding registers  0-1    feed_setpoint     float32 mm/min
//                      2      feed_setpoint     uint16  × 10 (scale 0.1)
//                      3      unit id           uint16
//   holding registers 100-131: a fixed test block, the same on every unit,
//   for checking a poller's types and byte/word orders:
//                      100      int16   -12345
//                      101      uint16  54321
//                      102-103  int32   -123456789      ABCD (word_order big)
//                      104-105  int32   -123456789      CDAB (word_order little)
//                      106-107  uint32  3000000000      ABCD
//                      108-111  int64   -1234567890123  word_order big
//                      112-115  int64   -1234567890123  word_order little
//                      116-117  float32 3.14159         ABCD (byte big, word big)
//                      118-119  float32 3.14159         CDAB (byte big, word little)
//                      120-121  float32 3.14159         BADC (byte little, word big)
//                      122-123  float32 3.14159         DCBA (byte little, word little)
//                      124-127  float64 2.718281828459045  byte big, word big
//                      128-131  float64 2.718281828459045  byte little, word little
inline constexpr uint16_t modbus_bits = 8;
inline constexpr uint16_t modbus_input_registers = 32;
inline constexpr uint16_t modbus_holding_registers = 136;
inline constexpr size_t modbus_max_units = 247;

// Writes one machine's registers from the line-protocol line plant::step
// produced for it (fields missing from the line read as 0).
void fill_machine_registers(std::string_view line, uint8_t unit, connect::modbus::bank_ref bank);
// Writes the fixed test block (holding registers 100-131).
void fill_test_block(std::span<uint16_t> holding_registers);

// A Modbus TCP server with one unit per machine.
class modbus_plant {
 public:
  explicit modbus_plant(size_t machines);
  // Binds "host:port"; returns the bound port.
  result<uint16_t> start(const std::string& bind);
  void stop() { server_.stop(); }
  // The lines of one plant::step (one per machine, in order).
  void update(std::string_view lines);
  size_t units() const { return units_; }

 private:
  connect::modbus::server server_;
  size_t units_;
};

}  // namespace liandu::sim
