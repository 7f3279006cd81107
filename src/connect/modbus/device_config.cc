#include "connect/modbus/device_config.h"

#include <cmath>
#include <set>

namespace liandu::connect::modbus {

namespace {

const std::set<std::string, std::less<>> read_only_keys = {"status", "last_error", "polls", "errors",
                                                           "last_poll_ms"};
const std::set<std::string, std::less<>> known_keys = {"name",    "database",    "host",       "port",
                                                       "unit_id", "interval_ms", "timeout_ms", "measurement",
                                                       "tags",    "registers"};
const std::set<std::string, std::less<>> register_keys = {
    "field", "table", "address", "type", "byte_order", "word_order", "scale", "offset", "unit"};

constexpr table all_tables[] = {table::coil, table::discrete_input, table::input_register,
                                table::holding_register};
constexpr value_type all_types[] = {value_type::boolean, value_type::int16,  value_type::uint16,
                                    value_type::int32,   value_type::uint32, value_type::int64,
                                    value_type::float32, value_type::float64};

// Names end up in metric labels, tags and URLs: keep them plain.
bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

template <typename E, size_t N, typename NameFn>
std::string choices(const E (&all)[N], NameFn name) {
  std::string out;
  for (size_t i = 0; i < N; ++i) {
    if (i > 0) out += ", ";
    out += name(all[i]);
  }
  return out;
}

class checker {
 public:
  explicit checker(std::string who) : who_(std::move(who)) {}

  status fail(const std::string& key, const std::string& what) const {
    return error(errc::invalid_argument, who_ + ": \"" + key + "\" " + what);
  }

  status string_at(const nlohmann::json& j, const char* key, std::string& out, bool required) const {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return required ? fail(key, "is required (a string)") : status{};
    if (!it->is_string()) return fail(key, "must be a string");
    out = it->get<std::string>();
    if (out.empty()) return fail(key, "must not be empty");
    return {};
  }

  status int_at(const nlohmann::json& j, const char* key, int64_t& out, int64_t lo, int64_t hi,
                bool required = false) const {
    auto it = j.find(key);
    std::string range = "an integer " + std::to_string(lo) + ".." + std::to_string(hi);
    if (it == j.end() || it->is_null()) return required ? fail(key, "is required (" + range + ")") : status{};
    if (!it->is_number_integer()) return fail(key, "must be " + range);
    int64_t v = it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)
                    ? INT64_MAX
                    : it->get<int64_t>();
    if (v < lo || v > hi) return fail(key, "must be " + range + ", not " + it->dump());
    out = v;
    return {};
  }

  status number_at(const nlohmann::json& j, const char* key, std::optional<double>& out) const {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return {};
    if (!it->is_number() || !std::isfinite(it->get<double>())) return fail(key, "must be a finite number");
    out = it->get<double>();
    return {};
  }

  status order_at(const nlohmann::json& j, const char* key, order& out) const {
    std::string s;
    LIANDU_RETURN_IF_ERROR(string_at(j, key, s, false));
    if (s.empty()) return {};
    if (s == "big") {
      out = order::big;
    } else if (s == "little") {
      out = order::little;
    } else {
      return fail(key, "must be \"big\" or \"little\", not \"" + s + "\"");
    }
    return {};
  }

 private:
  std::string who_;
};

result<register_spec> parse_register(const checker& ck, const nlohmann::json& e) {
  register_spec r;
  if (!e.is_object()) return ck.fail("field", "is required: each register must be an object");
  for (const auto& [k, v] : e.items()) {
    if (!register_keys.contains(k)) return ck.fail(k, "is not a known key");
  }
  LIANDU_RETURN_IF_ERROR(ck.string_at(e, "field", r.field, true));
  std::string t;
  LIANDU_RETURN_IF_ERROR(ck.string_at(e, "table", t, true));
  bool found = false;
  for (table x : all_tables) {
    if (t == table_name(x)) r.tab = x, found = true;
  }
  if (!found)
    return ck.fail("table", "must be one of " + choices(all_tables, table_name) + ", not \"" + t + "\"");
  int64_t address = 0;
  LIANDU_RETURN_IF_ERROR(ck.int_at(e, "address", address, 0, 65535, true));
  r.address = static_cast<uint16_t>(address);
  r.type = is_bit_table(r.tab) ? value_type::boolean : value_type::uint16;
  std::string ty;
  LIANDU_RETURN_IF_ERROR(ck.string_at(e, "type", ty, false));
  if (!ty.empty()) {
    found = false;
    for (value_type x : all_types) {
      if (ty == type_name(x)) r.type = x, found = true;
    }
    if (!found)
      return ck.fail("type", "must be one of " + choices(all_types, type_name) + ", not \"" + ty + "\"");
  }
  if (is_bit_table(r.tab) && r.type != value_type::boolean)
    return ck.fail("type", std::string("must be bool: a ") + table_name(r.tab) + " holds one bit, not a " +
                               type_name(r.type));
  int count = register_count(r.type);
  if (address + count > 65536)
    return ck.fail("address", std::to_string(address) + " + " + std::to_string(count) + " registers of " +
                                  type_name(r.type) + " passes the last address 65535");
  LIANDU_RETURN_IF_ERROR(ck.order_at(e, "byte_order", r.byte_order));
  LIANDU_RETURN_IF_ERROR(ck.order_at(e, "word_order", r.word_order));
  LIANDU_RETURN_IF_ERROR(ck.number_at(e, "scale", r.scale));
  LIANDU_RETURN_IF_ERROR(ck.number_at(e, "offset", r.offset));
  if (r.type == value_type::boolean && (r.scale || r.offset))
    return ck.fail(r.scale ? "scale" : "offset", "applies to numeric types only, not bool");
  auto unit = e.find("unit");
  if (unit != e.end() && !unit->is_null()) {
    if (!unit->is_string()) return ck.fail("unit", "must be a string");
    r.unit = unit->get<std::string>();
  }
  return r;
}

}  // namespace

