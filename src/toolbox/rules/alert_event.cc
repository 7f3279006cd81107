#include "toolbox/rules/alert_event.h"

#include <algorithm>

namespace liandu::toolbox::rules {

const char* alert_state_name(alert_state s) {
  switch (s) {
    case alert_state::inactive: return "inactive";
    case alert_state::pending: return "pending";
    case alert_state::firing: return "firing";
    case alert_state::acknowledged: return "acknowledged";
    case alert_state::resolved: return "resolved";
  }
  return "?";
}

bool parse_alert_state(std::string_view text, alert_state& out) {
  static constexpr alert_state all[] = {alert_state::inactive, alert_state::pending, alert_state::firing,
                                        alert_state::acknowledged, alert_state::resolved};
  for (alert_state s : all) {
    if (text == alert_state_name(s)) {
      out = s;
      return true;
    }
  }
  return false;
}

model::point to_point(const alert_event& e, std::string_view measurement) {
  model::point p;
  p.measurement = std::string(measurement);
  p.tags = e.group;
  // rule_id and severity are tags too; a group tag of the same name yields.
  auto add_tag = [&](const char* key, const std::string& value) {
    bool taken = std::any_of(p.tags.begin(), p.tags.end(), [&](const model::tag& t) { return t.key == key; });
    if (!taken && !value.empty()) p.tags.push_back({key, value});
  };
  add_tag("rule_id", e.rule_id);
  add_tag("severity", e.severity);
  std::sort(p.tags.begin(), p.tags.end(),
            [](const model::tag& a, const model::tag& b) { return a.key < b.key; });
  p.fields.push_back({"rule_name", e.rule_name});
  p.fields.push_back({"rule_version", e.rule_version});
  p.fields.push_back({"alert_id", static_cast<int64_t>(e.alert_id)});
  p.fields.push_back({"state", std::string(alert_state_name(e.state))});
  p.fields.push_back({"previous", std::string(alert_state_name(e.previous))});
  p.fields.push_back({"value", e.value});
  p.fields.push_back({"message", e.message});
  p.fields.push_back({"started", e.started});
  if (!e.user.empty()) p.fields.push_back({"user", e.user});
  if (!e.comment.empty()) p.fields.push_back({"comment", e.comment});
  p.time = e.time;
  return p;
}

nlohmann::json to_json(const alert_event& e) {
  nlohmann::json group = nlohmann::json::object();
  for (const auto& t : e.group) group[t.key] = t.value;
  nlohmann::json j = {{"rule_id", e.rule_id},
                      {"rule_name", e.rule_name},
                      {"rule_version", e.rule_version},
                      {"severity", e.severity},
                      {"group", std::move(group)},
                      {"alert_id", e.alert_id},
                      {"state", alert_state_name(e.state)},
                      {"previous", alert_state_name(e.previous)},
                      {"value", e.value},
                      {"message", e.message},
                      {"time", e.time},
                      {"started", e.started}};
  if (!e.user.empty()) j["user"] = e.user;
  if (!e.comment.empty()) j["comment"] = e.comment;
  return j;
}

}  // namespace liandu::toolbox::rules
