#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace liandu::storage::codec {

// The timestamp column (int64 ns since the epoch, usually ascending). Its
// encoding is the integer column encoding of integer_codec.h: regular
// intervals become `linear` (first, interval: about 15 bytes whatever n is),
// jittered ones `delta2` (delta-of-delta, simple8b packed, runs of equal
// intervals as one word). Kept as its own entry point so timestamps may get
// schemes of their own later without touching callers.

// Appends the encoding of values[0, n) to out. n <= max_column_values.
void encode_timestamps(const int64_t* values, size_t n, std::string& out);
// Appends n values decoded from in; on error returns corruption and leaves
// out unchanged.
status decode_timestamps(std::string_view in, size_t n, std::vector<int64_t>& out);

}  // namespace liandu::storage::codec
