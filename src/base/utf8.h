#pragma once

#include <cstddef>
#include <cstdint>

namespace liandu {

// Decodes the UTF-8 sequence that starts p[0] (n bytes available, n >= 1):
// returns its length (1-4) and sets cp, or 0 when it is not well-formed
// UTF-8 (a bad lead or continuation byte, truncated, overlong, a surrogate,
// or past U+10FFFF).
inline size_t decode_utf8(const unsigned char* p, size_t n, uint32_t& cp) {
  unsigned char c = p[0];
  size_t len = 0;
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (len > n) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((p[k] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[k] & 0x3F);
  }
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0;
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

}  // namespace liandu
