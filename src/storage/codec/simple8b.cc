#include "storage/codec/simple8b.h"

#include <algorithm>
#include <array>
#include <bit>

#include "base/coding.h"

namespace liandu::storage::codec {
namespace {

struct selector_shape {
  uint8_t count;
  uint8_t bits;
};

// Indexed by selector; 0 (run) and 15 (escape) are not packed selectors.
constexpr std::array<selector_shape, 16> shapes = {{
    {0, 0},
    {60, 1},
    {30, 2},
    {20, 3},
    {15, 4},
    {12, 5},
    {10, 6},
    {8, 7},
    {7, 8},
    {6, 10},
    {5, 12},
    {4, 15},
    {3, 20},
    {2, 30},
    {1, 60},
    {0, 0},
}};

// most_values[w]: the most values of bit width w one packed word can hold.
constexpr std::array<uint8_t, 65> most_values = [] {
  std::array<uint8_t, 65> m{};
  for (int w = 0; w <= 64; ++w) {
    for (int s = 1; s <= 14; ++s) {
      if (shapes[s].bits >= w) m[w] = std::max(m[w], shapes[s].count);
    }
  }
  return m;
}();

constexpr uint64_t escape_word = uint64_t{simple8b_escape_selector} << 60;

// Picks the densest packed selector for the values at v[0, left); returns the
// selector and sets taken to how many values the word holds.
int pick_selector(const uint64_t* v, size_t left, size_t& taken) {
  uint8_t width[60];
  const size_t avail = std::min<size_t>(left, 60);
  size_t k = 0;
  int max_width = 0;
  for (; k < avail; ++k) {
    max_width = std::max(max_width, static_cast<int>(std::bit_width(v[k])));
    if (k + 1 > most_values[max_width]) break;
    width[k] = static_cast<uint8_t>(max_width);
  }
  // width[0, k) holds prefix maxima of values that still fit some selector;
  // when k == left every remaining value fits and the last word may be padded.
  for (int s = 1; s <= 14; ++s) {
    const size_t count = shapes[s].count;
    if (count <= k) {
      if (width[count - 1] <= shapes[s].bits) {
        taken = count;
        return s;
      }
    } else if (k == left && width[k - 1] <= shapes[s].bits) {
      taken = k;
      return s;
    }
  }
  taken = 1;  // unreachable for values below 2^60: selector 14 always fits
  return 14;
}

template <int Bits, int Count>
void unpack(uint64_t word, uint64_t* out, size_t m) {
  constexpr uint64_t mask = (uint64_t{1} << Bits) - 1;
  if (m == Count) {
    for (int j = 0; j < Count; ++j) out[j] = (word >> (Bits * j)) & mask;
  } else {
    for (size_t j = 0; j < m; ++j) out[j] = (word >> (Bits * j)) & mask;
  }
}

status corrupt(size_t word, std::string what) {
  return status(errc::corruption, "simple8b word " + std::to_string(word) + " (byte offset " +
                                      std::to_string(word * 8) + "): " + what);
}

}  // namespace

void simple8b_encode(const uint64_t* values, size_t n, std::string& out) {
  size_t i = 0;
  while (i < n) {
    const uint64_t x = values[i];
    if (x >> 60) {
      put_fixed64(out, escape_word);
      put_fixed64(out, x);
      ++i;
      continue;
    }
    size_t taken = 0;
    const int s = pick_selector(values + i, n - i, taken);
    if (x <= 0xffffffffu && i + 1 < n && values[i + 1] == x) {
      size_t run = 2;
      while (i + run < n && run < simple8b_max_run && values[i + run] == x) ++run;
      if (run > taken) {
        put_fixed64(out, (uint64_t{run} << 32) | x);
        i += run;
        continue;
      }
    }
    const int bits = shapes[s].bits;
    uint64_t word = static_cast<uint64_t>(s) << 60;
    for (size_t j = 0; j < taken; ++j) word |= values[i + j] << (bits * j);
    put_fixed64(out, word);
    i += taken;
  }
}

status simple8b_decode(std::string_view in, size_t n, uint64_t* out) {
  if (in.size() % 8 != 0) {
    return status(errc::corruption,
                  "simple8b: " + std::to_string(in.size()) + " bytes is not a whole number of words");
  }
  const size_t words = in.size() / 8;
  size_t w = 0;
  size_t i = 0;
  while (i < n) {
    if (w == words) {
      return corrupt(w, "missing; decoded " + std::to_string(i) + " of " + std::to_string(n) + " values");
    }
    const uint64_t word = get_fixed64(in.data() + w * 8);
    const int s = static_cast<int>(word >> 60);
    const size_t left = n - i;
    switch (s) {
      case simple8b_run_selector: {
        const uint64_t count = (word >> 32) & simple8b_max_run;
        if (count == 0 || count > left) {
          return corrupt(
              w, "run of " + std::to_string(count) + " with " + std::to_string(left) + " values left");
        }
        std::fill_n(out + i, count, word & 0xffffffffu);
        i += count;
        ++w;
        continue;
      }
      case simple8b_escape_selector:
        if ((word << 4) != 0) return corrupt(w, "escape word with a non-zero payload");
        if (w + 1 == words) return corrupt(w, "escape word without its value");
        out[i++] = get_fixed64(in.data() + (w + 1) * 8);
        w += 2;
        continue;
      default: break;
    }
    const size_t m = std::min<size_t>(left, shapes[s].count);
    uint64_t* o = out + i;
    switch (s) {
      case 1: unpack<1, 60>(word, o, m); break;
      case 2: unpack<2, 30>(word, o, m); break;
      case 3: unpack<3, 20>(word, o, m); break;
      case 4: unpack<4, 15>(word, o, m); break;
      case 5: unpack<5, 12>(word, o, m); break;
      case 6: unpack<6, 10>(word, o, m); break;
      case 7: unpack<7, 8>(word, o, m); break;
      case 8: unpack<8, 7>(word, o, m); break;
      case 9: unpack<10, 6>(word, o, m); break;
      case 10: unpack<12, 5>(word, o, m); break;
      case 11: unpack<15, 4>(word, o, m); break;
      case 12: unpack<20, 3>(word, o, m); break;
      case 13: unpack<30, 2>(word, o, m); break;
      case 14: unpack<60, 1>(word, o, m); break;
    }
    i += m;
    ++w;
  }
  if (w != words) {
    return corrupt(w, std::to_string(words - w) + " trailing words after " + std::to_string(n) + " values");
  }
  return status();
}

}  // namespace liandu::storage::codec
