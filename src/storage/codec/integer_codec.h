#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace liandu::storage::codec {

// Integer columns: int64 and uint64 fields, and (through timestamp_codec.h)
// the timestamp column. The encoder tries every scheme below that applies and
// keeps the smallest; the first byte names the scheme. Byte layouts are in
// docs/formats/codecs.md.
//
// "wire" values: signed columns zig-zag their first value (-1 -> 1, 1 -> 2);
// unsigned columns store it as it is. Differences are computed with wrapping
// uint64 arithmetic, so INT64_MIN after INT64_MAX, or 0 after UINT64_MAX, is a
// difference of one.
//
// plain, delta and delta2 end in a "sequence": the values (or their
// differences, or the changes of their differences) s_i written as
//   s_i = base + g * q_i        (wrapping)
// where base is their minimum (q_i >= 0) or their median (q_i zig-zagged,
// robust to a few outliers such as a counter reset), g is the greatest
// common divisor of s_i - base (timestamps with millisecond precision have
// g = 10^6), and the q_i are packed with simple8b or in fixed-width blocks,
// whichever is smaller.
//
// Examples: 10 s timestamps are `linear` (about 15 bytes for any n); a
// random walk with steps of at most +-10 is `delta` at about 5 bits a value;
// a counter growing by 0..3 a sample is `delta` at about 2 bits a value.
enum class integer_scheme : uint8_t {
  empty = 0,     // n == 0; no payload
  raw = 1,       // n fixed64 values
  constant = 2,  // varint wire value; all n values equal
  linear = 3,    // varint wire first, varint zig-zag delta; v[i] = first + i * delta
  plain = 4,     // sequence of the n values
  delta = 5,     // varint wire first, sequence of the n-1 differences
  delta2 = 6,    // varint wire first, varint zig-zag first difference, sequence of the n-2 changes
};

// First byte of a sequence: how it is mapped and packed.
inline constexpr uint8_t sequence_zigzag = 0x01;  // q_i are zig-zagged (base is the median)
inline constexpr uint8_t sequence_blocks = 0x02;  // packed with bit_packing.h, else simple8b.h

// Appends the encoding of values[0, n) to out. n <= max_column_values.
void encode_integers(const int64_t* values, size_t n, std::string& out);
// Appends n values decoded from in, which must be exactly the bytes the
// encoder appended. On error returns corruption and leaves out unchanged.
status decode_integers(std::string_view in, size_t n, std::vector<int64_t>& out);

void encode_unsigneds(const uint64_t* values, size_t n, std::string& out);
status decode_unsigneds(std::string_view in, size_t n, std::vector<uint64_t>& out);

// The machinery under the functions above, on 64-bit patterns. is_signed
// picks the wire mapping; column names the column in error messages.
void encode_integer_column(const uint64_t* values, size_t n, bool is_signed, std::string& out);
status decode_integer_column(std::string_view in, size_t n, bool is_signed, std::string_view column,
                             uint64_t* out);

}  // namespace liandu::storage::codec
