#include "storage/codec/float_codec.h"

#include <array>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstring>

#include "base/coding.h"
#include "storage/codec/bit_stream.h"
#include "storage/codec/codec_limits.h"
#include "storage/codec/integer_codec.h"

namespace liandu::storage::codec {
namespace {

// Powers of ten up to 10^15 are exact doubles, so m / 10^k is one correctly
// rounded division.
constexpr std::array<double, max_decimal_digits + 1> pow10 = [] {
  std::array<double, max_decimal_digits + 1> p{};
  double x = 1;
  for (auto& e : p) {
    e = x;
    x *= 10;
  }
  return p;
}();

// Beyond this the scaled value is not converted (the cast would overflow).
constexpr double max_scaled = 4611686018427387904.0;  // 2^62

uint64_t bits_of(double v) { return std::bit_cast<uint64_t>(v); }
double from_bits(uint64_t b) { return std::bit_cast<double>(b); }

char tag(float_scheme s) { return static_cast<char>(s); }

// Buffers kept per thread so that coding a block does not allocate (and
// page-fault) afresh each time.
struct scratch {
  std::vector<int64_t> scaled;
  std::vector<uint64_t> decoded;
  std::string best;
  std::string gorilla;

  // Gives back memory after an unusually large column.
  void trim() {
    constexpr size_t keep = size_t{1} << 16;  // values
    if (scaled.capacity() > keep || decoded.capacity() > keep || best.capacity() > 8 * keep ||
        gorilla.capacity() > 8 * keep) {
      *this = scratch();
    }
  }
};

scratch& thread_scratch() {
  thread_local scratch sc;
  return sc;
}

status corrupt(std::string what) { return status(errc::corruption, "float column: " + what); }

// Sets m to the integer with v == m / 10^k bit for bit; false when none.
// Rounding half away from zero by hand is not always the nearest integer
// (0.49999999999999994 + 0.5 rounds up), but the bitwise check catches any
// miss, and such a value is no short decimal anyway.
bool scale(double v, int k, int64_t& m) {
  const double s = v * pow10[k];
  if (!(std::fabs(s) < max_scaled)) return false;  // also NaN and infinities
  m = static_cast<int64_t>(s < 0 ? s - 0.5 : s + 0.5);
  return bits_of(static_cast<double>(m) / pow10[k]) == bits_of(v);
}

// Appends the decimal encoding when every value is a short decimal. Each
// value raises k until it fits; values before a raise are scaled again (a
// value exact at k is exact at k + 1 unless it leaves the range, so this
// ends after at most max_decimal_digits restarts).
bool encode_decimal(const double* v, size_t n, std::vector<int64_t>& scaled, std::string& out) {
  scaled.resize(n);
  int k = 0;
  for (size_t i = 0; i < n; ++i) {
    if (scale(v[i], k, scaled[i])) continue;
    do {
      if (++k > max_decimal_digits) return false;
    } while (!scale(v[i], k, scaled[i]));
    for (size_t j = 0; j < i; ++j) {
      if (!scale(v[j], k, scaled[j])) return false;
    }
  }
  out.push_back(tag(float_scheme::decimal));
  out.push_back(static_cast<char>(k));
  encode_integers(scaled.data(), n, out);
  return true;
}

// Gorilla: the first value as 64 bits, then per value the XOR with the one
// before: '0' when equal; '10' + the meaningful bits when they fall inside the
// previous window; '11' + 6 bits leading zeros + 6 bits (length - 1) + the
// meaningful bits otherwise.
void encode_gorilla(const double* v, size_t n, std::string& out) {
  out.push_back(tag(float_scheme::gorilla));
  bit_writer w(out);
  uint64_t prev = bits_of(v[0]);
  w.write(prev, 64);
  int window_lead = -1;  // no window yet
  int window_trail = 0;
  for (size_t i = 1; i < n; ++i) {
    const uint64_t cur = bits_of(v[i]);
    const uint64_t x = cur ^ prev;
    prev = cur;
    if (x == 0) {
      w.write(0, 1);
      continue;
    }
    const int lead = std::countl_zero(x);
    const int trail = std::countr_zero(x);
    const int len = 64 - lead - trail;
    if (window_lead >= 0 && lead >= window_lead && trail >= window_trail) {
      const int window_len = 64 - window_lead - window_trail;
      if (window_len <= len + 12) {  // reuse only when it beats a new header
        w.write(0b10, 2);
        w.write(x >> window_trail, window_len);
        continue;
      }
    }
    w.write(0b11, 2);
    w.write(static_cast<uint64_t>(lead), 6);
    w.write(static_cast<uint64_t>(len - 1), 6);
    w.write(x >> trail, len);
    window_lead = lead;
    window_trail = trail;
  }
  w.finish();
}

status decode_gorilla(std::string_view p, size_t n, double* out) {
  bit_reader r(p);
  if (r.bits_left() < 64 + (n - 1)) {
    return corrupt("gorilla scheme: " + std::to_string(p.size()) + " bytes cannot hold " + std::to_string(n) +
                   " values");
  }
  uint64_t prev = r.read(64);
  out[0] = from_bits(prev);
  int lead = -1;
  int len = 0;
  for (size_t i = 1; i < n; ++i) {
    if (r.read(1) == 0) {
      out[i] = from_bits(prev);
      continue;
    }
    if (r.read(1) == 1) {
      lead = static_cast<int>(r.read(6));
      len = static_cast<int>(r.read(6)) + 1;
      if (lead + len > 64) {
        return corrupt("gorilla scheme: value " + std::to_string(i) + " has a window of " +
                       std::to_string(lead) + " leading zeros and " + std::to_string(len) + " bits");
      }
    } else if (lead < 0) {
      return corrupt("gorilla scheme: value " + std::to_string(i) + " reuses a window before any was set");
    }
    prev ^= r.read(len) << (64 - lead - len);
    if (r.failed()) return corrupt("gorilla scheme: bit stream ends at value " + std::to_string(i));
    out[i] = from_bits(prev);
  }
  if (r.failed()) return corrupt("gorilla scheme: bit stream ends early");
  const size_t left = r.bits_left();
  if (left >= 8) return corrupt("gorilla scheme: " + std::to_string(left / 8) + " trailing bytes");
  if (left > 0 && r.read(static_cast<int>(left)) != 0)
    return corrupt("gorilla scheme: non-zero padding bits");
  return status();
}

}  // namespace

void encode_floats(const double* values, size_t n, std::string& out) {
  assert(n <= max_column_values);
  if (n == 0) {
    out.push_back(tag(float_scheme::empty));
    return;
  }
  scratch& sc = thread_scratch();
  std::string& best = sc.best;
  best.clear();
  // Below a byte a value Gorilla cannot win (it spends a bit even on a
  // repeat, and a decimal column of repeats is one simple8b run), so skip it.
  const bool decimal = encode_decimal(values, n, sc.scaled, best);
  if (!decimal || best.size() > n) {
    sc.gorilla.clear();
    encode_gorilla(values, n, sc.gorilla);
    if (!decimal || sc.gorilla.size() < best.size()) best.swap(sc.gorilla);
  }
  if (best.size() > 1 + 8 * n) {
    out.push_back(tag(float_scheme::raw));
    for (size_t i = 0; i < n; ++i) put_fixed64(out, bits_of(values[i]));
  } else {
    out.append(best);
  }
  sc.trim();
}

status decode_floats(std::string_view in, size_t n, std::vector<double>& out) {
  if (n > max_column_values) {
    return corrupt(std::to_string(n) + " values is over the limit of " + std::to_string(max_column_values));
  }
  if (in.empty()) {
    if (n == 0) return status();
    return corrupt("no bytes for " + std::to_string(n) + " values");
  }
  const auto scheme = static_cast<float_scheme>(in.front());
  const std::string_view p = in.substr(1);
  switch (scheme) {
    case float_scheme::empty:
      if (n != 0) return corrupt("empty scheme for " + std::to_string(n) + " values");
      if (!p.empty()) return corrupt("empty scheme with " + std::to_string(p.size()) + " bytes after it");
      return status();
    case float_scheme::raw: {
      if (p.size() != 8 * n) {
        return corrupt("raw scheme has " + std::to_string(p.size()) + " bytes for " + std::to_string(n) +
                       " values");
      }
      const size_t old = out.size();
      out.resize(old + n);
      for (size_t i = 0; i < n; ++i) out[old + i] = from_bits(get_fixed64(p.data() + 8 * i));
      return status();
    }
    case float_scheme::gorilla: {
      if (n == 0) return corrupt("gorilla scheme for zero values");
      const size_t old = out.size();
      out.resize(old + n);
      status s = decode_gorilla(p, n, out.data() + old);
      if (!s.ok()) out.resize(old);
      return s;
    }
    case float_scheme::decimal: {
      if (n == 0) return corrupt("decimal scheme for zero values");
      if (p.empty()) return corrupt("decimal scheme without its digit count at byte 1");
      const int k = static_cast<uint8_t>(p.front());
      if (k > max_decimal_digits)
        return corrupt("decimal scheme with " + std::to_string(k) + " digits at byte 1");
      scratch& sc = thread_scratch();
      sc.decoded.resize(n);
      status s = decode_integer_column(p.substr(1), n, true,
                                       "float column: decimal scheme at byte 2: integer", sc.decoded.data());
      if (s.ok()) {
        const size_t old = out.size();
        out.resize(old + n);
        const double scale = pow10[k];
        for (size_t i = 0; i < n; ++i)
          out[old + i] = static_cast<double>(static_cast<int64_t>(sc.decoded[i])) / scale;
      }
      sc.trim();
      return s;
    }
  }
  return corrupt("unknown scheme " + std::to_string(static_cast<uint8_t>(in.front())) + " at byte 0");
}

}  // namespace liandu::storage::codec
