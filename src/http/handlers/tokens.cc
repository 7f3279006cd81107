#include "http/handlers/endpoints.h"
#include "http/handlers/rest_util.h"

namespace liandu::http::handlers {

namespace {
nlohmann::json perms_json(const catalog::permission_map& perms) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [db, p] : perms) j[db] = p.read && p.write ? "all" : (p.read ? "read" : "write");
  return j;
}
}  // namespace

// /api/v1/tokens: GET lists the tenant's tokens (never their secrets); POST
// {"description", "admin", "permissions": {"db": "read|write|all"}} creates
// one and returns its secret once; DELETE /api/v1/tokens/{id} revokes. Admins only.
response tokens(api& a, const request& req) {
  auto who = authenticate(a, req);
  if (!who.ok()) return auth_error(who.error());
  if (!who->admin) return json_error(403, "only an admin token may manage tokens");
  if (req.method == verb::get) {
    auto list = a.catalog.list_tokens(who->tenant_id);
    if (!list.ok()) return json_error(500, list.error().message());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : *list) {
      out.push_back({{"id", t.id},
                     {"description", t.description},
                     {"admin", t.admin},
                     {"permissions", perms_json(t.permissions)},
                     {"created_ns", t.created_ns},
                     {"revoked", t.revoked}});
    }
    return json_response(200, {{"tokens", out}});
  }
  if (req.method == verb::post) {
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (!body.is_object()) return json_error(400, "request body must be a JSON object");
    catalog::permission_map perms;
    if (body.contains("permissions")) {
      if (!body["permissions"].is_object()) return json_error(400, "permissions must be an object");
      for (auto& [db, p] : body["permissions"].items()) {
        if (!p.is_string()) return json_error(400, "permission of \"" + db + "\" must be a string");
        auto perm = catalog::parse_permission(p.get<std::string>());
        if (!perm.ok()) return json_error(400, "permission of \"" + db + "\": " + perm.error().message());
        perms[db] = *perm;
      }
    }
    std::string description = body.value("description", "");
    bool admin = body.value("admin", false);
    auto t = a.catalog.create_token(who->tenant_id, description, admin, perms);
    if (!t.ok()) return json_error(status_for(t.error().code()), t.error().message());
    return json_response(201, {{"id", t->id},
                               {"token", t->secret},
                               {"description", description},
                               {"admin", admin},
                               {"permissions", perms_json(perms)}});
  }
  if (req.method == verb::delete_) {
    std::string tail = path_tail(req, "/api/v1/tokens/");
    int64_t id = 0;
    try {
      id = std::stoll(tail);
    } catch (...) {
      return json_error(400, "token id required: DELETE /api/v1/tokens/{id}");
    }
    status s = a.catalog.revoke_token(who->tenant_id, id);
    if (!s.ok()) return json_error(status_for(s.code()), s.message());
    return no_content();
  }
  return json_error(405, "method not allowed");
}

}  // namespace liandu::http::handlers
