#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "connect/modbus/device_config.h"
#include "model/point.h"

namespace liandu::connect::modbus {

// From raw Modbus data to field values. No I/O: the poller reads, these
// functions decode, and the tests cover every type and order.
//
// A register holds 16 bits; libmodbus hands them over as host integers
// already taken from the big-endian wire form. `byte_order: little` swaps the
// two bytes of each register (devices that store a little-endian value
// byte by byte), `word_order: little` takes the registers of a 32/64-bit
// value least significant first. The float 1.0f (0x3F800000) at address a:
//
//   byte_order word_order   register a   register a+1   (often called)
//   big        big          0x3F80       0x0000         ABCD
//   big        little       0x0000       0x3F80         CDAB
//   little     big          0x803F       0x0000         BADC
//   little     little       0x0000       0x803F         DCBA
//
// Field types: bool → bool; int16..int64, uint16, uint32 → int64 (every
// value fits, and a device that changes signedness keeps its field type);
// float32/float64 → float. With `scale` or `offset`, value * scale + offset
// as a float. Non-finite floats are errors (the data model has no NaN).

// The value of one register spec from its register_count(r.type) registers.
result<model::field_value> decode_registers(const register_spec& r, std::span<const uint16_t> regs);
// The value of one bit (coil or discrete input).
model::field_value decode_bit(bool bit);

// One Modbus read: function code by table, `count` registers or bits from
// `address`.
struct read_request {
  table tab = table::holding_register;
  uint16_t address = 0;
  uint16_t count = 0;
  bool operator==(const read_request&) const = default;
};

// Where register spec i finds its data: reads[slot[i].read], starting
// slot[i].offset registers or bits into it.
struct read_slot {
  size_t read = 0;
  uint16_t offset = 0;
};

struct read_plan {
  std::vector<read_request> reads;
  std::vector<read_slot> slots;  // one per register spec, in their order
};

// Coalesces the specs into as few reads as possible: per table, specs whose
// address ranges touch or overlap share one read as long as it stays within
// `max_registers` registers (125, the protocol limit of function codes 3 and
// 4) or `max_bits` bits (2000, codes 1 and 2). Gaps are never read across:
// a device may answer an unmapped address with an exception.
read_plan plan_reads(const std::vector<register_spec>& specs, uint16_t max_registers = 125,
                     uint16_t max_bits = 2000);

}  // namespace liandu::connect::modbus
