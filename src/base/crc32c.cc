#include "base/crc32c.h"

#include <algorithm>
#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#endif

namespace liandu {
namespace {

constexpr uint32_t poly = 0x82f63b78u;  // reflected Castagnoli polynomial

std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
    t[i] = c;
  }
  return t;
}

uint32_t crc_table(const uint8_t* p, size_t n, uint32_t crc) {
  static const std::array<uint32_t, 256> table = make_table();
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc_one_stream(const uint8_t* p, size_t n, uint32_t crc) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n > 0) {
    c32 = _mm_crc32_u8(c32, *p++);
    --n;
  }
  return c32;
}

// Multiplies a CRC state by x^(8·len) mod P: the state after `len` zero bytes.
// It is linear in the state, so four byte-indexed tables, built from the 32
// one-bit states, give it for any state in four lookups.
class zeros_shift {
 public:
  explicit zeros_shift(size_t len) {
    std::array<uint32_t, 32> basis{};
    for (int i = 0; i < 32; ++i) basis[i] = after_zeros(1u << i, len);
    for (int b = 0; b < 4; ++b) {
      for (uint32_t v = 0; v < 256; ++v) {
        uint32_t r = 0;
        for (int k = 0; k < 8; ++k)
          if ((v >> k) & 1) r ^= basis[8 * b + k];
        tables_[b][v] = r;
      }
    }
  }
  uint32_t operator()(uint32_t s) const {
    return tables_[0][s & 0xff] ^ tables_[1][(s >> 8) & 0xff] ^ tables_[2][(s >> 16) & 0xff] ^
           tables_[3][s >> 24];
  }

 private:
  static uint32_t after_zeros(uint32_t s, size_t len) {
    for (size_t done = 0; done < len; done += zeros_.size())
      s = crc_one_stream(zeros_.data(), std::min(zeros_.size(), len - done), s);
    return s;
  }
  static constexpr std::array<uint8_t, 256> zeros_{};
  std::array<std::array<uint32_t, 256>, 4> tables_{};
};

// Three blocks of `len` bytes at once. One crc32 instruction has a latency
// of three cycles but the CPU can start one per cycle, so three independent
// streams run about three times as fast as one. The raw CRC state (no
// inversion) is linear: crc(A‖B) = crc(A)·x^(8|B|) ⊕ crc₀(B), where crc₀
// starts from 0; the blocks are joined that way.
__attribute__((target("sse4.2"))) uint32_t crc_three_blocks(const uint8_t* p, size_t len, uint32_t crc,
                                                            const zeros_shift& shift) {
  uint64_t c0 = crc, c1 = 0, c2 = 0;
  for (size_t i = 0; i < len; i += 8) {
    uint64_t v0, v1, v2;
    std::memcpy(&v0, p + i, 8);
    std::memcpy(&v1, p + len + i, 8);
    std::memcpy(&v2, p + 2 * len + i, 8);
    c0 = _mm_crc32_u64(c0, v0);
    c1 = _mm_crc32_u64(c1, v1);
    c2 = _mm_crc32_u64(c2, v2);
  }
  return shift(shift(static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1)) ^ static_cast<uint32_t>(c2);
}

uint32_t crc_hw(const uint8_t* p, size_t n, uint32_t crc) {
  // Large blocks for WAL records (often hundreds of KB), small ones so that
  // a few KB still gain; below three small blocks one stream is as good.
  constexpr size_t big = 8192, small = 256;
  static const zeros_shift shift_big(big), shift_small(small);
  for (; n >= 3 * big; p += 3 * big, n -= 3 * big) crc = crc_three_blocks(p, big, crc, shift_big);
  for (; n >= 3 * small; p += 3 * small, n -= 3 * small) crc = crc_three_blocks(p, small, crc, shift_small);
  return crc_one_stream(p, n, crc);
}

bool have_sse42() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  return (c & bit_SSE4_2) != 0;
}
#endif

}  // namespace

uint32_t crc32c_portable(const void* data, size_t n, uint32_t seed) {
  return ~crc_table(static_cast<const uint8_t*>(data), n, ~seed);
}

uint32_t crc32c(const void* data, size_t n, uint32_t seed) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint32_t crc = ~seed;
#if defined(__x86_64__)
  static const bool hw = have_sse42();
  if (hw) return ~crc_hw(p, n, crc);
#endif
  return ~crc_table(p, n, crc);
}

}  // namespace liandu
