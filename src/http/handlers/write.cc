#include <chrono>

#include "base/clock.h"
#include "http/handlers/api.h"
#include "http/handlers/endpoints.h"
#include "ingest/point_writer.h"

namespace liandu::http::handlers {

namespace {

// Writes a line-protocol body to db/rp as principal `who`, answering with
// InfluxDB 1.8's status codes and texts.
response write_body(api& a, const catalog::principal& who, std::string_view db, std::string_view rp,
                    model::precision precision, const request& req) {
  auto start = std::chrono::steady_clock::now();
  a.metrics.write_requests++;
  a.metrics.bytes_received += req.body.size();
  status allowed = a.catalog.authorize(who, db, catalog::access::write);
  if (!allowed.ok()) {
    a.metrics.write_errors++;
    if (allowed.code() == errc::not_found) {
      return json_error(404, "database not found: \"" + std::string(db) + "\"");
    }
    return auth_error(allowed);
  }
  ingest::write_outcome out =
      ingest::write_line_protocol(a.engine, db, rp, precision, req.body, now_ns(), a.options.line_limits);
  a.metrics.write_latency.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (!out.st.ok()) {
    a.metrics.write_errors++;
    switch (out.st.code()) {
      case errc::not_found: return json_error(404, out.st.message());
      case errc::limit_exceeded: {
        response r = json_error(503, out.st.message());
        r.set_header("Retry-After", "1");
        return r;
      }
      default: return json_error(500, out.st.message());
    }
  }
  if (out.partial()) {
    a.metrics.write_errors++;
    if (out.points_written == 0 && out.storage_errors.empty()) {
      // Nothing parsed: InfluxDB answers with the parse error alone.
      std::string msg;
      for (const auto& e : out.parse_errors) {
        if (!msg.empty()) msg += "\n";
        msg += e.message + " (line " + std::to_string(e.line) + ", column " + std::to_string(e.column) + ")";
      }
      return json_error(400, msg);
    }
    return json_error(400, out.partial_message(req.body));
  }
  response r;
  r.status = 204;
  return r;
}

}  // namespace

// POST /write?db=&rp=&precision=&u=&p=  (InfluxDB 1.x)
response write_v1(api& a, const request& req) {
  auto who = authenticate(a, req);
  if (!who.ok()) return auth_error(who.error());
  std::string_view db = req.param_or("db", "");
  if (db.empty()) return json_error(400, "database is required");
  model::precision p;
  if (!model::parse_precision(req.param_or("precision", "ns"), p)) {
    return json_error(400, "invalid precision \"" + std::string(req.param_or("precision", "")) +
                               "\" (use n, u, ms, s, m or h)");
  }
  return write_body(a, *who, db, req.param_or("rp", ""), p, req);
}

// POST /api/v2/write?org=&bucket=db[/rp]&precision=  (InfluxDB 2.x compatibility)
response write_v2(api& a, const request& req) {
  auto who = authenticate(a, req);
  if (!who.ok()) return auth_error(who.error());
  std::string_view bucket = req.param_or("bucket", "");
  if (bucket.empty()) return json_error(400, "bucket is required");
  std::string_view db = bucket, rp;
  if (auto slash = bucket.find('/'); slash != std::string_view::npos) {
    db = bucket.substr(0, slash);
    rp = bucket.substr(slash + 1);
  }
  model::precision p;
  if (!model::parse_precision(req.param_or("precision", "ns"), p)) {
    return json_error(400, "invalid precision \"" + std::string(req.param_or("precision", "")) +
                               "\" (use ns, us, ms or s)");
  }
  return write_body(a, *who, db, rp, p, req);
}

}  // namespace liandu::http::handlers
