#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace liandu::storage::codec {

// String columns (string fields; events, states, lot numbers). A column with
// few distinct values (a machine state, an alarm name) becomes a dictionary
// plus packed indices; other columns store their lengths (as an unsigned
// integer column, so fixed-size ids cost a few bytes) and then the bytes.
// Either form is wrapped in one zstd frame when that is smaller.
//
// Example: 8640 samples cycling through "idle", "running", "setup" are a
// 3-entry dictionary and 8640 indices, packed as runs: a few dozen bytes.
enum class string_scheme : uint8_t {
  empty = 0,  // n == 0; no payload
  plain = 1,  // varint L, L bytes of an unsigned column of the n lengths, then the bytes of all values
  dict = 2,   // varint d (1..n), d times (varint length, bytes), then an unsigned column of n indices (< d)
  zstd = 3,   // varint size, then one zstd frame of that size holding a plain or dict encoding
};

// Appends the encoding of values[0, n) to out. n <= max_column_values and
// the values together hold at most max_column_bytes.
void encode_strings(const std::string* values, size_t n, std::string& out);
// Appends n values decoded from in; on error returns corruption and leaves
// out unchanged.
status decode_strings(std::string_view in, size_t n, std::vector<std::string>& out);

}  // namespace liandu::storage::codec
