#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/regex.h"
#include "base/result.h"
#include "query/executor/executor.h"
#include "query/executor/result.h"
#include "query/executor/time_zone.h"
#include "query/influxql/ast.h"
#include "query/storage.h"

namespace liandu::query::exec {

inline constexpr const char* memory_limit_error = "query exceeded memory limit";

// State of one request: the storage it runs against, its options, and the
// memory it has charged so far. Everything a statement holds (points read,
// rows built) is charged; going over the limit fails the statement with
// memory_limit_error instead of growing without bound.
struct context {
  storage* s;
  const query_options* opts;
  size_t used = 0;
  // Compiled patterns of this request, and the error of each that did not
  // compile (RE2's reason, e.g. "error parsing regexp: missing ): m(0").
  std::map<std::string, result<std::shared_ptr<const liandu::regex>>, std::less<>> regexes;

  bool charge(size_t bytes) {
    used += bytes;
    return used <= opts->memory_limit_bytes;
  }
  // Compiles an InfluxQL (RE2-style) pattern once per request.
  result<std::shared_ptr<const liandu::regex>> regex(const std::string& pattern);
};

// Runs a SELECT and returns its series (SELECT INTO writes and returns the
// "result"/"written" series).
result<std::vector<series_result>> run_select(context& ctx, const influxql::select_statement& stmt);

// The series of a measurement that satisfy the tag comparisons of cond
// (time comparisons are ignored; other comparisons match everything). Sets
// *exact false when cond compares fields.
result<std::vector<series_info>> matching_series(context& ctx, const std::string& db,
                                                 const std::string& measurement, const influxql::expr* cond,
                                                 bool* exact = nullptr);
// Takes the time comparisons of an AND tree out into [lo, hi].
status time_range(const influxql::expr& cond, int64_t now, int64_t& lo, int64_t& hi, influxql::expr& rest);

// Parses InfluxQL time strings: RFC3339 with optional fraction and offset,
// "2006-01-02 15:04:05[.fff]" and "2006-01-02".
bool parse_time_string(const std::string& s, int64_t& ns);

// Start of the GROUP BY time(interval, offset) window holding t, in zone's
// local time (UTC when zone is null).
int64_t window_start_in(const time_zone* zone, int64_t interval, int64_t offset, int64_t t);

constexpr int64_t min_time = -9223372036854775806LL;  // InfluxDB's MinTime
constexpr int64_t max_time = 9223372036854775806LL;   // InfluxDB's MaxTime

}  // namespace liandu::query::exec
