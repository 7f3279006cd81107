#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace liandu::query::influxql {

// The InfluxQL syntax tree. Nodes are plain values (copyable) so the executor
// can rewrite a statement (fill in the default database, expand `*`) without
// touching the parsed original. format() turns any node back into InfluxQL
// text that parses to the same tree; it is what SHOW CONTINUOUS QUERIES prints.

enum class data_type : uint8_t { unknown, float_, integer, unsigned_, string, boolean, any_field, tag };

enum class binary_op : uint8_t {
  add,
  sub,
  mul,
  div,
  mod,
  bit_and,
  bit_or,
  bit_xor,
  and_,
  or_,
  eq,
  neq,
  eq_regex,
  neq_regex,
  lt,
  lte,
  gt,
  gte,
};

const char* binary_op_text(binary_op op);  // "+", "AND", "=~", ...
int precedence(binary_op op);              // OR 1, AND 2, comparisons 3, + - | ^ 4, * / % & 5
bool is_comparison(binary_op op);          // = != =~ !~ < <= > >=
// Whether `a op b` holds, given order = a <=> b (<0, 0, >0); false for ops other than = != < <= > >=.
bool comparison_holds(binary_op op, int order);
bool is_arithmetic(binary_op op);  // + - * / % & | ^

enum class expr_kind : uint8_t {
  var_ref,   // name [::type]
  wildcard,  // * [::field|::tag]
  call,      // name(args...); `DISTINCT x` is call "distinct"
  binary,    // args[0] op args[1]
  paren,     // (args[0])
  integer,
  number,
  string,
  boolean,
  duration,  // ns in `integer`
  regex,     // pattern in `text`
};

struct expr {
  expr_kind kind = expr_kind::integer;
  binary_op op = binary_op::add;
  data_type type = data_type::unknown;  // cast of a var_ref / wildcard
  std::string text;                     // var_ref / call name, string value, regex pattern
  int64_t integer = 0;                  // integer literal, duration in ns
  double number = 0;
  bool boolean = false;
  std::vector<expr> args;

  static expr var(std::string name, data_type t = data_type::unknown);
  static expr make_call(std::string name, std::vector<expr> args);
  static expr make_binary(binary_op op, expr lhs, expr rhs);
  static expr make_integer(int64_t v);
  static expr make_number(double v);
  static expr make_string(std::string v);
  static expr make_duration(int64_t ns);
  static expr make_regex(std::string pattern);

  bool operator==(const expr&) const = default;
};

struct select_statement;

// A measurement reference: [db.][rp.]name or a regex over names.
struct measurement {
  std::string database;
  std::string retention_policy;
  std::string name;
  std::optional<std::string> regex;
  bool operator==(const measurement&) const = default;
};

// FROM item: a measurement or a subquery.
struct source {
  measurement m;
  std::shared_ptr<select_statement> subquery;  // set for `(SELECT ...)`
  bool operator==(const source& o) const;
};

struct field {
  expr e;
  std::string alias;
  bool operator==(const field&) const = default;
};

enum class fill_option : uint8_t { null, none, previous, linear, number };

// INTO target; `:MEASUREMENT` keeps the source measurement's name.
struct into_target {
  measurement m;
  bool source_name = false;
  bool operator==(const into_target&) const = default;
};

struct select_statement {
  std::vector<field> fields;
  std::optional<into_target> into;
  std::vector<source> sources;
  std::optional<expr> condition;
  std::vector<expr> dimensions;  // GROUP BY items: time(...) call, var_ref, wildcard, regex
  fill_option fill = fill_option::null;
  std::optional<expr> fill_value;  // integer or number literal for fill_option::number
  bool has_order = false;          // ORDER BY present (for formatting)
  bool ascending = true;
  int64_t limit = 0, offset = 0, slimit = 0, soffset = 0;
  std::optional<std::string> tz;
  bool operator==(const select_statement&) const = default;
};

struct show_databases_statement {
  bool operator==(const show_databases_statement&) const = default;
};

struct show_measurements_statement {
  std::string database;
  std::optional<binary_op> with_op;  // eq or eq_regex
  std::optional<measurement> with;   // WITH MEASUREMENT = name | =~ /re/
  std::optional<expr> condition;
  int64_t limit = 0, offset = 0;
  bool operator==(const show_measurements_statement&) const = default;
};

struct show_tag_keys_statement {
  std::string database;
  std::vector<source> sources;
  std::optional<expr> condition;
  int64_t limit = 0, offset = 0, slimit = 0, soffset = 0;
  bool operator==(const show_tag_keys_statement&) const = default;
};

