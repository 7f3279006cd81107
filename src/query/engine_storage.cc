#include "query/engine_storage.h"

#include <map>
#include <mutex>
#include <tuple>

namespace liandu::query {

namespace {
liandu::storage::retention_policy to_engine(const retention_policy_info& rp) {
  return {rp.name, rp.duration_ns, rp.shard_duration_ns, rp.replication};
}
}  // namespace

std::vector<std::string> engine_storage::databases() { return engine_.databases(); }

status engine_storage::create_database(std::string_view db) { return engine_.create_database(db); }

status engine_storage::drop_database(std::string_view db) { return engine_.drop_database(db); }

result<std::vector<retention_policy_info>> engine_storage::retention_policies(std::string_view db) {
  auto rps = engine_.retention_policies(db);
  if (!rps.ok()) return rps.error();
  std::vector<retention_policy_info> out;
  for (const auto& [rp, is_default] : *rps) {
    out.push_back({rp.name, rp.duration_ns, rp.shard_duration_ns, rp.replication, is_default});
  }
  return out;
}

status engine_storage::create_retention_policy(std::string_view db, const retention_policy_info& rp) {
  return engine_.create_retention_policy(db, to_engine(rp), rp.is_default);
}

status engine_storage::alter_retention_policy(std::string_view db, const retention_policy_info& rp) {
  return engine_.alter_retention_policy(db, to_engine(rp), rp.is_default);
}

status engine_storage::drop_retention_policy(std::string_view db, std::string_view rp) {
  return engine_.drop_retention_policy(db, rp);
}

result<std::vector<std::string>> engine_storage::measurements(std::string_view db) {
  return engine_.measurements(db);
}

result<std::vector<std::pair<std::string, model::field_type>>> engine_storage::field_keys(
    std::string_view db, std::string_view measurement) {
  return engine_.field_keys(db, measurement);
}

result<std::vector<std::string>> engine_storage::tag_keys(std::string_view db, std::string_view measurement) {
  return engine_.tag_keys(db, measurement);
}

result<std::vector<series_info>> engine_storage::series(std::string_view db, std::string_view measurement) {
  auto refs = engine_.series(db, measurement);
  if (!refs.ok()) return refs.error();
  std::vector<series_info> out;
  out.reserve(refs->size());
  for (const auto& r : *refs) {
    series_info s;
    s.id = r.id;
    model::parse_series_key(r.key, s.measurement, s.tags);
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

// Parsed series lists shared by queries, per (engine, database, measurement),
// valid while the database's series index keeps its generation. Parsing a
// thousand series keys and freeing them again cost a query of one series
// more than reading its points. Lists over max_cached_series are not kept.
struct series_cache {
  static constexpr size_t max_cached_series = 100000;
  static constexpr size_t max_entries = 1024;
  struct entry {
    uint64_t generation = 0;
    std::shared_ptr<const series_set> series;
  };
  std::mutex mu;
  std::map<std::tuple<const void*, std::string, std::string>, entry> entries;
};

series_cache& shared_cache() {
  static series_cache c;
  return c;
}

}  // namespace

result<std::shared_ptr<const series_set>> engine_storage::shared_series(std::string_view db,
                                                                        std::string_view measurement) {
  // The generation is read before the series: a change in between leaves an
  // entry under the old generation, which the next query replaces.
  auto gen = engine_.series_generation(db);
  if (!gen.ok()) return gen.error();
  auto key = std::make_tuple(static_cast<const void*>(&engine_), std::string(db), std::string(measurement));
  series_cache& cache = shared_cache();
  {
    std::lock_guard lock(cache.mu);
    auto it = cache.entries.find(key);
    if (it != cache.entries.end() && it->second.generation == *gen) return it->second.series;
  }
  auto s = series(db, measurement);
  if (!s.ok()) return s.error();
  auto shared = std::make_shared<const series_set>(std::move(*s));
  if (shared->list().size() <= series_cache::max_cached_series) {
    std::lock_guard lock(cache.mu);
    if (cache.entries.size() >= series_cache::max_entries) cache.entries.clear();
    cache.entries[std::move(key)] = {*gen, shared};
  }
  return shared;
}

result<std::vector<std::pair<std::string, std::vector<uint64_t>>>> engine_storage::tag_values(
    std::string_view db, std::string_view measurement, std::string_view key) {
  auto vals = engine_.tag_values(db, measurement, key);
  if (!vals.ok()) return vals.error();
  std::vector<std::pair<std::string, std::vector<uint64_t>>> out;
  out.reserve(vals->size());
  for (auto& [v, ids] : *vals) out.emplace_back(std::move(v), std::vector<uint64_t>(ids.begin(), ids.end()));
  return out;
}

result<std::vector<uint64_t>> engine_storage::series_with_tag(std::string_view db,
                                                              std::string_view measurement,
                                                              std::string_view key, std::string_view value) {
  auto ids = engine_.series_with_tag(db, measurement, key, value);
  if (!ids.ok()) return ids.error();
  return std::vector<uint64_t>(ids->begin(), ids->end());
}

status engine_storage::scan(std::string_view db, std::string_view rp, uint64_t series_id,
                            std::string_view field, int64_t min_time, int64_t max_time,
                            const batch_sink& sink) {
  liandu::storage::column col;
  LIANDU_RETURN_IF_ERROR(
      engine_.scan(db, rp, static_cast<uint32_t>(series_id), field, min_time, max_time, col));
  if (col.size() > 0) sink(col);
  return {};
}

status engine_storage::scan_edge(std::string_view db, std::string_view rp, uint64_t series_id,
                                 std::string_view field, int64_t min_time, int64_t max_time, bool newest,
                                 column_batch& out) {
  return engine_.scan_edge(db, rp, static_cast<uint32_t>(series_id), field, min_time, max_time, newest, out);
}

status engine_storage::count(std::string_view db, std::string_view rp, uint64_t series_id,
                             std::string_view field, int64_t min_time, int64_t max_time,
                             model::field_type& type, uint64_t& count) {
  return engine_.count(db, rp, static_cast<uint32_t>(series_id), field, min_time, max_time, type, count);
}

status engine_storage::write(std::string_view db, std::string_view rp,
                             const std::vector<model::point>& points) {
  liandu::storage::write_batch batch(db, rp);
  for (const auto& p : points) batch.add(p);
  auto r = engine_.write(batch);
  if (!r.st.ok()) return r.st;
  if (!r.rejected.empty()) return error(errc::conflict, r.rejected.front().message);
  return {};
}

status engine_storage::delete_series(std::string_view db, const std::vector<uint64_t>& ids, int64_t min_time,
                                     int64_t max_time) {
  std::vector<uint32_t> narrow(ids.begin(), ids.end());
  return engine_.delete_series(db, narrow, min_time, max_time);
}

status engine_storage::drop_measurement(std::string_view db, std::string_view measurement) {
  return engine_.drop_measurement(db, measurement);
}

}  // namespace liandu::query
