#include "query/executor/executor.h"

#include <algorithm>
#include <limits>
#include <set>

#include "query/executor/continuous_query.h"
#include "query/executor/internal.h"
#include "query/executor/time_zone.h"
#include "query/influxql/parser.h"

namespace liandu::query {

namespace {

using namespace influxql;
using exec::context;

constexpr int64_t hour_ns = 3600LL * 1000000000;

// Go's time.Duration.String(), as SHOW RETENTION POLICIES prints durations.
std::string go_duration(int64_t d) {
  if (d == 0) return "0s";
  std::string sign = d < 0 ? "-" : "";
  uint64_t u = d < 0 ? static_cast<uint64_t>(-(d + 1)) + 1 : static_cast<uint64_t>(d);
  auto frac = [](uint64_t v, int digits) {
    std::string s = std::to_string(v);
    while (static_cast<int>(s.size()) < digits) s = "0" + s;
    while (!s.empty() && s.back() == '0') s.pop_back();
    return s.empty() ? std::string() : "." + s;
  };
  if (u < 1000000000) {
    if (u < 1000) return sign + std::to_string(u) + "ns";
    if (u < 1000000) return sign + std::to_string(u / 1000) + frac(u % 1000, 3) + "µs";
    return sign + std::to_string(u / 1000000) + frac(u % 1000000, 6) + "ms";
  }
  uint64_t secs = u / 1000000000, rem = u % 1000000000;
  std::string out = std::to_string(secs % 60) + frac(rem, 9) + "s";
  uint64_t mins = secs / 60;
  if (mins > 0) {
    out = std::to_string(mins % 60) + "m" + out;
    uint64_t hours = mins / 60;
    if (hours > 0) out = std::to_string(hours) + "h" + out;
  }
  return sign + out;
}

// InfluxDB's default shard group duration for a retention policy duration.
int64_t default_shard_duration(int64_t duration) {
  if (duration > 0 && duration < 2 * 24 * hour_ns) return hour_ns;
  if (duration > 0 && duration <= 180 * 24 * hour_ns) return 24 * hour_ns;
  return 7 * 24 * hour_ns;
}

status check_rp_duration(int64_t d) {
  if (d != 0 && d < hour_ns)
    return error(errc::invalid_argument, "retention policy duration must be at least 1h0m0s");
  return {};
}

class runner {
 public:
  runner(storage& s, const query_options& opts) : ctx_{&s, &opts, 0, {}} {}

  statement_result run(const statement& st, int id) {
    ctx_.used = 0;
    ctx_.regexes.clear();
    statement_result r;
    r.statement_id = id;
    status s = std::visit([&](const auto& x) { return exec(x, r); }, st);
    if (!s.ok()) {
      r.series.clear();
      r.error = s.message();
    }
    return r;
  }

 private:
  storage& store() { return *ctx_.s; }
  const query_options& opts() const { return *ctx_.opts; }

  status database(const std::string& explicit_db, std::string& out) {
    out = explicit_db.empty() ? opts().db : explicit_db;
    if (out.empty()) return error(errc::invalid_argument, "database name required");
    if (!store().has_database(out)) return error(errc::not_found, "database not found: " + out);
    return {};
  }

  // Measurement names named by FROM (names and regexes), or all of them.
  status measurements_of(const std::string& db, const std::vector<source>& sources,
                         std::vector<std::string>& out) {
    auto all = store().measurements(db);
    if (!all.ok()) return all.error();
    if (sources.empty()) {
      out = *all;
      return {};
    }
    std::set<std::string> names;
    for (const auto& src : sources) {
      if (src.m.regex) {
        auto compiled = ctx_.regex(*src.m.regex);
        if (!compiled.ok()) return compiled.error();
        const auto& re = *compiled;
        for (const auto& n : *all) {
          if (re->search(n)) names.insert(n);
        }
      } else if (std::find(all->begin(), all->end(), src.m.name) != all->end()) {
        names.insert(src.m.name);
      }
    }
    out.assign(names.begin(), names.end());
    return {};
  }

