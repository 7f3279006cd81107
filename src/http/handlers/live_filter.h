#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/regex.h"
#include "base/result.h"
#include "model/point.h"
#include "query/influxql/ast.h"

namespace liandu::http::handlers {

// A live subscription written as InfluxQL, for /api/v1/live?q=…:
//
//   SELECT <field>[, <field>…] | * FROM <measurement> | /<regex>/
//     [WHERE <condition>]
//
// The condition compares tags and fields with literals (=, !=, <, <=, >, >=,
// =~, !~) under AND, OR and parentheses, as in a query; a name is a field
// when the point has a field of that name (or `::field`), else a tag (a
// missing tag compares as ""). Nothing that needs more than one point is
// allowed: no functions, GROUP BY, INTO, subqueries, LIMIT or time
// conditions. Each point that passes is sent with the selected fields only.
class live_filter {
 public:
  // Parses and checks `q`; errors name what is not allowed in a live query.
  static result<std::shared_ptr<const live_filter>> parse(std::string_view q);

  const std::string& database() const { return database_; }  // FROM db.rp.m, or ""
  bool measurement_matches(std::string_view measurement) const;
  bool matches(std::span<const model::tag> tags, std::span<const model::field_view> fields) const;
  // Whether the message keeps this field (every field for SELECT *).
  bool keeps_field(std::string_view key) const;
  bool keeps_all_fields() const { return fields_.empty(); }

 private:
  struct node {
    query::influxql::expr_kind kind = query::influxql::expr_kind::integer;
    query::influxql::binary_op op = query::influxql::binary_op::and_;
    query::influxql::data_type type = query::influxql::data_type::unknown;
    model::field_value value;  // literal
    std::string name;          // var_ref
    std::shared_ptr<const liandu::regex> re;
    std::vector<node> args;
  };
  static status compile(const query::influxql::expr& e, node& out, int depth);
  bool holds(const node& n, std::span<const model::tag> tags,
             std::span<const model::field_view> fields) const;

  std::string database_;
  std::string measurement_;
  std::unique_ptr<liandu::regex> measurement_re_;
  std::vector<std::string> fields_;  // empty: all
  std::unique_ptr<node> condition_;
};

}  // namespace liandu::http::handlers
