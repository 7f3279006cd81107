#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "query/executor/result.h"
#include "query/storage.h"

namespace liandu::query {

// A continuous query as InfluxDB keeps it: its database, name and the text of
// its CREATE CONTINUOUS QUERY statement (sources and INTO target filled in
// with the database and retention policy, as SHOW CONTINUOUS QUERIES prints).
struct continuous_query_def {
  std::string database;
  std::string name;
  std::string query;
  bool operator==(const continuous_query_def&) const = default;
};

// The CQ definitions, in memory. The app persists them with serialize() (a
// JSON document) after every change and restores them with deserialize() at
// start. Also remembers when each CQ last ran. Thread-safe.
class continuous_query_registry {
 public:
  status create(continuous_query_def def);  // already_exists if the name is taken in the database
  status drop(std::string_view database, std::string_view name);
  std::vector<continuous_query_def> list() const;  // sorted by database, then name

  std::string serialize() const;
  status deserialize(std::string_view json);  // replaces the current definitions

  // Last time (ns) the CQ ran; 0 = never.
  int64_t last_run(std::string_view database, std::string_view name) const;
  void set_last_run(std::string_view database, std::string_view name, int64_t t);

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, continuous_query_def> defs_;
  std::map<std::pair<std::string, std::string>, int64_t> last_run_;
};

// Runs every CQ due at now_ns: a CQ with GROUP BY time(i[, o]) RESAMPLE EVERY
// e FOR f (e and f default to i) is due when a multiple of e has passed since
// its last run, and then computes the windows of [window(now) - f,
// window(now)) — the interval(s) just completed — writing them with its
// SELECT ... INTO. Returns one result per CQ run, for logging.
std::vector<statement_result> run_continuous_queries(storage& s, continuous_query_registry& registry,
                                                     int64_t now_ns);

}  // namespace liandu::query
