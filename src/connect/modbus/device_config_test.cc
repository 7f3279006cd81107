#include "connect/modbus/device_config.h"

#include <gtest/gtest.h>

namespace liandu::connect::modbus {
namespace {

nlohmann::json good() {
  return nlohmann::json::parse(R"({
    "name": "press-7", "database": "plant", "host": "127.0.0.1", "port": 1502, "unit_id": 3,
    "interval_ms": 500, "timeout_ms": 300, "measurement": "machine", "tags": {"line": "line1"},
    "registers": [
      {"field": "temperature", "table": "input_register", "address": 1, "type": "int16", "scale": 0.01,
       "unit": "degC"},
      {"field": "speed", "table": "holding_register", "address": 10, "type": "float32",
       "byte_order": "little", "word_order": "little"},
      {"field": "running", "table": "discrete_input", "address": 0},
      {"field": "alarm", "table": "coil", "address": 7, "type": "bool"},
      {"field": "raw", "table": "holding_register", "address": 65535}
    ]})");
}

// The message of the error parse_device_config gives for `j`.
std::string error_of(const nlohmann::json& j) {
  auto c = parse_device_config(j);
  EXPECT_FALSE(c.ok()) << j.dump();
  return c.ok() ? std::string() : c.error().message();
}

TEST(ModbusConfig, ParsesAFullEntry) {
  auto c = parse_device_config(good());
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->name, "press-7");
  EXPECT_EQ(c->port, 1502);
  EXPECT_EQ(c->unit_id, 3);
  EXPECT_EQ(c->interval_ms, 500);
  EXPECT_EQ(c->timeout_ms, 300);
  EXPECT_EQ(c->measurement, "machine");
  EXPECT_EQ(c->tags.at("line"), "line1");
  ASSERT_EQ(c->registers.size(), 5u);
  EXPECT_EQ(c->registers[0].type, value_type::int16);
  EXPECT_EQ(c->registers[0].scale.value(), 0.01);
  EXPECT_FALSE(c->registers[0].offset.has_value());
  EXPECT_EQ(c->registers[0].unit, "degC");
  EXPECT_EQ(c->registers[1].byte_order, order::little);
  EXPECT_EQ(c->registers[1].word_order, order::little);
  EXPECT_EQ(c->registers[2].tab, table::discrete_input);
  EXPECT_EQ(c->registers[2].type, value_type::boolean);  // default on bit tables
  EXPECT_EQ(c->registers[4].type, value_type::uint16);   // default on register tables
  EXPECT_EQ(c->registers[4].address, 65535);
}

TEST(ModbusConfig, Defaults) {
  auto c = parse_device_config(nlohmann::json::parse(
      R"({"name": "d", "database": "db", "host": "plc", "registers": [{"field": "x", "table": "coil", "address": 0}]})"));
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->port, 502);
  EXPECT_EQ(c->unit_id, 1);
  EXPECT_EQ(c->interval_ms, 1000);
  EXPECT_EQ(c->timeout_ms, 1000);
  EXPECT_EQ(c->measurement, "modbus");
  EXPECT_TRUE(c->tags.empty());
}

TEST(ModbusConfig, JsonRoundTripsAndAcceptsWhatGetAdds) {
  auto c = parse_device_config(good());
  ASSERT_TRUE(c.ok());
  nlohmann::json j = to_json(*c);
  j["status"] = "up";
  j["last_error"] = "";
  j["polls"] = 3;
  j["errors"] = 0;
  j["last_poll_ms"] = 1.5;
  auto again = parse_device_config(j);
  ASSERT_TRUE(again.ok()) << again.error().message();
  EXPECT_EQ(to_json(*again), to_json(*c));
}

