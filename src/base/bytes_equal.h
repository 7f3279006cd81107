#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "base/coding.h"

namespace liandu {

// Whether a[0, n) and b[0, n) hold the same bytes: memcmp(a, b, n) == 0,
// inlined for the short runs the ingest path compares once or more per
// point (field names of a few bytes; series keys of a few dozen). There
// memcmp is a call through glibc's dispatch and a length switch, which cost
// more than comparing: in factory ingest the calls were 5% of the writer
// thread's instructions (callgrind). Up to 32 bytes the runs are compared a
// word at a time, the last word overlapping the one before it, so nothing
// past either end is read; longer runs go to memcmp.
[[gnu::always_inline]] inline bool bytes_equal(const char* a, const char* b, size_t n) {
  if (n >= 8) {
    if (n > 32) return std::memcmp(a, b, n) == 0;
    uint64_t diff = get_fixed64(a + n - 8) ^ get_fixed64(b + n - 8);
    for (size_t i = 0; i + 8 < n; i += 8) diff |= get_fixed64(a + i) ^ get_fixed64(b + i);
    return diff == 0;
  }
  if (n >= 4)
    return ((get_fixed32(a) ^ get_fixed32(b)) | (get_fixed32(a + n - 4) ^ get_fixed32(b + n - 4))) == 0;
  if (n == 0) return true;
  // 1 to 3 bytes: the first, the middle and the last cover them all.
  return a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1];
}

[[gnu::always_inline]] inline bool bytes_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && bytes_equal(a.data(), b.data(), a.size());
}

}  // namespace liandu
