#include "connect/mqtt/codec/utf8.h"

#include <cstdint>

#include "base/utf8.h"

namespace liandu::connect::mqtt {

bool valid_mqtt_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    uint32_t cp = 0;
    size_t len = decode_utf8(p + i, s.size() - i, cp);
    if (len == 0 || cp == 0) return false;  // MQTT also forbids U+0000
    i += len;
  }
  return true;
}

}  // namespace liandu::connect::mqtt
