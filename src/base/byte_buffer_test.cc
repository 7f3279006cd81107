#include "base/byte_buffer.h"

#include <gtest/gtest.h>

#include <string>

namespace liandu {

TEST(byte_buffer, writes_through_room_and_keeps_bytes_across_growth) {
  byte_buffer b;
  std::string expect;
  for (int i = 0; i < 1000; ++i) {
    // Ask for more than is written, as encoders do with their bounds.
    char* p = b.room_for(64);
    ASSERT_GE(b.capacity() - b.size(), 64u);
    int n = i % 17;
    for (int k = 0; k < n; ++k) *p++ = static_cast<char>('a' + (i + k) % 26);
    b.commit(p);
    for (int k = 0; k < n; ++k) expect.push_back(static_cast<char>('a' + (i + k) % 26));
    ASSERT_EQ(b.size(), expect.size());
  }
  EXPECT_EQ(b.view(), expect);
  b.append("tail");
  expect += "tail";
  EXPECT_EQ(b.view(), expect);
  b.truncate(3);
  EXPECT_EQ(b.view(), expect.substr(0, 3));
  b.truncate(10);  // never grows
  EXPECT_EQ(b.size(), 3u);
}

TEST(byte_buffer, copies_are_deep_and_moves_leave_an_empty_buffer) {
  byte_buffer a("hello");
  byte_buffer c = a;
  c.append(" world");
  EXPECT_EQ(a.view(), "hello");
  EXPECT_EQ(c.view(), "hello world");
  a = c;
  EXPECT_EQ(a.view(), "hello world");
  byte_buffer m = std::move(c);
  EXPECT_EQ(m.view(), "hello world");
  EXPECT_TRUE(c.empty());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(c.capacity(), 0u);
  c.append("again");  // a moved-from buffer is usable
  EXPECT_EQ(c.view(), "again");
  m = std::move(c);
  EXPECT_EQ(m.view(), "again");
  EXPECT_TRUE(c.empty());
}

TEST(byte_buffer, reserve_keeps_contents) {
  byte_buffer b("abc");
  b.reserve(1 << 20);
  EXPECT_GE(b.capacity(), size_t{1} << 20);
  EXPECT_EQ(b.view(), "abc");
  b.reserve(1);  // never shrinks
  EXPECT_GE(b.capacity(), size_t{1} << 20);
}

}  // namespace liandu