TEST(ModbusConfig, DeviceErrorsNameTheKey) {
  auto j = good();
  j.erase("name");
  EXPECT_EQ(error_of(j), "device: \"name\" is required (a string)");
  j = good();
  j["name"] = "a/b";
  EXPECT_NE(error_of(j).find("\"name\" must be"), std::string::npos);
  j = good();
  j.erase("database");
  EXPECT_EQ(error_of(j), "device press-7: \"database\" is required (a string)");
  j = good();
  j.erase("host");
  EXPECT_EQ(error_of(j), "device press-7: \"host\" is required (a string)");
  j = good();
  j["colour"] = "red";
  EXPECT_EQ(error_of(j), "device press-7: \"colour\" is not a known key");
  j = good();
  j["port"] = 70000;
  EXPECT_EQ(error_of(j), "device press-7: \"port\" must be an integer 1..65535, not 70000");
  j = good();
  j["port"] = "502";
  EXPECT_EQ(error_of(j), "device press-7: \"port\" must be an integer 1..65535");
  j = good();
  j["unit_id"] = 256;
  EXPECT_NE(error_of(j).find("\"unit_id\" must be an integer 0..255"), std::string::npos);
  j = good();
  j["interval_ms"] = 10;
  EXPECT_NE(error_of(j).find("\"interval_ms\" must be an integer 50.."), std::string::npos);
  j = good();
  j["timeout_ms"] = 0;
  EXPECT_NE(error_of(j).find("\"timeout_ms\""), std::string::npos);
  j = good();
  j["measurement"] = "";
  EXPECT_EQ(error_of(j), "device press-7: \"measurement\" must not be empty");
  j = good();
  j["tags"] = {{"device", "x"}};
  EXPECT_NE(error_of(j).find("\"tags.device\""), std::string::npos);
  j = good();
  j["tags"] = {{"line", 1}};
  EXPECT_EQ(error_of(j), "device press-7: \"tags.line\" must be a non-empty string");
  j = good();
  j["registers"] = nlohmann::json::array();
  EXPECT_NE(error_of(j).find("\"registers\" is required"), std::string::npos);
  j = good();
  j.erase("registers");
  EXPECT_NE(error_of(j).find("\"registers\" is required"), std::string::npos);
  j = good();
  j["registers"] = nlohmann::json::array();
  for (int i = 0; i < 1001; ++i)
    j["registers"].push_back(
        {{"field", std::string("f").append(std::to_string(i))}, {"table", "coil"}, {"address", i}});
  EXPECT_NE(error_of(j).find("at most 1000"), std::string::npos);
  EXPECT_EQ(error_of(nlohmann::json::array()), "a Modbus device must be a JSON object");
}

TEST(ModbusConfig, RegisterErrorsNameIndexFieldAndKey) {
  auto with = [](size_t i, const char* key, nlohmann::json v) {
    auto j = good();
    if (v.is_null()) {
      j["registers"][i].erase(key);
    } else {
      j["registers"][i][key] = v;
    }
    return error_of(j);
  };
  EXPECT_EQ(
      with(1, "table", "register"),
      "device press-7: registers[1] (speed): \"table\" must be one of coil, discrete_input, input_register, "
      "holding_register, not \"register\"");
  EXPECT_EQ(
      with(1, "type", "int8"),
      "device press-7: registers[1] (speed): \"type\" must be one of bool, int16, uint16, int32, uint32, "
      "int64, float32, float64, not \"int8\"");
  EXPECT_EQ(
      with(2, "type", "int16"),
      "device press-7: registers[2] (running): \"type\" must be bool: a discrete_input holds one bit, not "
      "a int16");
  EXPECT_EQ(
      with(1, "address", 65535),
      "device press-7: registers[1] (speed): \"address\" 65535 + 2 registers of float32 passes the last "
      "address 65535");
  EXPECT_EQ(with(1, "address", -1),
            "device press-7: registers[1] (speed): \"address\" must be an integer 0..65535, not -1");
  EXPECT_EQ(with(1, "address", 1.5),
            "device press-7: registers[1] (speed): \"address\" must be an integer 0..65535");
  EXPECT_EQ(with(1, "address", nullptr),
            "device press-7: registers[1] (speed): \"address\" is required (an integer 0..65535)");
  EXPECT_EQ(with(0, "table", nullptr),
            "device press-7: registers[0] (temperature): \"table\" is required (a string)");
  EXPECT_EQ(
      with(1, "byte_order", "middle"),
      "device press-7: registers[1] (speed): \"byte_order\" must be \"big\" or \"little\", not \"middle\"");
  EXPECT_NE(with(1, "word_order", 1).find("\"word_order\" must be a string"), std::string::npos);
  EXPECT_EQ(with(3, "scale", 2),
            "device press-7: registers[3] (alarm): \"scale\" applies to numeric types only, not bool");
  EXPECT_EQ(with(0, "offset", "1"),
            "device press-7: registers[0] (temperature): \"offset\" must be a finite number");
  EXPECT_EQ(with(0, "colour", "red"),
            "device press-7: registers[0] (temperature): \"colour\" is not a known key");
  EXPECT_EQ(with(0, "field", nullptr), "device press-7: registers[0]: \"field\" is required (a string)");
  EXPECT_EQ(
      with(1, "field", "temperature"),
      "device press-7: registers[1] (temperature): \"field\" \"temperature\" is already used by an earlier "
      "register");
  // Every type on a register table fits at the end of the address space.
  auto j = good();
  j["registers"][1]["address"] = 65532;
  j["registers"][1]["type"] = "float64";
  EXPECT_TRUE(parse_device_config(j).ok());
}

}  // namespace
}  // namespace liandu::connect::modbus
