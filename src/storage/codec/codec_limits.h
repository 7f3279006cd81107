#pragma once

#include <cstddef>

namespace liandu::storage::codec {

// Sanity limits every decoder enforces, so that corrupt input (a wrong value
// count from a block header, a forged size in a zstd frame, a dictionary entry
// repeated millions of times) cannot make it allocate without bound. Blocks
// hold far fewer values than this; encoders assert the value limit.

// Most values one column may hold (32 MiB as int64).
inline constexpr size_t max_column_values = size_t{1} << 22;

// Most bytes a string column may decode to, and most bytes a zstd frame
// inside a column may decompress to.
inline constexpr size_t max_column_bytes = size_t{256} << 20;

}  // namespace liandu::storage::codec
