#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "base/coding.h"

namespace liandu {

// A fast 64-bit hash of bytes for in-memory hash tables (never stored on
// disk: it may change between versions). Mixes 16 bytes per step with a
// 64×64→128-bit multiply folded to 64 bits, the construction of wyhash and
// MUM hashing, so a 70-byte series key costs a handful of multiplies where
// std::hash's byte-oriented murmur loop costs several times more.
inline uint64_t hash_mix(uint64_t a, uint64_t b) {
  unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

inline uint64_t hash_bytes(std::string_view s) {
  constexpr uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull, k2 = 0x8ebc6af09c88c6e3ull;
  const char* p = s.data();
  const size_t size = s.size();
  size_t n = size;
  uint64_t h = k0 ^ n;
  while (n > 16) {
    h = hash_mix(get_fixed64(p) ^ k1, get_fixed64(p + 8) ^ h);
    p += 16;
    n -= 16;
  }
  // The last 1-16 bytes are read with loads that may overlap bytes already
  // mixed (or each other), never with a copy of n bytes into a zeroed word:
  // that is compiled to narrow stores followed by a wide load, which stalls
  // on store forwarding (most of a 60-byte key's hash time in apply_batch
  // profiles). The length mixed in at the end tells overlapping reads apart.
  uint64_t a = 0, b = 0;
  if (size >= 16) {
    a = get_fixed64(p + n - 16);
    b = get_fixed64(p + n - 8);
  } else if (n >= 8) {
    a = get_fixed64(p);
    b = get_fixed64(p + n - 8);
  } else if (n >= 4) {
    a = get_fixed32(p);
    b = get_fixed32(p + n - 4);
  } else if (n > 0) {
    a = static_cast<uint64_t>(static_cast<unsigned char>(p[0])) << 16 |
        static_cast<uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8 |
        static_cast<unsigned char>(p[n - 1]);
  }
  h = hash_mix(a ^ k1, b ^ h ^ k2);
  return hash_mix(h ^ k2, k1 ^ size);
}

}  // namespace liandu