enum class tag_key_op : uint8_t { eq, neq, eq_regex, neq_regex, in };

struct show_tag_values_statement {
  std::string database;
  std::vector<source> sources;
  tag_key_op op = tag_key_op::eq;
  std::vector<std::string> keys;  // one for eq/neq, a list for IN, the pattern for regex ops
  std::optional<expr> condition;
  int64_t limit = 0, offset = 0;
  bool operator==(const show_tag_values_statement&) const = default;
};

struct show_field_keys_statement {
  std::string database;
  std::vector<source> sources;
  int64_t limit = 0, offset = 0;
  bool operator==(const show_field_keys_statement&) const = default;
};

struct show_series_statement {
  std::string database;
  std::vector<source> sources;
  std::optional<expr> condition;
  int64_t limit = 0, offset = 0;
  bool operator==(const show_series_statement&) const = default;
};

struct show_retention_policies_statement {
  std::string database;
  bool operator==(const show_retention_policies_statement&) const = default;
};

struct show_continuous_queries_statement {
  bool operator==(const show_continuous_queries_statement&) const = default;
};

struct create_database_statement {
  std::string name;
  bool rp_given = false;  // WITH ...
  std::optional<int64_t> duration;
  std::optional<int> replication;
  std::optional<int64_t> shard_duration;
  std::string rp_name;
  bool operator==(const create_database_statement&) const = default;
};

struct drop_database_statement {
  std::string name;
  bool operator==(const drop_database_statement&) const = default;
};

struct create_retention_policy_statement {
  std::string name;
  std::string database;
  int64_t duration = 0;
  int replication = 1;
  int64_t shard_duration = 0;
  bool is_default = false;
  bool operator==(const create_retention_policy_statement&) const = default;
};

struct alter_retention_policy_statement {
  std::string name;
  std::string database;
  std::optional<int64_t> duration;
  std::optional<int> replication;
  std::optional<int64_t> shard_duration;
  bool is_default = false;
  bool operator==(const alter_retention_policy_statement&) const = default;
};

struct drop_retention_policy_statement {
  std::string name;
  std::string database;
  bool operator==(const drop_retention_policy_statement&) const = default;
};

struct drop_series_statement {
  std::vector<source> sources;
  std::optional<expr> condition;
  bool operator==(const drop_series_statement&) const = default;
};

struct delete_statement {
  std::vector<source> sources;  // at most one measurement (name or regex)
  std::optional<expr> condition;
  bool operator==(const delete_statement&) const = default;
};

struct drop_measurement_statement {
  std::string name;
  bool operator==(const drop_measurement_statement&) const = default;
};

struct create_continuous_query_statement {
  std::string name;
  std::string database;
  int64_t resample_every = 0;
  int64_t resample_for = 0;
  select_statement select;
  bool operator==(const create_continuous_query_statement&) const = default;
};

struct drop_continuous_query_statement {
  std::string name;
  std::string database;
  bool operator==(const drop_continuous_query_statement&) const = default;
};

using statement =
    std::variant<select_statement, show_databases_statement, show_measurements_statement,
                 show_tag_keys_statement, show_tag_values_statement, show_field_keys_statement,
                 show_series_statement, show_retention_policies_statement, show_continuous_queries_statement,
                 create_database_statement, drop_database_statement, create_retention_policy_statement,
                 alter_retention_policy_statement, drop_retention_policy_statement, drop_series_statement,
                 delete_statement, drop_measurement_statement, create_continuous_query_statement,
                 drop_continuous_query_statement>;

struct query {
  std::vector<statement> statements;
};

// InfluxQL text of a node. Identifiers are quoted only when needed.
std::string format(const expr& e);
std::string format(const measurement& m);
std::string format(const select_statement& s);
std::string format(const statement& s);
std::string format(const query& q);

// Helpers shared by the formatter and the executor.
std::string quote_ident(std::string_view ident);  // "cpu" -> cpu, "my cpu" -> "my cpu"
std::string quote_string(std::string_view s);     // 'it\'s'
std::string format_duration(int64_t ns);          // 90m, 1h, 1500ms, 0s
// Parses InfluxQL duration text ("10m", "1h30m", "5µs", "-5m"); false when
// invalid or out of range (then *overflow tells which).
bool parse_duration(std::string_view text, int64_t& ns, bool* overflow = nullptr);

}  // namespace liandu::query::influxql
