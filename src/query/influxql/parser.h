#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.h"
#include "query/influxql/ast.h"

namespace liandu::query::influxql {

// Recursive-descent InfluxQL parser following InfluxDB 1.8's grammar and its
// error texts. A syntax error is errc::parse_error with InfluxDB's message,
// e.g. "found FROM, expected identifier, string, number, bool at line 1, char 8"
// (no "error parsing query: " prefix; the executor adds it). Semantic checks
// (argument counts, aggregate mixing) belong to the executor, except the few
// InfluxDB makes while parsing (SELECT-clause operators, ORDER BY, CQ RESAMPLE).
//
// Statements are separated by ';'. An empty query is a query of no statements.
result<query> parse_query(std::string_view text);
result<statement> parse_statement(std::string_view text);
result<expr> parse_expr(std::string_view text);

// GROUP BY time(interval[, offset]) of a statement. Returns false when there
// is no time dimension. A negative offset is normalised into [0, interval).
bool group_by_time(const select_statement& s, int64_t& interval, int64_t& offset);

}  // namespace liandu::query::influxql