  status exec(const select_statement& st, statement_result& r) {
    auto out = exec::run_select(ctx_, st);
    if (!out.ok()) return out.error();
    r.series = std::move(*out);
    return {};
  }

  status exec(const show_databases_statement&, statement_result& r) {
    series_result s;
    s.name = "databases";
    s.columns = {"name"};
    for (const auto& db : store().databases()) s.values.push_back({value(db)});
    r.series.push_back(std::move(s));
    return {};
  }

  status exec(const show_measurements_statement& st, statement_result& r) {
    std::string db;
    LIANDU_RETURN_IF_ERROR(database(st.database, db));
    std::vector<std::string> names;
    std::vector<source> sources;
    if (st.with) sources.push_back(source{*st.with, nullptr});
    LIANDU_RETURN_IF_ERROR(measurements_of(db, sources, names));
    series_result s;
    s.name = "measurements";
    s.columns = {"name"};
    for (const auto& n : names) {
      if (st.condition) {
        auto ms = exec::matching_series(ctx_, db, n, &*st.condition);
        if (!ms.ok()) return ms.error();
        if (ms->empty()) continue;
      }
      s.values.push_back({value(n)});
    }
    s.values.page(st.offset, st.limit);
    if (!s.values.empty()) r.series.push_back(std::move(s));
    return {};
  }

  status exec(const show_tag_keys_statement& st, statement_result& r) {
    std::string db;
    LIANDU_RETURN_IF_ERROR(database(st.database, db));
    std::vector<std::string> names;
    LIANDU_RETURN_IF_ERROR(measurements_of(db, st.sources, names));
    for (const auto& n : names) {
      std::set<std::string> keys;
      if (st.condition) {
        auto ms = exec::matching_series(ctx_, db, n, &*st.condition);
        if (!ms.ok()) return ms.error();
        for (const auto& si : *ms) {
          for (const auto& t : si.tags) keys.insert(t.key);
        }
      } else {
        auto k = store().tag_keys(db, n);
        if (!k.ok()) return k.error();
        keys.insert(k->begin(), k->end());
      }
      series_result s;
      s.name = n;
      s.columns = {"tagKey"};
      for (const auto& k : keys) s.values.push_back({value(k)});
      s.values.page(st.offset, st.limit);
      if (!s.values.empty()) r.series.push_back(std::move(s));
    }
    page_series(r.series, st.soffset, st.slimit);
    return {};
  }

  static void page_series(std::vector<series_result>& series, int64_t offset, int64_t limit) {
    if (offset > 0) {
      size_t n = std::min(series.size(), static_cast<size_t>(offset));
      series.erase(series.begin(), series.begin() + static_cast<std::ptrdiff_t>(n));
    }
    if (limit > 0 && series.size() > static_cast<size_t>(limit)) series.resize(static_cast<size_t>(limit));
  }

  status exec(const show_tag_values_statement& st, statement_result& r) {
    std::string db;
    LIANDU_RETURN_IF_ERROR(database(st.database, db));
    std::vector<std::string> names;
    LIANDU_RETURN_IF_ERROR(measurements_of(db, st.sources, names));
    std::shared_ptr<const liandu::regex> re;
    if (st.op == tag_key_op::eq_regex || st.op == tag_key_op::neq_regex) {
      auto compiled = ctx_.regex(st.keys.at(0));
      if (!compiled.ok()) return compiled.error();
      re = *compiled;
    }
    auto key_matches = [&](const std::string& k) {
      switch (st.op) {
        case tag_key_op::eq: return k == st.keys.at(0);
        case tag_key_op::neq: return k != st.keys.at(0);
        case tag_key_op::eq_regex: return re->search(k);
        case tag_key_op::neq_regex: return !re->search(k);
        case tag_key_op::in: return std::find(st.keys.begin(), st.keys.end(), k) != st.keys.end();
      }
      return false;
    };
    for (const auto& n : names) {
      std::set<std::pair<std::string, std::string>> pairs;
      auto ms = exec::matching_series(ctx_, db, n, st.condition ? &*st.condition : nullptr);
      if (!ms.ok()) return ms.error();
      for (const auto& si : *ms) {
        for (const auto& t : si.tags) {
          if (key_matches(t.key)) pairs.emplace(t.key, t.value);
        }
      }
      series_result s;
      s.name = n;
      s.columns = {"key", "value"};
      for (const auto& [k, v] : pairs) s.values.push_back({value(k), value(v)});
      s.values.page(st.offset, st.limit);
      if (!s.values.empty()) r.series.push_back(std::move(s));
    }
    return {};
  }

