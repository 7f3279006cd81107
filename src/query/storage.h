#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "model/point.h"
#include "storage/column.h"

namespace liandu::query {

// The contract between the InfluxQL executor and storage. storage::engine is
// adapted to it in app wiring; query/testing/memory_storage.h is a naive
// in-memory implementation used by tests and as the reference the executor is
// compared with. All names are InfluxDB's (database, retention policy, ...).
//
// Thread safety: implementations are safe to call from several threads.

struct retention_policy_info {
  std::string name;
  int64_t duration_ns = 0;        // 0 = infinite
  int64_t shard_duration_ns = 0;  // partition duration
  int replication = 1;
  bool is_default = false;
};

struct series_info {
  uint64_t id = 0;  // stable within a database
  std::string measurement;
  std::vector<model::tag> tags;  // sorted by key
};

// The series of a measurement in key order, with a lookup by id. Storage can
// build one once and hand it to every query until the series change: tag
// filters map posting-list ids to positions, and sorting a thousand ids per
// query was a measurable part of a one-series query.
class series_set {
 public:
  series_set() = default;
  explicit series_set(std::vector<series_info> list) : list_(std::move(list)) {
    by_id_.reserve(list_.size());
    for (size_t i = 0; i < list_.size(); ++i) by_id_.emplace_back(list_[i].id, static_cast<uint32_t>(i));
    std::sort(by_id_.begin(), by_id_.end());
  }

  const std::vector<series_info>& list() const { return list_; }
  // Position of a series id in list(), or -1.
  int64_t position_of(uint64_t id) const {
    auto it = std::lower_bound(by_id_.begin(), by_id_.end(), std::pair<uint64_t, uint32_t>(id, 0));
    return it == by_id_.end() || it->first != id ? -1 : it->second;
  }

 private:
  std::vector<series_info> list_;
  std::vector<std::pair<uint64_t, uint32_t>> by_id_;  // (id, position), by id
};

// A batch of one field's values for one series, ascending by time: the
// storage engine's column (parallel time and value vectors; exactly one
// value vector used, chosen by `type`; booleans are 0/1 bytes).
using column_batch = liandu::storage::column;

// Called once per batch; return false to stop the scan early.
using batch_sink = std::function<bool(const column_batch&)>;

class storage {
 public:
  virtual ~storage() = default;

  // --- catalog ---
  virtual std::vector<std::string> databases() = 0;
  // Whether databases() lists db. The default looks through the list; a
  // store that answers with one lookup overrides it (every statement asks).
  virtual bool has_database(std::string_view db) {
    auto all = databases();
    return std::find(all.begin(), all.end(), db) != all.end();
  }
  virtual status create_database(std::string_view db) = 0;  // ok if it exists
  virtual status drop_database(std::string_view db) = 0;    // ok if it does not exist
  virtual result<std::vector<retention_policy_info>> retention_policies(std::string_view db) = 0;
  virtual status create_retention_policy(std::string_view db, const retention_policy_info& rp) = 0;
  virtual status alter_retention_policy(std::string_view db, const retention_policy_info& rp) = 0;
  virtual status drop_retention_policy(std::string_view db, std::string_view rp) = 0;

  // --- schema and index ---
  virtual result<std::vector<std::string>> measurements(std::string_view db) = 0;  // sorted
  // Field keys of a measurement with their types, sorted by key.
  virtual result<std::vector<std::pair<std::string, model::field_type>>> field_keys(
      std::string_view db, std::string_view measurement) = 0;
  virtual result<std::vector<std::string>> tag_keys(std::string_view db, std::string_view measurement) = 0;
  // All series of a measurement, sorted by series key.
  virtual result<std::vector<series_info>> series(std::string_view db, std::string_view measurement) = 0;
  // series(), shared and read-only: storage may hand the same list to
  // every query until the measurement's series change.
  virtual result<std::shared_ptr<const series_set>> shared_series(std::string_view db,
                                                                  std::string_view measurement) {
    auto s = series(db, measurement);
    if (!s.ok()) return s.error();
    return std::make_shared<const series_set>(std::move(*s));
  }
  // Tag values of `key` in a measurement, each with the ids of the series
  // carrying it (the posting list). Sorted by value; ids ascending.
  virtual result<std::vector<std::pair<std::string, std::vector<uint64_t>>>> tag_values(
      std::string_view db, std::string_view measurement, std::string_view key) = 0;
  // The posting list of one tag value (ids ascending): what `tag = 'v'`
  // needs. The default picks it out of tag_values(); an index answers it
  // with one lookup.
  virtual result<std::vector<uint64_t>> series_with_tag(std::string_view db, std::string_view measurement,
                                                        std::string_view key, std::string_view value) {
    auto all = tag_values(db, measurement, key);
    if (!all.ok()) return all.error();
    for (auto& [v, ids] : *all) {
      if (v == value) return std::move(ids);
    }
    return std::vector<uint64_t>{};
  }

  // --- data ---
  // Streams one field of one series within [min_time, max_time] (inclusive)
  // in ascending time order. rp empty = the default retention policy. A series
  // without the field yields no batches and ok.
  virtual status scan(std::string_view db, std::string_view rp, uint64_t series_id, std::string_view field,
                      int64_t min_time, int64_t max_time, const batch_sink& sink) = 0;
  // The newest (newest = true) or the oldest point a scan would yield, as a
  // batch of at most one point (empty: none). Points of a type other than
  // the first batch's are not part of the field. first()/last() need only
  // this; the default scans everything, storage that can do better should.
  virtual status scan_edge(std::string_view db, std::string_view rp, uint64_t series_id,
                           std::string_view field, int64_t min_time, int64_t max_time, bool newest,
                           column_batch& out) {
    out = column_batch{};
    bool typed = false;
    return scan(db, rp, series_id, field, min_time, max_time, [&](const column_batch& b) {
      if (b.size() == 0) return true;
      if (!typed) {
        typed = true;
        out.type = b.type;
      } else if (b.type != out.type) {
        return true;
      }
      out.clear();
      out.append_from(b, newest ? b.size() - 1 : 0);
      return newest;
    });
  }
  // The number of points a scan would yield of the first batch's type, and
  // that type (meaningful when count > 0). The default scans everything.
  virtual status count(std::string_view db, std::string_view rp, uint64_t series_id, std::string_view field,
                       int64_t min_time, int64_t max_time, model::field_type& type, uint64_t& count) {
    count = 0;
    bool typed = false;
    return scan(db, rp, series_id, field, min_time, max_time, [&](const column_batch& b) {
      if (b.size() == 0) return true;
      if (!typed) {
        typed = true;
        type = b.type;
      }
      if (b.type == type) count += b.size();
      return true;
    });
  }

  // Writes points (SELECT ... INTO, continuous queries). Durable on return.
  virtual status write(std::string_view db, std::string_view rp, const std::vector<model::point>& points) = 0;

  // DROP SERIES / DELETE: removes the points of the given series in
  // [min_time, max_time]; when the range is the whole time line, the series
  // leaves the index too. Durable on return.
  virtual status delete_series(std::string_view db, const std::vector<uint64_t>& series_ids, int64_t min_time,
                               int64_t max_time) = 0;
  virtual status drop_measurement(std::string_view db, std::string_view measurement) = 0;
};

}  // namespace liandu::query
