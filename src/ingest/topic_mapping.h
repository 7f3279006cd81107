#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "model/point.h"

namespace liandu::ingest {

// Mapping rules turn an MQTT topic and payload into points, so devices need
// no glue code. A rule names a topic pattern whose levels may capture values:
//
//   pattern      factory/{site}/{line}/{machine}/telemetry
//   topic        factory/s1/l2/m07/telemetry      -> site=s1 line=l2 machine=m07
//
// `+` matches one level without capturing, a final `#` any rest. Captures
// become tags (and may be used as `{name}` in the measurement). The payload
// is one of:
//   json           an object (or an array of objects); fields come from
//                  `fields` (name -> dotted path, e.g. "temp" -> "sensors.t")
//                  or, when none are given, from every top-level number,
//                  boolean and string; `time_path` names a timestamp field
//                  (integer in `time_precision` units, or an RFC3339 string),
//                  else the arrival time is used
//   line_protocol  the payload is line protocol; captured tags are added
//   value          the payload is a single number/boolean; field `value_field`
//
// Examples (JSON form used by the config file and the REST API):
//   {"name":"telemetry","topic":"factory/{site}/{line}/{machine}/telemetry",
//    "database":"plant","measurement":"machine","format":"json",
//    "fields":{"temperature":"temp","spindle_speed":"spindle.rpm"},
//    "time_path":"ts","time_precision":"ms"}
struct mapping_rule {
  std::string name;
  std::string topic;  // pattern
  std::string database;
  std::string retention_policy;
  std::string measurement;  // may contain {capture}
  enum class payload_format { json, line_protocol, value } format = payload_format::json;
  std::vector<std::pair<std::string, std::string>> fields;  // field -> dotted JSON path
  std::vector<std::pair<std::string, std::string>> tags;    // tag -> dotted JSON path (string values)
  std::string time_path;
  model::precision time_precision = model::precision::ms;
  std::string value_field = "value";
};

// Parses and validates one rule from JSON; errors name the rule and key.
result<mapping_rule> parse_mapping_rule(std::string_view json);
std::string mapping_rule_to_json(const mapping_rule& r);

struct mapped_points {
  const mapping_rule* rule = nullptr;
  std::vector<model::point> points;
};

class topic_mapper {
 public:
  status add(mapping_rule r);  // validates the pattern; a duplicate name replaces
  bool remove(std::string_view name);
  const std::vector<mapping_rule>& rules() const { return rules_; }

  // The first rule whose pattern matches the topic maps the payload. Returns
  // not_found when no rule matches (the message is only routed, not stored),
  // parse_error with what and where when the payload does not fit the rule.
  result<mapped_points> map(std::string_view topic, std::string_view payload, int64_t now_ns) const;

 private:
  std::vector<mapping_rule> rules_;
};

// Matches a pattern against a topic, filling captures. Exposed for tests.
bool match_topic(std::string_view pattern, std::string_view topic,
                 std::vector<std::pair<std::string, std::string>>& captures);

}  // namespace liandu::ingest