  status exec(const show_field_keys_statement& st, statement_result& r) {
    std::string db;
    LIANDU_RETURN_IF_ERROR(database(st.database, db));
    std::vector<std::string> names;
    LIANDU_RETURN_IF_ERROR(measurements_of(db, st.sources, names));
    for (const auto& n : names) {
      auto fk = store().field_keys(db, n);
      if (!fk.ok()) return fk.error();
      series_result s;
      s.name = n;
      s.columns = {"fieldKey", "fieldType"};
      for (const auto& [k, t] : *fk)
        s.values.push_back({value(k), value(std::string(model::field_type_name(t)))});
      s.values.page(st.offset, st.limit);
      if (!s.values.empty()) r.series.push_back(std::move(s));
    }
    return {};
  }

  status exec(const show_series_statement& st, statement_result& r) {
    std::string db;
    LIANDU_RETURN_IF_ERROR(database(st.database, db));
    std::vector<std::string> names;
    LIANDU_RETURN_IF_ERROR(measurements_of(db, st.sources, names));
    std::vector<std::string> keys;
    for (const auto& n : names) {
      auto ms = exec::matching_series(ctx_, db, n, st.condition ? &*st.condition : nullptr);
      if (!ms.ok()) return ms.error();
      for (const auto& si : *ms) keys.push_back(model::series_key(si.measurement, si.tags));
    }
    std::sort(keys.begin(), keys.end());
    series_result s;
    s.columns = {"key"};
    for (auto& k : keys) s.values.push_back({value(std::move(k))});
    s.values.page(st.offset, st.limit);
    if (!s.values.empty()) r.series.push_back(std::move(s));
    return {};
  }

  status exec(const show_retention_policies_statement& st, statement_result& r) {
    std::string db;
    LIANDU_RETURN_IF_ERROR(database(st.database, db));
    auto rps = store().retention_policies(db);
    if (!rps.ok()) return rps.error();
    series_result s;
    s.columns = {"name", "duration", "shardGroupDuration", "replicaN", "default"};
    for (const auto& rp : *rps) {
      s.values.push_back({value(rp.name), value(go_duration(rp.duration_ns)),
                          value(go_duration(rp.shard_duration_ns)),
                          value(static_cast<int64_t>(rp.replication)), value(rp.is_default)});
    }
    r.series.push_back(std::move(s));
    return {};
  }

  status exec(const show_continuous_queries_statement&, statement_result& r) {
    if (!opts().cqs) return error(errc::unsupported, "continuous queries are not enabled");
    auto defs = opts().cqs->list();
    for (const auto& db : store().databases()) {
      series_result s;
      s.name = db;
      s.columns = {"name", "query"};
      for (const auto& d : defs) {
        if (d.database == db) s.values.push_back({value(d.name), value(d.query)});
      }
      r.series.push_back(std::move(s));
    }
    return {};
  }

