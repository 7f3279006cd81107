#include "connect/modbus/decode.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

namespace liandu::connect::modbus {
namespace {

register_spec spec(value_type t, order bytes = order::big, order words = order::big) {
  register_spec r;
  r.field = "f";
  r.tab = table::holding_register;
  r.type = t;
  r.byte_order = bytes;
  r.word_order = words;
  return r;
}

// The registers a device holds for the big-endian bytes `be` (most
// significant first) under the given orders; written independently of the
// decoder: bytes → registers, then the byte swap, then the word swap.
std::vector<uint16_t> encode(std::vector<uint8_t> be, order bytes, order words) {
  std::vector<uint16_t> regs;
  for (size_t i = 0; i < be.size(); i += 2) {
    uint8_t hi = be[i], lo = be[i + 1];
    if (bytes == order::little) std::swap(hi, lo);
    regs.push_back(static_cast<uint16_t>(hi << 8 | lo));
  }
  if (words == order::little) std::reverse(regs.begin(), regs.end());
  return regs;
}

std::vector<uint8_t> be_bytes(uint64_t v, int n) {
  std::vector<uint8_t> out;
  for (int i = n - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return out;
}

constexpr order orders[] = {order::big, order::little};

TEST(ModbusDecode, FloatOneInTheFourCommonLayouts) {
  // The table in decode.h.
  struct {
    order bytes, words;
    std::vector<uint16_t> regs;
  } cases[] = {{order::big, order::big, {0x3F80, 0x0000}},
               {order::big, order::little, {0x0000, 0x3F80}},
               {order::little, order::big, {0x803F, 0x0000}},
               {order::little, order::little, {0x0000, 0x803F}}};
  for (const auto& c : cases) {
    auto v = decode_registers(spec(value_type::float32, c.bytes, c.words), c.regs);
    ASSERT_TRUE(v.ok()) << v.error().message();
    EXPECT_EQ(std::get<double>(*v), 1.0);
  }
}

TEST(ModbusDecode, Int32WordSwapped) {
  auto v = decode_registers(spec(value_type::int32, order::big, order::little),
                            std::vector<uint16_t>{0x5678, 0x1234});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(std::get<int64_t>(*v), 0x12345678);
  v = decode_registers(spec(value_type::int32), std::vector<uint16_t>{0xFFFF, 0xFFFE});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(std::get<int64_t>(*v), -2);
}

TEST(ModbusDecode, EveryIntegerTypeAndOrder) {
  struct c {
    value_type t;
    int bytes;
    uint64_t bits;
    int64_t want;
  } cases[] = {
      {value_type::int16, 2, 0x0000, 0},
      {value_type::int16, 2, 0x7FFF, 32767},
      {value_type::int16, 2, 0x8000, -32768},
      {value_type::int16, 2, 0xCFC7, -12345},
      {value_type::uint16, 2, 0xFFFF, 65535},
      {value_type::uint16, 2, 0xD431, 54321},
      {value_type::int32, 4, 0x80000000, std::numeric_limits<int32_t>::min()},
      {value_type::int32, 4, 0x7FFFFFFF, std::numeric_limits<int32_t>::max()},
      {value_type::int32, 4, 0xF8A432EB, -123456789},
      {value_type::uint32, 4, 0xFFFFFFFF, 4294967295LL},
      {value_type::uint32, 4, 0xB2D05E00, 3000000000LL},
      {value_type::int64, 8, 0x8000000000000000ULL, std::numeric_limits<int64_t>::min()},
      {value_type::int64, 8, 0x7FFFFFFFFFFFFFFFULL, std::numeric_limits<int64_t>::max()},
      {value_type::int64, 8, 0xFFFFFEE08E04FB35ULL, -1234567890123LL},
      {value_type::int64, 8, 0x0102030405060708ULL, 0x0102030405060708LL},
  };
  for (const auto& k : cases) {
    for (order b : orders) {
      for (order w : orders) {
        auto regs = encode(be_bytes(k.bits, k.bytes), b, w);
        ASSERT_EQ(regs.size(), static_cast<size_t>(register_count(k.t)));
        auto v = decode_registers(spec(k.t, b, w), regs);
        ASSERT_TRUE(v.ok()) << v.error().message();
        ASSERT_TRUE(std::holds_alternative<int64_t>(*v)) << type_name(k.t);
        EXPECT_EQ(std::get<int64_t>(*v), k.want)
            << type_name(k.t) << " bytes " << (b == order::big) << " words " << (w == order::big);
      }
    }
  }
}

TEST(ModbusDecode, EveryFloatTypeAndOrder) {
  const float f32[] = {0.0f, -0.0f, 1.0f, -1.5f, 3.14159f, 1e-38f, 3.4e38f, 123456.789f};
  const double f64[] = {0.0, 2.718281828459045, -1e300, 1e-300, 6.02214076e23};
  for (order b : orders) {
    for (order w : orders) {
      for (float f : f32) {
        auto v = decode_registers(spec(value_type::float32, b, w),
                                  encode(be_bytes(std::bit_cast<uint32_t>(f), 4), b, w));
        ASSERT_TRUE(v.ok());
        EXPECT_EQ(std::get<double>(*v), static_cast<double>(f));
      }
      for (double d : f64) {
        auto v = decode_registers(spec(value_type::float64, b, w),
                                  encode(be_bytes(std::bit_cast<uint64_t>(d), 8), b, w));
        ASSERT_TRUE(v.ok());
        EXPECT_EQ(std::get<double>(*v), d);
      }
    }
  }
}

TEST(ModbusDecode, BoolFromRegisterAndBit) {
  auto v = decode_registers(spec(value_type::boolean), std::vector<uint16_t>{0});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(std::get<bool>(*v), false);
  v = decode_registers(spec(value_type::boolean), std::vector<uint16_t>{0x0100});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(std::get<bool>(*v), true);
  EXPECT_EQ(std::get<bool>(decode_bit(true)), true);
  EXPECT_EQ(std::get<bool>(decode_bit(false)), false);
}

TEST(ModbusDecode, ScaleAndOffsetGiveFloats) {
  register_spec r = spec(value_type::int16);
  r.scale = 0.1;
  r.offset = 5;
  auto v = decode_registers(r, std::vector<uint16_t>{static_cast<uint16_t>(-100)});
  ASSERT_TRUE(v.ok());
  EXPECT_DOUBLE_EQ(std::get<double>(*v), -5.0);

  r = spec(value_type::uint16);
  r.offset = -273.15;
  v = decode_registers(r, std::vector<uint16_t>{300});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(std::get<double>(*v), 300 * 1.0 + -273.15);

  r = spec(value_type::uint32, order::big, order::little);
  r.scale = 0.001;
  v = decode_registers(r, std::vector<uint16_t>{0x5E00, 0xB2D0});  // 3000000000
  ASSERT_TRUE(v.ok());
  EXPECT_DOUBLE_EQ(std::get<double>(*v), 3000000.0);

  r = spec(value_type::float32);
  r.scale = 2;
  v = decode_registers(r, std::vector<uint16_t>{0x3F80, 0});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(std::get<double>(*v), 2.0);
}

TEST(ModbusDecode, NonFiniteAndShortInputAreErrors) {
  auto v = decode_registers(spec(value_type::float32), std::vector<uint16_t>{0x7FC0, 0});  // NaN
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message().find("field f"), std::string::npos) << v.error().message();
  v = decode_registers(spec(value_type::float32), std::vector<uint16_t>{0x7F80, 0});  // +inf
  EXPECT_FALSE(v.ok());
  v = decode_registers(spec(value_type::float64), std::vector<uint16_t>{1, 2, 3});
  EXPECT_FALSE(v.ok());
}

register_spec at(table t, uint16_t address, value_type type) {
  register_spec r;
  r.field = "f" + std::to_string(address);
  r.tab = t;
  r.address = address;
  r.type = type;
  return r;
}

TEST(ModbusPlan, AdjacentRegistersShareOneRead) {
  std::vector<register_spec> s = {
      at(table::holding_register, 4, value_type::float32), at(table::holding_register, 0, value_type::uint16),
      at(table::holding_register, 1, value_type::int32), at(table::holding_register, 3, value_type::int16)};
  read_plan p = plan_reads(s);
  ASSERT_EQ(p.reads.size(), 1u);
  EXPECT_EQ(p.reads[0], (read_request{table::holding_register, 0, 6}));
  ASSERT_EQ(p.slots.size(), 4u);
  EXPECT_EQ(p.slots[0].offset, 4);
  EXPECT_EQ(p.slots[1].offset, 0);
  EXPECT_EQ(p.slots[2].offset, 1);
  EXPECT_EQ(p.slots[3].offset, 3);
}

TEST(ModbusPlan, GapsAndTablesSplitReads) {
  std::vector<register_spec> s = {at(table::holding_register, 0, value_type::uint16),
                                  at(table::holding_register, 2, value_type::uint16),  // gap at 1
                                  at(table::input_register, 0, value_type::uint16),
                                  at(table::coil, 0, value_type::boolean),
                                  at(table::coil, 1, value_type::boolean),
                                  at(table::discrete_input, 1, value_type::boolean)};
  read_plan p = plan_reads(s);
  ASSERT_EQ(p.reads.size(), 5u);
  EXPECT_EQ(p.reads[0], (read_request{table::coil, 0, 2}));
  EXPECT_EQ(p.reads[1], (read_request{table::discrete_input, 1, 1}));
  EXPECT_EQ(p.reads[2], (read_request{table::input_register, 0, 1}));
  EXPECT_EQ(p.reads[3], (read_request{table::holding_register, 0, 1}));
  EXPECT_EQ(p.reads[4], (read_request{table::holding_register, 2, 1}));
  EXPECT_EQ(p.slots[0].read, 3u);
  EXPECT_EQ(p.slots[1].read, 4u);
  EXPECT_EQ(p.slots[4].read, 0u);
  EXPECT_EQ(p.slots[4].offset, 1);
}

TEST(ModbusPlan, OverlappingValuesShareRegisters) {
  // The same registers read as int32 and as two uint16.
  std::vector<register_spec> s = {at(table::input_register, 10, value_type::int32),
                                  at(table::input_register, 11, value_type::uint16)};
  read_plan p = plan_reads(s);
  ASSERT_EQ(p.reads.size(), 1u);
  EXPECT_EQ(p.reads[0], (read_request{table::input_register, 10, 2}));
  EXPECT_EQ(p.slots[1].offset, 1);
}

TEST(ModbusPlan, ProtocolLimitsSplitLongRuns) {
  std::vector<register_spec> s;
  for (uint16_t a = 0; a < 300; ++a) s.push_back(at(table::holding_register, a, value_type::uint16));
  read_plan p = plan_reads(s);
  ASSERT_EQ(p.reads.size(), 3u);
  EXPECT_EQ(p.reads[0], (read_request{table::holding_register, 0, 125}));
  EXPECT_EQ(p.reads[1], (read_request{table::holding_register, 125, 125}));
  EXPECT_EQ(p.reads[2], (read_request{table::holding_register, 250, 50}));
  EXPECT_EQ(p.slots[299].read, 2u);
  EXPECT_EQ(p.slots[299].offset, 49);

  // A 4-register value that would pass 125 starts the next read.
  s.clear();
  for (uint16_t a = 0; a < 122; ++a) s.push_back(at(table::holding_register, a, value_type::uint16));
  s.push_back(at(table::holding_register, 122, value_type::float64));
  p = plan_reads(s);
  ASSERT_EQ(p.reads.size(), 2u);
  EXPECT_EQ(p.reads[0].count, 122);
  EXPECT_EQ(p.reads[1], (read_request{table::holding_register, 122, 4}));

  s.clear();
  for (uint16_t a = 0; a < 2001; ++a) s.push_back(at(table::coil, a, value_type::boolean));
  p = plan_reads(s);
  ASSERT_EQ(p.reads.size(), 2u);
  EXPECT_EQ(p.reads[0].count, 2000);
  EXPECT_EQ(p.reads[1], (read_request{table::coil, 2000, 1}));
}

TEST(ModbusPlan, LastAddressDoesNotWrap) {
  std::vector<register_spec> s = {at(table::holding_register, 65532, value_type::float64),
                                  at(table::holding_register, 0, value_type::uint16)};
  read_plan p = plan_reads(s);
  ASSERT_EQ(p.reads.size(), 2u);
  EXPECT_EQ(p.reads[1], (read_request{table::holding_register, 65532, 4}));
}

}  // namespace
}  // namespace liandu::connect::modbus
