#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

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
  size_t n = s.size();
  uint64_t h = k0 ^ n;
  while (n >= 16) {
    uint64_t a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, 8);
    h = hash_mix(a ^ k1, b ^ h);
    p += 16;
    n -= 16;
  }
  uint64_t a = 0, b = 0;
  if (n > 8) {
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, n - 8);
  } else {
    std::memcpy(&a, p, n);
  }
  h = hash_mix(a ^ k1, b ^ h ^ k2);
  return hash_mix(h ^ k2, k1 ^ s.size());
}

}  // namespace liandu
