#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/prometheus_text.h"
#include "base/result.h"
#include "catalog/catalog.h"
#include "http/handlers/api_metrics.h"
#include "http/handlers/config_collection.h"
#include "http/message.h"
#include "http/router.h"
#include "ingest/line_protocol.h"
#include "query/executor/continuous_query.h"
#include "storage/engine.h"

namespace liandu::toolbox {
class rules_service;
class twin_service;
}  // namespace liandu::toolbox

namespace liandu::http::handlers {

struct api_options {
  bool auth_enabled = true;
  ingest::line_protocol_limits line_limits;
  size_t query_memory_limit_bytes = 256ull << 20;
  // Called by /metrics for the open connection count (owned by the server).
  std::function<size_t()> open_connections;
  // Where CREATE/DROP/SHOW CONTINUOUS QUERIES keep definitions (null: not
  // supported), and how a change is made durable.
  query::continuous_query_registry* continuous_queries = nullptr;
  std::function<void()> persist_continuous_queries;
  // The stream bus for WebSocket subscribers (null: /api/v1/live disabled).
  class live_hub* live = nullptr;
  // Rules and alerts (null: /api/v1/rules and /api/v1/alerts disabled).
  toolbox::rules_service* rules = nullptr;
  // Device twins (null: /api/v1/twins disabled).
  toolbox::twin_service* twins = nullptr;
  // Connector configuration served under /api/v1/<key> (e.g. "mqtt/mappings",
  // "modbus/devices", "bridges"); registered before add_routes.
  std::map<std::string, config_collection*> collections;
  // Further /metrics families from connectors and tools, written through the
  // scrape's one writer (a family's header appears once whoever writes its
  // samples). Server-wide figures only.
  std::vector<std::function<void(prometheus::text_writer&)>> metric_sources;
};

// What every handler works with. Owned by the app; outlives the server.
struct api {
  storage::engine& engine;
  catalog::catalog& catalog;
  api_options options;
  api_metrics metrics;
};

// Registers every endpoint: /ping, /health, /write, /api/v2/write, /query,
// /metrics, /api/v1/... and the OpenAPI document.
void add_routes(router& r, api& a);

// Authenticates a request (Authorization: Token/Bearer/Basic, or u/p
// parameters where p is a password or a token). With auth disabled, the
// caller acts as an admin of the default tenant.
result<catalog::principal> authenticate(api& a, const request& req);

// The response for a failed authenticate/authorize, with InfluxDB's texts.
response auth_error(const status& s);

}  // namespace liandu::http::handlers
