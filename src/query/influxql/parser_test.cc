#include "query/influxql/parser.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "query/influxql/lexer.h"

namespace liandu::query::influxql {
namespace {

std::string parse_error_of(std::string_view q) {
  auto r = parse_query(q);
  if (r.ok()) return "<ok>";
  return r.error().message();
}

std::string roundtrip(std::string_view q) {
  auto r = parse_query(q);
  if (!r.ok()) return "<error> " + r.error().message();
  return format(*r);
}

const select_statement& only_select(const result<query>& r) {
  return std::get<select_statement>(r->statements.at(0));
}

TEST(lexer, scans_tokens_and_positions) {
  lexer lx("SELECT \"my id\", 'it\\'s', 10m, 1.5, 42 FROM cpu");
  std::vector<std::pair<token, std::string>> got;
  while (true) {
    scanned t = lx.scan();
    if (t.tok == token::eof) break;
    if (t.tok == token::ws) continue;
    got.emplace_back(t.tok, t.lit);
  }
  std::vector<std::pair<token, std::string>> want = {
      {token::kw_select, ""}, {token::ident, "my id"},  {token::comma, ""},   {token::string, "it's"},
      {token::comma, ""},     {token::duration, "10m"}, {token::comma, ""},   {token::number, "1.5"},
      {token::comma, ""},     {token::integer, "42"},   {token::kw_from, ""}, {token::ident, "cpu"},
  };
  EXPECT_EQ(got, want);
}

TEST(lexer, regex_unescapes_only_slash) {
  lexer lx("/a\\/b\\d+/");
  scanned t = lx.scan_regex();
  EXPECT_EQ(t.tok, token::regex);
  EXPECT_EQ(t.lit, "a/b\\d+");
}

TEST(parser, influxdb_error_texts) {
  std::vector<std::pair<std::string, std::string>> cases = {
      {"SELECT", "found EOF, expected identifier, string, number, bool at line 1, char 8"},
      {"SELECT FROM cpu", "found FROM, expected identifier, string, number, bool at line 1, char 8"},
      {"select duration from runs",
       "found DURATION, expected identifier, string, number, bool at line 1, char 8"},
      {"CREATE DATABASE foo CREATE DATABASE bar", "found CREATE, expected ; at line 1, char 21"},
      {"FOO",
       "found FOO, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL at "
       "line 1, char 1"},
      {"SELECT field1 from myseries WHERE host =~ 'asd' LIMIT 1",
       "found asd, expected regex at line 1, char 42"},
      {"SELECT value > 2 FROM cpu",
       "invalid operator > in SELECT clause at line 1, char 8; operator is intended for WHERE clause"},
      {"SELECT s =~ /foo/ FROM cpu",
       "invalid operator =~ in SELECT clause at line 1, char 8; operator is intended for WHERE clause"},
      {"SELECT mean(value) FROM cpu FILL + value", "fill must be a function call"},
      {"DELETE", "found EOF, expected FROM, WHERE at line 1, char 8"},
      {"DELETE FROM", "found EOF, expected identifier at line 1, char 13"},
      {"DELETE FROM myseries WHERE",
       "found EOF, expected identifier, string, number, bool at line 1, char 28"},
      {"DELETE FROM \"foo\".myseries", "retention policy not supported at line 1, char 1"},
      {"DELETE FROM foo..myseries", "database not supported at line 1, char 1"},
      {"DROP MEASUREMENT", "found EOF, expected identifier at line 1, char 18"},
      {"DROP SERIES", "found EOF, expected FROM, WHERE at line 1, char 13"},
      {"DROP SERIES FROM", "found EOF, expected identifier at line 1, char 18"},
      {"DROP SERIES FROM src WHERE",
       "found EOF, expected identifier, string, number, bool at line 1, char 28"},
      {"SHOW CONTINUOUS", "found EOF, expected QUERIES at line 1, char 17"},
      {"SHOW RETENTION", "found EOF, expected POLICIES at line 1, char 16"},
      {"SHOW RETENTION ON", "found ON, expected POLICIES at line 1, char 16"},
      {"SHOW RETENTION POLICIES ON", "found EOF, expected identifier at line 1, char 28"},
      {"SHOW FOO",
       "found FOO, expected CONTINUOUS, DATABASES, DIAGNOSTICS, FIELD, GRANTS, MEASUREMENTS, QUERIES, "
       "RETENTION, "
       "SERIES, SHARD, SHARDS, STATS, SUBSCRIPTIONS, TAG, USERS at line 1, char 6"},
      {"DROP CONTINUOUS", "found EOF, expected QUERY at line 1, char 17"},
      {"DROP CONTINUOUS QUERY", "found EOF, expected identifier at line 1, char 23"},
      {"DROP CONTINUOUS QUERY myquery", "found EOF, expected ON at line 1, char 31"},
      {"DROP CONTINUOUS QUERY myquery ON", "found EOF, expected identifier at line 1, char 34"},
      {"CREATE CONTINUOUS", "found EOF, expected QUERY at line 1, char 19"},
      {"CREATE CONTINUOUS QUERY", "found EOF, expected identifier at line 1, char 25"},
      {"CREATE CONTINUOUS QUERY cq ON db RESAMPLE FOR 5s BEGIN SELECT mean(value) INTO cpu_mean FROM cpu "
       "GROUP "
       "BY time(10s) END",
       "FOR duration must be >= GROUP BY time duration: must be a minimum of 10s, got 5s"},
      {"CREATE CONTINUOUS QUERY cq ON db RESAMPLE EVERY 10s FOR 5s BEGIN SELECT mean(value) INTO cpu_mean "
       "FROM "
       "cpu GROUP BY time(5s) END",
       "FOR duration must be >= GROUP BY time duration: must be a minimum of 10s, got 5s"},
      {"DROP FOO",
       "found FOO, expected CONTINUOUS, MEASUREMENT, RETENTION, SERIES, SHARD, SUBSCRIPTION, USER at line 1, "
       "char 6"},
      {"CREATE FOO",
       "found FOO, expected CONTINUOUS, DATABASE, USER, RETENTION, SUBSCRIPTION at line 1, char 8"},
      {"CREATE DATABASE", "found EOF, expected identifier at line 1, char 17"},
      {"CREATE DATABASE \"testdb\" WITH",
       "found EOF, expected DURATION, NAME, REPLICATION, SHARD at line 1, char 31"},
      {"CREATE DATABASE \"testdb\" WITH DURATION", "found EOF, expected duration at line 1, char 40"},
      {"CREATE DATABASE \"testdb\" WITH REPLICATION", "found EOF, expected integer at line 1, char 43"},
      {"CREATE DATABASE \"testdb\" WITH NAME", "found EOF, expected identifier at line 1, char 36"},
      {"CREATE DATABASE \"testdb\" WITH SHARD", "found EOF, expected DURATION at line 1, char 37"},
      {"DROP DATABASE", "found EOF, expected identifier at line 1, char 15"},
      {"DROP RETENTION", "found EOF, expected POLICY at line 1, char 16"},
      {"DROP RETENTION POLICY", "found EOF, expected identifier at line 1, char 23"},
      {"DROP RETENTION POLICY \"1h.cpu\"", "found EOF, expected ON at line 1, char 31"},
      {"DROP RETENTION POLICY \"1h.cpu\" ON", "found EOF, expected identifier at line 1, char 35"},
      {"CREATE RETENTION", "found EOF, expected POLICY at line 1, char 18"},
      {"CREATE RETENTION POLICY", "found EOF, expected identifier at line 1, char 25"},
      {"CREATE RETENTION POLICY policy1", "found EOF, expected ON at line 1, char 33"},
      {"CREATE RETENTION POLICY policy1 ON", "found EOF, expected identifier at line 1, char 36"},
      {"CREATE RETENTION POLICY policy1 ON testdb", "found EOF, expected DURATION at line 1, char 43"},
      {"CREATE RETENTION POLICY policy1 ON testdb DURATION",
       "found EOF, expected duration at line 1, char 52"},
      {"CREATE RETENTION POLICY policy1 ON testdb DURATION bad",
       "found bad, expected duration at line 1, char 52"},
      {"CREATE RETENTION POLICY policy1 ON testdb DURATION 1h",
       "found EOF, expected REPLICATION at line 1, char 54"},
      {"CREATE RETENTION POLICY limit ON telegraf DURATION 1d REPLICATION 1",
       "found LIMIT, expected identifier at line 1, char 25"},
      {"ALTER RETENTION POLICY policy1 ON testdb",
       "found EOF, expected DURATION, REPLICATION, SHARD, DEFAULT at "
       "line 1, char 42"},
      {"SELECT field1 FROM myseries OFFSET", "found EOF, expected integer at line 1, char 36"},
      {"SELECT field1 FROM myseries OFFSET 10.5", "found 10.5, expected integer at line 1, char 36"},
      {"SELECT field1 FROM myseries ORDER", "found EOF, expected BY at line 1, char 35"},
      {"SELECT field1 FROM myseries ORDER BY",
       "found EOF, expected identifier, ASC, DESC at line 1, char 38"},
      {"SELECT field1 FROM myseries ORDER BY /",
       "found /, expected identifier, ASC, DESC at line 1, char 38"},
      {"SELECT field1 FROM myseries ORDER BY 1",
       "found 1, expected identifier, ASC, DESC at line 1, char 38"},
      {"SELECT field1 FROM myseries ORDER BY time ASC,", "found EOF, expected identifier at line 1, char 47"},
      {"SELECT field1 FROM myseries ORDER BY time, field1", "only ORDER BY time supported at this time"},
      {"SELECT field1 AS", "found EOF, expected identifier at line 1, char 18"},
      {"SELECT field1 FROM 12", "found 12, expected identifier at line 1, char 20"},
      {"SELECT 10.5h FROM myseries", "found h, expected FROM at line 1, char 12"},
      {"SELECT distinct FROM myseries", "found FROM, expected identifier at line 1, char 17"},
      {"SELECT count(distinct) FROM myseries", "found ), expected (, identifier at line 1, char 22"},
      {"SELECT 100000000000000000000 FROM myseries", "unable to parse integer at line 1, char 8"},
      {"SELECT x FROM cpu WHERE time > now() - 1x", "invalid duration"},
      {"SELECT x\nFROM", "found EOF, expected identifier at line 2, char 6"},
      {"SELECT 'abc FROM cpu",
       "found abc FROM cpu, expected identifier, string, number, bool at line 1, char 8"},
      {"SHOW TAG VALUES FROM cpu WITH KEY 'host'", "found host, expected IN, =, =~ at line 1, char 35"},
      {"SHOW TAG VALUES WITH KEY = 'host'", "found host, expected identifier at line 1, char 28"},
      {"SHOW MEASUREMENTS WITH MEASUREMENT ~ /x/", "found ~, expected =, =~ at line 1, char 36"},
  };
  for (const auto& [q, want] : cases) EXPECT_EQ(parse_error_of(q), want) << q;
}

TEST(parser, select_structure) {
  auto r = parse_query(
      "SELECT mean(\"value\") AS m, max(v) INTO db.rp.out FROM db.rp.cpu, /mem.*/, \"my rp\".disk WHERE host "
      "= "
      "'a' AND time > now() - 1h GROUP BY time(10m, 1m), host fill(previous) ORDER BY time DESC LIMIT 10 "
      "OFFSET 2 "
      "SLIMIT 3 SOFFSET 4 tz('Europe/Berlin')");
  ASSERT_TRUE(r.ok()) << r.error().message();
  const auto& s = only_select(r);
  ASSERT_EQ(s.fields.size(), 2u);
  EXPECT_EQ(s.fields[0].alias, "m");
  EXPECT_EQ(s.fields[0].e.kind, expr_kind::call);
  EXPECT_EQ(s.fields[0].e.text, "mean");
  ASSERT_TRUE(s.into.has_value());
  EXPECT_EQ(s.into->m.database, "db");
  EXPECT_EQ(s.into->m.retention_policy, "rp");
  EXPECT_EQ(s.into->m.name, "out");
  ASSERT_EQ(s.sources.size(), 3u);
  EXPECT_EQ(s.sources[0].m.name, "cpu");
  EXPECT_EQ(*s.sources[1].m.regex, "mem.*");
  EXPECT_EQ(s.sources[2].m.retention_policy, "my rp");
  EXPECT_EQ(s.sources[2].m.name, "disk");
  ASSERT_TRUE(s.condition.has_value());
  EXPECT_EQ(s.condition->op, binary_op::and_);
  int64_t interval = 0, offset = 0;
  ASSERT_TRUE(group_by_time(s, interval, offset));
  EXPECT_EQ(interval, 600'000'000'000);
  EXPECT_EQ(offset, 60'000'000'000);
  EXPECT_EQ(s.fill, fill_option::previous);
  EXPECT_FALSE(s.ascending);
  EXPECT_EQ(s.limit, 10);
  EXPECT_EQ(s.offset, 2);
  EXPECT_EQ(s.slimit, 3);
  EXPECT_EQ(s.soffset, 4);
  EXPECT_EQ(*s.tz, "Europe/Berlin");
}

TEST(parser, precedence_and_unary) {
  auto e = parse_expr("a + b * c - -2");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->op, binary_op::sub);
  EXPECT_EQ(e->args[0].op, binary_op::add);
  EXPECT_EQ(e->args[0].args[1].op, binary_op::mul);
  EXPECT_EQ(e->args[1].integer, -2);
  auto w = parse_expr("a = 1 OR b = 2 AND c =~ /x/");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->op, binary_op::or_);
  EXPECT_EQ(w->args[1].op, binary_op::and_);
  EXPECT_EQ(w->args[1].args[1].args[1].kind, expr_kind::regex);
  auto neg = parse_expr("-x");
  ASSERT_TRUE(neg.ok());
  EXPECT_EQ(format(*neg), "-1 * x");
}

TEST(parser, durations) {
  int64_t d = 0;
  ASSERT_TRUE(parse_duration("1h30m", d));
  EXPECT_EQ(d, 5400'000'000'000);
  ASSERT_TRUE(parse_duration("1w", d));
  EXPECT_EQ(format_duration(d), "1w");
  ASSERT_TRUE(parse_duration("1500ms", d));
  EXPECT_EQ(format_duration(d), "1500ms");
  ASSERT_TRUE(parse_duration("5u", d));
  EXPECT_EQ(d, 5000);
  ASSERT_TRUE(parse_duration("7ns", d));
  EXPECT_EQ(d, 7);
  EXPECT_FALSE(parse_duration("5x", d));
  bool overflow = false;
  EXPECT_FALSE(parse_duration("99999999999w", d, &overflow));
  EXPECT_TRUE(overflow);
}

TEST(parser, formats_round_trip) {
  std::vector<std::pair<std::string, std::string>> cases = {
      {"select * from cpu", "SELECT * FROM cpu"},
      {"SELECT \"value\"::float, host::tag, *::field FROM \"db\".\"rp\".\"cpu\"",
       "SELECT value::float, host::tag, *::field FROM db.rp.cpu"},
      {"SELECT derivative(mean(x), 1s), percentile(x, 95), top(x, host, 3) FROM cpu WHERE time >= "
       "'2024-01-01T00:00:00Z' AND time < now() GROUP BY time(1m) fill(0)",
       "SELECT derivative(mean(x), 1s), percentile(x, 95), top(x, host, 3) FROM cpu WHERE time >= "
       "'2024-01-01T00:00:00Z' AND time < now() GROUP BY time(1m) fill(0)"},
      {"SELECT (a + b) * 2.5 AS \"select\" FROM m", "SELECT (a + b) * 2.5 AS \"select\" FROM m"},
      {"SELECT a - (b - c), a - b - c FROM m", "SELECT a - (b - c), a - b - c FROM m"},
      {"SELECT DISTINCT host FROM m", "SELECT distinct(host) FROM m"},
      {"SELECT mean(x) FROM (SELECT max(x) AS x FROM m GROUP BY time(1m)) GROUP BY time(1h)",
       "SELECT mean(x) FROM (SELECT max(x) AS x FROM m GROUP BY time(1m)) GROUP BY time(1h)"},
      {"SELECT x FROM m WHERE host !~ /a\\/b/ OR host <> 'it\\'s'",
       "SELECT x FROM m WHERE host !~ /a\\/b/ OR host != 'it\\'s'"},
      {"SELECT x FROM db..m", "SELECT x FROM db..m"},
      {"SHOW DATABASES", "SHOW DATABASES"},
      {"show measurements on db with measurement =~ /cpu.*/ where host = 'a' limit 5 offset 1",
       "SHOW MEASUREMENTS ON db WITH MEASUREMENT =~ /cpu.*/ WHERE host = 'a' LIMIT 5 OFFSET 1"},
      {"SHOW TAG KEYS ON db FROM cpu LIMIT 2", "SHOW TAG KEYS ON db FROM cpu LIMIT 2"},
      {"SHOW TAG VALUES FROM cpu WITH KEY IN (host, \"region\") WHERE x = 'y'",
       "SHOW TAG VALUES FROM cpu WITH KEY IN (host, region) WHERE x = 'y'"},
      {"SHOW TAG VALUES WITH KEY =~ /h.*/", "SHOW TAG VALUES WITH KEY =~ /h.*/"},
      {"SHOW FIELD KEYS FROM cpu", "SHOW FIELD KEYS FROM cpu"},
      {"SHOW SERIES FROM cpu WHERE host = 'a'", "SHOW SERIES FROM cpu WHERE host = 'a'"},
      {"SHOW RETENTION POLICIES ON db", "SHOW RETENTION POLICIES ON db"},
      {"SHOW CONTINUOUS QUERIES", "SHOW CONTINUOUS QUERIES"},
      {"CREATE DATABASE db WITH DURATION 1d REPLICATION 1 SHARD DURATION 1h NAME short",
       "CREATE DATABASE db WITH DURATION 1d REPLICATION 1 SHARD DURATION 1h NAME short"},
      {"CREATE RETENTION POLICY rp ON db DURATION INF REPLICATION 1 DEFAULT",
       "CREATE RETENTION POLICY rp ON db DURATION 0s REPLICATION 1 DEFAULT"},
      {"ALTER RETENTION POLICY rp ON db DURATION 2h DEFAULT",
       "ALTER RETENTION POLICY rp ON db DURATION 2h DEFAULT"},
      {"DROP RETENTION POLICY rp ON db", "DROP RETENTION POLICY rp ON db"},
      {"DROP SERIES FROM cpu WHERE host = 'a'", "DROP SERIES FROM cpu WHERE host = 'a'"},
      {"DELETE FROM cpu WHERE time < '2020-01-01'", "DELETE FROM cpu WHERE time < '2020-01-01'"},
      {"DROP MEASUREMENT cpu", "DROP MEASUREMENT cpu"},
      {"CREATE CONTINUOUS QUERY cq ON db RESAMPLE EVERY 1m FOR 1h BEGIN SELECT mean(v) INTO "
       "db.rp.:MEASUREMENT "
       "FROM /.*/ GROUP BY time(5m), * END",
       "CREATE CONTINUOUS QUERY cq ON db RESAMPLE EVERY 1m FOR 1h BEGIN SELECT mean(v) INTO "
       "db.rp.:MEASUREMENT "
       "FROM /.*/ GROUP BY time(5m), * END"},
      {"DROP CONTINUOUS QUERY cq ON db", "DROP CONTINUOUS QUERY cq ON db"},
      {"SELECT a FROM m; SELECT b FROM n;", "SELECT a FROM m; SELECT b FROM n"},
      {"SELECT x FROM m -- comment\n WHERE /* c */ y = 1", "SELECT x FROM m WHERE y = 1"},
  };
  for (const auto& [q, want] : cases) {
    std::string got = roundtrip(q);
    EXPECT_EQ(got, want) << q;
    EXPECT_EQ(roundtrip(got), got) << q;
  }
}

TEST(parser, empty_query_has_no_statements) {
  auto r = parse_query("  ; ");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->statements.empty());
}

TEST(parser, deep_nesting_is_an_error_not_a_crash) {
  std::string q = "SELECT " + std::string(5000, '(') + "x" + std::string(5000, ')') + " FROM m";
  EXPECT_NE(parse_error_of(q), "<ok>");
}

}  // namespace
}  // namespace liandu::query::influxql
