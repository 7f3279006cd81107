#include "storage/codec/integer_codec.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include "base/coding.h"
#include "base/result.h"
#include "storage/codec/bit_packing.h"
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

// Buffers for the candidate encodings of a column, kept per thread so that
// encoding a block does not allocate (and page-fault) afresh each time.
struct scratch {
  std::vector<uint64_t> seq;
  std::vector<uint64_t> seq2;
  std::vector<uint64_t> q;
  std::string packed;
  std::string best;
  std::string candidate;

  // Gives back memory after an unusually large column.
  void trim() {
    constexpr size_t keep = size_t{1} << 16;  // values
    if (seq.capacity() > keep || seq2.capacity() > keep || q.capacity() > keep ||
        best.capacity() > 8 * keep || candidate.capacity() > 8 * keep || packed.capacity() > 8 * keep) {
      *this = scratch();
    }
  }
};

scratch& thread_scratch() {
  thread_local scratch sc;
  return sc;
}

// Greatest common divisor of s_i - base (wrapping), 1 when all are zero.
uint64_t common_divisor(const uint64_t* s, size_t m, uint64_t base) {
  uint64_t g = 0;
  for (size_t i = 0; i < m && g != 1; ++i) {
    const uint64_t o = s[i] - base;
    if (g == 0 ? o != 0 : o % g != 0) g = std::gcd(g, o);
  }
  return g == 0 ? 1 : g;
}

// |w| / g with w's sign, for a g that divides w; false when it does not.
bool divide_signed(uint64_t w, uint64_t g, uint64_t& q) {
  const bool negative = static_cast<int64_t>(w) < 0;
  const uint64_t a = negative ? ~w + 1 : w;
  const uint64_t qa = g == 1 ? a : a / g;
  if (g != 1 && qa * g != a) return false;
  q = negative ? ~qa + 1 : qa;
  return true;
}

// How a sequence will be written (see integer_codec.h), and roughly how
// many bits its packed values need.
struct sequence_plan {
  uint64_t base = 0;
  uint64_t g = 1;
  bool zigzag = false;
  size_t bits = 0;
};

// bits of a plan given up on because it is over its cutoff; also "no limit".
constexpr size_t over_cutoff = std::numeric_limits<size_t>::max();

// XOR with sign_bit maps int64 order onto uint64 order.
constexpr uint64_t sign_bit = uint64_t{1} << 63;

// The median of an evenly spaced sample of at most 255 values of s[0, m):
// element count / 2 of the sample in the ranking order. Any base decodes
// correctly, this one only has to be typical; but the bytes depend on it, so
// it is exactly the value a sort of the sample puts in the middle. The
// offsets x - min (wrapping; min is the least of s in the ranking order)
// keep that order as uint64, so one pass counts them into 256 buckets of
// their top bits, and only the bucket holding the middle is selected in
// (when a bucket is one value wide, the bucket is the answer).
uint64_t sample_median(const uint64_t* s, size_t m, uint64_t min) {
  const size_t step = m / 255 + 1;
  const size_t count = (m + step - 1) / step;  // <= 255: fits a uint8_t bucket count
  const size_t k = count / 2;
  uint64_t off[255];
  uint64_t spread = 0;  // as wide as the greatest offset
  if (step == 1) {      // a loop that vectorizes, for the usual short column
    for (size_t i = 0; i < m; ++i) {
      off[i] = s[i] - min;
      spread |= off[i];
    }
  } else {
    for (size_t j = 0; j < count; ++j) {
      off[j] = s[j * step] - min;
      spread |= off[j];
    }
  }
  const int shift = std::max(static_cast<int>(std::bit_width(spread)) - 8, 0);
  alignas(8) uint8_t buckets[256] = {};
  for (size_t j = 0; j < count; ++j) ++buckets[off[j] >> shift];
  // Skip eight buckets at a time: their counts add up to at most count, so
  // the product below sums them in its top byte without carries.
  size_t b = 0;
  size_t below = 0;
  for (;; b += 8) {
    uint64_t eight;
    std::memcpy(&eight, buckets + b, 8);
    const size_t sum = (eight * 0x0101010101010101) >> 56;
    if (below + sum > k) break;
    below += sum;
  }
  while (below + buckets[b] <= k) below += buckets[b++];
  if (shift == 0) return min + b;
  uint64_t in[255];
  size_t c = 0;
  for (size_t j = 0; j < count; ++j) {
    in[c] = off[j];
    c += (off[j] >> shift) == b;
  }
  std::nth_element(in, in + (k - below), in + c);
  return min + in[k - below];
}

