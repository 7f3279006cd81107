#pragma once

#include "query/storage.h"
#include "storage/engine.h"

namespace liandu::query {

// query::storage over the real storage engine.
class engine_storage final : public storage {
 public:
  explicit engine_storage(liandu::storage::engine& e) : engine_(e) {}

  std::vector<std::string> databases() override;
  status create_database(std::string_view db) override;
  status drop_database(std::string_view db) override;
  result<std::vector<retention_policy_info>> retention_policies(std::string_view db) override;
  status create_retention_policy(std::string_view db, const retention_policy_info& rp) override;
  status alter_retention_policy(std::string_view db, const retention_policy_info& rp) override;
  status drop_retention_policy(std::string_view db, std::string_view rp) override;
  result<std::vector<std::string>> measurements(std::string_view db) override;
  result<std::vector<std::pair<std::string, model::field_type>>> field_keys(
      std::string_view db, std::string_view measurement) override;
  result<std::vector<std::string>> tag_keys(std::string_view db, std::string_view measurement) override;
  result<std::vector<series_info>> series(std::string_view db, std::string_view measurement) override;
  result<std::shared_ptr<const series_set>> shared_series(std::string_view db,
                                                          std::string_view measurement) override;
  result<std::vector<std::pair<std::string, std::vector<uint64_t>>>> tag_values(
      std::string_view db, std::string_view measurement, std::string_view key) override;
  result<std::vector<uint64_t>> series_with_tag(std::string_view db, std::string_view measurement,
                                                std::string_view key, std::string_view value) override;
  status scan(std::string_view db, std::string_view rp, uint64_t series_id, std::string_view field,
              int64_t min_time, int64_t max_time, const batch_sink& sink) override;
  status scan_edge(std::string_view db, std::string_view rp, uint64_t series_id, std::string_view field,
                   int64_t min_time, int64_t max_time, bool newest, column_batch& out) override;
  status count(std::string_view db, std::string_view rp, uint64_t series_id, std::string_view field,
               int64_t min_time, int64_t max_time, model::field_type& type, uint64_t& count) override;
  status write(std::string_view db, std::string_view rp, const std::vector<model::point>& points) override;
  status delete_series(std::string_view db, const std::vector<uint64_t>& series_ids, int64_t min_time,
                       int64_t max_time) override;
  status drop_measurement(std::string_view db, std::string_view measurement) override;

 private:
  liandu::storage::engine& engine_;
};

}  // namespace liandu::query
