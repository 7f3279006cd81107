#include "http/handlers/config_collection.h"
#include "http/handlers/endpoints.h"
#include "http/handlers/rest_util.h"

namespace liandu::http::handlers {

namespace {

const nlohmann::json* find_entry(const std::vector<nlohmann::json>& all, std::string_view name) {
  for (const auto& e : all) {
    if (e.is_object() && e.value("name", "") == name) return &e;
  }
  return nullptr;
}

}  // namespace

// GET /api/v1/<c> lists the entries whose database the caller may read; POST
// adds or replaces one (write access to its database, and to the database of
// the entry it replaces); DELETE /api/v1/<c>/<name> removes one.
response collection(api& a, const request& req, std::string_view prefix, config_collection& c) {
  auto who = authenticate(a, req);
  if (!who.ok()) return auth_error(who.error());
  auto may = [&](const nlohmann::json& e, catalog::access need) {
    return a.catalog.authorize(*who, e.value("database", ""), need);
  };
  if (req.method == verb::get) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : c.list()) {
      if (may(e, catalog::access::read).ok()) out.push_back(e);
    }
    return json_response(200, out);
  }
  if (req.method == verb::post) {
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (!body.is_object()) return json_error(400, "request body must be a JSON object");
    if (!body.contains("name") || !body["name"].is_string() || body["name"].get<std::string>().empty()) {
      return json_error(400, "entry: \"name\" is required (a non-empty string)");
    }
    if (!body.contains("database") || !body["database"].is_string()) {
      return json_error(400,
                        "entry " + body["name"].get<std::string>() + ": \"database\" is required (a string)");
    }
    status s = may(body, catalog::access::write);
    if (!s.ok()) return auth_error(s);
    auto all = c.list();
    if (const auto* old = find_entry(all, body["name"].get<std::string>());
        old && !may(*old, catalog::access::write).ok()) {
      return json_error(
          409, "entry " + body["name"].get<std::string>() + " exists and belongs to another database");
    }
    s = c.put(body);
    if (!s.ok()) return json_error(status_for(s.code()), s.message());
    // Answer with the entry as listed (normalised, secrets masked), not the
    // request body.
    auto now = c.list();
    const auto* stored = find_entry(now, body["name"].get<std::string>());
    return json_response(201, stored != nullptr ? *stored : nlohmann::json::object());
  }
  if (req.method == verb::delete_) {
    std::string name = path_tail(req, prefix);
    auto all = c.list();
    const auto* old = find_entry(all, name);
    if (old == nullptr || !may(*old, catalog::access::read).ok())
      return json_error(404, "no entry named " + name);
    status s = may(*old, catalog::access::write);
    if (!s.ok()) return auth_error(s);
    s = c.remove(name);
    if (!s.ok()) return json_error(status_for(s.code()), s.message());
    return no_content();
  }
  return json_error(405, "method not allowed");
}

}  // namespace liandu::http::handlers
