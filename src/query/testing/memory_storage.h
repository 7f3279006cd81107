#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "query/storage.h"

namespace liandu::query::testing {

// A plain in-memory query::storage: vectors of raw points, linear searches,
// no cleverness. It is the reference the executor is tested against, so it
// must stay obviously correct rather than fast.
//
// create_database makes the "autogen" retention policy (infinite, default) as
// InfluxDB does. scan() hands out batches of at most batch_size points so tests
// cross batch boundaries.
class memory_storage : public storage {
 public:
  explicit memory_storage(size_t batch_size = 1000) : batch_size_(batch_size) {}

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
  result<std::vector<std::pair<std::string, std::vector<uint64_t>>>> tag_values(
      std::string_view db, std::string_view measurement, std::string_view key) override;

  status scan(std::string_view db, std::string_view rp, uint64_t series_id, std::string_view field,
              int64_t min_time, int64_t max_time, const batch_sink& sink) override;
  status write(std::string_view db, std::string_view rp, const std::vector<model::point>& points) override;
  status delete_series(std::string_view db, const std::vector<uint64_t>& series_ids, int64_t min_time,
                       int64_t max_time) override;
  status drop_measurement(std::string_view db, std::string_view measurement) override;

  // Number of scan() calls so far (tests check that tag filters avoid scans).
  size_t scans_for_test() const { return scans_; }

 private:
  struct stored_point {
    int64_t time;
    model::field_value value;
  };
  struct series_data {
    series_info info;
    std::string key;
    // retention policy -> field -> points sorted by time
    std::map<std::string, std::map<std::string, std::vector<stored_point>>> data;
  };
  struct database {
    std::vector<retention_policy_info> rps;
    std::vector<series_data> series;
    uint64_t next_id = 1;
  };

  database* find_db(std::string_view db);
  std::string resolve_rp(const database& d, std::string_view rp) const;

  size_t batch_size_;
  size_t scans_ = 0;
  std::mutex mu_;
  std::map<std::string, database, std::less<>> dbs_;
};

}  // namespace liandu::query::testing