const char* table_name(table t) {
  switch (t) {
    case table::coil: return "coil";
    case table::discrete_input: return "discrete_input";
    case table::input_register: return "input_register";
    case table::holding_register: return "holding_register";
  }
  return "?";
}

const char* type_name(value_type t) {
  switch (t) {
    case value_type::boolean: return "bool";
    case value_type::int16: return "int16";
    case value_type::uint16: return "uint16";
    case value_type::int32: return "int32";
    case value_type::uint32: return "uint32";
    case value_type::int64: return "int64";
    case value_type::float32: return "float32";
    case value_type::float64: return "float64";
  }
  return "?";
}

int register_count(value_type t) {
  switch (t) {
    case value_type::boolean:
    case value_type::int16:
    case value_type::uint16: return 1;
    case value_type::int32:
    case value_type::uint32:
    case value_type::float32: return 2;
    case value_type::int64:
    case value_type::float64: return 4;
  }
  return 1;
}

result<device_config> parse_device_config(const nlohmann::json& j) {
  if (!j.is_object()) return error(errc::invalid_argument, "a Modbus device must be a JSON object");
  device_config c;
  {
    checker ck("device");
    LIANDU_RETURN_IF_ERROR(ck.string_at(j, "name", c.name, true));
    if (!valid_name(c.name))
      return ck.fail("name", "must be 1-128 letters, digits, '_', '-' or '.', not \"" + c.name + "\"");
  }
  checker ck("device " + c.name);
  for (const auto& [k, v] : j.items()) {
    if (!known_keys.contains(k) && !read_only_keys.contains(k)) return ck.fail(k, "is not a known key");
  }
  LIANDU_RETURN_IF_ERROR(ck.string_at(j, "database", c.database, true));
  LIANDU_RETURN_IF_ERROR(ck.string_at(j, "host", c.host, true));
  int64_t v = c.port;
  LIANDU_RETURN_IF_ERROR(ck.int_at(j, "port", v, 1, 65535));
  c.port = static_cast<int>(v);
  v = c.unit_id;
  LIANDU_RETURN_IF_ERROR(ck.int_at(j, "unit_id", v, 0, 255));
  c.unit_id = static_cast<int>(v);
  LIANDU_RETURN_IF_ERROR(ck.int_at(j, "interval_ms", c.interval_ms, min_interval_ms, max_interval_ms));
  LIANDU_RETURN_IF_ERROR(ck.int_at(j, "timeout_ms", c.timeout_ms, 10, 60000));
  LIANDU_RETURN_IF_ERROR(ck.string_at(j, "measurement", c.measurement, false));
  if (auto it = j.find("tags"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return ck.fail("tags", "must be an object of strings");
    for (const auto& [k, tv] : it->items()) {
      if (k.empty()) return ck.fail("tags", "keys must not be empty");
      if (k == "device") return ck.fail("tags.device", "is set to the device name; choose another key");
      if (!tv.is_string() || tv.get<std::string>().empty())
        return ck.fail("tags." + k, "must be a non-empty string");
      c.tags[k] = tv.get<std::string>();
    }
  }
  auto regs = j.find("registers");
  if (regs == j.end() || !regs->is_array() || regs->empty())
    return ck.fail("registers", "is required (a non-empty array of registers)");
  if (regs->size() > max_registers)
    return ck.fail("registers", "has " + std::to_string(regs->size()) + " entries; at most " +
                                    std::to_string(max_registers));
  std::set<std::string, std::less<>> fields;
  for (size_t i = 0; i < regs->size(); ++i) {
    const auto& e = (*regs)[i];
    std::string where = "device " + c.name + ": registers[" + std::to_string(i) + "]";
    if (e.is_object() && e.contains("field") && e["field"].is_string())
      where += " (" + e["field"].get<std::string>() + ")";
    auto r = parse_register(checker(where), e);
    if (!r.ok()) return r.error();
    if (!fields.insert(r->field).second)
      return checker(where).fail("field", "\"" + r->field + "\" is already used by an earlier register");
    c.registers.push_back(std::move(r).value());
  }
  return c;
}

nlohmann::json to_json(const device_config& c) {
  nlohmann::json j = {{"name", c.name},
                      {"database", c.database},
                      {"host", c.host},
                      {"port", c.port},
                      {"unit_id", c.unit_id},
                      {"interval_ms", c.interval_ms},
                      {"timeout_ms", c.timeout_ms},
                      {"measurement", c.measurement},
                      {"tags", nlohmann::json::object()}};
  for (const auto& [k, v] : c.tags) j["tags"][k] = v;
  nlohmann::json regs = nlohmann::json::array();
  for (const auto& r : c.registers) {
    nlohmann::json e = {{"field", r.field},
                        {"table", table_name(r.tab)},
                        {"address", r.address},
                        {"type", type_name(r.type)}};
    if (!is_bit_table(r.tab) && r.type != value_type::boolean) {
      e["byte_order"] = r.byte_order == order::big ? "big" : "little";
      e["word_order"] = r.word_order == order::big ? "big" : "little";
    }
    if (r.scale) e["scale"] = *r.scale;
    if (r.offset) e["offset"] = *r.offset;
    if (!r.unit.empty()) e["unit"] = r.unit;
    regs.push_back(std::move(e));
  }
  j["registers"] = std::move(regs);
  return j;
}

}  // namespace liandu::connect::modbus
