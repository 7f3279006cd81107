#include "ingest/line_protocol.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <variant>
#include <vector>

namespace liandu::ingest {
namespace {

using model::field;
using model::point;
using model::precision;
using model::tag;

constexpr int64_t now = 1'700'000'000'123'456'789;

struct parsed {
  std::vector<point> points;
  std::vector<line_error> errors;
};

parsed parse(std::string_view body, precision p = precision::ns, line_protocol_limits limits = {}) {
  parsed out;
  line_protocol_parser parser(p, limits);
  size_t n = parser.parse(
      body, now,
      [&out](const point_ref& r) {
        point& pt = out.points.emplace_back();
        pt.measurement = std::string(r.measurement);
        for (size_t i = 0; i < r.tag_count; ++i) {
          pt.tags.push_back({std::string(r.tags[i].key), std::string(r.tags[i].value)});
        }
        for (size_t i = 0; i < r.field_count; ++i) {
          field& f = pt.fields.emplace_back();
          f.key = std::string(r.fields[i].key);
          std::visit(
              [&f](auto v) {
                if constexpr (std::is_same_v<decltype(v), std::string_view>) {
                  f.value = std::string(v);
                } else {
                  f.value = v;
                }
              },
              r.fields[i].value);
        }
        pt.time = r.time;
      },
      out.errors);
  EXPECT_EQ(n, out.points.size());
  return out;
}

// Parses a body that must hold exactly one valid line.
point one(std::string_view body, precision p = precision::ns) {
  parsed r = parse(body, p);
  EXPECT_TRUE(r.errors.empty()) << body << " -> " << (r.errors.empty() ? "" : r.errors[0].message);
  EXPECT_EQ(r.points.size(), 1u) << body;
  return r.points.empty() ? point{} : r.points[0];
}

model::field_value value_of(std::string_view body) {
  point p = one(body);
  return p.fields.empty() ? model::field_value{} : p.fields[0].value;
}

// Parses a body that must hold exactly one bad line; returns its error.
line_error bad(std::string_view body, line_protocol_limits limits = {}) {
  parsed r = parse(body, precision::ns, limits);
  EXPECT_TRUE(r.points.empty()) << body;
  EXPECT_EQ(r.errors.size(), 1u) << body;
  return r.errors.empty() ? line_error{} : r.errors[0];
}

void expect_error(std::string_view body, size_t line, size_t column, std::string_view reason) {
  line_error err = bad(body);
  EXPECT_EQ(err.line, line) << body;
  EXPECT_EQ(err.column, column) << body;
  EXPECT_TRUE(err.message.ends_with(": " + std::string(reason))) << body << " -> " << err.message;
  EXPECT_TRUE(err.message.starts_with("unable to parse '")) << err.message;
}

TEST(line_protocol, parses_a_full_line) {
  point p = one(
      "cpu,host=server01,region=us-west usage_idle=92.5,cores=8i,ok=true,note=\"hi\" 1700000000000000000");
  EXPECT_EQ(p.measurement, "cpu");
  EXPECT_EQ(p.tags, (std::vector<tag>{{"host", "server01"}, {"region", "us-west"}}));
  EXPECT_EQ(p.fields,
            (std::vector<field>{
                {"usage_idle", 92.5}, {"cores", int64_t{8}}, {"ok", true}, {"note", std::string("hi")}}));
  EXPECT_EQ(p.time, 1700000000000000000);
}

TEST(line_protocol, no_tags_and_missing_timestamp_takes_now) {
  point p = one("cpu value=1");
  EXPECT_EQ(p.measurement, "cpu");
  EXPECT_TRUE(p.tags.empty());
  EXPECT_EQ(p.time, now);
}

TEST(line_protocol, measurement_escapes) {
  EXPECT_EQ(one("my\\ cpu\\,x v=1").measurement, "my cpu,x");
  // '=' is not special in a measurement; a backslash before it stays.
  EXPECT_EQ(one("a\\=b v=1").measurement, "a\\=b");
  EXPECT_EQ(one("a=b v=1").measurement, "a=b");
  EXPECT_EQ(one("a\\b v=1").measurement, "a\\b");
  EXPECT_EQ(one("a\\\\ b v=1").measurement, "a\\ b");
  EXPECT_EQ(one("a\"b v=1").measurement, "a\"b");
}

TEST(line_protocol, tag_escapes) {
  point p = one("m,k\\ 1\\,\\==v\\ 1\\,\\= v=1");
  EXPECT_EQ(p.tags, (std::vector<tag>{{"k 1,=", "v 1,="}}));
  p = one("m,k=a\\b,q=\"x\" v=1");
  EXPECT_EQ(p.tags, (std::vector<tag>{{"k", "a\\b"}, {"q", "\"x\""}}));
}

TEST(line_protocol, field_key_escapes) {
  point p = one("m f\\ 1\\,\\==1i,g\\h=2i");
  ASSERT_EQ(p.fields.size(), 2u);
  EXPECT_EQ(p.fields[0].key, "f 1,=");
  EXPECT_EQ(p.fields[1].key, "g\\h");
}

TEST(line_protocol, string_values) {
  EXPECT_EQ(value_of("m s=\"a b,c=d\""), model::field_value(std::string("a b,c=d")));
  EXPECT_EQ(value_of("m s=\"say \\\"hi\\\"\""), model::field_value(std::string("say \"hi\"")));
  EXPECT_EQ(value_of("m s=\"back\\\\slash\""), model::field_value(std::string("back\\slash")));
  EXPECT_EQ(value_of("m s=\"lit\\eral\\n\""), model::field_value(std::string("lit\\eral\\n")));
  EXPECT_EQ(value_of("m s=\"\""), model::field_value(std::string()));
  EXPECT_EQ(value_of("m s=\"ends in \\\\\""), model::field_value(std::string("ends in \\")));
}

TEST(line_protocol, string_with_raw_newlines_spans_lines) {
  parsed r = parse("m s=\"line1\nline2\" 5\nm v=1 6\nm v=x\n");
  ASSERT_EQ(r.points.size(), 2u);
  EXPECT_EQ(r.points[0].fields[0].value, model::field_value(std::string("line1\nline2")));
  EXPECT_EQ(r.points[0].time, 5);
  EXPECT_EQ(r.points[1].time, 6);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 4u);  // physical line numbers count the newline in the string
  EXPECT_EQ(r.errors[0].column, 5u);
}

TEST(line_protocol, floats) {
  EXPECT_EQ(value_of("m v=1"), model::field_value(1.0));
  EXPECT_EQ(value_of("m v=-1.5"), model::field_value(-1.5));
  EXPECT_EQ(value_of("m v=1e10"), model::field_value(1e10));
  EXPECT_EQ(value_of("m v=1.5E-3"), model::field_value(1.5e-3));
  EXPECT_EQ(value_of("m v=2e+3"), model::field_value(2000.0));
  EXPECT_EQ(value_of("m v=.5"), model::field_value(0.5));
  EXPECT_EQ(value_of("m v=1."), model::field_value(1.0));
  EXPECT_EQ(value_of("m v=-.5e1"), model::field_value(-5.0));
  EXPECT_EQ(value_of("m v=007"), model::field_value(7.0));
  EXPECT_EQ(value_of("m v=0.1"), model::field_value(0.1));
  EXPECT_EQ(value_of("m v=123456789012345678901234567890"), model::field_value(1.2345678901234568e+29));
  EXPECT_EQ(value_of("m v=1.7976931348623157e308"), model::field_value(1.7976931348623157e308));
  EXPECT_EQ(value_of("m v=4.9e-324"), model::field_value(4.9e-324));
  // Underflow reads as strtod does: zero.
  EXPECT_EQ(value_of("m v=1e-400"), model::field_value(0.0));
  point p = one("m v=-0");
  EXPECT_TRUE(std::signbit(std::get<double>(p.fields[0].value)));
}

TEST(line_protocol, floats_match_strtod) {
  // The fast path and the from_chars fallback must both agree with strtod.
  std::mt19937_64 rng(7);
  line_protocol_parser parser;
  std::vector<line_error> errors;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    if (rng() % 4 == 0) text += '-';
    size_t int_digits = rng() % 21;
    for (size_t d = 0; d < int_digits; ++d) text += static_cast<char>('0' + rng() % 10);
    if (int_digits == 0 || rng() % 2 == 0) {
      text += '.';
      size_t frac_digits = (int_digits == 0 ? 1 : 0) + rng() % 21;
      for (size_t d = 0; d < frac_digits; ++d) text += static_cast<char>('0' + rng() % 10);
    }
    if (rng() % 3 == 0) {
      text += rng() % 2 ? 'e' : 'E';
      if (rng() % 2) text += rng() % 2 ? '-' : '+';
      text += std::to_string(rng() % 40);
    }
    double expect = std::strtod(text.c_str(), nullptr);
    double got = -1;
    size_t n = parser.parse(
        "m v=" + text, 0, [&got](const point_ref& r) { got = std::get<double>(r.fields[0].value); }, errors);
    ASSERT_EQ(n, 1u) << text;
    ASSERT_EQ(std::memcmp(&got, &expect, sizeof(got)), 0) << text << " " << got << " " << expect;
  }
  EXPECT_TRUE(errors.empty());
}

