#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.h"

namespace liandu::storage::codec {

// One zstd frame with its size in front, where compression pays:
//
//   varint raw_size | zstd frame (declaring raw_size as its content size)
//
// Used inside string columns and for block indexes.

// Appends the form above for `raw` when it takes fewer than `budget` bytes;
// otherwise leaves `out` as it was and returns false.
bool append_zstd_if_smaller(std::string_view raw, size_t budget, std::string& out);

// Reads the form above from the whole of `in` into `out`. A size over
// `limit`, or a frame that declares another size, is refused before anything
// is allocated or decompressed. Errors say what, with byte offsets counted
// from `in`'s start plus `base`.
status read_zstd(std::string_view in, size_t limit, size_t base, std::string& out);

}  // namespace liandu::storage::codec
