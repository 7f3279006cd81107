// Fuzzes the MQTT decoder: any bytes, at protocol level 3.1.1 or 5 (chosen by
// the first byte), in chunks (the second byte). Every decoded packet must
// re-encode to bytes that decode to the same packet.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "connect/mqtt/codec/codec.h"

using namespace liandu::connect::mqtt;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  uint8_t level = (data[0] & 1) ? protocol_v5 : protocol_v311;
  size_t chunk = (data[1] % 64) + 1;
  data += 2;
  size -= 2;
  decoder d(1 << 16, level);
  size_t fed = 0;
  while (true) {
    packet p;
    decode_error e;
    auto st = d.next(&p, &e);
    if (st == decoder::state::error) break;
    if (st == decoder::state::need_more) {
      if (fed >= size) break;
      size_t n = std::min(chunk, size - fed);
      d.feed(data + fed, n);
      fed += n;
      continue;
    }
    uint8_t at = std::holds_alternative<connect_packet>(p) ? std::get<connect_packet>(p).protocol_level
                                                           : d.protocol_level();
    if (at != protocol_v5) at = protocol_v311;
    std::string bytes = encode_packet(p, at);
    decoder again(max_possible_packet_size, at);
    again.feed(bytes.data(), bytes.size());
    packet q;
    if (again.next(&q, &e) != decoder::state::packet || !(q == p)) std::abort();
  }
  return 0;
}
