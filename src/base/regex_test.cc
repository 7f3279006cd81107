#include "base/regex.h"

#include <gtest/gtest.h>

#include <string>

namespace liandu {
namespace {

TEST(RegexTest, SearchIsUnanchored) {
  auto re = regex::compile("m0[1-3]");
  ASSERT_TRUE(re.ok());
  EXPECT_TRUE(re->search("line1.m02"));
  EXPECT_FALSE(re->search("line1.m04"));
  auto anchored = regex::compile("^cpu$");
  ASSERT_TRUE(anchored.ok());
  EXPECT_TRUE(anchored->search("cpu"));
  EXPECT_FALSE(anchored->search("cpu2"));
}

TEST(RegexTest, GoSyntaxAndCaseInsensitiveFlag) {
  auto re = regex::compile("(?i)^Server-\\d+$");
  ASSERT_TRUE(re.ok());
  EXPECT_TRUE(re->search("SERVER-12"));
  EXPECT_FALSE(re->search("server-x"));
  EXPECT_EQ(re->pattern(), "(?i)^Server-\\d+$");
}

TEST(RegexTest, EmptyTextAndEmptyPattern) {
  auto any = regex::compile("");
  ASSERT_TRUE(any.ok());
  EXPECT_TRUE(any->search(""));
  auto some = regex::compile(".+");
  ASSERT_TRUE(some.ok());
  EXPECT_FALSE(some->search(""));
}

TEST(RegexTest, BadPatternNamesTheProblem) {
  auto re = regex::compile("a(b");
  ASSERT_FALSE(re.ok());
  EXPECT_EQ(re.error().code(), errc::invalid_argument);
  EXPECT_NE(re.error().message().find("missing )"), std::string::npos) << re.error().message();
  // Back-references need backtracking: RE2 (like Go) refuses them.
  EXPECT_FALSE(regex::compile("(a)\\1").ok());
}

TEST(RegexTest, PatternOverTheSizeLimitIsRefused) {
  // Within RE2's repeat-count limit (1000), but a thousand copies of the
  // Unicode letter class compile past the program-size limit.
  auto re = regex::compile("\\pL{1000}");
  ASSERT_FALSE(re.ok());
  EXPECT_NE(re.error().message().find("error parsing regexp"), std::string::npos);
  EXPECT_NE(re.error().message().find("pattern too large"), std::string::npos) << re.error().message();
  // Nested counted repeats are refused by the repeat-count check first.
  auto nested = regex::compile("((a{100}){100}){100}");
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.error().message().find("invalid repetition size"), std::string::npos)
      << nested.error().message();
}

TEST(RegexTest, NestedQuantifiersMatchWithoutBacktracking) {
  // (a*)*b against a run of a's takes exponential time in a backtracking
  // engine (std::regex also recursed per character until the stack ran out,
  // which a fuzz target found); RE2 answers in one linear pass.
  auto re = regex::compile("^(a*)*b$");
  ASSERT_TRUE(re.ok());
  EXPECT_FALSE(re->search(std::string(100000, 'a')));
  EXPECT_TRUE(re->search(std::string(100000, 'a') + "b"));
}

TEST(RegexTest, MovedRegexStillMatches) {
  auto re = regex::compile("x+");
  ASSERT_TRUE(re.ok());
  regex moved = std::move(re).value();
  EXPECT_TRUE(moved.search("axxb"));
}

}  // namespace
}  // namespace liandu
