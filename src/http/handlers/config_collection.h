#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace liandu::http::handlers {

// A named set of JSON configuration entries owned by a connector or tool —
// MQTT topic mappings, Modbus devices, bridges — served under
// /api/v1/<collection>. Every entry is an object with a string "name"
// (unique in the collection) and a string "database" it writes to; the
// handler scopes every request by that database, so a tenant sees and edits
// only entries of databases it may read or write.
class config_collection {
 public:
  virtual ~config_collection() = default;
  virtual std::vector<nlohmann::json> list() const = 0;
  // Validates and adds (or replaces by name) one entry, durably. Errors name
  // the offending key.
  virtual status put(const nlohmann::json& entry) = 0;
  // not_found if there is no such entry.
  virtual status remove(std::string_view name) = 0;
};

}  // namespace liandu::http::handlers
