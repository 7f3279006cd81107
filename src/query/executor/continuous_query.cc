#include "query/executor/continuous_query.h"

#include <nlohmann/json.hpp>

#include "query/executor/executor.h"
#include "query/executor/internal.h"
#include "query/influxql/parser.h"

namespace liandu::query {

status continuous_query_registry::create(continuous_query_def def) {
  std::lock_guard lock(mu_);
  auto key = std::make_pair(def.database, def.name);
  auto it = defs_.find(key);
  if (it != defs_.end()) {
    if (it->second.query == def.query) return {};
    return error(errc::already_exists, "continuous query already exists");
  }
  defs_.emplace(key, std::move(def));
  return {};
}

status continuous_query_registry::drop(std::string_view database, std::string_view name) {
  std::lock_guard lock(mu_);
  auto key = std::make_pair(std::string(database), std::string(name));
  if (defs_.erase(key) == 0) return error(errc::not_found, "continuous query not found");
  last_run_.erase(key);
  return {};
}

std::vector<continuous_query_def> continuous_query_registry::list() const {
  std::lock_guard lock(mu_);
  std::vector<continuous_query_def> out;
  for (const auto& [k, v] : defs_) out.push_back(v);
  return out;
}

std::string continuous_query_registry::serialize() const {
  std::lock_guard lock(mu_);
  nlohmann::json j = nlohmann::json::array();
  for (const auto& [k, v] : defs_) {
    j.push_back({{"database", v.database}, {"name", v.name}, {"query", v.query}});
  }
  return j.dump();
}

status continuous_query_registry::deserialize(std::string_view json) {
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_array())
    return error(errc::corruption, "continuous queries: not a JSON array");
  std::map<std::pair<std::string, std::string>, continuous_query_def> defs;
  for (const auto& e : j) {
    if (!e.is_object() || !e.contains("database") || !e.contains("name") || !e.contains("query") ||
        !e["database"].is_string() || !e["name"].is_string() || !e["query"].is_string()) {
      return error(errc::corruption, "continuous queries: bad entry");
    }
    continuous_query_def d{e["database"].get<std::string>(), e["name"].get<std::string>(),
                           e["query"].get<std::string>()};
    auto parsed = influxql::parse_statement(d.query);
    if (!parsed.ok() || !std::holds_alternative<influxql::create_continuous_query_statement>(*parsed)) {
      return error(errc::corruption, "continuous queries: bad query for " + d.name);
    }
    defs.emplace(std::make_pair(d.database, d.name), std::move(d));
  }
  std::lock_guard lock(mu_);
  defs_ = std::move(defs);
  return {};
}

int64_t continuous_query_registry::last_run(std::string_view database, std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = last_run_.find(std::make_pair(std::string(database), std::string(name)));
  return it == last_run_.end() ? 0 : it->second;
}

void continuous_query_registry::set_last_run(std::string_view database, std::string_view name, int64_t t) {
  std::lock_guard lock(mu_);
  last_run_[std::make_pair(std::string(database), std::string(name))] = t;
}

std::vector<statement_result> run_continuous_queries(storage& s, continuous_query_registry& registry,
                                                     int64_t now_ns) {
  std::vector<statement_result> results;
  for (const auto& def : registry.list()) {
    auto parsed = influxql::parse_statement(def.query);
    if (!parsed.ok()) continue;
    auto* cq = std::get_if<influxql::create_continuous_query_statement>(&*parsed);
    if (!cq) continue;
    int64_t interval = 0, offset = 0;
    if (!influxql::group_by_time(cq->select, interval, offset) || interval <= 0) continue;
    int64_t every = cq->resample_every > 0 ? cq->resample_every : interval;
    int64_t span = cq->resample_for > 0 ? cq->resample_for : interval;
    // With tz() the windows, and so the range a run covers, are in local
    // time: a daily rollup covers local days, whole, across DST changes.
    // (InfluxDB truncates a CQ's range in UTC, which cuts local days.)
    const time_zone* zone = nullptr;
    std::shared_ptr<const time_zone> loaded;
    if (cq->select.tz) {
      auto z = time_zone::load(*cq->select.tz);
      if (!z.ok()) {
        statement_result r;
        r.error = z.error().message();
        results.push_back(std::move(r));
        continue;
      }
      loaded = *z;
      zone = loaded.get();
    }
    int64_t last = registry.last_run(def.database, def.name);
    if (last != 0 && exec::window_start_in(zone, every, offset, now_ns) <=
                         exec::window_start_in(zone, every, offset, last)) {
      continue;
    }
    int64_t end = exec::window_start_in(zone, interval, offset, now_ns);
    // The window holding end - span: with DST a local day is 23 or 25 hours,
    // so this may take one window more than span, never part of one.
    int64_t start = exec::window_start_in(zone, interval, offset, end - span);
    influxql::select_statement sel = cq->select;
    influxql::expr range = influxql::expr::make_binary(
        influxql::binary_op::and_,
        influxql::expr::make_binary(influxql::binary_op::gte, influxql::expr::var("time"),
                                    influxql::expr::make_integer(start)),
        influxql::expr::make_binary(influxql::binary_op::lt, influxql::expr::var("time"),
                                    influxql::expr::make_integer(end)));
    if (sel.condition) {
      influxql::expr paren;
      paren.kind = influxql::expr_kind::paren;
      paren.args.push_back(std::move(*sel.condition));
      sel.condition =
          influxql::expr::make_binary(influxql::binary_op::and_, std::move(paren), std::move(range));
    } else {
      sel.condition = std::move(range);
    }
    query_options opts;
    opts.db = def.database;
    opts.now_ns = now_ns;
    exec::context ctx{&s, &opts, 0, {}};
    statement_result r;
    auto out = exec::run_select(ctx, sel);
    if (out.ok()) {
      r.series = std::move(*out);
    } else {
      r.error = out.error().message();
    }
    results.push_back(std::move(r));
    registry.set_last_run(def.database, def.name, now_ns);
  }
  return results;
}

}  // namespace liandu::query
