#pragma once

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

// Pointer forms for encoders that size their output once: each writes at p,
// which must have room (10 bytes for a varint, 8 for a fixed64), and returns
// the byte after what it wrote.
inline char* encode_varint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
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

// Reads a varint from in, advancing it. Returns false on truncation or overflow.
inline bool get_varint(std::string_view& in, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift <= 63 && !in.empty(); shift += 7) {
    uint64_t byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    if (shift == 63 && byte > 1) return false;
    v |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
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
