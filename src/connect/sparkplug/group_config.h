#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace liandu::connect::sparkplug {

// Which database receives which Sparkplug group: entries of the config
// collection /api/v1/sparkplug, e.g.
//   {"name": "plant1", "database": "plant", "group": "plant1"}
//   {"name": "all", "database": "scada", "group": "+", "retention_policy": "week"}
// "group" is a Sparkplug group id or "+" for every group; an exact group
// beats "+" (the first "+" entry by name wins among several).
struct group_entry {
  std::string name;
  std::string database;
  std::string retention_policy;  // empty: the database's default
  std::string group;             // group id or "+"
};

// Validates one entry; errors (invalid_argument) name the offending key.
result<group_entry> parse_group_entry(const nlohmann::json& j);
nlohmann::json to_json(const group_entry& e);

// Not thread-safe; the owner locks.
class group_table {
 public:
  void put(group_entry e);  // adds, or replaces the entry of that name
  bool remove(std::string_view name);
  const group_entry* match(std::string_view group) const;
  const std::vector<group_entry>& entries() const { return entries_; }  // sorted by name

 private:
  std::vector<group_entry> entries_;
};

}  // namespace liandu::connect::sparkplug
