// Parser throughput on a few MB of realistic line protocol; reports bytes/s.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "ingest/line_protocol.h"

namespace liandu::ingest {
namespace {

constexpr size_t body_bytes = 4 << 20;
constexpr int64_t start_ns = 1'700'000'000'000'000'000;

// Appends each part to body; avoids `"literal" + std::string`, which draws a
// false -Wrestrict from GCC 12 in Release builds.
template <typename... Parts>
void add(std::string& body, const Parts&... parts) {
  (body.append(parts), ...);
}

std::string num(uint64_t v) { return std::to_string(v); }

// cpu,host=server01,region=us-west usage_idle=92.5,usage_user=3.2,usage_system=1.1 1700000000000000000
std::string cpu_body() {
  std::mt19937_64 rng(1);
  std::string body;
  static const char* regions[] = {"us-west", "us-east", "eu-central", "ap-northeast"};
  for (int64_t i = 0; body.size() < body_bytes; ++i) {
    add(body, "cpu,host=server", num(rng() % 100), ",region=", regions[rng() % 4]);
    add(body, " usage_idle=", num(rng() % 100), ".", num(rng() % 10));
    add(body, ",usage_user=", num(rng() % 10), ".", num(rng() % 10));
    add(body, ",usage_system=", num(rng() % 10), ".", num(rng() % 10));
    add(body, " ", std::to_string(start_ns + i * 10'000'000'000), "\n");
  }
  return body;
}

// TSBS IoT "readings": 8 tags, 7 float fields.
std::string trucks_body() {
  std::mt19937_64 rng(2);
  std::string body;
  static const char* fleets[] = {"East", "West", "North", "South"};
  static const char* drivers[] = {"Trish", "Albert", "Derek", "Rodney", "Andy", "Seth"};
  static const char* models[] = {"F-150", "G-2000", "H-2"};
  for (int64_t i = 0; body.size() < body_bytes; ++i) {
    uint64_t truck = rng() % 1000;
    add(body, "readings,name=truck_", num(truck), ",fleet=", fleets[truck % 4],
        ",driver=", drivers[truck % 6]);
    add(body, ",model=", models[truck % 3], ",device_version=v1.", num(truck % 5));
    add(body, ",load_capacity=1500,fuel_capacity=150,nominal_fuel_consumption=12");
    add(body, " latitude=", num(rng() % 90), ".", num(rng() % 100000));
    add(body, ",longitude=-", num(rng() % 180), ".", num(rng() % 100000));
    add(body, ",elevation=", num(rng() % 1000), ",velocity=", num(rng() % 100));
    add(body, ",heading=", num(rng() % 360), ",grade=", num(rng() % 10));
    add(body, ",fuel_consumption=", num(rng() % 30), ".", num(rng() % 10));
    add(body, " ", std::to_string(start_ns + i * 1'000'000'000), "\n");
  }
  return body;
}

// Factory sensors: mixed field types and a quoted status, some with escapes.
std::string factory_body() {
  std::mt19937_64 rng(3);
  std::string body;
  static const char* sites[] = {"shanghai", "suzhou", "ningbo"};
  static const char* status[] = {"\"running\"", "\"idle\"", "\"setup\"", "\"fault: E\\\"42\\\"\""};
  for (int64_t i = 0; body.size() < body_bytes; ++i) {
    uint64_t m = rng() % 64;
    add(body, "machine_sensor,site=", sites[m % 3], ",line=L", num(m % 8), ",machine=press-", num(m));
    add(body, ",sensor=temp-", num(rng() % 4));
    add(body, " temperature=", num(60 + rng() % 30), ".", num(rng() % 100));
    add(body, ",pressure=101.", num(rng() % 1000), ",vibration=0.0", num(rng() % 10000));
    add(body, ",rpm=", num(1400 + rng() % 100), "i,parts=", num(rng() % 100000), "u");
    add(body, ",running=", rng() % 8 ? "true" : "false", ",status=", status[rng() % 4]);
    add(body, " ", std::to_string(start_ns + i * 100'000'000), "\n");
  }
  return body;
}

void run(benchmark::State& state, const std::string& body) {
  line_protocol_parser parser(model::precision::ns);
  std::vector<line_error> errors;
  size_t points = 0;
  for (auto _ : state) {
    uint64_t sum = 0;
    points += parser.parse(
        body, start_ns,
        [&sum](const point_ref& p) { sum += p.tag_count + p.field_count + static_cast<uint64_t>(p.time); },
        errors);
    benchmark::DoNotOptimize(sum);
  }
  if (!errors.empty()) state.SkipWithError(errors[0].message.c_str());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
  state.counters["points/s"] = benchmark::Counter(static_cast<double>(points), benchmark::Counter::kIsRate);
}

void bm_cpu(benchmark::State& state) {
  static const std::string body = cpu_body();
  run(state, body);
}
void bm_trucks(benchmark::State& state) {
  static const std::string body = trucks_body();
  run(state, body);
}
void bm_factory(benchmark::State& state) {
  static const std::string body = factory_body();
  run(state, body);
}

BENCHMARK(bm_cpu)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_trucks)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_factory)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace liandu::ingest
