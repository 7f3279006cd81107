#include "http/handlers/tenant_storage.h"

#include <algorithm>

namespace liandu::http::handlers {

status tenant_storage::check(std::string_view db, catalog::access a) {
  std::pair<std::string, int> key(std::string(db), static_cast<int>(a));
  if (allowed_.count(key) != 0) return {};
  status s = catalog_.authorize(who_, db, a);
  if (s.ok()) allowed_.insert(std::move(key));
  if (s.code() == errc::not_found) return error(errc::not_found, "database not found: " + std::string(db));
  if (s.code() == errc::forbidden) {
    return error(errc::forbidden, std::string("user \"") + who_.subject + "\" is not authorized to " +
                                      (a == catalog::access::read ? "read from" : "write to") +
                                      " database \"" + std::string(db) + "\"");
  }
  return s;
}

status tenant_storage::check_admin(std::string_view db) {
  if (!who_.admin) return error(errc::forbidden, "requires admin privilege");
  auto owner = catalog_.database_tenant(db);
  if (owner.ok() && *owner != who_.tenant_id) {
    return error(errc::not_found, "database not found: " + std::string(db));
  }
  return {};
}

std::vector<std::string> tenant_storage::databases() {
  std::vector<std::string> out;
  auto mine = catalog_.list_databases(who_.tenant_id);
  if (!mine.ok()) return out;
  for (const auto& db : inner_.databases()) {
    bool owned = std::find(mine->begin(), mine->end(), db) != mine->end();
    if (owned && (who_.can_read(db) || who_.can_write(db))) out.push_back(db);
  }
  return out;
}

bool tenant_storage::has_database(std::string_view db) {
  auto owner = catalog_.database_tenant(db);
  if (!owner.ok() || *owner != who_.tenant_id) return false;
  if (!who_.can_read(db) && !who_.can_write(db)) return false;
  return inner_.has_database(db);
}

status tenant_storage::create_database(std::string_view db) {
  if (!who_.admin) return error(errc::forbidden, "requires admin privilege");
  auto owner = catalog_.database_tenant(db);
  if (owner.ok() && *owner != who_.tenant_id) return error(errc::conflict, "database name is taken");
  if (!owner.ok()) LIANDU_RETURN_IF_ERROR(catalog_.register_database(who_.tenant_id, db));
  return inner_.create_database(db);
}

status tenant_storage::drop_database(std::string_view db) {
  LIANDU_RETURN_IF_ERROR(check_admin(db));
  auto owner = catalog_.database_tenant(db);
  if (!owner.ok()) return {};  // InfluxDB: dropping a missing database is not an error
  LIANDU_RETURN_IF_ERROR(catalog_.unregister_database(who_.tenant_id, db));
  return inner_.drop_database(db);
}

result<std::vector<query::retention_policy_info>> tenant_storage::retention_policies(std::string_view db) {
  LIANDU_RETURN_IF_ERROR(check(db, catalog::access::read));
  return inner_.retention_policies(db);
}

status tenant_storage::create_retention_policy(std::string_view db, const query::retention_policy_info& rp) {
  LIANDU_RETURN_IF_ERROR(check_admin(db));
  LIANDU_RETURN_IF_ERROR(check(db, catalog::access::write));
  return inner_.create_retention_policy(db, rp);
}

status tenant_storage::alter_retention_policy(std::string_view db, const query::retention_policy_info& rp) {
  LIANDU_RETURN_IF_ERROR(check_admin(db));
  LIANDU_RETURN_IF_ERROR(check(db, catalog::access::write));
  return inner_.alter_retention_policy(db, rp);
}

status tenant_storage::drop_retention_policy(std::string_view db, std::string_view rp) {
  LIANDU_RETURN_IF_ERROR(check_admin(db));
  LIANDU_RETURN_IF_ERROR(check(db, catalog::access::write));
  return inner_.drop_retention_policy(db, rp);
}

result<std::vector<std::string>> tenant_storage::measurements(std::string_view db) {
  LIANDU_RETURN_IF_ERROR(check(db, catalog::access::read));
  return inner_.measurements(db);
}

result<std::vector<std::pair<std::string, model::field_type>>> tenant_storage::field_keys(
    std::string_view db, std::string_view measurement) {
  LIANDU_RETURN_IF_ERROR(check(db, catalog::access::read));
  return inner_.field_keys(db, measurement);
}

result<std::vector<std::string>> tenant_storage::tag_keys(std::string_view db, std::string_view measurement) {
  LIANDU_RETURN_IF_ERROR(check(db, catalog::access::read));
  return inner_.tag_keys(db, measurement);
}

result<std::vector<query::series_info>> tenant_storage::series(std::string_view db,
                                                               std::string_view measurement) {
  LIANDU_RETURN_IF_ERROR(check(db, catalog::access::read));
  return inner_.series(db, measurement);
}

result<std::shared_ptr<const query::series_set>> tenant_storage::shared_series(std::string_view db,
                                                                               std::string_view measurement) {
  LIANDU_RETURN_IF_ERROR(check(db, catalog::access::read));
  return inner_.shared_series(db, measurement);
}

result<std::vector<std::pair<std::string, std::vector<uint64_t>>>> tenant_storage::tag_values(
    std::string_view db, std::string_view measurement, std::string_view key) {
  LIANDU_RETURN_IF_ERROR(check(db, catalog::access::read));
  return inner_.tag_values(db, measurement, key);
}

result<std::vector<uint64_t>> tenant_storage::series_with_tag(std::string_view db,
                                                              std::string_view measurement,
                                                              std::string_view key, std::string_view value) {
  LIANDU_RETURN_IF_ERROR(check(db, catalog::access::read));
  return inner_.series_with_tag(db, measurement, key, value);
}

status tenant_storage::scan(std::string_view db, std::string_view rp, uint64_t series_id,
                            std::string_view field, int64_t min_time, int64_t max_time,
                            const query::batch_sink& sink) {
  LIANDU_RETURN_IF_ERROR(check(db, catalog::access::read));
  return inner_.scan(db, rp, series_id, field, min_time, max_time, sink);
}

status tenant_storage::scan_edge(std::string_view db, std::string_view rp, uint64_t series_id,
                                 std::string_view field, int64_t min_time, int64_t max_time, bool newest,
                                 query::column_batch& out) {
  LIANDU_RETURN_IF_ERROR(check(db, catalog::access::read));
  return inner_.scan_edge(db, rp, series_id, field, min_time, max_time, newest, out);
}

status tenant_storage::count(std::string_view db, std::string_view rp, uint64_t series_id,
                             std::string_view field, int64_t min_time, int64_t max_time,
                             model::field_type& type, uint64_t& count) {
  LIANDU_RETURN_IF_ERROR(check(db, catalog::access::read));
  return inner_.count(db, rp, series_id, field, min_time, max_time, type, count);
}

status tenant_storage::write(std::string_view db, std::string_view rp,
                             const std::vector<model::point>& points) {
  LIANDU_RETURN_IF_ERROR(check(db, catalog::access::write));
  return inner_.write(db, rp, points);
}

status tenant_storage::delete_series(std::string_view db, const std::vector<uint64_t>& ids, int64_t min_time,
                                     int64_t max_time) {
  LIANDU_RETURN_IF_ERROR(check(db, catalog::access::write));
  return inner_.delete_series(db, ids, min_time, max_time);
}

status tenant_storage::drop_measurement(std::string_view db, std::string_view measurement) {
  LIANDU_RETURN_IF_ERROR(check(db, catalog::access::write));
  return inner_.drop_measurement(db, measurement);
}

}  // namespace liandu::http::handlers