TEST(line_protocol, integers_and_unsigned) {
  EXPECT_EQ(value_of("m v=12i"), model::field_value(int64_t{12}));
  EXPECT_EQ(value_of("m v=-12i"), model::field_value(int64_t{-12}));
  EXPECT_EQ(value_of("m v=0i"), model::field_value(int64_t{0}));
  EXPECT_EQ(value_of("m v=9223372036854775807i"), model::field_value(std::numeric_limits<int64_t>::max()));
  EXPECT_EQ(value_of("m v=-9223372036854775808i"), model::field_value(std::numeric_limits<int64_t>::min()));
  EXPECT_EQ(value_of("m v=0000000000000000000012i"), model::field_value(int64_t{12}));
  EXPECT_EQ(value_of("m v=12u"), model::field_value(uint64_t{12}));
  EXPECT_EQ(value_of("m v=9999999999999999999u"), model::field_value(uint64_t{9999999999999999999u}));
  EXPECT_EQ(value_of("m v=18446744073709551615u"), model::field_value(std::numeric_limits<uint64_t>::max()));
}

TEST(line_protocol, every_boolean_spelling) {
  for (const char* t : {"t", "T", "true", "True", "TRUE"}) {
    EXPECT_EQ(value_of(std::string("m v=") + t), model::field_value(true)) << t;
  }
  for (const char* f : {"f", "F", "false", "False", "FALSE"}) {
    EXPECT_EQ(value_of(std::string("m v=") + f), model::field_value(false)) << f;
  }
  for (const char* b : {"tRUE", "yes", "truee", "fa", "abc"}) {
    expect_error(std::string("m v=") + b, 1, 5, "invalid boolean");
  }
}

