// The integer encoder must write the same bytes as the straightforward
// planner it replaced (the files on disk, and format_test.cc, depend on it).
// reference_encode_integer_column below is that planner as it was, kept
// plain on purpose: every column here is encoded by both and compared byte
// for byte, then decoded.

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "base/coding.h"
#include "storage/codec/bit_packing.h"
#include "storage/codec/integer_codec.h"
#include "storage/codec/simple8b.h"

namespace liandu::storage::codec {
namespace {

uint64_t ref_zz(uint64_t d) { return zigzag_encode(static_cast<int64_t>(d)); }
uint64_t ref_to_wire(uint64_t v, bool is_signed) { return is_signed ? ref_zz(v) : v; }

uint64_t ref_common_divisor(const uint64_t* s, size_t m, uint64_t base) {
  uint64_t g = 0;
  for (size_t i = 0; i < m && g != 1; ++i) {
    const uint64_t o = s[i] - base;
    if (g == 0 ? o != 0 : o % g != 0) g = std::gcd(g, o);
  }
  return g == 0 ? 1 : g;
}

bool ref_divide_signed(uint64_t w, uint64_t g, uint64_t& q) {
  const bool negative = static_cast<int64_t>(w) < 0;
  const uint64_t a = negative ? ~w + 1 : w;
  const uint64_t qa = g == 1 ? a : a / g;
  if (g != 1 && qa * g != a) return false;
  q = negative ? ~qa + 1 : qa;
  return true;
}

struct ref_plan {
  uint64_t base = 0;
  uint64_t g = 1;
  bool zigzag = false;
  size_t bits = 0;
};

ref_plan ref_plan_sequence(const uint64_t* s, size_t m, bool ordered_signed) {
  ref_plan plan;
  if (m == 0) return plan;
  const size_t step = m / 255 + 1;
  std::vector<uint64_t> sorted;
  for (size_t i = 0; i < m; i += step) sorted.push_back(s[i]);
  auto mid = sorted.begin() + static_cast<ptrdiff_t>(sorted.size() / 2);
  uint64_t min = 0;
  if (ordered_signed) {
    auto less = [](uint64_t a, uint64_t b) { return static_cast<int64_t>(a) < static_cast<int64_t>(b); };
    std::nth_element(sorted.begin(), mid, sorted.end(), less);
    int64_t lo = static_cast<int64_t>(s[0]);
    for (size_t i = 1; i < m; ++i) lo = std::min(lo, static_cast<int64_t>(s[i]));
    min = static_cast<uint64_t>(lo);
  } else {
    std::nth_element(sorted.begin(), mid, sorted.end());
    min = *std::min_element(s, s + m);
  }
  const uint64_t median = *mid;
  const uint64_t g = ref_common_divisor(s, m, min);
  auto cost = [](size_t run, int width) -> size_t {
    const size_t packed = run * static_cast<size_t>(std::max(width, 1));
    return width <= 32 ? std::min<size_t>(packed, 64) : packed;
  };
  size_t bits_from_min = 0;
  size_t bits_from_median = 0;
  bool median_divides = true;
  for (size_t i = 0; i < m;) {
    size_t j = i + 1;
    while (j < m && s[j] == s[i]) ++j;
    uint64_t q = s[i] - median;
    if (g == 1) {
      bits_from_min += cost(j - i, std::bit_width(s[i] - min));
    } else {
      bits_from_min += cost(j - i, std::bit_width((s[i] - min) / g));
      median_divides = median_divides && ref_divide_signed(s[i] - median, g, q);
    }
    bits_from_median += cost(j - i, std::bit_width(ref_zz(q)));
    i = j;
  }
  plan.g = g;
  plan.zigzag = median_divides && bits_from_median < bits_from_min;
  plan.base = plan.zigzag ? median : min;
  plan.bits = plan.zigzag ? bits_from_median : bits_from_min;
  return plan;
}

void ref_write_sequence(const uint64_t* s, size_t m, const ref_plan& plan, std::string& out) {
  std::vector<uint64_t> q(m);
  for (size_t i = 0; i < m; ++i) {
    const uint64_t w = s[i] - plan.base;
    if (plan.zigzag) {
      uint64_t z = w;
      if (plan.g != 1) ref_divide_signed(w, plan.g, z);
      q[i] = ref_zz(z);
    } else {
      q[i] = plan.g == 1 ? w : w / plan.g;
    }
  }
  std::string packed;
  simple8b_encode(q.data(), m, packed);
  const bool use_blocks = bitpack_size(q.data(), m) < packed.size();
  uint8_t mode = plan.zigzag ? sequence_zigzag : 0;
  if (use_blocks) mode |= sequence_blocks;
  out.push_back(static_cast<char>(mode));
  put_varint(out, ref_zz(plan.base));
  put_varint(out, plan.g);
  if (use_blocks) {
    bitpack_encode(q.data(), m, out);
  } else {
    out.append(packed);
  }
}

void reference_encode_integer_column(const uint64_t* v, size_t n, bool is_signed, std::string& out) {
  auto tag = [](integer_scheme s) { return static_cast<char>(s); };
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
    put_varint(out, ref_to_wire(v[0], is_signed));
    return;
  }
  if (linear) {
    out.push_back(tag(integer_scheme::linear));
    put_varint(out, ref_to_wire(v[0], is_signed));
    put_varint(out, ref_zz(first_delta));
    return;
  }
  std::vector<uint64_t> seq(n - 1);
  std::vector<uint64_t> seq2(n - 2);
  for (size_t i = 1; i < n; ++i) seq[i - 1] = v[i] - v[i - 1];
  for (size_t i = 2; i < n; ++i) seq2[i - 2] = seq[i - 1] - seq[i - 2];
  struct candidate {
    integer_scheme scheme;
    const uint64_t* s;
    size_t m;
    ref_plan plan;
  };
  candidate c[3] = {
      {integer_scheme::plain, v, n, ref_plan_sequence(v, n, is_signed)},
      {integer_scheme::delta, seq.data(), n - 1, ref_plan_sequence(seq.data(), n - 1, true)},
      {integer_scheme::delta2, seq2.data(), n - 2, ref_plan_sequence(seq2.data(), n - 2, true)},
  };
  std::sort(std::begin(c), std::end(c),
            [](const candidate& a, const candidate& b) { return a.plan.bits < b.plan.bits; });
  auto write = [&](const candidate& k, std::string& to) {
    to.clear();
    to.push_back(tag(k.scheme));
    if (k.scheme != integer_scheme::plain) put_varint(to, ref_to_wire(v[0], is_signed));
    if (k.scheme == integer_scheme::delta2) put_varint(to, ref_zz(first_delta));
    ref_write_sequence(k.s, k.m, k.plan, to);
  };
  std::string best;
  std::string runner_up;
  write(c[0], best);
  if (c[1].plan.bits <= c[0].plan.bits + c[0].plan.bits / 16 + 64) {
    write(c[1], runner_up);
    if (runner_up.size() < best.size()) best.swap(runner_up);
  }
  if (best.size() > 1 + 8 * n) {
    out.push_back(tag(integer_scheme::raw));
    for (size_t i = 0; i < n; ++i) put_fixed64(out, v[i]);
  } else {
    out.append(best);
  }
}

// Encodes v both ways (after some bytes already in the output, which both
// must leave alone), compares, and decodes. Returns false on the first
// difference so that a failing loop stops early.
bool same_bytes(const std::vector<uint64_t>& v, bool is_signed, const std::string& what) {
  std::string want = "x";
  std::string got = "x";
  reference_encode_integer_column(v.data(), v.size(), is_signed, want);
  encode_integer_column(v.data(), v.size(), is_signed, got);
  EXPECT_EQ(got, want) << what << ", n " << v.size() << (is_signed ? " signed" : " unsigned");
  std::vector<uint64_t> back(v.size());
  status s = decode_integer_column(std::string_view(got).substr(1), v.size(), is_signed, "test", back.data());
  EXPECT_TRUE(s.ok()) << s.to_string() << " " << what;
  EXPECT_EQ(back, v) << what << ", n " << v.size();
  return got == want && s.ok() && back == v;
}

constexpr uint64_t u64_max = std::numeric_limits<uint64_t>::max();
constexpr uint64_t i64_min = uint64_t{1} << 63;
constexpr uint64_t i64_max = i64_min - 1;

// Columns of length n shaped like sensor data and like the corner cases of
// the planner: runs, outliers, divisors, the ends of both ranges.
std::vector<uint64_t> column(int shape, size_t n, std::mt19937_64& rng) {
  std::vector<uint64_t> v(n);
  auto below = [&](uint64_t k) { return k == 0 ? 0 : rng() % k; };
  const uint64_t start = rng() >> below(64);
  const uint64_t g = std::vector<uint64_t>{2, 3, 10, 100, 1'000'000, uint64_t{1} << 40, 7919}[below(7)];
  const uint64_t step = 1 + below(40);
  int64_t x = static_cast<int64_t>(below(100000)) - 50000;
  int64_t d = 0;
  for (size_t i = 0; i < n; ++i) {
    switch (shape) {
      case 0:  // sensor decimals: a random walk with small steps
        v[i] = static_cast<uint64_t>(x);
        x += static_cast<int64_t>(below(2 * step + 1)) - static_cast<int64_t>(step);
        break;
      case 1:  // a walk that often stands still (runs of equal values and of zero deltas)
        v[i] = static_cast<uint64_t>(x);
        if (below(4) == 0) x += static_cast<int64_t>(below(7)) - 3;
        break;
      case 2:  // a counter with a reset
        v[i] = static_cast<uint64_t>(x);
        x = (below(n + 1) == 0) ? 0 : x + static_cast<int64_t>(below(4));
        break;
      case 3:  // full range
        v[i] = rng();
        break;
      case 4:  // mixed widths
        v[i] = rng() >> below(64);
        break;
      case 5:  // mostly one value, outliers
        v[i] = below(10) == 0 ? rng() : 17;
        break;
      case 6:  // a common divisor around a start
        v[i] = start + g * (below(50));
        break;
      case 7:  // signed walk scaled by a divisor, crossing zero
        v[i] = static_cast<uint64_t>(x) * g;
        x += static_cast<int64_t>(below(5)) - 2;
        break;
      case 8:  // the ends of the ranges
        v[i] = std::vector<uint64_t>{0, 1, u64_max, u64_max - 1, i64_min, i64_max, i64_min + 1}[below(7)];
        break;
      case 9:  // runs of random length and value
        if (i == 0 || below(8) == 0) x = static_cast<int64_t>(below(3) == 0 ? rng() : below(100));
        v[i] = static_cast<uint64_t>(x);
        break;
      case 10:  // timestamps with jitter, millisecond precision in nanoseconds
        v[i] = 1'700'000'000'000'000'000 + i * 10'000'000'000 + (below(7) - 3) * 1'000'000;
        break;
      case 11:  // a smooth curve: delta2 small
        d += static_cast<int64_t>(below(3)) - 1;
        x += d;
        v[i] = static_cast<uint64_t>(x);
        break;
      case 12:  // nearly linear with one change (linear except one value)
        v[i] = start + i * step + (i == n / 2 ? 1 : 0);
        break;
      case 13:  // two values alternating, or a value around an extreme
        v[i] = (i % 2 == 0 ? i64_max : i64_min) - below(3);
        break;
      case 14:  // values of two widths, packed with waste, so that the runner-up may win
        v[i] = rng() >> (64 - (below(3) == 0 ? step % 9 + 1 : step % 5 + 1));
        break;
      default:  // wide walk: steps of up to 2^40, wrapping through the ends
        v[i] = static_cast<uint64_t>(x);
        x = static_cast<int64_t>(static_cast<uint64_t>(x) + (rng() >> 24) - (uint64_t{1} << 39));
        break;
    }
  }
  return v;
}
constexpr int shapes = 16;

TEST(integer_codec_reference, random_and_adversarial_columns_encode_to_the_same_bytes) {
  std::mt19937_64 rng(11);
  // Every length up to 600 for each shape (the sample stride changes at 255
  // and 510), then random lengths up to 2000.
  for (size_t n = 0; n <= 600; ++n) {
    for (int shape = 0; shape < shapes; ++shape) {
      const std::vector<uint64_t> v = column(shape, n, rng);
      const std::string what = "shape " + std::to_string(shape);
      ASSERT_TRUE(same_bytes(v, true, what));
      ASSERT_TRUE(same_bytes(v, false, what));
    }
  }
  for (int iter = 0; iter < 3000; ++iter) {
    const size_t n = rng() % 2001;
    const int shape = static_cast<int>(rng() % shapes);
    const std::vector<uint64_t> v = column(shape, n, rng);
    ASSERT_TRUE(same_bytes(v, rng() % 2 == 0, "shape " + std::to_string(shape)));
  }
}

TEST(integer_codec_reference, fixed_corner_columns_encode_to_the_same_bytes) {
  const std::vector<std::vector<uint64_t>> cases = {
      {0, 0, 1},
      {i64_min, i64_max, i64_min},
      {i64_max, i64_min, i64_max, i64_min, 0, u64_max, 1},
      {0, u64_max, 0, u64_max, 1, u64_max - 1},
      {u64_max, 0, 5, 6, 7, u64_max},
      {5, 5, 5, 6},
      {0, i64_min, 0, i64_min, 0, i64_min + 2},  // g = 2^63: median divisibility depends on the sign
      {0, uint64_t{1} << 62, i64_min, 3 * (uint64_t{1} << 62), 0, 7},
  };
  for (const auto& v : cases) {
    ASSERT_TRUE(same_bytes(v, true, "corner"));
    ASSERT_TRUE(same_bytes(v, false, "corner"));
  }
}

}  // namespace
}  // namespace liandu::storage::codec
