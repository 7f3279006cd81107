#include <sodium.h>

#include "http/handlers/endpoints.h"
#include "http/handlers/rest_util.h"
#include "query/executor/result.h"
#include "toolbox/service/rules_service.h"

namespace liandu::http::handlers {

namespace {

// A new signing secret when the request gives none: 32 random bytes, hex.
std::string generate_secret() {
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  char hex[sizeof raw * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
  return hex;
}

// The delivery state of receiver `name` since the server started, over the
// rules of the tenant's databases (a delivery's target is "<db>/<name>"):
// counts summed, the most recent failed attempt's error (null when none).
nlohmann::json delivery_json(api& a, const std::vector<std::string>& dbs, const std::string& name) {
  toolbox::rules::webhook_delivery::target_counters sum;
  for (const auto& db : dbs) {
    auto c = a.options.rules->webhook_receiver_stats(db, name);
    sum.attempts += c.attempts;
    sum.delivered += c.delivered;
    sum.failed += c.failed;
    sum.rejected += c.rejected;
    sum.queued += c.queued;
    if (c.last_error_time > sum.last_error_time) {
      sum.last_error = std::move(c.last_error);
      sum.last_error_time = c.last_error_time;
    }
  }
  const bool failed_once = sum.last_error_time != 0;
  return {{"attempts", sum.attempts},
          {"delivered", sum.delivered},
          {"failed", sum.failed},
          {"rejected", sum.rejected},
          {"queued", sum.queued},
          {"last_error", failed_once ? nlohmann::json(sum.last_error) : nlohmann::json(nullptr)},
          {"last_error_time", failed_once
                                  ? nlohmann::json(liandu::query::format_rfc3339_nano(sum.last_error_time))
                                  : nlohmann::json(nullptr)}};
}

}  // namespace

// /api/v1/webhooks: the tenant's webhook receivers, which rule actions name
// ({"type": "webhook", "receiver": "<name>"}). GET lists them (never their
// secrets) with their delivery state (delivery_json); POST {"name", "url",
// "secret"?} creates or replaces one and returns its secret once ("secret":
// "" for unsigned deliveries; generated when absent); DELETE
// /api/v1/webhooks/{name} removes one. Admins only: they decide which
// addresses the server may call.
response webhooks(api& a, const request& req) {
  auto who = authenticate(a, req);
  if (!who.ok()) return auth_error(who.error());
  if (!who->admin) return json_error(403, "only an admin may manage webhook receivers");
  if (req.method == verb::get) {
    auto list = a.catalog.list_webhooks(who->tenant_id);
    if (!list.ok()) return json_error(500, list.error().message());
    auto dbs = a.catalog.list_databases(who->tenant_id);
    if (!dbs.ok()) return json_error(500, dbs.error().message());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& w : *list) {
      nlohmann::json entry = {
          {"name", w.name}, {"url", w.url}, {"signed", !w.secret.empty()}, {"created_ns", w.created_ns}};
      if (a.options.rules != nullptr) entry["delivery"] = delivery_json(a, *dbs, w.name);
      out.push_back(std::move(entry));
    }
    return json_response(200, {{"webhooks", out}});
  }
  if (req.method == verb::post) {
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (!body.is_object()) return json_error(400, "request body must be a JSON object");
    for (const char* key : {"name", "url"}) {
      if (!body.contains(key) || !body[key].is_string())
        return json_error(400, std::string(key) + " is required (a string)");
    }
    for (auto& [key, _] : body.items()) {
      if (key != "name" && key != "url" && key != "secret") return json_error(400, key + ": unknown member");
    }
    if (body.contains("secret") && !body["secret"].is_string())
      return json_error(400, "secret must be a string");
    catalog::webhook_receiver w;
    w.name = body["name"].get<std::string>();
    w.url = body["url"].get<std::string>();
    w.secret = body.contains("secret") ? body["secret"].get<std::string>() : generate_secret();
    status s = a.catalog.put_webhook(who->tenant_id, w);
    if (!s.ok()) return json_error(status_for(s.code()), s.message());
    return json_response(201, {{"name", w.name}, {"url", w.url}, {"secret", w.secret}});
  }
  if (req.method == verb::delete_) {
    std::string name = path_tail(req, "/api/v1/webhooks/");
    if (name.empty()) return json_error(400, "receiver name required: DELETE /api/v1/webhooks/{name}");
    status s = a.catalog.delete_webhook(who->tenant_id, name);
    if (!s.ok()) return json_error(status_for(s.code()), s.message());
    return no_content();
  }
  return json_error(405, "method not allowed");
}

}  // namespace liandu::http::handlers
