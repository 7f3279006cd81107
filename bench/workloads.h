#pragma once

// Deterministic line-protocol workloads for the benchmarks (engine_bench,
// http_load, compare.sh). The same options and seed give the same bytes on
// every machine: the generators use their own PRNG and integer arithmetic for
// everything that reaches the output, never <random>'s distributions, whose
// results differ between standard libraries.
//
// Both workloads emit points in time order: every series at tick t, then every
// series at tick t + interval. A batch boundary may fall inside a tick.
//
// Tags are written in the order a device would send them (not sorted), as
// TSBS does, so the parser's tag sort is part of what is measured.
//
// trucks (TSBS "IoT"-like), two lines per truck per tick:
//   readings,name=truck_7,fleet=East,driver=Seth,model=H-2,device_version=v1.0 latitude=41.97,
//     longitude=-87.9,elevation=183,velocity=64.3,heading=271,grade=1.5,fuel_consumption=22.1 <ns>
//   diagnostics,<same tags> load_capacity=5000,fuel_capacity=300,nominal_fuel_consumption=19,
//     current_load=3112,fuel_state=0.71,status=0i <ns>
//   13 field values per truck per tick (12 floats, 1 integer). Latitude and
//   longitude have 2 decimals, velocity, grade and fuel_consumption 1,
//   fuel_state 2; elevation, heading and the diagnostics are whole numbers.
//
// factory, one line per series per tick; 20 series per machine, 25 machines
// per line, 5 lines per site:
//   sensors,site=site_0,line=line_2,machine=machine_61,sensor=motor_temp value=61.27 <ns>  (15 per machine)
//   counters,site=site_0,line=line_2,machine=machine_61,sensor=parts_good count=18812i <ns> (4 per machine)
//   states,site=site_0,line=line_2,machine=machine_61,sensor=state state=1i <ns>           (1 per machine)
//   Sensor values are mean-reverting random walks with 0-2 decimals that
//   follow the machine's state; counters only grow.
//   Machine states are small integers (0 stopped, 1 running, 2 idle, 3 setup, 4 fault) rather than
//   strings, so that VictoriaMetrics, which drops string fields, stores the same values.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace liandu::bench {

constexpr int64_t second_ns = 1'000'000'000;
// 2024-01-01T00:00:00Z: the default start of a generated window.
constexpr int64_t default_start_ns = 1'704'067'200 * second_ns;

// splitmix64: small, fast and the same everywhere.
class rng {
 public:
  explicit rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n).
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
  // Uniform in [lo, hi] (integers).
  int64_t between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo + 1)));
  }
  // True with probability 1/n.
  bool one_in(uint64_t n) { return below(n) == 0; }
  // A small symmetric step in [-k, k], triangular (sum of two uniforms), so
  // random walks look smooth.
  int64_t step(int64_t k) { return between(0, k) - between(0, k); }

 private:
  uint64_t state_;
};

enum class workload_kind { trucks, factory };

// Parses "trucks" or "factory".
bool parse_workload_kind(std::string_view text, workload_kind& out);
const char* workload_name(workload_kind k);

struct workload_options {
  workload_kind kind = workload_kind::trucks;
  // trucks: number of trucks (2 series each); factory: number of series,
  // rounded up to a multiple of 20 (one machine).
  size_t scale = 1000;
  int64_t start_ns = default_start_ns;
  int64_t interval_ns = 10 * second_ns;
  int64_t ticks = 360;  // points per series; the window is [start, start + ticks * interval)
  uint64_t seed = 1;
};

// A generator walks through the window once, handing out batches of lines.
// Not thread-safe; each thread takes its own generator.
class generator {
 public:
  virtual ~generator() = default;

  // Appends up to max_lines lines (each ending in '\n') to out, carrying on
  // where the previous call stopped. Returns how many it appended: 0 once the
  // window is exhausted.
  size_t next_batch(size_t max_lines, std::string& out);

  size_t series_count() const { return lines_per_tick(); }
  virtual size_t lines_per_tick() const = 0;
  virtual size_t values_per_tick() const = 0;
  uint64_t total_lines() const { return static_cast<uint64_t>(opts_.ticks) * lines_per_tick(); }
  uint64_t total_values() const { return static_cast<uint64_t>(opts_.ticks) * values_per_tick(); }
  uint64_t lines_emitted() const { return lines_; }
  uint64_t values_emitted() const { return values_; }
  const workload_options& options() const { return opts_; }
  int64_t end_ns() const { return opts_.start_ns + opts_.ticks * opts_.interval_ns; }

 protected:
  explicit generator(const workload_options& o) : opts_(o) {}
  // Appends line `row` of the current tick at time t; returns its field count.
  // Rows are visited in order 0..lines_per_tick()-1 once per tick.
  virtual size_t emit(size_t row, int64_t t, std::string& out) = 0;

  workload_options opts_;

 private:
  int64_t tick_ = 0;
  size_t row_ = 0;
  uint64_t lines_ = 0;
  uint64_t values_ = 0;
};

std::unique_ptr<generator> make_generator(const workload_options& o);

// Formatting helpers, exposed for tests and other benchmarks.
// Appends v / 10^decimals as a decimal number with trailing zeros trimmed
// ("61.2", "61", "-0.05").
void append_fixed(std::string& out, int64_t v, int decimals);
void append_int(std::string& out, int64_t v);

}  // namespace liandu::bench
