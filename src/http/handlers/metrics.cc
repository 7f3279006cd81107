#include "base/prometheus_text.h"
#include "http/handlers/api.h"
#include "http/handlers/endpoints.h"
#include "http/handlers/live_hub.h"

namespace liandu::http::handlers {

// GET /metrics: Prometheus text exposition format 0.0.4.
response metrics(api& a, const request& req) {
  auto who = authenticate(a, req);
  if (!who.ok()) return auth_error(who.error());
  storage::engine_stats s = a.engine.stats();
  std::string out;
  out.reserve(16 << 10);
  prometheus::text_writer w(out);
  w.counter("liandu_points_written_total", "Points written to storage.", s.points_written);
  w.counter("liandu_values_written_total", "Field values written to storage.", s.values_written);
  w.counter("liandu_write_bytes_received_total", "Bytes of write request bodies received.",
            a.metrics.bytes_received.load());
  w.counter("liandu_write_requests_total", "Write requests.", a.metrics.write_requests.load());
  w.counter("liandu_write_errors_total", "Write requests answered with an error.",
            a.metrics.write_errors.load());
  w.counter("liandu_query_requests_total", "Query requests.", a.metrics.query_requests.load());
  w.counter("liandu_query_errors_total", "Query requests with an error.", a.metrics.query_errors.load());
  w.counter("liandu_auth_failures_total", "Requests refused for bad credentials.",
            a.metrics.auth_failures.load());
  a.metrics.write_latency.render(w, "liandu_write_duration_seconds",
                                 "Write latency, durable acknowledgement.");
  a.metrics.query_latency.render(w, "liandu_query_duration_seconds", "Query latency.");
  a.metrics.wal_fsync_latency.render(w, "liandu_wal_fsync_duration_seconds",
                                     "WAL fsync latency (per group commit).");
  w.counter("liandu_wal_fsyncs_total", "WAL fsyncs (group commits).", s.wal_fsyncs);
  w.counter("liandu_wal_bytes_total", "Bytes written to the WAL.", s.wal_bytes);
  w.counter("liandu_wal_fsync_seconds_total", "Time spent in WAL fsync.",
            static_cast<double>(s.wal_fsync_nanos) / 1e9);
  w.gauge("liandu_head_bytes", "Memory held by in-memory heads.", s.head_bytes);
  w.gauge("liandu_index_bytes", "Memory held by the series index.", s.index_bytes);
  w.gauge("liandu_block_files", "Block files on disk.", s.block_files);
  w.gauge("liandu_block_bytes", "Bytes in block files.", s.block_bytes);
  w.counter("liandu_checkpoints_total", "Checkpoints (head flushes).", s.checkpoints);
  w.counter("liandu_compactions_total", "Partition compactions.", s.compactions);
  w.family("liandu_series", "Series per database.", prometheus::metric_type::gauge);
  for (const auto& [db, n] : s.series_per_database) {
    // Only the caller's tenant's databases are named.
    if (!a.catalog.authorize(*who, db, catalog::access::read).ok()) continue;
    w.sample(n, {{"database", db}});
  }
  if (a.options.live != nullptr) {
    w.gauge("liandu_live_subscribers", "WebSocket live subscribers.", a.options.live->subscribers());
    w.counter("liandu_live_messages_total", "Live messages queued to subscribers.",
              a.options.live->sent_total());
    w.counter("liandu_live_dropped_total", "Live messages dropped for slow subscribers.",
              a.options.live->dropped_total());
  }
  if (a.options.open_connections) {
    w.gauge("liandu_http_open_connections", "Open HTTP connections.", a.options.open_connections());
  }
  for (const auto& source : a.options.metric_sources) source(w);
  response r;
  r.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  r.body = std::move(out);
  return r;
}

}  // namespace liandu::http::handlers