TEST(line_protocol, precision_scales_timestamps) {
  EXPECT_EQ(one("m v=1 5", precision::ns).time, 5);
  EXPECT_EQ(one("m v=1 5", precision::us).time, 5'000);
  EXPECT_EQ(one("m v=1 5", precision::ms).time, 5'000'000);
  EXPECT_EQ(one("m v=1 5", precision::s).time, 5'000'000'000);
  EXPECT_EQ(one("m v=1 5", precision::m).time, 300'000'000'000);
  EXPECT_EQ(one("m v=1 5", precision::h).time, 18'000'000'000'000);
  EXPECT_EQ(one("m v=1 -5", precision::s).time, -5'000'000'000);
  // A missing timestamp is the caller's now, whatever the precision.
  EXPECT_EQ(one("m v=1", precision::h).time, now);
}

TEST(line_protocol, timestamp_limits) {
  EXPECT_EQ(one("m v=1 9223372036854775807").time, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(one("m v=1 -9223372036854775808").time, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(one("m v=1 -1").time, -1);
  EXPECT_EQ(one("m v=1 000000000000000000000042").time, 42);
  EXPECT_EQ(one("m v=1 -0").time, 0);
  EXPECT_EQ(one("m v=1 12345678").time, 12345678);
  EXPECT_EQ(one("m v=1 1234567812345678").time, 1234567812345678);
  EXPECT_EQ(one("m v=1 -1234567890123456789").time, -1234567890123456789);
  expect_error("m v=1 12345678a", 1, 7, "bad timestamp");
  expect_error("m v=1 1234567/9", 1, 7, "bad timestamp");
  expect_error("m v=1 1234567:9", 1, 7, "bad timestamp");
  expect_error("m v=1 9223372036854775808", 1, 7, "bad timestamp");
  expect_error("m v=1 -9223372036854775809", 1, 7, "bad timestamp");
  expect_error("m v=1 18446744073709551616", 1, 7, "bad timestamp");
  parsed r = parse("m v=1 9223372036854775807", precision::us);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].column, 7u);
  EXPECT_TRUE(r.errors[0].message.ends_with("time outside range"));
  r = parse("m v=1 9223372036855", precision::ms);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(r.errors[0].message.ends_with("time outside range"));
  EXPECT_EQ(parse("m v=1 9223372036854", precision::ms).points.at(0).time, 9223372036854000000);
}

TEST(line_protocol, comments_blank_lines_and_crlf) {
  parsed r =
      parse("# a comment\n\n   \n\t# indented comment\r\ncpu v=1 1\r\n\r\ncpu v=2 2\r\n  cpu v=3 3   \n");
  EXPECT_TRUE(r.errors.empty()) << r.errors[0].message;
  ASSERT_EQ(r.points.size(), 3u);
  EXPECT_EQ(r.points[0].time, 1);
  EXPECT_EQ(r.points[1].time, 2);
  EXPECT_EQ(r.points[2].time, 3);
  EXPECT_EQ(r.points[2].measurement, "cpu");
  EXPECT_TRUE(parse("").points.empty());
  EXPECT_TRUE(parse("\n\n").errors.empty());
  EXPECT_EQ(one("cpu v=1\r\n").fields[0].value, model::field_value(1.0));
  EXPECT_EQ(one("cpu v=\"x\"\r\n").fields[0].value, model::field_value(std::string("x")));
  EXPECT_EQ(one("cpu v=1  \t 7 \t\r").time, 7);
}

TEST(line_protocol, unsorted_tags_are_sorted) {
  point p = one("m,z=1,b=2,a=3,c=4 v=1");
  EXPECT_EQ(p.tags, (std::vector<tag>{{"a", "3"}, {"b", "2"}, {"c", "4"}, {"z", "1"}}));
  // Byte order, as InfluxDB: upper case before lower case.
  p = one("m,b=1,B=2,a=3 v=1");
  EXPECT_EQ(p.tags, (std::vector<tag>{{"B", "2"}, {"a", "3"}, {"b", "1"}}));
  // Keys that share letters or are prefixes of others; bytes above 0x7f
  // count as unsigned (after every ASCII letter).
  p = one("m,site=1,s\xc3\xa9=2,sensor=3,se=4,s=5 v=1");
  EXPECT_EQ(p.tags,
            (std::vector<tag>{{"s", "5"}, {"se", "4"}, {"sensor", "3"}, {"site", "1"}, {"s\xc3\xa9", "2"}}));
}

TEST(line_protocol, duplicate_tag_keys_keep_the_last) {
  point p = one("m,a=1,b=2,a=3 v=1");
  EXPECT_EQ(p.tags, (std::vector<tag>{{"a", "3"}, {"b", "2"}}));
  p = one("m,a=1,a=2,a=3 v=1");
  EXPECT_EQ(p.tags, (std::vector<tag>{{"a", "3"}}));
}

TEST(line_protocol, duplicate_field_keys_last_wins) {
  point p = one("m a=1,b=2i,a=\"x\"");
  EXPECT_EQ(p.fields, (std::vector<field>{{"b", int64_t{2}}, {"a", std::string("x")}}));
}

TEST(line_protocol, many_tags_and_fields_sort_and_dedupe) {
  std::string line = "m";
  for (int i = 99; i >= 0; --i) line += ",t" + std::to_string(i % 70) + "=" + std::to_string(i);
  line += " ";
  for (int i = 0; i < 100; ++i)
    line += (i ? "," : "") + ("f" + std::to_string(i % 60)) + "=" + std::to_string(i) + "i";
  point p = one(line);
  ASSERT_EQ(p.tags.size(), 70u);
  for (size_t i = 1; i < p.tags.size(); ++i) EXPECT_LT(p.tags[i - 1].key, p.tags[i].key);
  for (const tag& t : p.tags) {
    int k = std::stoi(t.key.substr(1));
    EXPECT_EQ(t.value, std::to_string(k)) << t.key;  // the last written (smallest i) wins
  }
  ASSERT_EQ(p.fields.size(), 60u);
  // f40..f59 at their place, then f0..f39 at i=60..99, in order.
  for (size_t j = 0; j < 20; ++j) {
    EXPECT_EQ(p.fields[j].key, "f" + std::to_string(40 + j));
    EXPECT_EQ(p.fields[j].value, model::field_value(int64_t(40 + j)));
  }
  for (size_t j = 0; j < 40; ++j) {
    EXPECT_EQ(p.fields[20 + j].key, "f" + std::to_string(j));
    EXPECT_EQ(p.fields[20 + j].value, model::field_value(int64_t(60 + j)));
  }
}

TEST(line_protocol, multiple_spaces_between_sections) {
  point p = one("m,a=b   v=1    12");
  EXPECT_EQ(p.time, 12);
  EXPECT_EQ(p.tags.size(), 1u);
}

TEST(line_protocol, errors_with_line_and_column) {
  expect_error("cpu", 1, 4, "missing fields");
  expect_error("cpu ", 1, 5, "missing fields");
  expect_error("cpu,a=b", 1, 8, "missing fields");
  expect_error("cpu,a=b   \r\n", 1, 12, "missing fields");
  expect_error(",a=b v=1", 1, 1, "missing measurement");
  expect_error("cpu,=b v=1", 1, 5, "missing tag key");
  expect_error("cpu, v=1", 1, 5, "missing tag key");
  expect_error("cpu,a=b, v=1", 1, 9, "missing tag key");
  expect_error("cpu,a v=1", 1, 6, "missing tag value");
  expect_error("cpu,a= v=1", 1, 7, "missing tag value");
  expect_error("cpu,a=,b=c v=1", 1, 7, "missing tag value");
  expect_error("cpu,a=b=c v=1", 1, 8, "invalid tag format");
  expect_error("cpu =1", 1, 5, "missing field key");
  expect_error("cpu v=1,,w=2", 1, 9, "missing field key");
  expect_error("cpu v=1,", 1, 9, "missing field key");
  expect_error("cpu v", 1, 6, "invalid field format");
  expect_error("cpu v,w=1", 1, 6, "invalid field format");
  expect_error("cpu v=", 1, 7, "missing field value");
  expect_error("cpu v= 1", 1, 7, "missing field value");
  expect_error("cpu v=,w=1", 1, 7, "missing field value");
  expect_error("cpu v=1x", 1, 7, "invalid number");
  expect_error("cpu v=1.2.3", 1, 7, "invalid number");
  expect_error("cpu v=-", 1, 7, "invalid number");
  expect_error("cpu v=.", 1, 7, "invalid number");
  expect_error("cpu v=+1", 1, 7, "invalid number");
  expect_error("cpu v=1e", 1, 7, "invalid number");
  expect_error("cpu v=1e+", 1, 7, "invalid number");
  expect_error("cpu v=1.5i", 1, 7, "invalid number");
  expect_error("cpu v=1e3i", 1, 7, "invalid number");
  expect_error("cpu v=1ii", 1, 7, "invalid number");
  expect_error("cpu v=1i5", 1, 7, "invalid number");
  expect_error("cpu v=1.5u", 1, 7, "invalid number");
  expect_error("cpu v=-1u", 1, 7, "invalid number");
  expect_error("cpu v=0x10", 1, 7, "invalid number");
  expect_error("cpu v=NaN", 1, 7, "invalid number");
  expect_error("cpu v=nan", 1, 7, "invalid number");
  expect_error("cpu v=-nan", 1, 7, "invalid number");
  expect_error("cpu v=Inf", 1, 7, "invalid number");
  expect_error("cpu v=-Inf", 1, 7, "invalid number");
  expect_error("cpu v=infinity", 1, 7, "invalid number");
  expect_error("cpu v=1e400", 1, 7, "invalid float");
  expect_error("cpu v=-1e400", 1, 7, "invalid float");
  expect_error("cpu v=\"abc", 1, 7, "unbalanced quotes");
  expect_error("cpu v=\"abc\\\"", 1, 7, "unbalanced quotes");
  expect_error("cpu v=\"abc\"x", 1, 12, "invalid field format");
  expect_error("cpu v=1 12a", 1, 9, "bad timestamp");
  expect_error("cpu v=1 1.5", 1, 9, "bad timestamp");
  expect_error("cpu v=1 -", 1, 9, "bad timestamp");
  expect_error("cpu v=1 +5", 1, 9, "bad timestamp");
  expect_error("cpu v=1 5 6", 1, 11, "bad timestamp");
  expect_error("cpu v=1 ,", 1, 9, "bad timestamp");
  expect_error("cpu v=1 99999999999999999999", 1, 9, "bad timestamp");
}

TEST(line_protocol, integer_overflow) {
  expect_error("cpu v=9223372036854775808i", 1, 7,
               "unable to parse integer 9223372036854775808: value out of range");
  expect_error("cpu v=-9223372036854775809i", 1, 7,
               "unable to parse integer -9223372036854775809: value out of range");
  expect_error("cpu v=18446744073709551616u", 1, 7,
               "unable to parse unsigned 18446744073709551616: value out of range");
}

TEST(line_protocol, message_echoes_the_line) {
  line_error err = bad("  cpu,a=b v=oops 5\r\n");
  EXPECT_EQ(err.message, "unable to parse 'cpu,a=b v=oops 5': invalid boolean");
  EXPECT_EQ(err.column, 13u);
  err = bad("cpu v=1 x\n");
  EXPECT_EQ(err.message, "unable to parse 'cpu v=1 x': bad timestamp");
  std::string long_line = "cpu v=" + std::string(1000, 'x');
  err = bad(long_line);
  EXPECT_EQ(err.message, "unable to parse '" + long_line.substr(0, 256) + "...': invalid boolean");
}

TEST(line_protocol, errors_name_the_physical_line) {
  parsed r = parse("cpu v=1\n\n# c\ncpu v=\ncpu v=2\r\n  cpu,x v=3\n");
  ASSERT_EQ(r.points.size(), 2u);
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].line, 4u);
  EXPECT_EQ(r.errors[0].column, 7u);
  EXPECT_EQ(r.errors[1].line, 6u);
  EXPECT_EQ(r.errors[1].column, 8u);  // columns count the leading blanks
}

TEST(line_protocol, valid_lines_around_bad_lines_are_delivered) {
  std::string body =
      "cpu v=1 1\n"
      "cpu v=oops 2\n"
      "cpu v=3 3\n"
      "cpu,a v=4 4\n"
      "cpu s=\"open 5\n"  // an unclosed quote swallows the rest of the body, as in InfluxDB
      ;
  parsed r = parse(body);
  ASSERT_EQ(r.points.size(), 2u);
  EXPECT_EQ(r.points[0].time, 1);
  EXPECT_EQ(r.points[1].time, 3);
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_EQ(r.errors[0].line, 2u);
  EXPECT_EQ(r.errors[1].line, 4u);
  EXPECT_EQ(r.errors[2].line, 5u);
  EXPECT_TRUE(r.errors[2].message.ends_with("unbalanced quotes"));

  body.clear();
  for (int i = 0; i < 100; ++i) {
    body += i % 3 == 0 ? "bad line\n" : "m v=" + std::to_string(i) + "i " + std::to_string(i) + "\n";
  }
  r = parse(body);
  EXPECT_EQ(r.points.size(), 66u);
  EXPECT_EQ(r.errors.size(), 34u);
  for (const point& p : r.points) EXPECT_EQ(p.fields[0].value, model::field_value(p.time));
  for (size_t i = 0; i < r.errors.size(); ++i) EXPECT_EQ(r.errors[i].line, 3 * i + 1);
}

TEST(line_protocol, a_bad_line_with_a_multiline_string_is_skipped_whole) {
  parsed r = parse("cpu v=x,s=\"a\nb\" 1\ncpu v=2 2\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 1u);
  ASSERT_EQ(r.points.size(), 1u);
  EXPECT_EQ(r.points[0].time, 2);
  // The error is after the string: its line and column are physical.
  r = parse("cpu s=\"a\nb\",v=x 1\ncpu v=2 2\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 2u);
  EXPECT_EQ(r.errors[0].column, 6u);
  ASSERT_EQ(r.points.size(), 1u);
}

TEST(line_protocol, line_length_limit) {
  line_protocol_limits limits;
  limits.max_line_bytes = 20;
  parsed r = parse("cpu v=1 1\ncpu value=123456789.25 2\ncpu v=3 3\n", precision::ns, limits);
  ASSERT_EQ(r.points.size(), 2u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 2u);
  EXPECT_EQ(r.errors[0].column, 21u);
  EXPECT_TRUE(r.errors[0].message.ends_with("line too long: more than 20 bytes")) << r.errors[0].message;
  // Exactly at the limit is fine, with or without escapes.
  EXPECT_EQ(parse("cpu v=1 123456789012", precision::ns, limits).points.size(), 1u);
  EXPECT_EQ(parse("c\\ u,a\\=b=c\\,d v=1 1", precision::ns, limits).points.size(), 1u);
  r = parse("c\\ u,a\\=b=c\\,d v=\"\\\"\\\"\\\"\" 1", precision::ns, limits);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(r.errors[0].message.ends_with("line too long: more than 20 bytes")) << r.errors[0].message;
  // The line is too long even when it is bad in another way.
  r = parse("cpu v=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\ncpu v=1", precision::ns, limits);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(r.errors[0].message.ends_with("line too long: more than 20 bytes"));
  EXPECT_EQ(r.points.size(), 1u);
}

TEST(line_protocol, tag_and_field_count_limits) {
  line_protocol_limits limits;
  limits.max_tags = 2;
  limits.max_fields = 3;
  parsed r =
      parse("m,a=1,b=2 x=1,y=2,z=3\nm,a=1,b=2,c=3 x=1\nm x=1,y=2,z=3,w=4\nm v=1\n", precision::ns, limits);
  EXPECT_EQ(r.points.size(), 2u);
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].line, 2u);
  EXPECT_EQ(r.errors[0].column, 11u);
  EXPECT_TRUE(r.errors[0].message.ends_with("too many tags: more than 2"));
  EXPECT_EQ(r.errors[1].line, 3u);
  EXPECT_EQ(r.errors[1].column, 15u);
  EXPECT_TRUE(r.errors[1].message.ends_with("too many fields: more than 3"));
}

TEST(line_protocol, parser_is_reusable_and_views_are_stable) {
  line_protocol_parser parser;
  std::vector<line_error> errors;
  std::string seen;
  for (int round = 0; round < 3; ++round) {
    size_t n = parser.parse(
        "a\\ b,k\\ 1=v\\ 1,j=x f\\ 1=\"q\\\"\",g=1i 1\n", 0,
        [&seen](const point_ref& r) {
          // Every view, escaped or not, is intact during the callback.
          seen.assign(r.measurement);
          for (size_t i = 0; i < r.tag_count; ++i) {
            seen += "|" + std::string(r.tags[i].key) + "=" + std::string(r.tags[i].value);
          }
          for (size_t i = 0; i < r.field_count; ++i) seen += "|" + std::string(r.fields[i].key);
          seen += "|" + std::string(std::get<std::string_view>(r.fields[0].value));
        },
        errors);
    EXPECT_EQ(n, 1u);
    EXPECT_EQ(seen, "a b|j=x|k 1=v 1|f 1|g|q\"");
  }
  EXPECT_TRUE(errors.empty());
}

TEST(line_protocol, parse_points_reports_the_first_error_without_an_error_list) {
  auto ok = parse_points("m v=1 1\nm v=2 2\n", precision::ns, 0);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->size(), 2u);
  auto failed = parse_points("m v=1 1\nm v=x 2\n", precision::ns, 0);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code(), errc::parse_error);
  EXPECT_NE(failed.error().message().find("line 2, column 5"), std::string::npos) << failed.error().message();
  std::vector<line_error> errors;
  auto partial = parse_points("m v=1 1\nm v=x 2\n", precision::ns, 0, &errors);
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->size(), 1u);
  EXPECT_EQ(errors.size(), 1u);
}

