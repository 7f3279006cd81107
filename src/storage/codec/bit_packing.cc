#include "storage/codec/bit_packing.h"

#include <algorithm>
#include <bit>

#include "base/coding.h"

namespace liandu::storage::codec {
namespace {

int block_width(const uint64_t* v, size_t count) {
  uint64_t all = 0;
  for (size_t i = 0; i < count; ++i) all |= v[i];
  return std::bit_width(all);
}

size_t block_bytes(size_t count, int width) { return (count * static_cast<size_t>(width) + 7) / 8; }

// Little-endian load of up to 8 bytes at p, zero-padded past have bytes.
uint64_t load(const uint8_t* p, size_t have) {
  if (have >= 8) return get_fixed64(reinterpret_cast<const char*>(p));
  uint64_t v = 0;
  for (size_t i = 0; i < have; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

size_t bitpack_size(const uint64_t* values, size_t n) {
  size_t size = 0;
  for (size_t at = 0; at < n; at += bitpack_block_size) {
    const size_t count = std::min(bitpack_block_size, n - at);
    size += 1 + block_bytes(count, block_width(values + at, count));
  }
  return size;
}

void bitpack_encode(const uint64_t* values, size_t n, std::string& out) {
  for (size_t at = 0; at < n; at += bitpack_block_size) {
    const size_t count = std::min(bitpack_block_size, n - at);
    const int w = block_width(values + at, count);
    out.push_back(static_cast<char>(w));
    if (w == 0) continue;
    uint64_t acc = 0;
    int filled = 0;  // bits of acc in use, 0..63
    for (size_t j = 0; j < count; ++j) {
      const uint64_t x = values[at + j];
      acc |= x << filled;
      if (filled + w >= 64) {
        put_fixed64(out, acc);
        const int used = 64 - filled;  // bits of x already flushed, 1..64
        acc = used < 64 ? x >> used : 0;
        filled = filled + w - 64;
      } else {
        filled += w;
      }
    }
    for (int b = 0; b < filled; b += 8) out.push_back(static_cast<char>(acc >> b));
  }
}

status bitpack_decode(std::string_view in, size_t n, uint64_t* out) {
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  size_t pos = 0;
  for (size_t at = 0; at < n; at += bitpack_block_size) {
    const size_t count = std::min(bitpack_block_size, n - at);
    if (pos == in.size()) {
      return status(errc::corruption, "bit-packed block at byte " + std::to_string(pos) + " is missing");
    }
    const int w = p[pos];
    if (w > 64) {
      return status(errc::corruption,
                    "bit-packed block at byte " + std::to_string(pos) + " has width " + std::to_string(w));
    }
    const size_t bytes = block_bytes(count, w);
    if (in.size() - pos - 1 < bytes) {
      return status(errc::corruption, "bit-packed block at byte " + std::to_string(pos) + " needs " +
                                          std::to_string(bytes) + " bytes, has " +
                                          std::to_string(in.size() - pos - 1));
    }
    ++pos;
    const uint8_t* b = p + pos;
    if (w == 0) {
      std::fill_n(out + at, count, 0);
      continue;
    }
    const uint64_t mask = w == 64 ? ~uint64_t{0} : (uint64_t{1} << w) - 1;
    for (size_t j = 0; j < count; ++j) {
      const size_t bit = j * static_cast<size_t>(w);
      const size_t byte = bit / 8;
      const int shift = static_cast<int>(bit % 8);
      uint64_t v = load(b + byte, bytes - byte) >> shift;
      if (shift + w > 64) v |= static_cast<uint64_t>(b[byte + 8]) << (64 - shift);
      out[at + j] = v & mask;
    }
    pos += bytes;
  }
  if (pos != in.size()) {
    return status(errc::corruption,
                  std::to_string(in.size() - pos) + " trailing bytes after the bit-packed blocks");
  }
  return status();
}

}  // namespace liandu::storage::codec
