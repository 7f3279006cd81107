// Fuzzes what a Modbus device entry and a device's answers can throw at the
// poller: the input up to the first "\xff\xfe" is parsed as JSON and given to
// parse_device_config (REST bodies and files are untrusted); the rest is
// taken as register contents. Invariants: an accepted entry survives
// to_json → parse unchanged; the read plan covers every register inside one
// read of at most 125 registers / 2000 bits; decoding any register contents
// never crashes and yields the documented field type.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "connect/modbus/decode.h"
#include "connect/modbus/device_config.h"

using namespace liandu::connect::modbus;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t cut = in.find("\xff\xfe");
  std::string_view text = in.substr(0, cut);
  std::string_view regs_bytes = cut == std::string_view::npos ? std::string_view{} : in.substr(cut + 2);
  auto j = nlohmann::json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return 0;
  auto c = parse_device_config(j);
  if (!c.ok()) {
    if (c.error().message().empty()) std::abort();
    return 0;
  }
  auto again = parse_device_config(to_json(*c));
  if (!again.ok() || to_json(*again) != to_json(*c)) std::abort();

  read_plan plan = plan_reads(c->registers);
  if (plan.slots.size() != c->registers.size()) std::abort();
  std::vector<uint16_t> words;
  for (size_t i = 0; i + 1 < regs_bytes.size(); i += 2)
    words.push_back(static_cast<uint16_t>(static_cast<uint8_t>(regs_bytes[i]) << 8 |
                                          static_cast<uint8_t>(regs_bytes[i + 1])));
  for (const auto& r : plan.reads) {
    if (r.count == 0 || r.count > (is_bit_table(r.tab) ? 2000 : 125)) std::abort();
    if (static_cast<uint32_t>(r.address) + r.count > 65536) std::abort();
  }
  for (size_t k = 0; k < c->registers.size(); ++k) {
    const register_spec& s = c->registers[k];
    const read_slot& slot = plan.slots[k];
    if (slot.read >= plan.reads.size()) std::abort();
    const read_request& r = plan.reads[slot.read];
    const int n = is_bit_table(s.tab) ? 1 : register_count(s.type);
    if (r.tab != s.tab || s.address != r.address + slot.offset || slot.offset + n > r.count) std::abort();
    if (is_bit_table(s.tab)) continue;
    std::vector<uint16_t> value(static_cast<size_t>(n));
    for (size_t i = 0; i < value.size() && !words.empty(); ++i) value[i] = words[(k * 4 + i) % words.size()];
    auto v = decode_registers(s, value);
    if (!v.ok()) continue;  // non-finite floats
    bool want_float = s.type == value_type::float32 || s.type == value_type::float64 || s.scale || s.offset;
    if (s.type == value_type::boolean) {
      if (!std::holds_alternative<bool>(*v)) std::abort();
    } else if (want_float != std::holds_alternative<double>(*v)) {
      std::abort();
    }
  }
  return 0;
}
