#include "ingest/series_key_cache.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <variant>
#include <vector>

#include "ingest/line_protocol.h"
#include "storage/index/series_index.h"

namespace liandu::ingest {
namespace {

// Everything a caller can see of a parsed line, owned.
struct seen_point {
  std::string measurement;
  std::vector<std::pair<std::string, std::string>> tags;
  std::string key;  // the series key offered, else the one built from the tags
  bool names_plain = false;
  std::vector<std::pair<std::string, std::string>> fields;  // key, value as text
  int64_t time = 0;
  bool tags_omitted = false;
  bool operator==(const seen_point&) const = default;
};

struct seen {
  std::vector<seen_point> points;
  std::vector<std::string> errors;  // message, line and column
  size_t key_hashes = 0;            // points that came with their key's hash (not compared)
  bool operator==(const seen& o) const { return points == o.points && errors == o.errors; }
};

seen parse_with(std::string_view body, series_key_cache* cache, line_protocol_limits limits = {},
                bool tags_wanted = true) {
  line_protocol_parser parser(model::precision::ns, limits);
  parser.use_key_cache(cache, tags_wanted);
  seen out;
  std::vector<line_error> errors;
  parser.parse(
      body, 7,
      [&out](const point_ref& r) {
        seen_point& p = out.points.emplace_back();
        p.measurement = std::string(r.measurement);
        for (size_t i = 0; i < r.tag_count; ++i) p.tags.emplace_back(r.tags[i].key, r.tags[i].value);
        if (!r.series_key.empty()) {
          p.key = std::string(r.series_key);
        } else {
          model::append_series_key(p.key, r.measurement, r.tags, r.tag_count, r.names_plain);
        }
        p.names_plain = r.names_plain;
        p.tags_omitted = r.tags_omitted;
        if (r.tags_omitted) {
          EXPECT_FALSE(r.series_key.empty());
          EXPECT_EQ(r.tags, nullptr);
          EXPECT_EQ(r.tag_count, 0u);
        }
        // The engine takes the hash for its index's own: a wrong one would
        // miss the key's series and create a second one.
        if (r.series_key_hash_known) {
          ++out.key_hashes;
          EXPECT_FALSE(r.series_key.empty());
          EXPECT_EQ(r.series_key_hash, storage::index::series_index::key_hash(r.series_key)) << r.series_key;
        }
        for (size_t i = 0; i < r.field_count; ++i) {
          std::string v = std::visit(
              [](auto x) {
                if constexpr (std::is_same_v<decltype(x), std::string_view>) {
                  return std::string(x);
                } else {
                  return std::to_string(x);
                }
              },
              r.fields[i].value);
          p.fields.emplace_back(r.fields[i].key, v);
        }
        p.time = r.time;
      },
      errors);
  for (const auto& e : errors) {
    out.errors.push_back(e.message + " @" + std::to_string(e.line) + ":" + std::to_string(e.column));
  }
  return out;
}

// Sections seen again and again, in every form the parser treats apart:
// sorted and unsorted tags, repeated tag keys, escapes, no tags, bad tags.
std::string random_body(std::mt19937_64& rng, size_t lines) {
  static const std::vector<std::string> sections = {
      "cpu",
      "cpu,host=a",
      "cpu,host=b",
      "cpu,host=a,region=eu",
      "cpu,region=eu,host=a",  // the same series, tags in another order
      "sensors,site=s0,line=l2,machine=m61,sensor=temp",
      "sensors,site=s0,line=l2,machine=m61,sensor=tem",  // a byte shorter
      "sensors,site=s0,line=l2,machine=m61,sensor=tempx",
      "sensors,sensor=temp,site=s0,line=l2,machine=m61",
      "m,a=1,a=2,b=3",  // a repeated key: the last wins
      "m,b=3,a=1,a=2",
      "my\\ cpu,host=a",  // escapes: never kept
      "cpu,host=a\\,b",
      "cpu,ho\\=st=x",
      "cpu,host=a=b",  // bad: = in a tag value
      "cpu,host=",     // bad: missing tag value
      "cpu,=x",        // bad: missing tag key
      "c\\pu,h=x\\y",  // a backslash that escapes nothing is a plain byte
      "m,t1=1,t2=2,t3=3,t4=4,t5=5",
      "m,t5=5,t4=4,t3=3,t2=2,t1=1",
      "\xc3\xa9,\xc3\xa9=\xc3\xa9,e=1",
  };
  // Some with a string holding a newline, so the next line is not where the
  // parser's look-ahead guesses it.
  static const std::vector<std::string> rests = {
      " v=1 10",          " v=2i,w=\"x y\" 20",       " v=t", "  v=1.5   30", " v=", " 40", " v=1 x",
      " s=\"a\nb c\" 50", " s=\"\ncpu,host=a v=1\n\""};
  std::string body;
  for (size_t i = 0; i < lines; ++i) {
    if (rng() % 20 == 0) body += rng() % 2 == 0 ? "# a comment\n" : "\n";
    if (rng() % 20 == 0) body += " \t";  // blanks before the line
    body += sections[rng() % sections.size()];
    body += rests[rng() % rests.size()];
    body += rng() % 10 == 0 ? "\r\n" : "\n";
  }
  return body;
}

TEST(series_key_cache, cached_parses_equal_uncached_parses) {
  std::mt19937_64 rng(11);
  series_key_cache cache;
  series_key_cache tiny(1024);  // fills, clears and stays out of the way often
  for (int round = 0; round < 50; ++round) {
    std::string body = random_body(rng, 200);
    seen want = parse_with(body, nullptr);
    ASSERT_FALSE(want.points.empty());
    ASSERT_FALSE(want.errors.empty());
    EXPECT_EQ(want.key_hashes, 0u);  // only the cache has them
    EXPECT_EQ(parse_with(body, &cache), want) << body;
    seen again = parse_with(body, &cache);  // now mostly from the cache
    EXPECT_EQ(again, want) << body;
    EXPECT_GT(again.key_hashes, want.points.size() / 2);
    EXPECT_EQ(parse_with(body, &tiny), want) << body;
  }
  EXPECT_GT(cache.hits(), 10000u);
  EXPECT_GT(tiny.hits(), 0u);
}

// A cache used without tags (as write_line_protocol uses it) gives the
// same points as a full parse, except that a point it took from the cache
// comes with its series key and without its tags.
TEST(series_key_cache, a_cache_used_without_tags_leaves_out_only_the_tags_of_its_keys) {
  std::mt19937_64 rng(12);
  series_key_cache cache;
  size_t omitted = 0;
  for (int round = 0; round < 50; ++round) {
    std::string body = random_body(rng, 200);
    seen want = parse_with(body, nullptr);
    for (int pass = 0; pass < 2; ++pass) {
      seen got = parse_with(body, &cache, {}, /*tags_wanted=*/false);
      ASSERT_EQ(got.errors, want.errors) << body;
      ASSERT_EQ(got.points.size(), want.points.size()) << body;
      for (size_t i = 0; i < got.points.size(); ++i) {
        seen_point g = got.points[i];
        if (g.tags_omitted) {
          ++omitted;
          EXPECT_TRUE(g.tags.empty());
          EXPECT_FALSE(want.points[i].tags.empty());
          g.tags = want.points[i].tags;
          g.tags_omitted = false;
        }
        EXPECT_EQ(g, want.points[i]) << body;
      }
    }
  }
  EXPECT_GT(omitted, 5000u);
}

// The parser guesses where the next lines begin and what their sections
// are; a guess left from one body must not be taken for another body's line
// at the same address. A's string field holds a newline, so the guess for
// the line after it (at offset 13, section "ab") is never used in A; in B a
// line starts there whose section is longer than "ab".
TEST(series_key_cache, guesses_do_not_outlive_the_body) {
  series_key_cache cache;
  line_protocol_parser parser;
  parser.use_key_cache(&cache);
  std::string buf = "ab v=1\nm s=\"\nab xxxxxx\"\n";
  const char* data = buf.data();
  std::vector<std::string> keys;
  std::vector<line_error> errors;
  auto on_point = [&](const point_ref& r) { keys.emplace_back(r.series_key); };
  parser.parse(buf, 0, on_point, errors);
  buf.replace(0, buf.size(), "#23456789012\nab,c=1 v=1\n");
  ASSERT_EQ(buf.data(), data);
  parser.parse(buf, 0, on_point, errors);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(keys, (std::vector<std::string>{"ab", "m", "ab,c=1"}));
}

TEST(series_key_cache, the_same_series_with_tags_in_another_order_gets_the_same_key) {
  series_key_cache cache;
  for (int i = 0; i < 2; ++i) {
    seen s = parse_with("m,b=2,a=1 v=1\nm,a=1,b=2 v=1\n", &cache);
    ASSERT_EQ(s.points.size(), 2u);
    EXPECT_EQ(s.points[0].key, "m,a=1,b=2");
    EXPECT_EQ(s.points[1].key, "m,a=1,b=2");
    EXPECT_EQ(s.points[0].tags, s.points[1].tags);
  }
  EXPECT_EQ(cache.entry_count(), 2u);  // two sections, one key
  EXPECT_EQ(cache.hits(), 2u);
}

TEST(series_key_cache, a_section_that_differs_in_one_byte_misses) {
  series_key_cache cache;
  parse_with("m,a=1 v=1\n", &cache);
  seen s = parse_with("m,a=2 v=1\nm,a=1x v=1\nm,a= v=1\nm,a=1 v=1\n", &cache);
  ASSERT_EQ(s.points.size(), 3u);
  EXPECT_EQ(s.points[0].key, "m,a=2");
  EXPECT_EQ(s.points[1].key, "m,a=1x");
  EXPECT_EQ(s.points[2].key, "m,a=1");
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(cache.hits(), 1u);
}

TEST(series_key_cache, sections_with_escapes_are_not_kept) {
  series_key_cache cache;
  for (int i = 0; i < 2; ++i) {
    seen s = parse_with("my\\ cpu,b=2,a=x\\,y v=1\n", &cache);
    ASSERT_EQ(s.points.size(), 1u);
    EXPECT_EQ(s.points[0].measurement, "my cpu");
    EXPECT_EQ(s.points[0].key, "my\\ cpu,a=x\\,y,b=2");
  }
  EXPECT_EQ(cache.entry_count(), 0u);
}

TEST(series_key_cache, a_parser_with_fewer_tags_allowed_still_refuses_a_kept_section) {
  series_key_cache cache;
  EXPECT_EQ(parse_with("m,c=3,b=2,a=1 v=1\n", &cache).points.size(), 1u);
  line_protocol_limits limits;
  limits.max_tags = 2;
  seen s = parse_with("m,c=3,b=2,a=1 v=1\n", &cache, limits);
  EXPECT_TRUE(s.points.empty());
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_NE(s.errors[0].find("too many tags"), std::string::npos) << s.errors[0];
  // The limit counts tags as written: three keys, four tags (found by the
  // fuzzer, when the cache compared the limit with the keys kept).
  EXPECT_EQ(parse_with("m,a=1,b=2,a=3,c=4 v=1\n", &cache).points.size(), 1u);
  limits.max_tags = 3;
  s = parse_with("m,a=1,b=2,a=3,c=4 v=1\n", &cache, limits);
  EXPECT_TRUE(s.points.empty());
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_NE(s.errors[0].find("too many tags"), std::string::npos) << s.errors[0];
}

}  // namespace
}  // namespace liandu::ingest
