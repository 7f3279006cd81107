#pragma once

#include <string_view>

namespace liandu::connect::mqtt {

// True when s is well-formed UTF-8 as MQTT requires of every string (3.1.1
// 1.5.3, 5.0 1.5.4): no overlong forms, no UTF-16 surrogates (U+D800..DFFF),
// nothing above U+10FFFF, and no U+0000.
bool valid_mqtt_utf8(std::string_view s);

}  // namespace liandu::connect::mqtt
