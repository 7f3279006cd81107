#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/status.h"
#include "toolbox/anomaly/detector.h"

namespace liandu::toolbox::rules {

// A rule watches the points of one measurement, optionally filtered by tags
// and split into groups by tag values (one alert per rule and group), and
// fires when its condition tree holds. See src/toolbox/README.md for the JSON
// format with examples. Durations are int64 nanoseconds in the structs and
// strings such as "30s", "5m", "1h30m" in JSON.

enum class compare_op { gt, ge, lt, le, eq, ne };
const char* compare_op_name(compare_op op);  // ">", ">=", "<", "<=", "==", "!="
bool parse_compare_op(std::string_view text, compare_op& out);
// Inline: the rules engine compares once per point and rule.
inline bool compare(compare_op op, double a, double b) {
  switch (op) {
    case compare_op::gt: return a > b;
    case compare_op::ge: return a >= b;
    case compare_op::lt: return a < b;
    case compare_op::le: return a <= b;
    case compare_op::eq: return a == b;
    case compare_op::ne: return a != b;
  }
  return false;
}

enum class aggregate_fn { mean, min, max, sum, count };
const char* aggregate_fn_name(aggregate_fn fn);
bool parse_aggregate_fn(std::string_view text, aggregate_fn& out);

enum class condition_kind {
  all,        // AND of children
  any,        // OR of children
  threshold,  // field op value
  aggregate,  // fn(field) over window op value (sliding window by event time)
  rate,       // change of field per second over window, op value
  absence,    // no point (with field, when set) for for_ns; evaluated by tick()
  state_for,  // field (as text) == / != state, held for for_ns
  anomaly,    // anomaly score of field (detector) > value
};
const char* condition_kind_name(condition_kind k);

struct condition {
  condition_kind kind = condition_kind::threshold;
  std::vector<condition> children;  // all, any
  std::string field;                // every leaf; optional for absence
  compare_op op = compare_op::gt;
  double value = 0;  // threshold, aggregate, rate: the limit; anomaly: the score limit
  // Hysteresis: once active, the leaf stays active while `x op clear` holds,
  // so with op ">" value 80 clear 75 it fires above 80 and clears at or
  // below 75. Only for ordering operators.
  std::optional<double> clear;
  aggregate_fn fn = aggregate_fn::mean;  // aggregate
  int64_t window_ns = 0;                 // aggregate, rate
  int64_t for_ns = 0;                    // absence, state_for
  std::string state;                     // state_for
  anomaly::options detector;             // anomaly
  bool operator==(const condition&) const = default;
};

enum class tag_match { eq, ne, regex, not_regex };  // "==", "!=", "=~", "!~"

struct tag_filter {
  std::string key;
  tag_match match = tag_match::eq;
  std::string value;  // a value, or an ECMAScript regex searched in the tag value
  bool operator==(const tag_filter&) const = default;
};

enum class action_kind { webhook, mqtt, write_point };
const char* action_kind_name(action_kind k);  // "webhook", "mqtt", "write_point"

// What to do on a transition; delivery is the application's job. target is
// the name of a webhook receiver of the rule's tenant (webhook), a topic
// (mqtt; no wildcards) or a measurement (write_point).
struct action {
  action_kind kind = action_kind::webhook;
  std::string target;
  int qos = 0;          // mqtt: 0 or 1
  bool retain = false;  // mqtt
  bool operator==(const action&) const = default;
};

struct rule {
  std::string id;  // unique; [A-Za-z0-9_.:-], at most 128 bytes
  std::string name;
  int64_t version = 1;
  bool enabled = true;
  std::string measurement;
  std::vector<tag_filter> where;      // all must match
  std::vector<std::string> group_by;  // tag keys; a missing tag groups as ""
  condition when;
  int64_t for_ns = 0;  // the condition must hold this long (pending) before firing
  std::string severity = "warning";
  // Message template; {rule}, {state}, {value} and {tag-key} are replaced.
  std::string message;
  std::vector<action> actions;
  bool operator==(const rule&) const = default;
};

// Parses "250ms", "30s", "5m", "1h30m", "2d" (units ns, us, ms, s, m, h, d).
result<int64_t> parse_duration(std::string_view text);
std::string format_duration(int64_t ns);

// JSON <-> rule. Errors are errc::invalid_argument with the path of the
// offending member, e.g. "when.any[1].window: bad duration \"5x\"".
result<rule> parse_rule(std::string_view json_text);
result<rule> rule_from_json(const nlohmann::json& j);
nlohmann::json rule_to_json(const rule& r);

// Checks what the JSON parser checks, for rules built as structs.
status validate(const rule& r);

}  // namespace liandu::toolbox::rules
