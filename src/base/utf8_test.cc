#include "base/utf8.h"

#include <gtest/gtest.h>

#include <string>

#include "base/json_string.h"

namespace liandu {
namespace {

size_t decode(const std::string& s, uint32_t& cp) {
  return decode_utf8(reinterpret_cast<const unsigned char*>(s.data()), s.size(), cp);
}

TEST(utf8, well_formed_and_malformed_sequences) {
  uint32_t cp = 0;
  EXPECT_EQ(decode("A", cp), 1u);
  EXPECT_EQ(cp, 0x41u);
  EXPECT_EQ(decode("\xC3\xA9", cp), 2u);  // é
  EXPECT_EQ(cp, 0xE9u);
  EXPECT_EQ(decode("\xE8\xBF\x9E", cp), 3u);  // 连
  EXPECT_EQ(cp, 0x8FDEu);
  EXPECT_EQ(decode("\xF0\x9F\x98\x80", cp), 4u);  // U+1F600
  EXPECT_EQ(cp, 0x1F600u);
  EXPECT_EQ(decode("\xC0\x80", cp), 0u);          // overlong NUL
  EXPECT_EQ(decode("\xE0\x80\xAF", cp), 0u);      // overlong '/'
  EXPECT_EQ(decode("\xED\xA0\x80", cp), 0u);      // surrogate D800
  EXPECT_EQ(decode("\xF4\x90\x80\x80", cp), 0u);  // past U+10FFFF
  EXPECT_EQ(decode("\xE8\xBF", cp), 0u);          // truncated
  EXPECT_EQ(decode("\xC3\x41", cp), 0u);          // bad continuation
  EXPECT_EQ(decode("\x80", cp), 0u);              // lone continuation
  EXPECT_EQ(decode("\xFF", cp), 0u);
}

TEST(json_string, escapes_and_replaces_invalid_bytes) {
  std::string out;
  append_json_string(out, std::string("a\"b\\c\n\x01<\xE8\xBF\x9E\xFF\xE2\x80\xA8", 15));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001\\u003c\xE8\xBF\x9E\xEF\xBF\xBD\\u2028\"");
}

}  // namespace
}  // namespace liandu
