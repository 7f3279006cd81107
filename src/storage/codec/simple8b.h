#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace liandu::storage::codec {

// Simple-8b (Anh and Moffat, 2010) packs unsigned integers into 64-bit words:
// a 4-bit selector in the high bits says how the 60-bit payload is cut. Our
// variant trades the two "runs of zero" selectors of the original for one
// run-length selector, and adds an escape for values of 60 bits or more, so
// every uint64 can be packed:
//
//   selector 0       run: payload = count << 32 | value; count in 1..2^28-1
//                    copies of value, value < 2^32
//   selector 1..14   count values of bits bits each, the first value in the
//                    lowest bits:
//                      sel    1  2  3  4  5  6  7  8  9 10 11 12 13 14
//                      count 60 30 20 15 12 10  8  7  6  5  4  3  2  1
//                      bits   1  2  3  4  5  6  7  8 10 12 15 20 30 60
//   selector 15      escape: payload zero; the next word is one raw value
//
// Words are stored little-endian, 8 bytes each. Only the last word may hold
// fewer values than its selector's count (the decoder knows n and stops); its
// unused slots are zero. Runs never reach past n.

inline constexpr int simple8b_run_selector = 0;
inline constexpr int simple8b_escape_selector = 15;
inline constexpr uint64_t simple8b_max_run = (uint64_t{1} << 28) - 1;

// Appends the words for values[0, n).
void simple8b_encode(const uint64_t* values, size_t n, std::string& out);

// Decodes exactly n values from in into out[0, n). in must hold exactly the
// words for n values: a missing word, a run past n or a trailing word is
// corruption. out must have room for n values.
status simple8b_decode(std::string_view in, size_t n, uint64_t* out);

}  // namespace liandu::storage::codec
