#include "connect/sparkplug/group_config.h"

#include <algorithm>

namespace liandu::connect::sparkplug {

result<group_entry> parse_group_entry(const nlohmann::json& j) {
  if (!j.is_object()) return error(errc::invalid_argument, "sparkplug entry must be a JSON object");
  const std::string who = j.contains("name") && j["name"].is_string() ? j["name"].get<std::string>() : "";
  auto bad = [&](const std::string& what) {
    return error(errc::invalid_argument, "sparkplug entry \"" + who + "\": " + what);
  };
  group_entry e;
  for (const auto& [key, value] : j.items()) {
    std::string* target = nullptr;
    if (key == "name") {
      target = &e.name;
    } else if (key == "database") {
      target = &e.database;
    } else if (key == "group") {
      target = &e.group;
    } else if (key == "retention_policy") {
      target = &e.retention_policy;
    } else {
      return bad("unknown key \"" + key + "\"");
    }
    if (!value.is_string()) return bad("\"" + key + "\" must be a string");
    *target = value.get<std::string>();
  }
  if (e.name.empty()) return bad("\"name\" is required");
  if (e.database.empty()) return bad("\"database\" is required");
  if (e.group.empty()) return bad("\"group\" is required (a group id, or + for every group)");
  if (e.group != "+" && e.group.find_first_of("/+#") != std::string::npos)
    return bad("\"group\" must be a group id without '/', '+' or '#', or + alone");
  return e;
}

nlohmann::json to_json(const group_entry& e) {
  nlohmann::json j{{"name", e.name}, {"database", e.database}, {"group", e.group}};
  if (!e.retention_policy.empty()) j["retention_policy"] = e.retention_policy;
  return j;
}

void group_table::put(group_entry e) {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), e.name,
                             [](const group_entry& a, const std::string& n) { return a.name < n; });
  if (it != entries_.end() && it->name == e.name) {
    *it = std::move(e);
  } else {
    entries_.insert(it, std::move(e));
  }
}

bool group_table::remove(std::string_view name) {
  auto it =
      std::find_if(entries_.begin(), entries_.end(), [&](const group_entry& e) { return e.name == name; });
  if (it == entries_.end()) return false;
  entries_.erase(it);
  return true;
}

const group_entry* group_table::match(std::string_view group) const {
  const group_entry* any = nullptr;
  for (const auto& e : entries_) {
    if (e.group == group) return &e;
    if (any == nullptr && e.group == "+") any = &e;
  }
  return any;
}

}  // namespace liandu::connect::sparkplug
