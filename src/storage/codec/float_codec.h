#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace liandu::storage::codec {

// Float columns (float64 fields). Lossless: every value, NaN payloads, -0.0,
// infinities and denormals included, decodes to the same 64 bits.
//
// Sensor values mostly arrive as short decimals in text ("23.45"), so the
// encoder first looks for the smallest k (0..max_decimal_digits) such that
// every value v is exactly the double nearest to m / 10^k for an integer m,
// checked bit for bit by computing double(m) / 10^k, which is also how the
// decoder computes it. Such a column (`decimal`) stores k and the integers
// m with the integer column codec, like VictoriaMetrics: a random walk of
// 2-decimal readings costs well under a byte a value, a 0/1/2 state column a
// few bytes in all. Other columns use Gorilla XOR encoding (Pelkonen et al.,
// 2015), or raw 8-byte values when that is smaller.
//
// Example: {23.45, 23.5, 23.41} is decimal with k = 2 and m = {2345, 2350,
// 2341}; {0.1 + 0.2} (0.30000000000000004) is not decimal for any k <= 15
// and goes to Gorilla; so does -0.0, since m = 0 gives +0.0.
enum class float_scheme : uint8_t {
  empty = 0,    // n == 0; no payload
  raw = 1,      // n fixed64 IEEE-754 bit patterns
  gorilla = 2,  // bit stream; see docs/formats/codecs.md
  decimal = 3,  // byte k, then an integer column encoding of the n scaled values
};

inline constexpr int max_decimal_digits = 15;

// Appends the encoding of values[0, n) to out. n <= max_column_values.
void encode_floats(const double* values, size_t n, std::string& out);
// Appends n values decoded from in; on error returns corruption and leaves
// out unchanged.
status decode_floats(std::string_view in, size_t n, std::vector<double>& out);

}  // namespace liandu::storage::codec