// Estimated bits of a value of width w repeated run times: w bits each (at
// least one), a run no more than one simple8b word.
size_t run_cost(size_t run, int width) {
  const size_t packed = run * static_cast<size_t>(std::max(width, 1));
  return width <= 32 ? std::min<size_t>(packed, 64) : packed;
}

// Plans the sequence s[0, m), m >= 1, whose least value in the ranking
// order (as int64 or as uint64) is min. When its bits are sure to be over
// cutoff the plan is given up early and its bits are over_cutoff.
sequence_plan plan_sequence(const uint64_t* s, size_t m, uint64_t min, size_t cutoff) {
  sequence_plan plan;
  const uint64_t median = sample_median(s, m, min);
  const uint64_t g = common_divisor(s, m, min);

  // Estimate the bits both mappings need. Both sums only grow, and the plan
  // takes the smaller (the median's only when g divides through it), so once
  // both are over cutoff the plan is.
  size_t bits_from_min = 0;
  size_t bits_from_median = 0;
  bool median_divides = true;
  if (g == 1) {
    // A value unlike the next is a run of one, which costs its width or one
    // bit, bit_width(x | 1); longer runs are rarer and take run_cost. The
    // cutoff is checked every 64 values or so, the last value is added alone.
    size_t i = 0;
    while (i + 1 < m) {
      const size_t end = std::min(m - 1, i + 64);
      while (i < end) {
        const uint64_t x = s[i];
        if (s[i + 1] == x) {
          size_t j = i + 2;
          while (j < m && s[j] == x) ++j;
          bits_from_min += run_cost(j - i, std::bit_width(x - min));
          bits_from_median += run_cost(j - i, std::bit_width(zz(x - median)));
          i = j;
        } else {
          bits_from_min += static_cast<size_t>(std::bit_width((x - min) | 1));
          bits_from_median += static_cast<size_t>(std::bit_width(zz(x - median) | 1));
          ++i;
        }
      }
      if (bits_from_min > cutoff && bits_from_median > cutoff) {
        plan.bits = over_cutoff;
        return plan;
      }
    }
    if (i < m) {
      bits_from_min += static_cast<size_t>(std::bit_width((s[i] - min) | 1));
      bits_from_median += static_cast<size_t>(std::bit_width(zz(s[i] - median) | 1));
    }
  } else {
    for (size_t i = 0; i < m;) {
      size_t j = i + 1;
      while (j < m && s[j] == s[i]) ++j;
      uint64_t q = s[i] - median;
      bits_from_min += run_cost(j - i, std::bit_width((s[i] - min) / g));
      median_divides = median_divides && divide_signed(s[i] - median, g, q);
      bits_from_median += run_cost(j - i, std::bit_width(zz(q)));
      if (bits_from_min > cutoff && (bits_from_median > cutoff || !median_divides)) {
        plan.bits = over_cutoff;
        return plan;
      }
      i = j;
    }
  }
  plan.g = g;
  plan.zigzag = median_divides && bits_from_median < bits_from_min;
  plan.base = plan.zigzag ? median : min;
  plan.bits = plan.zigzag ? bits_from_median : bits_from_min;
  return plan;
}

size_t varint_size(uint64_t v) { return (static_cast<size_t>(std::bit_width(v | 1)) + 6) / 7; }

// Appends the sequence encoding of s[0, m) as planned: byte mode, varint
// zig-zag base, varint g, the packed q_i. Returns false, having appended
// nothing, when out would surely end up limit bytes long or longer: a caller
// keeping the smaller of two encodings need not finish the second.
// simple8b spends a 64-bit word on 64 or fewer of the planned bits (a packed
// word holds 60 bits of slots at least as wide as planned, a run word stands
// for a run planned at 64 bits or fewer), so it takes at least
// ceil(plan.bits / 64) words; the blocks' size is computed exactly.
bool write_sequence(const uint64_t* s, size_t m, const sequence_plan& plan, scratch& sc, std::string& out,
                    size_t limit) {
  sc.q.resize(m);
  // One loop per mapping, on locals, so that the common ones (g == 1)
  // vectorize.
  uint64_t* q = sc.q.data();
  const uint64_t base = plan.base;
  const uint64_t g = plan.g;
  if (g == 1 && plan.zigzag) {
    for (size_t i = 0; i < m; ++i) q[i] = zz(s[i] - base);
  } else if (g == 1) {
    for (size_t i = 0; i < m; ++i) q[i] = s[i] - base;
  } else if (plan.zigzag) {
    for (size_t i = 0; i < m; ++i) {
      uint64_t w = s[i] - base;
      divide_signed(w, g, w);
      q[i] = zz(w);
    }
  } else {
    for (size_t i = 0; i < m; ++i) q[i] = (s[i] - base) / g;
  }
  const size_t blocks = bitpack_size(q, m);
  const size_t header = 1 + varint_size(zz(plan.base)) + varint_size(plan.g);
  if (out.size() + header + std::min(blocks, 8 * ((plan.bits + 63) / 64)) >= limit) return false;
  sc.packed.clear();
  simple8b_encode(q, m, sc.packed);
  const bool use_blocks = blocks < sc.packed.size();
  uint8_t mode = plan.zigzag ? sequence_zigzag : 0;
  if (use_blocks) mode |= sequence_blocks;
  out.push_back(static_cast<char>(mode));
  put_varint(out, zz(plan.base));
  put_varint(out, plan.g);
  if (use_blocks) {
    bitpack_encode(q, m, out);
  } else {
    out.append(sc.packed);
  }
  return true;
}

