#include <sodium.h>

#include "http/handlers/endpoints.h"
#include "http/handlers/rest_util.h"

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

}  // namespace

// /api/v1/webhooks: the tenant's webhook receivers, which rule actions name
// ({"type": "webhook", "receiver": "<name>"}). GET lists them (never their
// secrets); POST {"name", "url", "secret"?} creates or replaces one and
// returns its secret once ("secret": "" for unsigned deliveries; generated
// when absent); DELETE /api/v1/webhooks/{name} removes one. Admins only:
// they decide which addresses the server may call.
response webhooks(api& a, const request& req) {
  auto who = authenticate(a, req);
  if (!who.ok()) return auth_error(who.error());
  if (!who->admin) return json_error(403, "only an admin may manage webhook receivers");
  if (req.method == verb::get) {
    auto list = a.catalog.list_webhooks(who->tenant_id);
    if (!list.ok()) return json_error(500, list.error().message());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& w : *list) {
      out.push_back(
          {{"name", w.name}, {"url", w.url}, {"signed", !w.secret.empty()}, {"created_ns", w.created_ns}});
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
