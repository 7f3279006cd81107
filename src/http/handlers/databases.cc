#include "http/handlers/endpoints.h"
#include "http/handlers/rest_util.h"

namespace liandu::http::handlers {

// /api/v1/databases: GET lists the tenant's databases the caller can read;
// POST {"name": "..."} creates one (admin); DELETE /api/v1/databases/{name}
// drops one (admin).
response databases(api& a, const request& req) {
  auto who = authenticate(a, req);
  if (!who.ok()) return auth_error(who.error());
  if (req.method == verb::get) {
    auto list = a.catalog.list_databases(who->tenant_id);
    if (!list.ok()) return json_error(500, list.error().message());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& db : *list) {
      if (who->can_read(db)) out.push_back(db);
    }
    return json_response(200, {{"databases", out}});
  }
  if (!who->admin) return json_error(403, "only an admin may create or drop databases");
  if (req.method == verb::post) {
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("name") || !body["name"].is_string()) {
      return json_error(400, "request body must be {\"name\": \"<database>\"}");
    }
    std::string name = body["name"];
    auto owner = a.catalog.database_tenant(name);
    if (owner.ok() && *owner != who->tenant_id) return json_error(409, "database name is taken");
    if (!owner.ok()) {
      status s = a.catalog.register_database(who->tenant_id, name);
      if (!s.ok()) return json_error(status_for(s.code()), s.message());
    }
    status s = a.engine.create_database(name);
    if (!s.ok()) return json_error(status_for(s.code()), s.message());
    return json_response(201, {{"name", name}});
  }
  if (req.method == verb::delete_) {
    std::string name = path_tail(req, "/api/v1/databases/");
    if (name.empty()) return json_error(400, "database name required: DELETE /api/v1/databases/{name}");
    status s = a.catalog.unregister_database(who->tenant_id, name);
    if (!s.ok()) return json_error(status_for(s.code()), s.message());
    s = a.engine.drop_database(name);
    if (!s.ok()) return json_error(500, s.message());
    return no_content();
  }
  return json_error(405, "method not allowed");
}

// /api/v1/users: GET lists the tenant's users; POST {"name", "password",
// "admin", "permissions"} creates one. Admins only.
response users(api& a, const request& req) {
  auto who = authenticate(a, req);
  if (!who.ok()) return auth_error(who.error());
  if (!who->admin) return json_error(403, "only an admin may manage users");
  if (req.method == verb::get) {
    auto list = a.catalog.list_users(who->tenant_id);
    if (!list.ok()) return json_error(500, list.error().message());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& u : *list) out.push_back({{"name", u.name}, {"admin", u.admin}});
    return json_response(200, {{"users", out}});
  }
  if (req.method == verb::post) {
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (!body.is_object() || !body.contains("name") || !body.contains("password")) {
      return json_error(400, "request body must be {\"name\", \"password\", \"admin\"?, \"permissions\"?}");
    }
    std::string name = body.value("name", "");
    status s =
        a.catalog.create_user(who->tenant_id, name, body.value("password", ""), body.value("admin", false));
    if (!s.ok()) return json_error(status_for(s.code()), s.message());
    if (body.contains("permissions") && body["permissions"].is_object()) {
      for (auto& [db, p] : body["permissions"].items()) {
        auto perm = catalog::parse_permission(p.is_string() ? p.get<std::string>() : "");
        if (!perm.ok()) return json_error(400, "permission of \"" + db + "\": " + perm.error().message());
        s = a.catalog.set_user_permission(who->tenant_id, name, db, *perm);
        if (!s.ok()) return json_error(status_for(s.code()), s.message());
      }
    }
    return json_response(201, {{"name", name}});
  }
  return json_error(405, "method not allowed");
}

}  // namespace liandu::http::handlers