// Decodes the sequence encoding in p (all of it) into out[0, m). at is p's
// offset in the column, for messages.
status decode_sequence(std::string_view p, size_t m, std::string_view column, size_t at, uint64_t* out) {
  const size_t size = p.size();
  auto where = [&] { return "sequence at byte " + std::to_string(at) + ": "; };
  if (p.empty()) return corrupt(column, where() + "missing");
  const auto mode = static_cast<uint8_t>(p.front());
  p.remove_prefix(1);
  if ((mode & ~(sequence_zigzag | sequence_blocks)) != 0) {
    return corrupt(column, where() + "unknown mode " + std::to_string(mode));
  }
  uint64_t base = 0;
  uint64_t g = 0;
  if (!get_varint(p, base)) return corrupt(column, where() + "bad base");
  if (!get_varint(p, g) || g == 0) return corrupt(column, where() + "bad divisor");
  base = unzz(base);
  const size_t packed_at = at + size - p.size();
  status s = (mode & sequence_blocks) != 0 ? bitpack_decode(p, m, out) : simple8b_decode(p, m, out);
  if (!s.ok())
    return corrupt(column, "packed values at byte " + std::to_string(packed_at) + ": " + s.message());
  if ((mode & sequence_zigzag) != 0) {
    for (size_t i = 0; i < m; ++i) out[i] = base + g * unzz(out[i]);
  } else {
    for (size_t i = 0; i < m; ++i) out[i] = base + g * out[i];
  }
  return status();
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

  // n >= 3 from here on: one or two values are always constant or linear.
  // Plan the three transforms, write the one whose values need the fewest
  // bits, and the runner-up too when it is close, keeping the smaller. One
  // pass makes both difference sequences and the minimum of all three in
  // the order each is ranked in (XOR with sign_bit maps int64 order onto
  // uint64 order).
  scratch& sc = thread_scratch();
  sc.seq.resize(n - 1);
  sc.seq2.resize(n - 2);
  const uint64_t plain_flip = is_signed ? sign_bit : 0;
  uint64_t d = v[1] - v[0];
  sc.seq[0] = d;
  uint64_t plain_min = std::min(v[0] ^ plain_flip, v[1] ^ plain_flip);
  uint64_t delta_min = d ^ sign_bit;
  uint64_t delta2_min = (v[2] - v[1] - d) ^ sign_bit;
  for (size_t i = 2; i < n; ++i) {
    const uint64_t e = v[i] - v[i - 1];
    const uint64_t e2 = e - d;
    sc.seq[i - 1] = e;
    sc.seq2[i - 2] = e2;
    plain_min = std::min(plain_min, v[i] ^ plain_flip);
    delta_min = std::min(delta_min, e ^ sign_bit);
    delta2_min = std::min(delta2_min, e2 ^ sign_bit);
    d = e;
  }
  plain_min ^= plain_flip;
  delta_min ^= sign_bit;
  delta2_min ^= sign_bit;

  struct candidate {
    integer_scheme scheme;
    const uint64_t* s;
    size_t m;
    sequence_plan plan;
  };
  // Only the smallest plan's bits c0 and whether the runner-up's are within
  // c0 + c0/16 + 64 decide what is written. So each plan after the first is
  // given up (over_cutoff) once it is sure to need more than that bound for
  // the smallest plan so far, which is at least the bound for the smallest
  // of all: such a plan is neither the smallest nor a runner-up that gets
  // written, and ranking it last changes neither. Delta goes first because
  // it is usually the smallest (sensor walks, counters), which makes the
  // cutoff tight early.
  auto bound = [](size_t bits) { return bits + bits / 16 + 64; };
  const sequence_plan delta_plan = plan_sequence(sc.seq.data(), n - 1, delta_min, over_cutoff);
  size_t cutoff = bound(delta_plan.bits);
  const sequence_plan plain_plan = plan_sequence(v, n, plain_min, cutoff);
  if (plain_plan.bits != over_cutoff) cutoff = std::min(cutoff, bound(plain_plan.bits));
  const sequence_plan delta2_plan = plan_sequence(sc.seq2.data(), n - 2, delta2_min, cutoff);
  const candidate c[3] = {
      {integer_scheme::plain, v, n, plain_plan},
      {integer_scheme::delta, sc.seq.data(), n - 1, delta_plan},
      {integer_scheme::delta2, sc.seq2.data(), n - 2, delta2_plan},
  };
  // The smallest and the runner-up, ties going to the earlier of plain,
  // delta, delta2: the order a std::sort of these three by bits gave (for
  // so few elements it is an insertion sort, which keeps ties in order), and
  // the bytes depend on it.
  size_t first = 0;
  for (size_t k = 1; k < 3; ++k) {
    if (c[k].plan.bits < c[first].plan.bits) first = k;
  }
  const size_t a = first == 0 ? 1 : 0;
  const size_t b = first == 2 ? 1 : 2;
  const size_t second = c[b].plan.bits < c[a].plan.bits ? b : a;
  // write() gives up (false) on an encoding surely limit bytes or longer.
  auto write = [&](const candidate& k, std::string& to, size_t limit) {
    to.clear();
    to.push_back(tag(k.scheme));
    if (k.scheme != integer_scheme::plain) put_varint(to, to_wire(v[0], is_signed));
    if (k.scheme == integer_scheme::delta2) put_varint(to, zz(first_delta));
    return write_sequence(k.s, k.m, k.plan, sc, to, limit);
  };
  std::string& best = sc.best;
  write(c[first], best, over_cutoff);
  if (c[second].plan.bits <= bound(c[first].plan.bits)) {
    // The runner-up replaces the best only when strictly smaller.
    if (write(c[second], sc.candidate, best.size()) && sc.candidate.size() < best.size()) {
      best.swap(sc.candidate);
    }
  }
  if (best.size() > 1 + 8 * n) {
    out.push_back(tag(integer_scheme::raw));
    for (size_t i = 0; i < n; ++i) put_fixed64(out, v[i]);
  } else {
    out.append(best);
  }
  sc.trim();
}