  status exec(const create_database_statement& st, statement_result&) {
    LIANDU_RETURN_IF_ERROR(store().create_database(st.name));
    if (!st.rp_given) return {};
    retention_policy_info rp;
    rp.name = st.rp_name.empty() ? "autogen" : st.rp_name;
    rp.duration_ns = st.duration.value_or(0);
    LIANDU_RETURN_IF_ERROR(check_rp_duration(rp.duration_ns));
    rp.replication = st.replication.value_or(1);
    rp.shard_duration_ns = st.shard_duration.value_or(0);
    if (rp.shard_duration_ns == 0) rp.shard_duration_ns = default_shard_duration(rp.duration_ns);
    rp.is_default = true;
    auto existing = store().retention_policies(st.name);
    if (!existing.ok()) return existing.error();
    for (const auto& e : *existing) {
      if (e.name == rp.name) return store().alter_retention_policy(st.name, rp);
    }
    return store().create_retention_policy(st.name, rp);
  }

  status exec(const drop_database_statement& st, statement_result&) {
    if (opts().cqs) {
      for (const auto& d : opts().cqs->list()) {
        if (d.database == st.name) opts().cqs->drop(d.database, d.name);
      }
    }
    return store().drop_database(st.name);
  }

  status exec(const create_retention_policy_statement& st, statement_result&) {
    std::string db;
    LIANDU_RETURN_IF_ERROR(database(st.database, db));
    LIANDU_RETURN_IF_ERROR(check_rp_duration(st.duration));
    retention_policy_info rp;
    rp.name = st.name;
    rp.duration_ns = st.duration;
    rp.replication = st.replication;
    rp.shard_duration_ns = st.shard_duration ? st.shard_duration : default_shard_duration(st.duration);
    rp.is_default = st.is_default;
    auto existing = store().retention_policies(db);
    if (!existing.ok()) return existing.error();
    for (const auto& e : *existing) {
      if (e.name != rp.name) continue;
      if (e.duration_ns == rp.duration_ns && e.replication == rp.replication &&
          e.shard_duration_ns == rp.shard_duration_ns && (e.is_default == rp.is_default || !rp.is_default)) {
        return {};
      }
      return error(errc::already_exists, "retention policy already exists");
    }
    return store().create_retention_policy(db, rp);
  }

  status exec(const alter_retention_policy_statement& st, statement_result&) {
    std::string db;
    LIANDU_RETURN_IF_ERROR(database(st.database, db));
    auto existing = store().retention_policies(db);
    if (!existing.ok()) return existing.error();
    for (auto rp : *existing) {
      if (rp.name != st.name) continue;
      if (st.duration) {
        LIANDU_RETURN_IF_ERROR(check_rp_duration(*st.duration));
        rp.duration_ns = *st.duration;
      }
      if (st.replication) rp.replication = *st.replication;
      if (st.shard_duration) rp.shard_duration_ns = *st.shard_duration;
      if (st.is_default) rp.is_default = true;
      return store().alter_retention_policy(db, rp);
    }
    return error(errc::not_found, "retention policy not found: " + st.name);
  }

  status exec(const drop_retention_policy_statement& st, statement_result&) {
    std::string db;
    LIANDU_RETURN_IF_ERROR(database(st.database, db));
    return store().drop_retention_policy(db, st.name);
  }

  status delete_matching(const std::vector<source>& sources, const std::optional<expr>& cond,
                         bool allow_time) {
    std::string db;
    LIANDU_RETURN_IF_ERROR(database("", db));
    int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
    std::optional<expr> rest;
    if (cond) {
      int64_t tlo = exec::min_time, thi = exec::max_time;
      expr r;
      LIANDU_RETURN_IF_ERROR(exec::time_range(*cond, opts().now_ns, tlo, thi, r));
      if (tlo != exec::min_time || thi != exec::max_time) {
        if (!allow_time)
          return error(errc::invalid_argument, "DROP SERIES doesn't support time in WHERE clause");
        lo = tlo;
        hi = thi;
      }
      rest = std::move(r);
    }
    std::vector<std::string> names;
    LIANDU_RETURN_IF_ERROR(measurements_of(db, sources, names));
    for (const auto& n : names) {
      bool exact = true;
      auto ms = exec::matching_series(ctx_, db, n, rest ? &*rest : nullptr, &exact);
      if (!ms.ok()) return ms.error();
      if (!exact)
        return error(errc::invalid_argument, "fields not supported in WHERE clause during deletion");
      std::vector<uint64_t> ids;
      for (const auto& si : *ms) ids.push_back(si.id);
      if (!ids.empty()) LIANDU_RETURN_IF_ERROR(store().delete_series(db, ids, lo, hi));
    }
    return {};
  }

