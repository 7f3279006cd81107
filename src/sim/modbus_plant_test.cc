#include "sim/modbus_plant.h"

#include <gtest/gtest.h>

#include <vector>

#include "connect/modbus/decode.h"
#include "sim/plant.h"

namespace liandu::sim {
namespace {

using connect::modbus::order;
using connect::modbus::register_spec;
using connect::modbus::value_type;

model::field_value decode(std::span<uint16_t> regs, uint16_t at, value_type t, order bytes = order::big,
                          order words = order::big) {
  register_spec r;
  r.field = "x";
  r.type = t;
  r.byte_order = bytes;
  r.word_order = words;
  auto v = connect::modbus::decode_registers(r, regs.subspan(at));
  EXPECT_TRUE(v.ok());
  return v.ok() ? *v : model::field_value{};
}

TEST(SimModbus, MachineRegistersFollowTheLine) {
  std::vector<uint8_t> coils(modbus_bits), inputs(modbus_bits);
  std::vector<uint16_t> in(modbus_input_registers), hold(modbus_holding_registers);
  connect::modbus::bank_ref b{coils, inputs, in, hold};
  fill_machine_registers(
      "machine,line=line1,machine=site1-line1-m01,site=site1 state=\"down\",state_code=3i,spindle_speed=0,"
      "temperature=-12.34,vibration=0.512,pressure=0.00,power=1.50,feed_rate=0.0,feed_setpoint=1234.5,"
      "cycle_count=4000000000i,good_count=12i,scrap_count=3i 1700000000000000000",
      7, b);
  EXPECT_EQ(coils[0], 0);
  EXPECT_EQ(coils[1], 1);
  EXPECT_EQ(inputs[3], 1);
  EXPECT_EQ(inputs[0], 0);
  EXPECT_EQ(std::get<int64_t>(decode(in, 0, value_type::uint16)), 3);
  EXPECT_EQ(std::get<int64_t>(decode(in, 1, value_type::int16)), -1234);
  EXPECT_EQ(std::get<double>(decode(in, 4, value_type::float32)), static_cast<double>(0.512f));
  EXPECT_EQ(std::get<double>(decode(in, 8, value_type::float32)), 1.5);
  EXPECT_EQ(std::get<int64_t>(decode(in, 12, value_type::uint32)), 4000000000LL);
  EXPECT_EQ(std::get<int64_t>(decode(in, 16, value_type::uint32)), 3);
  EXPECT_EQ(std::get<double>(decode(hold, 0, value_type::float32)), 1234.5);
  EXPECT_EQ(std::get<int64_t>(decode(hold, 2, value_type::uint16)), 12345);
  EXPECT_EQ(std::get<int64_t>(decode(hold, 3, value_type::uint16)), 7);
}

TEST(SimModbus, TestBlockInEveryLayout) {
  std::vector<uint16_t> h(modbus_holding_registers);
  fill_test_block(h);
  EXPECT_EQ(std::get<int64_t>(decode(h, 100, value_type::int16)), -12345);
  EXPECT_EQ(std::get<int64_t>(decode(h, 101, value_type::uint16)), 54321);
  EXPECT_EQ(std::get<int64_t>(decode(h, 102, value_type::int32)), -123456789);
  EXPECT_EQ(std::get<int64_t>(decode(h, 104, value_type::int32, order::big, order::little)), -123456789);
  EXPECT_EQ(std::get<int64_t>(decode(h, 106, value_type::uint32)), 3000000000LL);
  EXPECT_EQ(std::get<int64_t>(decode(h, 108, value_type::int64)), -1234567890123LL);
  EXPECT_EQ(std::get<int64_t>(decode(h, 112, value_type::int64, order::big, order::little)),
            -1234567890123LL);
  const double pi = 3.14159f;
  EXPECT_EQ(std::get<double>(decode(h, 116, value_type::float32)), pi);
  EXPECT_EQ(std::get<double>(decode(h, 118, value_type::float32, order::big, order::little)), pi);
  EXPECT_EQ(std::get<double>(decode(h, 120, value_type::float32, order::little, order::big)), pi);
  EXPECT_EQ(std::get<double>(decode(h, 122, value_type::float32, order::little, order::little)), pi);
  EXPECT_EQ(std::get<double>(decode(h, 124, value_type::float64)), 2.718281828459045);
  EXPECT_EQ(std::get<double>(decode(h, 128, value_type::float64, order::little, order::little)),
            2.718281828459045);
  // The layouts really differ.
  EXPECT_NE(std::get<double>(decode(h, 118, value_type::float32)), pi);
}

TEST(SimModbus, OneUnitPerMachineFromThePlant) {
  plant p(plant_options{1, 1, 3, 42, 10000000000LL});
  modbus_plant mp(p.machine_count());
  EXPECT_EQ(mp.units(), 3u);
  EXPECT_FALSE(mp.start("127.0.0.1").ok());
  EXPECT_FALSE(mp.start("127.0.0.1:99999").ok());
  auto port = mp.start("127.0.0.1:0");
  ASSERT_TRUE(port.ok()) << port.error().message();
  std::string lines;
  p.step(1700000000000000000LL, lines);
  mp.update(lines);
  mp.stop();
  EXPECT_EQ(modbus_plant(1000).units(), modbus_max_units);
}

}  // namespace
}  // namespace liandu::sim