TEST(line_protocol, append_line_escapes) {
  point p;
  p.measurement = "my cpu,x=y";
  p.tags = {{"k 1,=", "v 1,=\\x"}, {"z", "\"q\""}};
  p.fields = {{"f 1,=", std::string("say \"hi\" \\ \n")},
              {"i", int64_t{-3}},
              {"u", uint64_t{4}},
              {"b", false},
              {"d", 0.1}};
  p.time = -12;
  std::string line;
  append_line(line, p);
  EXPECT_EQ(
      line,
      "my\\ cpu\\,x=y,k\\ 1\\,\\==v\\ 1\\,\\=\\x,z=\"q\" f\\ 1\\,\\==\"say \\\"hi\\\" \\\\ \n\",i=-3i,u=4u,"
      "b=false,d=0.1 -12\n");
  EXPECT_EQ(one(line), p);
}

// Random text over an alphabet rich in the protocol's special characters.
std::string nasty(std::mt19937_64& rng, bool name) {
  static constexpr char alphabet[] = "ab,= \\\"#\t\r\nxyz\xc3\xa9";
  size_t len = (name ? 1 : 0) + rng() % 8;
  std::string s;
  while (s.size() < len) {
    char c = alphabet[rng() % (sizeof(alphabet) - 1)];
    // Names cannot hold a newline nor end in a backslash (see append_line).
    if (name && c == '\n') continue;
    s.push_back(c);
  }
  if (name) {
    while (!s.empty() && s.back() == '\\') s.pop_back();
    if (s.empty()) s = "n";
  }
  return s;
}

