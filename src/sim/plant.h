#pragma once

#include <climits>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace liandu::sim {

// A simulated plant: sites × lines × machines (CNC-like cells) whose readings
// are plausible and correlated, generated deterministically from a seed:
//  - each machine moves between running, idle, setup and down with
//    exponentially distributed durations (running ~45 min, idle ~5 min,
//    setup ~15 min, down ~20 min);
//  - temperature follows load with a first-order lag (tau 10 min);
//  - tool wear grows while running; vibration rises with it, and when wear
//    passes its limit the machine breaks down (vibration rises *before* the
//    breakdown, as predictive maintenance expects); repair resets the wear;
//  - now and then (drift_per_hour per running machine-hour) the feed-rate set
//    point drifts away from its nominal value (a twin drift): it ramps at
//    30 % per hour up to a deviation of 8-15 %, stays there for an
//    exponentially distributed while (mean drift_mean_s), then returns to
//    nominal (or earlier, at the next setup). The scrap probability grows
//    with the deviation, so the scrap rate rises measurably while it lasts.
// Readings are written as one point per machine and interval into
// measurement `machine`, tags line/machine/site (fields state, state_code,
// spindle_speed, temperature, vibration, pressure, power, feed_rate,
// feed_setpoint, cycle_count, good_count, scrap_count and scrap_rate: the
// fraction of scrapped cycles, exponentially weighted with a 10-minute time
// constant). Every setpoint_interval_ns each machine also reports its set
// points, as a device would for its twin: measurement `setpoints`, same
// tags, fields feed_rate_sp, spindle_speed_sp and temperature_sp.
struct plant_options {
  int sites = 2;
  int lines = 3;
  int machines = 8;  // per line
  uint64_t seed = 42;
  int64_t interval_ns = 10LL * 1000000000LL;
  int64_t setpoint_interval_ns = 60LL * 1000000000LL;
  double drift_per_hour = 1.0 / 8;  // chance per running machine-hour that a drift starts
  double drift_mean_s = 2 * 3600;   // mean time a drifted set point stays off
};

enum class machine_state { running = 0, idle = 1, setup = 2, down = 3 };
const char* state_name(machine_state s);

struct machine_sim {
  std::string site, line, name;
  machine_state state = machine_state::idle;
  double state_left_s = 0;
  double temperature = 22;
  double wear = 0;       // 0..1; breakdown at 1
  double wear_rate = 0;  // per running second
  double feed_nominal = 1200;
  double feed_setpoint = 1200;
  double drift_rate = 0;  // set-point drift per second while drifting
  bool drifting = false;
  double drift_limit = 0;                     // the largest deviation of this drift (fraction of nominal)
  double drift_left_s = 0;                    // time until the set point returns to nominal
  double spindle_sp = 12000;                  // spindle speed set point (rpm); does not drift
  double temperature_sp = 20;                 // coolant temperature set point (°C); does not drift
  double scrap_weight = 0, cycle_weight = 0;  // exponentially weighted counts
  int64_t last_report = INT64_MIN;            // last `setpoints` point
  double cycle_time_s = 45;
  double cycle_fraction = 0;
  int64_t cycles = 0, good = 0, scrap = 0;
  bool breakdown = false;
};

class plant {
 public:
  explicit plant(plant_options opts);

  // Advances every machine by one interval ending at time t (ns) and appends
  // one line-protocol line per machine to out (in machines() order), then one
  // `setpoints` line per machine whose report is due. Returns the number of
  // lines appended.
  size_t step(int64_t t, std::string& out);
  size_t machine_count() const { return machines_.size(); }
  const std::vector<machine_sim>& machines() const { return machines_; }
  const plant_options& options() const { return opts_; }

 private:
  void enter(machine_sim& m, machine_state s);
  double exp_duration(double mean_s);
  double noise(double sd);

  plant_options opts_;
  std::mt19937_64 rng_;
  std::vector<machine_sim> machines_;
};

}  // namespace liandu::sim
