#include "http/handlers/endpoints.h"
#include "http/handlers/rest_util.h"
#include "toolbox/service/twin_service.h"

namespace liandu::http::handlers {

namespace {

response twin_error(const status& s) {
  if (s.code() == errc::unauthorized || s.code() == errc::forbidden) return auth_error(s);
  return json_error(status_for(s.code()), s.message());
}

}  // namespace

// Device twins of database db (see src/toolbox/README.md):
//   GET /api/v1/twins?db=            list: desired, reported, pending, drift
//   PUT or POST /api/v1/twins?db=    body {"device", "desired": {...}, "tolerance"?,
//                                    "measurement"?, "tag"?}; adds or replaces
//   GET /api/v1/twins/<device>?db=   one twin
//   DELETE /api/v1/twins/<device>?db=
// Reading needs read access to db, changes need write access.
response twins(api& a, const request& req) {
  auto who = authenticate(a, req);
  if (!who.ok()) return auth_error(who.error());
  if (a.options.twins == nullptr) return json_error(404, "twins are not enabled");
  std::string db(req.param_or("db", ""));
  if (db.empty()) return json_error(400, "database is required (db parameter)");
  bool writes = req.method != verb::get;
  if (status s = a.catalog.authorize(*who, db, writes ? catalog::access::write : catalog::access::read);
      !s.ok()) {
    return twin_error(s);
  }
  std::string device = path_tail(req, "/api/v1/twins/");  // the path is decoded already
  if (req.method == verb::get && device.empty()) {
    nlohmann::json out = nlohmann::json::array();
    for (auto& t : a.options.twins->list(db)) out.push_back(std::move(t));
    return json_response(200, {{"twins", std::move(out)}});
  }
  if (req.method == verb::get) {
    auto t = a.options.twins->get(db, device);
    if (!t.ok()) return twin_error(t.error());
    return json_response(200, *t);
  }
  if ((req.method == verb::put || req.method == verb::post) && device.empty()) {
    auto t = a.options.twins->put(db, req.body);
    if (!t.ok()) return twin_error(t.error());
    return json_response(200, *t);
  }
  if (req.method == verb::delete_ && !device.empty()) {
    status s = a.options.twins->remove(db, device);
    if (!s.ok()) return twin_error(s);
    return no_content();
  }
  return json_error(405, "method not allowed");
}

}  // namespace liandu::http::handlers