TEST(line_protocol, round_trip_property) {
  std::mt19937_64 rng(20240611);
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<point> points(1 + rng() % 4);
    for (point& p : points) {
      p.measurement = nasty(rng, true);
      while (p.measurement[0] == '#' || p.measurement[0] == '\t' || p.measurement[0] == '\r') {
        p.measurement.erase(0, 1);
        if (p.measurement.empty()) p.measurement = "m";
      }
      size_t ntags = rng() % 5;
      for (size_t i = 0; i < ntags; ++i) p.tags.push_back({nasty(rng, true), nasty(rng, true)});
      std::sort(p.tags.begin(), p.tags.end(), [](const tag& a, const tag& b) { return a.key < b.key; });
      p.tags.erase(std::unique(p.tags.begin(), p.tags.end(),
                               [](const tag& a, const tag& b) { return a.key == b.key; }),
                   p.tags.end());
      size_t nfields = 1 + rng() % 5;
      for (size_t i = 0; i < nfields; ++i) {
        std::string key = nasty(rng, true);
        bool dup = false;
        for (const field& f : p.fields) dup |= f.key == key;
        if (dup) continue;
        model::field_value v;
        switch (rng() % 5) {
          case 0: {
            double d;
            uint64_t bits = rng();
            std::memcpy(&d, &bits, sizeof(d));
            if (!std::isfinite(d)) d = static_cast<double>(static_cast<int64_t>(rng())) / 1000.0;
            v = d;
            break;
          }
          case 1: v = static_cast<int64_t>(rng()); break;
          case 2: v = static_cast<uint64_t>(rng()); break;
          case 3: v = (rng() & 1) != 0; break;
          default: v = nasty(rng, false); break;
        }
        p.fields.push_back({key, v});
      }
      p.time = static_cast<int64_t>(rng());
    }
    std::string body;
    for (const point& p : points) append_line(body, p);
    parsed r = parse(body);
    ASSERT_TRUE(r.errors.empty()) << body << "\n"
                                  << r.errors[0].message << " at " << r.errors[0].line << ":"
                                  << r.errors[0].column;
    ASSERT_EQ(r.points, points) << body;
  }
}

