#pragma once

#include <set>
#include <string>
#include <utility>

#include "catalog/catalog.h"
#include "query/engine_storage.h"

namespace liandu::http::handlers {

// query::storage seen through one principal: only its tenant's databases
// exist, reads need read permission, writes and deletes need write
// permission, and creating or dropping databases and retention policies needs
// an admin. Every /query request runs against one of these.
class tenant_storage final : public query::storage {
 public:
  tenant_storage(query::engine_storage& inner, catalog::catalog& cat, const catalog::principal& who)
      : inner_(inner), catalog_(cat), who_(who) {}

  std::vector<std::string> databases() override;
  // What databases() would list, from the catalog's cached owner instead of
  // the tenant's whole list.
  bool has_database(std::string_view db) override;
  status create_database(std::string_view db) override;
  status drop_database(std::string_view db) override;
  result<std::vector<query::retention_policy_info>> retention_policies(std::string_view db) override;
  status create_retention_policy(std::string_view db, const query::retention_policy_info& rp) override;
  status alter_retention_policy(std::string_view db, const query::retention_policy_info& rp) override;
  status drop_retention_policy(std::string_view db, std::string_view rp) override;
  result<std::vector<std::string>> measurements(std::string_view db) override;
  result<std::vector<std::pair<std::string, model::field_type>>> field_keys(
      std::string_view db, std::string_view measurement) override;
  result<std::vector<std::string>> tag_keys(std::string_view db, std::string_view measurement) override;
  result<std::vector<query::series_info>> series(std::string_view db, std::string_view measurement) override;
  result<std::shared_ptr<const query::series_set>> shared_series(std::string_view db,
                                                                 std::string_view measurement) override;
  result<std::vector<std::pair<std::string, std::vector<uint64_t>>>> tag_values(
      std::string_view db, std::string_view measurement, std::string_view key) override;
  // Forwarded, not left to the base's default: the default rebuilds every
  // value's posting list through tag_values() to pick one.
  result<std::vector<uint64_t>> series_with_tag(std::string_view db, std::string_view measurement,
                                                std::string_view key, std::string_view value) override;
  status scan(std::string_view db, std::string_view rp, uint64_t series_id, std::string_view field,
              int64_t min_time, int64_t max_time, const query::batch_sink& sink) override;
  status scan_edge(std::string_view db, std::string_view rp, uint64_t series_id, std::string_view field,
                   int64_t min_time, int64_t max_time, bool newest, query::column_batch& out) override;
  status count(std::string_view db, std::string_view rp, uint64_t series_id, std::string_view field,
               int64_t min_time, int64_t max_time, model::field_type& type, uint64_t& count) override;
  status write(std::string_view db, std::string_view rp, const std::vector<model::point>& points) override;
  status delete_series(std::string_view db, const std::vector<uint64_t>& series_ids, int64_t min_time,
                       int64_t max_time) override;
  status drop_measurement(std::string_view db, std::string_view measurement) override;

 private:
  status check(std::string_view db, catalog::access a);
  status check_admin(std::string_view db);

  query::engine_storage& inner_;
  catalog::catalog& catalog_;
  const catalog::principal& who_;
  // (db, access) pairs already authorised: a query scans many series of one
  // database, and the catalog lookup should happen once, not per series.
  std::set<std::pair<std::string, int>, std::less<>> allowed_;
};

}  // namespace liandu::http::handlers
