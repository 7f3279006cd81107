#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace liandu {

// Little-endian fixed-width and LEB128 varint encoding helpers (leveldb's coding.h).

inline void put_fixed32(std::string& dst, uint32_t v) {
  char b[4];
  std::memcpy(b, &v, 4);  // x86-64 and aarch64 are little-endian
  dst.append(b, 4);
}

inline uint32_t get_fixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline uint64_t get_fixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

namespace varint_detail {

// A varint of 2 to 9 bytes is read and written a word at a time: its 7-bit
// groups are packed (or spread) with three mask-and-shift steps, where a
// byte loop took a branch and five instructions per byte (a nanosecond
// timestamp is 9 bytes: the largest cost of decoding a write batch).

// The low 7 bits of each byte of x, packed into 56 bits (byte 0 lowest).
inline uint64_t pack7(uint64_t x) {
  x &= 0x7f7f7f7f7f7f7f7full;
  x = ((x & 0x7f007f007f007f00ull) >> 1) | (x & 0x007f007f007f007full);
  x = ((x & 0x3fff00003fff0000ull) >> 2) | (x & 0x00003fff00003fffull);
  return ((x & 0x0fffffff00000000ull) >> 4) | (x & 0x000000000fffffffull);
}

// The inverse: the low 56 bits of v spread over 8 bytes, 7 bits in each.
inline uint64_t spread7(uint64_t v) {
  v &= 0x00ffffffffffffffull;
  v = ((v & 0x00fffffff0000000ull) << 4) | (v & 0x000000000fffffffull);
  v = ((v & 0x0fffc0000fffc000ull) << 2) | (v & 0x00003fff00003fffull);
  return ((v & 0x3f803f803f803f80ull) << 1) | (v & 0x007f007f007f007full);
}

}  // namespace varint_detail

// Pointer forms for encoders that size their output once: each writes at p,
// which must have room (10 bytes for a varint, whatever its length: a
// varint is stored a word at a time; 8 for a fixed64), and returns the byte
// after what it wrote.
inline char* encode_varint(char* p, uint64_t v) {
  if (v < 0x80) {
    *p = static_cast<char>(v);
    return p + 1;
  }
  uint64_t w = varint_detail::spread7(v);
  if (v < (uint64_t{1} << 56)) {
    const int bytes = (std::bit_width(v) + 6) / 7;    // 2 to 8
    w |= 0x8080808080808080ull >> (8 * (9 - bytes));  // every byte but the last continues
    std::memcpy(p, &w, 8);
    return p + bytes;
  }
  w |= 0x8080808080808080ull;
  std::memcpy(p, &w, 8);
  const uint64_t rest = v >> 56;
  if (rest < 0x80) {
    p[8] = static_cast<char>(rest);
    return p + 9;
  }
  p[8] = static_cast<char>(rest | 0x80);
  p[9] = static_cast<char>(rest >> 7);
  return p + 10;
}
inline char* encode_fixed64(char* p, uint64_t v) {
  std::memcpy(p, &v, 8);
  return p + 8;
}
inline char* encode_string(char* p, std::string_view s) {
  p = encode_varint(p, s.size());
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  return p + s.size();
}
constexpr size_t max_varint_bytes = 10;

inline void put_fixed64(std::string& dst, uint64_t v) {
  char b[8];
  dst.append(b, static_cast<size_t>(encode_fixed64(b, v) - b));
}

inline void put_varint(std::string& dst, uint64_t v) {
  char b[max_varint_bytes];
  dst.append(b, static_cast<size_t>(encode_varint(b, v) - b));
}

// Reads a varint at p, before end, whose end is at least 10 bytes on (one
// nearer the end is left to the byte loop). Returns the byte after it, or
// null when it is over 64 bits (a tenth byte over 1).
inline const char* decode_varint_10(const char* p, uint64_t& v) {
  const uint64_t x = get_fixed64(p);
  const uint64_t stops = ~x & 0x8080808080808080ull;  // the top bit clear ends a varint
  if (stops != 0) {
    const int bytes = (std::countr_zero(stops) >> 3) + 1;
    v = varint_detail::pack7(x & (~uint64_t{0} >> (64 - 8 * bytes)));
    return p + bytes;
  }
  const uint64_t low = varint_detail::pack7(x);
  const auto b8 = static_cast<uint8_t>(p[8]);
  if (b8 < 0x80) {
    v = low | uint64_t{b8} << 56;
    return p + 9;
  }
  const auto b9 = static_cast<uint8_t>(p[9]);
  if (b9 > 1) return nullptr;
  v = low | uint64_t{b8 & 0x7fu} << 56 | uint64_t{b9} << 63;
  return p + 10;
}

// Reads a varint at p, before end. Returns the byte after it, or null on
// truncation or a value over 64 bits. One byte, and any varint with 10 bytes
// after p, take no byte loop.
inline const char* decode_varint(const char* p, const char* end, uint64_t& v) {
  if (p < end && static_cast<int8_t>(*p) >= 0) {
    v = static_cast<uint8_t>(*p);
    return p + 1;
  }
  if (end - p >= static_cast<std::ptrdiff_t>(max_varint_bytes)) return decode_varint_10(p, v);
  v = 0;
  for (int shift = 0; shift <= 63 && p < end; shift += 7) {
    uint64_t byte = static_cast<uint8_t>(*p++);
    if (shift == 63 && byte > 1) return nullptr;
    v |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return p;
  }
  return nullptr;
}

// Reads a varint from in, advancing it. Returns false on truncation or
// overflow, having consumed the bytes it looked at (at most 10).
inline bool get_varint(std::string_view& in, uint64_t& v) {
  const char* after = decode_varint(in.data(), in.data() + in.size(), v);
  in.remove_prefix(after != nullptr ? static_cast<size_t>(after - in.data())
                                    : std::min(in.size(), max_varint_bytes));
  return after != nullptr;
}

inline void put_string(std::string& dst, std::string_view s) {
  put_varint(dst, s.size());
  dst.append(s);
}
inline bool get_string(std::string_view& in, std::string_view& s) {
  uint64_t n;
  if (!get_varint(in, n) || n > in.size()) return false;
  s = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

inline uint64_t zigzag_encode(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t zigzag_decode(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

}  // namespace liandu
