#include "http/handlers/endpoints.h"
#include "http/handlers/rest_util.h"
#include "toolbox/service/rules_service.h"

namespace liandu::http::handlers {

namespace {

// The database of a rules/alerts request, checked for the access it needs.
result<std::string> scoped_db(api& a, const request& req, const catalog::principal& who,
                              catalog::access need) {
  std::string db(req.param_or("db", ""));
  if (db.empty()) return error(errc::invalid_argument, "database is required (db parameter)");
  status s = a.catalog.authorize(who, db, need);
  if (!s.ok()) return s;
  return db;
}

response from_status(const status& s) {
  if (s.code() == errc::unauthorized || s.code() == errc::forbidden) return auth_error(s);
  return json_error(status_for(s.code()), s.message());
}

nlohmann::json alert_json(const toolbox::rules::alert_info& al) {
  nlohmann::json group = nlohmann::json::object();
  for (const auto& t : al.group) group[t.key] = t.value;
  return {{"rule_id", al.rule_id},
          {"rule_name", al.rule_name},
          {"group", group},
          {"alert_id", al.alert_id},
          {"state", toolbox::rules::alert_state_name(al.state)},
          {"value", al.value},
          {"started", al.started},
          {"last_change", al.last_change},
          {"user", al.user},
          {"comment", al.comment}};
}

}  // namespace

// /api/v1/rules?db=: GET lists, POST creates or replaces (body: a rule, see
// src/toolbox/README.md), DELETE /api/v1/rules/{id}?db= removes.
response rules(api& a, const request& req) {
  auto who = authenticate(a, req);
  if (!who.ok()) return auth_error(who.error());
  if (a.options.rules == nullptr) return json_error(404, "rules are not enabled");
  bool writes = req.method != verb::get;
  auto db = scoped_db(a, req, *who, writes ? catalog::access::write : catalog::access::read);
  if (!db.ok()) return from_status(db.error());
  if (req.method == verb::get) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : a.options.rules->list_rules(*db)) out.push_back(toolbox::rules::rule_to_json(r));
    return json_response(200, {{"rules", out}});
  }
  if (req.method == verb::post) {
    auto r = a.options.rules->put_rule(*db, req.body);
    if (!r.ok()) return json_error(status_for(r.error().code()), r.error().message());
    return json_response(201, toolbox::rules::rule_to_json(*r));
  }
  if (req.method == verb::delete_) {
    std::string id = path_tail(req, "/api/v1/rules/");
    status s = a.options.rules->delete_rule(*db, id);
    if (!s.ok()) return from_status(s);
    return no_content();
  }
  return json_error(405, "method not allowed");
}

// GET /api/v1/alerts?db= lists open alerts; POST /api/v1/alerts/ack?db= with
// {"rule_id", "group": {tag: value}, "comment"} acknowledges one.
response alerts(api& a, const request& req) {
  auto who = authenticate(a, req);
  if (!who.ok()) return auth_error(who.error());
  if (a.options.rules == nullptr) return json_error(404, "rules are not enabled");
  bool writes = req.method != verb::get;
  auto db = scoped_db(a, req, *who, writes ? catalog::access::write : catalog::access::read);
  if (!db.ok()) return from_status(db.error());
  if (req.method == verb::get) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& al : a.options.rules->alerts(*db)) out.push_back(alert_json(al));
    return json_response(200, {{"alerts", out}});
  }
  auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("rule_id") || !body["rule_id"].is_string()) {
    return json_error(400, "request body must be {\"rule_id\", \"group\": {tag: value}, \"comment\"}");
  }
  std::vector<model::tag> group;
  if (body.contains("group") && body["group"].is_object()) {
    for (auto& [k, v] : body["group"].items())
      group.push_back({k, v.is_string() ? v.get<std::string>() : v.dump()});
  }
  std::sort(group.begin(), group.end(),
            [](const model::tag& x, const model::tag& y) { return x.key < y.key; });
  status s = a.options.rules->acknowledge(*db, body["rule_id"].get<std::string>(), group, who->subject,
                                          body.value("comment", ""));
  if (!s.ok()) return from_status(s);
  return no_content();
}

}  // namespace liandu::http::handlers