// The series key taken from the line as is must be exactly the key built
// from the parsed measurement and tags, and is offered for plain lines.
TEST(line_protocol, series_key_from_the_line_matches_the_built_key) {
  std::mt19937_64 rng(99);
  size_t offered = 0, checked = 0;
  for (int iter = 0; iter < 5000; ++iter) {
    bool plain = rng() % 2 == 0;
    auto name = [&] {
      if (!plain) return nasty(rng, true);
      static constexpr char alphabet[] = "abxyz019_-.=";  // '=' is plain in a measurement only
      std::string s(1 + rng() % 6, 'a');
      for (char& c : s) c = alphabet[rng() % 11];
      return s;
    };
    point p;
    p.measurement = name();
    while (p.measurement[0] == '#' || p.measurement[0] == '\t' || p.measurement[0] == '\r')
      p.measurement.erase(0, 1);
    if (p.measurement.empty()) p.measurement = "m";
    if (plain && rng() % 3 == 0) p.measurement += "=x";
    size_t ntags = rng() % 5;
    for (size_t i = 0; i < ntags; ++i) p.tags.push_back({name(), name()});
    if (rng() % 2 == 0) {
      std::sort(p.tags.begin(), p.tags.end(), [](const tag& a, const tag& b) { return a.key < b.key; });
    }
    p.fields.push_back({"v", 1.0});
    p.time = 1;
    std::string line;
    append_line(line, p);
    line_protocol_parser parser;
    std::vector<line_error> errors;
    parser.parse(
        line, 0,
        [&](const point_ref& r) {
          std::string built;
          model::append_series_key(built, r.measurement, r.tags, r.tag_count);
          if (r.names_plain) {
            std::string plain;
            model::append_series_key(plain, r.measurement, r.tags, r.tag_count, true);
            EXPECT_EQ(plain, built) << line;
          }
          if (!r.series_key.empty()) {
            ++offered;
            EXPECT_EQ(r.series_key, built) << line;
          }
          ++checked;
        },
        errors);
    ASSERT_TRUE(errors.empty()) << line;
  }
  EXPECT_EQ(checked, 5000u);
  EXPECT_GT(offered, 1000u);  // plain, sorted lines take the shortcut
}

}  // namespace
}  // namespace liandu::ingest
