#include <cctype>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "http/handlers/api.h"
#include "http/handlers/endpoints.h"
#include "http/handlers/tenant_storage.h"
#include "query/executor/executor.h"
#include "query/executor/result.h"

namespace liandu::http::handlers {

namespace {

bool wants_csv(const request& req) {
  auto accept = req.header("Accept");
  return accept && accept->find("application/csv") != std::string_view::npos;
}

bool contains_word(std::string_view text, std::string_view upper) {
  for (size_t i = 0; i + upper.size() <= text.size(); ++i) {
    size_t k = 0;
    while (k < upper.size() && std::toupper(static_cast<unsigned char>(text[i + k])) == upper[k]) ++k;
    if (k == upper.size()) return true;
  }
  return false;
}

}  // namespace

// GET/POST /query?q=&db=&rp=&epoch=&pretty=&chunked=&chunk_size=
// InfluxDB 1.8's shapes: 200 with per-statement errors inside the results;
// 400 for a missing q or a parse error; 401/403 for credentials.
response query(api& a, const request& req_in) {
  auto start = std::chrono::steady_clock::now();
  request req = req_in;
  status form = merge_form_body(req);
  if (!form.ok()) return json_error(400, form.message());
  auto who = authenticate(a, req);
  if (!who.ok()) return auth_error(who.error());
  a.metrics.query_requests++;
  std::string_view q = req.param_or("q", "");
  if (q.empty()) return json_error(400, "missing required parameter \"q\"");

  query::engine_storage inner(a.engine);
  tenant_storage scoped(inner, a.catalog, *who);
  query::query_options opts;
  opts.db = std::string(req.param_or("db", ""));
  opts.rp = std::string(req.param_or("rp", ""));
  opts.epoch = std::string(req.param_or("epoch", ""));
  opts.now_ns = now_ns();
  opts.memory_limit_bytes = a.options.query_memory_limit_bytes;
  opts.cqs = a.options.continuous_queries;
  query::execution ex = query::execute(scoped, q, opts);
  if (a.options.persist_continuous_queries && contains_word(q, "CONTINUOUS")) {
    a.options.persist_continuous_queries();
  }
  a.metrics.query_latency.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());

  response r;
  r.set_header("X-Influxdb-Version", "1.8.10-liandu-" LIANDU_VERSION);
  if (!ex.parse_error.empty()) {
    a.metrics.query_errors++;
    r.status = 400;
    r.set_header("Content-Type", "application/json");
    r.set_header("X-Influxdb-Error", ex.parse_error);
    r.body = query::error_json(ex.parse_error) + "\n";
    return r;
  }
  for (const auto& s : ex.results) {
    if (!s.error.empty()) a.metrics.query_errors++;
  }
  query::time_format tf{opts.epoch};
  if (wants_csv(req)) {
    r.set_header("Content-Type", "application/csv");
    r.body = query::to_csv(ex.results, tf);
    return r;
  }
  r.set_header("Content-Type", "application/json");
  if (req.param_or("chunked", "") == "true") {
    // One JSON object per chunk, newline separated, as InfluxDB streams them.
    size_t chunk_size = 10000;
    try {
      if (auto cs = req.param("chunk_size")) chunk_size = std::max<size_t>(1, std::stoul(std::string(*cs)));
    } catch (...) {
      return json_error(400, "invalid chunk_size");
    }
    auto pieces = std::make_shared<std::vector<std::string>>();
    for (const auto& s : ex.results) {
      for (const auto& c : query::split_chunks(s, chunk_size))
        pieces->push_back(query::to_json({c}, tf) + "\n");
    }
    auto next = std::make_shared<size_t>(0);
    r.stream = [pieces, next]() -> std::optional<std::string> {
      if (*next >= pieces->size()) return std::nullopt;
      return (*pieces)[(*next)++];
    };
    return r;
  }
  r.body = query::to_json(ex.results, tf);
  if (req.param_or("pretty", "") == "true") {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (!j.is_discarded()) r.body = j.dump(4);
  }
  r.body += "\n";
  return r;
}

}  // namespace liandu::http::handlers
