#include "http/handlers/live_filter.h"

#include <gtest/gtest.h>

namespace liandu::http::handlers {
namespace {

std::shared_ptr<const live_filter> must(const std::string& q) {
  auto f = live_filter::parse(q);
  EXPECT_TRUE(f.ok()) << q << ": " << (f.ok() ? "" : f.error().message());
  return f.ok() ? *f : nullptr;
}

std::string refused(const std::string& q) {
  auto f = live_filter::parse(q);
  EXPECT_FALSE(f.ok()) << q;
  return f.ok() ? "" : f.error().message();
}

struct point {
  std::vector<model::tag> tags;
  std::vector<model::field_view> fields;
};

bool passes(const live_filter& f, const point& p) { return f.matches(p.tags, p.fields); }

const point hot{
    {{"line", "l1"}, {"machine", "m07"}},
    {{"temperature", 91.5}, {"count", int64_t{12}}, {"state", std::string_view("running")}, {"ok", true}}};
const point cool{
    {{"line", "l2"}, {"machine", "m08"}},
    {{"temperature", 60.0}, {"count", int64_t{3}}, {"state", std::string_view("idle")}, {"ok", false}}};

TEST(live_filter, conditions_on_tags_and_fields) {
  struct {
    std::string where;
    bool hot, cool;
  } cases[] = {
      {"temperature > 80", true, false},
      {"temperature >= 60 AND line = 'l2'", false, true},
      {"line = 'l1' OR count < 5", true, true},
      {"(line = 'l1' OR line = 'l2') AND NOT_A_TAG = ''", true, true},  // a missing tag is ""
      {"machine =~ /m0[7]/", true, false},
      {"machine !~ /m07/", false, true},
      {"state = 'idle'", false, true},
      {"ok = true", true, false},
      {"count = 12", true, false},
      {"count > 11.5", true, false},
      {"temperature = 'x'", false, false},  // a number never equals a string
      {"missing_field::field > 1", false, false},
      {"line::tag != 'l1'", false, true},
  };
  for (const auto& c : cases) {
    auto f = must("SELECT * FROM machine WHERE " + c.where);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(passes(*f, hot), c.hot) << c.where;
    EXPECT_EQ(passes(*f, cool), c.cool) << c.where;
  }
}

TEST(live_filter, measurement_and_field_selection) {
  auto f = must("SELECT temperature, count FROM machine");
  EXPECT_TRUE(f->measurement_matches("machine"));
  EXPECT_FALSE(f->measurement_matches("machines"));
  EXPECT_TRUE(f->keeps_field("temperature"));
  EXPECT_FALSE(f->keeps_field("state"));
  EXPECT_FALSE(f->keeps_all_fields());
  // A point with none of the selected fields is not sent.
  EXPECT_FALSE(passes(*f, point{{}, {{"state", std::string_view("down")}}}));
  auto re = must("SELECT * FROM /^mach/");
  EXPECT_TRUE(re->measurement_matches("machine"));
  EXPECT_FALSE(re->measurement_matches("oven"));
  EXPECT_TRUE(re->keeps_all_fields());
  EXPECT_EQ(must("SELECT * FROM plant.autogen.machine")->database(), "plant");
}

TEST(live_filter, what_needs_more_than_one_point_is_refused_by_name) {
  EXPECT_NE(refused("SELECT mean(temperature) FROM machine").find("mean"), std::string::npos);
  EXPECT_NE(refused("SELECT * FROM machine GROUP BY line").find("GROUP BY"), std::string::npos);
  EXPECT_NE(refused("SELECT * FROM machine WHERE time > now() - 1h").find("time"), std::string::npos);
  EXPECT_NE(refused("SELECT * FROM machine LIMIT 3").find("LIMIT"), std::string::npos);
  EXPECT_NE(refused("SELECT * INTO x FROM machine").find("INTO"), std::string::npos);
  EXPECT_NE(refused("SELECT * FROM a, b").find("more than one"), std::string::npos);
  EXPECT_NE(refused("SELECT * FROM (SELECT * FROM a)").find("subquery"), std::string::npos);
  EXPECT_NE(refused("SELECT * FROM m WHERE a + 1 > 2").find("arithmetic"), std::string::npos);
  EXPECT_NE(refused("SELECT * FROM m WHERE a > b").find("comparison"), std::string::npos);
  EXPECT_NE(refused("SELECT temperature * 2 FROM m").find("SELECT"), std::string::npos);
  EXPECT_NE(refused("SHOW DATABASES").find("SELECT"), std::string::npos);
  EXPECT_NE(refused("SELECT FROM").find("error parsing query"), std::string::npos);
}

TEST(live_filter, regexes_are_linear_and_bad_ones_named) {
  // A nested quantifier over a long tag value: std::regex backtracked (and
  // recursed per character) here; RE2 answers in one pass.
  auto f = must("SELECT * FROM machine WHERE machine =~ /^(a*)*b$/");
  ASSERT_NE(f, nullptr);
  point long_tag{{{"machine", std::string(50000, 'a')}}, {{"temperature", 1.0}}};
  EXPECT_FALSE(passes(*f, long_tag));
  long_tag.tags[0].value += "b";
  EXPECT_TRUE(passes(*f, long_tag));
  std::string why = refused("SELECT * FROM machine WHERE machine =~ /m(0/");
  EXPECT_NE(why.find("bad regex /m(0/: error parsing regexp: missing )"), std::string::npos) << why;
  why = refused("SELECT * FROM /a(/");
  EXPECT_NE(why.find("error parsing regexp"), std::string::npos) << why;
}

}  // namespace
}  // namespace liandu::http::handlers
