#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace liandu::storage::codec {

// Boolean columns. Values are 0 or 1 (the encoder reads any non-zero byte as
// 1; the decoder yields only 0 and 1). Machine states change rarely, so long
// runs are stored as run lengths; anything else as one bit a value.
//
// Example: 8640 samples of "running" with two stops is `rle`: the first
// value and five run lengths, under 15 bytes.
enum class bool_scheme : uint8_t {
  empty = 0,      // n == 0; no payload
  bitpacked = 1,  // ceil(n / 8) bytes; value i is bit i % 8 (least significant first) of byte i / 8
  rle = 2,  // byte first value (0 or 1), then varint run lengths (>= 1, summing to n), alternating value
};

// Appends the encoding of values[0, n) to out. n <= max_column_values.
void encode_booleans(const uint8_t* values, size_t n, std::string& out);
// Appends n values decoded from in; on error returns corruption and leaves
// out unchanged.
status decode_booleans(std::string_view in, size_t n, std::vector<uint8_t>& out);

}  // namespace liandu::storage::codec
