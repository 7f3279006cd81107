#include <cstdio>

#include "http/handlers/api.h"
#include "http/handlers/endpoints.h"
#include "http/handlers/live_hub.h"

namespace liandu::http::handlers {

namespace {
void counter(std::string& out, const char* name, const char* help, uint64_t v, const char* type = "counter") {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name,
                static_cast<unsigned long long>(v));
  out += buf;
}
std::string label_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}
}  // namespace

// GET /metrics: Prometheus text exposition format 0.0.4.
response metrics(api& a, const request& req) {
  auto who = authenticate(a, req);
  if (!who.ok()) return auth_error(who.error());
  storage::engine_stats s = a.engine.stats();
  std::string out;
  counter(out, "liandu_points_written_total", "Points written to storage.", s.points_written);
  counter(out, "liandu_values_written_total", "Field values written to storage.", s.values_written);
  counter(out, "liandu_write_bytes_received_total", "Bytes of write request bodies received.",
          a.metrics.bytes_received);
  counter(out, "liandu_write_requests_total", "Write requests.", a.metrics.write_requests);
  counter(out, "liandu_write_errors_total", "Write requests answered with an error.", a.metrics.write_errors);
  counter(out, "liandu_query_requests_total", "Query requests.", a.metrics.query_requests);
  counter(out, "liandu_query_errors_total", "Query requests with an error.", a.metrics.query_errors);
  counter(out, "liandu_auth_failures_total", "Requests refused for bad credentials.",
          a.metrics.auth_failures);
  a.metrics.write_latency.render(out, "liandu_write_duration_seconds",
                                 "Write latency, durable acknowledgement.");
  a.metrics.query_latency.render(out, "liandu_query_duration_seconds", "Query latency.");
  a.metrics.wal_fsync_latency.render(out, "liandu_wal_fsync_duration_seconds",
                                     "WAL fsync latency (per group commit).");
  counter(out, "liandu_wal_fsyncs_total", "WAL fsyncs (group commits).", s.wal_fsyncs);
  counter(out, "liandu_wal_bytes_total", "Bytes written to the WAL.", s.wal_bytes);
  char buf[160];
  std::snprintf(buf, sizeof(buf),
                "# HELP liandu_wal_fsync_seconds_total Time spent in WAL fsync.\n"
                "# TYPE liandu_wal_fsync_seconds_total counter\nliandu_wal_fsync_seconds_total %.6f\n",
                static_cast<double>(s.wal_fsync_nanos) / 1e9);
  out += buf;
  counter(out, "liandu_head_bytes", "Memory held by in-memory heads.", s.head_bytes, "gauge");
  counter(out, "liandu_index_bytes", "Memory held by the series index.", s.index_bytes, "gauge");
  counter(out, "liandu_block_files", "Block files on disk.", s.block_files, "gauge");
  counter(out, "liandu_block_bytes", "Bytes in block files.", s.block_bytes, "gauge");
  counter(out, "liandu_checkpoints_total", "Checkpoints (head flushes).", s.checkpoints);
  counter(out, "liandu_compactions_total", "Partition compactions.", s.compactions);
  out += "# HELP liandu_series Series per database.\n# TYPE liandu_series gauge\n";
  for (const auto& [db, n] : s.series_per_database) {
    // Only the caller's tenant's databases are named.
    if (!a.catalog.authorize(*who, db, catalog::access::read).ok()) continue;
    out += "liandu_series{database=\"" + label_escape(db) + "\"} " + std::to_string(n) + "\n";
  }
  if (a.options.live != nullptr) {
    counter(out, "liandu_live_subscribers", "WebSocket live subscribers.", a.options.live->subscribers(),
            "gauge");
    counter(out, "liandu_live_messages_total", "Live messages queued to subscribers.",
            a.options.live->sent_total());
    counter(out, "liandu_live_dropped_total", "Live messages dropped for slow subscribers.",
            a.options.live->dropped_total());
  }
  if (a.options.open_connections) {
    counter(out, "liandu_http_open_connections", "Open HTTP connections.", a.options.open_connections(),
            "gauge");
  }
  for (const auto& source : a.options.metric_sources) source(out);
  response r;
  r.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  r.body = std::move(out);
  return r;
}

}  // namespace liandu::http::handlers