  status exec(const drop_series_statement& st, statement_result&) {
    return delete_matching(st.sources, st.condition, false);
  }

  status exec(const delete_statement& st, statement_result&) {
    return delete_matching(st.sources, st.condition, true);
  }

  status exec(const drop_measurement_statement& st, statement_result&) {
    std::string db;
    LIANDU_RETURN_IF_ERROR(database("", db));
    return store().drop_measurement(db, st.name);
  }

  status exec(const create_continuous_query_statement& st, statement_result&) {
    if (!opts().cqs) return error(errc::unsupported, "continuous queries are not enabled");
    std::string db;
    LIANDU_RETURN_IF_ERROR(database(st.database, db));
    int64_t interval = 0, offset = 0;
    if (!group_by_time(st.select, interval, offset) || interval <= 0) {
      return error(errc::invalid_argument, "continuous query requires a GROUP BY time interval");
    }
    std::string default_rp;
    auto rps = store().retention_policies(db);
    if (rps.ok()) {
      for (const auto& rp : *rps) {
        if (rp.is_default) default_rp = rp.name;
      }
    }
    create_continuous_query_statement norm = st;
    auto fill = [&](measurement& m) {
      if (m.database.empty()) m.database = db;
      if (m.retention_policy.empty()) m.retention_policy = default_rp;
    };
    for (auto& src : norm.select.sources) {
      if (!src.subquery) fill(src.m);
    }
    if (norm.select.into) fill(norm.select.into->m);
    return opts().cqs->create({db, st.name, format(statement(norm))});
  }

  status exec(const drop_continuous_query_statement& st, statement_result&) {
    if (!opts().cqs) return error(errc::unsupported, "continuous queries are not enabled");
    return opts().cqs->drop(st.database, st.name);
  }

  context ctx_;
};

// InfluxDB resolves tz('Zone/Name') while parsing, so an unknown zone fails
// the whole request as a parse error. Our parser knows no zones; check here.
status check_time_zones(const select_statement& st) {
  if (st.tz) {
    auto z = time_zone::load(*st.tz);
    if (!z.ok()) return z.error();
  }
  for (const auto& src : st.sources) {
    if (src.subquery) LIANDU_RETURN_IF_ERROR(check_time_zones(*src.subquery));
  }
  return {};
}

status check_time_zones(const statement& st) {
  if (const auto* sel = std::get_if<select_statement>(&st)) return check_time_zones(*sel);
  if (const auto* cq = std::get_if<create_continuous_query_statement>(&st))
    return check_time_zones(cq->select);
  return {};
}

}  // namespace

execution execute(storage& s, std::string_view query_text, const query_options& opts) {
  execution out;
  auto q = parse_query(query_text);
  if (!q.ok()) {
    out.parse_error = "error parsing query: " + q.error().message();
    return out;
  }
  for (const auto& st : q->statements) {
    status tz = check_time_zones(st);
    if (!tz.ok()) {
      out.parse_error = "error parsing query: " + tz.message();
      return out;
    }
  }
  runner r(s, opts);
  int id = 0;
  for (const auto& st : q->statements) {
    out.results.push_back(r.run(st, id++));
    if (!out.results.back().error.empty()) break;  // InfluxDB stops at the first failing statement
  }
  return out;
}

std::string execute_to_json(storage& s, std::string_view query_text, const query_options& opts) {
  execution e = execute(s, query_text, opts);
  if (!e.parse_error.empty()) return error_json(e.parse_error);
  return to_json(e.results, time_format{opts.epoch});
}

}  // namespace liandu::query