status decode_integer_column(std::string_view in, size_t n, bool is_signed, std::string_view column,
                             uint64_t* out) {
  if (n > max_column_values) {
    return corrupt(column,
                   std::to_string(n) + " values is over the limit of " + std::to_string(max_column_values));
  }
  if (in.empty()) {
    if (n == 0) return status();
    return corrupt(column, "no bytes for " + std::to_string(n) + " values");
  }
  const auto scheme = static_cast<integer_scheme>(in.front());
  std::string_view p = in.substr(1);
  auto offset = [&] { return in.size() - p.size(); };
  uint64_t first = 0;
  uint64_t delta = 0;
  switch (scheme) {
    case integer_scheme::empty:
      if (n != 0) return corrupt(column, "empty scheme for " + std::to_string(n) + " values");
      if (!p.empty())
        return corrupt(column, "empty scheme with " + std::to_string(p.size()) + " bytes after it");
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
      return decode_sequence(p, n, column, offset(), out);
    }
    case integer_scheme::delta: {
      if (n == 0) return corrupt(column, "delta scheme for zero values");
      if (!get_varint(p, first)) return corrupt(column, "delta scheme: bad first value at byte 1");
      LIANDU_RETURN_IF_ERROR(decode_sequence(p, n - 1, column, offset(), out + 1));
      out[0] = from_wire(first, is_signed);
      for (size_t i = 1; i < n; ++i) out[i] += out[i - 1];
      return status();
    }
    case integer_scheme::delta2: {
      if (n < 2) return corrupt(column, "delta2 scheme for " + std::to_string(n) + " values");
      if (!get_varint(p, first)) return corrupt(column, "delta2 scheme: bad first value at byte 1");
      if (!get_varint(p, delta)) return corrupt(column, "delta2 scheme: bad first delta");
      LIANDU_RETURN_IF_ERROR(decode_sequence(p, n - 2, column, offset(), out + 2));
      out[0] = from_wire(first, is_signed);
      uint64_t d = unzz(delta);
      out[1] = out[0] + d;
      for (size_t i = 2; i < n; ++i) {
        d += out[i];
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
