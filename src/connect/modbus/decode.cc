#include "connect/modbus/decode.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numeric>

namespace liandu::connect::modbus {

namespace {

uint16_t swap_bytes(uint16_t v) { return static_cast<uint16_t>((v >> 8) | (v << 8)); }

// The registers as one big-endian unsigned integer of 16 * n bits.
uint64_t assemble(const register_spec& r, std::span<const uint16_t> regs, size_t n) {
  uint64_t raw = 0;
  for (size_t i = 0; i < n; ++i) {
    uint16_t w = regs[r.word_order == order::big ? i : n - 1 - i];
    if (r.byte_order == order::little) w = swap_bytes(w);
    raw = (raw << 16) | w;
  }
  return raw;
}

}  // namespace

model::field_value decode_bit(bool bit) { return bit; }

result<model::field_value> decode_registers(const register_spec& r, std::span<const uint16_t> regs) {
  const size_t n = static_cast<size_t>(register_count(r.type));
  if (regs.size() < n)
    return error(errc::internal, "field " + r.field + ": " + std::to_string(regs.size()) +
                                     " registers for a " + type_name(r.type));
  const uint64_t raw = assemble(r, regs, n);
  bool is_float = false;
  int64_t i = 0;
  double d = 0;
  switch (r.type) {
    case value_type::boolean: return model::field_value{raw != 0};
    case value_type::int16: i = static_cast<int16_t>(raw); break;
    case value_type::uint16: i = static_cast<uint16_t>(raw); break;
    case value_type::int32: i = static_cast<int32_t>(raw); break;
    case value_type::uint32: i = static_cast<uint32_t>(raw); break;
    case value_type::int64: i = static_cast<int64_t>(raw); break;
    case value_type::float32:
      d = std::bit_cast<float>(static_cast<uint32_t>(raw));
      is_float = true;
      break;
    case value_type::float64:
      d = std::bit_cast<double>(raw);
      is_float = true;
      break;
  }
  if (!r.scale && !r.offset) {
    if (!is_float) return model::field_value{i};
  } else {
    if (!is_float) d = static_cast<double>(i);
    d = d * r.scale.value_or(1.0) + r.offset.value_or(0.0);
  }
  if (!std::isfinite(d))
    return error(errc::invalid_argument, "field " + r.field + ": " + type_name(r.type) + " at " +
                                             table_name(r.tab) + " " + std::to_string(r.address) +
                                             " is not a finite number");
  return model::field_value{d};
}

read_plan plan_reads(const std::vector<register_spec>& specs, uint16_t max_registers, uint16_t max_bits) {
  read_plan plan;
  plan.slots.resize(specs.size());
  std::vector<size_t> order(specs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (specs[a].tab != specs[b].tab) return specs[a].tab < specs[b].tab;
    return specs[a].address < specs[b].address;
  });
  // Current read being grown: [start, end) in addresses, as 32-bit ints so
  // that address 65535 + 4 registers does not wrap.
  bool open = false;
  table tab = table::coil;
  uint32_t start = 0, end = 0;
  std::vector<size_t> members;
  auto close = [&] {
    if (!open) return;
    size_t idx = plan.reads.size();
    plan.reads.push_back({tab, static_cast<uint16_t>(start), static_cast<uint16_t>(end - start)});
    for (size_t m : members) plan.slots[m] = {idx, static_cast<uint16_t>(specs[m].address - start)};
    members.clear();
    open = false;
  };
  for (size_t k : order) {
    const register_spec& s = specs[k];
    uint32_t a = s.address;
    uint32_t e = a + static_cast<uint32_t>(is_bit_table(s.tab) ? 1 : register_count(s.type));
    uint32_t limit = is_bit_table(s.tab) ? max_bits : max_registers;
    if (open && s.tab == tab && a <= end && std::max(end, e) - start <= limit) {
      end = std::max(end, e);
    } else {
      close();
      open = true;
      tab = s.tab;
      start = a;
      end = e;
    }
    members.push_back(k);
  }
  close();
  return plan;
}

}  // namespace liandu::connect::modbus
