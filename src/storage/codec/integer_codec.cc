#include "storage/codec/integer_codec.h"

#include <algorithm>
#include <cassert>
#include <vector>

#include "base/coding.h"
#include "storage/codec/codec_limits.h"
#include "storage/codec/simple8b.h"

namespace liandu::storage::codec {
namespace {

uint64_t to_wire(uint64_t v, bool is_signed) {
  return is_signed ? zigzag_encode(static_cast<int64_t>(v)) : v;
}
uint64_t from_wire(uint64_t v, bool is_signed) {
  return is_signed ? static_cast<uint64_t>(zigzag_decode(v)) : v;
}
// Zig-zag of a wrapping difference, and back.
uint64_t zz(uint64_t d) { return zigzag_encode(static_cast<int64_t>(d)); }
uint64_t unzz(uint64_t z) { return static_cast<uint64_t>(zigzag_decode(z)); }

char tag(integer_scheme s) { return static_cast<char>(s); }

status corrupt(std::string_view column, std::string what) {
  std::string m(column);
  m += " column: ";
  m += what;
  return status(errc::corruption, std::move(m));
}

}  // namespace

void encode_integer_column(const uint64_t* v, size_t n, bool is_signed, std::string& out) {
  assert(n <= max_column_values);
  if (n == 0) {
    out.push_back(tag(integer_scheme::empty));
    return;
  }
  const uint64_t first_delta = n >= 2 ? v[1] - v[0] : 0;
  bool constant = true;
  bool linear = true;
  for (size_t i = 1; i < n && (constant || linear); ++i) {
    constant = constant && v[i] == v[0];
    linear = linear && v[i] - v[i - 1] == first_delta;
  }
  if (constant) {
    out.push_back(tag(integer_scheme::constant));
    put_varint(out, to_wire(v[0], is_signed));
    return;
  }
  if (linear) {
    out.push_back(tag(integer_scheme::linear));
    put_varint(out, to_wire(v[0], is_signed));
    put_varint(out, zz(first_delta));
    return;
  }

  // n >= 2 from here on: one value is always constant.
  std::vector<uint64_t> scratch(n);
  std::string best;
  best.push_back(tag(integer_scheme::plain));
  for (size_t i = 0; i < n; ++i) scratch[i] = to_wire(v[i], is_signed);
  simple8b_encode(scratch.data(), n, best);

  std::string candidate;
  candidate.push_back(tag(integer_scheme::delta));
  put_varint(candidate, to_wire(v[0], is_signed));
  for (size_t i = 1; i < n; ++i) scratch[i - 1] = zz(v[i] - v[i - 1]);
  simple8b_encode(scratch.data(), n - 1, candidate);
  if (candidate.size() < best.size()) best.swap(candidate);

  candidate.clear();
  candidate.push_back(tag(integer_scheme::delta2));
  put_varint(candidate, to_wire(v[0], is_signed));
  put_varint(candidate, zz(first_delta));
  for (size_t i = 2; i < n; ++i) scratch[i - 2] = zz((v[i] - v[i - 1]) - (v[i - 1] - v[i - 2]));
  simple8b_encode(scratch.data(), n - 2, candidate);
  if (candidate.size() < best.size()) best.swap(candidate);

  if (best.size() > 1 + 8 * n) {
    out.push_back(tag(integer_scheme::raw));
    for (size_t i = 0; i < n; ++i) put_fixed64(out, v[i]);
    return;
  }
  out.append(best);
}

status decode_integer_column(std::string_view in, size_t n, bool is_signed, std::string_view column,
                             uint64_t* out) {
  if (n > max_column_values) {
    return corrupt(column, std::to_string(n) + " values is over the limit of " +
                               std::to_string(max_column_values));
  }
  if (in.empty()) {
    if (n == 0) return status();
    return corrupt(column, "no bytes for " + std::to_string(n) + " values");
  }
  const auto scheme = static_cast<integer_scheme>(in.front());
  std::string_view p = in.substr(1);
  uint64_t first = 0;
  uint64_t delta = 0;
  switch (scheme) {
    case integer_scheme::empty:
      if (n != 0) return corrupt(column, "empty scheme for " + std::to_string(n) + " values");
      if (!p.empty()) return corrupt(column, "empty scheme with " + std::to_string(p.size()) + " bytes after it");
      return status();
    case integer_scheme::raw:
      if (p.size() != 8 * n) {
        return corrupt(column, "raw scheme has " + std::to_string(p.size()) + " bytes for " +
                                   std::to_string(n) + " values");
      }
      for (size_t i = 0; i < n; ++i) out[i] = get_fixed64(p.data() + 8 * i);
      return status();
    case integer_scheme::constant:
      if (n == 0) return corrupt(column, "constant scheme for zero values");
      if (!get_varint(p, first)) return corrupt(column, "constant scheme: bad varint at byte 1");
      if (!p.empty()) return corrupt(column, "constant scheme: trailing bytes");
      std::fill_n(out, n, from_wire(first, is_signed));
      return status();
    case integer_scheme::linear:
      if (n == 0) return corrupt(column, "linear scheme for zero values");
      if (!get_varint(p, first)) return corrupt(column, "linear scheme: bad first value at byte 1");
      if (!get_varint(p, delta)) return corrupt(column, "linear scheme: bad delta");
      if (!p.empty()) return corrupt(column, "linear scheme: trailing bytes");
      out[0] = from_wire(first, is_signed);
      for (size_t i = 1; i < n; ++i) out[i] = out[i - 1] + unzz(delta);
      return status();
    case integer_scheme::plain: {
      if (n == 0) return corrupt(column, "plain scheme for zero values");
      status s = simple8b_decode(p, n, out);
      if (!s.ok()) return corrupt(column, "plain scheme at byte 1: " + s.message());
      if (is_signed) {
        for (size_t i = 0; i < n; ++i) out[i] = from_wire(out[i], true);
      }
      return status();
    }
    case integer_scheme::delta: {
      if (n == 0) return corrupt(column, "delta scheme for zero values");
      if (!get_varint(p, first)) return corrupt(column, "delta scheme: bad first value at byte 1");
      const size_t at = in.size() - p.size();
      status s = simple8b_decode(p, n - 1, out + 1);
      if (!s.ok()) return corrupt(column, "delta scheme at byte " + std::to_string(at) + ": " + s.message());
      out[0] = from_wire(first, is_signed);
      for (size_t i = 1; i < n; ++i) out[i] = out[i - 1] + unzz(out[i]);
      return status();
    }
    case integer_scheme::delta2: {
      if (n < 2) return corrupt(column, "delta2 scheme for " + std::to_string(n) + " values");
      if (!get_varint(p, first)) return corrupt(column, "delta2 scheme: bad first value at byte 1");
      if (!get_varint(p, delta)) return corrupt(column, "delta2 scheme: bad first delta");
      const size_t at = in.size() - p.size();
      status s = simple8b_decode(p, n - 2, out + 2);
      if (!s.ok()) return corrupt(column, "delta2 scheme at byte " + std::to_string(at) + ": " + s.message());
      out[0] = from_wire(first, is_signed);
      uint64_t d = unzz(delta);
      out[1] = out[0] + d;
      for (size_t i = 2; i < n; ++i) {
        d += unzz(out[i]);
        out[i] = out[i - 1] + d;
      }
      return status();
    }
  }
  return corrupt(column, "unknown scheme " + std::to_string(static_cast<uint8_t>(in.front())) + " at byte 0");
}

void encode_integers(const int64_t* values, size_t n, std::string& out) {
  // Reading int64 through uint64 is allowed: they are corresponding signed
  // and unsigned types.
  encode_integer_column(reinterpret_cast<const uint64_t*>(values), n, true, out);
}

status decode_integers(std::string_view in, size_t n, std::vector<int64_t>& out) {
  if (n > max_column_values) return decode_integer_column(in, n, true, "integer", nullptr);
  const size_t old = out.size();
  out.resize(old + n);
  status s = decode_integer_column(in, n, true, "integer", reinterpret_cast<uint64_t*>(out.data() + old));
  if (!s.ok()) out.resize(old);
  return s;
}

void encode_unsigneds(const uint64_t* values, size_t n, std::string& out) {
  encode_integer_column(values, n, false, out);
}

status decode_unsigneds(std::string_view in, size_t n, std::vector<uint64_t>& out) {
  if (n > max_column_values) return decode_integer_column(in, n, false, "unsigned", nullptr);
  const size_t old = out.size();
  out.resize(old + n);
  status s = decode_integer_column(in, n, false, "unsigned", out.data() + old);
  if (!s.ok()) out.resize(old);
  return s;
}

}  // namespace liandu::storage::codec
