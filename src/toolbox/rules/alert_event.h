#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "model/point.h"
#include "toolbox/rules/rule.h"

namespace liandu::toolbox::rules {

// Life of one alert of one (rule, group):
//
//   inactive ──condition holds──► pending ──held for rule.for──► firing
//       ▲                            │                            │  acknowledge(user, comment)
//       └──────condition gone────────┘                            ▼
//   resolved ◄──────────────condition gone─────────────────── acknowledged
//
// With rule.for == 0 an alert goes from inactive straight to firing. There is
// at most one open (pending, firing or acknowledged) alert per rule and group:
// while it is open, further matching points emit nothing. resolved behaves as
// inactive: the next time the condition holds a new alert (new alert_id)
// starts.
enum class alert_state { inactive, pending, firing, acknowledged, resolved };
const char* alert_state_name(alert_state s);  // "inactive", "pending", ...
bool parse_alert_state(std::string_view text, alert_state& out);

// One transition. The application writes it as a point into the `alerts`
// measurement (to_point) and hands it to the rule's actions.
struct alert_event {
  std::string rule_id;
  std::string rule_name;
  int64_t rule_version = 0;
  std::string severity;
  std::vector<model::tag> group;  // the group-by tags, sorted by key
  uint64_t alert_id = 0;          // one per pending/firing..resolved cycle
  alert_state state = alert_state::inactive;
  alert_state previous = alert_state::inactive;
  double value = 0;  // the value of the condition that decided the transition
  std::string message;
  int64_t time = 0;     // ns: event time of the transition
  int64_t started = 0;  // ns: when this alert became pending (or firing)
  std::string user;     // acknowledged: who
  std::string comment;  // acknowledged: why
  std::vector<action> actions;
};

// Point in `measurement`: tags rule_id, severity and the group tags; fields
// rule_name, rule_version, alert_id, state, previous, value, message,
// started and, when set, user and comment.
model::point to_point(const alert_event& e, std::string_view measurement = "alerts");

// Body of a webhook: {"rule_id":..,"rule_name":..,"group":{..},"state":..,...}.
nlohmann::json to_json(const alert_event& e);

}  // namespace liandu::toolbox::rules
