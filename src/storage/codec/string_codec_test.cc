#include "storage/codec/string_codec.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "storage/codec/testing/sample_columns.h"

namespace liandu::storage::codec {
namespace {

std::string check_strings(const std::vector<std::string>& v) {
  std::string buf;
  encode_strings(v.data(), v.size(), buf);
  std::vector<std::string> got = {"keep"};  // decoding appends
  status s = decode_strings(buf, v.size(), got);
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(got.size(), v.size() + 1);
  if (got.size() == v.size() + 1) {
    EXPECT_EQ(got[0], "keep");
    EXPECT_EQ(std::vector<std::string>(got.begin() + 1, got.end()), v);
  }
  return buf;
}

string_scheme scheme_of(const std::string& buf) { return static_cast<string_scheme>(buf.at(0)); }

std::string random_bytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

TEST(string_codec, zero_and_one_value) {
  EXPECT_EQ(scheme_of(check_strings({})), string_scheme::empty);
  EXPECT_EQ(scheme_of(check_strings({"x"})), string_scheme::plain);
  check_strings({""});
  check_strings({std::string("a\0b", 3)});
}

TEST(string_codec, empty_strings) {
  check_strings(std::vector<std::string>(1000, ""));
  check_strings({"", "a", "", "", "bb", ""});
}

TEST(string_codec, few_distinct_values_use_a_dictionary) {
  const std::string buf = check_strings(testing::state_names_for_test(8640, 200));
  EXPECT_TRUE(scheme_of(buf) == string_scheme::dict || scheme_of(buf) == string_scheme::zstd);
  EXPECT_LT(buf.size(), 400u);
  const std::string same = check_strings(std::vector<std::string>(5000, "running"));
  EXPECT_LT(same.size(), 20u);
}

TEST(string_codec, distinct_values_are_plain_or_zstd) {
  const std::string buf = check_strings(testing::lot_numbers_for_test(5000));
  EXPECT_LT(buf.size(), 5000u * 15 / 2);  // zstd finds the shared prefix
  std::mt19937_64 rng(19);
  std::vector<std::string> noise;
  for (int i = 0; i < 200; ++i) noise.push_back(random_bytes(rng, rng() % 50));
  EXPECT_EQ(scheme_of(check_strings(noise)), string_scheme::plain);
}

TEST(string_codec, long_and_binary_values) {
  std::mt19937_64 rng(23);
  check_strings({std::string(1 << 20, 'z'), random_bytes(rng, 100000), ""});
  std::vector<std::string> v;
  for (int i = 0; i < 300; ++i) v.push_back(random_bytes(rng, rng() % 3));  // few distinct, binary
  check_strings(v);
}

TEST(string_codec, random_columns) {
  std::mt19937_64 rng(29);
  for (int iter = 0; iter < 300; ++iter) {
    const size_t n = rng() % 200;
    const size_t distinct = 1 + rng() % 300;
    std::vector<std::string> pool;
    for (size_t i = 0; i < distinct; ++i) {
      // Built by append: GCC 12 warns falsely (-Wrestrict) on operator+ chains here.
      std::string s = "v";
      s.append(std::to_string(rng() % 100000));
      s.append(rng() % 40, 'p');
      pool.push_back(std::move(s));
    }
    std::vector<std::string> v(n);
    for (auto& s : v) s = pool[rng() % pool.size()];
    check_strings(v);
  }
}

TEST(string_codec, rejects_bad_encodings) {
  std::vector<std::string> out = {"keep"};
  // dict of one entry "ab" whose index column is the constant 1 (out of range).
  EXPECT_EQ(decode_strings(std::string("\x02\x01\x02"
                                       "ab"
                                       "\x02\x01",
                                       7),
                           3, out)
                .code(),
            errc::corruption);
  EXPECT_TRUE(decode_strings(std::string("\x02\x01\x02"
                                         "ab"
                                         "\x02\x00",
                                         7),
                             3, out)
                  .ok());
  EXPECT_EQ(out, (std::vector<std::string>{"keep", "ab", "ab", "ab"}));
  out.resize(1);
  // zstd with a size over the limit, and a frame that is not zstd.
  EXPECT_EQ(decode_strings(std::string("\x03\xff\xff\xff\xff\x0f", 6), 3, out).code(), errc::corruption);
  EXPECT_EQ(decode_strings(std::string("\x03\x05garbage", 8), 3, out).code(), errc::corruption);
  EXPECT_EQ(out.size(), 1u);
}

TEST(string_codec, dictionary_expansion_is_bounded) {
  // One 64 KiB entry repeated max_column_values times would decode to 256 GiB.
  std::string buf("\x02\x01", 2);
  buf += std::string("\x80\x80\x04", 3);  // varint 65536
  buf += std::string(65536, 'x');
  buf += std::string("\x02\x00", 2);  // indices: constant 0
  std::vector<std::string> out;
  EXPECT_EQ(decode_strings(buf, 1 << 20, out).code(), errc::corruption);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(decode_strings(buf, 4, out).ok());
}

}  // namespace
}  // namespace liandu::storage::codec
