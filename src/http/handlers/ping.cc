#include "http/handlers/api.h"
#include "http/handlers/endpoints.h"

namespace liandu::http::handlers {

// GET/HEAD /ping: 204 with the version headers InfluxDB clients look for.
// `verbose=true` answers 200 with {"version": ...} as InfluxDB 1.8 does.
response ping(api&, const request& req) {
  response r;
  r.set_header("X-Influxdb-Version", "1.8.10-liandu-" LIANDU_VERSION);
  r.set_header("X-Influxdb-Build", "OSS");
  r.set_header("X-Liandu-Version", LIANDU_VERSION);
  if (req.param_or("verbose", "") == "true") {
    r.status = 200;
    r.set_header("Content-Type", "application/json");
    r.body = std::string("{\"version\":\"") + "1.8.10-liandu-" LIANDU_VERSION + "\"}";
  } else {
    r.status = 204;
  }
  return r;
}

// GET /health: InfluxDB 1.8's shape.
response health(api&, const request&) {
  response r;
  r.status = 200;
  r.set_header("Content-Type", "application/json");
  r.body = std::string("{\"checks\":[],\"message\":\"ready for queries and writes\",\"name\":\"liandu\",") +
           "\"status\":\"pass\",\"version\":\"" LIANDU_VERSION "\"}";
  return r;
}

}  // namespace liandu::http::handlers
