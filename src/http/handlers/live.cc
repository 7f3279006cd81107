#include "http/handlers/api.h"
#include "http/handlers/endpoints.h"
#include "http/handlers/live_hub.h"

namespace liandu::http::handlers {

// WebSocket /api/v1/live?db=&measurement=&tag.<key>=<value>&q=&token=
// Subscribes to new points of a database (optionally one measurement and tag
// equalities, and/or an InfluxQL SELECT without aggregates in q, see
// live_filter.h) as they become durable. Browsers cannot set headers on a
// WebSocket, so the token may come as a `token` parameter.
response live(api& a, const request& req_in, std::shared_ptr<live_channel> channel) {
  request req = req_in;
  if (auto t = req.param("token"); t && !req.header("Authorization")) {
    req.headers.emplace_back("Authorization", "Token " + std::string(*t));
  }
  auto who = authenticate(a, req);
  if (!who.ok()) return auth_error(who.error());
  if (a.options.live == nullptr) return json_error(404, "live stream is not enabled");
  std::string db(req.param_or("db", ""));
  if (db.empty()) return json_error(400, "database is required");
  status allowed = a.catalog.authorize(*who, db, catalog::access::read);
  if (!allowed.ok()) return auth_error(allowed);
  live_hub::subscription s;
  if (auto q = req.param("q"); q && !q->empty()) {
    auto filter = live_filter::parse(*q);
    if (!filter.ok()) return json_error(400, filter.error().message());
    if (!(*filter)->database().empty() && (*filter)->database() != db) {
      return json_error(400, "live query: FROM names database " + (*filter)->database() + ", db is " + db);
    }
    s.filter = std::move(filter).value();
  }
  s.database = db;
  s.measurement = std::string(req.param_or("measurement", ""));
  for (const auto& [k, v] : req.query) {
    if (k.rfind("tag.", 0) == 0 && k.size() > 4) s.tags.emplace_back(k.substr(4), v);
  }
  s.channel = std::move(channel);
  a.options.live->add(std::move(s));
  response r;
  r.status = 101;
  return r;
}

}  // namespace liandu::http::handlers
