#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace liandu::storage::codec {

// Fixed-width bit packing in blocks, the alternative to simple8b for values
// of even width: simple8b spends 30 bits on a 22-bit value (two to a word),
// a block of 22-bit values spends 22 bits and a byte a block.
//
// Values are cut into blocks of bitpack_block_size (the last may be
// shorter). A block is one byte w (0..64, the bit width of its widest value)
// followed by ceil(count * w / 8) bytes: value j of the block occupies bits
// j*w .. j*w+w-1 of the little-endian bit string (bit 0 is the least
// significant bit of the first byte). Unused bits of the last byte are zero.

inline constexpr size_t bitpack_block_size = 128;

// Bytes bitpack_encode would append for values[0, n).
size_t bitpack_size(const uint64_t* values, size_t n);

// Appends the blocks for values[0, n).
void bitpack_encode(const uint64_t* values, size_t n, std::string& out);

// Decodes exactly n values from in into out[0, n); in must hold exactly
// their blocks. out must have room for n values.
status bitpack_decode(std::string_view in, size_t n, uint64_t* out);

}  // namespace liandu::storage::codec
