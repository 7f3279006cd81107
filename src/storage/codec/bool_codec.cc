#include "storage/codec/bool_codec.h"

#include <algorithm>
#include <cassert>

#include "base/coding.h"
#include "storage/codec/codec_limits.h"

namespace liandu::storage::codec {
namespace {

char tag(bool_scheme s) { return static_cast<char>(s); }

status corrupt(std::string what) { return status(errc::corruption, "boolean column: " + what); }

size_t varint_size(uint64_t v) {
  size_t s = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++s;
  }
  return s;
}

}  // namespace

void encode_booleans(const uint8_t* values, size_t n, std::string& out) {
  assert(n <= max_column_values);
  if (n == 0) {
    out.push_back(tag(bool_scheme::empty));
    return;
  }
  const size_t packed_size = (n + 7) / 8;
  // Size the run-length form, giving up as soon as it is no smaller.
  size_t rle_size = 1;
  bool use_rle = true;
  for (size_t i = 0; i < n && use_rle;) {
    const bool v = values[i] != 0;
    size_t j = i + 1;
    while (j < n && (values[j] != 0) == v) ++j;
    rle_size += varint_size(j - i);
    use_rle = rle_size < packed_size;
    i = j;
  }
  if (use_rle) {
    out.push_back(tag(bool_scheme::rle));
    out.push_back(values[0] != 0 ? 1 : 0);
    for (size_t i = 0; i < n;) {
      const bool v = values[i] != 0;
      size_t j = i + 1;
      while (j < n && (values[j] != 0) == v) ++j;
      put_varint(out, j - i);
      i = j;
    }
    return;
  }
  out.push_back(tag(bool_scheme::bitpacked));
  const size_t at = out.size();
  out.resize(at + packed_size, 0);
  for (size_t i = 0; i < n; ++i) {
    if (values[i] != 0) out[at + i / 8] = static_cast<char>(out[at + i / 8] | (1 << (i % 8)));
  }
}

status decode_booleans(std::string_view in, size_t n, std::vector<uint8_t>& out) {
  if (n > max_column_values) {
    return corrupt(std::to_string(n) + " values is over the limit of " + std::to_string(max_column_values));
  }
  if (in.empty()) {
    if (n == 0) return status();
    return corrupt("no bytes for " + std::to_string(n) + " values");
  }
  const auto scheme = static_cast<bool_scheme>(in.front());
  std::string_view p = in.substr(1);
  switch (scheme) {
    case bool_scheme::empty:
      if (n != 0) return corrupt("empty scheme for " + std::to_string(n) + " values");
      if (!p.empty()) return corrupt("empty scheme with " + std::to_string(p.size()) + " bytes after it");
      return status();
    case bool_scheme::bitpacked: {
      if (p.size() != (n + 7) / 8) {
        return corrupt("bitpacked scheme has " + std::to_string(p.size()) + " bytes for " +
                       std::to_string(n) + " values");
      }
      if (n % 8 != 0 && (static_cast<uint8_t>(p.back()) >> (n % 8)) != 0) {
        return corrupt("bitpacked scheme: non-zero padding bits in the last byte");
      }
      const size_t old = out.size();
      out.resize(old + n);
      for (size_t i = 0; i < n; ++i) out[old + i] = (static_cast<uint8_t>(p[i / 8]) >> (i % 8)) & 1;
      return status();
    }
    case bool_scheme::rle: {
      if (n == 0) return corrupt("rle scheme for zero values");
      if (p.empty() || static_cast<uint8_t>(p.front()) > 1)
        return corrupt("rle scheme: bad first value at byte 1");
      uint8_t v = static_cast<uint8_t>(p.front());
      p.remove_prefix(1);
      // Check the runs before growing out, so a bad run never allocates.
      size_t total = 0;
      for (std::string_view q = p; !q.empty();) {
        uint64_t run = 0;
        const size_t at = in.size() - q.size();
        if (!get_varint(q, run) || run == 0 || run > n - total) {
          return corrupt("rle scheme: bad run length at byte " + std::to_string(at));
        }
        total += run;
      }
      if (total != n) {
        return corrupt("rle scheme: runs add up to " + std::to_string(total) + " of " + std::to_string(n) +
                       " values");
      }
      const size_t old = out.size();
      out.resize(old + n);
      size_t i = old;
      while (!p.empty()) {
        uint64_t run = 0;
        get_varint(p, run);
        std::fill_n(out.begin() + static_cast<ptrdiff_t>(i), run, v);
        i += run;
        v ^= 1;
      }
      return status();
    }
  }
  return corrupt("unknown scheme " + std::to_string(static_cast<uint8_t>(in.front())) + " at byte 0");
}

}  // namespace liandu::storage::codec
