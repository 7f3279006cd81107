#include "connect/modbus/poller.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>

#include "connect/modbus/device_manager.h"
#include "connect/modbus/server.h"

namespace liandu::connect::modbus {
namespace {

using namespace std::chrono_literals;

// Collects what pollers write, and lets a test wait for a point.
class sink {
 public:
  write_fn fn() {
    return [this](const std::string& db, std::vector<model::point> points) -> status {
      std::lock_guard lock(mu_);
      if (fail_) return error(errc::not_found, "database not found: " + db);
      for (auto& p : points) points_.push_back({db, std::move(p)});
      cv_.notify_all();
      return {};
    };
  }
  void fail(bool f) {
    std::lock_guard lock(mu_);
    fail_ = f;
  }
  // The first point written after `from` (an index into what was written)
  // for which pred holds; fails the test after 10 s.
  template <typename Pred>
  model::point wait_for(Pred pred, size_t from = 0) {
    std::unique_lock lock(mu_);
    model::point found;
    bool ok = cv_.wait_for(lock, 10s, [&] {
      for (size_t i = from; i < points_.size(); ++i) {
        if (pred(points_[i].second)) {
          found = points_[i].second;
          return true;
        }
      }
      return false;
    });
    EXPECT_TRUE(ok) << "no matching point within 10 s";
    return found;
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return points_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool fail_ = false;
  std::vector<std::pair<std::string, model::point>> points_;
};

const model::field_value* field(const model::point& p, const std::string& key) {
  for (const auto& f : p.fields) {
    if (f.key == key) return &f.value;
  }
  return nullptr;
}

bool is_status(const model::point& p, bool up) {
  const auto* v = field(p, "up");
  return p.measurement == "modbus_status" && v != nullptr && std::get<bool>(*v) == up;
}

// Holding registers of unit 1: one value in several layouts (see decode.h).
void fill_known_values(server& s) {
  ASSERT_TRUE(s.add_unit(1, 16, 16, 64).ok());
  ASSERT_TRUE(s.edit(1, [](bank_ref b) {
                 uint32_t f = std::bit_cast<uint32_t>(3.14159f);
                 uint16_t hi = static_cast<uint16_t>(f >> 16), lo = static_cast<uint16_t>(f);
                 auto sw = [](uint16_t v) { return static_cast<uint16_t>(v << 8 | v >> 8); };
                 uint16_t regs[] = {
                     static_cast<uint16_t>(-12345),  // 0 int16
                     54321,                          // 1 uint16
                     0xF8A4,
                     0x32EB,  // 2 int32 -123456789 ABCD
                     0x32EB,
                     0xF8A4,  // 4 int32 CDAB
                     hi,
                     lo,  // 6 float32 ABCD
                     lo,
                     hi,  // 8 CDAB
                     sw(hi),
                     sw(lo),  // 10 BADC
                     sw(lo),
                     sw(hi),  // 12 DCBA
                     0xFFFF,
                     0xFEE0,
                     0x8E04,
                     0xFB35  // 14 int64 -1234567890123
                 };
                 std::copy(std::begin(regs), std::end(regs), b.holding_registers.begin());
                 b.input_registers[0] = 2150;  // 21.50 with scale 0.01
                 b.coils[3] = 1;
                 b.discrete_inputs[5] = 1;
               }).ok());
}

device_config known_device(uint16_t port) {
  auto c = parse_device_config(nlohmann::json::parse(R"({
    "name": "plc1", "database": "plant", "host": "127.0.0.1", "unit_id": 1, "interval_ms": 50,
    "timeout_ms": 500, "measurement": "machine", "tags": {"line": "l1"},
    "registers": [
      {"field": "i16", "table": "holding_register", "address": 0, "type": "int16"},
      {"field": "u16", "table": "holding_register", "address": 1, "type": "uint16"},
      {"field": "i32", "table": "holding_register", "address": 2, "type": "int32"},
      {"field": "i32_cdab", "table": "holding_register", "address": 4, "type": "int32", "word_order": "little"},
      {"field": "f_abcd", "table": "holding_register", "address": 6, "type": "float32"},
      {"field": "f_cdab", "table": "holding_register", "address": 8, "type": "float32", "word_order": "little"},
      {"field": "f_badc", "table": "holding_register", "address": 10, "type": "float32", "byte_order": "little"},
      {"field": "f_dcba", "table": "holding_register", "address": 12, "type": "float32",
       "byte_order": "little", "word_order": "little"},
      {"field": "i64", "table": "holding_register", "address": 14, "type": "int64"},
      {"field": "temp", "table": "input_register", "address": 0, "type": "uint16", "scale": 0.01},
      {"field": "coil3", "table": "coil", "address": 3},
      {"field": "coil4", "table": "coil", "address": 4},
      {"field": "di5", "table": "discrete_input", "address": 5}
    ]})"));
  EXPECT_TRUE(c.ok()) << c.error().message();
  c->port = port;
  return *c;
}

timing fast() { return timing{20ms, 200ms}; }

TEST(ModbusPoller, ReadsEveryTypeAndOrderFromAServer) {
  server s;
  fill_known_values(s);
  auto port = s.start("127.0.0.1", 0);
  ASSERT_TRUE(port.ok()) << port.error().message();
  sink out;
  device_config c = known_device(*port);
  c.interval_ms = 60000;  // one poll: the request count below is exact
  poller p(c, out.fn(), fast());
  p.start();
  model::point pt = out.wait_for([](const model::point& x) { return x.measurement == "machine"; });
  model::point st = out.wait_for([](const model::point& x) { return is_status(x, true); });
  p.stop();
  ASSERT_EQ(pt.tags.size(), 2u);
  EXPECT_EQ(pt.tags[0].key, "device");
  EXPECT_EQ(pt.tags[0].value, "plc1");
  EXPECT_EQ(pt.tags[1].key, "line");
  EXPECT_EQ(std::get<int64_t>(*field(pt, "i16")), -12345);
  EXPECT_EQ(std::get<int64_t>(*field(pt, "u16")), 54321);
  EXPECT_EQ(std::get<int64_t>(*field(pt, "i32")), -123456789);
  EXPECT_EQ(std::get<int64_t>(*field(pt, "i32_cdab")), -123456789);
  for (const char* f : {"f_abcd", "f_cdab", "f_badc", "f_dcba"})
    EXPECT_EQ(std::get<double>(*field(pt, f)), static_cast<double>(3.14159f)) << f;
  EXPECT_EQ(std::get<int64_t>(*field(pt, "i64")), -1234567890123LL);
  EXPECT_DOUBLE_EQ(std::get<double>(*field(pt, "temp")), 21.5);
  EXPECT_EQ(std::get<bool>(*field(pt, "coil3")), true);
  EXPECT_EQ(std::get<bool>(*field(pt, "coil4")), false);
  EXPECT_EQ(std::get<bool>(*field(pt, "di5")), true);
  EXPECT_EQ(std::get<std::string>(*field(st, "error")), "");
  EXPECT_EQ(std::get<int64_t>(*field(st, "errors")), 0);
  EXPECT_EQ(st.time, pt.time);
  // Coalesced: holding 0..17, input 0, coils 3..4, discrete input 5.
  EXPECT_EQ(s.requests(), 4u);
  EXPECT_EQ(p.stats().polls, 1u);
}

TEST(ModbusPoller, ServerGoneThenBackReconnects) {
  server s;
  fill_known_values(s);
  auto port = s.start("127.0.0.1", 0);
  ASSERT_TRUE(port.ok());
  sink out;
  poller p(known_device(*port), out.fn(), fast());
  p.start();
  out.wait_for([](const model::point& x) { return is_status(x, true); });
  s.stop();
  size_t mark = out.size();
  model::point down = out.wait_for([](const model::point& x) { return is_status(x, false); }, mark);
  EXPECT_FALSE(std::get<std::string>(*field(down, "error")).empty());
  EXPECT_GE(std::get<int64_t>(*field(down, "errors")), 1);
  EXPECT_EQ(p.stats().st, device_state::down);
  // Same port again: the poller's backoff finds it.
  auto again = s.start("127.0.0.1", *port);
  ASSERT_TRUE(again.ok()) << again.error().message();
  mark = out.size();
  model::point up = out.wait_for([](const model::point& x) { return is_status(x, true); }, mark);
  EXPECT_EQ(std::get<std::string>(*field(up, "error")), "");
  EXPECT_EQ(p.stats().st, device_state::up);
  EXPECT_FALSE(p.stats().last_error.empty());  // kept after recovery
  p.stop();
  EXPECT_EQ(p.stats().st, device_state::stopped);
}

TEST(ModbusPoller, RefusedConnectionIsReported) {
  server s;
  auto port = s.start("127.0.0.1", 0);
  ASSERT_TRUE(port.ok());
  s.stop();  // nothing listens there now
  sink out;
  poller p(known_device(*port), out.fn(), fast());
  p.start();
  model::point down = out.wait_for([](const model::point& x) { return is_status(x, false); });
  p.stop();
  EXPECT_EQ(std::get<std::string>(*field(down, "error")),
            "connect 127.0.0.1:" + std::to_string(*port) + ": Connection refused");
}

TEST(ModbusPoller, ExceptionKeepsTheConnection) {
  server s;
  fill_known_values(s);
  auto port = s.start("127.0.0.1", 0);
  ASSERT_TRUE(port.ok());
  sink out;
  device_config c = known_device(*port);
  c.registers[0].address = 200;  // past the 64 holding registers
  poller p(c, out.fn(), fast());
  p.start();
  model::point down = out.wait_for([](const model::point& x) { return is_status(x, false); });
  std::string err = std::get<std::string>(*field(down, "error"));
  EXPECT_NE(err.find("read holding_register 200+1: Illegal data address"), std::string::npos) << err;
  // More attempts, still one connection.
  size_t mark = out.size();
  out.wait_for([](const model::point& x) { return is_status(x, false); }, mark);
  EXPECT_EQ(s.clients(), 1u);
  p.stop();

  // A unit id the server has no bank for.
  c = known_device(*port);
  c.unit_id = 9;
  poller q(c, out.fn(), fast());
  q.start();
  mark = out.size();
  down = out.wait_for([](const model::point& x) { return is_status(x, false); }, mark);
  q.stop();
  EXPECT_NE(std::get<std::string>(*field(down, "error")).find("unit 9"), std::string::npos);
}

TEST(ModbusPoller, StoreFailureIsCounted) {
  server s;
  fill_known_values(s);
  auto port = s.start("127.0.0.1", 0);
  ASSERT_TRUE(port.ok());
  sink out;
  out.fail(true);
  poller p(known_device(*port), out.fn(), fast());
  p.start();
  for (int i = 0; i < 200 && p.stats().errors == 0; ++i) std::this_thread::sleep_for(10ms);
  p.stop();
  EXPECT_GE(p.stats().errors, 1u);
  EXPECT_NE(p.stats().last_error.find("store in plant: database not found"), std::string::npos)
      << p.stats().last_error;
}

TEST(ModbusServer, ServesSeveralClientsAndUnits) {
  server s;
  fill_known_values(s);
  ASSERT_TRUE(s.add_unit(2, 8, 8, 8).ok());
  ASSERT_TRUE(s.edit(2, [](bank_ref b) { b.holding_registers[0] = 7; }).ok());
  EXPECT_EQ(s.edit(3, [](bank_ref) {}).code(), errc::not_found);
  auto port = s.start("127.0.0.1", 0);
  ASSERT_TRUE(port.ok());
  sink out;
  device_config a = known_device(*port);
  auto b = parse_device_config(nlohmann::json::parse(
      R"({"name": "u2", "database": "plant", "host": "127.0.0.1", "unit_id": 2, "interval_ms": 50,
          "registers": [{"field": "v", "table": "holding_register", "address": 0}]})"));
  ASSERT_TRUE(b.ok());
  b->port = *port;
  poller pa(a, out.fn(), fast()), pb(*b, out.fn(), fast());
  pa.start();
  pb.start();
  model::point v =
      out.wait_for([](const model::point& x) { return x.measurement == "modbus" && field(x, "v"); });
  out.wait_for([](const model::point& x) { return x.measurement == "machine"; });
  EXPECT_EQ(std::get<int64_t>(*field(v, "v")), 7);
  EXPECT_EQ(s.clients(), 2u);
  pa.stop();
  pb.stop();
}

std::string temp_dir() {
  char tmpl[] = "/tmp/modbus_test_XXXXXX";
  const char* d = ::mkdtemp(tmpl);
  EXPECT_NE(d, nullptr);
  return d ? d : "/tmp";
}

TEST(ModbusManager, PersistsStartsAndStops) {
  server s;
  fill_known_values(s);
  auto port = s.start("127.0.0.1", 0);
  ASSERT_TRUE(port.ok());
  std::string path = temp_dir() + "/modbus_devices.json";
  sink out;
  {
    device_manager m({path, fast(), out.fn()});
    ASSERT_TRUE(m.load().ok());  // no file yet
    m.start();
    nlohmann::json entry = to_json(known_device(*port));
    ASSERT_TRUE(m.put(entry).ok());
    out.wait_for([](const model::point& x) { return is_status(x, true); });
    auto listed = m.list();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0]["status"], "up");
    EXPECT_GE(listed[0]["polls"].get<uint64_t>(), 1u);
    std::string metrics;
    {
      prometheus::text_writer w(metrics);
      m.append_metrics(w);
    }
    EXPECT_NE(metrics.find("liandu_modbus_up{device=\"plc1\"} 1"), std::string::npos) << metrics;

    entry["registers"][0]["table"] = "holding";
    status bad = m.put(entry);
    EXPECT_EQ(bad.code(), errc::invalid_argument);
    EXPECT_NE(bad.message().find("registers[0] (i16): \"table\""), std::string::npos) << bad.message();
    EXPECT_EQ(m.remove("nope").code(), errc::not_found);
  }
  {
    device_manager m({path, fast(), out.fn()});
    ASSERT_TRUE(m.load().ok());
    auto listed = m.list();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_EQ(listed[0]["name"], "plc1");
    EXPECT_EQ(listed[0]["status"], "stopped");
    m.start();
    ASSERT_TRUE(m.remove("plc1").ok());
    EXPECT_TRUE(m.list().empty());
    size_t mark = out.size();
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(out.size(), mark);  // its poller stopped
  }
  device_manager m({path, fast(), out.fn()});
  ASSERT_TRUE(m.load().ok());
  EXPECT_TRUE(m.list().empty());
  std::ofstream(path) << "{}";
  EXPECT_FALSE(m.load().ok());
}

}  // namespace
}  // namespace liandu::connect::modbus
