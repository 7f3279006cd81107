// Decoders read bytes from disk that may be truncated or damaged: every
// truncation of a valid encoding must be rejected, and no change of a byte,
// and no wrong value count, may crash, read out of bounds (ASan) or yield a
// count other than the one asked for.

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "storage/codec/bool_codec.h"
#include "storage/codec/codec_limits.h"
#include "storage/codec/float_codec.h"
#include "storage/codec/integer_codec.h"
#include "storage/codec/string_codec.h"
#include "storage/codec/testing/sample_columns.h"
#include "storage/codec/timestamp_codec.h"

namespace liandu::storage::codec {
namespace {

// Decodes in as n values of one column type; sets got to the values added.
using decoder = std::function<status(std::string_view in, size_t n, size_t& got)>;

template <typename T, typename Fn>
decoder make_decoder(Fn fn) {
  return [fn](std::string_view in, size_t n, size_t& got) {
    std::vector<T> out(3);
    status s = fn(in, n, out);
    got = out.size() - 3;
    return s;
  };
}

struct sample {
  std::string name;
  std::string encoded;
  size_t n;
  decoder decode;
};

std::vector<sample> samples() {
  std::vector<sample> all;
  const auto ints = make_decoder<int64_t>(decode_integers);
  const auto uints = make_decoder<uint64_t>(decode_unsigneds);
  const auto stamps = make_decoder<int64_t>(decode_timestamps);
  const auto floats = make_decoder<double>(decode_floats);
  const auto bools = make_decoder<uint8_t>(decode_booleans);
  const auto strings = make_decoder<std::string>(decode_strings);

  auto add_ints = [&](std::string name, const std::vector<int64_t>& v) {
    sample s{name, "", v.size(), ints};
    encode_integers(v.data(), v.size(), s.encoded);
    all.push_back(s);
    s = sample{name + "/timestamps", "", v.size(), stamps};
    encode_timestamps(v.data(), v.size(), s.encoded);
    all.push_back(s);
    std::vector<uint64_t> u(v.begin(), v.end());
    s = sample{name + "/unsigned", "", v.size(), uints};
    encode_unsigneds(u.data(), u.size(), s.encoded);
    all.push_back(s);
  };
  auto add_floats = [&](std::string name, const std::vector<double>& v) {
    sample s{name, "", v.size(), floats};
    encode_floats(v.data(), v.size(), s.encoded);
    all.push_back(s);
  };
  auto add_bools = [&](std::string name, const std::vector<uint8_t>& v) {
    sample s{name, "", v.size(), bools};
    encode_booleans(v.data(), v.size(), s.encoded);
    all.push_back(s);
  };
  auto add_strings = [&](std::string name, const std::vector<std::string>& v) {
    sample s{name, "", v.size(), strings};
    encode_strings(v.data(), v.size(), s.encoded);
    all.push_back(s);
  };

  std::mt19937_64 rng(31);
  add_ints("one", {42});
  add_ints("constant", std::vector<int64_t>(50, -3));
  add_ints("linear", testing::regular_timestamps_for_test(100));
  add_ints("jittered", testing::jittered_timestamps_for_test(100, 1000));
  add_ints("extremes", {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), 0, 5, -5});
  std::vector<int64_t> random(60);
  for (auto& x : random) x = static_cast<int64_t>(rng());
  add_ints("random", random);
  add_ints("states", testing::states_for_test(300, 40));

  add_floats("decimal", testing::random_walk_for_test(100, 2, 10));
  add_floats("gorilla", testing::noisy_for_test(60));
  std::vector<double> raw(20);
  for (auto& x : raw) x = std::bit_cast<double>(rng());
  add_floats("raw", raw);
  add_floats("specials", {std::nan(""), -0.0, std::numeric_limits<double>::infinity(), 1e-310, 2.5});
  add_floats("one", {1.25});

  std::vector<uint8_t> packed(77);
  for (auto& x : packed) x = rng() % 2;
  add_bools("bitpacked", packed);
  std::vector<uint8_t> runs(500, 0);
  std::fill(runs.begin() + 100, runs.begin() + 380, 1);
  add_bools("rle", runs);

  add_strings("dict", testing::state_names_for_test(200, 10));
  add_strings("plain", {"a", "", "bcd", std::string("\0\1", 2)});
  add_strings("zstd", testing::lot_numbers_for_test(200));
  std::vector<std::string> zstd_dict;
  for (int i = 0; i < 300; ++i) zstd_dict.push_back("value-" + std::to_string(rng() % 100));
  add_strings("zstd-dict", zstd_dict);
  return all;
}

TEST(corruption, samples_decode) {
  for (const auto& s : samples()) {
    size_t got = 0;
    status st = s.decode(s.encoded, s.n, got);
    EXPECT_TRUE(st.ok()) << s.name << ": " << st.to_string();
    EXPECT_EQ(got, s.n) << s.name;
  }
}

TEST(corruption, every_truncation_is_rejected) {
  for (const auto& s : samples()) {
    for (size_t len = 0; len < s.encoded.size(); ++len) {
      size_t got = 0;
      status st = s.decode(std::string_view(s.encoded).substr(0, len), s.n, got);
      EXPECT_EQ(st.code(), errc::corruption) << s.name << " cut to " << len << " bytes";
      EXPECT_EQ(got, 0u) << s.name;
    }
  }
}

TEST(corruption, trailing_bytes_are_rejected) {
  for (const auto& s : samples()) {
    size_t got = 0;
    status st = s.decode(s.encoded + std::string(1, '\0'), s.n, got);
    EXPECT_EQ(st.code(), errc::corruption) << s.name;
  }
}

TEST(corruption, byte_changes_never_crash) {
  for (const auto& s : samples()) {
    for (size_t i = 0; i < s.encoded.size(); ++i) {
      for (int mask : {0x01, 0x10, 0x80, 0xff}) {
        std::string bad = s.encoded;
        bad[i] = static_cast<char>(bad[i] ^ mask);
        size_t got = 0;
        status st = s.decode(bad, s.n, got);
        EXPECT_EQ(got, st.ok() ? s.n : 0) << s.name << " byte " << i;
        if (!st.ok()) {
          EXPECT_EQ(st.code(), errc::corruption);
          EXPECT_FALSE(st.message().empty());
        }
      }
    }
  }
}

TEST(corruption, wrong_value_counts_never_crash) {
  for (const auto& s : samples()) {
    for (size_t n : {size_t{0}, size_t{1}, s.n - 1, s.n + 1, 2 * s.n, s.n + 1000, max_column_values,
                     max_column_values + 1, std::numeric_limits<size_t>::max()}) {
      if (n == s.n) continue;
      size_t got = 0;
      status st = s.decode(s.encoded, n, got);
      EXPECT_EQ(got, st.ok() ? n : 0) << s.name << " n " << n;
    }
  }
}

TEST(corruption, random_bytes_never_crash) {
  std::mt19937_64 rng(37);
  const auto all = samples();
  for (int iter = 0; iter < 20000; ++iter) {
    const auto& s = all[rng() % all.size()];
    std::string bad(rng() % 64, '\0');
    for (auto& c : bad) c = static_cast<char>(rng());
    if (!bad.empty() && rng() % 2) bad[0] = static_cast<char>(rng() % 8);  // a known scheme tag
    const size_t n = rng() % 300;
    size_t got = 0;
    status st = s.decode(bad, n, got);
    EXPECT_EQ(got, st.ok() ? n : 0);
  }
}

}  // namespace
}  // namespace liandu::storage::codec
